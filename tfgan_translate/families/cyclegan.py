"""CycleGAN: unpaired image-to-image translation with cycle consistency (Zhu et al., 2017).

Paper symbols -> code (and the reference code's names):
    G: X -> Y  = ``generator_ab``  (reference netG_A)
    F: Y -> X  = ``generator_ba``  (reference netG_B)
    D_Y        = ``discriminator_b``, judges domain B (reference netD_A)
    D_X        = ``discriminator_a``, judges domain A (reference netD_B)
    X = ``batch["a"]``, Y = ``batch["b"]``.
Objective: L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda (||F(G(x)) - x||_1 + ||G(F(y)) - y||_1)
+ 0.5 lambda identity (||G(y) - y||_1 + ||F(x) - x||_1), with LSGAN losses, lambda 10 and
a pool of 50 past fakes for the discriminators, whose loss is halved.

Speed: instance norm is per example, so a generator's translation, identity and
reconstruction passes that do not depend on each other run as one larger batch
(3 generator calls per step instead of 6); with batch norm they stay separate.

Example:
    >>> from tfgan_translate import cyclegan
    >>> trainer = cyclegan.Trainer(cyclegan.Config(image_size=32, ngf=8, ndf=8, n_blocks=2))
"""

import dataclasses

import tensorflow as tf

from .. import losses, networks
from ..losses import mean_loss
from ..training import ImagePool, apply_gradients
from ..training.config import option
from .base import Demo, Family
from .translation import (
    TWO_DIRECTIONS, TWO_DOMAIN_COLUMNS, TWO_DOMAIN_TITLES, TranslationConfig, TwoDomainTrainer, build_generator,
    known_mapping_report,
)


@dataclasses.dataclass(frozen=True)
class Config(TranslationConfig):
    """The paper's defaults: resnet_9blocks, instance norm, LSGAN, cycle 10, identity 0.5,
    pool 50, Adam 2e-4/0.5, 100 + 100 epochs, batch 1."""

    generator: str = "resnet"
    norm: str = "instance"
    use_dropout: bool = False
    gan_loss: str = "lsgan"
    lambda_a: float = option(10.0, "weight of the cycle loss A -> B -> A")
    lambda_b: float = option(10.0, "weight of the cycle loss B -> A -> B")
    lambda_identity: float = option(0.5, "weight of the identity loss, relative to lambda_a/lambda_b")
    pool_size: int = option(50, "past fakes kept for the discriminators (0: none)")

    def __post_init__(self):
        super().__post_init__()
        if self.lambda_identity > 0 and self.input_channels != self.output_channels:
            raise ValueError(
                "lambda_identity > 0 needs the same number of channels in both domains "
                f"(got {self.input_channels} and {self.output_channels}); set lambda_identity=0"
            )


def build_models(config):
    """Two generators and two PatchGAN discriminators, named as in the module docstring."""
    a, b = config.input_channels, config.output_channels

    def discriminator(channels, name):
        return networks.build_patchgan_discriminator(
            (None, None, channels), ndf=config.ndf, n_layers=config.n_layers_d, norm=config.norm, name=name
        )

    return {
        "generator_ab": build_generator(config, a, b, "generator_ab"),
        "generator_ba": build_generator(config, b, a, "generator_ba"),
        "discriminator_a": discriminator(a, "discriminator_a"),
        "discriminator_b": discriminator(b, "discriminator_b"),
    }


