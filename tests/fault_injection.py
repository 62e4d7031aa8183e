"""Fault injection: real training processes killed with SIGKILL, then resumed.

Two experiments, each printing what happened and, last, one JSON line:

    python tests/fault_injection.py kill-train --run-dir DIR [--kills 5] [--steps 200] [--seed 0]
        Trains the demo CycleGAN (32 px, 16 filters, 3 residual blocks, batch 4) through the CLI,
        SIGKILLs it at random moments ``--kills`` times, resumes after each kill, and checks that
        the last run ends at the final step with finite losses and a checkpoint that loads.
        Prints how many steps each kill cost (steps done after the last checkpoint, redone).

    python tests/fault_injection.py kill-save --run-dir DIR
        SIGKILLs a process while it is writing a (deliberately large) checkpoint, then checks
        that the previous checkpoint is the newest one listed and loads with its values.

``tests/test_reliability.py`` runs both with bounded time; they also run standalone.
"""

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO_FLAGS = ["--image-size", "32", "--ngf", "16", "--ndf", "16", "--n-blocks", "3", "--batch-size", "4",
              "--set", "lambda_identity=0", "--lr", "5e-4"]
PROGRESS = re.compile(r"(\d+)/(\d+) \[")
RESUMED = re.compile(r"resuming .* at step (\d+)")
FINAL = re.compile(r"^step (\d+): (.*?); [\d.]+ images/s", re.MULTILINE)


