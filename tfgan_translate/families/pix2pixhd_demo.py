"""pix2pixHD on label maps: the step after training (its styles) and the demo's held-out figures.

The demo's figures on ``demo-labels``' held-out split (label maps of photos the training never saw):
PSNR and L1 of G's photo against the true photo, with a style per instance drawn from the k-means
clusters (seed 0, as the reference's inference does), next to

- the untrained generator (the config's seeded initial weights) on the same inputs;
- the mean-colour baseline: every pixel painted with its class's mean colour over the training
  photos, the best a model that knows only the class of a pixel could do in squared error;
- G with E's features of the true photo (``encoded_``): the style the photo itself has, an upper
  figure for what the styles can give rather than a fair test.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from ..data import resolve
from ..data.label_demo import LABELLED_DEMO
from ..metrics import paired
from ..training.checkpoints import CHECKPOINT_DIR
from .base import seeded
from .pix2pixhd_inference import CLUSTERS_FILE, MapInputs, clusters_path, fit_styles
from .pix2pixhd_maps import condition, with_features

DEMO_BATCH = 50


def unjittered(config, source, split="train", batch_size=DEMO_BATCH):
    """A split of a labelled ``source`` without jitter (whole images at ``image_size``, in file order):
    the training split is what the reference encodes for its styles."""
    return source.labelled(split, config.label_data, dict(image_size=config.image_size, batch_size=batch_size,
                                                           training=False, drop_remainder=False))


def fit_run_styles(trainer, source, run_dir):
    """``Family.after_training``: with ``instance_feat``, fit the k-means styles of E's features on the
    training split (``source``, unjittered) and save them in ``run_dir`` (``feature_clusters.json``).

    Styles newer than the run's newest checkpoint are kept, so that ``--feature-cluster CLASS=K``
    keeps meaning the same style until the run trains further."""
    if trainer.encoder is None:
        return {}
    path, newest = clusters_path(run_dir), newest_checkpoint_time(run_dir)
    if path.is_file() and newest is not None and path.stat().st_mtime >= newest:
        return {}
    clusters = fit_styles(trainer, unjittered(trainer.config, source), run_dir, seed=trainer.config.seed)
    styles = sum(len(centres) for centres in clusters.values())
    return {"styles": f"styles: {styles} k-means clusters of E's features over {len(clusters)} classes in "
                      f"{run_dir}/{CLUSTERS_FILE} (translate --feature-cluster CLASS=K picks one)"}


def newest_checkpoint_time(run_dir):
    """The modification time of the run's newest checkpoint file, ``None`` without one."""
    times = [p.stat().st_mtime for p in (Path(run_dir) / CHECKPOINT_DIR).glob("ckpt-*.index")]
    return max(times, default=None)


def mean_colours(config, batches):
    """``(label_nc, C)`` mean photo value of each class over ``batches`` (0 for a class never seen)."""
    sums = np.zeros((config.label_nc, config.output_channels))
    counts = np.zeros(config.label_nc)
    for batch in batches:
        labels = batch["label"].numpy().reshape(-1)
        photos = batch["b"].numpy().reshape(-1, config.output_channels)
        np.add.at(sums, labels, photos)
        counts += np.bincount(labels, minlength=config.label_nc)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)


def labels_test_report(trainer):
    """The demo's held-out figures on ``demo-labels`` (see the module docstring)."""
    config = trainer.config
    source = resolve(LABELLED_DEMO, "paired")
    train = unjittered(config, source)
    # the styles fit_run_styles saves in the run: the same E, data and seed give the same clusters
    clusters = fit_styles(trainer, train, seed=config.seed) if trainer.encoder is not None else {}
    maps = MapInputs(config, clusters=clusters)
    colours = tf.constant(mean_colours(config, train))
    untrained = seeded(trainer.family.build_models, config)["generator"]
    outputs = {"": lambda b, x: trainer.generator(x, training=False),
               "untrained_": lambda b, x: untrained(x, training=False),
               "mean_colour_": lambda b, x: tf.gather(colours, b["label"][..., 0])}
    if trainer.encoder is not None:
        outputs["encoded_"] = lambda b, x: trainer.generator(
            with_features(condition(config, b), trainer.encode(b)), training=False)
    figures = {prefix: ([], []) for prefix in outputs}
    for batch in unjittered(config, source, "test"):
        inputs = maps.batch_input(batch, seed=0)
        for prefix, output in outputs.items():
            made = output(batch, inputs)
            figures[prefix][0].append(paired.psnr(made, batch["b"]).numpy())
            figures[prefix][1].append(paired.l1(made, batch["b"]).numpy())
    report = {}
    for prefix, (psnr, l1) in figures.items():
        report[f"{prefix}test_psnr_db"] = round(float(np.mean(np.concatenate(psnr))), 2)
        report[f"{prefix}test_l1"] = round(float(np.mean(np.concatenate(l1))), 4)
    report["psnr_gain_over_untrained_db"] = round(report["test_psnr_db"] - report["untrained_test_psnr_db"], 2)
    report["psnr_gain_over_mean_colour_db"] = round(report["test_psnr_db"] - report["mean_colour_test_psnr_db"], 2)
    return report
