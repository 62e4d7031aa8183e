"""Runs that survive kills and misuse: SIGKILL + resume, kill mid-save, the run lock,
config mismatches, damaged checkpoints and full disks; nothing the user has is lost."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfgan_translate import cli
from tfgan_translate.training import CheckpointWriteError, RunCheckpoint, RunLock, RunLockedError

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "fault_injection.py"
TINY = ["--image-size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--batch-size", "4",
        "--no-progress", "--sample-every", "0"]


def run_script(*args, timeout):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=REPO)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stdout)
    return json.loads(done.stdout.strip().splitlines()[-1])


def snapshot(folder):
    """Every file below ``folder`` with its content hash: to prove nothing was touched."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.name != ".lock"}


@pytest.mark.slow
def test_three_sigkills_then_resume_reach_the_final_step(tmp_path):
    result = run_script("kill-train", "--run-dir", str(tmp_path / "run"), "--kills", "3", "--steps", "60",
                        "--checkpoint-every", "5", "--time-limit", "420", timeout=480)
    assert result["kills"] == 3
    assert result["final_step"] == 60
    assert result["losses_finite"] and result["checkpoint_loads"]
    # A kill loses at most the steps since the last checkpoint (every 5), give or take the
    # progress bar's refresh; the total is printed above and in the JSON line.
    assert all(event["resumed_at"] % 5 == 0 for event in result["events"])
    assert all(event["resumed_at"] >= event["started_at"] for event in result["events"])
    print(f"steps redone after 3 SIGKILLs: {result['steps_redone']}")


@pytest.mark.slow
def test_sigkill_during_a_checkpoint_save_keeps_the_previous_one_loadable(tmp_path):
    result = run_script("kill-save", "--run-dir", str(tmp_path), timeout=240)
    assert result["killed_mid_save"], "the save always finished before the kill; the test did not test anything"
    assert result["restored"] == "ckpt-1" and result["values_ok"]


def test_run_lock_refuses_a_second_holder_and_names_it(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match=rf"in use by process {os.getpid()} on "):
            RunLock(tmp_path).acquire()
    messages = []
    with RunLock(tmp_path, log=messages.append):  # released cleanly: nothing stale to report
        pass
    assert messages == []


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(json.dumps({"pid": 999_999_999, "host": "elsewhere", "started": 0}))
    messages = []
    with RunLock(tmp_path, log=messages.append):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert len(messages) == 1 and "stale lock" in messages[0] and "999999999" in messages[0]


@pytest.mark.slow
def test_second_training_into_a_busy_run_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    child = subprocess.Popen(
        [sys.executable, "-m", "tfgan_translate", "train", "cyclegan", "--dataset", "demo-unpaired",
         "--run-dir", str(run_dir), "--steps", "100000", "--checkpoint-every", "0", *TINY],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = run_dir / ".lock"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if lock.exists() and f'"pid": {child.pid}' in lock.read_text():
                break
            assert child.poll() is None, "the first training exited early"
            time.sleep(0.1)
        else:
            pytest.fail("the first training never took the lock")
        argv = ["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run_dir), "--steps", "2", *TINY]
        assert cli.main(argv) == 2
        assert f"in use by process {child.pid}" in capsys.readouterr().err
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    # The killed process left its lock file behind; the next training takes it over.
    assert cli.main(argv) == 0
    assert "taking over the stale lock" in capsys.readouterr().out


@pytest.mark.slow
def test_config_mismatch_lists_differences_and_new_run_leaves_the_old_one_alone(tmp_path, capsys):
    run_dir = tmp_path / "run"
    base = ["train", "cyclegan", "--dataset", "demo-unpaired", "--run-dir", str(run_dir), "--steps", "1"]
    assert cli.main([*base, *TINY]) == 0
    before = snapshot(run_dir)
    capsys.readouterr()
    changed = [*base, *TINY, "--ngf", "8", "--image-size", "64"]  # later flags win
    assert cli.main(changed) == 2
    error = capsys.readouterr().err
    assert "image_size: 32 -> 64" in error and "ngf: 4 -> 8" in error and "--new-run" in error
    assert snapshot(run_dir) == before
    assert cli.main([*changed, "--new-run"]) == 0
    assert f"starting a new run in {run_dir}-2" in capsys.readouterr().out
    assert json.loads((tmp_path / "run-2" / "config.json").read_text())["image_size"] == 64
    assert snapshot(run_dir) == before


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    value, step = tf.Variable(0.0), tf.Variable(0, dtype=tf.int64)
    checkpoint = RunCheckpoint({"value": value, "step": step}, tmp_path)
    for n in (1, 2):
        value.assign(float(n))
        step.assign(n)
        checkpoint.save(n)
    data = next((tmp_path / "checkpoints").glob("ckpt-2.data-*"))
    data.write_bytes(data.read_bytes()[:3])  # a half-copied file
    messages = []
    value.assign(-1.0)
    restored = RunCheckpoint({"value": value, "step": step}, tmp_path, log=messages.append).restore_latest()
    assert restored.endswith("ckpt-1") and float(value.numpy()) == 1.0 and int(step.numpy()) == 1
    assert "ckpt-2 could not be loaded" in messages[0]
    assert data.exists()  # nothing deleted


def test_no_loadable_checkpoint_is_a_clear_error(tmp_path):
    value = tf.Variable(0.0)
    RunCheckpoint({"value": value}, tmp_path).save(1)
    for data in (tmp_path / "checkpoints").glob("ckpt-1.data-*"):
        data.write_bytes(b"")
    with pytest.raises(ValueError, match="no checkpoint in .* could be loaded .*left untouched"):
        RunCheckpoint({"value": value}, tmp_path, log=lambda _: None).restore_latest()


def test_a_failed_checkpoint_write_names_the_folder_and_keeps_the_previous(tmp_path, monkeypatch):
    value = tf.Variable(np.float32(1))
    checkpoint = RunCheckpoint({"value": value}, tmp_path)
    checkpoint.save(1)

    def disk_full(**_):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(checkpoint.manager, "save", disk_full)
    with pytest.raises(CheckpointWriteError, match=r"step 2 .*No space left.*ckpt-1 is intact"):
        checkpoint.save(2)
