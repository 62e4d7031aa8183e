"""pix2pixHD: high-resolution paired translation with a coarse-to-fine generator and
multi-scale discriminators (Wang et al., 2018).

Paper symbols -> code: s (the input map) = ``batch["a"]`` (plus the instance boundary map
E when ``use_instance_map``), x (the photo) = ``batch["b"]``; G = {G1, G2} =
``generator`` (G1 alone, ``networks.build_global_generator``, when ``n_local_enhancers=0``;
else ``networks.build_local_enhancer``); D1..D3 = the scales of ``discriminator``
(``networks.build_multiscale_discriminator``, ``num_d`` of them, each on (s, x)).

Objective (eq. 4 with the VGG term of section 3.2):
min_G [ sum_k L_GAN(G, D_k) + lambda_feat sum_k L_FM(G, D_k) + lambda_vgg L_VGG(G) ],
L_GAN least squares; L_FM = sum_i 1/N_i |D_k^(i)(s, x) - D_k^(i)(s, G(s))|_1 averaged over
scales (the reference's ``D_weights = 1/num_D`` and ``feat_weights = 4/(n_layers+1)``);
D minimises 0.5 (real + fake) LSGAN. lambda_feat = ``lambda_feat`` = 10, lambda_vgg =
``lambda_vgg`` = 10 (only when ``vgg_weights`` names a file: see ``Config``). As in the
reference, G's and D's losses come from one forward pass with the same D, then both update.

Coarse-to-fine (section 3.2): train G1 first (``n_local_enhancers=0``, at half resolution
in the paper), then train G = {G1, G2} with ``n_local_enhancers=1`` and
``global_run_dir`` = the G1 run's folder, which initialises G2's ``global_`` layers from
G1's newest checkpoint; for the first ``niter_fix_global`` epochs only the outermost local
enhancer (and the output head) learns, then everything does.

``l1`` in the step's outputs is mean |G(s) - x|, monitored only (pix2pixHD trains no L1).

Inputs (``pix2pixhd_maps``): with ``label_nc > 0`` s is a semantic label map (``batch["label"]``,
integer class ids) given to G and D one-hot; ``label_nc = 0`` translates images (``batch["a"]``).
With ``use_instance_map`` the batch also carries ``"instance"`` ids, whose boundary map is appended
to G's and D's inputs. With ``instance_feat`` the feature encoder E (``encoder``, trained with G)
maps the real photo to ``feat_num`` channels averaged over each instance, appended to G's input
only; after training, ``pix2pixhd_styles`` clusters those features per class (k-means,
``n_clusters``) so that inference picks a style per class. The data: a folder in the reference
layout (``train_label/``, ``train_inst/``, ``train_img/``) or Cityscapes' (``gtFine/``,
``leftImg8bit/``), or the offline ``demo-labels``.

Example:
    >>> from tfgan_translate import pix2pixhd
    >>> config = pix2pixhd.Config(image_size=32, ngf=8, ndf=8, n_downsample_global=3, n_blocks=2)
    >>> trainer = pix2pixhd.Trainer(config)
"""

import dataclasses

import tensorflow as tf

from .. import losses, networks, perceptual
from ..losses import mean_loss, multiscale_feature_matching_loss
from ..metrics import demo_quality
from ..data.label_demo import CLASSES as DEMO_CLASSES, LABELLED_DEMO
from ..networks import pix2pixhd as hd_networks
from ..training import TrainConfig, apply_gradients, config as config_io
from ..training.checkpoints import restore_models
from ..training.config import option
from .base import Demo, Family, seeded
from .pix2pixhd_demo import fit_run_styles, labels_test_report
from .pix2pixhd_inference import map_inputs
from .pix2pixhd_maps import condition, instance_boundaries, label_colours, pooling_ids, with_features  # noqa: F401
from .translation import PAIRED_COLUMNS, PAIRED_TITLES, PairedTrainer


