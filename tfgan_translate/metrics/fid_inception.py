"""The FID Inception network: the 2015 TensorFlow Inception graph that published FIDs use.

TF-GAN and pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``) both compute FID on the
``pool_3`` features (2048-d) of the Inception graph released in December 2015. Its blocks are
those of Inception-v3 with three differences from torchvision's (and Keras') Inception-v3:

- the average pools inside the A, C and first E blocks (3x3, stride 1, padding 1) divide by
  the number of *real* pixels under the window (TensorFlow's ``SAME`` average pool), not by 9;
- the second E block (``Mixed_7c``) max-pools its pool branch instead of averaging it;
- every batch norm has a scale (gamma) and eps 0.001.

The builder names its layers after the published file's ``state_dict`` keys
(``Mixed_5b.branch5x5_2.conv.weight`` is the kernel of the Keras layer ``Mixed_5b.branch5x5_2.conv``),
and :func:`torch_layer_map` lists that correspondence for the converter. Padding: every padded
convolution and pool here has stride 1 and an odd kernel with padding (k - 1) / 2, which is
exactly Keras' ``"same"``; the strided ones are unpadded (``"valid"``), so no explicit
padding layer is needed to compute what the reference computes.

Input: ``[N, 299, 299, 3]`` in [-1, 1] (the graph scales 8-bit levels v by (v - 128) / 128;
pytorch-fid feeds v / 127.5 - 1; :mod:`.features` applies each protocol's); output: ``[N, 2048]``.
"""

import keras

INPUT_SIZE = 299
FEATURE_DIM = 2048
BATCH_NORM_EPSILON = 1e-3


