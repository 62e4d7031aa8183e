"""What a run shows a person: PNG sample grids and TensorBoard scalars/images."""

from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from ..data.preprocess import to_uint8


def image_grid(columns):
    """One row per example, one column per named batch (all ``(B, H, W, C)`` in [-1, 1]).

    Grayscale batches are shown as RGB; every column must share height and width.
    """
    tiles = []
    for images in columns.values():
        images = to_uint8(images).numpy()
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        tiles.append(images[..., :3])
    rows = [np.concatenate([t[i] for t in tiles], axis=1) for i in range(tiles[0].shape[0])]
    return np.concatenate(rows, axis=0)


def save_grid(columns, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(columns)).save(path)
    return path


class TensorBoardLog:
    """Scalars and image grids under ``<run_dir>/logs`` for ``tensorboard --logdir``."""

    def __init__(self, run_dir):
        self.writer = tf.summary.create_file_writer(str(Path(run_dir) / "logs"))

    def scalars(self, values, step):
        with self.writer.as_default(step=int(step)):
            for name, value in values.items():
                tf.summary.scalar(name, float(value))

    def grid(self, name, grid, step):
        with self.writer.as_default(step=int(step)):
            tf.summary.image(name, grid[None], max_outputs=1)

    def flush(self):
        self.writer.flush()
