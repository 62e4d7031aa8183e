"""``tfgan-translate generate``: draw images from texts with a trained text-to-image run.

One grid per call: a row per caption, a column per noise vector (column j uses the same noise
for every caption, so a row shows what the text changes and a column what the noise does).
A run that draws in stages (StackGAN Stage-II) writes a grid of each stage: the final one at
``--output`` and the earlier ones beside it (``grid_stage-i.png``).
"""

from pathlib import Path

import numpy as np

from .. import grids
from . import runs
from .outputs import check_file


def _stage_path(output, title):
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return output.with_name(f"{output.stem}_{slug}{output.suffix}")


def read_embeddings(path):
    """Text embeddings from a ``.npy`` file: ``(N, D)``, or ``(N, K, D)`` (K captions per image,
    as the reference's char-CNN-RNN pickles; the first caption of each is used)."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"--embeddings {path} cannot be read as a .npy array ({error}); save the embeddings "
                         "with numpy.save as an (N, D) float array") from None
    if array.ndim == 3:
        array = array[:, 0]
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise ValueError(f"--embeddings {path} holds a {array.dtype} array of shape {array.shape}; "
                         "expected finite numbers of shape (N, D) or (N, K, D)")
    return array.astype(np.float32)


def generate(run_dir, output, captions=(), embeddings=None, num=8, seed=0, overwrite=False, log=print):
    """Draw ``num`` images for each of ``captions`` (texts, embedded with the run's text encoder) or
    of the rows of ``embeddings`` (a ``.npy`` path) with the run in ``run_dir``; writes the grids
    and returns their paths (the final stage's first)."""
    if num < 1:
        raise ValueError(f"--num must be >= 1, got {num}")
    if not captions and embeddings is None:
        raise ValueError("give at least one --caption TEXT (or --embeddings FILE.npy)")
    if captions and embeddings is not None:
        raise ValueError("give --caption or --embeddings, not both")
    family, config = runs.load_run_config(run_dir)
    text_to_image = family.text_to_image
    if text_to_image is None:
        raise ValueError(f"{run_dir} is a {family.name} run, which does not draw images from texts "
                         "(generate is for text-to-image families such as stackgan)")
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"--output {output}: give a .png file name for the grid")
    if captions:
        vectors, titles = text_to_image.embed(run_dir, list(captions)), list(captions)
    else:
        vectors = read_embeddings(embeddings)
        titles = [f"embedding {i}" for i in range(len(vectors))]
    width = text_to_image.noise_size(config)
    family, config, generators, checkpoint = runs.load_trained(run_dir)
    generator = generators[family.generator]
    expected = int(generator.inputs[0].shape[-1])
    if vectors.shape[1] != expected:
        raise ValueError(f"the embeddings have {vectors.shape[1]} values, but the run's generator takes {expected}")
    noise = np.random.default_rng(seed).standard_normal((num, width)).astype(np.float32)
    rows = np.repeat(vectors, num, axis=0)
    drawn = text_to_image.draw(generator, rows, np.tile(noise, (len(vectors), 1)))
    final = list(drawn)[-1]
    paths = {title: output if title == final else _stage_path(output, title) for title in drawn}
    for path in paths.values():
        check_file(path, "--output", overwrite=overwrite)
    for title, path in paths.items():
        images = np.asarray(drawn[title]).reshape(len(vectors), num, *np.shape(drawn[title])[1:])
        columns = {f"noise {j + 1}": images[:, j] for j in range(num)}
        grids.save_labelled_grid(columns, path, row_titles=tuple(titles))
        log(f"wrote {path}: {title} images of {len(vectors)} text(s) x {num} noise vectors "
            f"(checkpoint {Path(checkpoint).name}, seed {seed})")
    return [paths[final]] + [path for title, path in paths.items() if title != final]
