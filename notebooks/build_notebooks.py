"""Write the notebooks of this folder from the cell sources below (``python notebooks/build_notebooks.py``).

Why a script: the notebooks share their first cells (install, GPU check, helpers), reviews read
plain Python instead of JSON, and the output is deterministic (fixed cell ids, no outputs), so
``tests/test_notebooks.py`` can check that the committed ``.ipynb`` files are what this script
writes. Edit the cells here, run the script, commit both.

Every notebook uses the public API only and reads its parameters from ``TFGAN_NB_*``
environment variables (the CI sets tiny values); see ``notebooks/README.md``.
"""

import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
# Placeholder until the repository is published: the install cell and the Colab badges use it.
REPO_URL = "https://github.com/<org>/tfgan_translate"
BRANCH = "main"


def colab_badge(name):
    repo = REPO_URL.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{repo}/blob/{BRANCH}/notebooks/{name}.ipynb)")


INTRO_FOOTER = f"""
**Installing in Colab.** The first code cell installs the package from `PACKAGE_SOURCE`: by default
a `tfgan_translate-*.whl` you uploaded (build it in the repository with
`pip wheel --no-deps -w dist .` and drop it into Colab's *Files* pane), else `REPO_URL`. Until the
repository is published `REPO_URL` and the badge above are placeholders
(`{REPO_URL}`); set `PACKAGE_SOURCE` to any wheel, archive or git URL of the package instead.
Colab's own TensorFlow is kept when it is Keras 3-based (2.16 or newer).

**Parameters** are in the first code cell (tagged `parameters`, so papermill can set them too);
each one can also be set from the environment (`TFGAN_NB_*`), which is how the CI runs this
notebook with tiny settings. In Colab choose *Runtime > Change runtime type > GPU* first.
"""

INSTALL = '''\
# Colab: install the package; elsewhere only check that this kernel can import it.
import importlib.metadata
import shutil
import sys
from pathlib import Path

IN_COLAB = "google.colab" in sys.modules


def package_requirement(source, extra):
    """The pip requirement of ``source``: a local wheel or checkout, a wheel/archive URL, or a git URL."""
    extras = f"[{extra}]" if extra else ""
    if Path(source).exists():
        return f"{Path(source).resolve()}{extras}"
    if source.endswith((".whl", ".zip", ".tar.gz")) and not source.startswith("git+"):
        return f"tfgan_translate{extras} @ {source}"
    return f"tfgan_translate{extras} @ git+{source.removeprefix('git+')}"


def tensorflow_extra():
    """No TensorFlow extra when a Keras 3 TensorFlow (>= 2.16, as Colab preinstalls) is present: installing
    another build over it would need a restart and gigabytes; else the build for this runtime."""
    for name in ("tensorflow", "tensorflow-cpu"):
        try:
            version = tuple(int(part) for part in importlib.metadata.version(name).split(".")[:2])
        except (importlib.metadata.PackageNotFoundError, ValueError):
            continue
        if version >= (2, 16):
            return ""
    return "gpu" if shutil.which("nvidia-smi") else "cpu"


try:
    import tfgan_translate
except ImportError:
    if not IN_COLAB:
        raise ImportError("tfgan_translate is not installed in this kernel's Python: "
                          "run `pip install -e '.[cpu]'` (or `.[gpu]`) in the repository, then restart the kernel") from None
    wheels = sorted(Path.cwd().glob("tfgan_translate-*.whl"), key=lambda path: path.stat().st_mtime)
    source = PACKAGE_SOURCE or (str(wheels[-1]) if wheels else REPO_URL)
    if "<org>" in source:
        raise RuntimeError(
            f"Nothing to install tfgan_translate from: REPO_URL is the placeholder {REPO_URL!r} and no "
            f"tfgan_translate-*.whl is in {Path.cwd()}. Build a wheel in the repository with "
            "`pip wheel --no-deps -w dist .` and upload it with the Files pane, or set PACKAGE_SOURCE "
            "in the parameters cell to a wheel, archive or git URL of the package; then run this cell again.")
    requirement = package_requirement(source, tensorflow_extra())
    print("installing", requirement)
    %pip install --quiet "{requirement}"
    import tfgan_translate
print("tfgan_translate", tfgan_translate.__version__, "from", tfgan_translate.__file__)
# If Colab asks to restart the runtime after the install, do so and run the notebook from the top.'''

GPU = '''\
import tensorflow as tf

gpus = tf.config.list_physical_devices("GPU")
print(f"TensorFlow {tf.__version__}; GPUs: {[gpu.name for gpu in gpus] or 'none'}")
if not gpus:
    print("No GPU: training runs on the CPU (fine for small images, slow at 256 px). "
          "In Colab: Runtime > Change runtime type > GPU, then run the notebook from the top.")'''

HELPERS = '''\
def show_grid(path, title=None, width=14):
    """Show a PNG sample grid the training wrote (one row per example, one column per image kind)."""
    image = plt.imread(path)
    height = width * image.shape[0] / image.shape[1]
    plt.figure(figsize=(width, max(1.5, height)))
    plt.imshow(image)
    plt.title(title or Path(path).name)
    plt.axis("off")
    plt.show()


def latest_grid(run_dir):
    """The newest sample grid of a run folder (``samples/step_<N>.png``)."""
    return sorted((Path(run_dir) / "samples").glob("step_*.png"))[-1]


def show_columns(columns, width=14):
    """Images side by side as the package draws its grids (``tfgan_translate.grids``): ``{column title:
    list of images in [-1, 1] or uint8}``, one row per example, tiles of at least 128 px."""
    grid = grids.labelled_grid(columns)
    plt.figure(figsize=(width, max(1.5, width * grid.shape[0] / grid.shape[1])))
    plt.imshow(grid)
    plt.axis("off")
    plt.show()


def held_out_batch(dataset, image_size, count, direction="AtoB", data_dir=None):
    """``count`` held-out examples ``{"a", "b"}``: test pairs when the data have them (``b`` is the
    target), else test images of each domain (``b`` unrelated to ``a``)."""
    source = data.resolve(dataset, "unpaired", data_dir=data_dir).heldout(image_size, batch_size=count, direction=direction)
    if source.paired:
        return next(iter(source.pairs())), True
    return {"a": next(iter(source.inputs())), "b": next(iter(source.targets()))}, False


def write_pngs(images, folder):
    """Write images in [-1, 1] as ``folder/<index>.png`` (inputs for ``inference.translate_files``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(data.to_uint8(images).numpy()):
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(folder / f"{i:03d}.png")
    return folder'''