@dataclasses.dataclass(frozen=True)
class Config(TrainConfig):
    """The reference defaults (``train.py`` options of NVIDIA/pix2pixHD).

    ``ngf`` is the outermost generator's width: G1 alone uses ``ngf`` (64), G1 inside G2
    uses ``ngf * 2**n_local_enhancers`` (so ``ngf=32`` with one enhancer reuses a 64-filter
    G1). ``n_blocks`` is the reference's ``n_blocks_global``. ``n_local_enhancers=0`` (the
    reference's default ``netG=global``) trains G1 alone; see the module docstring for the
    coarse-to-fine schedule (``global_run_dir``, ``niter_fix_global`` in epochs).

    ``vgg_weights=None`` means NO VGG loss: the paper uses it (``lambda_vgg`` 10), but its
    ImageNet weights cannot be downloaded offline, so it is on only when ``vgg_weights``
    names the Keras file ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``.
    ``lambda_feat=0`` turns feature matching off. ``image_size`` 512 is the reference's
    ``fineSize`` (its 512p global stage); the learning rate decays with the shared linear
    policy (the reference subtracts ``lr / niter_decay`` per epoch, nearly the same).
    """

    image_size: int = 512
    input_channels: int = option(3, "channels of the input map", minimum=1)
    output_channels: int = option(3, "channels of the photo", minimum=1)
    ngf: int = option(64, "filters of the outermost generator", minimum=1)
    n_downsample_global: int = option(4, "downsamplings of the global generator G1")
    n_blocks: int = option(9, "residual blocks of G1 (the reference's n_blocks_global)")
    n_local_enhancers: int = option(0, "local enhancers G2 around G1 (0: G1 alone)")
    n_blocks_local: int = option(3, "residual blocks of each local enhancer")
    norm: str = option("instance", "normalization layers", networks.NORMS)
    ndf: int = option(64, "discriminator filters in the first layer", minimum=1)
    n_layers_d: int = option(3, "layers of each PatchGAN scale", minimum=1)
    num_d: int = option(2, "discriminator scales", minimum=1)
    gan_loss: str = option("lsgan", "GAN objective", tuple(losses.GAN_LOSSES))
    lambda_feat: float = option(10.0, "weight of discriminator feature matching (0: off)")
    lambda_vgg: float = option(10.0, "weight of the VGG loss (only with vgg_weights)")
    vgg_weights: str | None = option(None, "VGG19 weights file for the perceptual loss (none: no VGG loss)")
    label_nc: int = option(0, "classes of the input label maps, given one-hot (0: translate images; Cityscapes: 35)")
    use_instance_map: bool = option(False, "append the instance boundary map to G's and D's inputs")
    instance_feat: bool = option(False, "train the feature encoder E (instance-wise average features into G)")
    feat_num: int = option(3, "channels of E's features", minimum=1)
    nef: int = option(16, "filters of E's first layer", minimum=1)
    n_downsample_e: int = option(4, "downsamplings of the feature encoder E (the reference's n_downsample_E)", minimum=1)
    n_clusters: int = option(10, "k-means styles per class fitted to E's features after training", minimum=1)
    global_run_dir: str | None = option(None, "the G1 run whose generator initialises G2's global part")
    niter_fix_global: int = option(0, "epochs that train only the outermost local enhancer")

    def __post_init__(self):
        super().__post_init__()  # types, ranges and choices of every field
        if self.image_size < 8:
            raise ValueError(f"image_size must be >= 8; got {self.image_size}")
        multiple = size_multiple(self)
        if self.image_size % multiple or self.image_size < 2 * multiple:
            raise ValueError(
                f"image_size {self.image_size} does not work with n_downsample_global={self.n_downsample_global} and "
                f"n_local_enhancers={self.n_local_enhancers}: it must be a multiple of {multiple} and at least "
                f"{2 * multiple}; lower n_downsample_global or raise image_size"
            )
        if self.n_local_enhancers == 0 and (self.global_run_dir or self.niter_fix_global):
            raise ValueError(
                "global_run_dir and niter_fix_global belong to the local-enhancer stage: set n_local_enhancers >= 1 "
                "(the global-only stage is trained with n_local_enhancers=0 and neither field)"
            )
        if self.instance_feat:
            if not self.label_nc:
                raise ValueError("instance_feat (the feature encoder E) needs label maps: set label_nc to the number of "
                                 "classes (E's styles are fitted per class)")
            e_multiple = networks.feature_encoder_size_multiple(self.n_downsample_e)
            if self.image_size % e_multiple:
                raise ValueError(f"image_size {self.image_size} does not work with n_downsample_e={self.n_downsample_e}: "
                                 f"the feature encoder needs a multiple of {e_multiple}; lower n_downsample_e or change "
                                 "image_size")
        if self.vgg_weights is not None and self.lambda_vgg > 0:
            perceptual.check_weights_file(self.vgg_weights)


    @property
    def label_data(self):
        """``(label_nc, use_instance)``: what this config takes of a labelled dataset (``label_nc`` 0:
        it translates images). Instance maps are required with ``use_instance_map``, and taken when
        the data have them for E's features (else E averages over each class's region)."""
        if not self.label_nc:
            return 0, False
        return self.label_nc, True if self.use_instance_map else (None if self.instance_feat else False)


