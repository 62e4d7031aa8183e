"""Load a PyTorch ``state_dict`` file into a dict of numpy arrays, with or without torch."""

import os
import zipfile
from collections import OrderedDict

import numpy as np

from .errors import CheckpointError
from .pth_legacy import read_legacy_checkpoint
from .pth_zip import read_zip_checkpoint

INSTALL_HINT = "pip install 'tfgan_translate[convert]'"
DATA_PARALLEL_PREFIX = "module."


def checkpoint_format(path):
    """``"zip"`` (torch >= 1.6) or ``"legacy"`` (older pickle stream), from the file's first bytes.

    Raises:
        CheckpointError: the file is missing, empty, a truncated zip, or not a checkpoint.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    with open(path, "rb") as file:
        head = file.read(4)
    if not head:
        raise CheckpointError(f"{path}: the file is empty")
    if head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: the zip archive has no central directory: the file is truncated "
                "(an interrupted download?) or corrupt; download it again"
            )
        return "zip"
    if head[:1] == b"\x80":  # pickle protocol >= 2: what torch < 1.6 wrote
        return "legacy"
    raise CheckpointError(f"{path}: not a PyTorch checkpoint (it starts with {head!r}, neither a zip nor a pickle)")


def torch_available():
    """True when ``import torch`` works; the converter then prefers ``torch.load``."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _load_with_torch(path):
    """``torch.load(weights_only=True)``: torch's own safe loader, tensors to numpy."""
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError...
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: torch.load failed: {first_line}") from None
    if not isinstance(loaded, dict):
        return loaded
    arrays = OrderedDict()
    for key, value in loaded.items():
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu()
            if value.is_floating_point():
                value = value.float()
            value = value.numpy()
        arrays[key] = value
    return arrays


def _normalize(raw, path):
    """Check it is a state_dict, strip DataParallel's ``module.`` and make floats float32."""
    if not isinstance(raw, dict):
        raise CheckpointError(
            f"{path}: holds a {type(raw).__name__}, not a state_dict (a dict of tensors); save "
            "the network's weights with torch.save(net.state_dict(), path)"
        )
    state = OrderedDict()
    for key, value in raw.items():
        if not isinstance(value, np.ndarray):
            raise CheckpointError(
                f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor; this looks like a "
                "training checkpoint, not a network's state_dict"
            )
        name = key[len(DATA_PARALLEL_PREFIX):] if key.startswith(DATA_PARALLEL_PREFIX) else key
        if name in state:
            raise CheckpointError(f"{path}: key {name!r} appears both with and without the 'module.' prefix")
        state[name] = value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value
    return state


def load_state_dict(path, use_torch=None):
    """Read a PyTorch ``state_dict`` checkpoint as ``{name: numpy array}``, in file order.

    Floating-point tensors come back as float32 (float16/bfloat16/float64 converted),
    integer ones (``num_batches_tracked``) unchanged; a DataParallel ``module.`` prefix is
    removed from the names.

    Args:
        path: a ``.pth`` file written by ``torch.save(net.state_dict(), path)``.
        use_torch: ``None`` uses ``torch.load(weights_only=True)`` when torch is installed and
            the built-in reader otherwise; ``True`` requires torch; ``False`` always uses the
            built-in reader, which reads the zip format (torch >= 1.6) and the older pickle
            stream without executing anything from the file.

    Raises:
        CheckpointError: naming the file and what is wrong with it.

    Example:
        >>> state = load_state_dict("latest_net_G.pth")  # doctest: +SKIP
        >>> state["model.1.weight"].shape  # doctest: +SKIP
        (64, 3, 7, 7)
    """
    path = os.fspath(path)
    kind = checkpoint_format(path)
    if use_torch is None:
        use_torch = torch_available()
    if use_torch:
        if not torch_available():
            raise CheckpointError(f"use_torch=True but torch is not installed: {INSTALL_HINT}")
        return _normalize(_load_with_torch(path), path)
    if kind == "legacy":
        return _normalize(read_legacy_checkpoint(path), path)
    return _normalize(read_zip_checkpoint(path), path)
