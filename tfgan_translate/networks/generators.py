"""Generator builders: the pix2pix U-Net and the CycleGAN ResNet generator.

Layer order, channel widths, biases and padding follow the reference PyTorch
implementation (``networks.py`` of pytorch-CycleGAN-and-pix2pix), so parameter counts
equal the published ones (``unet_256`` 54,413,955; ``resnet_9blocks`` 11,378,179) and a
converted reference checkpoint computes the same outputs.
"""

import keras

from ..layers import BlurPool2D, BlurUpsample2D, ReflectionPadding2D
from .blocks import (
    check_input_shape,
    check_norm,
    conv,
    conv_transpose,
    conv_uses_bias,
    normalization,
    leaky_relu,
    relu,
)

UPSAMPLING_MODES = ("transpose", "resize_conv", "antialiased")
DOWNSAMPLING_MODES = ("strided", "antialiased")


def _output_activation(x, name="tanh"):
    """Tanh in float32, so that mixed-precision models still emit float32 images."""
    return keras.layers.Activation("tanh", dtype="float32", name=name)(x)


def build_unet_generator(
    input_shape, output_channels=3, num_downs=8, ngf=64, norm="batch", use_dropout=True, name="unet_generator"
):
    """The pix2pix U-Net (Isola et al., 2017): an encoder-decoder with skip connections.

    ``num_downs=8`` is the reference ``unet_256`` (a 256x256 image reaches 1x1 at the
    bottleneck), ``num_downs=7`` is ``unet_128``. Each level halves the size with a 4x4
    stride-2 convolution; the decoder mirrors it and concatenates the encoder features
    (skip first, then decoder, as the reference). Dropout 0.5 sits in the
    ``num_downs - 5`` innermost decoder blocks next to the bottleneck block.

    Args:
        input_shape: ``(H, W, C)``; H and W must be multiples of ``2 ** num_downs``
            (``None`` leaves a dimension free, checked when called).
        output_channels: channels of the tanh output in [-1, 1].
        num_downs: number of downsamplings, at least 5.
        ngf: filters of the outermost level; inner levels use up to ``8 * ngf``.
        norm: ``"batch"`` (reference), ``"instance"`` or ``"none"``.
        use_dropout: dropout 0.5 in the inner decoder blocks (the pix2pix noise source).

    Example:
        >>> g = build_unet_generator((32, 32, 3), num_downs=5, ngf=8)
        >>> g.output_shape
        (None, 32, 32, 3)
    """
    input_shape = check_input_shape(input_shape, "build_unet_generator")
    check_norm(norm)
    if num_downs < 5:
        raise ValueError(f"build_unet_generator: num_downs must be at least 5, got {num_downs}")
    multiple = 2**num_downs
    for dim, label in zip(input_shape[:2], ("height", "width")):
        if dim is not None and dim % multiple:
            raise ValueError(
                f"build_unet_generator: input {label} {dim} does not work with num_downs={num_downs}: "
                f"height and width must be multiples of 2**{num_downs} = {multiple} "
                f"(e.g. {multiple}, {2 * multiple}, {3 * multiple}). Resize or pad the images, or "
                f"choose num_downs so that 2**num_downs divides both sides."
            )
    use_bias = conv_uses_bias(norm)
    innermost = num_downs - 1

    def inner_channels(level):
        return ngf * min(2**level, 8)

    def outer_channels(level):
        return output_channels if level == 0 else inner_channels(level - 1)

    def block(x, level):
        # Encoder half: LeakyReLU -> Conv4 s2 -> Norm (outermost: conv only; innermost: no norm).
        y = x
        if level > 0:
            y = leaky_relu(y, f"down{level}_lrelu")
        y = conv(y, inner_channels(level), 4, strides=2, padding=1, use_bias=use_bias, name=f"down{level}_conv")
        if 0 < level < innermost:
            y = normalization(y, norm, f"down{level}_norm")
        if level < innermost:
            y = block(y, level + 1)
        # Decoder half: ReLU -> ConvTranspose4 s2 -> Norm (-> Dropout); outermost ends in tanh.
        y = relu(y, f"up{level}_relu")
        y = conv_transpose(
            y, outer_channels(level), 4, strides=2, padding=1,
            use_bias=True if level == 0 else use_bias, name=f"up{level}_conv",
        )
        if level == 0:
            return _output_activation(y)
        y = normalization(y, norm, f"up{level}_norm")
        if use_dropout and 4 <= level < innermost:
            y = keras.layers.Dropout(0.5, name=f"up{level}_dropout")(y)
        return keras.layers.Concatenate(axis=-1, name=f"skip{level}")([x, y])

    inputs = keras.Input(shape=input_shape, name="image")
    return keras.Model(inputs, block(inputs, 0), name=name)


def _resnet_block(x, channels, norm, use_bias, use_dropout, index):
    """``x + F(x)`` with F = [pad, conv3, norm, relu, (dropout), pad, conv3, norm] (He et al.)."""
    prefix = f"res{index}"
    y = ReflectionPadding2D(1, name=f"{prefix}_pad1")(x)
    y = conv(y, channels, 3, use_bias=use_bias, name=f"{prefix}_conv1")
    y = normalization(y, norm, f"{prefix}_norm1")
    y = relu(y, f"{prefix}_relu")
    if use_dropout:
        y = keras.layers.Dropout(0.5, name=f"{prefix}_dropout")(y)
    y = ReflectionPadding2D(1, name=f"{prefix}_pad2")(y)
    y = conv(y, channels, 3, use_bias=use_bias, name=f"{prefix}_conv2")
    y = normalization(y, norm, f"{prefix}_norm2")
    return keras.layers.Add(name=f"{prefix}_add")([x, y])


