"""The tfgan-translate command line, end to end on tiny runs."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import cli, inference, runs

SAMPLE_GRID = Path(__file__).parent / "fixtures" / "legacy_runs" / "pix2pix" / "samples" / "step_0000002.png"
TINY = ["--image-size", "32", "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--no-progress",
        "--sample-every", "0", "--checkpoint-every", "0"]


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    code = cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run_dir),
                     "--n-blocks", "1", "--steps", "3", *TINY])
    assert code == 0
    return run_dir


def test_train_writes_config_checkpoint_and_resumes_with_the_saved_settings(cyclegan_run, capsys):
    saved = json.loads((cyclegan_run / "config.json").read_text())
    assert saved["family"] == "cyclegan" and saved["ngf"] == 4 and saved["n_blocks"] == 1
    # No model flags: the run's saved config is used and training continues from step 3.
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(cyclegan_run),
                     "--steps", "4", "--no-progress"]) == 0
    assert "step 4:" in capsys.readouterr().out
    assert tf.train.latest_checkpoint(str(cyclegan_run / "checkpoints")).endswith("ckpt-4")


def test_the_same_command_on_a_finished_run_says_there_is_nothing_to_train(cyclegan_run, capsys):
    command = ["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(cyclegan_run), "--steps", "4",
               "--no-progress"]
    assert cli.main(command) == 0  # to step 4, unless the test before it (on this worker) went there
    capsys.readouterr()
    assert cli.main(command) == 0
    out = capsys.readouterr().out
    assert "step 4: nothing to train" in out and "the end is step 4" in out and "images/s" not in out
    assert tf.train.latest_checkpoint(str(cyclegan_run / "checkpoints")).endswith("ckpt-4")


def test_translate_keeps_each_input_size_and_never_overwrites(cyclegan_run, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    sizes = {"wide": (37, 53), "tall": (64, 20), "square": (32, 32)}
    for name, (h, w) in sizes.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(inputs / f"{name}.jpg")
    Image.fromarray(rng.integers(0, 255, (20, 24), dtype=np.uint8)).save(inputs / "gray.png")
    (inputs / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    assert cli.main(["translate", "--run-dir", str(cyclegan_run), "--input", str(inputs), "--output", str(out)]) == 0
    captured = capsys.readouterr().out
    assert "skipped" in captured and "broken.png" in captured
    for name, (h, w) in {**sizes, "gray": (20, 24)}.items():
        assert Image.open(out / f"{name}.png").size == (w, h)
    before = (out / "wide.png").read_bytes()
    code = cli.main(["translate", "--run-dir", str(cyclegan_run), "--input", str(inputs), "--output", str(out),
                     "--direction", "BtoA"])
    assert code == 2 and "already exist" in capsys.readouterr().err
    assert (out / "wide.png").read_bytes() == before
    assert cli.main(["translate", "--run-dir", str(cyclegan_run), "--input", str(inputs), "--output", str(out),
                     "--direction", "BtoA", "--overwrite"]) == 0


def test_export_gives_the_checkpoint_translations(cyclegan_run, tmp_path):
    out = tmp_path / "export"
    assert cli.main(["export", "--run-dir", str(cyclegan_run), "--output", str(out)]) == 0
    _, generators = runs.load_generators(cyclegan_run)
    x = tf.random.uniform((2, 32, 48, 3), -1, 1, seed=1)
    for name, model in generators.items():
        expected = model(x, training=False).numpy()
        loaded = keras.models.load_model(out / f"{name}.keras")
        np.testing.assert_allclose(loaded(x, training=False).numpy(), expected, atol=1e-5)
        saved_model = tf.saved_model.load(str(out / name))  # keep a reference: it owns the variables
        served = saved_model.serve(x).numpy()
        np.testing.assert_allclose(served, expected, atol=1e-5)
    info = json.loads((out / "export.json").read_text())
    assert info["family"] == "cyclegan" and info["generators"]["generator_ab"]["size_multiple"] == 4
    assert cli.main(["export", "--run-dir", str(cyclegan_run), "--output", str(out)]) == 2  # no silent overwrite


def test_translate_resizes_for_a_deep_unet_and_returns_the_original_size():
    from tfgan_translate import networks

    model = networks.build_unet_generator((None, None, 3), num_downs=6, ngf=4)
    assert inference.size_multiple(model) == 64
    y = inference.translate_array(model, np.zeros((50, 90, 3), np.float32))
    assert y.shape == (50, 90, 3)


@pytest.mark.parametrize("argv,message", [
    (["train", "stylegan", "--dataset", "demo-paired"], "unknown model 'stylegan'"),
    (["train", "pix2pix", "--dataset", "/no/such/folder"], "no such folder"),
    (["train", "pix2pix", "--dataset", "demo-unpaired"], "needs paired data"),
    # a mistyped folder name is not taken for a tfds dataset to download
    (["train", "cyclegan", "--dataset", "my_data"], "no folder 'my_data' here, and it is not a tfds CycleGAN dataset"),
    (["train", "pix2pix", "--dataset", "my_pairs"], "no folder 'my_pairs' here"),
    (["train", "pix2pix", "--dataset", "demo-paired", "--image-size", "48"], "not a power of 2"),
    (["train", "cyclegan", "--dataset", "demo-unpaired", "--image-size", "30"], "multiple of 4"),
    (["train", "cyclegan", "--dataset", "demo-unpaired", "--set", "lamda_a=3"], "no such .*Config field"),
    (["train", "cyclegan", "--dataset", "demo-unpaired", "--set", "pool_size=many"], "expected int"),
    (["translate", "--model", "/no/model.keras", "--input", __file__, "--output", "x"], "not an image file"),
    (["translate", "--model", "/no/model.keras", "--input", str(SAMPLE_GRID), "--output", "x"], "no such file"),
])
def test_bad_arguments_give_one_clear_line_and_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    import re

    assert re.search(message, err), err


def test_evaluate_on_a_mistyped_folder_name_says_so_instead_of_downloading(cyclegan_run, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--run-dir", str(cyclegan_run), "--dataset", "my_data"]) == 2
    assert "no folder 'my_data' here, and it is not a tfds CycleGAN dataset" in capsys.readouterr().err


def test_pix2pix_trains_from_an_aligned_folder_and_translates(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (40, 80, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run_dir = tmp_path / "run"
    assert cli.main(["train", "pix2pix", "--dataset", str(folder), "--run-dir", str(run_dir), "--steps", "2",
                     *TINY]) == 0
    out = tmp_path / "out"
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(folder / "0.png"), "--output", str(out)]) == 0
    assert Image.open(out / "0.png").size == (80, 40)


def test_demo_rerun_restores_the_finished_run_and_keeps_how_it_was_trained(tmp_path, capsys):
    """``make demo`` twice: the second run retrains nothing and says so, and report.json keeps the
    first run's time and losses instead of a 0-second, 0-images/s entry."""
    args = ["demo", "--quick", "--output", str(tmp_path), "--family", "pix2pix"]
    assert cli.main(args) == 0
    first = json.loads((tmp_path / "report.json").read_text())["pix2pix"]
    assert first["steps"] == 20 and first["losses"] and first["images_per_second"] > 0
    capsys.readouterr()
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "pix2pix: already trained (20 steps; delete" in out and "images/s" not in out
    second = json.loads((tmp_path / "report.json").read_text())["pix2pix"]
    assert second["already_trained"] is True
    assert {k: second[k] for k in ("steps", "seconds", "images_per_second", "losses")} == \
        {k: first[k] for k in ("steps", "seconds", "images_per_second", "losses")}
    assert tf.train.latest_checkpoint(str(tmp_path / "pix2pix_quick" / "checkpoints")).endswith("ckpt-20")


