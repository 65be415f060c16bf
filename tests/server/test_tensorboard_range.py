"""The oldest TensorBoard that ``setup.py`` allows installs and runs: in an
isolated virtual environment, the declared floor with what pip resolves
beside it today (the newest setuptools, numpy and protobuf), and the plugin
built from this source without its training-side dependencies (the server
needs no torch), serves every route as the newest TensorBoard of the main
environment does, under both loaders.

TensorBoard 2.14 to 2.20 import ``pkg_resources``, which setuptools 81 and
later no longer ship, and 2.14 to 2.16 use ``np.string_``, gone in numpy 2:
no requirement marker can tie setuptools or numpy to the TensorBoard version
pip picks, so the floor is the first release that starts without them.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import tensorboard
from packaging.version import Version
from torch.utils.tensorboard import SummaryWriter

from tests.support import route_answers
from tests.support.python import ROOT
from tests.support.tensorboard_server import tensorboard_server

pytestmark = pytest.mark.subprocess

MODES = [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")]
#: What the plugin's wheel is built from (the rest of the repository is not installed).
SOURCES = ("setup.py", "README.md", "tb_fmnist_plugin", "hooks")


def declared_floor() -> str:
    """The lowest TensorBoard version ``setup.py``'s ``install_requires`` allows."""
    match = re.search(r'"tensorboard>=([0-9.]+)', (ROOT / "setup.py").read_text(encoding="utf-8"))
    assert match, "setup.py must declare tensorboard>=X"
    return match.group(1)


def pip(python: Path, *args: str, cwd: Path) -> None:
    """``python -m pip install args`` (pip's configuration and cache as for any install here)."""
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args], capture_output=True,
                            text=True, timeout=600, cwd=cwd)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def floor_env(tmp_path_factory) -> Iterator[Path]:
    """A fresh venv (no system site-packages) holding the declared floor of
    TensorBoard, the newest setuptools, numpy and protobuf pip resolves
    beside it, and the plugin's wheel built from this source (no torch);
    removed afterwards (~180 MB)."""
    root = tmp_path_factory.mktemp("tb_floor")
    try:
        yield _make_floor_env(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _make_floor_env(root: Path) -> Path:
    """Build the venv of :func:`floor_env` under ``root``; its path."""
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True, timeout=300)
    python = root / "venv" / "bin" / "python"
    # --upgrade: the venv's bundled setuptools (which still has pkg_resources) would otherwise satisfy >=41
    pip(python, "--upgrade", f"tensorboard=={declared_floor()}", "setuptools", "numpy", "protobuf", cwd=root)
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    pip(python, "--no-deps", "--no-build-isolation", str(source), cwd=root)
    return root / "venv"


def environment_facts(venv: Path) -> dict:
    """Versions and importable modules in ``venv``, seen from outside the repository."""
    code = (
        "import importlib.util as u, json, numpy, google.protobuf as p, setuptools, tensorboard, tb_fmnist_plugin as t\n"
        "print(json.dumps(dict(tensorboard=tensorboard.__version__, numpy=numpy.__version__,"
        " protobuf=p.__version__, setuptools=setuptools.__version__, plugin=t.__file__,"
        " pkg_resources=u.find_spec('pkg_resources') is not None, torch=u.find_spec('torch') is not None)))"
    )
    result = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=venv)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("range_logdir")
    route_answers.write_logdir(str(root), SummaryWriter)
    return str(root)


def test_floor_installs_beside_current_setuptools_and_numpy(floor_env):
    facts = environment_facts(floor_env)
    assert Version(facts["tensorboard"]) == Version(declared_floor()), facts
    assert facts["plugin"].startswith(str(floor_env)), facts  # the installed wheel, not this checkout
    assert not facts["torch"], "the server side must install and run without torch"
    # What made 2.14 to 2.20 fail: no pkg_resources (setuptools >= 81), numpy 2.
    assert not facts["pkg_resources"] and int(facts["numpy"].split(".")[0]) >= 2, facts


@pytest.mark.parametrize("load_fast", MODES)
def test_floor_answers_every_route_as_the_newest(floor_env, logdir, load_fast, tmp_path):
    urls = route_answers.route_urls()
    with tensorboard_server(logdir, load_fast, tmp_dir=str(tmp_path)) as newest:
        route_answers.wait_for_listing(newest)
        expected = route_answers.answers(newest, urls)
    route_answers.check_served(expected)
    command = [str(floor_env / "bin" / "tensorboard")]
    with tensorboard_server(logdir, load_fast, tmp_dir=str(tmp_path), command=command) as floor:
        route_answers.wait_for_listing(floor)
        actual = route_answers.answers(floor, urls)
        log = floor.log()
    different = route_answers.differences(expected, actual)
    assert not different, f"TensorBoard {declared_floor()} vs {tensorboard.__version__}:\n" + "\n".join(different[:10])
    assert "Traceback" not in log, log[-3000:]
