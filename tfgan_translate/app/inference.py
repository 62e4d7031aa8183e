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
from PIL import Image, UnidentifiedImageError

from .. import layers  # registers our layers, so that load_model finds them
from ..data.preprocess import to_uint8

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
PAD_LIMIT = 16


def size_multiple(model):
    """2 ** (number of stride-2 convolutions): what the model's height and width must divide by."""
    strided = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.strides == (2, 2)]
    return 2 ** len(strided)


def _fit(x, multiple):
    """Pad or resize a ``(1, H, W, C)`` image to accepted sizes; returns it and an undo function."""
    height, width = x.shape[1], x.shape[2]
    if height % multiple == 0 and width % multiple == 0:
        return x, lambda y: y
    if multiple <= PAD_LIMIT:
        pad_h, pad_w = -height % multiple, -width % multiple
        top, left = pad_h // 2, pad_w // 2
        padded = tf.pad(x, [[0, 0], [top, pad_h - top], [left, pad_w - left], [0, 0]], mode="REFLECT")
        return padded, lambda y: y[:, top:top + height, left:left + width]
    new_h = max(multiple, int(round(height / multiple)) * multiple)
    new_w = max(multiple, int(round(width / multiple)) * multiple)
    resized = tf.image.resize(x, (new_h, new_w), method="bicubic", antialias=True)
    return resized, lambda y: tf.clip_by_value(tf.image.resize(y, (height, width), method="bicubic", antialias=True), -1, 1)


def _enlarge(x, smallest):
    """An image with a side under ``smallest`` resized up to it (keeping the aspect ratio as far as
    it can), and the function that brings a result back to the original size."""
    height, width = x.shape[1], x.shape[2]
    if min(height, width) >= smallest:
        return x, lambda y: y
    scale = smallest / min(height, width)
    size = (max(smallest, round(height * scale)), max(smallest, round(width * scale)))
    bigger = tf.image.resize(x, size, method="bicubic")
    return bigger, lambda y: tf.clip_by_value(tf.image.resize(y, (height, width), method="area"), -1, 1)


def translate_array(model, image):
    """Translate one ``(H, W, C)`` float image in [-1, 1] at its own size (inference mode).

    A generator with reflection padding (ResNet, pix2pixHD) gets images of at least twice its
    downsampling, where the padding of its bottleneck has something to reflect: a smaller image is
    enlarged for it and the result shrunk back (the U-Net gets at least its multiple)."""
    multiple = size_multiple(model)
    padded = any(isinstance(layer, layers.ReflectionPadding2D) for layer in model.layers)
    smallest = 2 * multiple if padded else 1
    x, shrink = _enlarge(tf.convert_to_tensor(image[None], tf.float32), smallest)
    x, undo = _fit(x, multiple)
    return shrink(undo(model(x, training=False))).numpy()[0]


def read_image(path, channels):
    """A file as float32 ``(H, W, channels)`` in [-1, 1]; alpha is composited on white."""
    with Image.open(path) as img:
        img.load()
        if img.mode in ("RGBA", "LA", "P"):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, img)
        img = img.convert("L" if channels == 1 else "RGB")
    array = np.asarray(img, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    return array / 127.5 - 1.0


def write_image(array, path):
    pixels = to_uint8(array).numpy()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(path)


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


def translate_files(model, inputs, output_dir, overwrite=False, log=print):
    """Translate every input image into ``output_dir/<stem>.png`` at the input's size.

    Refuses (before writing anything) when an output exists, unless ``overwrite``;
    unreadable images are skipped with a message naming them. Returns
    ``(written paths, skipped paths)``.
    """
    output_dir = Path(output_dir)
    targets = output_paths(inputs, output_dir)
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
            image = read_image(src, channels)
        except (UnidentifiedImageError, OSError, ValueError) as error:
            log(f"skipped {src}: not a readable image ({error})")
            skipped.append(src)
            continue
        try:
            translated = translate_array(model, image)
        except (tf.errors.OpError, ValueError) as error:  # e.g. channels the generator does not take
            log(f"skipped {src}: could not be translated ({first_line(error)})")
            skipped.append(src)
            continue
        write_image(translated, dst)
        written.append(dst)
    if skipped:
        log(f"{len(skipped)} image(s) skipped")
    return written, skipped


def output_paths(inputs, output_dir):
    """``[(input, output_dir/<stem>.png)]``; inputs that share a stem (``photo.jpg``, ``photo.png``)
    keep their suffix (``photo.jpg.png``, ``photo.png.png``), so no output overwrites another."""
    stems = collections.Counter(src.stem.casefold() for src in inputs)  # Photo.jpg and photo.png clash on macOS
    targets = [(src, output_dir / (f"{src.name}.png" if stems[src.stem.casefold()] > 1 else f"{src.stem}.png"))
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


def _channels_in(model):
    """Image channels of a translating generator; ``None`` for one fed noise and codes (several inputs)."""
    return model.input_shape[-1] if len(model.inputs) == 1 else None


def _input_shapes(model):
    """``{input name: shape without the batch axis}`` (CGAN/InfoGAN take named noise and code vectors)."""
    return {t.name: list(t.shape[1:]) for t in model.inputs}


def export_generators(generators, output_dir, family, overwrite=False):
    """Write each generator as ``<name>.keras`` and as a SavedModel ``<name>/`` plus ``export.json``.

    The SavedModel's ``serve`` signature takes float32 ``(N, H, W, C)`` images in [-1, 1]
    and runs in inference mode (batch-norm moving statistics, no dropout).
    """
    output_dir = Path(output_dir)
    names = list(generators)
    clashes = [p for n in names for p in (output_dir / f"{n}.keras", output_dir / n) if p.exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"{clashes[0]} already exists; nothing was written. Choose another --output or pass --overwrite.")
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, model in generators.items():
        model.save(output_dir / f"{name}.keras", overwrite=True)
        model.export(str(output_dir / name), format="tf_saved_model", verbose=False)
    info = {
        "family": family,
        "generators": {n: {"size_multiple": size_multiple(m), "channels_in": _channels_in(m),
                           "channels_out": m.output_shape[-1], "inputs": _input_shapes(m)}
                       for n, m in generators.items()},
        "input_range": [-1.0, 1.0],
    }
    (output_dir / "export.json").write_text(json.dumps(info, indent=2) + "\n")
    return [output_dir / f"{n}.keras" for n in names]


def read_export_info(output_dir):
    """The ``export.json`` an export wrote in ``output_dir`` (``{}`` when it has none)."""
    path = Path(output_dir) / "export.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def write_translation_grid(pairs, path, max_tile=256):
    """A labelled ``input | translation`` grid of ``[(input file, output file)]`` at ``path``
    (tiles of 128 to ``max_tile`` px; each file shown at its own aspect ratio)."""
    from ..grids import save_labelled_grid

    def pixels(file):
        with Image.open(file) as image:
            image.load()
            return np.asarray(image.convert("RGB"))

    return save_labelled_grid({"input": [pixels(src) for src, _ in pairs],
                               "translation": [pixels(dst) for _, dst in pairs]},
                              path, max_tile=max_tile, row_titles=[src.name for src, _ in pairs])
