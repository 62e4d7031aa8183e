import math

import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import losses


def softplus(x):
    return math.log1p(math.exp(x))


# Two examples, each a 2x2 PatchGAN map of logits (B, H, W, 1).
REAL = np.array([[[[2.0], [0.0]], [[-1.0], [1.0]]], [[[0.5], [0.5]], [[0.5], [0.5]]]], np.float32)
FAKE = np.array([[[[-2.0], [0.0]], [[1.0], [3.0]]], [[[0.0], [0.0]], [[0.0], [-4.0]]]], np.float32)


def hand_mean(fn, values):
    return sum(fn(v) for v in values) / len(values)


REAL_VALUES = [[2.0, 0.0, -1.0, 1.0], [0.5, 0.5, 0.5, 0.5]]
FAKE_VALUES = [[-2.0, 0.0, 1.0, 3.0], [0.0, 0.0, 0.0, -4.0]]


def expected_g(fn):
    return [hand_mean(fn, f) for f in FAKE_VALUES]


def expected_d(fn_real, fn_fake):
    return [hand_mean(fn_real, r) + hand_mean(fn_fake, f) for r, f in zip(REAL_VALUES, FAKE_VALUES)]


GENERATOR_CASES = {
    "vanilla": (losses.vanilla_generator_loss, lambda f: softplus(-f)),
    "lsgan": (losses.lsgan_generator_loss, lambda f: (f - 1) ** 2),
    "wgan": (losses.wgan_generator_loss, lambda f: -f),
    "hinge": (losses.hinge_generator_loss, lambda f: -f),
}
DISCRIMINATOR_CASES = {
    "vanilla": (losses.vanilla_discriminator_loss, lambda r: softplus(-r), lambda f: softplus(f)),
    "lsgan": (losses.lsgan_discriminator_loss, lambda r: (r - 1) ** 2, lambda f: f**2),
    "wgan": (losses.wgan_discriminator_loss, lambda r: -r, lambda f: f),
    "hinge": (losses.hinge_discriminator_loss, lambda r: max(0.0, 1 - r), lambda f: max(0.0, 1 + f)),
}


@pytest.mark.parametrize("kind", GENERATOR_CASES)
def test_generator_losses_on_a_patchgan_map(kind):
    fn, per_logit = GENERATOR_CASES[kind]
    got = fn(tf.constant(FAKE)).numpy()
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected_g(per_logit), rtol=1e-6)


@pytest.mark.parametrize("kind", DISCRIMINATOR_CASES)
def test_discriminator_losses_on_a_patchgan_map(kind):
    fn, on_real, on_fake = DISCRIMINATOR_CASES[kind]
    got = fn(tf.constant(REAL), tf.constant(FAKE)).numpy()
    assert got.shape == (2,)
    np.testing.assert_allclose(got, expected_d(on_real, on_fake), rtol=1e-6)


@pytest.mark.parametrize("kind", DISCRIMINATOR_CASES)
def test_lists_of_maps_are_summed_over_discriminators(kind):
    """A multi-scale D gives one map per scale, of different sizes; the loss adds them."""
    g_fn, g_logit = GENERATOR_CASES[kind]
    d_fn, on_real, on_fake = DISCRIMINATOR_CASES[kind]
    small_real = np.full((2, 1, 1, 1), 0.25, np.float32)
    small_fake = np.full((2, 1, 1, 1), -0.75, np.float32)
    got_d = d_fn([REAL, small_real], [FAKE, small_fake]).numpy()
    np.testing.assert_allclose(got_d, np.array(expected_d(on_real, on_fake)) + on_real(0.25) + on_fake(-0.75), rtol=1e-6)
    got_g = g_fn([FAKE, small_fake]).numpy()
    np.testing.assert_allclose(got_g, np.array(expected_g(g_logit)) + g_logit(-0.75), rtol=1e-6)


def test_vector_logits_work_too():
    np.testing.assert_allclose(losses.lsgan_generator_loss(tf.constant([1.0, 3.0])).numpy(), [0.0, 4.0])


def test_vanilla_loss_is_stable_for_large_logits():
    got = losses.vanilla_discriminator_loss(tf.constant([[1000.0]]), tf.constant([[-1000.0]])).numpy()
    assert np.all(np.isfinite(got)) and got[0] == pytest.approx(0.0, abs=1e-6)
    assert losses.vanilla_generator_loss(tf.constant([[-1000.0]])).numpy()[0] == pytest.approx(1000.0)


