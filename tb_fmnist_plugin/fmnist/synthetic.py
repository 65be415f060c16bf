"""The synthetic Fashion-MNIST: a procedural, offline stand-in for the real one.

:class:`SyntheticFashionMNIST` holds 28x28 grayscale silhouettes of the ten
Fashion-MNIST classes, drawn by :mod:`tb_fmnist_plugin.fmnist.drawing`, so the
training job, its tests and the README's quick start run on a machine with no
network. It has the same API and tensor format as
:class:`torchvision.datasets.FashionMNIST` (``.data`` uint8 ``[N, 28, 28]``,
``.targets`` int64 ``[N]``, ``.classes``, items are ``(PIL image, int)`` before
transforms), is deterministic for a seed, and is generated in vectorized
batches (tens of thousands of images per second on one core) and cached in
memory and, given a ``root``, on disk.

The classes that confuse people and models on the real data are designed to
be close here too (:data:`CONFUSION_GROUPS`): the tops share one
torso-and-sleeves generator whose parameter ranges overlap, and the footwear
one sole-and-upper generator.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image
from torchvision.datasets import VisionDataset

from tb_fmnist_plugin.fmnist.drawing import FOOTWEAR, GENERATOR_VERSION, IMAGE_SIZE, TOPS, render_class
from tb_fmnist_plugin.format.checks import check_int

__all__ = [
    "CLASSES",
    "CONFUSION_GROUPS",
    "GENERATOR_VERSION",
    "SyntheticFashionMNIST",
    "flip_labels",
    "generate_synthetic",
]

#: The Fashion-MNIST class names, in label order.
CLASSES: List[str] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

#: Groups of labels drawn to be close to each other (the same generator with
#: overlapping parameters), as they are hard to tell apart in the real data.
CONFUSION_GROUPS: List[Tuple[int, ...]] = [TOPS, FOOTWEAR]

_CHUNK = 2048
_DEFAULT_SIZES = {True: 60_000, False: 10_000}

_memory_cache: Dict[Tuple[int, int, bool, int], Tuple[np.ndarray, np.ndarray]] = {}
_memory_lock = threading.Lock()


def _split_id(train: bool) -> int:
    return 1 if train else 2


#: Random stream of :func:`flip_labels`, apart from the images' streams.
_NOISE_STREAM = 3


def flip_labels(
    labels: np.ndarray,
    fraction: float,
    seed: int = 0,
    groups: Sequence[Sequence[int]] = CONFUSION_GROUPS,
) -> Tuple[np.ndarray, np.ndarray]:
    """Flip ``round(fraction * len(labels))`` labels, each to another class of
    its confusion group: ``(noisy labels, flipped positions ascending)``.

    Label noise where it is hardest to tell from model error (a Shirt labeled
    T-shirt/top), with the ground truth known, so label-error detection can
    be shown and tested. Only labels in a group of two or more classes can be
    flipped; the positions and new labels are drawn uniformly, deterministic
    in ``(labels, fraction, seed)``. Raises ``ValueError`` for a fraction
    outside [0, 1] or one asking for more flips than there are eligible labels.
    """
    labels = np.asarray(labels, dtype=np.int64)
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"label noise must be a fraction in [0, 1], got {fraction}")
    group_of = {label: tuple(group) for group in groups if len(group) > 1 for label in group}
    eligible = np.flatnonzero(np.isin(labels, list(group_of)))
    count = int(round(fraction * labels.size))
    if count > eligible.size:
        raise ValueError(
            f"label noise {fraction} asks for {count} flipped labels, but only {eligible.size} of {labels.size} "
            f"labels are in a confusion group (at most {eligible.size / max(1, labels.size):.3f})"
        )
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _NOISE_STREAM])))
    flipped = np.sort(rng.choice(eligible, size=count, replace=False))
    noisy = labels.copy()
    shifts = rng.integers(1, 1 << 30, size=count)
    for position, shift in zip(flipped.tolist(), shifts.tolist()):
        group = group_of[int(labels[position])]
        own = group.index(int(labels[position]))
        noisy[position] = group[(own + 1 + shift % (len(group) - 1)) % len(group)]
    return noisy, flipped


def generate_synthetic(size: int, seed: int = 0, train: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Generate ``size`` images: ``(uint8 [size, 28, 28], int64 [size])``.

    Deterministic in ``(size, seed, train)``; the training and test splits of
    one seed are drawn from different random streams. Classes are balanced
    (to within one image) and in random order. Work is done in chunks of a few
    thousand images, each class of a chunk drawn in one vectorized batch.
    """
    size = check_int(size, "size", minimum=0)
    root = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _split_id(train), GENERATOR_VERSION])
    label_seq, draw_seq = root.spawn(2)
    labels = np.arange(size, dtype=np.int64) % len(CLASSES)
    np.random.Generator(np.random.PCG64(label_seq)).shuffle(labels)
    images = np.empty((size, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    chunk_seqs = draw_seq.spawn((size + _CHUNK - 1) // _CHUNK)
    for k, chunk_seq in enumerate(chunk_seqs):
        rng = np.random.Generator(np.random.PCG64(chunk_seq))
        start = k * _CHUNK
        chunk_labels = labels[start:start + _CHUNK]
        for label in range(len(CLASSES)):
            where = np.flatnonzero(chunk_labels == label)
            if where.size:
                images[start + where] = render_class(label, where.size, rng)
    return images, labels


def _cache_path(root: Union[str, os.PathLike], size: int, seed: int, train: bool) -> str:
    split = "train" if train else "test"
    return os.path.join(
        os.fspath(root), "SyntheticFashionMNIST", f"v{GENERATOR_VERSION}", f"{split}-n{size}-seed{seed}.npz"
    )


def _load_cached(path: str, size: int) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    try:
        with np.load(path) as archive:
            images, labels = archive["data"], archive["targets"]
            digest = str(archive["sha1"])
    except (OSError, KeyError, ValueError):
        return None
    if images.shape != (size, IMAGE_SIZE, IMAGE_SIZE) or images.dtype != np.uint8 or labels.shape != (size,):
        return None
    if hashlib.sha1(images.tobytes() + labels.astype(np.int64).tobytes()).hexdigest() != digest:
        return None
    return images, labels.astype(np.int64)


def _store_cached(path: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Write atomically; a read-only or full disk only costs the cache."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        digest = hashlib.sha1(images.tobytes() + labels.tobytes()).hexdigest()
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, data=images, targets=labels, sha1=np.array(digest))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


class SyntheticFashionMNIST(VisionDataset):
    """Procedural stand-in for Fashion-MNIST with the same API and format.

    Args:
      root: directory for the on-disk cache (``<root>/SyntheticFashionMNIST/``);
        ``None`` keeps the images in memory only.
      train: the training split (default size 60,000) or the test split
        (10,000); the two are drawn from different random streams.
      transform, target_transform: applied to the PIL image / the int label,
        as in torchvision.
      size: number of images (default: 60,000 for train, 10,000 for test).
      seed: generator seed; equal arguments give identical images.
      cache: reuse images generated earlier in this process or on disk.
    """

    classes = list(CLASSES)

    def __init__(
        self,
        root: Optional[Union[str, os.PathLike]] = None,
        train: bool = True,
        transform: Optional[Callable] = None,
        target_transform: Optional[Callable] = None,
        size: Optional[int] = None,
        seed: int = 0,
        cache: bool = True,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = bool(train)
        self.size = check_int(_DEFAULT_SIZES[self.train] if size is None else size, "size", minimum=1)
        self.seed = int(seed)
        images, labels = self._build(cache)
        self.data = torch.from_numpy(images)
        self.targets = torch.from_numpy(labels)

    def _build(self, cache: bool) -> Tuple[np.ndarray, np.ndarray]:
        key = (self.size, self.seed, self.train, GENERATOR_VERSION)
        if cache:
            with _memory_lock:
                hit = _memory_cache.get(key)
            if hit is not None:
                return hit[0].copy(), hit[1].copy()
        path = _cache_path(self.root, self.size, self.seed, self.train) if (cache and self.root is not None) else None
        result = _load_cached(path, self.size) if path else None
        if result is None:
            result = generate_synthetic(self.size, self.seed, self.train)
            if path:
                _store_cached(path, *result)
        if cache:
            with _memory_lock:
                _memory_cache[key] = result
            return result[0].copy(), result[1].copy()
        return result

    @property
    def class_to_idx(self) -> Dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        """``(image, target)``: a PIL ``L`` image (or ``transform`` of it) and an int."""
        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}\nSeed: {self.seed}\nGenerator version: {GENERATOR_VERSION}"
