"""tfgan_translate: GAN image-to-image translation for TensorFlow 2 / Keras 3.

Family modules (``pix2pix``, ``cyclegan``, ...) are imported on first use, so that
``import tfgan_translate`` stays cheap and ``from tfgan_translate import cyclegan``
works as users expect.

Example:
    >>> from tfgan_translate import networks
    >>> g = networks.build_resnet_generator((64, 64, 3), ngf=8, n_blocks=2)
    >>> g.output_shape
    (None, 64, 64, 3)
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "layers", "networks", "losses", "data", "training", "pix2pix", "cyclegan", "convert", "inference", "cli",
    "metrics", "evaluation", "pix2pixhd", "discogan", "dualgan", "cgan", "infogan",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
