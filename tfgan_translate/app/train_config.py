"""The one configuration path of ``tfgan-translate train``: config fields -> flags -> Config.

Every field of a family's ``Config`` is a flag of ``train <family>`` (``--n-blocks`` for
``n_blocks``), with the field's help, choices and the family's default, or ``--set
FIELD=VALUE``. A run folder's saved config is the starting point, so ``train MODEL
--dataset D --run-dir R`` resumes R without repeating its flags; flags given explicitly are
applied on top, and any change to a saved run is then refused by the loop with the list of
differences.
"""

import argparse
import dataclasses
import math
import types
import typing

from ..training import config as config_io


def flag_name(field):
    return "--" + field.replace("_", "-")


def _kind(annotation):
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return next(t for t in options if t is not type(None)), type(None) in options


def parse_value(name, text, annotation):
    """``text`` as the field's type (int, float, bool, str, or ``X | None`` with ``none``)."""
    kind, optional = _kind(annotation)
    if optional and text.lower() in ("none", "null"):
        return None
    try:
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        return kind(text)
    except ValueError:
        raise ValueError(f"--{name.replace('_', '-')} / --set {name}={text}: expected {kind.__name__}") from None


def add_config_flags(parser, config_class):
    """One flag per field of ``config_class``, showing its help, choices and default."""
    group = parser.add_argument_group(f"{config_class.__module__.rsplit('.', 1)[-1]} config fields "
                                      "(default: the paper's, or the run folder's saved value)")
    defaults = config_class()
    for field in dataclasses.fields(config_class):
        info = config_io.field_info(config_class, field.name)
        kind, _ = _kind(field.type)
        default = getattr(defaults, field.name)
        shown = "derived" if default is None and info["derived"] else default
        choices = f"one of {', '.join(map(str, info['choices']))}; " if info["choices"] else ""
        text = f"{info['help'] or field.name} ({choices}default: {shown})"
        group.add_argument(flag_name(field.name), dest=field.name, default=None, metavar=kind.__name__.upper(),
                           choices=info["choices"] if kind is str and info["choices"] else None,
                           type=lambda text, name=field.name, annotation=field.type: _flag_value(name, text, annotation),
                           help=text)


def _flag_value(name, text, annotation):
    try:
        return parse_value(name, text, annotation)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def overrides_from_args(args, config_class):
    """The config fields the command line sets explicitly (flags, ``--set``, ``--epochs``)."""
    types_by_name = {f.name: f.type for f in dataclasses.fields(config_class)}
    changes = {name: getattr(args, name) for name in types_by_name if getattr(args, name, None) is not None}
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


def resolve_train_config(args, family, run_folder):
    """The ``Config`` of a train command: the run folder's saved one (if any) plus explicit flags."""
    saved = run_folder.saved
    base = {}
    if saved is not None:
        saved_family, _ = saved
        if saved_family != family.name:
            raise ValueError(
                f"{run_folder} holds a {saved_family} run, not {family.name}; nothing was changed: start fresh elsewhere "
                "with --new-run (or choose another --run-dir)"
            )
        base = dataclasses.asdict(run_folder.saved_config(family.config))
    return config_io.config_from_dict(family.config, {**base, **overrides_from_args(args, family.config)})
