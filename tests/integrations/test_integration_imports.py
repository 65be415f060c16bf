"""What the integrations take from the hooks' public API, and the error a
framework module gives when its framework is not installed (checked in a
subprocess where the framework's import is blocked: nothing is uninstalled)."""
from __future__ import annotations

import pytest

from tb_fmnist_plugin.hooks import HookOptions
from tb_fmnist_plugin.integrations.session import RESERVED_OPTIONS, check_options
from tests.support.python import run_python

#: Module -> (the imports blocked, what the message must say).
MISSING = {
    "lightning": (("lightning",), 'pip install "tb-fmnist-plugin[lightning]"'),
    "pytorch_lightning": (("pytorch_lightning",), 'pip install "tb-fmnist-plugin[lightning]"'),
    "transformers": (("transformers",), 'pip install "tb-fmnist-plugin[transformers]"'),
}


@pytest.mark.parametrize("name", sorted(MISSING))
def test_a_missing_framework_is_an_import_error_naming_the_extra(name):
    blocked, expected = MISSING[name]
    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # import name raises ImportError, as when it is not installed\n"
        "try:\n"
        f"    import tb_fmnist_plugin.integrations.{name}\n"
        "except ImportError as error:\n"
        "    print(error)\n"
        "else:\n"
        "    print('imported')\n"
    )
    message = run_python(code)
    assert message.startswith(f"tb_fmnist_plugin.integrations.{name} needs "), message
    assert expected in message, message


def test_callback_options_are_the_hook_options():
    allowed = [name for name in HookOptions.option_names() if name not in RESERVED_OPTIONS] + ["grad_scaler"]
    assert check_options({name: None for name in allowed}) == {name: None for name in allowed}
    for name in ("histogram_bin", "writer", "optimizer", "example_input", "options", *RESERVED_OPTIONS):
        with pytest.raises(TypeError, match=f"unknown attach_hooks option\\(s\\) \\['{name}'\\]"):
            check_options({name: 1})


def test_integrations_use_only_the_hooks_public_api():
    import ast
    import glob
    import os

    import tb_fmnist_plugin.hooks as hooks
    import tb_fmnist_plugin.integrations as integrations

    for path in glob.glob(os.path.join(os.path.dirname(integrations.__file__), "*.py")):
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        assert "_getframe" not in source and "f_locals" not in source, path
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tb_fmnist_plugin.hooks"):
                assert node.module == "tb_fmnist_plugin.hooks", (path, node.module)
                assert {alias.name for alias in node.names} <= set(hooks.__all__), path
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("tb_fmnist_plugin.hooks.") for alias in node.names), path


def test_docs_list_the_callback_options():
    import os
    import re

    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "integrations.md")
    with open(path, encoding="utf-8") as handle:
        row = next(line for line in handle if line.startswith("| `**hook_options` |"))
    listed = re.findall(r"`(\w+)`", row.split("option_names()`):")[1].split("Unknown names")[0])
    assert listed == [name for name in HookOptions.option_names() if name not in ("class_names", "eval_name", "log_every")] + [
        "grad_scaler"
    ]
