"""The demo: the main job on a fresh machine, on the built-in offline data, in CPU minutes.

By default trains pix2pix (edges -> photo) and CycleGAN (the colour mapping with a known answer);
``--family`` picks any family with an entry in ``DEMOS``. Each run
writes sample grids, checkpoints and exported generators, and reports losses, images/s
and the CycleGAN's PSNR against the true mapping next to the identity guess.

Settings, chosen so both finish in a few minutes on 2 CPU cores while keeping the
reference architectures (ResNet generator, 70x70 PatchGAN, U-Net), only narrower:
32 px crops, 16 filters, 3 residual blocks, batch 4, learning rate 5e-4 for half the
steps, then the reference's linear decay (CycleGAN 2,000 steps, pix2pix 1,000). The identity loss is off for the CycleGAN:
the demo's true mapping moves every colour, so an identity term pulls against the answer.
"""

import dataclasses
import json
import time
from pathlib import Path

import tensorflow as tf

from . import (
    cgan, cyclegan, data, digit_quality, discogan, dualgan, inference, infogan, pix2pix, pix2pixhd, runs, training,
)
from .families import DEFAULT_DEMOS
from .metrics import paired as metrics
from .translation import seeded

SIZE = 32
EPOCHS = 20  # 10 at the full rate, 10 decaying; 100 batches of 4 per epoch

