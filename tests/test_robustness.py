"""What a hostile new user broke (issue 19), one test per finding, and a sweep of bad flag values.

Trained runs come from ``tests/fixtures/legacy_runs`` (copied, 2 steps each) where a test only
uses a run; a few tests train a tiny pix2pix for one step.
"""

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import cli, cyclegan, data, families, training
from tfgan_translate.training import config as config_io

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_runs"
REPO = Path(__file__).resolve().parents[1]
TINY_PIX2PIX = ["--image-size", "32", "--ngf", "4", "--ndf", "4", "--batch-size", "2", "--no-progress",
                "--sample-every", "0", "--log-every", "0"]


def fixture_run(tmp_path, family="cyclegan"):
    run_dir = tmp_path / family
    shutil.copytree(FIXTURES / family, run_dir)
    return run_dir


def write_image(path, size=(20, 24), seed=0):
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def errors(capsys):
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out, captured.err


@pytest.fixture(scope="module")
def pix2pix_btoa(tmp_path_factory):
    """A pix2pix run trained one step with --direction BtoA on demo-paired."""
    run_dir = tmp_path_factory.mktemp("p2p") / "run"
    assert cli.main(["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(run_dir), "--steps", "1",
                     "--direction", "BtoA", *TINY_PIX2PIX]) == 0
    return run_dir


# -- 1, 2: a run keeps its direction and its data ----------------------------------------------

def test_1_the_direction_is_saved_reused_and_a_contradiction_refused(pix2pix_btoa, capsys, tmp_path):
    record = json.loads((pix2pix_btoa / "config.json").read_text())["data"]
    assert record["direction"] == "BtoA" and record["dataset"] == "demo-paired"
    capsys.readouterr()
    resume = ["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(pix2pix_btoa), "--steps", "1",
              "--no-progress"]
    assert cli.main(resume) == 0
    assert "(BtoA)" in capsys.readouterr().out  # resumed in its own direction without the flag
    assert cli.main([*resume, "--direction", "AtoB"]) == 2
    assert "trained with --direction BtoA" in errors(capsys)[1]
    report = tmp_path / "report.json"
    assert cli.main(["evaluate", "--run-dir", str(pix2pix_btoa), "--dataset", "demo-paired", "--metrics", "l1",
                     "--max-images", "2", "--output", str(report)]) == 0
    assert json.loads(report.read_text())["trained_direction"] == "BtoA"
    assert cli.main(["evaluate", "--run-dir", str(pix2pix_btoa), "--dataset", "demo-paired", "--direction", "AtoB",
                     "--output", str(tmp_path / "other.json")]) == 2
    assert "trained in (BtoA" in errors(capsys)[1]


