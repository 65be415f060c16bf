"""``evaluate``'s loss, accuracy and counts: the accuracy is
:func:`tb_fmnist_plugin.metrics.per_class_metrics`' of the counts, the one
definition the hooks and the plugin use."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.fmnist.evaluation import evaluate
from tb_fmnist_plugin.fmnist.synthetic import CLASSES


def _batches(seed: int, sizes=(7, 5, 9)):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 1, 4, 4, generator=g), torch.randint(0, len(CLASSES), (n,), generator=g), torch.arange(n))
            for n in sizes]


def test_accuracy_and_counts_come_from_the_matrix():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, len(CLASSES)))
    loader = _batches(1)
    recorded = []
    monitor = type("Monitor", (), {"record": lambda self, outputs, labels, images, indices: None})()
    loss, accuracy, matrix = evaluate(net, loader, torch.device("cpu"), batches=2, monitor=monitor, distributed=False,
                                      safe=lambda name, function, *args: recorded.append(args[1].shape[0]))
    assert recorded == [7, 5]  # only ``batches`` batches, each recorded
    with torch.no_grad():
        outputs = torch.cat([net(images) for images, _, _ in loader[:2]])
    labels = torch.cat([labels for _, labels, _ in loader[:2]])
    expected = np.zeros((len(CLASSES),) * 2, dtype=np.int64)
    np.add.at(expected, (labels.numpy(), outputs.argmax(1).numpy()), 1)
    np.testing.assert_array_equal(matrix, expected)
    correct = int((outputs.argmax(1) == labels).sum())
    assert f"{accuracy:.2f}" == f"{100.0 * correct / 12:.2f}"  # the printed number is unchanged
    assert accuracy == 100.0 * float(metrics.per_class_metrics(matrix)["accuracy"])
    assert math.isclose(loss, float(nn.functional.cross_entropy(outputs, labels)), rel_tol=1e-6)


def test_nothing_evaluated_is_nan():
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, len(CLASSES)))
    loss, accuracy, matrix = evaluate(net, [], torch.device("cpu"), batches=3, monitor=None, distributed=False,
                                      safe=lambda *args: None)
    assert math.isnan(loss) and math.isnan(accuracy) and matrix.sum() == 0
