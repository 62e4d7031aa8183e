"""One command for a GPU machine: our CycleGAN step against PyTorch's, on the same GPU.

    python benchmarks/gpu.py                 # on a machine with a GPU, TensorFlow and PyTorch (about 8 min)
    python benchmarks/gpu.py --dry-run       # anywhere: the same plumbing on the CPU at 32 px, in seconds

Each configuration runs in its own process (so its peak memory is its own), at 256 px, batch 1,
the paper's ResNet-9 generators and 70x70 PatchGANs:

- ours, the bare compiled step (``tf.function(trainer.train_step)``): ``float32``,
  ``mixed_float16`` (loss scaling), ``float32`` with XLA (``jit_compile``) and ``mixed_float16``
  with XLA;
- ours through the real ``training.fit`` (run folder, logs every 50 steps, progress bar,
  ``tf.data`` input), in float32 and mixed_float16, at ``--steps-per-call`` 1 and 8;
- PyTorch's step (``../shared/bench/torch_cyclegan_step.py``'s networks, in a CUDA step written
  here): float32 and AMP (``torch.autocast("cuda", torch.float16)`` with a ``GradScaler``), in
  the faster of NCHW and channels_last.

The last line is one JSON object: the GPU's name, the versions, and per configuration the step
in ms, images/s, the first step, the peak GPU memory; then ratios of ours to PyTorch at the same
precision. ``--dry-run`` runs three of our rows (bare float32, XLA, fit in mixed_float16 at 8 steps
per call) on the CPU at 32 px with 8 filters for a few steps, in one process (PyTorch only where it is installed), so the script is tested where no
GPU is.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_BENCH = Path(os.environ.get("TFGAN_SHARED_BENCH", REPO.parent / "shared" / "bench"))
BASELINE = SHARED_BENCH / "torch_cyclegan_step.py"  # PyTorch's networks: the project's shared baseline
OURS = [
    {"name": "tf_fp32", "precision": "float32", "jit": False},
    {"name": "tf_fp16", "precision": "mixed_float16", "jit": False},
    {"name": "tf_fp32_xla", "precision": "float32", "jit": True},
    {"name": "tf_fp16_xla", "precision": "mixed_float16", "jit": True},
    {"name": "tf_fit_fp32", "precision": "float32", "jit": False, "fit": True, "steps_per_call": 1},
    {"name": "tf_fit_fp16", "precision": "mixed_float16", "jit": False, "fit": True, "steps_per_call": 1},
    {"name": "tf_fit_fp16_k8", "precision": "mixed_float16", "jit": False, "fit": True, "steps_per_call": 8},
]
DRY_RUN_ROWS = ("tf_fp32", "tf_fp32_xla", "tf_fit_fp16_k8")  # bare, XLA, fit with loss scaling and K > 1
THEIRS = [{"name": "torch_fp32", "amp": False}, {"name": "torch_amp", "amp": True}]
PAIRS = {"tf_fp32": "torch_fp32", "tf_fp16": "torch_amp", "tf_fp32_xla": "torch_fp32", "tf_fp16_xla": "torch_amp",
         "tf_fit_fp32": "torch_fp32", "tf_fit_fp16": "torch_amp", "tf_fit_fp16_k8": "torch_amp"}


def settings(dry_run):
    if dry_run:
        return {"size": 32, "ngf": 8, "ndf": 8, "n_blocks": 1, "steps": 2, "fit_steps": 10}
    return {"size": 256, "ngf": 64, "ndf": 64, "n_blocks": 9, "steps": 30, "fit_steps": 60}


# ---- one configuration, in its own process -------------------------------------------------------


def run_ours(spec, s, dry_run):
    """Our step: ``{"step_ms", "first_step_s", "peak_memory_mb", ...}``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if dry_run:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import tensorflow as tf

    from tfgan_translate import cyclegan, training
    from tfgan_translate.training import distribute

    distribute.set_precision(spec["precision"])
    config = cyclegan.Config(image_size=s["size"], ngf=s["ngf"], ndf=s["ndf"], n_blocks=s["n_blocks"], batch_size=1)
    trainer = cyclegan.Trainer(config, steps_per_epoch=16)
    shape = (16, s["size"], s["size"], 3)
    a, b = tf.random.uniform(shape, -1, 1, seed=1), tf.random.uniform(shape, -1, 1, seed=2)
    device = "GPU:0" if tf.config.list_physical_devices("GPU") else None
    if device:
        tf.config.experimental.reset_memory_stats(device)
    if spec.get("fit"):
        def dataset_fn(epoch):
            return tf.data.Dataset.from_tensor_slices({"a": a, "b": b}).batch(1).prefetch(2)

        with tempfile.TemporaryDirectory() as run_dir:
            started = time.perf_counter()
            result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=16, total_steps=s["fit_steps"],
                                  log_every=50, sample_every=0, checkpoint_every=0, progress=True,
                                  steps_per_call=spec["steps_per_call"], jit_compile=spec["jit"])
            wall = time.perf_counter() - started
        step_ms = 1000 / result.steady_images_per_second
        first_step_s = result.first_call_seconds
        extra = {"fit_wall_s": round(wall, 2), "tracings": result.step_tracings}
    else:
        step = tf.function(trainer.train_step, jit_compile=spec["jit"], reduce_retracing=True)
        batch = {"a": a[:1], "b": b[:1]}
        started = time.perf_counter()
        float(step(batch)["d_a"])
        first_step_s = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(s["steps"]):
            losses = step(batch)
        float(losses["d_a"])  # waits for the device
        step_ms = 1000 * (time.perf_counter() - started) / s["steps"]
        extra = {"tracings": step.experimental_get_tracing_count()}
    peak = tf.config.experimental.get_memory_info(device)["peak"] / 2**20 if device else None
    return {"step_ms": round(step_ms, 2), "images_per_s": round(2000 / step_ms, 2), "first_step_s": round(first_step_s, 2),
            "peak_memory_mb": None if peak is None else round(peak, 1), "device": device or "CPU",
            "tensorflow": tf.__version__, **extra}