def size_multiple(config):
    """Height and width the config's generator accepts are multiples of this."""
    return hd_networks.generator_size_multiple(config.n_downsample_global, config.n_local_enhancers)


def condition_channels(config):
    """Channels of s (+ E): what D sees beside an image."""
    return (config.label_nc or config.input_channels) + (1 if config.use_instance_map else 0)


def generator_input_channels(config):
    """Channels of G's input: s (+ E) (+ the encoder's features)."""
    return condition_channels(config) + (config.feat_num if config.instance_feat else 0)


def build_models(config):
    """``{"generator": G, "discriminator": D}``; D sees G's input and an image concatenated."""
    shape = (None, None, generator_input_channels(config))
    if config.n_local_enhancers == 0:
        generator = networks.build_global_generator(
            shape, config.output_channels, ngf=config.ngf, n_downsampling=config.n_downsample_global,
            n_blocks=config.n_blocks, norm=config.norm, name="generator",
        )
    else:
        generator = networks.build_local_enhancer(
            shape, config.output_channels, ngf=config.ngf, n_downsample_global=config.n_downsample_global,
            n_blocks_global=config.n_blocks, n_local_enhancers=config.n_local_enhancers,
            n_blocks_local=config.n_blocks_local, norm=config.norm, name="generator",
        )
    discriminator = networks.build_multiscale_discriminator(
        (None, None, condition_channels(config) + config.output_channels), ndf=config.ndf,
        n_layers=config.n_layers_d, num_d=config.num_d, norm=config.norm, return_features=True,
        name="discriminator",
    )
    models = {"generator": generator, "discriminator": discriminator}
    if config.instance_feat:  # E of the photo, with the generator's norm as the reference's define_G
        models["encoder"] = networks.build_pix2pixhd_feature_encoder(
            (None, None, config.output_channels), feat_num=config.feat_num, nef=config.nef,
            n_downsampling=config.n_downsample_e, norm=config.norm, name="encoder")
    return models


def initialise_global_generator(generator, config, encoder=None):
    """Copy the newest G1 weights of the run in ``config.global_run_dir`` into G2's ``global_``
    layers, and its E into ``encoder`` (the reference's ``--load_pretrain`` of a 512p global run);
    returns the layer count."""
    run_dir = config.global_run_dir
    saved = config_io.read_config(run_dir)
    if saved is None:
        raise ValueError(f"global_run_dir {run_dir} is not a run folder (no {config_io.CONFIG_FILE})")
    family, fields = saved
    if family != FAMILY.name:
        raise ValueError(f"global_run_dir {run_dir} holds a {family} run, not a pix2pixhd global generator")
    saved = config_io.config_from_dict(Config, fields)
    expected = {
        "n_local_enhancers": 0,
        "ngf": config.ngf * 2**config.n_local_enhancers,
        "n_downsample_global": config.n_downsample_global,
        "n_blocks": config.n_blocks,
        "norm": config.norm,
        "input_channels": config.input_channels,
        "output_channels": config.output_channels,
        "label_nc": config.label_nc,
        "use_instance_map": config.use_instance_map,
        "instance_feat": config.instance_feat,
        "feat_num": config.feat_num,
        "nef": config.nef,
        "n_downsample_e": config.n_downsample_e,
    }
    wrong = [f"{k} is {getattr(saved, k)!r}, needs {v!r}" for k, v in expected.items() if getattr(saved, k) != v]
    if wrong:
        raise ValueError(f"global_run_dir {run_dir} does not hold a matching global generator: " + "; ".join(wrong))
    saved_models = build_models(saved)
    # G1 was trained on its E's features: E comes along (the reference's load_pretrain loads netE too)
    restored = {name: saved_models[name] for name in ("generator", "encoder") if name in saved_models}
    restore_models(restored, run_dir)
    if encoder is not None and "encoder" in restored:
        encoder.set_weights(restored["encoder"].get_weights())
    return hd_networks.copy_global_weights(saved_models["generator"], generator)


