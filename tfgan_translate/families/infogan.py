"""InfoGAN: a GAN whose latent codes become interpretable on their own (Chen et al., 2016).

Paper symbols -> code: z ~ N(0, I) of size ``noise_dim`` (62) = the ``noise`` input;
c = (c_cat, c_cont): a categorical code ``Cat(K = num_categories, uniform)`` as one-hot =
``categorical_code``, and ``num_continuous`` codes ``Unif(-1, 1)`` = ``continuous_code``;
G(z, c) = ``generator``; D and the auxiliary Q(c | x) share one trunk = ``discriminator``,
whose outputs are ``logits`` (D) and ``categorical_logits``, ``continuous_mean`` (and with
``learn_std`` ``continuous_log_std``) (Q; a fixed unit standard deviation otherwise).

Objective: min_{G,Q} max_D V(D, G) - lambda L_I(G, Q), where the variational bound
L_I = H(c) + E[log Q(c | G(z, c))] is maximised through the per-example losses
``categorical_code_loss`` (cross-entropy, weight ``lambda_categorical`` = 1) and
``gaussian_code_loss`` (Gaussian negative log-likelihood, weight ``lambda_continuous`` =
0.1); H(c) is a constant. D's step minimises the GAN term plus the weighted code losses
(the code losses train the Q head and the shared trunk, the GAN term the trunk and the D
head); G's step minimises the non-saturating GAN term plus the same code losses. Defaults
are the paper's MNIST settings: D lr 2e-4, G lr 1e-3, Adam beta1 0.5, batch 64.

Public samplers:
    >>> from tfgan_translate import infogan
    >>> trainer = infogan.Trainer(infogan.Config(hidden=64, ngf=8, ndf=8))
    >>> x = infogan.sample(trainer.generator, categorical=[0, 1, 2], continuous=[[0, 0]] * 3)
    >>> grid = infogan.traversal(trainer.generator, code=0)  # rows: categories; columns: c_0 from -2 to 2
``Trainer.sample(batch)`` is the loop's PNG grid: ``traversal`` of continuous code 0.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from ..losses import categorical_code_loss, gaussian_code_loss, mean_loss
from ..metrics import digit_quality
from ..networks import conditional
from ..networks.conditional import input_sizes, inputs_by_name
from ..training import apply_gradients
from ..training.config import option
from .base import Demo, Family
from .generation import GenerationConfig, GenerativeTrainer, fixed_noise, image_shape, step_seeds

TRAVERSAL = tuple(np.linspace(-2.0, 2.0, 9).round(2))  # beyond the prior's [-1, 1], as the paper shows


@dataclasses.dataclass(frozen=True)
class Config(GenerationConfig):
    """The paper's MNIST settings: 62 noise, one 10-way and two continuous codes, weights 1 and 0.1."""

    noise_dim: int = 62
    num_categories: int = option(10, "categories of the categorical code", minimum=2)
    num_continuous: int = option(2, "continuous codes")
    lambda_categorical: float = option(1.0, "weight of the categorical information term")
    lambda_continuous: float = option(0.1, "weight of the continuous information term")
    learn_std: bool = option(False, "Q predicts the continuous codes' standard deviations")
    hidden: int = option(1024, "hidden units of G's first dense layer and D's last", minimum=1)
    q_hidden: int = option(128, "hidden units of the Q head", minimum=1)
    lr: float = option(2e-4, "discriminator (and Q) learning rate", above=0)
    generator_lr: float = option(1e-3, "generator learning rate", above=0)

    def __post_init__(self):
        super().__post_init__()  # num_categories >= 2, num_continuous >= 0 and the rest are checked there


# -- models --------------------------------------------------------------------------------

