"""Read PyTorch's zip-based ``.pth`` checkpoints without PyTorch.

``torch.save`` (PyTorch >= 1.6) writes a zip archive::

    <archive>/data.pkl      a pickle of the state_dict; tensors refer to storages by key
    <archive>/data/<key>    each storage's raw bytes, uncompressed
    <archive>/byteorder     "little" or "big" (absent in older files: little)
    <archive>/version, .format_version, .data/serialization_id, ...

Unpickling an arbitrary pickle can run arbitrary code, so ``data.pkl`` is read by an
unpickler that knows only the handful of globals a state_dict of tensors needs
(``collections.OrderedDict``, the ``torch._utils._rebuild_*`` functions, the ``torch.*Storage``
types and dtypes) and stands in for each with a numpy implementation. Anything else is
refused with an error naming it.
"""

import pickle
import zipfile
from collections import OrderedDict

import numpy as np

from .errors import CheckpointError

# Legacy storage classes as torch pickles them -> numpy dtype (bfloat16 is decoded by hand).
STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}

# ``torch.<dtype>`` globals (``_rebuild_tensor_v3`` passes the dtype explicitly).
TORCH_DTYPES = {
    "float32": "float32", "float": "float32",
    "float64": "float64", "double": "float64",
    "float16": "float16", "half": "float16",
    "bfloat16": "bfloat16",
    "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32",
    "int16": "int16", "short": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
}

_ITEMSIZE = {"bfloat16": 2}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co. in the pickle: it only carries a dtype."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = dtype


class _DType:
    """Stands in for ``torch.float32`` & co."""

    def __init__(self, dtype):
        self.dtype = dtype


def _decode_storage(raw, dtype, byteorder):
    """Raw bytes -> 1-D numpy array; bfloat16 becomes float32 (numpy has no bfloat16)."""
    order = "<" if byteorder == "little" else ">"
    if dtype == "bfloat16":
        halves = np.frombuffer(raw, dtype=f"{order}u2").astype(np.uint32)
        return (halves << 16).view(np.float32)
    if dtype == "bool":
        return np.frombuffer(raw, dtype=np.bool_)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(order))  # a view; copied per tensor


def _strided_copy(storage, offset, size, stride, where):
    """The tensor ``storage[offset:]`` viewed with ``size``/``stride`` (in elements), copied.

    Checks that the view stays inside the storage, so a corrupt file cannot make
    ``as_strided`` read outside the buffer.
    """
    size = tuple(int(n) for n in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in stride) or offset < 0:
        raise CheckpointError(f"{where}: invalid tensor layout (size {size}, stride {stride}, offset {offset})")
    if any(n == 0 for n in size):
        return np.zeros(size, dtype=storage.dtype)
    extent = offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
    if extent > storage.size:
        raise CheckpointError(
            f"{where}: the tensor needs {extent} elements of its storage but the storage holds "
            f"{storage.size}; the file is truncated or corrupt"
        )
    base = storage[offset:]
    view = np.lib.stride_tricks.as_strided(
        base, shape=size, strides=[s * storage.itemsize for s in stride], writeable=False
    )
    return view.astype(view.dtype.newbyteorder("="))  # a native-endian copy


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickles ``data.pkl`` into numpy arrays, allowing only what a state_dict needs."""

    def __init__(self, file, archive, prefix, byteorder, path):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._byteorder = byteorder
        self._path = path
        self._storages = {}

    def find_class(self, module, name):
        allowed = {
            ("collections", "OrderedDict"): OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor_v3"): self._rebuild_tensor_v3,
            ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        if module == "torch" and name in TORCH_DTYPES:
            return _DType(TORCH_DTYPES[name])
        raise CheckpointError(
            f"{self._path}: the checkpoint refers to {module}.{name}, which a state_dict of tensors "
            "never needs; refusing to unpickle it (a pickle can run arbitrary code). If the file "
            "holds a whole model or a training checkpoint and you trust it, load it with torch and "
            "save only the weights: torch.save(model.state_dict(), 'net.pth')."
        )

    def persistent_load(self, pid):
        """``('storage', storage_type, key, location, numel)`` -> 1-D numpy array."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CheckpointError(f"{self._path}: unknown persistent reference {pid!r} in data.pkl")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self._path}: storage {key!r} has an unknown type {storage_type!r}")
        if key not in self._storages:
            self._storages[key] = self._read_storage(str(key), storage_type.dtype, int(numel))
        return self._storages[key]

    def _read_storage(self, key, dtype, numel):
        name = f"{self._prefix}data/{key}"
        try:
            raw = self._archive.read(name)
        except KeyError:
            raise CheckpointError(f"{self._path}: storage {name} is missing from the archive") from None
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise CheckpointError(f"{self._path}: cannot read storage {name}: {error}") from None
        needed = numel * _ITEMSIZE.get(dtype, np.dtype(dtype).itemsize)
        if len(raw) < needed:
            raise CheckpointError(
                f"{self._path}: storage {name} holds {len(raw)} bytes but {numel} {dtype} values need "
                f"{needed}; the file is truncated or corrupt"
            )
        return _decode_storage(raw[:needed], dtype, self._byteorder)

    def _rebuild_tensor_v2(self, storage, storage_offset, size, stride, requires_grad=False,
                           backward_hooks=None, metadata=None):
        return _strided_copy(storage, int(storage_offset), size, stride, self._path)

    def _rebuild_tensor_v3(self, storage, storage_offset, size, stride, requires_grad, backward_hooks,
                           dtype, metadata=None):
        array = self._rebuild_tensor_v2(storage, storage_offset, size, stride)
        if isinstance(dtype, _DType) and dtype.dtype != "bfloat16":
            array = array.astype(dtype.dtype)
        return array


def _rebuild_parameter(data, *_ignored):
    """``nn.Parameter`` -> its data (a state_dict only needs the values)."""
    return data


def _archive_prefix(archive, path):
    """The folder inside the zip that holds ``data.pkl`` (torch names it after the file)."""
    candidates = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
    if not candidates:
        raise CheckpointError(
            f"{path}: no data.pkl in the zip archive; this is not a torch.save checkpoint "
            "(a TorchScript or other zip file?)"
        )
    return candidates[0][: -len("data.pkl")]


def _byteorder(archive, prefix, path):
    try:
        order = archive.read(f"{prefix}byteorder").decode("ascii").strip()
    except KeyError:
        return "little"  # written only since torch 1.12; earlier files are little-endian
    if order not in ("little", "big"):
        raise CheckpointError(f"{path}: unknown byteorder {order!r}")
    return order


def read_zip_checkpoint(path):
    """Unpickle the object ``torch.save`` wrote to ``path``, tensors as numpy arrays.

    Raises:
        CheckpointError: the file is not a complete zip checkpoint, is corrupt, or its
            pickle refers to anything beyond tensors and ordered dicts.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise CheckpointError(f"{path}: not a readable zip archive ({error}); the file is truncated or corrupt") from None
    with archive:
        prefix = _archive_prefix(archive, path)
        byteorder = _byteorder(archive, prefix, path)
        try:
            pickled = archive.open(f"{prefix}data.pkl")
        except (zipfile.BadZipFile, OSError) as error:
            raise CheckpointError(f"{path}: cannot read {prefix}data.pkl: {error}") from None
        with pickled:
            unpickler = _StateDictUnpickler(pickled, archive, prefix, byteorder, path)
            try:
                return unpickler.load()
            except CheckpointError:
                raise
            except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
                    AttributeError, IndexError, KeyError) as error:
                raise CheckpointError(f"{path}: data.pkl is corrupt: {type(error).__name__}: {error}") from None
