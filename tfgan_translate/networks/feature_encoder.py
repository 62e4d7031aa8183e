"""pix2pixHD's feature encoder E and instance-wise average pooling (Wang et al., 2018, sec. 3.4).

E sees the real photo and returns a low-dimensional feature map (``feat_num`` channels, 3 in
the paper); every channel is then averaged over each instance of the instance map and the
average broadcast back, so each object carries one feature vector. The pooled map goes into
G beside the label map; E trains with G. After training, per-class k-means over the
instances' vectors gives the "styles" a user picks at inference
(``families/pix2pixhd_styles.py``).

The layer list is the official ``Encoder`` of NVIDIA/pix2pixHD (``netE``, defaults ``nef``
16, ``n_downsample_E`` 4): ReflectionPad(3), Conv7 nef, Norm, ReLU; ``n_downsampling`` x
[Conv3 s2 p1 (channels x2), Norm, ReLU]; ``n_downsampling`` x [ConvTranspose3 s2 p1 op1
(channels / 2), Norm, ReLU]; ReflectionPad(3), Conv7 -> ``feat_num``, Tanh; biases on. That
is the global generator G1 with no residual block, so it is built from G1's pieces and its
layers carry G1's names (``in_conv``, ``down<i>_conv``, ``up<i>_conv``, ``out_conv``,
``tanh``), followed by the pooling layer ``instance_average``.
"""

import keras
import tensorflow as tf

from .blocks import check_input_shape, check_norm
from .pix2pixhd import _global_features, _output_head

POOLED_LAYER = "instance_average"
TRUNK_OUTPUT = "tanh"  # the un-pooled features


def _instance_ids(instance_ids):
    """``(B, H, W)`` integer ids from ``(B, H, W)`` or ``(B, H, W, 1)``."""
    ids = tf.convert_to_tensor(instance_ids)
    if not ids.dtype.is_integer:
        raise TypeError(f"instance ids must be integers, got {ids.dtype.name}")
    if ids.shape.rank == 4:
        if ids.shape[-1] not in (None, 1):
            raise ValueError(f"instance ids must be (B, H, W) or (B, H, W, 1), got shape {ids.shape}")
        ids = ids[..., 0]
    elif ids.shape.rank != 3:
        raise ValueError(f"instance ids must be (B, H, W) or (B, H, W, 1), got shape {ids.shape}")
    return ids


def instance_average(features, instance_ids):
    """Replace each channel, at each instance's pixels, by its mean over those pixels.

    Per example: the instances of example 0 and example 1 are separate even when they share
    an id. Ids may be any integers (Cityscapes' ``class * 1000 + n``, 16-bit maps, negative
    values, int64), any number of them. Sums are taken in float32 and the result is cast back to
    ``features.dtype`` (float16/bfloat16 under mixed precision). The gradient with respect
    to ``features`` at a pixel is the mean of the incoming gradient over its instance
    (1 / count per output pixel of the instance). Works in ``tf.function`` with unknown batch,
    height and width, and under XLA.

    Args:
        features: ``(B, H, W, C)`` floats.
        instance_ids: ``(B, H, W)`` or ``(B, H, W, 1)`` integers.
    Returns:
        ``(B, H, W, C)`` in ``features.dtype``, constant over every instance.

    Example:
        >>> x = tf.constant([[[[1.0], [3.0]], [[5.0], [8.0]]]])  # (1, 2, 2, 1)
        >>> ids = tf.constant([[[4, 4], [9, 4]]])
        >>> instance_average(x, ids)[0, ..., 0].numpy().tolist()
        [[4.0, 4.0], [5.0, 4.0]]
    """
    features = tf.convert_to_tensor(features)
    ids = _instance_ids(instance_ids)
    if features.shape.rank != 4:
        raise ValueError(f"features must be (B, H, W, C), got shape {features.shape}")
    if not features.shape[:3].is_compatible_with(ids.shape):
        raise ValueError(f"features {features.shape} and instance ids {ids.shape} differ in batch, height or width")
    shape = tf.shape(features)
    ids_shape = tf.shape(ids, out_type=shape.dtype)
    with tf.control_dependencies([tf.debugging.assert_equal(
            shape[:3], ids_shape, message="features and instance ids differ in batch, height or width")]):
        batch, pixels = shape[0], shape[1] * shape[2]
        rows = tf.reshape(ids, [batch, pixels])
    # Number each example's instances by sorting its ids: a run of equal ids in sorted order is
    # one instance, and the runs of all examples are numbered 0, 1, ... in turn (each example's
    # first pixel starts a run, so examples never share one). Sorting rather than tf.unique
    # keeps every shape static, so the step also compiles with XLA (jit_compile).
    order = tf.argsort(rows, axis=-1)
    sorted_ids = tf.gather(rows, order, batch_dims=1)
    starts = tf.concat([tf.ones([batch, 1], tf.bool), tf.not_equal(sorted_ids[:, 1:], sorted_ids[:, :-1])], 1)
    starts = starts[:, :pixels]  # no pixel, no run
    run = tf.cumsum(tf.cast(tf.reshape(starts, [-1]), tf.int32)) - 1
    position = tf.reshape(order + tf.range(batch)[:, None] * pixels, [-1, 1])  # sorted -> pixel index
    segment = tf.scatter_nd(position, run, [batch * pixels])  # pixel -> its instance's number
    flat = tf.cast(tf.reshape(features, [-1, shape[3]]), tf.float32)
    means = tf.math.unsorted_segment_mean(flat, segment, batch * pixels)  # at most one segment per pixel
    pooled = tf.cast(tf.reshape(tf.gather(means, segment), shape), features.dtype)
    pooled.set_shape(features.shape)
    return pooled


