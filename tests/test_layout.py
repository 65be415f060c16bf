"""The package's layout rules, checked on the code itself (every import
statement of every module, read with ``ast``), not on the documentation:
which side may import which (``docs/architecture.md``), the order of the
server's layers, and the public names that must not break."""
from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

from tests.support.python import run_python

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "tb_fmnist_plugin"

#: Each side, the sides it may import (besides itself), and third-party
#: packages it must never import.
SIDES: Dict[str, Tuple[Set[str], Set[str]]] = {
    "metrics": (set(), {"torch", "tensorboard"}),
    "example_stats": (set(), {"torch", "tensorboard"}),
    "format": (set(), {"torch"}),
    "summary": ({"format"}, {"torch"}),
    "server": ({"format", "metrics", "example_stats"}, {"torch", "torchvision", "lightning", "transformers"}),
    "hooks": ({"format", "metrics"}, set()),
    "fmnist": ({"hooks", "format", "metrics"}, set()),
    "integrations": ({"hooks"}, set()),
    "train": ({"fmnist"}, set()),
    "root": (set(), {"torch"}),  # __init__ and _moved: public names are imported lazily
}

#: The server's layers, top first: a module imports only modules of lower
#: layers (and ``diagnostics_reader``, ``record_reader`` build on ``reader``, ``reader`` on
#: ``provider_calls``), so a request's
#: path goes one way and the route families never depend on each other.
SERVER_LAYERS = (
    ("routes", {"plugin"}),
    ("views", {"views", "diagnostics_views", "record_views"}),
    ("HTTP", {"queries", "responses", "json_encoding"}),
    ("readers", {"reader", "diagnostics_reader", "record_reader", "provider_calls"}),
    ("building blocks", {"series", "record_series", "event_blobs", "caches", "limits"}),
)
#: Imports inside one layer, each a module building on its base.
SERVER_SAME_LAYER = {("diagnostics_reader", "reader"), ("record_reader", "reader"), ("reader", "provider_calls"),
                     ("responses", "json_encoding"), ("series", "caches"), ("record_series", "series"),
                     ("event_blobs", "caches")}


def module_files() -> Iterator[Tuple[str, Path]]:
    """``(dotted module name, path)`` of every module of the installed package."""
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(p for p in parts if p != "__init__"), path
    for path in sorted((ROOT / "hooks").rglob("*.py")):
        parts = ("tb_fmnist_plugin", "hooks", *path.relative_to(ROOT / "hooks").with_suffix("").parts)
        yield ".".join(p for p in parts if p != "__init__"), path


def imports_of(module: str, path: Path) -> Set[str]:
    """Every module ``module`` imports anywhere (functions included), as
    absolute dotted names; ``from x import y`` counts as ``x.y`` when ``y``
    is a module of the package, else as ``x``."""
    known = {name for name, _ in module_files()}
    is_package = path.name == "__init__.py"
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def side_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("_moved",):
        return "root"
    return parts[1]


def existing_modules() -> Set[str]:
    return {name for name, _ in module_files()}


def package_imports(module: str, path: Path) -> Set[str]:
    """The package's own modules ``module`` imports (not their names)."""
    known = existing_modules()
    return {m for m in imports_of(module, path) if m in known and m != module}


def test_every_module_belongs_to_a_known_side():
    unknown = {name for name, _ in module_files() if side_of(name) not in SIDES}
    assert not unknown, f"modules outside every side of docs/architecture.md: {sorted(unknown)}"


def test_imports_point_one_way():
    wrong = []
    for module, path in module_files():
        side = side_of(module)
        allowed, forbidden = SIDES[side]
        for target in package_imports(module, path):
            target_side = side_of(target)
            if target_side != side and target_side not in allowed:
                wrong.append(f"{module} ({side}) imports {target} ({target_side})")
        for name in imports_of(module, path):
            if name.split(".")[0] in forbidden:
                wrong.append(f"{module} ({side}) imports {name}")
    assert not wrong, "\n".join(sorted(wrong))


def test_integrations_use_only_the_public_hooks_api():
    reached = {
        f"{module} -> {target}"
        for module, path in module_files()
        if side_of(module) == "integrations"
        for target in package_imports(module, path)
        if side_of(target) == "hooks" and target != "tb_fmnist_plugin.hooks"
    }
    assert not reached, sorted(reached)


