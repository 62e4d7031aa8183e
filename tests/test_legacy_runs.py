"""Run folders written before the family-contract redesign still resume exactly and translate.

``tests/fixtures/legacy_runs/<family>`` was made by the code of commit c3d8743 with
``tests/fixtures/make_legacy_runs.sh`` (2 steps of each family's tiny run); ``<family>_expected.npz``
holds that code's generator weights after the same command ran 4 steps without a stop.

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


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(DATASETS))
def test_a_run_written_by_the_old_layout_resumes_exactly_and_translates(tmp_path, capsys, family):
    run_dir = tmp_path / family
    shutil.copytree(FIXTURES / family, run_dir)
    tf.random.set_seed(None)
    code = cli.main(["train", family, "--dataset", DATASETS[family], "--run-dir", str(run_dir), "--steps", "4",
                     "--checkpoint-every", "0", "--sample-every", "0", "--log-every", "1", "--no-progress"])
    assert code == 0
    assert "resuming" in capsys.readouterr().out
    assert (run_dir / "checkpoints" / "ckpt-4.index").exists()
    expected = np.load(FIXTURES / f"{family}_expected.npz")
    loaded_family, generators = runs.load_generators(run_dir)
    assert loaded_family.name == family
    for name, generator in generators.items():
        for i, weight in enumerate(generator.get_weights()):
            # equal but for summation order (1e-9 here): other tests turn on TF's op determinism,
            # which picks other kernels than the fixture's run had
            np.testing.assert_allclose(weight, expected[f"{name}/{i}"], rtol=0, atol=1e-6,
                                       err_msg=f"{family} {name} weight {i}")
    if loaded_family.translates:
        image = tmp_path / "in.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 36, 3), np.uint8)).save(image)
        assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(image),
                         "--output", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / "in.png").size == (36, 40)
