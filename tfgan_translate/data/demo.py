"""Demo datasets that need no download: crops of the real photos scikit-image ships.

Paired (pix2pix) tasks, ``demo_paired(task=...)``:
    ``"edges2photo"``: a = Canny edges of the crop as dark lines on white, b = the crop;
    ``"gray2color"``:  a = the crop's luma (as 3 equal channels), b = the crop.

Unpaired (CycleGAN) task with a known answer, ``demo_unpaired``:
    domain A = crops of astronaut, coffee, immunohistochemistry and the left motorcycle view;
    domain B = crops of chelsea, rocket and the right motorcycle view, passed through
    :func:`colour_map`. The test split pairs A crops with their true mapped image
    (``"b_true"``), so a learned A -> B translation is scored with :func:`psnr`.

Why this colour map: ``r' = 0.10 + 0.60 b``, ``g' = 0.05 + 0.75 r``, ``b' = 0.25 + 0.70 g``
(values in [0, 1]) rotates the channels (a 120 degree hue turn) and squeezes them into a
lifted, cold range, like a cross-processed film look. It is a real translation: the
identity guess scores 13.1 dB PSNR on the 64 px test split (no crop above 18 dB), and
unlike a bare channel permutation it also moves grays and whites (its one fixed colour is
a muted blue, rgb 0.49/0.39/0.58). It is affine and invertible without clipping, so both
generators of a CycleGAN can represent it exactly with 1x1 convolutions and the cycle
loss can reach zero; a two-layer CycleGAN at 32 px went from the identity's 13.5 dB to
about 23 dB in two CPU minutes. Because the true A -> B map is far from the identity, a
CycleGAN's identity loss pulls against the answer here: train this demo with a low
identity weight, or none.

Crops are cut from photos rescaled to 3, 4 or 5 crop widths; train crops lie in the left
two thirds of each photo and test crops in the right third, so test pixels are never
trained on. The dataset's content is fixed (seeded); ``seed=`` only sets shuffle and jitter.
Meant for 32-128 px; larger sizes upsample the photos (they are 450-740 px wide).
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tfgan_translate.data.options import make_options
from tfgan_translate.data.pipeline import (
    channels_of,
    check_direction,
    finish,
    image_stream,
    zip_unpaired,
)

# The --dataset names of the built-in datasets (demo_paired tasks and demo_unpaired).
DEMO_DATASETS = ("demo-paired", "demo-unpaired", "demo-gray2color")

PAIRED_TASKS = ("edges2photo", "gray2color")
_PAIRED_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry",
                  "motorcycle_left", "motorcycle_right")
_DOMAIN_A = ("astronaut", "coffee", "immunohistochemistry", "motorcycle_left")
_DOMAIN_B = ("chelsea", "rocket", "motorcycle_right")
_DEFAULT_COUNT = {"train": 400, "test": 100}
_CROP_SEEDS = {"train": 1, "test": 2}

# r' = 0.10 + 0.60 b, g' = 0.05 + 0.75 r, b' = 0.25 + 0.70 g  (see the module docstring).
_MIX = np.array([[0.0, 0.0, 0.60], [0.75, 0.0, 0.0], [0.0, 0.70, 0.0]], np.float32)
_LIFT = np.array([0.10, 0.05, 0.25], np.float32)


def demo_paired(task="edges2photo", split="train", direction="AtoB", num_examples=None,
                **options) -> tf.data.Dataset:
    """Paired ``{"a", "b"}`` batches for a pix2pix task built from scikit-image photos.

    Args:
        task: ``"edges2photo"`` or ``"gray2color"`` (a is the edges/gray image, b the photo).
        split: ``"train"`` (400 crops by default) or ``"test"`` (100, other pixels);
            ``training`` defaults to ``split == "train"``.
        direction: ``"BtoA"`` swaps a and b (photo -> edges).
        num_examples: number of crops instead of the default.
        **options: see :class:`Options`; ``crop_size``/``image_size`` defaults to 64.

    Example:
        >>> ds = demo_paired("edges2photo", batch_size=4)  # builds offline in about a second
    """
    if task not in PAIRED_TASKS:
        raise ValueError(f"unknown demo task {task!r}; choose one of {PAIRED_TASKS}")
    check_direction(direction)
    o = make_options(options, default_crop_size=64, training=split == "train")
    sketch, photos = _paired_arrays(task, split, _count(split, num_examples), o.crop_size)
    if direction == "BtoA":  # before the stream, so that each key gets its own channel count
        sketch, photos = photos, sketch
    ds = _stream({"a": sketch, "b": photos}, o, keys=("a", "b"))
    return finish(ds, len(photos), o)


def demo_unpaired(split="train", direction="AtoB", num_examples=None,
                  **options) -> tf.data.Dataset:
    """Unpaired colour-mapping batches with a known answer (see the module docstring).

    ``split="train"`` yields unpaired ``{"a", "b"}`` (400 crops per domain by default).
    ``split="test"`` yields ``{"a", "b_true"}`` (100 by default), ``b_true`` being exactly
    :func:`colour_map` of ``a``; score a generator with ``psnr(G(a), b_true)``.
    ``direction="BtoA"`` swaps the domains (in test: ``a`` is mapped, ``b_true`` original).
    Options: see :class:`Options`; ``crop_size``/``image_size`` defaults to 64.

    Example:
        >>> test = demo_unpaired("test", batch_size=100)
        >>> batch = next(iter(test))
        >>> float(tf.reduce_mean(psnr(batch["a"], batch["b_true"])))  # identity guess, dB
        13.07...
    """
    check_direction(direction)
    o = make_options(options, default_crop_size=64, training=split == "train")
    count = _count(split, num_examples)
    a, b = _unpaired_arrays(split, count, o.crop_size)
    if direction == "BtoA":
        a, b = b, a
    if split == "test":
        return finish(_stream({"a": a, "b_true": b}, o, keys=("a", "b_true")), count, o)
    source_a, source_b = ("trainA", "trainB") if direction == "AtoB" else ("trainB", "trainA")
    ds, count = zip_unpaired(_stream({"a": a}, o, ("a",), 0, source_a), count,
                             _stream({"b": b}, o, ("b",), 1, source_b), count)
    return finish(ds, count, o)


def colour_map(images: np.ndarray) -> np.ndarray:
    """The demo's hidden A -> B colour map, on ``uint8`` RGB arrays ``[..., 3]``."""
    x = images.astype(np.float32) / 255.0
    y = x @ _MIX.T + _LIFT
    return np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8)


