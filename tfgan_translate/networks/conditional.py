"""Networks of the noise-to-image families: CGAN (class-conditional) and InfoGAN (latent codes).

Every generator takes one or more named vectors (``noise`` plus the codes), concatenates
them, and returns an image in [-1, 1]; the exported model keeps those named inputs, so
``model([z, one_hot])`` is all a user needs. Two shapes of network:

- **MLP** (the book chapter's CGAN, after Mirza & Osindero 2014): ``[z, y]`` -> dense
  ``hidden`` -> ReLU -> dense ``H*W*C`` -> tanh. D: ``[flatten(x), y]`` -> dense ``hidden``
  -> LeakyReLU(0.2) -> logit. (The chapter's D uses ReLU; LeakyReLU keeps D's units from
  dying on the tiny budgets this package trains on, and changes nothing else.)
- **DCGAN-style convolutional** (the InfoGAN paper's MNIST networks, Chen et al. 2016,
  table 1): G: codes -> dense ``hidden`` -> BN ReLU -> dense ``(S/4)^2 * 2ngf`` -> BN ReLU
  -> ConvT4 s2 ``ngf`` -> BN ReLU -> ConvT4 s2 ``C`` -> tanh. D trunk: Conv4 s2 ``ndf`` ->
  LeakyReLU -> Conv4 s2 ``2ndf`` -> BN LeakyReLU -> dense ``hidden`` -> BN LeakyReLU.
  Convolutions pad symmetrically (padding 1), like the PyTorch references, so 28 px ->
  14 -> 7 exactly.

The conditional convolutional D is a **projection discriminator** (Miyato & Koyama 2018):
``logit = w . phi(x) + b + <E y, phi(x)>`` with ``phi`` the trunk and ``E`` a learned class
embedding (a bias-free dense layer on the one-hot code); the class enters where it is
compared with features, which trains better than concatenating class planes to the image.

The InfoGAN D has two heads on the shared trunk: the D head (one logit) and the Q head
(dense ``q_hidden`` -> BN LeakyReLU -> categorical logits, continuous means, and, when
``learn_std``, continuous log standard deviations). It returns a dict of named outputs.
"""

import math

import keras
import tensorflow as tf

from .blocks import conv, conv_transpose, leaky_relu, normalization, relu, weight_init

ARCHITECTURES = ("mlp", "conv")


def _dense(x, units, name, dtype=None):
    return keras.layers.Dense(units, kernel_initializer=weight_init(), name=name, dtype=dtype)(x)


def _vector_inputs(codes):
    """Named ``keras.Input`` vectors for ``[(name, size), ...]`` and their concatenation."""
    inputs = [keras.Input((size,), name=name) for name, size in codes if size > 0]
    joined = inputs[0] if len(inputs) == 1 else keras.layers.Concatenate(name="codes")(inputs)
    return inputs, joined


def _check_image_shape(image_shape, builder, multiple=1):
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(f"{builder}: image_shape must be (height, width, channels), got {tuple(image_shape)!r}")
    if image_shape[0] % multiple or image_shape[1] % multiple:
        raise ValueError(f"{builder}: height and width must be multiples of {multiple}, got {tuple(image_shape)!r}")
    return tuple(int(s) for s in image_shape)


def build_mlp_generator(codes, image_shape=(28, 28, 1), hidden=128, name="generator"):
    """The chapter's CGAN generator: concatenated codes -> dense ``hidden`` -> ReLU -> image.

    Args:
        codes: ``[(input name, size), ...]``, e.g. ``[("noise", 100), ("class_one_hot", 10)]``.
        image_shape: ``(H, W, C)`` of the output.
        hidden: units of the hidden layer (the chapter: 128).
    """
    image_shape = _check_image_shape(image_shape, "build_mlp_generator")
    inputs, x = _vector_inputs(codes)
    x = relu(_dense(x, hidden, "dense1"), "relu1")
    x = _dense(x, math.prod(image_shape), "dense_out")
    x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    image = keras.layers.Reshape(image_shape, name="image", dtype="float32")(x)
    return keras.Model(inputs, image, name=name)


def build_mlp_discriminator(image_shape=(28, 28, 1), num_classes=10, hidden=128, name="discriminator"):
    """The chapter's CGAN discriminator: ``[flatten(x), y]`` -> dense ``hidden`` -> LeakyReLU -> logit."""
    image_shape = _check_image_shape(image_shape, "build_mlp_discriminator")
    image = keras.Input(image_shape, name="image")
    label = keras.Input((num_classes,), name="class_one_hot")
    x = keras.layers.Concatenate(name="image_and_class")([keras.layers.Flatten(name="flatten")(image), label])
    x = leaky_relu(_dense(x, hidden, "dense1"), "lrelu1")
    logit = _dense(x, 1, "logit", dtype="float32")
    return keras.Model([image, label], logit, name=name)