def _id(name, index):
    return f"{name.replace('_', '-')}-{index:02d}"


def notebook(name, cells):
    """A notebook with deterministic cell ids and Colab metadata (GPU runtime requested)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "accelerator": "GPU",
        "colab": {"name": f"{name}.ipynb", "provenance": [], "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for index, (kind, source, tags) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        cell = make(source.strip("\n"), id=_id(name, index))
        if tags:
            cell.metadata["tags"] = list(tags)
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def _fill(source):
    return source.replace("@REPO_URL@", "\n".join([
        'PACKAGE_SOURCE = os.environ.get("TFGAN_NB_PACKAGE_SOURCE", "")  # Colab: wheel, archive or git URL ("": an uploaded wheel, else REPO_URL)',
        f'REPO_URL = "{REPO_URL}"' + ("  # placeholder until the repository is published" if "<org>" in REPO_URL else "")]))


def md(text):
    return ("md", text, ())


def code(text, *tags):
    return ("code", _fill(text), tags)


def common_setup(imports):
    """Install, GPU check, imports and helpers: the cells after the parameters."""
    return [
        md("## Setup"),
        code(INSTALL),
        code(GPU),
        code("from pathlib import Path\n\nimport matplotlib.pyplot as plt\nimport numpy as np\nfrom PIL import Image\n\n"
             + imports + "\nfrom tfgan_translate import grids" + "\n\n\n" + HELPERS),
    ]


# ---------------------------------------------------------------------------------------------
# pix2pix
# ---------------------------------------------------------------------------------------------

PIX2PIX = [
    md(f"""
# pix2pix: paired image-to-image translation

{colab_badge("pix2pix")}

