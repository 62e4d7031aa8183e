"""Image files in and out of ``translate`` and ``serve`` at their own bit depth and channel count.

8-bit files (JPEG, PNG, BMP, GIF, WebP) read as they always have: through Pillow, alpha
composited on white, converted to the generator's 1 or 3 channels. 16-bit PNGs (grey, RGB,
with alpha) and TIFFs (8 or 16 bits, or float in [0, 1], any number of channels, e.g.
multispectral) keep every level: a 16-bit value ``v`` becomes ``v / 32767.5 - 1``, so values
1/65535 apart stay apart (Pillow's ``convert("L")`` of a 16-bit PNG clips it to almost white).
A file with as many channels as the generator takes is used as it is (a 4-channel generator
reads all four, no alpha compositing); otherwise alpha is composited on white, grey is
repeated to RGB, RGB becomes luma (ITU-R 601, Pillow's weights), and any other mismatch is an
error naming the file and both channel counts.

Outputs are PNGs for 1 and 3 channels (8-bit, or 16-bit with ``bit_depth=16``) and TIFFs for
other channel counts (a PNG's fourth channel means alpha, which a multispectral band is not).
"""

from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TIFF_SUFFIXES = {".tif", ".tiff"}
BIT_DEPTHS = (8, 16)


def output_suffix(channels):
    """``.png`` for grey and RGB outputs, ``.tif`` for any other channel count."""
    return ".png" if channels in (1, 3) else ".tif"


def _png_bit_depth(path):
    with open(path, "rb") as f:
        header = f.read(26)
    if header[:8] != PNG_SIGNATURE or len(header) < 26:
        return None
    return header[24]


def read_pixels(path):
    """``(array (H, W, C), peak)`` of an image file: integers up to ``peak`` (255 or 65535) or floats
    in [0, 1] (``peak`` 1.0), at the file's own depth and channels."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        from ..data.decode import read_tiff

        try:
            array = read_tiff(path)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    elif _png_bit_depth(path) == 16:
        import tensorflow as tf

        array = tf.io.decode_png(path.read_bytes(), channels=0, dtype=tf.uint16).numpy()
    else:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(image, dtype=np.uint16 if image.mode != "I" else np.int32)
            elif image.mode in ("L", "RGB", "LA", "RGBA"):
                array = np.asarray(image)
            elif image.mode == "P" or "transparency" in image.info:
                array = np.asarray(image.convert("RGBA"))
            else:  # 1, CMYK, YCbCr, F, ...
                array = np.asarray(image.convert("RGB"))
        if array.ndim == 2:
            array = array[..., None]
    return array, _peak(array, path)


def _peak(array, path):
    if array.dtype == np.uint8:
        return 255
    if array.dtype == np.uint16:
        return 65535
    if array.dtype == np.int32 and array.min() >= 0 and array.max() <= 65535:  # Pillow's 16-bit grey
        return 65535
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 1):
            raise ValueError(f"{path} holds floats outside [0, 1] ({np.nanmin(array):g} to {np.nanmax(array):g}); "
                             "scale it to [0, 1] or save it as 8- or 16-bit integers")
        return 1.0
    raise ValueError(f"{path} has {array.dtype} samples; expected 8- or 16-bit integers or floats in [0, 1]")


def _luma(rgb):
    # ITU-R 601-2 with Pillow's integer weights (so 8-bit RGB gives Pillow's "L" values)
    return (rgb[..., 0:1] * 19595 + rgb[..., 1:2] * 38470 + rgb[..., 2:3] * 7471 + 0x8000) / 65536


def match_channels(array, channels, peak, path):
    """``array`` (float, same scale) with ``channels`` channels (see the module docstring)."""
    have = array.shape[-1]
    array = array.astype(np.float64)
    if have == channels:
        return array
    if have in (2, 4) and channels in (1, 3):  # grey or RGB with alpha: on white
        alpha = array[..., -1:] / peak
        array = array[..., :-1] * alpha + peak * (1 - alpha)
        if peak != 1.0:
            array = np.round(array)
        have -= 1
    if have == 1 and channels == 3:
        return np.repeat(array, 3, axis=-1)
    if have == 3 and channels == 1:
        luma = _luma(array)
        return np.floor(luma) if peak != 1.0 else luma
    if have == channels:
        return array
    raise ValueError(f"{path} has {array.shape[-1]} channel(s); the generator takes {channels}. Give images with "
                     f"{channels} channel(s) (or 1/3 for a 1- or 3-channel generator)")


def read_image(path, channels):
    """A file as float32 ``(H, W, channels)`` in [-1, 1], at its own bit depth."""
    array, peak = read_pixels(path)
    return (match_channels(array, channels, peak, path) / (peak / 2) - 1.0).astype(np.float32)


def quantize(array, bit_depth=8):
    """Float ``(H, W, C)`` in [-1, 1] -> ``uint8`` or ``uint16`` pixels (round to nearest; 8 bits
    exactly as ``data.to_uint8``, which training's sample grids and ``serve`` use too)."""
    if bit_depth not in BIT_DEPTHS:
        raise ValueError(f"--output-bit-depth must be 8 or 16, got {bit_depth}")
    if bit_depth == 8:
        from ..data.preprocess import to_uint8

        return to_uint8(np.asarray(array, np.float32)).numpy()
    levels = np.round((np.clip(np.asarray(array, np.float64), -1, 1) + 1) / 2 * 65535)
    return levels.astype(np.uint16)


def write_image(array, path, bit_depth=8):
    """Write float ``(H, W, C)`` in [-1, 1] at ``path``: a PNG (1 or 3 channels, 8 or 16 bits) or a
    TIFF (any channels; the path's suffix decides)."""
    pixels = quantize(array, bit_depth)
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        import tifffile

        tifffile.imwrite(path, pixels[..., 0] if pixels.shape[-1] == 1 else pixels,  # one page of C samples
                         photometric="minisblack" if pixels.shape[-1] != 3 else "rgb",
                         planarconfig="contig" if pixels.shape[-1] > 1 else None)
    elif bit_depth == 16:
        import tensorflow as tf

        path.write_bytes(tf.io.encode_png(pixels).numpy())
    else:
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)


def preview(path):
    """A file's pixels as uint8 RGB for a page or a grid (16 bits scaled, more than three channels
    show the first three, one channel grey)."""
    from ..grids import as_uint8

    array, peak = read_pixels(path)
    if peak == 1.0:
        array = array * 2.0 - 1.0
    elif array.dtype not in (np.uint8, np.uint16):
        array = array.astype(np.uint16)
    return as_uint8(array)
