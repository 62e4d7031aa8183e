"""Run folders from the outside: choose the training data, load a trained run's generators.

A run folder holds ``config.json`` (family and resolved config), ``checkpoints/``,
``samples/`` and ``logs/``; everything here finds what it needs from that folder alone.
"""

from pathlib import Path

import tensorflow as tf

from . import data
from .data.demo import DEMO_DATASETS
from .data.tfds_source import check_cycle_gan_name
from .families import GENERATIVE, PAIRED, family_module
from .training import config as config_io



def _is_image_folder(path):
    return path.is_dir() and any(p.is_file() for p in path.iterdir())


def _looks_like_a_path(name):
    return name.startswith((".", "/", "~")) or ("/" in name and not name.startswith("cycle_gan/"))


def training_dataset_fn(family, dataset, config, direction="AtoB", data_dir=None, strict=False):
    """``(epoch -> tf.data.Dataset, steps_per_epoch)`` for the CLI's ``--dataset`` value.

    ``dataset`` is ``demo-paired`` (edges -> photo), ``demo-gray2color``, ``demo-unpaired``
    (colour mapping with a known answer), a folder (``trainA/`` + ``trainB/`` for unpaired
    data; side-by-side A|B images, directly or in ``train/``, for paired data) or a tfds
    CycleGAN name such as ``horse2zebra``. Each epoch gets its own seed, so the batches of an
    epoch are the same in a resumed run.
    """
    module = family_module(family)
    if hasattr(module, "training_dataset_fn"):  # families with their own kind of data
        return module.training_dataset_fn(dataset, config, direction=direction, data_dir=data_dir, strict=strict)
    options = dict(image_size=config.image_size, batch_size=config.batch_size, deterministic=True)
    paired_only = family in PAIRED
    path = Path(dataset)
    if dataset in ("demo-paired", "demo-gray2color"):
        task = "edges2photo" if dataset == "demo-paired" else "gray2color"
        make = lambda seed: data.demo_paired(task, direction=direction, seed=seed, **options)  # noqa: E731
    elif dataset == "demo-unpaired":
        if paired_only:
            raise ValueError(f"{family} needs paired data; demo-unpaired has none (use demo-paired)")
        make = lambda seed: data.demo_unpaired(direction=direction, seed=seed, **options)  # noqa: E731
    elif dataset.startswith("demo-"):
        raise ValueError(f"unknown demo dataset {dataset!r}; choose one of {', '.join(DEMO_DATASETS)}")
    elif path.exists() or _looks_like_a_path(dataset):
        if not path.is_dir():
            raise ValueError(f"--dataset {dataset}: no such folder (expected trainA/ + trainB/, or side-by-side A|B images)")
        if (path / "trainA").is_dir() or (path / "trainB").is_dir():
            if paired_only:
                raise ValueError(
                    f"{family} needs paired data, but {dataset} has the unpaired trainA/trainB layout; "
                    "give a folder of side-by-side A|B images"
                )
            make = lambda seed: data.unaligned_folder(path, "train", direction=direction, seed=seed, strict=strict, **options)  # noqa: E731
        else:
            folder = path / "train" if _is_image_folder(path / "train") else path
            make = lambda seed: data.aligned_folder(folder, direction=direction, seed=seed, strict=strict, **options)  # noqa: E731
    else:
        check_cycle_gan_name(dataset)
        if paired_only:
            raise ValueError(f"{family} needs paired data; tfds cycle_gan datasets are unpaired")
        make = lambda seed: data.tfds_unpaired(dataset, "train", direction=direction, data_dir=data_dir, seed=seed, **options)  # noqa: E731

    first = make(config.seed * 100_003)
    steps = int(first.cardinality())
    if steps < 1:
        steps = sum(1 for _ in first)
    if steps < 1:
        raise ValueError(f"--dataset {dataset} gives no full batch of {config.batch_size}; lower --batch-size")

    def dataset_fn(epoch):
        return first if epoch == 0 else make(config.seed * 100_003 + epoch)

    return dataset_fn, steps


def load_run_config(run_dir):
    """``(family module, Config)`` saved in a run folder, or ``ValueError`` saying what is missing."""
    saved = config_io.read_config(run_dir)
    if saved is None:
        raise ValueError(f"{run_dir} is not a run folder (no {config_io.CONFIG_FILE}); train into it first")
    family, fields = saved
    module = family_module(family)
    return module, config_io.config_from_dict(module.Config, fields)


def load_generators(run_dir):
    """The trained generators of a run, by name, restored from its newest checkpoint."""
    module, config = load_run_config(run_dir)
    models = module.build_models(config)
    checkpoint_dir = Path(run_dir) / "checkpoints"
    latest = tf.train.latest_checkpoint(str(checkpoint_dir))
    if latest is None:
        raise ValueError(f"{run_dir} has no checkpoint in {checkpoint_dir}; train (or resume) it first")
    generators = {name: model for name, model in models.items() if name.startswith("generator")}
    tf.train.Checkpoint(**generators).restore(latest).expect_partial().assert_existing_objects_matched()
    return module.FAMILY, generators


def refuse_generative(family):
    """``ValueError`` for a family that draws images from noise and codes (nothing to translate)."""
    if family in GENERATIVE:
        raise ValueError(
            f"a {family} run generates digits from noise and codes; it does not translate images. "
            f"Its sample grids are in <run-dir>/samples/; draw chosen codes with tfgan_translate.{family}.sample"
        )


def generator_for_direction(generators, direction):
    """pix2pix has one generator; CycleGAN translates A->B with ``generator_ab`` and B->A with ``generator_ba``."""
    if "generator" in generators:
        if direction != "AtoB":
            raise ValueError("a pix2pix run translates in the direction it was trained; --direction BtoA needs a CycleGAN run")
        return generators["generator"]
    return generators["generator_ab" if direction == "AtoB" else "generator_ba"]
