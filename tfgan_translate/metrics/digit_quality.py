"""How well the digit generators do what they are asked, measured by a classifier of real digits.

- CGAN: the share of generated samples that a small CNN, trained on the real digits, labels
  as the class that was asked for (``cgan_class_accuracy``; 10% is chance).
- InfoGAN: its categorical code is learned without labels, so code k means some digit of its
  own choosing. ``best_mapping_accuracy`` labels samples of each code with the classifier and
  finds the one-to-one code -> class mapping that agrees most (the Hungarian method,
  ``scipy.optimize.linear_sum_assignment``); the share of samples that agree is the score.

The classifier (``train_digit_classifier``) reports its own held-out accuracy, so that a low
score can be told from a bad judge.
"""

import functools

import keras
import numpy as np

from ..data import digits
from ..networks.conditional import input_sizes


@functools.lru_cache(maxsize=4)
def train_digit_classifier(image_size=28, epochs=20, seed=0):
    """A small CNN trained on the offline digits' ``train`` split at ``image_size``.

    Returns ``(model, held-out accuracy on the test split)``; cached per arguments.
    """
    keras.utils.set_random_seed(seed)
    x, y = digits.digits_arrays("train", image_size)
    x_test, y_test = digits.digits_arrays("test", image_size)
    model = keras.Sequential([
        keras.Input((image_size, image_size, 1)),
        keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(digits.NUM_CLASSES),
    ], name="digit_classifier")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(np.asarray(x), np.asarray(y), batch_size=64, epochs=epochs, verbose=0, shuffle=True)
    return model, accuracy(model, x_test, y_test)


def predict(classifier, images, batch_size=256):
    """Class indices the classifier gives ``images`` (``(N, H, W, 1)`` in [-1, 1])."""
    logits = classifier.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)
    return np.argmax(logits, axis=-1)


def accuracy(classifier, images, labels):
    return float(np.mean(predict(classifier, images) == np.asarray(labels)))


def best_mapping_accuracy(codes, classes, num_codes=None, num_classes=None):
    """Share of examples whose class matches their code under the best one-to-one code -> class map.

    Returns ``(accuracy, mapping)`` with ``mapping[code] = class`` (codes left without a
    class, when there are more codes than classes, are absent and count as wrong).
    """
    from scipy.optimize import linear_sum_assignment

    codes, classes = np.asarray(codes, int), np.asarray(classes, int)
    num_codes = num_codes or int(codes.max()) + 1
    num_classes = num_classes or int(classes.max()) + 1
    counts = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(counts, (codes, classes), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / max(len(codes), 1)), dict(zip(rows.tolist(), cols.tolist()))


def cgan_class_accuracy(generator, classifier, sample, per_class=100, seed=0):
    """``(accuracy, per-class accuracies)`` of CGAN samples: asked class vs the classifier's label.

    ``sample(generator, class_ids, seed=...)`` draws the images (``cgan.sample``).
    """
    num_classes = input_sizes(generator)["class_one_hot"]
    asked = np.repeat(np.arange(num_classes), per_class)
    predicted = predict(classifier, sample(generator, asked, seed=seed))
    per = [float(np.mean(predicted[asked == k] == k)) for k in range(num_classes)]
    return float(np.mean(predicted == asked)), per


def infogan_code_accuracy(generator, classifier, sample, per_code=100, seed=0):
    """``(best-mapping accuracy, mapping code -> class)`` of InfoGAN samples drawn from the prior
    (continuous codes ~ Unif(-1, 1)) with each categorical code ``per_code`` times.

    ``sample(generator, categorical, continuous, seed=...)`` draws the images (``infogan.sample``).
    """
    sizes = input_sizes(generator)
    k = sizes["categorical_code"]
    codes = np.repeat(np.arange(k), per_code)
    continuous = np.random.default_rng(seed).uniform(-1, 1, (len(codes), sizes.get("continuous_code", 0)))
    predicted = predict(classifier, sample(generator, codes, continuous, seed=seed))
    return best_mapping_accuracy(codes, predicted, k, digits.NUM_CLASSES)
