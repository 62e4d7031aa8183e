"""Checkpoints that hold everything a run needs to continue exactly where it stopped.

Crash safety: TensorFlow writes a checkpoint's files first and only then records it in the
``checkpoint`` state file (atomically), so a process killed mid-save leaves the state file
naming the previous, complete checkpoint. If the newest listed checkpoint still fails to load
(a damaged disk, files copied half-way), ``restore_latest`` says so and falls back to the
next older one instead of giving up.
"""

import shutil
from pathlib import Path

import keras
import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"
#: How many of the newest checkpoints a run folder keeps unless told otherwise.
DEFAULT_KEEP_CHECKPOINTS = 3


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (full disk, permissions); the previous one is intact."""


def seed_states(models):
    """Dropout's random-seed variables, which ``tf.train.Checkpoint`` does not reach through a Keras 3 model."""
    return [v for model in models for v in model.variables if "seed_generator_state" in v.path]


def portable_items(items):
    """``items`` with each ``LossScaleOptimizer`` replaced by its inner optimizer, so a checkpoint
    has the same layout under every precision and resumes under another one (the dynamic loss
    scale is not kept: it re-adapts within a few steps)."""
    return {
        name: item.inner_optimizer if isinstance(item, keras.optimizers.LossScaleOptimizer) else item
        for name, item in items.items()
    }


def checkpoint_paths(directory):
    """The checkpoints listed in ``directory``'s state file, newest first (``[]`` when none)."""
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None:
        return []
    # get_checkpoint_state already joins a relative entry with ``directory`` (as given: a relative
    # run folder gives paths relative to the working directory, which is what restore needs)
    return list(reversed(list(state.all_model_checkpoint_paths) or [state.model_checkpoint_path]))


def try_restore(checkpoint, path, partial=False):
    """Restore ``checkpoint`` from ``path``; ``None`` when it loaded, else the first line of why not."""
    try:
        status = checkpoint.restore(path)
        (status.expect_partial() if partial else status).assert_existing_objects_matched()
    except Exception as error:  # noqa: BLE001 (TF raises OpError, IndexError, ValueError... for damaged files)
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return None


def restore_newest(checkpoint, directory, partial=False, log=print):
    """Restore ``checkpoint`` (a ``tf.train.Checkpoint``) from the newest loadable checkpoint in
    ``directory``: the one path that training, translation, export and evaluation share.

    A listed checkpoint that fails to load (a damaged or half-copied file) is reported and
    skipped for the next older one; if none loads, raises ``ValueError`` naming the folder
    (nothing is deleted). ``partial`` restores a part of what was saved (e.g. only the
    generators). Returns the path restored, or ``None`` when the folder lists none.
    """
    failures = []
    for path in checkpoint_paths(directory):
        problem = try_restore(checkpoint, path, partial)
        if problem:
            log(f"checkpoint {path} could not be loaded ({problem}); trying an older one")
            failures.append(path)
            continue
        if failures:
            log(f"restored {path} instead of the damaged {failures[0]}")
        return path
    if failures:
        raise ValueError(
            f"no checkpoint in {directory} could be loaded (tried {', '.join(failures)}); they were left "
            "untouched: move them away to start over, or choose another --run-dir"
        )
    return None


def restore_models(models, run_dir, log=print):
    """Restore ``{name: model}`` (a part of a run's checkpoint) from ``run_dir``'s newest loadable
    checkpoint; returns its path, or raises ``ValueError`` saying the run has none."""
    directory = Path(run_dir) / CHECKPOINT_DIR
    latest = restore_newest(tf.train.Checkpoint(**models), directory, partial=True, log=log)
    if latest is None:
        raise ValueError(f"{run_dir} has no checkpoint in {directory}; train (or resume) it first")
    return latest


class RunCheckpoint:
    """A ``tf.train.Checkpoint`` + ``CheckpointManager`` over a trainer's ``checkpoint_items()``.

    Writes ``<run_dir>/checkpoints/ckpt-<step>``; keeps the newest ``max_to_keep``.
    With ``scratch_dir`` (a non-chief multi-worker process) it restores from the run's
    checkpoints but saves into ``scratch_dir`` and deletes it: every worker must take part
    in a save, only the chief's copy is kept.
    """

    def __init__(self, items, run_dir, max_to_keep=DEFAULT_KEEP_CHECKPOINTS, scratch_dir=None, log=print):
        self.checkpoint = tf.train.Checkpoint(**portable_items(items))
        self.scratch_dir = scratch_dir
        self.directory = Path(run_dir) / CHECKPOINT_DIR
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=max_to_keep)
        self.log = log

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def restore_latest(self):
        """Restore the newest loadable checkpoint; returns its path, or ``None`` when there is none
        (see :func:`restore_newest`)."""
        return restore_newest(self.checkpoint, self.directory, log=self.log)

    def save(self, step):
        """Write ``ckpt-<step>``; on failure raise ``CheckpointWriteError`` saying the last good one is kept."""
        if self.scratch_dir is not None:
            return self._save_scratch(step)
        try:
            return self.manager.save(checkpoint_number=int(step))
        except (tf.errors.OpError, OSError) as error:
            raise CheckpointWriteError(
                f"could not write the checkpoint of step {step} into {self.directory} ({error}); "
                f"the previous checkpoint {self.latest or '(none)'} is intact. Free disk space or check permissions, "
                "then run the same command again to resume."
            ) from error

    def _save_scratch(self, step):
        self.checkpoint.write(str(Path(self.scratch_dir) / f"ckpt-{int(step)}"))
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
        return None
