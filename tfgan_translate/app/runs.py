"""Run folders from the outside: a family's training data, a trained run's config and generators.

A run folder holds ``config.json`` (family and resolved config), ``checkpoints/``,
``samples/`` and ``logs/``; everything here finds what it needs from that folder alone.
"""

from pathlib import Path

from .. import data, families
from ..training.checkpoints import restore_models
from ..training.run_folder import RunFolder


def training_dataset_fn(family, dataset, config, direction="AtoB", data_dir=None, strict=False, shard=None):
    """``(epoch -> tf.data.Dataset, steps_per_epoch)`` of a ``--dataset`` value for family
    ``family`` (a name or a ``Family``) at ``config``'s size, batch and seed
    (``data.resolve``; each epoch's batches are a function of the seed); ``shard``: this
    worker's share of a multi-worker run (``distribute.worker_shard``)."""
    family = families.get(family) if isinstance(family, str) else family
    source = data.resolve(dataset, family.data, data_dir=data_dir, strict=strict)
    if family.data == "labels":
        channels = config.channels
    elif hasattr(config, "input_channels"):
        channels = (config.input_channels, config.output_channels)
    else:
        channels = None
    extra = {"jitter": config.jitter, "embedding_dim": config.embedding_dim} if family.data == "captions" else {}
    return source.training(config.image_size, config.batch_size, config.seed, direction, channels, shard,
                           labels=label_options(config), **extra)


def label_options(config):
    """``(label_nc, use_instance)`` of a config that can translate label maps (its ``label_data``), or
    ``None`` for a family without label maps."""
    return getattr(config, "label_data", None)


def load_run_config(run_dir):
    """``(Family, Config)`` saved in a run folder, or ``ValueError`` saying what is missing."""
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    if folder.saved is None:
        raise ValueError(f"{run_dir} is not a run folder (no config.json); train into it first")
    family = families.get(folder.saved[0])
    return family, folder.saved_config(family.config)


def load_trained(run_dir):
    """``(Family, Config, {name: generator}, checkpoint path)``: the models a trained run is used
    through, restored from its newest loadable checkpoint (an older one when the newest is
    damaged, the same choice ``train`` makes when it resumes)."""
    family, config = load_run_config(run_dir)
    models = family.build_models(config)
    generators = {name: models[name] for name in family.generator_names}
    checkpoint = restore_models(generators, Path(str(run_dir)))
    return family, config, generators, checkpoint


def load_generators(run_dir):
    """``(Family, {name: generator})`` of a trained run (see :func:`load_trained`)."""
    family, _, generators, _ = load_trained(run_dir)
    return family, generators


def refuse_generative(family):
    """``ValueError`` for a family that draws images from noise and codes (nothing to translate)."""
    if family.text_to_image is not None:
        raise ValueError(f"{family.name} runs draw images from texts; they do not translate images. Draw from "
                         f"captions with: tfgan-translate generate --run-dir RUN --caption TEXT --output grid.png")
    if not family.translates:
        raise ValueError(
            f"{family.name} runs generate images from noise and codes; they do not translate images. "
            f"Its sample grids are in <run-dir>/samples/; draw chosen codes with tfgan_translate.{family.name}.sample"
        )


def generator_for_direction(family, generators, direction):
    """The generator of ``generators`` that translates ``direction`` in a run of ``family``."""
    return generators[family.generator_for(direction)]


def _run_hook(hook, family, dataset, data_dir, strict, log, call):
    """``call(hook, source)`` for a family's hook (``None``: nothing), its messages logged."""
    if hook is None:
        return {}
    source = data.resolve(dataset, family.data, data_dir=data_dir, strict=strict)
    done = call(hook, source) or {}
    for message in done.values():
        log(message)
    return done


def before_training(family, dataset, run_dir, config, data_dir=None, strict=False, log=print):
    """The family's step before training ``config`` on ``dataset`` (StackGAN's text encoder), with its message."""
    return _run_hook(family.before_training, family, dataset, data_dir, strict, log,
                     lambda hook, source: hook(source, run_dir, config))


def after_training(family, trainer, dataset, run_dir, data_dir=None, strict=False, log=print):
    """The family's step after a finished training on ``dataset`` (pix2pixHD's k-means styles), with its
    message."""
    return _run_hook(family.after_training, family, dataset, data_dir, strict, log,
                     lambda hook, source: hook(trainer, source, run_dir))
