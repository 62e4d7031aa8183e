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
from pathlib import Path

from ..training import config as config_io


def flag_name(field):
    return "--" + field.replace("_", "-")


def _kind(annotation):
    kinds, optional = config_io.field_types(annotation)
    return kinds[0], optional


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
        accepted = config_io.range_text(info) if kind in (int, float) else ""
        text = f"{info['help'] or field.name} ({choices}{accepted + '; ' if accepted else ''}default: {shown})"
        listed = info["choices"] if kind is str else None
        metavar = "{" + ",".join(listed) + "}" if listed else kind.__name__.upper()
        group.add_argument(flag_name(field.name), dest=field.name, default=None, metavar=metavar,
                           type=lambda text, name=field.name, annotation=field.type, listed=listed:
                           _flag_value(name, text, annotation, listed),
                           help=text)


def _flag_value(name, text, annotation, choices=None):
    """A flag's value as the field's type; a string field with choices takes only those (or none)."""
    try:
        value = parse_value(name, text, annotation)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if choices and value is not None and value not in choices:
        raise argparse.ArgumentTypeError(f"invalid choice: {text!r} (choose from {', '.join(choices)})")
    return value


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
    changes = overrides_from_args(args, family.config)
    if saved is not None:
        saved_family, _ = saved
        if saved_family != family.name:
            raise ValueError(
                f"{run_folder} holds a {saved_family} run, not {family.name}; nothing was changed: start fresh elsewhere "
                "with --new-run (or choose another --run-dir)"
            )
        return run_folder.saved_config(family.config, changes)  # a flag may mend a bad saved value
    return config_io.config_from_dict(family.config, changes)


def resolve_direction(args, run_folder):
    """``(direction, assumed)``: ``--direction``, or the run's saved direction (AtoB for a new run).

    A contradicting flag is refused when the run has a checkpoint (its generators learned the
    saved direction). A run folder written before the direction was saved resumes as AtoB, the
    old default, which is recorded as ``assumed``: a later ``--direction`` replaces it."""
    saved_data = run_folder.saved_data or {}
    saved, assumed = saved_data.get("direction"), saved_data.get("direction_assumed", False)
    if args.direction is None:
        if saved:
            return saved, assumed
        return "AtoB", run_folder.saved is not None and run_folder.has_checkpoint
    if saved and not assumed and args.direction != saved and run_folder.has_checkpoint:
        raise ValueError(
            f"{run_folder} was trained with --direction {saved}; resuming it with {args.direction} would turn "
            f"what its generators learned around. Nothing was changed: omit --direction to resume it, or start "
            "fresh elsewhere with --new-run (or another --run-dir)")
    return args.direction, False


def data_record(dataset, direction, steps_per_epoch, direction_assumed=False):
    """What a run trains on, as ``config.json`` keeps it: the ``--dataset`` value (and the folder
    it names, absolute), the data direction (``direction_assumed`` when an old run folder did not
    say) and the steps per epoch the schedule counts."""
    record = {"dataset": str(dataset), "direction": direction, "steps_per_epoch": int(steps_per_epoch)}
    if direction_assumed:
        record["direction_assumed"] = True
    path = Path(str(dataset)).expanduser()
    if path.is_dir():
        record["folder"] = str(path.resolve())
    return record


def _same_data(saved, new):
    if "folder" in saved and "folder" in new:
        return saved["folder"] == new["folder"]
    return saved.get("dataset") == new["dataset"]


def check_data_record(run_folder, record, other_data=False, log=print):
    """Refuse to resume a run on other data than it was trained on (another dataset, or the same
    one with another number of steps per epoch, which moves the epoch-based learning-rate
    schedule) unless ``other_data`` (``--other-data``), which says what changes. Returns the
    record to save: the new one, with the earlier ones in ``before``."""
    saved = run_folder.saved_data
    if not saved or not run_folder.has_checkpoint:
        return record
    same = _same_data(saved, record)
    if same and saved.get("steps_per_epoch") == record["steps_per_epoch"]:
        return {**record, **({"before": saved["before"]} if "before" in saved else {})}
    what = (f"--dataset {record['dataset']}" if not same else f"{record['dataset']} now") + \
        f" gives {record['steps_per_epoch']} steps per epoch instead of {saved.get('steps_per_epoch')}"
    change = (f"{run_folder} was trained on {saved.get('dataset')}; {what}, so the epoch-based learning-rate "
              "schedule and the epoch of each step change")
    if not other_data:
        raise ValueError(f"{change}. Nothing was changed: resume with --dataset {saved.get('dataset')}, pass "
                         "--other-data to continue on the new data anyway, or start fresh with --new-run")
    log(f"--other-data: {change}")
    earlier = [*saved.get("before", []), {k: v for k, v in saved.items() if k != "before"}]
    return {**record, "before": earlier}
