"""Train-step speed of the paper-size pix2pix and CycleGAN, with FLOP utilisation.

    python benchmarks/train_step.py --model cyclegan --size 256 [--precision mixed_bfloat16] [--torch]

Prints, for the paper's configuration (CycleGAN resnet_9blocks + 70x70 PatchGANs with identity
loss; pix2pix unet_256 + conditional PatchGAN) at batch 1:

- ``build_s``: building models and optimizers;
- ``first_step_s``: the first call of the compiled step (tracing + graph optimisation + one run);
- ``step_s`` / ``images_per_s``: the median of the following steps (one image per step per domain);
- ``peak_rss_mb``: the process's peak resident memory (TensorFlow runtime included);
- ``model_gflop_per_step``: FLOPs counted from the layers (see ``count_flops``): each pass that is
  back-propagated costs 3x its forward FLOPs (forward, gradient w.r.t. inputs, w.r.t. weights);
- ``matmul_gflop_s``: dense float32 (or bfloat16) matmul throughput measured in the same run;
- ``flop_utilisation``: model FLOP/s divided by matmul FLOP/s.

With ``--torch`` it also runs ``../shared/bench/torch_cyclegan_step.py`` (the reference layout in
PyTorch) in its own virtual environment (``--torch-python``, default: create
``benchmarks/.torch-venv`` with ``torch==2.13.0``) right after ours, and prints our step time divided
by its step time. The last line is one JSON object with every figure.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_translate import cyclegan, pix2pix  # noqa: E402
from tfgan_translate.training import distribute  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TORCH_SCRIPT = REPO.parent / "shared" / "bench" / "torch_cyclegan_step.py"


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
        return cyclegan.Trainer(cyclegan.Config(image_size=size))
    return pix2pix.Trainer(pix2pix.Config(image_size=size))


def measure(model_name, size, steps, precision):
    distribute.set_precision(precision)
    started = time.perf_counter()
    trainer = build(model_name, size)
    build_s = time.perf_counter() - started
    batch = {"a": tf.random.uniform([1, size, size, 3], -1, 1, seed=1),
             "b": tf.random.uniform([1, size, size, 3], -1, 1, seed=2)}
    step = tf.function(trainer.train_step, reduce_retracing=True)
    started = time.perf_counter()
    first_losses = {k: float(v) for k, v in step(batch).items()}
    first_step_s = time.perf_counter() - started
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        losses = {k: float(v) for k, v in step(batch).items()}
        times.append(time.perf_counter() - started)
    step_s = statistics.median(times)
    flops = count_flops(model_name, trainer, size)
    matmul = matmul_flops_per_second(tf.bfloat16 if precision == "mixed_bfloat16" else tf.float32)
    return {
        "model": model_name, "size": size, "batch": 1, "precision": precision, "steps": steps,
        "build_s": round(build_s, 2), "first_step_s": round(first_step_s, 2), "step_s": round(step_s, 4),
        "step_s_all": [round(t, 4) for t in times], "images_per_s": round(1 / step_s, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "model_gflop_per_step": round(flops / 1e9, 2), "matmul_gflop_s": round(matmul / 1e9, 2),
        "flop_utilisation": round(flops / step_s / matmul, 3),
        "tracing_count": step.experimental_get_tracing_count(),
        "losses_finite": all(map(lambda v: v == v and abs(v) != float("inf"), {**first_losses, **losses}.values())),
    }


def torch_python(path):
    """The Python of a virtual environment with torch (created on first use, outside the package)."""
    if path:
        return path
    venv = REPO / "benchmarks" / ".torch-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "torch==2.13.0",
                        "--index-url", "https://download.pytorch.org/whl/cpu"], check=True)
    return str(python)


def measure_torch(python, size, steps):
    done = subprocess.run([python, str(TORCH_SCRIPT), str(size), str(steps)], capture_output=True, text=True,
                          check=True)
    figures = dict(re.findall(r"(first_step_s|step_s|img_per_s) ([\d.]+)", done.stdout))
    return {"torch_step_s": float(figures["step_s"]), "torch_first_step_s": float(figures["first_step_s"]),
            "torch_version_line": done.stdout.splitlines()[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("cyclegan", "pix2pix"), default="cyclegan")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=5, help="timed steps after the first")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"), default="float32")
    parser.add_argument("--torch", action="store_true", help="also time the PyTorch reference step (CycleGAN)")
    parser.add_argument("--torch-python", help="python of an environment with torch (default: benchmarks/.torch-venv)")
    args = parser.parse_args(argv)
    result = measure(args.model, args.size, args.steps, args.precision)
    print(f"{args.model} {args.size} px batch 1 {args.precision}: build {result['build_s']} s, "
          f"first step {result['first_step_s']} s, step {result['step_s']} s ({result['images_per_s']} images/s), "
          f"peak RSS {result['peak_rss_mb']} MB")
    print(f"model {result['model_gflop_per_step']} GFLOP/step; matmul {result['matmul_gflop_s']} GFLOP/s; "
          f"FLOP utilisation {result['flop_utilisation']:.1%}; traced {result['tracing_count']} time(s)")
    if args.torch:
        if args.model != "cyclegan":
            parser.error("--torch compares the CycleGAN step (the PyTorch baseline is a CycleGAN step)")
        result.update(measure_torch(torch_python(args.torch_python), args.size, args.steps))
        result["ours_over_torch_step"] = round(result["step_s"] / result["torch_step_s"], 3)
        print(f"{result['torch_version_line']}: step {result['torch_step_s']} s, first step "
              f"{result['torch_first_step_s']} s; ours / torch step time = {result['ours_over_torch_step']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
