"""DualGAN: unsupervised dual learning for image-to-image translation (Yi et al., 2017).

Paper symbols -> code:
    U = domain A = ``batch["a"]``, V = domain B = ``batch["b"]``
    G_A: U -> V = ``generator_ab`` (primal), G_B: V -> U = ``generator_ba`` (dual)
    D_A (judges V) = ``discriminator_b``, D_B (judges U) = ``discriminator_a``: Wasserstein
    critics that output scores, not probabilities.
Objective (paper eq. 1-3): critics minimise D_A(G_A(u)) - D_A(v) (and likewise D_B);
generators minimise
    lambda_U ||u - G_B(G_A(u))||_1 + lambda_V ||v - G_A(G_B(v))||_1 - D_A(G_A(u)) - D_B(G_B(v))
with lambda_U = ``lambda_a``, lambda_V = ``lambda_b`` (500 by default, the reference's
value; the paper uses 100-1000 and the official README commands 1000).

Lipschitz constraint (``lipschitz``): ``"clip"`` (paper) clamps every critic weight to
[-c, c] (c = ``clip_value`` = 0.01) after each critic update, batch-norm scales and
offsets included as in WGAN; ``"gp"`` adds gamma (``gp_weight`` = 10) times the WGAN-GP
penalty instead; ``"none"`` with ``gan_loss="vanilla"`` is the official TensorFlow code's
sigmoid cross-entropy variant.

n_critic: a ``train_step`` cannot branch on the step (an optimizer update inside
``tf.cond`` cannot all-reduce under ``tf.distribute``), so each step does ``n_critic``
critic updates and then one generator update, all on the step's batch. The translations
the critics see are computed once per step (the generators do not change during the
critic updates, so recomputing them would only resample dropout). RMSProp (lr 5e-5,
``rho`` 0.9 = the TF1 ``decay``) updates both critics with one optimizer and both
generators with another, as the reference.

Networks: U-Net generators (batch norm, dropout in the inner decoder blocks, like
pix2pix's); critics (``critic``) are the 70x70 PatchGAN without a final sigmoid
(``"patch"``, the paper) or a global critic (``"global"``): the DCGAN-style conv stack of
:mod:`tfgan_translate.networks.discogan` down to one score per image (a PatchGAN whose map
is averaged would be the same as ``"patch"`` under the Wasserstein loss, which already
averages the map). ``critic_norm=None`` means batch norm with clipping (the paper) and no
norm with the gradient penalty, which is per example and which batch norm would couple
across the batch (Gulrajani et al. drop it from the critic).

Example:
    >>> from tfgan_translate import dualgan
    >>> trainer = dualgan.Trainer(dualgan.Config(image_size=32, ngf=8, ndf=8, n_critic=2))
"""

import dataclasses

import tensorflow as tf

from .. import losses, networks
from ..losses import mean_loss
from ..networks.discogan import depth_for
from ..training import apply_gradients, rmsprop_for
from ..training.config import option
from .base import Demo, Family
from .translation import (
    TWO_DIRECTIONS, TWO_DOMAIN_COLUMNS, TWO_DOMAIN_TITLES, TranslationConfig, TwoDomainTrainer, build_generator,
    known_mapping_report,
)
LIPSCHITZ = ("clip", "gp", "none")
CRITICS = ("patch", "global")


