"""StackGAN: text to image in two stages (Zhang et al., ICCV 2017).

Paper symbols -> code: phi_t, the text embedding (1024-d char-CNN-RNN in the paper) = the
``embedding`` input; conditioning augmentation F_ca (mu(phi_t), Sigma(phi_t), c_hat = mu +
sigma * eps) = the generator's ``conditioning_augmentation`` layer; z ~ N(0, I) of 100 and the
CA's eps are one ``noise`` input (``noise_size``); G0 / D0 = a Stage-I run's ``generator`` /
``discriminator`` + ``discriminator_head``; G1 / D1 = a Stage-II run's, whose ``generator``
holds G0 inside, frozen (``stage1_generator``).

Objectives (the GAN-CLS matching-aware discriminator of Reed et al., as the reference):
    L_D = BCE(D(x, mu), 1) + 0.5 BCE(D(x, mu'), 0) + 0.5 BCE(D(G(z, c), mu), 0)
    L_G = BCE(D(G(z, c), mu), 1) + lambda KL(N(mu, Sigma) || N(0, I)),   lambda = 2.0
where mu' is another example's text (the batch's texts shifted by one, as the reference pairs
``real[:-1]`` with ``mu[1:]``) and D is conditioned on the CA's mean mu, not on the sample c
(the reference's ``compute_discriminator_loss(..., mu)``). D returns logits; BCE is taken on them.

Defaults and where they come from:
- image_size 64 (Stage-I; Stage-II draws 256 = 4x its Stage-I run's), embedding 1024, c 128,
  z 100, gf_dim 128, df_dim 64, r_num 4 residual blocks, lambda_KL 2.0 (``TRAIN.COEFF.KL``): the
  PyTorch reference's ``miscc/config.py``; its KL is the mean over the 128 dimensions
  (``losses.conditioning_kl_loss``).
- Adam 2e-4, beta1 0.5, batch 64, 600 epochs, learning rate halved every 100 epochs: the paper
  (section 4, "Implementation details") and the original TensorFlow code's birds config
  (``LR_DECAY_EPOCH: 100``).
- jitter: the reference's loader resizes to 76/64 of the size, crops at random and mirrors.
  Captions that say "left" or "right" need ``jitter=False`` (the demo's).

Stage-II trains with Stage-I's weights and batch-norm statistics frozen (``trainable = False``
runs its batch norm in inference mode; the PyTorch reference left Stage-I's batch norm in
training mode, updating its statistics), and names its Stage-I run in ``stage1_run``, whose
newest checkpoint initialises G0; the Stage-II run's own checkpoints then hold G0 too, so a
finished Stage-II run draws images without the Stage-I folder.

Drawing images from captions:
    >>> from tfgan_translate import stackgan
    >>> trainer = stackgan.Trainer(stackgan.FAMILY.smoke_config)
    >>> images = stackgan.generate(trainer.generator, embeddings, seed=0)   # (N, S, S, 3) in [-1, 1]
or ``tfgan-translate generate --run-dir RUN --caption "a large red circle at the top left"``.
"""

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import losses
from ..losses import mean_loss
from ..networks import stackgan as stack_networks
from ..training import TrainConfig, apply_gradients
from ..training import config as config_io
from ..training.checkpoints import restore_models
from ..training.config import option
from .base import Demo, Family, TextToImage, Trainer as BaseTrainer
from .generation import step_seeds
from .stackgan_text import describe_inputs, draw, embed_captions, held_out_report, run_files, save_text_encoder

