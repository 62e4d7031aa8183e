"""Does a text -> image generator draw what the caption says? A judge of the demo scenes' attributes.

The offline captioned demo (:mod:`..data.shape_captions`) knows each caption's colour, shape,
size and position exactly, so a generated image can be scored attribute by attribute: a small
CNN with one softmax head per attribute (``train_attribute_classifier``), trained on the real
``train`` scenes, labels the generated images, and ``attribute_accuracy`` is the share whose
label is the asked one (per attribute, and ``all``: every attribute right).

- **The judge reports its own held-out accuracy**, on the ``test`` scenes, whose attribute
  combinations it never saw in training (>= 99% per attribute at 16 and 64 px), so that a low
  score can be told from a bad judge.
- **It is trained with mild augmentation** (brightness and contrast changes, Gaussian noise,
  slight blur) so that it judges the attributes rather than rendering details a generator will
  not reproduce exactly. 10 epochs, Adam with a cosine-decayed rate, the shape loss weighted 3x
  (small circles and squares at 16 px are the hardest call): about 10 s at 16 px and 15-25 s at
  64 px on 2 CPU cores.
- **A baseline says what chance is** (``random_image_baseline``): a generator that ignores the
  text draws plausible scenes at random; real ``train`` scenes picked at random, scored against
  the asked attributes, give that level (about 1/6 colour, 1/3 shape, 1/2 size, 1/4 position,
  under 1% all). Uniform noise images are the other floor.

Example:
    >>> classifier, held_out = train_attribute_classifier(16)  # held_out["shape"] ~ 0.99+
    >>> scores = attribute_accuracy(classifier, generated, asked_attributes)
"""

import functools

import keras
import numpy as np
import tensorflow as tf

from ..data import shape_captions

ATTRIBUTES = shape_captions.ATTRIBUTES


def to_float(images):
    """uint8 scenes -> float32 in [-1, 1]."""
    return np.asarray(images, np.float32) / 127.5 - 1.0


