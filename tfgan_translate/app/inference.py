"""Translate image files with a generator, and export generators for inference.

Generators accept heights and widths that are multiples of their total downsampling
(4 for the ResNet generator, ``2**num_downs`` for the U-Net). Any other size is padded
(reflection, when the multiple is at most 16) or resized to the nearest accepted size,
translated, and brought back to the original size, so every output matches its input.
"""

import collections
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import UnidentifiedImageError

from .. import layers  # registers our layers, so that load_model finds them
from .image_files import output_suffix, read_image, write_image  # noqa: F401 (serve reads through here)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
PAD_LIMIT = 16


def size_multiple(model):
    """2 ** (number of stride-2 downsamplings: convolutions, and CUT's anti-aliased blur-pools): what
    the model's height and width must divide by."""
    strided = [layer for layer in model.layers
               if (isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.Conv2DTranspose)
                   and layer.strides == (2, 2)) or isinstance(layer, layers.BlurPool2D)]
    return 2 ** len(strided)


def translate_batch(model, images):
    """Translate float32 ``(N, H, W, C)`` images in [-1, 1] of any height and width, in inference mode.

    Written with TensorFlow ops only, for unknown ``H`` and ``W``: the SavedModel's any-size
    signature (``export``) runs this very function, so a server gets ``translate``'s pixels.
    A side that is not a multiple of the generator's downsampling is reflection-padded to one
    (multiples up to ``PAD_LIMIT``) or resized to the nearest one, and the result is brought
    back to the input's size. A generator with reflection padding (ResNet, pix2pixHD) needs
    images of at least twice its multiple, where the padding of its bottleneck has something
    to reflect: a smaller image is enlarged for it and the result shrunk back (the U-Net only
    needs its multiple)."""
    multiple = size_multiple(model)
    padded = any(isinstance(layer, layers.ReflectionPadding2D) for layer in model.layers)
    x = tf.convert_to_tensor(images, tf.float32)
    x, shrink = _enlarge(x, 2 * multiple if padded else 1)
    x, undo = _fit(x, multiple)
    return shrink(undo(model(x, training=False)))


def _sides(x):
    shape = tf.shape(x)
    return shape[1], shape[2]


def _scaled(side, scale):
    return tf.cast(tf.round(tf.cast(side, tf.float64) * scale), tf.int32)


def _enlarge(x, smallest):
    """An image with a side under ``smallest`` resized up to it (keeping the aspect ratio as far as
    it can), and the function that brings a result back to the original size."""
    if smallest <= 1:
        return x, lambda y: y
    height, width = _sides(x)
    short = tf.minimum(height, width)
    needed = short < smallest
    scale = smallest / tf.cast(short, tf.float64)
    size = tf.stack([tf.maximum(smallest, _scaled(height, scale)), tf.maximum(smallest, _scaled(width, scale))])
    bigger = tf.cond(needed, lambda: tf.image.resize(x, size, method="bicubic"), lambda: x)

    def shrink(y):
        return tf.cond(needed, lambda: tf.clip_by_value(tf.image.resize(y, (height, width), method="area"), -1, 1),
                       lambda: y)

    return bigger, shrink


def _fit(x, multiple):
    """Pad or resize ``(N, H, W, C)`` images to accepted sizes; returns them and an undo function."""
    height, width = _sides(x)
    if multiple <= PAD_LIMIT:
        pad_h, pad_w = tf.math.floormod(-height, multiple), tf.math.floormod(-width, multiple)
        top, left = pad_h // 2, pad_w // 2
        padded = tf.pad(x, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]], mode="REFLECT")
        return padded, lambda y: y[:, top:top + height, left:left + width]
    fits = tf.logical_and(tf.equal(height % multiple, 0), tf.equal(width % multiple, 0))
    new_size = tf.stack([tf.maximum(multiple, _scaled(height, 1 / multiple) * multiple),
                         tf.maximum(multiple, _scaled(width, 1 / multiple) * multiple)])
    resized = tf.cond(fits, lambda: x, lambda: tf.image.resize(x, new_size, method="bicubic", antialias=True))

    def undo(y):
        return tf.cond(fits, lambda: y, lambda: tf.clip_by_value(
            tf.image.resize(y, (height, width), method="bicubic", antialias=True), -1, 1))

    return resized, undo


def translate_array(model, image):
    """Translate one ``(H, W, C)`` float image in [-1, 1] at its own size (see :func:`translate_batch`)."""
    return translate_batch(model, np.asarray(image, np.float32)[None]).numpy()[0]


