"""The speed benchmark's own behaviour (its figures are measured by running it, see benchmarks/README.md)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_step_benchmark_reports_every_figure_without_retracing():
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--model", "pix2pix", "--size", "32",
         "--steps", "2", "--data", "--torch", "--torch-python", sys.executable],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("step_s", "first_step_s", "images_per_s", "peak_rss_mb", "model_gflop_per_step",
                "flop_utilisation", "pipeline_images_per_s", "data_wait_fraction", "torch_step_s"):
        assert result[key] > 0, key
    assert result["first_step_s"] > result["step_s"]  # tracing is in the first step only
    # the same compiled step for the fixed batch and for every batch of the real pipeline
    assert result["tracing_count"] == result["tracing_count_after_data"] == 1
    assert result["losses_finite"]
    assert 0 <= result["data_wait_fraction"] < 1
    assert result["ours_over_torch_step"] == pytest.approx(result["step_s"] / result["torch_step_s"], rel=0.01)
    assert "torch" in result["torch_version_line"] and "pix2pix" in result["torch_version_line"]


@pytest.mark.slow
def test_cut_benchmark_reports_steps_quality_memory_and_ratios():
    """Two models for 1 s each at the demo size, and one 32 px reference step each: every figure
    is there and the ratios are those of the reported times."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cut_vs_cyclegan.py"), "--budget", "1", "--models",
         "cyclegan,fastcut", "--reference-size", "32", "--reference-steps", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {row["model"]: row for row in result["results"]}
    assert set(rows) == {"cyclegan", "fastcut"}
    for row in rows.values():
        assert row["steps"] > 1 and row["step_ms"] > 0 and row["peak_rss_mb"] > 0
        assert row["psnr_gain_db"] == pytest.approx(row["psnr_db"] - row["identity_psnr_db"], abs=0.02)
    reference = {row["model"]: row for row in result["reference"]}
    assert result["reference_fastcut_over_cyclegan_step"] == pytest.approx(
        reference["fastcut"]["step_s"] / reference["cyclegan"]["step_s"], rel=0.02)
    assert result["demo_fastcut_over_cyclegan_step"] == pytest.approx(
        rows["fastcut"]["step_ms"] / rows["cyclegan"]["step_ms"], rel=0.02)
