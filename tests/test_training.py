"""Trainers and the loop: losses fall, resume is exact, NaN and conflicts stop cleanly."""

import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf

from grid_checks import assert_grid_shape
from tfgan_translate import cyclegan, pix2pix, training
from tfgan_translate.training.checkpoints import RunCheckpoint

SIZE = 32


def paired_arrays(n=8, seed=0):
    """A learnable paired task: b is a fixed colour transform of a smooth random image a."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(-1, 1, (n, SIZE // 8, SIZE // 8, 3)).astype(np.float32)
    a = tf.image.resize(low, (SIZE, SIZE)).numpy()
    b = np.tanh(a[..., ::-1] * 1.5).astype(np.float32)
    return a, b


def dataset_fn_for(a, b, batch_size):
    def dataset_fn(epoch):
        ds = tf.data.Dataset.from_tensor_slices({"a": a, "b": b})
        return ds.shuffle(len(a), seed=1000 + epoch).batch(batch_size, drop_remainder=True)

    return dataset_fn


def tiny(family, **overrides):
    if family == "pix2pix":
        return pix2pix.Trainer, pix2pix.Config(image_size=SIZE, ngf=8, ndf=8, batch_size=2, **overrides)
    return cyclegan.Trainer, cyclegan.Config(
        image_size=SIZE, ngf=8, ndf=8, n_blocks=2, pool_size=3, batch_size=2, **overrides
    )


def run(family, run_dir, total_steps, a, b, config_overrides=None, **fit_options):
    trainer_class, config = tiny(family, **(config_overrides or {}))
    trainer = trainer_class(config, steps_per_epoch=len(a) // config.batch_size)
    result = training.fit(
        trainer, dataset_fn_for(a, b, config.batch_size), run_dir, steps_per_epoch=len(a) // config.batch_size,
        total_steps=total_steps, **{"progress": False, "sample_every": 0, "checkpoint_every": 0, **fit_options},
    )
    return trainer, result


@pytest.mark.slow
@pytest.mark.parametrize("family,loss_key", [("pix2pix", "g_l1"), ("cyclegan", "cycle_a")])
def test_reconstruction_loss_falls(tmp_path, family, loss_key):
    a, b = paired_arrays()
    trainer_class, config = tiny(family, lr=1e-3)
    trainer = trainer_class(config, steps_per_epoch=4)
    step = tf.function(trainer.train_step)
    ds = dataset_fn_for(a, b, 2)
    history = [float(step(batch)[loss_key]) for epoch in range(8) for batch in ds(epoch)]
    # CycleGAN's ratio is 0.77-0.82 over image-pool random streams (measured with 5 seeds each of
    # the old and the per-replica pool), so 0.8 passed or failed by the draw of the pool's seed.
    assert np.mean(history[-4:]) < 0.85 * np.mean(history[:4]), history


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan"])
def test_the_train_step_is_traced_once_across_epochs_and_partial_epochs(tmp_path, family):
    """Tracing a paper-size step takes seconds; a retrace per epoch (a new dataset, a shorter
    last epoch, sample grids in between) would pay it again and again."""
    a, b = paired_arrays()
    _, result = run(family, tmp_path, 10, a, b, sample_every=3)  # 4 steps per epoch: 4 + 4 + 2
    assert result.step == 10
    assert result.step_tracings == 1


def test_nan_stops_the_run_and_keeps_a_loadable_checkpoint(tmp_path):
    a, b = paired_arrays()
    b_bad = b.copy()
    trainer_class, config = tiny("pix2pix")
    trainer = trainer_class(config, steps_per_epoch=4)

    def dataset_fn(epoch):
        # epoch 0 is clean; in epoch 1 every target is NaN
        return dataset_fn_for(a, b if epoch == 0 else b_bad * np.nan, 2)(epoch)

    with pytest.raises(training.NonFiniteLossError, match=r"became nan at step 5.*ckpt-4"):
        training.fit(trainer, dataset_fn, tmp_path, steps_per_epoch=4, total_steps=8,
                     progress=False, sample_every=0, checkpoint_every=4)
    fresh_class, fresh_config = tiny("pix2pix")
    fresh = fresh_class(fresh_config, steps_per_epoch=4)
    path = RunCheckpoint(fresh.checkpoint_items(), tmp_path).restore_latest()
    assert path.endswith("ckpt-4")
    assert all(np.all(np.isfinite(w.numpy())) for w in fresh.generator.weights)


def test_several_steps_per_call_train_exactly_as_one_step_per_call(tmp_path):
    """K steps in one compiled call: the same batches, weights, pools, losses and checkpoints as
    one call per step (calls end at every interval's step), and one trace for calls of any length."""
    a, b = paired_arrays()
    runs = {}
    for k in (1, 3):
        runs[k] = run("cyclegan", tmp_path / f"k{k}", 10, a, b, steps_per_call=k, checkpoint_every=5, log_every=2,
                      sample_every=4)
    (one, one_result), (three, three_result) = runs[1], runs[3]
    assert one_result.step == three_result.step == 10
    assert three_result.losses == one_result.losses
    for mine, theirs in zip(three.generator_ab.weights + three.discriminator_b.weights,
                            one.generator_ab.weights + one.discriminator_b.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    np.testing.assert_array_equal(three.pool_b.images.numpy(), one.pool_b.images.numpy())
    for k in (1, 3):
        assert sorted(p.name for p in (tmp_path / f"k{k}" / "checkpoints").glob("ckpt-*.index")) == [
            "ckpt-10.index", "ckpt-5.index"]
        assert sorted(p.name for p in (tmp_path / f"k{k}" / "samples").glob("*.png")) == [
            "step_0000004.png", "step_0000008.png", "step_0000010.png"]
    assert three_result.step_tracings == 1


def test_a_nan_inside_a_call_of_several_steps_stops_at_its_step(tmp_path):
    a, b = paired_arrays()
    trainer_class, config = tiny("pix2pix")
    trainer = trainer_class(config, steps_per_epoch=4)

    def dataset_fn(epoch):
        return dataset_fn_for(a, b if epoch == 0 else b * np.nan, 2)(epoch)

    with pytest.raises(training.NonFiniteLossError, match=r"became nan at step 5.*The folder has no checkpoint"):
        training.fit(trainer, dataset_fn, tmp_path, steps_per_epoch=4, total_steps=8, progress=False,
                     sample_every=0, checkpoint_every=0, log_every=0, steps_per_call=4)
    assert int(trainer.generator_optimizer.iterations.numpy()) == 5  # no step ran after the bad one
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").glob("ckpt-*"))


def test_an_xla_compiled_step_trains(tmp_path):
    """``fit(jit_compile=True)`` (``train --jit-compile``) compiles the step with XLA, traces it once
    and trains: finite losses near the plain step's (XLA's fusions round differently, and a GAN
    moves that apart within steps, so this is no equality)."""
    a, b = paired_arrays(n=4)
    _, plain = run("pix2pix", tmp_path / "plain", 2, a, b)
    _, xla = run("pix2pix", tmp_path / "xla", 2, a, b, jit_compile=True)
    assert xla.step == 2 and xla.step_tracings == 1
    assert set(xla.losses) == set(plain.losses)
    for name, value in plain.losses.items():
        assert np.isfinite(xla.losses[name]) and xla.losses[name] == pytest.approx(value, rel=0.1, abs=0.05), name


def test_an_epoch_shorter_than_its_steps_per_epoch_is_a_clear_error(tmp_path):
    a, b = paired_arrays()
    trainer_class, config = tiny("pix2pix")
    trainer = trainer_class(config, steps_per_epoch=5)
    with pytest.raises(training.ShortEpochError, match=r"epoch 0 has fewer batches than the run's 5 steps per epoch: it ran out by batch 5"):
        training.fit(trainer, dataset_fn_for(a, b, 2), tmp_path, steps_per_epoch=5, total_steps=10, progress=False,
                     sample_every=0, checkpoint_every=0)


def test_a_run_folder_of_another_configuration_is_refused(tmp_path):
    a, b = paired_arrays(n=4)
    run("pix2pix", tmp_path, 1, a, b)
    saved = (tmp_path / "config.json").read_text()
    trainer = pix2pix.Trainer(pix2pix.Config(image_size=SIZE, ngf=16, ndf=8, batch_size=2))
    with pytest.raises(training.RunConflictError, match=r"ngf: 8 -> 16.*Nothing was changed"):
        training.fit(trainer, dataset_fn_for(a, b, 2), tmp_path, steps_per_epoch=2, total_steps=2, progress=False)
    assert (tmp_path / "config.json").read_text() == saved
    assert json.loads(saved)["family"] == "pix2pix"


def test_sigterm_saves_a_checkpoint_and_stops(tmp_path):
    a, b = paired_arrays()
    trainer_class, config = tiny("pix2pix")
    trainer = trainer_class(config, steps_per_epoch=4)
    base = dataset_fn_for(a, b, 2)

    def dataset_fn(epoch):
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # arrives while the loop is running
        return base(epoch)

    result = training.fit(trainer, dataset_fn, tmp_path, steps_per_epoch=4, total_steps=100,
                          progress=False, sample_every=0, checkpoint_every=0)
    assert result.interrupted and result.step == 5
    assert result.checkpoint.endswith("ckpt-5")


def test_samples_and_logs_are_written(tmp_path):
    a, b = paired_arrays(n=4)
    _, result = run("cyclegan", tmp_path, 2, a, b)
    grids = sorted((tmp_path / "samples").glob("*.png"))
    assert [g.name for g in grids] == ["step_0000002.png"]
    # six columns (a, G(a), F(G(a)), b, F(b), G(F(b))), one row per example, SIZE px tiles enlarged to 128
    assert_grid_shape(grids[0], 6, 2, tile=128)
    assert list((tmp_path / "logs").glob("events.*"))


@pytest.mark.parametrize("policy,epochs,expected", [
    # past the schedule's end the rate stays 0 (it once went negative: training then ascended and blew up)
    ("linear", [0, 98, 99, 100, 150, 199, 200, 260], [1, 1, 1, 1 - 1 / 101, 1 - 51 / 101, 1 - 100 / 101, 0, 0]),
    ("step", [0, 49, 50, 120], [1, 1, 0.1, 0.01]),
    ("cosine", [0, 100, 200, 260], [1, 0.5, 0, 0]),
    ("constant", [0, 500], [1, 1]),
])
def test_learning_rate_policies(policy, epochs, expected):
    schedule = training.EpochSchedule(2e-4, steps_per_epoch=10, n_epochs=100, n_epochs_decay=100, policy=policy)
    got = [float(schedule(epoch * 10 + 9)) for epoch in epochs]  # last step of each epoch
    np.testing.assert_allclose(got, np.array(expected) * 2e-4, rtol=1e-5, atol=1e-12)


def test_image_pool_fills_then_mixes_old_and_new():
    pool = training.ImagePool(2, (1, 1, 1), seed=3)
    first = pool.query(tf.constant([[[[1.0]]], [[[2.0]]]]))
    np.testing.assert_array_equal(first.numpy().ravel(), [1.0, 2.0])  # filling: returned as given
    outputs = np.concatenate([pool.query(tf.constant([[[[v]]]])).numpy().ravel() for v in range(10, 60)])
    new = outputs == np.arange(10, 60)
    assert 10 < new.sum() < 40  # about half new, half from the history
    assert set(outputs[~new]) <= set(range(10, 60)) | {1.0, 2.0}
    assert int(pool.count) == 2


def test_image_pool_in_a_graph_without_autograph_matches_eager():
    """The pool's rule must not depend on AutoGraph converting it (a notebook kernel once ran
    it unconverted inside the train step, and a Python loop over a tensor failed there)."""
    eager, graph = training.ImagePool(3, (1, 1, 1), seed=5), training.ImagePool(3, (1, 1, 1), seed=5)
    query = tf.function(graph.query, autograph=False)
    for start in range(0, 40, 4):
        batch = tf.reshape(tf.range(start, start + 4, dtype=tf.float32), (4, 1, 1, 1))
        np.testing.assert_array_equal(query(batch).numpy(), eager.query(batch).numpy())
    np.testing.assert_array_equal(graph.images.numpy(), eager.images.numpy())
    assert int(graph.count) == int(eager.count) == 3


XLA_POOL = """
import numpy as np
import tensorflow as tf
from tfgan_translate import training
eager, compiled = training.ImagePool(3, (2, 2, 1), seed=7), training.ImagePool(3, (2, 2, 1), seed=7)
query = tf.function(compiled.query, jit_compile=True)
seen, new = set(), 0
for start in range(0, 24, 2):
    batch = tf.reshape(tf.range(start * 4, (start + 2) * 4, dtype=tf.float32), (2, 2, 2, 1))
    out = query(batch).numpy()
    if start < 2:  # filling (no coins yet): as eager
        np.testing.assert_array_equal(out, eager.query(batch).numpy())
    for given, got in zip(batch.numpy(), out):
        assert (got == given).all() or float(got.flat[0]) in seen, (start, got.ravel())
        new += int((got == given).all())
        seen.add(float(given.flat[0]))
assert int(compiled.count) == 3 and 6 <= new <= 22, new
print("rule holds")
"""


def test_image_pool_under_xla_keeps_its_rule_and_compiles_once():
    """``--jit-compile``: XLA takes a slice's start as a compile-time constant, so a pool indexed
    by ``x[slot]`` made XLA compile the whole train step again at every step (15 s a step on this
    CPU). Counted from XLA's own log of its compilations, in a process of its own. (XLA's
    stateless random numbers are not the plain kernels', so the coins differ from eager's.)"""
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0", "TF_CPP_VMODULE": "device_compiler=1"}
    done = subprocess.run([sys.executable, "-c", XLA_POOL], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "rule holds" in done.stdout, done.stderr[-3000:]
    compilations = done.stderr.count("Compilation of XLA executable")
    assert compilations == 1, f"12 queries compiled {compilations} times"


def test_zero_sized_pool_is_a_pass_through():
    pool = training.ImagePool(0, (2, 2, 3))
    x = tf.random.normal((3, 2, 2, 3))
    np.testing.assert_array_equal(pool.query(x).numpy(), x.numpy())


def test_configs_refuse_bad_values_with_their_names():
    with pytest.raises(ValueError, match="multiple of 256"):
        pix2pix.Config(image_size=128, num_downs=8)
    with pytest.raises(ValueError, match="gan_loss must be one of vanilla"):
        cyclegan.Config(gan_loss="bce")
    with pytest.raises(ValueError, match="lambda_identity"):
        cyclegan.Config(input_channels=1, output_channels=3)
    assert pix2pix.Config().unet_depth == 8 and pix2pix.Config(image_size=128).unet_depth == 7
    assert pix2pix.Config().num_downs is None  # derived, not stored: a run folder keeps None