def load_generator_file(path):
    """A generator saved by ``export`` or ``convert``: a ``.keras`` file, or the SavedModel folder
    ``export`` writes beside it (read through its ``.keras`` twin, which holds the same weights)."""
    path = Path(path)
    if path.is_dir():
        twin = path.with_name(path.name + ".keras")
        if (path / "saved_model.pb").exists() and twin.is_file():
            path = twin
        elif (path / "saved_model.pb").exists():
            raise ValueError(f"--model {path} is a SavedModel without its .keras twin ({twin}); translate with the "
                             ".keras file that export writes beside it, or serve the SavedModel with TensorFlow")
        else:
            raise ValueError(f"--model {path} is a folder, not a model; give a .keras file (export writes <name>.keras)")
    if not path.exists():
        raise ValueError(f"--model {path}: no such file")
    if path.suffix != ".keras":
        raise ValueError(f"--model {path}: expected a .keras file (Keras 3's format, written by export and convert)")
    try:
        return keras.models.load_model(path)
    except Exception as error:  # noqa: BLE001 (zip, JSON, h5 and Keras errors for a damaged or foreign file)
        raise ValueError(f"--model {path} is not a readable Keras model ({first_line(error)}); give a .keras file written by "
                         "export or convert") from None


def list_inputs(path):
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"--input {path} is not an image file ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return [path]
    if not path.is_dir():
        raise ValueError(f"--input {path}: no such file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"--input {path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def translate_files(model, inputs, output_dir, overwrite=False, log=print, bit_depth=8, tile=None, halo=None,
                    read=None):
    """Translate every input image into ``output_dir/<stem>.png`` (``.tif`` for outputs of other
    than 1 or 3 channels) at the input's size, with ``bit_depth`` bits per sample; with ``tile``,
    images larger than a tile go tile by tile (:mod:`.tiles`, the whole image's statistics).
    ``read(path) -> (H, W, C) array`` makes the generator's input of a file (default: the image
    in [-1, 1] at the generator's channels; pix2pixHD's label maps compose theirs).

    Refuses (before writing anything) when an output exists, unless ``overwrite``;
    unreadable images are skipped with a message naming them. Returns
    ``(written paths, skipped paths)``.
    """
    output_dir = Path(output_dir)
    targets = output_paths(inputs, output_dir, output_suffix(model.output_shape[-1]))
    existing = [str(dst) for _, dst in targets if dst.exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{len(existing)} output(s) already exist, e.g. {existing[0]}; nothing was written. "
            "Choose another --output or pass --overwrite."
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    channels = model.input_shape[-1]
    written, skipped = [], []
    for src, dst in targets:
        try:
            image = read_image(src, channels) if read is None else read(src)
        except (UnidentifiedImageError, OSError, ValueError, tf.errors.OpError) as error:
            log(f"skipped {src}: {'not a readable image' if read is None else 'not a usable input'} "
                f"({first_line(error)})")
            skipped.append(src)
            continue
        try:
            if tile:
                from .tiles import translate_tiled

                translated = translate_tiled(model, image, tile=tile, halo=halo)
            else:
                translated = translate_array(model, image)
        except (tf.errors.OpError, ValueError) as error:  # e.g. channels the generator does not take
            log(f"skipped {src}: could not be translated ({first_line(error)})")
            skipped.append(src)
            continue
        write_image(translated, dst, bit_depth)
        written.append(dst)
    if skipped:
        log(f"{len(skipped)} image(s) skipped")
    return written, skipped


def output_paths(inputs, output_dir, suffix=".png"):
    """``[(input, output_dir/<stem><suffix>)]``; inputs that share a stem (``photo.jpg``, ``photo.png``)
    keep their suffix (``photo.jpg.png``, ``photo.png.png``), so no output overwrites another."""
    stems = collections.Counter(src.stem.casefold() for src in inputs)  # Photo.jpg and photo.png clash on macOS
    targets = [(src, output_dir / (f"{src.name}{suffix}" if stems[src.stem.casefold()] > 1 else f"{src.stem}{suffix}"))
               for src in inputs]
    seen = {}
    for src, dst in targets:
        key = str(dst).casefold()
        if key in seen:
            raise ValueError(f"{seen[key]} and {src} would both be written to {dst}; rename one of them")
        seen[key] = src
    return targets


def first_line(error):
    """An exception's first message line (its type name when it has no message)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def export_generators(generators, output_dir, family, overwrite=False, formats=("keras", "savedmodel"), size=256,
                      log=lambda message: None):
    """Write each generator as ``<name>.keras`` and a SavedModel ``<name>/`` (or the given ``formats``,
    see :mod:`.export`), each checked against the Keras model, plus ``export.json``; returns the
    ``.keras`` paths (the files ``translate --model`` takes)."""
    from .export import export_models
    from .export_formats import file_name

    export_models(generators, output_dir, family, formats=formats, size=size, overwrite=overwrite, log=log)
    return [Path(output_dir) / file_name(n, "keras") for n in generators] if "keras" in formats else []


def read_export_info(output_dir):
    """The ``export.json`` an export wrote in ``output_dir`` (``{}`` when it has none)."""
    path = Path(output_dir) / "export.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_translation_grid(pairs, path, max_tile=256):
    """A labelled ``input | translation`` grid of ``[(input file, output file)]`` at ``path``
    (tiles of 128 to ``max_tile`` px; each file shown at its own aspect ratio)."""
    from ..grids import save_labelled_grid
    from .image_files import preview

    return save_labelled_grid({"input": [preview(src) for src, _ in pairs],
                               "translation": [preview(dst) for _, dst in pairs]},
                              path, max_tile=max_tile, row_titles=[src.name for src, _ in pairs])