def build_attribute_classifier(image_size):
    """A small CNN ``image (S, S, 3) in [-1, 1] -> {attribute: softmax over its values}``.

    Stride-2 convolutions bring larger images to 16x16 (16, 32, ... channels; at 16 px one
    stride-1 convolution instead), a 3x3 convolution at 16x16 looks at the shape's outline (a
    small shape is 4 px wide at 16 px), two stride-2 ones reach 4x4. Colour, shape and size are
    read from globally pooled features (max and mean: where the shape is cannot matter, so a
    held-out combination with a position never seen for it is judged like a seen one); position
    from the flattened 4x4 map.
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x, size, k = inputs, image_size, 0
    while size > 16:
        x = keras.layers.Conv2D(16 * 2 ** k, 3, strides=2, padding="same", activation="relu", name=f"stem_{k}")(x)
        size, k = (size + 1) // 2, k + 1
    if k == 0:  # already at 16 px or below: one convolution at full resolution instead of the stem
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="stem")(x)
    for name, filters, strides in (("conv_16", 32, 1), ("down_8", 64, 2), ("down_4", 96, 2)):
        x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", activation="relu", name=name)(x)
    pooled = keras.layers.Concatenate(name="pooled")(
        [keras.layers.GlobalMaxPooling2D(name="max")(x), keras.layers.GlobalAveragePooling2D(name="mean")(x)])
    pooled = keras.layers.Dropout(0.2, name="drop_what")(pooled)
    pooled = keras.layers.Dense(128, activation="relu", name="what")(pooled)
    where = keras.layers.Flatten(name="flatten")(keras.layers.Conv2D(16, 1, activation="relu", name="squeeze")(x))
    where = keras.layers.Dense(64, activation="relu", name="where")(where)
    outputs = {name: keras.layers.Dense(len(shape_captions.VALUES[name]), activation="softmax", name=name)(
        where if name == "position" else pooled) for name in ATTRIBUTES}
    return keras.Model(inputs, outputs, name="attribute_classifier")


def _augment(images, seed):
    """Mild per-image brightness/contrast change, slight blur and Gaussian noise (stateless RNG)."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 5))
    shape = [tf.shape(images)[0], 1, 1, 1]
    contrast = tf.random.stateless_uniform(shape, seeds[0], 0.85, 1.15)
    shift = tf.random.stateless_uniform(shape, seeds[1], -0.12, 0.12)
    images = images * contrast + shift
    kernel = tf.tile(tf.constant([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]])[:, :, None, None] / 16.0, [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(images, kernel, [1, 1, 1, 1], "SAME")
    amount = tf.random.stateless_uniform(shape, seeds[2], 0.0, 0.6) * tf.cast(
        tf.random.stateless_uniform(shape, seeds[3]) < 0.5, tf.float32)  # half the images blurred
    images = images + amount * (blurred - images)
    sigma = tf.random.stateless_uniform(shape, seeds[4], 0.0, 0.08)
    noise = tf.random.stateless_normal(tf.shape(images), tf.random.experimental.stateless_fold_in(seed, 7))
    return tf.clip_by_value(images + sigma * noise, -1.0, 1.0)


@functools.lru_cache(maxsize=4)
def _trained(image_size, epochs, seed):
    keras.utils.set_random_seed(seed)
    scenes = shape_captions.shape_scenes("train", image_size)
    labels = {name: scenes.attributes[:, j] for j, name in enumerate(ATTRIBUTES)}
    ds = tf.data.Dataset.from_tensor_slices((to_float(scenes.images), labels))
    ds = ds.shuffle(len(scenes), seed=seed, reshuffle_each_iteration=True).batch(64)
    ds = tf.data.Dataset.zip(ds, tf.data.Dataset.random(seed).batch(2)).map(
        lambda batch, s: (_augment(batch[0], s), batch[1]))  # a seed per batch
    model = build_attribute_classifier(image_size)
    steps = epochs * -(-len(scenes) // 64)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(4e-3, steps)),
                  loss={name: keras.losses.SparseCategoricalCrossentropy() for name in ATTRIBUTES},
                  loss_weights={name: 3.0 if name == "shape" else 1.0 for name in ATTRIBUTES})
    model.fit(ds.prefetch(2), epochs=epochs, verbose=0, shuffle=False)  # shuffled above, seeded
    test = shape_captions.shape_scenes("test", image_size)
    return model, attribute_accuracy(model, to_float(test.images), test.attributes)


def train_attribute_classifier(image_size, epochs=10, seed=0):
    """The judge at ``image_size``, trained on ``shape_scenes("train", image_size)``.

    Returns ``(model, held-out accuracy per attribute and "all" on shape_scenes("test",
    image_size))``: the test scenes are the held-out attribute combinations. Cached per
    arguments (the model is shared: do not train it further).
    """
    model, accuracy = _trained(int(image_size), int(epochs), int(seed))
    return model, dict(accuracy)


def predict_attributes(classifier, images, batch_size=256):
    """``(N, 4)`` int64 value indices the classifier gives ``images`` (``(N, S, S, 3)`` in [-1, 1])."""
    images = np.asarray(images, np.float32)
    if len(images) == 0:
        return np.zeros((0, len(ATTRIBUTES)), np.int64)
    predicted = []
    for start in range(0, len(images), batch_size):  # eager calls: no retracing per array length
        probabilities = classifier(images[start:start + batch_size], training=False)
        predicted.append(np.stack([np.argmax(probabilities[name], axis=-1) for name in ATTRIBUTES], axis=1))
    return np.concatenate(predicted).astype(np.int64)


def attribute_accuracy(classifier, images, attributes) -> dict:
    """Share of ``images`` (float in [-1, 1], (N, S, S, 3)) whose predicted attribute is the asked
    one (``attributes`` (N, 4) indices): ``{"colour", "shape", "size", "position", "all"}``."""
    attributes = np.asarray(attributes, np.int64).reshape(-1, len(ATTRIBUTES))
    if len(attributes) != len(images):
        raise ValueError(f"{len(images)} images but {len(attributes)} attribute rows")
    right = predict_attributes(classifier, images) == attributes
    scores = {name: float(np.mean(right[:, j])) for j, name in enumerate(ATTRIBUTES)}
    scores["all"] = float(np.mean(np.all(right, axis=1)))
    return scores


def random_image_baseline(classifier, image_size, count=500, seed=0, attributes=None, kind="scene") -> dict:
    """Accuracy of images that ignore the text: the chance level of :func:`attribute_accuracy`.

    ``attributes`` (default: ``count`` rows drawn from the test split's, i.e. held-out captions)
    are the asked ones; the images are, for ``kind="scene"``, real ``train`` scenes chosen at
    random (a generator that draws good scenes but ignores its caption), or for ``kind="noise"``
    uniform noise in [-1, 1].
    """
    rng = np.random.default_rng(seed)
    if attributes is None:
        test = shape_captions.shape_scenes("test", image_size).attributes
        attributes = test[rng.integers(0, len(test), count)]
    attributes = np.asarray(attributes, np.int64).reshape(-1, len(ATTRIBUTES))
    if kind == "scene":
        train = shape_captions.shape_scenes("train", image_size).images
        images = to_float(train[rng.integers(0, len(train), len(attributes))])
    elif kind == "noise":
        images = rng.uniform(-1, 1, (len(attributes), image_size, image_size, 3)).astype(np.float32)
    else:
        raise ValueError(f"kind must be 'scene' or 'noise'; got {kind!r}")
    return attribute_accuracy(classifier, images, attributes)
