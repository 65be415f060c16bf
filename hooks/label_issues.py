"""Suspected label errors of one evaluation, by confident learning.

Confident learning (Northcutt, Jiang, Chuang, "Confident Learning: Estimating
Uncertainty in Dataset Labels", JAIR 2021), with the conventions of cleanlab
2.x so that both give the same answer on the same probabilities:

- per-class threshold ``t_j``: the mean predicted probability of class ``j``
  over the examples labeled ``j`` (at least 2e-6; 2.0, which no probability
  reaches, for a class with no examples);
- an example is *confident* for class ``j`` when ``p_j >= t_j - 1e-6``; with
  one such class that class is its guessed true label, with several the
  argmax of its probabilities, with none it is not counted;
- the confident joint ``[C, C]`` counts examples by (given label, guessed
  label): cleanlab's ``compute_confident_joint(calibrate=False)``, without the
  floor of 1 that cleanlab puts on its diagonal (raw counts are what the tab
  shows);
- suspects: examples off the diagonal of the confident joint whose given label
  is not their argmax (the given label wins ties within 1e-6), i.e. cleanlab's
  ``find_label_issues(filter_by="confident_learning")``; their number per
  given class sums to ``num_label_issues(estimation_method="off_diagonal")``;
- suspects are ranked by self-confidence (the probability of the given label),
  lowest first, ties by dataset index.

Memory is bounded per example, never ``N x C``: each example keeps its given
label, self-confidence and dataset index and its ``topk`` largest
probabilities with their classes (``20 + 8 * topk`` bytes, 60 bytes at the
default ``topk = 5``: 3 MB for 50,000 examples, whatever the number of
classes). A class outside an example's stored ones (and not its given label)
is taken to be below its threshold. That is exact unless the probability
mass outside the stored classes reaches the smallest threshold; the rows
where it does are counted in :attr:`LabelIssueResult.inexact_rows`, so 0 means
the result equals the computation on the full probabilities. With
``topk >= C`` it is always exact.

Images exist only at ``record`` time, so the candidates for display are kept
then: a bounded store (:class:`~tb_fmnist_plugin.hooks.topk.TopKPerGroup`) of
the ``max_suspects`` examples of lowest self-confidence among those whose
argmax is not their label (every suspect is one of those), with the payload
the caller makes (thumbnails). The suspects found at the end that are in that
store are the first ones of the ranking, since a suspect ranked before a
stored one has a lower self-confidence and is stored too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .topk import PayloadOf, TopKPerGroup

#: Default number of largest probabilities kept per example.
DEFAULT_TOPK = 5
#: Default number of lowest-self-confidence candidates kept with payload.
DEFAULT_MAX_SUSPECTS = 128

#: cleanlab's margins and bounds (cleanlab.internal.constants).
CONFIDENT_MARGIN = 1e-6
ARGMAX_MARGIN = 1e-6
THRESHOLD_FLOOR = 2e-6
ABSENT_THRESHOLD = 2.0

_FIELDS = ("label", "self", "values", "classes", "index", "valid")


@dataclass
class LabelIssueResult:
    """One evaluation's label-issue estimate (numpy arrays, ``C`` classes).

    ``suspects`` holds every suspect, ranked (lowest self-confidence first):
    ``given``, ``suggested`` (the guessed true label), ``self_confidence``,
    ``confidence`` (probability of ``suggested``), ``index`` (dataset index,
    -1 unknown) and ``row`` (position among the recorded rows). ``listed``
    holds the first of them that are in the candidate store, the same fields
    plus the caller's payload.
    """

    thresholds: np.ndarray
    confident_joint: np.ndarray
    suspect_counts: np.ndarray
    suspects: Dict[str, np.ndarray]
    listed: Dict[str, np.ndarray] = field(default_factory=dict)
    inexact_rows: int = 0

    @property
    def total(self) -> int:
        return int(self.suspects["given"].size)

    def class_counts(self) -> np.ndarray:
        """``[C]`` estimated label issues per given class."""
        return self.suspect_counts.sum(axis=1)


@dataclass
class _Staged:
    chunk: Dict[str, torch.Tensor]
    store: Optional[TopKPerGroup]


class LabelIssueAccumulator:
    """Per-example top probabilities and a store of display candidates.

    Like the other evaluation accumulators, :meth:`stage` computes a batch's
    part without changing anything and :meth:`commit` adds it.
    """

    def __init__(self, topk: int = DEFAULT_TOPK, max_suspects: int = DEFAULT_MAX_SUSPECTS) -> None:
        if topk < 1 or max_suspects < 0:
            raise ValueError("topk must be positive and max_suspects non-negative")
        self.topk = int(topk)
        self.max_suspects = int(max_suspects)
        self.reset()

    def reset(self) -> None:
        """Drop every held tensor."""
        self._chunks: List[Dict[str, torch.Tensor]] = []
        self._store: Optional[TopKPerGroup] = None
        self.rows = 0

    @torch.no_grad()
    def stage(
        self,
        log_probs: torch.Tensor,
        labels: torch.Tensor,
        indices: Optional[torch.Tensor] = None,
        payload_of: Optional[PayloadOf] = None,
    ) -> _Staged:
        """A batch's part: ``log_probs`` ``[n, C]`` (``log_softmax`` of the
        logits; rows with a non-finite value are left out), ``labels``
        ``[n]``, ``indices`` ``[n]`` dataset indices, ``payload_of`` makes
        the payload of the batch rows that enter the candidate store."""
        n, classes = log_probs.shape
        device = log_probs.device
        labels = labels.to(device=device, dtype=torch.long)
        # One pass over [n, C] each: the row sums (non-finite iff a value is) and top-k.
        valid = torch.isfinite(log_probs.sum(dim=1))
        top, classes_ = log_probs.topk(min(self.topk, classes), dim=1)
        values = torch.where(valid[:, None], top.float(), -float("inf")).exp()
        self_conf = torch.where(valid, log_probs.gather(1, labels[:, None])[:, 0].float(), -float("inf")).exp()
        index = torch.full_like(labels, -1) if indices is None else indices.to(device=device, dtype=torch.long)
        chunk = {
            "label": labels.to(torch.int32),
            "self": self_conf,
            "values": values,
            "classes": classes_.to(torch.int32),
            "index": index,
            "valid": valid,
        }
        store = self._store
        if self.max_suspects > 0 and n:
            candidate = valid & (classes_[:, 0] != labels)
            score = torch.where(candidate, -self_conf, -float("inf"))
            base = self.rows

            def with_row(rows: torch.Tensor) -> Dict[str, torch.Tensor]:
                payload = dict(payload_of(rows)) if payload_of is not None else {}
                payload["row"] = rows.to(torch.long) + base
                return payload

            # Once the store is full, most batches have no row below its worst entry: merged() returns it as is.
            store = (store or TopKPerGroup(1, self.max_suspects)).merged(torch.zeros_like(labels), score, with_row)
        return _Staged(chunk, store)

    @property
    def store(self) -> Optional[TopKPerGroup]:
        """The candidates kept with their payload (None before any)."""
        return self._store

    def commit(self, staged: _Staged) -> None:
        """Add a staged batch."""
        self._chunks.append(staged.chunk)
        self._store = staged.store
        self.rows += int(staged.chunk["label"].numel())

    def add(self, *args, **kwargs) -> None:
        """:meth:`stage` then :meth:`commit`."""
        self.commit(self.stage(*args, **kwargs))

    def state(self) -> Dict[str, Dict[str, torch.Tensor]]:
        """Everything held, as CPU tensors (``{"rows": ..., "store": ...}``),
        to send to another rank; see :meth:`from_states`."""
        rows = {name: torch.cat([c[name] for c in self._chunks]).cpu() for name in _FIELDS} if self._chunks else {}
        return {"rows": rows, "store": self._store.valid() if self._store is not None else {}}

    @classmethod
    def from_states(cls, states: Sequence[Dict[str, Dict[str, torch.Tensor]]], topk: int, max_suspects: int) -> "LabelIssueAccumulator":
        """One accumulator holding every rank's rows (in rank order) and the
        best candidates of all their stores: the same result as if one
        process had recorded everything (up to ties in self-confidence)."""
        merged = cls(topk, max_suspects)
        for state in states:
            rows, store = state["rows"], state["store"]
            if rows:
                merged._chunks.append(rows)
            if store and store["score"].numel():
                payload = {k: v for k, v in store.items() if k not in ("score", "group")}
                payload["row"] = payload["row"] + merged.rows
                merged._store = merged._store or TopKPerGroup(1, max_suspects)
                merged._store.update(store["group"], store["score"], **payload)
            merged.rows += int(rows["label"].numel()) if rows else 0
        return merged

    def result(self, num_classes: int) -> Optional[LabelIssueResult]:
        """Thresholds, confident joint, suspects; None if nothing was recorded."""
        if not self._chunks:
            return None
        rows = {name: torch.cat([c[name] for c in self._chunks]).cpu().numpy() for name in _FIELDS}
        store = self._store.valid() if self._store is not None else {}
        return find_label_issues(rows, num_classes, {k: v.numpy() for k, v in store.items()})


def find_label_issues(rows: Dict[str, np.ndarray], num_classes: int, store: Dict[str, np.ndarray]) -> LabelIssueResult:
    """Confident learning on stored rows (see the module docstring)."""
    c = int(num_classes)
    valid = rows["valid"]
    label = rows["label"][valid].astype(np.int64)
    self_conf = rows["self"][valid].astype(np.float64)
    values = rows["values"][valid].astype(np.float64)
    classes = rows["classes"][valid].astype(np.int64)
    index = rows["index"][valid]
    row_id = np.flatnonzero(valid)

    count = np.bincount(label, minlength=c)
    total = np.bincount(label, weights=self_conf, minlength=c)
    with np.errstate(divide="ignore", invalid="ignore"):
        thresholds = np.where(count > 0, total / np.maximum(count, 1), ABSENT_THRESHOLD)
    thresholds = np.maximum(thresholds, THRESHOLD_FLOOR)

    label_stored = (classes == label[:, None]).any(axis=1)
    confident_top = values >= thresholds[classes] - CONFIDENT_MARGIN
    confident_label = (self_conf >= thresholds[label] - CONFIDENT_MARGIN) & ~label_stored
    number = confident_top.sum(axis=1) + confident_label
    single = np.where(confident_top.any(axis=1), classes[np.arange(label.size), confident_top.argmax(axis=1)], label)
    guess = np.where(number > 1, classes[:, 0], single)
    counted = number > 0
    joint = np.bincount(label[counted] * c + guess[counted], minlength=c * c).reshape(c, c)

    # Given label not the argmax, even with 1e-6 added to it (np.argmax keeps the first of equals).
    boosted = self_conf + ARGMAX_MARGIN
    label_argmax = (classes[:, 0] == label) | (boosted > values[:, 0]) | ((boosted == values[:, 0]) & (label < classes[:, 0]))
    suspect = counted & (guess != label) & ~label_argmax
    where = np.flatnonzero(suspect)
    where = where[np.lexsort((index[where], self_conf[where]))]
    guess_prob = values[where][classes[where] == guess[where, None]]
    suspects = {
        "given": label[where],
        "suggested": guess[where],
        "self_confidence": self_conf[where],
        "confidence": guess_prob,
        "index": index[where].astype(np.int64),
        "row": row_id[where],
    }
    suspect_counts = np.bincount(label[where] * c + guess[where], minlength=c * c).reshape(c, c)

    stored_mass = values.sum(axis=1) + np.where(label_stored, 0.0, self_conf)
    residual = 1.0 - stored_mass
    inexact = int((residual + 1e-5 >= thresholds.min() - CONFIDENT_MARGIN).sum()) if classes.shape[1] < c else 0

    return LabelIssueResult(
        thresholds=thresholds,
        confident_joint=joint.astype(np.int64),
        suspect_counts=suspect_counts.astype(np.int64),
        suspects=suspects,
        listed=_listed(suspects, store),
        inexact_rows=inexact,
    )


def _listed(suspects: Dict[str, np.ndarray], store: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """The suspects that are in the candidate store, in rank order, with its payload."""
    if not store or "row" not in store:
        return {}
    position = {int(r): i for i, r in enumerate(store["row"].tolist())}
    ranks = [k for k, r in enumerate(suspects["row"].tolist()) if r in position]
    picks = np.array([position[int(suspects["row"][k])] for k in ranks], dtype=np.int64)
    out = {name: value[ranks] for name, value in suspects.items()}
    for name, value in store.items():
        if name not in ("score", "group", "row"):
            out[name] = value[picks] if picks.size else value[:0]
    return out

