"""Writes ``data/logdir-v0.1`` with release 0.1's write API. Kept to show how
the committed files were made; it runs only on 0.1's code::

    git worktree add /tmp/v01 2aaf69d
    cd /tmp && PYTHONPATH=/tmp/v01:/path/to/this/checkout python /path/to/this/checkout/tests/format/write_v0_1_logdir.py

(``tests/format/test_old_logdirs.py`` reads the files with today's plugin.)
"""
from __future__ import annotations

import os
import shutil

from torch.utils.tensorboard import SummaryWriter

import tb_fmnist_plugin
from tb_fmnist_plugin import diagnostics_summary, summary  # 0.1's module paths
from tests.format import v0_1_data as data

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "logdir-v0.1")


def main() -> None:
    assert tb_fmnist_plugin.__version__ == "0.1.0", "run this on release 0.1's code (see the docstring)"
    shutil.rmtree(OUT, ignore_errors=True)
    writer = SummaryWriter(os.path.join(OUT, data.RUN), filename_suffix=".v0.1")
    for step in data.STEPS:
        summary.write_confusion_matrix(writer, data.TAG, data.matrix_at(step), step, class_names=data.NAMES,
                                       walltime=100.0 + step)
        summary.write_excluded_rows(writer, data.TAG, step, step, walltime=100.0 + step)
    step = data.DIAGNOSTICS_STEP
    summary.write_cell_examples(writer, data.TAG, step, class_names=data.NAMES, walltime=101.0, **data.examples())
    diagnostics_summary.write_calibration(writer, data.TAG, step, class_names=data.NAMES, walltime=101.0,
                                          **data.calibration())
    diagnostics_summary.write_label_issues(writer, data.TAG, step, class_names=data.NAMES, walltime=101.0,
                                           **data.label_issues())
    values = data.suspects()
    images = values.pop("images")
    diagnostics_summary.write_suspects(writer, data.TAG, step, images, values.pop("given"), values.pop("suggested"),
                                       values.pop("self_confidence"), values.pop("confidence"),
                                       values.pop("dataset_indices"), class_names=data.NAMES, walltime=101.0,
                                       **values)
    writer.close()


if __name__ == "__main__":
    main()
