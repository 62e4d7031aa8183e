"""Distributed training checks that need a fresh process (run by tests/test_distribute.py).

Logical CPU devices and collective ops are fixed when TensorFlow initialises, which the
pytest process has long done; so each check runs here, in its own interpreter, and prints
one JSON line with what it measured.

    python tests/distributed_checks.py mirrored OUT_DIR      # 2 logical CPUs: default vs mirrored
    python tests/distributed_checks.py worker OUT_DIR        # one MultiWorkerMirrored worker (TF_CONFIG)
    python tests/distributed_checks.py single OUT_DIR        # the worker's training on one device
"""

import json
import os
import signal
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tfgan_translate.training import distribute  # noqa: E402

MODE, OUT = sys.argv[1], Path(sys.argv[2])
if MODE == "mirrored":
    STRATEGY = distribute.make_strategy("mirrored", virtual_cpus=2)
elif MODE == "worker":
    STRATEGY = distribute.make_strategy("multiworker")
else:
    STRATEGY = distribute.make_strategy("default")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfgan_translate import cyclegan, pix2pix, training  # noqa: E402

SIZE = 32
# Instance norm (per example, so the split of the batch over replicas cannot change it), no
# dropout; a pool of 1 image, so that from the very first step the pool both stores and mixes.
CONFIGS = {
    "cyclegan": (cyclegan, cyclegan.Config(image_size=SIZE, ngf=4, ndf=4, n_blocks=1, batch_size=2, pool_size=1)),
    "pix2pix": (pix2pix, pix2pix.Config(image_size=SIZE, ngf=4, ndf=4, batch_size=2, norm="instance", use_dropout=False)),
}


def arrays(n=4):
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, SIZE, SIZE, 3)).astype(np.float32)
    return a, np.tanh(1.5 * a[..., ::-1]).astype(np.float32)


def dataset_fn(epoch):
    a, b = arrays()
    return tf.data.Dataset.from_tensor_slices({"a": a, "b": b}).shuffle(4, seed=epoch).batch(2, drop_remainder=True)


def demo_dataset_fn(shard=None):
    """The demo's unpaired colour-mapping data through the real pipeline (decode, jitter, seeds per
    epoch); ``shard``: only this worker's rows of each global batch, decoded by this worker alone."""
    from tfgan_translate import data

    def dataset_fn(epoch):
        return data.demo_unpaired(num_examples=8, image_size=SIZE, batch_size=2, seed=11 + epoch, deterministic=True,
                                  shard=shard)

    dataset_fn.per_worker = shard is not None
    return dataset_fn


def train(family, run_dir, steps, strategy, data=None):
    module, config = CONFIGS[family]
    trainer = distribute.build_trainer(module.Trainer, config, 2, strategy)
    result = training.fit(trainer, data or dataset_fn, run_dir, steps_per_epoch=2, total_steps=steps, sample_every=0,
                          checkpoint_every=2, log_every=1, progress=False, strategy=strategy)
    return trainer, result


def absorbed_biases(model):
    """Biases of convolutions that feed an instance norm (through crops only): the norm subtracts
    the per-channel mean, so their gradient is zero in exact arithmetic and only rounding noise.
    Adam's first steps move a weight by about lr * g / (|g| + eps), which turns that noise into
    moves of up to lr, differently for any two orders of summation (one device or two); such a
    bias changes no output, so the weight comparison leaves it out and the output check covers it."""
    from tfgan_translate.layers import InstanceNormalization

    absorbed = set()
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)) or not layer.use_bias:
            continue
        nxt = layer
        while len(nxt._outbound_nodes) == 1:
            nxt = nxt._outbound_nodes[0].operation
            if not isinstance(nxt, keras.layers.Cropping2D):
                break
        if isinstance(nxt, InstanceNormalization):
            absorbed.add(id(layer.bias))
    return absorbed


def state(trainer):
    """Every variable of the trainer by name: models, optimizer slots and step counts, pools.
    Absorbed biases (see ``absorbed_biases``) and their Adam slots are left out."""
    out, absorbed = {}, set()
    for model in trainer.models.values():
        absorbed |= absorbed_biases(model)
        out.update({f"{model.name}/{v.path}": v.numpy() for v in model.variables if id(v) not in absorbed})
    for name, item in trainer.checkpoint_items().items():
        if isinstance(item, keras.optimizers.Optimizer):
            inner = getattr(item, "inner_optimizer", item)
            out[f"{name}/iterations"] = inner.iterations.numpy()
            for i, var in enumerate(inner._trainable_variables):
                if id(var) not in absorbed:
                    out[f"{name}/m/{i}/{var.path}"] = inner._momentums[i].numpy()
                    out[f"{name}/v/{i}/{var.path}"] = inner._velocities[i].numpy()
        elif isinstance(item, tf.Module):
            out.update({f"{name}/{v.name}": v.numpy() for v in item.variables})
    return out, len(absorbed)


def outputs(trainer):
    """Every generator's translation of a fixed batch (inference mode)."""
    a, _ = arrays()
    return {name: g(a, training=False).numpy() for name, g in trainer.generators().items()}


def max_difference(first, second):
    assert first.keys() == second.keys(), sorted(set(first) ^ set(second))
    return max(float(np.max(np.abs(first[k].astype(np.float64) - second[k]))) if np.size(first[k]) else 0.0 for k in first)