def test_1_a_run_folder_from_before_keeps_resuming_as_atob_until_told(tmp_path, capsys):
    run_dir = fixture_run(tmp_path, "pix2pix")  # written before the direction was saved
    resume = ["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(run_dir), "--steps", "2", "--no-progress"]
    assert cli.main(resume) == 0
    record = json.loads((run_dir / "config.json").read_text())["data"]
    assert record["direction"] == "AtoB" and record["direction_assumed"]
    assert cli.main([*resume, "--direction", "BtoA"]) == 0  # the assumed direction gives way to the flag
    record = json.loads((run_dir / "config.json").read_text())["data"]
    assert record["direction"] == "BtoA" and "direction_assumed" not in record
    errors(capsys)


def test_2_resuming_on_other_data_is_refused_unless_asked_and_then_recorded(pix2pix_btoa, capsys, tmp_path):
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for i in range(4):
        write_image(pairs / f"{i}.png", (32, 64), seed=i)
    run_dir = tmp_path / "run"
    shutil.copytree(pix2pix_btoa, run_dir)
    capsys.readouterr()
    other = ["train", "pix2pix", "--dataset", str(pairs), "--run-dir", str(run_dir), "--steps", "1", "--no-progress"]
    before = (run_dir / "config.json").read_text()
    assert cli.main(other) == 2
    message = errors(capsys)[1]
    assert "was trained on demo-paired" in message and "2 steps per epoch" in message and "--other-data" in message
    assert (run_dir / "config.json").read_text() == before
    assert cli.main([*other, "--other-data"]) == 0
    record = json.loads((run_dir / "config.json").read_text())["data"]
    assert record["folder"] == str(pairs.resolve()) and record["steps_per_epoch"] == 2
    assert record["before"][0]["dataset"] == "demo-paired"


# -- 3, 4, 5: translate ---------------------------------------------------------------------------

def test_3_inputs_with_the_same_stem_get_an_output_each(tmp_path, capsys):
    run_dir = fixture_run(tmp_path)
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_image(inputs / "photo.jpg", seed=1)
    write_image(inputs / "photo.png", seed=2)
    write_image(inputs / "other.png", seed=3)
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(inputs), "--output", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["other.png", "photo.jpg.png", "photo.png.png"]
    assert "translated 3 image(s)" in capsys.readouterr().out


def test_4_a_translation_that_read_nothing_fails(tmp_path, capsys):
    run_dir = fixture_run(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    translate = ["translate", "--run-dir", str(run_dir), "--output", str(tmp_path / "out")]
    assert cli.main([*translate, "--input", str(tmp_path / "empty.png")]) == 1
    assert "nothing was translated" in errors(capsys)[1]
    (tmp_path / "notes.txt").write_text("not an image")
    assert cli.main([*translate, "--input", str(tmp_path / "notes.txt")]) == 2
    assert "not an image file" in errors(capsys)[1]
    (tmp_path / "nothing").mkdir()
    assert cli.main([*translate, "--input", str(tmp_path / "nothing")]) == 2
    assert "holds no images" in errors(capsys)[1]


def test_5_tiny_images_are_translated_at_their_size_and_never_stop_the_folder(tmp_path, capsys):
    run_dir = fixture_run(tmp_path)  # a ResNet generator: reflection padding in its bottleneck
    inputs = tmp_path / "in"
    inputs.mkdir()
    sizes = {"a1x1": (1, 1), "b3x3": (3, 3), "c4x4": (4, 4), "d2x9": (2, 9), "e8x8": (8, 8), "f21x17": (21, 17)}
    for name, size in sizes.items():
        write_image(inputs / f"{name}.png", size)
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(inputs), "--output", str(tmp_path / "out")]) == 0
    assert f"translated {len(sizes)} image(s)" in capsys.readouterr().out
    for name, (height, width) in sizes.items():
        assert Image.open(tmp_path / "out" / f"{name}.png").size == (width, height)


# -- 6: one checkpoint-choosing path --------------------------------------------------------------

def damage_newest(run_dir, how):
    """Add a newer ckpt-3 to the run's list: truncated data (``"data"``) or no files at all (``"index"``)."""
    folder = run_dir / "checkpoints"
    if how == "data":
        shutil.copy(folder / "ckpt-2.index", folder / "ckpt-3.index")
        good = (folder / "ckpt-2.data-00000-of-00001").read_bytes()
        (folder / "ckpt-3.data-00000-of-00001").write_bytes(good[: len(good) // 3])
    tf.compat.v1.train.update_checkpoint_state(str(folder), str(folder / "ckpt-3"),
                                               all_model_checkpoint_paths=[str(folder / "ckpt-2"), str(folder / "ckpt-3")])


@pytest.mark.parametrize("how", ["data", "index"])
def test_6_translate_export_and_evaluate_fall_back_past_a_damaged_newest_checkpoint(tmp_path, capsys, how):
    run_dir = fixture_run(tmp_path)
    damage_newest(run_dir, how)
    write_image(tmp_path / "x.png")
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(tmp_path / "x.png"),
                     "--output", str(tmp_path / "out")]) == 0
    assert "restored" in capsys.readouterr().out
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(tmp_path / "export")]) == 0
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-unpaired", "--metrics", "psnr",
                     "--max-images", "2", "--output", str(tmp_path / "report.json")]) == 0
    assert json.loads((tmp_path / "report.json").read_text())["step"] == 2
    errors(capsys)


def test_a_relative_run_folder_resumes_and_translates(tmp_path, monkeypatch, capsys):
    fixture_run(tmp_path)
    monkeypatch.chdir(tmp_path)  # the default --run-dir, checkpoints/<name>, is relative
    write_image(tmp_path / "x.png")
    assert cli.main(["translate", "--run-dir", "cyclegan", "--input", "x.png", "--output", "out"]) == 0
    assert "could not be loaded" not in capsys.readouterr().out


# -- 7: the generative families are not scored as translators -------------------------------------

def test_7_evaluating_a_generative_run_is_refused_clearly(tmp_path, capsys):
    run_dir = fixture_run(tmp_path, "cgan")
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "digits"]) == 2
    assert "generate images from noise and codes" in errors(capsys)[1]
    fresh = tmp_path / "fresh"
    assert cli.main(["train", "cgan", "--dataset", "digits", "--run-dir", str(fresh), "--steps", "1",
                     "--evaluate-every-epochs", "1", "--no-progress"]) == 2
    assert "--evaluate-every-epochs" in errors(capsys)[1]
    assert not fresh.exists()  # refused before anything was written


