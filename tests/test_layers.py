import numpy as np
import keras
import pytest

from tfgan_translate.layers import InstanceNormalization, ReflectionPadding2D


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


def test_instance_norm_float16_input_keeps_float32_statistics():
    layer = InstanceNormalization(dtype="mixed_float16")
    x = (np.random.default_rng(2).normal(size=(1, 64, 64, 2)) * 100 + 1000).astype(np.float16)
    got = np.asarray(layer(x)).astype(np.float64)
    np.testing.assert_allclose(got, numpy_instance_norm(x.astype(np.float64)), atol=2e-2)


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
    model = keras.Model(inputs, y)
    model.get_layer("norm").gamma.assign([0.5, 1.5, 2.0, 1.0])
    x = np.random.default_rng(3).normal(size=(2, 8, 8, 3)).astype(np.float32)
    loaded = _round_trip(model, tmp_path, x)
    assert loaded.get_layer("pad").padding == ((2, 1), (0, 3))
    assert loaded.get_layer("norm").epsilon == pytest.approx(1e-3)
    assert loaded.get_layer("norm").affine is True