def _upsample(x, channels, upsampling, use_bias, name):
    """Double the size: the reference's ConvTranspose3 s2 (padding 1, output_padding 1);
    CUT's fixed blur upsampling + zero-padded conv3 (``antialiased``); or nearest-neighbour
    resize + reflection-padded conv3, which avoids checkerboard artifacts (Odena et al., 2016).
    All three have the same number of parameters."""
    if upsampling == "transpose":
        return conv_transpose(x, channels, 3, strides=2, padding=1, output_padding=1, use_bias=use_bias, name=name)
    if upsampling == "antialiased":
        x = BlurUpsample2D(name=f"{name}_blur")(x)
        return conv(x, channels, 3, padding=1, use_bias=use_bias, name=name)
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_resize")(x)
    x = ReflectionPadding2D(1, name=f"{name}_reflect")(x)
    return conv(x, channels, 3, use_bias=use_bias, name=name)


def build_resnet_generator(
    input_shape,
    output_channels=3,
    ngf=64,
    n_blocks=9,
    norm="instance",
    upsampling="transpose",
    use_dropout=False,
    name="resnet_generator",
    downsampling="strided",
):
    """The CycleGAN ResNet generator (Johnson et al., 2016; Zhu et al., 2017).

    c7s1-ngf, d(2 ngf), d(4 ngf), n_blocks x R(4 ngf), u(2 ngf), u(ngf), c7s1-out + tanh.
    ``n_blocks=9`` is ``resnet_9blocks`` (256 px), ``n_blocks=6`` is ``resnet_6blocks`` (128 px).

    Args:
        input_shape: ``(H, W, C)``; H and W must be multiples of 4 so that the output keeps
            the input size (non-square is fine, ``None`` leaves a dimension free).
        output_channels: channels of the tanh output in [-1, 1].
        ngf: filters of the first layer.
        n_blocks: residual blocks at 1/4 resolution.
        norm: ``"instance"`` (reference), ``"batch"`` or ``"none"``.
        upsampling: ``"transpose"`` (reference), ``"resize_conv"`` (checkerboard-free) or
            ``"antialiased"`` (CUT's default: fixed blur upsampling, then a conv3).
        use_dropout: dropout 0.5 inside each residual block (off in CycleGAN).
        downsampling: ``"strided"`` (reference: conv3 stride 2) or ``"antialiased"`` (CUT's
            default: conv3 stride 1, norm, ReLU, then a fixed blur-pool of stride 2).

    Example:
        >>> g = build_resnet_generator((32, 48, 3), ngf=8, n_blocks=2)
        >>> g.output_shape
        (None, 32, 48, 3)
    """
    input_shape = check_input_shape(input_shape, "build_resnet_generator")
    check_norm(norm)
    if upsampling not in UPSAMPLING_MODES:
        raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}; got {upsampling!r}")
    if downsampling not in DOWNSAMPLING_MODES:
        raise ValueError(f"downsampling must be one of {DOWNSAMPLING_MODES}; got {downsampling!r}")
    for dim, label in zip(input_shape[:2], ("height", "width")):
        if dim is not None and (dim % 4 or dim < 8):
            raise ValueError(
                f"build_resnet_generator: input {label} {dim} does not work: height and width must be "
                f"multiples of 4 and at least 8 (two stride-2 downsamplings), e.g. {max(8, dim - dim % 4)} "
                f"or {dim - dim % 4 + 4}. Resize or pad the images."
            )
    use_bias = conv_uses_bias(norm)

    inputs = keras.Input(shape=input_shape, name="image")
    x = ReflectionPadding2D(3, name="in_reflect")(inputs)
    x = conv(x, ngf, 7, use_bias=use_bias, name="in_conv")
    x = normalization(x, norm, "in_norm")
    x = relu(x, "in_relu")
    stride = 2 if downsampling == "strided" else 1
    for i in (1, 2):
        x = conv(x, ngf * 2**i, 3, strides=stride, padding=1, use_bias=use_bias, name=f"down{i}_conv")
        x = normalization(x, norm, f"down{i}_norm")
        x = relu(x, f"down{i}_relu")
        if downsampling == "antialiased":
            x = BlurPool2D(name=f"down{i}_blur")(x)
    for i in range(1, n_blocks + 1):
        x = _resnet_block(x, ngf * 4, norm, use_bias, use_dropout, i)
    for i in (1, 2):
        x = _upsample(x, ngf * 2 ** (2 - i), upsampling, use_bias, name=f"up{i}_conv")
        x = normalization(x, norm, f"up{i}_norm")
        x = relu(x, f"up{i}_relu")
    x = ReflectionPadding2D(3, name="out_reflect")(x)
    x = conv(x, output_channels, 7, name="out_conv")
    return keras.Model(inputs, _output_activation(x), name=name)
