"""Why an evaluation is wrong: calibration and suspected label errors, the
part of the monitor that accumulates them in ``record()`` and writes them in
``end_eval()``.

:class:`EvalDiagnostics` holds a
:class:`~tb_fmnist_plugin.hooks.calibration.CalibrationAccumulator` and a
:class:`~tb_fmnist_plugin.hooks.label_issues.LabelIssueAccumulator` (either
may be off). What it writes, for the matrix tag ``confusion/<name>``: the
value kinds of :mod:`tb_fmnist_plugin.format.diagnostics_writers` under
``confusion/<name>/reliability``, ``/classwise_reliability``,
``/reliability_by_predicted``, ``/cell_confidence``, ``/class_loss``,
``/confident_joint``, ``/label_issues`` and ``/suspects``, and the scalars
``calibration/<name>/ece`` and ``label_issues/<name>/count``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import torch

from tb_fmnist_plugin.format import diagnostics_writers as diagnostics_summary

from .calibration import CalibrationAccumulator, CalibrationResult
from .evaluation import without_autocast
from .label_issues import LabelIssueAccumulator, LabelIssueResult

#: Makes ``uint8`` thumbnails of the batch rows asked for (``[m]`` long).
Thumbnails = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class DiagnosticsResult:
    """One evaluation's diagnostics (None where off or nothing recorded)."""

    calibration: Optional[CalibrationResult] = None
    label_issues: Optional[LabelIssueResult] = None


class EvalDiagnostics:
    """Calibration (``bins`` confidence bins, 0: off) and label issues
    (``topk`` probabilities per example, ``max_suspects`` candidates with
    thumbnails; ``label_issues=False``: off) of one evaluation at a time."""

    def __init__(self, *, bins: int, label_issues: bool, topk: int, max_suspects: int) -> None:
        self.calibration = CalibrationAccumulator(bins) if bins > 0 else None
        self.label_issues = LabelIssueAccumulator(topk, max_suspects) if label_issues else None

    @property
    def enabled(self) -> bool:
        return self.calibration is not None or self.label_issues is not None

    def reset(self) -> None:
        for part in (self.calibration, self.label_issues):
            if part is not None:
                part.reset()

    def suspect_store_size(self) -> int:
        """How many suspect candidates are kept with thumbnails (0: none)."""
        return self.label_issues.max_suspects if self.label_issues is not None else 0

    def suspect_store(self) -> Any:
        """The suspect candidates' top-k store as added so far, or None."""
        return self.label_issues.store if self.label_issues is not None else None

    @torch.no_grad()
    def stage(
        self,
        logits: torch.Tensor,
        labels: torch.Tensor,
        predicted: torch.Tensor,
        confidence: torch.Tensor,
        keep: torch.Tensor,
        indices: Optional[torch.Tensor] = None,
        thumbnails: Optional[Thumbnails] = None,
        label_issues: bool = True,
    ) -> Callable[[], None]:
        """Compute a batch's part and return the function that commits it
        (which cannot fail half-way): ``predicted``/``confidence`` as the
        matrix counts them, ``keep`` the rows in the matrix (not NaN).
        ``label_issues=False``: the calibration only (dense positions)."""
        commits: List[Callable[[], None]] = []
        issues = self.label_issues if label_issues else None
        if self.calibration is None and issues is None:
            return lambda: None
        with without_autocast(logits.device):
            values = logits.real if logits.is_complex() else logits
            log_probs = torch.log_softmax(values.double() if values.dtype == torch.float64 else values.float(), dim=1)
        labels = labels.to(device=logits.device, dtype=torch.long)
        if self.calibration is not None:
            loss = -log_probs.gather(1, labels[:, None])[:, 0]
            staged = self.calibration.stage(labels, predicted, confidence, loss, logits.shape[1], keep, log_probs.exp())
            commits.append(lambda: self.calibration.commit(staged))
        if issues is not None:
            payload_of = (lambda rows: {"images": thumbnails(rows)}) if thumbnails is not None else None
            staged_issues = issues.stage(log_probs, labels, indices, payload_of)
            commits.append(lambda: issues.commit(staged_issues))

        def commit() -> None:
            for step in commits:
                step()

        return commit

    def result(self, num_classes: int) -> DiagnosticsResult:
        """This process's diagnostics (see
        :func:`~tb_fmnist_plugin.hooks.distributed.reduce_diagnostics` for all ranks')."""
        return DiagnosticsResult(
            self.calibration.result() if self.calibration is not None else None,
            self.label_issues.result(num_classes) if self.label_issues is not None else None,
        )


def write_diagnostics(writer: Any, name: str, tag: str, step: int, names: List[str], result: DiagnosticsResult) -> None:
    """Write ``result`` for matrix ``tag`` of evaluation ``name`` at ``step``."""
    calibration = result.calibration
    if calibration is not None:
        diagnostics_summary.write_calibration(
            writer, tag, calibration.bins, step, cell_confidence=calibration.cell_confidence(),
            class_loss=calibration.class_loss(), class_names=names,
        )
        diagnostics_summary.write_class_calibration(
            writer, tag, calibration.classwise, step, by_predicted=calibration.by_predicted, class_names=names,
        )
        ece = calibration.ece()
        if ece == ece:  # not NaN
            writer.add_scalar(f"calibration/{name}/ece", ece, step)
    issues = result.label_issues
    if issues is not None:
        diagnostics_summary.write_label_issues(
            writer, tag, issues.confident_joint, step, suspect_counts=issues.suspect_counts,
            class_names=names,
        )
        listed: Dict[str, Any] = issues.listed or {key: value[:0] for key, value in issues.suspects.items()}
        diagnostics_summary.write_suspects(
            writer, tag, listed.get("images"), step, given=listed["given"], suggested=listed["suggested"],
            self_confidence=listed["self_confidence"], confidence=listed["confidence"],
            dataset_indices=listed["index"], class_names=names,
            total=issues.total, thresholds=issues.thresholds, inexact_rows=issues.inexact_rows,
        )
        writer.add_scalar(f"label_issues/{name}/count", issues.total, step)
