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

MAX_NUM, MAX_ROWS = 64, 256  # a grid's columns (noise vectors) and rows (texts)
TITLE_CHARS = 60  # a row's caption heading is cut to this length


def _stage_path(output, title):
    slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return output.with_name(f"{output.stem}_{slug}{output.suffix}")


def read_embeddings(path):
    """Text embeddings from a ``.npy`` file: ``(N, D)``, or ``(N, K, D)`` (K captions per image,
    as the reference's char-CNN-RNN pickles; the first caption of each is used)."""
    path = Path(path)
    advice = "save the embeddings with numpy.save as one (N, D) float array in a .npy file"
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"--embeddings {path} cannot be read as a .npy array ({first}); {advice}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        raise ValueError(f"--embeddings {path} is an .npz archive of several arrays; {advice}")
    if array.ndim == 3:
        array = array[:, 0]
    if array.ndim != 2 or array.dtype.kind not in "iuf":
        raise ValueError(f"--embeddings {path} holds a {array.dtype} array of shape {array.shape}; "
                         "expected real numbers of shape (N, D) or (N, K, D)")
    with np.errstate(over="ignore", invalid="ignore"):
        values = array.astype(np.float32)
    if not len(values):
        raise ValueError(f"--embeddings {path} holds no rows; {advice}")
    if not np.isfinite(values).all():
        raise ValueError(f"--embeddings {path} holds values that are not finite numbers in float32 (NaN, infinity "
                         "or beyond 3.4e38)")
    return values


def generate(run_dir, output, captions=(), embeddings=None, num=8, seed=0, overwrite=False, log=print):
    """Draw ``num`` images for each of ``captions`` (texts, embedded with the run's text encoder) or
    of the rows of ``embeddings`` (a ``.npy`` path) with the run in ``run_dir``; writes the grids
    and returns their paths (the final stage's first)."""
    if not 1 <= num <= MAX_NUM:
        raise ValueError(f"--num must be between 1 and {MAX_NUM} (the grid's columns), got {num}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if not captions and embeddings is None:
        raise ValueError("give at least one --caption TEXT (or --embeddings FILE.npy)")
    if captions and embeddings is not None:
        raise ValueError("give --caption or --embeddings, not both")
    if not Path(run_dir).is_dir():
        raise ValueError(f"--run-dir {run_dir} does not exist; give the folder of a trained text-to-image run")
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
    if len(vectors) > MAX_ROWS:
        raise ValueError(f"{len(vectors)} texts: a grid takes at most {MAX_ROWS} rows; split them over several calls")
    titles = [title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 3] + "..." for title in titles]
    width = text_to_image.noise_size(config)
    family, config, generators, checkpoint = runs.load_trained(run_dir)
    generator = generators[family.generator]
    expected = int(generator.inputs[0].shape[-1])
    if vectors.shape[1] != expected:
        raise ValueError(f"the embeddings have {vectors.shape[1]} values, but the run's generator takes {expected}")
    noise = np.random.default_rng(seed).standard_normal((num, width)).astype(np.float32)
    rows, noises = np.repeat(vectors, num, axis=0), np.tile(noise, (len(vectors), 1))
    drawn = text_to_image.draw(generator, rows, noises)
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