@dataclasses.dataclass(frozen=True)
class Config(TranslationConfig):
    """The reference defaults: 256 px U-Net (batch norm, dropout), PatchGAN critics, WGAN with
    clipping 0.01 and n_critic 5, RMSProp 5e-5 at a constant rate, L1 reconstruction with
    lambda 500 per domain, batch 1, 45 epochs."""

    generator: str = "unet"
    norm: str = "batch"
    use_dropout: bool = True
    gan_loss: str = "wgan"
    lr: float = 5e-5
    rho: float = option(0.9, "RMSProp rho (the TF1 decay)", below=1)
    lr_policy: str = "constant"
    n_epochs: int = 45
    n_epochs_decay: int = 0
    lambda_a: float = option(500.0, "weight of the reconstruction of domain A")
    lambda_b: float = option(500.0, "weight of the reconstruction of domain B")
    recon_loss: str = option("l1", "reconstruction distance", tuple(losses.RECONSTRUCTION_DISTANCES))
    lipschitz: str = option("clip", "the critics' Lipschitz constraint", LIPSCHITZ)
    clip_value: float = option(0.01, "weight clipping bound", above=0)
    gp_weight: float = option(10.0, "gradient-penalty weight gamma")
    n_critic: int = option(5, "critic updates per generator update", minimum=1)
    critic: str = option("patch", "critic architecture", CRITICS)
    critic_norm: str | None = option(None, "the critics' norm (none: batch with clipping, none with the penalty)",
                                     networks.NORMS, derived="critic_normalization")

    def __post_init__(self):
        super().__post_init__()  # types, ranges and choices of every field (clip_value > 0, n_critic >= 1, ...)
        if self.critic == "global":
            depth_for(self.image_size)  # the global critic needs a power-of-2 size

    @property
    def critic_normalization(self):
        """``critic_norm``, or when ``None`` batch norm with clipping and none with the gradient penalty."""
        if self.critic_norm is not None:
            return self.critic_norm
        return "none" if self.lipschitz == "gp" else "batch"


def build_critic(config, channels, name):
    """A PatchGAN (scores map) or a global critic (one score per image) for ``channels``."""
    if config.critic == "patch":
        return networks.build_patchgan_discriminator(
            (None, None, channels), ndf=config.ndf, n_layers=config.n_layers_d, norm=config.critic_normalization, name=name)
    return networks.build_dcgan_discriminator(
        (None, None, channels), depth=depth_for(config.image_size), ndf=config.ndf, norm=config.critic_normalization, name=name)


def build_models(config):
    """Two U-Net (or ResNet) generators and two critics, named as in the module docstring."""
    a, b = config.input_channels, config.output_channels
    return {
        "generator_ab": build_generator(config, a, b, "generator_ab"),
        "generator_ba": build_generator(config, b, a, "generator_ba"),
        "discriminator_a": build_critic(config, a, "discriminator_a"),
        "discriminator_b": build_critic(config, b, "discriminator_b"),
    }


def clip_weights(variables, clip_value):
    """WGAN's Lipschitz constraint: clamp every variable to ``[-clip_value, clip_value]``."""
    for variable in variables:
        variable.assign(tf.clip_by_value(variable, -clip_value, clip_value))


