"""Use the published pix2pix/CycleGAN PyTorch models: convert their checkpoints to Keras.

The networks of ``tfgan_translate.networks`` pad and crop exactly like the reference
PyTorch implementation, so a converted checkpoint computes the reference's outputs (to
float32 rounding). ``torch`` is optional (``pip install 'tfgan_translate[convert]'``): without
it, the zip-based ``.pth`` files of torch >= 1.6 are read by a built-in, restricted reader.

Example:
    >>> from tfgan_translate.convert import convert_pytorch_checkpoint
    >>> g = convert_pytorch_checkpoint("horse2zebra.pth", "resnet_9blocks")  # doctest: +SKIP
    >>> g.save("horse2zebra.keras")  # doctest: +SKIP

The command line does the same: ``tfgan-translate convert --from-pytorch horse2zebra.pth
--arch resnet_9blocks --output horse2zebra.keras``.
"""

from .architectures import ARCH_NAMES, get_architecture
from .checkpoint import load_state_dict
from .converter import assign_state_dict, convert_pytorch_checkpoint, convert_state_dict, infer_settings
from .errors import CheckpointError, ConversionError

__all__ = [
    "ARCH_NAMES",
    "CheckpointError",
    "ConversionError",
    "assign_state_dict",
    "convert_pytorch_checkpoint",
    "convert_state_dict",
    "get_architecture",
    "infer_settings",
    "load_state_dict",
]
