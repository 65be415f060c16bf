"""``python -m tb_fmnist_plugin.fmnist``: the same as ``tb-fmnist-train``."""
import sys

from tb_fmnist_plugin.fmnist.cli import main

if __name__ == "__main__":
    sys.exit(main())
