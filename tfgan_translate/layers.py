"""Keras layers the translation networks need and Keras does not ship.

tensorflow-addons used to provide instance normalization; it reached end of life and does
not work with Keras 3, so these are our own, numerically equal to PyTorch's
``nn.InstanceNorm2d`` and ``nn.ReflectionPad2d`` as used by the reference pix2pix/CycleGAN,
and CUT's anti-aliased down- and upsampling (``BlurPool2D``, ``BlurUpsample2D``).
"""

import contextlib
import math
import threading

import keras
import numpy as np
import tensorflow as tf
from keras import ops


_TRACING = threading.local()  # options our layers read while a graph is traced (this thread only)


@contextlib.contextmanager
def _while_tracing(name, value):
    previous = getattr(_TRACING, name, None)
    setattr(_TRACING, name, value)
    try:
        yield
    finally:
        setattr(_TRACING, name, previous)


def portable_ops():
    """While tracing inside this block, our layers use only ops that TFLite's and ONNX's converters
    take (plain transposed convolutions and the instance-norm formula instead of explicitly padded
    transposed convolutions and training-mode fused batch norm): the same values, other kernels.
    Export traces its graphs here; training and ``translate`` keep the faster ops."""
    return _while_tracing("portable", True)


def portable():
    """Whether the graph being traced must be convertible (see :func:`portable_ops`)."""
    return bool(getattr(_TRACING, "portable", None))


def fixed_instance_statistics(statistics):
    """Inside this block, each :class:`InstanceNormalization` layer named in ``statistics``
    (``{layer name: (mean, variance)}``, each of shape ``(C,)``) normalises with those instead of
    its input's own: tiled translation runs tiles with the whole image's statistics."""
    return _while_tracing("statistics", statistics)


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


def _normalize_formula(x, axes, epsilon):
    """``(x - mean) / sqrt(variance + epsilon)`` over ``axes``, written out in float32 (biased
    variance): the definition the fused kernels are checked against."""
    x = ops.cast(x, "float32")
    mean, variance = ops.moments(x, axes=axes, keepdims=True)
    return (x - mean) * ops.rsqrt(variance + epsilon)


def training_batch_norm(x, epsilon):
    """Batch norm in training mode over axes 0-2, without scale and offset.

    The value and its gradient come from TensorFlow's fused kernels (FusedBatchNormV3 and
    its gradient op). TensorFlow's own second derivative of that gradient op leaves out the
    path through the batch statistics and is wrong, so second derivatives (a gradient
    penalty through an instance-normalised critic) are taken from the formula instead.
    """
    epsilon = float(epsilon)

    @tf.custom_gradient
    def normalize(x):
        ones = tf.ones(tf.shape(x)[-1:])
        y, _, _, mean, variance, reserve = tf.raw_ops.FusedBatchNormV3(
            x=x, scale=ones, offset=tf.zeros_like(ones), mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=epsilon, is_training=True,
        )

        @tf.custom_gradient
        def backward(x, dy):
            dx = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=dy, x=x, scale=ones, reserve_space_1=mean, reserve_space_2=variance,
                reserve_space_3=reserve, epsilon=epsilon, is_training=True,
            )[0]

            def second_order(ddx):
                with tf.GradientTape() as outer:
                    outer.watch([x, dy])
                    with tf.GradientTape() as inner:
                        inner.watch(x)
                        formula = _normalize_formula(x, [0, 1, 2], epsilon)
                    dx_formula = inner.gradient(formula, x, output_gradients=tf.cast(dy, tf.float32))
                ddx_x, ddx_dy = outer.gradient(dx_formula, [x, dy], output_gradients=tf.cast(ddx, dx_formula.dtype))
                return tf.cast(ddx_x, x.dtype), tf.cast(ddx_dy, dy.dtype)

            return dx, second_order

        return y, lambda dy: backward(x, dy)

    return normalize(x)


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

    # Per-sample maps at least this large (H * W * C) are normalised by the fused kernels; below
    # it the formula's few element-wise ops are faster than a kernel call per sample (measured
    # on CPU: 3x faster at 64x64x256, 2-4x slower at 16x16x32 with batch 12).
    FUSED_MIN_ELEMENTS = 2**16

    def call(self, inputs):
        n, h, w, c = inputs.shape
        fixed = (getattr(_TRACING, "statistics", None) or {}).get(self.name)
        if fixed is not None:
            mean, variance = (ops.cast(ops.reshape(v, (1, 1, 1, -1)), "float32") for v in fixed)
            y = (ops.cast(inputs, "float32") - mean) * ops.rsqrt(variance + self.epsilon)
        elif n is not None and None not in (h, w, c) and h * w * c >= self.FUSED_MIN_ELEMENTS and not portable():
            # Instance norm is batch norm in training mode over one sample.
            samples = [inputs] if n == 1 else ops.split(inputs, n, axis=0)
            y = ops.concatenate([training_batch_norm(x, self.epsilon) for x in samples], axis=0)
        else:
            y = _normalize_formula(inputs, [1, 2], self.epsilon)
        if self.affine:
            y = ops.cast(y, "float32") * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
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


