"""Checkpoints that hold everything a run needs to continue exactly where it stopped."""

import shutil
from pathlib import Path

import keras
import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"


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


class RunCheckpoint:
    """A ``tf.train.Checkpoint`` + ``CheckpointManager`` over a trainer's ``checkpoint_items()``.

    Writes ``<run_dir>/checkpoints/ckpt-<step>``; keeps the newest ``max_to_keep``.
    With ``scratch_dir`` (a non-chief multi-worker process) it restores from the run's
    checkpoints but saves into ``scratch_dir`` and deletes it: every worker must take part
    in a save, only the chief's copy is kept.
    """

    def __init__(self, items, run_dir, max_to_keep=3, scratch_dir=None):
        self.checkpoint = tf.train.Checkpoint(**portable_items(items))
        self.scratch_dir = scratch_dir
        self.directory = Path(run_dir) / CHECKPOINT_DIR
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def restore_latest(self):
        """Restore the newest checkpoint if there is one; returns its path or ``None``."""
        path = self.manager.latest_checkpoint
        if path:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        return path

    def save(self, step):
        if self.scratch_dir is not None:
            return self._save_scratch(step)
        return self.manager.save(checkpoint_number=int(step))

    def _save_scratch(self, step):
        self.checkpoint.write(str(Path(self.scratch_dir) / f"ckpt-{int(step)}"))
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
        return None
