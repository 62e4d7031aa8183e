"""FastCUT: CUT's faster variant (Park et al., 2020, section 4): PatchNCE only on X, weighted 10,
with flip-equivariance instead of the identity term, and a shorter schedule (150 + 50 epochs).

Without the identity pass each step runs the generator on x alone, which is what makes it
faster; flip-equivariance (x flipped at random, G's features flipped back before PatchNCE)
stands in as the regulariser. Networks, losses and the step are CUT's (``families/cut.py``).

Example:
    >>> from tfgan_translate import fastcut
    >>> fastcut.Config().lambda_nce, fastcut.Config().nce_idt
    (10.0, False)
"""

import dataclasses

from . import cut
from .base import Demo, Family


@dataclasses.dataclass(frozen=True)
class Config(cut.Config):
    """FastCUT's defaults (``--CUT_mode FastCUT`` of the reference code)."""

    lambda_nce: float = 10.0
    nce_idt: bool = False
    flip_equivariance: bool = True
    n_epochs: int = 150
    n_epochs_decay: int = 50


build_models = cut.build_models


class Trainer(cut.Trainer):
    """CUT's trainer on FastCUT's config (a class of its own: a family owns its trainer class)."""


FAMILY = Family(
    name="fastcut", config=Config, build_models=build_models, trainer=Trainer, data="unpaired",
    directions={"AtoB": "generator"}, sample_columns=cut.COLUMNS, column_titles=cut.TITLES,
    demo=Demo(Config(**cut.DEMO), "demo-unpaired", cut.known_mapping_report),
    smoke_config=cut.smoke_config(Config),
)
