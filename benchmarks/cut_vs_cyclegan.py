"""CUT, FastCUT and CycleGAN trained for the same wall-clock budget on the known-mapping demo task.

Each model trains its demo preset (``<family>.FAMILY.demo.config``: 32 px, the same ResNet
generator with 3 blocks and 16 filters, batch 4) on ``demo-unpaired`` for ``--budget`` seconds
of training after its first (tracing) step, in its own process, one after the other (never two
at once: 2 cores). The learning-rate schedule is fitted to the budget: a short warm-up measures
the step time, and the run then uses half its expected steps at the full rate and half
decaying linearly, as the presets do over their epochs.

Reported per model: steps done, median step time, images/s, the known-mapping PSNR of G(a)
and its gain over the identity guess (the input itself), and the process's peak resident
memory (TensorFlow's runtime and the warm-up trainer included: at 32 px it is mostly the
runtime, so the memory comparison that means something is the one at 256 px below).

At 32 px the generator is tiny and a step is dominated by per-operation overhead and, for
CUT, by its fixed-size PatchNCE head (256 patches x 5 layers through two 256-unit layers,
whatever the image size), so the paper's speed claim is measured apart, at the paper's size
(``--reference-size 256``): one step of each reference configuration (resnet_9blocks, ngf 64,
batch 1) in its own process, first step and median step time, and peak memory. The CUT paper
reports 0.24 s (CUT) and 0.15 s (FastCUT) against CycleGAN's 0.40 s per iteration on its GPU;
here the ratios are measured in one run on one machine.

    python benchmarks/cut_vs_cyclegan.py                       # 300 s each + 256 px steps (about 20 minutes)
    python benchmarks/cut_vs_cyclegan.py --budget 20 --reference-size 0   # a quick look

Ends with one JSON line.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ("cyclegan", "cut", "fastcut")
WARMUP_STEPS = 10


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(name, budget):
    """Train ``name``'s demo preset for ``budget`` seconds; returns its figures."""
    import dataclasses

    from tfgan_translate import families, runs
    from tfgan_translate.training import distribute

    family = families.get(name)
    preset = family.demo.config
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(family, "demo-unpaired", preset)
    batches = iter(dataset_fn(0).repeat())

    probe = family.trainer(preset, steps_per_epoch=steps_per_epoch)
    probe_step = distribute.step_function(probe.train_step)
    started = time.perf_counter()
    [float(v) for v in probe_step(next(batches))[0].values()]
    first_step_s = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(WARMUP_STEPS):
        losses, _ = probe_step(next(batches))
    [float(v) for v in losses.values()]
    estimate = (time.perf_counter() - started) / WARMUP_STEPS
    epochs = max(2, round(budget / estimate / steps_per_epoch))
    config = dataclasses.replace(preset, n_epochs=epochs // 2, n_epochs_decay=epochs - epochs // 2)
    del probe, probe_step

    trainer = family.trainer(config, steps_per_epoch=steps_per_epoch)
    step = distribute.step_function(trainer.train_step)
    [float(v) for v in step(next(batches))[0].values()]  # trace (not counted in the budget)
    times, steps, deadline = [], 1, time.perf_counter() + budget
    while time.perf_counter() < deadline and steps < (config.n_epochs + config.n_epochs_decay) * steps_per_epoch:
        begun = time.perf_counter()
        losses, _ = step(next(batches))
        [float(v) for v in losses.values()]  # wait for the step (and check it is a number)
        times.append(time.perf_counter() - begun)
        steps += 1
    quality = family.demo.quality(trainer)
    step_s = statistics.median(times)
    return {
        "model": name, "budget_s": budget, "steps": steps, "first_step_s": round(first_step_s, 2),
        "step_ms": round(1000 * step_s, 2), "images_per_s": round(config.batch_size / step_s, 1),
        "psnr_db": quality["psnr_db"], "identity_psnr_db": quality["identity_psnr_db"],
        "psnr_gain_db": quality["psnr_gain_db"], "peak_rss_mb": round(peak_rss_mb()),
        "losses": {k: round(float(v), 4) for k, v in losses.items()},
    }


def reference_worker(name, size, steps):
    """Step time and peak memory of ``name``'s reference configuration at ``size`` px, batch 1."""
    import tensorflow as tf

    from tfgan_translate import families
    from tfgan_translate.training import distribute

    family = families.get(name)
    trainer = family.trainer(family.config(image_size=size), steps_per_epoch=1000)
    batch = {"a": tf.random.uniform([1, size, size, 3], -1, 1, seed=1),
             "b": tf.random.uniform([1, size, size, 3], -1, 1, seed=2)}
    step = distribute.step_function(trainer.train_step)
    started = time.perf_counter()
    [float(v) for v in step(batch)[0].values()]
    first = time.perf_counter() - started
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        [float(v) for v in step(batch)[0].values()]
        times.append(time.perf_counter() - started)
    return {"model": name, "size": size, "first_step_s": round(first, 2),
            "step_s": round(statistics.median(times), 3), "peak_rss_mb": round(peak_rss_mb())}


def run_worker(*args):
    output = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300, help="training seconds per model (default: %(default)s)")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated, from " + ", ".join(MODELS))
    parser.add_argument("--reference-size", type=int, default=256,
                        help="also time one step of each reference configuration at this size; 0: skip (default: %(default)s)")
    parser.add_argument("--reference-steps", type=int, default=3, help="timed steps at --reference-size (default: %(default)s)")
    parser.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    parser.add_argument("--reference-worker", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.budget)))
        return 0
    if args.reference_worker:
        print(json.dumps(reference_worker(args.reference_worker, args.reference_size, args.reference_steps)))
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or args.budget <= 0:
        parser.error(f"--models from {', '.join(MODELS)} and --budget > 0 (got {args.models!r}, {args.budget})")
    results = []
    for name in models:  # one after the other, each in its own process (its own peak memory)
        results.append(run_worker("--worker", name, "--budget", args.budget))
        r = results[-1]
        print(f"{name:9s} {r['steps']:6d} steps  {r['step_ms']:8.1f} ms/step  {r['images_per_s']:6.1f} img/s  "
              f"PSNR {r['psnr_db']:.2f} dB ({r['psnr_gain_db']:+.2f} over identity)  peak RSS {r['peak_rss_mb']} MB",
              flush=True)
    reference = []
    for name in models if args.reference_size else ():
        reference.append(run_worker("--reference-worker", name, "--reference-size", args.reference_size,
                                    "--reference-steps", args.reference_steps))
        r = reference[-1]
        print(f"{name:9s} at {r['size']} px, reference config, batch 1: {r['step_s']:.3f} s/step (first step "
              f"{r['first_step_s']} s), peak RSS {r['peak_rss_mb']} MB", flush=True)
    ratios = {}
    for label, rows, key in (("demo", results, "step_ms"), ("reference", reference, "step_s")):
        by_name = {r["model"]: r for r in rows}
        for name in ("cut", "fastcut"):
            if name in by_name and "cyclegan" in by_name:
                ratio = ratios[f"{label}_{name}_over_cyclegan_step"] = round(by_name[name][key] / by_name["cyclegan"][key], 3)
                memory = ratios[f"{label}_{name}_over_cyclegan_peak_rss"] = round(
                    by_name[name]["peak_rss_mb"] / by_name["cyclegan"]["peak_rss_mb"], 3)
                print(f"{label}: {name} step / cyclegan step {ratio:.3f}, peak memory ratio {memory:.3f}")
    print(json.dumps({"budget_s": args.budget, "cpu_count": os.cpu_count(), "results": results,
                      "reference": reference, **ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
