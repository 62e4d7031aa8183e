"""Text-image pairs for the text -> image families (StackGAN): datasets on disk into ``tf.data`` batches.

Three sources, each read into a :class:`CaptionSplit` (images + ``(N, K, D)`` embeddings, K captions
per image) by :func:`load_caption_split`, then batched by :func:`caption_batches`:

- **"embeddings"**, the layout StackGAN's CUB-200-2011 birds and Oxford-102 flowers come in:
  ``ROOT/<split>/filenames.pickle`` (N image keys) and ``ROOT/<split>/char-CNN-RNN-embeddings.pickle``
  (N x 10 x 1024, precomputed); images ``ROOT/images/<key>.jpg``, or for the birds
  ``ROOT/CUB_200_2011/images/<key>.jpg`` cropped, as the reference does, to 1.5x the larger side of
  the bird's box (``CUB_200_2011/bounding_boxes.txt`` + ``images.txt``) around its centre. Optional
  ``ROOT/text/<key>.txt`` give the captions' texts (for display only).
- **"text"**, for a user's own captioned photos: ``ROOT/<split>/images/<name>.jpg`` (subfolders
  allowed) and ``ROOT/<split>/text/<name>.txt``, one caption per line, embedded by a
  :class:`~.text_encoder.BagOfWordsEncoder` whose vocabulary is the train split's words. Images with
  fewer captions than the most any image has repeat theirs in turn, so K is one number.
- ``demo-captions`` (:data:`CAPTION_DEMO`): the offline shape scenes of :mod:`.shape_captions`.

Everything that would fail later (a missing or unreadable pickle, counts that disagree, a missing
image or caption file, a caption with no known word) is found up front and raised as one
:class:`CaptionDataError` (or :class:`~.text_encoder.CaptionError`) naming the file. The pickles
(written by Python 2) are read with ``encoding="latin1"`` by an unpickler that only builds lists,
strings and NumPy arrays, so a tampered dataset cannot run code.

Example:
    >>> split = load_caption_split("datasets/birds", "train")
    >>> ds = caption_batches(split, image_size=64, batch_size=64, seed=0)
    >>> batch = next(iter(ds))  # {"image": (64, 64, 64, 3), "embedding": (64, 1024), "caption_index": (64,)}
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfgan_translate.data.caption_files import (
    EMBEDDINGS,
    FILENAMES,
    SPLITS,
    CaptionDataError,
    checked_sizes,
    read_reference,
    read_text_layout,
)
from tfgan_translate.data.decode import decoder_for
from tfgan_translate.data.options import Options, check_shard
from tfgan_translate.data.preprocess import normalize, transform
from tfgan_translate.data.text_encoder import BagOfWordsEncoder

CAPTION_DEMO = "demo-captions"
JITTER_RATIO = 76 / 64  # the reference resizes to int(S * 76 / 64), then crops S at random
LAYOUTS = (f"ROOT/train/{FILENAMES} + ROOT/train/{EMBEDDINGS} with images under ROOT/images/ or "
           "ROOT/CUB_200_2011/images/ (StackGAN's birds and flowers), or ROOT/train/images/ + ROOT/train/text/ "
           f"(<image name>.txt, one caption per line), or {CAPTION_DEMO}")


@dataclasses.dataclass(frozen=True, eq=False)  # arrays inside: equal only to itself
class CaptionSplit:
    """One split of captioned images.

    Attributes:
        name: ``"train"`` or ``"test"``.
        images: image file paths (``list[str]``), or ``uint8 (N, H, W, 3)`` pixels (the demo).
        embeddings: ``float32 (N, K, D)``, K captions per image (10 in the references).
        captions: N tuples of K caption strings (``captions[i][k]`` is ``embeddings[i, k]``'s), or
            ``None`` for precomputed embeddings without their texts.
        attributes: ``(N, 4)`` the demo's attribute indices (see :mod:`.shape_captions`), else ``None``.
        boxes: ``int32 (N, 4)`` crop windows ``(top, left, height, width)`` in pixels (CUB's birds),
            else ``None``.
    """

    name: str
    images: object
    embeddings: np.ndarray
    captions: tuple | None = None
    attributes: np.ndarray | None = None
    boxes: np.ndarray | None = None

    def __post_init__(self):
        if np.ndim(self.embeddings) != 3:
            raise ValueError(f"embeddings must be (N, K, D), got shape {np.shape(self.embeddings)}")
        n = len(self.embeddings)
        for field in ("images", "captions", "attributes", "boxes"):
            value = getattr(self, field)
            if value is not None and len(value) != n:
                raise ValueError(f"{len(value)} {field} for {n} embeddings")

    def __len__(self):
        return len(self.embeddings)


def caption_layout(path) -> str | None:
    """``"embeddings"`` or ``"text"``: the captioned layout of folder ``path`` (module docstring), or ``None``."""
    root = Path(path)
    if not root.is_dir():
        return None
    if any((root / s / FILENAMES).is_file() or (root / s / EMBEDDINGS).is_file() for s in SPLITS):
        return "embeddings"
    if any((root / s / "text").is_dir() for s in SPLITS):
        return "text"
    return None


def caption_encoder(value, dim=1024) -> BagOfWordsEncoder | None:
    """The text encoder a run on ``value`` uses: built from the train split's captions (text layout,
    demo), ``None`` for precomputed embeddings."""
    if value == CAPTION_DEMO:
        from tfgan_translate.data import shape_captions

        scenes = shape_captions.shape_scenes("train", shape_captions.BASE_SIZE)
        return BagOfWordsEncoder.from_captions((text for texts in scenes.captions for text in texts), dim)
    if _layout(value) == "embeddings":
        return None
    _, _, texts = read_text_layout(Path(value), "train")
    return BagOfWordsEncoder.from_captions((text for lines in texts for _, text in lines), dim)


def load_caption_split(value, split, encoder=None, image_size=64, strict=False) -> CaptionSplit:
    """The :class:`CaptionSplit` ``split`` (``"train"`` or ``"test"``) of ``value``: a folder in
    either layout, or :data:`CAPTION_DEMO` (drawn at ``image_size``).

    Captions as text are embedded with ``encoder`` (default: :func:`caption_encoder` of ``value``, so
    the test split is read with the train split's vocabulary: unknown words are ignored, and a caption
    with only unknown words raises ``CaptionError`` naming its file and line). Image files are all
    decoded once up front: unreadable ones are skipped with a warning (with ``strict``, the first
    raises ``BadImageError``).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if value == CAPTION_DEMO:
        from tfgan_translate.data import shape_captions

        scenes = shape_captions.shape_scenes(split, image_size)
        encoder = caption_encoder(value) if encoder is None else encoder
        names = [f"{CAPTION_DEMO} {split} scene {i} caption {k}" for i, texts in enumerate(scenes.captions)
                 for k in range(len(texts))]
        flat = [text for texts in scenes.captions for text in texts]
        embeddings = encoder.encode(flat, names).reshape(len(scenes), -1, encoder.dim)
        return CaptionSplit(split, scenes.images, embeddings, tuple(scenes.captions), scenes.attributes)
    root = Path(value)
    if _layout(value) == "embeddings":
        if encoder is not None:
            raise CaptionDataError(f"{root} holds precomputed embeddings ({EMBEDDINGS}); a text encoder is for "
                                   "captions given as text: pass encoder=None")
        paths, embeddings, captions, boxes = read_reference(root, split, strict)
        return CaptionSplit(split, paths, embeddings, captions, None, boxes)
    keys, paths, texts = read_text_layout(root, split)
    encoder = caption_encoder(value) if encoder is None else encoder
    flat = [text for lines in texts for _, text in lines]
    vectors = encoder.encode(flat, [name for lines in texts for name, _ in lines])
    per_image, start, embeddings, captions = max(len(lines) for lines in texts), 0, [], []
    for lines in texts:  # fewer captions than per_image: repeat them in turn, so K is one number
        take = [start + k % len(lines) for k in range(per_image)]
        embeddings.append(vectors[take])
        captions.append(tuple(flat[i] for i in take))
        start += len(lines)
    sizes = checked_sizes(paths, strict)
    keep = [i for i, path in enumerate(paths) if path in sizes]
    return CaptionSplit(split, [paths[i] for i in keep], np.stack(embeddings)[keep], tuple(captions[i] for i in keep))


def caption_batches(split: CaptionSplit, image_size, batch_size, seed=0, training=True, jitter=True, shard=None,
                    drop_remainder=True) -> tf.data.Dataset:
    """One epoch of ``{"image", "embedding", "caption_index"(, "attributes")}`` batches of ``split``.

    ``"image"`` float32 ``(B, S, S, 3)`` in [-1, 1], ``"embedding"`` float32 ``(B, D)`` (one of the
    image's K captions), ``"caption_index"`` int32 ``(B,)`` which one, ``"attributes"`` int64 ``(B, 4)``
    when the split has them.

    Args:
        training: shuffle, and pick each example's caption at random (the PyTorch reference);
            ``False``: file order, caption 0, no jitter.
        seed: the epoch's order, captions and jitter all come from it (drawn with NumPy up front,
            per example): the same seed gives the same batches, as an exact resume needs. The
            caller passes a new seed per epoch.
        jitter: (training only) the reference's augmentation: resize to ``int(S * 76 / 64)``, crop S
            at random, mirror at random. Otherwise images are resized to S. Both resizes are
            bilinear with antialiasing (PIL's BILINEAR in the reference), so the images trained on
            and shown at evaluation are filtered alike.
        shard: ``(worker, workers)``: this worker's rows ``[worker * b, (worker + 1) * b)`` of every
            global batch of ``batch_size`` (``b = batch_size / workers``); only those are decoded.
    """
    for name, number in (("image_size", image_size), ("batch_size", batch_size)):
        if isinstance(number, bool) or not isinstance(number, (int, np.integer)) or number < 1:
            raise ValueError(f"{name} must be a positive integer, got {number!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    worker, workers = check_shard(shard, batch_size)
    count, per_image = split.embeddings.shape[:2]
    if drop_remainder and count < batch_size:
        raise ValueError(f"the {split.name} split has {count} image(s) but batch_size={batch_size} with "
                         "drop_remainder=True: it would give no batch. Lower the batch size.")
    rng = np.random.default_rng([0x57AC6, int(seed)])
    order = rng.permutation(count) if training else np.arange(count)
    chosen = rng.integers(per_image, size=count) if training else np.zeros(count, np.int64)
    seeds = rng.integers(0, 2**31 - 1, size=(count, 2))
    end = count // batch_size * batch_size if drop_remainder else count
    position = np.arange(end)
    mine = position[(position % batch_size) // (batch_size // workers) == worker]
    order, chosen, seeds = order[mine], chosen[mine], seeds[mine]
    columns = {"embedding": np.asarray(split.embeddings[order, chosen], np.float32),
               "caption_index": chosen.astype(np.int32), "seed": seeds}
    if split.attributes is not None:
        columns["attributes"] = np.asarray(split.attributes, np.int64)[order]
    if isinstance(split.images, np.ndarray):
        columns["pixels"] = split.images[order]
    else:
        columns["path"] = np.asarray(split.images, dtype=object)[order].astype(str)
        decode = decoder_for(split.images)
        if split.boxes is not None:
            columns["box"] = np.asarray(split.boxes, np.int32)[order]
    size = int(image_size)
    options = Options(crop_size=size, load_size=int(size * JITTER_RATIO) if jitter else size,
                      training=bool(training and jitter)).resolve()

    def load(item):
        item = dict(item)
        if "pixels" in item:
            image = item.pop("pixels")
        else:
            image = decode(tf.io.read_file(item.pop("path")), 3)
            if "box" in item:
                box = item.pop("box")
                image = tf.image.crop_to_bounding_box(image, box[0], box[1], box[2], box[3])
        image = transform(image, options, item.pop("seed"))
        return {"image": tf.ensure_shape(normalize(image), [size, size, 3]), **item}

    ds = tf.data.Dataset.from_tensor_slices(columns)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(batch_size // workers, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
    tf_options = tf.data.Options()
    tf_options.deterministic = True
    return ds.with_options(tf_options)


def _layout(value):
    layout = caption_layout(value)
    if layout is None:
        state = "does not exist" if not Path(value).exists() else "holds neither layout"
        raise CaptionDataError(f"{value} is not a captioned dataset (it {state}); expected {LAYOUTS}")
    return layout
