"""CUT: contrastive unpaired translation (Park, Efros, Zhang and Zhu, ECCV 2020).

One generator G: X -> Y and one discriminator D_Y, no inverse mapping and no cycle. Instead
of a cycle, PatchNCE ties each patch of the output to the patch of the input at the same
place: features of G's own encoder at the layers ``nce_layers`` (for the input x and for G(x)
passed through the same encoder), 256 locations sampled per layer (the same ones for query
and key), a two-layer MLP head H_l per layer, and an InfoNCE loss whose negatives are the
other sampled patches of the same image (temperature 0.07).

Paper symbols -> code (and the reference's names): G = ``generator`` (netG), D = ``discriminator``
(netD), H = ``patch_head`` (netF, trained with G's optimizer here); x = ``batch["a"]``,
y = ``batch["b"]``. Objective:

    L_GAN(G, D, X, Y) + lambda_X L_PatchNCE(G, H, X) + lambda_Y L_PatchNCE(G, H, Y),

with LSGAN, lambda_X = lambda_Y = 1 and the identity term on Y (CUT: the two NCE terms are
averaged), or lambda_X = 10 without it plus flip-equivariance (FastCUT, ``families/fastcut.py``).
As the reference, D is updated first and G then against the updated D; D's loss is halved.

The reference networks (its defaults): the ResNet generator with anti-aliased down- and
upsampling (``BlurPool2D``/``BlurUpsample2D``; ``antialias=False`` and ``antialias_up=False``
give CycleGAN's strided ones), the 70x70 PatchGAN with blur-pooling, instance norm, Xavier
init with gain 0.02, no dropout, no image pool, Adam 2e-4 (0.5, 0.999), batch 1, 200 + 200 epochs.
Under a distribution strategy each replica draws its own patch locations and flips (the data
are split as usual), so a mirrored run is not step for step a single-device one.

Example:
    >>> from tfgan_translate import cut
    >>> trainer = cut.Trainer(cut.Config(image_size=32, ngf=8, ndf=8, n_blocks=1, nce_layers="0,4,8,12"))
"""

import dataclasses

import keras
import tensorflow as tf

from .. import losses, networks
from ..losses import mean_loss
from ..metrics import demo_quality
from ..training import apply_gradients
from ..training.config import option
from .base import Demo, Family, Trainer as BaseTrainer
from .translation import TranslationConfig


@dataclasses.dataclass(frozen=True)
class Config(TranslationConfig):
    """CUT's defaults (``--CUT_mode CUT`` of the reference code)."""

    generator: str = "resnet"
    norm: str = "instance"
    use_dropout: bool = False
    gan_loss: str = "lsgan"
    n_epochs: int = 200
    n_epochs_decay: int = 200
    antialias: bool = option(True, "blur-pool downsampling in G and D (the reference's); off: strided convs")
    antialias_up: bool = option(True, "blur upsampling then a conv in G (the reference's); off: --upsampling")
    lambda_gan: float = option(1.0, "weight of the GAN loss")
    lambda_nce: float = option(1.0, "weight of the PatchNCE loss")
    nce_idt: bool = option(True, "PatchNCE also on G(y) against y (the identity term)")
    nce_layers: str = option("0,4,8,12,16", "generator modules whose features PatchNCE compares (the reference's "
                             "nn.Sequential indices)")
    num_patches: int = option(256, "patch locations sampled per layer", minimum=1)
    nce_temperature: float = option(0.07, "temperature of the InfoNCE loss", above=0)
    head_units: int = option(256, "width of the PatchNCE MLP head", minimum=1)
    flip_equivariance: bool = option(False, "flip the input at random and compare G's features flipped back "
                                     "(FastCUT)")
    init_gain: float = option(0.02, "gain of the Xavier-normal weight init")

    def __post_init__(self):
        super().__post_init__()
        if self.generator != "resnet":
            raise ValueError(f"generator must be resnet for {type(self).__module__.rsplit('.', 1)[1]}: its "
                             "nce_layers index the ResNet generator's modules")
        if self.input_channels != self.output_channels:
            raise ValueError("CUT needs the same number of channels in both domains: PatchNCE passes G(x) back "
                             "through G's own encoder (and the identity term translates y); got "
                             f"{self.input_channels} and {self.output_channels}")
        sequence = networks.resnet_reference_sequence(self.n_blocks, *self.sampling)
        for index in self.nce_layer_ids:
            if index >= len(sequence):
                raise ValueError(f"nce_layers: layer {index} is not one of the generator's modules 0..{len(sequence) - 1} "
                                 f"(n_blocks {self.n_blocks})")

    @property
    def nce_layer_ids(self):
        """``nce_layers`` as a tuple of module indices."""
        try:
            ids = tuple(int(part) for part in str(self.nce_layers).split(","))
        except ValueError:
            raise ValueError(f"nce_layers must be comma-separated module indices such as 0,4,8,12,16; "
                             f"got {self.nce_layers!r}") from None
        if not ids or min(ids) < 0 or len(set(ids)) != len(ids):
            raise ValueError(f"nce_layers must be distinct indices >= 0; got {self.nce_layers!r}")
        return ids

    @property
    def sampling(self):
        """``(downsampling, upsampling)`` of the generator."""
        up = "antialiased" if self.antialias_up else ("resize_conv" if self.upsampling == "resize" else "transpose")
        return ("antialiased" if self.antialias else "strided"), up