def test_server_layers_point_down():
    layer_of = {name: rank for rank, (_, names) in enumerate(SERVER_LAYERS) for name in names}
    server = {m: p for m, p in module_files() if side_of(m) == "server" and m != "tb_fmnist_plugin.server"}
    assert {m.rsplit(".", 1)[1] for m in server} == set(layer_of), "a server module is in no layer"
    wrong = []
    for module, path in server.items():
        name = module.rsplit(".", 1)[1]
        for target in package_imports(module, path):
            if side_of(target) != "server" or target == "tb_fmnist_plugin.server":
                continue
            other = target.rsplit(".", 1)[1]
            if layer_of[other] <= layer_of[name] and (name, other) not in SERVER_SAME_LAYER:
                wrong.append(f"{name} ({SERVER_LAYERS[layer_of[name]][0]}) imports {other} "
                             f"({SERVER_LAYERS[layer_of[other]][0]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_checker_sees_a_wrong_import(tmp_path):
    """The rules above fail on a violation (a server module importing the hooks)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from tb_fmnist_plugin.hooks import attach_hooks\nfrom . import views\n")
    found = imports_of("tb_fmnist_plugin.server.bad", bad)
    assert {"tb_fmnist_plugin.hooks", "tb_fmnist_plugin.server.views"} <= found
    assert side_of("tb_fmnist_plugin.hooks") not in SIDES["server"][0]


def test_loading_the_plugin_loads_neither_torch_nor_the_hooks():
    """What TensorBoard does: load the entry point's class."""
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        "(point,) = [e for e in entry_points(group='tensorboard_plugins') if e.name == 'tb_fmnist_confusion']\n"
        "print(point.value)\n"
        "point.load()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch' or m.startswith('tb_fmnist_plugin.hooks')))\n"
    )
    assert run_python(code).splitlines() == ["tb_fmnist_plugin.server.plugin:ConfusionLoader", "[]"]


@pytest.mark.parametrize("old, new", [
    ("tb_fmnist_plugin.plugin", "tb_fmnist_plugin.server.plugin"),
    ("tb_fmnist_plugin.metadata", "tb_fmnist_plugin.format.metadata"),
    ("tb_fmnist_plugin.diagnostics_summary", "tb_fmnist_plugin.format.diagnostics_writers"),
    ("tb_fmnist_plugin.reader", "tb_fmnist_plugin.server.reader"),
])
def test_old_module_paths_still_import_with_a_deprecation_warning(old, new):
    code = (
        "import importlib, sys, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        "print(old is new, new.__name__, new.__spec__.name)\n"
        "print([str(w.message) for w in caught if w.category is DeprecationWarning and 'moved to' in str(w.message)])\n"
    )
    same, messages = run_python(code).splitlines()
    assert same == f"True {new} {new}"
    assert messages == repr([f"{old} moved to {new} in tb-fmnist-plugin 0.2; import it from there "
                             "(the old name keeps working for now)"])


def test_old_entry_point_string_still_loads_the_plugin():
    """An install made before 0.2 keeps ``tb_fmnist_plugin.plugin:ConfusionLoader``
    until it is redone; that still resolves to the plugin class."""
    from importlib.metadata import EntryPoint

    from tb_fmnist_plugin.server.plugin import ConfusionLoader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = EntryPoint("tb_fmnist_confusion", "tb_fmnist_plugin.plugin:ConfusionLoader", "tensorboard_plugins").load()
    assert loaded is ConfusionLoader


def test_summary_re_exports_every_public_writer():
    from tb_fmnist_plugin import summary
    from tb_fmnist_plugin.format import diagnostics_writers, writers

    public = {
        name
        for module in (writers, diagnostics_writers)
        for name, value in vars(module).items()
        if (name.startswith("write_") or name.endswith("_pb")) and getattr(value, "__module__", None) == module.__name__
    }
    assert public and public <= set(summary.__all__)
    for name in public:
        assert getattr(summary, name) is getattr(writers, name, None) or getattr(summary, name) is getattr(
            diagnostics_writers, name
        )
