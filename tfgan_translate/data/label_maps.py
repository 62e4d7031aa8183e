"""pix2pixHD's data: semantic label maps (class ids), instance maps (instance ids) and photos.

Two layouts on disk, matched by file stem:

- the reference layout: ``ROOT/train_label/``, ``ROOT/train_inst/`` (optional),
  ``ROOT/train_img/``; ``test_label/``, ``test_inst/``, ``test_img/`` hold the held-out split;
- Cityscapes' own: ``ROOT/gtFine/<split>/<city>/<stem>_gtFine_labelIds.png`` and
  ``..._gtFine_instanceIds.png``, ``ROOT/leftImg8bit/<split>/<city>/<stem>_leftImg8bit.png``;
  splits ``train``, ``val`` (the held-out one) and ``test``.

Maps hold ids, not colours: they are decoded exactly (8- or 16-bit gray PNGs, or the indices of
palette PNGs; Cityscapes instance ids such as 26001 = class 26, object 1 need all 16 bits), then
resized by nearest neighbour only and cropped and mirrored with their photo, never interpolated
or normalised. Everything that would fail later (a missing counterpart, different sizes, a class
id outside ``[0, label_nc)``, an RGB image where ids are expected) is found up front and raised
as a :class:`LabelMapError` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgan_translate.data.decode import BadImageError, BadImageWarning, check_image_files, decoder_for
from tfgan_translate.data.options import make_options
from tfgan_translate.data.pipeline import channels_of, finish, image_stream

SPLITS = {"reference": ("train", "test"), "cityscapes": ("train", "val", "test")}
HELD_OUT_SPLIT = {"reference": "test", "cityscapes": "val"}
CITYSCAPES_LABEL_NC = 35  # pix2pixHD's --label_nc for Cityscapes' label ids 0-33 (and spare)
LAYOUTS = ("the reference layout: ROOT/train_label, ROOT/train_img and optionally ROOT/train_inst "
           "(test_* for the held-out split), files matched by stem; or Cityscapes' layout: "
           "ROOT/gtFine/<split>/<city>/*_gtFine_labelIds.png and ROOT/leftImg8bit/<split>/<city>/"
           "*_leftImg8bit.png")
_CITYSCAPES = {"label": "_gtFine_labelIds.png", "instance": "_gtFine_instanceIds.png",
               "photo": "_leftImg8bit.png"}
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_ID_MODES = ("1", "L", "P", "I")  # Pillow modes whose values are the ids (and "I;16*")
_WHAT = {"label": "label maps hold one class id per pixel (a gray or palette PNG)",
         "instance": "instance maps hold one instance id per pixel (a gray PNG, 16-bit for ids above 255)"}


class LabelMapError(ValueError):
    """Label maps, instance maps and photos that do not fit together (the message says how)."""


@dataclasses.dataclass(frozen=True)
class LabelledFiles:
    """One example's files: its label map, instance map (or ``None``) and photo (or ``None``)."""

    label: str
    instance: str | None
    photo: str | None


def labelled_layout(root) -> str | None:
    """``"reference"`` or ``"cityscapes"``: the labelled layout of folder ``root``, or ``None``."""
    root = Path(root)
    if any((root / f"{split}_label").is_dir() for split in SPLITS["reference"]):
        return "reference"
    if (root / "gtFine").is_dir():
        return "cityscapes"
    return None


def held_out_split(root) -> str:
    """The held-out split of ``root``'s layout: ``"test"`` (reference) or ``"val"`` (Cityscapes)."""
    return HELD_OUT_SPLIT[_layout(root)]


def labelled_files(root, split="train", use_instance=None, require_photos=True) -> list[LabelledFiles]:
    """The examples of one split, sorted by stem, each label map matched to its instance map and photo.

    Args:
        root: the dataset folder, in either layout (see the module docstring).
        split: ``"train"`` or ``"test"`` (reference); ``"train"``, ``"val"`` or ``"test"`` (Cityscapes).
        use_instance: ``True`` requires an instance map for every label map, ``False`` ignores them,
            ``None`` requires them when the split has any (an instance folder or file).
        require_photos: every label map needs its photo, and every photo its label map (training);
            ``False`` takes label maps alone (inference) and gives ``photo=None``.

    Raises :class:`LabelMapError` naming the first unmatched file and what to do.
    """
    layout = _layout(root)
    if split not in SPLITS[layout]:
        raise LabelMapError(f"split {split!r} is not one of the {layout} layout's splits {SPLITS[layout]}")
    find = _reference_files if layout == "reference" else _cityscapes_files
    labels, instances, photos, expected = find(Path(root), split)
    if not labels:
        raise LabelMapError(f"no label map in {expected('label')}; expected {LAYOUTS}")
    if use_instance is None:
        use_instance = instances is not None
    elif use_instance and instances is None:
        raise LabelMapError(f"instance maps are asked for, but there are none ({expected('instance')}): "
                            "add them or pass use_instance=False")
    if require_photos:
        _check_matched(labels, photos or {}, "label map", "photo", expected,
                       "training needs the photo of every label map; add it or remove the label map")
        _check_matched(photos or {}, labels, "photo", "label map", expected,
                       "add its label map or remove the photo")
    if use_instance:
        _check_matched(labels, instances, "label map", "instance map", expected,
                       "add it, or pass use_instance=False to go without instance maps")
    return [LabelledFiles(labels[stem], instances[stem] if use_instance else None,
                          photos[stem] if require_photos else None) for stem in sorted(labels)]