STAGES = (1, 2)
STAGE1_SCALE = 4  # Stage-II draws 4x its Stage-I image (64 -> 256)


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    """The paper's and the reference code's defaults (see the module docstring)."""

    image_size: int = option(64, "side of the images this stage draws (Stage-I 64; Stage-II 256, 4x its Stage-I "
                             "run's)", minimum=16, maximum=1024)
    batch_size: int = 64
    n_epochs: int = 600
    n_epochs_decay: int = 0
    lr_policy: str = "halve"
    lr_decay_epochs: int = 100
    stage: int = option(1, "the stage this run trains: 1 (text -> image) or 2 (Stage-I's image + text -> 4x larger)",
                        minimum=1, maximum=2)
    stage1_run: str | None = option(None, "Stage-II: the Stage-I run folder whose generator it refines (frozen)")
    embedding_dim: int = option(1024, "size of the text embedding phi_t", minimum=1)
    condition_dim: int = option(128, "size of the conditioning-augmentation code c", minimum=1)
    noise_dim: int = option(100, "size of the noise vector z", minimum=1)
    gf_dim: int = option(128, "generator filters (Stage-I starts from 8x this at 4x4)", minimum=1)
    df_dim: int = option(64, "discriminator filters", minimum=1)
    r_num: int = option(4, "Stage-II residual blocks", minimum=0)
    kl_weight: float = option(2.0, "weight lambda of the conditioning augmentation's KL term")
    ca_negative_slope: float = option(0.0, "slope below 0 of the conditioning augmentation's activation: 0 is the "
                                      "PyTorch reference's ReLU, 0.2 the original TensorFlow code's leaky ReLU",
                                      maximum=1)
    jitter: bool = option(True, "the reference's random 76/64 crop and mirror (off when captions say left/right)")

    def __post_init__(self):
        super().__post_init__()
        if self.stage1_run:  # absolute, so that the run resumes and draws from any working folder
            object.__setattr__(self, "stage1_run", str(Path(self.stage1_run).expanduser().absolute()))
        if self.batch_size < 2:
            raise ValueError(f"batch_size {self.batch_size}: the matching-aware D pairs each image with the next "
                             "example's text, so a batch needs 2 examples or more (per replica)")
        side = self.stage1_size
        if side < 16 or side & (side - 1) or side * (STAGE1_SCALE if self.stage == 2 else 1) != self.image_size:
            need = "a power of two >= 64 (Stage-II draws 4x its Stage-I size)" if self.stage == 2 else \
                "a power of two >= 16"
            raise ValueError(f"image_size {self.image_size} does not work for Stage-{'I' * self.stage}: it must be {need}")
        if self.stage == 2 and not self.stage1_run:
            raise ValueError("stage 2 refines a Stage-I run: give its folder with --stage1-run RUN "
                             "(train it first with: tfgan-translate train stackgan --stage 1 ...)")
        if self.stage == 1 and self.stage1_run:
            raise ValueError("--stage1-run belongs to stage 2 (set --stage 2), a Stage-I run starts from scratch")
        if self.gf_dim * 8 // (self.stage1_size // 4) < 1:
            raise ValueError(f"gf_dim {self.gf_dim} is too small for {self.stage1_size} px: Stage-I halves 8 x gf_dim "
                             "at each doubling")
        if self.stage == 2 and self.gf_dim % 4:
            raise ValueError(f"gf_dim {self.gf_dim}: Stage-II ends with gf_dim/4 filters, so it needs a multiple of 4")

    @property
    def stage1_size(self):
        """The side of Stage-I's images (``image_size`` itself for a Stage-I run)."""
        return self.image_size // STAGE1_SCALE if self.stage == 2 else self.image_size

    @property
    def noise_size(self):
        """The generator's ``noise`` input: z, then eps of each conditioning augmentation."""
        return self.noise_dim + self.condition_dim * self.stage


def stage1_config(config):
    """The Stage-I config whose generator a Stage-II ``config`` holds (the same networks' fields)."""
    return dataclasses.replace(config, stage=1, stage1_run=None, image_size=config.stage1_size)


def _stage1_generator(config, name):
    return stack_networks.build_stage1_generator(
        embedding_dim=config.embedding_dim, noise_dim=config.noise_dim, condition_dim=config.condition_dim,
        gf_dim=config.gf_dim, image_size=config.stage1_size, ca_negative_slope=config.ca_negative_slope, name=name)


