"""pix2pixHD on label maps from the user's side: train on label + instance maps, fit the styles,
translate label PNGs with chosen styles, evaluate and export, and the errors of bad input.

One short CLI run (module fixture) on the offline ``demo-labels`` serves every test here.
"""

import json
import shutil

import numpy as np
import tensorflow as tf
import pytest
from PIL import Image

from tfgan_translate import cli, families, runs
from tfgan_translate.data import label_demo
from tfgan_translate.families import pix2pixhd, pix2pixhd_styles

SMOKE = pix2pixhd.FAMILY.smoke_config
STEPS = 6


def _flags(config):
    default = pix2pixhd.Config()
    return [arg for name in ("image_size", "ngf", "ndf", "n_blocks", "n_downsample_global", "n_layers_d", "batch_size",
                             "label_nc", "use_instance_map", "instance_feat", "nef", "n_downsample_e")
            if getattr(config, name) != getattr(default, name)
            for arg in ("--set", f"{name}={getattr(config, name)}")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("hd") / "run"
    assert cli.main(["train", "pix2pixhd", "--dataset", "demo-labels", "--run-dir", str(run_dir), "--no-progress",
                     "--steps", str(STEPS), "--sample-every", str(STEPS), *_flags(SMOKE)]) == 0
    return run_dir


def _maps(folder, labels, instances=None, name="scene.png"):
    """A label PNG (and its 16-bit instance PNG) named ``name`` in ``folder/labels`` (``folder/instances``)."""
    (folder / "labels").mkdir(exist_ok=True)
    Image.fromarray(labels.astype(np.uint8)).save(folder / "labels" / name)
    if instances is not None:
        (folder / "instances").mkdir(exist_ok=True)
        Image.fromarray(instances.astype(np.uint16)).save(folder / "instances" / name)
    return folder / "labels" / name


def _scene(height=36, width=44):
    """Class 4 (countable: two objects) on class 2, with class 0 in a band."""
    labels = np.full((height, width), 2, np.uint8)
    labels[:, :6] = 0
    labels[5:20, 8:20] = 4
    labels[22:33, 25:40] = 4
    instances = labels.astype(np.uint16)
    instances[5:20, 8:20] = 4001
    instances[22:33, 25:40] = 4002
    return labels, instances


def test_training_fits_styles_per_class_and_writes_a_labelled_grid(run):
    clusters = pix2pixhd_styles.load_clusters(run / pix2pixhd_styles.CLUSTERS_FILE, feat_num=SMOKE.feat_num)
    assert clusters and set(clusters) <= set(range(SMOKE.label_nc))
    assert all(c.shape[1] == SMOKE.feat_num and 1 <= c.shape[0] <= SMOKE.n_clusters for c in clusters.values())
    assert (run / "samples" / f"step_{STEPS:07d}.png").is_file()


def test_two_styles_give_measurably_different_colours_on_one_label_map(run, tmp_path, capsys):
    """The same label map with two clusters of class 4 chosen: the class's pixels change colour."""
    labels, instances = _scene()
    label_png = _maps(tmp_path, labels, instances)
    # a copy of the run with two styles far apart, so that the test does not hang on what 6 steps of
    # k-means found (the fixture's run stays as it is for the other tests)
    styled = tmp_path / "styled"
    shutil.copytree(run, styled)
    path = styled / pix2pixhd_styles.CLUSTERS_FILE
    clusters = pix2pixhd_styles.load_clusters(path)
    clusters[4] = np.array([[-1.0] * SMOKE.feat_num, [1.0] * SMOKE.feat_num], np.float32)
    pix2pixhd_styles.save_clusters(path, clusters, SMOKE.feat_num)
    translate = ["translate", "--run-dir", str(styled), "--input", str(label_png), "--instances",
                 str(tmp_path / "instances")]
    means = []
    for k in (0, 1):
        out = tmp_path / f"out{k}"
        assert cli.main([*translate, "--output", str(out), "--feature-cluster", f"4={k}"]) == 0
        photo = np.asarray(Image.open(out / "scene.png"), np.float64)
        assert photo.shape == (36, 44, 3)  # at the label map's size
        means.append(photo[labels == 4].mean(axis=0))
    assert np.abs(means[0] - means[1]).max() > 2.0, means  # levels of 255
    # drawn styles repeat for a seed
    drawn = []
    for name in ("seed_a", "seed_b"):
        assert cli.main([*translate, "--output", str(tmp_path / name), "--style-seed", "5"]) == 0
        drawn.append(np.asarray(Image.open(tmp_path / name / "scene.png")))
    np.testing.assert_array_equal(drawn[0], drawn[1])
    # a cluster the class does not have is refused before any work, with how many it has
    capsys.readouterr()
    assert cli.main([*translate, "--output", str(tmp_path / "bad"), "--feature-cluster", "4=7"]) == 2
    assert "class 4 has 2 clusters (choose 0..1)" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_translate_refuses_maps_that_do_not_fit_the_run(run, tmp_path, capsys):
    labels, instances = _scene()
    # an id past label_nc, an RGB picture, a missing instance map: each named, nothing translated
    outside = labels.copy()
    outside[0, 0] = SMOKE.label_nc + 3
    _maps(tmp_path, outside, instances, name="outside.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (36, 44, 3), np.uint8)).save(
        tmp_path / "labels" / "photo.png")
    Image.fromarray(instances).save(tmp_path / "instances" / "photo.png")
    _maps(tmp_path, labels, None, name="lonely.png")
    assert cli.main(["translate", "--run-dir", str(run), "--input", str(tmp_path / "labels"), "--output",
                     str(tmp_path / "out"), "--instances", str(tmp_path / "instances")]) == 1
    out = capsys.readouterr().out
    assert f"outside.png holds class id {SMOKE.label_nc + 3}" in out
    assert "photo.png" in out and "RGB" in out
    assert "no instance map for lonely.png" in out
    # the run uses instance maps: without --instances, said before any work
    assert cli.main(["translate", "--run-dir", str(run), "--input", str(tmp_path / "labels"), "--output",
                     str(tmp_path / "out2")]) == 2
    assert "--instances" in capsys.readouterr().err


def test_evaluate_and_export_take_label_maps(run, tmp_path):
    assert cli.main(["evaluate", "--run-dir", str(run), "--dataset", "demo-labels", "--metrics", "psnr,l1",
                     "--max-images", "20", "--output", str(tmp_path / "eval.json")]) == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["results"]["AtoB"]["num_images"] == 20 and report["split"] == "test"
    assert cli.main(["export", "--run-dir", str(run), "--output", str(tmp_path / "export"), "--format", "keras"]) == 0
    info = json.loads((tmp_path / "export" / "export.json").read_text())["generators"]["generator"]
    channels = SMOKE.label_nc + 1 + SMOKE.feat_num
    assert info["channels_in"] == channels and "one-hot" in info["input_channels"]
    assert (tmp_path / "export" / pix2pixhd_styles.CLUSTERS_FILE).is_file()


def test_data_and_config_that_do_not_match_are_named(tmp_path):
    family = families.get("pix2pixhd")
    with pytest.raises(ValueError, match="holds label maps: pix2pixhd translates them with --label-nc"):
        runs.training_dataset_fn(family, "demo-labels", pix2pixhd.Config(image_size=32, n_downsample_global=2))
    with pytest.raises(ValueError, match="label_nc 6 needs label maps"):
        runs.training_dataset_fn(family, "demo-paired", SMOKE)
    with pytest.raises(ValueError, match="label maps, which pix2pixhd translates"):
        runs.training_dataset_fn("pix2pix", "demo-labels", families.get("pix2pix").smoke_config)


def test_configs_that_e_cannot_serve_are_refused():
    with pytest.raises(ValueError, match="instance_feat .* needs label maps"):
        pix2pixhd.Config(image_size=32, n_downsample_global=2, instance_feat=True)
    with pytest.raises(ValueError, match="n_downsample_e=4: the feature encoder needs a multiple of 16"):
        pix2pixhd.Config(image_size=40, n_downsample_global=2, label_nc=6, instance_feat=True)


def test_cityscapes_instance_maps_are_found_beside_their_label_maps(run, tmp_path):
    """``translate --instances`` pairs ``X_gtFine_labelIds.png`` with ``X_gtFine_instanceIds.png``."""
    labels, instances = _scene()
    label_png = _maps(tmp_path, labels, name="aachen_000000_000019_gtFine_labelIds.png")
    (tmp_path / "instances").mkdir()
    Image.fromarray(instances).save(tmp_path / "instances" / "aachen_000000_000019_gtFine_instanceIds.png")
    assert cli.main(["translate", "--run-dir", str(run), "--input", str(label_png), "--output", str(tmp_path / "out"),
                     "--instances", str(tmp_path / "instances")]) == 0
    assert (tmp_path / "out" / "aachen_000000_000019_gtFine_labelIds.png").is_file()


def test_demo_data_classes_match_the_declared_demo():
    folder = label_demo.demo_labels_folder()
    classes = json.loads((folder / "classes.json").read_text())
    assert classes["label_nc"] == pix2pixhd.FAMILY.demo.config.label_nc == SMOKE.label_nc


def _fit_labels(config, run_dir, steps):
    from tfgan_translate import training

    dataset_fn, steps_per_epoch = runs.training_dataset_fn("pix2pixhd", "demo-labels", config)
    trainer = pix2pixhd.Trainer(config, steps_per_epoch=steps_per_epoch)
    training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps, progress=False,
                 sample_every=0, checkpoint_every=0)
    return trainer, dataset_fn


