"""The keyword options every data entry point takes, checked and resolved in one place.

Every public entry point (``aligned_folder``, ``tfds_unpaired``, ``demo_paired``, ...) takes
``**options`` and passes them to :func:`make_options`, so the names, defaults and error
messages are the same everywhere and are documented once, here.
"""

from __future__ import annotations

import dataclasses

#: Preprocessing modes, named as in the reference pix2pix/CycleGAN code.
PREPROCESS_MODES = ("resize_and_crop", "scale_width", "scale_width_and_crop", "crop", "none")

# The papers jitter 256 px images by resizing to 286 first; other sizes keep that ratio.
_LOAD_RATIO = 286 / 256


def default_load_size(crop_size: int) -> int:
    """``load_size`` that keeps the papers' 286/256 jitter ratio: 256 -> 286, 64 -> 72."""
    return int(crop_size * _LOAD_RATIO + 0.5)


@dataclasses.dataclass(frozen=True)
class Options:
    """Input-pipeline options shared by every entry point of :mod:`tfgan_translate.data`.

    Sizes:
        crop_size: side of the square images the pipeline yields (256 for folders and tfds,
            64 for the demo datasets). ``image_size`` is an alias; give one or the other.
        load_size: size the image is resized to before the random crop. Defaults to
            ``crop_size * 286 / 256`` rounded (286 for 256, 72 for 64), the papers' jitter.
        preprocess: ``"resize_and_crop"`` (resize to load_size x load_size, crop crop_size),
            ``"scale_width"`` (width -> load_size keeping the aspect ratio, height at least
            crop_size; no crop, so sizes vary), ``"scale_width_and_crop"`` (the same, then a
            crop_size crop), ``"crop"`` (crop only; an image smaller than crop_size is first
            enlarged, keeping its aspect ratio, so that it fits) or ``"none"`` (keep the size,
            rounded to a multiple of 4 by resizing, as the reference does, so that
            down/up-sampling networks get matching shapes). Modes without a crop yield images
            of different sizes, which only batch with ``batch_size=1``. Resizing is
            bilinear with antialiasing (clean when shrinking large photos).
        flip: random horizontal mirror while training.
        training: ``True`` jitters (random crop and mirror). ``False`` is deterministic:
            ``load_size`` is taken as ``crop_size`` (so ``resize_and_crop`` resizes straight to
            crop_size), crops are central and there is no mirror. Entry points with a
            ``split`` default it to ``split == "train"``.
        channels: channels of the images (of ``"a"`` when ``channels_b`` is given): 3 (RGB) or 1
            (grayscale), converted from whatever the files hold; any other count (e.g. 4-band
            multispectral TIFFs) must be what the files hold.
        channels_b: channels of the ``"b"`` images (default: ``channels``).

    Order and speed:
        batch_size; drop_remainder (default ``training``, so every training batch has the
            same shape); repeat (loop forever); shuffle (default ``training``);
        shuffle_buffer (default: the whole dataset; items are shuffled as file names or
            encoded bytes, so this is cheap); seed (shuffle order and jitter; ``None`` =
            random);
        deterministic: keep the element order through the parallel maps. Default
            ``not training``: evaluation and inference keep file order, training trades
            order for speed. ``True`` with a seed gives the same batches on every run (a
            missing seed then becomes 0).
        cache: ``True`` keeps decoded images in memory; a string caches them to files
            named from it (unpaired domains get ``-trainA``/``-trainB`` suffixes). Give each
            dataset its own cache path: tf.data does not check a cache file against its
            source. The jitter still changes every epoch.
        num_parallel_calls (default ``tf.data.AUTOTUNE``).

    Bad files:
        strict: ``False`` skips unreadable files with one warning each and a summary;
        ``True`` raises :class:`~tfgan_translate.data.BadImageError` naming the first one.

    Multi-worker:
        shard: ``(worker, workers)``: this worker's share of every global batch of
            ``batch_size``, the rows ``[worker * b, (worker + 1) * b)`` with ``b = batch_size /
            workers``, in batches of ``b``. Items are chosen before they are decoded (except
            with ``cache``, which decodes everything once), so a worker decodes only its rows,
            and with ``deterministic`` the workers' rows together are the unsharded batches.
    """

    batch_size: int = 1
    crop_size: int | None = None
    image_size: int | None = None
    load_size: int | None = None
    preprocess: str = "resize_and_crop"
    flip: bool = True
    training: bool = True
    channels: int = 3
    channels_b: int | None = None
    shuffle: bool | None = None
    shuffle_buffer: int | None = None
    seed: int | None = None
    cache: bool | str = False
    deterministic: bool | None = None
    strict: bool = False
    repeat: bool = False
    drop_remainder: bool | None = None
    num_parallel_calls: int | None = None
    shard: tuple[int, int] | None = None

    def resolve(self, default_crop_size: int = 256) -> Options:
        """Return a copy with every ``None`` filled in and every value checked."""
        crop = self.crop_size
        if self.image_size is not None:
            if crop is not None and crop != self.image_size:
                raise ValueError(
                    f"image_size={self.image_size} and crop_size={crop} disagree; "
                    "image_size is an alias of crop_size, give only one")
            crop = self.image_size
        crop = default_crop_size if crop is None else crop
        _check_positive_int("crop_size", crop)
        load = default_load_size(crop) if self.load_size is None else self.load_size
        _check_positive_int("load_size", load)
        _check_positive_int("batch_size", self.batch_size)
        if self.preprocess not in PREPROCESS_MODES:
            raise ValueError(
                f"unknown preprocess mode {self.preprocess!r}; choose one of {PREPROCESS_MODES}")
        if self.preprocess in ("resize_and_crop", "scale_width_and_crop") and load < crop:
            raise ValueError(
                f"load_size={load} is smaller than crop_size={crop}: preprocess "
                f"{self.preprocess!r} resizes to load_size and then crops crop_size from it")
        _check_positive_int("channels", self.channels)
        if self.channels_b is not None:
            _check_positive_int("channels_b", self.channels_b)
        if self.shuffle_buffer is not None:
            _check_positive_int("shuffle_buffer", self.shuffle_buffer)
        if self.shard is not None:
            check_shard(self.shard, self.batch_size)
        deterministic = not self.training if self.deterministic is None else self.deterministic
        seed = 0 if self.seed is None and self.deterministic else self.seed
        return dataclasses.replace(
            self, crop_size=crop, channels_b=self.channels if self.channels_b is None else self.channels_b, image_size=None, load_size=load, seed=seed,
            deterministic=bool(deterministic),
            shuffle=self.training if self.shuffle is None else bool(self.shuffle),
            drop_remainder=(self.training if self.drop_remainder is None
                            else bool(self.drop_remainder)))


