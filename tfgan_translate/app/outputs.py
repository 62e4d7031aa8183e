"""Where a command writes, checked before it does any work.

A folder given as ``--output`` or ``--run-dir`` is probed with a small temporary file (in
the folder, or in its nearest existing parent when the command creates it later), so a path
under a file, a read-only folder or a place such as ``/proc`` fails at once with one line
naming the path and what to do, instead of a traceback after minutes of work.
"""

import os
from pathlib import Path


class OutputError(ValueError):
    """An output path that cannot be written; the message names it and what to do."""


def _reason(error):
    return error.strerror or str(error) or type(error).__name__


def _probe(folder):
    """Write and remove a small file in ``folder`` (an ``OSError`` says why it cannot be written)."""
    probe = Path(folder) / f".tfgan-translate-write-test-{os.getpid()}"
    os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    os.remove(probe)


def check_folder(path, flag, given=None, create=True):
    """Check that files can be written in folder ``path``, creating it (with its parents) unless
    ``create`` is false, when its nearest existing parent is probed instead and nothing stays
    behind. Messages name ``given``, the path the user typed (default ``path``)."""
    path = Path(path).expanduser()
    given = path if given is None else given
    existing = next(parent for parent in (path, *path.parents) if parent.exists() or parent == parent.parent)
    if existing.exists() and not existing.is_dir():
        raise OutputError(f"{flag} {given}: {existing} is a file, not a folder; choose another {flag}")
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
            existing = path
        _probe(existing)
    except OSError as error:
        raise OutputError(f"{flag} {given}: cannot write there ({_reason(error)}); choose a folder you can write "
                          "to, or fix its permissions") from None
    return path


def check_file(path, flag, overwrite=False, create=True):
    """Check that file ``path`` can be written (its folder is created unless ``create`` is false):
    refuses a folder, and an existing file unless ``overwrite``."""
    path = Path(path).expanduser()
    if path.is_dir():
        example = path / (f"output{path.suffix}" if path.suffix else "report.json")
        raise OutputError(f"{flag} {path} is a folder; give a file name (e.g. {example})")
    if path.exists() and not overwrite:
        raise OutputError(f"{flag} {path} already exists; pass --overwrite to replace it, or choose another {flag}")
    check_folder(path.parent, flag, given=path, create=create)
    return path


def describe(error):
    """One line for an ``OSError`` met while writing (what and where), for the CLI's last resort."""
    where = f"{error.filename}: " if error.filename else ""
    return f"{where}{_reason(error)}; check the path and its permissions (or the free disk space)"
