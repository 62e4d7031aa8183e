"""The model families the CLI and the run tools know, imported on first use.

Adding a family: its module (``Config``, ``build_models``, ``Trainer``, ``FAMILY``) plus one
entry here, and a ``Demo`` entry in ``demo_run.DEMOS``. A family whose data are not
image pairs/domains (e.g. class-conditional digits) gives its module a
``training_dataset_fn(dataset, config, **options)`` and ``runs`` uses it.
"""

import importlib

FAMILIES = {
    "pix2pix": "tfgan_translate.pix2pix",
    "cyclegan": "tfgan_translate.cyclegan",
    "discogan": "tfgan_translate.discogan",
    "dualgan": "tfgan_translate.dualgan",
    "pix2pixhd": "tfgan_translate.pix2pixhd",
    "cgan": "tfgan_translate.cgan",
    "infogan": "tfgan_translate.infogan",
}
PAIRED = {"pix2pix", "pix2pixhd"}
# Families that generate from noise and codes instead of translating images (`translate` refuses them).
GENERATIVE = {"cgan", "infogan"}
# Families `tfgan-translate demo` runs without --family (kept here so the CLI parser needs no TF import).
DEFAULT_DEMOS = ("pix2pix", "cyclegan")


def family_module(name):
    """The module of family ``name`` (``Config``, ``build_models``, ``Trainer``)."""
    if name not in FAMILIES:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name])