PIX2PIX = pix2pix.Config(image_size=SIZE, ngf=16, ndf=16, batch_size=4, lr=5e-4, n_epochs=5, n_epochs_decay=5)
CYCLEGAN = cyclegan.Config(image_size=SIZE, ngf=16, ndf=16, n_blocks=3, batch_size=4, lr=5e-4,
                           lambda_identity=0.0, n_epochs=EPOCHS // 2, n_epochs_decay=EPOCHS // 2)
# DiscoGAN at 32 px keeps the official design with one level less (4x4 bottleneck), 16 filters,
# batch 8, Adam 5e-4, 750 steps (8 epochs at the full rate, 7 decaying). No GAN curriculum
# (gan_curriculum=0: reconstruction weight 0.5 from the first step): the official 0.01 start
# lets the GAN-only phase settle on a colour scramble that the cycle then keeps. Measured on the
# known-mapping PSNR (identity guess 13.46 dB): 16.8 dB (+3.3) in 750 steps, 80 CPU s (1:42 wall on
# the loaded 2 cores, `cli demo --family discogan`). Also measured: a 300-iteration curriculum
# 11.8 dB (500 steps); no curriculum with lr 2e-4 10.8 dB (750), with 5e-4 15.9 dB (500), 15.5 dB (1,000).
DISCOGAN = discogan.Config(image_size=SIZE, ngf=16, ndf=16, batch_size=8, lr=5e-4, gan_curriculum=0,
                           lr_policy="linear", n_epochs=8, n_epochs_decay=7)
# DualGAN: WGAN-GP (gamma 10, critics without norm) instead of clipping, lambda 20 per domain,
# instance norm in the U-Nets, n_critic 2, RMSProp 2e-4, batch 4, 1,000 steps. Measured (identity
# guess 13.46 dB): 16.3 dB (+2.8), 124 CPU s (2:23 wall on the loaded 2 cores). With batch norm in
# the U-Nets (or none) every variant stayed below the identity: the cycle pair settles on a
# low-contrast, partly inverted colour code (G_BA's batch norm hides G_AB's contrast from the cycle
# loss). The paper's clipping with lambda 500: 12.5 dB (the clipped critic's gradient is ~1e-5 of
# the L1 term's); WGAN-GP (batch-norm critics) with lambda 50 12.3 dB, lambda 20 12.1 dB (12.6 dB
# with no norm in the U-Nets); the official code's sigmoid GAN (lambda 20) 11.6 dB. Instance norm
# in the U-Nets with batch-norm WGAN-GP critics: 16.7 dB.
DUALGAN = dualgan.Config(image_size=SIZE, ngf=16, ndf=16, batch_size=4, lr=2e-4, n_critic=2, lipschitz="gp",
                         lambda_a=20.0, lambda_b=20.0, norm="instance",
                         lr_policy="linear", n_epochs=5, n_epochs_decay=5)
# pix2pixHD's global generator (3 downsamplings at 32 px, 3 blocks), two D scales, LSGAN + feature
# matching (no VGG weights offline), on gray -> colour, 1,500 steps (about 2 CPU minutes alone).
# Changed from the paper (measured on 300-1,500-step runs):
# - norm "batch" instead of instance norm: instance norm after G's first convolution removes each
#   crop's brightness and contrast, so G cannot reproduce the input's luminance (even an L1-only G
#   stayed above the input's own error); with batch norm the test PSNR rose 2-3 dB more in 1,500 steps.
# - n_layers_d 1 (16 px patches): the 70 px PatchGAN sees all of a 32 px crop and beat G within a few
#   hundred steps (d ~0.004, noise textures); the small patch D stays balanced longer.
# - lr 5e-4 like the other demos, 8 + 7 epochs of 100 batches of 4.
# Measured (paired_test_report, 100 held-out crops): PSNR of G(a) vs b 17.3 dB (untrained G 11.8,
# the gray input itself 22.0), samples show the crops' shapes and main colours with a fine grid
# texture; the earlier settings (instance norm, 3-layer D, lr 2e-4, 1,000 steps) gave 11.8 dB
# (untrained 9.3) and noise. G still falls short of the input's own PSNR at this budget.
PIX2PIXHD = pix2pixhd.Config(image_size=SIZE, ngf=16, ndf=16, n_downsample_global=3, n_blocks=3, num_d=2,
                             norm="batch", n_layers_d=1, batch_size=4, lr=5e-4, n_epochs=8, n_epochs_decay=7)


def paired_test_report(trainer, task="gray2color", build_models=pix2pixhd.build_models):
    """Held-out figures of a paired family on ``demo-<task>``'s test split (100 crops): mean PSNR
    (dB) and L1 of G(a) against b, next to the untrained generator (the config's seeded initial
    weights, rebuilt with ``build_models``) and the input itself (for gray2color the gray copy)."""
    config = trainer.config
    test = data.demo_paired(task, split="test", image_size=config.image_size, batch_size=50)
    generators = {
        "": trainer.generators()["generator"],
        "untrained_": seeded(build_models, config)["generator"],
        "input_": None,
    }
    report = {}
    for prefix, generator in generators.items():
        psnr, l1 = [], []
        for batch in test:
            output = batch["a"] if generator is None else generator(batch["a"], training=False)
            psnr.append(metrics.psnr(output, batch["b"]))
            l1.append(metrics.l1(output, batch["b"]))
        report[f"{prefix}test_psnr_db"] = round(float(tf.reduce_mean(tf.concat(psnr, 0))), 2)
        report[f"{prefix}test_l1"] = round(float(tf.reduce_mean(tf.concat(l1, 0))), 4)
    report["psnr_gain_over_untrained_db"] = round(report["test_psnr_db"] - report["untrained_test_psnr_db"], 2)
    return report


# The digits families (offline 8x8 digits upscaled to 28 px; 22 batches of 64 per epoch): the chapter's
# MLP CGAN for 140 epochs (3,080 steps, about a CPU minute alone), and InfoGAN's networks at
# 128 hidden units, G 32 and D 16 filters (a weaker D keeps them balanced on 1,437 digits)
# for 80 epochs (1,760 steps, about two CPU minutes).
CGAN = cgan.Config(n_epochs=140)
INFOGAN = infogan.Config(hidden=128, ngf=32, ndf=16, n_epochs=80)


def known_mapping_psnr(generator, size=SIZE):
    """Mean PSNR (dB) of G(a) and of the identity guess a against the true mapped images
    of the ``demo-unpaired`` test split."""
    test = data.demo_unpaired(split="test", image_size=size, batch_size=50)
    learned, identity = [], []
    for batch in test:
        learned.append(data.psnr(generator(batch["a"], training=False), batch["b_true"]))
        identity.append(data.psnr(batch["a"], batch["b_true"]))
    return float(tf.reduce_mean(tf.concat(learned, 0))), float(tf.reduce_mean(tf.concat(identity, 0)))


cyclegan_psnr = known_mapping_psnr  # the name earlier code used


def known_mapping_report(trainer):
    """The quality figures of an unpaired family on ``demo-unpaired``: PSNR of A->B against
    the true mapping, the identity guess's, and the gain."""
    learned, identity = known_mapping_psnr(trainer.generators()["generator_ab"], trainer.config.image_size)
    return {"psnr_db": round(learned, 2), "identity_psnr_db": round(identity, 2),
            "psnr_gain_db": round(learned - identity, 2)}


@dataclasses.dataclass(frozen=True)
class Demo:
    """One family's demo: its module, the measured settings, the built-in dataset, and an
    optional ``quality(trainer) -> dict`` of figures for the report."""

    module: object
    config: object
    dataset: str
    quality: object = None


DEMOS = {
    "pix2pix": Demo(pix2pix, PIX2PIX, "demo-paired"),
    "cyclegan": Demo(cyclegan, CYCLEGAN, "demo-unpaired", known_mapping_report),
    "discogan": Demo(discogan, DISCOGAN, "demo-unpaired", known_mapping_report),
    "dualgan": Demo(dualgan, DUALGAN, "demo-unpaired", known_mapping_report),
    "pix2pixhd": Demo(pix2pixhd, PIX2PIXHD, "demo-gray2color", paired_test_report),
    "cgan": Demo(cgan, CGAN, "digits", digit_quality.cgan_report),
    "infogan": Demo(infogan, INFOGAN, "digits", digit_quality.infogan_report),
}


def _train(module, config, dataset, run_dir, total_steps, progress):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(module.FAMILY, dataset, config)
    trainer = module.Trainer(config, steps_per_epoch=steps_per_epoch)
    steps = total_steps or (config.n_epochs + config.n_epochs_decay) * steps_per_epoch
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          sample_every=max(1, steps // 4), checkpoint_every=max(1, steps // 4), progress=progress)
    return trainer, result, time.perf_counter() - started


def _print_report(report, output):
    for name, item in report.items():
        losses = ", ".join(f"{k} {v}" for k, v in item["losses"].items())
        if item.get("already_trained"):
            print(f"{name}: already trained ({item['steps']} steps; delete {item['run_dir']} to train it again); {losses}")
        else:
            print(f"{name}: {item['steps']} steps in {item['seconds']} s ({item['images_per_second']} images/s); {losses}")
        print(f"  samples {item['samples']}; exported generators in {item['export']}")
        if "psnr_gain_db" in item:
            print(f"  PSNR on the known-mapping test split: {item['psnr_db']:.2f} dB "
                  f"(identity guess {item['identity_psnr_db']:.2f} dB)")
        if "class_accuracy" in item:
            print(f"  samples labelled as the asked class by a digit classifier: {item['class_accuracy']:.1%} (chance 10%)")
        if "code_class_accuracy" in item:
            print(f"  best-mapping categorical code -> digit accuracy: {item['code_class_accuracy']:.1%}")
        if "test_psnr_db" in item:
            print(f"  held-out PSNR {item['test_psnr_db']:.2f} dB (untrained generator "
                  f"{item['untrained_test_psnr_db']:.2f} dB, the input itself {item['input_test_psnr_db']:.2f} dB)")
    if "cyclegan" in report:
        print(f"CycleGAN PSNR gain over identity: {report['cyclegan']['psnr_gain_db']:+.1f} dB")
    print(f"report: {output / 'report.json'}")


def _save_report(path, earlier, report):
    """``report.json``: this run's families over the entries of families run earlier into the folder."""
    path.write_text(json.dumps({**earlier, **report}, indent=2) + "\n")


class DemoInterrupted(Exception):
    """A demo training was stopped by Ctrl-C or SIGTERM after saving its checkpoint."""

    def __init__(self, family, step):
        super().__init__(f"{family} interrupted at step {step}")
        self.family, self.step = family, step


def run_demo(output="checkpoints/demo", quick=False, progress=True, families=DEFAULT_DEMOS):
    """Run the demo trainings of ``families`` into ``output`` and return the report dict.

    Re-running resumes finished runs (nothing retrains); ``quick`` trains 20 steps each.
    Ctrl-C or SIGTERM saves the current run's checkpoint, writes the report of the families
    finished before it and raises :class:`DemoInterrupted`; re-running resumes.
    The report (``report.json``) keeps the entries of families run earlier into ``output``.
    """
    unknown = [name for name in families if name not in DEMOS]
    if unknown:
        raise ValueError(f"no demo for {', '.join(unknown)}; choose from {', '.join(DEMOS)}")
    output = Path(output)
    report_path = output / "report.json"
    earlier = json.loads(report_path.read_text()) if report_path.exists() else {}
    steps = 20 if quick else None
    report = {}
    for name in families:
        demo = DEMOS[name]
        print(f"== {name} on {demo.dataset} ({demo.config.image_size} px) ==")
        run_dir = output / (name + ("_quick" if quick else ""))
        trainer, result, seconds = _train(demo.module, demo.config, demo.dataset, run_dir, steps, progress)
        if result.interrupted:  # Ctrl-C / SIGTERM: fit saved a checkpoint; a half-trained run gets no report
            _save_report(report_path, earlier, report)  # the families finished
            print(f"{name}: interrupted at step {result.step}, checkpoint saved in {run_dir}; "
                  "run the same command again to resume")
            raise DemoInterrupted(name, result.step)
        export_dir = run_dir / "export"
        inference.export_generators(trainer.generators(), export_dir, name, overwrite=True)
        report[name] = {
            "steps": result.step,
            "seconds": round(seconds, 1),
            "images_per_second": round(result.images_per_second, 1),
            "losses": {k: round(v, 4) for k, v in result.losses.items()},
            "run_dir": str(run_dir),
            "samples": str(sorted((run_dir / "samples").glob("*.png"))[-1]),
            "export": str(export_dir),
        }
        if not result.losses:  # a finished run, only restored: report how it was trained
            report[name].update({key: earlier[name][key] for key in ("seconds", "images_per_second", "losses")
                                 if key in earlier.get(name, {})}, already_trained=True)
        if demo.quality is not None:
            report[name].update(demo.quality(trainer))
    _save_report(report_path, earlier, report)
    _print_report(report, output)
    return report
