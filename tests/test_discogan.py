"""DiscoGAN: official layer lists, reconstruction distances, feature matching, curriculum,
coupled weight decay, falling reconstruction loss, exact resume, CLI round trip."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import data, discogan, losses, networks


def count(model):
    """Trainable parameters, as the reference counts them (no batch-norm moving statistics)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)


def test_official_64px_networks_have_the_reference_parameter_counts():
    # Generator (no biases anywhere; BN = 2 * channels):
    #   enc conv 3*64*16 = 3,072; 64*128*16 = 131,072 + 256; 128*256*16 = 524,288 + 512;
    #   256*512*16 = 2,097,152 + 1,024; dec 512*256*16 = 2,097,152 + 512; 256*128*16 = 524,288 + 256;
    #   128*64*16 = 131,072 + 128; 64*3*16 = 3,072  ->  5,511,168 + 2,688 = 5,513,856
    #   (the same as nn.Sequential of the official model.py layers in PyTorch).
    g = networks.build_encoder_decoder_generator((64, 64, 3), depth=4, ngf=64)
    assert count(g) == 5_513_856
    # Discriminator: 3,072 + (131,072 + 256) + (524,288 + 512) + (2,097,152 + 1,024) + 512*16 = 2,765,568.
    d = networks.build_dcgan_discriminator((64, 64, 3), depth=4, ndf=64, return_features=True)
    assert count(d) == 2_765_568
    # Features are relu2..relu4 of the official code, then one logit per image.
    assert [s[1:] for s in d.output_shape] == [(16, 16, 128), (8, 8, 256), (4, 4, 512), (1, 1, 1)]


def test_depth_follows_the_image_size_and_bad_sizes_are_refused():
    assert discogan.Config().depth == 4 and discogan.Config(image_size=32).depth == 3
    g = networks.build_encoder_decoder_generator((None, None, 3), depth=3, ngf=4)
    assert g(tf.zeros((2, 40, 48, 3))).shape == (2, 40, 48, 3)  # free size, multiples of 8
    d = networks.build_dcgan_discriminator((32, 32, 3), depth=3, ndf=4, return_features=True)
    assert [s[1:] for s in d.output_shape] == [(8, 8, 8), (4, 4, 16), (1, 1, 1)]
    with pytest.raises(ValueError, match="not a power of 2"):
        discogan.Config(image_size=48)
    with pytest.raises(ValueError, match="multiples of 2\\*\\*3"):
        networks.build_encoder_decoder_generator((36, 36, 3), depth=3)
    with pytest.raises(ValueError, match="at least 32 pixels"):
        networks.build_dcgan_discriminator((16, 16, 3), depth=3)
    with pytest.raises(ValueError, match="recon_loss must be one of mse, l1"):
        discogan.Config(recon_loss="l3")
    with pytest.raises(ValueError, match="update_interval"):
        discogan.Config(update_interval=1)


def test_reconstruction_distances_by_hand():
    # Example 1: x = (1, -1), y = (0.5, 0.5); example 2: x = (2, 0), y = (1, 0).
    x = tf.constant([[1.0, -1.0], [2.0, 0.0]])[:, None, :, None]
    y = tf.constant([[0.5, 0.5], [1.0, 0.0]])[:, None, :, None]
    expected = {
        "mse": [(0.25 + 2.25) / 2, (1 + 0) / 2],
        "l1": [(0.5 + 1.5) / 2, (1 + 0) / 2],
        "cosine": [1.0 - 0.0, 1.0 - 1.0],  # orthogonal, then the same direction
        "hinge": [(0.45 + 1.45) / 2, (0.95 + 0) / 2],  # margin 0.05
    }
    for kind, values in expected.items():
        np.testing.assert_allclose(losses.reconstruction_distance(kind)(x, y).numpy(), values, atol=1e-6, err_msg=kind)
    np.testing.assert_allclose(losses.hinge_distance(x, y, margin=1.0).numpy(), [0.25, 0.0], atol=1e-6)


def test_feature_matching_compares_batch_means():
    # Layer 1: real values 1 and 3 (mean 2), fake 0 and 0 (mean 0): (2 - 0)^2 = 4.
    # Layer 2: per-example features differ but the batch means are equal (1, 1): 0.
    real = [tf.constant([1.0, 3.0])[:, None, None, None], tf.ones((2, 1, 1, 2))]
    fake = [tf.zeros((2, 1, 1, 1)), tf.constant([[0.0, 2.0], [2.0, 0.0]])[:, None, None, :]]
    assert float(losses.batch_feature_matching_loss(real, fake)) == pytest.approx(4.0)
    fake_var = tf.Variable(fake[0])
    with tf.GradientTape() as tape:
        loss = losses.batch_feature_matching_loss(real[:1], [fake_var])
    # d/df_i (mean_b f - 2)^2 = 2 (0 - 2) / 2 = -2 for each example.
    np.testing.assert_allclose(tape.gradient(loss, fake_var).numpy().ravel(), [-2.0, -2.0])


def test_weight_decay_is_the_coupled_l2_gradient():
    w = tf.Variable([[0.5, -2.0], [3.0, 0.0]])
    with tf.GradientTape() as tape:
        penalty = discogan.l2_penalty([w], 1e-5)
    np.testing.assert_allclose(tape.gradient(penalty, w).numpy(), 1e-5 * w.numpy(), rtol=1e-6)
    assert float(penalty) == pytest.approx(0.5 * 1e-5 * (0.25 + 4 + 9))


def tiny_config(**overrides):
    settings = dict(image_size=32, ngf=4, ndf=4, batch_size=4, lr=1e-3, gan_curriculum=0)
    return discogan.Config(**{**settings, **overrides})


def demo_dataset_fn(config, num_examples=16):
    """``epoch -> dataset`` of a small, fixed slice of the demo-unpaired training data."""
    def dataset_fn(epoch):
        return data.demo_unpaired(num_examples=num_examples, image_size=config.image_size,
                                  batch_size=config.batch_size, seed=epoch, deterministic=True)
    return dataset_fn


def test_curriculum_counts_official_iterations():
    trainer = discogan.Trainer(tiny_config(gan_curriculum=10, update_interval=3), steps_per_epoch=4)
    assert float(trainer.rate()) == pytest.approx(0.01)
    batch = next(iter(demo_dataset_fn(trainer.config)(0)))
    d_before = int(trainer.discriminator_optimizer.iterations)
    trainer.train_step(batch)  # 1 D update + 2 G updates = 3 official iterations
    assert int(trainer.iteration) == 3
    assert int(trainer.discriminator_optimizer.iterations) == d_before + 1
    assert int(trainer.generator_optimizer.iterations) == 2
    trainer.iteration.assign(9)
    assert float(trainer.rate()) == pytest.approx(0.01)
    trainer.iteration.assign(10)
    assert float(trainer.rate()) == pytest.approx(0.5)


@pytest.mark.slow
def test_reconstruction_loss_falls_on_demo_data():
    config = tiny_config(ngf=8, ndf=8, lr=2e-3)  # measured: last 8 steps at 0.63 of the first 8
    trainer = discogan.Trainer(config, steps_per_epoch=4)
    step = tf.function(trainer.train_step)
    dataset_fn = demo_dataset_fn(config)
    history = []
    for epoch in range(8):
        for batch in dataset_fn(epoch):
            out = step(batch)
            history.append(float(out["recon_a"] + out["recon_b"]))
    assert len(history) == 32
    assert np.mean(history[-8:]) < 0.75 * np.mean(history[:8]), history


