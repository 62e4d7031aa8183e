"""Inception-v3 pool features for FID and KID, built on first use.

Protocol (that of TF-GAN and pytorch-fid, the two usual FID implementations): images in
[-1, 1] are first rounded to 8-bit levels (both real and translated images then look like
image files, whatever produced them), grayscale is repeated to RGB, resized to 299 x 299
with bilinear interpolation without antialiasing (as both references resize), kept in
[-1, 1] (the input scaling Inception-v3 was trained with, ``inception_v3.preprocess_input``)
and passed through Inception-v3 up to the 2048-d global average pool.

Weights: ``keras.applications.InceptionV3``'s ImageNet weights (downloaded once into
``~/.keras/models``), or a weights file the user names. These are not the weights of the
2015 Inception graph that TF-GAN and pytorch-fid use, so FIDs computed here rank models
consistently with each other but are NOT numerically comparable with published FIDs.
``weights=None`` is a randomly initialised network, for tests of the mechanics only.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

INCEPTION_SIZE = 299
FEATURE_DIM = 2048
WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
               "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[1]
HOW_TO_GET_WEIGHTS = (
    f"On a machine with internet, download {WEIGHTS_URL} (87 MB) and either pass the file with "
    f"--inception-weights FILE (InceptionFeatures(weights=FILE) in Python) or copy it to "
    f"~/.keras/models/{WEIGHTS_FILE}, where Keras looks before downloading."
)


class InceptionWeightsError(RuntimeError):
    """The Inception-v3 weights cannot be loaded; the message says how to get them."""


def preprocess(images):
    """``[N, H, W, 1 or 3]`` images in [-1, 1] -> ``[N, 299, 299, 3]`` Inception input (see module docstring)."""
    x = tf.convert_to_tensor(images, tf.float32)
    x = tf.round((tf.clip_by_value(x, -1.0, 1.0) + 1.0) * 127.5) / 127.5 - 1.0
    if x.shape[-1] == 1:
        x = tf.repeat(x, 3, axis=-1)
    elif x.shape[-1] != 3:
        raise ValueError(f"Inception features need 1 or 3 channels, got {x.shape[-1]}")
    return tf.image.resize(x, (INCEPTION_SIZE, INCEPTION_SIZE), method="bilinear", antialias=False)


def build_inception(weights="imagenet"):
    """Inception-v3 without its classifier, average-pooled to 2048 features.

    ``weights``: ``"imagenet"`` (download or Keras cache), a path to a weights file
    (the Keras ``..._notop.h5``, or a ``.weights.h5`` saved from this very model), or
    ``None`` (random initialisation, tests only). Raises :class:`InceptionWeightsError`
    with what to do when they cannot be loaded.
    """
    import keras

    def build(w):
        return keras.applications.InceptionV3(include_top=False, weights=w, pooling="avg",
                                              input_shape=(INCEPTION_SIZE, INCEPTION_SIZE, 3))

    if weights is None:
        return build(None)
    if weights == "imagenet":
        try:
            return build("imagenet")
        except Exception as error:  # Keras raises a bare Exception for a failed download
            raise InceptionWeightsError(
                f"could not get the ImageNet Inception-v3 weights for FID/KID ({error}). {HOW_TO_GET_WEIGHTS}"
            ) from None
    path = Path(weights).expanduser()
    if not path.is_file():
        raise InceptionWeightsError(f"--inception-weights {weights}: no such file. {HOW_TO_GET_WEIGHTS}")
    model = build(None)
    try:
        model.load_weights(str(path))
    except Exception as error:
        raise InceptionWeightsError(
            f"--inception-weights {weights}: not Inception-v3 weights without the top ({error}); "
            f"expected {WEIGHTS_FILE}. {HOW_TO_GET_WEIGHTS}"
        ) from None
    return model


class InceptionFeatures:
    """Callable ``images in [-1, 1] -> float32 [N, 2048]`` pool features; the network is
    built (and its weights loaded) on the first call.

    Args:
        weights: ``"imagenet"``, a weights file, or ``None`` (random init, tests only).
        batch_size: images per forward pass (memory of the 299 px activations).

    Example:
        >>> features = InceptionFeatures("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
        >>> features(images).shape  # images: [N, H, W, 3] in [-1, 1]
        (N, 2048)
    """

    def __init__(self, weights="imagenet", batch_size=32):
        self.weights = weights
        self.batch_size = batch_size
        self._model = None
        self._forward = None

    @property
    def description(self):
        if self.weights is None:
            return "random initialisation (mechanics only: not a meaningful score)"
        return "Keras ImageNet" if self.weights == "imagenet" else str(self.weights)

    def load(self):
        """Build the network now (to fail early on missing weights); returns ``self``."""
        if self._model is None:
            self._model = build_inception(self.weights)
            model = self._model
            spec = tf.TensorSpec([None, INCEPTION_SIZE, INCEPTION_SIZE, 3], tf.float32)
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return self

    def __call__(self, images):
        self.load()
        images = tf.convert_to_tensor(images, tf.float32)
        out = [self._forward(preprocess(images[i:i + self.batch_size])).numpy()
               for i in range(0, int(images.shape[0]), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)
