"""Running a snippet in a fresh interpreter: for what only a new process can
show (which modules an import loads, an import error when a package is
missing)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, timeout: float = 300) -> str:
    """``code``'s standard output (stripped), run by this Python from the
    repository root; fails the test, with its standard error, unless it exits 0."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
