"""pix2pixHD's instance-level style control (Wang et al., 2018, sec. 3.4): per-class k-means over
the feature encoder's per-instance vectors, and feature maps built from the chosen centers.

The workflow of the reference (``encode_features.py``, ``sample_features``):

1. after training, run E (``networks.build_pix2pixhd_feature_encoder``) over the training
   photos and collect every instance's pooled vector with :func:`instance_features`;
2. :func:`fit_clusters` keeps, per class, the instances with ``area > 0.5`` (more than 1/64 of
   the image, see :class:`InstanceFeature`) and stores up to 10 k-means centers;
   :func:`save_clusters` writes them into the run folder (:data:`CLUSTERS_FILE`);
3. at inference E is not run: :func:`style_feature_map` paints each instance with a center of
   its class (chosen with ``--feature-cluster CLASS=K``, see :func:`parse_cluster_choice`, or
   drawn at random) and that map replaces E's output at G's input.

Classes: from the label map (its most frequent value over the instance's pixels) when one is
given, else from the id as in Cityscapes: ``id`` below 1000 (a "stuff" region whose id is its
class), ``id // 1000`` above (instance ``n`` of class ``c`` has id ``c * 1000 + n``).

Differences from the reference, on purpose: classes without clusters get zero features (the
reference leaves that memory uninitialised); a random center is drawn per instance of each
example from a seeded ``numpy.random.default_rng`` (the reference draws one per id over the
whole batch from the global NumPy state); a class gets ``min(n_clusters, distinct vectors)``
centers, not ``min(n_clusters, count)``, so k-means never returns duplicate centers (and
sklearn no warning); an instance's vector is the mean of the pooled map over its pixels (the
reference reads its median pixel: the same value, since the map is constant there).

Example:
    >>> import numpy as np
    >>> ids = np.full((1, 8, 8), 7)
    >>> ids[0, 6:] = 26001  # the bottom two rows: instance 1 of class 26
    >>> pooled = np.zeros((1, 8, 8, 3), np.float32)
    >>> [(r.class_id, r.instance_id, r.area) for r in instance_features(pooled, ids)]
    [(7, 7, 24.0), (26, 26001, 8.0)]
"""

import json
import os
import typing

import numpy as np

CLUSTERS_FILE = "feature_clusters.json"
FORMAT = "tfgan_translate.pix2pixhd.feature_clusters"
VERSION = 1
AREA_BLOCKS = 32  # the reference's ``block_num``: area = pixels / (H * W // 32)


class InstanceFeature(typing.NamedTuple):
    """One instance of one image: its class, id, ``feat_num`` vector and area.

    ``area`` is the reference's ``pixels / (H * W // 32)``: 32 times the fraction of the image
    it covers (an instance of the whole image has area 32; ``min_area=0.5`` keeps instances
    larger than 1/64 of the image). ``example`` is its image's index in the batch.
    """

    class_id: int
    instance_id: int
    feature: np.ndarray
    area: float
    example: int


def _maps(values, name):
    """A ``(B, H, W)`` integer array from ``(B, H, W)`` or ``(B, H, W, 1)`` (NumPy or tensor)."""
    array = np.asarray(values)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"{name} must be (B, H, W) or (B, H, W, 1), got shape {np.asarray(values).shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got {array.dtype}")
    return array


def class_of_id(instance_id):
    """The Cityscapes convention: ``id`` below 1000, else ``id // 1000``."""
    instance_id = int(instance_id)
    return instance_id if instance_id < 1000 else instance_id // 1000


def _instances(ids, labels):
    """One example's instances: ``(unique ids, pixel -> instance index, class per instance)``.

    With ``labels`` the class is the label most frequent over the instance's pixels (on a tie,
    the smallest); without, :func:`class_of_id`.
    """
    unique, inverse = np.unique(ids.reshape(-1), return_inverse=True)
    if labels is None:
        return unique, inverse, [class_of_id(i) for i in unique]
    pairs, counts = np.unique(np.stack([inverse, labels.reshape(-1)], 1), axis=0, return_counts=True)
    pairs = pairs[np.lexsort((pairs[:, 1], -counts, pairs[:, 0]))]  # by instance, then most pixels first
    first = np.r_[True, pairs[1:, 0] != pairs[:-1, 0]]
    return unique, inverse, [int(c) for c in pairs[first, 1]]


def _labels(label_map, ids):
    if label_map is None:
        return None
    labels = _maps(label_map, "label_map")
    if labels.shape != ids.shape:
        raise ValueError(f"label_map {labels.shape} and instance_ids {ids.shape} differ in batch, height or width")
    return labels


