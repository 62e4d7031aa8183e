"""Evaluating runs: held-out data, reports, the CLI, and evaluation during training."""

import json
import warnings

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import cli, cyclegan, evaluation, pix2pix, runs, training
from tfgan_translate.data import BadImageWarning
from tfgan_translate.families.base import seeded

SIZE = 32


def pooled_features(images):
    """A cheap stand-in for Inception: 4x4 average-pooled pixels (48 features)."""
    return tf.reshape(tf.nn.avg_pool2d(images, SIZE // 4, SIZE // 4, "VALID"), (images.shape[0], -1)).numpy()


class CountingFeatures:
    def __init__(self):
        self.images = 0

    def __call__(self, images):
        self.images += int(images.shape[0])
        return pooled_features(images)


def untrained_run(run_dir, family_module, config):
    """A run folder holding step-0 weights, without training (seconds instead of minutes)."""
    trainer = family_module.Trainer(config, steps_per_epoch=1)
    training.prepare_run_dir(run_dir, family_module.FAMILY.name, config)
    training.RunCheckpoint({**trainer.checkpoint_items(), "step": tf.Variable(0, dtype=tf.int64)}, run_dir).save(0)
    return trainer


def pix2pix_config():
    return pix2pix.Config(image_size=SIZE, ngf=8, ndf=8, batch_size=4, lr=1e-3, seed=3)


def event_scalars(run_dir):
    values = {}
    for path in (run_dir / "logs").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                if array.ndim == 0:  # scalars (the sample grids are images)
                    values.setdefault(value.tag, []).append((event.step, float(array)))
    return values


@pytest.mark.slow
def test_trained_pix2pix_beats_its_untrained_generator_and_training_logs_eval_metrics(tmp_path, capsys):
    config = pix2pix_config()
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("pix2pix", "demo-paired", config)
    evaluator = evaluation.make_evaluator("demo-paired", pix2pix.FAMILY, config, ["psnr", "ssim", "l1"],
                                          max_images=48)
    untrained = evaluator.evaluate(seeded(pix2pix.build_models, config)["generator"], "AtoB")

    run_dir = tmp_path / "p2p"
    trainer = pix2pix.Trainer(config, steps_per_epoch=steps_per_epoch)
    training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=40, progress=False,
                 sample_every=0, checkpoint_every=0, log_every=0,
                 evaluate_fn=evaluation.training_evaluate_fn(evaluator), evaluate_every=20)
    logged = event_scalars(run_dir)
    assert [step for step, _ in logged["eval/psnr"]] == [20, 40] and "eval/ssim" in logged and "eval/l1" in logged
    assert "step 40 evaluation: psnr" in capsys.readouterr().out

    report, path = evaluation.evaluate_run(run_dir, "demo-paired", ["psnr", "ssim", "l1"], max_images=48)
    assert path == run_dir / "eval" / "report_step_40.json"
    saved = json.loads(path.read_text())
    trained = saved["results"]["AtoB"]
    assert saved["step"] == 40 and saved["split"] == "test" and trained["num_images"] == 48
    assert trained["psnr"] == pytest.approx(logged["eval/psnr"][-1][1], rel=1e-5)  # same checkpoint, same data
    print(f"PSNR untrained {untrained['psnr']:.2f} dB -> trained {trained['psnr']:.2f} dB")
    # Edges -> photo at 32 px gains slowly (about +0.5 dB after 40 steps, measured); the margin
    # is well above the run-to-run noise of a deterministic pipeline on CPU.
    assert trained["psnr"] > untrained["psnr"] + 0.25
    assert trained["l1"] < 0.97 * untrained["l1"]


def test_cyclegan_both_directions_with_fid_and_kid_reuse_the_real_features(tmp_path):
    config = cyclegan.Config(image_size=SIZE, ngf=4, ndf=4, n_blocks=1, batch_size=2)
    untrained_run(tmp_path / "cg", cyclegan, config)
    features = CountingFeatures()
    report, path = evaluation.evaluate_run(tmp_path / "cg", "demo-unpaired", ["psnr", "fid", "kid"], "both",
                                           features=features, batch_size=8, max_images=20, kid_subset_size=10)
    assert path.name == "report_step_0.json" and set(report["results"]) == {"AtoB", "BtoA"}
    for values in report["results"].values():
        assert values["num_images"] == values["num_real_images"] == 20
        assert values["fid"] > 0 and np.isfinite(values["kid"]) and values["kid_std"] >= 0
    assert features.images == 2 * (20 + 20)
    assert report["inception"]["weights"] == "custom feature function"

    # An evaluator used again (as during training) computes the real images' features once.
    _, config = runs.load_run_config(tmp_path / "cg")
    evaluator = evaluation.make_evaluator("demo-unpaired", cyclegan.FAMILY, config, ["fid"], features=features,
                                          max_images=10)
    generators = runs.load_generators(tmp_path / "cg")[1]
    features.images = 0
    first, second = evaluator(generators), evaluator(generators)
    assert first == second and features.images == 10 + 10 + 10
    with pytest.raises(FileExistsError, match="--overwrite"):
        evaluation.evaluate_run(tmp_path / "cg", "demo-unpaired", ["fid"], features=features)


def write_images(folder, count, seed, broken=None):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    if broken:
        (folder / broken).write_bytes(b"this is not an image")


def test_unpaired_folders_use_test_splits_skip_bad_files_and_refuse_paired_metrics(tmp_path):
    root = tmp_path / "data"
    write_images(root / "trainA", 2, 0)
    write_images(root / "testA", 5, 1)
    write_images(root / "testB", 3, 2, broken="broken.png")
    config = cyclegan.Config(image_size=SIZE, ngf=4, ndf=4, n_blocks=1)
    generators = cyclegan.build_models(config)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluator = evaluation.make_evaluator(str(root), cyclegan.FAMILY, config, features=pooled_features, batch_size=2)
        result = evaluator(generators)["AtoB"]
    assert any("broken.png" in str(w.message) and w.category is BadImageWarning for w in caught)
    assert evaluator.metrics == ("fid", "kid")  # the default for unpaired data
    assert result["num_images"] == 5 and result["num_real_images"] == 3
    with pytest.raises(ValueError, match="psnr.*paired data.*fid,kid"):
        evaluation.make_evaluator(str(root), cyclegan.FAMILY, config, ["psnr"], features=pooled_features)
    (tmp_path / "only_train" / "trainA").mkdir(parents=True)
    with pytest.raises(ValueError, match="no held-out testA and testB"):
        evaluation.evaluation_source(cyclegan.FAMILY, str(tmp_path / "only_train"), SIZE)


def test_aligned_folder_evaluates_its_test_split(tmp_path):
    root = tmp_path / "facades"
    write_images(root / "train", 2, 3)
    write_images(root / "test", 3, 4)
    source = evaluation.evaluation_source(pix2pix.FAMILY, str(root), SIZE, batch_size=2)
    assert source.paired and source.split == "test"
    batches = list(source.pairs())
    assert sum(int(b["a"].shape[0]) for b in batches) == 3 and batches[0]["b"].shape[1:] == (SIZE, SIZE, 3)


def test_evaluate_cli_prints_a_table_writes_the_report_and_explains_missing_weights(tmp_path, capsys):
    run_dir = tmp_path / "p2p"
    untrained_run(run_dir, pix2pix, pix2pix.Config(image_size=SIZE, ngf=4, ndf=4))
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-gray2color", "--max-images", "8"]) == 0
    out = capsys.readouterr().out
    assert "psnr" in out and "ssim" in out and "l1" in out and "report_step_0.json" in out
    report = json.loads((run_dir / "eval" / "report_step_0.json").read_text())
    assert report["metrics"] == ["psnr", "ssim", "l1"] and report["results"]["AtoB"]["num_images"] == 8
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-gray2color"]) == 2
    assert "already exists" in capsys.readouterr().err
    code = cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-gray2color", "--metrics", "fid",
                     "--inception-weights", str(tmp_path / "missing.h5"), "--output", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 2 and "no such file" in err and "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in err
    assert not (tmp_path / "r.json").exists()
    assert cli.main(["evaluate", "--run-dir", str(run_dir), "--dataset", "demo-paired", "--direction", "both",
                     "--output", str(tmp_path / "both.json")]) == 2
    assert "two generators" in capsys.readouterr().err


@pytest.mark.slow
def test_train_cli_evaluates_every_epoch(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = cli.main(["train", "pix2pix", "--dataset", "demo-gray2color", "--run-dir", str(run_dir), "--image-size", "32",
                     "--ngf", "4", "--ndf", "4", "--batch-size", "16", "--steps", "25", "--no-progress",
                     "--sample-every", "0", "--checkpoint-every", "0", "--evaluate-every-epochs", "1"])
    assert code == 0
    assert "step 25 evaluation: psnr" in capsys.readouterr().out  # 400 crops / 16 = 25 steps per epoch
    assert [step for step, _ in event_scalars(run_dir)["eval/ssim"]] == [25]
    code = cli.main(["train", "pix2pix", "--dataset", "demo-gray2color", "--run-dir", str(run_dir), "--steps", "26",
                     "--no-progress", "--evaluate-every-epochs", "1", "--eval-metrics", "fid",
                     "--inception-weights", str(tmp_path / "missing.h5")])
    assert code == 2 and "missing.h5: no such file" in capsys.readouterr().err
