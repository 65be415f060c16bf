"""The write API's one argument order ``(writer, tag, data, step, *, ...)``,
the old orders still accepted with a ``DeprecationWarning`` (same bytes
written), and the single owners of the format's shared pieces: the
``SummaryWriter`` file writer, the reliability-bin fields and the thumbnail
index encoding."""
from __future__ import annotations

import inspect
import pathlib
import warnings

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing import event_file_loader
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.format.events import file_writer_of
from tb_fmnist_plugin.hooks import calibration
from tb_fmnist_plugin.hooks.output import StepWriter

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAMES = ["a", "b", "c"]
WRITERS = {
    "write_confusion_matrix": "matrix",
    "write_excluded_rows": "count",
    "write_cell_examples": "images",
    "write_calibration": "bins",
    "write_class_calibration": "classwise",
    "write_label_issues": "confident_joint",
    "write_suspects": "images",
}
BUILDERS = {
    "confusion_matrix_pb": "matrix",
    "excluded_rows_pb": "count",
    "cell_examples_pb": "images",
    "calibration_pb": "bins",
    "class_calibration_pb": "classwise",
    "label_issues_pb": "confident_joint",
    "suspects_pb": "images",
}


class RecordingWriter:
    """A writer with only ``add_summary``: records each event's bytes."""

    def __init__(self) -> None:
        self.events = []

    def add_summary(self, proto, step, walltime=None) -> None:
        self.events.append((proto.SerializeToString(), step, walltime))


def _examples():
    rng = np.random.default_rng(0)
    return dict(
        images=rng.random((6, 1, 8, 8)).astype(np.float32),
        true=np.array([0, 0, 1, 2, 2, 1]),
        predicted=np.array([0, 1, 1, 2, 0, 1]),
        confidence=rng.random(6),
        index=np.arange(6) + 100,
    )


def _suspects():
    e = _examples()
    return dict(images=e["images"][:3], given=[0, 1, 2], suggested=[1, 2, 0], self_confidence=[0.01, 0.02, 0.03],
                confidence=[0.9, 0.8, 0.7], index=[5, 6, 7])


def _calibration():
    bins = np.zeros((3, 4, 3))
    bins[:, 3] = [4, 3.2, 3]
    return dict(bins=bins, cell_confidence=np.eye(3) * 0.8, class_loss=np.array([0.1, 0.2, np.nan]))


def _same_calls():
    """(name, old-order call, new-order call) of every write function: each
    takes a writer and writes at step 3 with walltime 5.0."""
    e, s, c = _examples(), _suspects(), _calibration()
    joint, counts = np.eye(3, dtype=int) * 4, np.ones((3, 3), dtype=int)
    suspect_options = dict(class_names=NAMES, total=4, thresholds=[0.5, 0.5, 0.5])
    return [
        ("write_confusion_matrix",
         lambda w: summary.write_confusion_matrix(w, "m", joint, 3, NAMES, 5.0, "counts"),
         lambda w: summary.write_confusion_matrix(w, "m", joint, 3, class_names=NAMES, walltime=5.0, description="counts")),
        ("write_excluded_rows",
         lambda w: summary.write_excluded_rows(w, "m", 7, 3, 5.0),
         lambda w: summary.write_excluded_rows(w, "m", 7, 3, walltime=5.0)),
        ("write_cell_examples",
         lambda w: summary.write_cell_examples(w, "m", 3, e["images"], e["true"], e["predicted"], e["confidence"],
                                               e["index"], class_names=NAMES, walltime=5.0),
         lambda w: summary.write_cell_examples(w, "m", e["images"], 3, true_labels=e["true"], predicted_labels=e["predicted"],
                                               confidences=e["confidence"], dataset_indices=e["index"], class_names=NAMES,
                                               walltime=5.0)),
        ("write_cell_examples",  # the old order with the images by keyword
         lambda w: summary.write_cell_examples(w, "m", 3, images=e["images"], true_labels=e["true"],
                                               predicted_labels=e["predicted"], confidences=e["confidence"], num_classes=3,
                                               walltime=5.0),
         lambda w: summary.write_cell_examples(w, "m", e["images"], 3, true_labels=e["true"], predicted_labels=e["predicted"],
                                               confidences=e["confidence"], num_classes=3, walltime=5.0)),
        ("write_calibration",
         lambda w: summary.write_calibration(w, "m", 3, bins=c["bins"], cell_confidence=c["cell_confidence"],
                                             class_loss=c["class_loss"], class_names=NAMES, walltime=5.0),
         lambda w: summary.write_calibration(w, "m", c["bins"], 3, cell_confidence=c["cell_confidence"],
                                             class_loss=c["class_loss"], class_names=NAMES, walltime=5.0)),
        ("write_label_issues",
         lambda w: summary.write_label_issues(w, "m", 3, confident_joint=joint, suspect_counts=counts, class_names=NAMES,
                                              walltime=5.0),
         lambda w: summary.write_label_issues(w, "m", joint, 3, suspect_counts=counts, class_names=NAMES, walltime=5.0)),
        ("write_suspects",
         lambda w: summary.write_suspects(w, "m", 3, s["images"], s["given"], s["suggested"], s["self_confidence"],
                                          s["confidence"], s["index"], walltime=5.0, **suspect_options),
         lambda w: summary.write_suspects(w, "m", s["images"], 3, given=s["given"], suggested=s["suggested"],
                                          self_confidence=s["self_confidence"], confidence=s["confidence"],
                                          dataset_indices=s["index"], walltime=5.0, **suspect_options)),
        ("write_suspects",  # without thumbnails
         lambda w: summary.write_suspects(w, "m", 3, None, s["given"], s["suggested"], s["self_confidence"],
                                          s["confidence"], walltime=5.0, **suspect_options),
         lambda w: summary.write_suspects(w, "m", None, 3, given=s["given"], suggested=s["suggested"],
                                          self_confidence=s["self_confidence"], confidence=s["confidence"], walltime=5.0,
                                          **suspect_options)),
    ]


