"""The built-in demo datasets' quality figures, which need no Inception weights.

- ``known_mapping_report``: ``demo-unpaired``'s test split carries the true translation of
  every input, so an unpaired generator's A -> B is scored by PSNR against it, next to the
  identity guess (the input itself).
- ``paired_test_report``: a paired generator's PSNR and L1 on a ``demo-<task>`` test split,
  next to the untrained generator and the input itself.
"""

import tensorflow as tf

from ..data import demo
from . import paired

DEMO_SIZE = 32


def known_mapping_psnr(generator, size=DEMO_SIZE):
    """Mean PSNR (dB) of G(a) and of the identity guess a against the true mapped images
    of the ``demo-unpaired`` test split."""
    test = demo.demo_unpaired(split="test", image_size=size, batch_size=50)
    learned, identity = [], []
    for batch in test:
        learned.append(demo.psnr(generator(batch["a"], training=False), batch["b_true"]))
        identity.append(demo.psnr(batch["a"], batch["b_true"]))
    return float(tf.reduce_mean(tf.concat(learned, 0))), float(tf.reduce_mean(tf.concat(identity, 0)))


def known_mapping_report(generator, size=DEMO_SIZE):
    """``{psnr_db, identity_psnr_db, psnr_gain_db}`` of ``generator`` (A -> B) on ``demo-unpaired``."""
    learned, identity = known_mapping_psnr(generator, size)
    return {"psnr_db": round(learned, 2), "identity_psnr_db": round(identity, 2),
            "psnr_gain_db": round(learned - identity, 2)}


def paired_test_report(generator, untrained, size=DEMO_SIZE, task="gray2color"):
    """Held-out figures of a paired generator on ``demo-<task>``'s test split (100 crops): mean
    PSNR (dB) and L1 of G(a) against b, next to the ``untrained`` generator (the same config's
    initial weights) and the input itself (for gray2color the gray copy)."""
    test = demo.demo_paired(task, split="test", image_size=size, batch_size=50)
    report = {}
    for prefix, model in {"": generator, "untrained_": untrained, "input_": None}.items():
        psnr, l1 = [], []
        for batch in test:
            output = batch["a"] if model is None else model(batch["a"], training=False)
            psnr.append(paired.psnr(output, batch["b"]))
            l1.append(paired.l1(output, batch["b"]))
        report[f"{prefix}test_psnr_db"] = round(float(tf.reduce_mean(tf.concat(psnr, 0))), 2)
        report[f"{prefix}test_l1"] = round(float(tf.reduce_mean(tf.concat(l1, 0))), 4)
    report["psnr_gain_over_untrained_db"] = round(report["test_psnr_db"] - report["untrained_test_psnr_db"], 2)
    return report
