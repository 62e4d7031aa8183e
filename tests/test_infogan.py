"""InfoGAN: the information losses by hand, networks, sampling and traversal, the Q loss
falling, resume and the CLI."""

import math

import numpy as np
import pytest
import tensorflow as tf

from grid_checks import assert_grid_shape
from tfgan_translate import cli, digit_quality, infogan, runs, training

TINY = dict(hidden=32, q_hidden=16, ngf=4, ndf=4, batch_size=16, noise_dim=8)


def test_categorical_code_loss_by_hand():
    codes = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    logits = tf.constant([[0.0, 0.0], [math.log(3.0), 0.0], [math.log(3.0), 0.0]])
    # softmax rows: (1/2, 1/2), (3/4, 1/4), (3/4, 1/4) -> -log of the coded entry
    expected = [math.log(2.0), -math.log(0.25), -math.log(0.75)]
    np.testing.assert_allclose(infogan.categorical_code_loss(codes, logits).numpy(), expected, rtol=1e-6)


def test_gaussian_code_loss_by_hand():
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    codes = tf.constant([[1.0, 0.0], [0.5, -0.5]])
    mean = tf.constant([[0.0, 0.0], [0.5, 0.5]])
    # unit std: sum_i 0.5 log 2pi + (c_i - mu_i)^2 / 2
    fixed = [2 * half_log_2pi + 0.5, 2 * half_log_2pi + 0.5]
    np.testing.assert_allclose(infogan.gaussian_code_loss(codes, mean).numpy(), fixed, rtol=1e-6)
    # std 2 everywhere: + log 2 per code, squared error divided by 4
    log_std = tf.fill([2, 2], math.log(2.0))
    learned = [2 * half_log_2pi + 2 * math.log(2.0) + 0.5 / 4, 2 * half_log_2pi + 2 * math.log(2.0) + 0.5 / 4]
    np.testing.assert_allclose(infogan.gaussian_code_loss(codes, mean, log_std).numpy(), learned, rtol=1e-6)


def test_paper_networks_parameter_counts():
    """The paper's MNIST networks (z 62 + 10 + 2 = 74 inputs, 1024 hidden, 7x7x128 map), all weights:
    G: dense 74*1024+1024 = 76,800; BN 4*1024 = 4,096; dense 1024*6272+6272 = 6,428,800;
       BN 4*6272 = 25,088; ConvT4 128->64 (no bias) 16*128*64 = 131,072; BN 256;
       ConvT4 64->1 16*64+1 = 1,025  -> 6,667,137.
    D+Q: Conv4 1->64 16*64+64 = 1,088; Conv4 64->128 (no bias) 131,072; BN 512;
       dense 6272*1024+1024 = 6,423,552; BN 4,096; D logit 1,025;
       Q dense 1024*128+128 = 131,200; BN 512; categorical 128*10+10 = 1,290;
       continuous means 128*2+2 = 258  -> 6,694,605."""
    models = infogan.build_models(infogan.Config())
    assert models["generator"].count_params() == 6_667_137
    assert models["discriminator"].count_params() == 6_694_605


def test_discriminator_outputs_and_generator_inputs():
    models = infogan.build_models(infogan.Config(learn_std=True, **TINY))
    g, d = models["generator"], models["discriminator"]
    assert [t.name for t in g.inputs] == ["noise", "categorical_code", "continuous_code"]
    trainer = infogan.Trainer(infogan.Config(**TINY), models=models)
    latents = trainer.draw_latents(5, tf.constant(0, tf.int64))
    assert [tuple(x.shape) for x in latents] == [(5, 8), (5, 10), (5, 2)]
    assert float(tf.reduce_min(latents[2])) >= -1.0 and float(tf.reduce_max(latents[2])) <= 1.0
    images = g(latents, training=False)
    assert images.shape == (5, 28, 28, 1)
    out = d(images, training=False)
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "logits": (5, 1), "categorical_logits": (5, 10), "continuous_mean": (5, 2), "continuous_log_std": (5, 2)}
    assert "continuous_log_std" not in infogan.build_models(infogan.Config(**TINY))["discriminator"](images)


