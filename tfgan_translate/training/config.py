"""Frozen configuration dataclasses shared by the families, and their JSON form.

A run folder keeps the resolved config as ``config.json``; resuming compares it with the
new one so that a run is never continued with a different model by accident.
"""

import dataclasses
import json
import math
import os
import types
import typing
from pathlib import Path

CONFIG_FILE = "config.json"
LR_POLICIES = ("linear", "step", "halve", "cosine", "constant")


MAX_IMAGE_SIZE = 8192  # pix2pixHD's 2048 x 1024 fits; a larger side is a typo, not a model


def option(default, help="", choices=None, derived=None, minimum=0, maximum=None, above=None, below=None):
    """A config field with what the CLI shows of it (``help``, ``choices``) and what it accepts.

    ``derived`` names the config property that computes the value when the field is ``None``.
    A number must be finite and within ``minimum``/``maximum`` (inclusive) and ``above``/``below``
    (exclusive); the default ``minimum=0`` refuses negatives, which no field means.

    A family that only changes a field's default redeclares it plainly (``norm: str =
    "instance"``); :func:`field_info` finds the help, choices and range on the class that first
    declared the field.
    """
    metadata = {"help": help, "choices": choices, "derived": derived,
                "minimum": minimum if above is None else None, "maximum": maximum, "above": above, "below": below}
    return dataclasses.field(default=default, metadata=metadata)


_NO_INFO = {"help": "", "choices": None, "derived": None, "minimum": 0, "maximum": None, "above": None, "below": None}


def field_info(config_class, name):
    """``{"help", "choices", "derived", "minimum", ...}`` of a field, from the first class in the MRO
    that documents it."""
    for klass in config_class.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return dict(field.metadata)
    return dict(_NO_INFO)


def field_types(annotation):
    """``(types accepted, None allowed)`` of a field annotation such as ``int`` or ``str | None``."""
    options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    return tuple(t for t in options if t is not type(None)), type(None) in options


def range_text(info):
    """The accepted range of a numeric field, for messages and ``--help`` (``>= 1``, ``in (0, 1)``)."""
    low = (f"> {info['above']}" if info["above"] is not None
           else f">= {info['minimum']}" if info["minimum"] is not None else None)
    high = (f"< {info['below']}" if info["below"] is not None
            else f"<= {info['maximum']}" if info["maximum"] is not None else None)
    return " and ".join(part for part in (low, high) if part)


def check_fields(config):
    """Check every field of a config dataclass against its type and range, naming the first bad
    one: a wrong type, a NaN or infinity, a value out of range, or a string not among its choices."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        kinds, optional = field_types(field.type)
        if value is None:
            if optional:
                continue
            raise ValueError(f"{field.name} must be set (got None)")
        kind = kinds[0]
        numeric = kind in (int, float)
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, (int, float) if kind is float else kind):
            raise ValueError(f"{field.name} must be {'a number' if kind is float else kind.__name__}; got {value!r}")
        info = field_info(type(config), field.name)
        if info["choices"] and value not in info["choices"]:
            raise ValueError(f"{field.name} must be one of {', '.join(map(str, info['choices']))}; got {value!r}")
        if not numeric or isinstance(value, bool):
            continue
        if not math.isfinite(value):
            raise ValueError(f"{field.name} must be a finite number; got {value}")
        low_ok = ((info["above"] is None or value > info["above"])
                  and (info["minimum"] is None or value >= info["minimum"]))
        high_ok = ((info["below"] is None or value < info["below"])
                   and (info["maximum"] is None or value <= info["maximum"]))
        if not (low_ok and high_ok):
            raise ValueError(f"{field.name} must be {range_text(info)}; got {value}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What every family shares: image size, batch, optimizer and schedule (the papers' values).

    Every family config's ``__post_init__`` starts with this one's: each field is checked
    against its type and range (:func:`check_fields`) before anything is built or written.
    """

    image_size: int = option(256, "training crop size in pixels", minimum=1, maximum=MAX_IMAGE_SIZE)
    batch_size: int = option(1, "global batch size (split over the replicas)", minimum=1)
    lr: float = option(2e-4, "learning rate", above=0)
    beta_1: float = option(0.5, "Adam beta_1", below=1)
    beta_2: float = option(0.999, "Adam beta_2", below=1)
    n_epochs: int = option(100, "epochs at the full learning rate")
    n_epochs_decay: int = option(100, "epochs of learning-rate decay after n_epochs")
    lr_policy: str = option("linear", "learning-rate policy", LR_POLICIES)
    lr_decay_epochs: int = option(50, "epochs between the step policy's x0.1 (halve: x0.5) decays", minimum=1)
    seed: int = option(0, "seed for weights, data order and jitter", maximum=2**32 - 1)

    def __post_init__(self):
        check_fields(self)
        if self.n_epochs + self.n_epochs_decay < 1:
            raise ValueError(f"n_epochs + n_epochs_decay must be >= 1; got {self.n_epochs} + {self.n_epochs_decay}")