def run_theirs(spec, s, dry_run):
    """PyTorch's step on the GPU (or the CPU in a dry run), in the faster of its two layouts."""
    import torch

    sys.path.insert(0, str(SHARED_BENCH))
    from torch_cyclegan_step import patch_d, resnet_g  # the shared baseline's networks

    cuda = torch.cuda.is_available() and not dry_run
    device = torch.device("cuda" if cuda else "cpu")
    results = {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        G, F = resnet_g(s["ngf"], s["n_blocks"]).to(device), resnet_g(s["ngf"], s["n_blocks"]).to(device)
        DX, DY = patch_d(ndf=s["ndf"]).to(device), patch_d(ndf=s["ndf"]).to(device)
        x = torch.randn(1, 3, s["size"], s["size"], device=device)
        y = torch.randn(1, 3, s["size"], s["size"], device=device)
        if channels_last:
            for model in (G, F, DX, DY):
                model.to(memory_format=torch.channels_last)
            x, y = (t.contiguous(memory_format=torch.channels_last) for t in (x, y))
        g_opt = torch.optim.Adam(list(G.parameters()) + list(F.parameters()), 2e-4, betas=(0.5, 0.999))
        d_opt = torch.optim.Adam(list(DX.parameters()) + list(DY.parameters()), 2e-4, betas=(0.5, 0.999))
        amp = spec["amp"] and cuda
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        mse, l1 = torch.nn.MSELoss(), torch.nn.L1Loss()

        def step():
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                fy, fx = G(x), F(y)
                for p in list(DX.parameters()) + list(DY.parameters()):
                    p.requires_grad_(False)
                py, px = DY(fy), DX(fx)
                g_loss = (mse(py, torch.ones_like(py)) + mse(px, torch.ones_like(px))
                          + 10 * (l1(F(fy), x) + l1(G(fx), y)) + 5 * (l1(G(y), y) + l1(F(x), x)))
            g_opt.zero_grad()
            scaler.scale(g_loss).backward()
            scaler.step(g_opt)
            for p in list(DX.parameters()) + list(DY.parameters()):
                p.requires_grad_(True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
                ry, fy_, rx, fx_ = DY(y), DY(fy.detach()), DX(x), DX(fx.detach())
                d_loss = 0.5 * (mse(ry, torch.ones_like(ry)) + mse(fy_, torch.zeros_like(fy_))) \
                    + 0.5 * (mse(rx, torch.ones_like(rx)) + mse(fx_, torch.zeros_like(fx_)))
            d_opt.zero_grad()
            scaler.scale(d_loss).backward()
            scaler.step(d_opt)
            scaler.update()

        def sync():
            if cuda:
                torch.cuda.synchronize()

        if cuda:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        step()
        sync()
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(s["steps"]):
            step()
        sync()
        step_ms = 1000 * (time.perf_counter() - started) / s["steps"]
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
        results["channels_last" if channels_last else "nchw"] = {
            "step_ms": round(step_ms, 2), "first_step_s": round(first, 2),
            "peak_memory_mb": None if peak is None else round(peak, 1)}
    layout, best = min(results.items(), key=lambda item: item[1]["step_ms"])
    return {**best, "images_per_s": round(2000 / best["step_ms"], 2), "layout": layout,
            "step_ms_by_layout": {k: v["step_ms"] for k, v in results.items()}, "device": device.type,
            "torch": torch.__version__, "amp": amp}


# ---- the driver --------------------------------------------------------------------------------


def in_process(kind, spec, dry_run):
    if dry_run and kind == "ours":  # the plumbing only: one process saves a TensorFlow start per row
        try:
            return run_ours(spec, settings(True), True)
        except Exception as error:  # noqa: BLE001 - reported in the row, as a subprocess's failure is
            return {"error": f"{type(error).__name__}: {error}"}
    command = [sys.executable, __file__, "--one", json.dumps({"kind": kind, "spec": spec})] + (["--dry-run"] * dry_run)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def gpu_name():
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
        return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def torch_available():
    done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True)
    return done.returncode == 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="on the CPU at 32 px: the plumbing, not figures")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    s = settings(args.dry_run)
    if args.one:
        job = json.loads(args.one)
        run = run_ours if job["kind"] == "ours" else run_theirs
        print(json.dumps(run(job["spec"], s, args.dry_run)))
        return
    started = time.perf_counter()
    results = {}
    for spec in OURS:
        if args.dry_run and spec["name"] not in DRY_RUN_ROWS:
            continue
        results[spec["name"]] = in_process("ours", spec, args.dry_run)
        print(f"{spec['name']}: {results[spec['name']]}", file=sys.stderr)
    if not BASELINE.exists():
        for spec in THEIRS:
            results[spec["name"]] = {"error": f"the PyTorch baseline {BASELINE} is missing (it lives in ../shared/bench "
                                              "beside the checkout; TFGAN_SHARED_BENCH names another folder)"}
    elif torch_available():
        for spec in THEIRS:
            results[spec["name"]] = in_process("theirs", spec, args.dry_run)
            print(f"{spec['name']}: {results[spec['name']]}", file=sys.stderr)
    else:
        for spec in THEIRS:
            results[spec["name"]] = {"error": "torch is not installed in this Python"}
    ratios = {f"{ours}/{theirs}": round(results[ours]["step_ms"] / results[theirs]["step_ms"], 3)
              for ours, theirs in PAIRS.items()
              if "step_ms" in results.get(ours, {}) and "step_ms" in results.get(theirs, {})}
    print(json.dumps({"gpu": gpu_name(), "dry_run": args.dry_run, **s, "batch": 1, "results": results,
                      "ours_over_torch_step": ratios, "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
