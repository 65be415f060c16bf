"""The write side of issue 10: counts the format cannot hold exactly are
refused (case 4), and one failed write never hides a series (case 6). Read
back through TensorBoard's real Python data provider."""
from __future__ import annotations

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tests.support.plugin_app import CTX, load_provider


def listed_steps(logdir: str, run: str = "run"):
    """``{tag: [steps]}`` of the matrix series TensorBoard lists with this
    plugin's metadata (a value without metadata is not part of any)."""
    provider = load_provider(logdir)
    listing = provider.list_tensors(CTX, experiment_id="", plugin_name=metadata.PLUGIN_NAME).get(run, {})
    data = provider.read_tensors(CTX, experiment_id="", plugin_name=metadata.PLUGIN_NAME, downsample=1000)
    return {tag: [d.step for d in data[run][tag]] for tag in listing}


@pytest.mark.parametrize(
    "matrix,message",
    [
        (np.array([[1, 2**63 + 5], [0, 1]], dtype=np.uint64), "above 2\\*\\*63 - 1"),  # was stored as 5
        (np.array([[2**62, 2**62], [0, 1]], dtype=np.int64), "sum to more than 2\\*\\*63 - 1"),
        (np.array([[2.0**61, 2.0**61], [2.0**61, 2.0**61]]), "sum to more than"),
    ],
)
def test_counts_the_format_cannot_hold_exactly_are_refused(tmp_path, matrix, message):
    writer = SummaryWriter(str(tmp_path / "run"))
    with pytest.raises(ValueError, match=f"cannot be stored exactly: .*{message}"):
        summary.write_confusion_matrix(writer, "m", matrix, 0)
    summary.write_confusion_matrix(writer, "m", np.array([[2**62, 1], [0, 1]], dtype=np.uint64), 1)  # fits
    writer.close()
    assert listed_steps(str(tmp_path)) == {"m": [1]}


@pytest.mark.parametrize(
    "step,walltime,error",
    [(0, "now", TypeError), (2**70, None, ValueError), (0, float("nan"), ValueError), (True, None, TypeError)],
)
def test_bad_step_or_walltime_is_refused_before_anything_is_written(tmp_path, step, walltime, error):
    """Case 6: before, the metadata was marked written and the failing write
    raised afterwards, so the series never appeared."""
    writer = SummaryWriter(str(tmp_path / "run"))
    with pytest.raises(error, match="step|walltime"):
        summary.write_confusion_matrix(writer, "m", np.eye(2, dtype=int), step, walltime=walltime)
    with pytest.raises(error, match="step|walltime"):
        summary.write_cell_examples(writer, "m", np.zeros((1, 4, 4)), step, true_labels=[0], predicted_labels=[1], confidences=[0.5], num_classes=2,
                                    walltime=walltime)
    summary.write_confusion_matrix(writer, "m", np.eye(2, dtype=int), 3, walltime=1e9)
    writer.close()
    assert listed_steps(str(tmp_path)) == {"m": [3]}


class FailingOnce:
    """A real torch file writer whose first ``add_summary`` fails (a full
    disk, a closed file): the fault, not a stand-in for the writer."""

    def __init__(self, writer: SummaryWriter) -> None:
        self.file_writer = writer._get_file_writer()
        self.failures = 1

    def add_summary(self, proto, step, walltime=None) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        self.file_writer.add_summary(proto, step, walltime)


def test_metadata_counts_as_written_only_after_a_successful_write(tmp_path):
    writer = SummaryWriter(str(tmp_path / "run"))
    failing = FailingOnce(writer)
    with pytest.raises(OSError):
        summary.write_confusion_matrix(failing, "m", np.eye(2, dtype=int), 0)
    summary.write_confusion_matrix(failing, "m", np.eye(2, dtype=int), 1)  # must carry the metadata
    summary.write_confusion_matrix(failing, "m", np.eye(2, dtype=int), 2)
    writer.close()
    assert listed_steps(str(tmp_path)) == {"m": [1, 2]}
