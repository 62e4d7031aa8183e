"""The ``tfgan-translate`` command line.

Each sub-command is a pair of functions: ``_add_<name>(subparsers)`` declares its flags and
``_run_<name>(args)`` does the work. Bad arguments print one clear line and exit with 2.
"""

import argparse
import os
import shutil
import sys
import warnings
from pathlib import Path

from .. import __version__, families
from . import DEFAULT_DEMOS
from .fid_flags import add_fid_flags, fid_arguments, gives_fid_weights


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def _add_train(subparsers, family=None):
    """``train``; with ``family`` (named on the command line) also one flag per field of its Config."""
    parser = subparsers.add_parser(
        "train", help="train a model (resumes when the run folder has a checkpoint)",
        description="Train a model family. `tfgan-translate train MODEL --help` lists every field of "
        "MODEL's config as a flag, with the paper's default.")
    parser.add_argument("model", metavar="MODEL", help=f"one of {', '.join(families.names())}")
    parser.add_argument("--dataset", required=True,
                        help="demo-paired | demo-gray2color | demo-unpaired | a folder (trainA/trainB, or A|B images) "
                        "| a tfds cycle_gan name such as horse2zebra | digits (offline) or mnist (tfds) for cgan/infogan "
                        "| demo-labels or a label-map folder for pix2pixhd | demo-captions or a captioned folder "
                        "(train/filenames.pickle + char-CNN-RNN-embeddings.pickle, or train/images/ + train/text/) "
                        "for stackgan")
    parser.add_argument("--run-dir", help="run folder (default checkpoints/<model>_<dataset>)")
    parser.add_argument("--other-data", action="store_true",
                        help="resume a run on other data than it was trained on (another --dataset, or one whose "
                        "steps per epoch changed); the epoch-based learning-rate schedule follows the new data")
    parser.add_argument("--new-run", action="store_true",
                        help="start a fresh run in the next free folder <run-dir>-2, -3, ... when --run-dir "
                        "already holds a run (which is left untouched)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"),
                        help="which half/domain is the input (default: the run's saved direction, AtoB for a new run)")
    if family is not None:
        default = family.config()
        epochs = (f"default: {family.name}'s {default.n_epochs} + {default.n_epochs_decay} = "
                  f"{default.n_epochs + default.n_epochs_decay}")
    else:
        epochs = "default: the family's, e.g. 100 + 100 for pix2pix; `train MODEL --help` shows MODEL's"
    parser.add_argument("--epochs", type=int, help="total epochs: half at the full rate, half decaying "
                        f"(sets n_epochs and n_epochs_decay; {epochs})")
    parser.add_argument("--steps", type=int, help="stop after this many steps in total, counting resumed ones "
                        "(default: the end of the epochs, i.e. epochs x steps per epoch of --dataset)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="any Config field, e.g. --set lambda_identity=0 (repeatable)")
    if family is not None:
        from .train_config import add_config_flags

        add_config_flags(parser, family.config)
    parser.add_argument("--data-dir", help="tfds data folder")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping it")
    parser.add_argument("--sample-every", type=int, default=500,
                        help="steps between PNG sample grids; 0: only at the end (default: %(default)s)")
    parser.add_argument("--checkpoint-every", type=int, default=1000,
                        help="steps between checkpoints; 0: only at the end (default: %(default)s)")
    parser.add_argument("--log-every", type=int, default=50,
                        help="steps between TensorBoard scalars; 0: none (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--evaluate-every-epochs", type=int, default=0, metavar="N",
                        help="score the held-out split every N epochs (TensorBoard eval/<metric>); 0: never (default: %(default)s)")
    parser.add_argument("--eval-metrics", help="metrics for --evaluate-every-epochs (default psnr,ssim on paired "
                        "data; fid,kid on unpaired data when --fid-weights is given)")
    add_fid_flags(parser)
    parser.add_argument("--keep-checkpoints", type=int, metavar="N",
                        help="checkpoints kept in the run folder, the newest N (evaluate --all-checkpoints scores "
                        "each); 0 keeps all; the run remembers it (default: the run's, 3 for a new run)")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker", "tpu", "auto"), default="default",
                        help="tf.distribute strategy: mirrored = all GPUs of this machine (or its --virtual-cpus), "
                        "multiworker = the workers in TF_CONFIG, auto = mirrored when several GPUs are visible "
                        "(default: %(default)s)")
    parser.add_argument("--virtual-cpus", type=int, metavar="N",
                        help="split the CPU into N logical devices (try --strategy mirrored without GPUs)")
    parser.add_argument("--precision", choices=("float32", "mixed_float16", "mixed_bfloat16", "auto"), default="float32",
                        help="compute precision (variables stay float32; mixed_float16 scales the loss); auto: "
                        "mixed_bfloat16 on TPUs, GPUs of compute capability >= 8.0 and CPUs with bf16 units, "
                        "mixed_float16 on GPUs of 7.x, else float32; a run option, not part of the saved config: "
                        "a run may resume under another (default: %(default)s)")
    parser.add_argument("--steps-per-call", type=int, default=1, metavar="K",
                        help="train steps per call of the compiled function (calls end at every log, sample, "
                        "checkpoint and evaluation step, so results do not depend on K); more saves dispatch "
                        "time on fast GPUs (default: %(default)s)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the train step with XLA (measured slower on CPUs: see benchmarks/README.md)")
    return parser


