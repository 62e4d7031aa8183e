"""What every family must do, checked once over the registry (each family's ``smoke_config``
on its demo dataset): build, train a few steps with finite losses, resume exactly, train and
resume through the CLI, write its sample grid, and translate + export or generate + export.

A family is finished when it passes here; the per-family test files keep what is specific
(parameter counts against the reference, losses by hand, the paper's update schedules).
"""

import dataclasses
import json
import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from grid_checks import assert_grid_shape, assert_report_complete
from tfgan_translate import cli, families, runs, training
from tfgan_translate.families.base import Family, Trainer
from tfgan_translate.training.summaries import SAMPLE_ROWS

NAMES = families.names()
STEPS = 2


def family_and_config(name):
    family = families.get(name)
    assert isinstance(family, Family)
    assert family.smoke_config is not None, f"{name}: declare smoke_config (a tiny config) in its Family"
    return family, family.smoke_config


def config_flags(family, config):
    """``--set FIELD=VALUE`` for every field of ``config`` that differs from the family's default."""
    default = family.config()
    return [arg for field in dataclasses.fields(config) if getattr(config, field.name) != getattr(default, field.name)
            for arg in ("--set", f"{field.name}={getattr(config, field.name)}")]


def state_values(item):
    """The values of a model or of an extra-state object (variable, random generator, image pool)."""
    if isinstance(item, tf.Variable):
        return [item.numpy()]
    if isinstance(item, tf.random.Generator):
        return [item.state.numpy()]
    return [np.array(v) for v in item.variables]


def weights(trainer):
    """Every model's weights (dropout seeds included) and every extra-state value, by name."""
    items = {**trainer.models, **trainer.extra_state()}
    return {name: state_values(item) for name, item in items.items()}


def fresh_data(family, config):
    """The family's demo data as a new run in a new process gets it: made from TensorFlow's unset
    global seed (tf.data's seeded shuffles depend on it, and an iterated dataset reshuffles)."""
    tf.random.set_seed(None)
    return runs.training_dataset_fn(family, family.demo.dataset, config)


def fit(family, config, run_dir, steps, **options):
    dataset_fn, steps_per_epoch = fresh_data(family, config)
    trainer = family.trainer(config)  # no steps_per_epoch: fit binds the data's
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          progress=False, sample_every=0, checkpoint_every=0, **options)
    return trainer, result


@pytest.mark.parametrize("name", NAMES)
def test_the_declaration_is_complete(name):
    family, config = family_and_config(name)
    assert family.name == name and issubclass(family.trainer, Trainer) and family.trainer.family is family
    assert isinstance(config, family.config)
    models = family.build_models(config)
    assert set(family.generator_names) <= set(models), (family.generator_names, sorted(models))
    assert all(model.name == key for key, model in models.items())
    assert family.demo is not None and family.demo.dataset
    if family.translates:
        assert set(family.directions) <= {"AtoB", "BtoA"} and "AtoB" in family.directions


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_steps_have_finite_losses_and_resume_exactly(tmp_path, name):
    """Stop after 2 steps and resume to 4: every model's weights and the family's extra state
    (image pools, random generators, counters) equal an uninterrupted 4-step run."""
    tf.config.experimental.enable_op_determinism()
    family, config = family_and_config(name)
    whole, result = fit(family, config, tmp_path / "whole", 2 * STEPS)
    assert result.step == 2 * STEPS and result.losses
    assert all(math.isfinite(v) for v in result.losses.values()), result.losses
    assert whole.steps_per_epoch == fresh_data(family, config)[1]
    _, first = fit(family, config, tmp_path / "split", STEPS)
    assert first.step == STEPS
    resumed, second = fit(family, config, tmp_path / "split", 2 * STEPS)
    assert second.resumed_from and second.step == 2 * STEPS
    expected, got = weights(whole), weights(resumed)
    assert set(expected) == set(got)
    for item in expected:
        assert len(expected[item]) == len(got[item])
        for i, (a, b) in enumerate(zip(expected[item], got[item])):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}: {item} value {i} after resuming")


