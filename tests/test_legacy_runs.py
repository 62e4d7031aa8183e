"""Run folders written before the family-contract redesign still resume exactly and translate.

``tests/fixtures/legacy_runs/<family>`` was made by the code of commit c3d8743 with
``tests/fixtures/make_legacy_runs.sh`` (2 steps of each family's tiny run); ``<family>_expected.npz``
holds that code's generator weights after the same command ran 4 steps without a stop.

"Exactly" is checked on what the generators compute (their outputs on fixed inputs), not on
every weight: a bias followed by instance or batch normalisation has a gradient that is zero
but for rounding, which Adam scales up to learning-rate-sized steps, so its value depends on
the summation order of the kernels TensorFlow picks (op determinism, CPU type), while the
normalisation removes it from the output. The test also checks that it can fail: the two
steps of the resume change the outputs by far more than its tolerance.

The resume starts from TensorFlow's unset global seed, as a fresh ``tfgan-translate`` process
does: the first epoch's batches are made before the models (whose building seeds TensorFlow),
and tf.data's seeded shuffles depend on the global seed (which this test process has set).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgan_translate import cli, runs

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_runs"
DATASETS = {"pix2pix": "demo-paired", "cyclegan": "demo-unpaired", "discogan": "demo-unpaired",
            "dualgan": "demo-unpaired", "pix2pixhd": "demo-gray2color", "cgan": "digits", "infogan": "digits"}
TOLERANCE = 2e-5  # outputs in [-1, 1]: summation order moved them by up to 5e-6, steps 3-4 by 6e-4 or more


def fixed_inputs(generator):
    """The same random inputs (images, or noise and codes) for every call on this generator."""
    rng = np.random.default_rng(7)
    return [rng.uniform(-1, 1, [2] + [32 if n is None else n for n in t.shape[1:]]).astype(np.float32)
            for t in generator.inputs]


def outputs(generators):
    return {name: np.asarray(g(fixed_inputs(g), training=False)) for name, g in generators.items()}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(DATASETS))
def test_a_run_written_by_the_old_layout_resumes_exactly_and_translates(tmp_path, capsys, family):
    run_dir = tmp_path / family
    shutil.copytree(FIXTURES / family, run_dir)
    _, generators = runs.load_generators(run_dir)
    before = outputs(generators)  # step 2, as the old code left it
    tf.random.set_seed(None)
    code = cli.main(["train", family, "--dataset", DATASETS[family], "--run-dir", str(run_dir), "--steps", "4",
                     "--checkpoint-every", "0", "--sample-every", "0", "--log-every", "1", "--no-progress"])
    assert code == 0
    assert "resuming" in capsys.readouterr().out
    assert (run_dir / "checkpoints" / "ckpt-4.index").exists()
    loaded_family, generators = runs.load_generators(run_dir)
    assert loaded_family.name == family
    got = outputs(generators)
    saved = np.load(FIXTURES / f"{family}_expected.npz")
    for name, generator in generators.items():
        generator.set_weights([saved[f"{name}/{i}"] for i in range(len(generator.get_weights()))])
    expected = outputs(generators)
    for name in expected:
        assert np.abs(expected[name] - before[name]).max() > 10 * TOLERANCE, f"{family} {name}: steps 3-4 changed nothing"
        np.testing.assert_allclose(got[name], expected[name], rtol=0, atol=TOLERANCE,
                                   err_msg=f"{family} {name}: outputs after resuming")
    if loaded_family.translates:
        image = tmp_path / "in.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 36, 3), np.uint8)).save(image)
        assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(image),
                         "--output", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / "in.png").size == (36, 40)