def _train_evaluate_fn(args, trainer, steps_per_epoch, direction):
    """``(evaluate_fn, every_steps)`` for ``--evaluate-every-epochs`` (``(None, 0)`` when off)."""
    if not args.evaluate_every_epochs:
        return None, 0
    from .. import metrics
    from . import evaluation

    config = trainer.config
    source = evaluation.evaluation_source(trainer.family, args.dataset, config.image_size, direction="AtoB",
                                          data_dir=args.data_dir, trained_direction=direction, config=config)
    if args.eval_metrics:
        names = args.eval_metrics.split(",")
    elif source.paired:
        names = ["psnr", "ssim"]
    elif gives_fid_weights(args):
        names = ["fid", "kid"]
    else:
        print("--evaluate-every-epochs: no metric for unpaired data without FID weights "
              "(pass --fid-weights FILE for fid,kid); evaluation is off")
        return None, 0
    try:
        # a label-map run is scored during training with E's features of each held-out photo (its
        # styles are fitted when training ends)
        maps = trainer.family.map_inputs(config, encode=trainer.encode) if trainer.family.map_inputs else None
        evaluator = evaluation.make_evaluator(
            args.dataset, trainer.family, config, names, "AtoB", data_dir=args.data_dir, strict=args.strict,
            trained_direction=direction, map_inputs=maps, **fid_arguments(args))
    except metrics.InceptionWeightsError as error:
        raise UsageError(str(error)) from None
    return evaluation.training_evaluate_fn(evaluator), args.evaluate_every_epochs * steps_per_epoch


def _distribution_for_train(args):
    """The strategy and precision of a train command, set up before TensorFlow builds anything."""
    from ..training import distribute

    if args.virtual_cpus is not None and args.virtual_cpus < 1:
        raise UsageError(f"--virtual-cpus must be >= 1, got {args.virtual_cpus}")
    if args.steps_per_call < 1:
        raise UsageError(f"--steps-per-call must be >= 1, got {args.steps_per_call}")
    strategy = distribute.make_strategy(args.strategy, virtual_cpus=args.virtual_cpus)
    if args.precision == "auto":
        args.precision, reason = distribute.auto_precision(tpu=args.strategy == "tpu")
        print(f"--precision auto: {args.precision} ({reason})")
    distribute.set_precision(args.precision)
    return strategy


def _check_loop_flags(args, family):
    """The training loop's intervals and the evaluation flag, checked before anything is loaded:
    negative values are refused, 0 (off) is said out loud."""
    if args.evaluate_every_epochs < 0:
        raise UsageError(f"--evaluate-every-epochs must be >= 0, got {args.evaluate_every_epochs}")
    if args.keep_checkpoints is not None and args.keep_checkpoints < 0:
        raise UsageError(f"--keep-checkpoints must be >= 0 (0 keeps all), got {args.keep_checkpoints}")
    if args.evaluate_every_epochs and not family.translates:
        what = "texts" if family.text_to_image is not None else "noise and codes"
        judge = "an attribute" if family.text_to_image is not None else "a digit"
        raise UsageError(f"--evaluate-every-epochs scores the translations of a held-out split; {family.name} "
                         f"runs generate images from {what} (tfgan-translate demo --family "
                         f"{family.name} reports {judge} classifier's accuracy on its samples)")
    for flag, off in (("sample_every", "sample grid only at the end"), ("checkpoint_every", "checkpoint only at the end"),
                      ("log_every", "no TensorBoard scalars")):
        value = getattr(args, flag)
        if value < 0:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 0 (0 turns it off), got {value}")
        if value == 0:
            print(f"--{flag.replace('_', '-')} 0: {off}")


