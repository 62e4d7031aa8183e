"""Reading captioned datasets from disk, each check up front with one message naming the file.

The on-disk half of :mod:`.captions` (which documents the layouts): StackGAN's reference layout
(pickled keys and embeddings, CUB's boxes, optional texts) and the text layout (images and
``.txt`` files of captions). Images are checked by decoding them once with the pipeline's own
decoder (:func:`~.decode.check_image_files`).
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np

from tfgan_translate.data.decode import check_image_files

SPLITS = ("train", "test")
FILENAMES, EMBEDDINGS = "filenames.pickle", "char-CNN-RNN-embeddings.pickle"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class CaptionDataError(ValueError):
    """Captioned data that cannot be read or do not fit together (the message names the file and
    says what to do)."""


def checked_sizes(paths, strict):
    """``{path: (height, width)}`` of the ``paths`` that decode (:func:`check_image_files`: a warning for
    each one that does not, or with ``strict`` ``BadImageError``)."""
    sizes = {c.path: (c.height, c.width) for c in check_image_files(list(paths), strict=strict)}
    if not sizes:
        raise CaptionDataError(f"none of the {len(paths)} images can be read (see the warnings), e.g. {paths[0]}")
    return sizes


# ----------------------------------------------------------------------------- the reference layout

# What the reference pickles need (lists, strings, NumPy arrays, as written by Python 2 or 3), and
# nothing else: an arbitrary pickle can run any code while it loads.
_NUMPY = ("numpy.core.multiarray", "numpy._core.multiarray")
_BUILTINS = ("object", "list", "tuple", "dict", "set", "frozenset", "bytearray", "int", "float", "str")
_PICKLE_GLOBALS = {(m, n) for m in _NUMPY for n in ("_reconstruct", "scalar")}
_PICKLE_GLOBALS |= {(m, n) for m in ("__builtin__", "builtins") for n in _BUILTINS}
_PICKLE_GLOBALS |= {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.numeric", "_frombuffer"),
                    ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode"), ("copy_reg", "_reconstructor"),
                    ("copyreg", "_reconstructor")}


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}; a dataset pickle is only read when it holds "
                                         "lists, strings and NumPy arrays")
        if module.startswith("numpy.core.") and hasattr(np, "_core"):  # NumPy 2 renamed numpy.core
            module = "numpy._core." + module[len("numpy.core."):]
        return super().find_class(module, name)


def _unpickle(path):
    if not path.is_file():
        raise CaptionDataError(f"{path} is missing: StackGAN's layout keeps {FILENAMES} (the image keys) and "
                               f"{EMBEDDINGS} (their captions' embeddings) together in {path.parent}/")
    try:
        with open(path, "rb") as f:
            return _DataUnpickler(f, encoding="latin1").load()  # Python 2's str: latin1 keeps every byte
    except Exception as error:  # noqa: BLE001 (a damaged pickle raises many kinds)
        raise CaptionDataError(f"cannot unpickle {path} ({type(error).__name__}: {error}): it is damaged or not a "
                               "pickle; download or write it again") from None


def _keys(keys, path):
    keys = keys.tolist() if isinstance(keys, np.ndarray) else keys
    if isinstance(keys, (list, tuple)):  # keys pickled as bytes (Python 3 scripts) read as Python 2's str
        keys = [k.decode("latin1") if isinstance(k, bytes) else k for k in keys]
    if not isinstance(keys, (list, tuple)) or not keys or not all(isinstance(k, str) for k in keys):
        held = f"a {type(keys).__name__}" if not isinstance(keys, (list, tuple)) else f"{len(keys)} entries"
        raise CaptionDataError(f"{path} holds {held}; expected a non-empty list of image keys (str) such as "
                               "'002.Laysan_Albatross/Laysan_Albatross_0002_1027'")
    return list(keys)


def _as_embeddings(value, path):
    if isinstance(value, (list, tuple)) and value:
        arrays = [np.asarray(entry) for entry in value]
        bad = next((i for i, a in enumerate(arrays) if a.ndim != 2 or a.shape != arrays[0].shape), None)
        if bad is not None:
            raise CaptionDataError(f"{path} holds a list whose entry {bad} has shape {arrays[bad].shape} (entry 0: "
                                   f"{arrays[0].shape}); expected N equal K x D arrays (K captions of D numbers)")
        value = np.stack(arrays)
    if not (isinstance(value, np.ndarray) and value.ndim == 3 and value.dtype.kind in "iuf" and value.size):
        held = (f"an array of shape {value.shape} and dtype {value.dtype}" if isinstance(value, np.ndarray)
                else f"a {type(value).__name__}")
        raise CaptionDataError(f"{path} holds {held}; expected N x K x D numbers (N images, K captions each, "
                               "e.g. N x 10 x 1024) or a list of N equal K x D arrays")
    value = value.astype(np.float32)
    if not np.isfinite(value).all():
        first = int(np.argmin(np.isfinite(value).all(axis=(1, 2))))
        raise CaptionDataError(f"{path} holds NaN or infinite numbers (the first in entry {first}): write it again")
    return value


def read_reference(root, split, strict=False):
    """``(image paths, float32 (N, K, D) embeddings, captions or None, crop windows or None)`` of split
    ``split`` of StackGAN's layout under ``root`` (unreadable images dropped with a warning)."""
    names_path, embeddings_path = root / split / FILENAMES, root / split / EMBEDDINGS
    keys = _keys(_unpickle(names_path), names_path)
    embeddings = _as_embeddings(_unpickle(embeddings_path), embeddings_path)
    if len(embeddings) != len(keys):
        raise CaptionDataError(f"{embeddings_path} holds {len(embeddings)} entries but {names_path} lists "
                               f"{len(keys)} images: they must be written together (entry i holds the captions of "
                               "image i); write the one that is out of date again")
    name = lambda key: key if key.lower().endswith(IMAGE_EXTENSIONS) else f"{key}.jpg"  # noqa: E731
    folders = [root / "CUB_200_2011" / "images", root / "images", root]
    folder = next((f for f in folders if (f / name(keys[0])).is_file()),
                  next((f for f in folders[:2] if f.is_dir()), folders[1]))
    paths = [str(folder / name(key)) for key in keys]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise CaptionDataError(f"{len(missing)} of the {len(keys)} images {names_path} lists are missing, the first "
                               f"{missing[0]}: put them at ROOT/images/<key>.jpg, or the birds' at ROOT/CUB_200_2011/"
                               "images/<key>.jpg (with CUB_200_2011/bounding_boxes.txt and images.txt)")
    sizes = checked_sizes(paths, strict)
    keep = [i for i, path in enumerate(paths) if path in sizes]
    keys, paths = [keys[i] for i in keep], [paths[i] for i in keep]
    boxes = _crop_windows(root / "CUB_200_2011", [sizes[p] for p in paths], keys) if folder == folders[0] else None
    return paths, embeddings[keep], _texts_of(root / "text", keys, embeddings.shape[1]), boxes


