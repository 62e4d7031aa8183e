"""A run folder and its ``config.json``: read once, compared with a new config, written once.

``config.json`` holds the family and the resolved config of a run; resuming compares it with
the config asked for, so that a run is never continued with a different model by accident.
The CLI reads it to resolve a command's config (the saved settings plus explicit flags) and
hands the same :class:`RunFolder` to ``training.fit``, so the file is read once per command.
"""

import dataclasses
from pathlib import Path

from . import config as config_io


class RunConflictError(ValueError):
    """The run folder belongs to a different configuration."""


class RunFolder:
    """``path`` and its saved ``(family, fields)`` (read on first use, then kept)."""

    def __init__(self, path):
        self.path = Path(path)
        self._saved = None
        self._read = False

    def __fspath__(self):
        return str(self.path)

    def __str__(self):
        return str(self.path)

    @property
    def saved(self):
        """``(family, fields)`` of ``config.json``, or ``None`` when the folder has none."""
        if not self._read:
            self._saved = config_io.read_config(self.path)
            self._read = True
        return self._saved

    def saved_config(self, config_class):
        """The saved config as ``config_class`` (derived fields normalised), or ``None``."""
        return None if self.saved is None else config_io.config_from_dict(config_class, self.saved[1])

    def prepare(self, family, config):
        """Create the folder, or check that its saved config is this one; then write ``config.json``.

        Raises ``RunConflictError`` listing every differing field, so a run is never resumed with
        another model, and never overwritten.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        new = config_io.to_dict(config, family)
        if self.saved is not None:
            saved_family, _ = self.saved
            saved = {"family": saved_family}
            if saved_family == family:
                saved = config_io.to_dict(self.saved_config(type(config)), family)
            else:
                saved.update(self.saved[1])
            diff = config_io.differences(saved, new)
            if diff:
                raise RunConflictError(
                    f"{self.path} holds a {saved_family} run with another configuration ("
                    + "; ".join(diff)
                    + "). Nothing was changed: repeat the saved settings to resume it, or start fresh elsewhere "
                    "with --new-run (or another --run-dir)."
                )
        else:
            config_io.write_config(config, family, self.path)
            self._saved, self._read = (family, dataclasses.asdict(config)), True
        return self.path