# -- 8: outputs are checked before the work ---------------------------------------------------------

def test_8_unwritable_outputs_are_refused_before_the_work(tmp_path, capsys, monkeypatch):
    run_dir = fixture_run(tmp_path)
    image = write_image(tmp_path / "x.png")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    translate = ["translate", "--run-dir", str(run_dir), "--input", str(image), "--output"]
    for output, message in [(a_file / "out", "is a file, not a folder"), (a_file, "is a file, not a folder"),
                            ("/proc/tfgan-test/out", "cannot write there")]:
        assert cli.main([*translate, str(output)]) == 2
        assert message in errors(capsys)[1]
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(a_file / "x")]) == 2
    assert "is a file" in errors(capsys)[1]
    (tmp_path / "reports").mkdir()
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-unpaired", "--metrics", "psnr",
                     "--output", str(tmp_path / "reports"), "--overwrite"]) == 2
    assert "is a folder; give a file name" in errors(capsys)[1]
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(a_file / "run"),
                     "--steps", "1"]) == 2
    assert "is a file, not a folder" in errors(capsys)[1]

    from tfgan_translate.app import outputs

    def read_only(folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(outputs, "_probe", read_only)
    assert cli.main([*translate, str(tmp_path / "ro")]) == 2
    assert "cannot write there (Permission denied)" in errors(capsys)[1]


# -- 9: Ctrl-C while starting -------------------------------------------------------------------------

def test_9_ctrl_c_while_starting_exits_quietly_with_130(tmp_path):
    run_dir = fixture_run(tmp_path)
    image = write_image(tmp_path / "x.png")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tfgan_translate", "translate", "--run-dir", str(run_dir), "--input", str(image),
               "--output", str(tmp_path / "out")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # inside the imports of TensorFlow and Keras
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err


# -- 10, 11: a run folder that holds no checkpoint, or a broken config.json ---------------------------

def test_10_a_refused_setting_writes_nothing_and_a_folder_without_checkpoint_takes_new_settings(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train = ["train", "pix2pix", "--dataset", "demo-paired", "--run-dir", str(run_dir), "--steps", "1", *TINY_PIX2PIX]
    assert cli.main([*train, "--set", "lambda_l1=-1"]) == 2
    assert "lambda_l1 must be >= 0" in errors(capsys)[1]
    assert not run_dir.exists()
    # a folder whose run stopped before its first checkpoint (e.g. a NaN at step 1): new settings are taken
    config = families.get("pix2pix").config(image_size=32, ngf=4, ndf=4, batch_size=2, lr=0.5)
    training.RunFolder(run_dir).prepare("pix2pix", config)
    assert cli.main([*train, "--lr", "1e-4"]) == 0
    assert "has no checkpoint, so its saved settings are replaced: lr: 0.5 -> 0.0001" in capsys.readouterr().out
    assert json.loads((run_dir / "config.json").read_text())["lr"] == 1e-4


@pytest.mark.parametrize("content", ["[]", '"cyclegan"', '{"image_size": 32}', '{"family": "cyclegan", "ngf": [4]}',
                                     "{not json"])
def test_11_a_broken_config_json_gives_one_line_naming_it(tmp_path, capsys, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(content)
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run_dir), "--steps", "1"]) == 2
    message = errors(capsys)[1]
    assert "config.json" in message and len(message.strip().splitlines()) == 1, message
    assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(write_image(tmp_path / "x.png")),
                     "--output", str(tmp_path / "out")]) == 2
    errors(capsys)


# -- 12: every numeric field is validated at construction ---------------------------------------------

def numeric_fields(config_class):
    import dataclasses

    for field in dataclasses.fields(config_class):
        kinds, _ = config_io.field_types(field.type)
        if kinds[0] in (int, float):
            yield field.name, kinds[0]


@pytest.mark.parametrize("name", families.names())
def test_12_every_numeric_config_field_refuses_nan_infinity_and_negatives(name):
    config_class = families.get(name).config
    fields = list(numeric_fields(config_class))
    assert fields
    for field, kind in fields:
        bad = [-1] + ([math.nan, math.inf] if kind is float else [1.5, True])
        for value in bad:
            with pytest.raises(ValueError, match=field):
                config_class(**{field: value})


# -- 13: clear messages ---------------------------------------------------------------------------------

