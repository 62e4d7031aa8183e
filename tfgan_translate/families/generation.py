"""What the noise-to-image families (CGAN, InfoGAN) share: the config fields, the trainer
base, and per-step random draws that need no state of their own.

The random noise and codes of a train step are drawn statelessly from
``(config.seed, optimizer step, replica id)``: a resumed run draws exactly what an
uninterrupted one would (the step lives in the optimizer's checkpoint), and replicas under
``tf.distribute`` draw different noise.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from .. import losses
from ..training import TrainConfig
from ..training.config import option
from .base import Trainer


@dataclasses.dataclass(frozen=True)
class GenerationConfig(TrainConfig):
    """Fields both families share (each sets its paper's defaults).

    Images are ``image_size`` square with ``channels`` (28 px grayscale, MNIST's shape; the
    convolutional networks need a multiple of 4). The learning rate is constant unless
    ``lr_policy`` says otherwise; ``n_epochs + n_epochs_decay`` epochs are trained.
    """

    image_size: int = 28
    channels: int = option(1, "image channels", minimum=1)
    batch_size: int = 64
    noise_dim: int = option(100, "size of the noise vector z", minimum=1)
    ngf: int = option(64, "generator filters (convolutional networks)", minimum=1)
    ndf: int = option(64, "discriminator filters (convolutional networks)", minimum=1)
    n_epochs: int = 50
    n_epochs_decay: int = 0
    lr_policy: str = "constant"
    gan_loss: str = option("vanilla", "GAN objective", tuple(losses.GAN_LOSSES))

    def __post_init__(self):
        super().__post_init__()
        check_generation_config(self)

    @property
    def convolutional(self):
        """Whether the networks are convolutional (their image side must be a multiple of 4)."""
        return True


def check_generation_config(config):
    """Validate how the shared fields fit together (each field alone is checked by
    ``TrainConfig.__post_init__``), naming the bad one."""
    if config.image_size < 4:
        raise ValueError(f"image_size must be >= 4; got {config.image_size}")
    if config.convolutional and config.image_size % 4:
        raise ValueError(f"image_size {config.image_size} does not work with the convolutional networks: "
                         "it must be a multiple of 4 (e.g. 28 or 32)")


def image_shape(config):
    return (config.image_size, config.image_size, config.channels)


def step_seeds(config, step, count):
    """``count`` stateless seeds (each shape ``(2,)``) for this step, replica and run seed."""
    context = tf.distribute.get_replica_context()
    replica = context.replica_id_in_sync_group if context is not None else 0
    base = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(step, tf.int64)])
    base = tf.random.experimental.stateless_fold_in(base, tf.cast(replica, tf.int32))
    return tf.unstack(tf.random.experimental.stateless_split(base, count))


def fixed_noise(count, noise_dim, seed):
    """The same ``(count, noise_dim)`` N(0, 1) noise for a seed (for sample grids)."""
    return np.random.default_rng(seed).standard_normal((count, noise_dim)).astype(np.float32)


class GenerativeTrainer(Trainer):
    """The base of the noise-to-image families: one generator, one discriminator, an Adam each
    (the generator's at ``generator_lr`` when the config has one), and the GAN losses."""

    def setup(self):
        self.add_optimizer("generator_optimizer", self.adam(lr=self.generator_lr()), self.generator.trainable_variables)
        self.add_optimizer("discriminator_optimizer", self.adam(), self.discriminator.trainable_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(self.config.gan_loss)

    def generator_lr(self):
        """The generator's learning rate (``None``: the config's ``lr``)."""
        return None
