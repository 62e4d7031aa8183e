"""DualGAN: critics, weight clipping, the gradient penalty on a critic of known gradient,
RMSProp, falling reconstruction loss, exact resume, CLI round trip."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import data, dualgan, losses


def tiny_config(**overrides):
    settings = dict(image_size=32, ngf=4, ndf=4, n_layers_d=2, batch_size=4, n_critic=2, lr=5e-4)
    return dualgan.Config(**{**settings, **overrides})


def demo_dataset_fn(config, num_examples=16):
    """``epoch -> dataset`` of a small, fixed slice of the demo-unpaired training data."""
    def dataset_fn(epoch):
        return data.demo_unpaired(num_examples=num_examples, image_size=config.image_size,
                                  batch_size=config.batch_size, seed=epoch, deterministic=True)
    return dataset_fn


@pytest.mark.parametrize("w_value,expected", [(1.5, (3.0 - 1.0) ** 2), (0.5, 0.0), (0.1, (0.2 - 1.0) ** 2)])
def test_gradient_penalty_of_a_linear_critic_is_exact(w_value, expected):
    """f(x) = <w, x> has gradient w everywhere, so the penalty is (||w|| - 1)^2 for any
    real, fake and interpolation weight. w has 4 entries: ||w|| = 2 |w_value|."""
    w = tf.fill((1, 2, 2, 1), w_value)

    def critic(x):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])

    real = tf.random.normal((3, 2, 2, 1), seed=1)
    fake = tf.random.normal((3, 2, 2, 1), seed=2)
    for alpha in (None, tf.constant([0.0, 0.3, 1.0])):
        penalty = losses.gradient_penalty(critic, real, fake, alpha=alpha).numpy()
        np.testing.assert_allclose(penalty, [expected] * 3, atol=1e-5)


def test_trainer_critic_loss_adds_the_penalty_of_a_linear_keras_critic():
    """A 1x1 conv without bias on a 1x1 image is linear: the trainer's penalty is (||w|| - 1)^2."""
    config = tiny_config(lipschitz="gp")
    critic = keras.Sequential([keras.Input((1, 1, 3)), keras.layers.Conv2D(1, 1, use_bias=False)])
    critic.layers[0].kernel.assign(tf.reshape(tf.constant([2.0, 1.0, 2.0]), (1, 1, 3, 1)))  # ||w|| = 3
    trainer = dualgan.Trainer(config, steps_per_epoch=4)
    real, fake = tf.ones((2, 1, 1, 3)), -tf.ones((2, 1, 1, 3))
    loss, penalty = trainer._critic_loss(critic, real, fake)
    assert float(penalty) == pytest.approx(4.0, abs=1e-4)
    assert float(loss) == pytest.approx(-5.0 - 5.0)  # D(fake) - D(real) = -5 - 5


def test_configs_and_critics():
    assert dualgan.Config().critic_normalization == "batch" and dualgan.Config(lipschitz="gp").critic_normalization == "none"
    assert dualgan.Config().unet_depth == 8 and dualgan.Config().lambda_a == 500.0
    patch = dualgan.build_critic(tiny_config(), 3, "patch")
    glob = dualgan.build_critic(tiny_config(critic="global"), 3, "global")
    assert patch.output_shape[-1] == 1 and patch(tf.zeros((1, 32, 32, 3))).shape == (1, 6, 6, 1)  # 32 -s2-> 16 -s2-> 8 -s1-> 7 -s1-> 6
    assert glob(tf.zeros((2, 32, 32, 3))).shape == (2, 1, 1, 1)  # one score per image
    for bad, message in [(dict(lipschitz="spectral"), "lipschitz"), (dict(critic="pixel"), "critic"),
                         (dict(n_critic=0), "n_critic"), (dict(recon_loss="l3"), "recon_loss must be one of")]:
        with pytest.raises(ValueError, match=message):
            tiny_config(**bad)
    trainer = dualgan.Trainer(tiny_config(), steps_per_epoch=4)
    optimizer = trainer.discriminator_optimizer
    assert isinstance(optimizer, keras.optimizers.RMSprop) and optimizer.rho == pytest.approx(0.9)
    assert float(optimizer.learning_rate) == pytest.approx(5e-4)


def test_weight_clipping_keeps_every_critic_weight_in_the_box():
    config = tiny_config(clip_value=0.01)
    trainer = dualgan.Trainer(config, steps_per_epoch=4)
    # N(0, 0.02) weights and batch-norm scales of 1 start outside [-0.01, 0.01].
    assert max(float(tf.reduce_max(tf.abs(v))) for v in trainer.discriminator_variables) > 0.01
    batch = next(iter(demo_dataset_fn(config)(0)))
    trainer.train_step(batch)
    for v in trainer.discriminator_variables:
        assert float(tf.reduce_max(tf.abs(v))) <= 0.01 + 1e-7, v.path
    at_bound = sum(int(tf.reduce_sum(tf.cast(tf.abs(v) >= 0.01 - 1e-7, tf.int32))) for v in trainer.discriminator_variables)
    assert at_bound > 0  # the clip acted
    assert max(float(tf.reduce_max(tf.abs(v))) for v in trainer.generator_variables) > 0.01  # generators untouched
    assert int(trainer.discriminator_optimizer.iterations) == 2 and int(trainer.generator_optimizer.iterations) == 1


@pytest.mark.slow
def test_reconstruction_loss_falls_on_demo_data():
    config = tiny_config(lr=2e-3)  # measured ratio 0.51; WGAN with clipping, the paper's; resume below runs WGAN-GP
    trainer = dualgan.Trainer(config, steps_per_epoch=4)
    step = tf.function(trainer.train_step)
    dataset_fn = demo_dataset_fn(config)
    history = []
    for epoch in range(8):
        for batch in dataset_fn(epoch):
            out = step(batch)
            history.append(float(out["recon_a"] + out["recon_b"]))
    assert np.mean(history[-8:]) < 0.75 * np.mean(history[:8]), history


