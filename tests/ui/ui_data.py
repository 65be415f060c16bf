"""Log directories for the browser tests and the UI benchmark, written with the
project's own summary API through a real ``SummaryWriter``.

Every matrix is a pure function of (seed, step), so tests recompute the
expected values instead of reading them back from the server.
"""
from __future__ import annotations

import os
from typing import Dict, List, Tuple

import numpy as np

FMNIST = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
#: A class name and a run name made of HTML markup: must render as text.
XSS_CLASS = '<img src=x onerror="window.__pwned=1">'
XSS_RUN = "<img src=x onerror=window.__pwned=1>"
XSS_TAG = "confusion/<b>bold</b>"

MAIN_TAG = "confusion/test"
RUN_A = "baseline"
RUN_B = "wider"
STEPS_A = [0, 1, 2, 3]
STEPS_B = [0, 2, 4]
EXAMPLE_STEPS = [3]


def matrix(seed: int, step: int, n: int = 10, per_class: int = 100) -> np.ndarray:
    """A plausible confusion matrix that improves with ``step``."""
    rng = np.random.RandomState(seed * 1000 + step)
    out = np.zeros((n, n), dtype=np.int64)
    accuracy = min(0.95, 0.55 + 0.1 * step)
    for t in range(n):
        correct = int(per_class * accuracy) - (t % 3) * 4
        out[t, t] = correct
        rest = per_class - correct
        # errors concentrate on one or two neighbours, like Shirt -> T-shirt/top
        weights = rng.rand(n) ** 4
        weights[t] = 0
        weights[(t + 1) % n] += 1.5
        weights /= weights.sum()
        errors = rng.multinomial(rest, weights)
        out[t] += errors
    return out


def _writer(logdir: str, run: str):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(os.path.join(logdir, run), flush_secs=1)


def _examples(writer, tag: str, step: int, names: List[str], m: np.ndarray, seed: int) -> None:
    from tb_fmnist_plugin import summary

    rng = np.random.RandomState(seed)
    n = len(names)
    true, pred = [], []
    for t in range(n):
        for p in range(n):
            for _ in range(min(int(m[t, p]), 3)):
                true.append(t)
                pred.append(p)
    count = len(true)
    images = np.zeros((count, 1, 28, 28), dtype=np.float32)
    for i, (t, p) in enumerate(zip(true, pred)):
        # A recognisable tile: a bar whose position encodes the true class and
        # brightness the predicted one.
        images[i, 0, 2 + 2 * t: 5 + 2 * t, 3:25] = 0.3 + 0.07 * p
    conf = np.round(rng.uniform(0.3, 0.99, size=count), 4)
    summary.write_cell_examples(
        writer, tag, images, step, true_labels=np.array(true), predicted_labels=np.array(pred), confidences=conf,
        dataset_indices=np.arange(count) + 1000, class_names=names,
    )


def write_main_logdir(logdir: str) -> Dict[str, Dict[int, np.ndarray]]:
    """Two runs of 10 Fashion-MNIST classes (with examples at step 3 of the
    first), and one run whose name and a class name are HTML markup.
    Returns ``{run: {step: matrix}}``."""
    from tb_fmnist_plugin import summary

    logged: Dict[str, Dict[int, np.ndarray]] = {RUN_A: {}, RUN_B: {}, XSS_RUN: {}}
    for run, seed, steps in ((RUN_A, 1, STEPS_A), (RUN_B, 2, STEPS_B)):
        writer = _writer(logdir, run)
        for step in steps:
            m = matrix(seed, step)
            logged[run][step] = m
            summary.write_confusion_matrix(writer, MAIN_TAG, m, step, class_names=FMNIST)
            if run == RUN_A and step in EXAMPLE_STEPS:
                _examples(writer, MAIN_TAG, step, FMNIST, m, seed=step)
        writer.close()
    names = ["cat", XSS_CLASS, "dog"]
    writer = _writer(logdir, XSS_RUN)
    m = np.array([[5, 1, 0], [2, 7, 1], [0, 3, 9]])
    logged[XSS_RUN][0] = m
    summary.write_confusion_matrix(writer, MAIN_TAG, m, 0, class_names=names)
    summary.write_confusion_matrix(writer, XSS_TAG, m, 0, class_names=names)
    writer.close()
    return logged


def big_matrix(n: int, step: int) -> np.ndarray:
    rng = np.random.RandomState(step)
    out = np.zeros((n, n), dtype=np.int64)
    idx = np.arange(n)
    out[idx, idx] = 20 + step
    for k in (1, 2, 7):
        out[idx, (idx + k) % n] = rng.randint(0, 6, size=n)
    return out