def _crop_windows(cub, sizes, keys):
    """``int32 (N, 4)`` ``(top, left, height, width)``: the reference's crop of each bird, a square of 1.5x
    the larger side of its box around the box's centre, cut at the image's edges (``None``: no boxes)."""
    listing, rects = cub / "images.txt", cub / "bounding_boxes.txt"
    if not listing.is_file() and not rects.is_file():
        return None
    for path in (listing, rects):
        if not path.is_file():
            raise CaptionDataError(f"{path} is missing: the birds' crop needs CUB_200_2011's images.txt and "
                                   "bounding_boxes.txt together")
    ids = {Path(row[0]).with_suffix("").as_posix(): image_id for image_id, row in _table(listing, 2).items()}
    boxes, windows = _table(rects, 5), []
    for key, (height, width) in zip(keys, sizes):
        if key not in ids or ids[key] not in boxes:
            raise CaptionDataError(f"image {key} has no box: it is not listed in {listing} with a line in {rects}")
        try:
            x, y, w, h = (int(float(v)) for v in boxes[ids[key]])  # the reference reads them as int
        except ValueError:
            raise CaptionDataError(f"{rects}: the box of image {ids[key]} ({key}) is not 4 numbers") from None
        half, cx, cy = int(max(w, h) * 0.75), int((2 * x + w) / 2), int((2 * y + h) / 2)
        top, left = max(0, cy - half), max(0, cx - half)
        bottom, right = min(height, cy + half), min(width, cx + half)
        if w <= 0 or h <= 0 or bottom <= top or right <= left:
            raise CaptionDataError(f"{rects}: the box {x} {y} {w} {h} of image {ids[key]} ({key}) is empty or "
                                   f"outside its {width}x{height} image")
        windows.append((top, left, bottom - top, right - left))
    return np.asarray(windows, np.int32)


