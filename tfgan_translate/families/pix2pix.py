"""pix2pix: paired image-to-image translation with a conditional GAN (Isola et al., 2017).

Paper symbols -> code: G (U-Net, x -> y) = ``generator``; D (PatchGAN on the pair (x, y))
= ``discriminator``; x = ``batch["a"]``, y = ``batch["b"]`` (the data's ``direction`` picks
which half is which). Objective: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), with
lambda = ``lambda_l1`` = 100; the discriminator's loss is halved, as in the reference.

Example:
    >>> from tfgan_translate import pix2pix
    >>> config = pix2pix.Config(image_size=32, ngf=8, ndf=8)
    >>> trainer = pix2pix.Trainer(config)
"""

import dataclasses

import tensorflow as tf

from .. import losses, networks
from ..losses import mean_loss
from ..training import apply_gradients
from ..training.config import option
from .base import Demo, Family
from .translation import PAIRED_COLUMNS, PAIRED_TITLES, PairedTrainer, TranslationConfig, build_generator


@dataclasses.dataclass(frozen=True)
class Config(TranslationConfig):
    """The paper's defaults: unet_256, batch norm, vanilla GAN, lambda_L1 100, Adam 2e-4/0.5,
    100 + 100 epochs, batch 1."""

    generator: str = "unet"
    norm: str = "batch"
    use_dropout: bool = True
    gan_loss: str = "vanilla"
    lambda_l1: float = option(100.0, "weight of the L1 term")


def build_models(config):
    """``{"generator": G, "discriminator": D}``; D sees input and output concatenated."""
    return {
        "generator": build_generator(config, config.input_channels, config.output_channels, "generator"),
        "discriminator": networks.build_patchgan_discriminator(
            (None, None, config.input_channels + config.output_channels),
            ndf=config.ndf, n_layers=config.n_layers_d, norm=config.norm, name="discriminator",
        ),
    }


class Trainer(PairedTrainer):
    """Models, optimizers and the train step of pix2pix (no Python state between steps)."""

    def setup(self):
        self.add_optimizer("generator_optimizer", self.adam(), self.generator.trainable_variables)
        self.add_optimizer("discriminator_optimizer", self.adam(), self.discriminator.trainable_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(self.config.gan_loss)

    def train_step(self, batch):
        """One D update, then one G update against the updated D (the reference order)."""
        real_a, real_b = batch["a"], batch["b"]
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape:
            fake_b = self.generator(real_a, training=True)
            with g_tape.stop_recording():  # the D update is not part of G's gradient
                with tf.GradientTape() as d_tape:
                    fake_pair = tf.concat([real_a, tf.stop_gradient(fake_b)], -1)
                    fake_logits = self.discriminator(fake_pair, training=True)
                    real_logits = self.discriminator(tf.concat([real_a, real_b], -1), training=True)
                    d_loss = 0.5 * mean_loss(self.gan_discriminator_loss(real_logits, fake_logits))
                apply_gradients(self.discriminator_optimizer, d_tape, d_loss, d_vars)
            g_gan = mean_loss(self.gan_generator_loss(
                self.discriminator(tf.concat([real_a, fake_b], -1), training=True)))
            g_l1 = mean_loss(losses.l1_loss(real_b, fake_b))
            g_loss = g_gan + self.config.lambda_l1 * g_l1
        apply_gradients(self.generator_optimizer, g_tape, g_loss, g_vars)
        return {"g_gan": g_gan, "g_l1": g_l1, "d": d_loss}


# The demo: edges -> photo at 32 px, the reference U-Net and PatchGAN at 16 filters, batch 4,
# learning rate 5e-4 for 5 epochs then the linear decay for 5 (1,000 steps).
FAMILY = Family(
    name="pix2pix", config=Config, build_models=build_models, trainer=Trainer, data="paired",
    directions={"AtoB": "generator"}, sample_columns=PAIRED_COLUMNS, column_titles=PAIRED_TITLES,
    demo=Demo(Config(image_size=32, ngf=16, ndf=16, batch_size=4, lr=5e-4, n_epochs=5, n_epochs_decay=5),
              "demo-paired"),
    smoke_config=Config(image_size=32, ngf=4, ndf=4, batch_size=2),
)
