"""Train-step speed of the paper-size pix2pix and CycleGAN, with FLOP utilisation.

    python benchmarks/train_step.py --model cyclegan --size 256 [--precision mixed_bfloat16] [--torch] [--data]
    python benchmarks/train_step.py --all      # both models, 256 and 64 px, float32 and bf16, with torch
    python benchmarks/train_step.py --compare [--models cyclegan,pix2pix] [--size 256] [--rounds 2]

Prints, for the paper's configuration (CycleGAN resnet_9blocks + 70x70 PatchGANs with identity
loss; pix2pix unet_256 + conditional PatchGAN) at batch 1:

- ``build_s``: building models and optimizers;
- ``first_step_s``: the first call of the compiled step (tracing + graph optimisation + one run);
- ``step_s`` / ``images_per_s``: the median of the following steps (one image per step per domain);
- ``peak_rss_mb``: the process's peak resident memory (TensorFlow runtime included);
- ``model_gflop_per_step``: FLOPs counted from the layers (see ``count_flops``): each pass that is
  back-propagated costs 3x its forward FLOPs (forward, gradient w.r.t. inputs, w.r.t. weights);
- ``matmul_gflop_s``: dense float32 (or bfloat16) matmul throughput measured in the same run;
- ``flop_utilisation``: model FLOP/s divided by matmul FLOP/s;
- ``tracing_count``: how often the step was traced (1: no retracing).

With ``--data`` the step is also fed from a real input pipeline (JPEG folders written for the
run, decoded with the training jitter): ``pipeline_images_per_s`` (the pipeline alone),
``step_demand_images_per_s`` (images the step consumes per second) and
``data_wait_fraction`` (share of a training step's wall time spent waiting for the next batch).

With ``--torch`` it also runs the PyTorch reference step of the same model
(``../shared/bench/torch_cyclegan_step.py``, or ``benchmarks/torch_pix2pix_step.py``) in its own
virtual environment (``--torch-python``, default: create ``benchmarks/.torch-venv`` with
``torch==2.13.0``) right after ours, at the same precision (our ``mixed_bfloat16`` against its
``torch.autocast("cpu", torch.bfloat16)``) and in the faster of its two layouts (NCHW and
channels_last, both timed), and prints our step time divided by its step time.

``--compare`` is the like-with-like table: for each model, float32 and (on CPUs with bf16 units)
bf16, it alternates ours and PyTorch's (ours, theirs, ours, theirs: ``--rounds``), each in its own
process, so that the machine's drift cancels in each round's ratio, and prints the medians.

``--all`` runs every configuration in its own process (so peak memory is per configuration),
PyTorch once per model and size, and prints a table. The last line is always one JSON object
with every figure.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_translate import cyclegan, pix2pix  # noqa: E402
from tfgan_translate.training import distribute  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TORCH_SCRIPTS = {
    "cyclegan": REPO.parent / "shared" / "bench" / "torch_cyclegan_step.py",
    "pix2pix": REPO / "benchmarks" / "torch_pix2pix_step.py",
}
MODELS, SIZES = ("cyclegan", "pix2pix"), (256, 64)


def conv_flops(model, input_shape):
    """Forward multiply-adds x 2 of every convolution and dense layer of ``model`` on one
    ``input_shape`` (H, W, C) image; other layers (norms, activations, padding) are ignored,
    as in the usual FLOP counts of these networks."""
    fixed = keras.models.clone_model(model, input_tensors=keras.Input(input_shape))
    total = 0
    for layer in fixed.layers:
        if isinstance(layer, keras.layers.Conv2DTranspose):
            _, h, w, c_in = layer.input.shape
            kh, kw = layer.kernel_size
            total += 2 * kh * kw * c_in * layer.filters * h * w
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c_out = layer.output.shape
            c_in = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            total += 2 * kh * kw * c_in * c_out * h * w
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units
    return total


def count_flops(model_name, trainer, size):
    """FLOPs of one training step at batch 1, from the layers (see the module docstring)."""
    if model_name == "cyclegan":
        g = conv_flops(trainer.generator_ab, (size, size, 3))
        d = conv_flops(trainer.discriminator_a, (size, size, 3))
        identity = trainer.config.lambda_identity > 0
        g_passes = 6 if identity else 4  # G(a), F(G(a)), F(b), G(F(b)) (+ G(b), F(a))
        # G step: every G pass and 2 D passes back-propagated; D step: 4 D passes.
        return 3 * (g_passes * g + 2 * d) + 3 * 4 * d
    g = conv_flops(trainer.generator, (size, size, 3))
    d = conv_flops(trainer.discriminator, (size, size, 6))
    # D step: 2 D passes (G's output computed once for both steps); G step: G + 1 D pass.
    return 3 * g + 3 * 2 * d + 3 * d


def matmul_flops_per_second(dtype, n=2048, repeats=10):
    a = tf.random.normal([n, n], dtype=tf.float32)
    a = tf.cast(a, dtype)
    product = tf.function(lambda x: tf.linalg.matmul(x, x))
    product(a).numpy()
    started = time.perf_counter()
    for _ in range(repeats):
        product(a).numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - started)


def build(model_name, size):
    if model_name == "cyclegan":
        return cyclegan.Trainer(cyclegan.Config(image_size=size), steps_per_epoch=1)
    return pix2pix.Trainer(pix2pix.Config(image_size=size), steps_per_epoch=1)


def finite(losses):
    return all(v == v and abs(v) != float("inf") for v in losses.values())


def run_steps(step, batches, count):
    """``count`` calls of ``step`` on batches drawn from ``batches`` (results fetched): the wall
    time of each call, the time each ``next(batches)`` took, and the last losses."""
    times, waits = [], []
    for _ in range(count):
        started = time.perf_counter()
        batch = next(batches)
        waits.append(time.perf_counter() - started)
        started = time.perf_counter()
        losses = {k: float(v) for k, v in step(batch).items()}
        times.append(time.perf_counter() - started)
    return times, waits, losses


def measure(model_name, size, steps, precision, batched_passes=True):
    distribute.set_precision(precision)
    started = time.perf_counter()
    trainer = build(model_name, size)
    if model_name == "cyclegan":
        trainer.batched_passes = trainer.batched_passes and batched_passes
    build_s = time.perf_counter() - started
    batch = {"a": tf.random.uniform([1, size, size, 3], -1, 1, seed=1),
             "b": tf.random.uniform([1, size, size, 3], -1, 1, seed=2)}
    fixed = iter(lambda: batch, None)
    step = tf.function(trainer.train_step, reduce_retracing=True)
    (first_step_s,), _, first_losses = run_steps(step, fixed, 1)
    times, _, losses = run_steps(step, fixed, steps)
    step_s = statistics.median(times)
    flops = count_flops(model_name, trainer, size)
    matmul = matmul_flops_per_second(tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32)
    return step, {
        "model": model_name, "size": size, "batch": 1, "precision": precision, "steps": steps,
        **({"batched_passes": trainer.batched_passes} if model_name == "cyclegan" else {}),
        "build_s": round(build_s, 2), "first_step_s": round(first_step_s, 2), "step_s": round(step_s, 4),
        "step_s_all": [round(t, 4) for t in times], "images_per_s": round(1 / step_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_gflop_per_step": round(flops / 1e9, 2), "matmul_gflop_s": round(matmul / 1e9, 2),
        "flop_utilisation": round(flops / step_s / matmul, 3),
        "tracing_count": step.experimental_get_tracing_count(),
        "losses_finite": finite(first_losses) and finite(losses),
    }


def input_pipeline(model_name, size, folder):
    """The training pipeline of ``model_name`` (resize to 286/256 x size, random crop, mirror) over
    JPEG folders written for the run: side-by-side pairs for pix2pix, trainA/trainB for CycleGAN."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from data_pipeline import write_jpegs

    from tfgan_translate import data

    options = dict(batch_size=1, image_size=size, repeat=True, seed=0)
    if model_name == "pix2pix":
        return data.aligned_folder(write_jpegs(folder / "pairs", 32, 300, 600, seed=0), **options)
    write_jpegs(folder / "trainA", 32, 300, 300, seed=1)
    write_jpegs(folder / "trainB", 32, 300, 300, seed=2)
    return data.unaligned_folder(folder, **options)


