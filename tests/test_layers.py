import numpy as np
import keras
import pytest
import tensorflow as tf

from tfgan_translate.layers import ConvTranspose2D, InstanceNormalization, LeakyReLU, ReflectionPadding2D


def numpy_instance_norm(x, eps=1e-5):
    """The definition of nn.InstanceNorm2d (affine off): per sample and channel, biased variance."""
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def test_instance_norm_matches_numpy_reference():
    rng = np.random.default_rng(0)
    # Different scale and offset per sample and channel, so batch statistics would be wrong.
    x = rng.normal(size=(3, 7, 5, 4)) * rng.uniform(0.1, 5, size=(3, 1, 1, 4)) + rng.normal(size=(3, 1, 1, 4)) * 3
    x = x.astype(np.float32)
    got = np.asarray(InstanceNormalization()(x))
    np.testing.assert_allclose(got, numpy_instance_norm(x.astype(np.float64)), atol=1e-5)


def test_instance_norm_epsilon_matters_for_constant_channels():
    x = np.full((1, 4, 4, 2), 3.0, np.float32)
    # variance ~ 2e-5, comparable to eps (centred near 0 so float32 keeps the differences)
    x[..., 1] = np.arange(16, dtype=np.float32).reshape(4, 4) * 1e-3
    got = np.asarray(InstanceNormalization()(x))
    np.testing.assert_allclose(got[..., 0], 0.0, atol=1e-6)
    np.testing.assert_allclose(got, numpy_instance_norm(x.astype(np.float64)), atol=1e-5)


def test_instance_norm_has_no_weights_unless_affine():
    plain = InstanceNormalization()
    plain.build((None, 8, 8, 3))
    assert plain.weights == []
    affine = InstanceNormalization(affine=True)
    affine.build((None, 8, 8, 3))
    assert sorted(w.name for w in affine.weights) == ["beta", "gamma"]
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    affine.gamma.assign([2.0, 1.0, 0.5])
    affine.beta.assign([1.0, 0.0, -1.0])
    expected = numpy_instance_norm(x) * np.array([2.0, 1.0, 0.5]) + np.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(np.asarray(affine(x)), expected, atol=1e-5)


@pytest.mark.parametrize("channels", [2, 16])  # the formula, and the fused kernels (64x64x16 values)
def test_instance_norm_float16_input_keeps_float32_statistics(channels):
    layer = InstanceNormalization(dtype="mixed_float16")
    x = (np.random.default_rng(2).normal(size=(1, 64, 64, channels)) * 100 + 1000).astype(np.float16)
    got = np.asarray(layer(x)).astype(np.float64)
    np.testing.assert_allclose(got, numpy_instance_norm(x.astype(np.float64)), atol=2e-2)


def formula_instance_norm(x, eps=1e-5):
    """The textbook formula in TensorFlow ops, whose automatic gradients are the reference."""
    mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
    return (x - mean) * tf.math.rsqrt(variance + eps)


def first_and_second_gradients(norm, x, weights, probe):
    """d<norm(x), weights>/dx, and the gradient of a gradient penalty built from it (what
    WGAN-GP differentiates through a critic's instance norms)."""
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = norm(x)
            loss = tf.reduce_sum(y * weights)
        grad = inner.gradient(loss, x)
        penalty = tf.reduce_sum(grad * grad * probe)
    return y, grad, outer.gradient(penalty, x)


@pytest.mark.parametrize("batch,size", [(1, 64), (3, 64), (None, 64), (3, 8)])
def test_instance_norm_gradients_first_and_second_order_match_the_formula(batch, size):
    """Large maps of a known batch go through the fused kernels one sample at a time, small
    maps and unknown batch sizes through the formula; every path must give the formula's values
    and first and second derivatives."""
    rng = np.random.default_rng(4)
    n, shape = batch or 3, (size, size, 16)
    if batch and size == 64:
        assert size * size * 16 >= InstanceNormalization.FUSED_MIN_ELEMENTS  # the fused path
    x = tf.constant((rng.normal(size=(n, *shape)) * rng.uniform(0.5, 3, (n, 1, 1, 16)) + 2).astype(np.float32))
    weights = tf.constant(rng.normal(size=x.shape).astype(np.float32))
    probe = tf.constant(rng.normal(size=x.shape).astype(np.float32))
    layer = InstanceNormalization()
    spec = [tf.TensorSpec([batch, *shape], tf.float32)] * 3
    ours = tf.function(lambda x, w, p: first_and_second_gradients(layer, x, w, p), input_signature=spec)
    want = first_and_second_gradients(formula_instance_norm, x, weights, probe)
    for got, expected in zip(ours(x, weights, probe), want):
        scale = float(tf.reduce_max(tf.abs(expected)))
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4 * scale)


