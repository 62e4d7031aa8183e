"""The training loop: owns ``tf.function``, checkpoints, logs, samples and interruptions.

It knows a trainer only through the small interface :class:`Trainable` (which every family's
``Trainer`` implements through ``families.base.Trainer``).
"""

import dataclasses
import functools
import math
import numbers
import signal
import time
import typing
from pathlib import Path

import tensorflow as tf
from PIL import Image

from . import distribute
from .checkpoints import DEFAULT_KEEP_CHECKPOINTS, RunCheckpoint
from .run_folder import RunFolder
from .run_lock import RunLock
from .step_calls import StepCalls
from .summaries import TensorBoardLog, sample_grid


class Trainable(typing.Protocol):
    """What ``fit`` needs of a trainer (``families.base.Trainer`` provides it)."""

    family: typing.Any  # has ``name``: written into config.json
    config: typing.Any  # a frozen dataclass

    def bind_steps_per_epoch(self, steps: int | None) -> int: ...

    def checkpoint_items(self) -> dict: ...

    def check_batch(self, batch) -> None: ...

    def train_step(self, batch) -> dict: ...

    def sample(self, batch) -> dict: ...


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class ShortEpochError(RuntimeError):
    """The dataset of an epoch gave fewer batches than the run's steps per epoch."""


@dataclasses.dataclass
class FitResult:
    step: int
    losses: dict
    images_per_second: float
    interrupted: bool
    checkpoint: str | None
    resumed_from: str | None
    step_tracings: int = 1  # times the compiled train step was traced (more than 1: retracing)
    first_call_seconds: float | None = None  # the first compiled call: tracing, graph optimisation, its steps
    # after the first call up to the last step (the final grid and checkpoint left out):
    steady_images_per_second: float | None = None
    steady_steps: int = 0
    steady_seconds: float | None = None
    steady_cpu_seconds: float | None = None  # this process's CPU time (all threads): steadier than wall time on a shared machine


def prepare_run_dir(run_dir, family, config, run_data=None):
    """Create the folder, or check that its saved config is this one; then write ``config.json``
    (``RunFolder.prepare``; ``run_dir`` may be a path or a ``RunFolder``)."""
    folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
    return folder.prepare(family, config, run_data)


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks between steps (then saves and exits)."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def _handle(self, signum, frame):
        self.signal = signum

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class _NoLog:
    """What a non-chief worker logs: nothing (the chief writes TensorBoard)."""

    def scalars(self, values, step):
        pass

    def grid(self, name, grid, step):
        pass

    def flush(self):
        pass


def _run_roles(strategy, run_dir, trainer, run_data=None):
    """``(chief, run_dir, scratch_dir, log)``: the chief checks/writes ``config.json`` and keeps
    checkpoints and logs; another multi-worker process writes nothing that stays (its
    checkpoint copies go to a scratch folder that is deleted after each save)."""
    if distribute.is_chief(strategy):
        path = prepare_run_dir(run_dir, trainer.family.name, trainer.config, run_data)
        return True, path, None, TensorBoardLog(path)
    return False, Path(run_dir), distribute.scratch_dir(Path(run_dir), strategy), _NoLog()


def _progress(total, initial, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True)


def _evaluate(evaluate_fn, trainer, log, step, bar):
    """Run ``evaluate_fn(trainer)``, log its values as ``eval/<name>`` and print them."""
    values = {name: float(value) for name, value in evaluate_fn(trainer).items()}
    log.scalars({f"eval/{name}": value for name, value in values.items()}, step)
    text = f"step {step} evaluation: " + ", ".join(f"{name} {value:.4f}" for name, value in values.items())
    (bar.write if bar is not None else print)(text)
    return values


def _check_intervals(options):
    """``fit``'s step counts and intervals are integers >= 0 (0 turns an interval off)."""
    for name in ("total_steps", "sample_every", "checkpoint_every", "log_every", "evaluate_every"):
        value = options.get(name, 0)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
            raise ValueError(f"fit: {name} must be an integer >= 0 (0 turns an interval off); got {value!r}")


def _first_batch_twice(dataset):
    """``dataset`` with its first batch given twice: once for the sample grids, then to train on.

    The grids' batch must come from the same pass over the dataset as the training: a second
    iterator over a dataset that reshuffles (or re-randomizes its jitter) each iteration would move
    the training onto that dataset's next pass, and a resumed run would see other batches.
    """
    def once_or_twice(index, batch):
        return tf.data.Dataset.from_tensors(batch).repeat(tf.where(index == 0, tf.constant(2, tf.int64), tf.constant(1, tf.int64)))

    return dataset.enumerate().flat_map(once_or_twice)


