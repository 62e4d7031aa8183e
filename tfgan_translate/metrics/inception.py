"""Keras' Inception-v3 without its classifier: the ``keras-inception-v3`` feature network.

Weights: ``keras.applications.InceptionV3``'s ImageNet weights (downloaded once into
``~/.keras/models``), or a weights file the user names. These are not the weights of the
2015 Inception graph that TF-GAN and pytorch-fid use (that is :mod:`.fid_inception`), so FIDs
computed with it rank models consistently with each other but are NOT numerically
comparable with published FIDs. ``weights=None`` is a randomly initialised network, for
tests of the mechanics only. The features and resizing are in :mod:`.features`.
"""

from pathlib import Path

from .fid_inception import INPUT_SIZE as INCEPTION_SIZE

WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
               "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
WEIGHTS_FILE = WEIGHTS_URL.rsplit("/", 1)[1]
HOW_TO_GET_WEIGHTS = (
    f"On a machine with internet, download {WEIGHTS_URL} (87 MB) and either pass the file with "
    f"--fid-network keras-inception-v3 --fid-weights FILE (InceptionFeatures(weights=FILE) in Python) or copy it to "
    f"~/.keras/models/{WEIGHTS_FILE}, where Keras looks before downloading."
)


class InceptionWeightsError(RuntimeError):
    """The Inception-v3 weights cannot be loaded; the message says how to get them."""


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
        raise InceptionWeightsError(f"--fid-weights {weights}: no such file. {HOW_TO_GET_WEIGHTS}")
    if path.suffix == ".pth":
        raise InceptionWeightsError(
            f"--fid-weights {weights}: a PyTorch file; Keras' InceptionV3 takes {WEIGHTS_FILE}. The published FID "
            "weights (pt_inception-2015-12-05-6726825d.pth) go with --fid-network fid-inception (the default).")
    model = build(None)
    try:
        model.load_weights(str(path))
    except Exception as error:
        raise InceptionWeightsError(
            f"--fid-weights {weights}: not Keras Inception-v3 weights without the top ({error}); "
            f"expected {WEIGHTS_FILE}. {HOW_TO_GET_WEIGHTS}"
        ) from None
    return model


# Where these lived before the FID Inception network joined: kept importable from here.
from .features import InceptionFeatures, preprocess  # noqa: E402,F401
from .fid_inception import FEATURE_DIM  # noqa: E402,F401