def build_conv_generator(codes, image_shape=(28, 28, 1), ngf=64, hidden=1024, name="generator"):
    """DCGAN-style generator of the InfoGAN paper (MNIST): dense, dense, two ConvT4 s2.

    ``hidden=0`` drops the first dense layer. Height and width must be multiples of 4.
    """
    image_shape = _check_image_shape(image_shape, "build_conv_generator", multiple=4)
    height, width, channels = image_shape
    inputs, x = _vector_inputs(codes)
    if hidden:
        x = relu(normalization(_dense(x, hidden, "dense1"), "batch", "dense1_bn"), "dense1_relu")
    x = _dense(x, (height // 4) * (width // 4) * 2 * ngf, "dense2")
    x = relu(normalization(x, "batch", "dense2_bn"), "dense2_relu")
    x = keras.layers.Reshape((height // 4, width // 4, 2 * ngf), name="to_map")(x)
    x = conv_transpose(x, ngf, 4, 2, padding=1, use_bias=False, name="up1")
    x = relu(normalization(x, "batch", "up1_bn"), "up1_relu")
    x = conv_transpose(x, channels, 4, 2, padding=1, name="up2")
    image = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, image, name=name)


def _conv_trunk(image, ndf, hidden):
    """Conv4 s2 -> LReLU -> Conv4 s2 -> BN LReLU -> flatten -> dense -> BN LReLU: phi(x)."""
    x = leaky_relu(conv(image, ndf, 4, 2, padding=1, name="conv1"), "conv1_lrelu")
    x = conv(x, 2 * ndf, 4, 2, padding=1, use_bias=False, name="conv2")
    x = leaky_relu(normalization(x, "batch", "conv2_bn"), "conv2_lrelu")
    x = keras.layers.Flatten(name="flatten")(x)
    x = _dense(x, hidden, "dense1")
    return leaky_relu(normalization(x, "batch", "dense1_bn"), "dense1_lrelu")


def build_projection_discriminator(image_shape=(28, 28, 1), num_classes=10, ndf=64, hidden=1024,
                                   name="discriminator"):
    """Convolutional CGAN discriminator with a class projection:
    ``logit = w . phi(x) + b + <E y, phi(x)>`` (Miyato & Koyama 2018)."""
    image_shape = _check_image_shape(image_shape, "build_projection_discriminator", multiple=4)
    image = keras.Input(image_shape, name="image")
    label = keras.Input((num_classes,), name="class_one_hot")
    features = _conv_trunk(image, ndf, hidden)
    unconditional = _dense(features, 1, "logit_unconditional", dtype="float32")
    embedded = keras.layers.Dense(hidden, use_bias=False, kernel_initializer=weight_init(),
                                  name="class_embedding")(label)
    projection = keras.layers.Dot(axes=1, name="projection", dtype="float32")([embedded, features])
    logit = keras.layers.Add(name="logit", dtype="float32")([unconditional, projection])
    return keras.Model([image, label], logit, name=name)


def build_infogan_discriminator(image_shape=(28, 28, 1), num_categories=10, num_continuous=2, ndf=64,
                                hidden=1024, q_hidden=128, learn_std=False, name="discriminator"):
    """InfoGAN's D and Q sharing one trunk; outputs a dict:

    ``logits`` (B, 1) real/fake; ``categorical_logits`` (B, num_categories) of Q(c_cat | x);
    ``continuous_mean`` (B, num_continuous) and, with ``learn_std``, ``continuous_log_std``
    of the factored Gaussian Q(c_cont | x) (otherwise its standard deviation is fixed at 1,
    as in the paper's code).
    """
    image_shape = _check_image_shape(image_shape, "build_infogan_discriminator", multiple=4)
    image = keras.Input(image_shape, name="image")
    features = _conv_trunk(image, ndf, hidden)
    outputs = {"logits": _dense(features, 1, "logit", dtype="float32")}
    q = leaky_relu(normalization(_dense(features, q_hidden, "q_dense"), "batch", "q_bn"), "q_lrelu")
    if num_categories:
        outputs["categorical_logits"] = _dense(q, num_categories, "q_categorical", dtype="float32")
    if num_continuous:
        outputs["continuous_mean"] = _dense(q, num_continuous, "q_continuous_mean", dtype="float32")
        if learn_std:
            outputs["continuous_log_std"] = _dense(q, num_continuous, "q_continuous_log_std", dtype="float32")
    return keras.Model(image, outputs, name=name)


def input_sizes(generator):
    """``{input name: vector size}`` of a generator (works on exported ``.keras`` models too)."""
    return {tensor.name.split(":")[0]: int(tensor.shape[-1]) for tensor in generator.inputs}


def inputs_by_name(generator, named):
    """The list ``generator`` takes, ordered as its inputs, from ``{name: array}``."""
    sizes = input_sizes(generator)
    missing = sorted(set(sizes) - set(named))
    if missing:
        raise ValueError(f"the generator needs inputs {', '.join(sizes)}; missing {', '.join(missing)}")
    return [tf.convert_to_tensor(named[name], tf.float32) for name in sizes]
