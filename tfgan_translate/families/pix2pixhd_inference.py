"""Using a trained pix2pixHD run on label maps: its styles (k-means of E's features) and the
generator input of a label-map file (+ its instance map) with a chosen style.

After training with ``instance_feat``, :func:`fit_styles` encodes the training set, and the
per-class k-means centres of the instances' features go to ``RUN/feature_clusters.json`` (the
reference's ``encode_features.py``). :class:`MapInputs` composes what ``translate``
and ``evaluate`` give the generator: one-hot labels, instance boundaries and, per
instance, the centre of a cluster of its class (chosen by the user, or drawn with a seed).
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from ..data.label_maps import LabelMapError, check_id_range, read_instance_map, read_label_map
from . import pix2pixhd_styles as styles
from .pix2pixhd_maps import condition, label_colours, pooling_ids, with_features

CLUSTERS_FILE = styles.CLUSTERS_FILE


def clusters_path(run_dir):
    return Path(run_dir) / CLUSTERS_FILE


def fit_styles(trainer, batches, run_dir=None, seed=0):
    """Encode ``batches`` (dicts with ``"b"`` and ``"label"``/``"instance"``) with the trainer's E,
    fit ``n_clusters`` k-means styles per class, and save them in ``run_dir`` (when given).

    Returns ``{class id: (k, feat_num) centres}``; ``{}`` for a config without ``instance_feat``."""
    config = trainer.config
    if trainer.encoder is None:
        return {}
    records = []
    for batch in batches:
        features = trainer.encode(batch, training=False).numpy()
        labels = batch["label"].numpy()[..., 0] if "label" in batch else None
        records += styles.instance_features(features, pooling_ids(batch).numpy()[..., 0], labels)
    clusters = styles.fit_clusters(records, n_clusters=config.n_clusters, seed=seed)
    if run_dir is not None:
        styles.save_clusters(clusters_path(run_dir), clusters, config.feat_num)
    return clusters


class MapInputs:
    """The generator input of label-map files for a run of ``config`` in ``run_dir``.

    Args:
        config: the run's ``pix2pixhd.Config`` (``label_nc > 0``).
        run_dir: the run folder (its ``feature_clusters.json`` with ``instance_feat``), or ``None``
            with ``clusters`` or ``encode`` given.
        clusters: ``{class: centres}`` instead of the run folder's file.
        encode: ``batch -> features`` (a trainer's ``encode``): batches get E's features of their own
            photos instead of styles (evaluation during training, before the styles exist).
    """

    def __init__(self, config, run_dir=None, clusters=None, encode=None):
        self.config = config
        self.clusters = {}
        self.encode = encode
        if config.instance_feat and encode is None:
            if clusters is None:
                path = clusters_path(run_dir)
                if not path.is_file():
                    raise LabelMapError(
                        f"{path} is missing: this run's generator takes E's styles, which are fitted after training "
                        "(train writes the file at its end; run `tfgan-translate train` again with the same "
                        "--run-dir to finish it)")
                clusters = styles.load_clusters(path, feat_num=config.feat_num)
            self.clusters = clusters

    @property
    def needs_instances(self):
        return self.config.use_instance_map

    @property
    def has_styles(self):
        """Whether G takes style features (``instance_feat``), which ``choice`` picks per class."""
        return self.config.instance_feat

    def style_counts(self):
        """``{class: number of styles}`` that ``choice`` can pick from (``{}`` without styles)."""
        return {int(class_id): len(centres) for class_id, centres in sorted(self.clusters.items())}

    def parse_choice(self, items):
        """``["7=2", ...]`` (``--feature-cluster``) -> ``{class: cluster}``, checked against the styles."""
        choice = styles.parse_cluster_choice(items)
        styles.check_choice(choice, self.clusters)
        return choice

    @staticmethod
    def instance_name(label_name):
        """The instance map's file name beside a label map's: the same name, or Cityscapes'
        ``*_gtFine_instanceIds.png`` for ``*_gtFine_labelIds.png``."""
        return label_name.replace("_labelIds.", "_instanceIds.")

    def files(self, run_dir):
        """The run's files an exported generator needs beside it (its styles)."""
        path = clusters_path(run_dir)
        return [path] if self.has_styles and path.is_file() else []

    def describe(self):
        """How the exported generator's input is made (for ``export.json``)."""
        c = self.config
        parts = [f"{c.label_nc} channels: the label map one-hot (class k -> channel k, 1.0 or 0.0)"]
        if c.use_instance_map:
            parts.append("1 channel: the instance boundary map (1.0 where a pixel's instance id differs from a "
                         "4-neighbour's)")
        if c.instance_feat:
            parts.append(f"{c.feat_num} channels: per instance, a k-means style centre of its class (feature_clusters"
                         ".json of the run; zeros for a class without styles)")
        return "float32 (N, H, W, C), concatenated along C in this order: " + "; ".join(parts)

    @property
    def num_classes(self):
        """Label maps hold class ids ``0 .. num_classes - 1``."""
        return self.config.label_nc

    def read_labels(self, label_path):
        """A label map file's class ids ``int32 (H, W)``, checked against the config's classes."""
        label = read_label_map(label_path)
        check_id_range(label_path, int(label.min(initial=0)), int(label.max(initial=0)), self.config.label_nc,
                       "this run was trained on label_nc classes")
        return label

    def coloured(self, label_path):
        """A label map file in colour, RGB ``(H, W, 3)`` in [-1, 1] (as grids show the input)."""
        return label_colours(self.read_labels(label_path)[None], self.config.label_nc).numpy()[0]

    def maps(self, label_path, instance_path=None):
        """``(labels, instances)`` int32 ``(1, H, W, 1)`` arrays of the files, checked against the config."""
        label = self.read_labels(label_path)
        if instance_path is None:
            if self.needs_instances:
                raise LabelMapError(f"{label_path}: this run uses instance maps; give its instance map "
                                    "(--instances FOLDER with a file of the same name)")
            instance = label
        else:
            instance = read_instance_map(instance_path)
            if instance.shape != label.shape:
                raise LabelMapError(f"{instance_path} is {instance.shape[1]}x{instance.shape[0]} px but its label map "
                                    f"{label_path} is {label.shape[1]}x{label.shape[0]}: they must be the same size")
        return label[None, ..., None].astype(np.int32), instance[None, ..., None].astype(np.int32)

    def compose(self, label_path, instance_path=None, choice=None, seed=0):
        """G's input ``(H, W, C)`` float32 for one label map (+ instance map) with a style per instance:
        ``choice`` maps class -> cluster index, the other classes draw with ``seed``."""
        labels, instances = self.maps(label_path, instance_path)
        return self.compose_arrays(labels, instances, choice, seed)[0]

    def batch_input(self, batch, seed=0):
        """G's input for a held-out batch (``"label"``, maybe ``"instance"``), styles drawn with ``seed``."""
        if self.encode is not None:
            return with_features(condition(self.config, batch), self.encode(batch))
        labels = np.asarray(batch["label"])
        instances = np.asarray(batch["instance"]) if "instance" in batch else labels
        return self.compose_arrays(labels, instances, seed=seed)

    def shown(self, batch):
        """The batch's label maps in colour, as grids show the input."""
        return label_colours(batch["label"], self.config.label_nc)

    def compose_arrays(self, labels, instances, choice=None, seed=0):
        """G's input ``(B, H, W, C)`` for int ``(B, H, W, 1)`` label and instance maps."""
        batch = {"label": tf.constant(labels), "instance": tf.constant(instances)}
        s = condition(self.config, batch)
        features = None
        if self.config.instance_feat:
            features = styles.style_feature_map(instances[..., 0], labels[..., 0], self.clusters,
                                                self.config.feat_num, choice=choice, seed=seed)
        return with_features(s, features).numpy()


def map_inputs(config, run_dir=None, clusters=None, encode=None):
    """The :class:`MapInputs` of a run whose generator takes label maps, else ``None`` (it takes images)."""
    return MapInputs(config, run_dir, clusters, encode) if config.label_nc else None
