"""Evaluate generators: translate a held-out split in inference mode and score the translations.

What is compared with what:
- paired data (``demo-paired``, ``demo-gray2color``, aligned folders, and ``demo-unpaired``,
  whose test split carries the true mapping): PSNR, SSIM and L1 of G(a) against b, image by
  image; FID/KID of the set {G(a)} against the set {b};
- unpaired data (``testA/testB`` folders, tfds cycle_gan): FID/KID of {G(a)} against the real
  images of the other domain (all of them, each once).

The held-out split: the demo datasets' ``test`` split (pixels never trained on); for folders
``test/`` (or ``val/``) of side-by-side A|B images, or ``testA/`` + ``testB/``; for tfds the
``testA``/``testB`` splits. Unreadable files are skipped by the data pipelines with a
warning naming each one.

Example:
    >>> from tfgan_translate import evaluation
    >>> report, path = evaluation.evaluate_run("checkpoints/demo/pix2pix", "demo-paired")
"""

import json
import math
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import data, metrics as metric_lib
from ..data.pipeline import check_direction
from ..metrics import DISTRIBUTION_METRICS, PAIRED_METRICS

DIRECTIONS = ("AtoB", "BtoA")
FID_PROTOCOL = (
    "2048-d pool features of the named network and weights, after the named resize; FID from float64 "
    "running mean/covariance of the two sets; KID = unbiased MMD^2 with k(x, y) = (x.y/d + 1)^3, mean/std "
    "over random subsets"
)


def evaluation_source(family, dataset, image_size, batch_size=16, direction="AtoB", data_dir=None, strict=False,
                      trained_direction="AtoB", config=None):
    """The held-out split of ``dataset`` (a ``--dataset`` value) for ``family``'s generator of
    ``direction`` in a run trained with the data direction ``trained_direction``
    (``data.resolve(...).heldout_for``), at the channels of ``config``'s domains; see the module
    docstring."""
    from .runs import label_options

    source = data.resolve(dataset, family.data, data_dir=data_dir, strict=strict)
    return source.heldout_for(direction, trained_direction, image_size=image_size, batch_size=batch_size,
                              channels=_channels(config, direction),
                              labels=None if config is None else label_options(config))


def _channels(config, direction):
    """``(input, target)`` channels of the generator of ``direction`` (3 and 3 without a config)."""
    if config is None or not hasattr(config, "input_channels"):
        return 3
    pair = (config.input_channels, config.output_channels)
    return pair if direction == "AtoB" else pair[::-1]


def _take(batches, max_images):
    """The batches, cut so that at most ``max_images`` images come out (``None``: all)."""
    seen = 0
    for batch in batches:
        if max_images is not None:
            batch = tf.nest.map_structure(lambda t: t[:max_images - seen], batch)
        size = int(tf.shape(tf.nest.flatten(batch)[0])[0])
        if size == 0:
            return
        seen += size
        yield batch


