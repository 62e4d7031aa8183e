"""Decode image bytes to RGB, and find unreadable files before a pipeline ever sees them.

A corrupt file inside a running ``tf.data`` pipeline either kills training hours in or,
with error-skipping tricks, vanishes silently. So every folder is checked once up front:
each file is decoded by the very function the pipeline uses (:func:`decode_image`), in a
parallel ``tf.data`` pass, and only the files that decoded are handed on. Results are
remembered per (path, size, mtime), so building the same folder again costs a ``stat``.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..native_output import LIBJPEG_WARNINGS, held_back

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUPPORTED_FORMATS = "JPEG, PNG, BMP, GIF, WebP or TIFF"


class BadImageError(ValueError):
    """An image file cannot be read (raised in ``strict=True`` mode)."""


class BadImageWarning(UserWarning):
    """An image file cannot be read and is skipped (``strict=False`` mode)."""


def decode_image(contents: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Decode 8-bit JPEG/PNG/BMP/GIF/WebP bytes to a ``uint8`` ``[H, W, channels]`` tensor.

    Grayscale and palette images become RGB. PNG transparency (RGBA, gray+alpha, palette
    with a transparent colour) is composited on white, because cut-out photos are usually
    meant to sit on white (dropping alpha would show whatever colour the transparent
    pixels happen to store). Other formats' alpha is dropped. GIFs give their first frame.
    JPEGs use the accurate integer IDCT (the same pixels as PIL and libjpeg's default).
    ``channels=1`` converts the RGB result to luma. (16-bit PNGs are scaled to 8 bits here:
    :func:`decode_levels` keeps their levels.)
    """
    is_png = tf.equal(tf.strings.substr(contents, 0, len(_PNG_MAGIC)), _PNG_MAGIC)
    rgb = tf.case([
        (is_png, lambda: _on_white(tf.io.decode_png(contents, channels=4))),
        # TF's default JPEG IDCT is the fast, inexact one (errors up to ~30 levels).
        (tf.io.is_jpeg(contents),
         lambda: tf.io.decode_jpeg(contents, channels=3, dct_method="INTEGER_ACCURATE")),
    ], default=lambda: tf.io.decode_image(contents, channels=3, expand_animations=False))
    rgb = tf.ensure_shape(rgb, [None, None, 3])
    return tf.image.rgb_to_grayscale(rgb) if channels == 1 else rgb


