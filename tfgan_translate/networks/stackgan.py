"""StackGAN networks (Zhang et al., ICCV 2017): text embedding -> 64 px image -> 256 px image.

Layer lists follow ``code/model.py`` of hanzhanggit/StackGAN-Pytorch. Paper symbols in code:
``phi_t`` = ``embedding`` (the char-CNN-RNN text embedding, 1024-d), ``c_hat`` = ``c`` (the
sampled condition), ``mu_0``/``Sigma_0`` = ``mu``/``exp(logvar)`` of
:class:`ConditioningAugmentation`, G0/D0 = Stage-I (:func:`build_stage1_generator`,
:func:`build_stage1_discriminator`), G1/D1 = Stage-II (:func:`build_stage2_generator`,
:func:`build_stage2_discriminator`). Reference widths: ``ngf`` = ``gf_dim * 8`` in G0 and
``gf_dim`` in G1; ``ndf`` = ``df_dim``.

- **Conditioning augmentation**: ``relu(fc(phi_t))`` split into ``mu`` and ``logvar``;
  ``c = mu + exp(logvar / 2) * eps``. ``eps`` is an input (the tail of the generator's
  ``noise``), so a generator is a pure function of its inputs and resumes exactly.
- **G0**: inputs ``embedding`` and ``noise = [z, eps]``; ``[z, c]`` -> FC ``16 ngf`` -> BN
  ReLU -> ``ngf x 4 x 4`` -> ``log2(S/4)`` up-blocks (nearest x2, conv3, BN, ReLU; channels
  halve) -> conv3 -> 3, tanh.
- **G1**: inputs ``embedding`` and ``noise = [z, eps_0, eps_1]``; G0 (frozen) draws the
  low-resolution image, an encoder (conv3 ReLU, 2 x [conv4 s2, BN, ReLU]) takes it to
  ``4 ngf`` at a quarter size, ``c`` (G1's own CA) is tiled and concatenated, then conv3 BN
  ReLU, ``r_num`` residual blocks, 4 up-blocks and conv3 -> 3, tanh: 4x G0's size.
- **D0/D1 trunks** (``encode_img``): conv4 s2 p1 layers down to ``4 x 4 x 8 ndf``;
  :func:`build_conditional_logits` (and, for D1, :func:`build_unconditional_logits`) turn
  those features into one logit per example.

Every convolution pads explicitly and symmetrically (``blocks.conv``), has no bias unless
stated, and starts from N(0, 0.02); batch norm scale from N(1, 0.02), as ``weights_init``.
"""

import math
import numbers

import keras
from keras import ops

from ..layers import ConditioningAugmentation, StopGradient, VectorSlice
from .blocks import conv, leaky_relu, normalization, relu, weight_init

STAGE1_NAME = "stage1_generator"
CONDITIONING_NAME = "conditioning_augmentation"


def _positive(**values):
    for name, value in values.items():
        if not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _doublings(image_size, minimum, argument="image_size"):
    """``k`` with ``image_size == 4 * 2**k``, refusing other sizes and ``k < minimum``."""
    k = int(math.log2(image_size / 4)) if isinstance(image_size, numbers.Integral) and image_size >= 4 else -1
    if k < minimum or image_size != 4 * 2**k:
        raise ValueError(f"{argument} must be 4 * 2**k with k >= {minimum} "
                         f"({4 * 2**minimum}, {8 * 2**minimum}, ...), got {image_size!r}")
    return k


def _width(base, exponent, argument, label=None):
    """``base * 2**exponent`` channels; a negative exponent must still divide evenly."""
    if base * 2.0**exponent < 1 or (exponent < 0 and base % 2**-exponent):
        label = label or argument
        raise ValueError(f"{argument} is too small for this image size: a layer would have {label} * 2**{exponent} "
                         f"channels ({label} = {base} must be a multiple of {2**max(-exponent, 0)})")
    return int(base * 2**exponent)


def _bn(x, name):
    return normalization(x, "batch", name)