def measure_data(model_name, size, step, steps, step_s):
    """Feed ``step`` from the real pipeline: the pipeline's own rate, the step's demand, and the
    share of a step's wall time spent waiting for data."""
    with tempfile.TemporaryDirectory() as tmp:
        batches = iter(input_pipeline(model_name, size, Path(tmp)))
        next(batches)
        started = time.perf_counter()
        for _ in range(20):
            next(batches)
        pipeline_images_per_s = 2 * 20 / (time.perf_counter() - started)
        times, waits, _ = run_steps(step, batches, steps)
    return {"pipeline_images_per_s": round(pipeline_images_per_s, 1),
            "step_demand_images_per_s": round(2 / step_s, 3),
            "data_wait_fraction": round(sum(waits) / (sum(waits) + sum(times)), 4),
            "tracing_count_after_data": step.experimental_get_tracing_count()}


def torch_python(path):
    """The Python of a virtual environment with torch (created on first use, outside the package)."""
    if path:
        return path
    venv = REPO / "benchmarks" / ".torch-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0"], check=True)
    return str(python)


def with_torch(result, torch_result):
    """``result`` with the PyTorch figures and our step time divided by PyTorch's."""
    return {**result, **torch_result, "ours_over_torch_step": round(result["step_s"] / torch_result["torch_step_s"], 3)}