def build_models(config):
    """``{"generator", "discriminator", "discriminator_head"}`` of the config's stage: G(embedding,
    noise) -> image; D(image) -> 4x4 features; the head (features, mu) -> logits."""
    if config.stage == 1:
        generator = _stage1_generator(config, "generator")
        discriminator = stack_networks.build_stage1_discriminator(config.image_size, config.df_dim,
                                                                     name="discriminator")
    else:
        generator = stack_networks.build_stage2_generator(
            _stage1_generator(config, "stage1_generator"), embedding_dim=config.embedding_dim,
            noise_dim=config.noise_dim, condition_dim=config.condition_dim, gf_dim=config.gf_dim,
            r_num=config.r_num, ca_negative_slope=config.ca_negative_slope, name="generator")
        discriminator = stack_networks.build_stage2_discriminator(config.image_size, config.df_dim,
                                                                     name="discriminator")
    head = stack_networks.build_conditional_logits(config.df_dim, config.condition_dim, name="discriminator_head")
    return {"generator": generator, "discriminator": discriminator, "discriminator_head": head}


def load_stage1(config):
    """The newest checkpoint's G0 of the Stage-I run ``config.stage1_run``, checked against what
    Stage-II ``config`` needs; ``ValueError`` naming the folder and the mismatch."""
    run_dir = config.stage1_run
    try:
        saved = config_io.read_config(run_dir)
    except ValueError as error:
        raise ValueError(f"--stage1-run {run_dir}: {error}") from None
    if saved is None:
        raise ValueError(f"--stage1-run {run_dir} is not a run folder (no {config_io.CONFIG_FILE}): give the folder "
                         "of a finished Stage-I run (tfgan-translate train stackgan --stage 1 --run-dir ...)")
    family, fields = saved
    if family != FAMILY.name or fields.get("stage") != 1:
        what = f"a {family} run" if family != FAMILY.name else f"a Stage-{'I' * int(fields.get('stage', 0))} run"
        raise ValueError(f"--stage1-run {run_dir} holds {what}, not a StackGAN Stage-I run")
    stage1 = config_io.config_from_dict(Config, fields)
    expected = stage1_config(config)
    wrong = [f"{name} is {getattr(stage1, name)!r}, Stage-II needs {getattr(expected, name)!r}"
             for name in ("image_size", "embedding_dim", "condition_dim", "noise_dim", "gf_dim", "ca_negative_slope")
             if getattr(stage1, name) != getattr(expected, name)]
    if wrong:
        size = (f" (a {stage1.image_size} px Stage-I run is refined at image_size={stage1.image_size * STAGE1_SCALE})"
                if stage1.image_size != expected.image_size else "")
        raise ValueError(f"--stage1-run {run_dir} does not match this Stage-II config: {'; '.join(wrong)}{size}")
    generator = _stage1_generator(stage1, "generator")
    restore_models({"generator": generator}, run_dir)
    return generator


def mismatched(conditions):
    """The reference's wrong texts: example i's image is paired with example i+1's text
    (``real[:-1]`` with ``mu[1:]``)."""
    return conditions[1:]


def is_stage2(generator):
    """Whether ``generator`` is a Stage-II generator (it holds Stage-I's inside)."""
    return any(layer.name == "stage1_generator" for layer in generator.layers)


def generate(generator, embeddings, noise=None, seed=0, stage1=False):
    """Images the run's generator draws for text ``embeddings`` ``(N, D)`` in inference mode, as an
    ``(N, S, S, 3)`` tensor in [-1, 1]; ``noise`` ``(N, noise size)`` defaults to N(0, I) from
    ``seed``. ``stage1=True`` on a Stage-II generator gives its Stage-I images for the same noise."""
    embeddings = np.asarray(embeddings, np.float32)
    size = int(generator.inputs[1].shape[-1])
    if noise is None:
        noise = np.random.default_rng(seed).standard_normal((len(embeddings), size)).astype(np.float32)
    if stage1:
        return stack_networks.stage1_image(generator, embeddings, noise)
    return generator([embeddings, noise], training=False)


