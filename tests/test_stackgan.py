"""What is specific to StackGAN (the contract test covers build, steps, exact resume, the CLI
round trip and export): the matching-aware discriminator's three terms, the learning-rate halving,
Stage-II on a frozen Stage-I run, drawing from captions, and the bad inputs of its commands.

The networks, conditioning augmentation and KL term are checked against the reference in
``test_stackgan_networks.py``; the caption data in ``test_captions.py`` and ``test_shape_captions.py``.
"""

import dataclasses
import json
import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import cli, losses, stackgan, training
from tfgan_translate.app import runs
from tfgan_translate.training.schedules import EpochSchedule

SMOKE = stackgan.FAMILY.smoke_config
DEMO = "demo-captions"


def softplus(x):
    return math.log1p(math.exp(x))


def test_the_matching_aware_terms_on_a_toy_discriminator():
    """A toy D that scores a pair (image, text) by their dot product: real pairs, real images with
    the next example's text and fakes with their own text give the reference's three BCE terms,
    weighted 1, 0.5, 0.5."""
    images = tf.constant([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    texts = tf.constant([[2.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    fakes = tf.constant([[0.5, 0.5], [1.0, -1.0], [0.0, 0.0]])

    def toy_d(x, t):
        return tf.reduce_sum(x * t, axis=1)

    real = toy_d(images, texts)  # 2, 2, 0
    wrong = toy_d(images[:-1], stackgan.mismatched(texts))  # [1,0].[0,1] = 0, [0,2].[-1,1] = 2
    fake = toy_d(fakes, texts)  # 1, -1, 0
    total, terms = losses.matching_aware_discriminator_loss(real, wrong, fake)
    d_real = (softplus(-2) + softplus(-2) + softplus(0)) / 3
    d_wrong = (softplus(0) + softplus(2)) / 2
    d_fake = (softplus(1) + softplus(-1) + softplus(0)) / 3
    assert terms["d_real"].numpy() == pytest.approx(d_real, rel=1e-6)
    assert terms["d_wrong"].numpy() == pytest.approx(d_wrong, rel=1e-6)
    assert terms["d_fake"].numpy() == pytest.approx(d_fake, rel=1e-6)
    assert total.numpy() == pytest.approx(d_real + 0.5 * d_wrong + 0.5 * d_fake, rel=1e-6)


def test_the_learning_rate_halves_every_decay_interval():
    schedule = EpochSchedule(2e-4, steps_per_epoch=10, policy="halve", decay_epochs=100)
    rates = [float(schedule(epoch * 10)) for epoch in (0, 99, 100, 199, 200, 350)]
    assert rates == pytest.approx([2e-4, 2e-4, 1e-4, 1e-4, 5e-5, 2.5e-5])
    config = stackgan.Config()
    assert (config.lr, config.beta_1, config.batch_size, config.lr_policy, config.lr_decay_epochs) == (
        2e-4, 0.5, 64, "halve", 100)


def test_stage_sizes_and_bad_configs_are_refused_with_the_reason():
    assert stackgan.Config().stage1_size == 64
    assert stackgan.Config(stage=2, stage1_run="r", image_size=256).stage1_size == 64
    with pytest.raises(ValueError, match="stage1-run"):
        stackgan.Config(stage=2, image_size=256)
    with pytest.raises(ValueError, match="power of two"):
        stackgan.Config(image_size=48)
    with pytest.raises(ValueError, match="belongs to stage 2"):
        stackgan.Config(stage1_run="somewhere")
    with pytest.raises(ValueError, match="needs 2 examples or more"):
        stackgan.Config(batch_size=1)
    # kept absolute: the run resumes and draws from any working folder
    assert stackgan.Config(stage=2, stage1_run="runs/s1", image_size=256).stage1_run.startswith("/")


def _train(run_dir, *flags, steps=2):
    args = ["train", "stackgan", "--dataset", DEMO, "--run-dir", str(run_dir), "--no-progress", "--steps", str(steps),
            "--sample-every", str(steps), "--batch-size", "4", "--condition-dim", "8", "--noise-dim", "8",
            "--gf-dim", "4", "--df-dim", "4", "--jitter", "false", *flags]
    return cli.main(args)


@pytest.fixture(scope="module")
def stage1_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("stackgan") / "stage1"
    assert _train(run_dir, "--image-size", "16") == 0
    return run_dir


@pytest.mark.slow
def test_stage2_trains_on_a_frozen_stage1_run_and_draws_both_stages(stage1_run, tmp_path):
    import shutil

    _, g0 = runs.load_generators(stage1_run)
    before = [w.copy() for w in g0["generator"].get_weights()]  # weights and batch-norm statistics
    run_dir, stage1_copy = tmp_path / "stage2", tmp_path / "stage1_copy"
    shutil.copytree(stage1_run, stage1_copy)
    flags = ("--stage", "2", "--stage1-run", str(stage1_copy), "--image-size", "64", "--r-num", "1")
    assert _train(run_dir, *flags, steps=2) == 0
    shutil.rmtree(stage1_copy)  # a Stage-II run's checkpoint holds G0: it resumes without the Stage-I folder
    assert _train(run_dir, *flags, steps=3) == 0
    family, config, generators, _ = runs.load_trained(run_dir)
    nested = generators["generator"].get_layer("stage1_generator")
    for a, b in zip(before, nested.get_weights()):
        np.testing.assert_array_equal(a, b)  # the Stage-II run's G0 is the Stage-I run's, unchanged
    grid = Image.open(sorted((run_dir / "samples").glob("*.png"))[-1])
    assert grid.width > grid.height / 2  # three columns: real | Stage-I | Stage-II
    # a Stage-II run draws without its Stage-I folder (its checkpoint holds G0)
    out = tmp_path / "drawn" / "grid.png"
    assert cli.main(["generate", "--run-dir", str(run_dir), "--caption", "a large red circle at the top left",
                     "--caption", "a small blue square, bottom right", "--num", "3", "--output", str(out)]) == 0
    stage1_grid = out.with_name("grid_stage-i.png")
    assert out.exists() and stage1_grid.exists()
    # the same command again refuses to overwrite, then replaces with --overwrite
    assert cli.main(["generate", "--run-dir", str(run_dir), "--caption", "a red circle", "--output", str(out)]) == 2
    assert cli.main(["generate", "--run-dir", str(run_dir), "--caption", "a red circle", "--output", str(out),
                     "--overwrite"]) == 0
    # export: the generator and the text encoder beside it; export.json says what the inputs are;
    # the .keras file loads with only tfgan_translate.layers imported
    export_dir = tmp_path / "export"
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(export_dir), "--format", "keras"]) == 0
    info = json.loads((export_dir / "export.json").read_text())
    described = info["generators"]["generator"]["input_channels"]
    assert "noise: (N, 24) standard normal" in described and "text_encoder.json" in described
    assert (export_dir / "text_encoder.json").exists()
    import subprocess
    import sys

    code = ("import numpy as np, keras, tfgan_translate.layers\n"
            f"g = keras.saving.load_model({str(export_dir / 'generator.keras')!r})\n"
            "print(g([np.zeros((1, 1024), 'float32'), np.zeros((1, 24), 'float32')]).shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "(1, 64, 64, 3)" in done.stdout, done.stderr[-2000:]


def test_draw_gives_stage1_then_stage2_images_of_the_same_noise():
    stage1 = stackgan.build_models(SMOKE)["generator"]
    config = dataclasses.replace(SMOKE, stage=2, stage1_run="unused", image_size=64)
    stage2 = stackgan.build_models(config)["generator"]
    stage2.get_layer("stage1_generator").set_weights(stage1.get_weights())
    embeddings = np.random.default_rng(0).standard_normal((2, SMOKE.embedding_dim)).astype(np.float32)
    noise = np.random.default_rng(1).standard_normal((2, config.noise_size)).astype(np.float32)
    drawn = stackgan.FAMILY.text_to_image.draw(stage2, embeddings, noise)
    assert list(drawn) == ["Stage-I", "Stage-II"]
    assert drawn["Stage-I"].shape == (2, 16, 16, 3) and drawn["Stage-II"].shape == (2, 64, 64, 3)
    alone = stage1([embeddings, noise[:, :SMOKE.noise_size]], training=False)
    np.testing.assert_allclose(drawn["Stage-I"], alone, atol=1e-6)


@pytest.mark.slow
def test_stage2_refuses_a_missing_or_mismatched_stage1_run(stage1_run, tmp_path, capsys):
    tries = iter(range(100))

    def refused(*flags):  # each into a new folder (a refused start leaves its config.json to retry with)
        assert _train(tmp_path / f"stage2_{next(tries)}", "--stage", "2", *flags) == 2
        return capsys.readouterr().err

    err = refused("--stage1-run", str(tmp_path / "nowhere"), "--image-size", "64")
    assert "nowhere is not a run folder" in err and "Traceback" not in err
    err = refused("--stage1-run", str(stage1_run), "--image-size", "128")
    assert "image_size is 16, Stage-II needs 32" in err and "image_size=64" in err
    err = refused("--stage1-run", str(stage1_run), "--image-size", "64", "--gf-dim", "8")
    assert "gf_dim is 4, Stage-II needs 8" in err
    err = refused("--image-size", "64")
    assert "--stage1-run" in err
    other = tmp_path / "pix2pix"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"family": "pix2pix"}))
    err = refused("--stage1-run", str(other), "--image-size", "64")
    assert "holds a pix2pix run, not a StackGAN Stage-I run" in err
    assert not list(tmp_path.glob("stage2_*/checkpoints"))


@pytest.mark.slow
def test_generate_refuses_empty_and_unknown_captions_with_one_message(stage1_run, tmp_path, capsys):
    out = str(tmp_path / "grid.png")
    for caption, expected in (("", "empty"), ("   ", "empty"), ("zebra quantum xylophone", "unknown")):
        assert cli.main(["generate", "--run-dir", str(stage1_run), "--caption", caption, "--output", out]) == 2
        err = capsys.readouterr().err
        assert expected in err.lower() and "Traceback" not in err, err
    assert not (tmp_path / "grid.png").exists()
    # unknown words among known ones are left out, with a warning naming them
    assert cli.main(["generate", "--run-dir", str(stage1_run), "--caption", "a red zebra circle", "--num", "2",
                     "--output", out]) == 0
    assert "'zebra'" in capsys.readouterr().err
    # translate points to generate; a translating run refuses generate
    photo = tmp_path / "photo.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(photo)
    assert cli.main(["translate", "--run-dir", str(stage1_run), "--input", str(photo), "--output",
                     str(tmp_path / "t")]) == 2
    assert "tfgan-translate generate" in capsys.readouterr().err


def test_a_run_keeps_the_text_encoder_it_was_trained_with(tmp_path):
    from tfgan_translate.data import resolve

    source = resolve(DEMO, "captions")
    messages = stackgan.FAMILY.before_training(source, tmp_path, SMOKE)
    assert "saved" in messages["text_encoder"]
    saved = (tmp_path / "text_encoder.json").read_text()
    assert stackgan.FAMILY.before_training(source, tmp_path, SMOKE) == {}
    assert (tmp_path / "text_encoder.json").read_text() == saved
    vectors = stackgan.FAMILY.text_to_image.embed(tmp_path, ["a large red circle at the top left"])
    assert vectors.shape == (1, 1024) and np.isfinite(vectors).all()


def test_captioned_data_is_refused_by_other_families_and_images_by_stackgan():
    from tfgan_translate.data import resolve

    with pytest.raises(ValueError, match="captioned images, for text-to-image"):
        resolve(DEMO, "paired")
    with pytest.raises(ValueError, match="holds no captioned images"):
        resolve("demo-paired", "captions")


def _reference_layout(root, count=8, embeddings=None, dim=16):
    """StackGAN's birds/flowers layout in small: filenames.pickle, char-CNN-RNN-embeddings.pickle
    (count x 10 x dim), images/<key>.jpg."""
    import pickle

    keys = [f"001.Bird/bird_{i:04d}" for i in range(count)]
    embeddings = np.random.default_rng(0).standard_normal((count, 10, dim)).astype(np.float32) \
        if embeddings is None else embeddings
    (root / "train").mkdir(parents=True)
    (root / "train" / "filenames.pickle").write_bytes(pickle.dumps(keys, protocol=2))
    (root / "train" / "char-CNN-RNN-embeddings.pickle").write_bytes(pickle.dumps(embeddings, protocol=2))
    for i, key in enumerate(keys):
        path = root / "images" / f"{key}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (20, 24, 3), np.uint8)).save(path, format="JPEG")
    return root


@pytest.mark.slow
def test_the_reference_pickle_layout_trains_and_draws_from_embeddings(tmp_path, capsys):
    data_dir = _reference_layout(tmp_path / "birds")
    run_dir = tmp_path / "run"
    args = ["train", "stackgan", "--dataset", str(data_dir), "--run-dir", str(run_dir), "--no-progress",
            "--steps", "2", "--image-size", "16", "--batch-size", "4", "--embedding-dim", "16", "--condition-dim", "4",
            "--noise-dim", "4", "--gf-dim", "4", "--df-dim", "4"]
    assert cli.main(args) == 0
    assert not (run_dir / "text_encoder.json").exists()  # precomputed embeddings: no text encoder
    out = tmp_path / "drawn.png"
    assert cli.main(["generate", "--run-dir", str(run_dir), "--caption", "a red bird", "--output", str(out)]) == 2
    assert "--embeddings" in capsys.readouterr().err
    np.save(tmp_path / "mine.npy", np.random.default_rng(1).standard_normal((3, 10, 16)).astype(np.float32))
    assert cli.main(["generate", "--run-dir", str(run_dir), "--embeddings", str(tmp_path / "mine.npy"), "--num", "2",
                     "--output", str(out)]) == 0
    assert Image.open(out).height > 3 * 16
    np.save(tmp_path / "wide.npy", np.zeros((2, 32), np.float32))
    assert cli.main(["generate", "--run-dir", str(run_dir), "--embeddings", str(tmp_path / "wide.npy"), "--output",
                     str(tmp_path / "x.png")]) == 2
    assert "32 values, but the run's generator takes 16" in capsys.readouterr().err
    np.savez(tmp_path / "several.npz", a=np.zeros((2, 16)), b=np.ones((2, 16)))
    for bad, message in (("several.npz", ".npz archive"), ("empty.npy", "no rows"), ("huge.npy", "not finite")):
        if bad == "empty.npy":
            np.save(tmp_path / bad, np.zeros((0, 16), np.float32))
        if bad == "huge.npy":
            np.save(tmp_path / bad, np.full((2, 16), 1e300))
        assert cli.main(["generate", "--run-dir", str(run_dir), "--embeddings", str(tmp_path / bad), "--output",
                         str(tmp_path / "x.png")]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert cli.main(["generate", "--run-dir", str(run_dir), "--embeddings", str(tmp_path / "mine.npy"), "--num", "65",
                     "--output", str(tmp_path / "x.png")]) == 2
    assert "--num must be between 1 and 64" in capsys.readouterr().err


def test_a_pickle_that_does_not_match_its_image_list_is_refused_before_training(tmp_path, capsys):
    data_dir = _reference_layout(tmp_path / "birds", count=5,
                                 embeddings=np.zeros((4, 10, 16), np.float32))
    args = ["train", "stackgan", "--dataset", str(data_dir), "--run-dir", str(tmp_path / "run"), "--no-progress",
            "--steps", "1", "--image-size", "16", "--batch-size", "2", "--embedding-dim", "16"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "char-CNN-RNN-embeddings.pickle" in err and "filenames.pickle" in err and "Traceback" not in err
    assert err.count("\n") == 1, err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_embeddings_of_another_width_than_the_config_are_named(tmp_path, capsys):
    data_dir = _reference_layout(tmp_path / "birds", dim=16)
    args = ["train", "stackgan", "--dataset", str(data_dir), "--run-dir", str(tmp_path / "run"), "--no-progress",
            "--steps", "1", "--image-size", "16", "--batch-size", "2"]  # embedding_dim 1024 (the default)
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "16" in err and "embedding_dim" in err and "Traceback" not in err, err


@pytest.mark.slow
def test_the_demo_report_scores_held_out_captions_against_random_scenes():
    """The demo's figures on an untrained Stage-I: the attribute classifier of the real scenes reads
    its own held-out accuracy, and an untrained generator scores about as badly as random scenes."""
    trainer = stackgan.Trainer(SMOKE, steps_per_epoch=1)
    report = stackgan.FAMILY.demo.quality(trainer)
    assert report["stage"] == 1 and report["held_out_combinations"] == 20
    assert report["held_out_captions"] == 2 * 400
    judge = report["classifier_16px_test_accuracy"]
    assert min(judge[k] for k in ("colour", "shape", "size", "position")) >= 0.97
    drawn, chance = report["Stage-I_attribute_accuracy"], report["Stage-I_random_image_accuracy"]
    assert set(drawn) == set(chance) == {"colour", "shape", "size", "position", "all"}
    assert drawn["all"] < 0.1 and chance["all"] < 0.1
