"""What ``training.fit`` adds to the bare compiled train step, at the demo's size.

    python benchmarks/loop_overhead.py [--steps 100] [--rounds 7] [--steps-per-call 1,8] [--xla]

The demo's CycleGAN (32 px, 16 filters, 3 residual blocks, batch 4) trains on batches held in
memory, in rounds that alternate (so the machine's drift cancels):

- ``bare``: ``tf.function(trainer.train_step)`` called on ready batches, nothing fetched until
  the last step: the least any loop could cost;
- ``fit K``: ``training.fit`` with the CLI's intervals (log every 50 steps, samples every 500,
  checkpoints every 1000), a progress bar, its ``tf.data`` input and its run folder, at
  ``--steps-per-call K``. Its steady rate (``FitResult.steady_images_per_second``) leaves out the
  first call (tracing) and the final grid and checkpoint, which the bare step does not have;
- ``fit K xla`` (``--xla``): the same with ``jit_compile=True`` (``train --jit-compile``), so
  XLA's step is measured against the plain one in the same rounds.

Two clocks: wall time, and this process's CPU time (every thread of it). The machines are shared
virtual machines whose cores other tenants take (steal time): wall time of 100 steps varies by
20% from one measurement to the next, while CPU time counts only the work this process did, so
the loop's extra work (its Python, the input pipeline's threads, the logs) shows in it and
the neighbours do not. Each figure is the median over alternating rounds of milliseconds per
step and of each round's ratio to the bare step of the same round (``over_bare``). The last line
is one JSON object.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_translate import cyclegan, families, training  # noqa: E402

BATCHES = 16  # an epoch of the in-memory data


def demo_config():
    return families.get("cyclegan").demo.config


def arrays(config, seed=0):
    rng = np.random.default_rng(seed)
    shape = (BATCHES * config.batch_size, config.image_size, config.image_size, 3)
    return rng.uniform(-1, 1, shape).astype(np.float32), rng.uniform(-1, 1, shape).astype(np.float32)


def dataset_fn_for(a, b, batch_size):
    def dataset_fn(epoch):
        ds = tf.data.Dataset.from_tensor_slices({"a": a, "b": b})
        return ds.shuffle(len(a), seed=epoch).batch(batch_size, drop_remainder=True).prefetch(2)

    return dataset_fn


def bare_step(config, a, b):
    """``steps -> (wall ms, CPU ms) per step`` of the bare compiled step on ready batches (traced here)."""
    trainer = cyclegan.Trainer(config, steps_per_epoch=BATCHES)
    step = tf.function(trainer.train_step, reduce_retracing=True)
    batches = [{"a": tf.constant(a[i:i + config.batch_size]), "b": tf.constant(b[i:i + config.batch_size])}
               for i in range(0, len(a), config.batch_size)]
    for batch in batches[:2]:
        float(next(iter(step(batch).values())))

    def ms(steps):
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(steps):
            losses = step(batches[i % len(batches)])
        float(next(iter(losses.values())))
        return 1000 * (time.perf_counter() - started) / steps, 1000 * (time.process_time() - cpu) / steps

    return ms


def fit_ms(config, a, b, steps, steps_per_call, jit_compile=False):
    """``(wall ms, CPU ms)`` per step of ``training.fit`` in its steady state (first call excluded)."""
    trainer = cyclegan.Trainer(config, steps_per_epoch=BATCHES)
    with tempfile.TemporaryDirectory() as run_dir:
        result = training.fit(trainer, dataset_fn_for(a, b, config.batch_size), run_dir, steps_per_epoch=BATCHES,
                              total_steps=steps, log_every=50, sample_every=500, checkpoint_every=1000,
                              progress=True, steps_per_call=steps_per_call, jit_compile=jit_compile)
    return (1000 * result.steady_seconds / result.steady_steps, 1000 * result.steady_cpu_seconds / result.steady_steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="timed steps per measurement")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds of every measurement")
    parser.add_argument("--steps-per-call", default="1,8", help="the fit rows' K values")
    parser.add_argument("--xla", action="store_true", help="also each fit row with XLA (jit_compile)")
    args = parser.parse_args(argv)
    config = demo_config()
    a, b = arrays(config)
    ks = [int(k) for k in args.steps_per_call.split(",")]
    fits = [(f"fit K={k}", k, False) for k in ks] + [(f"fit K={k} xla", k, True) for k in ks if args.xla]
    rows = {"bare": [], **{name: [] for name, _, _ in fits}}
    bare = bare_step(config, a, b)
    for round_ in range(args.rounds):
        rows["bare"].append(bare(args.steps))
        for name, k, jit in fits:
            rows[name].append(fit_ms(config, a, b, args.steps, k, jit))
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {values[-1][0]:.1f} ms ({values[-1][1]:.1f} CPU ms)"
                                                  for name, values in rows.items()), file=sys.stderr)
    result = {
        "config": {"image_size": config.image_size, "ngf": config.ngf, "n_blocks": config.n_blocks,
                   "batch_size": config.batch_size},
        "steps": args.steps, "rounds": args.rounds,
    }
    for index, clock in enumerate(("wall", "cpu")):
        values = {name: [v[index] for v in measured] for name, measured in rows.items()}
        ratios = {name: [v / bare for v, bare in zip(vs, values["bare"])] for name, vs in values.items()}
        result[clock] = {
            "ms_per_step": {name: round(statistics.median(vs), 2) for name, vs in values.items()},
            "over_bare": {name: round(statistics.median(r), 3) for name, r in ratios.items()},
            "over_bare_each_round": {name: [round(x, 3) for x in r] for name, r in ratios.items()},
        }
    for name in rows:
        print(f"{name:14s} wall {result['wall']['ms_per_step'][name]:8.2f} ms/step (x{result['wall']['over_bare'][name]:.3f}"
              f" of bare), CPU {result['cpu']['ms_per_step'][name]:8.2f} ms/step (x{result['cpu']['over_bare'][name]:.3f})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
