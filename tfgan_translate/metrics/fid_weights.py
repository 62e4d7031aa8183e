"""The FID Inception network's weights, from the file pytorch-fid publishes, cached as Keras weights.

The published file is ``pt_inception-2015-12-05-6726825d.pth`` (91 MB): the 2015 graph's
weights in torchvision's ``state_dict`` layout (``Conv2d_1a_3x3.conv.weight``,
``Mixed_5b.branch1x1.bn.running_mean``, ..., and the 1008-way ``fc`` classifier, which FID
does not use). It is read with our PyTorch checkpoint reader (no torch needed), checked key
by key, and the converted network is cached as ``fid_inception-<sha256>.weights.h5`` under
:func:`cache_dir`, so later evaluations skip the conversion. The SHA-256 of the file goes
into every report: the name's ``6726825d`` is the published file's hash prefix (torch.hub's
naming rule), which tells whether a score is comparable with published ones.
"""

import hashlib
import os
import tempfile
from pathlib import Path

from ..data.cache import cache_dir as package_cache
from ..convert import CheckpointError, ConversionError, assign_state_dict, load_state_dict
from .fid_inception import build_fid_inception, torch_layer_map
from .inception import InceptionWeightsError

PUBLISHED_FILE = "pt_inception-2015-12-05-6726825d.pth"
PUBLISHED_SHA256_PREFIX = "6726825d"
PUBLISHED_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{PUBLISHED_FILE}"
#: Keys of the published file that FID does not use (the classifier on top of pool_3), and its
#: shape: 1008 classes, which tells the FID file from torchvision's 1000-class ImageNet weights.
CLASSIFIER_KEYS = ("fc.weight", "fc.bias")
CLASSIFIER_SHAPE = (1008, 2048)
#: Part of the cache file's name: a change to the conversion makes old cached files unused.
CACHE_VERSION = 1
HOW_TO_GET = (
    f"On a machine with internet, download {PUBLISHED_URL} (91 MB) and pass it with --fid-weights FILE "
    f"(FIDInceptionFeatures(weights=FILE) in Python). pytorch-fid users have it already in "
    f"~/.cache/torch/hub/checkpoints/, where it is found without the flag."
)
HINT = f"--fid-weights takes {PUBLISHED_FILE}, the published FID Inception weights."


class FIDWeightsError(InceptionWeightsError):
    """The FID weights file cannot be used; the message names the file and what to do."""


def file_sha256(path):
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir():
    """Where converted weights are kept: the package's cache (``$TFGAN_TRANSLATE_CACHE`` or
    ``~/.cache/tfgan_translate``)."""
    return package_cache()


def default_weights_file():
    """The published file where pytorch-fid's download put it (torch.hub's ``checkpoints`` folder under
    ``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``), or ``None``."""
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    torch_home = Path(os.environ.get("TORCH_HOME") or Path(xdg) / "torch")
    path = torch_home / "hub" / "checkpoints" / PUBLISHED_FILE
    return path if path.is_file() else None


def is_published(sha256):
    """True when a file's hash is that of the published weights (by the prefix in their name)."""
    return sha256.startswith(PUBLISHED_SHA256_PREFIX)


def _check_layout(state, path):
    """Refuse the usual wrong files with what they are, before the key-by-key check."""
    if any(key.startswith("AuxLogits.") for key in state):
        raise FIDWeightsError(
            f"--fid-weights {path}: this is torchvision's ImageNet Inception-v3 (it has AuxLogits), not the FID "
            f"Inception network, whose features published FIDs use. {HOW_TO_GET}")
    fc = state.get("fc.weight")
    if fc is not None and tuple(fc.shape) != CLASSIFIER_SHAPE:
        raise FIDWeightsError(
            f"--fid-weights {path}: its classifier has {fc.shape[0]} classes, the FID Inception network's has 1008: "
            f"this is another Inception-v3 (torchvision's ImageNet weights?), whose features are not FID's. {HOW_TO_GET}")
    if "Conv2d_1a_3x3.conv.weight" not in state:
        first = next(iter(state), None)
        raise FIDWeightsError(
            f"--fid-weights {path}: not an Inception checkpoint (no Conv2d_1a_3x3.conv.weight; its first key is "
            f"{first!r}). {HOW_TO_GET}")


def convert_fid_weights(path, model=None):
    """The FID Inception network with the weights of the ``state_dict`` file ``path``.

    Every convolution and batch-norm tensor must be there with its shape; the classifier
    (``fc``) and batch-norm counters are the only keys left out. Raises
    :class:`FIDWeightsError` naming the first missing, extra or misshapen key.
    """
    try:
        state = load_state_dict(path, use_torch=False)  # our reader, both file formats, with or without torch
    except CheckpointError as error:
        raise FIDWeightsError(f"--fid-weights: {error}. {HOW_TO_GET}") from None
    _check_layout(state, path)
    model = model or build_fid_inception()
    try:
        assign_state_dict(model, torch_layer_map(model), state, where=f"--fid-weights {path}",
                          ignored=CLASSIFIER_KEYS, hint=HINT)
    except ConversionError as error:
        raise FIDWeightsError(str(error)) from None
    return model


def _cache_file(sha256):
    return cache_dir() / f"fid_inception-v{CACHE_VERSION}-{sha256[:16]}.weights.h5"


def _write_cache(model, cached, log):
    """Save ``model``'s weights as ``cached`` through a unique temporary file renamed over it (a
    reader never sees half a file; concurrent writers do not collide); failures only cost speed."""
    partial = None
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=cached.parent, prefix=f".{cached.stem}.", suffix=".weights.h5")
        os.close(handle)
        model.save_weights(partial, overwrite=True)
        os.replace(partial, cached)
        partial = None
    except Exception as error:  # noqa: BLE001 (OSError, h5py's RuntimeError/ValueError: all only cost speed)
        log(f"the converted FID weights could not be cached in {cached.parent} ({error}); set TFGAN_TRANSLATE_CACHE "
            "to a writable folder to skip the conversion next time")
    finally:
        if partial is not None and os.path.exists(partial):
            os.remove(partial)


def load_fid_weights(path, log=print):
    """``(model, sha256)``: the FID Inception network with the weights of ``path`` (a ``.pth``
    state_dict), from the cache when this file was converted before.

    A cache that cannot be written (read-only home) only costs the conversion next time; a
    damaged cache file is converted again.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FIDWeightsError(f"--fid-weights {path}: no such file. {HOW_TO_GET}")
    if path.name.endswith(".h5") or path.name.endswith(".keras"):
        raise FIDWeightsError(
            f"--fid-weights {path}: a Keras weights file. The FID Inception network takes the published PyTorch "
            f"file {PUBLISHED_FILE}; Keras' ImageNet InceptionV3 weights go with --fid-network keras-inception-v3.")
    sha256 = file_sha256(path)
    cached = _cache_file(sha256)
    model = build_fid_inception()
    if cached.is_file():
        try:
            model.load_weights(str(cached))
            return model, sha256
        except Exception as error:  # noqa: BLE001 (h5py/Keras raise many kinds for a damaged file)
            log(f"the cached FID weights {cached} could not be read ({type(error).__name__}); converting again")
    convert_fid_weights(path, model)
    _write_cache(model, cached, log)
    return model, sha256
