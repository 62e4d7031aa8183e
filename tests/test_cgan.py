"""CGAN: networks, the digits data, sampling chosen classes, training, resume and the CLI."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from grid_checks import assert_grid_shape
from tfgan_translate import cgan, cli, digit_quality, runs, training
from tfgan_translate.data import digits

TINY = dict(hidden=16, ngf=4, ndf=4, batch_size=16, noise_dim=8)


def test_mlp_networks_have_the_chapters_parameter_counts():
    """The chapter's networks at 28 px, z of 100, 10 classes, 128 hidden units:
    G: dense (100 + 10) * 128 + 128 = 14,208; dense 128 * 784 + 784 = 101,136 -> 115,344.
    D: dense (784 + 10) * 128 + 128 = 101,760; logit 128 + 1 = 129 -> 101,889."""
    models = cgan.build_models(cgan.Config())
    assert models["generator"].count_params() == 115_344
    assert models["discriminator"].count_params() == 101_889
    assert [t.name for t in models["generator"].inputs] == ["noise", "class_one_hot"]


@pytest.mark.parametrize("architecture,size", [("mlp", 28), ("conv", 28), ("conv", 32), ("mlp", 20)])
def test_output_shapes(architecture, size):
    config = cgan.Config(architecture=architecture, image_size=size, **TINY)
    models = cgan.build_models(config)
    z, y = tf.random.normal((3, 8)), tf.one_hot([0, 4, 9], 10)
    images = models["generator"]([z, y], training=False)
    assert images.shape == (3, size, size, 1)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    assert models["discriminator"]([images, y], training=False).shape == (3, 1)


def test_conv_sizes_must_be_multiples_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        cgan.Config(architecture="conv", image_size=30)
    with pytest.raises(ValueError, match="architecture must be one of"):
        cgan.Config(architecture="resnet")


def test_projection_discriminator_adds_the_class_embedding_dotted_with_the_features():
    """logit(x, y) - logit(x, y') = <E y - E y', phi(x)>: check it against the layers' own weights."""
    d = cgan.build_models(cgan.Config(architecture="conv", **TINY))["discriminator"]
    x = tf.random.uniform((2, 28, 28, 1), -1, 1)
    phi = keras.Model(d.inputs, d.get_layer("dense1_lrelu").output)(
        [x, tf.zeros((2, 10))], training=False).numpy()
    embedding = d.get_layer("class_embedding").kernel.numpy()  # (10, hidden)
    y3, y5 = tf.one_hot([3, 3], 10), tf.one_hot([5, 5], 10)
    difference = d([x, y3], training=False).numpy() - d([x, y5], training=False).numpy()
    np.testing.assert_allclose(difference[:, 0], phi @ (embedding[3] - embedding[5]), rtol=1e-4, atol=1e-5)


def test_sample_draws_the_asked_classes_repeatably():
    trainer = cgan.Trainer(cgan.Config(**TINY))
    first = cgan.sample(trainer.generator, [1, 7, 7], seed=3).numpy()
    assert first.shape == (3, 28, 28, 1)
    np.testing.assert_array_equal(first, trainer.sample_classes([1, 7, 7], seed=3).numpy())
    assert not np.allclose(first, cgan.sample(trainer.generator, [1, 7, 7], seed=4).numpy())
    # same noise, another class: another image (the class is an input)
    noise = np.ones((1, 8), np.float32)
    a = cgan.sample(trainer.generator, [1], noise=noise).numpy()
    assert not np.allclose(a, cgan.sample(trainer.generator, [2], noise=noise).numpy())
    with pytest.raises(ValueError, match=r"class_ids must be in 0\.\.9"):
        cgan.sample(trainer.generator, [10])


def test_sample_grid_has_one_row_per_class(tmp_path):
    trainer = cgan.Trainer(cgan.Config(**TINY))
    columns = trainer.sample(None)
    assert len(columns) == cgan.GRID_COLUMNS and all(c.shape == (10, 28, 28, 1) for c in columns.values())
    # row k of every column is class k: equal to sampling class k with that column's noise
    noise = np.repeat(cgan.fixed_noise(cgan.GRID_COLUMNS, 8, trainer.config.seed + 1)[2:3], 10, 0)
    np.testing.assert_allclose(columns["z2"].numpy(), cgan.sample(trainer.generator, range(10), noise=noise).numpy())
    path = training.save_grid(columns, tmp_path / "grid.png", row_titles=[f"class {k}" for k in range(10)])
    assert_grid_shape(path, cgan.GRID_COLUMNS, 10, tile=5 * 28, row_titles=True)  # 28 px enlarged 5x


# -- data ----------------------------------------------------------------------------------

def test_offline_digits_are_scaled_split_and_resized():
    train_x, train_y = digits.digits_arrays("train", 28)
    test_x, test_y = digits.digits_arrays("test", 28)
    assert train_x.shape == (1437, 28, 28, 1) and test_x.shape == (360, 28, 28, 1)
    assert train_x.min() == -1.0 and train_x.max() <= 1.0 and train_x.max() > 0.9
    assert set(np.unique(train_y)) == set(range(10)) and train_y.dtype == np.int32
    small, _ = digits.digits_arrays("all", 8)
    assert small.shape == (1797, 8, 8, 1)
    # 16 grey levels mapped to [-1, 1]: level v -> v / 8 - 1
    assert np.allclose((small + 1) * 8, np.round((small + 1) * 8), atol=1e-5)


def test_training_dataset_gives_the_same_batches_for_the_same_epoch():
    config = cgan.Config(**TINY)
    dataset_fn, steps = runs.training_dataset_fn("cgan", "digits", config)
    assert steps == 1437 // 16
    first = next(iter(dataset_fn(0)))
    assert first["image"].shape == (16, 28, 28, 1) and first["label"].dtype == tf.int32
    np.testing.assert_array_equal(first["label"], next(iter(dataset_fn(0)))["label"])
    assert not np.array_equal(first["label"], next(iter(dataset_fn(1)))["label"])
    with pytest.raises(ValueError, match="digits or mnist"):
        runs.training_dataset_fn("cgan", "demo-paired", config)
    with pytest.raises(ValueError, match="no direction"):
        runs.training_dataset_fn("cgan", "digits", config, direction="BtoA")


def test_mnist_through_tfds_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        batch = next(iter(digits.mnist("train", image_size=32, batch_size=8, seed=0)))
    assert batch["image"].shape == (8, 32, 32, 1) and batch["label"].shape == (8,)
    assert -1.0 <= float(tf.reduce_min(batch["image"])) and float(tf.reduce_max(batch["image"])) <= 1.0


# -- training ------------------------------------------------------------------------------

def _fit(run_dir, steps, config):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("cgan", "digits", config)
    trainer = cgan.Trainer(config, steps_per_epoch=steps_per_epoch)
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          progress=False, sample_every=0, checkpoint_every=0)
    return trainer, result


