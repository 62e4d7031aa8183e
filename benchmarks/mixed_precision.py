"""mixed_bfloat16 against float32: quality of the demo CycleGAN and step time, on this machine.

Trains the demo CycleGAN (``cyclegan.FAMILY.demo.config``, ``demo-unpaired``, the demo's steps) once in
float32 and once under ``mixed_bfloat16``, reports both PSNRs against the true mapping of the
known-mapping test split and their difference, then times training steps of both trained
models on one batch, alternating blocks of steps so that both see the same machine load.
The step-time ratio (bfloat16 / float32) depends on the CPU: bfloat16 pays off only where the
matrix units support it (AMX, AVX512_BF16 helps less; TPUs and recent GPUs), and the shared
machines this was measured on make times noisy.

    python benchmarks/mixed_precision.py                  # the demo's 2,000 steps each (CPU minutes)
    python benchmarks/mixed_precision.py --steps 100      # a quick look

Ends with one JSON line.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402

from tfgan_translate import cyclegan, runs, training  # noqa: E402
from tfgan_translate.metrics import demo_quality  # noqa: E402
from tfgan_translate.training import distribute  # noqa: E402


def train(precision, run_dir, steps):
    distribute.set_precision(precision)
    config = cyclegan.FAMILY.demo.config
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(cyclegan.FAMILY, "demo-unpaired", config)
    total = steps or (config.n_epochs + config.n_epochs_decay) * steps_per_epoch
    trainer = distribute.build_trainer(cyclegan.Trainer, config, steps_per_epoch)
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=total,
                          sample_every=0, checkpoint_every=0, log_every=0, progress=False)
    seconds = time.perf_counter() - started
    psnr, identity = demo_quality.known_mapping_psnr(trainer.generators()["generator_ab"])
    return trainer, dataset_fn(0), {"steps": result.step, "train_seconds": round(seconds, 1), "psnr_db": round(psnr, 2),
                                    "identity_psnr_db": round(identity, 2), "losses": result.losses}


def time_steps(trainers, batch, rounds=5, block=10):
    """Median seconds per step of each trainer, blocks of ``block`` steps alternating."""
    steps = {name: distribute.step_function(t.train_step) for name, t in trainers.items()}
    for step in steps.values():  # trace and warm up
        for _ in range(3):
            [float(v) for v in step(batch)[0].values()]
    times = {name: [] for name in trainers}
    for _ in range(rounds):
        for name, step in steps.items():
            started = time.perf_counter()
            for _ in range(block):
                losses, _ = step(batch)
            [float(v) for v in losses.values()]
            times[name].append((time.perf_counter() - started) / block)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="training steps per precision (default: the demo's)")
    parser.add_argument("--output", help="folder for the two runs (default: a temporary folder)")
    args = parser.parse_args()
    output = Path(args.output or tempfile.mkdtemp(prefix="mixed_precision_"))
    print(f"CPU: {os.cpu_count()} cores; bfloat16 support: see the CPU flags (AVX512_BF16 / AMX)")
    trainers, report = {}, {}
    for precision in ("float32", "mixed_bfloat16"):
        trainers[precision], dataset, report[precision] = train(precision, output / precision, args.steps)
        item = report[precision]
        print(f"{precision}: {item['steps']} steps in {item['train_seconds']} s; known-mapping PSNR "
              f"{item['psnr_db']:.2f} dB (identity {item['identity_psnr_db']:.2f} dB)")
    batch = next(iter(dataset))
    per_step = time_steps(trainers, batch)
    difference = report["mixed_bfloat16"]["psnr_db"] - report["float32"]["psnr_db"]
    ratio = per_step["mixed_bfloat16"] / per_step["float32"]
    print(f"PSNR difference (bfloat16 - float32): {difference:+.2f} dB")
    print(f"step time: float32 {per_step['float32'] * 1e3:.1f} ms, mixed_bfloat16 "
          f"{per_step['mixed_bfloat16'] * 1e3:.1f} ms; ratio bf16/float32 {ratio:.2f} (shared machine: noisy)")
    print(json.dumps({
        "float32": report["float32"], "mixed_bfloat16": report["mixed_bfloat16"],
        "psnr_difference_db": round(difference, 2), "within_1db": abs(difference) <= 1.0,
        "step_ms": {k: round(v * 1e3, 2) for k, v in per_step.items()}, "step_time_ratio_bf16_over_fp32": round(ratio, 3),
        "tf": tf.__version__, "output": str(output),
    }))


if __name__ == "__main__":
    main()