def test_13_messages_say_what_to_do(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["train", "cyclegan", "--dataset", str(tmp_path / "empty"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "trainA/ + trainB/" in errors(capsys)[1]
    assert cli.main(["train", "pix2pix", "--dataset", "demo-paired", "--image-size", "8", "--run-dir", str(tmp_path / "r")]) == 2
    assert "too small for the U-Net generator: it needs at least 32 px" in errors(capsys)[1]
    assert cli.main(["train", "pix2pix", "--dataset", "demo-paired", "--image-size", "1000000000",
                     "--run-dir", str(tmp_path / "r")]) == 2
    assert "image_size must be >= 1 and <= 8192" in errors(capsys)[1]

    image = write_image(tmp_path / "x.png")
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    translate = ["translate", "--input", str(image), "--output", str(tmp_path / "out"), "--overwrite", "--model"]
    assert cli.main([*translate, str(fake)]) == 2
    assert "is not a readable Keras model" in errors(capsys)[1]
    run_dir = fixture_run(tmp_path)
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(tmp_path / "exported")]) == 0
    assert cli.main([*translate, str(tmp_path / "exported" / "generator_ab")]) == 0  # the SavedModel folder

    capsys.readouterr()
    assert cli.main(["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run_dir), "--steps", "3",
                     "--ngf", "8"]) == 2
    out, err = errors(capsys)
    assert "another configuration" in err and "training cyclegan" not in out  # no "training ..." before a refusal


def test_13_14_a_skipped_image_is_one_warning_line_without_libjpeg_s(tmp_path, capfd):
    folder = tmp_path / "pairs"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"{i}.png", (32, 64), seed=i)
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    write_image(folder / "cut.jpg", (32, 64), seed=5)
    (folder / "cut.jpg").write_bytes((folder / "cut.jpg").read_bytes()[:-300])  # "Premature end of JPEG file"
    assert cli.main(["train", "pix2pix", "--dataset", str(folder), "--run-dir", str(tmp_path / "run"), "--steps", "1",
                     "--image-size", "64", "--ngf", "4", "--ndf", "4", "--batch-size", "1", "--no-progress"]) == 0
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if "broken.png" in line]
    assert lines and all(line.startswith("warning: ") for line in lines), err
    assert "warnings.warn" not in err and ".py:" not in err
    assert "Premature end of JPEG" not in err


# -- 14: TensorFlow's log lines ---------------------------------------------------------------------------

