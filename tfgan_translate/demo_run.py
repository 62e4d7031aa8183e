"""The demo: the main job on a fresh machine, on the built-in offline data, in CPU minutes.

Trains pix2pix (edges -> photo) and CycleGAN (the colour mapping with a known answer),
writes sample grids, checkpoints and exported generators, and reports losses, images/s
and the CycleGAN's PSNR against the true mapping next to the identity guess.

Settings, chosen so both finish in a few minutes on 2 CPU cores while keeping the
reference architectures (ResNet generator, 70x70 PatchGAN, U-Net), only narrower:
32 px crops, 16 filters, 3 residual blocks, batch 4, learning rate 5e-4 for half the
steps, then the reference's linear decay (CycleGAN 2,000 steps, pix2pix 1,000). The identity loss is off for the CycleGAN:
the demo's true mapping moves every colour, so an identity term pulls against the answer.
"""

import json
import time
from pathlib import Path

import tensorflow as tf

from . import cyclegan, data, inference, pix2pix, runs, training

SIZE = 32
EPOCHS = 20  # 10 at the full rate, 10 decaying; 100 batches of 4 per epoch

PIX2PIX = pix2pix.Config(image_size=SIZE, ngf=16, ndf=16, batch_size=4, lr=5e-4, n_epochs=5, n_epochs_decay=5)
CYCLEGAN = cyclegan.Config(image_size=SIZE, ngf=16, ndf=16, n_blocks=3, batch_size=4, lr=5e-4,
                           lambda_identity=0.0, n_epochs=EPOCHS // 2, n_epochs_decay=EPOCHS // 2)


def _train(module, config, dataset, run_dir, total_steps, progress):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(module.FAMILY, dataset, config)
    trainer = module.Trainer(config, steps_per_epoch=steps_per_epoch)
    steps = total_steps or (config.n_epochs + config.n_epochs_decay) * steps_per_epoch
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          sample_every=max(1, steps // 4), checkpoint_every=max(1, steps // 4), progress=progress)
    return trainer, result, time.perf_counter() - started


def cyclegan_psnr(generator, size=SIZE):
    """Mean PSNR (dB) of G(a) and of the identity guess a against the true mapped images."""
    test = data.demo_unpaired(split="test", image_size=size, batch_size=50)
    learned, identity = [], []
    for batch in test:
        learned.append(data.psnr(generator(batch["a"], training=False), batch["b_true"]))
        identity.append(data.psnr(batch["a"], batch["b_true"]))
    return float(tf.reduce_mean(tf.concat(learned, 0))), float(tf.reduce_mean(tf.concat(identity, 0)))


def run_demo(output="checkpoints/demo", quick=False, progress=True):
    """Run both demo trainings into ``output`` and return the report dict.

    Re-running resumes finished runs (nothing retrains); ``quick`` trains 20 steps each.
    """
    output = Path(output)
    steps = 20 if quick else None
    report = {}
    for name, module, config, dataset in [
        ("pix2pix", pix2pix, PIX2PIX, "demo-paired"),
        ("cyclegan", cyclegan, CYCLEGAN, "demo-unpaired"),
    ]:
        print(f"== {name} on {dataset} ({SIZE} px) ==")
        run_dir = output / (name + ("_quick" if quick else ""))
        trainer, result, seconds = _train(module, config, dataset, run_dir, steps, progress)
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
        if name == "cyclegan":
            learned, identity = cyclegan_psnr(trainer.generator_ab)
            report[name].update(psnr_db=round(learned, 2), identity_psnr_db=round(identity, 2),
                                psnr_gain_db=round(learned - identity, 2))
    (output / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    for name, item in report.items():
        losses = ", ".join(f"{k} {v}" for k, v in item["losses"].items())
        print(f"{name}: {item['steps']} steps in {item['seconds']} s ({item['images_per_second']} images/s); {losses}")
        print(f"  samples {item['samples']}; exported generators in {item['export']}")
    c = report["cyclegan"]
    print(f"CycleGAN PSNR on the known-mapping test split: {c['psnr_db']:.2f} dB "
          f"(identity guess {c['identity_psnr_db']:.2f} dB)")
    print(f"CycleGAN PSNR gain over identity: {c['psnr_gain_db']:+.1f} dB")
    print(f"report: {output / 'report.json'}")
    return report
