"""Turn ``tfgan-translate train`` flags into a family Config, resuming a run's saved one.

A run folder's saved config is the starting point, so ``train MODEL --dataset D --run-dir R``
resumes R without repeating its flags; flags given explicitly are applied on top, and any
change to a saved run is then refused by the loop with the list of differences.
"""

import dataclasses
import math
import types
import typing

from .families import family_module
from .training import config as config_io

FLAG_FIELDS = ("image_size", "batch_size", "seed", "generator", "ngf", "ndf", "n_blocks", "norm", "lr")


def _field_types(config_class):
    return {f.name: f.type for f in dataclasses.fields(config_class)}


def parse_value(name, text, annotation):
    """``text`` as the field's type (int, float, bool, str, or ``X | None`` with ``none``)."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if type(None) in options and text.lower() in ("none", "null"):
        return None
    kind = next(t for t in options if t is not type(None))
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        raise ValueError(f"--set {name}={text}: expected {kind.__name__}") from None


def overrides_from_args(args, config_class):
    """The config fields the command line sets explicitly."""
    types_by_name = _field_types(config_class)
    changes = {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name, None) is not None}
    for item in args.set:
        name, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected FIELD=VALUE")
        if name not in types_by_name:
            raise ValueError(f"--set {name}: no such {config_class.__module__}.Config field; known: {', '.join(types_by_name)}")
        changes[name] = parse_value(name, text, types_by_name[name])
    if args.epochs is not None:
        if args.epochs < 1:
            raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
        changes.setdefault("n_epochs", math.ceil(args.epochs / 2))
        changes.setdefault("n_epochs_decay", args.epochs - changes["n_epochs"])
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    return changes


def resolve_train_config(args, run_dir):
    """``(family module, Config)`` for a train command (saved config + explicit flags)."""
    module = family_module(args.model)
    saved = config_io.read_config(run_dir)
    base = {}
    if saved is not None:
        saved_family, base = saved
        if saved_family != module.FAMILY:
            raise ValueError(
                f"{run_dir} holds a {saved_family} run, not {module.FAMILY}; nothing was changed: start fresh elsewhere "
                "with --new-run (or choose another --run-dir)"
            )
    changes = overrides_from_args(args, module.Config)
    if "image_size" in changes and "num_downs" not in changes and base.get("generator", "unet") == "unet":
        base = {k: v for k, v in base.items() if k != "num_downs"}  # re-derive the U-Net depth from the size
    return module, config_io.config_from_dict(module.Config, {**base, **changes})
