"""Image-folder sources in the three layouts users have on disk.

- unaligned (CycleGAN): ``ROOT/trainA``, ``ROOT/trainB``, ``ROOT/testA``, ``ROOT/testB``;
- aligned (pix2pix): one folder of side-by-side ``A|B`` images, split at the middle;
- single: one folder of images to translate, keeping each file's path for the outputs.

Every non-hidden regular file directly inside a folder is taken as an image (subfolders are
not searched, so ``train/`` and ``test/`` never mix); a file that does not decode, text
files included, is reported by name and skipped, or stops the run with ``strict=True``.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from tfgan_translate.data.decode import check_image_files, decoder_for
from tfgan_translate.data.options import make_options
from tfgan_translate.data.pipeline import (
    channels_of,
    check_direction,
    finish,
    image_stream,
    zip_unpaired,
)

UNALIGNED_LAYOUT = ("the CycleGAN layout: ROOT/trainA, ROOT/trainB, ROOT/testA and ROOT/testB, "
                    "each a folder of images")
ALIGNED_LAYOUT = ("the pix2pix layout: a folder of side-by-side images, each holding A in its "
                  "left half and B in its right half, both halves of equal width (so the "
                  "image width is even)")
SINGLE_LAYOUT = "a folder of images"


class FolderLayoutError(ValueError):
    """A folder is missing, empty, or its images do not fit the expected layout."""


def unaligned_folder(root, split="train", direction="AtoB", **options) -> tf.data.Dataset:
    """Unpaired ``{"a", "b"}`` batches from ``ROOT/{split}A`` and ``ROOT/{split}B``.

    The two folders may hold different numbers of images: an epoch has as many examples
    as the larger one, and the smaller one is cycled, reshuffled on each pass.
    ``training`` defaults to ``split == "train"``. Other options: see :class:`Options`.

    Example:
        >>> ds = unaligned_folder("datasets/horse2zebra", "train", image_size=128)
        >>> batch = next(iter(ds))  # {"a": (1, 128, 128, 3), "b": (1, 128, 128, 3)}
    """
    check_direction(direction)
    o = make_options(options, training=split == "train")
    root = Path(root)
    if not root.is_dir():
        raise FolderLayoutError(
            f"dataset folder {root} does not exist; expected {UNALIGNED_LAYOUT}")
    domains = (("A", "a"), ("B", "b")) if direction == "AtoB" else (("B", "a"), ("A", "b"))
    streams, counts = [], []
    for stream, (domain, key) in enumerate(domains):
        folder = root / f"{split}{domain}"
        if not folder.is_dir():
            found = sorted(p.name for p in root.iterdir() if p.is_dir())
            found = found[:8] + ["..."] * (len(found) > 8)
            raise FolderLayoutError(
                f"missing folder {folder} (found subfolders: {found or 'none'}); "
                f"expected {UNALIGNED_LAYOUT}")
        paths = [c.path for c in _readable_images(folder, o.strict, UNALIGNED_LAYOUT, channels_of(key, o))]
        items = tf.data.Dataset.from_tensor_slices(paths)

        def load(path, key=key, decode=decoder_for(paths, channels_of(key, o))):
            return {key: decode(tf.io.read_file(path), channels_of(key, o))}

        streams.append(image_stream(items, len(paths), load, o, keys=(key,), stream=stream,
                                    source=folder.name))
        counts.append(len(paths))
    ds, count = zip_unpaired(streams[0], counts[0], streams[1], counts[1])
    return finish(ds, count, o)


def aligned_folder(path, direction="AtoB", **options) -> tf.data.Dataset:
    """Paired ``{"a", "b"}`` batches from a folder of side-by-side ``A|B`` images.

    Each image is split at the middle of its width; both halves get the same crop and the
    same mirror. ``direction="BtoA"`` makes the right half ``"a"``. An image with an odd
    width is an error (the halves would not match). Options: see :class:`Options`.

    Example:
        >>> ds = aligned_folder("datasets/facades/train", "BtoA", image_size=256, batch_size=4)
    """
    check_direction(direction)
    o = make_options(options)
    both = {channels_of("a", o), channels_of("b", o)}
    decoded = 3 if both == {1, 3} else both.pop() if len(both) == 1 else None
    if decoded is None:
        raise ValueError(f"{path}: A|B images hold one channel count for both halves; got channels "
                         f"{channels_of('a', o)} and {channels_of('b', o)} (only 1 and 3 convert into each other)")
    checks = _readable_images(path, o.strict, ALIGNED_LAYOUT, decoded)
    odd = [c for c in checks if c.width % 2]
    if odd:
        first = odd[0]
        raise FolderLayoutError(
            f"image {first.path} is {first.width} px wide (odd), so it cannot be split "
            f"into two equal halves ({len(odd)} such image(s) in {path}); expected "
            f"{ALIGNED_LAYOUT}")
    paths = [c.path for c in checks]
    left, right = ("a", "b") if direction == "AtoB" else ("b", "a")

    def half(image, key):
        return tf.image.rgb_to_grayscale(image) if channels_of(key, o) == 1 and decoded == 3 else image

    decode = decoder_for(paths, decoded)

    def load(file):
        image = decode(tf.io.read_file(file), decoded)
        middle = tf.shape(image)[1] // 2
        return {left: half(image[:, :middle], left), right: half(image[:, middle:], right)}

    items = tf.data.Dataset.from_tensor_slices(paths)
    ds = image_stream(items, len(paths), load, o, keys=("a", "b"))
    return finish(ds, len(paths), o)


def single_folder(path, **options) -> tf.data.Dataset:
    """``{"a", "path"}`` batches from one folder of images, for translating them.

    ``"path"`` holds each image's file path (a string), so outputs can be saved under the
    same names. Defaults suit inference: ``training=False`` (resize to ``crop_size``, no
    jitter), no shuffle, the last partial batch kept. Options: see :class:`Options`.

    Example:
        >>> for batch in single_folder("my_photos", image_size=256, batch_size=8):
        ...     fake = generator(batch["a"]); names = batch["path"]
    """
    o = make_options(options, training=False)
    paths = [c.path for c in _readable_images(path, o.strict, SINGLE_LAYOUT, o.channels)]
    items = tf.data.Dataset.from_tensor_slices(paths)

    decode = decoder_for(paths, o.channels)

    def load(file):
        return {"a": decode(tf.io.read_file(file), o.channels), "path": file}

    return finish(image_stream(items, len(paths), load, o), len(paths), o)


def list_image_files(folder, layout=SINGLE_LAYOUT) -> list[str]:
    """Sorted paths of the non-hidden regular files directly inside ``folder``.

    Raises :class:`FolderLayoutError` if the folder is missing or holds no such file,
    saying which ``layout`` was expected (and naming its subfolders, if it has any).
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FolderLayoutError(f"image folder {folder} {what}; expected {layout}")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    files = [str(p) for p in entries if p.is_file()]
    if not files:
        subfolders = [p.name for p in entries if p.is_dir()]
        hint = (f"; it only holds the subfolders {subfolders}: pass one of them"
                if subfolders else "")
        raise FolderLayoutError(f"image folder {folder} is empty{hint}; expected {layout}")
    return files


def _readable_images(folder, strict, layout, channels=3):
    checks = check_image_files(list_image_files(folder, layout), strict=strict, channels=channels)
    if not checks:
        raise FolderLayoutError(
            f"image folder {folder} has no readable image (every file failed to decode, "
            f"see the warnings); expected {layout}")
    return checks

