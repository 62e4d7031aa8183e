"""The demo: the main job on a fresh machine, on the built-in offline data, in CPU minutes.

By default trains pix2pix (edges -> photo) and CycleGAN (the colour mapping with a known answer);
``--family`` picks any family. Each family declares its demo (``Family.demo``: the measured
settings, the built-in dataset and the quality figures), so the settings and why they were
chosen live in the family's module. Each run writes sample grids, checkpoints and exported
generators, and the report gives losses, images/s and the family's quality figures (for
CycleGAN its PSNR against the true mapping next to the identity guess).
"""

import json
import time
from pathlib import Path

from .. import families, training
from . import DEFAULT_DEMOS, inference, runs
from .report import write_report

def _train(family, config, dataset, run_dir, total_steps, progress):
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(family, dataset, config)
    trainer = family.trainer(config, steps_per_epoch=steps_per_epoch)
    runs.before_training(family, dataset, run_dir, config)
    steps = total_steps or (config.n_epochs + config.n_epochs_decay) * steps_per_epoch
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=steps,
                          sample_every=max(1, steps // 4), checkpoint_every=max(1, steps // 4), progress=progress)
    if not result.interrupted:
        runs.after_training(family, trainer, dataset, run_dir)
    return trainer, result, time.perf_counter() - started


def _print_report(report, output):
    for name, item in report.items():
        losses = ", ".join(f"{k} {v}" for k, v in item["losses"].items())
        if item.get("already_trained"):
            print(f"{name}: already trained ({item['steps']} steps; delete {item['run_dir']} to train it again); {losses}")
        else:
            print(f"{name}: {item['steps']} steps in {item['seconds']} s ({item['images_per_second']} images/s); {losses}")
        print(f"  samples {item['samples']}; exported generators in {item['export']}")
        if "report" in item:
            print(f"  run report {item['report']}")
        if "psnr_gain_db" in item:
            print(f"  PSNR on the known-mapping test split: {item['psnr_db']:.2f} dB "
                  f"(identity guess {item['identity_psnr_db']:.2f} dB)")
        if "class_accuracy" in item:
            print(f"  samples labelled as the asked class by a digit classifier: {item['class_accuracy']:.1%} (chance 10%)")
        for key in [k for k in item if k.endswith("_attribute_accuracy")]:  # text to image: per stage
            stage, chance = key[:-len("_attribute_accuracy")], item.get(key.replace("attribute", "random_image"), {})
            shown = ", ".join(f"{name} {value:.0%} (random scenes {chance.get(name, 0):.0%})"
                              for name, value in item[key].items() if name != "all")
            print(f"  {stage}: images of held-out captions that show what they say: {shown}")
        if "code_class_accuracy" in item:
            print(f"  best-mapping categorical code -> digit accuracy: {item['code_class_accuracy']:.1%}")
        if "test_psnr_db" in item:
            others = [f"untrained generator {item['untrained_test_psnr_db']:.2f} dB"]
            if "input_test_psnr_db" in item:
                others.append(f"the input itself {item['input_test_psnr_db']:.2f} dB")
            if "mean_colour_test_psnr_db" in item:
                others.append(f"each class in its mean training colour {item['mean_colour_test_psnr_db']:.2f} dB")
            if "encoded_test_psnr_db" in item:
                others.append(f"with the true photo's own style {item['encoded_test_psnr_db']:.2f} dB")
            print(f"  held-out PSNR {item['test_psnr_db']:.2f} dB ({', '.join(others)})")
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


def demo_families():
    """The names of the families that declare a demo."""
    return tuple(f.name for f in families.all_families() if f.demo is not None)


def run_demo(output="checkpoints/demo", quick=False, progress=True, names=DEFAULT_DEMOS):
    """Run the demo trainings of the families ``names`` into ``output`` and return the report dict.

    Re-running resumes finished runs (nothing retrains); ``quick`` trains 20 steps each.
    Ctrl-C or SIGTERM saves the current run's checkpoint, writes the report of the families
    finished before it and raises :class:`DemoInterrupted`; re-running resumes.
    The report (``report.json``) keeps the entries of families run earlier into ``output``.
    """
    unknown = [name for name in names if name not in families.names() or families.get(name).demo is None]
    if unknown:
        raise ValueError(f"no demo for {', '.join(unknown)}; choose from {', '.join(demo_families())}")
    output = Path(output)
    report_path = output / "report.json"
    earlier = json.loads(report_path.read_text()) if report_path.exists() else {}
    steps = 20 if quick else None
    report = {}
    for name in names:
        family = families.get(name)
        demo = family.demo
        print(f"== {name} on {demo.dataset} ({demo.config.image_size} px) ==")
        run_dir = output / (name + ("_quick" if quick else ""))
        trainer, result, seconds = _train(family, demo.config, demo.dataset, run_dir, steps, progress)
        stages = [(run_dir, result, seconds)]
        if demo.follow_up is not None and not result.interrupted:  # a second stage on the first run
            suffix, config = demo.follow_up(str(run_dir))
            print(f"== {name}, then {suffix.strip('_')} on {run_dir} ({config.image_size} px) ==")
            run_dir = run_dir.with_name(run_dir.name + suffix)
            trainer, result, seconds = _train(family, config, demo.dataset, run_dir, steps, progress)
            stages.append((run_dir, result, seconds))
        if result.interrupted:  # Ctrl-C / SIGTERM: fit saved a checkpoint; a half-trained run gets no report
            _save_report(report_path, earlier, report)  # the families finished
            print(f"{name}: interrupted at step {result.step}, checkpoint saved in {run_dir}; "
                  "run the same command again to resume")
            raise DemoInterrupted(name, result.step)
        export_dir = run_dir / "export"
        inference.export_generators(trainer.generators(), export_dir, name, overwrite=True)
        report[name] = {
            "steps": sum(stage[1].step for stage in stages),
            "seconds": round(sum(stage[2] for stage in stages), 1),
            "images_per_second": round(result.images_per_second, 1),
            "losses": {k: round(v, 4) for k, v in result.losses.items()},
            "run_dir": str(run_dir),
            "samples": str(sorted((run_dir / "samples").glob("*.png"))[-1]),
            "export": str(export_dir),
        }
        if len(stages) > 1:
            report[name]["stages"] = [{"run_dir": str(d), "steps": r.step, "seconds": round(t, 1),
                                       "losses": {k: round(v, 4) for k, v in r.losses.items()}} for d, r, t in stages]
        if not result.losses:  # a finished run, only restored: report how it was trained
            report[name].update({key: earlier[name][key] for key in ("seconds", "images_per_second", "losses")
                                 if key in earlier.get(name, {})}, already_trained=True)
        if demo.quality is not None:
            report[name].update(demo.quality(trainer))
        report[name]["report"] = str(write_report(run_dir, writer="tfgan-translate demo"))
    _save_report(report_path, earlier, report)
    _print_report(report, output)
    return report
