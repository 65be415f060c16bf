"""One-line use of the hooks and the Confusion tab in training frameworks.

- :mod:`.lightning` (and :mod:`.pytorch_lightning`): ``ConfusionCallback``
  for PyTorch Lightning's ``Trainer``.
- :mod:`.transformers`: ``ConfusionCallback`` for the Hugging Face ``Trainer``.

Each imports its framework, so this package imports none; what the callbacks
share is :mod:`.session`. See ``docs/integrations.md``.
"""


def missing_framework(module: str, framework: str, pip_argument: str, error: ImportError) -> ImportError:
    """The ``ImportError`` a framework module raises when its framework is
    not installed: what ``module`` needs, why it failed, and the
    ``pip install`` argument that installs it (an extra of this package)."""
    return ImportError(f"{module} needs {framework}, which could not be imported ({error}): pip install {pip_argument}", name=error.name)