class Trainer(PairedTrainer):
    """Models, optimizers and the train step of pix2pixHD (no Python state between steps).

    With ``niter_fix_global > 0`` G has two Adam optimizers over one gradient:
    ``local_optimizer`` (outermost enhancer + output head) is gated on during the first
    ``niter_fix_global`` epochs and ``generator_optimizer`` (all of G) after them. The
    reference starts a fresh Adam at the switch; ours has seen the whole run's gradients
    with a zero rate, so its moments are warm but no weight of G1 moves while fixed.
    """

    def __init__(self, config=None, steps_per_epoch=None, models=None):
        super().__init__(config, steps_per_epoch, models)
        if models is None and self.config.global_run_dir:
            initialise_global_generator(self.generator, self.config, self.models.get("encoder"))

    def setup(self):
        config, fix = self.config, self.config.niter_fix_global
        self.encoder = self.models.get("encoder")  # E learns with G, from G's loss (the reference's params)
        self.add_optimizer("generator_optimizer", self.adam(active_epochs=(fix, None) if fix else None),
                           self.generator_variables)
        if fix:  # E learns in both phases, as the reference adds netE's parameters to either optimizer
            encoder = self.encoder.trainable_variables if self.encoder is not None else []
            self.add_optimizer("local_optimizer", self.adam(active_epochs=(0, fix)),
                               hd_networks.local_enhancer_variables(self.generator, config.n_local_enhancers) + encoder)
        self.add_optimizer("discriminator_optimizer", self.adam(), self.discriminator.trainable_variables)
        self.gan_generator_loss, self.gan_discriminator_loss = losses.gan_losses(config.gan_loss)
        use_vgg = config.vgg_weights is not None and config.lambda_vgg > 0
        self.vgg = perceptual.build_vgg19_features(config.vgg_weights) if use_vgg else None

    @property
    def generator_variables(self):
        """G's weights and, with ``instance_feat``, E's: what ``generator_optimizer`` updates."""
        encoder = self.encoder.trainable_variables if self.encoder is not None else []
        return self.generator.trainable_variables + encoder

    def encode(self, batch, training=False):
        """E's instance-wise average features of ``batch["b"]`` (``None`` without ``instance_feat``)."""
        if self.encoder is None:
            return None
        return self.encoder([batch["b"], pooling_ids(batch)], training=training)

    def generator_input(self, batch, training=False):
        """G's input: s (+ E) (+ E's features of the batch's photo, as in training)."""
        return with_features(condition(self.config, batch), self.encode(batch, training))

    def sample(self, batch):
        """Grid columns: input (a label map in colour), translation (inference mode), target."""
        shown = label_colours(batch["label"], self.config.label_nc) if self.config.label_nc else batch["a"]
        return {"input": shown, "translation": self.generator(self.generator_input(batch), training=False),
                "target": batch["b"]}

    def discriminate(self, condition, images):
        """D on (condition, images): per scale ``[feature_1, ..., logits]``."""
        outputs = self.discriminator(tf.concat([condition, images], -1), training=True)
        return hd_networks.as_scale_list(outputs, self.config.num_d)

    def train_step(self, batch):
        """G's and D's losses from one pass with the current D, then G's and D's updates."""
        real_b = batch["b"]
        config = self.config
        s = condition(config, batch)
        with tf.GradientTape(persistent=True) as tape:
            fake_b = self.generator(with_features(s, self.encode(batch, training=True)), training=True)
            fake_out = self.discriminate(s, fake_b)
            real_out = self.discriminate(s, real_b)
            fake_logits = [scale[-1] for scale in fake_out]
            real_logits = [scale[-1] for scale in real_out]
            # D's gradient is taken for D's variables only, so fake_b needs no stop_gradient here.
            d_loss = 0.5 * mean_loss(self.gan_discriminator_loss(real_logits, fake_logits))
            g_gan = mean_loss(self.gan_generator_loss(fake_logits))
            g_loss = g_gan
            metrics = {"g_gan": g_gan}
            if config.lambda_feat > 0:
                g_feat = mean_loss(multiscale_feature_matching_loss(real_out, fake_out))
                g_loss += config.lambda_feat * g_feat
                metrics["g_feat"] = g_feat
            if self.vgg is not None:
                g_vgg = mean_loss(perceptual.vgg_loss(self.vgg, real_b, fake_b))
                g_loss += config.lambda_vgg * g_vgg
                metrics["g_vgg"] = g_vgg
        if "local_optimizer" in self.optimizers:
            apply_gradients(self.local_optimizer, tape, g_loss, self.optimizer_variables["local_optimizer"])
        apply_gradients(self.generator_optimizer, tape, g_loss, self.generator_variables)
        apply_gradients(self.discriminator_optimizer, tape, d_loss, self.discriminator.trainable_variables)
        del tape
        l1 = mean_loss(losses.l1_loss(real_b, fake_b))  # monitored, not trained
        return {**metrics, "d": d_loss, "l1": l1}


