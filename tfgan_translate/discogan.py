"""DiscoGAN: discovering cross-domain relations with GANs (Kim et al., 2017).

Paper symbols -> code (and the official code's names, SKTBrain/DiscoGAN):
    G_AB: A -> B = ``generator_ab``  (official ``generator_B``), x_AB = G_AB(x_A)
    G_BA: B -> A = ``generator_ba``  (official ``generator_A``), x_BA = G_BA(x_B)
    D_B          = ``discriminator_b``, judges domain B; D_A = ``discriminator_a``
    x_A = ``batch["a"]``, x_B = ``batch["b"]``.
Objective (paper eq. 5-7, with the official code's weights): for each direction,
    L_G_AB = (1 - r) (0.1 L_GAN_B + 0.9 L_FM_B) + r d(G_BA(G_AB(x_A)), x_A)
and L_G = L_G_AB + L_G_BA; L_D = 0.5 (BCE(D(x), 1) + BCE(D(G(.)), 0)) per discriminator.
``d`` is the reconstruction distance (``recon_loss``: MSE as the paper's default, L1,
cosine or hinge); L_FM matches the batch mean of D's intermediate features (official
``get_fm_loss``); r is the GAN curriculum: ``starting_rate`` 0.01 for the first
``gan_curriculum`` = 10,000 iterations, then ``default_rate`` 0.5.

Update schedule: the official loop updates the discriminators on every third iteration
and the generators on the other two (``update_interval`` 3), each on a fresh batch. A
``train_step`` may not branch on the step (an optimizer update inside ``tf.cond`` cannot
all-reduce under ``tf.distribute``), so one step is one official cycle on the step's
batch: 1 discriminator update, then ``update_interval - 1`` generator updates (each on
fresh translations). The 1:2 ratio and the order of updates are the official ones; the
curriculum counts official iterations (one per update) in ``iteration``.

Weight decay: PyTorch's ``Adam(weight_decay=1e-5)`` adds ``wd * w`` to every gradient (an
L2 term, not Keras' decoupled decay). Here ``0.5 * wd * sum(w^2)`` over the updated
variables (batch-norm scales and offsets included, as in PyTorch) is added to each loss,
whose gradient is exactly that.

Networks: see :mod:`tfgan_translate.networks.discogan` (64 px official; other sizes keep a
4x4 bottleneck, e.g. 3 levels at 32 px).

Example:
    >>> from tfgan_translate import discogan
    >>> trainer = discogan.Trainer(discogan.Config(image_size=32, ngf=8, ndf=8, batch_size=4))
"""

import dataclasses

import tensorflow as tf

from . import losses, networks
from .networks.discogan import depth_for
from .training import TrainConfig, adam_for, apply_gradients
from .translation import mean_loss, seeded, take_two_domain_models

FAMILY = "discogan"


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    """The official defaults: 64 px, batch 64, Adam 2e-4 (0.5, 0.999) at a constant rate,
    weight decay 1e-5, MSE reconstruction, 0.1 GAN + 0.9 feature matching, curriculum
    0.01 -> 0.5 after 10k iterations, discriminator every 3rd iteration.

    ``num_downs=None`` derives the depth from ``image_size`` (4 at 64 px, 3 at 32 px).
    """

    image_size: int = 64
    batch_size: int = 64
    n_epochs: int = 200
    n_epochs_decay: int = 0
    lr_policy: str = "constant"
    input_channels: int = 3
    output_channels: int = 3
    num_downs: int | None = None
    ngf: int = 64
    ndf: int = 64
    recon_loss: str = "mse"
    hinge_margin: float = 0.05
    gan_weight: float = 0.1
    fm_weight: float = 0.9
    starting_rate: float = 0.01
    default_rate: float = 0.5
    gan_curriculum: int = 10000
    update_interval: int = 3
    weight_decay: float = 1e-5

    def __post_init__(self):
        if self.num_downs is None:
            object.__setattr__(self, "num_downs", depth_for(self.image_size))
        losses.reconstruction_distance(self.recon_loss)
        if self.num_downs < 2 or self.image_size < 4 * 2**self.num_downs or self.image_size % 2**self.num_downs:
            raise ValueError(
                f"image_size {self.image_size} does not work with num_downs {self.num_downs}: it must be a multiple "
                f"of 2**num_downs and at least 4 * 2**num_downs (num_downs >= 2)"
            )
        if self.update_interval < 2:
            raise ValueError(f"update_interval must be >= 2 (1 discriminator + update_interval-1 generator updates); "
                             f"got {self.update_interval}")
        for name in ("starting_rate", "default_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1]; got {getattr(self, name)}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")


def build_models(config):
    """Two encoder-decoder generators and two DCGAN discriminators (returning features + logits)."""
    a, b = config.input_channels, config.output_channels

    def generator(cin, cout, name):
        return networks.build_encoder_decoder_generator(
            (None, None, cin), cout, depth=config.num_downs, ngf=config.ngf, name=name)

    def discriminator(channels, name):
        return networks.build_dcgan_discriminator(
            (None, None, channels), depth=config.num_downs, ndf=config.ndf, return_features=True, name=name)

    return {
        "generator_ab": generator(a, b, "generator_ab"),
        "generator_ba": generator(b, a, "generator_ba"),
        "discriminator_a": discriminator(a, "discriminator_a"),
        "discriminator_b": discriminator(b, "discriminator_b"),
    }