def decode_levels(contents: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Decode image bytes of any depth to a float32 ``[H, W, channels]`` tensor of levels on the
    8-bit scale (0 to 255; a 16-bit level ``v`` is ``v / 257``, never rounded to 8 bits).

    8-bit files with ``channels`` 1 or 3 give :func:`decode_image`'s values. 16-bit PNGs and
    TIFFs (8/16-bit or float in [0, 1], any number of channels) keep every level; alpha is
    composited on white for 1- or 3-channel outputs, grey becomes RGB, RGB luma. With ``channels``
    other than 1 or 3 (multispectral data) a file must have exactly that many channels, else the
    decode fails saying so. The folder sources use it only for data that needs it
    (:func:`needs_levels`), so 8-bit datasets keep ``uint8`` (and caches a quarter the size).
    """
    is_png = tf.equal(tf.strings.substr(contents, 0, len(_PNG_MAGIC)), _PNG_MAGIC)
    header = tf.strings.join([tf.strings.substr(contents, 0, 26), b"\x00" * 26])  # safe to index: short files too
    bit_depth = tf.io.decode_raw(tf.strings.substr(header, 24, 1), tf.uint8)
    is_png16 = tf.logical_and(is_png, tf.reduce_any(tf.equal(bit_depth, 16)))
    is_tiff = tf.reduce_any(tf.equal(tf.strings.substr(contents, 0, 4), tf.constant(TIFF_MAGICS)))
    if channels in (1, 3):
        default = lambda: tf.cast(decode_image(contents, channels), tf.float32)  # noqa: E731
    else:
        default = lambda: _match_channels(  # noqa: E731
            tf.cast(tf.io.decode_image(contents, channels=0, expand_animations=False), tf.float32), channels)
    image = tf.case([
        (is_png16, lambda: _match_channels(tf.cast(tf.io.decode_png(contents, channels=0, dtype=tf.uint16),
                                                   tf.float32) / 257.0, channels)),
        (is_tiff, lambda: _match_channels(_decode_tiff(contents), channels)),
    ], default=default)
    return tf.ensure_shape(image, [None, None, channels])


TIFF_MAGICS = [b"II*\x00", b"MM\x00*"]  # little- and big-endian


def needs_levels(paths, channels=3):
    """Whether files need :func:`decode_levels`: channels other than 1 or 3, or a TIFF or a
    16-bit PNG among them (read from each file's first bytes)."""
    if channels not in (1, 3):
        return True
    for path in paths:
        with open(path, "rb") as f:
            header = f.read(26)
        if header[:4] in TIFF_MAGICS or (header[:8] == _PNG_MAGIC and len(header) > 24 and header[24] == 16):
            return True
    return False


def decoder_for(paths, channels=3):
    """``contents -> image``: :func:`decode_levels` when the files need it, else :func:`decode_image`."""
    return decode_levels if needs_levels(paths, channels) else decode_image


_PILLOW_8BIT = {"1": "L", "L": "L", "LA": "LA", "P": None, "RGB": "RGB", "RGBA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}


def read_tiff(source):
    """A TIFF (a path or a binary file) as ``(H, W, C)`` samples at its own depth: ``uint8``,
    ``uint16``, or floats in [0, 1]. 8-bit photometric kinds (palette, CMYK, YCbCr, bilevel and
    compressed 8-bit files) are read by Pillow as it always has; 16-bit, float and many-sample
    files by tifffile, by its axes (planar ``(C, H, W)`` storage too). ``ValueError`` says what
    cannot be read."""
    import logging

    import tifffile
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source) as image:
            bits = image.tag_v2.get(258, (8,)) if hasattr(image, "tag_v2") else (8,)
            bits = bits if isinstance(bits, tuple) else (bits,)
            if image.mode in _PILLOW_8BIT and max(bits) <= 8:  # Pillow shows 16-bit RGB as 8-bit RGB
                image.load()
                target = _PILLOW_8BIT[image.mode] or ("RGBA" if "transparency" in image.info else "RGB")
                array = np.asarray(image.convert(target) if target != image.mode else image)
                return array[..., None] if array.ndim == 2 else array
    except (UnidentifiedImageError, OSError, ValueError):
        pass  # 16-bit RGB, float or many-sample: tifffile's
    if hasattr(source, "seek"):
        source.seek(0)
    logging.getLogger("tifffile").setLevel(logging.ERROR)  # a damaged file gets our one line, not its own too
    try:
        with tifffile.TiffFile(source) as tiff:
            series = tiff.series[0]
            array, axes = series.asarray(), series.axes
            photometric = tiff.pages[0].photometric
    except Exception as error:  # noqa: BLE001 (tifffile raises many kinds for damaged or exotic files)
        hint = "; pip install imagecodecs reads more compressions" if "imagecodecs" in str(error) else ""
        raise ValueError(f"not a readable TIFF ({str(error).splitlines()[0] if str(error) else type(error).__name__}"
                         f"{hint})") from None
    for axis in [a for a in axes if a not in "YXSC"]:
        if array.shape[axes.index(axis)] != 1:
            raise ValueError(f"a TIFF of several images (axes {axes}, shape {array.shape}); give one image per file")
        array, axes = np.take(array, 0, axis=axes.index(axis)), axes.replace(axis, "")
    sample = next((a for a in "SC" if a in axes), None)
    if sample is not None:
        array, axes = np.moveaxis(array, axes.index(sample), -1), axes.replace(sample, "") + sample
    else:
        array = array[..., None]
    if array.ndim != 3:
        raise ValueError(f"a TIFF of shape {array.shape} (axes {axes}); expected one image, (H, W) or (H, W, C)")
    if array.dtype not in (np.uint8, np.uint16) and not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{array.dtype} TIFF samples; expected 8- or 16-bit integers or floats in [0, 1]")
    if np.issubdtype(array.dtype, np.floating) and array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1):
        raise ValueError(f"float TIFF samples outside [0, 1] ({np.nanmin(array):g} to {np.nanmax(array):g}); "
                         "scale them to [0, 1] or save 8- or 16-bit integers")
    if photometric is not None and photometric.name == "MINISWHITE":
        array = (np.iinfo(array.dtype).max if array.dtype.kind == "u" else 1.0) - array
    return array


def _tiff_levels(contents):
    import io

    array = read_tiff(io.BytesIO(contents.item() if isinstance(contents, np.ndarray) else contents))
    if array.dtype == np.uint16:
        return (array / 257.0).astype(np.float32)
    if np.issubdtype(array.dtype, np.floating):
        return (array * 255.0).astype(np.float32)
    return array.astype(np.float32)


def _decode_tiff(contents):
    image = tf.numpy_function(_tiff_levels, [contents], tf.float32, stateful=False)
    return tf.ensure_shape(image, [None, None, None])


def _match_channels(image, channels):
    """Float levels ``[H, W, c]`` (any ``c``) with ``channels`` channels: alpha on white (for 1 or 3),
    grey to RGB, RGB to luma; any other mismatch fails, naming both counts."""
    have = tf.shape(image)[-1]
    if channels not in (1, 3):
        tf.debugging.assert_equal(have, channels, message=f"the image's channel count is not {channels}")
        return image

    def on_white(x):
        alpha = x[..., -1:] / 255.0
        return x[..., :-1] * alpha + 255.0 * (1.0 - alpha)

    def to(x):
        x = tf.ensure_shape(x, [None, None, None])
        if channels == 3:
            return tf.cond(tf.shape(x)[-1] == 1, lambda: tf.repeat(x, 3, axis=-1), lambda: x)
        return tf.cond(tf.shape(x)[-1] == 3, lambda: tf.image.rgb_to_grayscale(x), lambda: x)

    tf.debugging.assert_less_equal(have, 4, message=f"more than 4 channels for a {channels}-channel image")
    image = tf.cond(tf.logical_or(tf.equal(have, 2), tf.equal(have, 4)), lambda: on_white(image), lambda: image)
    return to(image)


def _on_white(rgba):
    alpha = tf.cast(rgba[..., 3:], tf.float32) / 255.0
    rgb = tf.cast(rgba[..., :3], tf.float32) * alpha + 255.0 * (1.0 - alpha)
    return tf.cast(tf.round(rgb), tf.uint8)


@dataclass(frozen=True)
class FileCheck:
    """Outcome of checking one file: ``reason`` is ``None`` when it decoded."""

    path: str
    height: int = 0
    width: int = 0
    reason: str | None = None


_CHECKED: dict[tuple[str, int, int, int], FileCheck] = {}


def check_image_files(paths: list[str], strict: bool = False, channels: int = 3) -> list[FileCheck]:
    """Decode every file once and return the checks of the readable ones, in input order.

    Each unreadable file (empty, not an image, corrupt or truncated) gets one
    :class:`BadImageWarning` naming it and the reason, then one warning gives the count.
    With ``strict=True`` the first unreadable file (in the given order) raises
    :class:`BadImageError` instead.
    """
    checks = _check_all(paths, channels)
    bad = [c for c in checks if c.reason is not None]
    if bad and strict:
        more = f" ({len(bad) - 1} more bad file(s) after it)" if len(bad) > 1 else ""
        raise BadImageError(
            f"cannot read image file {bad[0].path}: {bad[0].reason}{more}. Remove or fix "
            "it, or pass strict=False to skip unreadable files with a warning.")
    for c in bad:
        warnings.warn(f"skipping unreadable image file {c.path}: {c.reason}",
                      BadImageWarning, stacklevel=4)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) of {len(checks)}",
                      BadImageWarning, stacklevel=4)
    return [c for c in checks if c.reason is None]


