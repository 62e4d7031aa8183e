"""Metric formulas against closed forms and direct computations; streaming equals in-memory."""

import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf
from skimage.metrics import structural_similarity

from tfgan_translate import metrics


def random_covariance(rng, dim, scale=1.0):
    a = rng.normal(size=(dim, dim))
    return scale * (a @ a.T / dim + 0.1 * np.eye(dim))


# --- Frechet distance -------------------------------------------------------------------

def test_frechet_distance_matches_the_closed_form_for_commuting_gaussians():
    rng = np.random.default_rng(0)
    dim = 16
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    d1, d2 = rng.uniform(0.1, 3, dim), rng.uniform(0.1, 3, dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    sigma1, sigma2 = rotation @ np.diag(d1) @ rotation.T, rotation @ np.diag(d2) @ rotation.T
    # Same eigenvectors: the distance is ||mu1 - mu2||^2 + sum (sqrt(d1) - sqrt(d2))^2.
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert metrics.frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_matches_the_closed_form_for_non_commuting_2x2_gaussians():
    # For 2x2 covariances, Tr((A B)^(1/2)) = sqrt(Tr(A B) + 2 sqrt(det A det B)).
    a = np.array([[2.0, 0.7], [0.7, 1.0]])
    b = np.array([[0.5, -0.3], [-0.3, 1.5]])
    mu1, mu2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    assert not np.allclose(a @ b, b @ a)
    trace_root = np.sqrt(np.trace(a @ b) + 2 * np.sqrt(np.linalg.det(a) * np.linalg.det(b)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(a) + np.trace(b) - 2 * trace_root
    assert metrics.frechet_distance(mu1, a, mu2, b) == pytest.approx(expected, rel=1e-4)


def test_frechet_distance_agrees_with_scipy_sqrtm_and_is_symmetric():
    rng = np.random.default_rng(1)
    dim = 64
    s1, s2 = random_covariance(rng, dim), random_covariance(rng, dim, 2.0)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    reference = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2).real)
    fid = metrics.frechet_distance(mu1, s1, mu2, s2)
    assert fid == pytest.approx(reference, rel=1e-4)
    assert metrics.frechet_distance(mu2, s2, mu1, s1) == pytest.approx(fid, rel=1e-8)


def test_fid_is_zero_for_identical_feature_sets_even_with_singular_covariances():
    # 10 vectors in 32 dimensions: a rank-9 covariance, where a plain sqrtm goes unstable.
    features = np.random.default_rng(2).normal(size=(10, 32)).astype(np.float32) * 3 + 5
    a, b = metrics.FeatureSummary().update(features), metrics.FeatureSummary().update(features[::-1])
    assert a.fid(b) == pytest.approx(0.0, abs=1e-6 * np.trace(a.statistics.covariance()))
    shifted = metrics.FeatureSummary().update(features + 1.0)  # same covariance, mean moved by 1 per dim
    assert a.fid(shifted) == pytest.approx(32.0, rel=1e-4)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="sigma2"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2))


def fid_from_few_features(x, y):
    """FID written out for n < d images, independently of the library's method: with centred
    feature rows X, Y, sigma = X^T X / (n - 1) and Tr((sigma_x sigma_y)^(1/2)) is the nuclear
    norm of X Y^T / sqrt((n_x - 1)(n_y - 1)) (an n x n problem instead of d x d)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    xc, yc = x - x.mean(0), y - y.mean(0)
    trace_root = np.linalg.svd(xc @ yc.T, compute_uv=False).sum() / np.sqrt((len(x) - 1) * (len(y) - 1))
    traces = (xc**2).sum() / (len(x) - 1) + (yc**2).sum() / (len(y) - 1)
    return np.sum((x.mean(0) - y.mean(0)) ** 2) + traces - 2 * trace_root


def single_threaded_blas():
    """2048 x 2048 eigendecompositions run several times faster with one BLAS thread on this
    busy shared 2-core machine (threads spin against other processes); no effect on values."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def test_fid_of_few_features_matches_the_small_problem_formula():
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(9, 40)), rng.normal(0.2, 1.5, size=(12, 40))
    fid = metrics.frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))
    assert fid == pytest.approx(fid_from_few_features(x, y), rel=1e-6)


# --- KID ----------------------------------------------------------------------------------