def test_instance_norm_bfloat16_keeps_the_dtype_and_the_values():
    layer = InstanceNormalization(dtype="mixed_bfloat16")
    x = np.random.default_rng(5).normal(size=(2, 64, 64, 16)).astype(np.float32) * 4 + 10  # the fused path
    got = layer(x)
    assert got.dtype == "bfloat16"
    np.testing.assert_allclose(np.asarray(tf.cast(got, tf.float32)), numpy_instance_norm(x.astype(np.float64)), atol=3e-2)


# (kernel, stride, padding, output_padding): ResNet's k3 s2 p1 op1, U-Net's k4 s2 p1, and
# geometries that reach every computation ConvTranspose2D chooses from.
TRANSPOSED_GEOMETRIES = [(3, 2, 1, 1), (4, 2, 1, 0), (3, 1, 1, 0), (5, 2, 2, 1), (4, 2, 2, 0), (3, 2, 0, 0), (7, 3, 3, 2)]


def pytorch_conv_transpose(x, kernel, bias, k, s, p, op):
    """nn.ConvTranspose2d by its definition: Keras' full transposed convolution, then PyTorch's
    crop of ``p`` rows/columns at the top/left and ``p - op`` at the bottom/right."""
    n, h, w, _ = x.shape
    full = tf.nn.conv2d_transpose(x, kernel, [n, (h - 1) * s + k, (w - 1) * s + k, kernel.shape[2]], s, "VALID")
    return full[:, p:full.shape[1] - (p - op), p:full.shape[2] - (p - op), :] + bias


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("k,s,p,op", TRANSPOSED_GEOMETRIES)
def test_conv_transpose_is_pytorch_conv_transpose_with_its_gradients(k, s, p, op, policy):
    rng = np.random.default_rng(k * 100 + s * 10 + p)
    layer = ConvTranspose2D(5, k, strides=s, padding=p, output_padding=op, bias_initializer="random_normal",
                            dtype=policy)
    x = tf.constant(rng.normal(size=(2, 32, 33, 4)).astype(np.float32))  # large enough for "sub_pixel"
    layer.build(x.shape)
    dy = tf.constant(rng.normal(size=layer.compute_output_shape(x.shape)).astype(np.float32))
    compute = tf.as_dtype(layer.compute_dtype)
    x_in = tf.cast(x, compute)
    with tf.GradientTape() as tape:
        tape.watch(x_in)
        y = layer(x_in)
    got = [y, *tape.gradient(y, [x_in, layer.kernel.value], tf.cast(dy, compute))]

    # The definition in float32, from the same inputs and weights rounded to the compute dtype.
    rounded = lambda t: tf.cast(tf.cast(t, compute), tf.float32)  # noqa: E731
    x32, kernel32 = rounded(x), rounded(layer.kernel.value)
    with tf.GradientTape() as tape:
        tape.watch([x32, kernel32])
        y32 = pytorch_conv_transpose(x32, kernel32, rounded(layer.bias.value), k, s, p, op)
    want = [y32, *tape.gradient(y32, [x32, kernel32], dy)]
    assert y.shape == y32.shape == dy.shape
    # float32: summation order only; bfloat16: 8-bit mantissas (relative to each array's scale). The
    # kernel gradient sums ~8,000 products per entry, and oneDNN's bf16 kernels on Intel AMX cores
    # round partial sums to bf16: TensorFlow's own conv2d_backprop_filter is 4.3% of the scale off
    # float32 there (measured), so that gradient gets 8%.
    tolerances = (2e-6,) * 3 if compute == tf.float32 else (2e-2, 2e-2, 8e-2)
    for g, w, relative in zip(got, want, tolerances):
        scale = float(tf.reduce_max(tf.abs(w)))
        np.testing.assert_allclose(tf.cast(g, tf.float32).numpy(), w.numpy(), rtol=relative, atol=relative * scale)


def test_conv_transpose_geometries_cover_every_computation():
    used = {ConvTranspose2D(2, k, strides=s, padding=p, output_padding=op).algorithm(dtype, (2, 32, 33, 4))
            for k, s, p, op in TRANSPOSED_GEOMETRIES for dtype in ("float32", "bfloat16")}
    assert used == {"same", "explicit", "sub_pixel", "crop"}
    assert ConvTranspose2D(2, 4, strides=2, padding=1).algorithm("float32") == "same"  # the U-Net's
    resnet_up = ConvTranspose2D(2, 3, strides=2, padding=1, output_padding=1)
    assert resnet_up.algorithm("bfloat16", (1, 64, 64, 256)) == "sub_pixel"
    assert resnet_up.algorithm("bfloat16", (4, 8, 8, 64)) == "crop"  # small maps: one kernel call is faster


def test_conv_transpose_refuses_an_output_padding_pytorch_refuses():
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2D(2, 3, strides=2, padding=0, output_padding=1)
    with pytest.raises(ValueError, match="output_padding"):
        ConvTranspose2D(2, 3, strides=1, padding=1, output_padding=1)


