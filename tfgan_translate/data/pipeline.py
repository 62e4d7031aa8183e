"""The ``tf.data`` assembly every source shares: shuffle, decode, cache, jitter, batch.

A source supplies a dataset of cheap *items* (file paths, encoded bytes, small arrays)
plus a ``load`` function turning one item into a dict of images (levels 0-255). Shuffling
happens on items, before decoding, so a full-dataset shuffle buffer costs almost no
memory; decoding and jitter run in parallel maps; each example is zipped with its own
random seed so that jitter is stateless and reproducible under any parallelism.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from tfgan_translate.data.options import Options
from tfgan_translate.data.preprocess import normalize, transform

_CROPPING_MODES = ("resize_and_crop", "scale_width_and_crop", "crop")


def image_stream(items, count, load, options: Options, keys=("a",), stream=0, source="", map_keys=()):
    """Dataset of dicts whose ``keys`` hold jittered float32 images in [-1, 1].

    Args:
        items: ``tf.data.Dataset`` of items (``count`` of them).
        load: item -> dict of ``[H, W, C]`` images of levels 0-255 under ``keys`` (other entries,
            such as a file path, pass through).
        options: resolved :class:`Options`.
        keys: images transformed *together* (same crop, same mirror), e.g. a pix2pix pair.
        stream: distinguishes independent streams (domains A and B) that share a seed.
        source: names the stream's data (e.g. ``"trainB"``) in a file cache's name, so the
            two domains of an unpaired dataset never share or swap cache files.
        map_keys: one-channel maps of integer ids (pix2pixHD's label and instance maps) given the
            same crop and mirror as ``keys`` but resized by nearest neighbour and kept as int32
            ids, never interpolated nor normalised.
    """
    o = options
    parallel = o.num_parallel_calls or tf.data.AUTOTUNE
    seed = None if o.seed is None else o.seed + 7919 * stream
    buffer = min(count, o.shuffle_buffer or count)
    if o.shuffle and not o.cache:
        items = items.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if o.shard is not None and not o.cache:  # decoded by ``finish``, after it picks this worker's rows
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        return Undecoded(tf.data.Dataset.zip(items, seeds),
                         lambda item, s: _augment(load(item), s, o, keys, map_keys))
    ds = items.map(load, num_parallel_calls=parallel, deterministic=o.deterministic)
    if o.cache:
        ds = ds.cache("" if o.cache is True else "-".join(filter(None, [str(o.cache), source])))
        if o.shuffle:
            ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    ds = tf.data.Dataset.zip(ds, seeds)
    return ds.map(lambda example, s: _augment(example, s, o, keys, map_keys),
                  num_parallel_calls=parallel, deterministic=o.deterministic)


@dataclasses.dataclass(frozen=True)
class Undecoded:
    """A stream of items not decoded yet and the function that decodes one element: what
    ``image_stream`` gives under ``shard``, so that a worker decodes only its share."""

    dataset: tf.data.Dataset
    decode: Callable

    def repeat(self):
        return Undecoded(self.dataset.repeat(), self.decode)


def _augment(example, seed, o, keys, map_keys=()):
    images = [example[k] for k in keys]
    joined = tf.concat(images, axis=-1) if len(images) > 1 else images[0]
    joined = transform(joined, o, seed)
    side = o.crop_size if o.preprocess in _CROPPING_MODES else None
    out = dict(example)
    start = 0
    for key in keys:
        channels = channels_of(key, o)
        part = joined[..., start:start + channels]
        start += channels
        out[key] = tf.ensure_shape(normalize(part), [side, side, channels])
    for key in map_keys:  # the same seed, so the same crop offset and mirror as the images
        ids = transform(example[key], o, seed, method="nearest")  # float32 holds ids < 2**24 exactly
        out[key] = tf.ensure_shape(tf.cast(tf.round(ids), tf.int32), [side, side, 1])
    return out


def channels_of(key, options):
    """The channel count of the images under ``key``: ``channels_b`` for domain B's (``"b"``,
    ``"b_true"``), ``channels`` for the others."""
    return options.channels_b if key == "b" or key.startswith("b_") else options.channels


def zip_unpaired(stream_a, count_a, stream_b, count_b):
    """Zip two unpaired streams into ``{"a", "b"}`` examples, ``max(count_a, count_b)`` per epoch.

    The shorter stream is repeated (reshuffled on each pass), so every image of the larger
    domain appears once per epoch and the smaller domain's images cycle without
    replacement. The reference code instead samples B with replacement; cycling gives the
    same coverage with less variance.
    """
    count = max(count_a, count_b)
    if count_a < count:
        stream_a = stream_a.repeat()
    if count_b < count:
        stream_b = stream_b.repeat()
    if isinstance(stream_a, Undecoded) and isinstance(stream_b, Undecoded):
        pairs = tf.data.Dataset.zip(stream_a.dataset, stream_b.dataset).take(count)
        return Undecoded(pairs, lambda x, y: {**stream_a.decode(*x), **stream_b.decode(*y)}), count
    pairs = tf.data.Dataset.zip(_decoded(stream_a), _decoded(stream_b)).take(count)
    return pairs.map(lambda x, y: {**x, **y}), count


def _decoded(stream):
    if isinstance(stream, Undecoded):
        return stream.dataset.map(stream.decode)  # tf.data passes an element's parts as arguments
    return stream


def _rows_of_this_worker(ds, count, o):
    """The elements of this worker's rows of each global batch (``Options.shard``); the stream is
    first cut to whole global batches when a partial one would be dropped."""
    worker, workers = o.shard
    local = o.batch_size // workers
    dataset = ds.dataset if isinstance(ds, Undecoded) else ds
    if o.drop_remainder and count is not None and not o.repeat:
        dataset = dataset.take(count // o.batch_size * o.batch_size)
    mine = dataset.enumerate().filter(lambda i, _: (i % o.batch_size) // local == worker).map(lambda _, x: x)
    if isinstance(ds, Undecoded):
        mine = mine.map(ds.decode, num_parallel_calls=o.num_parallel_calls or tf.data.AUTOTUNE,
                        deterministic=o.deterministic)
    return mine, local


def finish(ds, count, options: Options):
    """Repeat, batch and prefetch; refuse a ``drop_remainder`` setting that would yield nothing."""
    o = options
    if o.drop_remainder and count is not None and count < o.batch_size and not o.repeat:
        raise ValueError(
            f"only {count} example(s) but batch_size={o.batch_size} with "
            "drop_remainder=True: the dataset would be empty. Lower batch_size, pass "
            "drop_remainder=False, or repeat=True.")
    if o.repeat:
        ds = ds.repeat()
    batch = o.batch_size
    if o.shard is not None:
        ds, batch = _rows_of_this_worker(ds, count, o)
    ds = ds.batch(batch, drop_remainder=o.drop_remainder,
                  num_parallel_calls=o.num_parallel_calls or tf.data.AUTOTUNE,
                  deterministic=o.deterministic)
    if o.shard is not None and o.drop_remainder and count is not None and not o.repeat:
        ds = ds.apply(tf.data.experimental.assert_cardinality(count // o.batch_size))
    ds = ds.prefetch(tf.data.AUTOTUNE)
    tf_options = tf.data.Options()
    tf_options.deterministic = o.deterministic
    return ds.with_options(tf_options)


def check_direction(direction):
    if direction not in ("AtoB", "BtoA"):
        raise ValueError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
