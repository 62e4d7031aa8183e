"""tf.distribute strategies and mixed precision: the distributed paths really run, on CPU.

The distributed checks run in fresh interpreters (``tests/distributed_checks.py``): logical
CPU devices and collective ops are fixed when TensorFlow initialises, which this process did
long ago. Tiny CycleGAN/pix2pix configs (32 px, 4 filters, instance norm, no dropout).

Why instance norm for the equality checks: instance norm normalises each example by its own
statistics, so splitting a batch of 2 over 2 replicas changes nothing. Batch norm normalises
by the statistics of the batch *each replica sees* (1 example here instead of 2; Keras
``BatchNormalization(synchronized=False)``, the default) and averages the moving statistics
over replicas, so its outputs, gradients and updates legitimately differ from one device;
``synchronized=True`` would all-reduce the moments to recover the single-device result.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import cyclegan, pix2pix, training
from tfgan_translate.training import distribute

CHECKS = Path(__file__).with_name("distributed_checks.py")
TOLERANCE = 1e-5


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _last_json(text):
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_step_equals_default_strategy(tmp_path):
    """One global batch of 2: default strategy vs MirroredStrategy over 2 logical CPUs.

    Two steps (the CycleGAN pool of one image stores and mixes from the first step), then all
    weights, optimizer slots and pool states, the generators' outputs and the reported losses
    agree within 1e-5; the reported losses also prove the cross-replica SUM (a MEAN would
    halve them). Biases that feed an instance norm are compared through the outputs only
    (``distributed_checks.absorbed_biases`` says why). Last, a run of 1 step on one device
    resumed to step 2 under MirroredStrategy equals the straight run; and a float16 overflow
    on one replica only makes every replica skip the update.
    """
    done = subprocess.run([sys.executable, str(CHECKS), "mirrored", str(tmp_path)], capture_output=True, text=True,
                          timeout=900, env=_env())
    assert done.returncode == 0, done.stderr[-3000:]
    report = _last_json(done.stdout)
    assert report["replicas"] == 2
    for family in ("cyclegan", "pix2pix"):
        item = report[family]
        assert item["compared"] > 40 and item["absorbed"] > 0, item
        assert item["weight_difference"] < TOLERANCE, (family, item)
        assert item["output_difference"] < TOLERANCE, (family, item)
        assert item["loss_difference"] < TOLERANCE, (family, item)
        assert item["replicas_agree"], family  # mirrored variables and per-replica pool copies
        assert item["samples"] == 1  # the chief's final grid, built from the distributed batch
    resume = report["resume"]
    assert resume["resumed_from"].endswith("ckpt-1")
    assert resume["weight_difference"] < TOLERANCE and resume["output_difference"] < TOLERANCE, resume
    # mixed_float16, one replica overflows: every replica skips the step and halves its scale.
    assert report["float16_overflow"] == {"finite": True, "scales": [0.5, 0.5], "updates": [0, 0]}


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_identically_and_only_the_chief_keeps_files(tmp_path):
    """Two MultiWorkerMirroredStrategy processes on 127.0.0.1 train a tiny CycleGAN (checkpoints at
    step 2 and at the end) until a SIGTERM to worker 1 alone after step 2: both stop after step 3
    (the stop is agreed in the step's call), with the same weights, which equal 3 steps of the
    same training on one device; the chief's checkpoints are in the run folder and the other
    worker's scratch copies are gone. A third process trains on one device meanwhile.
    The whole test is bounded: every process is killed after ``deadline`` seconds."""
    deadline = 600
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(subprocess.Popen(
            [sys.executable, str(CHECKS), "worker", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=_env(TF_CONFIG=json.dumps(tf_config))))
    processes.append(subprocess.Popen([sys.executable, str(CHECKS), "single", str(tmp_path)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=_env()))
    started, outputs = time.monotonic(), []
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1, deadline - (time.monotonic() - started)))
            assert process.returncode == 0, err[-3000:]
            outputs.append(_last_json(out))
    except subprocess.TimeoutExpired:
        pytest.fail(f"multi-worker training did not finish within {deadline} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    chief, other, _ = outputs
    assert chief["chief"] and not other["chief"]
    assert chief["step"] == other["step"] == 3 and chief["replicas"] == 2  # worker 1's SIGTERM, agreed
    assert chief["interrupted"] and other["interrupted"]
    assert chief["losses"] == other["losses"]
    run = tmp_path / "run"
    assert chief["checkpoint"] == str(run / "checkpoints" / "ckpt-3")
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == ["ckpt-2.index", "ckpt-3.index"]
    assert (run / "config.json").exists() and list((run / "samples").glob("*.png"))
    assert not list(run.glob(".*scratch")), list(run.iterdir())

    first, second = np.load(tmp_path / "weights_0.npz"), np.load(tmp_path / "weights_1.npz")
    assert first.files == second.files and len(first.files) > 40
    for key in first.files:  # every weight, absorbed biases included
        np.testing.assert_allclose(first[key], second[key], atol=1e-6, err_msg=key)
    distributed, single = np.load(tmp_path / "state_0.npz"), np.load(tmp_path / "state_single.npz")
    assert distributed.files == single.files
    # Two workers sum the gradients in another order than one device. On this tiny net (4 filters,
    # instance norm over 8x8 maps) that rounding grows: one device run with 1 or with 2 threads
    # differs as much (measured: losses by 1e-4 at step 3, Adam's moments by up to 6% in norm, and a
    # weight whose gradient is near 0, which Adam divides by its root mean square, by up to one
    # learning rate). Another example's rows in a batch would change the losses from step 1 on and
    # move most weights, so: the last losses close, almost every weight close, the rest by norm.
    single_losses = outputs[2]["losses"]
    assert chief["losses"].keys() == single_losses.keys()
    for name, value in chief["losses"].items():
        assert value == pytest.approx(single_losses[name], rel=1e-3), name
    for key in distributed.files:
        a, b = distributed[key], single[key]
        if key.startswith(("generator_a", "generator_b", "discriminator_a", "discriminator_b")):
            off = np.abs(a - b) > 5 * TOLERANCE + 2e-4 * np.abs(b)
            assert off.mean() <= 0.02 and np.abs(a - b).max() <= 4e-4, (
                f"{key}: {off.sum()} of {off.size} weights differ, by up to {np.abs(a - b).max():.3g}")
        else:  # optimizer moments, the image pool, the outputs
            relative = np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-12)
            assert relative <= 0.15, f"{key} differs by {relative:.3g} of its norm"


# ---- in-process: the helpers, precision, errors ---------------------------------------------


@pytest.fixture
def policy():
    """Restore the global dtype policy after a test that changes it."""
    before = keras.mixed_precision.global_policy().name
    yield distribute.set_precision
    keras.mixed_precision.set_global_policy(before)


def _batch(size=32, n=2):
    a = tf.random.stateless_uniform((n, size, size, 3), (1, 2), -1, 1)
    return {"a": a, "b": tf.reverse(a, [-1])}


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_step_gives_float32_outputs_and_finite_losses(policy, precision):
    policy(precision)
    trainer = distribute.build_trainer(
        cyclegan.Trainer, cyclegan.Config(image_size=32, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=1), 1)
    assert trainer.generator_ab.compute_dtype == precision.split("_")[1]
    assert {v.dtype for m in trainer.models.values() for v in m.variables} == {"float32"}  # checkpoints stay float32
    assert isinstance(trainer.generator_optimizer, keras.optimizers.LossScaleOptimizer) == (precision == "mixed_float16")
    before = [v.numpy() for v in trainer.generator_ab.trainable_variables]
    step, optimizer = distribute.step_function(trainer.train_step), trainer.generator_optimizer
    # float16: the GAN gradients (up to ~6 here) overflow at Keras's initial loss scale 2**15, so
    # the first steps are skipped while the scale halves; bfloat16 (float32's range) updates at once.
    for attempt in range(1, 13):
        losses, images = step(_batch())
        assert int(images) == 2
        assert all(v.dtype == tf.float32 and np.isfinite(v.numpy()) for v in losses.values()), losses
        if int(optimizer.iterations):
            break
    after = [v.numpy() for v in trainer.generator_ab.trainable_variables]
    if precision == "mixed_bfloat16":
        assert attempt == 1
    else:
        assert float(optimizer.dynamic_scale) == 2.0**15 / 2 ** (attempt - 1)  # halved once per skipped step
    assert any(not np.array_equal(x, y) for x, y in zip(before, after))  # the (unscaled) update was applied
    samples = trainer.sample(_batch())
    assert all(v.dtype == tf.float32 for v in samples.values())
    assert trainer.discriminator_a(samples["a_to_b"]).dtype == tf.float32


def test_float16_loss_scale_seeds_the_gradient_and_unscales_it(policy):
    """apply_gradients under mixed_float16: a gradient that underflows in float16 (2e-8) survives
    through the loss scale and is unscaled before the update; without the wrapper it is lost."""
    policy("mixed_float16")
    c = float(np.float16(1e-4))

    def update(optimizer):
        w = keras.Variable(np.ones(3, np.float32))
        optimizer.build([w])
        with tf.GradientTape() as tape:
            x = tf.cast(w, tf.float16) * tf.constant(c, tf.float16)
            loss = tf.cast(tf.reduce_sum(x * x), tf.float32)  # d loss / dw = 2 c^2 = 2e-8 < fp16's smallest
        training.apply_gradients(optimizer, tape, loss, [w])
        return 1.0 - w.numpy()

    scaled = training.for_precision(keras.optimizers.SGD(learning_rate=1e4))
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    np.testing.assert_allclose(update(scaled), 1e4 * 2 * c * c, rtol=5e-3)
    assert float(scaled.dynamic_scale) == 32768.0  # finite gradients: the scale is kept
    np.testing.assert_array_equal(update(keras.optimizers.SGD(learning_rate=1e4)), 0.0)  # underflow without it


@pytest.mark.slow
def test_resume_under_another_precision(tmp_path, policy):
    """float32 checkpoint -> mixed_float16 run (and back): the loss-scale wrapper is not part
    of the checkpoint, so the optimizers' state carries over under either precision."""
    a = _batch(n=4)
    dataset_fn = lambda epoch: tf.data.Dataset.from_tensor_slices(a).batch(2)  # noqa: E731
    config = pix2pix.Config(image_size=32, ngf=4, ndf=4, batch_size=2, norm="instance")
    results, updates = [], []
    for steps, precision in [(1, "float32"), (2, "mixed_float16"), (3, "float32")]:
        policy(precision)
        trainer = distribute.build_trainer(pix2pix.Trainer, config, 2)
        results.append(training.fit(trainer, dataset_fn, tmp_path, steps_per_epoch=2, total_steps=steps,
                                    sample_every=0, checkpoint_every=0, progress=False))
        updates.append(int(getattr(trainer.generator_optimizer, "inner_optimizer", trainer.generator_optimizer).iterations))
    assert [r.step for r in results] == [1, 2, 3]
    # Adam's update count carries over (a float16 step may be skipped by the loss scale: 1 or 2).
    assert updates[0] == 1 and updates[1] in (1, 2) and updates[2] == updates[1] + 1, updates
    assert results[2].resumed_from.endswith("ckpt-2")
    keys = [name for name, _ in tf.train.list_variables(results[1].checkpoint)]
    assert not [k for k in keys if "inner_optimizer" in k or "dynamic_scale" in k]


def test_virtual_cpus_after_initialisation_is_a_clear_error():
    tf.constant(1.0) + 1  # TensorFlow has initialised its devices now
    have = len(tf.config.list_logical_devices("CPU"))
    with pytest.raises(RuntimeError, match="already initialised"):
        distribute.configure_virtual_cpus(have + 1)
    assert len(distribute.configure_virtual_cpus(have)) == have  # asking for what exists is fine


def test_strategy_names_and_tf_config_errors(monkeypatch):
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.make_strategy("horovod")
    with pytest.raises(ValueError, match="precision must be one of"):
        distribute.set_precision("float8")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the TF_CONFIG"):
        distribute.make_strategy("multiworker")
    assert distribute.task() == (None, 0)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        distribute.tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}))
    with pytest.raises(ValueError, match="not in its cluster"):
        distribute.tf_config()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}))
    assert distribute.task() == ("worker", 1)


