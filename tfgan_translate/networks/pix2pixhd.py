"""pix2pixHD networks (Wang et al., 2018): global generator, local enhancer, multi-scale D.

Layer lists follow the official ``networks.py`` of NVIDIA/pix2pixHD:

- Global generator G1: ReflectionPad(3), Conv7 ngf, Norm, ReLU; ``n_downsampling`` x
  [Conv3 s2 p1 (channels x2), Norm, ReLU]; ``n_blocks`` residual blocks at
  ``ngf * 2**n_downsampling``; ``n_downsampling`` x [ConvTranspose3 s2 p1 op1 (channels / 2),
  Norm, ReLU]; ReflectionPad(3), Conv7 -> output, Tanh. Every convolution has a bias
  (unlike the CycleGAN generator, which drops it next to batch norm).
- Local enhancer G2: G1 built with ``ngf * 2**n_local_enhancers`` filters, without its
  final pad/conv/tanh, sees the input downsampled ``n_local_enhancers`` times by a 3x3
  stride-2 average pool; each enhancer level n adds its own front end (ReflectionPad(3),
  Conv7, Norm, ReLU, Conv3 s2, Norm, ReLU) to the coarser features and refines the sum with
  ``n_blocks_local`` residual blocks and a ConvTranspose3 s2; the outermost level ends in
  ReflectionPad(3), Conv7 -> output, Tanh.
- Multi-scale discriminator: ``num_d`` PatchGANs (kernel 4, padding 2), scale k sees the
  input average-pooled k times; each returns its intermediate features and its logits map.

Layers are flat in one functional model with name prefixes (``global_`` for G1 inside
G2, ``local<n>_`` for enhancer level n), so that ``inference.size_multiple`` sees every
strided convolution and G1's weights can be copied into G2 by layer name.
"""

import keras
from keras import ops

from ..layers import ReflectionPadding2D
from .blocks import check_input_shape, check_norm, conv, conv_transpose, normalization, relu
from .discriminators import build_patchgan_discriminator

GLOBAL_PREFIX = "global_"
OUTPUT_LAYERS = ("out_reflect", "out_conv", "tanh")  # G1's head, which G2 does not use


@keras.saving.register_keras_serializable(package="tfgan_translate")
class AvgPoolDownsample(keras.layers.Layer):
    """``nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)``: halves the size
    (rounding up), averaging each 3x3 window over its pixels inside the image only.

    Keras ``AveragePooling2D(padding="same")`` pads only the bottom/right for even sizes,
    which shifts every window by one pixel against the reference.
    """

    def call(self, inputs):
        pad = [[0, 0], [1, 1], [1, 1], [0, 0]]
        sums = ops.average_pool(ops.pad(inputs, pad), 3, strides=2, padding="valid")
        ones = ops.pad(ops.ones_like(inputs[..., :1]), pad)
        counts = ops.average_pool(ones, 3, strides=2, padding="valid")  # fraction of real pixels
        return sums / counts

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        half = lambda d: None if d is None else (d + 1) // 2  # noqa: E731
        return (n, half(h), half(w), c)


def _residual_block(x, channels, norm, prefix):
    """``x + [reflect 1, conv3, norm, relu, reflect 1, conv3, norm](x)``, biases on."""
    y = ReflectionPadding2D(1, name=f"{prefix}_pad1")(x)
    y = conv(y, channels, 3, name=f"{prefix}_conv1")
    y = normalization(y, norm, f"{prefix}_norm1")
    y = relu(y, f"{prefix}_relu")
    y = ReflectionPadding2D(1, name=f"{prefix}_pad2")(y)
    y = conv(y, channels, 3, name=f"{prefix}_conv2")
    y = normalization(y, norm, f"{prefix}_norm2")
    return keras.layers.Add(name=f"{prefix}_add")([x, y])


def _front(x, ngf, norm, prefix):
    """ReflectionPad(3), Conv7 ngf, Norm, ReLU."""
    x = ReflectionPadding2D(3, name=f"{prefix}in_reflect")(x)
    x = conv(x, ngf, 7, name=f"{prefix}in_conv")
    x = normalization(x, norm, f"{prefix}in_norm")
    return relu(x, f"{prefix}in_relu")


def _up(x, channels, norm, name):
    """ConvTranspose3 s2 p1 op1 (doubles the size), Norm, ReLU."""
    x = conv_transpose(x, channels, 3, strides=2, padding=1, output_padding=1, name=f"{name}_conv")
    x = normalization(x, norm, f"{name}_norm")
    return relu(x, f"{name}_relu")