def direct_mmd2(x, y):
    """The unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, written out pair by pair."""
    d = x.shape[1]

    def k(u, v):
        return (float(np.dot(u, v)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_the_direct_unbiased_mmd_when_a_subset_is_the_whole_set():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(7, 5)), rng.normal(0.5, 1.2, size=(7, 5))
    expected = direct_mmd2(x, y)
    assert metrics.mmd2_unbiased(x, y) == pytest.approx(expected, rel=1e-10)
    # Subsets of size min(n1, n2) = 7 are permutations of the sets: every subset gives the same value.
    mean, std = metrics.kernel_inception_distance(x, y, num_subsets=5, subset_size=1000)
    assert mean == pytest.approx(expected, rel=1e-10) and std < 1e-9 * abs(expected)


def test_kid_subsets_are_drawn_without_replacement_from_the_larger_set():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(6, 4))
    mean, std = metrics.kernel_inception_distance(x, y, num_subsets=50, subset_size=1000, seed=1)
    draws = np.random.default_rng(1)
    values = [direct_mmd2(x[draws.choice(30, 6, replace=False)], y[draws.choice(6, 6, replace=False)]) for _ in range(50)]
    assert (mean, std) == pytest.approx((np.mean(values), np.std(values)), rel=1e-9)


def test_kid_estimator_is_unbiased_on_a_known_example():
    """Two discrete distributions (uniform over 4 and over 3 points): the population MMD^2 is
    exact; the average estimate over many samples of 5 matches it, the biased one does not."""
    rng = np.random.default_rng(5)
    support_p, support_q = rng.normal(size=(4, 3)), rng.normal(0.3, 1.0, size=(3, 3))
    k = metrics.polynomial_kernel
    truth = k(support_p, support_p).mean() + k(support_q, support_q).mean() - 2 * k(support_p, support_q).mean()
    m, trials = 5, 20000
    xs = support_p[rng.integers(4, size=(trials, m))]
    ys = support_q[rng.integers(3, size=(trials, m))]
    unbiased = np.array([metrics.mmd2_unbiased(x, y) for x, y in zip(xs, ys)])
    biased = np.array([k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean() for x, y in zip(xs, ys)])
    standard_error = unbiased.std() / np.sqrt(trials)
    assert abs(unbiased.mean() - truth) < 4 * standard_error
    assert abs(biased.mean() - truth) > 10 * standard_error


def test_kid_needs_two_images_per_set():
    with pytest.raises(ValueError, match="at least 2"):
        metrics.kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))


# --- streaming summaries -------------------------------------------------------------------

def test_running_statistics_equal_the_all_in_memory_ones():
    rng = np.random.default_rng(6)
    features = (rng.normal(size=(101, 12)) * rng.uniform(0.01, 2, 12) + 1000.0).astype(np.float32)
    stats = metrics.RunningStatistics()
    for batch in np.split(features, [1, 8, 40, 41, 90]):  # uneven batches, one of a single vector
        stats.update(batch)
    assert stats.count == 101
    np.testing.assert_allclose(stats.mean, features.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance(), np.cov(features.astype(np.float64), rowvar=False),
                               rtol=1e-9, atol=1e-12)


def test_reservoir_keeps_everything_up_to_capacity_then_a_uniform_sample():
    features = np.arange(40, dtype=np.float32).reshape(20, 2)
    small = metrics.FeatureReservoir(capacity=32)
    for batch in np.split(features, [3, 11]):
        small.update(batch)
    np.testing.assert_array_equal(small.features, features)

    index = np.arange(5000, dtype=np.float32)[:, None]
    kept_late = []
    for seed in range(20):
        reservoir = metrics.FeatureReservoir(capacity=100, seed=seed)
        for batch in np.split(index, 50):
            reservoir.update(batch)
        kept = reservoir.features[:, 0]
        assert reservoir.seen == 5000 and len(np.unique(kept)) == 100
        kept_late.append(np.mean(kept >= 2500))
    assert np.mean(kept_late) == pytest.approx(0.5, abs=0.05)  # not biased towards early (or late) images


# --- paired metrics --------------------------------------------------------------------------

def image_pair(seed=7, shape=(3, 32, 32, 3)):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.2, shape), -1, 1).astype(np.float32)
    return x, y


def test_psnr_and_ssim_agree_with_tf_image_and_scikit_image_in_0_1_units():
    x, y = image_pair()
    x01, y01 = (x + 1) / 2, (y + 1) / 2
    np.testing.assert_allclose(metrics.psnr(x, y), tf.image.psnr(x01, y01, max_val=1.0), rtol=1e-5)
    np.testing.assert_allclose(metrics.ssim(x, y), tf.image.ssim(x01, y01, max_val=1.0), rtol=1e-4)
    for i in range(len(x)):
        reference = structural_similarity(x01[i].astype(np.float64), y01[i].astype(np.float64), data_range=1.0,
                                          channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False)
        assert float(metrics.ssim(x[i:i + 1], y[i:i + 1])[0]) == pytest.approx(reference, abs=2e-4)
        mse = np.mean((x01[i].astype(np.float64) - y01[i]) ** 2)
        assert float(metrics.psnr(x[i:i + 1], y[i:i + 1])[0]) == pytest.approx(10 * np.log10(1 / mse), abs=1e-3)