def instance_features(pooled_features, instance_ids, label_map=None):
    """Every instance's record (:class:`InstanceFeature`), example by example, ids ascending.

    Args:
        pooled_features: E's output ``(B, H, W, feat_num)`` (constant over each instance).
        instance_ids: ``(B, H, W)`` or ``(B, H, W, 1)`` integers.
        label_map: optional integer class map of the same size; else classes come from the ids.
    """
    features = np.asarray(pooled_features, np.float64)
    ids = _maps(instance_ids, "instance_ids")
    if features.ndim != 4 or features.shape[:3] != ids.shape:
        raise ValueError(f"pooled_features {features.shape} must be (B, H, W, feat_num) with the instance map's "
                         f"(B, H, W) = {ids.shape}")
    labels = _labels(label_map, ids)
    _, height, width, channels = features.shape
    blocks = height * width // AREA_BLOCKS
    if blocks == 0:
        raise ValueError(f"images of {height}x{width} are too small: the area is pixels / (H * W // {AREA_BLOCKS})")
    records = []
    for b in range(ids.shape[0]):
        unique, inverse, classes = _instances(ids[b], None if labels is None else labels[b])
        counts = np.bincount(inverse, minlength=len(unique))
        flat = features[b].reshape(-1, channels)
        sums = np.stack([np.bincount(inverse, weights=flat[:, c], minlength=len(unique)) for c in range(channels)], 1)
        means = (sums / counts[:, None]).astype(np.float32)
        records += [InstanceFeature(cls, int(i), mean, float(n) / blocks, b)
                    for i, cls, mean, n in zip(unique, classes, means, counts)]
    return records


def fit_clusters(records, n_clusters=10, min_area=0.5, seed=0):
    """Per class, k-means centers of its instances' vectors (``sklearn.cluster.KMeans``).

    Keeps instances with ``area > min_area``; a class with ``m`` distinct kept vectors gets
    ``min(n_clusters, m)`` centers; classes with none kept get no entry.

    Returns:
        ``{class_id: float32 array (k, feat_num)}``, classes ascending.
    """
    from sklearn.cluster import KMeans  # scipy and sklearn load only when clustering

    if n_clusters < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    by_class = {}
    for record in records:
        if record.area > min_area:
            by_class.setdefault(int(record.class_id), []).append(np.asarray(record.feature, np.float32))
    widths = {v.shape for vectors in by_class.values() for v in vectors}
    if len(widths) > 1:
        raise ValueError(f"the records' feature vectors have different shapes: {sorted(widths)}")
    clusters = {}
    for class_id in sorted(by_class):
        vectors = np.stack(by_class[class_id])
        k = min(n_clusters, len(np.unique(vectors, axis=0)))
        # n_init 10: the number of restarts the reference got from sklearn's default of its time.
        kmeans = KMeans(n_clusters=k, random_state=seed, n_init=10).fit(vectors)
        clusters[class_id] = kmeans.cluster_centers_.astype(np.float32)
    return clusters


def save_clusters(path, clusters, feat_num):
    """Write ``clusters`` to ``path`` as JSON (atomically: a temporary file, then a rename).

    JSON, like the run folder's ``config.json``: readable and diffable, no pickle, and exact
    (each float32 center is written as the float64 it equals, whose shortest repr reads back
    to the same bits).
    """
    entries = {}
    for class_id, centers in sorted(clusters.items()):
        centers = np.asarray(centers, np.float32)
        if centers.ndim != 2 or centers.shape[0] < 1 or centers.shape[1] != feat_num:
            raise ValueError(f"class {class_id}: centers of shape {centers.shape}, expected (k >= 1, {feat_num})")
        if not np.isfinite(centers).all():
            raise ValueError(f"class {class_id}: centers are not all finite")
        entries[str(int(class_id))] = centers.astype(np.float64).tolist()
    document = {"format": FORMAT, "version": VERSION, "feat_num": int(feat_num), "clusters": entries}
    path = os.fspath(path)
    scratch = f"{path}.tmp"
    with open(scratch, "w") as f:
        json.dump(document, f, indent=1)
    os.replace(scratch, path)


