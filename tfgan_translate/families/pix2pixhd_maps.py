"""What pix2pixHD's generator is given: the input map s, its instance boundaries and E's features.

The reference (section 3.3-3.4 of the paper) concatenates, along channels,

- s: the semantic label map as a one-hot ``label_nc``-channel map (``label_nc > 0``), or the
  input image itself (``label_nc = 0``, the A|B image pairs every other paired family takes);
- E (``use_instance_map``): the instance boundary map, 1 where a pixel's instance id differs
  from a 4-neighbour's;
- the encoder's instance-wise average features (``instance_feat``): E(x) of the real photo in
  training; at inference a cluster centre of each instance's class (``pix2pixhd_styles``).

D sees s and E with an image, never the features. These functions compose the same input for the
train step, the sample grid, ``translate`` and ``evaluate``, so each sees what the others do.
"""

import numpy as np
import tensorflow as tf

from ..data.label_maps import one_hot_labels


def instance_boundaries(instance):
    """pix2pixHD's edge map E: 1.0 where a pixel's instance id differs from a 4-neighbour's.

    Args:
        instance: integer ids, ``(B, H, W)`` or ``(B, H, W, 1)``.
    Returns:
        float32 ``(B, H, W, 1)`` of 0 and 1 (both pixels on either side of a change are edges).
    """
    ids = tf.convert_to_tensor(instance)
    if ids.shape.rank == 3:
        ids = ids[..., None]
    across = tf.not_equal(ids[:, :, 1:], ids[:, :, :-1])  # between columns j-1 and j
    down = tf.not_equal(ids[:, 1:], ids[:, :-1])  # between rows i-1 and i
    no, one = [0, 0], [0, 1]
    edges = (
        tf.pad(across, [no, no, [1, 0], no]) | tf.pad(across, [no, no, one, no])
        | tf.pad(down, [no, [1, 0], no, no]) | tf.pad(down, [no, one, no, no])
    )
    return tf.cast(edges, tf.float32)


def condition(config, batch):
    """s with E appended when the config uses instance maps: what D sees beside an image.

    ``batch`` holds ``"label"`` (integer ids, ``label_nc > 0``) or ``"a"`` (the input image), and
    ``"instance"`` (integer ids) when ``use_instance_map``."""
    if config.label_nc:
        if "label" not in batch:
            raise ValueError(f"label_nc is {config.label_nc}, but the batch has no \"label\" map: train on label maps "
                             "(a folder in the reference or Cityscapes layout, or demo-labels), or set label_nc=0 "
                             "for A|B image pairs")
        s = one_hot_labels(batch["label"], config.label_nc)
    else:
        if "a" not in batch:
            raise ValueError("the batch holds label maps but label_nc is 0: set label_nc to the number of classes "
                             "(--label-nc; 35 for Cityscapes)")
        s = tf.cast(batch["a"], tf.float32)
    if not config.use_instance_map:
        return s
    if "instance" not in batch:
        raise ValueError('use_instance_map is on, but the batch has no "instance" map of instance ids: give '
                         "instance maps (train_inst/, *_instanceIds.png) or set use_instance_map=False")
    return tf.concat([s, instance_boundaries(batch["instance"])], -1)


def pooling_ids(batch):
    """The regions E's features are averaged over: instance ids, or the label map's classes when
    there are no instance maps (the reference's ``label_feat``)."""
    ids = batch["instance"] if "instance" in batch else batch["label"]
    ids = tf.cast(ids, tf.int32)
    return ids if ids.shape.rank == 4 else ids[..., None]


def with_features(condition_map, features):
    """G's input: ``condition_map`` with the ``features`` channels appended (when there are any)."""
    if features is None:
        return condition_map
    return tf.concat([condition_map, tf.cast(features, condition_map.dtype)], -1)


# Colours of the classes in sample grids: Cityscapes' palette for its ids 0-33 is not needed to read
# a grid, so classes get evenly spread hues (golden-ratio steps), the same for every run.
def palette(label_nc):
    """``(label_nc, 3)`` float32 RGB colours in [0, 1], class 0 black."""
    hues = (np.arange(label_nc) * 0.618033988749895) % 1.0
    colours = np.stack([_hue_to_rgb(h) for h in hues]).astype(np.float32)
    shade = 0.55 + 0.45 * ((np.arange(label_nc) // 7) % 2 == 0)  # alternate brightness every 7 hues
    colours = colours * shade[:, None]
    colours[0] = 0.0
    return colours


def _hue_to_rgb(hue):
    k = (np.array([5.0, 3.0, 1.0]) + hue * 6.0) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def label_colours(labels, label_nc):
    """Integer label maps ``(B, H, W[, 1])`` as RGB images in [-1, 1] (the grid's input column)."""
    ids = tf.cast(labels, tf.int32)
    if ids.shape.rank == 4:
        ids = ids[..., 0]
    colours = tf.gather(tf.constant(palette(label_nc)), tf.clip_by_value(ids, 0, label_nc - 1))
    return colours * 2.0 - 1.0
