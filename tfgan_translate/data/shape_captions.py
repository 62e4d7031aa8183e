"""Offline captioned scenes for the text -> image families (StackGAN): one coloured shape, ten captions.

Each scene is one shape on a plain background, described by four attributes, and comes with ten
captions (CUB-200 and Oxford-102, the StackGAN datasets, have ten per image) that state all four
in paraphrases:

========  ==============================================================  =========================
colour    red, green, blue, yellow, purple, cyan (well separated hues)    the value itself, always
shape     circle, square, triangle                                        circle/disc, square/box
size      small, large (half-extent 0.125-0.14 vs 0.20-0.22 of the side)  small/little/tiny, large/big
position  top left, top right, bottom left, bottom right (the quadrant)   top/upper, bottom/lower
========  ==============================================================  =========================

6 * 3 * 2 * 4 = 144 combinations. Why this dataset:

- **A known answer.** Every image's attributes are exact, so a generated image can be scored by
  asking whether it shows what its caption says (:mod:`..metrics.caption_quality` trains a judge
  on these scenes and reports its own held-out accuracy), not only whether it looks real.
- **Paraphrases.** The ten captions of a scene share no single template (``"a big red disc in the
  upper left corner"``, ``"there is a small blue square at the bottom right"``, ...), so a text
  encoder must map different sentences to the same content, as with real captions.
- **Held-out combinations.** 20 of the 144 combinations (:func:`held_out_combinations`) appear
  only in ``test``, and ``test`` holds only those: captions never seen in training. Generating
  them right is generalisation by composition, not memory. They are chosen (a seeded greedy
  pick) so that every pair of values of any two attributes still occurs in ``train`` (every
  (colour, shape), (colour, position), (shape, size), ... pair) and no value is held out much
  more often than another.

Rendering (:func:`render`): the shape's coverage of each pixel is the mean of 4x4 sub-pixel
samples (drawing at 4x and area averaging: anti-aliased edges), composited over a gray background
(level 70-90 of 255 per image) with Gaussian pixel noise (sigma 3 levels). Per scene the shape's
centre is jittered within its quadrant (never leaving it: at least 1/64 of the side from its
edges), its half-extent r within its size class and the colour's brightness by +-6%. Circle,
square and triangle (apex up, base 2r) all span a 2r x 2r box. (At 16 px a small shape is ~4 px
wide: the square fills its box and the circle does not, which is what tells them apart there.)

Splits (:func:`shape_scenes`): ``train`` holds 20 scenes of each of the 124 other combinations
(2,480), ``test`` 20 of each held-out one (400), shuffled with a fixed seed; the same call gives
the same arrays. Scenes are drawn at 64 px; a size dividing 64 (16, 32) is the area downsample
of the 64 px images (block means of the uint8 pixels, rounded half up), so Stage-I (16 px) and
Stage-II (64 px) see the same scenes. Other sizes (e.g. 128) render the same scene parameters
directly. 16-128 px is the intended range (8-256 is accepted).

Captions are lowercase words separated by spaces, with at most a ``,`` or ``:`` attached to a
word; :func:`vocabulary` lists the words (40). The colour word never has a synonym.

Example:
    >>> from tfgan_translate.data import shape_captions
    >>> scenes = shape_captions.shape_scenes("train", image_size=64)
    >>> scenes.images.shape, scenes.captions[0][0], scenes.attributes[0]
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

import numpy as np

ATTRIBUTES = ("colour", "shape", "size", "position")
VALUES = {
    "colour": ("red", "green", "blue", "yellow", "purple", "cyan"),
    "shape": ("circle", "square", "triangle"),
    "size": ("small", "large"),
    "position": ("top left", "top right", "bottom left", "bottom right"),
}
DEMO_NAME = "demo-captions"  # its --dataset name
CAPTIONS_PER_IMAGE = 10
#: Nominal sRGB of each colour (before the per-scene brightness jitter).
RGB = {"red": (220, 45, 45), "green": (45, 185, 65), "blue": (55, 85, 235),
       "yellow": (235, 215, 50), "purple": (190, 60, 210), "cyan": (50, 205, 215)}
RADIUS = {"small": (0.125, 0.14), "large": (0.20, 0.22)}  # half-extent r / image side
MAX_JITTER = 0.06  # of the centre from its quadrant's centre, as a share of the side
BASE_SIZE = 64  # scenes are drawn at this size; sizes dividing it are its area downsamples
SUPERSAMPLE = 4
PER_COMBINATION = 20  # scenes of each combination in its split
HELD_OUT_COUNT = 20
_SEED = 20_16  # StackGAN's year: all the randomness of this module starts here
SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
SHAPE_WORDS = {"circle": ("circle", "disc"), "square": ("square", "box"), "triangle": ("triangle",)}
VERTICAL_WORDS = {"top": ("top", "upper"), "bottom": ("bottom", "lower")}
# {v}: top/upper or bottom/lower, {vn}: top or bottom (a noun), {h}: left or right.
_TEMPLATES = (
    "a {size} {colour} {shape} in the {v} {h} corner",
    "{v} {h}: a {size} {colour} {shape}",
    "there is a {size} {colour} {shape} at the {v} {h}",
    "a {size} {colour} {shape}, {v} {h}",
    "a {colour} {shape} that is {size}, in the {v} {h} corner",
    "a {size} {colour} {shape} on the {h} side near the {vn}",
    "one {size} {colour} {shape} placed in the {v} {h} area",
    "in the {v} {h} corner there is a {size} {colour} {shape}",
    "a {size} {shape} coloured {colour}, {v} {h} of the image",
    "the {shape} in the {v} {h} is {colour} and {size}",
)


@dataclasses.dataclass(frozen=True)
class ShapeScenes:
    """Scenes of one split: ``images`` (N, S, S, 3) uint8 (read-only), ``captions`` N tuples of
    10 str, ``attributes`` (N, 4) int64 indices into ``VALUES[ATTRIBUTES[j]]`` (read-only)."""

    images: np.ndarray
    captions: tuple
    attributes: np.ndarray

    def __len__(self):
        return len(self.attributes)


def _names(attributes):
    """``(colour, shape, size, position)`` names of 4 value indices (checked)."""
    attributes = tuple(int(a) for a in np.asarray(attributes).reshape(-1))
    if len(attributes) != len(ATTRIBUTES):
        raise ValueError(f"attributes need one index per {ATTRIBUTES}; got {attributes}")
    for name, index in zip(ATTRIBUTES, attributes):
        if not 0 <= index < len(VALUES[name]):
            raise ValueError(f"{name} index {index} is not in 0..{len(VALUES[name]) - 1}")
    return tuple(VALUES[name][index] for name, index in zip(ATTRIBUTES, attributes))


def caption(attributes, variant) -> str:
    """Paraphrase number ``variant`` (0..9) of the caption of a scene with ``attributes``.

    Each variant has its own template; the size, shape and vertical words rotate through their
    synonyms with the variant, so a scene's ten captions are distinct.
    """
    colour, shape, size, position = _names(attributes)
    if not 0 <= int(variant) < CAPTIONS_PER_IMAGE:
        raise ValueError(f"variant must be in 0..{CAPTIONS_PER_IMAGE - 1}; got {variant}")
    v = int(variant)
    vertical, horizontal = position.split()
    return _TEMPLATES[v].format(
        colour=colour, size=SIZE_WORDS[size][v % len(SIZE_WORDS[size])],
        shape=SHAPE_WORDS[shape][(v // 2) % len(SHAPE_WORDS[shape])],
        v=VERTICAL_WORDS[vertical][(v // 3) % 2], vn=vertical, h=horizontal)


@functools.lru_cache(maxsize=None)
def _captions(attributes):
    return tuple(caption(attributes, v) for v in range(CAPTIONS_PER_IMAGE))


def captions_of(attributes) -> tuple[str, ...]:
    """The 10 distinct captions of a scene with ``attributes`` (deterministic)."""
    _names(attributes)
    return _captions(tuple(int(a) for a in np.asarray(attributes).reshape(-1)))


def words(text):
    """A caption's words: lowercase, split on spaces, ``,`` and ``:`` dropped."""
    return re.sub(r"[,:]", " ", text.lower()).split()