def test_reflection_padding_mirrors_without_repeating_the_edge():
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 4, 1)
    got = np.asarray(ReflectionPadding2D(((1, 2), (2, 1)))(x))[0, ..., 0]
    expected = np.pad(x[0, ..., 0], ((1, 2), (2, 1)), mode="reflect")
    np.testing.assert_array_equal(got, expected)
    assert got[1, 0] == x[0, 0, 2, 0]  # reflect, not symmetric: the border pixel is not repeated


def test_reflection_padding_accepts_int_and_pair():
    x = np.zeros((2, 5, 6, 3), np.float32)
    assert ReflectionPadding2D(3)(x).shape == (2, 11, 12, 3)
    assert ReflectionPadding2D((1, 2))(x).shape == (2, 7, 10, 3)
    with pytest.raises(ValueError, match="padding must be"):
        ReflectionPadding2D("same")


def _round_trip(model, tmp_path, x):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    return loaded


def test_custom_layers_round_trip_through_keras_save(tmp_path):
    inputs = keras.Input((8, 8, 3))
    y = ReflectionPadding2D(((2, 1), (0, 3)), name="pad")(inputs)
    y = keras.layers.Conv2D(4, 3, name="conv")(y)
    y = InstanceNormalization(affine=True, epsilon=1e-3, name="norm")(y)
    y = ConvTranspose2D(2, 3, strides=2, padding=1, output_padding=1, name="up")(y)
    y = LeakyReLU(negative_slope=0.3, name="lrelu")(y)
    model = keras.Model(inputs, y)
    model.get_layer("norm").gamma.assign([0.5, 1.5, 2.0, 1.0])
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype(np.float32)
    loaded = _round_trip(model, tmp_path, x)
    assert loaded.get_layer("pad").padding == ((2, 1), (0, 3))
    assert loaded.get_layer("norm").epsilon == pytest.approx(1e-3)
    assert loaded.get_layer("norm").affine is True
    up = loaded.get_layer("up")
    assert (up.crop, up.extra, up.output.shape[1:]) == (1, 1, (18, 18, 2))
    assert type(loaded.get_layer("lrelu")) is LeakyReLU and loaded.get_layer("lrelu").negative_slope == pytest.approx(0.3)


def _critic(leaky_relu_layer):
    """conv + bias + LeakyReLU + conv, the PatchGAN's first layer pattern, with fixed weights."""
    inputs = keras.Input((8, 8, 3))
    y = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    y = leaky_relu_layer(negative_slope=0.2, name="lrelu")(y)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, name="conv2")(y))
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def test_leaky_relu_has_kerass_values_and_first_and_second_derivatives():
    ours, keras_own = _critic(LeakyReLU), _critic(keras.layers.LeakyReLU)
    x = tf.constant(np.random.default_rng(6).normal(size=(2, 8, 8, 3)).astype(np.float32))

    def gradient_penalty_and_its_gradient(model):
        """A WGAN-GP style penalty: its weight gradient needs the second derivative of the activation."""
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                score = tf.reduce_sum(model(x))
            penalty = tf.reduce_sum(tf.square(inner.gradient(score, x)))
        return score, penalty, outer.gradient(penalty, model.trainable_variables)

    score, penalty, grads = gradient_penalty_and_its_gradient(ours)
    score_k, penalty_k, grads_k = gradient_penalty_and_its_gradient(keras_own)
    np.testing.assert_allclose(score, score_k, rtol=1e-6)
    np.testing.assert_allclose(penalty, penalty_k, rtol=1e-5)
    assert [g is None for g in grads] == [g is None for g in grads_k]  # conv2's bias does not reach the penalty
    for got, want in zip(grads, grads_k):
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.abs(np.asarray(grads[0])).max() > 0  # conv1's kernel: through the activation's second derivative
    np.testing.assert_allclose(LeakyReLU(negative_slope=0.2)(tf.constant([-2.0, 0.0, 3.0])), [-0.4, 0.0, 3.0], rtol=1e-7)


REMAPPER_CHECK = """
import tensorflow as tf
from tfgan_translate import networks
d = networks.build_patchgan_discriminator((32, 32, 3), ndf=8, n_layers=2)
optimizer = tf.keras.optimizers.Adam()

@tf.function
def step(x):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(d(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, d.trainable_variables), d.trainable_variables))
    return loss

print(float(step(tf.zeros((1, 32, 32, 3)))))
"""


@pytest.mark.slow
def test_a_patchgan_training_step_compiles_without_grappler_errors():
    """Keras' own LeakyReLU after conv + bias makes grappler print ``remapper failed`` at every
    training start; users read it as a crash."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    run = subprocess.run([sys.executable, "-c", REMAPPER_CHECK], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "remapper failed" not in run.stderr, run.stderr[-3000:]
