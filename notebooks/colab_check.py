"""Run a notebook the way Colab would, on this machine: a release check, too slow for CI (minutes of installs).

What it checks that ``tests/test_notebooks.py`` cannot: the install cell's real ``%pip install`` of a
**built wheel** (not the editable checkout) into a Python that has only TensorFlow and IPython, as a
Colab runtime has, and then every cell on the installed package (package data, imports, entry points).

Steps: build the wheel (``pip wheel --no-deps``), make a scratch venv with ``tensorflow-cpu`` and
``ipython``, put the wheel in a scratch ``content/`` folder (Colab's ``/content``), then execute each
code cell in an IPython shell with a stand-in ``google.colab`` module and the ``TFGAN_NB_*`` parameters
small (``TFGAN_NB_*`` variables you set win). Exits non-zero, naming the cell, when one fails.

    python notebooks/colab_check.py notebooks/translation_zoo.ipynb --work /tmp/colab-check
    TFGAN_NB_DATASET=demo-unpaired python notebooks/colab_check.py notebooks/cyclegan_horse2zebra.ipynb --work /tmp/colab-check
"""

import argparse
import json
import os
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = {"TFGAN_NB_IMAGE_SIZE": "32", "TFGAN_NB_FILTERS": "8", "TFGAN_NB_BLOCKS": "2", "TFGAN_NB_BATCH_SIZE": "2",
        "TFGAN_NB_STEPS": "6", "TFGAN_NB_RESUME_STEPS": "4", "TFGAN_NB_NUM_EXAMPLES": "3", "TFGAN_NB_FID": "0"}
TENSORFLOW = "tensorflow-cpu==2.21.*"  # Colab preinstalls a Keras 3 TensorFlow; the install cell keeps it


def run_cells(notebook):
    """Inside the scratch venv: execute every code cell as Colab would. Returns the exit code."""
    sys.modules["google.colab"] = types.ModuleType("google.colab")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cells = [cell for cell in json.loads(Path(notebook).read_text())["cells"] if cell["cell_type"] == "code"]
    for index, cell in enumerate(cells):
        if not shell.run_cell("".join(cell["source"])).success:
            print(f"colab_check: code cell {index} of {notebook} failed (traceback above)", file=sys.stderr)
            return 1
    print(f"colab_check: all {len(cells)} code cells of {notebook} ran")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (venv, wheel, Colab's content/)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        return run_cells(args.notebook)

    notebook = args.notebook.resolve()
    venv, content = args.work / "venv", args.work / "content"
    content.mkdir(parents=True, exist_ok=True)
    for stale in content.glob("tfgan_translate-*.whl"):
        stale.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(content), str(ROOT)],
                   check=True)
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", TENSORFLOW, "ipython"], check=True)
    else:  # a fresh runtime: the install cell installs the wheel just built
        subprocess.run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "tfgan_translate"], check=True)
    env = {**TINY, **os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}  # TFGAN_NB_* set by the caller win
    env.pop("PYTHONPATH", None)  # the notebook must use the wheel it installs, not this checkout
    return subprocess.run([str(python), str(Path(__file__).resolve()), str(notebook), "--work", str(args.work),
                           "--inside"], cwd=content, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
