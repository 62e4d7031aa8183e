"""CGAN: conditional GAN that draws a chosen class (Mirza & Osindero, 2014).

Paper symbols -> code: z ~ N(0, I) of size ``noise_dim`` = the ``noise`` input; y, the
one-hot class, = the ``class_one_hot`` input (from ``batch["label"]``); G(z | y) =
``generator``; D(x | y) = ``discriminator`` (one logit). Objective, the vanilla GAN
conditioned on y: min_G max_D E[log D(x | y)] + E[log(1 - D(G(z | y) | y))], with the
non-saturating generator loss -log D(G(z | y) | y) (``losses.vanilla_*``). Fakes are drawn
with the labels of the real batch, so both halves of D's loss see the same classes.

Networks (``architecture``): ``"mlp"``, the book chapter's (z and y concatenated -> dense
128 -> image; D: image and y concatenated -> dense 128 -> logit); ``"conv"``, DCGAN-style
(z and y concatenated -> dense -> 7x7 map -> two ConvT4 s2) with a projection
discriminator (y enters as a learned embedding dotted with D's features). Defaults follow
the chapter: MLP, hidden 128, z of 100, Adam lr 1e-3 beta1 0.5, batch 64, 28 px.

Drawing chosen classes (the public sampler):
    >>> from tfgan_translate import cgan
    >>> trainer = cgan.Trainer(cgan.Config())
    >>> sevens = cgan.sample(trainer.generator, [7, 7, 7], seed=0)   # (3, 28, 28, 1) in [-1, 1]
``Trainer.sample(batch)`` is the loop's PNG grid: one row per class, one column per noise.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from ..losses import mean_loss
from ..metrics import digit_quality
from ..networks import conditional
from ..networks.conditional import input_sizes, inputs_by_name
from ..training import apply_gradients
from ..training.config import option
from .base import Demo, Family
from .generation import GenerationConfig, GenerativeTrainer, fixed_noise, image_shape, step_seeds

GRID_COLUMNS = 8  # noise vectors per class in the sample grid


@dataclasses.dataclass(frozen=True)
class Config(GenerationConfig):
    """The chapter's defaults: MLP with 128 hidden units, z of 100, Adam 1e-3 (beta1 0.5)."""

    num_classes: int = option(10, "number of classes", minimum=2)
    architecture: str = option("mlp", "networks: the chapter's MLP or DCGAN-style", conditional.ARCHITECTURES)
    hidden: int = option(128, "hidden units", minimum=1)
    lr: float = 1e-3

    def __post_init__(self):
        super().__post_init__()  # architecture's choices and num_classes >= 2 are checked there

    @property
    def convolutional(self):
        return self.architecture == "conv"


def build_models(config):
    """``{"generator": G(noise, class_one_hot), "discriminator": D(image, class_one_hot)}``."""
    codes = [("noise", config.noise_dim), ("class_one_hot", config.num_classes)]
    shape = image_shape(config)
    if config.architecture == "mlp":
        return {
            "generator": conditional.build_mlp_generator(codes, shape, hidden=config.hidden),
            "discriminator": conditional.build_mlp_discriminator(shape, config.num_classes, hidden=config.hidden),
        }
    return {
        "generator": conditional.build_conv_generator(codes, shape, ngf=config.ngf, hidden=config.hidden),
        "discriminator": conditional.build_projection_discriminator(
            shape, config.num_classes, ndf=config.ndf, hidden=config.hidden),
    }


def sample(generator, class_ids, seed=0, noise=None):
    """Images of the classes ``class_ids`` (ints), in inference mode, as a ``(N, H, W, C)`` tensor in [-1, 1].

    ``noise`` (``(N, noise_dim)``) defaults to N(0, 1) drawn from ``seed``. Works on a
    trained run's generator and on an exported ``generator.keras``.
    """
    sizes = input_sizes(generator)
    class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
    num_classes = sizes["class_one_hot"]
    if class_ids.size and (class_ids.min() < 0 or class_ids.max() >= num_classes):
        raise ValueError(f"class_ids must be in 0..{num_classes - 1}; got {class_ids.tolist()}")
    if noise is None:
        noise = fixed_noise(len(class_ids), sizes["noise"], seed)
    one_hot = np.eye(num_classes, dtype=np.float32)[class_ids]
    return generator(inputs_by_name(generator, {"noise": noise, "class_one_hot": one_hot}), training=False)


class Trainer(GenerativeTrainer):
    """Models, optimizers and the train step of a CGAN (no Python state between steps).

    The noise is drawn from (seed, optimizer step): nothing random lives outside the checkpoint.
    """

    def train_step(self, batch):
        """One D update on real and fake digits of the batch's classes, then one G update."""
        real, labels = batch["image"], batch["label"]
        y = tf.one_hot(tf.cast(labels, tf.int32), self.config.num_classes, dtype=tf.float32)
        (noise_seed,) = step_seeds(self.config, self.discriminator_optimizer.iterations, 1)
        z = tf.random.stateless_normal([tf.shape(real)[0], self.config.noise_dim], noise_seed)
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape:
            fake = self.generator([z, y], training=True)
            with g_tape.stop_recording():  # the D update is not part of G's gradient
                with tf.GradientTape() as d_tape:
                    real_logits = self.discriminator([real, y], training=True)
                    fake_logits = self.discriminator([tf.stop_gradient(fake), y], training=True)
                    d_loss = mean_loss(self.gan_discriminator_loss(real_logits, fake_logits))
                apply_gradients(self.discriminator_optimizer, d_tape, d_loss, d_vars)
            g_loss = mean_loss(self.gan_generator_loss(self.discriminator([fake, y], training=True)))
        apply_gradients(self.generator_optimizer, g_tape, g_loss, g_vars)
        return {"g_gan": g_loss, "d": d_loss}

    def sample_classes(self, class_ids, seed=0):
        """``sample(self.generator, class_ids, seed)``: images of the chosen classes."""
        return sample(self.generator, class_ids, seed=seed)

    def sample(self, batch=None):
        """The loop's grid: row k shows class k, column j the same noise vector j for every class."""
        classes = np.arange(self.config.num_classes)
        noise = fixed_noise(GRID_COLUMNS, self.config.noise_dim, self.config.seed + 1)
        return {f"z{j}": sample(self.generator, classes, noise=np.repeat(noise[j:j + 1], len(classes), 0))
                for j in range(GRID_COLUMNS)}


def demo_quality(trainer):
    """The demo's figures: the share of samples a digit classifier labels as the asked class."""
    classifier, held_out = digit_quality.train_digit_classifier(trainer.config.image_size)
    score, per_class = digit_quality.cgan_class_accuracy(trainer.generator, classifier, sample)
    return {"class_accuracy": round(score, 3), "classifier_test_accuracy": round(held_out, 3),
            "per_class_accuracy": [round(a, 2) for a in per_class]}


# The demo (offline 8x8 digits upscaled to 28 px; 22 batches of 64 per epoch): the chapter's MLP
# CGAN for 140 epochs (3,080 steps, about a CPU minute alone).
FAMILY = Family(
    name="cgan", config=Config, build_models=build_models, trainer=Trainer, data="labels", generator="generator",
    sample_columns=tuple(f"z{j}" for j in range(GRID_COLUMNS)),
    column_titles={f"z{j}": f"noise {j + 1}" for j in range(GRID_COLUMNS)},
    row_titles=lambda config: tuple(f"class {k}" for k in range(config.num_classes)),
    demo=Demo(Config(n_epochs=140), "digits", demo_quality),
    smoke_config=Config(batch_size=8, hidden=16),
)
