"""The model families the CLI and the run tools know, imported on first use."""

import importlib

FAMILIES = {"pix2pix": "tfgan_translate.pix2pix", "cyclegan": "tfgan_translate.cyclegan"}
PAIRED = {"pix2pix"}


def family_module(name):
    """The module of family ``name`` (``Config``, ``build_models``, ``Trainer``)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name])