class Trainer(BaseTrainer):
    """Models, optimizers and the train step of one StackGAN stage (no Python state between steps).

    The noise z and the CA's eps are drawn statelessly from (seed, step, replica), so a resumed
    run draws what an uninterrupted one would. A Stage-II trainer built without ``models``
    takes G0 from ``config.stage1_run``.
    """

    def __init__(self, config=None, steps_per_epoch=None, models=None):
        super().__init__(config, steps_per_epoch, models)
        self.stage1_problem = None
        if models is None and self.config.stage == 2:
            try:
                stage1 = load_stage1(self.config)
            except ValueError as error:  # said before the first step unless a checkpoint of this run holds G0
                self.stage1_problem = error
            else:
                self.generator.get_layer("stage1_generator").set_weights(stage1.get_weights())

    def setup(self):
        # G's optimizer sees G's trainable weights only: in Stage-II, G0's are frozen (not among them)
        self.add_optimizer("generator_optimizer", self.adam(), self.generator.trainable_variables)
        self.add_optimizer("discriminator_optimizer", self.adam(),
                           self.discriminator.trainable_variables + self.discriminator_head.trainable_variables)
        self.conditioning = stack_networks.conditioning_layer(self.generator)

    @property
    def discriminator_variables(self):
        return self.optimizer_variables["discriminator_optimizer"]

    def check_batch(self, batch):
        """Also ``ValueError`` when the data's text embeddings are not ``embedding_dim`` wide, and,
        for a Stage-II run that starts (no checkpoint restored), when its Stage-I run could not be
        loaded: a resumed Stage-II run's checkpoint holds G0, so it needs no Stage-I folder."""
        if self.stage1_problem is not None and int(self.generator_optimizer.iterations) == 0:
            raise self.stage1_problem
        super().check_batch(batch)
        width = batch["embedding"].shape[-1] if isinstance(batch, dict) and "embedding" in batch else None
        if width is not None and width != self.config.embedding_dim:
            raise ValueError(f"the data's text embeddings have {width} values, but embedding_dim is "
                             f"{self.config.embedding_dim}: train with --embedding-dim {width}")

    def discriminate(self, features, conditions):
        return self.discriminator_head([features, conditions], training=True)

    def train_step(self, batch):
        """One D update (real, mismatched and fake pairs), then one G update (GAN + lambda KL)."""
        config = self.config
        real, embedding = batch["image"], batch["embedding"]
        (noise_seed,) = step_seeds(config, self.discriminator_optimizer.iterations, 1)
        noise = tf.random.stateless_normal([tf.shape(real)[0], config.noise_size], noise_seed)
        with tf.GradientTape() as g_tape:
            fake = self.generator([embedding, noise], training=True)
            mu, logvar = self.conditioning.encode(embedding)
            conditions = tf.stop_gradient(mu)  # D sees the CA's mean, detached (the reference)
            with g_tape.stop_recording():  # D's update is not part of G's gradient
                with tf.GradientTape() as d_tape:
                    real_features = self.discriminator(real, training=True)
                    fake_features = self.discriminator(tf.stop_gradient(fake), training=True)
                    d_loss, terms = losses.matching_aware_discriminator_loss(
                        self.discriminate(real_features, conditions),
                        self.discriminate(real_features[:-1], mismatched(conditions)),
                        self.discriminate(fake_features, conditions))
                apply_gradients(self.discriminator_optimizer, d_tape, d_loss, self.discriminator_variables)
            fake_logits = self.discriminate(self.discriminator(fake, training=True), conditions)
            g_gan = mean_loss(losses.vanilla_generator_loss(fake_logits))
            kl = mean_loss(losses.conditioning_kl_loss(mu, logvar))
            g_loss = g_gan + config.kl_weight * kl
        apply_gradients(self.generator_optimizer, g_tape, g_loss, self.generator.trainable_variables)
        return {"g_gan": g_gan, "kl": kl, "d": d_loss, **terms}

    def sample(self, batch):
        """Grid columns: the batch's real image, Stage-I's drawing of its caption (and Stage-II's),
        with fixed noise, in inference mode."""
        embedding = batch["embedding"]
        count = int(embedding.shape[0])
        noise = np.random.default_rng(self.config.seed + 1).standard_normal(
            (count, self.config.noise_size)).astype(np.float32)
        columns = {"real": batch["image"]}
        if self.config.stage == 1:
            columns["stage1"] = generate(self.generator, embedding, noise)
        else:
            small = generate(self.generator, embedding, noise, stage1=True)
            columns["stage1"] = tf.image.resize(small, (self.config.image_size,) * 2, method="nearest")
            columns["stage2"] = generate(self.generator, embedding, noise)
        return columns