def measure_torch(python, model_name, size, steps, bf16=False, channels_last=False):
    """One PyTorch reference step timing, in its own process: float32, or bf16 autocast."""
    script = TORCH_SCRIPTS[model_name]
    if not script.exists():
        raise SystemExit(f"the PyTorch baseline {script} is missing (it lives in ../shared/bench beside the checkout)")
    flags = (["--bf16"] if bf16 else []) + (["--channels-last"] if channels_last else [])
    done = subprocess.run([python, str(script), str(size), str(steps), *flags], capture_output=True, text=True,
                          check=True)
    figures = dict(re.findall(r"(first_step_s|step_s|img_per_s) ([\d.]+)", done.stdout))
    return {"torch_step_s": float(figures["step_s"]), "torch_first_step_s": float(figures["first_step_s"]),
            "torch_version_line": done.stdout.splitlines()[0], "torch_precision": "bf16_autocast" if bf16 else "float32",
            "torch_channels_last": channels_last}


def best_torch(python, model_name, size, steps, bf16=False):
    """PyTorch at its best for this CPU: the faster of its two memory layouts (NCHW, channels_last)."""
    runs = [measure_torch(python, model_name, size, steps, bf16, layout) for layout in (False, True)]
    best = min(runs, key=lambda r: r["torch_step_s"])
    return {**best, "torch_step_s_by_layout": {("channels_last" if r["torch_channels_last"] else "nchw"): r["torch_step_s"]
                                               for r in runs}}


def ours_in_process(model_name, size, steps, precision):
    """Our step timing in its own process (the dtype policy is global, peak memory per configuration)."""
    command = [sys.executable, __file__, "--model", model_name, "--size", str(size), "--steps", str(steps),
               "--precision", precision]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args):
    """Ours against PyTorch at the same precision (float32 with float32, our mixed_bfloat16 with
    its bf16 autocast), interleaved: ours, theirs, ours, theirs, so the machine's drift cancels
    in each round's ratio. Medians over ``--rounds``."""
    python = torch_python(args.torch_python)
    precisions = ["float32"] + (["mixed_bfloat16"] if bf16_supported() else [])
    rows = []
    for model_name in args.models.split(","):
        for precision in precisions:
            rounds = []
            for _ in range(args.rounds):
                ours = ours_in_process(model_name, args.size, args.steps, precision)
                theirs = best_torch(python, model_name, args.size, args.steps, bf16=precision != "float32")
                rounds.append((ours, theirs))
                print(f"{model_name} {precision}: ours {ours['step_s']:.3f} s (first {ours['first_step_s']:.1f} s), "
                      f"torch {theirs['torch_step_s']:.3f} s {theirs['torch_step_s_by_layout']} "
                      f"(first {theirs['torch_first_step_s']:.1f} s)", file=sys.stderr)
            median = statistics.median
            rows.append({
                "model": model_name, "size": args.size, "precision": precision, "rounds": args.rounds,
                "step_s": median(o["step_s"] for o, _ in rounds),
                "first_step_s": median(o["first_step_s"] for o, _ in rounds),
                "torch_step_s": median(t["torch_step_s"] for _, t in rounds),
                "torch_first_step_s": median(t["torch_first_step_s"] for _, t in rounds),
                "torch_layouts": [t["torch_step_s_by_layout"] for _, t in rounds],
                "ours_over_torch_step": round(median(o["step_s"] / t["torch_step_s"] for o, t in rounds), 3),
                "ours_over_torch_each_round": [round(o["step_s"] / t["torch_step_s"], 3) for o, t in rounds],
                "flop_utilisation": median(o["flop_utilisation"] for o, _ in rounds),
                "torch_version_line": rounds[0][1]["torch_version_line"],
            })
    print(f"{'model':9s} {'precision':15s} {'ours s':>8s} {'torch s':>8s} {'ours/torch':>10s} {'first s':>8s} "
          f"{'torch first':>11s} {'util':>6s}")
    for r in rows:
        print(f"{r['model']:9s} {r['precision']:15s} {r['step_s']:8.3f} {r['torch_step_s']:8.3f} "
              f"{r['ours_over_torch_step']:10.3f} {r['first_step_s']:8.2f} {r['torch_first_step_s']:11.2f} "
              f"{r['flop_utilisation']:6.1%}")
    return {"compare": rows, "cpu": cpu_name()}


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def report(result):
    print(f"{result['model']} {result['size']} px batch 1 {result['precision']}: build {result['build_s']} s, "
          f"first step {result['first_step_s']} s, step {result['step_s']} s ({result['images_per_s']} images/s), "
          f"peak RSS {result['peak_rss_mb']} MB")
    print(f"model {result['model_gflop_per_step']} GFLOP/step; matmul {result['matmul_gflop_s']} GFLOP/s; "
          f"FLOP utilisation {result['flop_utilisation']:.1%}; traced {result['tracing_count']} time(s)")
    if "data_wait_fraction" in result:
        print(f"input pipeline {result['pipeline_images_per_s']} images/s alone vs the step's demand "
              f"{result['step_demand_images_per_s']} images/s; waiting for data: "
              f"{result['data_wait_fraction']:.2%} of a step; traced {result['tracing_count_after_data']} time(s)")
    if "torch_step_s" in result:
        print(f"{result['torch_version_line']}: step {result['torch_step_s']} s, first step "
              f"{result['torch_first_step_s']} s; ours / torch step time = {result['ours_over_torch_step']}")


