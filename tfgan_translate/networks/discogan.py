"""The DiscoGAN networks (Kim et al., 2017): an encoder-decoder generator without skip
connections and a DCGAN-style discriminator that reduces the image to one logit.

Layer lists follow the official PyTorch code (SKTBrain/DiscoGAN ``model.py``) at 64 px:

- generator: Conv4 s2 p1 64, LeakyReLU(0.2); [Conv4 s2 p1 (128, 256, 512), BN, LeakyReLU];
  [ConvTranspose4 s2 p1 (256, 128, 64), BN, ReLU]; ConvTranspose4 s2 p1 -> 3, Tanh.
  The official output is a sigmoid for images in [0, 1]; this package's images are in
  [-1, 1], so the output is a tanh, as the chapter describes.
- discriminator: Conv4 s2 p1 64, LeakyReLU; [Conv4 s2 p1 (128, 256, 512), BN, LeakyReLU];
  Conv4 s1 p0 -> 1 logit (the 4x4 map left at 64 px becomes 1x1). Feature matching
  uses the activations of every layer after the first (``relu2..relu4`` in the official code).

No layer has a bias (``bias=False`` throughout the official code, including the last
layers). Weights use this package's N(0, 0.02) init instead of PyTorch's default.

Other sizes: ``depth`` (the number of stride-2 convolutions of the encoder and of the
discriminator) defaults to ``log2(image_size) - 2``, so the bottleneck and the
discriminator's last map are always 4x4 (depth 4 at 64 px, the official model; depth 3
at 32 px drops the 512-channel level). Widths are ``ndf * min(2**i, 8)``.
"""

import math

import keras

from .blocks import check_input_shape, conv, conv_transpose, leaky_relu, normalization, relu

FINAL_SIZE = 4  # side of the bottleneck and of the discriminator's last feature map


def depth_for(image_size):
    """``log2(image_size) - 2``: the depth whose bottleneck is 4x4 (4 at 64 px, 3 at 32 px)."""
    depth = int(round(math.log2(image_size))) - 2
    if image_size < 8 or 2 ** (depth + 2) != image_size:
        raise ValueError(
            f"image_size {image_size} is not a power of 2 of at least 8, so the DiscoGAN depth cannot be "
            "derived from it: set num_downs explicitly (image_size must be a multiple of 2**num_downs)"
        )
    return depth


def _width(base, level):
    return base * min(2**level, 8)


def _check(input_shape, depth, builder):
    input_shape = check_input_shape(input_shape, builder)
    if depth < 2:
        raise ValueError(f"{builder}: depth must be at least 2, got {depth}")
    multiple = 2**depth
    for dim, label in zip(input_shape[:2], ("height", "width")):
        if dim is not None and dim % multiple:
            raise ValueError(
                f"{builder}: input {label} {dim} does not work with depth {depth}: height and width must be "
                f"multiples of 2**{depth} = {multiple}. Resize the images or choose another depth."
            )
    return input_shape


def build_encoder_decoder_generator(input_shape, output_channels=3, depth=4, ngf=64, name="encoder_decoder_generator"):
    """The DiscoGAN generator: ``depth`` strided convolutions down, as many transposed up.

    Args:
        input_shape: ``(H, W, C)``; H and W multiples of ``2 ** depth`` (``None`` = free).
        output_channels: channels of the tanh output in [-1, 1].
        depth: number of stride-2 levels (4 = the official 64 px model).
        ngf: filters of the first level; level i has ``ngf * min(2**i, 8)``.

    Example:
        >>> g = build_encoder_decoder_generator((32, 32, 3), depth=3, ngf=8)
        >>> g.output_shape
        (None, 32, 32, 3)
    """
    input_shape = _check(input_shape, depth, "build_encoder_decoder_generator")
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for level in range(depth):
        x = conv(x, _width(ngf, level), 4, strides=2, padding=1, use_bias=False, name=f"down{level + 1}_conv")
        if level > 0:
            x = normalization(x, "batch", f"down{level + 1}_norm")
        x = leaky_relu(x, f"down{level + 1}_lrelu")
    for level in reversed(range(depth - 1)):
        block = f"up{depth - 1 - level}"
        x = conv_transpose(x, _width(ngf, level), 4, strides=2, padding=1, use_bias=False, name=f"{block}_conv")
        x = normalization(x, "batch", f"{block}_norm")
        x = relu(x, f"{block}_relu")
    x = conv_transpose(x, output_channels, 4, strides=2, padding=1, use_bias=False, name="out_conv")
    outputs = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)


def build_dcgan_discriminator(input_shape, depth=4, ndf=64, norm="batch", return_features=False,
                              name="dcgan_discriminator"):
    """The DiscoGAN discriminator: ``depth`` strided convolutions, then a 4x4 valid one to logits.

    An input of ``4 * 2**depth`` pixels gives one logit per image (64 px with depth 4);
    a larger input gives a map of logits, which the losses average.

    Args:
        input_shape: ``(H, W, C)``.
        depth: number of stride-2 convolutions (4 = official at 64 px).
        ndf: filters of the first layer; layer i has ``ndf * min(2**i, 8)``.
        norm: ``"batch"`` (official) or ``"none"``/``"instance"`` (e.g. for a WGAN-GP critic).
        return_features: output ``[feature_2, ..., feature_depth, logits]``, the
            activations the official feature-matching loss compares (all but the first layer's).
    """
    input_shape = check_input_shape(input_shape, "build_dcgan_discriminator")
    if depth < 2:
        raise ValueError(f"build_dcgan_discriminator: depth must be at least 2, got {depth}")
    smallest = FINAL_SIZE * 2**depth
    for dim in input_shape[:2]:
        if dim is not None and dim < smallest:
            raise ValueError(
                f"build_dcgan_discriminator: input side {dim} is too small for depth {depth}: it needs at least "
                f"{smallest} pixels (4 * 2**depth). Use larger images or a smaller depth."
            )
    inputs = keras.Input(shape=input_shape, name="image")
    features = []
    x = inputs
    for level in range(depth):
        x = conv(x, _width(ndf, level), 4, strides=2, padding=1, use_bias=False, name=f"conv{level + 1}")
        if level > 0:
            x = normalization(x, norm, f"norm{level + 1}")
        x = leaky_relu(x, f"lrelu{level + 1}")
        if level > 0:
            features.append(x)
    logits = conv(x, 1, FINAL_SIZE, strides=1, padding=0, use_bias=False, name="logits")
    logits = keras.layers.Activation("linear", dtype="float32", name="logits_float32")(logits)
    return keras.Model(inputs, [*features, logits] if return_features else logits, name=name)
