"""Unit tests of the frontend's pure logic (normalization, differences,
ordering, filtering, export, colour scales), run with node's built-in test
runner after esbuild bundles them: ``cd frontend && npm test``."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

FRONTEND = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "frontend")


def test_frontend_logic_unit_tests():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if not os.path.isdir(os.path.join(FRONTEND, "node_modules", "esbuild")):
        pytest.skip("frontend dependencies not installed (cd frontend && npm ci)")
    result = subprocess.run(["npm", "test", "--silent"], cwd=FRONTEND, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
