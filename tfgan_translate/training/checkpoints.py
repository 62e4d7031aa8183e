"""Checkpoints that hold everything a run needs to continue exactly where it stopped."""

from pathlib import Path

import tensorflow as tf

CHECKPOINT_DIR = "checkpoints"


def seed_states(models):
    """Dropout's random-seed variables, which ``tf.train.Checkpoint`` does not reach through a Keras 3 model."""
    return [v for model in models for v in model.variables if "seed_generator_state" in v.path]


class RunCheckpoint:
    """A ``tf.train.Checkpoint`` + ``CheckpointManager`` over a trainer's ``checkpoint_items()``.

    Writes ``<run_dir>/checkpoints/ckpt-<step>``; keeps the newest ``max_to_keep``.
    """

    def __init__(self, items, run_dir, max_to_keep=3):
        self.checkpoint = tf.train.Checkpoint(**items)
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
        return self.manager.save(checkpoint_number=int(step))