def to_dict(config, family):
    return {"family": family, **dataclasses.asdict(config)}


DATA_KEY = "data"  # what the run trains on (dataset, direction, steps per epoch); written by the CLI


def write_config(config, family, run_dir, data=None):
    """Write ``config.json`` atomically (a temporary file renamed over it), so a kill mid-write
    never leaves a half-written config that would block the resume. ``data`` (a dict) records
    what the run trains on."""
    path = Path(run_dir) / CONFIG_FILE
    temporary = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    content = to_dict(config, family)
    if data is not None:
        content[DATA_KEY] = data
    temporary.write_text(json.dumps(content, indent=2, sort_keys=True, allow_nan=False) + "\n")
    os.replace(temporary, path)
    return path


def read_run_file(run_dir):
    """``(family, fields, data)`` of a run folder's ``config.json`` (``data`` is ``None`` in run
    folders written before it was recorded), or ``None`` when there is no file; ``ValueError``
    naming the file when it is not a run's config."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        if path.exists():
            raise ValueError(f"{path} is not a file; move it away or choose another --run-dir")
        return None
    advice = "move it away (or fix it) or choose another --run-dir"
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); {advice}") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read ({error.strerror}); {advice}") from None
    if not isinstance(content, dict) or not isinstance(content.get("family"), str):
        raise ValueError(f"{path} is not a run's config (expected an object with a \"family\" name, "
                         f"got {type(content).__name__}); {advice}")
    family, data = content.pop("family"), content.pop(DATA_KEY, None)
    if data is not None:
        _check_data_record(data, f"{path}: \"{DATA_KEY}\"", advice)
    return family, content, data


def _check_data_record(data, where, advice):
    """The ``data`` record's shape: ``{"dataset": str, "direction": "AtoB"|"BtoA", "steps_per_epoch": int >= 1,
    "before": [records]}``, optional keys aside."""
    problem = None
    if not isinstance(data, dict):
        problem = f"must be an object, got {type(data).__name__}"
    elif not isinstance(data.get("dataset"), str):
        problem = "needs a \"dataset\" name"
    elif data.get("direction") not in ("AtoB", "BtoA"):
        problem = f"direction must be AtoB or BtoA, got {data.get('direction')!r}"
    elif not isinstance(data.get("steps_per_epoch"), int) or data["steps_per_epoch"] < 1:
        problem = f"steps_per_epoch must be an integer >= 1, got {data.get('steps_per_epoch')!r}"
    elif not isinstance(data.get("before", []), list):
        problem = "\"before\" must be a list of earlier records"
    if problem:
        raise ValueError(f"{where} {problem}; {advice}")
    for earlier in data.get("before", []):
        _check_data_record(earlier, where + " (an earlier record)", advice)


def read_config(run_dir):
    """The saved ``(family, fields)`` of a run folder, or ``None`` when there is none."""
    saved = read_run_file(run_dir)
    return None if saved is None else saved[:2]


def config_from_dict(config_class, fields):
    """Build ``config_class`` from saved fields, ignoring none silently: unknown keys are an error.

    A derived field that a run folder of earlier versions stored (e.g. the U-Net depth
    ``num_downs`` 8 at 256 px) becomes ``None`` again when it equals what the config derives,
    so that such a run compares equal to the same settings given today.
    """
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"unknown {config_class.__module__}.Config fields: {', '.join(unknown)}")
    try:
        config = config_class(**fields)
    except TypeError as error:  # a field of the wrong shape that __post_init__ could not compare
        raise ValueError(f"{config_class.__module__}.Config: {error}") from None
    for name in names:
        derived = field_info(config_class, name)["derived"]
        if derived and fields.get(name) is not None:
            plain = dataclasses.replace(config, **{name: None})
            if getattr(plain, derived) == fields[name]:
                config = plain
    return config


def differences(saved, new):
    """Lines ``field: saved -> new`` for every field whose value differs (both dicts)."""
    keys = sorted(set(saved) | set(new))
    return [f"{key}: {saved.get(key)!r} -> {new.get(key)!r}" for key in keys if saved.get(key) != new.get(key)]


def replace(config, **changes):
    """``dataclasses.replace`` that names the bad field instead of a TypeError."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValueError(f"unknown config field(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    return dataclasses.replace(config, **changes)
