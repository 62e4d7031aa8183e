"""The compiled call the training loop makes: one or several train steps per ``tf.function`` call.

The host reads nothing between the loop's boundaries (log, sample, checkpoint, evaluation, epoch
end, a stop): the step counter, the images seen and the first step whose losses were not finite
are kept in variables on the device and read when the loop needs them. On a GPU this keeps the
device busy instead of waiting for a loss to be copied back after every step; ``steps_per_call``
K > 1 also saves K - 1 function dispatches per call (what a fast accelerator waits for at small
image sizes).

A call of K steps computes exactly what K calls of one step compute: the batches come from the
same iterator in the same order, the step runs the same graph, and the loop ends every call at a
boundary, so checkpoints, samples and signals fall on the same steps whatever K is.
"""

import tensorflow as tf

from .distribute import reduce_losses


def all_finite(losses):
    """Whether every value of ``losses`` (a dict of tensors) is finite, as one boolean tensor."""
    return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(tf.cast(v, tf.float32))) for v in losses.values()]))


class StepCalls:
    """``calls(iterator, k)`` runs up to ``k`` train steps in one call; it stops early after a step
    with a NaN or infinite loss, and runs none once such a step has happened.

    The last step's losses are kept in a float32 vector variable (``losses()`` reads them as a
    dict), not returned: the step is traced once, inside the loop, and the loop needs no
    values of the losses' structure before its first step.

    Args:
        train_step: the trainer's per-replica step, ``batch -> dict of scalar losses``.
        strategy: the ``tf.distribute.Strategy`` the trainer was built in.
        step_counter: the run's int64 step variable (checkpointed), incremented once per step.
        steps_per_call: the most steps one call runs.
        jit_compile: compile each replica's step with XLA.
        agree_stop: also all-reduce a stop request across workers (multi-worker runs), so every
            worker stops after the same step.
    """

    def __init__(self, train_step, strategy, step_counter, steps_per_call=1, jit_compile=False, agree_stop=False):
        if int(steps_per_call) < 1:
            raise ValueError(f"steps_per_call must be >= 1, got {steps_per_call!r}")
        self.steps_per_call = int(steps_per_call)
        self.agree_stop = bool(agree_stop)
        self.step_counter = step_counter
        self._loss_names = None
        with strategy.scope():
            self.images = tf.Variable(0, dtype=tf.int64, trainable=False, name="images_seen")
            self.first_bad_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="first_non_finite_step")
            self.last_losses = tf.Variable([], dtype=tf.float32, shape=tf.TensorShape(None), trainable=False,
                                           name="losses_of_the_last_step")
        replica_step = tf.function(train_step, jit_compile=True) if jit_compile else train_step

        def replica(batch):
            return replica_step(batch), tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.int64)

        def call(iterator, k, stop):
            def body(i, bad):
                losses, images = strategy.run(replica, args=(next(iterator),))
                losses = reduce_losses(strategy, losses)
                self._loss_names = sorted(losses)
                self.last_losses.assign(tf.stack([tf.cast(losses[name], tf.float32) for name in self._loss_names]))
                step = self.step_counter.assign_add(1)
                self.images.assign_add(strategy.reduce(tf.distribute.ReduceOp.SUM, images, axis=None))
                return i + 1, tf.where(tf.logical_and(bad < 0, tf.logical_not(all_finite(losses))), step, bad)

            _, bad = tf.while_loop(lambda i, bad: tf.logical_and(i < k, bad < 0), body,
                                   (tf.constant(0), self.first_bad_step.read_value()))
            self.first_bad_step.assign(bad)
            if agree_stop:
                # every replica votes 0 or 1: any vote stops every worker after this call
                votes = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: tf.identity(stop)), axis=None)
                stop = tf.minimum(votes, 1)
            return stop

        self._call = tf.function(call, reduce_retracing=True)

    def __call__(self, iterator, k=1, stop=False):
        """Up to ``k`` steps (at most ``steps_per_call``) from ``iterator``; returns the stop request
        agreed by every worker (``agree_stop``) or the one given, as a tensor."""
        if not 1 <= k <= self.steps_per_call:
            raise ValueError(f"a call runs 1 to {self.steps_per_call} steps, not {k}")
        return self._call(iterator, tf.constant(k, tf.int32), tf.constant(int(bool(stop)), tf.int32))

    def losses(self):
        """The last step's losses, ``{name: float}`` (a host read: the loop asks at its boundaries)."""
        return dict(zip(self._loss_names or [], self.last_losses.numpy().tolist()))

    def first_non_finite(self):
        """``(step, {name: loss})`` of the first step whose losses were not all finite, or ``None``
        (no step runs after it, so the last losses are that step's)."""
        step = int(self.first_bad_step.numpy())
        return None if step < 0 else (step, self.losses())

    def tracing_count(self):
        return self._call.experimental_get_tracing_count()
