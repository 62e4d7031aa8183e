"""The model families: a registry built from each family's own declaration.

Each family module declares itself once, as ``FAMILY = base.Family(...)`` (name, ``Config``,
``build_models``, ``Trainer``, the kind of data, its translation directions or the model it
generates with, its sample-grid columns and its demo preset); see ``families/README.md``.
This registry lists each module once, so that ``tfgan-translate --help`` can name the
families without importing TensorFlow; everything else comes from the declarations.

Adding a family: write ``families/<name>.py`` (ending in its ``FAMILY = Family(...)``) and
add one line to ``REGISTRY``; the contract test (``tests/contract/``) then checks it.
"""

import importlib

# name -> module. The order is the order of help texts and of `demo --family` choices.
REGISTRY = {
    "pix2pix": "tfgan_translate.families.pix2pix",
    "cyclegan": "tfgan_translate.families.cyclegan",
    "cut": "tfgan_translate.families.cut",
    "fastcut": "tfgan_translate.families.fastcut",
    "pix2pixhd": "tfgan_translate.families.pix2pixhd",
    "discogan": "tfgan_translate.families.discogan",
    "dualgan": "tfgan_translate.families.dualgan",
    "cgan": "tfgan_translate.families.cgan",
    "infogan": "tfgan_translate.families.infogan",
    "stackgan": "tfgan_translate.families.stackgan",
}


def names():
    """The family names, without importing any family (no TensorFlow import)."""
    return tuple(REGISTRY)


def module(name):
    """The module of family ``name``; ``ValueError`` naming the choices for an unknown name."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(REGISTRY)}")
    return importlib.import_module(REGISTRY[name])


def get(name):
    """The declaration (``base.Family``) of family ``name``."""
    family = module(name).FAMILY
    if family.name != name:
        raise RuntimeError(f"{REGISTRY[name]} declares family {family.name!r}, but the registry lists it as {name!r}")
    return family


def all_families():
    """Every family's declaration, in registry order."""
    return tuple(get(name) for name in REGISTRY)