@keras.saving.register_keras_serializable(package="tfgan_translate")
class ConvTranspose2D(keras.layers.Conv2DTranspose):
    """A transposed convolution with PyTorch's ``nn.ConvTranspose2d`` geometry.

    The output has ``(H - 1) * stride - 2 * padding + kernel + output_padding`` rows (and
    likewise columns): the full transposed convolution without ``padding`` rows at the top
    and ``padding - output_padding`` at the bottom, as PyTorch crops it. Weights are those of
    ``keras.layers.Conv2DTranspose`` (kernel ``(kh, kw, filters, in_channels)``).

    The arithmetic is always that one; the kernels that compute it are chosen for speed,
    since Keras' full "valid" output followed by a crop trains 2-3x slower on CPU:

    - TensorFlow's "SAME" transposed convolution when its geometry is PyTorch's (k4 s2 p1, the
      U-Net's): the fastest in every dtype;
    - float32: the input-gradient of the matching padded convolution (explicit padding);
    - other dtypes (bfloat16 on CPU has no fast explicit-padding kernel), stride 2 with an
      output twice the input and inputs of at least 32x32: the sub-pixel form, one small
      convolution per output phase (the taps of the kernel that reach that phase)
      interleaved by ``depth_to_space``, exactly the transposed convolution's multiply-adds;
    - otherwise the full output, cropped.

    Args:
        filters, kernel_size, strides: as ``keras.layers.Conv2DTranspose``.
        padding: rows/columns PyTorch removes from each side (an int).
        output_padding: rows/columns given back at the bottom/right (an int, at most
            ``padding`` and smaller than ``strides``).
    """

    def __init__(self, filters, kernel_size, strides=1, padding=0, output_padding=0, **kwargs):
        for key in ("data_format", "dilation_rate"):
            kwargs.pop(key, None)
        super().__init__(filters, kernel_size, strides=strides, padding="valid", **kwargs)
        self.crop = int(padding)
        self.extra = int(output_padding)
        if self.extra > self.crop or self.extra >= max(self.strides):
            raise ValueError(
                f"{self.name}: output_padding ({self.extra}) must be at most padding ({self.crop}) "
                f"and smaller than the stride {self.strides}"
            )

    def _output_size(self, size, axis):
        if size is None:
            return None
        return (size - 1) * self.strides[axis] - 2 * self.crop + self.kernel_size[axis] + self.extra

    def _same_is_pytorch(self):
        """TensorFlow's "SAME" transposed convolution has this geometry: an output ``stride``
        times the input, cropped by ``(kernel - stride) // 2`` at the top (e.g. k4 s2 p1)."""
        return all(
            k + self.extra - 2 * self.crop == s and (k - s) // 2 == self.crop
            for k, s in zip(self.kernel_size, self.strides)
        )

    def _phase_taps(self, axis):
        """For output phases 0 and 1 along ``axis`` (stride 2): (input offset, kernel tap) pairs,
        offsets ascending; output row ``2m + phase`` sums ``x[m + offset] * w[tap]``."""
        k, p = self.kernel_size[axis], self.crop
        return [sorted(((phase + p - t) // 2, t) for t in range(k) if (t - phase - p) % 2 == 0) for phase in (0, 1)]

    def _sub_pixel_ok(self):
        if tuple(self.strides) != (2, 2):
            return False
        for axis in (0, 1):
            phases = self._phase_taps(axis)
            if self.kernel_size[axis] + self.extra - 2 * self.crop != 2 or not all(phases):
                return False
            if any(taps[0][0] > 0 or taps[-1][0] < 0 for taps in phases):
                return False
        return True

    def _sub_pixel(self, inputs, kernel):
        rows, cols = self._phase_taps(0), self._phase_taps(1)
        phases = []
        for row_taps in rows:
            for col_taps in cols:
                taps = tf.stack([tf.stack([kernel[i, j] for _, j in col_taps]) for _, i in row_taps])
                padded = tf.pad(inputs, [[0, 0], [-row_taps[0][0], row_taps[-1][0]],
                                         [-col_taps[0][0], col_taps[-1][0]], [0, 0]])
                phases.append(tf.nn.conv2d(padded, tf.transpose(taps, [0, 1, 3, 2]), 1, "VALID"))
        return tf.nn.depth_to_space(tf.concat(phases, -1), 2)

    def algorithm(self, dtype, input_shape=None):
        """Which computation ``call`` uses for inputs of ``dtype`` and ``input_shape`` (see the
        class docstring): ``"same"``, ``"explicit"``, ``"sub_pixel"`` or ``"crop"``."""
        if self._same_is_pytorch():
            return "same"
        if portable():
            return "crop"
        if tf.as_dtype(dtype) == tf.float32:
            return "explicit"
        large = input_shape is not None and None not in input_shape[1:3] and input_shape[1] * input_shape[2] >= 32 * 32
        return "sub_pixel" if self._sub_pixel_ok() and large else "crop"

    def call(self, inputs):
        kernel = ops.convert_to_tensor(self.kernel)
        shape = tf.shape(inputs)
        output_shape = tf.stack([
            shape[0], self._output_size(shape[1], 0), self._output_size(shape[2], 1), self.filters
        ])
        strides, p = [1, *self.strides, 1], self.crop
        algorithm = self.algorithm(inputs.dtype, inputs.shape)
        if algorithm == "same":
            outputs = tf.nn.conv2d_transpose(inputs, kernel, output_shape, strides, "SAME")
        elif algorithm == "explicit":
            outputs = tf.raw_ops.Conv2DBackpropInput(
                input_sizes=output_shape, filter=kernel, out_backprop=inputs, strides=strides,
                padding="EXPLICIT", explicit_paddings=[0, 0, p, p, p, p, 0, 0],
            )
        elif algorithm == "sub_pixel":
            outputs = self._sub_pixel(inputs, kernel)
        else:
            full_shape = output_shape + tf.constant([0, 2, 2, 0]) * p - tf.constant([0, 1, 1, 0]) * self.extra
            full = tf.nn.conv2d_transpose(inputs, kernel, full_shape, strides, "VALID")
            outputs = full[:, p:p + output_shape[1], p:p + output_shape[2], :]
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, ops.convert_to_tensor(self.bias))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, self._output_size(h, 0), self._output_size(w, 1), self.filters)

    def get_config(self):
        config = super().get_config()
        for key in ("output_padding", "data_format", "dilation_rate"):
            config.pop(key, None)
        return {**config, "padding": self.crop, "output_padding": self.extra}


@keras.saving.register_keras_serializable(package="tfgan_translate")
class LeakyReLU(keras.layers.LeakyReLU):
    """Keras ``LeakyReLU`` whose gradient is computed from its output instead of its input.

    Same values and the same first and second derivatives (with a positive slope the output
    has the input's sign). Why: in TensorFlow's own gradient the input of the activation,
    a convolution's ``BiasAdd``, is also read by ``LeakyReluGrad``. Grappler's remapper then
    fuses convolution + bias + LeakyReLU, but it fails on that extra reader and prints
    ``remapper failed: INVALID_ARGUMENT ... LeakyReluGrad ... BiasAdd`` at every training
    start (the PatchGAN's first layer has that pattern). Reading the output instead leaves
    the fused node's output as the only thing the gradient needs.
    """

    def call(self, inputs):
        slope = float(self.negative_slope)
        if slope <= 0:  # the output no longer has the input's sign
            return super().call(inputs)

        @tf.custom_gradient
        def leaky_relu(x):
            y = tf.nn.leaky_relu(x, alpha=slope)

            def gradient(dy):
                return tf.raw_ops.LeakyReluGrad(gradients=dy, features=y, alpha=slope)

            return y, gradient

        return leaky_relu(inputs)


def binomial_filter(taps):
    """The outer product of a binomial row ([1, 2, 1] for 3 taps), normalised to sum 1: the fixed
    blur of the anti-aliased layers (and of CUT's checkpoints' ``filt`` buffers)."""
    row = np.array([math.comb(taps - 1, k) for k in range(taps)], np.float64)
    square = np.outer(row, row)
    return (square / square.sum()).astype(np.float32)


@keras.saving.register_keras_serializable(package="tfgan_translate")
class BlurPool2D(keras.layers.Layer):
    """Anti-aliased downsampling by 2 (Zhang, 2019): reflection pad 1, a fixed 3x3 binomial
    blur ([1, 2, 1] x [1, 2, 1] / 16) per channel, stride 2.

    Equal to CUT's ``Downsample(channels)`` (its default ``pad_type='reflect', filt_size=3``):
    blurring before subsampling keeps a stride-2 layer from aliasing, so a one-pixel shift of
    the input no longer changes the output arbitrarily. No weights: the filter is fixed (the
    reference keeps it as a buffer). An even side ``s`` becomes ``s / 2``, an odd one ``(s + 1) / 2``.
    """

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self._filter = np.tile(binomial_filter(3)[:, :, None, None], (1, 1, channels, 1))  # a tensor per call

    def call(self, inputs):
        x = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
        return tf.nn.depthwise_conv2d(x, tf.constant(self._filter, x.dtype), strides=(1, 2, 2, 1), padding="VALID")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else (h + 1) // 2, None if w is None else (w + 1) // 2, c)


@keras.saving.register_keras_serializable(package="tfgan_translate")
class BlurUpsample2D(keras.layers.Layer):
    """Anti-aliased upsampling by 2: CUT's ``Upsample(channels)``, with no weights.

    The reference pads by replication, applies a transposed convolution with the fixed 4x4
    filter [1, 3, 3, 1] x [1, 3, 3, 1] / 16 (stride 2) per channel and crops one pixel on each
    side. Each output pixel is then 3/4 of its nearest input pixel plus 1/4 of the next one
    along each axis, with the border replicated: exactly bilinear resizing by 2 with pixel
    centres at half-pixel offsets, which is what this layer computes (the parity test checks
    it against the transposed-convolution form).
    """

    def call(self, inputs):
        size = ops.shape(inputs)[1:3]
        resized = tf.image.resize(inputs, (size[0] * 2, size[1] * 2), method="bilinear", antialias=False)
        return ops.cast(resized, inputs.dtype)

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else 2 * h, None if w is None else 2 * w, c)


