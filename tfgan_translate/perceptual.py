"""The VGG19 perceptual loss of pix2pixHD (Wang et al., 2018, the ``L_VGG`` term).

``sum_i w_i * mean |phi_i(G(x)) - phi_i(y)|`` over the VGG19 activations relu1_1, relu2_1,
relu3_1, relu4_1 and relu5_1 with weights 1/32, 1/16, 1/8, 1/4 and 1, the target's
features held constant. The paper weights the whole term by lambda = 10.

ImageNet weights cannot be downloaded on an offline machine, so the network is built from
a weights file the user names: the Keras file
``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (copy it from any machine with
``keras.applications.VGG19(include_top=False, weights="imagenet")``, which caches it in
``~/.keras/models/``), or any ``.weights.h5`` of a Keras VGG19 without its top.
"""

import os

import keras
import tensorflow as tf

from .losses import per_example_mean

KERAS_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Keras' VGG19 convolutions include their ReLU, so block<k>_conv1's output is relu<k>_1.
VGG_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)
# The Caffe preprocessing the Keras VGG19 weights expect: BGR, 0..255, minus the ImageNet mean.
BGR_MEAN = (103.939, 116.779, 123.68)


def missing_weights_message(field="vgg_weights"):
    return (
        f"the VGG19 perceptual loss needs ImageNet weights, which cannot be downloaded here: set {field} to the "
        f"path of the Keras file {KERAS_WEIGHTS_FILE} (on a machine with internet, "
        "keras.applications.VGG19(include_top=False, weights='imagenet') saves it in ~/.keras/models/), "
        f"or set {field}=None to train without the VGG loss"
    )


def check_weights_file(path, field="vgg_weights"):
    """``None`` (no VGG loss) or an existing file; anything else is refused with the fix."""
    if path is None:
        return None
    if path == "imagenet":
        raise ValueError(f"{field}='imagenet' would download the weights; " + missing_weights_message(field))
    if not os.path.isfile(os.path.expanduser(path)):
        raise ValueError(f"{field}={path!r}: no such file; " + missing_weights_message(field))
    return os.path.expanduser(path)


def build_vgg19_features(weights, field="vgg_weights"):
    """A frozen VGG19 trunk returning ``[relu1_1, relu2_1, relu3_1, relu4_1, relu5_1]``.

    Args:
        weights: a weights file (see the module docstring), or ``None`` for random weights
            (tests only: random features make the loss meaningless for training).
        field: the config field that named the file, for error messages.
    """
    if weights is not None:
        weights = check_weights_file(weights, field)
    vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
    features = keras.Model(vgg.input, [vgg.get_layer(name).output for name in VGG_LAYERS], name="vgg19_features")
    features.trainable = False
    return features


def vgg_preprocess(images):
    """Images in [-1, 1] (RGB) -> the Keras VGG19 input (BGR, 0..255, ImageNet mean removed)."""
    rgb = (tf.cast(images, tf.float32) + 1.0) * 127.5
    return rgb[..., ::-1] - tf.constant(BGR_MEAN, tf.float32)


def vgg_loss(features, real, fake):
    """pix2pixHD's ``VGGLoss`` per example: ``sum_i w_i mean|phi_i(fake) - phi_i(real)|``.

    Args:
        features: the model of ``build_vgg19_features``.
        real, fake: image batches in [-1, 1]; gradients flow into ``fake`` only.
    """
    real_features = features(vgg_preprocess(real), training=False)
    fake_features = features(vgg_preprocess(fake), training=False)
    terms = [
        weight * per_example_mean(tf.abs(tf.cast(f, tf.float32) - tf.stop_gradient(tf.cast(r, tf.float32))))
        for weight, r, f in zip(VGG_WEIGHTS, real_features, fake_features)
    ]
    return tf.add_n(terms)