def _run_train(args):
    family = families.get(args.model)
    _check_loop_flags(args, family)
    strategy = _distribution_for_train(args)
    from .. import training
    from ..training import config as config_io
    from ..training import distribute
    from ..training.checkpoints import DEFAULT_KEEP_CHECKPOINTS
    from . import outputs, runs
    from .train_config import check_data_record, data_record, resolve_direction, resolve_train_config

    run_dir = args.run_dir or default_run_dir(args.model, args.dataset)
    if args.new_run:
        fresh = next_free_run_dir(run_dir)
        if fresh != run_dir:
            print(f"{run_dir} holds a run, left as it is; starting a new run in {fresh}")
        run_dir = fresh
    outputs.check_folder(run_dir, "--run-dir", create=False)  # writable; created under the run's lock
    run_folder = training.RunFolder(run_dir)
    config = resolve_train_config(args, family, run_folder)  # every field checked
    run_folder.check(family.name, config)  # a run with a checkpoint keeps its settings
    direction, direction_assumed = resolve_direction(args, run_folder)
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(
        family, args.dataset, config, direction=direction, data_dir=args.data_dir, strict=args.strict,
        shard=distribute.worker_shard(strategy),  # a worker decodes only its rows of each global batch
    )
    record = check_data_record(run_folder, data_record(args.dataset, direction, steps_per_epoch, direction_assumed),
                               args.other_data)
    keep = args.keep_checkpoints
    if keep is None:  # a resumed run keeps what it was told (a history for evaluate --all-checkpoints)
        keep = (run_folder.saved_data or {}).get("keep_checkpoints", DEFAULT_KEEP_CHECKPOINTS)
    record = {**record, "keep_checkpoints": keep}
    schedule_steps = (config.n_epochs + config.n_epochs_decay) * steps_per_epoch
    total_steps = args.steps if args.steps is not None else schedule_steps
    if total_steps > schedule_steps and config.lr_policy in ("linear", "cosine"):
        print(f"warning: --steps {total_steps} goes past the end of the {config.lr_policy} learning-rate schedule "
              f"(step {schedule_steps} = {config.n_epochs} + {config.n_epochs_decay} epochs); the steps after it "
              "train at learning rate 0. Train longer with more --epochs in a new run (--new-run).", file=sys.stderr)
    trainer = distribute.build_trainer(family.trainer, config, steps_per_epoch, strategy)
    if distribute.is_chief(strategy):
        runs.before_training(family, args.dataset, run_dir, config, args.data_dir, args.strict)
    evaluate_fn, evaluate_every = _train_evaluate_fn(args, trainer, steps_per_epoch, direction)
    print(f"training {family.name} on {args.dataset} ({direction}) into {run_dir}: {steps_per_epoch} steps per "
          f"epoch, up to step {total_steps}; {strategy.num_replicas_in_sync} replica(s), {args.precision}")
    try:
        result = training.fit(
            trainer, dataset_fn, run_folder, steps_per_epoch=steps_per_epoch, total_steps=total_steps,
            sample_every=args.sample_every, checkpoint_every=args.checkpoint_every, log_every=args.log_every,
            progress=not args.no_progress, evaluate_fn=evaluate_fn, evaluate_every=evaluate_every, strategy=strategy,
            run_data=record,  # with the config, written under the run folder's lock
            keep_checkpoints=keep, steps_per_call=args.steps_per_call, jit_compile=args.jit_compile,
        )
    except (training.NonFiniteLossError, training.CheckpointWriteError, training.ShortEpochError) as error:
        print(f"tfgan-translate train: {error}", file=sys.stderr)
        return 1
    saved = (f"checkpoint {result.checkpoint}" if distribute.is_chief(strategy)
             else "checkpoints are written by the chief (worker 0)")
    finished = not result.interrupted and result.step >= total_steps and distribute.is_chief(strategy)
    if not result.losses:  # the run was already at total_steps: nothing was trained
        print(f"step {result.step}: nothing to train ({run_dir} is at step {result.step}, the end is step "
              f"{total_steps}; pass a larger --steps to continue); "
              f"{saved}; config {Path(run_dir) / config_io.CONFIG_FILE}")
        if finished:
            runs.after_training(family, trainer, args.dataset, run_dir, args.data_dir, args.strict)
        return 130 if result.interrupted else 0
    losses = ", ".join(f"{k} {v:.4f}" for k, v in result.losses.items())
    print(f"step {result.step}: {losses}; {result.images_per_second:.1f} images/s; "
          f"{saved}; config {Path(run_dir) / config_io.CONFIG_FILE}")
    if finished:
        runs.after_training(family, trainer, args.dataset, run_dir, args.data_dir, args.strict)
    if distribute.is_chief(strategy):
        from .report import write_report

        print(f"report: {write_report(run_dir, writer='tfgan-translate train')}")
    return 130 if result.interrupted else 0