class TrainingProcess:
    """``tfgan-translate train`` in a child process, with its step read live from the progress bar."""

    def __init__(self, run_dir, steps, checkpoint_every):
        command = [sys.executable, "-m", "tfgan_translate", "train", "cyclegan", "--dataset", "demo-unpaired",
                   "--run-dir", str(run_dir), "--steps", str(steps), "--checkpoint-every", str(checkpoint_every),
                   "--sample-every", "0", "--log-every", "0", *DEMO_FLAGS]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, bufsize=1)
        self.stdout, self.stderr, self.step = [], [], None
        self._threads = [threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
                         threading.Thread(target=self._read_progress, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, sink):
        for line in stream:
            sink.append(line)

    def _read_progress(self):
        buffer = ""
        while True:
            chunk = self.process.stderr.read(1)
            if not chunk:
                break
            buffer += chunk
            if chunk in "\r\n":
                match = PROGRESS.search(buffer)
                if match:
                    self.step = int(match.group(1))
                self.stderr.append(buffer)
                buffer = ""

    def output(self):
        return "".join(self.stdout)

    def wait(self, timeout):
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code


def resumed_step(text):
    match = RESUMED.search(text)
    return int(match.group(1)) if match else 0


def kill_train(run_dir, kills, steps, checkpoint_every, seed, time_limit):
    rng = random.Random(seed)
    started = time.monotonic()
    events = []
    for kill in range(kills):
        child = TrainingProcess(run_dir, steps, checkpoint_every)
        while child.process.poll() is None and (child.step is None or child.step <= resumed_step(child.output())):
            if time.monotonic() - started > time_limit:
                child.process.kill()
                raise SystemExit(f"time limit of {time_limit} s reached before kill {kill + 1}")
            time.sleep(0.02)
        time.sleep(rng.uniform(0.2, 2.0))
        if child.process.poll() is not None:
            raise SystemExit(f"the run finished before kill {kill + 1}; raise --steps")
        at_step = child.step
        child.process.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        start = resumed_step(child.output())
        events.append({"kill": kill + 1, "started_at": start, "killed_near_step": at_step})
        print(f"kill {kill + 1}: process started at step {start}, SIGKILLed near step {at_step}", flush=True)
    final = TrainingProcess(run_dir, steps, checkpoint_every)
    code = final.wait(timeout=max(30, time_limit - (time.monotonic() - started)))
    text = final.output()
    if code != 0:
        raise SystemExit(f"the resumed run failed with exit code {code}:\n{text}\n{''.join(final.stderr)[-2000:]}")
    last_start = resumed_step(text)
    for event, next_start in zip(events, [e["started_at"] for e in events[1:]] + [last_start]):
        event["resumed_at"] = next_start
        event["steps_redone"] = max(0, event["killed_near_step"] - next_start)
    match = FINAL.search(text)
    final_step = int(match.group(1))
    losses = {k: float(v) for k, v in (item.split() for item in match.group(2).split(", "))}
    loads = checkpoint_loads(run_dir, final_step)
    redone = sum(e["steps_redone"] for e in events)
    for event in events:
        print(f"kill {event['kill']}: resumed at step {event['resumed_at']}, "
              f"{event['steps_redone']} step(s) redone")
    print(f"final step {final_step} of {steps}; losses {losses}; checkpoint loads: {loads}; "
          f"{redone} step(s) redone in total over {kills} kills; {time.monotonic() - started:.0f} s")
    return {"experiment": "kill-train", "kills": kills, "final_step": final_step, "target_steps": steps,
            "losses_finite": all(math.isfinite(v) for v in losses.values()), "checkpoint_loads": loads,
            "steps_redone": redone, "events": events}


def checkpoint_loads(run_dir, expected_step):
    """The newest checkpoint of ``run_dir`` is ``ckpt-<expected_step>`` and restores into fresh models."""
    import tensorflow as tf

    from tfgan_translate import runs

    latest = tf.train.latest_checkpoint(str(Path(run_dir) / "checkpoints"))
    runs.load_generators(run_dir)  # raises if it does not load
    return latest is not None and latest.endswith(f"ckpt-{expected_step}")


SAVER = """
import sys, numpy as np, tensorflow as tf
from tfgan_translate.training.checkpoints import RunCheckpoint
big = tf.Variable(tf.zeros([{size}]), name="big")
step = tf.Variable(0, dtype=tf.int64)
checkpoint = RunCheckpoint({{"big": big, "step": step}}, sys.argv[1])
step.assign(1); checkpoint.save(1); print("saved 1", flush=True)
big.assign(tf.ones([{size}])); step.assign(2)
print("saving 2", flush=True)
checkpoint.save(2)
print("saved 2", flush=True)
"""


def kill_save(run_dir, size=48_000_000, attempts=3):
    """SIGKILL during the write of ``ckpt-2`` (192 MB, so the write takes a moment to catch)."""
    import numpy as np
    import tensorflow as tf

    from tfgan_translate.training.checkpoints import RunCheckpoint

    for attempt in range(attempts):
        folder = Path(run_dir) / f"attempt{attempt}"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
        child = subprocess.Popen([sys.executable, "-c", SAVER.format(size=size), str(folder)], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for line in child.stdout:
            if line.startswith("saving 2"):
                break
        directory = folder / "checkpoints"
        deadline = time.monotonic() + 60
        while not any(p.name.startswith("ckpt-2") for p in directory.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        partial = sorted(p.name for p in directory.iterdir() if p.name.startswith("ckpt-2"))
        listed = tf.train.get_checkpoint_state(str(directory))
        if listed is not None and listed.model_checkpoint_path.endswith("ckpt-2"):
            print(f"attempt {attempt + 1}: the save finished before the kill; trying again", flush=True)
            continue
        big = tf.Variable(tf.fill([size], 7.0))
        step = tf.Variable(0, dtype=tf.int64)
        restored = RunCheckpoint({"big": big, "step": step}, folder).restore_latest()
        values_ok = bool(np.all(big.numpy() == 0.0)) and int(step.numpy()) == 1
        print(f"killed during the save of ckpt-2 (left behind: {', '.join(partial) or 'nothing'}); "
              f"restored {restored}: step {int(step.numpy())}, values of ckpt-1: {values_ok}")
        return {"experiment": "kill-save", "killed_mid_save": True, "partial_files": partial,
                "restored": Path(restored).name if restored else None, "values_ok": values_ok}
    return {"experiment": "kill-save", "killed_mid_save": False}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=("kill-train", "kill-save"))
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=600, help="seconds before giving up")
    args = parser.parse_args(argv)
    if args.experiment == "kill-train":
        result = kill_train(args.run_dir, args.kills, args.steps, args.checkpoint_every, args.seed, args.time_limit)
    else:
        result = kill_save(args.run_dir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
