"""What a family is (its declaration) and what every family's trainer shares (the base class).

A family module ends with one declaration::

    FAMILY = Family(name="cyclegan", config=Config, build_models=build_models, trainer=Trainer,
                    data="unpaired", directions={"AtoB": "generator_ab", "BtoA": "generator_ba"},
                    sample_columns=("a", "a_to_b", ...), demo=Demo(...))

and the registry (``families/__init__.py``) lists the module once. Everything else (the
CLI, run folders, evaluation, export, the demo, the notebooks, the contract test) reads
the declaration instead of knowing family names.

The trainer is a base class rather than a protocol plus helpers because what it owns is
state that must be created in one order inside one ``strategy.scope()`` (models, then
optimizers built on the variables they update, then a family's extra state), and because the
checkpoint layout derived from it must be the same for every family; a family writes
``setup`` (its optimizers and extra state), ``train_step`` and ``sample``.
"""

import dataclasses
from collections.abc import Callable, Mapping

import keras

from ..training.checkpoints import seed_states
from ..training.schedules import EpochLength, adam_for

DATA_KINDS = ("paired", "unpaired", "labels", "captions")


@dataclasses.dataclass(frozen=True)
class Demo:
    """A family's demo preset: the measured settings, the built-in dataset, and
    ``quality(trainer) -> dict`` of held-out figures for the report (optional).

    ``follow_up(run_dir) -> (suffix, config)``: a second run that builds on the first (StackGAN's
    Stage-II on its Stage-I run in ``run_dir``), trained into ``<run_dir><suffix>``; the demo's
    export and figures are then the second run's."""

    config: object
    dataset: str
    quality: Callable | None = None
    follow_up: Callable | None = None


@dataclasses.dataclass(frozen=True)
class TextToImage:
    """How a text-to-image family's trained run draws images from texts.

    ``embed(run_dir, texts) -> (N, D)`` float32 embeddings (``ValueError`` naming a text it cannot
    encode); ``draw(generator, embeddings, noise) -> {title: (N, S, S, C) images}`` in inference
    mode, the final images last (StackGAN: Stage-I's, then Stage-II's); ``noise_size(config)``: the
    columns of ``noise``; ``describe(config)``: what the generator's inputs are, for ``export.json``;
    ``files(run_dir)``: the run's files an export needs beside the generator (the text encoder).
    """

    embed: Callable
    draw: Callable
    noise_size: Callable
    describe: Callable
    files: Callable


@dataclasses.dataclass(frozen=True)
class Family:
    """One model family, declared once in its module.

    Args:
        name: the CLI name (``tfgan-translate train NAME``) and the run folder's ``family``.
        config: the frozen ``Config`` dataclass, whose defaults are the paper's.
        build_models: ``config -> {name: keras.Model}``.
        trainer: the ``Trainer`` class (a :class:`Trainer`).
        data: the kind of data it trains on: ``paired`` (A|B pairs), ``unpaired`` (two
            domains; paired data serve too), ``labels`` (class-labelled images) or ``captions``
            (images with their texts).
        directions: for translating families, which model translates each direction
            (``{"AtoB": "generator"}`` for a one-way family); empty for generating ones.
        generator: for generating families, the model that draws images from noise and codes.
        sample_columns: the columns of ``Trainer.sample``'s grid, left to right (or
            ``config -> columns`` when they depend on the config).
        column_titles: what each column shows, as its heading in grids (``{"a_to_b": "G(a)"}``;
            a column without one is headed by its key).
        row_titles: ``config -> headings of the grid's rows`` when rows mean something (the class
            of a conditional sample), else ``None`` (a row per example).
        demo: the :class:`Demo` preset of ``tfgan-translate demo --family NAME``.
        smoke_config: a tiny config of the same networks that trains in seconds on the demo
            data: what the family contract test (``tests/contract/``) runs.
        map_inputs: ``(config, run_dir) -> inputs or None`` for a family whose runs may translate
            maps rather than images (pix2pixHD's label maps): ``None`` for a run that takes
            images, else an object whose ``compose(map_path, instance_path, choice, seed)`` gives
            the generator's input array and ``describe()`` says how it is made (``export.json``).
        after_training: ``(trainer, source, run_dir) -> dict`` run once when a training run ends,
            with the training data's ``data.DataSource`` (pix2pixHD fits its k-means styles on the
            training split); the messages it returns go to the log.
        before_training: ``(source, run_dir, config) -> dict`` run when a training run starts, with its
            ``data.DataSource`` (StackGAN keeps the text encoder of its captions in the run folder,
            so that the run draws new captions later); the messages it returns go to the log.
        text_to_image: a :class:`TextToImage` for a family whose generator draws images from texts
            (``tfgan-translate generate``), else ``None``.
    """

    name: str
    config: type
    build_models: Callable
    trainer: type
    data: str
    sample_columns: tuple
    directions: Mapping = dataclasses.field(default_factory=dict)
    generator: str | None = None
    demo: Demo | None = None
    smoke_config: object = None
    column_titles: Mapping = dataclasses.field(default_factory=dict)
    row_titles: Callable | None = None
    map_inputs: Callable | None = None
    after_training: Callable | None = None
    before_training: Callable | None = None
    text_to_image: "TextToImage | None" = None

    def __post_init__(self):
        if self.data not in DATA_KINDS:
            raise ValueError(f"family {self.name}: data must be one of {', '.join(DATA_KINDS)}; got {self.data!r}")
        if bool(self.directions) == bool(self.generator):
            raise ValueError(f"family {self.name}: declare either directions (it translates) or generator (it generates)")
        self.trainer.family = self

    @property
    def translates(self):
        """Whether the family translates images (``translate`` and evaluation apply to it)."""
        return bool(self.directions)

    @property
    def generator_names(self):
        """The models a trained run is used through (translate, export, evaluate), in order."""
        return tuple(dict.fromkeys(self.directions.values())) if self.translates else (self.generator,)

    def columns(self, config):
        """The sample grid's columns for ``config``."""
        return tuple(self.sample_columns(config) if callable(self.sample_columns) else self.sample_columns)

    def grid_titles(self, columns):
        """The headings of the grid columns ``columns`` (keys of ``Trainer.sample``'s dict)."""
        return tuple(self.column_titles.get(key, key) for key in columns)

    def grid_rows(self, config):
        """The headings of the grid's rows for ``config``, or ``None``."""
        return tuple(self.row_titles(config)) if self.row_titles is not None else None

    def generator_for(self, direction):
        """The name of the model that translates ``direction`` (``AtoB`` or ``BtoA``)."""
        if direction not in self.directions:
            raise ValueError(f"a {self.name} run translates {' and '.join(self.directions)} only, not {direction}"
                             + ("; --direction BtoA needs a family with two generators (e.g. cyclegan)"
                                if len(self.directions) == 1 else ""))
        return self.directions[direction]


