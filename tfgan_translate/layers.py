"""Keras layers the translation networks need and Keras does not ship.

tensorflow-addons used to provide instance normalization; it reached end of life and does
not work with Keras 3, so these are our own, numerically equal to PyTorch's
``nn.InstanceNorm2d`` and ``nn.ReflectionPad2d`` as used by the reference pix2pix/CycleGAN.
"""

import keras
from keras import ops


def _pair_of_pairs(padding, name):
    """Normalise ``int | (h, w) | ((top, bottom), (left, right))`` to the last form."""
    if isinstance(padding, int):
        return ((padding, padding), (padding, padding))
    if len(padding) == 2 and all(isinstance(p, int) for p in padding):
        return ((padding[0], padding[0]), (padding[1], padding[1]))
    if len(padding) == 2 and all(len(p) == 2 for p in padding):
        return tuple(tuple(int(v) for v in p) for p in padding)
    raise ValueError(
        f"{name}: padding must be an int, (pad_h, pad_w) or ((top, bottom), (left, right)); "
        f"got {padding!r}"
    )


@keras.saving.register_keras_serializable(package="tfgan_translate")
class InstanceNormalization(keras.layers.Layer):
    """Normalise each sample's channels over height and width (Ulyanov et al., 2016).

    Equal to PyTorch ``nn.InstanceNorm2d(C, affine=False, track_running_stats=False)``:
    biased variance, ``eps=1e-5``, the same computation in training and inference.
    Statistics are computed in float32 even under mixed precision, since a float16
    variance over a 256x256 map loses most of its digits.

    Args:
        epsilon: added to the variance.
        affine: learn a per-channel scale (init 1) and offset (init 0).
    """

    def __init__(self, epsilon=1e-5, affine=False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.affine = bool(affine)

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"{self.name}: InstanceNormalization expects NHWC input, got shape {input_shape}"
            )
        channels = input_shape[-1]
        if self.affine:
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean, variance = ops.moments(x, axes=[1, 2], keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        if self.affine:
            y = y * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
        return ops.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "affine": self.affine}


@keras.saving.register_keras_serializable(package="tfgan_translate")
class ReflectionPadding2D(keras.layers.Layer):
    """Pad height and width by mirroring the border, without repeating the edge pixel.

    Equal to PyTorch ``nn.ReflectionPad2d``; the ResNet generator uses it so that borders
    carry image content instead of zeros. Each pad must be smaller than the padded dimension.

    Args:
        padding: ``int``, ``(pad_h, pad_w)`` or ``((top, bottom), (left, right))``.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair_of_pairs(padding, "ReflectionPadding2D")

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        (top, bottom), (left, right) = self.padding
        n, h, w, c = input_shape
        return (
            n,
            None if h is None else h + top + bottom,
            None if w is None else w + left + right,
            c,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}