@keras.saving.register_keras_serializable(package="tfgan_translate")
class L2Normalize(keras.layers.Layer):
    """``x / (||x||_2 + epsilon)`` along the last axis: CUT's ``Normalize(2)`` (epsilon 1e-7)."""

    def __init__(self, epsilon=1e-7, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, inputs):
        return inputs / (ops.sqrt(ops.sum(ops.square(inputs), axis=-1, keepdims=True)) + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


# -- StackGAN's layers (networks/stackgan.py) ---------------------------------------------

@keras.saving.register_keras_serializable(package="tfgan_translate")
class ConditioningAugmentation(keras.layers.Layer):
    """The reference ``CA_NET``: ``mu, logvar = split(relu(fc(embedding)))``, and
    ``call([embedding, eps]) = mu + exp(0.5 logvar) * eps`` (the reparameterisation trick).

    ``negative_slope`` 0.2 gives the original TensorFlow StackGAN's leaky ReLU instead: with the
    PyTorch reference's ReLU, a unit that the KL term pushes below zero never comes back (its
    gradient is 0), and on small data all of them can, leaving c without the text.

    The sampling runs in float32 under any policy (inputs arrive in float32, see
    ``input_dtype``; ``fc`` casts the embedding to its compute dtype); the result is cast
    to the compute dtype at the end.
    """

    def __init__(self, condition_dim=128, negative_slope=0.0, **kwargs):
        super().__init__(**kwargs)
        self.condition_dim = int(condition_dim)
        self.negative_slope = float(negative_slope)
        self.fc = keras.layers.Dense(2 * self.condition_dim, kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=0.02),
                                     bias_initializer="zeros", dtype=self.dtype_policy, name="fc")
        self.fc.trainable = self.trainable  # from_config sets trainable before fc exists

    @property
    def input_dtype(self):
        return "float32"  # eps must not go through float16 on its way to the sampling

    def build(self, input_shape):
        embedding_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        self.fc.build(tuple(embedding_shape))

    def encode(self, embedding):
        """``(mu, logvar)``, each ``(B, condition_dim)``, in the compute dtype."""
        x = self.fc(embedding)
        x = ops.leaky_relu(x, self.negative_slope) if self.negative_slope else ops.relu(x)
        return x[:, : self.condition_dim], x[:, self.condition_dim :]

    def call(self, inputs):
        embedding, eps = inputs
        mu, logvar = (ops.cast(t, "float32") for t in self.encode(embedding))
        c = mu + ops.exp(0.5 * logvar) * ops.cast(eps, "float32")
        return ops.cast(c, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.condition_dim)

    def get_config(self):
        return {**super().get_config(), "condition_dim": self.condition_dim, "negative_slope": self.negative_slope}


@keras.saving.register_keras_serializable(package="tfgan_translate")
class VectorSlice(keras.layers.Layer):
    """``inputs[:, start:stop]``: splits one noise vector into z and the eps of each CA."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, inputs):
        return inputs[:, self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="tfgan_translate")
class StopGradient(keras.layers.Layer):
    """Identity whose gradient is zero: the reference's ``stage1_img.detach()``."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