Trains [pix2pix](https://arxiv.org/abs/1611.07004) (U-Net generator, 70x70 PatchGAN, GAN + L1 loss)
with `tfgan_translate`, then resumes the run from its checkpoint, translates held-out images and
exports the generator. Data:

- `facades` (default): the CMP Facades pairs from the pix2pix authors' site (30 MB; label map -> photo, `DIRECTION = "BtoA"`);
- any folder of side-by-side `A|B` images (directly, or in `train/` with `test/` or `val/` beside it);
- `demo-paired` (edges -> photo) or `demo-gray2color`: built offline in seconds from scikit-image photos.
{INTRO_FOOTER}"""),
    code('''
import os

@REPO_URL@
DATASET = os.environ.get("TFGAN_NB_DATASET", "facades")  # facades | a folder of A|B images | demo-paired | demo-gray2color
DIRECTION = os.environ.get("TFGAN_NB_DIRECTION", "BtoA" if DATASET == "facades" else "AtoB")  # which half is the input
IMAGE_SIZE = int(os.environ.get("TFGAN_NB_IMAGE_SIZE", 256))  # paper: 256
FILTERS = int(os.environ.get("TFGAN_NB_FILTERS", 64))  # ngf = ndf (paper: 64)
BATCH_SIZE = int(os.environ.get("TFGAN_NB_BATCH_SIZE", 1))  # paper: 1
STEPS = int(os.environ.get("TFGAN_NB_STEPS", 4000))  # first session (the paper trains 200 epochs: 80,000 steps on facades)
RESUME_STEPS = int(os.environ.get("TFGAN_NB_RESUME_STEPS", 1000))  # steps added when resuming
NUM_EXAMPLES = int(os.environ.get("TFGAN_NB_NUM_EXAMPLES", 4))  # held-out images shown and translated
RUN_ROOT = os.environ.get("TFGAN_NB_RUN_ROOT", "runs")  # a Google Drive folder keeps runs across Colab sessions
''', "parameters"),
    *common_setup("from tfgan_translate import data, evaluation, inference, pix2pix, runs, training"),
    md("""
## Data

`runs.training_dataset_fn` turns the dataset name into `(epoch -> tf.data.Dataset, steps per epoch)`:
each epoch has its own seed, so a resumed run sees exactly the batches an uninterrupted one would.
"""),
    code('''
FACADES_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"


def download_facades(root="datasets"):
    """The facades folder (train/ val/ test/ of 512x256 photo|label images), downloaded once."""
    import tarfile
    import urllib.request

    folder = Path(root) / "facades"
    if not (folder / "train").is_dir():
        Path(root).mkdir(parents=True, exist_ok=True)
        archive, _ = urllib.request.urlretrieve(FACADES_URL, Path(root) / "facades.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(root, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    return str(folder)


dataset = download_facades() if DATASET == "facades" else DATASET
config = pix2pix.Config(image_size=IMAGE_SIZE, ngf=FILTERS, ndf=FILTERS, batch_size=BATCH_SIZE)
dataset_fn, steps_per_epoch = runs.training_dataset_fn("pix2pix", dataset, config, direction=DIRECTION)
print(f"{dataset}: {steps_per_epoch} batches of {BATCH_SIZE} per epoch; U-Net depth {config.num_downs}")

examples, paired = held_out_batch(dataset, IMAGE_SIZE, NUM_EXAMPLES, DIRECTION)
show_columns({"input (a)": examples["a"], "target (b)": examples["b"]})
'''),
    md("""
## Train

`training.fit` shows a progress bar with the losses and images/s, writes PNG sample grids
(input | translation | target, here of the held-out examples above) and checkpoints into the
run folder, and TensorBoard logs into `<run folder>/logs` (in Colab: `%load_ext tensorboard` then
`%tensorboard --logdir runs`). Interrupting the cell saves a checkpoint.
"""),
    code('''
run_dir = Path(RUN_ROOT) / f"pix2pix_{Path(dataset).name}_{DIRECTION}_{IMAGE_SIZE}px"
every = max(1, STEPS // 4)
trainer = pix2pix.Trainer(config, steps_per_epoch=steps_per_epoch)
result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=STEPS,
                      sample_batch=examples, sample_every=every, checkpoint_every=every, progress=True)
print(f"step {result.step}, {result.images_per_second:.1f} images/s, losses",
      {name: round(value, 3) for name, value in result.losses.items()})
show_grid(latest_grid(run_dir), "input | translation | target")
'''),
    md("""
## Resume

A new `Trainer` (fresh weights, as after a restart of the runtime) and the same run folder:
`fit` restores the newest checkpoint (models, optimizers, step, random state) and continues to
the new `total_steps`.
"""),
    code('''
trainer = pix2pix.Trainer(config, steps_per_epoch=steps_per_epoch)
result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=STEPS + RESUME_STEPS,
                      sample_batch=examples, sample_every=every, checkpoint_every=every, progress=True)
assert result.resumed_from is not None and result.step == STEPS + RESUME_STEPS, result
print(f"resumed from {Path(result.resumed_from).name}; now at step {result.step}")
show_grid(latest_grid(run_dir), "input | translation | target")
'''),
    md("""
## Translate image files

`runs.load_generators` restores the generator from the run folder's newest checkpoint;
`inference.translate_files` translates every image of a folder at its own size (here the
held-out inputs, written as PNG files; use any folder of your own images the same way).
"""),
    code('''
family, generators = runs.load_generators(run_dir)
generator = runs.generator_for_direction(family, generators, "AtoB")  # pix2pix has one generator
inputs = write_pngs(examples["a"], run_dir / "translate" / "inputs")
written, skipped = inference.translate_files(generator, inference.list_inputs(inputs), run_dir / "translate" / "outputs",
                                             overwrite=True)
print(f"{len(written)} translated into {written[0].parent}")
show_columns({"input file": [np.asarray(Image.open(p)) for p in inference.list_inputs(inputs)],
              "translated file": [np.asarray(Image.open(p)) for p in written],
              "target": examples["b"]})
'''),
    md("""
## Evaluate

PSNR, SSIM and L1 of the translations against the targets of the held-out split (`test/` or
`val/` of a folder, the demo datasets' test split), written to `<run folder>/eval/`.
"""),
    code('''
report, path = evaluation.evaluate_run(run_dir, dataset, metrics=("psnr", "ssim", "l1"), direction=DIRECTION,
                                       overwrite=True)
'''),
    md("""
## Export

Each generator is written as `<name>.keras` (load it with `keras.models.load_model`) and as a
TensorFlow SavedModel `<name>/` whose `serve` signature takes float32 images in [-1, 1].
"""),
    code('''
import keras

export_dir = run_dir / "export"
paths = inference.export_generators(generators, export_dir, family.name, overwrite=True)
print("exported:", *sorted(p.name for p in export_dir.iterdir()))

loaded = keras.models.load_model(paths[0])
np.testing.assert_allclose(loaded(examples["a"], training=False), generator(examples["a"], training=False), atol=1e-4)
saved_model = tf.saved_model.load(str(export_dir / "generator"))  # keep a reference while calling it
np.testing.assert_allclose(saved_model.serve(examples["a"]), generator(examples["a"], training=False), atol=1e-4)
print(f"{paths[0].name} and the SavedModel give the trained generator's translations; input {loaded.input_shape}")
'''),
]

# ---------------------------------------------------------------------------------------------
# CycleGAN on horse2zebra
# ---------------------------------------------------------------------------------------------

CYCLEGAN = [
    md(f"""
# CycleGAN: horse <-> zebra without pairs

{colab_badge("cyclegan_horse2zebra")}

Trains [CycleGAN](https://arxiv.org/abs/1703.10593) (two ResNet generators G: A->B and F: B->A, two
PatchGAN discriminators, LSGAN + cycle + identity losses) on the TensorFlow Datasets
`cycle_gan/horse2zebra` images (downloaded by tfds, 111 MB), then resumes the run from its
checkpoint, translates held-out horses and exports both generators.

`DATASET` may also be another tfds CycleGAN name (`summer2winter_yosemite`, `monet2photo`, ...), a
folder with `trainA/` and `trainB/` (and `testA/`, `testB/`), or `demo-unpaired`: an offline colour
mapping with a known answer, built in seconds, which the CI uses.
{INTRO_FOOTER}"""),
    code('''
import os

@REPO_URL@
DATASET = os.environ.get("TFGAN_NB_DATASET", "horse2zebra")  # a tfds cycle_gan name | a trainA/trainB folder | demo-unpaired
IMAGE_SIZE = int(os.environ.get("TFGAN_NB_IMAGE_SIZE", 256))  # paper: 256
FILTERS = int(os.environ.get("TFGAN_NB_FILTERS", 64))  # ngf = ndf (paper: 64)
N_BLOCKS = int(os.environ.get("TFGAN_NB_BLOCKS", 9))  # residual blocks (paper: 9 at 256 px, 6 at 128 px)
BATCH_SIZE = int(os.environ.get("TFGAN_NB_BATCH_SIZE", 1))  # paper: 1
LAMBDA_IDENTITY = float(os.environ.get("TFGAN_NB_LAMBDA_IDENTITY", 0.5))  # paper: 0.5 (use 0 for demo-unpaired)
STEPS = int(os.environ.get("TFGAN_NB_STEPS", 3000))  # first session (the paper trains 200 epochs: ~267,000 steps)
RESUME_STEPS = int(os.environ.get("TFGAN_NB_RESUME_STEPS", 1000))  # steps added when resuming
NUM_EXAMPLES = int(os.environ.get("TFGAN_NB_NUM_EXAMPLES", 4))  # held-out images shown and translated
FID = os.environ.get("TFGAN_NB_FID", "1") == "1"  # FID/KID on unpaired data (downloads the FID Inception weights, 91 MB)
DATA_DIR = os.environ.get("TFGAN_NB_DATA_DIR") or None  # tfds data folder (None: ~/tensorflow_datasets)
RUN_ROOT = os.environ.get("TFGAN_NB_RUN_ROOT", "runs")  # a Google Drive folder keeps runs across Colab sessions
''', "parameters"),
    *common_setup("from tfgan_translate import cyclegan, data, evaluation, inference, runs, training"),
    md("""
## Data

`runs.training_dataset_fn` turns the dataset name into `(epoch -> tf.data.Dataset, steps per epoch)`
of unpaired batches `{"a": horses, "b": zebras}` with the paper's jitter (resize to 286, random
256 crop, mirror). The first call downloads and prepares horse2zebra (a few minutes in Colab).
"""),
    code('''
config = cyclegan.Config(image_size=IMAGE_SIZE, ngf=FILTERS, ndf=FILTERS, n_blocks=N_BLOCKS, batch_size=BATCH_SIZE,
                         lambda_identity=LAMBDA_IDENTITY)
dataset_fn, steps_per_epoch = runs.training_dataset_fn("cyclegan", DATASET, config, data_dir=DATA_DIR)
print(f"{DATASET}: {steps_per_epoch} batches of {BATCH_SIZE} per epoch")

# demo-unpaired's test split pairs each input with its true translation; tfds and folders have none
examples, paired = held_out_batch(DATASET, IMAGE_SIZE, NUM_EXAMPLES, data_dir=DATA_DIR)
show_columns({"held-out A": examples["a"], "true A->B" if paired else "held-out B": examples["b"]})
'''),
    md("""
## Train

`training.fit` shows a progress bar with the losses and images/s, writes PNG sample grids of the
held-out examples (a | G(a) | F(G(a)) | b | F(b) | G(F(b))) and checkpoints into the run folder,
and TensorBoard logs into `<run folder>/logs` (in Colab: `%load_ext tensorboard` then
`%tensorboard --logdir runs`). Interrupting the cell saves a checkpoint.
"""),
    code('''
GRID_TITLE = "a | G(a) | F(G(a)) | b | F(b) | G(F(b))"
run_dir = Path(RUN_ROOT) / f"cyclegan_{Path(DATASET).name}_{IMAGE_SIZE}px"
every = max(1, STEPS // 4)
trainer = cyclegan.Trainer(config, steps_per_epoch=steps_per_epoch)
result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=STEPS,
                      sample_batch=examples, sample_every=every, checkpoint_every=every, progress=True)
print(f"step {result.step}, {result.images_per_second:.1f} images/s, losses",
      {name: round(value, 3) for name, value in result.losses.items()})
show_grid(latest_grid(run_dir), GRID_TITLE)
'''),
    md("""
## Resume

A new `Trainer` (fresh weights, as after a restart of the runtime) and the same run folder:
`fit` restores the newest checkpoint (generators, discriminators, optimizers, image pools, step,
random state) and continues to the new `total_steps`. Run this cell again with a larger
`RESUME_STEPS` to keep training.
"""),
    code('''
trainer = cyclegan.Trainer(config, steps_per_epoch=steps_per_epoch)
result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=STEPS + RESUME_STEPS,
                      sample_batch=examples, sample_every=every, checkpoint_every=every, progress=True)
assert result.resumed_from is not None and result.step == STEPS + RESUME_STEPS, result
print(f"resumed from {Path(result.resumed_from).name}; now at step {result.step}")
show_grid(latest_grid(run_dir), GRID_TITLE)
'''),
    md("""
## Translate image files

`runs.load_generators` restores both generators from the run folder's newest checkpoint;
`inference.translate_files` translates every image of a folder at its own size. Here the
held-out inputs are written as PNG files first; point it at a folder of your own photos the
same way (`generator_ba` translates zebras into horses).
"""),
    code('''
family, generators = runs.load_generators(run_dir)
horse_to_zebra = runs.generator_for_direction(family, generators, "AtoB")
inputs = write_pngs(examples["a"], run_dir / "translate" / "inputs")
written, skipped = inference.translate_files(horse_to_zebra, inference.list_inputs(inputs),
                                             run_dir / "translate" / "outputs", overwrite=True)
print(f"{len(written)} translated into {written[0].parent}")
columns = {"input file": [np.asarray(Image.open(p)) for p in inference.list_inputs(inputs)],
           "translated file": [np.asarray(Image.open(p)) for p in written]}
if paired:
    columns["true translation"] = examples["b"]
show_columns(columns)
'''),
    md("""
## Evaluate

On `demo-unpaired` the test split has the true translation of every input, so PSNR/SSIM/L1 apply.
On horse2zebra there is no "right" zebra for a horse: the usual score is the FID (and KID) of the
translated test horses against the real test zebras (lower is better), on the features of the FID
Inception network with the weights pytorch-fid publishes (downloaded on first use): the protocol of
the published horse2zebra FIDs (CycleGAN 77.2, CUT 45.5 in the CUT paper).
"""),
    code('''
if paired:
    report, path = evaluation.evaluate_run(run_dir, DATASET, metrics=("psnr", "ssim", "l1"), overwrite=True)
elif FID:
    import keras
    from tfgan_translate.metrics import fid_weights
    weights = keras.utils.get_file(origin=fid_weights.PUBLISHED_URL)  # the published FID Inception weights, once
    report, path = evaluation.evaluate_run(run_dir, DATASET, metrics=("fid", "kid"), data_dir=DATA_DIR,
                                           fid_weights=weights, overwrite=True)
else:
    print("FID off (TFGAN_NB_FID=0)")
'''),
    md("""
## Export

Each generator is written as `<name>.keras` (load it with `keras.models.load_model`) and as a
TensorFlow SavedModel `<name>/` whose `serve` signature takes float32 images in [-1, 1].
"""),
    code('''
import keras

export_dir = run_dir / "export"
paths = inference.export_generators(generators, export_dir, family.name, overwrite=True)
print("exported:", *sorted(p.name for p in export_dir.iterdir()))

loaded = keras.models.load_model(export_dir / "generator_ab.keras")
expected = horse_to_zebra(examples["a"], training=False)
np.testing.assert_allclose(loaded(examples["a"], training=False), expected, atol=1e-4)
saved_model = tf.saved_model.load(str(export_dir / "generator_ab"))  # keep a reference while calling it
np.testing.assert_allclose(saved_model.serve(examples["a"]), expected, atol=1e-4)
print(f"generator_ab.keras and the SavedModel give the trained generator's translations; input {loaded.input_shape}")
'''),
]

# ---------------------------------------------------------------------------------------------
# The zoo: every family on the demo data
# ---------------------------------------------------------------------------------------------

ZOO = [
    md(f"""
# Translation zoo: every family on the same offline data

{colab_badge("translation_zoo")}

Trains each image-to-image family of `tfgan_translate` briefly on the built-in demo data (no
download), with the demo's reference settings, and compares them:

- pix2pix on `demo-paired` (edges -> photo crops), paired data;
- CycleGAN, CUT, FastCUT, DiscoGAN and DualGAN on `demo-unpaired`: a colour mapping with a known
  answer, so their unpaired A -> B translations can be scored against the truth (the identity
  guess, output = input, scores about 13 dB PSNR);
- pix2pixHD on `demo-labels`: semantic label maps (photo crops segmented into 6 colour classes,
  with instance maps) -> photos, with the feature encoder's styles. It translates label maps, not
  images, so it has its own section at the end.

The list of families comes from the registry (`families.all_families()`: every family declares its
demo, with the dataset it was tuned on), so a new translation family shows up here without editing the notebook;
`FAMILIES` picks a subset. CGAN and InfoGAN are left out: they generate digits from noise and
codes rather than translate images. The last section draws images from texts with StackGAN's two
stages (`TEXT_STEPS`).
{INTRO_FOOTER}"""),
    code('''
import os

@REPO_URL@
FAMILIES = os.environ.get("TFGAN_NB_FAMILIES", "")  # comma-separated subset, e.g. "pix2pix,cyclegan" ("": all)
IMAGE_SIZE = int(os.environ.get("TFGAN_NB_IMAGE_SIZE", 32))  # the demo's size; 64 works too
FILTERS = int(os.environ.get("TFGAN_NB_FILTERS", 16))  # ngf = ndf (the demo's 16; the papers use 64)
BATCH_SIZE = int(os.environ.get("TFGAN_NB_BATCH_SIZE", 0))  # 0: each family's demo batch size
STEPS = int(os.environ.get("TFGAN_NB_STEPS", 1000))  # per family, first session
RESUME_STEPS = int(os.environ.get("TFGAN_NB_RESUME_STEPS", 500))  # per family, added when resuming
NUM_EXAMPLES = int(os.environ.get("TFGAN_NB_NUM_EXAMPLES", 4))  # held-out images shown per dataset
RUN_ROOT = os.environ.get("TFGAN_NB_RUN_ROOT", "runs")  # a Google Drive folder keeps runs across Colab sessions
TEXT_STEPS = int(os.environ.get("TFGAN_NB_TEXT_STEPS", 1000))  # StackGAN, per stage (last section; 0 skips it)
''', "parameters"),
    *common_setup("from tfgan_translate import data, evaluation, families, inference, runs, training"),
    md("""
## The families and their settings

Each family's demo settings (`families.get(name).demo.config`, the paper's architecture made
narrower for 32 px CPU runs) with this notebook's image size and filters. A family whose demo runs
translate label maps rather than images (`family.map_inputs` gives their inputs: pix2pixHD on
`demo-labels`) goes to `label_zoo`, for the last section; the others, in `zoo`, to the sections
in between.
"""),
    code('''
import dataclasses
import time


def zoo_config(demo):
    """The demo's config at this notebook's size and width (the U-Net depth follows the size)."""
    fields = dataclasses.asdict(demo.config)
    changes = {"image_size": IMAGE_SIZE, "ngf": FILTERS, "ndf": FILTERS, "num_downs": None}
    if BATCH_SIZE:
        changes["batch_size"] = BATCH_SIZE
    fields.update({name: value for name, value in changes.items() if name in fields})
    return type(demo.config)(**fields)


def takes_label_maps(family, config):
    """Whether runs of ``family`` at ``config`` translate label maps (pix2pixHD's) rather than images."""
    return family.map_inputs is not None and family.map_inputs(config, clusters={}) is not None


# every family with a demo, except those that generate from noise instead of translating (CGAN, InfoGAN)
translators = [f.name for f in families.all_families() if f.translates and f.demo is not None]
names = [name.strip() for name in FAMILIES.split(",") if name.strip()] or translators
unknown = [name for name in names if name not in translators]
assert not unknown, f"no image-to-image demo for {unknown}; choose from {translators}"
zoo, label_zoo = {}, {}  # families that translate images (the sections below); label maps (the last section)
for name in names:
    demo = families.get(name).demo
    config = zoo_config(demo)
    (label_zoo if takes_label_maps(families.get(name), config) else zoo)[name] = (demo, config)
for name, (demo, config) in {**zoo, **label_zoo}.items():
    print(f"{name:10s} {demo.dataset:14s} batch {config.batch_size}, lr {config.lr}"
          + (" (label maps: last section)" if name in label_zoo else ""))
'''),
    md("""
## The data

The held-out examples of each dataset (its test split, pixels never trained on): every family
translates the same ones.
"""),
    code('''
examples = {}
for dataset in dict.fromkeys(demo.dataset for demo, _ in zoo.values()):
    examples[dataset], paired = held_out_batch(dataset, IMAGE_SIZE, NUM_EXAMPLES)
    print(dataset)
    show_columns({"input (a)": examples[dataset]["a"], "target (b)": examples[dataset]["b"]})
'''),
    md("""
## Train every family

One `training.fit` per family into its own run folder, with a progress bar; the sample grids are
of the held-out examples above.
"""),
    code('''
results = {}
for name, (demo, config) in zoo.items():
    print(f"== {name} on {demo.dataset} ==")
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(name, demo.dataset, config)
    trainer = families.get(name).trainer(config, steps_per_epoch=steps_per_epoch)
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, Path(RUN_ROOT) / f"zoo_{name}", steps_per_epoch=steps_per_epoch,
                          total_steps=STEPS, sample_batch=examples[demo.dataset], sample_every=max(1, STEPS // 2),
                          checkpoint_every=max(1, STEPS // 2), progress=True)
    results[name] = dict(result=result, seconds=time.perf_counter() - started, dataset_fn=dataset_fn,
                         steps_per_epoch=steps_per_epoch, columns=list(trainer.sample(examples[demo.dataset])))
'''),
    code('''
for name in zoo:
    run = results[name]
    show_grid(latest_grid(Path(RUN_ROOT) / f"zoo_{name}"),
              f"{name}, step {run['result'].step}: " + " | ".join(run["columns"]), width=10)
'''),
    md("""
## Resume every run

New trainers (fresh weights) on the same run folders: each `fit` continues from its checkpoint.
"""),
    code('''
for name, (demo, config) in zoo.items():
    run = results[name]
    trainer = families.get(name).trainer(config, steps_per_epoch=run["steps_per_epoch"])
    started = time.perf_counter()
    result = training.fit(trainer, run["dataset_fn"], Path(RUN_ROOT) / f"zoo_{name}",
                          steps_per_epoch=run["steps_per_epoch"], total_steps=STEPS + RESUME_STEPS,
                          sample_batch=examples[demo.dataset], sample_every=max(1, RESUME_STEPS),
                          checkpoint_every=max(1, RESUME_STEPS), progress=True)
    assert result.resumed_from is not None and result.step == STEPS + RESUME_STEPS, (name, result)
    print(f"{name}: resumed from {Path(result.resumed_from).name}, now at step {result.step}")
    run.update(result=result, seconds=run["seconds"] + time.perf_counter() - started)
'''),
    md("""
## Side by side

The same held-out inputs through every family (A -> B), next to the target. The generators are
loaded back from each run folder's newest checkpoint with `runs.load_generators`.
"""),
    code('''
generators = {name: runs.load_generators(Path(RUN_ROOT) / f"zoo_{name}")[1] for name in zoo}
for dataset, batch in examples.items():
    columns = {"input": batch["a"]}
    for name, (demo, _) in zoo.items():
        if demo.dataset == dataset:
            columns[name] = runs.generator_for_direction(families.get(name), generators[name], "AtoB")(
                batch["a"], training=False)
    columns["target"] = batch["b"]
    print(dataset)
    show_columns(columns)
'''),
    md("""
## Results

PSNR / SSIM / L1 of each family's A -> B translations against the targets of its dataset's whole
test split (`evaluation.evaluate_run`), next to the identity guess (output = input). With the
default `STEPS` these are short runs: the table shows the workflow, not the papers' numbers.
"""),
    code('''
from IPython.display import Markdown, display

rows = []
for name, (demo, _) in zoo.items():
    report, _ = evaluation.evaluate_run(Path(RUN_ROOT) / f"zoo_{name}", demo.dataset, metrics=("psnr", "ssim", "l1"),
                                        overwrite=True, log=lambda text: None)
    scores = report["results"]["AtoB"]
    run = results[name]
    rows.append([name, demo.dataset, run["result"].step, f"{run['seconds']:.0f}", f"{scores['psnr']:.2f}",
                 f"{scores['ssim']:.3f}", f"{scores['l1']:.3f}"])
for dataset in examples:
    pairs = list(data.resolve(dataset, "unpaired").heldout(IMAGE_SIZE, batch_size=50).pairs())
    a = np.concatenate([batch["a"] for batch in pairs])
    b = np.concatenate([batch["b"] for batch in pairs])
    rows.append(["identity guess", dataset, "", "", f"{float(np.mean(data.psnr(a, b))):.2f}", "", ""])

header = ["family", "dataset", "steps", "seconds", "PSNR (dB)", "SSIM", "L1"]
display(Markdown("\\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                            + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows])))
'''),
    md("""
## Export and translate files

Every family's generators exported as `.keras` and SavedModel; the `.keras` files are loaded back
and translate a folder of held-out inputs.
"""),
    code('''
import keras

for name, (demo, config) in zoo.items():
    run_dir = Path(RUN_ROOT) / f"zoo_{name}"
    paths = inference.export_generators(generators[name], run_dir / "export", name, overwrite=True)
    model = keras.models.load_model(next(p for p in paths if p.stem in ("generator", "generator_ab")))
    inputs = write_pngs(examples[demo.dataset]["a"], run_dir / "translate" / "inputs")
    written, _ = inference.translate_files(model, inference.list_inputs(inputs), run_dir / "translate" / "outputs",
                                           overwrite=True)
    print(f"{name}: exported {', '.join(p.name for p in paths)}; translated {len(written)} files into {written[0].parent}")
'''),
    md("""
## Label maps: pix2pixHD with instance maps and styles

pix2pixHD's demo translates semantic label maps into photos. `demo-labels` holds real photo crops
segmented into 6 colour classes, with 16-bit instance maps (each region of the two countable classes
is an instance); its batches are `{"label", "instance", "b"}`, with no input image `"a"`, which is
why the sections above leave it out. G takes the label map one-hot, the instance boundaries and,
per instance, a style: in training the feature encoder E's average features of the real photo.
After training (`runs.after_training`) E's features of the training photos are clustered per class
(k-means), into `feature_clusters.json` of the run folder; to translate, each instance takes a
cluster centre of its class, chosen with `choice={class: cluster}` or drawn with a seed
(`family.map_inputs(config, run_dir)` composes G's input). These cells run when `FAMILIES` holds
pix2pixhd; the sample grids show the held-out label maps in colour | translation | photo.
"""),
    code('''
label_runs = {}
for name, (demo, config) in label_zoo.items():
    family, run_dir = families.get(name), Path(RUN_ROOT) / f"zoo_{name}"
    print(f"== {name} on {demo.dataset} ==")
    dataset_fn, steps_per_epoch = runs.training_dataset_fn(name, demo.dataset, config)
    held_out = evaluation.evaluation_source(family, demo.dataset, IMAGE_SIZE, batch_size=NUM_EXAMPLES, config=config)
    sample_batch = next(iter(held_out.pairs()))  # {"label", "instance", "b"} of the first held-out examples
    trainer = family.trainer(config, steps_per_epoch=steps_per_epoch)
    started = time.perf_counter()
    result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=STEPS,
                          sample_batch=sample_batch, sample_every=max(1, STEPS // 2),
                          checkpoint_every=max(1, STEPS // 2), progress=True)
    runs.after_training(family, trainer, demo.dataset, run_dir)  # fits and saves the k-means styles
    label_runs[name] = dict(trainer=trainer, result=result, seconds=time.perf_counter() - started,
                            maps=family.map_inputs(config, run_dir))
    show_grid(latest_grid(run_dir), f"{name}, step {result.step}: label map | translation | photo", width=8)
'''),
    md("""
The first held-out label maps (files of the test split, pixels never trained on) in colour, their
instance boundaries, the translation with two different styles of one class (the same label map,
the two most different k-means centres of the class that covers most of these maps; the other
classes draw theirs with the same seed), their difference (5 times brighter) and the true photo.
"""),
    code('''
import json

from tfgan_translate import pix2pixhd
from tfgan_translate.data.label_demo import demo_labels_folder

folder = demo_labels_folder()  # demo-labels: train_label/ train_inst/ train_img/ test_label/ test_inst/ test_img/
class_names = [entry["name"] for entry in json.loads((folder / "classes.json").read_text())["classes"]]
test_files = data.labelled_files(folder, "test")[:NUM_EXAMPLES]
for name, run in label_runs.items():
    maps = run["maps"]
    labels, instances = (np.concatenate(arrays) for arrays in zip(*(maps.maps(f.label, f.instance) for f in test_files)))
    pixels = np.bincount(labels.ravel(), minlength=len(class_names))
    styled = [c for c, centres in maps.clusters.items() if len(centres) > 1]  # classes with two styles or more
    shown = max(styled or list(maps.clusters), key=lambda c: pixels[c])
    centres = maps.clusters[shown]
    first, second = np.unravel_index(((centres[:, None] - centres[None]) ** 2).sum(-1).argmax(), (len(centres),) * 2)
    family, generators = runs.load_generators(Path(RUN_ROOT) / f"zoo_{name}")
    generator = runs.generator_for_direction(family, generators, "AtoB")
    columns = {"label map": maps.shown({"label": labels}),
               "boundaries": pix2pixhd.instance_boundaries(instances) * 2 - 1}
    for k in (first, second):
        columns[f"{class_names[shown]} style {k}"] = np.stack([
            inference.translate_array(generator, maps.compose(f.label, f.instance, choice={shown: int(k)}, seed=0))
            for f in test_files])
    styles = list(columns.values())[-2:]
    columns["difference x5"] = np.clip(np.abs(styles[0] - styles[1]) * 5, 0, 1) * 2 - 1  # |style - style|, 5 times
    columns["photo"] = [np.asarray(Image.open(f.photo)) for f in test_files]
    print(f"{name}: {sum(len(c) for c in maps.clusters.values())} styles over {len(maps.clusters)} classes; "
          f"class {shown} ({class_names[shown]}) with styles {first} and {second}")
    show_columns(columns, width=12)
'''),
    md("""
Held-out PSNR / SSIM / L1 against the true photos of the whole test split
(`evaluation.evaluate_run`, styles drawn with seed 0), and the demo's report
(`demo.quality(trainer)`): the same PSNR next to the untrained generator and to painting every
pixel with its class's mean training colour, the best a model that knows only each pixel's
class can do in squared error. Then the generator is exported (with its styles file beside it)
and the exported `.keras` file translates the label-map files (`inference.translate_files` with
`read=`, which composes each file's input from its instance map).
"""),
    code('''
import shutil

import keras

for name, (demo, config) in label_zoo.items():
    run, run_dir = label_runs[name], Path(RUN_ROOT) / f"zoo_{name}"
    report, _ = evaluation.evaluate_run(run_dir, demo.dataset, metrics=("psnr", "ssim", "l1"), overwrite=True,
                                        log=lambda text: None)
    scores = report["results"]["AtoB"]
    print(f"{name}, step {run['result'].step} ({run['seconds']:.0f} s): held-out PSNR {scores['psnr']:.2f} dB, "
          f"SSIM {scores['ssim']:.3f}, L1 {scores['l1']:.3f}")
    if demo.quality is not None:
        quality = demo.quality(run["trainer"])
        print(f"  demo report: {quality['test_psnr_db']} dB; untrained generator {quality['untrained_test_psnr_db']} dB, "
              f"mean colour of each class {quality['mean_colour_test_psnr_db']} dB")

    family, generators = runs.load_generators(run_dir)
    paths = inference.export_generators(generators, run_dir / "export", name, overwrite=True)
    for extra in run["maps"].files(run_dir):  # the styles the generator's input is made with
        shutil.copyfile(extra, run_dir / "export" / extra.name)
    model = keras.models.load_model(paths[0])
    instance_map = {Path(f.label).name: f.instance for f in test_files}
    written, _ = inference.translate_files(
        model, [Path(f.label) for f in test_files], run_dir / "translate" / "outputs", overwrite=True,
        read=lambda path: run["maps"].compose(path, instance_map[Path(path).name], seed=0))
    print(f"  exported {', '.join(p.name for p in paths)} and {', '.join(p.name for p in run['maps'].files(run_dir))}; "
          f"translated {len(written)} label maps into {written[0].parent}")
'''),
    md("""
## Text to image: StackGAN's two stages

StackGAN draws an image from a caption: Stage-I turns the caption's embedding (through conditioning
augmentation, which samples a code c around it) and noise into a small image, and Stage-II,
with Stage-I frozen, turns that image and the caption into one 4x larger. `demo-captions` holds
scenes of one coloured shape, each with ten paraphrased captions ("a large red circle in the top
left corner", "top left: a big red disc", ...); its held-out captions name combinations of colour,
shape, size and position that training never saw. The captions are encoded offline by a
bag-of-words encoder kept in the run folder (`text_encoder.json`).

Each stage trains `TEXT_STEPS` steps with the demo's settings (`families.get("stackgan").demo`);
the Stage-II run names its Stage-I run (`stage1_run`). The grids show real | Stage-I | Stage-II.
"""),
    code('''
stackgan = families.get("stackgan")
text_runs = {}
if TEXT_STEPS:
    demo = stackgan.demo
    run_dir = Path(RUN_ROOT) / "zoo_stackgan"
    for stage, config in ((1, demo.config), (2, None)):
        if config is None:  # Stage-II on the Stage-I run just trained
            suffix, config = demo.follow_up(str(run_dir))
            run_dir = run_dir.with_name(run_dir.name + suffix)
        dataset_fn, steps_per_epoch = runs.training_dataset_fn(stackgan, demo.dataset, config)
        trainer = stackgan.trainer(config, steps_per_epoch=steps_per_epoch)
        runs.before_training(stackgan, demo.dataset, run_dir, config)  # keeps the text encoder in the run
        result = training.fit(trainer, dataset_fn, run_dir, steps_per_epoch=steps_per_epoch, total_steps=TEXT_STEPS,
                              sample_every=TEXT_STEPS, checkpoint_every=TEXT_STEPS)
        text_runs[stage] = dict(trainer=trainer, run_dir=run_dir, result=result)
        show_grid(latest_grid(run_dir), f"Stage-{'I' * stage}, step {result.step}", width=6 + 2 * stage)
        inference.export_generators(trainer.generators(), run_dir / "export", "stackgan", overwrite=True,
                                    formats=("keras",))  # G(embedding, noise) -> image
else:
    print("TEXT_STEPS = 0: StackGAN skipped")
'''),
    md("""
Captions of your own, drawn by the Stage-II run (`tfgan-translate generate --run-dir RUN --caption ...`
does the same from the command line): each row is a caption, each column one noise vector, the same
in every row. Then the demo's figures: the share of images drawn for held-out captions whose colour,
shape, size and position a classifier trained on the real scenes reads as the caption says, next to
real training scenes picked at random (a generator that ignores the text).
"""),
    code('''
if text_runs:
    final = text_runs[max(text_runs)]
    captions = ["a large red circle in the top left corner", "a small blue square at the bottom right",
                "there is a big yellow triangle at the top right", "a tiny green disc, lower left"]
    embeddings = stackgan.text_to_image.embed(final["run_dir"], captions)
    noise = np.random.default_rng(0).standard_normal((4, stackgan.text_to_image.noise_size(final["trainer"].config)))
    for title, images in stackgan.text_to_image.draw(
            final["trainer"].generator, np.repeat(embeddings, 4, axis=0), np.tile(noise, (4, 1)).astype("float32")).items():
        images = np.asarray(images).reshape(4, 4, *images.shape[1:])
        print(title)
        show_columns({f"noise {j + 1}": images[:, j] for j in range(4)}, width=8)
    if TEXT_STEPS >= 200:  # the figures train a classifier of the real scenes at each stage's size (about a minute)
        for key, value in stackgan.demo.quality(final["trainer"]).items():
            print(f"{key}: {value}")
'''),
]

NOTEBOOKS = {"pix2pix": PIX2PIX, "cyclegan_horse2zebra": CYCLEGAN, "translation_zoo": ZOO}


def build():
    """``{file name: notebook}`` for every notebook."""
    return {f"{name}.ipynb": notebook(name, cells) for name, cells in NOTEBOOKS.items()}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    for filename, nb in build().items():
        path = HERE / filename
        path.write_text(nbformat.writes(nb) + "\n")
        print("wrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
