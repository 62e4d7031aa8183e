"""Learning-rate policies of the reference code, as Keras schedules driven by the step.

The reference updates the rate once per epoch; these schedules compute the epoch from the
optimizer's step count (``step // steps_per_epoch``) so that the rate lives in the
checkpoint with the optimizer and a resumed run continues on the same curve.
"""

import math

import keras
import tensorflow as tf

from .config import LR_POLICIES as POLICIES
from .optimize import for_precision



class EpochLength:
    """The number of batches in one epoch, shared by a trainer's schedules and the loop.

    A trainer may be built before its data is known (``steps`` ``None``); ``training.fit``
    then binds the data's steps per epoch before the first step is traced. Once set it can
    only be confirmed, never changed, so that a schedule cannot count other epochs than the
    loop does.
    """

    def __init__(self, steps=None):
        self.steps = None
        if steps is not None:
            self.bind(steps)

    def bind(self, steps):
        """Set the steps per epoch, or check that ``steps`` equals the value already set."""
        if steps is None:
            if self.steps is None:
                raise ValueError("steps_per_epoch is unknown: give it to the Trainer or to training.fit")
            return self.steps
        steps = int(steps)
        if steps < 1:
            raise ValueError(f"steps_per_epoch must be >= 1, got {steps}")
        if self.steps is not None and self.steps != steps:
            raise ValueError(
                f"the trainer was built with steps_per_epoch={self.steps} but the loop was given {steps}: its "
                "learning-rate schedule would count other epochs than the data; build it with the data's value"
            )
        self.steps = steps
        return steps


@keras.saving.register_keras_serializable(package="tfgan_translate")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``base_lr * factor(epoch)`` for one of the reference policies.

    - ``linear``: constant for ``n_epochs``, then linear decay toward 0 over
      ``n_epochs_decay`` (the reference rule ``1 - max(0, e + 1 - n_epochs) / (n_epochs_decay + 1)``
      for 0-based epoch e), and 0 from then on.
    - ``step``: times 0.1 every ``decay_epochs`` epochs.
    - ``halve``: times 0.5 every ``decay_epochs`` epochs (StackGAN's schedule).
    - ``cosine``: half a cosine from ``base_lr`` to 0 over ``n_epochs + n_epochs_decay``.
    - ``constant``: ``base_lr`` always.
    """

    def __init__(self, base_lr, steps_per_epoch, n_epochs=100, n_epochs_decay=100, policy="linear", decay_epochs=50,
                 updates_per_step=1):
        if policy not in POLICIES:
            raise ValueError(f"lr_policy must be one of {', '.join(POLICIES)}; got {policy!r}")
        self.base_lr = float(base_lr)
        # An int, or an EpochLength bound later (read when the step is traced).
        self.epoch_length = steps_per_epoch if isinstance(steps_per_epoch, EpochLength) else EpochLength(steps_per_epoch)
        self.updates_per_step = int(updates_per_step)
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
        if self.policy == "halve":
            return tf.pow(0.5, tf.floor(epoch / float(self.decay_epochs)))
        if self.policy == "cosine":
            total = float(max(1, self.n_epochs + self.n_epochs_decay))
            return 0.5 * (1.0 + tf.cos(math.pi * tf.minimum(epoch, total) / total))
        return tf.ones_like(epoch)

    @property
    def steps_per_epoch(self):
        """This optimizer's updates per epoch: the data's steps times ``updates_per_step``."""
        return self.epoch_length.bind(None) * self.updates_per_step

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


@keras.saving.register_keras_serializable(package="tfgan_translate")
class EpochGate(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule(step)`` during epochs ``[start_epoch, stop_epoch)``, 0 elsewhere.

    A rate of exactly 0 makes Adam leave its variables unchanged, so two optimizers with
    complementary gates switch which variables learn at an epoch boundary without any
    branch on tensors (``tf.cond`` around ``apply_gradients`` breaks under
    ``tf.distribute``, whose gradient all-reduce cannot sit in control flow).
    """

    def __init__(self, schedule, start_epoch=0, stop_epoch=None):
        self.schedule = schedule
        self.start_epoch = int(start_epoch)
        self.stop_epoch = None if stop_epoch is None else int(stop_epoch)

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.schedule.steps_per_epoch)
        on = epoch >= self.start_epoch
        if self.stop_epoch is not None:
            on = on & (epoch < self.stop_epoch)
        return self.schedule(step) * tf.cast(on, tf.float32)

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "start_epoch": self.start_epoch,
            "stop_epoch": self.stop_epoch,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config, schedule=keras.saving.deserialize_keras_object(config["schedule"]))
        return cls(**config)


def schedule_for(config, steps_per_epoch, updates_per_step=1, lr=None):
    """The config's learning-rate policy for an optimizer updated ``updates_per_step`` times a step."""
    return EpochSchedule(config.lr if lr is None else lr, steps_per_epoch, config.n_epochs, config.n_epochs_decay,
                         config.lr_policy, config.lr_decay_epochs, updates_per_step)


def adam_for(config, steps_per_epoch, updates_per_step=1, lr=None, active_epochs=None):
    """Adam with the config's rate (or ``lr``), betas and schedule (the papers: 2e-4, beta1 0.5);
    ``active_epochs=(start, stop)`` gates the rate to those epochs (``EpochGate``)."""
    schedule = schedule_for(config, steps_per_epoch, updates_per_step, lr)
    if active_epochs is not None:
        schedule = EpochGate(schedule, *active_epochs)
    return for_precision(keras.optimizers.Adam(learning_rate=schedule, beta_1=config.beta_1, beta_2=config.beta_2))


def rmsprop_for(config, steps_per_epoch, updates_per_step=1, rho=0.9):
    """RMSProp with the config's rate and schedule (DualGAN: 5e-5; ``rho`` = the TF1 ``decay`` 0.9).

    ``updates_per_step`` counts this optimizer's updates per step (e.g. ``n_critic`` for a
    critic updated ``n_critic`` times a step), so the epoch it sees is the data's.
    """
    schedule = schedule_for(config, steps_per_epoch, updates_per_step)
    return for_precision(keras.optimizers.RMSprop(learning_rate=schedule, rho=rho))