def load_clusters(path, feat_num=None):
    """The ``{class_id: float32 (k, feat_num)}`` written by :func:`save_clusters`.

    ``ValueError`` naming ``path`` when it is not such a file (corrupt, another format or
    version, ragged or non-finite centers) or its ``feat_num`` is not ``feat_num``.
    """
    path = os.fspath(path)

    def refuse(why):
        return ValueError(f"{path}: {why}")

    try:
        with open(path) as f:
            document = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise refuse(f"not a feature-cluster file (corrupt JSON: {error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise refuse(f"not a feature-cluster file (no \"format\": {FORMAT!r})")
    if document.get("version") != VERSION:
        raise refuse(f"feature-cluster file version {document.get('version')!r}; this version reads {VERSION}")
    stored = document.get("feat_num")
    if not isinstance(stored, int) or isinstance(stored, bool) or stored < 1:
        raise refuse(f"invalid feat_num {stored!r}")
    if feat_num is not None and stored != feat_num:
        raise refuse(f"clusters of {stored}-channel features; this model's encoder has feat_num={feat_num}")
    entries = document.get("clusters")
    if not isinstance(entries, dict):
        raise refuse("no \"clusters\" object")
    clusters = {}
    for key, centers in entries.items():
        rows = f"class {key}: centers must be k >= 1 rows of {stored} finite numbers"
        try:
            class_id = int(key)
        except ValueError:
            raise refuse(f"class {key!r} is not an integer") from None
        try:
            array = np.array(centers, np.float32)
        except (TypeError, ValueError):  # ragged rows, strings
            raise refuse(rows) from None
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != stored or not np.isfinite(array).all():
            raise refuse(rows)
        clusters[class_id] = array
    return dict(sorted(clusters.items()))


def check_choice(choice, clusters):
    """``ValueError`` naming a chosen class without clusters or a cluster index it does not have."""
    for class_id, index in choice.items():
        if class_id not in clusters:
            have = ", ".join(map(str, clusters)) or "none"
            raise ValueError(f"feature cluster {class_id}={index}: class {class_id} has no clusters "
                             f"(classes with clusters: {have})")
        k = len(clusters[class_id])
        if not 0 <= index < k:
            raise ValueError(f"feature cluster {class_id}={index}: class {class_id} has {k} cluster"
                             f"{'s' if k != 1 else ''} (choose 0..{k - 1})")


def style_feature_map(instance_ids, label_map, clusters, feat_num, choice=None, seed=0):
    """The feature map that replaces E's output at inference: each instance painted with a
    center of its class.

    Args:
        instance_ids: ``(B, H, W)`` or ``(B, H, W, 1)`` integers.
        label_map: integer class map of the same size, or ``None`` (classes from the ids).
        clusters: ``{class_id: (k, feat_num)}`` (:func:`fit_clusters`, :func:`load_clusters`).
        feat_num: channels of the map.
        choice: ``{class_id: cluster index}`` for every instance of that class; other classes
            with clusters draw a random index per instance (example by example, ids ascending)
            from ``numpy.random.default_rng(seed)``; classes without clusters get zeros.
    Returns:
        float32 ``(B, H, W, feat_num)``.
    """
    ids = _maps(instance_ids, "instance_ids")
    labels = _labels(label_map, ids)
    clusters = {int(c): np.asarray(v, np.float32) for c, v in clusters.items()}
    for class_id, centers in clusters.items():
        if centers.ndim != 2 or centers.shape[1] != feat_num or not len(centers):
            raise ValueError(f"class {class_id}: centers of shape {centers.shape}, expected (k >= 1, {feat_num})")
    choice = {int(c): int(k) for c, k in (choice or {}).items()}
    check_choice(choice, clusters)
    rng = np.random.default_rng(seed)
    out = np.zeros((*ids.shape, feat_num), np.float32)
    for b in range(ids.shape[0]):
        _, inverse, classes = _instances(ids[b], None if labels is None else labels[b])
        values = np.zeros((len(classes), feat_num), np.float32)
        for n, class_id in enumerate(classes):
            if class_id in clusters:
                centers = clusters[class_id]
                values[n] = centers[choice[class_id] if class_id in choice else rng.integers(len(centers))]
        out[b] = values[inverse].reshape(*ids.shape[1:], feat_num)
    return out


def parse_cluster_choice(items):
    """``["7=2", "26=0"]`` (the ``--feature-cluster CLASS=K`` flag's values) -> ``{7: 2, 26: 0}``."""
    choice = {}
    for item in items or ():
        text = str(item)
        class_text, sep, index_text = text.partition("=")
        try:
            class_id, index = int(class_text.strip()), int(index_text.strip())
        except ValueError:
            class_id = index = None
        if not sep or class_id is None or class_id < 0 or index < 0:
            raise ValueError(f"feature cluster {text!r}: expected CLASS=K with a class id and a cluster index, "
                             "both integers >= 0 (e.g. 26=3)")
        if class_id in choice:
            raise ValueError(f"feature cluster {text!r}: class {class_id} is already chosen "
                             f"({class_id}={choice[class_id]})")
        choice[class_id] = index
    return choice
