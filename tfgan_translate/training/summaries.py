"""What a run shows a person: PNG sample grids and TensorBoard scalars/images."""

from pathlib import Path

import tensorflow as tf

from ..grids import labelled_grid, save_labelled_grid


SAMPLE_ROWS = 8  # examples shown in a training grid (a batch of 64 would make it 8,000 px tall)


def image_grid(columns, **options):
    """``grids.labelled_grid``: one row per example, one titled column per named batch."""
    return labelled_grid(columns, **options)


def save_grid(columns, path, **options):
    """``grids.save_labelled_grid``: the labelled grid of ``columns`` as a PNG at ``path``."""
    return save_labelled_grid(columns, path, **options)


def sample_grid(trainer, columns, max_rows=SAMPLE_ROWS):
    """A trainer's sample columns as the labelled grid its family declares (column headings such as
    ``G(a)``, row headings such as the class), at most ``max_rows`` examples when rows are examples."""
    family = getattr(trainer, "family", None)
    titles = family.grid_titles(columns) if family is not None else None
    rows = family.grid_rows(trainer.config) if family is not None else None
    return labelled_grid(columns, titles=titles, row_titles=rows, max_rows=None if rows else max_rows)


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
