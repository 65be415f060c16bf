"""record() keeps batches pending and adds them together: the stored
examples, mistakes and suspects (with their thumbnails) and every count and
sum equal adding each batch at once, ties included."""
import numpy as np
import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks, deferred


def _data(rows=300, classes=10, seed=0):
    """Logits with many exact ties (repeated rows and rounded values), labels,
    images whose pixels name their row, dataset indices."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (rows,), generator=g)
    logits = torch.randn(rows, classes, generator=g).mul(2).round()  # few distinct rows: ties everywhere
    logits[torch.arange(rows)[::3], labels[::3]] += 3.0
    logits[40:80] = logits[0:40]  # identical rows, same labels: tied scores
    labels[40:80] = labels[0:40]
    images = (torch.arange(rows, dtype=torch.float32) % 251 / 125.0 - 1.0)[:, None, None, None].expand(rows, 1, 6, 6)
    images = images + torch.rand(rows, 1, 6, 6, generator=g) * 0.01
    return logits, labels, images, torch.arange(rows) + 1000


def _record(tmp_path, name, batch, data, **options):
    logits, labels, images, indices = data
    monitor = attach_hooks(FashionMNISTCNN(), SummaryWriter(str(tmp_path / name)), log_graph=False,
                           examples_per_cell=2, max_misclassified=9, max_suspects=11, **options)
    for start in range(0, logits.shape[0], batch):
        part = slice(start, start + batch)
        monitor.record(logits[part], labels[part], images[part], indices[part])
        if start == batch:
            monitor.record(logits[:0], labels[:0], images[:0], indices[:0])  # an empty batch changes nothing
    monitor._deferred.flush()
    return monitor


def _immediate(tmp_path, batch, data):
    """The same batches, each staged and committed on its own (no pending)."""
    monitor = _record(tmp_path, "immediate", 10**6, tuple(t[:0] for t in data))
    logits, labels, images, indices = data
    for start in range(0, logits.shape[0], batch):
        part = slice(start, start + batch)
        checked = monitor._eval.validate(logits[part], labels[part], images[part], indices[part])
        staged = monitor._eval.stage(checked)
        commit = monitor._diagnostics.stage(checked["logits"], checked["labels"], staged.predicted, staged.confidence,
                                            staged.keep, staged.indices, staged.thumbnails)
        monitor._eval.commit(staged)
        commit()
    return monitor


def _state(monitor):
    candidates = monitor._eval.candidates()
    result = monitor._diagnostics.result(10)
    issues, calibration = result.label_issues, result.calibration
    return {
        "matrix": monitor._eval.matrix().numpy(),
        **{f"{store}.{k}": v.numpy() for store, fields in candidates.items() for k, v in fields.items()},
        **{f"listed.{k}": np.asarray(v) for k, v in issues.listed.items()},
        **{f"suspects.{k}": np.asarray(v) for k, v in issues.suspects.items()},
        "joint": issues.confident_joint,
        "bins": calibration.bins, "cells": calibration.cells, "loss": calibration.loss,
    }


@pytest.mark.parametrize("pending_rows", [20, 64, deferred.MAX_PENDING_ROWS])
def test_batches_of_seven_equal_one_batch_and_immediate_adding(tmp_path, monkeypatch, pending_rows):
    monkeypatch.setattr(deferred, "MAX_PENDING_ROWS", pending_rows)  # adds mid-evaluation, stores full
    data = _data()
    whole = _state(_record(tmp_path, "whole", 10**6, data))
    sevens = _state(_record(tmp_path, "sevens", 7, data))
    immediate = _state(_immediate(tmp_path, 7, data))
    assert whole.keys() == sevens.keys() == immediate.keys()
    assert len(whole["cells.score"]) > 20 and len(whole["mistakes.score"]) == 9 and len(whole["listed.index"]) > 0
    for key in whole:
        np.testing.assert_array_equal(sevens[key], whole[key], err_msg=key)  # bitwise
        np.testing.assert_array_equal(immediate[key], whole[key], err_msg=key)


def test_ties_keep_the_earlier_row_across_pending_adds(tmp_path, monkeypatch):
    """All rows score the same: the first rows recorded are the ones kept."""
    monkeypatch.setattr(deferred, "MAX_PENDING_ROWS", 10)
    rows = 60
    logits = torch.zeros(rows, 10)
    logits[:, 3] = 2.0  # every row predicts 3 with the same confidence
    labels = torch.full((rows,), 5)
    images = torch.rand(rows, 1, 4, 4)
    monitor = _record(tmp_path, "ties", 7, (logits, labels, images, torch.arange(rows)))
    candidates = monitor._eval.candidates()
    assert candidates["mistakes"]["index"].tolist() == list(range(9))
    assert candidates["cells"]["index"].tolist() == [0, 1]
    kept = monitor._diagnostics.suspect_store().valid()  # candidates (no suspect here: one given label)
    assert kept["row"].tolist() == list(range(11)) and kept["images"].shape[0] == 11


def test_pending_rows_are_bounded_and_read_before_use(tmp_path):
    data = _data(rows=100)
    monitor = _record(tmp_path, "bound", 7, data)
    assert monitor._eval.pending_rows == 0  # flushed above
    monitor.record(*(t[:7] for t in data))
    assert 0 < monitor._eval.pending_rows < deferred.MAX_PENDING_ROWS
    assert monitor._eval.counts.sum() == 107 and monitor._eval.pending_rows == 0  # reading adds what is pending
    with pytest.raises(ValueError, match="pass images to every record"):
        monitor.record(*data[:2])