def write_big_logdir(logdir: str, n: int = 1000, steps=(0, 1)) -> None:
    """One run with an ``n``-class matrix at ``steps`` (no examples)."""
    from tb_fmnist_plugin import summary

    names = [f"class_{i:04d}" for i in range(n)]
    writer = _writer(logdir, "big")
    for step in steps:
        summary.write_confusion_matrix(writer, MAIN_TAG, big_matrix(n, step), step, class_names=names)
    writer.close()


#: A tag of many classes next to MAIN_TAG, for switching tags with a selection.
MANY_TAG = "confusion/many"
MANY_CLASSES = 60
RUN_WIDE = "wide"
RUN_NARROW = "narrow"
SWITCH_STEPS = (0, 1)


def write_switch_logdir(logdir: str) -> None:
    """Run ``wide`` with a ``MANY_CLASSES``-class ``MANY_TAG`` and a 10-class
    ``MAIN_TAG``, run ``narrow`` with ``MAIN_TAG`` only, both at ``SWITCH_STEPS``."""
    from tb_fmnist_plugin import summary

    many = [f"class {i:02d}" for i in range(MANY_CLASSES)]
    for run, seed in ((RUN_WIDE, 7), (RUN_NARROW, 8)):
        writer = _writer(logdir, run)
        for step in SWITCH_STEPS:
            summary.write_confusion_matrix(writer, MAIN_TAG, matrix(seed, step), step, class_names=FMNIST)
            if run == RUN_WIDE:
                summary.write_confusion_matrix(writer, MANY_TAG, matrix(seed, step, n=MANY_CLASSES), step, class_names=many)
        writer.close()


#: A run whose evaluations left rows out (NaN logits), named with markup, and a
#: run written without excluded-row counts (unknown: no notice).
NAN_RUN = '<i onmouseover="window.__pwned=1">nan</i> run'
CLEAN_RUN = "clean"
NAN_STEPS = (0, 1, 2)
#: Rows of NAN_RUN's evaluation at each step left out of its matrix.
NAN_EXCLUDED = {0: 0, 1: 7, 2: 25}


def write_excluded_logdir(logdir: str) -> Dict[str, Dict[int, np.ndarray]]:
    """``NAN_RUN`` with ``NAN_EXCLUDED`` rows left out at each step (as the
    hooks write them), ``CLEAN_RUN`` without counts. Returns ``{run: {step: matrix}}``."""
    from tb_fmnist_plugin import summary

    logged: Dict[str, Dict[int, np.ndarray]] = {NAN_RUN: {}, CLEAN_RUN: {}}
    for run, seed in ((NAN_RUN, 5), (CLEAN_RUN, 6)):
        writer = _writer(logdir, run)
        for step in NAN_STEPS:
            logged[run][step] = matrix(seed, step)
            summary.write_confusion_matrix(writer, MAIN_TAG, logged[run][step], step, class_names=FMNIST)
            if run == NAN_RUN:
                summary.write_excluded_rows(writer, MAIN_TAG, NAN_EXCLUDED[step], step)
        writer.close()
    return logged


def planted_matrix(n: int = 1000, block: int = 20, seed: int = 18) -> "Tuple[np.ndarray, List[int]]":
    """``n`` classes, 30 correct each, two stray errors per row (count 1), and
    ``block`` classes scattered over the index range confused with one another
    (4-6 each): the 1,000-class overview's test and screenshot."""
    rng = np.random.RandomState(seed)
    m = np.zeros((n, n), dtype=np.int64)
    idx = np.arange(n)
    m[idx, idx] = 30
    for _ in range(2):
        cols = rng.randint(0, n, size=n)
        keep = cols != idx
        m[idx[keep], cols[keep]] += 1
    members = sorted(rng.choice(n, size=block, replace=False).tolist())
    for a in members:
        for b in members:
            if a != b:
                m[a, b] += rng.randint(4, 7)
    return m, members


def write_planted_logdir(logdir: str, m: np.ndarray, run: str = "planted") -> None:
    """One run with matrix ``m`` (classes ``class_0000``...) at steps 0 and 1."""
    from tb_fmnist_plugin import summary

    names = [f"class_{i:04d}" for i in range(m.shape[0])]
    writer = _writer(logdir, run)
    for step in (0, 1):
        summary.write_confusion_matrix(writer, MAIN_TAG, m, step, class_names=names)
    writer.close()