def build_generator_of(config, name="generator"):
    """The config's ResNet generator, anti-aliased as the reference by default."""
    downsampling, upsampling = config.sampling
    return networks.build_resnet_generator(
        (None, None, config.input_channels), config.output_channels, ngf=config.ngf, n_blocks=config.n_blocks,
        norm=config.norm, upsampling=upsampling, use_dropout=config.use_dropout, name=name,
        downsampling=downsampling)


def feature_encoder(config, generator):
    """G's encoder view: the outputs of the modules ``nce_layers`` (weights shared with G)."""
    return networks.build_feature_encoder(generator, config.nce_layer_ids, config.n_blocks, *config.sampling)


def build_models(config):
    """``generator``, ``discriminator`` and ``patch_head`` (one MLP per NCE layer, sized from
    the encoder's features as the reference creates them), Xavier-initialised."""
    generator = build_generator_of(config)
    discriminator = networks.build_patchgan_discriminator(
        (None, None, config.output_channels), ndf=config.ndf, n_layers=config.n_layers_d, norm=config.norm,
        name="discriminator", downsampling=config.sampling[0])
    channels = [int(t.shape[-1]) for t in feature_encoder(config, generator).outputs]
    head = networks.build_patch_head(channels, config.head_units)
    models = {"generator": generator, "discriminator": discriminator, "patch_head": head}
    for model in models.values():
        networks.xavier_normal_init(model, config.init_gain)
    return models


def _flip(images):
    return tf.reverse(images, axis=[2])