@functools.lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """Every word of every caption, sorted."""
    return tuple(sorted({w for combo in all_combinations() for text in captions_of(combo) for w in words(text)}))


def all_combinations():
    """The 144 attribute tuples in index order."""
    return list(itertools.product(*(range(len(VALUES[name])) for name in ATTRIBUTES)))


@functools.lru_cache(maxsize=1)
def held_out_combinations() -> frozenset[tuple[int, int, int, int]]:
    """The 20 attribute tuples that appear only in ``test`` (a seeded greedy pick, see module doc).

    Candidates come in a seeded random order; the first that fits is taken, until there are 20.
    It fits when, with it, every value pair of any two attributes still has a combination left
    for ``train``, and no value of an attribute with n values is held out more than
    ceil(k / n) times among the k picked so far (so the values stay balanced throughout).
    """
    combos = all_combinations()
    pairs = list(itertools.combinations(range(len(ATTRIBUTES)), 2))
    per_pair = {(j, k): len(combos) // (len(VALUES[ATTRIBUTES[j]]) * len(VALUES[ATTRIBUTES[k]])) for j, k in pairs}
    order = [combos[i] for i in np.random.default_rng(_SEED).permutation(len(combos))]

    def fits(trial, new):
        return (all(sum((c[j], c[k]) == (new[j], new[k]) for c in trial) < per_pair[j, k] for j, k in pairs)
                and all(sum(c[j] == new[j] for c in trial) <= -(-len(trial) // len(VALUES[name]))
                        for j, name in enumerate(ATTRIBUTES)))

    chosen = []
    while len(chosen) < HELD_OUT_COUNT:
        chosen.append(next(c for c in order if c not in chosen and fits(chosen + [c], c)))
    return frozenset(chosen)


def _scene_parameters(attributes, rng):
    """Centre (x, y), radius (shares of the side), colour and background (0..255) of one scene."""
    colour, shape, size, position = _names(attributes)
    radius = rng.uniform(*RADIUS[size])
    # The shape stays 1/64 of the side inside its quadrant (which is 0.5 wide).
    jitter = min(MAX_JITTER, 0.25 - radius - 1 / 64)
    vertical, horizontal = position.split()
    centre = (0.25 + 0.5 * (horizontal == "right") + rng.uniform(-jitter, jitter),
              0.25 + 0.5 * (vertical == "bottom") + rng.uniform(-jitter, jitter))
    rgb = np.clip(np.asarray(RGB[colour], np.float64) * rng.uniform(0.94, 1.06), 0, 255)
    return shape, centre, radius, rgb, rng.uniform(70, 90)


def _coverage(shape, centre, radius, image_size):
    """(S, S) share of each pixel inside the shape: the mean of 4x4 sub-pixel samples."""
    n = image_size * SUPERSAMPLE
    t = (np.arange(n) + 0.5) / n
    x, y = t[None, :] - centre[0], t[:, None] - centre[1]
    if shape == "circle":
        inside = x * x + y * y <= radius * radius
    elif shape == "square":
        inside = (np.abs(x) <= radius) & (np.abs(y) <= radius)
    else:  # apex (0, -r), base corners (-r, r) and (r, r): |x| <= (y + r) / 2 for -r <= y <= r
        inside = (np.abs(x) <= (y + radius) / 2) & (y <= radius)
    return inside.reshape(image_size, SUPERSAMPLE, image_size, SUPERSAMPLE).mean(axis=(1, 3))


def render(attributes, image_size, rng) -> np.ndarray:
    """One scene ``(S, S, 3)`` uint8 with ``attributes`` and the random variation drawn from ``rng``
    (a ``np.random.Generator``): jittered centre, radius and brightness, background, pixel noise."""
    shape, centre, radius, rgb, background = _scene_parameters(attributes, rng)
    cover = _coverage(shape, centre, radius, int(image_size))[..., None]
    image = background * (1 - cover) + rgb * cover + rng.normal(0, 3.0, (image_size, image_size, 3))
    return np.clip(np.floor(image + 0.5), 0, 255).astype(np.uint8)


def area_downsample(images, image_size):
    """Block means of ``(N, S, S, C)`` uint8 images to ``image_size`` (dividing S), rounded half up."""
    n, size = images.shape[0], images.shape[1]
    f = size // image_size
    blocks = images.reshape(n, image_size, f, image_size, f, images.shape[-1]).astype(np.float64)
    return np.floor(blocks.mean(axis=(2, 4)) + 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _split_attributes():
    held = held_out_combinations()
    out = {}
    for index, (split, keep) in enumerate((("train", lambda c: c not in held), ("test", lambda c: c in held))):
        combos = [c for c in all_combinations() if keep(c)]
        attributes = np.repeat(np.asarray(combos, np.int64), PER_COMBINATION, axis=0)
        out[split] = attributes[np.random.default_rng((_SEED, index)).permutation(len(attributes))]
    return out


def shape_scenes(split="train", image_size=64) -> ShapeScenes:
    """The ``train`` (2,480) or ``test`` (400) scenes at ``image_size`` px; cached, deterministic."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    if not 8 <= int(image_size) <= 256:
        raise ValueError(f"image_size must be in 8..256 (16..128 intended); got {image_size}")
    return _scenes(split, int(image_size))  # one cache entry however the arguments are spelt


@functools.lru_cache(maxsize=8)
def _scenes(split, image_size):
    attributes = _split_attributes()[split]
    if image_size < BASE_SIZE and BASE_SIZE % image_size == 0:
        images = area_downsample(_scenes(split, BASE_SIZE).images, image_size)
    else:
        index = ("train", "test").index(split)
        images = np.stack([render(a, image_size, np.random.default_rng((_SEED, index, i)))
                           for i, a in enumerate(attributes)])
    attributes = attributes.copy()
    images.setflags(write=False)  # cached: nobody may change it in place
    attributes.setflags(write=False)
    return ShapeScenes(images, tuple(captions_of(a) for a in attributes), attributes)