def _table(path, columns):
    """``{id: [the other columns]}`` of a CUB text table (``<id> <value> ...`` per line)."""
    rows = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split()
        if parts and len(parts) != columns:
            raise CaptionDataError(f"{path} line {number} has {len(parts)} columns, expected {columns}: {line!r}")
        if parts:
            rows[parts[0]] = parts[1:]
    return rows


def _texts_of(folder, keys, per_image):
    """The reference layout's optional caption texts ``ROOT/text/<key>.txt`` (``None`` when absent or
    incomplete, with a warning: they are for display, the embeddings are used as they are)."""
    if not folder.is_dir():
        return None
    captions = []
    for key in keys:
        path = folder / f"{key}.txt"
        lines = _caption_lines(path) if path.is_file() else []
        if len(lines) < per_image:
            state = f"holds {len(lines)} captions, not {per_image}" if path.is_file() else "is missing"
            warnings.warn(f"{path} {state}: the captions' texts are left out", stacklevel=4)
            return None
        captions.append(tuple(text for _, text in lines[:per_image]))
    return tuple(captions)


# ----------------------------------------------------------------------------- the text layout


def read_text_layout(root, split):
    """Keys (sorted), image paths and, per image, its captions ``[(name, text)]`` (``name``: file and
    line); every image matched to its captions file and back, no file empty."""
    images_dir, text_dir = root / split / "images", root / split / "text"
    for folder in (images_dir, text_dir):
        if not folder.is_dir():
            raise CaptionDataError(f"{folder}/ does not exist: the text layout keeps a split's images in "
                                   f"{images_dir}/ and their captions in {text_dir}/<image name>.txt, one per line")
    images, texts = _by_key(images_dir, IMAGE_EXTENSIONS), _by_key(text_dir, (".txt",))
    if not images:
        raise CaptionDataError(f"{images_dir}/ holds no image ({', '.join(IMAGE_EXTENSIONS)})")
    for have, other, what in ((images, texts, "image"), (texts, images, "captions file")):
        missing = [key for key in sorted(have) if key not in other]
        if missing:
            more = f" ({len(missing) - 1} more {what}s lack theirs)" if len(missing) > 1 else ""
            if what == "image":
                counterpart = (f"captions file {text_dir / missing[0]}.txt{more}: write its captions there, one per "
                               "line, or remove the image")
            else:
                counterpart = f"image {images_dir / missing[0]}.*{more}: add the image or remove the captions file"
            raise CaptionDataError(f"{what} {have[missing[0]]} has no {counterpart}")
    keys = sorted(images)
    captions = []
    for key in keys:
        lines = _caption_lines(texts[key])
        if not lines:
            raise CaptionDataError(f"{texts[key]} holds no caption: write one caption per line (blank lines are "
                                   "skipped)")
        captions.append([(f"{texts[key]} line {number}", text) for number, text in lines])
    return keys, [str(images[key]) for key in keys], captions


def _by_key(folder, extensions):
    """``{relative path without extension: path}`` of the files of ``folder`` (and subfolders) with
    ``extensions``, hidden ones skipped; two files of one key are refused."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in relative.parts)
        if hidden or not path.is_file() or path.suffix.lower() not in extensions:
            continue
        key = relative.with_suffix("").as_posix()
        if key in found:
            raise CaptionDataError(f"{found[key]} and {path} share the name {key!r}, so neither can be matched to "
                                   "its captions: keep one")
        found[key] = path
    return found


def _caption_lines(path):
    """``[(line number, caption)]`` of a captions file: stripped, blank lines skipped, and a pair of
    U+FFFD (the reference's mis-decoded bytes) read as a space, as the reference does."""
    text = path.read_text(encoding="utf-8", errors="replace").replace("\ufffd\ufffd", " ")
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