class Trainer(BaseTrainer):
    """Models, optimizers, patch sampling and the train step of CUT/FastCUT."""

    def setup(self):
        c = self.config
        self.encoder = feature_encoder(c, self.generator)
        # G's output and the encoder's features of its input in one pass (the keys of PatchNCE)
        self.generator_and_features = keras.Model(self.generator.input, [self.generator.output, *self.encoder.outputs])
        self.generator_variables = self.generator.trainable_variables + self.patch_head.trainable_variables
        self.add_optimizer("generator_optimizer", self.adam(), self.generator_variables)
        self.add_optimizer("discriminator_optimizer", self.adam(), self.discriminator.trainable_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(c.gan_loss)
        # Instance norm and no dropout compute each example alone, so passes can be batched and
        # G's own features of its input reused as the keys; batch norm or dropout would change them.
        self.per_example = c.norm != "batch" and not c.use_dropout
        self.patch_rng = tf.random.Generator.from_seed(c.seed * 2 + 1)
        self.flip_rng = tf.random.Generator.from_seed(c.seed * 2 + 2)

    def extra_state(self):
        return {"patch_rng": self.patch_rng, "flip_rng": self.flip_rng}

    def _patch_ids(self, features):
        """Per layer, ``min(num_patches, H W)`` distinct random locations (a random permutation's head)."""
        ids = []
        for feature in features:
            locations = tf.shape(feature)[1] * tf.shape(feature)[2]
            order = tf.argsort(self.patch_rng.uniform([locations]))
            ids.append(order[:tf.minimum(self.config.num_patches, locations)])
        return ids

    def _encode(self, images):
        features = self.encoder(images, training=True)
        return list(features) if isinstance(features, (list, tuple)) else [features]

    def nce_losses(self, sources, targets, flipped, source_features=None):
        """PatchNCE of each (source, target) pair, per example: ``[(B,), ...]``.

        With instance norm and no dropout (the reference's settings) the encoder runs once on
        all targets, and on the sources only unless their features are given (G's forward pass
        on the sources computed them, and keys are constants): per-example layers make that
        equal to the reference's separate calls. Each pair draws its own locations, shared by
        its query (target, flipped back under flip-equivariance) and key (source).
        """
        c = self.config
        n = tf.shape(sources[0])[0]
        groups = len(sources)
        if not self.per_example:  # batch norm or dropout: one encoder call per tensor, as the reference
            per_tensor = [self._encode(t) for t in [*targets, *sources]]
            features = [tf.concat(parts, 0) for parts in zip(*per_tensor)]
        elif source_features is None:
            features = self._encode(tf.concat([*targets, *sources], 0))
        else:
            queries = self._encode(tf.concat(targets, 0))
            features = [tf.concat([q, tf.stop_gradient(k)], 0) for q, k in zip(queries, source_features)]
        if c.flip_equivariance:  # G(flip(x)) flipped back must match x patch for patch
            features = [tf.concat([tf.cond(flipped, lambda q=f[:groups * n]: _flip(q), lambda q=f[:groups * n]: q),
                                   f[groups * n:]], 0) for f in features]
        flat = [tf.reshape(f, [tf.shape(f)[0], -1, f.shape[-1]]) for f in features]  # [N, H W, C]
        results = []
        for g in range(groups):
            queries, keys = [], []
            for feature, ids in zip(flat, self._patch_ids(features)):
                queries.append(tf.gather(feature[g * n:(g + 1) * n], ids, axis=1))  # [B, P, C]
                keys.append(tf.gather(feature[(groups + g) * n:(groups + g + 1) * n], ids, axis=1))
            projected = self.patch_head(
                [tf.reshape(tf.concat([q, k], 0), [-1, q.shape[-1]]) for q, k in zip(queries, keys)], training=True)
            projected = projected if isinstance(projected, (list, tuple)) else [projected]
            total = 0.0
            for query, vectors in zip(queries, projected):
                vectors = tf.reshape(vectors, [2 * n, tf.shape(query)[1], vectors.shape[-1]])
                total += losses.patch_nce_loss(vectors[:n], vectors[n:], c.nce_temperature)
            results.append(c.lambda_nce * total / len(flat))
        return results

    def train_step(self, batch):
        """D on G(x) and y, then G (and the head) on GAN + PatchNCE against the updated D."""
        c = self.config
        real_a, real_b = batch["a"], batch["b"]
        n = tf.shape(real_a)[0]
        real = tf.concat([real_a, real_b], 0) if c.nce_idt else real_a
        flipped = tf.constant(False)
        if c.flip_equivariance:
            flipped = self.flip_rng.uniform([]) < 0.5
            real = tf.cond(flipped, lambda: _flip(real), lambda: real)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as g_tape:
            if c.flip_equivariance or not self.per_example:  # keys: the unflipped input's, computed in nce_losses
                fake, source_features = self.generator(real, training=True), None
            else:
                fake, *source_features = self.generator_and_features(real, training=True)
            fake_b = fake[:n]
            with g_tape.stop_recording():  # the D update is not part of G's gradient
                with tf.GradientTape() as d_tape:
                    d_loss = 0.5 * mean_loss(self.gan_discriminator_loss(
                        self.discriminator(real_b, training=True),
                        self.discriminator(tf.stop_gradient(fake_b), training=True)))
                apply_gradients(self.discriminator_optimizer, d_tape, d_loss, d_vars)
            g_gan = mean_loss(self.gan_generator_loss(self.discriminator(fake_b, training=True)))
            results = {"g_gan": g_gan, "d": d_loss}
            g_loss = c.lambda_gan * g_gan
            if c.lambda_nce > 0:
                if c.nce_idt:
                    nce_x, nce_y = self.nce_losses([real_a, real_b], [fake_b, fake[n:]], flipped, source_features)
                    nce_x, nce_y = mean_loss(nce_x), mean_loss(nce_y)
                    g_loss += 0.5 * (nce_x + nce_y)
                    results.update(nce=nce_x, nce_y=nce_y)
                else:
                    (nce_x,) = self.nce_losses([real_a], [fake_b], flipped, source_features)
                    nce_x = mean_loss(nce_x)
                    g_loss += nce_x
                    results["nce"] = nce_x
        apply_gradients(self.generator_optimizer, g_tape, g_loss, self.generator_variables)
        return results

    def sample(self, batch):
        """Grid columns: x, G(x), y, G(y) (the identity the NCE_Y term looks at) in inference mode."""
        return {"a": batch["a"], "a_to_b": self.generator(batch["a"], training=False),
                "b": batch["b"], "b_to_b": self.generator(batch["b"], training=False)}


COLUMNS = ("a", "a_to_b", "b", "b_to_b")
TITLES = {"a": "x", "a_to_b": "G(x)", "b": "y", "b_to_b": "G(y) identity"}


def known_mapping_report(trainer):
    """``demo-unpaired``'s figures: PSNR of G(a) against the true mapping, next to the identity guess."""
    return demo_quality.known_mapping_report(trainer.generator, trainer.config.image_size)


def smoke_config(config_class):
    """The contract test's tiny config: one residual block, 16 patches, the layers it has."""
    return config_class(image_size=32, ngf=4, ndf=4, n_blocks=1, batch_size=2, num_patches=16, head_units=8,
                        nce_layers="0,4,8,12")


# The demo: the colour mapping with a known answer at 32 px with CycleGAN's demo networks
# (3 residual blocks, 16 filters, batch 4, learning rate 5e-4, 10 + 10 epochs), PatchNCE on
# the reference's layers that a 3-block generator has (0, 4, 8, 12 and the last block, 14).
DEMO = dict(image_size=32, ngf=16, ndf=16, n_blocks=3, batch_size=4, lr=5e-4, n_epochs=10, n_epochs_decay=10,
            nce_layers="0,4,8,12,14")

FAMILY = Family(
    name="cut", config=Config, build_models=build_models, trainer=Trainer, data="unpaired",
    directions={"AtoB": "generator"}, sample_columns=COLUMNS, column_titles=TITLES,
    demo=Demo(Config(**DEMO), "demo-unpaired", known_mapping_report),
    smoke_config=smoke_config(Config),
)
