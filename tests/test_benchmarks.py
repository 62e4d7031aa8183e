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
def test_cut_benchmark_reports_steps_quality_and_memory():
    """The script's plumbing (its figures come from running it): one model for 1 s at the demo size
    and one 32 px reference step, each in its own process, every figure present and plausible."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cut_vs_cyclegan.py"), "--budget", "1", "--models", "fastcut",
         "--reference-size", "32", "--reference-steps", "1"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (row,) = result["results"]
    assert row["model"] == "fastcut" and row["steps"] > 1 and row["step_ms"] > 0 and row["peak_rss_mb"] > 100
    assert row["identity_psnr_db"] > 10 and set(row["losses"]) == {"g_gan", "d", "nce"}
    (reference,) = result["reference"]
    assert reference["size"] == 32 and reference["first_step_s"] > reference["step_s"] > 0



@pytest.mark.slow
def test_gpu_benchmark_dry_run_reports_each_row_and_its_ratio():
    """``benchmarks/gpu.py --dry-run``: the GPU command's plumbing on the CPU (bare step, XLA, the
    real fit with loss scaling at 8 steps per call; PyTorch's rows where torch is installed)."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--dry-run"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dry_run"] and report["gpu"] is None
    rows = report["results"]
    for name in ("tf_fp32", "tf_fp32_xla", "tf_fit_fp16_k8"):
        assert "error" not in rows[name], rows[name]
        assert rows[name]["step_ms"] > 0 and rows[name]["first_step_s"] > 0 and rows[name]["tracings"] == 1, name
    assert rows["tf_fit_fp16_k8"]["fit_wall_s"] > 0
    torch_rows = [rows[name] for name in ("torch_fp32", "torch_amp")]
    if any("error" in row for row in torch_rows):  # torch or the shared baseline absent: said so, no ratio made up
        assert all(row["error"] == "torch is not installed in this Python"
                   or row["error"].startswith("the PyTorch baseline") for row in torch_rows), torch_rows
        assert report["ours_over_torch_step"] == {}
    else:
        assert report["ours_over_torch_step"]["tf_fp32/torch_fp32"] == pytest.approx(
            rows["tf_fp32"]["step_ms"] / rows["torch_fp32"]["step_ms"], abs=0.002)