def test_l1_is_the_mean_absolute_difference_and_identical_images_score_perfectly():
    x, y = image_pair(8, (2, 16, 16, 1))
    np.testing.assert_allclose(metrics.l1(x, y), np.abs(x - y).mean(axis=(1, 2, 3)), rtol=1e-6)
    assert np.all(np.isinf(metrics.psnr(x, x))) and np.allclose(metrics.ssim(x, x), 1.0)
    with pytest.raises(ValueError, match="11 x 11"):
        metrics.ssim(x[:, :8, :8], y[:, :8, :8])


# --- Inception features ------------------------------------------------------------------------

def test_preprocess_follows_the_fid_protocol():
    gray = tf.constant(np.linspace(-1, 1, 2 * 8 * 8).reshape(2, 8, 8, 1), tf.float32)
    out = metrics.preprocess(gray)
    assert out.shape == (2, 299, 299, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])  # gray repeated to RGB
    levels = np.round((out.numpy()[:, ::37, ::37] + 1) * 127.5)  # ... after rounding to 8-bit levels
    assert float(tf.reduce_min(out)) >= -1 and float(tf.reduce_max(out)) <= 1
    assert levels.min() == 0 and levels.max() == 255


def test_missing_weights_file_says_how_to_get_the_weights(tmp_path):
    with pytest.raises(metrics.InceptionWeightsError, match="no such file.*--fid-network keras-inception-v3 --fid-weights FILE"):
        metrics.InceptionFeatures(str(tmp_path / "nope.h5")).load()


@pytest.mark.slow
def test_offline_imagenet_download_failure_says_what_to_do(monkeypatch):
    from keras.src.applications import inception_v3

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(inception_v3.file_utils, "get_file", offline)
    with pytest.raises(metrics.InceptionWeightsError) as error:
        metrics.InceptionFeatures("imagenet").load()
    message = str(error.value)
    assert "URL fetch failure" in message and metrics.inception.WEIGHTS_URL in message
    assert "--fid-weights" in message and "~/.keras/models" in message


@pytest.mark.slow
def test_fid_and_kid_end_to_end_on_random_inception_features_stream_like_in_memory(tmp_path):
    """Mechanics on a randomly initialised Inception (no download): 6 + 6 small images,
    features in batches of 4, streamed summaries equal the all-in-memory computation; a
    weights file saved from the network loads back to the same weights."""
    rng = np.random.default_rng(9)
    real = rng.uniform(-1, 1, (6, 32, 32, 3)).astype(np.float32)
    fake = np.clip(real * 0.5 + 0.3, -1, 1).astype(np.float32)
    keras.utils.set_random_seed(0)
    features = metrics.InceptionFeatures(weights=None, batch_size=4)
    real_features, fake_features = features(real), features(fake)
    assert real_features.shape == (6, metrics.FEATURE_DIM) and real_features.dtype == np.float32
    assert np.all(np.isfinite(real_features)) and real_features.std() > 0

    real_summary, fake_summary = metrics.FeatureSummary(), metrics.FeatureSummary()
    for start in range(0, 6, 4):
        real_summary.update(features(real[start:start + 4]))
        fake_summary.update(features(fake[start:start + 4]))
    with single_threaded_blas():
        fid = fake_summary.fid(real_summary)
    assert fid == pytest.approx(fid_from_few_features(fake_features, real_features), rel=1e-4) and fid > 0
    assert fake_summary.kid(real_summary) == pytest.approx(metrics.kernel_inception_distance(fake_features, real_features), rel=1e-4)

    path = tmp_path / "inception.weights.h5"
    features.load()._model.save_weights(path)
    reloaded = metrics.InceptionFeatures(weights=str(path)).load()._model  # built, not run: a forward pass costs seconds
    for saved, loaded in zip(features._model.weights, reloaded.weights):
        np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    assert "random" in features.description and path.name in metrics.InceptionFeatures(str(path)).description
    assert features.describe()["network"] == "keras-inception-v3"
    assert not features.describe()["comparable_with_published_fid"]
