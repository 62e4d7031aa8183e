"""Building blocks shared by the generator and discriminator builders.

Convolutions here pad explicitly the way the reference PyTorch code does (symmetric zero
padding, transposed convolutions cropped by ``padding`` and extended by ``output_padding``).
Keras ``padding="same"`` pads asymmetrically for strided layers, which shifts a stride-2
3x3 convolution by one pixel and makes a 70x70 PatchGAN output 32x32 instead of 30x30;
explicit padding keeps our outputs equal to the reference's.
"""

import keras

from ..layers import ConvTranspose2D, InstanceNormalization, LeakyReLU

NORMS = ("batch", "instance", "none")


def weight_init():
    """N(0, 0.02), the init of the DCGAN/pix2pix/CycleGAN papers (a fresh instance per layer)."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def gamma_init():
    """Batch-norm scale init N(1, 0.02), as the reference ``init_weights`` does."""
    return keras.initializers.RandomNormal(mean=1.0, stddev=0.02)


def check_norm(norm):
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {', '.join(map(repr, NORMS))}; got {norm!r}")
    return norm


def conv_uses_bias(norm):
    """Batch norm's offset makes a conv bias redundant, so the reference drops it there."""
    return norm != "batch"


def normalization(x, norm, name):
    """Apply the chosen normalization; ``"none"`` returns ``x`` unchanged.

    Batch norm matches ``nn.BatchNorm2d`` (eps 1e-5, momentum 0.1 = Keras 0.9); instance
    norm matches ``nn.InstanceNorm2d`` without affine parameters, as the reference uses it.
    """
    if norm == "batch":
        return keras.layers.BatchNormalization(
            momentum=0.9, epsilon=1e-5, gamma_initializer=gamma_init(), name=name
        )(x)
    if norm == "instance":
        return InstanceNormalization(epsilon=1e-5, name=name)(x)
    return x


def conv(x, filters, kernel_size, strides=1, padding=0, use_bias=True, name=None):
    """``nn.Conv2d(k, stride, padding)``: symmetric zero padding, then a valid convolution."""
    if padding:
        x = keras.layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="valid",
        use_bias=use_bias,
        kernel_initializer=weight_init(),
        bias_initializer="zeros",
        name=name,
    )(x)


def conv_transpose(x, filters, kernel_size, strides, padding, output_padding=0, use_bias=True, name=None):
    """``nn.ConvTranspose2d(k, stride, padding, output_padding)``, with PyTorch's output geometry."""
    return ConvTranspose2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        output_padding=output_padding,
        use_bias=use_bias,
        kernel_initializer=weight_init(),
        bias_initializer="zeros",
        name=name,
    )(x)


def leaky_relu(x, name):
    return LeakyReLU(negative_slope=0.2, name=name)(x)


def relu(x, name):
    return keras.layers.ReLU(name=name)(x)


def check_input_shape(input_shape, builder):
    """Refuse anything but ``(H, W, C)`` with a message naming the builder."""
    if len(input_shape) != 3:
        raise ValueError(
            f"{builder}: input_shape must be (height, width, channels), got {tuple(input_shape)!r}"
        )
    return tuple(input_shape)