@pytest.mark.parametrize("name", NAMES)
def test_a_trainer_refuses_another_schedule_than_the_loop(tmp_path, name):
    family, config = family_and_config(name)
    trainer = family.trainer(config, steps_per_epoch=7)
    with pytest.raises(ValueError, match="steps_per_epoch=7"):
        training.fit(trainer, lambda epoch: None, tmp_path, steps_per_epoch=5, total_steps=1, progress=False)


@pytest.mark.parametrize("name", NAMES)
def test_the_checkpoint_holds_models_optimizers_seed_states_and_extra_state(name):
    family, config = family_and_config(name)
    trainer = family.trainer(config, steps_per_epoch=3)
    items = trainer.checkpoint_items()
    assert set(trainer.models) <= set(items)
    assert trainer.optimizers and set(trainer.optimizers) <= set(items)
    assert "seed_states" in items and set(trainer.extra_state()) <= set(items)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_cli_train_resume_sample_and_use(tmp_path, capsys, name):
    """``train`` writes config, checkpoint and sample grid; then the run translates and exports
    (or, generating, refuses to translate and exports its generator)."""
    family, config = family_and_config(name)
    run_dir = tmp_path / "run"
    train = ["train", name, "--dataset", family.demo.dataset, "--run-dir", str(run_dir), "--no-progress",
             *config_flags(family, config)]
    assert cli.main([*train, "--steps", str(STEPS), "--sample-every", str(STEPS)]) == 0
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["family"] == name and saved["batch_size"] == config.batch_size
    grid = run_dir / "samples" / f"step_{STEPS:07d}.png"
    assert grid.exists()
    # Resuming through the CLI with the saved settings is checked for every family by
    # tests/test_legacy_runs.py (on run folders of the previous layout), so it is not repeated here.

    loaded, generators = runs.load_generators(run_dir)
    assert loaded is family and tuple(generators) == family.generator_names
    trainer = family.trainer(config, steps_per_epoch=1)
    dataset_fn, _ = fresh_data(family, config)
    batch = next(iter(dataset_fn(0)))
    columns = trainer.sample(batch)
    assert tuple(columns) == family.columns(config)
    # the grid is labelled as the family declares: a heading of its own for every column, tiles
    # of at least 128 px, a row per example (at most SAMPLE_ROWS) or per declared row title
    assert set(columns) <= set(family.column_titles), f"{name}: declare column_titles for {set(columns)}"
    assert len(set(family.grid_titles(columns))) == len(columns)
    row_titles = family.grid_rows(config)
    examples = next(iter(columns.values())).shape[0]
    rows = len(row_titles) if row_titles else min(examples, SAMPLE_ROWS)
    height = next(iter(columns.values())).shape[1]
    assert_grid_shape(grid, len(columns), rows, tile=height * math.ceil(128 / height), row_titles=bool(row_titles))
    assert_report_complete(run_dir / "report.html")

    image = tmp_path / "photo.png"
    translate = ["translate", "--run-dir", str(run_dir), "--input", str(image), "--output", str(tmp_path / "out")]
    maps = family.map_inputs(config, clusters={}) if family.map_inputs else None
    if maps is None:  # a photo
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (36, 44, 3), np.uint8)).save(image)
    else:  # a label map of the run's classes (and its instance map): what such a run translates
        labels = np.random.default_rng(0).integers(0, config.label_nc, (36, 44), np.uint8)
        Image.fromarray(labels).save(image)
        (tmp_path / "instances").mkdir()
        Image.fromarray(labels.astype(np.uint16) * 1000 + 1).save(tmp_path / "instances" / "photo.png")
        translate += ["--instances", str(tmp_path / "instances")]
    if family.translates:
        for direction in family.directions:
            assert cli.main([*translate, "--direction", direction, "--overwrite"]) == 0
            assert Image.open(tmp_path / "out" / "photo.png").size == (44, 36)
    else:
        assert cli.main(translate) == 2
        assert "do not translate" in capsys.readouterr().err
    assert cli.main(["export", "--run-dir", str(run_dir), "--output", str(tmp_path / "export")]) == 0
    info = json.loads((tmp_path / "export" / "export.json").read_text())
    assert info["family"] == name and set(info["generators"]) == set(family.generator_names)
    for generator in family.generator_names:
        assert (tmp_path / "export" / f"{generator}.keras").exists()