def build_models(config):
    """``{"generator": G(noise, categorical_code[, continuous_code]), "discriminator": D+Q(image)}``."""
    codes = [("noise", config.noise_dim), ("categorical_code", config.num_categories),
             ("continuous_code", config.num_continuous)]
    shape = image_shape(config)
    return {
        "generator": conditional.build_conv_generator(codes, shape, ngf=config.ngf, hidden=config.hidden),
        "discriminator": conditional.build_infogan_discriminator(
            shape, config.num_categories, config.num_continuous, ndf=config.ndf, hidden=config.hidden,
            q_hidden=config.q_hidden, learn_std=config.learn_std),
    }


def sample(generator, categorical, continuous=None, seed=0, noise=None):
    """Images for the codes, in inference mode: ``(N, H, W, C)`` in [-1, 1].

    Args:
        generator: a trained (or exported) InfoGAN generator.
        categorical: ``N`` category indices.
        continuous: ``(N, num_continuous)`` values (the prior is Unif(-1, 1)); zeros by default.
        seed, noise: ``noise`` (``(N, noise_dim)``) or N(0, 1) drawn from ``seed``.
    """
    sizes = input_sizes(generator)
    categorical = np.asarray(categorical, dtype=np.int64).reshape(-1)
    k = sizes["categorical_code"]
    if categorical.size and (categorical.min() < 0 or categorical.max() >= k):
        raise ValueError(f"categorical codes must be in 0..{k - 1}; got {categorical.tolist()}")
    n = len(categorical)
    named = {"categorical_code": np.eye(k, dtype=np.float32)[categorical],
             "noise": fixed_noise(n, sizes["noise"], seed) if noise is None else noise}
    if "continuous_code" in sizes:
        shape = (n, sizes["continuous_code"])
        named["continuous_code"] = np.zeros(shape, np.float32) if continuous is None else \
            np.asarray(continuous, np.float32).reshape(shape)
    return generator(inputs_by_name(generator, named), training=False)


def traversal(generator, code=0, values=TRAVERSAL, seed=0):
    """A latent traversal for ``save_grid``: row k is category k, and column j sets continuous
    code ``code`` to ``values[j]`` (the other codes 0, one fixed noise vector for the grid)."""
    sizes = input_sizes(generator)
    k, n_cont = sizes["categorical_code"], sizes.get("continuous_code", 0)
    if not 0 <= code < n_cont:
        raise ValueError(f"code must index a continuous code (0..{n_cont - 1}); got {code}")
    noise = np.repeat(fixed_noise(1, sizes["noise"], seed), k, axis=0)
    columns = {}
    for value in values:
        continuous = np.zeros((k, n_cont), np.float32)
        continuous[:, code] = value
        columns[f"c{code}={value:+.2f}"] = sample(generator, np.arange(k), continuous, noise=noise)
    return columns