def paired_test_report(trainer, task="gray2color"):
    """The demo's held-out figures on ``demo-<task>``: PSNR/L1 of G(a) against b, next to the
    untrained generator (the config's seeded initial weights) and the input itself."""
    untrained = seeded(build_models, trainer.config)["generator"]
    return demo_quality.paired_test_report(trainer.generator, untrained, trainer.config.image_size, task)


# The demo: pix2pixHD on label maps (demo-labels: 6 colour classes of real photo crops, two of them
# countable objects with instance ids), with instance boundaries and the feature encoder, at 32 px.
# G1 with 3 downsamplings and 3 blocks, two D scales, LSGAN + feature matching (no VGG weights offline).
# Changed from the paper, as in the earlier gray -> colour demo (measured there on 300-1,500-step runs):
# - norm "batch": instance norm after G's first convolution removed each crop's brightness and contrast;
# - n_layers_d 1 (16 px patches): the 70 px PatchGAN sees all of a 32 px crop and beat G within a few
#   hundred steps; the small patch D stays balanced longer;
# - lr 5e-4 like the other demos; E with 3 downsamplings (a 4x4 bottleneck at 32 px).
# Its figures are in pix2pixhd_demo.labels_test_report (and the README).
DEMO_LABEL_NC = len(DEMO_CLASSES)
FAMILY = Family(
    name="pix2pixhd", config=Config, build_models=build_models, trainer=Trainer, data="paired",
    directions={"AtoB": "generator"}, sample_columns=PAIRED_COLUMNS, column_titles=PAIRED_TITLES,
    demo=Demo(Config(image_size=32, label_nc=DEMO_LABEL_NC, use_instance_map=True, instance_feat=True,
                     ngf=16, ndf=16, n_downsample_global=3, n_blocks=3, num_d=2, norm="batch", n_layers_d=1,
                     n_downsample_e=3, batch_size=4, lr=5e-4, n_epochs=8, n_epochs_decay=7),
              LABELLED_DEMO, labels_test_report),
    smoke_config=Config(image_size=32, ngf=4, ndf=4, n_blocks=1, n_downsample_global=2, n_layers_d=1, batch_size=2,
                        label_nc=DEMO_LABEL_NC, use_instance_map=True, instance_feat=True, nef=4, n_downsample_e=2),
    map_inputs=map_inputs, after_training=fit_run_styles,
)
