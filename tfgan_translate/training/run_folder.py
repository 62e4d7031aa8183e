"""A run folder and its ``config.json``: read once, compared with a new config, written once.

``config.json`` holds the family and the resolved config of a run, and (written by the CLI)
what the run trains on; resuming compares it with the config asked for, so that a run is never
continued with a different model by accident. The CLI reads it to resolve a command's config
(the saved settings plus explicit flags) and hands the same :class:`RunFolder` to
``training.fit``, so the file is read once per command.

A folder without a checkpoint holds nothing to resume (a run stopped before its first save, or
refused by a later check): it accepts new settings, and says which ones changed.
"""

import dataclasses
from pathlib import Path

from . import config as config_io
from .checkpoints import CHECKPOINT_DIR, checkpoint_paths


class RunConflictError(ValueError):
    """The run folder belongs to a different configuration."""


class RunFolder:
    """``path`` and its saved ``(family, fields)`` and data record (read on first use, then kept)."""

    def __init__(self, path, log=print):
        self.path = Path(path)
        self.log = log
        self._file = None
        self._read = False

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)

    def _saved_file(self):
        if not self._read:
            self._file = config_io.read_run_file(self.path)
            self._read = True
        return self._file

    @property
    def saved(self):
        """``(family, fields)`` of ``config.json``, or ``None`` when the folder has none."""
        saved = self._saved_file()
        return None if saved is None else saved[:2]

    @property
    def saved_data(self):
        """What the run was trained on (``{"dataset", "direction", "steps_per_epoch", ...}``), or
        ``None`` (a new folder, or one written before the record existed)."""
        saved = self._saved_file()
        return None if saved is None else saved[2]

    @property
    def has_checkpoint(self):
        """Whether the folder holds a checkpoint (something a new setting would not match): one
        its state file lists, or any ``ckpt-*`` file (a damaged state file lists none)."""
        directory = self.path / CHECKPOINT_DIR
        return bool(checkpoint_paths(directory)) or any(directory.glob("ckpt-*.index"))

    def saved_config(self, config_class, changes=None):
        """The saved config as ``config_class`` (derived fields normalised), with ``changes``
        (fields) applied before it is checked, or ``None``; ``ValueError`` naming the file when
        a saved value is not valid."""
        if self.saved is None:
            return None
        try:
            return config_io.config_from_dict(config_class, {**self.saved[1], **(changes or {})})
        except ValueError as error:
            raise ValueError(f"{self.path / config_io.CONFIG_FILE}: {error}; fix the value (or pass the flag "
                             "that sets it), or move the file away") from None

    def differences(self, family, config):
        """Lines ``field: saved -> new`` between the saved run and ``config`` of ``family`` (a name)."""
        if self.saved is None:
            return []
        saved_family, fields = self.saved
        saved = {"family": saved_family, **fields}
        if saved_family == family:
            try:
                saved = config_io.to_dict(self.saved_config(type(config)), family)
            except ValueError:  # a saved value that is no longer valid: compare as written
                pass
        return config_io.differences(saved, config_io.to_dict(config, family))

    def check(self, family, config):
        """``RunConflictError`` listing every differing field when the folder holds a run of another
        configuration that has a checkpoint; writes nothing."""
        diff = self.differences(family, config)
        if diff and self.has_checkpoint:
            raise RunConflictError(
                f"{self.path} holds a {self.saved[0]} run with another configuration ("
                + "; ".join(diff)
                + "). Nothing was changed: repeat the saved settings to resume it, or start fresh elsewhere "
                "with --new-run (or another --run-dir)."
            )
        return diff

    def prepare(self, family, config, data=None):
        """Create the folder, or check that its saved config is this one; then write ``config.json``
        (with ``data``, what the run trains on, when given).

        Raises ``RunConflictError`` listing every differing field, so a run with a checkpoint is
        never resumed with another model, and never overwritten. A folder without a checkpoint
        takes the new settings (printed).
        """
        self._read = False  # read again: another process may have written it since (prepare runs under the lock)
        diff = self.check(family, config)
        self.path.mkdir(parents=True, exist_ok=True)
        saved_data = self.saved_data
        record = saved_data if data is None else data
        if diff or (saved_data is not None and record != saved_data and not self.has_checkpoint):
            changed = diff + [f"data: {saved_data} -> {record}"] * (record != saved_data and saved_data is not None)
            self.log(f"{self.path} has no checkpoint, so its saved settings are replaced: " + "; ".join(changed))
        if self.saved is None or diff or record != saved_data:
            config_io.write_config(config, family, self.path, record)
            self._file, self._read = (family, dataclasses.asdict(config), record), True
        return self.path