class _Graph:
    """The blocks, as functions of a Keras tensor."""

    def __init__(self, dtype):
        self.dtype = dtype

    def conv(self, x, path, filters, kernel, strides=1, padding="valid"):
        """BasicConv2d: a bias-free convolution, batch norm (with scale) and ReLU."""
        x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                                name=f"{path}.conv", dtype=self.dtype)(x)
        x = keras.layers.BatchNormalization(epsilon=BATCH_NORM_EPSILON, name=f"{path}.bn", dtype=self.dtype)(x)
        return keras.layers.ReLU(name=f"{path}.relu", dtype=self.dtype)(x)

    def average_pool(self, x, name):
        """3x3 stride-1 average over the real pixels under the window (TensorFlow's SAME pool)."""
        return keras.layers.AveragePooling2D(3, strides=1, padding="same", name=f"{name}_pool", dtype=self.dtype)(x)

    def max_pool(self, x, name, strides, padding="valid"):
        return keras.layers.MaxPooling2D(3, strides=strides, padding=padding, name=name, dtype=self.dtype)(x)

    def concat(self, parts, name):
        return keras.layers.Concatenate(name=name, dtype=self.dtype)(parts)

    def block_a(self, x, name, pool_features):
        """Mixed_5b/5c/5d: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg pool-1x1."""
        b1 = self.conv(x, f"{name}.branch1x1", 64, 1)
        b5 = self.conv(x, f"{name}.branch5x5_1", 48, 1)
        b5 = self.conv(b5, f"{name}.branch5x5_2", 64, 5, padding="same")
        b3 = self.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
        b3 = self.conv(b3, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
        b3 = self.conv(b3, f"{name}.branch3x3dbl_3", 96, 3, padding="same")
        pool = self.conv(self.average_pool(x, name), f"{name}.branch_pool", pool_features, 1)
        return self.concat([b1, b5, b3, pool], name)

    def block_b(self, x, name):
        """Mixed_6a (35 -> 17): 3x3/2 | 1x1-3x3-3x3/2 | max pool 3x3/2."""
        b3 = self.conv(x, f"{name}.branch3x3", 384, 3, strides=2)
        bd = self.conv(x, f"{name}.branch3x3dbl_1", 64, 1)
        bd = self.conv(bd, f"{name}.branch3x3dbl_2", 96, 3, padding="same")
        bd = self.conv(bd, f"{name}.branch3x3dbl_3", 96, 3, strides=2)
        pool = self.max_pool(x, f"{name}_pool", strides=2)
        return self.concat([b3, bd, pool], name)

    def block_c(self, x, name, c7):
        """Mixed_6b-6e: 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avg pool-1x1 (factorised 7x7)."""
        b1 = self.conv(x, f"{name}.branch1x1", 192, 1)
        b7 = self.conv(x, f"{name}.branch7x7_1", c7, 1)
        b7 = self.conv(b7, f"{name}.branch7x7_2", c7, (1, 7), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7_3", 192, (7, 1), padding="same")
        bd = self.conv(x, f"{name}.branch7x7dbl_1", c7, 1)
        for i, (kernel, filters) in enumerate((((7, 1), c7), ((1, 7), c7), ((7, 1), c7), ((1, 7), 192)), start=2):
            bd = self.conv(bd, f"{name}.branch7x7dbl_{i}", filters, kernel, padding="same")
        pool = self.conv(self.average_pool(x, name), f"{name}.branch_pool", 192, 1)
        return self.concat([b1, b7, bd, pool], name)

    def block_d(self, x, name):
        """Mixed_7a (17 -> 8): 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | max pool 3x3/2."""
        b3 = self.conv(x, f"{name}.branch3x3_1", 192, 1)
        b3 = self.conv(b3, f"{name}.branch3x3_2", 320, 3, strides=2)
        b7 = self.conv(x, f"{name}.branch7x7x3_1", 192, 1)
        b7 = self.conv(b7, f"{name}.branch7x7x3_2", 192, (1, 7), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7x3_3", 192, (7, 1), padding="same")
        b7 = self.conv(b7, f"{name}.branch7x7x3_4", 192, 3, strides=2)
        pool = self.max_pool(x, f"{name}_pool", strides=2)
        return self.concat([b3, b7, pool], name)

    def block_e(self, x, name, max_pool):
        """Mixed_7b/7c: 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1; Mixed_7c max-pools."""
        b1 = self.conv(x, f"{name}.branch1x1", 320, 1)
        b3 = self.conv(x, f"{name}.branch3x3_1", 384, 1)
        b3 = self.concat([self.conv(b3, f"{name}.branch3x3_2a", 384, (1, 3), padding="same"),
                          self.conv(b3, f"{name}.branch3x3_2b", 384, (3, 1), padding="same")], f"{name}_3x3")
        bd = self.conv(x, f"{name}.branch3x3dbl_1", 448, 1)
        bd = self.conv(bd, f"{name}.branch3x3dbl_2", 384, 3, padding="same")
        bd = self.concat([self.conv(bd, f"{name}.branch3x3dbl_3a", 384, (1, 3), padding="same"),
                          self.conv(bd, f"{name}.branch3x3dbl_3b", 384, (3, 1), padding="same")], f"{name}_3x3dbl")
        if max_pool:
            pooled = self.max_pool(x, f"{name}_pool", strides=1, padding="same")
        else:
            pooled = self.average_pool(x, name)
        pool = self.conv(pooled, f"{name}.branch_pool", 192, 1)
        return self.concat([b1, b3, bd, pool], name)


def build_fid_inception(input_size=INPUT_SIZE, dtype="float32"):
    """The FID Inception network (randomly initialised): ``[N, 299, 299, 3]`` in [-1, 1] -> ``[N, 2048]``.

    ``dtype`` is float32 whatever the global precision policy, so that features computed
    during mixed-precision training are those of an evaluation run; ``"float64"`` serves the
    parity tests (float32 round-off over 94 layers is of the order of 1e-4).

    Load the published weights with :func:`tfgan_translate.metrics.fid_weights.load_fid_weights`.

    Example:
        >>> model = build_fid_inception()
        >>> model.output_shape
        (None, 2048)
    """
    graph = _Graph(dtype)
    inputs = keras.Input((input_size, input_size, 3), name="image", dtype=dtype)
    x = graph.conv(inputs, "Conv2d_1a_3x3", 32, 3, strides=2)  # 299 -> 149
    x = graph.conv(x, "Conv2d_2a_3x3", 32, 3)  # -> 147
    x = graph.conv(x, "Conv2d_2b_3x3", 64, 3, padding="same")
    x = graph.max_pool(x, "maxpool1", strides=2)  # -> 73
    x = graph.conv(x, "Conv2d_3b_1x1", 80, 1)
    x = graph.conv(x, "Conv2d_4a_3x3", 192, 3)  # -> 71
    x = graph.max_pool(x, "maxpool2", strides=2)  # -> 35
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x = graph.block_a(x, name, pool_features)
    x = graph.block_b(x, "Mixed_6a")  # -> 17
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x = graph.block_c(x, name, c7)
    x = graph.block_d(x, "Mixed_7a")  # -> 8
    x = graph.block_e(x, "Mixed_7b", max_pool=False)
    x = graph.block_e(x, "Mixed_7c", max_pool=True)
    features = keras.layers.GlobalAveragePooling2D(name="pool_3", dtype=dtype)(x)
    return keras.Model(inputs, features, name="fid_inception")


def torch_layer_map(model):
    """``[(Keras layer name, torch module path)]`` for every weight of ``model`` (a
    :func:`build_fid_inception` network): the layers carry the published file's paths as names."""
    return [(layer.name, layer.name) for layer in model.layers
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.BatchNormalization))]
