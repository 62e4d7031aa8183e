"""TensorFlow's distribution strategies and mixed precision, for any trainer.

Trainers know nothing of strategies: they compute per-example losses, reduce them once
with ``tf.nn.compute_average_loss`` (a division by the *global* batch) and update through
``training.apply_gradients``. This module supplies the rest:

- ``make_strategy(name, virtual_cpus)``: ``default``, ``mirrored`` (all GPUs of this machine,
  or its logical CPUs when it has none), ``multiworker`` (MultiWorkerMirroredStrategy from
  ``TF_CONFIG``), ``tpu``, or ``auto``.
- ``set_precision(name)``: the global Keras dtype policy, set before models are built.
- ``build_trainer(module, config, steps_per_epoch, strategy)``: the trainer's models,
  optimizers, pools and random states created in ``strategy.scope()``.
- ``step_function(train_step, strategy)``: the ``tf.function`` the loop calls; runs
  ``train_step`` on every replica and reduces its losses (see ``reduce_losses``).
- ``distribute_dataset``, ``is_chief``, ``scratch_dir``: the loop's other needs.

Example (two logical CPUs, no GPU needed)::

    strategy = distribute.make_strategy("mirrored", virtual_cpus=2)  # before any other TF work
    trainer = distribute.build_trainer(cyclegan, config, steps_per_epoch, strategy)
    training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=..., total_steps=..., strategy=strategy)
"""

import json
import os
from pathlib import Path

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu", "auto")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def configure_virtual_cpus(n):
    """Split the first physical CPU into ``n`` logical devices (``/CPU:0`` ... ``/CPU:n-1``).

    TensorFlow fixes its device list the first time it runs anything (an op, a dataset, a
    model build), so this must come first in the process; afterwards it raises
    ``RuntimeError`` saying so, unless the devices already are ``n`` logical CPUs.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"virtual_cpus must be >= 1, got {n}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise RuntimeError(
                f"cannot split the CPU into {n} logical devices: TensorFlow has already initialised "
                f"its devices ({have} logical CPU). Configure virtual CPUs first in the process, before "
                "any dataset, model or tensor is created (the CLI's --virtual-cpus does this)"
            ) from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def tf_config():
    """The parsed ``TF_CONFIG`` environment variable, or ``None`` when it is not set."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"TF_CONFIG is not valid JSON ({error}): {text[:200]!r}") from None
    cluster, task = value.get("cluster"), value.get("task")
    if not isinstance(cluster, dict) or not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(
            'TF_CONFIG needs {"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}; '
            f"got {text[:200]!r}"
        )
    if task["type"] not in cluster or not 0 <= int(task["index"]) < len(cluster[task["type"]]):
        raise ValueError(f"TF_CONFIG task {task} is not in its cluster {cluster}")
    return value


