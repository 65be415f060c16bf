"""The public write API: every ``write_*`` function and ``*_pb`` builder of the
format, in one place (as ``tensorboard.summary.v2`` gathers TensorBoard's).

Typical use with a :class:`torch.utils.tensorboard.SummaryWriter`::

    from tb_fmnist_plugin import summary
    summary.write_confusion_matrix(writer, "confusion/test", counts, epoch, class_names=names)

Every ``write_*`` takes ``(writer, tag, data, step)`` positionally, in
TensorBoard's order, and everything else by keyword. ``*_pb`` functions take
``(tag, data)`` and return the ``Summary`` proto without writing, for code that
owns its own writer. Calls in the older argument orders still work, with a
``DeprecationWarning`` (:mod:`tb_fmnist_plugin.format.call_order`). The
implementations live in :mod:`tb_fmnist_plugin.format` (``writers``,
``diagnostics_writers`` and ``record_writers``); the stored layout is specified in ``docs/format.md``.
"""
from tb_fmnist_plugin.format.diagnostics_writers import (
    DEFAULT_SUSPECTS_MAX_BYTES,
    calibration_pb,
    class_calibration_pb,
    label_issues_pb,
    suspects_pb,
    write_calibration,
    write_class_calibration,
    write_label_issues,
    write_suspects,
)
from tb_fmnist_plugin.format.record_writers import (
    DEFAULT_THUMBNAILS_MAX_BYTES,
    example_ids_pb,
    example_predictions_pb,
    example_thumbnails_pb,
    write_example_ids,
    write_example_predictions,
    write_example_thumbnails,
)
from tb_fmnist_plugin.format.writers import (
    DEFAULT_EXAMPLES_MAX_BYTES,
    DEFAULT_EXAMPLES_PER_CELL,
    cell_examples_pb,
    confusion_matrix_pb,
    excluded_rows_pb,
    write_cell_examples,
    write_confusion_matrix,
    write_excluded_rows,
)

__all__ = [
    "DEFAULT_EXAMPLES_MAX_BYTES",
    "DEFAULT_EXAMPLES_PER_CELL",
    "DEFAULT_SUSPECTS_MAX_BYTES",
    "DEFAULT_THUMBNAILS_MAX_BYTES",
    "calibration_pb",
    "cell_examples_pb",
    "class_calibration_pb",
    "confusion_matrix_pb",
    "example_ids_pb",
    "example_predictions_pb",
    "example_thumbnails_pb",
    "excluded_rows_pb",
    "label_issues_pb",
    "suspects_pb",
    "write_calibration",
    "write_cell_examples",
    "write_class_calibration",
    "write_confusion_matrix",
    "write_example_ids",
    "write_example_predictions",
    "write_example_thumbnails",
    "write_excluded_rows",
    "write_label_issues",
    "write_suspects",
]
