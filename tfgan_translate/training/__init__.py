"""Training machinery shared by every family: loop, checkpoints, schedules, image pool, logs."""

from .checkpoints import CheckpointWriteError, RunCheckpoint, seed_states
from .config import TrainConfig
from .image_pool import ImagePool
from .optimize import apply_gradients, for_precision
from .loop import FitResult, NonFiniteLossError, ShortEpochError, Trainable, fit, prepare_run_dir
from .run_folder import RunConflictError, RunFolder
from .run_lock import RunLock, RunLockedError
from .schedules import EpochGate, EpochLength, EpochSchedule, adam_for, rmsprop_for
from .summaries import image_grid, save_grid

__all__ = [
    "CheckpointWriteError",
    "EpochGate",
    "EpochLength",
    "EpochSchedule",
    "FitResult",
    "ImagePool",
    "NonFiniteLossError",
    "ShortEpochError",
    "RunCheckpoint",
    "RunConflictError",
    "RunFolder",
    "RunLock",
    "RunLockedError",
    "TrainConfig",
    "Trainable",
    "adam_for",
    "apply_gradients",
    "for_precision",
    "fit",
    "image_grid",
    "prepare_run_dir",
    "rmsprop_for",
    "save_grid",
    "seed_states",
]