def next_free_run_dir(run_dir):
    """``run_dir`` itself when it holds nothing, else the first of ``run_dir-2``, ``-3``, ... that does not exist."""
    path = Path(run_dir)
    if not path.exists() or not any(path.iterdir()):
        return str(run_dir)
    number = 2
    while Path(f"{run_dir}-{number}").exists():
        number += 1
    return f"{run_dir}-{number}"


def default_run_dir(model, dataset):
    name = Path(dataset.rstrip("/")).name.replace("cycle_gan/", "") or "data"
    return str(Path("checkpoints") / f"{model}_{name}")


def _add_translate(subparsers):
    parser = subparsers.add_parser("translate", help="translate an image or a folder of images")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", help="a run folder (uses its newest checkpoint)")
    source.add_argument("--model", help="a generator saved as .keras (exported or converted)")
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--output", required=True, help="folder for the translated images (<name>.png each)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                        help="CycleGAN runs: AtoB uses generator_ab, BtoA generator_ba (default: %(default)s)")
    parser.add_argument("--html", action="store_true",
                        help="also write OUTPUT/index.html: every input beside its translation (open it in a browser)")
    parser.add_argument("--grid", metavar="FILE.png",
                        help=f"also write a labelled input | translation grid of the first {GRID_EXAMPLES} images")
    parser.add_argument("--tile", type=int, metavar="PX",
                        help="translate images larger than PX x PX tile by tile (for images too large for memory), "
                        "with the whole image's instance-norm statistics, so tiles leave no seams")
    parser.add_argument("--tile-halo", type=int, metavar="PX",
                        help="context around each tile (default: twice the generator's receptive radius, which makes "
                        "the result the untiled one; at most the tile)")
    parser.add_argument("--output-bit-depth", type=int, choices=(8, 16), default=8,
                        help="bits per sample of the outputs (16 keeps a 16-bit input's levels; default: %(default)s)")
    maps = parser.add_argument_group("label maps (pix2pixhd runs trained with --label-nc)")
    maps.add_argument("--instances", metavar="FOLDER",
                      help="instance maps of the --input label maps, one per label map with the same name")
    maps.add_argument("--feature-cluster", action="append", default=[], metavar="CLASS=K",
                      help="the style of class CLASS: its k-means cluster K (runs with instance_feat; repeat for "
                      "more classes; the other classes draw a style per instance with --style-seed)")
    maps.add_argument("--style-seed", type=int, default=0,
                      help="seed of the styles drawn for classes without --feature-cluster (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    return parser


GRID_EXAMPLES = 16  # rows of translate --grid


def _map_reader(args, family, config):
    """``path -> generator input`` for a run that translates label maps (``None`` for image runs),
    with the instance map of the same name from ``--instances`` and the chosen styles."""
    maps = family.map_inputs(config, args.run_dir) if family.map_inputs else None
    if maps is None:
        if args.instances or args.feature_cluster:
            raise UsageError("--instances and --feature-cluster are for runs that translate label maps "
                             "(pix2pixhd with --label-nc); this run translates images")
        return None
    if args.feature_cluster and not maps.has_styles:
        raise UsageError("--feature-cluster picks the styles of a run trained with instance_feat; this run has none")
    try:
        choice = maps.parse_choice(args.feature_cluster) if args.feature_cluster else None
    except ValueError as error:
        raise UsageError(f"--feature-cluster {error}") from None
    if args.instances and not Path(args.instances).is_dir():
        raise UsageError(f"--instances {args.instances}: no such folder")
    if maps.needs_instances and not args.instances:
        raise UsageError("this run uses instance maps: give their folder with --instances (a file of the same name "
                         "for each label map)")

    def read(path):
        instance = None
        if args.instances:
            instance = Path(args.instances) / maps.instance_name(Path(path).name)
            if not instance.is_file():
                raise ValueError(f"no instance map for {Path(path).name} in {args.instances} (expected {instance.name})")
        return maps.compose(path, instance, choice=choice, seed=args.style_seed)

    return read


def _check_translate_pages(args):
    """The pages ``translate`` writes besides the images, checked before any work."""
    from . import outputs

    page = Path(args.output) / "index.html"
    if args.html and page.exists() and not args.overwrite:
        raise UsageError(f"{page} already exists; nothing was translated. Pass --overwrite or choose another --output")
    if args.grid:
        if not args.grid.lower().endswith(".png"):
            raise UsageError(f"--grid must name a .png file, got {args.grid!r}")
        outputs.check_file(args.grid, "--grid", overwrite=args.overwrite, create=False)


def _run_translate(args):
    from . import inference, outputs, runs

    if args.style_seed < 0:
        raise UsageError(f"--style-seed must be >= 0, got {args.style_seed}")
    if args.tile is not None and args.tile < 16:
        raise UsageError(f"--tile must be at least 16 pixels, got {args.tile}")
    if args.tile_halo is not None and (args.tile is None or args.tile_halo < 0):
        raise UsageError("--tile-halo needs --tile and a number of pixels >= 0")
    inputs = inference.list_inputs(args.input)
    outputs.check_folder(args.output, "--output", create=False)
    _check_translate_pages(args)
    read = None
    if args.model:
        if args.instances or args.feature_cluster:
            raise UsageError("--instances and --feature-cluster need the run (--run-dir): its label_nc and styles")
        model = inference.load_generator_file(args.model)
        if len(model.inputs) != 1:
            raise UsageError(f"--model {args.model} takes {len(model.inputs)} inputs (noise and codes): "
                             "it generates images, it does not translate them")
    else:
        family, config, generators, _ = runs.load_trained(args.run_dir)
        runs.refuse_generative(family)
        model = runs.generator_for_direction(family, generators, args.direction)
        read = _map_reader(args, family, config)
    written, skipped = inference.translate_files(model, inputs, args.output, args.overwrite,
                                                 bit_depth=args.output_bit_depth, tile=args.tile, halo=args.tile_halo,
                                                 read=read)
    if not written:
        print(f"tfgan-translate translate: nothing was translated: none of the {len(inputs)} input(s) could be read "
              f"and translated (see above); --input {args.input}", file=sys.stderr)
        return 1
    print(f"translated {len(written)} image(s) into {args.output}" + (f"; skipped {len(skipped)}" if skipped else ""))
    done = set(written)
    suffix = inference.output_suffix(model.output_shape[-1])
    pairs = [(src, dst) for src, dst in inference.output_paths(inputs, Path(args.output), suffix) if dst in done]
    if args.html:
        from .report import write_translation_page

        print(f"page: {write_translation_page(pairs, args.output, title=f'translations of {args.input}')}")
    if args.grid:
        print(f"grid: {inference.write_translation_grid(pairs[:GRID_EXAMPLES], args.grid)}")
    return 0


def _add_export(subparsers):
    from .export_formats import DEFAULT_FORMATS, FORMATS, ONNX_OPSET

    parser = subparsers.add_parser(
        "export", help="write a run's generators for deployment (.keras, SavedModel, TFLite, ONNX), each checked",
        description="Write each generator of a run in the chosen formats, run each file on a test image beside "
        "the Keras model (inference mode), and write the differences and how to feed each file to "
        "OUTPUT/export.json. A file that does not match is deleted and the export fails. The SavedModel's "
        "default signature takes images of any size (padded and cropped inside the graph).")
    parser.add_argument("--run-dir", required=True, help="a run folder")
    parser.add_argument("--output", required=True, help="folder for the exported generators")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS), metavar="LIST",
                        help=f"comma-separated, from {', '.join(FORMATS)}, or all (default: %(default)s); tflite-fp16 "
                        f"has float16 weights, tflite-int8 dynamic-range int8 weights; onnx is opset {ONNX_OPSET} and "
                        "needs the onnx extra (pip install 'tfgan_translate[onnx]')")
    parser.add_argument("--size", type=int, metavar="PX",
                        help="the fixed side of the TFLite exports (default: the run's image size), rounded up to the "
                        "generator's size multiple")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in --output")
    return parser


