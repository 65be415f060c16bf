"""The per-example record agrees with what the tab already showed from the
same evaluation (issue 19): every per-cell example thumbnail is a member of
its cell in the record, and every suspected label error carries the record's
given label and probability of that label. Written by the hooks through a real
SummaryWriter, read through TensorBoard's data provider and the plugin's WSGI
app."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.events import route_url
from tests.support.plugin_app import get_json, make_app

NAMES = [f"c{i}" for i in range(10)]
TAG = "confusion/test"
ROWS = 240


def _write(logdir: str) -> None:
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    generator = torch.Generator().manual_seed(1)
    images = torch.randn(ROWS, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (ROWS,), generator=generator)
    with SummaryWriter(logdir) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False, examples_per_cell=3)
        for step in (1, 2):
            order = torch.randperm(ROWS, generator=torch.Generator().manual_seed(step))
            with torch.no_grad():
                for start in range(0, ROWS, 48):
                    rows = order[start:start + 48]
                    # dataset indices 1000 + row: the identity is the index, not the position
                    monitor.record(model(images[rows]), labels[rows], images[rows], indices=rows + 1000)
                monitor.end_eval(step)
                model.classifier[-1].bias.add_(torch.linspace(-1.0, 1.0, 10))
        monitor.remove()


def _members(client, run: str, step: int, t: int, p: int) -> dict:
    """Every member of cell (t, p) at ``step``: dataset index -> item."""
    answer = get_json(client, route_url("members", run=run, tag=TAG, step=step, true=t, predicted=p, limit=1000))
    assert answer["total"] == len(answer["items"])
    return {item["index"]: item for item in answer["items"]}


def test_cell_examples_and_suspects_agree_with_the_record(tmp_path):
    _write(str(tmp_path / "run"))
    client, _, _ = make_app(str(tmp_path))
    checked_examples = checked_suspects = 0
    for step in (1, 2):
        matrix = np.array(get_json(client, route_url("matrix", run="run", tag=TAG, step=step))["matrix"])
        for t in range(10):
            for p in range(10):
                if matrix[t, p] == 0:
                    continue
                members = _members(client, "run", step, t, p)
                assert len(members) == matrix[t, p], (step, t, p)
                shown = get_json(client, route_url("examples", run="run", tag=TAG, step=step, true=t, predicted=p))["examples"]
                for example in shown:
                    assert example["dataset_index"] in members, (step, t, p, example)
                    assert abs(example["confidence"] - members[example["dataset_index"]]["confidence"]) < 2e-3
                    checked_examples += 1
        suspects = get_json(client, route_url("suspects", run="run", tag=TAG, step=step))["suspects"]
        for suspect in suspects:
            history = get_json(client, route_url("example_history", run="run", tag=TAG, index=suspect["dataset_index"]))
            assert history["label"] == suspect["given"]
            at = history["steps"].index(step)
            assert abs(history["p_given"][at] - suspect["self_confidence"]) < 2e-3
            checked_suspects += 1
    assert checked_examples > 20
    assert checked_suspects > 0