def _with_run_lock(train):
    """Run ``train(trainer, dataset_fn, run_dir, ...)`` holding the lock of ``run_dir``."""

    @functools.wraps(train)
    def locked(trainer, dataset_fn, run_dir, **options):
        _check_intervals(options)  # before the lock file (the first thing written) exists
        if not distribute.is_chief(options.get("strategy")):  # other workers write nothing that stays
            return train(trainer, dataset_fn, run_dir, **options)
        with RunLock(run_dir):
            return train(trainer, dataset_fn, run_dir, **options)

    return locked


@_with_run_lock
def fit(
    trainer: Trainable,
    dataset_fn,
    run_dir,
    *,
    total_steps,
    steps_per_epoch=None,
    sample_batch=None,
    sample_every=500,
    checkpoint_every=1000,
    log_every=50,
    progress=True,
    evaluate_fn=None,
    evaluate_every=0,
    strategy=None,
    run_data=None,
    keep_checkpoints=DEFAULT_KEEP_CHECKPOINTS,
    steps_per_call=1,
    jit_compile=False,
    dataset_per_worker=None,
):
    """Train ``trainer`` until ``total_steps`` (counting steps of earlier, resumed runs).

    Args:
        trainer: a family ``Trainer`` (see :class:`Trainable`).
        dataset_fn: ``epoch -> tf.data.Dataset`` of batches for that epoch; it must give the
            same batches for the same epoch, so that a resumed run sees what an
            uninterrupted one would (the loop skips the batches already done).
        run_dir: the run folder (a path or a ``RunFolder``); resumes automatically from its
            latest checkpoint.
        steps_per_epoch: batches in one epoch, which the trainer's learning-rate schedules
            count: bound to a trainer built without it, and refused when the trainer was built
            with another value (``None``: the trainer's own).
        total_steps: stop when the step counter reaches this.
        sample_batch: a batch to translate for the PNG grids (``None``: first batch).
        sample_every, checkpoint_every, log_every: intervals in steps (0 turns one off).
        progress: show a progress bar with losses and images/s.
        evaluate_fn: ``trainer -> dict of floats`` (e.g. ``evaluation.training_evaluate_fn``),
            run every ``evaluate_every`` steps (0: never); each value is printed and logged
            to TensorBoard as ``eval/<name>``.
        strategy: a ``tf.distribute.Strategy`` (``None``: the default one); the trainer must
            have been created in its scope (``distribute.build_trainer``). Only the chief
            writes the run's files (see ``_run_roles``) and holds the run folder's lock.
        run_data: what the run trains on (the CLI's ``{"dataset", "direction", ...}``), kept in
            ``config.json``; written under the lock, with the config.
        keep_checkpoints: how many of the newest checkpoints the run folder keeps (``None`` or 0: all),
            e.g. to score each with ``evaluate --all-checkpoints``.
        steps_per_call: the most train steps one call of the compiled function runs (see
            ``step_calls``); calls end at every interval's step, so the run is the same for any value.
        jit_compile: compile the train step with XLA.
        dataset_per_worker: ``dataset_fn`` gives each worker of a multi-worker run only its rows of
            every global batch (``data.Options(shard=distribute.worker_shard(strategy))``). ``None``:
            ``dataset_fn.per_worker`` when it has one (the CLI's sources set it), else ``False``.

    Returns:
        ``FitResult``. Raises ``NonFiniteLossError`` on NaN/Inf (the last good checkpoint
        stays the newest), ``RunConflictError`` for a folder of another configuration,
        ``RunLockedError`` when another live process trains into ``run_dir``, and
        ``CheckpointWriteError`` when a checkpoint cannot be written (the previous one is kept).
    """
    strategy = strategy or tf.distribute.get_strategy()
    per_worker = getattr(dataset_fn, "per_worker", False) if dataset_per_worker is None else dataset_per_worker
    steps_per_epoch = trainer.bind_steps_per_epoch(steps_per_epoch)
    chief, run_dir, scratch, log = _run_roles(strategy, run_dir, trainer, run_data)
    with strategy.scope():
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = RunCheckpoint({**trainer.checkpoint_items(), "step": step_var}, run_dir, max_to_keep=keep_checkpoints or None,
                               scratch_dir=scratch)
    resumed_from = checkpoint.restore_latest()
    step = int(step_var.numpy())
    if resumed_from and chief:
        print(f"resuming {run_dir} from {Path(resumed_from).name} at step {step}")
    calls = StepCalls(trainer.train_step, strategy, step_var, steps_per_call, jit_compile,
                      agree_stop=distribute.is_multi_worker(strategy))
    boundaries = [n for n in (log_every, sample_every, checkpoint_every, evaluate_every if evaluate_fn else 0) if n]
    bar = _progress(total_steps, step, progress and chief)
    losses, saved_at, started = {}, step if resumed_from else None, time.perf_counter()
    interrupted, checked, drew_sample = False, False, False
    steady, first_call_seconds = None, None

    def check_finite():
        first = calls.first_non_finite()
        if first is None:
            return
        bad_step, values = first
        advice = ("The folder has no checkpoint yet, so the same command with a lower --lr starts it "
                  "again" if checkpoint.latest is None else
                  f"The last good checkpoint is {checkpoint.latest}; a run keeps its settings, so train "
                  "with a lower --lr in a new run (--new-run)")
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        raise NonFiniteLossError(
            f"loss {', '.join(bad)} became {values[bad[0]]} at step {bad_step}; training stopped. "
            f"{advice}, or check the input images."
        )

    def save():
        nonlocal saved_at
        if saved_at != step:
            checkpoint.save(step)
            saved_at = step

    def write_samples():
        if not chief:
            return None
        grid = sample_grid(trainer, trainer.sample(sample_batch))
        path = run_dir / "samples" / f"step_{step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(grid).save(path)
        log.grid("samples", grid, step)
        return path

    def rate():
        return int(calls.images.numpy()) / max(time.perf_counter() - started, 1e-9)

    with _StopRequest() as stop:
        while step < total_steps and not interrupted:
            epoch, offset = divmod(step, steps_per_epoch)
            count = min(steps_per_epoch - offset, total_steps - step)
            dataset = dataset_fn(epoch).skip(offset).take(count)
            if not checked:
                trainer.check_batch(dataset.element_spec)
                checked = True
            draw = sample_batch is None and not drew_sample
            if draw:
                dataset = _first_batch_twice(dataset)
            distributed = distribute.distribute_dataset(strategy, dataset, per_worker)
            iterator, end = iter(distributed), step + count
            if draw:  # every worker draws it: a multi-worker next() is a collective
                first, drew_sample = distribute.local_batch(strategy, next(iterator)), True
                sample_batch = first if chief else None
            while step < end:
                k = min(calls.steps_per_call, end - step, *(n - step % n for n in boundaries))
                call_started = time.perf_counter()
                try:
                    agreed_stop = calls(iterator, k, stop.signal is not None)
                except tf.errors.OutOfRangeError:
                    raise ShortEpochError(
                        f"the dataset of epoch {epoch} has fewer batches than the run's {steps_per_epoch} steps per "
                        f"epoch: it ran out by batch {step + k - epoch * steps_per_epoch}. Give fit the dataset's real "
                        "steps_per_epoch (a resumed run must see the same batches in every epoch)") from None
                step += k
                if steady is None:  # one host read, after the first call (tracing) only
                    steady = (int(calls.images.numpy()), time.perf_counter(), time.process_time(), step)
                    first_call_seconds = steady[1] - call_started
                if bar is not None:
                    bar.update(k)
                stop_now = bool(agreed_stop.numpy()) if calls.agree_stop else stop.signal is not None
                at = {n for n in boundaries if step % n == 0}
                if at or step == end or stop_now:
                    check_finite()
                    losses = calls.losses()
                    if bar is not None:
                        bar.set_postfix({**{k: f"{v:.3f}" for k, v in losses.items()}, "img/s": f"{rate():.1f}"},
                                        refresh=False)
                if log_every in at:
                    log.scalars({**losses, "images_per_second": rate()}, step)
                if sample_every in at:
                    write_samples()
                if checkpoint_every in at:
                    save()
                if evaluate_fn is not None and evaluate_every in at:
                    _evaluate(evaluate_fn, trainer, log, step, bar)
                if stop_now:
                    interrupted = True
                    break
        steady_figures = {}
        if steady is not None and step > steady[3]:
            seconds = time.perf_counter() - steady[1]
            steady_figures = dict(steady_images_per_second=(int(calls.images.numpy()) - steady[0]) / max(seconds, 1e-9),
                                  steady_steps=step - steady[3], steady_seconds=seconds,
                                  steady_cpu_seconds=time.process_time() - steady[2])
        if sample_batch is not None and step > 0:
            write_samples()
        save()
    log.flush()
    if bar is not None:
        bar.close()
    if interrupted and chief:
        print(f"Stopped by signal {stop.signal} at step {step}; checkpoint saved in {checkpoint.directory}.")
    return FitResult(step, losses, rate(), interrupted, checkpoint.latest, resumed_from, calls.tracing_count(),
                     first_call_seconds, **steady_figures)
