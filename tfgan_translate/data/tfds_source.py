"""The TensorFlow Datasets CycleGAN collections (``cycle_gan/horse2zebra`` and friends).

The download path is the plain ``tfds.load`` a Colab user runs. Images are read as
encoded bytes (``SkipDecoding``) and go through the same shuffle/decode/jitter pipeline
as image folders: shuffling bytes rather than decoded images keeps a full-dataset
shuffle buffer small, and one decoder means one behaviour for every source.
"""

from __future__ import annotations

import tensorflow as tf

from tfgan_translate.data.decode import decode_image
from tfgan_translate.data.demo import DEMO_DATASETS
from tfgan_translate.data.options import make_options
from tfgan_translate.data.pipeline import channels_of, check_direction, finish, image_stream, zip_unpaired


def tfds_unpaired(name, split="train", direction="AtoB", data_dir=None, download=True,
                  **options) -> tf.data.Dataset:
    """Unpaired ``{"a", "b"}`` batches from tfds ``cycle_gan/<name>`` splits ``{split}A/B``.

    Args:
        name: a config of the tfds ``cycle_gan`` builder (``apple2orange``,
            ``summer2winter_yosemite``, ``horse2zebra``, ``monet2photo``, ``cezanne2photo``,
            ``ukiyoe2photo``, ``vangogh2photo``, ``maps``, ``facades``,
            ``iphone2dslr_flower``), short or in full (``"cycle_gan/horse2zebra"``).
        split: ``"train"`` or ``"test"``; ``training`` defaults to ``split == "train"``.
        direction: ``"AtoB"`` (horse -> zebra) or ``"BtoA"``.
        data_dir, download: passed to ``tfds.load`` (``None`` = tfds' default folder).
        **options: see :class:`Options`. ``strict`` has no effect here: tfds records were
            checked when the dataset was built.

    The epoch policy is that of :func:`unaligned_folder`: max of the two domain sizes.

    Example:
        >>> ds = tfds_unpaired("horse2zebra", "train", batch_size=1)  # downloads ~110 MB once
    """
    import tensorflow_datasets as tfds  # heavy import, only needed here

    check_direction(direction)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    o = make_options(options, training=split == "train")
    full_name = name if "/" in name else f"cycle_gan/{name}"
    domains = ("A", "B") if direction == "AtoB" else ("B", "A")
    sources = load_tfds(
        full_name, split=[f"{split}{d}" for d in domains], data_dir=data_dir,
        download=download, shuffle_files=o.shuffle,
        decoders={"image": tfds.decode.SkipDecoding()},
        read_config=tfds.ReadConfig(shuffle_seed=o.seed))
    streams, counts = [], []
    for stream, (source, key) in enumerate(zip(sources, ("a", "b"))):
        count = count_records(source)
        if count == 0:
            raise ValueError(f"tfds split {full_name}:{split}{domains[stream]} is empty")

        def load(example, key=key):
            return {key: decode_image(example["image"], channels_of(key, o))}

        streams.append(image_stream(source, count, load, o, keys=(key,), stream=stream,
                                    source=f"{split}{domains[stream]}"))
        counts.append(count)
    ds, count = zip_unpaired(streams[0], counts[0], streams[1], counts[1])
    return finish(ds, count, o)


def cycle_gan_names():
    """The configs of the tfds ``cycle_gan`` builder (``horse2zebra``, ...), known without a download."""
    import tensorflow_datasets as tfds

    return [config.name for config in tfds.builder_cls("cycle_gan").BUILDER_CONFIGS]


def check_cycle_gan_name(dataset):
    """Refuse a ``--dataset`` that is neither an existing folder nor a tfds CycleGAN name (short or
    ``cycle_gan/NAME``), before tfds tries a download for a mistyped folder."""
    names = cycle_gan_names()
    if dataset.removeprefix("cycle_gan/") not in names:
        raise ValueError(
            f"--dataset {dataset}: there is no folder {dataset!r} here, and it is not a tfds CycleGAN dataset "
            f"({', '.join(names)}) or a built-in one ({', '.join(DEMO_DATASETS)})")


def load_tfds(name, **kwargs):
    """``tfds.load(name, **kwargs)``; a failed download (offline, ...) becomes a short ``ValueError``
    that says what to do instead of tfds' long traceback."""
    import tensorflow_datasets as tfds

    try:
        return tfds.load(name, **kwargs)
    except Exception as error:  # offline, no prepared copy, ...
        cause = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            f"could not load tfds {name!r} ({type(error).__name__}: {cause[:300]}). It downloads on "
            "first use: run once online (or pass --data-dir with a copy prepared earlier); offline, "
            "use an image folder (trainA/ trainB/, or A|B images) or a built-in demo-* dataset"
        ) from None


def count_records(ds):
    """Number of records: tfds usually knows it; otherwise count the (undecoded) records."""
    n = int(ds.cardinality())
    if n >= 0:
        return n
    return int(ds.reduce(tf.constant(0, tf.int64), lambda c, _: c + 1))


def tfds_split_images(name, split, data_dir=None, **options):
    """Batches of the images of one tfds ``cycle_gan`` split (e.g. ``testA``), each once, in file order."""
    import tensorflow_datasets as tfds

    o = make_options(options)
    source = load_tfds(name if "/" in name else f"cycle_gan/{name}", split=split, data_dir=data_dir,
                       decoders={"image": tfds.decode.SkipDecoding()})
    count = count_records(source)
    stream = image_stream(source, count, lambda x: {"a": decode_image(x["image"], o.channels)}, o)
    return finish(stream, count, o).map(lambda x: x["a"])