def test_the_local_stage_starts_from_the_global_runs_encoder_and_trains_it_while_g1_is_fixed(tmp_path):
    """As the reference's load_pretrain: G2 takes G1's E, and E learns in the fixed-G1 epochs too."""
    import dataclasses

    stage1 = dataclasses.replace(SMOKE, image_size=16, ngf=8)
    g1, _ = _fit_labels(stage1, tmp_path / "global", 2)
    stage2 = dataclasses.replace(SMOKE, n_local_enhancers=1, global_run_dir=str(tmp_path / "global"),
                                 niter_fix_global=1)
    dataset_fn, steps_per_epoch = runs.training_dataset_fn("pix2pixhd", "demo-labels", stage2)
    trainer = pix2pixhd.Trainer(stage2, steps_per_epoch=steps_per_epoch)
    start = [w.copy() for w in trainer.encoder.get_weights()]
    for mine, global_stage in zip(start, g1.encoder.get_weights()):
        np.testing.assert_array_equal(mine, global_stage)
    step = tf.function(trainer.train_step)
    for batch in dataset_fn(0).take(2):  # epoch 0 of niter_fix_global: G1 fixed, E learns
        step(batch)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(trainer.encoder.get_weights(), start))
    with pytest.raises(ValueError, match="nef is 4, needs 8"):
        pix2pixhd.Trainer(dataclasses.replace(stage2, nef=8))