def _layout(root):
    layout = labelled_layout(root)
    if layout is None:
        found = sorted(p.name for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else None
        state = "does not exist" if found is None else f"has the subfolders {found[:8] or 'none'}"
        raise LabelMapError(f"{root} is not a labelled dataset (it {state}); expected {LAYOUTS}")
    return layout


def _reference_files(root, split):
    """``{stem: path}`` of the label maps, instance maps and photos (``None``: no such folder), and
    ``expected(kind, stem=None, beside=None)`` saying where a file of ``kind`` belongs."""
    folders = {"label": root / f"{split}_label", "instance": root / f"{split}_inst", "photo": root / f"{split}_img"}
    by_stem = {kind: _by_stem(folder) if folder.is_dir() else None for kind, folder in folders.items()}

    def expected(kind, stem=None, beside=None):
        return str(folders[kind] / f"{stem}.*") if stem else f"{folders[kind]}/"

    return by_stem["label"] or {}, by_stem["instance"], by_stem["photo"], expected


def _by_stem(folder):
    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.stem in found:
            raise LabelMapError(f"{found[path.stem]} and {path} share the stem {path.stem!r} in {folder}, "
                                "so neither can be matched to its other files: keep one")
        found[path.stem] = str(path)
    return found


def _cityscapes_files(root, split):
    """As :func:`_reference_files`, from ``gtFine/<split>/<city>/`` and ``leftImg8bit/<split>/<city>/``."""
    folders = {"label": root / "gtFine" / split, "instance": root / "gtFine" / split,
               "photo": root / "leftImg8bit" / split}
    by_stem = {kind: {path.name[:-len(_CITYSCAPES[kind])]: str(path)
                      for path in sorted(folders[kind].glob(f"*/*{_CITYSCAPES[kind]}"))
                      if not path.name.startswith(".")} for kind in folders}

    def expected(kind, stem=None, beside=None):
        city = Path(beside).parent.name if beside else "<city>"
        return str(folders[kind] / city / f"{stem or '*'}{_CITYSCAPES[kind]}")

    return by_stem["label"], by_stem["instance"] or None, by_stem["photo"] or None, expected


def _check_matched(have, counterparts, what, other, expected, advice):
    missing = [stem for stem in sorted(have) if stem not in counterparts]
    if missing:
        stem, kind = missing[0], {"photo": "photo", "label map": "label", "instance map": "instance"}[other]
        more = f" ({len(missing) - 1} more {what}s lack one too)" if len(missing) > 1 else ""
        raise LabelMapError(f"{what} {have[stem]} has no {other} (looked for "
                            f"{expected(kind, stem, have[stem])}){more}: {advice}")


# ----------------------------------------------------------------------------- reading ids


def read_label_map(path) -> np.ndarray:
    """A label map's class ids as ``int32 [H, W]`` (palette PNGs give their indices)."""
    return _read_ids(path, "label")


def read_instance_map(path) -> np.ndarray:
    """An instance map's ids as ``int32 [H, W]``, all 16 bits of a 16-bit PNG kept."""
    return _read_ids(path, "instance")


def _read_ids(source, kind="label", name=None):
    """Ids of a one-channel image (``source``: a path or a binary file), ``int32 [H, W]``.

    Palette images give their indices (the palette only colours the ids for display); an RGB(A)
    image is accepted only if it is gray (R = G = B), as some tools save one-channel maps.
    """
    from PIL import Image

    name = name or str(source)
    with Image.open(source) as image:
        mode = image.mode
        array = np.asarray(image)
    if mode in ("LA", "PA"):
        array = array[..., 0]
    elif mode in ("RGB", "RGBA"):
        rgb = array[..., :3]
        if not (rgb == rgb[..., :1]).all():
            raise LabelMapError(f"{name} is an RGB image; {_WHAT[kind]}")
        array = rgb[..., 0]
    elif mode not in _ID_MODES and not mode.startswith("I;16"):
        raise LabelMapError(f"{name} has pixels of mode {mode!r}; {_WHAT[kind]}")
    return array.astype(np.int32)


def decode_ids(contents: tf.Tensor) -> tf.Tensor:
    """Decode a map of ids (encoded bytes) to ``int32 [H, W, 1]``: the values :func:`_read_ids` gives.

    8- and 16-bit gray PNGs (Cityscapes' maps) are decoded in TensorFlow at their own depth (TF
    would scale 8 bits to 16 or 16 to 8 otherwise); palette PNGs (whose indices TF would replace by
    their colours) and other formats go through Pillow.
    """
    head = tf.strings.join([tf.strings.substr(contents, 0, 26), b"\x00" * 26])  # padded: short files index too
    header = tf.io.decode_raw(tf.strings.substr(head, 0, 26), tf.uint8)  # PNG: [24] bit depth, [25] colour type
    gray_png = tf.logical_and(tf.equal(tf.strings.substr(contents, 0, 8), _PNG_MAGIC), tf.equal(header[25], 0))
    ids = tf.case([
        (tf.logical_and(gray_png, tf.equal(header[24], 16)),
         lambda: tf.cast(tf.io.decode_png(contents, channels=1, dtype=tf.uint16), tf.int32)),
        (tf.logical_and(gray_png, tf.equal(header[24], 8)),
         lambda: tf.cast(tf.io.decode_png(contents, channels=1), tf.int32)),
    ], default=lambda: tf.numpy_function(_ids_from_bytes, [contents], tf.int32, stateful=False))
    return tf.ensure_shape(ids, [None, None, 1])


def _ids_from_bytes(contents):
    import io

    contents = contents.item() if isinstance(contents, np.ndarray) else contents  # a 0-d array when eager
    return _read_ids(io.BytesIO(contents), name="a map of ids")[..., None]


def one_hot_labels(labels, label_nc: int) -> tf.Tensor:
    """Class ids ``[B, H, W, 1]`` or ``[B, H, W]`` -> float32 one-hot ``[B, H, W, label_nc]``.

    pix2pixHD's generator input. Ids outside ``[0, label_nc)`` give all-zero vectors (the data
    pipeline refuses such files up front).
    """
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 4:
        if labels.shape[-1] != 1:
            raise ValueError(f"labels of shape {labels.shape}: expected [B, H, W, 1] or [B, H, W] class ids")
        labels = labels[..., 0]
    elif labels.shape.rank != 3:
        raise ValueError(f"labels of shape {labels.shape}: expected [B, H, W, 1] or [B, H, W] class ids")
    return tf.one_hot(tf.cast(labels, tf.int32), label_nc, dtype=tf.float32)


# ----------------------------------------------------------------------------- checks and dataset


def labelled_dataset(root, split="train", label_nc=None, use_instance=True, **options) -> tf.data.Dataset:
    """``{"label", "instance", "b"}`` batches for pix2pixHD from a labelled dataset folder.

    ``"label"`` and ``"instance"`` are int32 ``[B, S, S, 1]`` ids (instance only with
    ``use_instance``), ``"b"`` the photos, float32 in [-1, 1]. The three share each crop and
    mirror; maps are resized by nearest neighbour only. All files are checked up front (see
    :func:`check_labelled_files`).

    Args:
        root, split, use_instance: see :func:`labelled_files` (``use_instance=None``: when present).
        label_nc: number of classes; ids must lie in ``[0, label_nc)``. ``None`` reads it from
            ``ROOT/classes.json`` (written by the demo) or takes 35 for Cityscapes.
        **options: see :class:`Options`; ``training`` defaults to ``split == "train"``.

    Example:
        >>> ds = labelled_dataset("datasets/cityscapes", label_nc=35, preprocess="scale_width",
        ...                       load_size=1024)
        >>> batch = next(iter(ds))
        >>> inputs = one_hot_labels(batch["label"], 35)
    """
    o = make_options(options, training=split == "train")
    label_nc = _label_nc(root, label_nc)
    files = labelled_files(root, split, use_instance=use_instance)
    files = check_labelled_files(files, label_nc, strict=o.strict, channels=channels_of("b", o))
    columns = {"label": [f.label for f in files], "b": [f.photo for f in files]}
    if files[0].instance is not None:
        columns["instance"] = [f.instance for f in files]
    channels = channels_of("b", o)
    decode_photo = decoder_for(columns["b"], channels)
    map_keys = tuple(key for key in ("label", "instance") if key in columns)

    def load(item):
        example = {key: decode_ids(tf.io.read_file(item[key])) for key in map_keys}
        example["b"] = decode_photo(tf.io.read_file(item["b"]), channels)
        return example

    items = tf.data.Dataset.from_tensor_slices(columns)
    ds = image_stream(items, len(files), load, o, keys=("b",), source=split, map_keys=map_keys)
    return finish(ds, len(files), o)


def _label_nc(root, label_nc):
    if label_nc is None:
        classes = Path(root) / "classes.json"
        if classes.is_file():
            return int(json.loads(classes.read_text())["label_nc"])
        if labelled_layout(root) == "cityscapes":
            return CITYSCAPES_LABEL_NC
        raise LabelMapError(f"give label_nc, the number of classes of {root} (its label maps' ids lie in "
                            "[0, label_nc)); it has no classes.json to read it from")
    if isinstance(label_nc, bool) or not isinstance(label_nc, (int, np.integer)) or label_nc < 1:
        raise LabelMapError(f"label_nc must be a positive integer, got {label_nc!r}")
    return int(label_nc)


def check_labelled_files(files, label_nc, strict=False, channels=3) -> list[LabelledFiles]:
    """The examples of ``files`` whose maps and photo read, after checking every one up front.

    Each label map is decoded once (results kept per path, size and mtime) for its size and
    largest id; instance maps are sized from their headers; photos are decoded by the pipeline's
    own decoder. Unreadable files are skipped with a :class:`BadImageWarning` (or, with
    ``strict``, raise :class:`BadImageError`); an RGB map, sizes that differ or an id outside
    ``[0, label_nc)`` raise :class:`LabelMapError` naming the file.
    """
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # Pillow decodes outside the GIL
        labels = list(pool.map(lambda f: _inspect(f.label, "label"), files))
        instances = list(pool.map(lambda f: f.instance and _inspect(f.instance, "instance"), files))
    photos = {}
    if files[0].photo is not None:
        photos = {c.path: (c.height, c.width) for c in
                  check_image_files([f.photo for f in files], strict=strict, channels=channels)}
    kept, bad = [], []
    for f, label, instance in zip(files, labels, instances):
        unreadable = [(path, s) for path, s in ((f.label, label), (f.instance, instance)) if isinstance(s, str)]
        bad += unreadable
        if unreadable or (f.photo is not None and f.photo not in photos):
            continue
        size, largest = label[:2], label[3]
        for path, other in ((f.instance, instance and instance[:2]), (f.photo, photos.get(f.photo))):
            if path is not None and other != size:
                raise LabelMapError(f"label map {f.label} is {size[1]}x{size[0]} px but {path} is "
                                    f"{other[1]}x{other[0]} px (width x height): an example's label map, "
                                    "instance map and photo must have one size")
        kept.append((f, label[2], largest))
    _report_unreadable(bad, strict)
    if not kept:
        raise LabelMapError("no example has a readable label map, instance map and photo (see the warnings)")
    top = max(largest for *_, largest in kept)
    for f, smallest, largest in kept:
        check_id_range(f.label, smallest, largest, label_nc,
                       f"set --label-nc (label_nc) above the largest id of the dataset ({top}), or fix the file")
    return [f for f, *_ in kept]


def check_id_range(path, smallest, largest, label_nc, advice):
    """:class:`LabelMapError` naming ``path`` and the id when its ids leave ``[0, label_nc)``."""
    if smallest < 0:
        raise LabelMapError(f"{path} holds class id {smallest}, outside [0, {label_nc}): ids are not negative")
    if largest >= label_nc:
        raise LabelMapError(f"{path} holds class id {largest}, outside [0, {label_nc}): {advice}")


_INSPECTED: dict[tuple, tuple] = {}


def _inspect(path, kind):
    """``(height, width, smallest id, largest id)`` of a label map, ``(height, width, None, None)`` of
    an instance map (sized from its header unless it is RGB), or why it does not read (a string)."""
    from PIL import Image, UnidentifiedImageError

    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns, kind)
    if key not in _INSPECTED:
        try:
            if kind == "instance":
                with Image.open(path) as image:
                    (width, height), mode = image.size, image.mode
                if mode not in _ID_MODES and not mode.startswith("I;16"):
                    _read_ids(path, kind)  # gray RGB passes; colours or other modes raise
                result = (height, width, None, None)
            else:
                ids = _read_ids(path, kind)
                result = (*ids.shape, int(ids.min(initial=0)), int(ids.max(initial=0)))
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            result = f"not a readable image ({str(error).splitlines()[0] if str(error) else type(error).__name__})"
        _INSPECTED[key] = result
    return _INSPECTED[key]


def _report_unreadable(bad, strict):
    if bad and strict:
        raise BadImageError(f"cannot read map {bad[0][0]}: {bad[0][1]}. Remove or fix it, or pass strict=False "
                            "to skip its example with a warning.")
    for path, reason in bad:
        warnings.warn(f"skipping the example of unreadable map {path}: {reason}", BadImageWarning, stacklevel=3)