def seeded(build_models, config):
    """``build_models(config)`` after seeding Keras, NumPy and Python with ``config.seed``,
    so that the same config starts from the same weights (and dropout seeds)."""
    keras.utils.set_random_seed(config.seed)
    return build_models(config)


class Trainer:
    """Owns a family's config, models, optimizers and extra state; derives the checkpoint.

    Args:
        config: the family's ``Config`` (default: the paper's).
        steps_per_epoch: batches per epoch, which the learning-rate schedules count. ``None``
            leaves it to ``training.fit``, which binds the data's value before the first step;
            a trainer built with another value than the loop's is refused there.
        models: ``{name: keras.Model}`` to train instead of freshly built (seeded) ones.

    Every model is also an attribute of its name (``trainer.generator_ab``), every optimizer
    added in ``setup`` likewise (``trainer.generator_optimizer``).
    """

    family: Family = None  # set by the family's declaration

    def __init__(self, config=None, steps_per_epoch=None, models=None):
        self.config = self.family.config() if config is None else config
        self.epoch_length = EpochLength(steps_per_epoch)
        self.models = dict(models) if models is not None else seeded(self.family.build_models, self.config)
        for name, model in self.models.items():
            setattr(self, name, model)
        self.optimizers, self.optimizer_variables = {}, {}
        self.setup()
        for name, optimizer in self.optimizers.items():
            optimizer.build(self.optimizer_variables[name])

    # -- what a family writes -----------------------------------------------------------

    def setup(self):
        """Add the optimizers (``add_optimizer``) and create any extra state; called once."""
        raise NotImplementedError

    def train_step(self, batch):
        """One training step on a (per-replica) batch: ``dict`` of scalar losses; no Python state."""
        raise NotImplementedError

    def sample(self, batch):
        """``{column: image batch}`` for the sample grid, in inference mode (``family.sample_columns``)."""
        raise NotImplementedError

    def extra_state(self):
        """Stateful objects besides models and optimizers (image pools, random generators,
        counters) that a checkpoint must hold for an exact resume."""
        return {}

    # -- what the base derives -------------------------------------------------------------

    @property
    def steps_per_epoch(self):
        return self.epoch_length.steps

    def bind_steps_per_epoch(self, steps):
        """The loop's steps per epoch, checked against (or set as) the trainer's."""
        return self.epoch_length.bind(steps)

    def add_optimizer(self, name, optimizer, variables):
        """Register ``optimizer`` (checkpointed as ``name``) as the one that updates ``variables``."""
        self.optimizers[name] = optimizer
        self.optimizer_variables[name] = list(variables)
        setattr(self, name, optimizer)
        return optimizer

    def adam(self, updates_per_step=1, lr=None, active_epochs=None):
        """Adam with the config's rate, betas and schedule, on this trainer's epochs
        (``training.adam_for``)."""
        return adam_for(self.config, self.epoch_length, updates_per_step, lr, active_epochs)

    def checkpoint_items(self):
        """Everything an exact resume needs: models, optimizers, the models' random-seed
        states (dropout), and the family's ``extra_state()``."""
        return {
            **self.models,
            **self.optimizers,
            "seed_states": seed_states(self.models.values()),
            **self.extra_state(),
        }

    def check_batch(self, batch):
        """``ValueError`` when a batch's images are not ``config.image_size`` square (data made
        for another size), said before a step fails deep inside TensorFlow."""
        size = self.config.image_size
        parts = (batch.items() if isinstance(batch, Mapping) else enumerate(batch) if isinstance(batch, (tuple, list))
                 else [("images", batch)])
        for name, tensor in parts:
            shape = list(getattr(tensor, "shape", None) or ())
            if len(shape) == 4 and None not in shape[1:3] and shape[1:3] != [size, size]:
                raise ValueError(
                    f"the batches' {name!r} images are {shape[1]}x{shape[2]} px but the config's image_size is "
                    f"{size}: make the data at image_size={size}, or build the trainer with image_size={shape[1]}")

    def generators(self):
        """The models a trained run is used through, by name (see ``Family.generator_names``)."""
        return {name: self.models[name] for name in self.family.generator_names}
