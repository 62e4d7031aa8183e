"""``python -m tfgan_translate ...`` is the ``tfgan-translate`` command."""

import sys

from .app.cli import main

sys.exit(main())