def make_options(kwargs: dict, *, default_crop_size: int = 256, **defaults) -> Options:
    """Build resolved :class:`Options` from an entry point's ``**options``.

    Args:
        kwargs: what the user passed; unknown names raise ``TypeError`` listing valid ones.
        default_crop_size: crop size when neither ``crop_size`` nor ``image_size`` is given.
        **defaults: the entry point's own defaults (e.g. ``training=False`` for inference),
            used where the user gave nothing.
    """
    names = {f.name for f in dataclasses.fields(Options)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise TypeError(f"unknown data option(s) {unknown}; valid options: {sorted(names)}")
    return Options(**{**defaults, **kwargs}).resolve(default_crop_size)


def check_shard(shard, batch_size):
    """``(worker, workers)`` of a multi-worker ``shard`` (``(0, 1)`` for ``None``), checked: the worker
    within the workers, and the global ``batch_size`` split evenly over them."""
    if shard is None:
        return 0, 1
    try:
        worker, workers = (int(v) for v in shard)
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (worker, workers), got {shard!r}") from None
    if workers < 1 or not 0 <= worker < workers:
        raise ValueError(f"shard {shard!r}: the worker must be in [0, workers)")
    if batch_size % workers:
        raise ValueError(f"batch_size {batch_size} (the global batch) does not split over {workers} workers: "
                         f"give a multiple of {workers}")
    return worker, workers


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
