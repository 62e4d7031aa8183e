"""Read the pre-zip ``.pth`` format of PyTorch < 1.6 without PyTorch.

Many published weights (pix2pix/CycleGAN's 2017-2019 models, possibly pytorch-fid's FID
Inception file of early 2020) were written before ``torch.save`` switched to zip archives.
That older file is one stream of consecutive pickles::

    magic number (0x1950a86a20f9469cfc6c), protocol version (1001), system info (endianness, sizes)
    the state_dict, whose tensors name storages through persistent ids
        ('storage', storage type, key, location, numel, view metadata)
    the sorted list of storage keys
    for each key, in that order: numel as an 8-byte integer, then the storage's raw bytes

Tensors are unpickled before their storages' bytes are read, so they are first recorded as
placeholders and filled in at the end. The unpickler is the zip reader's restricted one: only
what a ``state_dict`` of tensors needs, nothing that could run code.
"""

import pickle
import struct
from collections import OrderedDict

import numpy as np

from .errors import CheckpointError
from .pth_zip import _ITEMSIZE, _decode_storage, _StateDictUnpickler, _StorageType, _strided_copy

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001


class _PendingStorage:
    def __init__(self, key, dtype, numel):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array = None


class _PendingTensor:
    def __init__(self, storage, offset, size, stride, dtype=None):
        self.storage, self.offset, self.size, self.stride, self.dtype = storage, offset, size, stride, dtype


class _LegacyUnpickler(_StateDictUnpickler):
    """The restricted unpickler, with storages and tensors left pending until their bytes are read."""

    def __init__(self, file, path):
        super().__init__(file, archive=None, prefix="", byteorder="little", path=path)

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and pid and pid[0] == "module":
            raise CheckpointError(f"{self._path}: holds a whole pickled model, not a state_dict; load it with torch "
                                  "and save only the weights: torch.save(model.state_dict(), 'net.pth')")
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise CheckpointError(f"{self._path}: unknown persistent reference {pid!r}")
        _, storage_type, key, _location, numel, view = pid
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self._path}: storage {key!r} has an unknown type {storage_type!r}")
        if view is not None:
            raise CheckpointError(f"{self._path}: storage views (written by torch < 0.4) are not supported; "
                                  "re-save the file with a recent torch: torch.save(torch.load(path), path)")
        key = str(key)  # the storage list names them as strings
        if key not in self._storages:
            self._storages[key] = _PendingStorage(key, storage_type.dtype, int(numel))
        return self._storages[key]

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor"):  # what torch <= 0.3 pickled
            return self._rebuild_tensor_v2
        return super().find_class(module, name)

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False,
                           backward_hooks=None, metadata=None):
        return _PendingTensor(storage, int(storage_offset), size, stride)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                           dtype, metadata=None):
        return _PendingTensor(storage, int(storage_offset), size, stride, getattr(dtype, "dtype", None))


class _PlainUnpickler(pickle.Unpickler):
    """For the header and the storage list: plain numbers, strings, lists and dicts, nothing else."""

    def __init__(self, file, path):
        super().__init__(file)
        self._path = path

    def find_class(self, module, name):
        raise CheckpointError(f"{self._path}: the file's header refers to {module}.{name}; a PyTorch checkpoint's "
                              "never does. Refusing to unpickle it (a pickle can run arbitrary code).")

    def persistent_load(self, pid):
        raise CheckpointError(f"{self._path}: unexpected persistent reference {pid!r} outside the state_dict")


def _plain(file, path, kind, expected):
    try:
        value = _PlainUnpickler(file, path).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        if isinstance(error, EOFError) or "truncated" in str(error):
            raise CheckpointError(f"{path}: the file ends inside its {kind}: it is truncated (download it again)") from None
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({type(error).__name__} in its {kind})") from None
    if not isinstance(value, expected):
        raise CheckpointError(f"{path}: its {kind} is a {type(value).__name__}; the file is not a PyTorch checkpoint")
    return value


def _load_header(file, path):
    magic = _plain(file, path, "header", int)
    version = _plain(file, path, "header", int)
    info = _plain(file, path, "header", dict)
    if magic != MAGIC_NUMBER:
        raise CheckpointError(f"{path}: a pickle, but not one torch.save wrote (no PyTorch magic number)")
    if version != PROTOCOL_VERSION:
        raise CheckpointError(f"{path}: PyTorch file protocol {version!r}; this reader knows {PROTOCOL_VERSION}")
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise CheckpointError(f"{path}: written on a big-endian machine; re-save it with torch on a little-endian one")


def _read_storages(file, keys, storages, path):
    for key in keys:
        storage = storages.get(str(key))
        if storage is None:
            raise CheckpointError(f"{path}: the storage list names {key!r}, which no tensor uses; the file is corrupt")
        head = file.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: storage {key} is missing; the file is truncated (download it again)")
        (numel,) = struct.unpack("<q", head)
        if numel != storage.numel:
            raise CheckpointError(f"{path}: storage {key} holds {numel} values, its tensors say {storage.numel}; "
                                  "the file is corrupt")
        needed = numel * _ITEMSIZE.get(storage.dtype, np.dtype(storage.dtype).itemsize)
        raw = file.read(needed)
        if len(raw) < needed:
            raise CheckpointError(f"{path}: storage {key} is cut short ({len(raw)} of {needed} bytes); the file is "
                                  "truncated (download it again)")
        storage.array = _decode_storage(raw, storage.dtype, "little")


def _resolve(value, path):
    if isinstance(value, _PendingTensor):
        array = _strided_copy(value.storage.array, value.offset, value.size, value.stride, path)
        return array.astype(value.dtype) if value.dtype not in (None, "bfloat16") else array
    if isinstance(value, dict):
        return type(value)((k, _resolve(v, path)) for k, v in value.items())
    return value


def read_legacy_checkpoint(path):
    """Unpickle the object a torch < 1.6 ``torch.save`` wrote to ``path``, tensors as numpy arrays.

    Raises:
        CheckpointError: naming the file and what is wrong (not a torch file, truncated, corrupt,
            or a pickle that refers to anything beyond tensors and ordered dicts).
    """
    with open(path, "rb") as file:
        _load_header(file, path)
        unpickler = _LegacyUnpickler(file, path)
        try:
            state = unpickler.load()
        except CheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
            if isinstance(error, EOFError) or "truncated" in str(error):
                raise CheckpointError(f"{path}: the file ends inside its state_dict: it is truncated (download it "
                                      "again)") from None
            raise CheckpointError(f"{path}: the pickled state_dict is corrupt: {type(error).__name__}: {error}") from None
        keys = _plain(file, path, "storage list", list)
        _read_storages(file, [str(key) for key in keys], unpickler._storages, path)
        missing = [key for key, storage in unpickler._storages.items() if storage.array is None]
        if missing:
            raise CheckpointError(f"{path}: storage {missing[0]} is used by a tensor but not in the file; it is corrupt")
    return _resolve(state, path) if isinstance(state, (dict, OrderedDict)) else state
