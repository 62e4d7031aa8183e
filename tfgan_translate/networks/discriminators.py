"""Discriminator builders: the PatchGAN of pix2pix/CycleGAN and the 1x1 pixel discriminator.

A PatchGAN classifies every overlapping N x N patch as real or fake instead of the whole
image (Isola et al., 2017, section 3.2.2): its output is a map of logits, one per patch.
The conditional pix2pix discriminator is the same network on the input and the target
concatenated along channels, i.e. ``input_shape=(H, W, 6)``.
"""

import keras

from ..layers import BlurPool2D
from .blocks import check_input_shape, check_norm, conv, conv_uses_bias, leaky_relu, normalization

PATCH_KERNEL = 4
DOWNSAMPLING_MODES = ("strided", "antialiased")


def _patchgan_strides(n_layers):
    """Strides of the PatchGAN's convolutions, input to output."""
    return [2] * n_layers + [1, 1]


def patchgan_receptive_field(n_layers=3):
    """Side of the input patch one PatchGAN output sees: 70 for ``n_layers=3``.

    Walks back from one output pixel: a k x k convolution with stride s turns a field of
    r pixels into ``(r - 1) * s + k``. ``n_layers`` 1, 2, 3 give the paper's 16, 34, 70;
    ``n_layers=0`` means the pixel discriminator (1).
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    if n_layers == 0:
        return 1
    field = 1
    for stride in reversed(_patchgan_strides(n_layers)):
        field = (field - 1) * stride + PATCH_KERNEL
    return field


def patchgan_output_size(size, n_layers=3, padding=1):
    """Output side for an input side ``size`` (every layer pads ``padding``): 256 -> 30 for
    n_layers 3 with pix2pix's padding 1; pix2pixHD pads 2 (256 -> 35)."""
    for stride in _patchgan_strides(n_layers):
        size = (size + 2 * padding - PATCH_KERNEL) // stride + 1
    return size


def build_patchgan_discriminator(
    input_shape, ndf=64, n_layers=3, norm="batch", return_features=False, name="patchgan_discriminator",
    padding=1, downsampling="strided",
):
    """The reference ``NLayerDiscriminator``: a map of real/fake logits, one per patch.

    C64 - C128 - C256 (stride 2) - C512 (stride 1) - 1 channel for ``n_layers=3``, all 4x4
    with padding 1, LeakyReLU 0.2, no norm on the first layer, no activation on the
    output (the GAN loss takes logits). A 256x256 input gives a 30x30 map of 70x70 patches.

    Args:
        input_shape: ``(H, W, C)``; ``C=6`` for the conditional pix2pix discriminator.
        ndf: filters of the first layer; later layers use up to ``8 * ndf``.
        n_layers: number of stride-2 layers (3 for the 70x70 PatchGAN).
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``.
        return_features: also output every intermediate activation (the model then returns
            ``[feature_1, ..., feature_{n_layers+1}, logits]``), for feature matching.
        padding: zero padding of every 4x4 convolution: 1 in pix2pix/CycleGAN, 2 in
            pix2pixHD (``ceil((4 - 1) / 2)``), which makes each map a little larger.
        downsampling: ``"strided"`` (reference) or ``"antialiased"`` (CUT's default: each
            stride-2 conv becomes a stride-1 conv followed, after its norm and LeakyReLU, by a
            fixed blur-pool of stride 2). Same parameters and, for padding 1, the same map size.

    Example:
        >>> d = build_patchgan_discriminator((256, 256, 6), ndf=8)
        >>> d.output_shape
        (None, 30, 30, 1)
    """
    input_shape = check_input_shape(input_shape, "build_patchgan_discriminator")
    check_norm(norm)
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1 (use build_pixel_discriminator for 1x1 patches); got {n_layers}")
    if downsampling not in DOWNSAMPLING_MODES:
        raise ValueError(f"downsampling must be one of {DOWNSAMPLING_MODES}; got {downsampling!r}")
    blur = downsampling == "antialiased"
    for dim in input_shape[:2]:
        if dim is not None and patchgan_output_size(dim, n_layers, padding) < 1:
            smallest = next(s for s in range(1, 4096) if patchgan_output_size(s, n_layers, padding) >= 1)
            raise ValueError(
                f"build_patchgan_discriminator: input side {dim} is too small for n_layers={n_layers}: "
                f"it needs at least {smallest} pixels. Use larger images or fewer layers."
            )
    use_bias = conv_uses_bias(norm)

    inputs = keras.Input(shape=input_shape, name="image")
    features = []
    x = conv(inputs, ndf, PATCH_KERNEL, strides=1 if blur else 2, padding=padding, name="conv1")
    x = leaky_relu(x, "lrelu1")
    if blur:
        x = BlurPool2D(name="blur1")(x)
    features.append(x)
    for n in range(1, n_layers + 1):
        stride = 2 if n < n_layers else 1
        x = conv(x, ndf * min(2**n, 8), PATCH_KERNEL, strides=1 if blur else stride, padding=padding,
                 use_bias=use_bias, name=f"conv{n + 1}")
        x = normalization(x, norm, f"norm{n + 1}")
        x = leaky_relu(x, f"lrelu{n + 1}")
        if blur and stride == 2:
            x = BlurPool2D(name=f"blur{n + 1}")(x)
        features.append(x)
    logits = conv(x, 1, PATCH_KERNEL, strides=1, padding=padding, name="logits")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    outputs = [*features, logits] if return_features else logits
    return keras.Model(inputs, outputs, name=name)


def build_pixel_discriminator(input_shape, ndf=64, norm="batch", name="pixel_discriminator"):
    """The reference ``PixelDiscriminator`` (1x1 PatchGAN): judges each pixel's colour alone.

    Conv1x1 ndf - LeakyReLU - Conv1x1 2 ndf - Norm - LeakyReLU - Conv1x1 1. It cannot see
    structure, only colour statistics, which is what the pix2pix paper tests it for.
    """
    input_shape = check_input_shape(input_shape, "build_pixel_discriminator")
    check_norm(norm)
    use_bias = conv_uses_bias(norm)
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv(inputs, ndf, 1, name="conv1")
    x = leaky_relu(x, "lrelu1")
    x = conv(x, ndf * 2, 1, use_bias=use_bias, name="conv2")
    x = normalization(x, norm, "norm2")
    x = leaky_relu(x, "lrelu2")
    x = conv(x, 1, 1, use_bias=use_bias, name="logits")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(x)
    return keras.Model(inputs, logits, name=name)