def _run_export(args):
    from . import export_formats, outputs, runs

    formats = export_formats.parse_formats(args.format)
    if args.size is not None and args.size < 1:
        raise UsageError(f"--size must be a positive number of pixels, got {args.size}")
    if "onnx" in formats:
        export_formats.require_onnx()
    outputs.check_folder(args.output, "--output", create=False)
    family, config, generators, _ = runs.load_trained(args.run_dir)
    from . import export

    size = args.size or getattr(config, "image_size", 256)
    maps = family.map_inputs(config, clusters={}) if family.map_inputs else None
    texts = family.text_to_image
    described = maps.describe() if maps is not None else texts.describe(config) if texts is not None else None
    extras = maps.files(args.run_dir) if maps is not None else texts.files(args.run_dir) if texts is not None else []
    try:
        record = export.export_models(generators, args.output, family.name, formats=formats, size=size,
                                      overwrite=args.overwrite, input_description=described)
    except export.ExportError as error:
        print(f"tfgan-translate export: {error}", file=sys.stderr)
        return 1
    print(f"exported {', '.join(generators)} as {', '.join(formats)} into {args.output} (see export.json)")
    for extra in extras:  # e.g. the styles its features take, the text encoder of its captions
        shutil.copyfile(extra, Path(args.output) / extra.name)
        print(f"copied the run's {extra.name} beside them")
    from .report import record_export

    record_export(args.run_dir, Path(args.output).resolve(), record)
    return 0