def sample_columns(config):
    return ("real", "stage1") if config.stage == 1 else ("real", "stage1", "stage2")


def demo_stage2(stage1_run_dir):
    """The demo's Stage-II on its Stage-I run: 16 -> 64 px."""
    return "_stage2", dataclasses.replace(DEMO_STAGE1, stage=2, stage1_run=stage1_run_dir,
                                          image_size=DEMO_STAGE1.image_size * STAGE1_SCALE, **DEMO_STAGE2_CHANGES)


# The demo (demo-captions: one coloured shape per scene, ten paraphrased captions each; the held-out
# captions name combinations never seen in training): Stage-I at 16 px, then Stage-II 16 -> 64 px.
# Kept from the paper: c 128, z 100, Adam 2e-4/0.5 (with c 32, D never saw the colour: it stayed at
# chance). Changed for CPU minutes, each measured on 3,100-step Stage-I runs (held-out colour / shape):
# - KL weight 0.2: 2.0 (the reference's) gave 0.74-0.77 / 0.35, 0.2 gives 1.0 / 0.53 (0: 1.0 / 0.48);
# - the original TensorFlow code's leaky ReLU in conditioning augmentation: with the PyTorch
#   reference's ReLU the KL term switched every unit off for good within 400 steps;
# - narrower networks (gf 16, df 16; Stage-II df 2 and 2 residual blocks: with df 8 its D won and
#   Stage-II's colour fell to 0.37, df 4 0.43, df 2 0.51 after 1,550 steps), batch 16 (more updates
#   per CPU second), a constant rate over the short run, no jitter (captions say left and right).
# Its figures are in stackgan_text.held_out_report (and the README).
DEMO_STAGE1 = Config(image_size=16, batch_size=16, gf_dim=16, df_dim=16, kl_weight=0.2, ca_negative_slope=0.2,
                     jitter=False, lr_policy="constant", n_epochs=20)
DEMO_STAGE2_CHANGES = dict(df_dim=2, r_num=2, n_epochs=20)

FAMILY = Family(
    name="stackgan", config=Config, build_models=build_models, trainer=Trainer, data="captions",
    generator="generator", sample_columns=sample_columns,
    column_titles={"real": "real image", "stage1": "Stage-I G0(c, z)", "stage2": "Stage-II G1(G0, c)"},
    demo=Demo(DEMO_STAGE1, "demo-captions", held_out_report, follow_up=demo_stage2),
    smoke_config=Config(image_size=16, batch_size=4, condition_dim=8, noise_dim=8, gf_dim=4, df_dim=4, jitter=False),
    before_training=save_text_encoder,
    text_to_image=TextToImage(embed=embed_captions, draw=draw, noise_size=lambda config: config.noise_size,
                              describe=describe_inputs, files=run_files),
)