class Trainer(TwoDomainTrainer):
    """Models, optimizers, image pools and the train step of CycleGAN."""

    def setup(self):
        c = self.config
        # One optimizer over both generators and one over both discriminators, as the reference.
        self.add_optimizer("generator_optimizer", self.adam(), self.generator_variables)
        self.add_optimizer("discriminator_optimizer", self.adam(), self.discriminator_variables)
        size = (c.image_size, c.image_size)
        self.pool_a = ImagePool(c.pool_size, (*size, c.input_channels), seed=c.seed * 2 + 1, name="pool_a")
        self.pool_b = ImagePool(c.pool_size, (*size, c.output_channels), seed=c.seed * 2 + 2, name="pool_b")
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(c.gan_loss)
        self.batched_passes = c.norm != "batch" and c.input_channels == c.output_channels

    def extra_state(self):
        return {"pool_a": self.pool_a, "pool_b": self.pool_b}

    def _generate(self, real_a, real_b):
        """fake_b = G(a), fake_a = F(b), rec_a = F(G(a)), rec_b = G(F(b)), idt_b = G(b), idt_a = F(a)."""
        use_identity = self.config.lambda_identity > 0
        g, f = self.generator_ab, self.generator_ba
        if self.batched_passes:
            n = tf.shape(real_a)[0]
            first = g(tf.concat([real_a, real_b], 0) if use_identity else real_a, training=True)
            fake_b = first[:n]
            second = f(tf.concat([real_b, fake_b, real_a] if use_identity else [real_b, fake_b], 0), training=True)
            fake_a, rec_a = second[:n], second[n:2 * n]
            rec_b = g(fake_a, training=True)
            idt_b = first[n:] if use_identity else None
            idt_a = second[2 * n:] if use_identity else None
        else:
            fake_b = g(real_a, training=True)
            rec_a = f(fake_b, training=True)
            fake_a = f(real_b, training=True)
            rec_b = g(fake_a, training=True)
            idt_b = g(real_b, training=True) if use_identity else None
            idt_a = f(real_a, training=True) if use_identity else None
        return fake_a, fake_b, rec_a, rec_b, idt_a, idt_b

    def train_step(self, batch):
        """One G update (both generators, D fixed), then one D update on pooled fakes."""
        c = self.config
        real_a, real_b = batch["a"], batch["b"]
        with tf.GradientTape() as g_tape:
            fake_a, fake_b, rec_a, rec_b, idt_a, idt_b = self._generate(real_a, real_b)
            g_ab = mean_loss(self.gan_generator_loss(self.discriminator_b(fake_b, training=True)))
            g_ba = mean_loss(self.gan_generator_loss(self.discriminator_a(fake_a, training=True)))
            cycle_a = mean_loss(losses.cycle_consistency_loss(real_a, rec_a))
            cycle_b = mean_loss(losses.cycle_consistency_loss(real_b, rec_b))
            g_loss = g_ab + g_ba + c.lambda_a * cycle_a + c.lambda_b * cycle_b
            results = {"g_ab": g_ab, "g_ba": g_ba, "cycle_a": cycle_a, "cycle_b": cycle_b}
            if c.lambda_identity > 0:
                idt_loss_a = mean_loss(losses.identity_loss(real_a, idt_a))
                idt_loss_b = mean_loss(losses.identity_loss(real_b, idt_b))
                g_loss += c.lambda_identity * (c.lambda_a * idt_loss_a + c.lambda_b * idt_loss_b)
                results.update(idt_a=idt_loss_a, idt_b=idt_loss_b)
        apply_gradients(self.generator_optimizer, g_tape, g_loss, self.generator_variables)

        pooled_a = self.pool_a.query(tf.stop_gradient(fake_a))
        pooled_b = self.pool_b.query(tf.stop_gradient(fake_b))
        with tf.GradientTape() as d_tape:
            d_a = 0.5 * mean_loss(self.gan_discriminator_loss(
                self.discriminator_a(real_a, training=True), self.discriminator_a(pooled_a, training=True)))
            d_b = 0.5 * mean_loss(self.gan_discriminator_loss(
                self.discriminator_b(real_b, training=True), self.discriminator_b(pooled_b, training=True)))
            d_loss = d_a + d_b
        apply_gradients(self.discriminator_optimizer, d_tape, d_loss, self.discriminator_variables)
        return {**results, "d_a": d_a, "d_b": d_b}


# The demo: the colour mapping with a known answer at 32 px, the reference ResNet generator
# (3 blocks) and PatchGAN at 16 filters, batch 4, learning rate 5e-4 for 10 epochs then the
# reference's linear decay for 10 (2,000 steps). The identity loss is off: the demo's true
# mapping moves every colour, so an identity term pulls against the answer.
FAMILY = Family(
    name="cyclegan", config=Config, build_models=build_models, trainer=Trainer, data="unpaired",
    directions=TWO_DIRECTIONS, sample_columns=TWO_DOMAIN_COLUMNS, column_titles=TWO_DOMAIN_TITLES,
    demo=Demo(Config(image_size=32, ngf=16, ndf=16, n_blocks=3, batch_size=4, lr=5e-4, lambda_identity=0.0,
                     n_epochs=10, n_epochs_decay=10), "demo-unpaired", known_mapping_report),
    smoke_config=Config(image_size=32, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=2),
)
