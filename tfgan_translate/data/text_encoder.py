"""An offline text encoder for captions that come without precomputed embeddings.

StackGAN conditions on phi_t, a 1024-d caption embedding from a pretrained char-CNN-RNN (Reed et
al. 2016). Those weights cannot be downloaded here, and a user's own captioned photos have no
precomputed embeddings, so :class:`BagOfWordsEncoder` stands in for it:

- **a fixed vocabulary** (the training captions' words) in which each word has a fixed
  pseudo-random Gaussian vector of ``dim`` entries (1024 by default, the paper's phi_t size);
- **a caption's embedding** is the mean of its known words' vectors (a repeated word counts
  each time), scaled to L2 norm ``sqrt(dim)``, i.e. entries of root mean square 1 (mostly within
  +-2, like the word vectors themselves). The norm does not depend on the length of the caption,
  and unit-variance inputs are what Keras' initialisers assume, so the CA layer's fc starts out
  neither saturated nor vanishing.

Why this encoder:

- it runs offline with no weights, and is **deterministic across machines**: a word's vector
  comes from a stable hash of the word (``hashlib.blake2b``, never Python's salted ``hash()``)
  seeding NumPy's PCG64, whose raw 64-bit stream is fixed by its algorithm; the Gaussians are made
  from those bits by Box-Muller here rather than by ``Generator.standard_normal``, whose stream
  NumPy only promises for one build. A saved encoder stores a few entries of one vector, and
  :meth:`BagOfWordsEncoder.load` refuses a file whose vectors this machine would not reproduce;
- it is **compositional**: a caption's vector is (up to scale) the sum of its words', so an
  attribute combination never seen in training ("a purple triangle") still encodes as the sum of
  known words, and the CA layer's trainable fc learns what each word means.

Its limits, honestly: word order is lost ("red left of blue" = "blue left of red"), and two
words are unrelated random vectors to begin with, so paraphrases of one attribute ("big" and
"large") become near only through training, when the fc learns to map both to the same
condition; a word never seen in training carries no meaning at all and is ignored.

Example:
    >>> encoder = BagOfWordsEncoder.from_captions(["a small red circle", "a big blue square"])
    >>> encoder.encode(["a red square"]).shape
    (1, 1024)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9']+")
_HASH_PERSON = b"tfgan-bow-word"  # blake2b personalisation: these vectors, not another use of the hash
_CHECK_VALUES = 8  # entries of one word's vector kept in a saved file, to detect a machine that differs


class CaptionError(ValueError):
    """A caption that cannot be encoded (the message names it and says what to do)."""


def word_vector(word: str, dim: int) -> np.ndarray:
    """The fixed ``float32 (dim,)`` standard-normal vector of ``word`` (same on every machine).

    blake2b(word) seeds PCG64; its raw 64-bit outputs become uniforms in (0, 1), and pairs of
    uniforms become two Gaussians by Box-Muller.
    """
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=16, person=_HASH_PERSON).digest()
    bits = np.random.PCG64(int.from_bytes(digest, "little")).random_raw(2 * ((dim + 1) // 2))
    uniform = ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53  # 53 bits, never 0 or 1
    radius = np.sqrt(-2.0 * np.log(uniform[0::2]))
    angle = 2.0 * np.pi * uniform[1::2]
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1).reshape(-1)[:dim].astype(np.float32)


def tokens(caption: str) -> list[str]:
    """A caption's words: lowercase runs of ``[a-z0-9']``; punctuation and quote marks around a
    word (``'red'``) dropped, an apostrophe inside one (``bird's``, ``bird’s``) kept. Accents are
    folded (``café`` -> ``cafe``); other scripts have no words here (the captions are English)."""
    text = unicodedata.normalize("NFKD", str(caption).replace("\u2019", "'").replace("\u2018", "'"))
    words = (w.strip("'") for w in _WORD.findall(text.encode("ascii", "ignore").decode().lower()))
    return [w for w in words if w]


class BagOfWordsEncoder:
    """Captions -> ``(N, dim)`` float32 embeddings: the mean of the known words' fixed random
    vectors, scaled to norm ``sqrt(dim)`` (see the module docstring for the why and the limits).

    Args:
        vocabulary: the known words (each a word as :meth:`tokens` gives it); kept sorted.
        dim: the embedding size (1024, StackGAN's phi_t).
    """

    KIND = "bag-of-words"

    def __init__(self, vocabulary, dim=1024):
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if isinstance(vocabulary, str):
            raise ValueError("vocabulary must be a collection of words, not one string")
        words = sorted(set(vocabulary))
        if not words:
            raise ValueError("the vocabulary is empty: an encoder needs at least one known word")
        bad = [w for w in words if not isinstance(w, str) or tokens(w) != [w]]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a word as captions are split (lowercase [a-z0-9'], no "
                             f"spaces or punctuation); {len(bad)} such entr{'y' if len(bad) == 1 else 'ies'}")
        self.vocabulary = tuple(words)
        self.dim = int(dim)
        self._index = {w: i for i, w in enumerate(self.vocabulary)}
        self._vectors = None

    @classmethod
    def from_captions(cls, captions, dim=1024) -> BagOfWordsEncoder:
        """An encoder whose vocabulary is every word of ``captions`` (an iterable of str)."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        words = {w for caption in captions for w in tokens(caption)}
        if not words:
            raise CaptionError(f"the {len(captions)} caption(s) given hold no word: a vocabulary needs captions "
                               "with words (letters or digits)")
        return cls(words, dim)

    def __repr__(self):
        return f"BagOfWordsEncoder({len(self.vocabulary)} words, dim={self.dim})"

    def __eq__(self, other):
        return (isinstance(other, BagOfWordsEncoder) and self.dim == other.dim
                and self.vocabulary == other.vocabulary)

    __hash__ = None  # mutable cache inside; equality is by vocabulary and dim

    @property
    def vectors(self) -> np.ndarray:
        """``(len(vocabulary), dim)`` float32: row i is the vector of ``vocabulary[i]`` (computed once)."""
        if self._vectors is None:
            self._vectors = np.stack([word_vector(w, self.dim) for w in self.vocabulary])
            self._vectors.setflags(write=False)
        return self._vectors

    def tokens(self, caption) -> list[str]:
        """See :func:`tokens`."""
        return tokens(caption)

    def unknown_words(self, caption) -> list[str]:
        """The words of ``caption`` outside the vocabulary (ignored when encoding), in order, once each."""
        return list(dict.fromkeys(w for w in tokens(caption) if w not in self._index))

    def encode(self, captions, names=None) -> np.ndarray:
        """``(N, dim)`` float32 embeddings of ``captions`` (a str counts as one caption).

        Unknown words among known ones are ignored. An empty or blank caption, or one whose words
        are all unknown, raises :class:`CaptionError` naming it: ``names[i]`` (e.g. ``"text/x.txt
        line 3"``) when given, else ``"caption i"``.
        """
        captions = [captions] if isinstance(captions, str) else list(captions)
        if names is not None and len(names) != len(captions):
            raise ValueError(f"{len(names)} names for {len(captions)} captions")
        out = np.empty((len(captions), self.dim), np.float32)
        vectors = self.vectors
        for i, caption in enumerate(captions):
            name = names[i] if names is not None else f"caption {i}"
            words = tokens(caption) if isinstance(caption, str) else None
            if not words:
                what = ("is not a string" if words is None else "is empty" if not str(caption).strip()
                        else "has no words")
                raise CaptionError(f"{name} {what}: {caption!r}. Every caption needs at least one word of the "
                                   "vocabulary; remove it or write it out.")
            known = [self._index[w] for w in words if w in self._index]
            if not known:
                raise CaptionError(
                    f"{name} ({caption!r}) has no word the encoder knows (unknown: "
                    f"{', '.join(self.unknown_words(caption)[:6])}); it knows {len(self.vocabulary)} words, e.g. "
                    f"{', '.join(self.vocabulary[:10])}. Rephrase it with words of the training captions, or train "
                    "on captions that contain these words (a new vocabulary needs a new training run).")
            mean = vectors[known].mean(axis=0, dtype=np.float64)
            out[i] = mean * (np.sqrt(self.dim) / max(np.linalg.norm(mean), 1e-12))
        return out

    def _check(self):
        word = self.vocabulary[0]
        return {"word": word, "values": [float(v) for v in word_vector(word, self.dim)[:_CHECK_VALUES]]}

    def save(self, path):
        """Write ``{"kind", "dim", "vocabulary", "check"}`` as JSON to ``path``, atomically (a
        temporary file then ``os.replace``, so a crash never leaves half a file)."""
        path = Path(path)
        payload = {"kind": self.KIND, "dim": self.dim, "vocabulary": list(self.vocabulary), "check": self._check()}
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(json.dumps(payload, indent=0) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path) -> BagOfWordsEncoder:
        """The encoder :meth:`save` wrote to ``path``; ``ValueError`` naming the file when it is not one."""
        path = Path(path)

        def fail(reason):
            return ValueError(f"{path} is not a saved {cls.KIND} text encoder: {reason}. Write it with "
                              "BagOfWordsEncoder.save (a training run keeps its encoder in its run folder).")

        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail("the file does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise fail(f"it does not read as JSON ({error})") from None
        if not isinstance(payload, dict):
            raise fail(f"it holds a JSON {type(payload).__name__}, not an object")
        if payload.get("kind") != cls.KIND:
            raise fail(f"its kind is {payload.get('kind')!r}, expected {cls.KIND!r}")
        dim, vocabulary = payload.get("dim"), payload.get("vocabulary")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise fail(f"its dim {dim!r} is not a positive integer")
        if not isinstance(vocabulary, list) or not vocabulary:
            raise fail("its vocabulary is not a non-empty list of words")
        try:
            encoder = cls(vocabulary, dim)
        except (TypeError, ValueError) as error:
            raise fail(f"its vocabulary is wrong ({error})") from None
        if len(encoder.vocabulary) != len(vocabulary):
            raise fail("its vocabulary repeats words")
        check = payload.get("check")
        if check is not None:
            try:
                expected = np.asarray(check["values"], np.float64)
                got = word_vector(str(check["word"]), dim)[:len(expected)]
                same = got.shape == expected.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-5)
            except (TypeError, KeyError, ValueError):
                raise fail("its 'check' entry is malformed") from None
            if not same:
                raise ValueError(f"{path}: this machine computes other word vectors than the one that saved the "
                                 f"encoder (word {check['word']!r}); a model trained with it would read captions "
                                 "wrongly here. Please report this, with both machines' NumPy versions.")
        return encoder