def check_metrics(names, paired):
    """Validate metric names for a source; returns them as a tuple."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [n for n in names if n not in metric_lib.ALL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(metric_lib.ALL_METRICS)}")
    needs_pairs = [n for n in names if n in PAIRED_METRICS]
    if needs_pairs and not paired:
        raise ValueError(f"{', '.join(needs_pairs)} compare each translation with its ground truth and need paired "
                         "data; this dataset is unpaired: use fid,kid")
    return names


class Evaluator:
    """Scores generators on held-out data; reusable (the real images' features are computed once).

    Args:
        sources: ``{direction: EvalSource}``.
        metrics: names among ``psnr, ssim, l1, fid, kid``.
        features: ``images -> [N, d]`` features for FID/KID (e.g. ``InceptionFeatures``).
        max_images: evaluate at most this many images per set.
        kid_subsets, kid_subset_size: KID's subset scheme (standard 100 x 1000).
    """

    def __init__(self, family, sources, metrics, features=None, max_images=None,
                 kid_subsets=metric_lib.KID_SUBSETS, kid_subset_size=metric_lib.KID_SUBSET_SIZE, map_inputs=None):
        self.family = family
        self.map_inputs = map_inputs  # a run that translates label maps: how a batch becomes G's input
        self.sources = sources
        self.metrics = tuple(metrics)
        for source in sources.values():
            check_metrics(self.metrics, source.paired)
        self.distribution = [m for m in self.metrics if m in DISTRIBUTION_METRICS]
        if self.distribution and features is None:
            raise ValueError(f"{', '.join(self.distribution)} need a feature function (Inception weights)")
        self.features, self.max_images = features, max_images
        self.kid_options = dict(num_subsets=kid_subsets, subset_size=kid_subset_size)
        self._real = {}

    def __call__(self, generators):
        """``{direction: {metric: value, "num_images": n}}`` for ``generators`` (by name)."""
        return {d: self.evaluate(generators[generator_for(self.family, d)], d) for d in self.sources}

    def evaluate(self, generator, direction):
        source = self.sources[direction]
        paired = [m for m in self.metrics if m in PAIRED_METRICS]
        values = {m: [] for m in paired}
        fake = metric_lib.FeatureSummary() if self.distribution else None
        real = None
        if self.distribution and direction not in self._real:
            real = metric_lib.FeatureSummary()
        count = 0
        if source.paired:
            for batch in _take(source.pairs(), self.max_images):
                translated = generator(self.generator_input(batch), training=False)
                count += int(translated.shape[0])
                for name in paired:
                    values[name].append(PAIRED_METRICS[name](translated, batch["b"]).numpy())
                if fake is not None:
                    fake.update(self.features(translated))
                if real is not None:
                    real.update(self.features(batch["b"]))
        else:
            for images in _take(source.inputs(), self.max_images):
                translated = generator(images, training=False)
                count += int(translated.shape[0])
                if fake is not None:
                    fake.update(self.features(translated))
            if real is not None:
                for images in _take(source.targets(), self.max_images):
                    real.update(self.features(images))
        if count == 0:
            raise ValueError(f"{source.dataset} ({source.split}) gave no image to evaluate")
        if real is not None:
            self._real[direction] = real
        result = {name: float(np.mean(np.concatenate(values[name]))) for name in paired}
        if fake is not None:
            real = self._real[direction]
            if "fid" in self.distribution:
                result["fid"] = fake.fid(real)
            if "kid" in self.distribution:
                result["kid"], result["kid_std"] = fake.kid(real, **self.kid_options)
            result["num_real_images"] = real.count
        result["num_images"] = count
        return result


    def generator_input(self, batch):
        """What the generator translates in a held-out pair: ``"a"``, or the composed label-map input."""
        return batch["a"] if self.map_inputs is None else self.map_inputs.batch_input(batch)

    def shown_input(self, batch):
        """The pair's input as grids show it (label maps in colour)."""
        return batch["a"] if self.map_inputs is None else self.map_inputs.shown(batch)


def generator_for(family, direction):
    """The name of the generator scored on ``direction``: a one-generator family's translates the
    data's a -> b in either data direction; CycleGAN's are ``generator_ab`` (AtoB) and
    ``generator_ba`` (BtoA)."""
    names = family.generator_names
    return names[0] if len(names) == 1 else family.generator_for(direction)


def flat_results(results):
    """``{metric: value}`` for one direction, ``{"AtoB/metric": value}`` for several."""
    if len(results) == 1:
        return dict(next(iter(results.values())))
    return {f"{d}/{k}": v for d, values in results.items() for k, v in values.items()}


def default_metrics(paired, fid_weights=None, inception_weights=None):
    """psnr,ssim,l1 for paired data and fid,kid for unpaired; paired data add fid,kid when
    FID weights (or a feature function; ``inception_weights``, the older keyword) are given."""
    fid_weights = fid_weights or inception_weights
    if paired:
        return ("psnr", "ssim", "l1", *(DISTRIBUTION_METRICS if fid_weights else ()))
    return DISTRIBUTION_METRICS


def fid_choice(fid_network=None, fid_weights=None, inception_weights=None):
    """``(network, weights)`` from the FID options; ``inception_weights`` is the older spelling
    of ``fid_network="keras-inception-v3", fid_weights=...`` and is refused with the FID network."""
    if inception_weights is None:
        return fid_network or "fid-inception", fid_weights
    if fid_weights is not None:
        raise ValueError("--inception-weights is the older spelling of --fid-weights for --fid-network "
                         "keras-inception-v3; give only --fid-weights")
    if fid_network not in (None, "keras-inception-v3"):
        raise ValueError(f"--inception-weights names Keras InceptionV3 weights, which --fid-network {fid_network} "
                         "does not take; pass the FID weights with --fid-weights")
    return "keras-inception-v3", inception_weights


def _directions(direction, family):
    if not family.translates:
        what = "texts" if family.text_to_image is not None else "noise and codes"
        raise ValueError(f"{family.name} runs generate images from {what}; there is no held-out "
                         "translation to score (its demo reports a classifier's accuracy on its samples)")
    if direction == "both":
        if len(family.directions) < 2:
            raise ValueError(f"--direction both needs a run with two generators (e.g. cyclegan); {family.name} "
                             "translates one way")
        return DIRECTIONS
    if direction not in DIRECTIONS:
        raise ValueError(f"--direction must be AtoB, BtoA or both, got {direction!r}")
    return (direction,)


def make_evaluator(dataset, family, config, metrics=None, direction="AtoB", inception_weights=None,
                   features=None, batch_size=16, max_images=None, data_dir=None, strict=False,
                   trained_direction="AtoB", fid_network=None, fid_weights=None, fid_resize="legacy",
                   map_inputs=None, **kid_options):
    """An :class:`Evaluator` for ``family``'s generators (of ``config``) on ``dataset``'s held-out split.

    ``direction`` (``AtoB``, ``BtoA`` or ``both``) picks CycleGAN's generator(s), and is
    pix2pix's data direction; ``trained_direction`` is the data direction the run was trained
    with (the training loop passes its own, so that ``generator_ab`` meets the data it learned).

    ``metrics=None`` picks :func:`default_metrics`; FID/KID use ``features`` or else
    ``metrics.feature_network(fid_network, fid_weights, fid_resize)`` (the FID Inception network
    by default; see :func:`fid_choice` for ``inception_weights``), loaded here so that missing
    weights fail before any translation.
    """
    network, weights = fid_choice(fid_network, fid_weights, inception_weights)
    directions = _directions(direction, family)
    check_direction(trained_direction)
    sources = {d: evaluation_source(family, dataset, config.image_size, batch_size, d, data_dir, strict,
                                    trained_direction, config)
               for d in directions}
    if map_inputs is None and family.map_inputs is not None and family.map_inputs(config, clusters={}) is not None:
        raise ValueError(f"a {family.name} run on label maps is scored with its styles or its encoder: give "
                         "make_evaluator its map_inputs (evaluate_run reads them from the run folder)")
    paired = all(s.paired for s in sources.values())
    names = check_metrics(metrics or default_metrics(paired, weights or features), paired)
    if any(m in DISTRIBUTION_METRICS for m in names) and features is None:
        features = metric_lib.feature_network(network, weights, fid_resize, batch_size=batch_size).load()
    return Evaluator(family, sources, names, features, max_images, map_inputs=map_inputs, **kid_options)


def checkpoint_step(checkpoint):
    """The step of a checkpoint path ``.../ckpt-<step>``."""
    return int(str(checkpoint).rsplit("-", 1)[1])


def scored_directions(family, direction, trained_direction, recorded):
    """``(direction, trained_direction)`` to score a run with: a two-generator run's ``direction``
    picks the generator(s) (default AtoB); a one-way run scores the data direction it was trained
    in, read from the run (``recorded``), so ``--direction`` is only needed for run folders
    written before the direction was saved, where it names that data direction."""
    if len(family.generator_names) > 1 or direction not in DIRECTIONS:  # None, or "both" (refused later)
        return direction or "AtoB", trained_direction
    if recorded and direction != trained_direction:
        raise ValueError(f"a {family.name} run translates the data direction it was trained in ({trained_direction}, "
                         f"saved in the run); omit --direction to score it")
    return "AtoB", direction if not recorded else trained_direction


def evaluate_run(run_dir, dataset, metrics=None, direction=None, inception_weights=None, features=None,
                 batch_size=16, max_images=None, output=None, overwrite=False, data_dir=None, strict=False,
                 log=print, fid_network=None, fid_weights=None, fid_resize="legacy", all_checkpoints=False,
                 **kid_options):
    """Evaluate a run's newest checkpoint (or, with ``all_checkpoints``, each one it keeps);
    writes and returns ``(report, path)``.

    The report goes to ``output`` or ``<run_dir>/eval/report_step_<N>.json``
    (``history_step_<N>.json`` for all checkpoints); an existing report is never replaced
    unless ``overwrite`` (checked before any work). ``direction`` picks a two-generator run's
    generator (``both`` evaluates each); a one-way run (pix2pix) is scored in the data direction
    it was trained in (see :func:`scored_directions`). FID/KID features: ``features``, or the
    network of ``fid_network``/``fid_weights``/``fid_resize`` (see :func:`make_evaluator`).
    A history report adds, per direction and metric, the best checkpoint apart from the final one.
    """
    from . import checkpoint_history, outputs, runs
    from ..training.checkpoints import CHECKPOINT_DIR, checkpoint_paths
    from ..training.run_folder import RunFolder

    fid_choice(fid_network, fid_weights, inception_weights)  # bad arguments fail before anything else
    if output:
        outputs.check_file(output, "--output", overwrite=overwrite, create=False)  # before loading anything
    folder = RunFolder(run_dir)  # config.json read once, here and by load_trained
    family, config = runs.load_run_config(folder)
    saved_data = folder.saved_data or {}
    recorded = None if saved_data.get("direction_assumed") else saved_data.get("direction")
    direction, trained_direction = scored_directions(family, direction, recorded or "AtoB", bool(recorded))
    _directions(direction, family)
    _, config, generators, checkpoint = runs.load_trained(folder)
    step = checkpoint_step(checkpoint)
    kind = "history" if all_checkpoints else "report"
    path = Path(output) if output else Path(run_dir) / "eval" / f"{kind}_step_{step}.json"
    if not output:  # the default report, known once the checkpoint's step is: checked before the scoring
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} already exists; nothing was computed. Pass --overwrite or choose another "
                                  "--output.")
        outputs.check_file(path, "--output", overwrite=True)
    started = time.perf_counter()
    evaluator = make_evaluator(dataset, family, config, metrics, direction, inception_weights, features,
                               batch_size, max_images, data_dir, strict, trained_direction, fid_network,
                               fid_weights, fid_resize,
                               map_inputs=family.map_inputs(config, run_dir) if family.map_inputs else None,
                               **kid_options)
    source = next(iter(evaluator.sources.values()))
    report = {
        "run_dir": str(run_dir), "family": family.name, "step": step, "checkpoint": checkpoint,
        "dataset": dataset, "split": source.split, "image_size": config.image_size,
        "trained_direction": trained_direction, "metrics": list(evaluator.metrics),
    }
    if all_checkpoints:
        paths = list(reversed(checkpoint_paths(Path(str(run_dir)) / CHECKPOINT_DIR)))  # oldest first
        report.update(checkpoint_history.evaluate_checkpoints(evaluator, generators, paths, log=log))
        report["results"] = report["final"]["results"]
        report["step"], report["checkpoint"] = report["final"]["step"], report["final"]["checkpoint"]
    else:
        report["results"] = evaluator(generators)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["samples"] = str(write_sample_grid(evaluator, generators, path.with_name(f"{path.stem}_samples.png")))
    if evaluator.distribution:
        describe = getattr(evaluator.features, "describe", None)
        report["inception"] = {**(describe() if describe else {"weights": "custom feature function"}),
                               "protocol": FID_PROTOCOL, "kid_subsets": evaluator.kid_options}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    log(checkpoint_history.format_history(report) if all_checkpoints else format_table(report))
    log(f"report: {path}")
    return report, path


