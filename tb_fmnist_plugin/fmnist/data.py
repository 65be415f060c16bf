"""Where the training job's batches come from.

The real Fashion-MNIST (``torchvision.datasets.FashionMNIST``, read from the
IDX files under ``<data-dir>/FashionMNIST/raw``) or the synthetic stand-in
(:mod:`tb_fmnist_plugin.fmnist.synthetic`), and the loaders that serve both as
normalized batches, sharded over the processes of a ``torchrun`` job.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler
from torchvision.datasets import FashionMNIST

from tb_fmnist_plugin.fmnist.synthetic import CONFUSION_GROUPS, SyntheticFashionMNIST, flip_labels

__all__ = [
    "MEAN",
    "STD",
    "DatasetUnavailableError",
    "add_label_noise",
    "load_datasets",
    "load_fashion_mnist",
    "make_eval_loader",
    "make_loaders",
    "missing_data_message",
    "subset_indices",
]

#: Normalization of the reference script: ``Normalize((0.5,), (0.5,))``.
MEAN, STD = 0.5, 0.5


class DatasetUnavailableError(RuntimeError):
    """The requested dataset cannot be built (e.g. files missing, no network).

    The message is meant for the user as is; the training command prints it
    and exits with code 2.
    """


# --- Real Fashion-MNIST ----------------------------------------------------------


def missing_data_message(data_dir: Union[str, os.PathLike], reason: str = "") -> str:
    """The one message shown when real Fashion-MNIST is not available."""
    where = os.path.join(os.fspath(data_dir), "FashionMNIST", "raw")
    detail = f" ({reason})" if reason else ""
    return (
        f"Fashion-MNIST files not found in {where}{detail}. "
        "Either rerun with --download (needs network access) to fetch them there, "
        "or use --dataset synthetic for the built-in offline dataset."
    )


def load_fashion_mnist(
    data_dir: Union[str, os.PathLike],
    train: bool,
    download: bool = False,
    transform: Optional[Callable] = None,
) -> Any:
    """``torchvision.datasets.FashionMNIST`` from ``data_dir``.

    Downloads only when ``download`` is true. Raises
    :class:`DatasetUnavailableError` with a message naming both remedies when
    the files are missing or cannot be downloaded.
    """
    try:
        return FashionMNIST(os.fspath(data_dir), train=train, transform=transform, download=download)
    except RuntimeError as error:
        if download:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DatasetUnavailableError(missing_data_message(data_dir, f"download failed: {first_line}")) from None
        raise DatasetUnavailableError(missing_data_message(data_dir)) from None
    except OSError as error:  # URLError, permissions, truncated files
        reason = f"download failed: {error}" if download else str(error)
        raise DatasetUnavailableError(missing_data_message(data_dir, reason)) from None


def load_datasets(
    dataset: str,
    data_dir: Union[str, os.PathLike],
    *,
    train_size: int,
    test_size: int,
    data_seed: int = 0,
    download: bool = False,
    rank: int = 0,
    world_size: int = 1,
) -> Tuple[Any, Any]:
    """(train set, test set) of ``dataset`` (``"synthetic"`` or ``"fashion-mnist"``).

    The sizes and ``data_seed`` apply to the synthetic set. For the real one
    under ``torchrun`` (``world_size > 1``, process group initialized) only
    rank 0 downloads while the others wait. Raises
    :class:`DatasetUnavailableError` when the real files are not there.
    """
    if dataset == "synthetic":
        train = SyntheticFashionMNIST(data_dir, train=True, size=train_size, seed=data_seed)
        test = SyntheticFashionMNIST(data_dir, train=False, size=test_size, seed=data_seed)
        return train, test
    first_error: Optional[DatasetUnavailableError] = None
    if world_size > 1 and download:
        if rank == 0:
            try:
                load_fashion_mnist(data_dir, True, download=True)
                load_fashion_mnist(data_dir, False, download=True)
            except DatasetUnavailableError as error:
                first_error = error
        torch.distributed.barrier()
        if first_error is not None:
            raise first_error
    train = load_fashion_mnist(data_dir, True, download=download)
    test = load_fashion_mnist(data_dir, False, download=download)
    return train, test


# --- Batches -----------------------------------------------------------------------


class _BatchView(torch.utils.data.Dataset):
    """Serves whole batches from a dataset's ``.data``/``.targets`` tensors.

    Indexed with a list of indices, returns ``(images, labels, indices)``:
    images ``float32 [B, 1, 28, 28]`` computed exactly as
    ``ToTensor()`` then ``Normalize((0.5,), (0.5,))`` would, without building a
    PIL image per item (several times faster on a CPU).
    """

    def __init__(self, data: torch.Tensor, targets: torch.Tensor) -> None:
        self.data = data
        self.targets = torch.as_tensor(targets, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.data[index].unsqueeze(1).to(torch.float32).div(255)
        images = images.sub_(MEAN).div_(STD)
        return images, self.targets[index], index


class _ShardSampler(torch.utils.data.Sampler):
    """Every ``world_size``-th of ``indices`` from position ``rank``: every
    example on exactly one rank (``DistributedSampler`` would pad with
    duplicates, which would count some test images twice in the confusion
    matrix)."""

    def __init__(self, indices: Sequence[int], rank: int, world_size: int) -> None:
        self.indices = list(indices)[rank::world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loaders(
    train_set: Any,
    test_set: Any,
    *,
    batch_size: int,
    seed: int = 0,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Tuple[DataLoader, DataLoader, Any]:
    """(train loader, test loader, train sampler); each loader yields
    ``(images, labels, indices)`` batches.

    Training batches are shuffled with ``seed`` (with ``DistributedSampler``
    when ``world_size > 1``; call its ``set_epoch`` every epoch); the test set
    is split so that every image is evaluated on exactly one rank.
    """
    train_view = _BatchView(train_set.data, train_set.targets)
    if world_size > 1:
        sampler: Any = DistributedSampler(train_view, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    else:
        sampler = RandomSampler(train_view, generator=torch.Generator().manual_seed(seed))
    common = dict(batch_size=None, num_workers=num_workers, persistent_workers=num_workers > 0)
    train_loader = DataLoader(train_view, sampler=BatchSampler(sampler, batch_size, drop_last=False), **common)
    test_loader = make_eval_loader(
        test_set, range(len(test_set)), batch_size=batch_size, num_workers=num_workers, rank=rank, world_size=world_size
    )
    return train_loader, test_loader, sampler


def make_eval_loader(
    dataset: Any,
    indices: Sequence[int],
    *,
    batch_size: int,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> DataLoader:
    """Evaluation batches ``(images, labels, dataset indices)`` of the
    examples at ``indices`` of ``dataset``, in order, each on exactly one rank."""
    view = _BatchView(dataset.data, dataset.targets)
    sampler = _ShardSampler(indices, rank, world_size)
    return DataLoader(
        view, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None,
        num_workers=num_workers, persistent_workers=num_workers > 0,
    )


def subset_indices(size: int, count: int, seed: int = 0) -> np.ndarray:
    """``min(count, size)`` distinct indices of ``range(size)``, ascending,
    drawn with ``seed``: a fixed subset (e.g. of the training set, evaluated
    every epoch next to the test set)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 4])))
    return np.sort(rng.choice(size, size=min(int(count), size), replace=False))


def add_label_noise(dataset: Any, fraction: float, seed: int = 0) -> Dict[str, Any]:
    """Flip a fraction of ``dataset.targets`` in place, within the confusion
    groups (:func:`~tb_fmnist_plugin.fmnist.synthetic.flip_labels`); returns
    the record of what was flipped (dataset indices, original and noisy
    labels), JSON-ready. Raises ``ValueError`` for an impossible fraction."""
    original = torch.as_tensor(dataset.targets).numpy().astype(np.int64)
    noisy, flipped = flip_labels(original, fraction, seed)
    dataset.targets = torch.from_numpy(noisy)
    return {
        "fraction": float(fraction),
        "seed": int(seed),
        "groups": [list(group) for group in CONFUSION_GROUPS],
        "count": int(flipped.size),
        "indices": flipped.tolist(),
        "original": original[flipped].tolist(),
        "noisy": noisy[flipped].tolist(),
    }