@pytest.mark.slow
def test_a_short_training_draws_the_asked_class():
    """The chapter's MLP CGAN, 2,000 steps on the offline digits (about 30 s alone on 2 cores):
    a classifier of real digits labels at least half the samples as the asked class (chance
    is 10%; the benchmark trains longer and reaches over 90%)."""
    classifier, held_out = digit_quality.train_digit_classifier(28)
    assert held_out > 0.9
    config = cgan.Config(batch_size=64)
    trainer = cgan.Trainer(config, steps_per_epoch=1)
    step = tf.function(trainer.train_step)
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("cgan", "digits", config)
    done = 0
    while done < 2000:
        for batch in dataset_fn(done // steps_per_epoch):
            step(batch)
            done += 1
    score, per_class = digit_quality.cgan_class_accuracy(trainer.generator, classifier, cgan.sample)
    print(f"CGAN class accuracy after 2,000 steps: {score:.1%} (classifier held-out {held_out:.1%})")
    assert score >= 0.5, (score, per_class)


# -- command line --------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_train_writes_grids_exports_and_refuses_translate(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "cgan", "--dataset", "digits", "--run-dir", str(run_dir), "--batch-size", "16",
            "--set", "hidden=16", "--set", "noise_dim=8", "--no-progress", "--sample-every", "2"]
    assert cli.main([*args, "--steps", "2"]) == 0
    assert cli.main([*args, "--steps", "3"]) == 0  # resumes from step 2
    assert "step 3:" in capsys.readouterr().out
    assert json.loads((run_dir / "config.json").read_text())["family"] == "cgan"
    grids = sorted(p.name for p in (run_dir / "samples").glob("*.png"))
    assert grids == ["step_0000002.png", "step_0000003.png"]
    assert_grid_shape(run_dir / "samples" / grids[-1], cgan.GRID_COLUMNS, 10, tile=5 * 28, row_titles=True)

    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(run_dir / "samples"),
                     "--output", str(tmp_path / "out")]) == 2
    assert "do not translate" in capsys.readouterr().err

    out = tmp_path / "export"
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(out)]) == 0
    from tfgan_translate import runs

    _, generators = runs.load_generators(run_dir)
    loaded = keras.models.load_model(out / "generator.keras")
    np.testing.assert_allclose(cgan.sample(loaded, [0, 5, 9], seed=1).numpy(),
                               cgan.sample(generators["generator"], [0, 5, 9], seed=1).numpy(), atol=1e-5)