def test_14_tensorflow_start_up_lines_are_hidden_unless_verbose(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = str(REPO)
    command = [sys.executable, "-m", "tfgan_translate", "convert", "--from-pytorch", str(tmp_path / "missing.pth"),
               "--arch", "resnet_9blocks", "--output", str(tmp_path / "x.keras")]
    quiet = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 2
    assert [line for line in quiet.stderr.splitlines() if line.strip()] == [
        line for line in quiet.stderr.splitlines() if line.startswith("tfgan-translate convert: error:")]
    verbose = subprocess.run([*command, "--verbose"], env=env, capture_output=True, text=True, timeout=120)
    assert verbose.returncode == 2 and "tfgan-translate convert: error:" in verbose.stderr
    # (what else --verbose shows is TensorFlow's: the oneDNN notice on x86, nothing on some builds)


# -- 15: help -------------------------------------------------------------------------------------------------

def help_text(argv, capsys):
    with pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_15_help_shows_defaults_choices_and_the_version(capsys):
    text = help_text(["train", "cyclegan"], capsys)
    for expected in ["steps between PNG sample grids; 0: only at the end (default: 500)", "(default: 1000)",
                     "(default: 50)", "default: cyclegan's 100 + 100 = 200", "{unet,resnet}", "{batch,instance,none}",
                     "(>= 1 and <= 8192; default: 256)", "(> 0; default: 0.0002)"]:
        assert expected in text, expected
    assert "(default: 16)" in help_text(["evaluate"], capsys)
    assert "(default: checkpoints/demo)" in help_text(["demo"], capsys)
    assert "(default: AtoB)" in help_text(["translate"], capsys)
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.startswith("tfgan-translate 0.")


# -- 16: the Python API names a size mismatch -------------------------------------------------------------------

def test_16_data_of_another_size_than_the_config_is_named(tmp_path):
    trainer = cyclegan.Trainer(cyclegan.Config(image_size=32, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=2))
    source = data.resolve("demo-unpaired", "unpaired")
    dataset_fn, steps = source.training(64, 2, 0)
    with pytest.raises(ValueError, match=r"images are 64x64 px but the config's image_size is 32"):
        training.fit(trainer, dataset_fn, tmp_path / "run", steps_per_epoch=steps, total_steps=1, progress=False)


def test_12_sibling_fit_refuses_negative_intervals(tmp_path):
    trainer = cyclegan.Trainer(cyclegan.Config(image_size=32, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=2))
    for option in ("sample_every", "checkpoint_every", "log_every", "total_steps"):
        options = {"total_steps": 1, option: -1}
        with pytest.raises(ValueError, match=f"{option} must be an integer >= 0"):
            training.fit(trainer, lambda epoch: None, tmp_path / "run", steps_per_epoch=1, progress=False, **options)
    assert not (tmp_path / "run").exists()


# -- 17: our .keras files load after a plain import ----------------------------------------------------------

def test_17_keras_loads_our_models_after_import_tfgan_translate(tmp_path):
    from tfgan_translate import networks

    path = tmp_path / "g.keras"
    networks.build_resnet_generator((None, None, 3), ngf=4, n_blocks=1).save(path)
    for imports in ("import tfgan_translate, keras", "import tfgan_translate, tensorflow as tf; keras = tf.keras",
                    "import keras, tfgan_translate"):
        script = f"{imports}; m = keras.models.load_model({str(path)!r}); print(type(m).__name__)"
        done = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (imports, done.stderr[-2000:])
        assert done.stdout.strip().endswith("Functional"), imports


# -- the sweep: every typed flag of every command with bad values ---------------------------------------------

def typed_options(parser):
    """``(flag, values that must be refused)`` for each option of ``parser`` that takes a number or a choice."""
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or isinstance(action, argparse._HelpAction):
            continue
        flag = action.option_strings[-1] if action.option_strings[0] == "-h" else action.option_strings[0]
        if action.choices:
            yield flag, ["bogus"]
        elif action.type is int:
            yield flag, ["-7", "abc"]
        elif action.type is float:
            yield flag, ["nan", "-1", "abc"]
        elif callable(action.type) and getattr(action.type, "__name__", "") == "<lambda>":  # config fields
            metavar = action.metavar
            yield flag, {"INT": ["-7", "abc", "1.5"], "FLOAT": ["nan", "inf", "-1", "abc"],
                         "BOOL": ["maybe"], "STR": []}.get(metavar, ["bogus"] if metavar.startswith("{") else [])


def subcommand(parser, name):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def sweep(argv_for, parser, tmp_path, capsys):
    """Run each bad value; returns the cases that did not fail with exit 2, one clear line naming the flag."""
    problems = []
    for flag, values in typed_options(parser):
        for value in values:
            argv = argv_for(flag, value)
            try:
                code = cli.main(argv)
            except SystemExit as stop:  # argparse's own refusal (a type or a choice)
                code = stop.code
            out, err = capsys.readouterr()
            field = flag.lstrip("-").replace("-", "_")
            named = re.search(rf"{re.escape(flag)}\b|\b{field}\b", err)
            if code != 2 or "Traceback" in err or not named:
                problems.append(f"{flag} {value}: exit {code}; {err.strip()[-300:] or out.strip()[-300:]}")
    return problems


@pytest.mark.parametrize("name", families.names())
def test_sweep_train_refuses_every_bad_flag_value_with_one_line(tmp_path, capsys, name):
    family = families.get(name)
    parser = subcommand(cli.build_parser(family), "train")
    run_dir = tmp_path / "run"

    def argv(flag, value):
        return ["train", name, "--dataset", family.demo.dataset, "--run-dir", str(run_dir), "--steps", "1",
                "--no-progress", flag, value]

    assert sweep(argv, parser, tmp_path, capsys) == []
    assert not run_dir.exists()  # nothing was written by any refused command


def test_sweep_the_other_commands_refuse_every_bad_flag_value(tmp_path, capsys):
    run_dir = fixture_run(tmp_path)
    image = write_image(tmp_path / "x.png")
    parser = cli.build_parser()
    base = {
        "translate": ["translate", "--run-dir", str(run_dir), "--input", str(image), "--output", str(tmp_path / "t")],
        "export": ["export", "--run-dir", str(run_dir), "--output", str(tmp_path / "e")],
        "evaluate": ["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-unpaired", "--metrics", "psnr",
                     "--output", str(tmp_path / "r.json")],
        "convert": ["convert", "--from-pytorch", str(tmp_path / "m.pth"), "--arch", "resnet_9blocks",
                    "--output", str(tmp_path / "m.keras")],
        "demo": ["demo", "--quick", "--output", str(tmp_path / "d")],
    }
    problems = []
    for command, argv in base.items():
        problems += sweep(lambda flag, value, argv=argv: [*argv, flag, value], subcommand(parser, command), tmp_path,
                          capsys)
    assert problems == []
