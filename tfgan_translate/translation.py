"""What the translation families share: choosing a generator from a config, size rules,
and the one reduction of per-example losses."""

import dataclasses
import math

import keras
import tensorflow as tf

from . import losses, networks
from .training import TrainConfig

GENERATORS = ("unet", "resnet")


@dataclasses.dataclass(frozen=True)
class TranslationConfig(TrainConfig):
    """Fields every image-to-image family shares; each family sets the paper's defaults.

    ``input_channels`` are domain A's (the input), ``output_channels`` domain B's.
    ``num_downs=None`` derives the U-Net depth from ``image_size`` (unet_256 at 256 px).
    """

    input_channels: int = 3
    output_channels: int = 3
    generator: str = "unet"
    num_downs: int | None = None
    n_blocks: int = 9
    upsampling: str = "transpose"
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int = 3
    norm: str = "batch"
    use_dropout: bool = False
    gan_loss: str = "vanilla"

    def __post_init__(self):
        if self.generator == "unet":
            object.__setattr__(self, "num_downs", resolve_num_downs(self.image_size, self.num_downs))
        check_generator_config(self)
        losses.gan_losses(self.gan_loss)


def resolve_num_downs(image_size, num_downs):
    """``num_downs`` or, when ``None``, log2(image_size): ``unet_256`` at 256, ``unet_128`` at 128."""
    if num_downs is not None:
        return int(num_downs)
    downs = int(round(math.log2(image_size)))
    if 2**downs != image_size:
        raise ValueError(
            f"image_size {image_size} is not a power of 2, so the U-Net depth cannot be derived from it: "
            "set num_downs explicitly (image_size must be a multiple of 2**num_downs)"
        )
    return downs


def check_generator_config(config):
    """Validate the generator fields of a config at construction, naming the bad field."""
    if config.generator not in GENERATORS:
        raise ValueError(f"generator must be one of {', '.join(GENERATORS)}; got {config.generator!r}")
    if config.norm not in networks.NORMS:
        raise ValueError(f"norm must be one of {', '.join(networks.NORMS)}; got {config.norm!r}")
    if config.image_size < 8 or config.batch_size < 1:
        raise ValueError(f"image_size must be >= 8 and batch_size >= 1; got {config.image_size}, {config.batch_size}")
    multiple = size_multiple(config)
    if config.image_size % multiple:
        raise ValueError(
            f"image_size {config.image_size} does not work with the {config.generator} generator: "
            f"it must be a multiple of {multiple}"
        )


def size_multiple(config):
    """Height and width a config's generator accepts are multiples of this."""
    if config.generator == "unet":
        return 2 ** resolve_num_downs(config.image_size, config.num_downs)
    return 4


def build_generator(config, input_channels, output_channels, name):
    """The config's generator, with free height and width so that it translates any
    size it accepts (training uses ``image_size`` crops)."""
    shape = (None, None, input_channels)
    if config.generator == "unet":
        return networks.build_unet_generator(
            shape, output_channels, num_downs=resolve_num_downs(config.image_size, config.num_downs),
            ngf=config.ngf, norm=config.norm, use_dropout=config.use_dropout, name=name,
        )
    return networks.build_resnet_generator(
        shape, output_channels, ngf=config.ngf, n_blocks=config.n_blocks, norm=config.norm,
        upsampling=config.upsampling, use_dropout=config.use_dropout, name=name,
    )


def mean_loss(per_example):
    """Average per-example losses over the global batch (correct under tf.distribute)."""
    return tf.nn.compute_average_loss(per_example)


def seeded(build_models, config):
    """``build_models(config)`` after seeding Keras, NumPy and Python with ``config.seed``,
    so that the same config starts from the same weights (and dropout seeds)."""
    keras.utils.set_random_seed(config.seed)
    return build_models(config)


def take_two_domain_models(trainer, models):
    """Give an unpaired family's trainer its four models as attributes (``generator_ab``,
    ``generator_ba``, ``discriminator_a``, ``discriminator_b``) and the variables its two
    optimizers own: both generators' (``generator_variables``) and both discriminators'."""
    trainer.models = models
    trainer.generator_ab, trainer.generator_ba = models["generator_ab"], models["generator_ba"]
    trainer.discriminator_a, trainer.discriminator_b = models["discriminator_a"], models["discriminator_b"]
    trainer.generator_variables = trainer.generator_ab.trainable_variables + trainer.generator_ba.trainable_variables
    trainer.discriminator_variables = (
        trainer.discriminator_a.trainable_variables + trainer.discriminator_b.trainable_variables
    )
