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
SUPPORTED_FORMATS = "JPEG, PNG, BMP, GIF or WebP"


class BadImageError(ValueError):
    """An image file cannot be read (raised in ``strict=True`` mode)."""


class BadImageWarning(UserWarning):
    """An image file cannot be read and is skipped (``strict=False`` mode)."""


def decode_image(contents: tf.Tensor, channels: int = 3) -> tf.Tensor:
    """Decode JPEG/PNG/BMP/GIF/WebP bytes to a ``uint8`` ``[H, W, channels]`` tensor.

    Grayscale and palette images become RGB. PNG transparency (RGBA, gray+alpha, palette
    with a transparent colour) is composited on white, because cut-out photos are usually
    meant to sit on white (dropping alpha would show whatever colour the transparent
    pixels happen to store). Other formats' alpha is dropped. GIFs give their first frame.
    JPEGs use the accurate integer IDCT (the same pixels as PIL and libjpeg's default).
    ``channels=1`` converts the RGB result to luma.
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


_CHECKED: dict[tuple[str, int, int], FileCheck] = {}


def check_image_files(paths: list[str], strict: bool = False) -> list[FileCheck]:
    """Decode every file once and return the checks of the readable ones, in input order.

    Each unreadable file (empty, not an image, corrupt or truncated) gets one
    :class:`BadImageWarning` naming it and the reason, then one warning gives the count.
    With ``strict=True`` the first unreadable file (in the given order) raises
    :class:`BadImageError` instead.
    """
    checks = _check_all(paths)
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


def _check_all(paths):
    keys, checks, todo = [], {}, []
    for path in paths:
        st = os.stat(path)
        key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        keys.append(key)
        if key in _CHECKED:
            checks[path] = _CHECKED[key]
        elif st.st_size == 0:
            checks[path] = FileCheck(path, reason="empty file (0 bytes)")
        else:
            todo.append(path)
    if todo:
        checks.update(_decode_check(todo))
    for key, path in zip(keys, paths):
        _CHECKED[key] = checks[path]
    return [checks[p] for p in paths]


def _decode_check(paths):
    """Decode ``paths`` in parallel; files whose decode fails are re-run eagerly for a reason."""

    def probe(index, path):
        shape = tf.shape(decode_image(tf.io.read_file(path)))
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
                out[path] = FileCheck(path, reason=_failure_reason(path))
    return out


def _failure_reason(path):
    try:
        with open(path, "rb") as f:
            contents = f.read()
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    try:
        decode_image(tf.constant(contents))
    except tf.errors.OpError as err:
        message = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", err.message).strip()
        if message.startswith("Unknown image file format"):
            return f"not a {SUPPORTED_FORMATS} image"
        return f"corrupt or truncated image data ({message.splitlines()[0]})"
    return "could not be decoded in the input pipeline"
