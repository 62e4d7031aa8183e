"""Do the class-conditional families do what they are asked? CGAN class accuracy and InfoGAN
code -> class agreement on the offline digits, after a few CPU minutes of training each.

Run:  python benchmarks/conditional_quality.py [--cgan-steps 4000] [--infogan-steps 2500]
      [--cgan-architecture mlp] [--output DIR]

1. A small CNN is trained on the real digits (the 1,437-image train split of scikit-learn's
   8x8 digits, upscaled to 28 px) and its accuracy on the 360 held-out digits is printed:
   it is the judge, so it must be good itself.
2. CGAN (the chapter's MLP by default; ``--cgan-architecture conv`` for the DCGAN-style one
   with a projection discriminator) trains for ``--cgan-steps`` batches of 64 with the
   package's loop (checkpoints and PNG grids in ``--output``). Then 100 samples of each
   class are drawn and the judge labels them: the share labelled as the class asked for is
   the **class accuracy** (chance: 10%).
3. InfoGAN (the paper's networks, narrower: 128 hidden units, G 32/64 and D 16/32 filters) trains for
   ``--infogan-steps`` batches. 100 samples per categorical code (continuous codes from their
   prior) are labelled by the judge, and the one-to-one code -> digit mapping that agrees
   most (Hungarian method) gives the **best-mapping accuracy** (chance: about 10-15%).

The last line is the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not an installed copy

from tfgan_translate import cgan, digit_quality, infogan, training  # noqa: E402


def train(module, config, steps, run_dir):
    dataset_fn, steps_per_epoch = module.training_dataset_fn("digits", config)
    trainer = module.Trainer(config, steps_per_epoch=steps_per_epoch)
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          sample_every=max(1, steps // 4), checkpoint_every=steps, log_every=100, progress=False)
    return trainer, result, time.perf_counter() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cgan-steps", type=int, default=4000)
    parser.add_argument("--infogan-steps", type=int, default=2500)
    parser.add_argument("--cgan-architecture", choices=("mlp", "conv"), default="mlp")
    parser.add_argument("--per-class", type=int, default=100, help="samples per class / code to judge")
    parser.add_argument("--output", help="folder for the two runs (default: a temporary folder)")
    args = parser.parse_args(argv)
    output = Path(args.output or tempfile.mkdtemp(prefix="conditional_quality_"))
    figures = {}

    started = time.perf_counter()
    classifier, held_out = digit_quality.train_digit_classifier(28)
    figures["classifier_test_accuracy"] = round(held_out, 4)
    print(f"judge: CNN on the real digits, held-out accuracy {held_out:.1%} "
          f"({time.perf_counter() - started:.0f} s)", flush=True)

    if args.cgan_steps:
        if args.cgan_architecture == "mlp":
            config = cgan.Config()  # the chapter's: 128 hidden units, lr 1e-3, batch 64
        else:
            config = cgan.Config(architecture="conv", hidden=128, ngf=16, ndf=16, lr=5e-4)
        trainer, result, seconds = train(cgan, config, args.cgan_steps, output / f"cgan_{args.cgan_architecture}")
        score, per_class = digit_quality.cgan_class_accuracy(trainer.generator, classifier, cgan.sample, args.per_class)
        print(f"CGAN ({args.cgan_architecture}): {result.step} steps in {seconds:.0f} s; class accuracy {score:.1%} "
              f"(per class: {', '.join(f'{k}:{a:.0%}' for k, a in enumerate(per_class))}); "
              f"grids in {output / f'cgan_{args.cgan_architecture}' / 'samples'}", flush=True)
        figures.update(cgan_architecture=args.cgan_architecture, cgan_steps=result.step,
                       cgan_seconds=round(seconds), cgan_class_accuracy=round(score, 4))

    if args.infogan_steps:
        config = infogan.Config(hidden=128, ngf=32, ndf=16)  # a weaker D than G keeps the two balanced here
        trainer, result, seconds = train(infogan, config, args.infogan_steps, output / "infogan")
        score, mapping = digit_quality.infogan_code_accuracy(trainer.generator, classifier, infogan.sample, args.per_class)
        losses = ", ".join(f"{k} {v:.3f}" for k, v in result.losses.items())
        print(f"InfoGAN: {result.step} steps in {seconds:.0f} s ({losses}); best-mapping code -> class accuracy "
              f"{score:.1%} (mapping {mapping}); grids in {output / 'infogan' / 'samples'}", flush=True)
        figures.update(infogan_steps=result.step, infogan_seconds=round(seconds),
                       infogan_best_mapping_accuracy=round(score, 4))

    print(json.dumps(figures))


if __name__ == "__main__":
    main()