def test_an_interrupted_demo_stops_with_its_checkpoint_and_the_same_command_resumes(tmp_path, monkeypatch, capsys):
    """Ctrl-C/SIGTERM during the demo: the run saves and the demo stops (no report of a half-trained
    model, no next family); the families finished before are reported; the same command resumes."""
    import os
    import signal

    from tfgan_translate import demo_run

    real_fit = demo_run.training.fit

    def fit_stopped_by_sigterm(trainer, dataset_fn, run_dir, **options):
        def dataset_fn_then_signal(epoch):
            os.kill(os.getpid(), signal.SIGTERM)  # arrives once the loop runs
            return dataset_fn(epoch)

        return real_fit(trainer, dataset_fn_then_signal if "cyclegan" in str(run_dir) else dataset_fn, run_dir, **options)

    args = ["demo", "--quick", "--output", str(tmp_path), "--family", "pix2pix", "--family", "cyclegan"]
    monkeypatch.setattr(demo_run.training, "fit", fit_stopped_by_sigterm)
    assert cli.main(args) == 130
    out = capsys.readouterr().out
    assert "cyclegan: interrupted at step" in out and "run the same command again to resume" in out
    assert "PSNR gain" not in out
    assert sorted(json.loads((tmp_path / "report.json").read_text())) == ["pix2pix"]
    stopped_at = int(tf.train.latest_checkpoint(str(tmp_path / "cyclegan_quick" / "checkpoints")).rsplit("-", 1)[1])
    assert stopped_at < 20

    monkeypatch.setattr(demo_run.training, "fit", real_fit)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert f"resuming {tmp_path / 'cyclegan_quick'} from ckpt-{stopped_at}" in out
    assert "pix2pix: already trained" in out and "CycleGAN PSNR gain over identity" in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["cyclegan"]["steps"] == 20 and report["pix2pix"]["steps"] == 20
