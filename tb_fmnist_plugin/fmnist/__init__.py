"""The Fashion-MNIST training job behind ``tb-fmnist-train``.

Read from the command down; each module imports only those below it:

- :mod:`~tb_fmnist_plugin.fmnist.cli`: the command line, exit codes, ``main``.
- :mod:`~tb_fmnist_plugin.fmnist.loop`: one run: device and processes, the
  training and evaluation loops, logging through
  :func:`tb_fmnist_plugin.hooks.attach_hooks`.
- :mod:`~tb_fmnist_plugin.fmnist.evaluation`: what is evaluated each epoch
  (the test set, with ``--label-noise``; the training subset,
  ``--train-eval-size``) and the evaluation loop.
- :mod:`~tb_fmnist_plugin.fmnist.hparams`: the run's HParams summaries.
- :mod:`~tb_fmnist_plugin.fmnist.data`: real Fashion-MNIST, the choice of
  dataset, and the batch loaders.
- :mod:`~tb_fmnist_plugin.fmnist.synthetic`: the offline synthetic dataset,
  drawn by :mod:`~tb_fmnist_plugin.fmnist.drawing`.
- :mod:`~tb_fmnist_plugin.fmnist.models`: the reference CNN.

This file holds only what every layer of the command shares: its name and
the error type for problems the user can fix.
"""

__all__ = ["PROG", "UsageError"]

#: The command's name, as typed and as it prefixes its messages.
PROG = "tb-fmnist-train"


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""
