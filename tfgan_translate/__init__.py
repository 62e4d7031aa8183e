"""tfgan_translate: GAN image-to-image translation for TensorFlow 2 / Keras 3.

The package has three layers; nothing lower imports anything higher (``tests/test_layering.py``):

- library: ``layers``, ``losses``, ``perceptual``, ``networks``, ``data``, ``training``,
  ``metrics``, ``convert``; they know nothing of families or the application;
- ``families``: one module per model family, each declaring itself once (see
  ``families/README.md``), and their shared bases;
- ``app``: the CLI, run folders, evaluation, translation and export, the demo.

Families and application modules are importable from the top, as ``from tfgan_translate
import cyclegan`` or ``import tfgan_translate.cli``; all are imported on first use, so that
``import tfgan_translate`` stays cheap.

Example:
    >>> from tfgan_translate import networks
    >>> g = networks.build_resnet_generator((64, 64, 3), ngf=8, n_blocks=2)
    >>> g.output_shape
    (None, 64, 64, 3)
"""

import importlib
import importlib.abc
import importlib.util
import sys

from .families import REGISTRY as _FAMILIES

__version__ = "0.2.0"

_SUBPACKAGES = ("layers", "losses", "perceptual", "networks", "data", "training", "metrics", "convert", "families", "app")
# Top-level names of modules that live in a layer's folder.
_ALIASES = {
    **{name: path for name, path in _FAMILIES.items()},
    **{name: f"{__name__}.families.{name}" for name in ("translation", "generation", "base")},
    **{name: f"{__name__}.app.{name}" for name in ("cli", "runs", "train_config", "demo_run", "evaluation", "inference")},
    "digit_quality": f"{__name__}.metrics.digit_quality",
}

__all__ = ["__version__", *_SUBPACKAGES, *_ALIASES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _ALIASES:
        return importlib.import_module(_ALIASES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import tfgan_translate.cyclegan`` (and the other aliases) the module it names."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in _ALIASES:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(_ALIASES[spec.name.rpartition(".")[2]])

    def exec_module(self, module):
        pass


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.append(_AliasFinder())


class _KerasLoader(importlib.abc.Loader):
    """Runs Keras's own loader, then registers our layers (see :class:`_RegisterLayersWithKeras`)."""

    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def __getattr__(self, name):  # everything else a loader offers (is_package, resource readers, ...)
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        importlib.import_module(f"{__name__}.layers")


class _RegisterLayersWithKeras(importlib.abc.MetaPathFinder):
    """Registers our layers (``ReflectionPadding2D``, ``InstanceNormalization``, ...) with Keras as
    soon as Keras is imported, so that ``keras.models.load_model`` (or ``tf.keras``'s) opens an
    exported or converted generator after a plain ``import tfgan_translate``, which does not
    import Keras itself. It stays in place until Keras is really loaded: TensorFlow looks Keras
    up (``find_spec``) before importing it."""

    def __init__(self):
        self._looking = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self._looking:
            return None
        self._looking = True
        try:
            spec = importlib.util.find_spec("keras")  # the other finders' answer
        finally:
            self._looking = False
        if spec is not None and spec.loader is not None:
            spec.loader = _KerasLoader(spec.loader, self)
        return spec


if "keras" in sys.modules:
    importlib.import_module(f"{__name__}.layers")
elif not any(isinstance(finder, _RegisterLayersWithKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterLayersWithKeras())
