"""Make the README's pictures: each family's demo sample grid, as ``docs/demo_<family>.png``.

    python docs/make_pictures.py                 # every family with a demo (about 25 CPU minutes)
    python docs/make_pictures.py --family cut    # one family (repeatable)

Runs ``tfgan-translate demo`` for the families into ``--runs`` (default ``checkpoints/pictures``,
git-ignored; a finished run there is reused, not retrained) and copies each run's last sample
grid, which the training loop draws with the labelled grid helper (``tfgan_translate.grids``:
titled columns, tiles of at least 128 px), to ``docs/``. Not part of CI.
"""

import argparse
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent


def main(argv=None):
    from tfgan_translate.app.demo_run import demo_families, run_demo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="checkpoints/pictures", help="folder of the demo runs (default: %(default)s)")
    parser.add_argument("--family", action="append", choices=demo_families(), help="default: every family with a demo")
    args = parser.parse_args(argv)
    names = tuple(args.family or demo_families())
    report = run_demo(args.runs, names=names, progress=False)
    for name in names:
        target = DOCS / f"demo_{name}.png"
        shutil.copyfile(report[name]["samples"], target)
        print(f"{target.relative_to(DOCS.parent)} <- {report[name]['samples']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
