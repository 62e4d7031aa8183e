"""Lines that C libraries write straight to the process's stderr, held back where we say it better.

TensorFlow prints start-up notices (oneDNN, the CPU feature guard) before any log level
applies, and libjpeg prints "Premature end of JPEG file" for every damaged JPEG (with
TensorFlow's error-level log line about it), whatever ``TF_CPP_MIN_LOG_LEVEL`` says. Around the few places that trigger them (importing TensorFlow
in the CLI, checking image files once before a pipeline uses them), file descriptor 2 is
captured and every line but the expected ones is passed on; the damaged files are then named
by our own one-line warnings.
"""

import contextlib
import os
import re
import sys
import tempfile

TENSORFLOW_START_UP = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} .*\b(port|cpu_feature_guard)\.cc)")
LIBJPEG_WARNINGS = re.compile(r"^(Premature end of JPEG file|Corrupt JPEG data|Invalid SOS parameters|"
                              r"Unsupported marker type|Warning: unknown JFIF revision|"
                              r"[EW]\d{4} .*\bjpeg_mem\.cc)")  # and TensorFlow's log line for the same file


@contextlib.contextmanager
def held_back(pattern):
    """Run the block with the process's stderr captured; then print the lines not matching ``pattern``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to hold back
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not pattern.match(line):
                    print(line, file=sys.stderr)