def _check_all(paths, channels=3):
    keys, checks, todo = [], {}, []
    for path in paths:
        st = os.stat(path)
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, channels)
        keys.append(key)
        if key in _CHECKED:
            checks[path] = _CHECKED[key]
        elif st.st_size == 0:
            checks[path] = FileCheck(path, reason="empty file (0 bytes)")
        else:
            todo.append(path)
    if todo:
        checks.update(_decode_check(todo, channels))
    for key, path in zip(keys, paths):
        _CHECKED[key] = checks[path]
    return [checks[p] for p in paths]


def _decode_check(paths, channels=3):
    """Decode ``paths`` in parallel; files whose decode fails are re-run eagerly for a reason."""

    def probe(index, path):
        shape = tf.shape(decode_levels(tf.io.read_file(path), channels))
        return index, shape[0], shape[1]

    ds = (tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), paths))
          .map(probe, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
          .ignore_errors()
          .batch(1024))
    sizes, out = {}, {}
    with held_back(LIBJPEG_WARNINGS):  # each damaged file gets our warning instead of libjpeg's line
        for index, height, width in ds.as_numpy_iterator():
            sizes.update(zip(index.tolist(), zip(height.tolist(), width.tolist())))
        for i, path in enumerate(paths):
            if i in sizes:
                out[path] = FileCheck(path, *sizes[i])
            else:
                out[path] = FileCheck(path, reason=_failure_reason(path, channels))
    return out


def _failure_reason(path, channels=3):
    try:
        with open(path, "rb") as f:
            contents = f.read()
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    try:
        decode_levels(tf.constant(contents), channels)
    except tf.errors.OpError as err:
        message = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", err.message).strip()
        if message.startswith("Unknown image file format"):
            return f"not a {SUPPORTED_FORMATS} image"
        if "channel count is not" in message or "more than 4 channels" in message:
            found = re.search(r"elements of x:\s*\[(\d+)\]", message)  # the assertion lists the file's count
            held = f"it has {found.group(1)} channel(s), " if found else ""
            return (f"{held}the data needs {channels} (set the model's --input-channels/--output-channels to "
                    "the files' channels)")
        return f"corrupt or truncated image data ({message.splitlines()[0]})"
    except UnicodeDecodeError:  # a native error message quoting the file's bytes
        return "corrupt or truncated image data"
    except ValueError as err:  # a TIFF that tifffile cannot read
        return f"corrupt or unsupported TIFF ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
    return "could not be decoded in the input pipeline"
