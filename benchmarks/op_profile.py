"""Where a train step's time goes: TensorFlow's profiler over a few steps, summed by op type and by op.

    python benchmarks/op_profile.py --model cyclegan --size 256 --precision mixed_bfloat16 [--steps 3] [--top 30]

Runs the paper-size step of ``train_step.py`` (same build), warms it up, then records ``--steps``
steps with ``tf.profiler`` and prints the self time of the host ops (CPU: every kernel is a host
op) grouped by op type, then the ``--top`` single ops with their names, so a slow convolution,
norm, pad, cast or transpose can be found by layer. The profile's raw files stay in
``--logdir`` (default: a temporary folder) for TensorBoard's profile plugin. The last line is one
JSON object with the per-type table.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tensorflow as tf  # noqa: E402
from tensorflow.python.profiler.internal import _pywrap_profiler_plugin  # noqa: E402

from tfgan_translate.training import distribute  # noqa: E402
from train_step import MODELS, build  # noqa: E402


def op_table(logdir):
    """Rows of the profiler's "framework_op_stats" tool for the newest profile under ``logdir``."""
    spaces = sorted(Path(logdir).rglob("*.xplane.pb"), key=lambda p: p.stat().st_mtime)
    if not spaces:
        raise SystemExit(f"no profile was written under {logdir}")
    raw, ok = _pywrap_profiler_plugin.xspace_to_tools_data([str(spaces[-1])], "framework_op_stats", {})
    if not ok:
        raise SystemExit(f"the profiler could not read {spaces[-1]}")
    table = json.loads(raw)
    table = table[0] if isinstance(table, list) else table
    columns = [c["id"] for c in table["cols"]]
    return [dict(zip(columns, (cell.get("v") if cell else None for cell in row["c"]))) for row in table["rows"]]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="cyclegan")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16", "mixed_float16"), default="mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps, after two warm-up steps")
    parser.add_argument("--top", type=int, default=30, help="how many single ops to list")
    parser.add_argument("--logdir", help="where the profile goes (default: a temporary folder)")
    args = parser.parse_args(argv)

    distribute.set_precision(args.precision)
    trainer = build(args.model, args.size)
    batch = {"a": tf.random.uniform([1, args.size, args.size, 3], -1, 1, seed=1),
             "b": tf.random.uniform([1, args.size, args.size, 3], -1, 1, seed=2)}
    step = tf.function(trainer.train_step, reduce_retracing=True)
    for _ in range(2):
        float(step(batch)["d_a" if args.model == "cyclegan" else "d"])
    logdir = args.logdir or tempfile.mkdtemp(prefix="op_profile_")
    started = time.perf_counter()
    with tf.profiler.experimental.Profile(logdir):
        for _ in range(args.steps):
            losses = step(batch)
        [float(v) for v in losses.values()]
    wall = (time.perf_counter() - started) / args.steps

    rows = [r for r in op_table(logdir) if r.get("type") != "IDLE"]
    total_us = sum(float(r["total_self_time"]) for r in rows) / args.steps
    by_type = defaultdict(lambda: [0.0, 0])
    for r in rows:
        by_type[r["type"]][0] += float(r["total_self_time"]) / args.steps
        by_type[r["type"]][1] += int(r["occurrences"]) // args.steps
    ranked = sorted(by_type.items(), key=lambda item: -item[1][0])
    print(f"{args.model} {args.size} px {args.precision}: {wall:.3f} s a step (wall, while profiled); "
          f"op self time {total_us / 1e6:.3f} s a step (both cores' kernels summed)")
    print(f"{'op type':34} {'ms/step':>9} {'share':>6} {'calls':>6}")
    for kind, (us, calls) in ranked:
        if us / total_us >= 0.002:
            print(f"{kind:34} {us / 1e3:9.1f} {us / total_us:6.1%} {calls:6d}")
    print(f"\nthe {args.top} slowest ops:")
    for r in sorted(rows, key=lambda r: -float(r["total_self_time"]))[:args.top]:
        print(f"{float(r['total_self_time']) / args.steps / 1e3:9.1f} ms  {r['type']:28} {r['operation']}")
    print(json.dumps({"model": args.model, "size": args.size, "precision": args.precision, "step_s_profiled": round(wall, 3),
                      "op_ms_per_step": {kind: round(us / 1e3, 2) for kind, (us, _) in ranked}, "logdir": logdir}))


if __name__ == "__main__":
    main()