def _up_block(x, filters, prefix):
    """The reference ``upBlock``: nearest x2, conv3 p1 (no bias), BN, ReLU."""
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{prefix}_upsample")(x)
    x = conv(x, filters, 3, padding=1, use_bias=False, name=f"{prefix}_conv")
    return relu(_bn(x, f"{prefix}_bn"), f"{prefix}_relu")


def _to_image(x):
    x = conv(x, 3, 3, padding=1, use_bias=False, name="image_conv")
    return keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)


def _tile(vector, size, dim, name):
    """``(B, dim) -> (B, size, size, dim)``, the reference's ``view(-1, dim, 1, 1).repeat``."""
    x = keras.layers.Reshape((1, 1, dim), name=f"{name}_map")(vector)
    return keras.layers.UpSampling2D(size, interpolation="nearest", name=f"{name}_tiled")(x)


def build_stage1_generator(embedding_dim=1024, noise_dim=100, condition_dim=128, gf_dim=128, image_size=64,
                           ca_negative_slope=0.0, name="generator"):
    """G0 (``STAGE1_G``): ``[embedding (E,), noise (noise_dim + condition_dim,)]`` -> image (S, S, 3).

    ``noise = [z, eps]``, both N(0, 1): ``z`` feeds the FC layer, ``eps`` samples ``c``.

    >>> g = build_stage1_generator(32, 10, 8, gf_dim=4, image_size=16)
    >>> g([keras.random.normal((2, 32)), keras.random.normal((2, 18))]).shape
    TensorShape([2, 16, 16, 3])
    """
    _positive(embedding_dim=embedding_dim, noise_dim=noise_dim, condition_dim=condition_dim, gf_dim=gf_dim)
    ups = _doublings(image_size, 1)
    ngf = gf_dim * 8
    _width(ngf, -ups, "gf_dim", "8 * gf_dim")
    embedding = keras.Input((embedding_dim,), name="embedding")
    noise = keras.Input((noise_dim + condition_dim,), name="noise")
    z = VectorSlice(0, noise_dim, dtype="float32", name="z")(noise)
    eps = VectorSlice(noise_dim, noise_dim + condition_dim, dtype="float32", name="eps")(noise)
    c = ConditioningAugmentation(condition_dim, ca_negative_slope, name=CONDITIONING_NAME)([embedding, eps])
    x = keras.layers.Concatenate(name="z_and_c")([z, c])
    x = keras.layers.Dense(ngf * 16, use_bias=False, kernel_initializer=weight_init(), name="fc")(x)
    x = relu(_bn(x, "fc_bn"), "fc_relu")
    # PyTorch's view(-1, ngf, 4, 4) is channels-first; transposing keeps converted weights exact.
    x = keras.layers.Reshape((ngf, 4, 4), name="to_channels_first")(x)
    x = keras.layers.Permute((2, 3, 1), name="to_nhwc")(x)
    for i in range(ups):
        x = _up_block(x, ngf // 2 ** (i + 1), f"up{i + 1}")
    return keras.Model([embedding, noise], _to_image(x), name=name)


def _encode_image(image, df_dim, n, top):
    """``n`` x [conv4 s2 p1, (BN), LeakyReLU(0.2)], channels ``df_dim * 2**(i + top + 1 - n)``."""
    x = image
    for i in range(n):
        filters = _width(df_dim, i + top + 1 - n, "df_dim")
        x = conv(x, filters, 4, 2, padding=1, use_bias=False, name=f"conv{i + 1}")
        if i:
            x = _bn(x, f"conv{i + 1}_bn")
        x = leaky_relu(x, f"conv{i + 1}_lrelu")
    return x


def build_stage1_discriminator(image_size=64, df_dim=64, name="discriminator"):
    """D0's image encoder (``STAGE1_D.encode_img``): image (S, S, 3) -> features (4, 4, 8 ndf).

    ``log2(S/4)`` stride-2 convolutions; at 64 px ndf, 2ndf, 4ndf, 8ndf as the reference.
    """
    _positive(df_dim=df_dim)
    n = _doublings(image_size, 1)
    image = keras.Input((image_size, image_size, 3), name="image")
    return keras.Model(image, _encode_image(image, df_dim, n, top=3), name=name)


def build_stage2_discriminator(image_size=256, df_dim=64, name="discriminator"):
    """D1's image encoder (``STAGE2_D.encode_img``): image (S, S, 3) -> features (4, 4, 8 ndf).

    ``log2(S/4)`` stride-2 convolutions up to 32 ndf (at 256 px ndf..32ndf, the reference),
    then conv3 -> 16 ndf and conv3 -> 8 ndf, each with BN and LeakyReLU(0.2).
    """
    _positive(df_dim=df_dim)
    n = _doublings(image_size, 2)
    image = keras.Input((image_size, image_size, 3), name="image")
    x = _encode_image(image, df_dim, n, top=5)
    for i, filters in enumerate((16 * df_dim, 8 * df_dim), start=n + 1):
        x = conv(x, filters, 3, padding=1, use_bias=False, name=f"conv{i}")
        x = leaky_relu(_bn(x, f"conv{i}_bn"), f"conv{i}_lrelu")
    return keras.Model(image, x, name=name)


def _logits(x):
    x = keras.layers.Conv2D(1, 4, strides=4, kernel_initializer=weight_init(), dtype="float32",
                            name="logits_conv")(x)
    return keras.layers.Reshape((), dtype="float32", name="logits")(x)


def build_conditional_logits(df_dim=64, condition_dim=128, name="discriminator_head"):
    """``D_GET_LOGITS(bcondition=True)``: ``[features (4, 4, 8 ndf), condition (N_c,)]`` -> logits (B,).

    The condition (the reference feeds ``mu``) is tiled to 4x4 and concatenated after the
    features; conv3 8ndf, BN, LeakyReLU(0.2), conv4 s4 (bias) -> one logit. The reference's
    final Sigmoid is left out: these are logits for a sigmoid cross-entropy, which is the
    reference's BCE on probabilities computed stably.
    """
    _positive(df_dim=df_dim, condition_dim=condition_dim)
    features = keras.Input((4, 4, 8 * df_dim), name="features")
    condition = keras.Input((condition_dim,), name="condition")
    x = keras.layers.Concatenate(name="features_and_condition")(
        [features, _tile(condition, 4, condition_dim, "condition")])
    x = conv(x, 8 * df_dim, 3, padding=1, use_bias=False, name="joint_conv")
    x = leaky_relu(_bn(x, "joint_bn"), "joint_lrelu")
    return keras.Model([features, condition], _logits(x), name=name)


def build_unconditional_logits(df_dim=64, name="discriminator_uncond_head"):
    """``D_GET_LOGITS(bcondition=False)``, without Sigmoid: features (4, 4, 8 ndf) -> logits (B,).

    The reference's Stage-II D has this second head and adds its losses to the conditional ones.
    """
    _positive(df_dim=df_dim)
    features = keras.Input((4, 4, 8 * df_dim), name="features")
    return keras.Model(features, _logits(features), name=name)


def _residual_block(x, channels, prefix):
    """The reference ``ResBlock``: relu(x + BN(conv3(relu(BN(conv3(x))))))."""
    y = conv(x, channels, 3, padding=1, use_bias=False, name=f"{prefix}_conv1")
    y = relu(_bn(y, f"{prefix}_bn1"), f"{prefix}_relu1")
    y = _bn(conv(y, channels, 3, padding=1, use_bias=False, name=f"{prefix}_conv2"), f"{prefix}_bn2")
    return relu(keras.layers.Add(name=f"{prefix}_add")([y, x]), f"{prefix}_relu")


def build_stage2_generator(stage1_generator, embedding_dim=1024, noise_dim=100, condition_dim=128, gf_dim=128,
                           r_num=4, ca_negative_slope=0.0, name="generator"):
    """G1 (``STAGE2_G``): ``[embedding (E,), noise (noise_dim + 2 condition_dim,)]`` -> image (4 S0, 4 S0, 3).

    ``noise = [z, eps_0, eps_1]``: the first ``noise_dim + condition_dim`` entries drive the
    nested G0, the last ``condition_dim`` sample G1's own ``c``. G0 is frozen: this sets
    ``stage1_generator.trainable = False`` (Keras then also runs its batch norm in inference
    mode, so its moving statistics stay fixed; the reference's ``netG.train()`` left G0's
    batch norm in training mode) and renames it :data:`STAGE1_NAME` (``"stage1_generator"``),
    so ``model.get_layer("stage1_generator")`` finds it. Do not set ``trainable = True`` on
    the returned model: Keras would unfreeze G0 too.
    """
    _positive(embedding_dim=embedding_dim, noise_dim=noise_dim, condition_dim=condition_dim, gf_dim=gf_dim)
    if not isinstance(r_num, numbers.Integral) or r_num < 0:
        raise ValueError(f"r_num must be an int >= 0, got {r_num!r}")
    _width(gf_dim, -2, "gf_dim")
    expected = [(None, embedding_dim), (None, noise_dim + condition_dim)]
    if [tuple(t.shape) for t in stage1_generator.inputs] != expected:
        raise ValueError(f"stage1_generator must take inputs of shapes {expected} (embedding_dim, "
                         f"noise_dim + condition_dim), got {[tuple(t.shape) for t in stage1_generator.inputs]}")
    low_size = stage1_generator.outputs[0].shape[1]
    stage1_generator.trainable = False
    stage1_generator.name = STAGE1_NAME
    ngf = gf_dim
    embedding = keras.Input((embedding_dim,), name="embedding")
    noise = keras.Input((noise_dim + 2 * condition_dim,), name="noise")
    stage1_noise = VectorSlice(0, noise_dim + condition_dim, dtype="float32", name="stage1_noise")(noise)
    eps = VectorSlice(noise_dim + condition_dim, noise_dim + 2 * condition_dim, dtype="float32", name="eps")(noise)
    low = StopGradient(dtype="float32", name="stage1_image")(stage1_generator([embedding, stage1_noise]))
    x = relu(conv(low, ngf, 3, padding=1, use_bias=False, name="encode1"), "encode1_relu")
    for i in (2, 3):
        x = conv(x, ngf * 2 ** (i - 1), 4, 2, padding=1, use_bias=False, name=f"encode{i}")
        x = relu(_bn(x, f"encode{i}_bn"), f"encode{i}_relu")
    c = ConditioningAugmentation(condition_dim, ca_negative_slope, name=CONDITIONING_NAME)([embedding, eps])
    x = keras.layers.Concatenate(name="encoded_and_c")([x, _tile(c, low_size // 4, condition_dim, "c")])
    x = conv(x, 4 * ngf, 3, padding=1, use_bias=False, name="joint_conv")
    x = relu(_bn(x, "joint_bn"), "joint_relu")
    for i in range(r_num):
        x = _residual_block(x, 4 * ngf, f"res{i + 1}")
    for i in range(4):
        x = _up_block(x, 4 * ngf // 2 ** (i + 1), f"up{i + 1}")
    return keras.Model([embedding, noise], _to_image(x), name=name)


def conditioning_layer(generator):
    """A generator's own :class:`ConditioningAugmentation` (G1's, not its nested G0's):
    ``conditioning_layer(g).encode(embedding)`` gives ``(mu, logvar)`` for the KL term and D."""
    return generator.get_layer(CONDITIONING_NAME)


def stage1_image(generator, embedding, noise):
    """G0's image inside G1 for G1's inputs ``(embedding, noise)``, in inference mode."""
    stage1 = generator.get_layer(STAGE1_NAME)
    size = stage1.inputs[1].shape[-1]
    embedding, noise = ops.convert_to_tensor(embedding), ops.convert_to_tensor(noise)
    return stage1([embedding, noise[:, :size]], training=False)
