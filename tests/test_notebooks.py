"""Execute every notebook in ``notebooks/`` with tiny parameters and no network; check none has outputs.

Each notebook runs top to bottom in a fresh kernel of this very Python (a temporary kernelspec
pointing at ``sys.executable``, with ``PYTHONPATH`` set to the package these tests import), in a
temporary folder, with the ``TFGAN_NB_*`` parameters set small. A cell that raises fails the
test with the cell's source and traceback. The notebooks' own assertions (resume continues
from the checkpoint, exported models reproduce the trained generator) run as part of it.
"""

import json
import os
import re
import sys
from pathlib import Path

import nbclient
import nbformat
import numpy as np
import pytest

import tfgan_translate  # the notebooks' kernel must import this same copy

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 900  # seconds per cell, generous for a loaded CI machine
KERNEL_NAME = "tfgan-translate-test"

# Small enough for a 2-core CI machine; large enough to exercise every code path (several epochs,
# samples, checkpoints, a resume). The run folders go to the temporary working folder.
TINY = {
    "TFGAN_NB_IMAGE_SIZE": "32",
    "TFGAN_NB_FILTERS": "8",
    "TFGAN_NB_BLOCKS": "2",
    "TFGAN_NB_BATCH_SIZE": "2",
    "TFGAN_NB_STEPS": "6",
    "TFGAN_NB_RESUME_STEPS": "4",
    "TFGAN_NB_NUM_EXAMPLES": "3",
    "TFGAN_NB_FID": "0",
}
# Runs on its default dataset with tfds mocked (test_cyclegan_notebook_default_dataset_with_mocked_tfds).
MOCKED_TFDS_NOTEBOOK = "cyclegan_horse2zebra"
PER_NOTEBOOK = {
    # the default dataset, facades, with its download served from a local archive (FAKE_FACADES_DOWNLOAD)
    "pix2pix": {},
    # the zoo's resume cell then only restores each run (the other notebooks train after resuming);
    # one family of each kind (paired, two generators, label maps, one generator unpaired): the
    # contract test trains every family, so the other three would only cost CI time here
    "translation_zoo": {"TFGAN_NB_RESUME_STEPS": "0", "TFGAN_NB_FAMILIES": "pix2pix,cyclegan,pix2pixhd,fastcut",
                        "TFGAN_NB_TEXT_STEPS": "6"},
}

CHECK_PACKAGE = "import tfgan_translate\nprint('PACKAGE', tfgan_translate.__file__)"


def write_facades_like(folder, train=6, test=3, size=32):
    """A pix2pix folder like CMP Facades: ``train/`` and ``test/`` of side-by-side ``A|B`` JPEGs
    (A = photo, B = a blocky label map of it, so ``BtoA`` is labels -> photo)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, count in (("train", train), ("test", test)):
        (folder / split).mkdir(parents=True)
        for i in range(count):
            photo = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            labels = photo // 64 * 64
            Image.fromarray(np.concatenate([photo, labels], axis=1)).save(folder / split / f"{i}.jpg")
    return folder


def facades_archive(folder):
    """A ``facades.tar.gz`` laid out like the pix2pix authors' download: ``facades/{train,val,test}/``."""
    import tarfile

    facades = write_facades_like(folder / "facades")
    (facades / "val").mkdir()
    for image in sorted((facades / "test").iterdir())[:2]:
        (facades / "val" / image.name).write_bytes(image.read_bytes())
    archive = folder / "facades.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(facades, arcname="facades")
    return archive


# The pix2pix notebook downloads facades with urllib.request.urlretrieve: serve a local archive instead.
FAKE_FACADES_DOWNLOAD = """\
import shutil
import urllib.request

def _serve_local_archive(url, filename):
    assert url.endswith("/facades.tar.gz"), url
    shutil.copyfile({archive!r}, filename)
    return str(filename), None

urllib.request.urlretrieve = _serve_local_archive
"""


@pytest.fixture(scope="module")
def kernel_spec_dir(tmp_path_factory):
    """A kernelspec that starts ``sys.executable``: the notebooks run in the same environment as pytest."""
    root = tmp_path_factory.mktemp("kernels")
    spec = root / KERNEL_NAME
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (tfgan_translate tests)",
        "language": "python",
    }))
    return root


