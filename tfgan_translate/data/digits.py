"""Labelled handwritten digits for the class-conditional families (CGAN, InfoGAN).

Two sources, both giving batches ``{"image": (B, S, S, 1) float32 in [-1, 1], "label": (B,) int32}``:

- ``digits`` (offline): the 1,797 8x8 digits scikit-learn ships (``sklearn.datasets.load_digits``,
  16 grey levels), upscaled bilinearly to ``image_size`` (28 px by default, MNIST's size, so
  the same networks serve both). A fixed split: every 5th image (360) is ``test``, the other
  1,437 are ``train``; ``all`` is both.
- ``mnist`` (tfds, needs the download or a prepared ``data_dir``): 60,000 train / 10,000
  test 28x28 digits, resized when ``image_size`` is not 28.

Each epoch's order comes from its own seed, so the same seed gives the same batches (which
makes a resumed run see what an uninterrupted one would).

Example:
    >>> from tfgan_translate.data import digits
    >>> ds = digits.digits("train", image_size=28, batch_size=64, seed=0)
    >>> batch = next(iter(ds))  # {"image": (64, 28, 28, 1), "label": (64,)}
"""

import functools

import numpy as np
import tensorflow as tf

DATASETS = ("digits", "mnist")
SPLITS = ("train", "test", "all")
NUM_CLASSES = 10
TEST_EVERY = 5  # every 5th offline digit is held out


@functools.lru_cache(maxsize=8)
def digits_arrays(split="train", image_size=28):
    """``(images (N, S, S, 1) float32 in [-1, 1], labels (N,) int32)`` of the offline digits."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is an install requirement
        raise ImportError("the offline 'digits' dataset needs scikit-learn: pip install scikit-learn") from None
    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 16.0)[..., None]  # 0..16 grey levels -> [0, 1]
    labels = bunch.target.astype(np.int32)
    index = np.arange(len(labels))
    keep = {"train": index % TEST_EVERY != 0, "test": index % TEST_EVERY == 0, "all": index >= 0}[split]
    images, labels = images[keep], labels[keep]
    if image_size != images.shape[1]:
        images = tf.image.resize(images, (image_size, image_size), method="bilinear").numpy()
    images = np.clip(images * 2.0 - 1.0, -1.0, 1.0).astype(np.float32)
    images.setflags(write=False)  # cached: nobody may change it in place
    labels.setflags(write=False)
    return images, labels


def _batched(ds, size, batch_size, seed, shuffle, drop_remainder):
    if shuffle:
        ds = ds.shuffle(size, seed=seed, reshuffle_each_iteration=False)
    return ds.batch(batch_size, drop_remainder=drop_remainder)


def digits(split="train", image_size=28, batch_size=64, seed=0, shuffle=True, drop_remainder=True):
    """The offline scikit-learn digits as a batched ``tf.data.Dataset`` (see the module docstring)."""
    images, labels = digits_arrays(split, int(image_size))
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
    return _batched(ds, len(labels), batch_size, seed, shuffle, drop_remainder).prefetch(2)


def mnist(split="train", image_size=28, batch_size=64, seed=0, shuffle=True, drop_remainder=True, data_dir=None):
    """tfds ``mnist`` as batches ``{"image", "label"}`` (``split`` ``train``, ``test`` or ``all``)."""
    import tensorflow_datasets as tfds

    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    tfds_split = "train+test" if split == "all" else split
    try:
        ds = tfds.load("mnist", split=tfds_split, data_dir=data_dir, shuffle_files=False)
    except Exception as error:  # offline, no prepared copy, ...
        raise ValueError(
            f"could not load tfds 'mnist' ({type(error).__name__}: {error}). Download it once online "
            "(or pass --data-dir with a prepared copy), or use the offline --dataset digits"
        ) from None
    size = int(ds.cardinality())
    size = size if size > 0 else 70_000  # unknown: the whole of MNIST fits in the buffer
    ds = _batched(ds, size, batch_size, seed, shuffle, drop_remainder)  # shuffle uint8, before decoding

    def prepare(batch):
        image = tf.cast(batch["image"], tf.float32) / 127.5 - 1.0
        if image_size != 28:
            image = tf.clip_by_value(tf.image.resize(image, (image_size, image_size)), -1.0, 1.0)
        return {"image": image, "label": tf.cast(batch["label"], tf.int32)}

    return ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(2)


def digit_dataset(name, split="train", **options):
    """``digits`` or ``mnist`` by name (the CLI's ``--dataset``)."""
    if name == "digits":
        options.pop("data_dir", None)
        return digits(split, **options)
    if name == "mnist":
        return mnist(split, **options)
    raise ValueError(f"unknown digit dataset {name!r}; choose one of {', '.join(DATASETS)}")