def test_mismatched_list_lengths_are_refused():
    with pytest.raises(ValueError, match="different numbers of maps"):
        losses.lsgan_discriminator_loss([REAL, REAL], [FAKE])


def test_gan_losses_lookup():
    assert losses.gan_losses("lsgan") == (losses.lsgan_generator_loss, losses.lsgan_discriminator_loss)
    with pytest.raises(ValueError, match="unknown GAN loss 'bce'.*vanilla"):
        losses.gan_losses("bce")


def test_l1_cycle_and_identity_losses_by_hand():
    a = np.zeros((2, 2, 2, 1), np.float32)
    b = np.array([[[[1.0], [-1.0]], [[2.0], [0.0]]], [[[0.5], [0.5]], [[0.5], [0.5]]]], np.float32)
    expected = [1.0, 0.5]  # (1+1+2+0)/4 and 0.5
    for fn in (losses.l1_loss, losses.cycle_consistency_loss, losses.identity_loss):
        np.testing.assert_allclose(fn(a, b).numpy(), expected)


def test_gradient_penalty_on_a_critic_with_known_gradient():
    """For D(x) = sum(w * x) the gradient is w everywhere, so GP = (||w|| - 1)^2 exactly."""
    w = tf.constant(np.random.default_rng(0).normal(size=(1, 3, 3, 2)), tf.float32)
    norm = float(tf.norm(w))

    def linear_critic(x):
        return tf.reduce_sum(w * x, axis=[1, 2, 3])

    real = tf.random.normal((4, 3, 3, 2))
    fake = tf.random.normal((4, 3, 3, 2))
    got = losses.gradient_penalty(linear_critic, real, fake).numpy()
    np.testing.assert_allclose(got, np.full(4, (norm - 1.0) ** 2), rtol=1e-5)


def test_gradient_penalty_depends_on_the_interpolation_point():
    """D(x) = sum(x^2)/2 has gradient x, so GP at x_hat = alpha*real + (1-alpha)*fake is (||x_hat|| - 1)^2."""
    real = tf.constant(np.random.default_rng(1).normal(size=(3, 2, 2, 1)), tf.float32)
    fake = tf.constant(np.random.default_rng(2).normal(size=(3, 2, 2, 1)), tf.float32)
    alpha = tf.constant([0.0, 0.5, 1.0])

    def quadratic_critic(x):  # a PatchGAN-like map output: gradient of its sum is x
        return 0.5 * tf.square(x)

    got = losses.gradient_penalty(quadratic_critic, real, fake, alpha=alpha).numpy()
    x_hat = alpha.numpy()[:, None, None, None] * real.numpy() + (1 - alpha.numpy()[:, None, None, None]) * fake.numpy()
    expected = (np.sqrt((x_hat**2).reshape(3, -1).sum(axis=1)) - 1.0) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gradient_penalty_with_a_stateless_seed_is_reproducible():
    real = tf.random.normal((2, 4, 4, 1))
    fake = tf.random.normal((2, 4, 4, 1))

    def critic(x):
        return tf.reduce_sum(tf.sin(x), axis=[1, 2, 3])

    a = losses.gradient_penalty(critic, real, fake, seed=(1, 2)).numpy()
    b = losses.gradient_penalty(critic, real, fake, seed=(1, 2)).numpy()
    np.testing.assert_array_equal(a, b)


def test_feature_matching_by_hand_and_multiscale_average():
    zeros = [np.zeros((1, 2, 2, 1), np.float32), np.zeros((1, 1, 1, 2), np.float32)]
    fake_a = [np.full((1, 2, 2, 1), 2.0, np.float32), np.array([[[[1.0, -3.0]]]], np.float32)]  # 2 + 2
    fake_b = [np.full((1, 2, 2, 1), 1.0, np.float32), np.zeros((1, 1, 1, 2), np.float32)]  # 1 + 0
    np.testing.assert_allclose(losses.feature_matching_loss(zeros, fake_a).numpy(), [4.0])
    np.testing.assert_allclose(losses.feature_matching_loss([zeros, zeros], [fake_a, fake_b]).numpy(), [2.5])


def test_feature_matching_does_not_train_the_real_branch():
    real = tf.Variable(tf.ones((1, 2, 2, 1)))
    fake = tf.Variable(tf.zeros((1, 2, 2, 1)))
    with tf.GradientTape() as tape:
        loss = losses.feature_matching_loss([real], [fake])
    grad_real, grad_fake = tape.gradient(loss, [real, fake])
    assert grad_real is None
    np.testing.assert_allclose(grad_fake.numpy(), -0.25)  # d/dfake of mean|1 - fake| over 4 elements