def test_default_strategy_helpers():
    strategy = distribute.make_strategy("default")
    assert distribute.is_chief(strategy) and strategy.num_replicas_in_sync == 1
    assert distribute.make_strategy("auto").num_replicas_in_sync == 1  # no TF_CONFIG, no GPUs here
    distribute.check_global_batch(3, strategy)
    dataset = tf.data.Dataset.range(4).batch(2)
    assert distribute.distribute_dataset(strategy, dataset) is dataset


def test_cli_flags_are_validated(capsys):
    from tfgan_translate import cli

    with pytest.raises(SystemExit):
        cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--strategy", "horovod"])
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--virtual-cpus", "0"]) == 2
    assert "--virtual-cpus must be >= 1" in capsys.readouterr().err
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--steps-per-call", "0"]) == 2
    assert "--steps-per-call must be >= 1" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains_mirrored_on_virtual_cpus_in_bfloat16(tmp_path):
    """The user's path: ``train --strategy mirrored --virtual-cpus 2 --precision mixed_bfloat16``,
    both steps in one call of the compiled function."""
    command = [sys.executable, "-m", "tfgan_translate", "train", "pix2pix", "--dataset", "demo-paired",
               "--run-dir", str(tmp_path / "run"), "--image-size", "32", "--ngf", "4", "--ndf", "4", "--batch-size", "2",
               "--norm", "instance", "--steps", "2", "--no-progress", "--strategy", "mirrored", "--virtual-cpus", "2",
               "--precision", "mixed_bfloat16", "--steps-per-call", "2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=_env(),
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replica(s), mixed_bfloat16" in done.stdout
    assert "step 2:" in done.stdout and (tmp_path / "run" / "checkpoints" / "ckpt-2.index").exists()


@pytest.mark.parametrize("gpus,cpu_bf16,tpu,expected", [
    ([(8, 0), (9, 0)], False, False, "mixed_bfloat16"),  # A100 + H100: bf16 tensor cores
    ([(7, 5)], True, False, "mixed_float16"),  # T4: float16 only, whatever the host CPU has
    ([(8, 6), (7, 0)], False, False, "mixed_float16"),  # every GPU must qualify
    ([(6, 1)], True, False, "float32"),  # Pascal: no tensor cores
    ([], True, False, "mixed_bfloat16"),  # AVX512_BF16/AMX CPU
    ([], False, False, "float32"),  # bf16 would be emulated
    ([], False, True, "mixed_bfloat16"),
])
def test_auto_precision_picks_what_the_devices_compute_fast(gpus, cpu_bf16, tpu, expected):
    policy, reason = distribute.auto_precision(gpu_capabilities=gpus, cpu_bf16=cpu_bf16, tpu=tpu)
    assert policy == expected and reason


def test_the_cpu_flags_decide_bf16_units(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu avx512f amx_bf16 amx_tile\n")
    assert distribute.cpu_has_bf16_units(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu avx2 avx512f\n")
    assert not distribute.cpu_has_bf16_units(cpuinfo)
    assert not distribute.cpu_has_bf16_units(tmp_path / "missing")
