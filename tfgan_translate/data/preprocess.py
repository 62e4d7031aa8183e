"""Resize, crop and mirror images the way the papers do, and map pixels to [-1, 1] and back.

Randomness is stateless: each example carries its own seed (see ``pipeline.py``), so a
seeded pipeline jitters identically however many threads run it. Images that must stay
aligned (the two halves of a pix2pix pair) are stacked along channels and transformed
once, so they get the same crop offset and the same mirror by construction.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from tfgan_translate.data.options import Options


def normalize(image: tf.Tensor) -> tf.Tensor:
    """Map pixel values in [0, 255] (any dtype) to float32 in [-1, 1]."""
    return tf.clip_by_value(tf.cast(image, tf.float32) / 127.5 - 1.0, -1.0, 1.0)


def denormalize(image: tf.Tensor) -> tf.Tensor:
    """Map float images in [-1, 1] (e.g. generator outputs) to float32 in [0, 1]."""
    return tf.clip_by_value((tf.cast(image, tf.float32) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(image: tf.Tensor) -> tf.Tensor:
    """Map float images in [-1, 1] to ``uint8`` in [0, 255], ready to save or show."""
    return tf.cast(tf.round(denormalize(image) * 255.0), tf.uint8)


def transform(image: tf.Tensor, options: Options, seed: tf.Tensor, method: str = "bilinear") -> tf.Tensor:
    """Resize/crop/mirror one ``[H, W, C]`` image per ``options`` (resolved), as float32.

    ``seed`` is a shape-[2] integer tensor for the stateless random crop and mirror. With
    ``options.training`` false nothing is random: see :class:`Options`. ``method="nearest"``
    resizes by nearest neighbour (no antialiasing), for maps of ids (labels, instances) that
    must never be interpolated; two images of one size given the same seed get the same crop
    offset and the same mirror, whatever their channels or method.
    """
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"method must be 'bilinear' or 'nearest', got {method!r}")
    o = options
    resize = functools.partial(_resize, method=method)
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    crop, load = o.crop_size, (o.load_size if o.training else o.crop_size)
    x = tf.cast(image, tf.float32)
    if o.preprocess == "resize_and_crop":
        x = resize(x, load, load)
    elif o.preprocess in ("scale_width", "scale_width_and_crop"):
        x = _scale_width(x, load, crop, resize)
    elif o.preprocess == "crop":
        x = _fit_at_least(x, crop, resize)
    if o.preprocess == "none":
        x = _round_to_multiple(x, 4, resize)
    elif o.preprocess != "scale_width":
        x = _crop(x, crop, crop_seed, random=o.training)
    if o.flip and o.training:
        x = tf.image.stateless_random_flip_left_right(x, flip_seed)
    return x


def _resize(x, height, width, method="bilinear"):
    """Bilinear resize with antialiasing (clean when shrinking), or nearest neighbour for ids;
    skipped when sizes match."""
    shape = tf.shape(x)
    same = tf.logical_and(tf.equal(shape[0], height), tf.equal(shape[1], width))
    return tf.cond(same, lambda: x,
                   lambda: tf.image.resize(x, tf.stack([height, width]), method=method,
                                           antialias=method == "bilinear"))


def _scale_width(x, width, min_height, resize=_resize):
    """Width -> ``width`` keeping the aspect ratio; height at least ``min_height``."""
    shape = tf.cast(tf.shape(x), tf.float32)
    height = tf.cast(width * shape[0] / shape[1], tf.int32)
    return resize(x, tf.maximum(height, min_height), width)


def _fit_at_least(x, size, resize=_resize):
    """Enlarge (keeping the aspect ratio) only if a side is below ``size``, so a crop fits."""
    shape = tf.cast(tf.shape(x)[:2], tf.float32)
    scale = tf.maximum(1.0, size / tf.reduce_min(shape))
    new = tf.maximum(tf.cast(tf.math.ceil(shape * scale), tf.int32), size)
    return resize(x, new[0], new[1])


def _round_to_multiple(x, base, resize=_resize):
    """Resize to the nearest multiple of ``base`` on each side (at least ``base``)."""
    shape = tf.cast(tf.shape(x)[:2], tf.float32)
    new = tf.maximum(tf.cast(tf.round(shape / base), tf.int32) * base, base)
    return resize(x, new[0], new[1])


def _crop(x, size, seed, random):
    channels = tf.shape(x)[2]
    if random:
        return tf.image.stateless_random_crop(x, tf.stack([size, size, channels]), seed)
    shape = tf.shape(x)
    return tf.image.crop_to_bounding_box(
        x, (shape[0] - size) // 2, (shape[1] - size) // 2, size, size)