def test_latents_change_with_the_step_and_repeat_for_the_same_step():
    trainer = infogan.Trainer(infogan.Config(**TINY))
    a = trainer.draw_latents(4, tf.constant(3, tf.int64))
    b = trainer.draw_latents(4, tf.constant(3, tf.int64))
    c = trainer.draw_latents(4, tf.constant(4, tf.int64))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert not np.array_equal(a[0].numpy(), c[0].numpy())


def test_sample_and_traversal():
    trainer = infogan.Trainer(infogan.Config(**TINY))
    g = trainer.generator
    x = infogan.sample(g, [0, 3], [[0.5, -0.5], [0.0, 1.0]], seed=2).numpy()
    assert x.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(x, trainer.sample_codes([0, 3], [[0.5, -0.5], [0.0, 1.0]], seed=2).numpy())
    with pytest.raises(ValueError, match=r"categorical codes must be in 0\.\.9"):
        infogan.sample(g, [12])
    grid = infogan.traversal(g, code=1, values=(-2.0, 0.0, 2.0), seed=5)
    assert list(grid) == ["c1=-2.00", "c1=+0.00", "c1=+2.00"]
    # row k of column "c1=+2.00" is category k with c = (0, 2) and the grid's one noise vector
    noise = np.repeat(infogan.fixed_noise(1, 8, 5), 10, axis=0)
    expected = infogan.sample(g, np.arange(10), np.tile([[0.0, 2.0]], (10, 1)), noise=noise)
    np.testing.assert_allclose(grid["c1=+2.00"].numpy(), expected.numpy(), atol=1e-6)
    assert not np.allclose(grid["c1=-2.00"].numpy(), grid["c1=+2.00"].numpy())
    with pytest.raises(ValueError, match="continuous code"):
        infogan.traversal(g, code=2)
    columns = trainer.sample(None)
    assert len(columns) == len(infogan.TRAVERSAL) and all(v.shape == (10, 28, 28, 1) for v in columns.values())


def test_best_mapping_accuracy():
    codes = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    classes = np.array([7, 7, 1, 1, 1, 3, 7, 3])  # 0 -> 7, 1 -> 1, 2 -> 3 agree on 2 + 2 + 2
    score, mapping = digit_quality.best_mapping_accuracy(codes, classes, 3, 10)
    assert score == pytest.approx(6 / 8) and mapping == {0: 7, 1: 1, 2: 3}
    # a one-to-one map: two codes cannot both claim class 7
    score, mapping = digit_quality.best_mapping_accuracy(np.array([0, 0, 1, 1, 1]), np.array([7, 7, 7, 7, 7]), 2, 10)
    assert score == pytest.approx(3 / 5) and mapping[1] == 7 and mapping[0] != 7


def _fit(run_dir, steps, config):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("infogan", "digits", config)
    trainer = infogan.Trainer(config, steps_per_epoch=steps_per_epoch)
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          progress=False, sample_every=0, checkpoint_every=0)
    return trainer, result


@pytest.mark.slow
def test_q_loss_falls():
    """The categorical information loss starts near log 10 = 2.30 (Q guesses) and falls
    as G makes its codes visible and Q learns to read them."""
    config = infogan.Config(**{**TINY, "batch_size": 32, "lr": 1e-3})  # tiny nets: D/Q at G's rate
    trainer = infogan.Trainer(config, steps_per_epoch=1)
    step = tf.function(trainer.train_step)
    dataset_fn, _ = runs.training_dataset_fn("infogan", "digits", config)
    history = [float(step(batch)["q_cat"]) for epoch in range(4) for batch in dataset_fn(epoch)]
    assert np.mean(history[:10]) > 2.0
    assert np.mean(history[-20:]) < 0.6 * np.mean(history[:10]), history[::10]


@pytest.mark.slow
def test_cli_writes_the_traversal_grid_and_refuses_translate(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert cli.main(["train", "infogan", "--dataset", "digits", "--run-dir", str(run_dir), "--batch-size", "16",
                     "--ngf", "4", "--ndf", "4", "--set", "hidden=16", "--set", "q_hidden=8",
                     "--steps", "2", "--no-progress"]) == 0
    # columns: c0 from -2 to 2; rows: categories
    assert_grid_shape(run_dir / "samples" / "step_0000002.png", len(infogan.TRAVERSAL), 10, tile=5 * 28, row_titles=True)
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(run_dir / "samples"),
                     "--output", str(tmp_path / "out")]) == 2
    assert "generate images from noise and codes" in capsys.readouterr().err
