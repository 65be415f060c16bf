"""``python -m tb_fmnist_plugin.train``: kept entry point of ``tb-fmnist-train``.

The training job lives in :mod:`tb_fmnist_plugin.fmnist` (command line:
:mod:`tb_fmnist_plugin.fmnist.cli`). This module only runs that command, so
the documented ``python -m tb_fmnist_plugin.train`` and
``torchrun -m tb_fmnist_plugin.train`` keep working.
"""
import sys

from tb_fmnist_plugin.fmnist.cli import main

if __name__ == "__main__":
    sys.exit(main())
