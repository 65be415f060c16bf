"""Evaluation-time accumulation: confusion counts and example candidates.

Everything stays on the outputs' device: counts are a ``bincount`` of
``true * C + predicted``; candidates are fixed-size top-K buffers
(:class:`~tb_fmnist_plugin.hooks.topk.TopKPerGroup`). Memory does not depend on
the number of recorded batches.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import torch

from tb_fmnist_plugin import summary

from .topk import TopKPerGroup


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{what} must be a tensor or array-like, got {type(value).__name__}: {error}") from None


def logits_of(outputs: Any) -> torch.Tensor:
    """The logits tensor in a model's output (a tensor, first tensor of a
    tuple/list, or ``'logits'``/``'out'``/single value of a dict)."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        for key in ("logits", "out", "output"):
            if isinstance(outputs.get(key), torch.Tensor):
                return outputs[key]
        tensors = [v for v in outputs.values() if isinstance(v, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
        raise TypeError("outputs is a dict without a 'logits' tensor; pass the logits tensor to record()")
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    raise TypeError(f"outputs must be a logits tensor [N, num_classes], got {type(outputs).__name__}")


class EvalAccumulator:
    """Confusion counts plus per-cell and most-confident-mistake candidates."""

    def __init__(
        self,
        num_classes: Optional[int],
        examples_per_cell: int,
        max_misclassified: int,
    ) -> None:
        self.num_classes = num_classes
        self.examples_per_cell = examples_per_cell
        self.max_misclassified = max_misclassified
        self.reset()

    def reset(self) -> None:
        """Drop every held tensor."""
        self.counts: Optional[torch.Tensor] = None
        self.cells: Optional[TopKPerGroup] = None
        self.mistakes: Optional[TopKPerGroup] = None
        self.image_shape: Optional[Sequence[int]] = None
        self.recorded = 0

    def validate(
        self, outputs: Any, labels: Any, images: Any = None, indices: Any = None
    ) -> Dict[str, Optional[torch.Tensor]]:
        """Check one batch and return its tensors; raises naming the problem."""
        logits = logits_of(outputs)
        if logits.dim() != 2:
            raise ValueError(f"outputs must be [N, num_classes] logits, got shape {tuple(logits.shape)}")
        if not (logits.is_floating_point() or logits.is_complex()):
            raise TypeError(f"outputs must be floating-point logits, got dtype {logits.dtype}")
        count, classes = logits.shape
        if self.num_classes is not None and classes != self.num_classes:
            raise ValueError(
                f"outputs have {classes} columns but the monitor has {self.num_classes} classes "
                "(from class_names or the first record() call)"
            )
        labels_t = _as_tensor(labels, "labels")
        if labels_t.dim() == 2 and labels_t.shape[1] == 1:
            labels_t = labels_t[:, 0]
        if labels_t.dim() != 1 or labels_t.shape[0] != count:
            raise ValueError(
                f"labels must be a 1-D tensor of {count} class indices (one per output row), got shape {tuple(labels_t.shape)}"
            )
        if labels_t.is_floating_point() or labels_t.is_complex() or labels_t.dtype == torch.bool:
            raise TypeError(f"labels must be integer class indices, got dtype {labels_t.dtype}")
        if count:
            low, high = torch.stack([labels_t.min(), labels_t.max()]).tolist()
            if low < 0 or high >= classes:
                raise ValueError(f"labels must be in [0, {classes}), got values from {low} to {high}")
        images_t = None
        if images is not None:
            images_t = _as_tensor(images, "images")
            images_t = images_t.reshape(summary.image_batch_shape(images_t.shape, count))
            if self.image_shape is not None and tuple(images_t.shape[1:]) != tuple(self.image_shape):
                raise ValueError(
                    f"images changed shape from {tuple(self.image_shape)} to {tuple(images_t.shape[1:])} within one evaluation"
                )
            if self.recorded and self.image_shape is None:
                raise ValueError("pass images to every record() call of an evaluation, or to none")
        elif self.image_shape is not None:
            raise ValueError("pass images to every record() call of an evaluation, or to none")
        indices_t = None
        if indices is not None:
            indices_t = _as_tensor(indices, "indices").reshape(-1)
            if indices_t.numel() != count or indices_t.is_floating_point():
                raise ValueError(f"indices must be {count} integer dataset indices, got shape {tuple(indices_t.shape)}")
        return {"logits": logits, "labels": labels_t, "images": images_t, "indices": indices_t}

    @torch.no_grad()
    def add(self, batch: Dict[str, Optional[torch.Tensor]]) -> None:
        """Accumulate a batch returned by :meth:`validate`."""
        logits = batch["logits"].detach()
        device = logits.device
        count, classes = logits.shape
        if self.num_classes is None:
            self.num_classes = classes
        labels = batch["labels"].to(device=device, dtype=torch.long)
        with torch.autocast(device_type=device.type, enabled=False):
            probs = torch.softmax(logits.float(), dim=1)
        confidence, predicted = probs.max(dim=1)
        confidence = torch.nan_to_num(confidence, nan=0.0)
        cell = labels * classes + predicted
        batch_counts = torch.bincount(cell, minlength=classes * classes)
        self.counts = batch_counts if self.counts is None else self.counts + batch_counts
        self.recorded += count
        images = batch["images"]
        if images is None or count == 0:
            return
        self.image_shape = tuple(images.shape[1:])
        images = images.detach().to(device)
        indices = batch["indices"]
        indices = (
            torch.full((count,), -1, dtype=torch.long, device=device)
            if indices is None
            else indices.to(device=device, dtype=torch.long)
        )
        payload = {"images": images, "true": labels, "predicted": predicted, "index": indices}
        if self.examples_per_cell > 0:
            if self.cells is None:
                self.cells = TopKPerGroup(classes * classes, self.examples_per_cell)
            self.cells.update(cell, confidence, **payload)
        if self.max_misclassified > 0:
            if self.mistakes is None:
                self.mistakes = TopKPerGroup(1, self.max_misclassified)
            wrong_score = torch.where(predicted != labels, confidence, torch.full_like(confidence, -float("inf")))
            self.mistakes.update(torch.zeros_like(labels), wrong_score, **payload)

    def candidates(self) -> Dict[str, Dict[str, torch.Tensor]]:
        """Filled example slots on the CPU: ``{"cells": {...}, "mistakes": {...}}``."""
        return {
            "cells": self.cells.valid() if self.cells is not None else {},
            "mistakes": self.mistakes.valid() if self.mistakes is not None else {},
        }

    def matrix(self) -> Optional[torch.Tensor]:
        """``[C, C]`` counts on the CPU (rows true, columns predicted), or None."""
        if self.counts is None:
            return None
        return self.counts.reshape(self.num_classes, self.num_classes).cpu()