SAMPLE_EXAMPLES = 8  # held-out examples in evaluate's sample grid


def write_sample_grid(evaluator, generators, path, count=SAMPLE_EXAMPLES):
    """The first ``count`` held-out examples of each scored direction as a labelled grid at
    ``path``: input, translation (inference mode) and, on paired data, the target. Returns ``path``."""
    from ..grids import save_labelled_grid

    columns, titles = {}, []
    for direction, source in evaluator.sources.items():
        generator = generators[generator_for(evaluator.family, direction)]
        if source.paired:
            batch = next(iter(_take(source.pairs(), count)))
            images, shown, targets = evaluator.generator_input(batch), evaluator.shown_input(batch), batch["b"]
        else:
            images, targets = next(iter(_take(source.inputs(), count))), None
            shown = images
        prefix = f"{direction}: " if len(evaluator.sources) > 1 else ""
        columns[f"{direction} input"] = shown
        columns[f"{direction} translation"] = generator(images, training=False)
        titles += [f"{prefix}input x", f"{prefix}G(x)"]
        if targets is not None:
            columns[f"{direction} target"] = targets
            titles.append(f"{prefix}target y")
    return save_labelled_grid(columns, path, titles=titles)


def format_table(report, results=None, title=None):
    """A plain-text table: one row per direction, one column per metric; under it, what the
    FID/KID features were and how many images each set had."""
    results = report["results"] if results is None else results
    columns = [m for m in ("psnr", "ssim", "l1", "fid", "kid", "kid_std", "num_images", "num_real_images") if
               any(m in r for r in results.values())]
    rows = [["direction", *columns]]
    for direction, values in results.items():
        rows.append([direction, *(_number(values[c]) if c in values else "" for c in columns)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [title or f"{report['family']} step {report['step']} on {report['dataset']} ({report['split']}):"]
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
    if title is None and "inception" in report:
        lines.append(features_line(report["inception"]))
    return "\n".join(lines)


def features_line(described):
    """One line saying which features FID/KID used, for the printed table."""
    if "network" not in described:
        return f"FID/KID features: {described.get('weights', 'custom feature function')}"
    sha = described.get("weights_sha256")
    weights = described["weights"] + (f", sha256 {sha[:12]}" if sha else "")
    verdict = ("comparable with published FIDs" if described.get("comparable_with_published_fid")
               else "NOT comparable with published FIDs")
    return f"FID/KID features: {described['network']} ({weights}), {described['resize']} resize: {verdict}"


def _number(value):
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.2f}"


def training_evaluate_fn(evaluator):
    """``trainer -> {metric: float}`` for ``training.fit(evaluate_fn=...)`` (image counts left out)."""

    def evaluate(trainer):
        values = flat_results(evaluator(trainer.generators()))
        return {name: value for name, value in values.items() if "num_" not in name}

    return evaluate