def _global_features(x, ngf, n_downsampling, n_blocks, norm, prefix=""):
    """G1 without its output head: features with ``ngf`` channels at the input's size."""
    x = _front(x, ngf, norm, prefix)
    for i in range(1, n_downsampling + 1):
        x = conv(x, ngf * 2**i, 3, strides=2, padding=1, name=f"{prefix}down{i}_conv")
        x = normalization(x, norm, f"{prefix}down{i}_norm")
        x = relu(x, f"{prefix}down{i}_relu")
    for i in range(1, n_blocks + 1):
        x = _residual_block(x, ngf * 2**n_downsampling, norm, f"{prefix}res{i}")
    for i in range(1, n_downsampling + 1):
        x = _up(x, ngf * 2 ** (n_downsampling - i), norm, f"{prefix}up{i}")
    return x


def _output_head(x, output_channels):
    x = ReflectionPadding2D(3, name="out_reflect")(x)
    x = conv(x, output_channels, 7, name="out_conv")
    return keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)  # float32 under mixed precision


def _check_sides(input_shape, multiple, builder):
    for dim, label in zip(input_shape[:2], ("height", "width")):
        if dim is not None and (dim % multiple or dim < 2 * multiple):
            raise ValueError(
                f"{builder}: input {label} {dim} does not work: height and width must be multiples of "
                f"{multiple} and at least {2 * multiple} (the residual blocks need a 2x2 map). "
                "Resize or pad the images, or use fewer downsamplings."
            )


def generator_size_multiple(n_downsampling, n_local_enhancers=0):
    """Height and width of G1 (``n_local_enhancers=0``) or G2 must divide by this."""
    return 2 ** (n_downsampling + n_local_enhancers)


def build_global_generator(
    input_shape, output_channels=3, ngf=64, n_downsampling=4, n_blocks=9, norm="instance",
    name="global_generator",
):
    """pix2pixHD's global generator G1 (``netG=global``): ~182M parameters at the defaults.

    Args:
        input_shape: ``(H, W, C)``; H and W multiples of ``2**n_downsampling`` (``None`` is free).
        output_channels: channels of the tanh output in [-1, 1].
        ngf: filters of the first layer (64 in the paper; 32 when G1 sits inside G2 at 1024p,
            since G2 doubles it).
        n_downsampling: stride-2 convolutions (``n_downsample_global``, 4 in the paper).
        n_blocks: residual blocks at the bottleneck (``n_blocks_global``, 9).
        norm: ``"instance"`` (paper), ``"batch"`` or ``"none"``.

    Example:
        >>> g = build_global_generator((64, 64, 3), ngf=8, n_downsampling=3, n_blocks=2)
        >>> g.output_shape
        (None, 64, 64, 3)
    """
    input_shape = check_input_shape(input_shape, "build_global_generator")
    check_norm(norm)
    _check_sides(input_shape, generator_size_multiple(n_downsampling), "build_global_generator")
    inputs = keras.Input(shape=input_shape, name="image")
    x = _global_features(inputs, ngf, n_downsampling, n_blocks, norm)
    return keras.Model(inputs, _output_head(x, output_channels), name=name)


def build_local_enhancer(
    input_shape, output_channels=3, ngf=32, n_downsample_global=4, n_blocks_global=9,
    n_local_enhancers=1, n_blocks_local=3, norm="instance", name="local_enhancer",
):
    """pix2pixHD's coarse-to-fine generator G = {G1, G2} (``netG=local``).

    G1 (``ngf * 2**n_local_enhancers`` filters, layers prefixed ``global_``) runs on the
    input average-pooled ``n_local_enhancers`` times; each enhancer level n (layers prefixed
    ``local<n>_``, n = 1 is the coarsest) adds its front end's features to the coarser
    output and refines the sum at twice the size.

    Example:
        >>> g = build_local_enhancer((64, 64, 3), ngf=4, n_downsample_global=2, n_blocks_global=1)
        >>> g.output_shape
        (None, 64, 64, 3)
    """
    input_shape = check_input_shape(input_shape, "build_local_enhancer")
    check_norm(norm)
    if n_local_enhancers < 1:
        raise ValueError(f"build_local_enhancer: n_local_enhancers must be >= 1 (0 is build_global_generator); "
                         f"got {n_local_enhancers}")
    _check_sides(input_shape, generator_size_multiple(n_downsample_global, n_local_enhancers), "build_local_enhancer")
    inputs = keras.Input(shape=input_shape, name="image")
    pyramid = [inputs]
    for i in range(1, n_local_enhancers + 1):
        pyramid.append(AvgPoolDownsample(name=f"downsample{i}")(pyramid[-1]))
    x = _global_features(pyramid[-1], ngf * 2**n_local_enhancers, n_downsample_global, n_blocks_global, norm,
                         GLOBAL_PREFIX)
    for n in range(1, n_local_enhancers + 1):
        width = ngf * 2 ** (n_local_enhancers - n)
        prefix = f"local{n}_"
        y = _front(pyramid[n_local_enhancers - n], width, norm, prefix)
        y = conv(y, width * 2, 3, strides=2, padding=1, name=f"{prefix}down_conv")
        y = normalization(y, norm, f"{prefix}down_norm")
        y = relu(y, f"{prefix}down_relu")
        x = keras.layers.Add(name=f"{prefix}add")([y, x])
        for i in range(1, n_blocks_local + 1):
            x = _residual_block(x, width * 2, norm, f"{prefix}res{i}")
        x = _up(x, width, norm, f"{prefix}up")
    return keras.Model(inputs, _output_head(x, output_channels), name=name)


