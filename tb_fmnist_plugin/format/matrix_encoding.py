"""A confusion matrix value's encoding: the two stored layouts, and the check
a reader applies to an untrusted value before decoding it.

The matrix kind's metadata is in :mod:`tb_fmnist_plugin.format.metadata`,
which re-exports every name here.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

#: Largest count, and largest total of one matrix's counts (int64).
MAX_COUNT = 2**63 - 1

# --- Matrix value encoding -------------------------------------------------
#
# A matrix is stored in whichever of two layouts is smaller, distinguished by
# rank so a reader needs nothing but the tensor and ``num_classes``:
#   dense : rank 2, shape [n, n], counts in row-major order;
#   sparse: rank 1, shape [2 * nnz], pairs (row * n + col, count) of the
#           non-zero cells in increasing flat-index order.
# The dtype is the narrowest of int32/int64 that holds every value.


def encode_matrix(matrix: np.ndarray) -> np.ndarray:
    """Encode a validated non-negative ``int64`` square matrix for storage."""
    n = matrix.shape[0]
    flat = matrix.reshape(-1)
    nonzero = np.flatnonzero(flat)
    if 2 * nonzero.size < flat.size:
        encoded = np.empty(2 * nonzero.size, dtype=np.int64)
        encoded[0::2] = nonzero
        encoded[1::2] = flat[nonzero]
    else:
        encoded = matrix
    limit = np.iinfo(np.int32).max
    if encoded.size == 0 or (int(encoded.max()) <= limit and n * n <= limit):
        return encoded.astype(np.int32)
    return encoded.astype(np.int64)


def counts_problem(counts: np.ndarray) -> Optional[str]:
    """Why an integer array cannot be the counts of one matrix, or None.

    The one check of count values, for the writer and the reader: counts are
    non-negative and at most :data:`MAX_COUNT`, and so is their total (every
    sum a reader shows, support, predicted or total, is then exact in int64).
    """
    if counts.size == 0:
        return None
    if counts.dtype.kind == "i" and int(counts.min()) < 0:
        return "it holds negative counts"
    if counts.dtype.kind == "u" and int(counts.max()) > MAX_COUNT:
        return "it holds counts above 2**63 - 1"
    # a float total below 2**62 is far from the limit; above it, sum exactly
    if float(counts.sum(dtype=np.float64)) >= 2.0**62 and sum(counts.reshape(-1).tolist()) > MAX_COUNT:
        return "its counts sum to more than 2**63 - 1"
    return None


def matrix_value_problem(value: Any, num_classes: int) -> Optional[str]:
    """Why a stored value is not a matrix of ``num_classes`` classes in one
    of the two layouts above, or None: integer dtype, dense shape or sparse
    pairs with in-range, strictly ascending indices, and valid counts
    (:func:`counts_problem`)."""
    value = np.asarray(value)
    n = int(num_classes)
    if value.dtype.kind not in "iu":
        return f"its values are {value.dtype}, not integer counts"
    if value.ndim == 2:
        if value.shape != (n, n):
            return f"its shape {value.shape} does not match {n} classes"
        return counts_problem(value)
    if value.ndim != 1 or value.size % 2:
        return f"its shape {value.shape} is neither [{n}, {n}] nor sparse pairs"
    index = value[0::2]
    if index.size and (int(index.min()) < 0 or int(index.max()) >= n * n):
        return "a sparse index is out of range"
    if not (np.diff(index.astype(np.int64)) > 0).all():
        return "its sparse indices are not strictly ascending"
    return counts_problem(value[1::2])


def decode_matrix(value: np.ndarray, num_classes: int, *, checked: bool = False) -> np.ndarray:
    """Decode a stored matrix value into a dense ``int64`` ``[n, n]`` array;
    ``ValueError`` (saying what is wrong, :func:`matrix_value_problem`) if it
    is none. ``checked``: the value already passed that check."""
    value = np.asarray(value)
    problem = None if checked else matrix_value_problem(value, num_classes)
    if problem is not None:
        raise ValueError(problem)
    n = int(num_classes)
    if value.ndim == 2:
        return value.astype(np.int64)
    dense = np.zeros(n * n, dtype=np.int64)
    dense[value[0::2].astype(np.int64)] = value[1::2]
    return dense.reshape(n, n)


def matrix_cells(value: np.ndarray, num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(flat index row * n + col, count)`` of the cells of a stored value
    that passed :func:`matrix_value_problem`, flat index ascending (zero
    cells may be left out), without building the dense matrix."""
    if value.ndim == 2:
        return np.arange(value.size), value.reshape(-1)
    return value[0::2], value[1::2]