def run_notebook(nb, cwd, env_updates, kernel_spec_dir):
    """Execute ``nb`` (in place) in ``cwd``; fail with the broken cell's source and error."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    package_root = str(Path(tfgan_translate.__file__).resolve().parents[1])
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TFGAN_NB_")}  # only the test's parameters
    env = {**inherited, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])),
           **env_updates}
    manager = KernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_spec_dir)]))
    client = nbclient.NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT, startup_timeout=300, allow_errors=False,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail("a notebook cell failed:\n" + re.sub(r"\x1b\[[0-9;]*m", "", str(error)), pytrace=False)
    finally:  # nbclient leaves a kernel it did not start running (about 1 GB each, until pytest exits)
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    return nb


def printed(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def execute(path, tmp_path, kernel_spec_dir, env_updates, setup=None):
    """Run the notebook at ``path`` with a package check (and ``setup``) cell prepended."""
    nb = nbformat.read(path, as_version=4)
    extra = [CHECK_PACKAGE] + ([setup] if setup else [])
    nb.cells[:0] = [nbformat.v4.new_code_cell(source, id=f"test-setup-{i}") for i, source in enumerate(extra)]
    run_notebook(nb, tmp_path, {**TINY, "TFGAN_NB_RUN_ROOT": str(tmp_path / "runs"), **env_updates}, kernel_spec_dir)
    assert printed(nb.cells[0]).split()[-1] == str(Path(tfgan_translate.__file__).resolve()), \
        "the notebook kernel imported another copy of tfgan_translate"
    return nb


def images_shown(nb):
    return sum(1 for cell in nb.cells if cell.cell_type == "code"
               for o in cell.get("outputs", []) if o.output_type == "display_data" and "image/png" in o.get("data", {}))


def test_the_three_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} >= {"pix2pix", "cyclegan_horse2zebra", "translation_zoo"}
    assert set(PER_NOTEBOOK) | {MOCKED_TFDS_NOTEBOOK} >= {p.stem for p in NOTEBOOKS}, \
        "give every notebook its CI parameters in PER_NOTEBOOK"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_parameters_first(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    with_outputs = [i for i, cell in enumerate(code) if cell.outputs or cell.execution_count is not None]
    assert not with_outputs, f"{path.name}: code cells {with_outputs} have outputs; clear them before committing"
    assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: the first code cell must be tagged parameters"
    assert "colab.research.google.com" in nb.cells[0].source and f"notebooks/{path.name}" in nb.cells[0].source
    assert "os.environ.get(\"TFGAN_NB_" in code[0].source


def test_notebooks_are_what_the_build_script_writes():
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import build_notebooks
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    built = build_notebooks.build()
    assert sorted(built) == [p.name for p in NOTEBOOKS]
    for name, nb in built.items():
        assert nbformat.writes(nb) + "\n" == (NOTEBOOK_DIR / name).read_text(), \
            f"{name} differs from notebooks/build_notebooks.py: edit the script and run it"


# The CycleGAN notebook runs on its default dataset (mocked tfds) below; the zoo also trains
# CycleGAN on demo-unpaired, so a second run of it here would only cost CI time.
@pytest.mark.slow
@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem != MOCKED_TFDS_NOTEBOOK], ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, kernel_spec_dir):
    setup = None
    if path.stem == "pix2pix":
        setup = FAKE_FACADES_DOWNLOAD.format(archive=str(facades_archive(tmp_path / "archive")))
    nb = execute(path, tmp_path, kernel_spec_dir, PER_NOTEBOOK[path.stem], setup=setup)
    assert images_shown(nb) >= 4, "the sample grids and comparisons should be shown inline"
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / "config.json").exists()]
    assert runs, "no run folder was written"
    if path.stem == "pix2pix":  # facades was "downloaded", unpacked and trained labels -> photo
        assert [run.name for run in runs] == ["pix2pix_facades_BtoA_32px"]
        assert sorted(p.name for p in (tmp_path / "datasets" / "facades").iterdir()) == ["test", "train", "val"]
    for run in runs:
        assert (run / "export" / "export.json").exists(), f"{run.name} was not exported"
        if "stackgan" in run.name:  # draws from texts: nothing to translate
            assert (run / "text_encoder.json").exists()
            continue
        assert len(list((run / "translate" / "outputs").glob("*.png"))) == int(TINY["TFGAN_NB_NUM_EXAMPLES"])


MOCK_TFDS = """\
import tensorflow_datasets as tfds
_mock_tfds = tfds.testing.mock_data(num_examples=4, policy=tfds.testing.MockPolicy.USE_CODE)
_mock_tfds.__enter__()  # stays active for the whole kernel: random images instead of the download
"""


@pytest.mark.slow
def test_cyclegan_notebook_default_dataset_with_mocked_tfds(tmp_path, kernel_spec_dir):
    """The flagship's default path: tfds ``cycle_gan/horse2zebra``, here mocked (no network)."""
    path = NOTEBOOK_DIR / f"{MOCKED_TFDS_NOTEBOOK}.ipynb"
    nb = execute(path, tmp_path, kernel_spec_dir, {"TFGAN_NB_DATA_DIR": str(tmp_path / "tfds")}, setup=MOCK_TFDS)
    assert images_shown(nb) >= 4
    run = tmp_path / "runs" / "cyclegan_horse2zebra_32px"
    assert json.loads((run / "config.json").read_text())["family"] == "cyclegan"
    assert len(list((run / "translate" / "outputs").glob("*.png"))) == int(TINY["TFGAN_NB_NUM_EXAMPLES"])


