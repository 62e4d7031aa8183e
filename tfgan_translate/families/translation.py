"""What the translation families share: the config fields, choosing a generator from a
config, size rules, and the trainer bases of the two-domain and the paired families."""

import dataclasses
import math

from .. import losses, networks
from ..metrics import demo_quality
from ..training import TrainConfig
from ..training.config import option
from .base import Trainer

GENERATORS = ("unet", "resnet")
UNET_MIN_DEPTH = 5  # the U-Net's fixed outer levels (ngf .. 8 ngf) take five downsamplings
UPSAMPLING = ("transpose", "resize")


@dataclasses.dataclass(frozen=True)
class TranslationConfig(TrainConfig):
    """Fields every image-to-image family shares; each family sets the paper's defaults.

    ``input_channels`` are domain A's (the input), ``output_channels`` domain B's.
    ``num_downs=None`` derives the U-Net depth from ``image_size`` (unet_256 at 256 px): see
    ``unet_depth``.
    """

    input_channels: int = option(3, "channels of domain A (the input)", minimum=1)
    output_channels: int = option(3, "channels of domain B (the output)", minimum=1)
    generator: str = option("unet", "generator architecture", GENERATORS)
    num_downs: int | None = option(None, "U-Net downsamplings (none: log2 of --image-size)", derived="unet_depth", minimum=1)
    n_blocks: int = option(9, "residual blocks of the ResNet generator")
    upsampling: str = option("transpose", "ResNet generator upsampling", UPSAMPLING)
    ngf: int = option(64, "generator filters in the first layer", minimum=1)
    ndf: int = option(64, "discriminator filters in the first layer", minimum=1)
    n_layers_d: int = option(3, "PatchGAN layers (3: the 70x70 PatchGAN)", minimum=1)
    norm: str = option("batch", "normalization layers", networks.NORMS)
    use_dropout: bool = option(False, "dropout in the generator")
    gan_loss: str = option("vanilla", "GAN objective", tuple(losses.GAN_LOSSES))

    def __post_init__(self):
        super().__post_init__()  # types, ranges and choices of every field
        check_generator_config(self)

    @property
    def unet_depth(self):
        """The U-Net's downsamplings: ``num_downs``, or log2(image_size) when it is ``None``."""
        return resolve_num_downs(self.image_size, self.num_downs)

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
    """Validate how the generator fields fit together (each field alone is checked by
    ``TrainConfig.__post_init__``), naming the bad field."""
    if config.image_size < 8:
        raise ValueError(f"image_size must be >= 8; got {config.image_size}")
    if config.generator == "unet" and config.num_downs is not None and config.num_downs < UNET_MIN_DEPTH:
        raise ValueError(f"num_downs must be >= {UNET_MIN_DEPTH} for the U-Net generator (its five outer levels); "
                         f"got {config.num_downs}")
    if config.generator == "unet" and config.unet_depth < UNET_MIN_DEPTH:
        raise ValueError(
            f"image_size {config.image_size} is too small for the U-Net generator: it needs at least "
            f"{2**UNET_MIN_DEPTH} px (num_downs >= {UNET_MIN_DEPTH}; num_downs is log2(image_size) unless set), "
            "or use generator=resnet")
    multiple = size_multiple(config)
    if config.image_size % multiple:
        raise ValueError(
            f"image_size {config.image_size} does not work with the {config.generator} generator: "
            f"it must be a multiple of {multiple}"
        )


def size_multiple(config):
    """Height and width a config's generator accepts are multiples of this."""
    if config.generator == "unet":
        return 2 ** config.unet_depth
    return 4


def build_generator(config, input_channels, output_channels, name):
    """The config's generator, with free height and width so that it translates any
    size it accepts (training uses ``image_size`` crops)."""
    shape = (None, None, input_channels)
    if config.generator == "unet":
        return networks.build_unet_generator(
            shape, output_channels, num_downs=config.unet_depth,
            ngf=config.ngf, norm=config.norm, use_dropout=config.use_dropout, name=name,
        )
    return networks.build_resnet_generator(
        shape, output_channels, ngf=config.ngf, n_blocks=config.n_blocks, norm=config.norm,
        upsampling=config.upsampling, use_dropout=config.use_dropout, name=name,
    )


class TwoDomainTrainer(Trainer):
    """The base of the unpaired families with two generators and two discriminators
    (CycleGAN, DiscoGAN, DualGAN): the variable lists their two optimizers update and the
    cycle grid."""

    @property
    def generator_variables(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    @property
    def discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def sample(self, batch):
        """Grid columns: a, G(a), F(G(a)), b, F(b), G(F(b)) in inference mode."""
        g, f = self.generator_ab, self.generator_ba
        fake_b = g(batch["a"], training=False)
        fake_a = f(batch["b"], training=False)
        return {
            "a": batch["a"], "a_to_b": fake_b, "a_to_b_to_a": f(fake_b, training=False),
            "b": batch["b"], "b_to_a": fake_a, "b_to_a_to_b": g(fake_a, training=False),
        }


TWO_DOMAIN_COLUMNS = ("a", "a_to_b", "a_to_b_to_a", "b", "b_to_a", "b_to_a_to_b")
TWO_DIRECTIONS = {"AtoB": "generator_ab", "BtoA": "generator_ba"}
# The grid's headings in the CycleGAN paper's notation: G = generator_ab (A -> B), F = generator_ba.
TWO_DOMAIN_TITLES = {"a": "a", "a_to_b": "G(a)", "a_to_b_to_a": "F(G(a))",
                     "b": "b", "b_to_a": "F(b)", "b_to_a_to_b": "G(F(b))"}


def known_mapping_report(trainer):
    """The unpaired demos' figures on ``demo-unpaired``: PSNR of A -> B against the true
    mapping, next to the identity guess's."""
    return demo_quality.known_mapping_report(trainer.generator_ab, trainer.config.image_size)


class PairedTrainer(Trainer):
    """The base of the paired families with one generator (pix2pix, pix2pixHD): the grid."""

    def generator_input(self, batch):
        """What the generator translates (the input image; pix2pixHD adds its maps)."""
        return batch["a"]

    def sample(self, batch):
        """Grid columns: input, translation (inference mode), target."""
        return {
            "input": batch["a"],
            "translation": self.generator(self.generator_input(batch), training=False),
            "target": batch["b"],
        }


PAIRED_COLUMNS = ("input", "translation", "target")
PAIRED_TITLES = {"input": "input x", "translation": "G(x)", "target": "target y"}