def l2_penalty(variables, weight_decay):
    """``0.5 * wd * sum(w^2)``, whose gradient ``wd * w`` is PyTorch's coupled weight decay;
    scaled for the number of replicas, since every replica adds it and gradients are summed."""
    if not weight_decay:
        return tf.constant(0.0)
    total = tf.add_n([tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])
    return tf.nn.scale_regularization_loss(0.5 * weight_decay * total)


class Trainer:
    """Models, optimizers, the iteration counter and the train step of DiscoGAN."""

    family = FAMILY

    def __init__(self, config=None, steps_per_epoch=1, models=None):
        self.config = config or Config()
        c = self.config
        take_two_domain_models(self, models or seeded(build_models, c))
        # The generator optimizer steps update_interval - 1 times per batch; its schedule counts epochs of data.
        self.generator_optimizer = adam_for(c, steps_per_epoch * (c.update_interval - 1))
        self.discriminator_optimizer = adam_for(c, steps_per_epoch)
        self.generator_optimizer.build(self.generator_variables)
        self.discriminator_optimizer.build(self.discriminator_variables)
        # Official iterations done (one per D or G update): drives the GAN curriculum.
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration",
                                     aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.distance = losses.reconstruction_distance(c.recon_loss)
        if c.recon_loss == "hinge":
            self.distance = lambda x, y: losses.hinge_distance(x, y, c.hinge_margin)

    def checkpoint_items(self):
        return {
            **self.models,
            "generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
            "iteration": self.iteration,
        }

    def generators(self):
        """``AtoB`` translates with ``generator_ab``, ``BtoA`` with ``generator_ba``."""
        return {"generator_ab": self.generator_ab, "generator_ba": self.generator_ba}

    def rate(self):
        """The curriculum weight r of the reconstruction term at the current iteration."""
        c = self.config
        return tf.where(self.iteration < c.gan_curriculum, c.starting_rate, c.default_rate)

    def _discriminator_update(self, real_a, real_b):
        fake_b = self.generator_ab(real_a, training=True)
        fake_a = self.generator_ba(real_b, training=True)
        with tf.GradientTape() as tape:
            d_a = 0.5 * mean_loss(losses.vanilla_discriminator_loss(
                self.discriminator_a(real_a, training=True)[-1], self.discriminator_a(fake_a, training=True)[-1]))
            d_b = 0.5 * mean_loss(losses.vanilla_discriminator_loss(
                self.discriminator_b(real_b, training=True)[-1], self.discriminator_b(fake_b, training=True)[-1]))
            loss = d_a + d_b + l2_penalty(self.discriminator_variables, self.config.weight_decay)
        apply_gradients(self.discriminator_optimizer, tape, loss, self.discriminator_variables)
        self.iteration.assign_add(1)
        return {"d_a": d_a, "d_b": d_b}

    def _adversarial_terms(self, discriminator, real, fake):
        """(GAN loss of the generator that made ``fake``, feature-matching loss against ``real``)."""
        *real_features, _ = discriminator(real, training=True)
        *fake_features, fake_logits = discriminator(fake, training=True)
        gan = mean_loss(losses.vanilla_generator_loss(fake_logits))
        fm = tf.nn.scale_regularization_loss(losses.batch_feature_matching_loss(real_features, fake_features))
        return gan, fm

    def _generator_update(self, real_a, real_b):
        c = self.config
        rate = self.rate()
        with tf.GradientTape() as tape:
            fake_b = self.generator_ab(real_a, training=True)
            fake_a = self.generator_ba(real_b, training=True)
            rec_a = self.generator_ba(fake_b, training=True)
            rec_b = self.generator_ab(fake_a, training=True)
            recon_a = mean_loss(self.distance(real_a, rec_a))
            recon_b = mean_loss(self.distance(real_b, rec_b))
            gan_ab, fm_b = self._adversarial_terms(self.discriminator_b, real_b, fake_b)
            gan_ba, fm_a = self._adversarial_terms(self.discriminator_a, real_a, fake_a)
            adversarial = c.gan_weight * (gan_ab + gan_ba) + c.fm_weight * (fm_a + fm_b)
            loss = ((1.0 - rate) * adversarial + rate * (recon_a + recon_b)
                    + l2_penalty(self.generator_variables, c.weight_decay))
        apply_gradients(self.generator_optimizer, tape, loss, self.generator_variables)
        self.iteration.assign_add(1)
        return {"g_gan_ab": gan_ab, "g_gan_ba": gan_ba, "fm_a": fm_a, "fm_b": fm_b,
                "recon_a": recon_a, "recon_b": recon_b}

    def train_step(self, batch):
        """One official cycle: a discriminator update, then ``update_interval - 1`` generator
        updates, on this batch. Returns the D losses and the last G update's losses."""
        real_a, real_b = batch["a"], batch["b"]
        results = self._discriminator_update(real_a, real_b)
        for _ in range(self.config.update_interval - 1):
            g_results = self._generator_update(real_a, real_b)
        return {**results, **g_results}

    def sample(self, batch):
        """Grid columns: a, G_AB(a), G_BA(G_AB(a)), b, G_BA(b), G_AB(G_BA(b)) in inference mode."""
        g, f = self.generator_ab, self.generator_ba
        fake_b = g(batch["a"], training=False)
        fake_a = f(batch["b"], training=False)
        return {
            "a": batch["a"], "a_to_b": fake_b, "a_to_b_to_a": f(fake_b, training=False),
            "b": batch["b"], "b_to_a": fake_a, "b_to_a_to_b": g(fake_a, training=False),
        }