class Trainer(GenerativeTrainer):
    """Models, optimizers and the train step of InfoGAN (no Python state between steps).

    Noise and codes are drawn from (seed, optimizer step): nothing random lives outside the checkpoint.
    """

    def generator_lr(self):
        return self.config.generator_lr

    def draw_latents(self, batch_size, step):
        """``[z, c_cat one-hot, c_cont]`` of a step, drawn statelessly from the prior."""
        c = self.config
        noise_seed, cat_seed, cont_seed = step_seeds(c, step, 3)
        latents = [
            tf.random.stateless_normal([batch_size, c.noise_dim], noise_seed),
            tf.one_hot(tf.random.stateless_uniform([batch_size], cat_seed, 0, c.num_categories, tf.int32),
                       c.num_categories),
        ]
        if c.num_continuous:
            latents.append(tf.random.stateless_uniform([batch_size, c.num_continuous], cont_seed, -1.0, 1.0))
        return latents

    def code_losses(self, latents, outputs):
        """Per-example ``(categorical, continuous)`` information losses of Q's ``outputs`` for ``latents``."""
        categorical = categorical_code_loss(latents[1], outputs["categorical_logits"])
        if not self.config.num_continuous:
            return categorical, tf.zeros_like(categorical)
        return categorical, gaussian_code_loss(latents[2], outputs["continuous_mean"],
                                               outputs.get("continuous_log_std"))

    def _information(self, latents, outputs):
        q_cat, q_cont = (mean_loss(x) for x in self.code_losses(latents, outputs))
        return q_cat, q_cont, self.config.lambda_categorical * q_cat + self.config.lambda_continuous * q_cont

    def train_step(self, batch):
        """One D+Q update (GAN term on real/fake, information term on the fakes), then one G update."""
        real = batch["image"]
        latents = self.draw_latents(tf.shape(real)[0], self.discriminator_optimizer.iterations)
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape:
            fake = self.generator(latents, training=True)
            with g_tape.stop_recording():  # the D update is not part of G's gradient
                with tf.GradientTape() as d_tape:
                    real_out = self.discriminator(real, training=True)
                    fake_out = self.discriminator(tf.stop_gradient(fake), training=True)
                    d_gan = mean_loss(self.gan_discriminator_loss(real_out["logits"], fake_out["logits"]))
                    q_cat, q_cont, info = self._information(latents, fake_out)
                    d_loss = d_gan + info
                apply_gradients(self.discriminator_optimizer, d_tape, d_loss, d_vars)
            out = self.discriminator(fake, training=True)
            g_gan = mean_loss(self.gan_generator_loss(out["logits"]))
            g_loss = g_gan + self._information(latents, out)[2]
        apply_gradients(self.generator_optimizer, g_tape, g_loss, g_vars)
        return {"g_gan": g_gan, "d": d_gan, "q_cat": q_cat, "q_cont": q_cont}

    def sample_codes(self, categorical, continuous=None, seed=0):
        """``sample(self.generator, categorical, continuous, seed)``."""
        return sample(self.generator, categorical, continuous, seed=seed)

    def sample(self, batch=None):
        """The loop's grid: the traversal of continuous code 0 (or, without one, 8 noises per category)."""
        if self.config.num_continuous:
            return traversal(self.generator, 0, seed=self.config.seed + 1)
        k = self.config.num_categories
        return {f"z{j}": sample(self.generator, np.arange(k), seed=self.config.seed + 1 + j) for j in range(8)}


def sample_columns(config):
    """The grid's columns: the traversal of continuous code 0, or 8 noises without one."""
    if config.num_continuous:
        return tuple(f"c0={value:+.2f}" for value in TRAVERSAL)
    return tuple(f"z{j}" for j in range(8))


def demo_quality(trainer):
    """The demo's figures: the best-mapping categorical code -> digit accuracy of samples."""
    classifier, held_out = digit_quality.train_digit_classifier(trainer.config.image_size)
    score, mapping = digit_quality.infogan_code_accuracy(trainer.generator, classifier, sample)
    return {"code_class_accuracy": round(score, 3), "classifier_test_accuracy": round(held_out, 3),
            "code_to_class": {str(k): v for k, v in mapping.items()}}


# The demo (offline digits at 28 px, 22 batches of 64 per epoch): the networks at 128 hidden units,
# G 32 and D 16 filters (a weaker D keeps them balanced on 1,437 digits) for 80 epochs (1,760 steps,
# about two CPU minutes).
FAMILY = Family(
    name="infogan", config=Config, build_models=build_models, trainer=Trainer, data="labels", generator="generator",
    sample_columns=sample_columns,
    column_titles={**{f"c0={v:+.2f}": f"c0 = {v:+.1f}" for v in TRAVERSAL}, **{f"z{j}": f"noise {j + 1}" for j in range(8)}},
    row_titles=lambda config: tuple(f"code {k}" for k in range(config.num_categories)),
    demo=Demo(Config(hidden=128, ngf=32, ndf=16, n_epochs=80), "digits", demo_quality),
    smoke_config=Config(batch_size=8, ngf=4, ndf=4, hidden=16, q_hidden=8),
)
