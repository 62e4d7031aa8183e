"""Run folders written before the family-contract redesign still resume exactly and translate.

``tests/fixtures/legacy_runs/<family>`` was made by the code of commit c3d8743 with
``tests/fixtures/make_legacy_runs.sh`` (2 steps of each family's tiny run); ``<family>_expected.npz``
holds that code's generator weights after the same command ran 4 steps without a stop.

The resume runs the CLI in its own process, as a user does: the batches of the demo datasets
depend on TensorFlow's global seed at the time they are made, which this test process has set.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tfgan_translate import cli, runs

FIXTURES = Path(__file__).parent / "fixtures" / "legacy_runs"
DATASETS = {"pix2pix": "demo-paired", "cyclegan": "demo-unpaired", "discogan": "demo-unpaired",
            "dualgan": "demo-unpaired", "pix2pixhd": "demo-gray2color", "cgan": "digits", "infogan": "digits"}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(DATASETS))
def test_a_run_written_by_the_old_layout_resumes_exactly_and_translates(tmp_path, family):
    run_dir = tmp_path / family
    shutil.copytree(FIXTURES / family, run_dir)
    command = [sys.executable, "-m", "tfgan_translate.app.cli", "train", family, "--dataset", DATASETS[family],
               "--run-dir", str(run_dir), "--steps", "4", "--checkpoint-every", "0", "--sample-every", "0",
               "--log-every", "1", "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming" in done.stdout and "at step 2" in done.stdout, done.stdout
    assert (run_dir / "checkpoints" / "ckpt-4.index").exists()
    expected = np.load(FIXTURES / f"{family}_expected.npz")
    loaded_family, generators = runs.load_generators(run_dir)
    assert loaded_family.name == family
    for name, generator in generators.items():
        for i, weight in enumerate(generator.get_weights()):
            np.testing.assert_array_equal(weight, expected[f"{name}/{i}"], err_msg=f"{family} {name} weight {i}")
    if loaded_family.translates:
        image = tmp_path / "in.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 36, 3), np.uint8)).save(image)
        assert cli.main(["translate", "--run-dir", str(run_dir), "--input", str(image),
                         "--output", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / "in.png").size == (36, 40)