def bf16_supported():
    """bfloat16 matmuls are fast on CPUs with AVX512_BF16 or AMX (and on GPUs)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def run_all(args):
    """Every model x size x precision in its own process; PyTorch once per model and size."""
    precisions = ["float32"] + (["mixed_bfloat16"] if bf16_supported() else [])
    results = []
    for model_name in MODELS:
        for size in SIZES:
            for precision in precisions:
                command = [sys.executable, __file__, "--model", model_name, "--size", str(size),
                           "--steps", str(args.steps), "--precision", precision, "--data"]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
                result = json.loads(done.stdout.strip().splitlines()[-1])
                if args.torch:  # PyTorch at the same precision, in its faster layout
                    torch_result = best_torch(torch_python(args.torch_python), model_name, size, args.steps,
                                              bf16=precision != "float32")
                    result = with_torch(result, torch_result)
                report(result)
                results.append(result)
    header = (f"{'model':9s} {'px':>4s} {'precision':15s} {'first s':>8s} {'step s':>8s} {'img/s':>7s} "
              f"{'RSS MB':>7s} {'GFLOP':>7s} {'util':>6s} {'wait':>6s} {'torch s':>8s} {'ours/torch':>10s}")
    print(header)
    for r in results:
        print(f"{r['model']:9s} {r['size']:4d} {r['precision']:15s} {r['first_step_s']:8.2f} {r['step_s']:8.3f} "
              f"{r['images_per_s']:7.2f} {r['peak_rss_mb']:7.0f} {r['model_gflop_per_step']:7.1f} "
              f"{r['flop_utilisation']:6.1%} {r['data_wait_fraction']:6.1%} {r.get('torch_step_s', float('nan')):8.3f} "
              f"{r.get('ours_over_torch_step', float('nan')):10.3f}")
    return {"results": results}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="cyclegan")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed steps after the first")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"), default="float32")
    parser.add_argument("--data", action="store_true", help="also feed the step from a real input pipeline")
    parser.add_argument("--no-batched-passes", action="store_true",
                        help="CycleGAN: run the six generator passes as six calls (to measure what batching them saves)")
    parser.add_argument("--torch", action="store_true", help="also time the PyTorch reference step")
    parser.add_argument("--torch-python", help="python of an environment with torch (default: benchmarks/.torch-venv)")
    parser.add_argument("--all", action="store_true",
                        help="cyclegan and pix2pix at 256 and 64 px, float32 and (where fast) mixed_bfloat16, "
                             "with --data and --torch")
    parser.add_argument("--compare", action="store_true",
                        help="ours against PyTorch at the same precision, interleaved (--models, --size, --rounds)")
    parser.add_argument("--models", default="cyclegan,pix2pix", help="--compare: the models")
    parser.add_argument("--rounds", type=int, default=2, help="--compare: alternating rounds")
    args = parser.parse_args(argv)
    if args.compare:
        print(json.dumps(compare(args)))
        return
    if args.all:
        args.torch = True
        print(json.dumps(run_all(args)))
        return
    step, result = measure(args.model, args.size, args.steps, args.precision, not args.no_batched_passes)
    if args.data:
        result.update(measure_data(args.model, args.size, step, args.steps, result["step_s"]))
    if args.torch:
        result = with_torch(result, best_torch(torch_python(args.torch_python), args.model, args.size, args.steps,
                                               bf16=args.precision != "float32"))
    report(result)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