def local_enhancer_variables(model, level):
    """Trainable variables of enhancer level ``level`` and of the shared output head: what
    the reference trains during ``niter_fix_global`` (its ``model<n>_*`` parameters, with
    n the outermost level)."""
    prefixes = (f"local{level}_", *OUTPUT_LAYERS)
    return [v for layer in model.layers if layer.name.startswith(prefixes) for v in layer.trainable_weights]


def copy_global_weights(global_generator, local_enhancer):
    """Initialise G2's ``global_`` layers from a trained G1 (the coarse-to-fine schedule);
    G1's output head is not used by G2 and is skipped. Returns the number of layers copied."""
    copied = 0
    for layer in global_generator.layers:
        if not layer.weights or layer.name in OUTPUT_LAYERS:
            continue
        try:
            target = local_enhancer.get_layer(GLOBAL_PREFIX + layer.name)
        except ValueError:
            raise ValueError(
                f"the local enhancer has no layer {GLOBAL_PREFIX + layer.name!r} for the global generator's "
                f"{layer.name!r}: the two were built with different n_downsample_global or n_blocks"
            ) from None
        source = layer.get_weights()
        shapes = [w.shape for w in source], [tuple(w.shape) for w in target.weights]
        if [tuple(s) for s in shapes[0]] != shapes[1]:
            raise ValueError(
                f"layer {layer.name!r}: the global generator's weights {shapes[0]} do not fit the local "
                f"enhancer's {shapes[1]}; G1 needs ngf = local ngf * 2**n_local_enhancers and the same channels"
            )
        target.set_weights(source)
        copied += 1
    return copied


def build_multiscale_discriminator(
    input_shape, ndf=64, n_layers=3, num_d=3, norm="instance", return_features=True, padding=2,
    name="multiscale_discriminator",
):
    """``num_d`` PatchGANs on the input at 1, 1/2, 1/4, ... of its size (pix2pixHD's D1..D3).

    Scale 0 sees the full input; scale k the input average-pooled k times (3x3, stride 2,
    padding 1, padding not counted). Each scale is the reference ``NLayerDiscriminator``:
    kernel 4, ``padding`` 2, biases on, LeakyReLU 0.2, no sigmoid (LSGAN).

    Returns a model whose output is a list with one entry per scale, full size first: with
    ``return_features`` the entry is ``[feature_1, ..., feature_{n_layers+1}, logits]``
    (what feature matching and the GAN losses take), else just the logits map. Keras
    unwraps a one-element output list, so with ``num_d=1`` pass the output through
    ``as_scale_list(outputs, 1)`` to get the same structure.

    Example:
        >>> d = build_multiscale_discriminator((32, 32, 6), ndf=8, num_d=2, return_features=False)
        >>> [tuple(o.shape) for o in d.outputs]
        [(None, 7, 7, 1), (None, 5, 5, 1)]
    """
    input_shape = check_input_shape(input_shape, "build_multiscale_discriminator")
    if num_d < 1:
        raise ValueError(f"build_multiscale_discriminator: num_d must be >= 1, got {num_d}")
    inputs = keras.Input(shape=input_shape, name="image")
    x, outputs = inputs, []
    for k in range(num_d):
        if k:
            x = AvgPoolDownsample(name=f"downsample{k}")(x)
        scale = build_patchgan_discriminator(
            (None, None, input_shape[-1]), ndf=ndf, n_layers=n_layers, norm=norm,
            return_features=return_features, padding=padding, name=f"scale{k}",
        )
        out = scale(x)
        outputs.append(list(out) if return_features else out)
    return keras.Model(inputs, outputs, name=name)


def as_scale_list(outputs, num_d):
    """The multi-scale D's output as a list with one entry per scale, also for ``num_d=1``
    (where the Keras model returns the single scale's entry itself)."""
    return [outputs] if num_d == 1 else list(outputs)
