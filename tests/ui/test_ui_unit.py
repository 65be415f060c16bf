"""Unit tests of the frontend's pure logic (normalization, differences,
ordering, filtering, export, colour scales), run with node's built-in test
runner after esbuild bundles them: ``cd frontend && npm test``; and the type
check of the whole frontend (``npm run typecheck``: esbuild does not check types)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

FRONTEND = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "frontend")


def require_node_modules(package: str) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if not os.path.isdir(os.path.join(FRONTEND, "node_modules", package)):
        pytest.skip("frontend dependencies not installed (cd frontend && npm ci)")


def test_frontend_logic_unit_tests():
    require_node_modules("esbuild")
    result = subprocess.run(["npm", "test", "--silent"], cwd=FRONTEND, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout


def test_frontend_typecheck():
    require_node_modules("typescript")
    result = subprocess.run(["npm", "run", "typecheck", "--silent"], cwd=FRONTEND, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "error TS" not in result.stdout
