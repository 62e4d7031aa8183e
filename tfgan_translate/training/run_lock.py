"""One training process per run folder.

Two trainings writing into one folder would interleave checkpoints and corrupt each other's
resume, so ``fit`` holds an exclusive lock on ``<run_dir>/.lock`` while it runs. The lock is
an OS advisory lock (``fcntl.flock``): the kernel drops it when its process dies, even by
SIGKILL, so a lock file left by a dead process is stale by construction and is taken over.
The file also records who holds it (pid, host, start time), for the error message.
"""

import json
import os
import socket
import time
from pathlib import Path

LOCK_FILE = ".lock"


class RunLockedError(ValueError):
    """Another live process is training into the same run folder."""


def _describe(info):
    if not info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"process {info.get('pid')} on {info.get('host')} (started {started})"


def _read_info(handle):
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}


class RunLock:
    """Context manager: ``with RunLock(run_dir): ...`` trains with the folder to itself.

    Raises ``RunLockedError`` naming the holder when a live process has the folder. When the
    lock file names a process that is gone, says so and takes the lock over. Windows has no
    ``fcntl``: there the lock is a no-op (documented limitation).
    """

    def __init__(self, run_dir, log=print):
        self.path = Path(run_dir) / LOCK_FILE
        self.log = log
        self._handle = None

    def acquire(self):
        try:
            import fcntl
        except ImportError:  # Windows
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _describe(_read_info(handle))
            handle.close()
            raise RunLockedError(
                f"{self.path.parent} is in use by {holder}: two trainings in one run folder would corrupt "
                "its checkpoints. Wait for it to finish, stop it (Ctrl-C saves a checkpoint), or choose another --run-dir."
            ) from None
        previous = _read_info(handle)
        if previous.get("pid") and previous.get("pid") != os.getpid():
            self.log(f"taking over the stale lock of {self.path.parent}: {_describe(previous)} is no longer running")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        handle.flush()
        self._handle = handle
        return self

    def release(self):
        if self._handle is None:
            return
        import fcntl

        self._handle.seek(0)
        self._handle.truncate()  # an empty lock file: cleanly released, nothing stale to report
        self._handle.flush()
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