def psnr(x, y) -> tf.Tensor:
    """Per-image PSNR in dB of images in [-1, 1] (peak-to-peak 2), shape ``[batch]``.

    Equals the PSNR of the same images in [0, 1] with peak 1.
    """
    return tf.image.psnr(tf.cast(x, tf.float32), tf.cast(y, tf.float32), max_val=2.0)


def photo_crops(names, count, size, split, seed_offset=0) -> np.ndarray:
    """``count`` square ``uint8`` crops of ``size`` px from the named photos, reproducibly.

    Each crop picks a photo and a scale (photo width 3, 4 or 5 crop sizes) at random; train
    crops come from the left two thirds of the scaled photo, test crops from the right third.
    """
    if split not in _CROP_SEEDS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng([_CROP_SEEDS[split], seed_offset, size])
    crops = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        photo = _scaled_photo(names[rng.integers(len(names))], size * int(rng.integers(3, 6)))
        height, width = photo.shape[:2]
        cut = width - width // 3
        lo, hi = (0, cut - size) if split == "train" else (cut, width - size)
        x, y = rng.integers(lo, hi + 1), rng.integers(0, height - size + 1)
        crops[i] = photo[y:y + size, x:x + size]
    return crops


# Entry points are rebuilt every epoch (with a new seed); the crops are built once.
@functools.lru_cache(maxsize=16)
def _paired_arrays(task, split, count, size):
    photos = photo_crops(_PAIRED_PHOTOS, count, size, split)
    sketch = _edges(photos) if task == "edges2photo" else _gray(photos)
    return _read_only(sketch), _read_only(photos)


@functools.lru_cache(maxsize=16)
def _unpaired_arrays(split, count, size):
    """(A crops, B crops) for train; (A crops, their true mapped images) for test."""
    a = photo_crops(_DOMAIN_A, count, size, split)
    if split == "test":
        return _read_only(a), _read_only(colour_map(a))
    b = colour_map(photo_crops(_DOMAIN_B, count, size, split, seed_offset=1))
    return _read_only(a), _read_only(b)


def _read_only(array):
    array.flags.writeable = False
    return array


def _stream(arrays, o, keys, stream=0, source=""):
    count = len(next(iter(arrays.values())))
    items = tf.data.Dataset.from_tensor_slices(arrays)

    if {channels_of(k, o) for k in keys} - {1, 3}:
        raise ValueError("the demo datasets are RGB: channels 1 or 3 only")

    def load(example):
        return {k: tf.image.rgb_to_grayscale(v) if channels_of(k, o) == 1 else v for k, v in example.items()}

    return image_stream(items, count, load, o, keys=keys, stream=stream, source=source)


def _count(split, num_examples):
    if split not in _DEFAULT_COUNT:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    count = _DEFAULT_COUNT[split] if num_examples is None else num_examples
    if count < 1:
        raise ValueError(f"num_examples must be positive, got {num_examples!r}")
    return count


def _skimage_data():
    try:
        import skimage.data
    except ImportError as err:  # a runtime need of the demos only
        raise ImportError(
            "the demo datasets are cut from the photos that ship with scikit-image: "
            "pip install scikit-image") from err
    return skimage.data


@functools.lru_cache(maxsize=None)
def _photo(name) -> np.ndarray:
    data = _skimage_data()
    if name.startswith("motorcycle_"):
        left, right = data.stereo_motorcycle()[:2]
        return left if name.endswith("left") else right
    return getattr(data, name)()[..., :3]


@functools.lru_cache(maxsize=64)
def _scaled_photo(name, width) -> np.ndarray:
    photo = _photo(name)
    height = max(int(round(photo.shape[0] * width / photo.shape[1])), width // 3)
    resized = tf.image.resize(photo, (height, width), antialias=True)
    return np.asarray(tf.cast(tf.round(tf.clip_by_value(resized, 0, 255)), tf.uint8))


def _edges(photos):
    """Canny edges of each crop, as black 1 px lines on white, 3 channels."""
    from skimage.feature import canny

    sigma = max(1.0, photos.shape[1] / 64)
    gray = _luma(photos)
    lines = np.stack([canny(g, sigma=sigma) for g in gray.astype(np.float32) / 255.0])
    return np.repeat(np.where(lines, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)


def _gray(photos):
    return np.repeat(_luma(photos)[..., None], 3, axis=-1)


def _luma(photos):
    weights = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601, as tf.image
    return np.round(photos.astype(np.float32) @ weights).astype(np.uint8)
