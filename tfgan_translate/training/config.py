"""Frozen configuration dataclasses shared by the families, and their JSON form.

A run folder keeps the resolved config as ``config.json``; resuming compares it with the
new one so that a run is never continued with a different model by accident.
"""

import dataclasses
import json
import os
from pathlib import Path

CONFIG_FILE = "config.json"
LR_POLICIES = ("linear", "step", "cosine", "constant")


def option(default, help="", choices=None, derived=None):
    """A config field with what the CLI shows of it: ``help``, ``choices``; ``derived`` names
    the config property that computes the value when the field is ``None``.

    A family that only changes a field's default redeclares it plainly (``norm: str =
    "instance"``); :func:`field_info` finds the help and choices on the class that first
    declared the field.
    """
    return dataclasses.field(default=default, metadata={"help": help, "choices": choices, "derived": derived})


def field_info(config_class, name):
    """``{"help", "choices", "derived"}`` of a field, from the first class in the MRO that documents it."""
    for klass in config_class.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(name)
        if field is not None and field.metadata:
            return dict(field.metadata)
    return {"help": "", "choices": None, "derived": None}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What every family shares: image size, batch, optimizer and schedule (the papers' values)."""

    image_size: int = option(256, "training crop size in pixels")
    batch_size: int = option(1, "global batch size (split over the replicas)")
    lr: float = option(2e-4, "learning rate")
    beta_1: float = option(0.5, "Adam beta_1")
    beta_2: float = option(0.999, "Adam beta_2")
    n_epochs: int = option(100, "epochs at the full learning rate")
    n_epochs_decay: int = option(100, "epochs of learning-rate decay after n_epochs")
    lr_policy: str = option("linear", "learning-rate policy", LR_POLICIES)
    lr_decay_epochs: int = option(50, "epochs between the step policy's x0.1 decays")
    seed: int = option(0, "seed for weights, data order and jitter")


def to_dict(config, family):
    return {"family": family, **dataclasses.asdict(config)}


def write_config(config, family, run_dir):
    """Write ``config.json`` atomically (a temporary file renamed over it), so a kill mid-write
    never leaves a half-written config that would block the resume."""
    path = Path(run_dir) / CONFIG_FILE
    temporary = path.with_name(f".{CONFIG_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(to_dict(config, family), indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path


def read_config(run_dir):
    """The saved ``(family, fields)`` of a run folder, or ``None`` when there is none."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); move it away or choose another --run-dir") from None
    return data.pop("family", None), data


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
    config = config_class(**fields)
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