def _mirrored():
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def _multiworker():
    if tf_config() is None:
        raise ValueError(
            "--strategy multiworker needs the TF_CONFIG environment variable (the cluster's workers and this "
            "process's task); see the README section 'Multi-GPU, multi-worker and mixed precision'"
        )
    # AUTO: NCCL between GPUs, ring all-reduce between CPU-only workers.
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.AUTO
    )
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def _tpu():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(f"--strategy tpu: no TPU found ({error}); set TPU_NAME or run on a TPU VM") from None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name="default", virtual_cpus=None):
    """The ``tf.distribute.Strategy`` called ``name`` (one of ``STRATEGIES``).

    ``auto``: ``multiworker`` when ``TF_CONFIG`` names more than one task, ``mirrored`` when
    more than one GPU (or ``virtual_cpus`` > 1) is visible, else ``default``.
    ``virtual_cpus`` splits the CPU first (see ``configure_virtual_cpus``), so that
    ``mirrored`` runs on a machine without GPUs. Call this before any other TensorFlow
    work: device lists and collective ops are fixed at the first op.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {name!r}")
    if virtual_cpus:
        configure_virtual_cpus(virtual_cpus)
    if name == "auto":
        config = tf_config()
        if config is not None and sum(len(v) for v in config["cluster"].values()) > 1:
            name = "multiworker"
        elif len(tf.config.list_physical_devices("GPU")) > 1 or (virtual_cpus or 1) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    return {"mirrored": _mirrored, "multiworker": _multiworker, "tpu": _tpu}[name]()


def cpu_has_bf16_units(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX-BF16: Intel Cooper Lake,
    Sapphire Rapids and newer, AMD Zen 4 and newer); elsewhere bf16 is emulated and slower than float32."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def auto_precision(gpu_capabilities=None, cpu_bf16=None, tpu=False):
    """``(policy, reason)``: the mixed precision that is fast on this machine's devices.

    - a TPU, a GPU of compute capability 8.0 or newer (Ampere, Ada, Hopper: bf16 tensor cores) or a
      CPU with bf16 units: ``mixed_bfloat16`` (float32's range, no loss scaling);
    - a GPU of compute capability 7.x (Volta, Turing: float16 tensor cores only): ``mixed_float16``,
      whose optimizers scale the loss;
    - anything else (older GPUs, CPUs without bf16 units): ``float32``.

    ``gpu_capabilities``: ``[(major, minor), ...]`` of the visible GPUs (``None``: asked of
    TensorFlow); ``cpu_bf16``: ``None`` reads ``/proc/cpuinfo``. All GPUs must qualify.
    """
    if tpu:
        return "mixed_bfloat16", "a TPU (bf16 matrix units)"
    if gpu_capabilities is None:
        gpu_capabilities = [tuple(tf.config.experimental.get_device_details(gpu).get("compute_capability") or (0, 0))
                            for gpu in tf.config.list_physical_devices("GPU")]
    if gpu_capabilities:
        oldest = min(gpu_capabilities)
        if oldest >= (8, 0):
            return "mixed_bfloat16", f"GPU compute capability {oldest[0]}.{oldest[1]} (bf16 tensor cores)"
        if oldest >= (7, 0):
            return "mixed_float16", (f"GPU compute capability {oldest[0]}.{oldest[1]} (float16 tensor cores, no bf16; "
                                     "the loss is scaled)")
        return "float32", f"GPU compute capability {oldest[0]}.{oldest[1]} (no tensor cores)"
    if cpu_has_bf16_units() if cpu_bf16 is None else cpu_bf16:
        return "mixed_bfloat16", "a CPU with bf16 units (AVX512_BF16/AMX)"
    return "float32", "a CPU without bf16 units (bf16 would be emulated, slower than float32)"


def set_precision(name):
    """Set the global Keras dtype policy; models built afterwards compute in that precision.

    ``float32``; ``mixed_float16`` (GPU tensor cores; optimizers made by ``for_precision``
    then scale the loss); ``mixed_bfloat16`` (TPUs, recent CPUs and GPUs; no loss scaling).
    Variables stay float32 under every policy, so checkpoints are interchangeable; the
    networks emit float32 images and logits, and losses are computed in float32.
    ``auto``: the policy of ``auto_precision`` for this machine.
    """
    if name == "auto":
        name, _ = auto_precision(tpu=bool(tf.config.list_logical_devices("TPU")))
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} or auto; got {name!r}")
    keras.mixed_precision.set_global_policy(name)
    return keras.mixed_precision.global_policy()


def task():
    """``(type, index)`` of this process in its ``TF_CONFIG`` cluster, ``(None, 0)`` without one."""
    config = tf_config()
    if config is None:
        return None, 0
    return config["task"]["type"], int(config["task"]["index"])


def is_chief(strategy=None):
    """Whether this process writes the run's files (checkpoints, samples, logs, config).

    Single-process strategies: always. Multi-worker: the ``chief`` task, or worker 0 when the
    cluster has no chief (TensorFlow's own rule).
    """
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    return task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().as_dict()


def is_multi_worker(strategy=None):
    """Whether ``strategy`` spans several processes (their decisions to stop must agree)."""
    strategy = strategy or tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and getattr(strategy.extended, "_num_workers", 1) > 1


def worker_shard(strategy=None):
    """``(worker, workers)`` of this process in a multi-worker run, numbered as TensorFlow numbers
    input pipelines (a ``chief`` first, then the workers), for ``data.Options(shard=...)``;
    ``None`` in a single-process run."""
    strategy = strategy or tf.distribute.get_strategy()
    if not is_multi_worker(strategy):
        return None
    resolver = strategy.cluster_resolver
    cluster = resolver.cluster_spec().as_dict()
    chiefs = len(cluster.get("chief", []))
    index = 0 if resolver.task_type == "chief" else chiefs + int(resolver.task_id)
    return index, chiefs + len(cluster.get("worker", []))


def scratch_dir(run_dir, strategy):
    """Where a non-chief worker writes its (discarded) checkpoint copies: every worker must take
    part in a save under MultiWorkerMirroredStrategy, but only the chief's copy is kept."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None) or "worker"
    task_id = getattr(resolver, "task_id", None) or 0
    return Path(run_dir) / f".{task_type}{task_id}_scratch"


def check_global_batch(batch_size, strategy):
    """The global batch must split evenly over the replicas: ``compute_average_loss`` divides
    each replica's sum by ``per_replica_batch * replicas``."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(
            f"batch_size {batch_size} (the global batch) does not split evenly over {replicas} replicas; "
            f"use a multiple of {replicas} (--batch-size {replicas * max(1, round(batch_size / replicas))}, for example)"
        )


def build_trainer(trainer_class, config, steps_per_epoch, strategy=None):
    """``trainer_class(config, steps_per_epoch=...)`` (a family's ``Trainer``) with everything
    stateful created in ``strategy.scope()`` (models, optimizers, image pools, random states)."""
    strategy = strategy or tf.distribute.get_strategy()
    check_global_batch(config.batch_size, strategy)
    with strategy.scope():
        return trainer_class(config, steps_per_epoch=steps_per_epoch)


def reduce_losses(strategy, per_replica):
    """Cross-replica losses: a SUM, because each replica's loss is already its share of the
    global mean (``compute_average_loss`` divides by the global batch), so the shares add
    up to the global-batch mean. A MEAN would divide by the replicas a second time."""
    return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}


def step_function(train_step, strategy=None):
    """``tf.function(batch -> (losses, images))`` running ``train_step`` on every replica.

    ``losses`` are the cross-replica losses (``reduce_losses``), ``images`` the number of
    examples in the global batch (summed over replicas and workers).
    """
    strategy = strategy or tf.distribute.get_strategy()

    def replica_step(batch):
        losses = train_step(batch)
        return losses, tf.shape(tf.nest.flatten(batch)[0])[0]

    def step(batch):
        losses, images = strategy.run(replica_step, args=(batch,))
        return reduce_losses(strategy, losses), strategy.reduce(tf.distribute.ReduceOp.SUM, images, axis=None)

    return tf.function(step, reduce_retracing=True)


def local_batch(strategy, batch):
    """This worker's rows of a distributed batch as one ordinary batch (e.g. for sample grids)."""
    parts = strategy.experimental_local_results(batch)
    if len(parts) == 1:
        return parts[0]
    return tf.nest.map_structure(lambda *rows: tf.concat(rows, 0), *parts)


def distribute_dataset(strategy, dataset, per_worker=False):
    """``dataset`` of global batches, split over the replicas in global-batch order.

    Replica r (numbered across workers, as ``all_gather`` orders them) gets rows
    ``[r * b, (r + 1) * b)`` of every global batch, ``b = global / replicas``; so a step sees
    exactly the batch it would see on one device. tf.data's auto-sharding would instead deal
    out whole files or batches, and a multi-worker step would not match a single-device one.

    ``per_worker``: ``dataset`` already holds only this worker's rows of each global batch
    (``data.Options(shard=worker_shard(strategy))``: the worker decoded only those); otherwise
    each worker runs the whole (deterministic) pipeline and keeps its rows.
    """
    if strategy.num_replicas_in_sync == 1 and not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    shard = worker_shard(strategy) if per_worker else None

    def split(context):
        pipelines, worker = context.num_input_pipelines, context.input_pipeline_id
        local = context.num_replicas_in_sync // pipelines
        if shard is not None and shard != (worker, pipelines):
            raise ValueError(f"the dataset holds the rows of worker {shard[0]} of {shard[1]}, but this input "
                             f"pipeline is {worker} of {pipelines}")

        def rows_of_this_worker(batch):
            def part(x):
                if shard is not None:  # already this worker's rows: only its replicas' split
                    return tf.reshape(x, tf.concat([[local, -1], tf.shape(x)[1:]], 0))
                x = tf.reshape(x, tf.concat([[pipelines, local, -1], tf.shape(x)[1:]], 0))[worker]
                return x
            return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(part, batch))

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return dataset.flat_map(rows_of_this_worker).with_options(options)

    return strategy.distribute_datasets_from_function(split)
