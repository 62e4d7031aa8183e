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

from . import losses, networks
from .training import adam_for, apply_gradients, seed_states
from .translation import TranslationConfig, build_generator, mean_loss, seeded

FAMILY = "pix2pix"


@dataclasses.dataclass(frozen=True)
class Config(TranslationConfig):
    """The paper's defaults: unet_256, batch norm, vanilla GAN, lambda_L1 100, Adam 2e-4/0.5,
    100 + 100 epochs, batch 1."""

    generator: str = "unet"
    norm: str = "batch"
    use_dropout: bool = True
    gan_loss: str = "vanilla"
    lambda_l1: float = 100.0


def build_models(config):
    """``{"generator": G, "discriminator": D}``; D sees input and output concatenated."""
    return {
        "generator": build_generator(config, config.input_channels, config.output_channels, "generator"),
        "discriminator": networks.build_patchgan_discriminator(
            (None, None, config.input_channels + config.output_channels),
            ndf=config.ndf, n_layers=config.n_layers_d, norm=config.norm, name="discriminator",
        ),
    }


class Trainer:
    """Models, optimizers and the train step of pix2pix (no Python state between steps)."""

    family = FAMILY

    def __init__(self, config=None, steps_per_epoch=1, models=None):
        self.config = config or Config()
        self.models = models or seeded(build_models, self.config)
        self.generator = self.models["generator"]
        self.discriminator = self.models["discriminator"]
        self.generator_optimizer = adam_for(self.config, steps_per_epoch)
        self.discriminator_optimizer = adam_for(self.config, steps_per_epoch)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(self.config.gan_loss)

    def checkpoint_items(self):
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
            "seed_states": seed_states([self.generator, self.discriminator]),
        }

    def generators(self):
        """Generators by name, for translate and export (``AtoB`` is the only direction)."""
        return {"generator": self.generator}

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

    def sample(self, batch):
        """Grid columns: input, translation (inference mode), target."""
        return {
            "input": batch["a"],
            "translation": self.generator(batch["a"], training=False),
            "target": batch["b"],
        }