def compare(single, split):
    (first, absorbed), (second, _) = state(single), state(split)
    return {"weight_difference": max_difference(first, second), "compared": len(first), "absorbed": absorbed,
            "output_difference": max_difference(outputs(single), outputs(split))}


def replicas_agree(trainer):
    """Whether every replica's copy of every variable is the same (mirrored and per-replica pools)."""
    variables = [v.value for model in trainer.models.values() for v in model.variables]
    variables += [v for item in trainer.checkpoint_items().values() if isinstance(item, tf.Module) for v in item.variables]
    for v in variables:
        copies = [c.numpy() for c in STRATEGY.experimental_local_results(v)]
        if any(not np.array_equal(copies[0], c) for c in copies[1:]):
            return False
    return True


def mirrored():
    report = {"replicas": STRATEGY.num_replicas_in_sync}
    default = tf.distribute.get_strategy()
    trainers = {}
    for family in CONFIGS:
        trainers[family], single = train(family, OUT / f"{family}_default", 2, default)
        trainer, split = train(family, OUT / f"{family}_mirrored", 2, STRATEGY)
        report[family] = {
            **compare(trainers[family], trainer),
            "loss_difference": max(abs(single.losses[k] - split.losses[k]) for k in single.losses),
            "losses": split.losses,
            "replicas_agree": replicas_agree(trainer),
            "samples": len(list((OUT / f"{family}_mirrored" / "samples").glob("*.png"))),
        }
    # Resume across strategies: 1 step on one device, then on to step 2 under MirroredStrategy.
    train("cyclegan", OUT / "cyclegan_switch", 1, default)
    resumed, result = train("cyclegan", OUT / "cyclegan_switch", 2, STRATEGY)
    report["resume"] = {**compare(trainers["cyclegan"], resumed), "resumed_from": result.resumed_from}
    report["float16_overflow"] = float16_overflow_on_one_replica()
    print(json.dumps(report))


def float16_overflow_on_one_replica():
    """mixed_float16, loss scale 1: replica 1's input is inf in float16, replica 0's is fine.
    Both replicas must skip the update and halve the scale; Keras alone would let replica 0
    decide and apply the all-reduced NaN gradients (see ``optimize._agree_on_finiteness``)."""
    distribute.set_precision("mixed_float16")
    module, config = CONFIGS["pix2pix"]
    trainer = distribute.build_trainer(module.Trainer, config, 1, STRATEGY)
    distribute.set_precision("float32")
    optimizers = (trainer.generator_optimizer, trainer.discriminator_optimizer)
    for optimizer in optimizers:
        optimizer.dynamic_scale.assign(1.0)
    a, b = arrays(2)
    a[1] = 1e5  # beyond float16's 65504
    batch = next(iter(distribute.distribute_dataset(STRATEGY, tf.data.Dataset.from_tensors({"a": a, "b": b}))))
    distribute.step_function(trainer.train_step, STRATEGY)(batch)
    copies = [c.numpy() for m in trainer.models.values() for v in m.variables for c in STRATEGY.experimental_local_results(v.value)]
    return {"finite": all(bool(np.isfinite(c).all()) for c in copies),
            "scales": [float(o.dynamic_scale.value.numpy()) for o in optimizers],
            "updates": [int(o.iterations.value.numpy()) for o in optimizers]}


def dump(trainer, tag):
    """``weights_<tag>.npz``: every model variable; ``state_<tag>.npz``: ``state`` and ``outputs``."""
    np.savez(OUT / f"weights_{tag}.npz",
             **{f"{name}/{v.path}": v.numpy() for name, model in trainer.models.items() for v in model.variables})
    np.savez(OUT / f"state_{tag}.npz", **state(trainer)[0], **{f"output/{k}": v for k, v in outputs(trainer).items()})


def worker():
    """One of the multi-worker processes: a tiny CycleGAN on the demo data, each worker decoding only
    its rows of every global batch (``data.Options(shard=...)``), into the shared run folder, told to train
    100 steps; worker 1 alone gets a SIGTERM when epoch 1 starts (after step 2), as a preempted
    machine does. Every worker must stop after step 3 and save together; without agreeing on the
    stop, worker 1 would save while worker 0 waits in step 4's all-reduce, and the cluster hangs."""
    task_type, index = distribute.task()
    sharded = demo_dataset_fn(distribute.worker_shard(STRATEGY))

    def dataset_fn_with_preemption(epoch):
        if epoch == 1 and index == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return sharded(epoch)

    dataset_fn_with_preemption.per_worker = True

    trainer, result = train("cyclegan", OUT / "run", 100, STRATEGY, dataset_fn_with_preemption)
    dump(trainer, str(index))
    print(json.dumps({"task": [task_type, index], "chief": distribute.is_chief(STRATEGY), "step": result.step,
                      "replicas": STRATEGY.num_replicas_in_sync, "losses": result.losses,
                      "checkpoint": result.checkpoint, "interrupted": result.interrupted}))


def single():
    """The same training on one device, for comparison."""
    trainer, result = train("cyclegan", OUT / "single_run", 3, STRATEGY, demo_dataset_fn())
    dump(trainer, "single")
    print(json.dumps({"step": result.step, "losses": result.losses}))


{"mirrored": mirrored, "worker": worker, "single": single}[MODE]()
