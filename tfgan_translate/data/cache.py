"""Where the package keeps what it makes once and reuses: the offline demo datasets written to files
and converted FID weights."""

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$TFGAN_TRANSLATE_CACHE``, or ``~/.cache/tfgan_translate``."""
    return Path(os.environ.get("TFGAN_TRANSLATE_CACHE") or Path.home() / ".cache" / "tfgan_translate")
