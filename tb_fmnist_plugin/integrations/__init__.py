"""One-line use of the hooks and the Confusion tab in training frameworks.

- :mod:`.lightning` (and :mod:`.pytorch_lightning`): ``ConfusionCallback``
  for PyTorch Lightning's ``Trainer``.
- :mod:`.transformers`: ``ConfusionCallback`` for the Hugging Face ``Trainer``.

Each imports its framework, so this package imports none; what the callbacks
share is :mod:`.session`. See ``docs/integrations.md``.
"""
