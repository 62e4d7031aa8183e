"""Learning-rate policies of the reference code, as Keras schedules driven by the step.

The reference updates the rate once per epoch; these schedules compute the epoch from the
optimizer's step count (``step // steps_per_epoch``) so that the rate lives in the
checkpoint with the optimizer and a resumed run continues on the same curve.
"""

import math

import keras
import tensorflow as tf

from .optimize import for_precision

POLICIES = ("linear", "step", "cosine", "constant")


@keras.saving.register_keras_serializable(package="tfgan_translate")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``base_lr * factor(epoch)`` for one of the reference policies.

    - ``linear``: constant for ``n_epochs``, then linear decay toward 0 over
      ``n_epochs_decay`` (the reference rule ``1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)``
      for 0-based epoch e), and 0 from then on.
    - ``step``: times 0.1 every ``decay_epochs`` epochs.
    - ``cosine``: half a cosine from ``base_lr`` to 0 over ``n_epochs + n_epochs_decay``.
    - ``constant``: ``base_lr`` always.
    """

    def __init__(self, base_lr, steps_per_epoch, n_epochs=100, n_epochs_decay=100, policy="linear", decay_epochs=50):
        if policy not in POLICIES:
            raise ValueError(f"lr_policy must be one of {', '.join(POLICIES)}; got {policy!r}")
        if steps_per_epoch < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.n_epochs = int(n_epochs)
        self.n_epochs_decay = int(n_epochs_decay)
        self.policy = policy
        self.decay_epochs = int(decay_epochs)

    def factor(self, epoch):
        """The multiplier of ``base_lr`` during 0-based ``epoch`` (a float tensor)."""
        epoch = tf.cast(epoch, tf.float32)
        if self.policy == "linear":
            over = tf.maximum(0.0, epoch + 1.0 - self.n_epochs)
            # 0 after the schedule's end (the reference never trains that long; a negative rate would ascend)
            return tf.maximum(0.0, 1.0 - over / float(self.n_epochs_decay + 1))
        if self.policy == "step":
            return tf.pow(0.1, tf.floor(epoch / float(self.decay_epochs)))
        if self.policy == "cosine":
            total = float(max(1, self.n_epochs + self.n_epochs_decay))
            return 0.5 * (1.0 + tf.cos(math.pi * tf.minimum(epoch, total) / total))
        return tf.ones_like(epoch)

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        return self.base_lr * self.factor(epoch)

    def get_config(self):
        return {
            "base_lr": self.base_lr,
            "steps_per_epoch": self.steps_per_epoch,
            "n_epochs": self.n_epochs,
            "n_epochs_decay": self.n_epochs_decay,
            "policy": self.policy,
            "decay_epochs": self.decay_epochs,
        }


def adam_for(config, steps_per_epoch):
    """Adam with the config's rate, betas and schedule (the papers: 2e-4, beta1 0.5)."""
    schedule = EpochSchedule(
        config.lr, steps_per_epoch, config.n_epochs, config.n_epochs_decay, config.lr_policy, config.lr_decay_epochs
    )
    return for_precision(keras.optimizers.Adam(learning_rate=schedule, beta_1=config.beta_1, beta_2=config.beta_2))


def rmsprop_for(config, steps_per_epoch):
    """RMSProp with the config's rate and schedule (DualGAN: 5e-5; ``rho`` = the TF1 ``decay`` 0.9).

    ``steps_per_epoch`` counts this optimizer's updates per epoch (e.g. ``n_critic`` times the
    batches for a critic updated ``n_critic`` times per step), so the epoch it sees is the data's.
    """
    schedule = EpochSchedule(
        config.lr, steps_per_epoch, config.n_epochs, config.n_epochs_decay, config.lr_policy, config.lr_decay_epochs
    )
    return for_precision(keras.optimizers.RMSprop(learning_rate=schedule, rho=getattr(config, "rho", 0.9)))
