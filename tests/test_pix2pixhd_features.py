"""pix2pixHD's feature encoder E, instance-wise average pooling and per-class k-means styles:
the reference parameter count, pooling against a NumPy loop (values, gradient, dtypes), and
the clusters' fit, file round trip and feature maps."""

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import networks
from tfgan_translate.families import pix2pixhd_styles as styles
from tfgan_translate.networks import feature_encoder as fe

# 16-bit ids, Cityscapes style (class * 1000 + n), shared by both examples of a batch.
IDS = np.array([0, 7, 26001, 26002, 33000, 65535], np.int32)


def conv_params(k, c_in, c_out):
    """A k x k (transposed) convolution with bias: k*k*c_in*c_out weights + c_out biases."""
    return k * k * c_in * c_out + c_out


def reference_encoder_convs(input_nc, feat_num, nef, n_down):
    """``(kernel, in, out)`` of every convolution of the official ``Encoder``, in order:
    Conv7 in->nef; n_down x Conv3 s2 nef*2^i -> nef*2^(i+1); n_down x ConvTranspose3
    nef*2^(n-i) -> nef*2^(n-i)/2; Conv7 nef->feat_num. (Instance norm: no parameters.)"""
    convs = [(7, input_nc, nef)]
    convs += [(3, nef * 2**i, nef * 2 ** (i + 1)) for i in range(n_down)]
    convs += [(3, nef * 2 ** (n_down - i), nef * 2 ** (n_down - i) // 2) for i in range(n_down)]
    return convs + [(7, nef, feat_num)]


def random_ids(rng, shape):
    """An instance map of blocks (so instances are regions) with ids drawn from ``IDS``."""
    b, h, w = shape
    blocks = rng.choice(IDS, (b, h // 4, w // 4))
    ids = np.repeat(np.repeat(blocks, 4, 1), 4, 2)
    ids[:, 0, 0] = 26002  # a one-pixel fragment of an instance seen elsewhere too
    return ids.astype(np.int32)


def numpy_instance_average(features, ids):
    out = np.empty_like(features, np.float64)
    for b in range(features.shape[0]):
        for i in np.unique(ids[b]):
            mask = ids[b] == i
            out[b][mask] = features[b][mask].astype(np.float64).mean(0)
    return out


def instance_spread(values, ids):
    """The largest max - min of any channel over any instance of any example."""
    return max(np.ptp(values[b][ids[b] == i], axis=0).max() for b in range(len(ids)) for i in np.unique(ids[b]))


# -- E ---------------------------------------------------------------------------------

def test_feature_encoder_has_the_reference_parameter_count_and_layer_list():
    convs = reference_encoder_convs(input_nc=3, feat_num=3, nef=16, n_down=4)
    expected = sum(conv_params(*c) for c in convs)
    assert expected == 788_803  # the same sum, written out once for the reader
    encoder = networks.build_pix2pixhd_feature_encoder((None, None, 3), feat_num=3, nef=16, n_downsampling=4)
    assert sum(int(np.prod(w.shape)) for w in encoder.trainable_weights) == expected
    kernels = [layer.kernel.shape for layer in encoder.layers if hasattr(layer, "kernel")]
    # Conv2D kernels are (k, k, in, out); ConvTranspose2D's (k, k, out, in).
    as_reference = [(k, i, o) if not name.startswith("up") else (k, o, i)
                    for (k, _, i, o), name in zip(kernels, [l.name for l in encoder.layers if hasattr(l, "kernel")])]
    assert as_reference == convs
    assert encoder.name == "encoder" and [t.name for t in encoder.inputs] == ["image", "instance_ids"]


def test_feature_encoder_output_is_the_trunk_averaged_over_each_instance(tmp_path):
    rng = np.random.default_rng(0)
    encoder = fe.build_feature_encoder((None, None, 3), feat_num=3, nef=4, n_downsampling=2)
    image = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    ids = random_ids(rng, (2, 16, 16))[..., None]
    pooled = encoder([image, ids]).numpy()
    assert pooled.shape == (2, 16, 16, 3) and pooled.dtype == np.float32
    assert instance_spread(pooled, ids[..., 0]) < 1e-6
    trunk = fe.feature_encoder_trunk(encoder)(image).numpy()
    assert instance_spread(trunk, ids[..., 0]) > 1e-3  # so the pooling did something
    np.testing.assert_allclose(pooled, numpy_instance_average(trunk, ids[..., 0]), atol=1e-6)

    path = tmp_path / "encoder.keras"
    encoder.save(path)
    np.testing.assert_array_equal(keras.saving.load_model(path)([image, ids]).numpy(), pooled)
    layer = fe.InstanceAverage(name="pool")
    assert fe.InstanceAverage.from_config(layer.get_config()).name == "pool"

    with pytest.raises(ValueError, match="multiples of 4"):
        fe.build_feature_encoder((18, 16, 3), nef=4, n_downsampling=2)


# -- instance-wise average pooling -----------------------------------------------------

def test_instance_average_matches_numpy_with_unknown_shapes_and_its_gradient_is_the_instance_mean():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(2, 16, 12, 3)).astype(np.float32)
    ids = random_ids(rng, (2, 16, 12))
    signature = [tf.TensorSpec([None, None, None, None], tf.float32), tf.TensorSpec([None, None, None, 1], tf.int32)]

    @tf.function(input_signature=signature)
    def pool_and_gradient(x, instance_ids):
        upstream = tf.random.stateless_normal(tf.shape(x), seed=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = networks.instance_average(x, instance_ids)
        return y, tape.gradient(y, x, output_gradients=upstream), upstream

    pooled, gradient, upstream = (t.numpy() for t in pool_and_gradient(features, ids[..., None]))
    np.testing.assert_allclose(pooled, numpy_instance_average(features, ids), rtol=1e-5, atol=1e-6)
    # d y_p / d x_q = 1 / count for p, q in one instance: the gradient is the upstream's instance mean.
    np.testing.assert_allclose(gradient, numpy_instance_average(upstream, ids), rtol=1e-5, atol=1e-6)

    # One pixel's output: its whole instance (and only it, in its example only) gets 1 / count.
    x = tf.constant(features)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = networks.instance_average(x, ids)  # (B, H, W) ids work too
        picked = y[1, 5, 7, 2]
    grad = tape.gradient(picked, x).numpy()
    mask = ids[1] == ids[1, 5, 7]
    expected = np.zeros_like(features)
    expected[1, ..., 2][mask] = 1.0 / mask.sum()
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_instance_average_compiles_with_xla():
    """The train step may be compiled (``jit_compile``): every shape of the pooling is static."""
    rng = np.random.default_rng(5)
    features = rng.normal(size=(2, 8, 8, 2)).astype(np.float32)
    ids = random_ids(rng, (2, 8, 8))
    ids[1, 4:] = -1  # negative ids are instances too

    @tf.function(jit_compile=True)
    def pool_and_gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = networks.instance_average(x, ids)
        return y, tape.gradient(y, x, output_gradients=x)

    pooled, gradient = pool_and_gradient(tf.constant(features))
    expected = numpy_instance_average(features, ids)
    np.testing.assert_allclose(pooled.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gradient.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_instance_average_keeps_the_dtype_and_sums_in_float32(dtype):
    """256 pixels of 1000 sum to 256,000, beyond float16's 65,504: the mean is still exact."""
    ids = np.zeros((1, 16, 16), np.int64)
    ids[0, 8:] = 2**40  # int64 ids beyond 32 bits are distinct too
    features = np.full((1, 16, 16, 2), 1000.0, np.float32)
    features[0, 8:, :, 1] = np.arange(8 * 16).reshape(8, 16) / 128.0  # mean 0.49609375
    y = networks.instance_average(tf.cast(features, dtype), ids)
    assert y.dtype == tf.as_dtype(dtype)
    y = tf.cast(y, tf.float32).numpy()
    np.testing.assert_array_equal(y[0, :8], 1000.0)
    np.testing.assert_array_equal(y[0, 8:, :, 0], 1000.0)
    np.testing.assert_allclose(y[0, 8:, :, 1], 0.49609375, rtol=1e-2)


def test_instance_average_refuses_mismatched_maps():
    with pytest.raises(ValueError, match="differ in batch, height or width"):
        networks.instance_average(tf.zeros((1, 4, 4, 3)), tf.zeros((1, 4, 5, 1), tf.int32))
    with pytest.raises(TypeError, match="integers"):
        networks.instance_average(tf.zeros((1, 4, 4, 3)), tf.zeros((1, 4, 4, 1)))


# -- records, k-means, the clusters file -----------------------------------------------

def test_instance_features_reads_class_vector_and_area():
    ids = np.full((1, 16, 16), 7, np.int32)
    ids[0, :4] = 26001  # 64 pixels: area 64 / (256 // 32) = 8
    ids[0, 4, :2] = 26002  # 2 pixels: area 0.25
    pooled = networks.instance_average(np.random.default_rng(2).normal(size=(1, 16, 16, 3)).astype(np.float32), ids)
    records = styles.instance_features(pooled.numpy(), ids)
    assert [(r.class_id, r.instance_id, r.area, r.example) for r in records] == [
        (7, 7, 190 / 8, 0), (26, 26001, 8.0, 0), (26, 26002, 0.25, 0)]
    np.testing.assert_allclose(records[1].feature, pooled.numpy()[0, 0, 0], rtol=1e-6)
    labels = np.full((1, 16, 16), 3)
    labels[0, :4] = 11
    labels[0, 0, 0] = 12  # a stray label pixel: the majority decides
    assert [r.class_id for r in styles.instance_features(pooled.numpy(), ids, labels)] == [3, 11, 3]


def records_of(class_id, vectors, area=1.0):
    return [styles.InstanceFeature(class_id, n, np.asarray(v, np.float32), area, 0) for n, v in enumerate(vectors)]


def test_fit_clusters_finds_two_obvious_clusters_per_class():
    rng = np.random.default_rng(3)
    near = lambda center, n: center + 0.01 * rng.normal(size=(n, 3))  # noqa: E731
    records = (records_of(26, np.concatenate([near(np.ones(3), 15), near(-np.ones(3), 10)]))
               + records_of(26, near(5 * np.ones(3), 4), area=0.5)  # not above min_area: ignored
               + records_of(7, near(np.zeros(3), 3))  # fewer instances than clusters: one center each
               + records_of(8, near(np.zeros(3), 2), area=0.1)  # nothing kept: no entry
               + records_of(9, [np.ones(3)] * 4))  # identical vectors: one center, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clusters = styles.fit_clusters(records, n_clusters=2)
    assert list(clusters) == [7, 9, 26]
    centers = clusters[26][np.argsort(clusters[26][:, 0])]
    np.testing.assert_allclose(centers, [-np.ones(3), np.ones(3)], atol=0.02)
    assert clusters[7].shape == (2, 3) and clusters[9].shape == (1, 3) and clusters[26].dtype == np.float32
    again = styles.fit_clusters(records, n_clusters=2)
    np.testing.assert_array_equal(again[26], clusters[26])  # seeded


def test_clusters_file_round_trips_exactly_and_refuses_bad_files(tmp_path):
    rng = np.random.default_rng(4)
    clusters = {26: rng.normal(size=(3, 3)).astype(np.float32), 7: rng.normal(size=(1, 3)).astype(np.float32)}
    path = tmp_path / styles.CLUSTERS_FILE
    styles.save_clusters(path, clusters, feat_num=3)
    loaded = styles.load_clusters(path, feat_num=3)
    assert list(loaded) == [7, 26]
    for class_id in clusters:
        assert loaded[class_id].dtype == np.float32
        np.testing.assert_array_equal(loaded[class_id], clusters[class_id])

    with pytest.raises(ValueError, match=rf"{styles.CLUSTERS_FILE}.*3-channel.*feat_num=4"):
        styles.load_clusters(path, feat_num=4)
    text = path.read_text()
    bad = tmp_path / "bad.json"
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"bad\.json.*corrupt JSON"):
        styles.load_clusters(bad)
    bad.write_text(json.dumps({"a": 1}))
    with pytest.raises(ValueError, match=r"bad\.json.*not a feature-cluster file"):
        styles.load_clusters(bad)
    document = json.loads(text)
    document["clusters"]["26"][1] = [1.0, 2.0]
    bad.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"bad\.json: class 26"):
        styles.load_clusters(bad)
    with pytest.raises(ValueError, match="class 7"):
        styles.save_clusters(tmp_path / "x.json", clusters, feat_num=4)


# -- feature maps at inference ---------------------------------------------------------

CLUSTERS = {
    7: np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], np.float32),
    26: np.array([[-1, -1, -1], [1, 1, 1], [0, 0.5, 0]], np.float32),
}


def style_ids():
    """Class 7 region (left), two class-26 instances, class 3 (no clusters) at the bottom."""
    ids = np.full((2, 16, 16), 7, np.int32)
    ids[:, :8, 8:] = 26001
    ids[:, 8:12, 8:] = 26002
    ids[:, 12:] = 3
    return ids


def test_style_feature_map_paints_each_instance_with_its_chosen_center():
    ids = style_ids()
    first = styles.style_feature_map(ids, None, CLUSTERS, 3, choice={7: 0, 26: 1})
    second = styles.style_feature_map(ids[..., None], None, CLUSTERS, 3, choice={7: 1, 26: 2})
    assert first.shape == (2, 16, 16, 3) and first.dtype == np.float32
    for out, (k7, k26) in ((first, (0, 1)), (second, (1, 2))):
        for instance, center in ((7, CLUSTERS[7][k7]), (26001, CLUSTERS[26][k26]), (26002, CLUSTERS[26][k26])):
            pixels = out[ids == instance]
            np.testing.assert_array_equal(pixels, np.broadcast_to(center, pixels.shape))
        np.testing.assert_array_equal(out[ids == 3], 0.0)  # class 3 has no clusters
    assert not np.array_equal(first[ids == 26001], second[ids == 26001])

    labels = np.where(ids == 3, 5, np.where(ids == 7, 26, 7))  # the label map decides the classes
    swapped = styles.style_feature_map(ids, labels, CLUSTERS, 3, choice={7: 1, 26: 0})
    np.testing.assert_array_equal(swapped[ids == 26001][0], CLUSTERS[7][1])
    np.testing.assert_array_equal(swapped[ids == 7][0], CLUSTERS[26][0])


def test_style_feature_map_random_draws_are_seeded_and_choices_are_checked():
    ids = style_ids()
    draw = lambda seed: styles.style_feature_map(ids, None, CLUSTERS, 3, choice={7: 0}, seed=seed)  # noqa: E731
    np.testing.assert_array_equal(draw(5), draw(5))
    draws = [draw(seed) for seed in range(6)]
    assert any(not np.array_equal(draws[0], d) for d in draws[1:])
    for out in draws:
        assert instance_spread(out, ids) == 0.0
        for b in range(2):
            for instance in (26001, 26002):
                assert any(np.array_equal(out[b][ids[b] == instance][0], c) for c in CLUSTERS[26])
        np.testing.assert_array_equal(out[ids == 7][0], CLUSTERS[7][0])

    with pytest.raises(ValueError, match=r"26=3: class 26 has 3 clusters \(choose 0..2\)"):
        styles.style_feature_map(ids, None, CLUSTERS, 3, choice={26: 3})
    with pytest.raises(ValueError, match="class 3 has no clusters"):
        styles.style_feature_map(ids, None, CLUSTERS, 3, choice={3: 0})
    with pytest.raises(ValueError, match=r"expected \(k >= 1, 4\)"):
        styles.style_feature_map(ids, None, CLUSTERS, 4)


def test_parse_cluster_choice():
    assert styles.parse_cluster_choice(["7=2", " 26 = 0"]) == {7: 2, 26: 0}
    assert styles.parse_cluster_choice([]) == {}
    for item in ("7", "a=1", "7=", "7=-1", "-7=1", "7=1.5", "7=2,26=0"):
        with pytest.raises(ValueError, match=f"feature cluster '{item}': expected CLASS=K"):
            styles.parse_cluster_choice([item])
    with pytest.raises(ValueError, match="class 7 is already chosen"):
        styles.parse_cluster_choice(["7=1", "7=2"])
