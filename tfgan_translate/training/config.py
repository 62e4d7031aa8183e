"""Frozen configuration dataclasses shared by the families, and their JSON form.

A run folder keeps the resolved config as ``config.json``; resuming compares it with the
new one so that a run is never continued with a different model by accident.
"""

import dataclasses
import json
import os
from pathlib import Path

CONFIG_FILE = "config.json"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What every family shares: image size, batch, optimizer and schedule (the papers' values)."""

    image_size: int = 256
    batch_size: int = 1
    lr: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    n_epochs: int = 100
    n_epochs_decay: int = 100
    lr_policy: str = "linear"
    lr_decay_epochs: int = 50
    seed: int = 0


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
    """Build ``config_class`` from saved fields, ignoring none silently: unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ValueError(f"unknown {config_class.__module__}.Config fields: {', '.join(unknown)}")
    return config_class(**fields)


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
