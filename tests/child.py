"""A fresh Python process running griddiag from this checkout: for what one process cannot
show (imports at start-up, numba's cache on disk, environment switches read at import)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_python(code: str, *args: str, timeout: float | None = None, **env: str) -> str:
    """stdout of ``python -c code *args`` with ``env`` added to this environment; fails the
    test, with the child's stderr, when it exits non-zero."""
    full = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **env}
    out = subprocess.run([sys.executable, "-c", code, *args], env=full, capture_output=True,
                         text=True, check=False, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return out.stdout