# ---------------------------------------------------------------------------------------------
# The install cell's Colab branch, run in an in-process IPython shell with Colab simulated:
# a `google.colab` module, tfgan_translate not importable, and a `%pip` magic that records its
# argument and then makes the package importable (nothing is installed).
# ---------------------------------------------------------------------------------------------

def install_cell_with_parameters(notebook="translation_zoo"):
    nb = nbformat.read(NOTEBOOK_DIR / f"{notebook}.ipynb", as_version=4)
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    install = next(source for source in code if "%pip install" in source)
    return code[0], install


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """Run the parameters and install cells as in a fresh Colab runtime; returns ``run(env) -> (pip args, error)``."""
    import types
    import importlib.metadata

    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)  # Colab's /content, where uploaded files land
    monkeypatch.delenv("TFGAN_NB_PACKAGE_SOURCE", raising=False)  # only what a test sets
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setitem(sys.modules, "tfgan_translate", None)  # `import tfgan_translate` raises ImportError
    real_version = importlib.metadata.version
    shell = InteractiveShell.instance()
    installs = []

    def fake_pip(line):
        installs.append(line)
        sys.modules["tfgan_translate"] = tfgan_translate  # as if pip had installed it

    shell.register_magic_function(fake_pip, magic_kind="line", magic_name="pip")

    def run(env=None, tensorflow_version=None, gpu=False):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        if tensorflow_version is not None:
            monkeypatch.setattr(importlib.metadata, "version",
                                lambda name: tensorflow_version if name.startswith("tensorflow") else real_version(name))
        monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi" if gpu and name == "nvidia-smi" else None)
        parameters, install = install_cell_with_parameters()
        error = None
        for source in (parameters, install):
            result = shell.run_cell(source, silent=True)
            error = result.error_before_exec or result.error_in_exec
            if error:
                break
        return installs, error

    yield run
    InteractiveShell.clear_instance()


def test_colab_install_uses_an_uploaded_wheel_and_keeps_colabs_tensorflow(colab, tmp_path):
    wheel = tmp_path / "tfgan_translate-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    installs, error = colab()  # the test environment's TensorFlow is 2.21: no TensorFlow extra
    assert error is None, error
    assert installs == [f'install --quiet "{wheel}"']


def test_colab_install_from_a_git_url_brings_the_gpu_build_when_tensorflow_is_too_old(colab):
    installs, error = colab({"TFGAN_NB_PACKAGE_SOURCE": "https://github.com/someone/tfgan_translate"},
                            tensorflow_version="2.15.1", gpu=True)
    assert error is None, error
    assert installs == ['install --quiet "tfgan_translate[gpu] @ git+https://github.com/someone/tfgan_translate"']


def test_colab_install_with_nothing_to_install_from_says_what_to_do(colab):
    installs, error = colab()  # no wheel uploaded, REPO_URL still the placeholder
    assert installs == []
    assert isinstance(error, RuntimeError)
    assert "pip wheel --no-deps -w dist ." in str(error) and "PACKAGE_SOURCE" in str(error)


def test_colab_check_runs_cells_as_colab_and_names_the_cell_that_fails(tmp_path, monkeypatch, capsys):
    """``notebooks/colab_check.py`` (the release check with a real wheel install) runs cells with Colab simulated."""
    from IPython.core.interactiveshell import InteractiveShell

    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import colab_check
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    monkeypatch.setitem(sys.modules, "google.colab", None)  # restored (absent) after the test
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# title"),
                                         nbformat.v4.new_code_cell("import sys\nassert 'google.colab' in sys.modules"),
                                         nbformat.v4.new_code_cell("1 / 0")])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    try:
        assert colab_check.run_cells(path) == 1
        assert f"code cell 1 of {path} failed" in capsys.readouterr().err
        nb.cells.pop()
        nbformat.write(nb, path)
        assert colab_check.run_cells(path) == 0
    finally:
        InteractiveShell.clear_instance()
