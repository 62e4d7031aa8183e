"""One way every trainer turns a loss into an update, so that mixed precision (loss scaling)
and other cross-cutting rules live in one place instead of in each ``train_step``."""

import keras


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
    else:
        grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