def _positional(function):
    return [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name,data", sorted(WRITERS.items()))
def test_every_write_function_takes_writer_tag_data_step_then_keywords(name, data):
    assert _positional(getattr(summary, name)) == ["writer", "tag", data, "step"]
    kinds = {p.kind for p in inspect.signature(getattr(summary, name)).parameters.values()}
    assert kinds <= {inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD}


@pytest.mark.parametrize("name,data", sorted(BUILDERS.items()))
def test_every_builder_takes_tag_data_then_keywords(name, data):
    assert _positional(getattr(summary, name)) == ["tag", data]


@pytest.mark.parametrize("name,old,new", _same_calls(), ids=[call[0] for call in _same_calls()])
def test_the_old_order_warns_and_writes_the_same_bytes(name, old, new):
    new_writer, old_writer = RecordingWriter(), RecordingWriter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new order never warns
        new(new_writer)
    with pytest.warns(DeprecationWarning, match=rf"{name}\(writer, tag, .*deprecated argument order") as caught:
        old(old_writer)
    assert [w.filename for w in caught] == [__file__]  # points at the caller
    assert "*, ...)" in str(caught[0].message)
    assert old_writer.events == new_writer.events and new_writer.events[0][1:] == (3, 5.0)


def test_old_order_with_options_positional_warns_and_builds_the_same_summaries():
    e, s = _examples(), _suspects()
    pairs = [
        (lambda: summary.confusion_matrix_pb("m", np.eye(3, dtype=int), NAMES, "d"),
         lambda: summary.confusion_matrix_pb("m", np.eye(3, dtype=int), class_names=NAMES, description="d")),
        (lambda: summary.excluded_rows_pb("m", 4, "d"), lambda: summary.excluded_rows_pb("m", 4, description="d")),
        (lambda: summary.cell_examples_pb("m", e["images"], e["true"], e["predicted"], e["confidence"], e["index"],
                                          num_classes=3),
         lambda: summary.cell_examples_pb("m", e["images"], true_labels=e["true"], predicted_labels=e["predicted"],
                                          confidences=e["confidence"], dataset_indices=e["index"], num_classes=3)),
        (lambda: summary.suspects_pb("m", None, s["given"], s["suggested"], s["self_confidence"], s["confidence"],
                                     class_names=NAMES, total=3, thresholds=[0.5] * 3),
         lambda: summary.suspects_pb("m", None, given=s["given"], suggested=s["suggested"],
                                     self_confidence=s["self_confidence"], confidence=s["confidence"], class_names=NAMES,
                                     total=3, thresholds=[0.5] * 3)),
    ]
    for old, new in pairs:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            expected = new().SerializeToString()
        with pytest.warns(DeprecationWarning, match="deprecated argument order"):
            assert old().SerializeToString() == expected


def test_keyword_calls_and_bad_positional_calls():
    writer = RecordingWriter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary.write_confusion_matrix(writer=writer, tag="m", matrix=np.eye(2, dtype=int), step=1)
        summary.write_calibration(writer, "m", step=2, class_names=NAMES, **_calibration())
    assert [event[1] for event in writer.events] == [1, 2]
    c = _calibration()
    with pytest.raises(TypeError, match="takes 4 positional arguments but 5"):
        summary.write_calibration(writer, "m", c["bins"], 3, c["cell_confidence"], class_loss=c["class_loss"],
                                  class_names=NAMES)
    with pytest.raises(TypeError, match="multiple values for argument 'step'"):
        summary.write_excluded_rows(writer, "m", 1, 2, 3.0, step=4)
    with pytest.raises(TypeError, match="step must be an integer"):  # a step the old order never took
        summary.write_cell_examples(writer, "m", _examples()["images"], 1.5, true_labels=[0] * 6,
                                    predicted_labels=[0] * 6, confidences=[1.0] * 6, num_classes=3)


# --- Single owners --------------------------------------------------------------


def _sources():
    for folder in ("tb_fmnist_plugin", "hooks"):
        yield from (ROOT / folder).rglob("*.py")


def test_only_the_format_reaches_into_the_summary_writers_file_writer():
    reaching = sorted(str(path.relative_to(ROOT)) for path in _sources() if "_get_file_writer" in path.read_text())
    assert reaching == ["tb_fmnist_plugin/format/events.py"]


def test_file_writer_of_and_the_hooks_batched_step(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    file_writer = file_writer_of(writer)
    assert callable(file_writer.add_summary)
    assert file_writer_of(RecordingWriter()) is None and file_writer_of(None) is None
    out = StepWriter(writer, 4)
    assert out.batched
    out.scalar("a", 1.0)
    out.scalar("b", 2.0)
    out.close()
    writer.close()
    [path] = pathlib.Path(tmp_path).glob("events.out.tfevents.*")
    events = [e for e in event_file_loader.EventFileLoader(str(path)).Load() if e.HasField("summary")]
    assert [(e.step, [v.tag for v in e.summary.value]) for e in events] == [(4, ["a", "b"])]  # one event


def test_bin_fields_are_defined_once_by_the_format():
    assert calibration.BIN_FIELDS is dm.BIN_FIELDS
    defining = [path for path in _sources() if "BIN_FIELDS = " in path.read_text()]
    assert [str(path.relative_to(ROOT)) for path in defining] == ["tb_fmnist_plugin/format/diagnostics_metadata.py"]
    acc = calibration.CalibrationAccumulator(bins=2)
    acc.add(torch.tensor([0, 1]), torch.tensor([0, 0]), torch.tensor([0.9, 0.2]), torch.zeros(2), num_classes=2)
    bins = acc.result().bins  # [C, B, fields]
    fields = dict(zip(dm.BIN_FIELDS, np.moveaxis(bins, -1, 0)))
    assert fields["count"].tolist() == [[0, 1], [1, 0]]
    assert fields["correct"].tolist() == [[0, 1], [0, 0]]
    np.testing.assert_allclose(fields["confidence_sum"], [[0, 0.9], [0.2, 0]], rtol=1e-6)


# Written by the encoders before they shared one implementation: old logdirs still read the same.
EXAMPLES_INDEX = (b'{"version":1,"tile_height":28,"tile_width":20,"channels":1,"columns":8,"bits":4,"true":[0,3],'
                  b'"predicted":[0,6],"confidence":[0.9931,0.3333],"index":[17,-1]}')
SUSPECTS_INDEX = (b'{"version":1,"tile_height":0,"tile_width":0,"channels":0,"columns":0,"bits":0,"given":[1,0],'
                  b'"suggested":[0,1],"self_confidence":[0.000123457,0.5],"confidence":[0.987654,0.25],"index":[40,7],'
                  b'"total":9,"thresholds":[0.8,0.666667],"inexact_rows":1}')


def test_thumbnail_indexes_keep_their_bytes_and_read_back():
    examples = metadata.encode_examples_index(
        tile_height=28, tile_width=20, channels=1, columns=8, bits=4, true_labels=np.array([0, 3]), predicted_labels=[0, 6],
        confidences=np.array([0.99314, 1 / 3], dtype=np.float32), dataset_indices=[17, -1])
    suspects = dm.encode_suspects_index(
        tile_height=0, tile_width=0, channels=0, columns=0, bits=0, given=[1, 0], suggested=[0, 1],
        self_confidence=[0.000123456789, 0.5], confidence=np.array([0.987654321, 0.25]), dataset_indices=np.array([40, 7]),
        total=9, thresholds=[0.8, 2 / 3], inexact_rows=1)
    assert examples == EXAMPLES_INDEX and suspects == SUSPECTS_INDEX
    assert metadata.decode_examples_index(EXAMPLES_INDEX, 7)["predicted"] == [0, 6]
    assert dm.decode_suspects_index(SUSPECTS_INDEX, 2)["thresholds"] == [0.8, 0.666667]
    with pytest.raises(ValueError, match="examples index: predicted holds an invalid entry"):
        metadata.decode_examples_index(EXAMPLES_INDEX, 6)
    with pytest.raises(ValueError, match="suspects index: total is not a valid integer"):
        dm.decode_suspects_index(SUSPECTS_INDEX.replace(b'"total":9', b'"total":-1'), 2)
    with pytest.raises(ValueError, match="suspects index lists more suspects than its total"):
        dm.decode_suspects_index(SUSPECTS_INDEX.replace(b'"total":9', b'"total":1'), 2)


def test_budget_warnings_point_at_the_caller_outside_the_format():
    images = np.random.default_rng(3).random((30, 3, 32, 32))  # noise: does not fit 4 KB
    labels = np.arange(30) % 3
    with pytest.warns(RuntimeWarning, match="call-order/examples keeps") as caught:
        summary.cell_examples_pb("call-order", images, true_labels=labels, predicted_labels=labels,
                                 confidences=np.ones(30), num_classes=3, max_bytes=4096)
    with pytest.warns(RuntimeWarning, match="call-order/suspects lists") as caught_too:
        summary.write_suspects(RecordingWriter(), "call-order", images, 0, given=labels, suggested=labels,
                               self_confidence=np.zeros(30), confidence=np.ones(30), class_names=NAMES, total=30,
                               thresholds=[0.5] * 3, max_bytes=4096)
    assert [w.filename for w in [*caught, *caught_too]] == [__file__, __file__]
