"""Image features for FID and KID: which network, which weights, which resizing, written down.

Two networks, never mixed up (each report names its own):

- ``fid-inception`` (:class:`FIDInceptionFeatures`, the default): the 2015 TensorFlow
  Inception graph's ``pool_3`` features with the weights pytorch-fid publishes
  (``pt_inception-2015-12-05-6726825d.pth``); what published FIDs (TF-GAN, pytorch-fid,
  clean-fid, the CycleGAN/CUT papers' tables) are computed with.
- ``keras-inception-v3`` (:class:`InceptionFeatures`): Keras' ``InceptionV3`` with ImageNet
  weights; its FIDs rank models consistently but are not comparable with published ones.

Two protocols (``resize=``), applied after the images are rounded to 8-bit levels v (so
translations are scored as the image files they become) and grayscale is repeated to RGB:

- ``legacy``: pytorch-fid's: bilinear resize to 299 x 299 without antialiasing (half-pixel
  centres, ``F.interpolate(..., mode="bilinear", align_corners=False)``), then v / 127.5 - 1
  (its ``2 x - 1`` on [0, 1]); it aliases when it shrinks images. (TF-GAN's and the original
  TF 1 graph's resize differs again: clean-fid calls that protocol ``legacy_tensorflow``.)
- ``clean``: clean-fid's (Parmar et al., 2022): each channel of the 8-bit image as a float
  image resized with PIL's bicubic filter (antialiased when shrinking), clipped to [0, 255],
  then (v - 128) / 128, the 2015 graph's own input scaling.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

from .fid_inception import FEATURE_DIM, INPUT_SIZE

NETWORKS = ("fid-inception", "keras-inception-v3")
RESIZE_MODES = ("legacy", "clean")
NETWORK_DESCRIPTIONS = {
    "fid-inception": "the FID Inception network (the 2015 TensorFlow Inception graph, pool_3, 2048-d, "
                     "as TF-GAN and pytorch-fid use it)",
    "keras-inception-v3": "Keras' InceptionV3 (ImageNet weights, 2048-d average pool): not comparable with "
                          "published FIDs",
}
RESIZE_DESCRIPTIONS = {
    "legacy": "8-bit levels, bilinear resize to 299 px without antialiasing, v / 127.5 - 1 (pytorch-fid)",
    "clean": "8-bit levels, PIL bicubic resize to 299 px per channel, clipped to [0, 255], (v - 128) / 128 (clean-fid)",
}


def check_resize(resize):
    if resize not in RESIZE_MODES:
        raise ValueError(f"--fid-resize must be one of {', '.join(RESIZE_MODES)}, got {resize!r}")
    return resize


def _eight_bit(images):
    """``[N, H, W, 1 or 3]`` in [-1, 1] -> RGB float levels 0..255, as the image files would hold."""
    x = tf.convert_to_tensor(images, tf.float32)
    if x.shape[-1] not in (1, 3):
        raise ValueError(f"Inception features need 1 or 3 channels, got {x.shape[-1]}")
    x = tf.round((tf.clip_by_value(x, -1.0, 1.0) + 1.0) * 127.5)
    return tf.repeat(x, 3, axis=-1) if x.shape[-1] == 1 else x


def _clean_resize(levels):
    """clean-fid's resize of ``[N, H, W, 3]`` levels 0..255 (numpy): PIL bicubic per channel, clipped."""
    from PIL import Image

    out = np.empty((len(levels), INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    for i, image in enumerate(levels):
        for c in range(3):
            resized = Image.fromarray(np.ascontiguousarray(image[..., c], np.float32)).resize(
                (INPUT_SIZE, INPUT_SIZE), resample=Image.BICUBIC)
            out[i, ..., c] = np.clip(np.asarray(resized), 0, 255)
    return out


def preprocess(images, resize="legacy"):
    """``[N, H, W, 1 or 3]`` images in [-1, 1] -> ``[N, 299, 299, 3]`` network input in [-1, 1]
    (see the module docstring for the two ``resize`` protocols)."""
    levels = _eight_bit(images)
    if check_resize(resize) == "clean":
        return (tf.constant(_clean_resize(levels.numpy())) - 128.0) / 128.0
    resized = tf.image.resize(levels, (INPUT_SIZE, INPUT_SIZE), method="bilinear", antialias=False)
    return resized / 127.5 - 1.0


class PoolFeatures:
    """Callable ``images in [-1, 1] -> float32 [N, 2048]``; the network is built (and its
    weights loaded) on the first call or by :meth:`load`. Subclasses say which network."""

    network = None

    def __init__(self, weights, batch_size=32, *, resize="legacy"):
        self.weights = weights
        self.resize = check_resize(resize)
        self.batch_size = batch_size
        self.weights_sha256 = None
        self._model = None
        self._forward = None

    def _build(self):
        raise NotImplementedError

    def load(self):
        """Build the network now (to fail early on missing weights); returns ``self``."""
        if self._model is None:
            self._model = model = self._build()
            spec = tf.TensorSpec([None, INPUT_SIZE, INPUT_SIZE, 3], tf.float32)
            self._forward = tf.function(lambda x: model(x, training=False), input_signature=[spec])
        return self

    def __call__(self, images):
        self.load()
        images = tf.convert_to_tensor(images, tf.float32)
        out = [self._forward(preprocess(images[i:i + self.batch_size], self.resize)).numpy()
               for i in range(0, int(images.shape[0]), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)

    @property
    def weights_name(self):
        return str(self.weights)

    @property
    def comparable(self):
        """Whether scores from these features are comparable with published FIDs."""
        return False

    def describe(self):
        """What a report says next to the number: network, weights (name and hash), resize, comparability."""
        return {
            "network": self.network,
            "network_description": NETWORK_DESCRIPTIONS[self.network],
            "weights": self.weights_name,
            "weights_sha256": self.weights_sha256,
            "resize": self.resize,
            "resize_description": RESIZE_DESCRIPTIONS[self.resize],
            "comparable_with_published_fid": self.comparable,
        }

    @property
    def description(self):
        return f"{self.network} ({self.weights_name}), {self.resize} resize"


class FIDInceptionFeatures(PoolFeatures):
    """Pool features of the FID Inception network (see :mod:`.fid_inception`).

    Args:
        weights: the published ``pt_inception-2015-12-05-6726825d.pth`` (or a file of the same
            layout); ``None`` looks where pytorch-fid downloads it; ``"random"`` is a randomly
            initialised network, for tests of the mechanics only.
        resize: ``"legacy"`` (pytorch-fid, TF-GAN) or ``"clean"`` (clean-fid).
        batch_size: images per forward pass (memory of the 299 px activations).

    Example:
        >>> features = FIDInceptionFeatures("pt_inception-2015-12-05-6726825d.pth")  # doctest: +SKIP
        >>> features(images).shape  # doctest: +SKIP
        (N, 2048)
    """

    network = "fid-inception"

    def __init__(self, weights=None, batch_size=32, *, resize="legacy"):
        from . import fid_weights

        if weights is None:
            weights = fid_weights.default_weights_file()
            if weights is None:
                raise fid_weights.FIDWeightsError(f"FID needs the FID Inception weights. {fid_weights.HOW_TO_GET}")
        super().__init__(weights, batch_size, resize=resize)

    def _build(self):
        from . import fid_weights
        from .fid_inception import build_fid_inception

        if self.weights == "random":
            return build_fid_inception()
        model, self.weights_sha256 = fid_weights.load_fid_weights(self.weights)
        return model

    @property
    def weights_name(self):
        return "random initialisation (mechanics only)" if self.weights == "random" else Path(self.weights).name

    @property
    def comparable(self):
        from .fid_weights import is_published

        return bool(self.weights_sha256) and is_published(self.weights_sha256)


class InceptionFeatures(PoolFeatures):
    """Pool features of Keras' ``InceptionV3`` (see :mod:`.inception`).

    Args:
        weights: ``"imagenet"`` (download or Keras cache), the Keras ``..._notop.h5`` file, or
            ``None`` (random initialisation, tests only).
        resize, batch_size: as :class:`FIDInceptionFeatures`.
    """

    network = "keras-inception-v3"

    def __init__(self, weights="imagenet", batch_size=32, *, resize="legacy"):
        super().__init__(weights, batch_size, resize=resize)

    def _build(self):
        from .fid_weights import file_sha256
        from .inception import build_inception

        model = build_inception(self.weights)
        if self.weights not in (None, "imagenet"):
            self.weights_sha256 = file_sha256(self.weights)
        return model

    @property
    def weights_name(self):
        if self.weights is None:
            return "random initialisation (mechanics only)"
        return "Keras ImageNet" if self.weights == "imagenet" else Path(self.weights).name


def feature_network(network="fid-inception", weights=None, resize="legacy", batch_size=32):
    """The features of ``network`` (one of :data:`NETWORKS`) with ``weights`` (see each class).

    ``weights=None`` means each network's default: the published FID file where pytorch-fid
    keeps it, or Keras' ImageNet download.
    """
    if network == "fid-inception":
        return FIDInceptionFeatures(weights, batch_size, resize=resize)
    if network == "keras-inception-v3":
        return InceptionFeatures("imagenet" if weights is None else weights, batch_size, resize=resize)
    raise ValueError(f"--fid-network must be one of {', '.join(NETWORKS)}, got {network!r}")