def _add_report(subparsers):
    parser = subparsers.add_parser(
        "report", help="write RUN/report.html: config, loss curves, sample grids, evaluations, exports",
        description="Write one page that shows a run (open it in a browser; no server): its config and data, "
        "the loss curves from the logged scalars, the sample grids over the steps, the evaluation reports "
        "(RUN/eval/*.json) and the exports. train writes it at its end too.")
    parser.add_argument("--run-dir", required=True, help="a run folder")
    parser.add_argument("--output", help="the page's path (default RUN/report.html, regenerated each time)")
    return parser


def _run_report(args):
    from .report import write_report

    if args.output:
        from .outputs import check_file

        check_file(args.output, "--output", overwrite=True, create=False)
    print(f"report: {write_report(args.run_dir, args.output)}")
    return 0


def _add_serve(subparsers):
    parser = subparsers.add_parser(
        "serve", help="a local web app (Gradio) to translate uploaded images with a run or a model",
        description="Start a Gradio app in the browser: upload an image, pick the direction, see and download "
        "the translation (the same as translate's). A run that translates label maps takes a label map, its "
        "instance map, styles CLASS=K and a style seed instead (as translate's --instances, --feature-cluster and "
        "--style-seed). Needs the app extra: pip install 'tfgan_translate[app]'.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", help="a run folder (its newest checkpoint)")
    source.add_argument("--model", help="a generator saved as .keras (exported or converted)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 makes it reachable from other machines (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    return parser


def _run_serve(args):
    from .serve import AppError, launch

    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, got {args.port}")
    try:
        launch(run_dir=args.run_dir, model=args.model, host=args.host, port=args.port)
    except AppError as error:
        raise UsageError(str(error)) from None
    return 0


def _add_generate(subparsers):
    parser = subparsers.add_parser(
        "generate", help="draw images from captions with a text-to-image run (stackgan): PNG grids",
        description="Draw --num images for each --caption with a trained text-to-image run (its newest "
        "checkpoint) and write a grid: a row per caption, a column per noise vector (the same noise in each "
        "column). A StackGAN Stage-II run also writes its Stage-I images beside it (OUTPUT_stage-i.png). "
        "Captions are encoded with the run's text encoder (RUN/text_encoder.json, the words of its training "
        "captions; unknown words are left out). A run trained on precomputed embeddings (the char-CNN-RNN "
        "pickles) takes --embeddings FILE.npy instead.")
    parser.add_argument("--run-dir", required=True, help="a text-to-image run folder")
    parser.add_argument("--caption", action="append", default=[], metavar="TEXT",
                        help="a caption to draw (repeatable: one grid row each)")
    parser.add_argument("--embeddings", metavar="FILE.npy",
                        help="text embeddings (N, D) or (N, K, D) to draw instead of captions")
    parser.add_argument("--num", type=int, default=8, help="images per caption (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise vectors (default: %(default)s)")
    parser.add_argument("--output", required=True, metavar="GRID.png", help="the grid's PNG file")
    parser.add_argument("--overwrite", action="store_true", help="replace existing grids")
    return parser


def _run_generate(args):
    from .generate import generate

    generate(args.run_dir, args.output, captions=args.caption, embeddings=args.embeddings, num=args.num,
             seed=args.seed, overwrite=args.overwrite)
    return 0


def _add_demo(subparsers):
    names = families.names()
    parser = subparsers.add_parser("demo", help="train pix2pix and CycleGAN on the built-in offline data (CPU minutes)")
    parser.add_argument("--output", default="checkpoints/demo",
                        help="folder for the demo's runs, exports and report (default: %(default)s)")
    parser.add_argument("--family", action="append", choices=names, metavar="FAMILY",
                        help=f"run this family's demo (repeatable; default {' and '.join(DEFAULT_DEMOS)}); "
                        f"one of {', '.join(names)}")
    parser.add_argument("--quick", action="store_true", help="a few steps only, to check an installation")
    return parser


def _run_demo(args):
    from .demo_run import DemoInterrupted, run_demo
    from .outputs import check_folder

    check_folder(args.output, "--output", create=False)
    try:
        run_demo(args.output, quick=args.quick, names=tuple(args.family or DEFAULT_DEMOS))
    except DemoInterrupted:
        return 130
    return 0


def _add_convert(subparsers):
    # Spelled out so that building the parser does not import Keras (a test keeps it in sync).
    archs = ("resnet_9blocks, resnet_6blocks, cut_resnet_9blocks, cut_resnet_6blocks, unet_256, unet_128, basic, "
             "patchgan, cut_basic, pixel, n_layers_N")
    parser = subparsers.add_parser(
        "convert",
        help="convert a pix2pix/CycleGAN/CUT PyTorch checkpoint (.pth) to a Keras model (.keras)",
        description="Convert a state_dict saved by the reference PyTorch pix2pix/CycleGAN code "
        "(e.g. the published horse2zebra.pth) or by CUT's (latest_net_G.pth of its horse2zebra, cat2dog "
        "and Cityscapes models: --arch cut_resnet_9blocks) into our network with the same outputs. Norm, "
        "channels and width are read from the checkpoint unless given.",
    )
    parser.add_argument("--from-pytorch", required=True, metavar="FILE.pth", help="the PyTorch checkpoint")
    parser.add_argument("--arch", required=True, metavar="ARCH",
                        help=f"the reference --netG/--netD: {archs}")
    parser.add_argument("--output", required=True, metavar="MODEL.keras", help="where to write the Keras model")
    parser.add_argument("--norm", choices=("batch", "instance"), help="default: read from the checkpoint")
    parser.add_argument("--input-nc", type=int, metavar="N", help="input channels (default: from the checkpoint)")
    parser.add_argument("--output-nc", type=int, metavar="N", help="output channels of a generator (default: from the checkpoint)")
    parser.add_argument("--ngf", "--ndf", dest="ngf", type=int, metavar="N",
                        help="filters of the first layer (default: from the checkpoint)")
    parser.add_argument("--no-torch", action="store_true",
                        help="read the .pth with the built-in reader even when torch is installed")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    return parser


def _run_convert(args):
    import math

    from ..convert import ConversionError, convert_pytorch_checkpoint

    if not args.output.endswith(".keras"):
        raise UsageError(f"--output must end in .keras (Keras 3's model format), got {args.output!r}")
    from .outputs import check_file

    check_file(args.output, "--output", overwrite=args.overwrite, create=False)
    for flag in ("input_nc", "output_nc", "ngf"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive integer, got {value}")
    try:
        model = convert_pytorch_checkpoint(
            args.from_pytorch, args.arch, norm=args.norm, input_nc=args.input_nc, output_nc=args.output_nc,
            ngf=args.ngf, use_torch=False if args.no_torch else None,
        )
    except ConversionError as error:
        raise UsageError(str(error)) from None
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    model.save(args.output)
    parameters = sum(math.prod(w.shape) for w in model.trainable_weights)  # as the reference counts
    print(f"tfgan-translate convert: wrote {args.output} ({args.arch}, {parameters:,} parameters, "
          f"input {model.input_shape[1:]})")
    return 0


def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="score a run on held-out data (PSNR, SSIM, L1, FID, KID); writes a JSON report",
        description="Translate the held-out split of --dataset with the run's newest checkpoint (inference "
        "mode) and score it: psnr, ssim, l1 against the ground truth (paired data), fid, kid against the real "
        "target images (FID Inception features, as published FIDs). Writes RUN/eval/report_step_<N>.json and prints a table.")
    parser.add_argument("--run-dir", required=True, help="a run folder")
    parser.add_argument("--dataset", required=True,
                        help="demo-paired | demo-gray2color | demo-unpaired | a folder (test/ or val/ A|B images, "
                        "or testA/ + testB/) | a tfds cycle_gan name (its testA/testB splits)")
    parser.add_argument("--metrics", help="comma-separated, from psnr,ssim,l1,fid,kid (default: psnr,ssim,l1 on "
                        "paired data, plus fid,kid when --fid-weights is given; fid,kid on unpaired data)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA", "both"),
                        help="CycleGAN-like runs: generator_ab (AtoB), generator_ba (BtoA) or both; one-way runs "
                        "(pix2pix) score the direction they were trained in (default: AtoB)")
    add_fid_flags(parser)
    parser.add_argument("--all-checkpoints", action="store_true",
                        help="score every checkpoint the run keeps and report the best apart from the final one "
                        "(default report RUN/eval/history_step_<N>.json)")
    parser.add_argument("--batch-size", type=int, default=16, help="images per batch (default: %(default)s)")
    parser.add_argument("--max-images", type=int, help="evaluate at most this many images per set")
    parser.add_argument("--output", help="report path (default RUN/eval/report_step_<N>.json)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.add_argument("--data-dir", help="tfds data folder")
    parser.add_argument("--strict", action="store_true", help="stop at the first unreadable image instead of skipping it")
    return parser


def _run_evaluate(args):
    from .. import metrics
    from . import evaluation

    for flag in ("batch_size", "max_images"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be a positive integer, got {value}")
    try:
        evaluation.evaluate_run(
            args.run_dir, args.dataset, args.metrics.split(",") if args.metrics else None, args.direction,
            batch_size=args.batch_size, max_images=args.max_images, output=args.output, overwrite=args.overwrite,
            data_dir=args.data_dir, strict=args.strict, all_checkpoints=args.all_checkpoints, **fid_arguments(args),
        )
    except metrics.InceptionWeightsError as error:
        raise UsageError(str(error)) from None
    return 0


COMMANDS = {
    "train": (_add_train, _run_train),
    "translate": (_add_translate, _run_translate),
    "export": (_add_export, _run_export),
    "generate": (_add_generate, _run_generate),
    "demo": (_add_demo, _run_demo),
    "convert": (_add_convert, _run_convert),
    "evaluate": (_add_evaluate, _run_evaluate),
    "report": (_add_report, _run_report),
    "serve": (_add_serve, _run_serve),
}


def build_parser(family=None):
    """The parser; ``family`` (a ``Family``) adds its config fields as flags of ``train``."""
    parser = argparse.ArgumentParser(
        prog="tfgan-translate", description="GAN image-to-image translation (pix2pix, CycleGAN, ...)"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (add_parser, _) in COMMANDS.items():
        command = add_parser(subparsers, family) if name == "train" else add_parser(subparsers)
        command.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    return parser


def _train_family(argv):
    """The family a ``train`` command names (its first argument that is a family), or ``None``."""
    if not argv or argv[0] != "train":
        return None
    name = next((token for token in argv[1:] if token in families.names()), None)
    return families.get(name) if name else None


def _print_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings (e.g. a skipped unreadable image) as one line, without Python's source excerpt."""
    print(f"warning: {message}", file=file or sys.stderr)


def _quiet_tensorflow(argv):
    """TensorFlow's C++ log lines below errors stay hidden unless ``--verbose`` or the user's own
    TF_CPP_MIN_LOG_LEVEL says otherwise; set before TensorFlow is imported (the commands import it
    lazily). The lines printed before any log level applies are held back by
    :func:`_import_tensorflow_quietly` and ``native_output``."""
    if "--verbose" not in argv:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly():
    """Import TensorFlow with its start-up lines (the oneDNN notice, the CPU feature guard; printed
    before any log level applies) held back; anything else it prints is passed on."""
    if "tensorflow" in sys.modules:
        return
    from ..native_output import TENSORFLOW_START_UP, held_back

    with held_back(TENSORFLOW_START_UP):
        import tensorflow  # noqa: F401


def _run(argv):
    helping = "-h" in argv or "--help" in argv
    if argv and argv[0] in COMMANDS and "--verbose" not in argv and (argv[0] == "train" or not helping):
        _import_tensorflow_quietly()  # before a family's module (which imports it) builds train's flags
    parser = build_parser(_train_family(argv))
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command][1](args)
    except (UsageError, ValueError, FileExistsError) as error:
        print(f"tfgan-translate {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a path that became unwritable mid-way (checked paths fail above, earlier)
        from .outputs import describe

        print(f"tfgan-translate {args.command}: error: {describe(error)}", file=sys.stderr)
        return 2


def main(argv=None):
    """Run one command; exit status 0 (done), 1 (the work failed), 2 (bad arguments), 130 (Ctrl-C)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    _quiet_tensorflow(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            return _run(argv)
    except KeyboardInterrupt:  # before training's own handler is in place (imports, tracing)
        print("tfgan-translate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