@keras.saving.register_keras_serializable(package="tfgan_translate")
class InstanceAverage(keras.layers.Layer):
    """:func:`instance_average` as a layer: ``InstanceAverage()([features, instance_ids])``.

    No weights. Under a mixed-precision policy the features arrive in the layer's compute
    dtype (Keras casts them); the sums are float32 either way.
    """

    def call(self, inputs):
        features, instance_ids = inputs
        return instance_average(features, instance_ids)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


def feature_encoder_size_multiple(n_downsampling):
    """Height and width E accepts are multiples of this (its output then has the input's size)."""
    return 2**n_downsampling


def build_feature_encoder(
    input_shape=(None, None, 3), feat_num=3, nef=16, n_downsampling=4, norm="instance", name="encoder",
):
    """pix2pixHD's feature encoder E with instance-wise average pooling (``netE``).

    Inputs ``[image, instance_ids]``: the real photo ``(B, H, W, C)`` and int32 ids
    ``(B, H, W, 1)``; output the pooled features ``(B, H, W, feat_num)`` in (-1, 1), float32
    (like G's tanh). The un-pooled features are the output of layer ``"tanh"``
    (:data:`TRUNK_OUTPUT`; :func:`feature_encoder_trunk` wraps them in a model).
    About 0.79M parameters at the defaults.

    Args:
        input_shape: ``(H, W, C)`` of the photo; H and W multiples of ``2**n_downsampling``
            (``None`` is free).
        feat_num: channels of the feature map (``--feat_num``, 3).
        nef: filters of the first layer (``--nef``, 16).
        n_downsampling: stride-2 convolutions (``--n_downsample_E``, 4).
        norm: ``"instance"`` (reference), ``"batch"`` or ``"none"``.

    Example:
        >>> e = build_feature_encoder((32, 32, 3), nef=4, n_downsampling=2)
        >>> e.output_shape
        (None, 32, 32, 3)
    """
    input_shape = check_input_shape(input_shape, "build_feature_encoder")
    check_norm(norm)
    multiple = feature_encoder_size_multiple(n_downsampling)
    for dim, label in zip(input_shape[:2], ("height", "width")):
        if dim is not None and (dim % multiple or dim < 4):
            raise ValueError(
                f"build_feature_encoder: input {label} {dim} does not work: height and width must be multiples of "
                f"{multiple} (2**n_downsampling) and at least 4, so that the features keep the instance map's size"
            )
    image = keras.Input(shape=input_shape, name="image")
    ids = keras.Input(shape=(*input_shape[:2], 1), dtype="int32", name="instance_ids")
    x = _global_features(image, nef, n_downsampling, 0, norm)
    x = _output_head(x, feat_num)
    pooled = InstanceAverage(dtype="float32", name=POOLED_LAYER)([x, ids])
    return keras.Model([image, ids], pooled, name=name)


def feature_encoder_trunk(encoder):
    """A model sharing ``encoder``'s weights that maps the photo to E's un-pooled features."""
    return keras.Model(encoder.inputs[0], encoder.get_layer(TRUNK_OUTPUT).output, name=f"{encoder.name}_trunk")
