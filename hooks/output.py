"""Batching one logging step's scalars, histograms and images into a single event.

A ``SummaryWriter`` writes one event per ``add_scalar``/``add_histogram_raw``
call; a logging step has about a hundred of them. With a real SummaryWriter
(one with a file writer, :func:`~tb_fmnist_plugin.format.events.file_writer_of`)
the values are collected into one ``Summary`` and written once; any other
writer gets the public ``add_*`` calls.
"""
from __future__ import annotations

import io
from typing import Any, List, Sequence

import numpy as np
from tensorboard.compat.proto.summary_pb2 import Summary
from torch.utils.tensorboard import summary as tb_summary

from tb_fmnist_plugin.format.events import file_writer_of


class StepWriter:
    """Collects the values of one step; :meth:`close` writes them."""

    def __init__(self, writer: Any, step: int) -> None:
        self.writer = writer
        self.step = step
        self.file_writer = file_writer_of(writer)
        self.batched = self.file_writer is not None
        self.values: List[Any] = []

    def scalar(self, tag: str, value: float) -> None:
        if self.batched:
            self.values.extend(tb_summary.scalar(tag, float(value)).value)
        else:
            self.writer.add_scalar(tag, value, self.step)

    def histogram(
        self,
        tag: str,
        min: float,
        max: float,
        num: float,
        sum: float,
        sum_squares: float,
        bucket_limits: Sequence[float],
        bucket_counts: Sequence[float],
    ) -> None:
        if self.batched:
            self.values.extend(
                tb_summary.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts).value
            )
        else:
            self.writer.add_histogram_raw(
                tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts, global_step=self.step
            )

    def image(self, tag: str, pixels: np.ndarray, *, png_level: int = 6) -> None:
        """A ``uint8`` ``[H, W, C]`` image (C = 1, 3 or 4), PNG-encoded here at
        zlib level ``png_level`` (``add_image``'s is 6; any other writer gets ``add_image``)."""
        if not self.batched:
            self.writer.add_image(tag, pixels, self.step, dataformats="HWC")
            return
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="PNG", compress_level=png_level)
        image = Summary.Image(height=pixels.shape[0], width=pixels.shape[1], colorspace=pixels.shape[2],
                              encoded_image_string=buffer.getvalue())
        self.values.append(Summary.Value(tag=tag, image=image))

    def close(self) -> None:
        if self.values:
            values, self.values = self.values, []
            self.file_writer.add_summary(Summary(value=values), self.step)
