"""One way every trainer turns a loss into an update, so that mixed precision (loss scaling)
and other cross-cutting rules live in one place instead of in each ``train_step``."""

import keras
import tensorflow as tf


def for_precision(optimizer):
    """``optimizer``, wrapped for dynamic loss scaling when the global Keras dtype policy is
    ``mixed_float16`` (float16 gradients underflow without it; bfloat16 needs none)."""
    if keras.mixed_precision.dtype_policy().name == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def apply_gradients(optimizer, tape, loss, variables):
    """Differentiate ``loss`` (recorded on ``tape``) with respect to ``variables`` and apply
    the update with ``optimizer``.

    With a ``LossScaleOptimizer`` the gradient is seeded with the loss scale (the same as
    differentiating the scaled loss, without recording the multiplication on the tape), and
    the optimizer unscales it and skips steps whose gradients are not finite.
    """
    variables = list(variables)
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        grads = tape.gradient(loss, variables, output_gradients=optimizer.scale_loss(keras.ops.ones_like(loss)))
        grads = _agree_on_finiteness(optimizer, grads)
    else:
        grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))


def _agree_on_finiteness(optimizer, grads):
    """Make every replica's gradients non-finite when any replica's are.

    Keras's ``LossScaleOptimizer`` decides "apply or skip and halve the scale" from gradients
    before they are all-reduced: from the first replica's only (MirroredStrategy), or from
    each replica's own (MultiWorkerMirroredStrategy), so an overflow on another replica would
    reach the weights, or the replicas would disagree and hang in the all-reduce. One scalar
    all-reduce makes them agree.
    """
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return grads
    bad = 1.0 - tf.cast(optimizer.check_finite(grads), tf.float32)
    any_bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad) > 0
    poison = tf.where(any_bad, float("nan"), 0.0)
    return [g if g is None else g + tf.cast(poison, g.dtype) for g in grads]