class Trainer(TwoDomainTrainer):
    """Models, RMSProp optimizers and the train step of DualGAN."""

    def setup(self):
        c = self.config
        self.add_optimizer("generator_optimizer", rmsprop_for(c, self.epoch_length, rho=c.rho),
                           self.generator_variables)
        # The critics' optimizer steps n_critic times per batch; its schedule counts epochs of data.
        self.add_optimizer("discriminator_optimizer", rmsprop_for(c, self.epoch_length, c.n_critic, rho=c.rho),
                           self.discriminator_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(c.gan_loss)
        self.distance = losses.reconstruction_distance(c.recon_loss)
        # Interpolation weights of the gradient penalty; a variable, so resume stays exact.
        self.rng = tf.random.Generator.from_seed(c.seed * 2 + 1)

    def extra_state(self):
        return {"rng": self.rng}

    def _critic_loss(self, critic, real, fake):
        """The critic's loss on one domain, with its gradient penalty when ``lipschitz="gp"``."""
        loss = mean_loss(self.gan_discriminator_loss(critic(real, training=True), critic(fake, training=True)))
        penalty = tf.constant(0.0)
        if self.config.lipschitz == "gp":
            alpha = self.rng.uniform([tf.shape(real)[0]])
            penalty = mean_loss(losses.gradient_penalty(lambda x: critic(x, training=True), real, fake, alpha=alpha))
        return loss, penalty

    def _critic_update(self, real_a, real_b, fake_a, fake_b):
        c = self.config
        with tf.GradientTape() as tape:
            d_a, gp_a = self._critic_loss(self.discriminator_a, real_a, fake_a)
            d_b, gp_b = self._critic_loss(self.discriminator_b, real_b, fake_b)
            loss = d_a + d_b + c.gp_weight * (gp_a + gp_b)
        apply_gradients(self.discriminator_optimizer, tape, loss, self.discriminator_variables)
        if c.lipschitz == "clip":
            clip_weights(self.discriminator_variables, c.clip_value)
        results = {"d_a": d_a, "d_b": d_b}
        if c.lipschitz == "gp":
            results.update(gp_a=gp_a, gp_b=gp_b)
        return results

    def _generator_update(self, real_a, real_b):
        c = self.config
        with tf.GradientTape() as tape:
            fake_b = self.generator_ab(real_a, training=True)
            fake_a = self.generator_ba(real_b, training=True)
            rec_a = self.generator_ba(fake_b, training=True)
            rec_b = self.generator_ab(fake_a, training=True)
            g_ab = mean_loss(self.gan_generator_loss(self.discriminator_b(fake_b, training=True)))
            g_ba = mean_loss(self.gan_generator_loss(self.discriminator_a(fake_a, training=True)))
            recon_a = mean_loss(self.distance(real_a, rec_a))
            recon_b = mean_loss(self.distance(real_b, rec_b))
            loss = g_ab + g_ba + c.lambda_a * recon_a + c.lambda_b * recon_b
        apply_gradients(self.generator_optimizer, tape, loss, self.generator_variables)
        return {"g_ab": g_ab, "g_ba": g_ba, "recon_a": recon_a, "recon_b": recon_b}

    def train_step(self, batch):
        """``n_critic`` critic updates (clipping after each), then one generator update.
        Returns the last critic update's losses and the generator update's."""
        real_a, real_b = batch["a"], batch["b"]
        fake_b = tf.stop_gradient(self.generator_ab(real_a, training=True))
        fake_a = tf.stop_gradient(self.generator_ba(real_b, training=True))
        for _ in range(self.config.n_critic):
            results = self._critic_update(real_a, real_b, fake_a, fake_b)
        return {**results, **self._generator_update(real_a, real_b)}


# The demo: WGAN-GP (gamma 10, critics without norm) instead of clipping, lambda 20 per domain,
# instance norm in the U-Nets, n_critic 2, RMSProp 2e-4, batch 4, 1,000 steps. Measured (identity
# guess 13.46 dB): 16.3 dB (+2.8), 124 CPU s (2:23 wall on the loaded 2 cores). With batch norm in
# the U-Nets (or none) every variant stayed below the identity: the cycle pair settles on a
# low-contrast, partly inverted colour code (G_BA's batch norm hides G_AB's contrast from the cycle
# loss). The paper's clipping with lambda 500: 12.5 dB (the clipped critic's gradient is ~1e-5 of
# the L1 term's); WGAN-GP (batch-norm critics) with lambda 50 12.3 dB, lambda 20 12.1 dB (12.6 dB
# with no norm in the U-Nets); the official code's sigmoid GAN (lambda 20) 11.6 dB. Instance norm
# in the U-Nets with batch-norm WGAN-GP critics: 16.7 dB.
FAMILY = Family(
    name="dualgan", config=Config, build_models=build_models, trainer=Trainer, data="unpaired",
    directions=TWO_DIRECTIONS, sample_columns=TWO_DOMAIN_COLUMNS, column_titles=TWO_DOMAIN_TITLES,
    demo=Demo(Config(image_size=32, ngf=16, ndf=16, batch_size=4, lr=2e-4, n_critic=2, lipschitz="gp",
                     lambda_a=20.0, lambda_b=20.0, norm="instance", lr_policy="linear", n_epochs=5, n_epochs_decay=5),
              "demo-unpaired", known_mapping_report),
    smoke_config=Config(image_size=32, ngf=4, ndf=4, batch_size=2, n_critic=2),
)
