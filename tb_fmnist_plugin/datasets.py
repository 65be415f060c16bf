"""Datasets for the training command: an embedded synthetic Fashion-MNIST and
the real one from torchvision.

:class:`SyntheticFashionMNIST` draws 28x28 grayscale silhouettes of the ten
Fashion-MNIST classes procedurally, so the training job, its tests and the
README's quick start run on a machine with no network. It has the same API and
tensor format as :class:`torchvision.datasets.FashionMNIST` (``.data`` uint8
``[N, 28, 28]``, ``.targets`` int64 ``[N]``, ``.classes``, items are
``(PIL image, int)`` before transforms), is deterministic for a seed, and is
generated in vectorized batches (tens of thousands of images per second on one
core) and cached in memory and, given a ``root``, on disk.

The classes that confuse people and models on the real data are designed to
be close here too: the tops (T-shirt/top, Pullover, Coat, Shirt) share one
torso-and-sleeves generator whose parameter ranges overlap, and the footwear
(Sandal, Sneaker, Ankle boot) share one sole-and-upper generator.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torchvision.datasets import VisionDataset

__all__ = [
    "CLASSES",
    "CONFUSION_GROUPS",
    "SyntheticFashionMNIST",
    "DatasetUnavailableError",
    "generate_synthetic",
    "load_fashion_mnist",
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
CONFUSION_GROUPS: List[Tuple[int, ...]] = [(0, 2, 4, 6), (5, 7, 9)]

#: Bumped whenever the drawing changes, so disk caches of older drawings are
#: never reused.
GENERATOR_VERSION = 1

_SIZE = 28
_CHUNK = 2048
_DEFAULT_SIZES = {True: 60_000, False: 10_000}

_memory_cache: Dict[Tuple[int, int, bool, int], Tuple[np.ndarray, np.ndarray]] = {}
_memory_lock = threading.Lock()


class DatasetUnavailableError(RuntimeError):
    """The requested dataset cannot be built (e.g. files missing, no network).

    The message is meant for the user as is; the training command prints it
    and exits with code 2.
    """


# --- Drawing -----------------------------------------------------------------
#
# Every image is drawn in its own normalized frame (u to the right, v down,
# the garment roughly inside [-1, 1]^2), placed with a random center, size,
# aspect and rotation. Shapes are unions/intersections of simple regions,
# combined as approximate signed distances (positive inside): union = max,
# intersection = min, cut-out = min(a, -b). The distance becomes a soft-edged
# mask; texture, shading, an outline stroke and noise are applied on top.


def _box(u: np.ndarray, v: np.ndarray, x0: Any, x1: Any, y0: Any, y1: Any) -> np.ndarray:
    """Signed distance (approximate) of the box [x0, x1] x [y0, y1]."""
    return np.minimum(np.minimum(u - x0, x1 - u), np.minimum(v - y0, y1 - v))


def _uniform(rng: np.random.Generator, low: float, high: float, n: int) -> np.ndarray:
    return rng.uniform(low, high, (n, 1, 1)).astype(np.float32)


def _chance(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    return (rng.random((n, 1, 1)) < p).astype(np.float32)


def _mix(flag: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` where ``flag`` is 1, ``b`` where it is 0 (per image)."""
    return flag * a + (1.0 - flag) * b


class _Parts:
    """What a class drawer returns: the shape and multiplicative shading."""

    __slots__ = ("sd", "shade")

    def __init__(self, sd: np.ndarray, shade: Union[np.ndarray, float] = 1.0) -> None:
        self.sd = sd
        self.shade = shade


def _draw_top(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int, kind: int) -> _Parts:
    """T-shirt/top (0), Pullover (2), Coat (4) and Shirt (6): one generator.

    A torso, two sleeves, a neck cut-out, and optionally a collar, a center
    placket line, a waistband and pockets. The classes differ in the ranges
    of sleeve length, body length and width and in how likely each detail
    is; the ranges overlap, as the real classes do.
    """
    au = np.abs(u)
    top = np.float32(-0.85)
    if kind == 0:  # T-shirt/top: short sleeves, plain round neck
        long = np.zeros((n, 1, 1), np.float32)
        sleeve = _uniform(rng, 0.22, 0.55, n)
        bottom = _uniform(rng, 0.78, 0.95, n)
        width = _uniform(rng, 0.48, 0.62, n)
        collar, placket, band, pocket = 0.05, 0.05, 0.15, 0.0
        placket_depth = (0.05, 0.2)
    elif kind == 2:  # Pullover: long sleeves, round neck, ribbed band
        long = np.ones((n, 1, 1), np.float32)
        sleeve = _uniform(rng, 1.15, 1.65, n)
        bottom = _uniform(rng, 0.78, 0.95, n)
        width = _uniform(rng, 0.48, 0.62, n)
        collar, placket, band, pocket = 0.05, 0.05, 0.6, 0.05
        placket_depth = (0.05, 0.2)
    elif kind == 4:  # Coat: long sleeves, longer and wider body, strong placket
        long = np.ones((n, 1, 1), np.float32)
        sleeve = _uniform(rng, 1.3, 1.75, n)
        bottom = _uniform(rng, 0.88, 0.98, n)
        width = _uniform(rng, 0.54, 0.68, n)
        collar, placket, band, pocket = 0.5, 0.8, 0.15, 0.4
        placket_depth = (0.2, 0.6)
    else:  # Shirt: sleeves long or short, collar, faint placket, patterns
        long = _chance(rng, 0.7, n)
        sleeve = _mix(long, _uniform(rng, 1.05, 1.6, n), _uniform(rng, 0.3, 0.6, n))
        bottom = _uniform(rng, 0.8, 0.97, n)
        width = _uniform(rng, 0.48, 0.64, n)
        collar, placket, band, pocket = 0.8, 0.7, 0.1, 0.2
        placket_depth = (0.15, 0.45)
    # Sleeve width: short sleeves stick out, long ones hang along the body.
    sleeve_w = _mix(long, _uniform(rng, 0.22, 0.34, n), _uniform(rng, 0.25, 0.4, n))
    flare = _mix(long, _uniform(rng, -0.08, 0.05, n), _uniform(rng, 0.05, 0.25, n))
    torso = _box(au, v, -1.0, width, top, bottom)
    outer = width + sleeve_w + flare * (v - top)
    arm = np.minimum(np.minimum(au - (width - 0.1), outer - au), np.minimum(v - (top + 0.03), top + sleeve - v))
    # Thin dark gap between a long sleeve and the body, below the armpit.
    gap_w = _uniform(rng, 0.0, 0.07, n) * long
    gap = np.minimum(np.minimum(au - width, width + gap_w - au), v - (top + 0.45))
    shape = np.maximum(torso, arm)
    shape = np.minimum(shape, -gap)
    # Neck: round (parabola) to V (linear) cut-out.
    neck_w = _uniform(rng, 0.16, 0.3, n)
    neck_d = _uniform(rng, 0.08, 0.25, n)
    vee = _uniform(rng, 0.0, 1.0, n) * _chance(rng, 0.5 if kind in (4, 6) else 0.2, n)
    r = au / neck_w
    depth = neck_d * ((1.0 - vee) * (1.0 - r * r) + vee * (1.0 - r))
    neck = np.minimum(top + depth - v, neck_w - au)
    shape = np.minimum(shape, -neck)
    shade = np.ones_like(u)
    # Collar: a bright band just around the neck line.
    has_collar = _chance(rng, collar, n)
    collar_band = np.clip(1.0 - np.abs(neck + 0.06) / 0.06, 0.0, 1.0) * (au < neck_w + 0.12)
    shade = shade + has_collar * 0.35 * collar_band
    # Placket: a darker vertical line down the center.
    has_placket = _chance(rng, placket, n) * _uniform(rng, *placket_depth, n)
    line_w = _uniform(rng, 0.03, 0.07, n)
    shade = shade - has_placket * (au < line_w) * (v > top + neck_d * 0.8)
    # Waistband / cuffs: a darker strip at the bottom.
    has_band = _chance(rng, band, n) * _uniform(rng, 0.15, 0.35, n)
    shade = shade - has_band * (v > bottom - 0.12)
    # Pockets: two darker squares on the lower body.
    has_pocket = _chance(rng, pocket, n) * _uniform(rng, 0.15, 0.35, n)
    shade = shade - has_pocket * (_box(au, v, 0.15, 0.42, 0.35, 0.6) > 0)
    return _Parts(shape, shade)


def _draw_trouser(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int) -> _Parts:
    """Two long legs joined by a waist."""
    au = np.abs(u)
    width = _uniform(rng, 0.3, 0.45, n)
    gap = _uniform(rng, 0.015, 0.08, n)
    crotch = _uniform(rng, -0.6, -0.3, n)
    flare = _uniform(rng, -0.05, 0.1, n)
    outer = width + flare * (v + 1.0) * 0.5
    legs = np.minimum(np.minimum(au - gap, outer - au), np.minimum(v + 0.97, 0.97 - v))
    waist = np.minimum(width - au, np.minimum(v + 0.97, crotch - v))
    shade = 1.0 - _uniform(rng, 0.0, 0.25, n) * (v < -0.85)
    return _Parts(np.maximum(legs, waist), shade)


def _draw_dress(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int) -> _Parts:
    """A narrow bodice, a waist and a flared skirt, with optional short sleeves."""
    au = np.abs(u)
    top_w = _uniform(rng, 0.2, 0.34, n)
    waist = _uniform(rng, -0.35, 0.0, n)
    flare = _uniform(rng, 0.2, 0.55, n)
    half = top_w + flare * np.maximum(v - waist, 0.0)
    body = np.minimum(half - au, np.minimum(v + 0.95, 0.97 - v))
    sleeves = _chance(rng, 0.35, n)
    arm = _box(au, v, top_w - 0.05, top_w + _uniform(rng, 0.12, 0.25, n), -0.95, _uniform(rng, -0.75, -0.55, n))
    shape = np.maximum(body, arm - 2.0 * (1.0 - sleeves))
    neck_w = _uniform(rng, 0.08, 0.2, n)
    neck = np.minimum(-0.95 + _uniform(rng, 0.05, 0.2, n) - v, neck_w - au)
    shade = 1.0 - _uniform(rng, 0.0, 0.3, n) * (np.abs(v - waist) < 0.05)
    return _Parts(np.minimum(shape, -neck), shade)


def _draw_bag(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int) -> _Parts:
    """A wide body with an optional handle arc or strap on top."""
    au = np.abs(u)
    width = _uniform(rng, 0.6, 0.95, n)
    body_top = _uniform(rng, -0.45, -0.1, n)
    body = _box(au, v, -1.0, width, body_top, _uniform(rng, 0.6, 0.85, n))
    radius = _uniform(rng, 0.25, 0.6, n)
    thick = _uniform(rng, 0.05, 0.12, n)
    dv = v - body_top
    ring = thick - np.abs(np.sqrt(u * u + dv * dv) - radius)
    handle = np.minimum(ring, -dv) - 2.0 * (1.0 - _chance(rng, 0.75, n))
    flap = _chance(rng, 0.4, n) * _uniform(rng, 0.15, 0.35, n)
    shade = 1.0 - flap * (np.abs(v - body_top - 0.35) < 0.04)
    return _Parts(np.maximum(body, handle), shade)


def _draw_footwear(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int, kind: int) -> _Parts:
    """Sandal (5), Sneaker (7) and Ankle boot (9): one generator, side view.

    A sole along the bottom, a foot upper that slopes down toward the toe
    (pointing right) and a shaft at the heel. Sneakers have a solid low
    upper (some are high-tops), boots a tall shaft and often a heel, sandals
    an upper cut into straps; the ranges overlap.
    """
    sole_bot = _uniform(rng, 0.35, 0.55, n)
    sole_top = sole_bot - _uniform(rng, 0.08, 0.2, n)
    if kind == 7:  # Sneaker
        height = _uniform(rng, 0.45, 0.75, n)
        shaft = _chance(rng, 0.15, n) * _uniform(rng, 0.75, 1.0, n)
        heel = _chance(rng, 0.05, n)
        straps = np.ones((n, 1, 1), np.float32)
    elif kind == 9:  # Ankle boot
        height = _uniform(rng, 0.45, 0.75, n)
        shaft = _uniform(rng, 0.95, 1.4, n)
        heel = _chance(rng, 0.5, n)
        straps = _uniform(rng, 0.85, 1.0, n)
    else:  # Sandal
        height = _uniform(rng, 0.3, 0.65, n)
        shaft = _chance(rng, 0.25, n) * _uniform(rng, 0.6, 1.1, n)
        heel = _chance(rng, 0.4, n)
        straps = _uniform(rng, 0.35, 0.85, n)
    heel_h = heel * _uniform(rng, 0.1, 0.3, n)
    slope = _uniform(rng, 0.12, 0.3, n)
    # The sole rises at the heel (a heel block) and curves up at the toe.
    toe_curve = np.maximum(u - 0.6, 0.0) * 0.8
    heel_lift = heel_h * (u < -0.35)
    sole = _box(u, v, -0.95, 0.95, sole_top - heel_lift + toe_curve, sole_bot - toe_curve * 0.5)
    heel_block = np.minimum(_box(u, v, -0.9, -0.55, sole_top - heel_lift, sole_bot), heel_h - 0.01)
    toe = np.maximum(u - 0.5, 0.0)
    upper_top = sole_top - height + slope * (u + 0.9) + 1.5 * toe * toe
    upper = _box(u, v, -0.92, 0.9, upper_top, sole_top + 0.02)
    shaft_box = _box(u, v, -0.92, -0.92 + _uniform(rng, 0.55, 0.85, n), sole_top - shaft, sole_top)
    foot = np.maximum(upper, shaft_box - 2.0 * (shaft <= 0))
    # Straps: diagonal bands cut out of the upper; 'straps' is the fraction kept.
    freq = _uniform(rng, 3.0, 5.0, n)
    phase = _uniform(rng, 0.0, 1.0, n)
    t = (u + 0.6 * v) * freq + phase
    band = np.abs(t - np.floor(t) - 0.5) * 2.0  # 0 at a strap center, 1 between
    cut = (band - straps) * (0.5 / freq)
    foot = np.minimum(foot, -cut)
    shape = np.maximum(np.maximum(sole, foot), heel_block)
    shade = 1.0 + _uniform(rng, -0.35, 0.3, n) * (sole > 0)
    return _Parts(shape, shade)


def _texture_bank(count: int = 64) -> np.ndarray:
    """Multiplicative textures ``[count, 28, 28]`` near 1: plain, stripes,
    checks, knit and gradients. Fixed (part of :data:`GENERATOR_VERSION`)."""
    rng = np.random.Generator(np.random.PCG64(20240 + GENERATOR_VERSION))
    y, x = np.mgrid[0:_SIZE, 0:_SIZE].astype(np.float32)
    bank = np.ones((count, _SIZE, _SIZE), np.float32)
    for i in range(count):
        kind = i % 8
        period = rng.uniform(2.5, 6.0)
        amp = rng.uniform(0.1, 0.3)
        angle = rng.uniform(0, np.pi)
        if kind in (1, 2):  # stripes
            coord = x * np.cos(angle) + y * np.sin(angle)
            bank[i] = 1.0 - amp * (np.sin(coord * 2 * np.pi / period) > 0)
        elif kind == 3:  # checks
            a = np.sin(x * 2 * np.pi / period) > 0
            b = np.sin(y * 2 * np.pi / period) > 0
            bank[i] = 1.0 - amp * (a ^ b)
        elif kind == 4:  # knit: fine noise
            bank[i] = 1.0 - amp * rng.random((_SIZE, _SIZE))
        elif kind == 5:  # soft gradient (lighting)
            coord = (x * np.cos(angle) + y * np.sin(angle)) / _SIZE
            bank[i] = 1.0 - amp * (coord - coord.min())
        elif kind == 6:  # blotchy print
            coarse = rng.random((7, 7)).astype(np.float32)
            bank[i] = 1.0 - amp * np.kron(coarse, np.ones((4, 4), np.float32))
        # kinds 0 and 7: plain
    return bank


_TEXTURES = _texture_bank()
_PATTERNED = np.flatnonzero(np.isin(np.arange(len(_TEXTURES)) % 8, (1, 2, 3)))
_NOISE = np.random.Generator(np.random.PCG64(7919 + GENERATOR_VERSION)).standard_normal(
    (256, _SIZE, _SIZE), dtype=np.float32
)
_GRID_Y, _GRID_X = (g.astype(np.float32)[None] for g in np.mgrid[0:_SIZE, 0:_SIZE])

#: Per class: (half-size range in pixels, aspect (width / height) range).
_FRAMES = {
    0: ((11.0, 13.5), (0.95, 1.1)),
    1: ((11.5, 13.5), (0.8, 1.0)),
    2: ((11.0, 13.5), (0.95, 1.1)),
    3: ((11.0, 13.5), (0.85, 1.05)),
    4: ((11.5, 13.5), (0.95, 1.1)),
    5: ((11.5, 13.5), (1.0, 1.15)),
    6: ((11.0, 13.5), (0.95, 1.1)),
    7: ((11.5, 13.5), (1.0, 1.15)),
    8: ((11.0, 13.5), (0.95, 1.1)),
    9: ((11.5, 13.5), (1.0, 1.15)),
}


def _render_class(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` images of class ``label`` as uint8 ``[n, 28, 28]``."""
    (s_lo, s_hi), (a_lo, a_hi) = _FRAMES[label]
    size = _uniform(rng, s_lo, s_hi, n)
    aspect = _uniform(rng, a_lo, a_hi, n)
    cx = _uniform(rng, 12.0, 15.0, n)
    cy = _uniform(rng, 12.0, 15.0, n)
    angle = _uniform(rng, -0.12, 0.12, n)
    cos, sin = np.cos(angle), np.sin(angle)
    dx = _GRID_X - cx
    dy = _GRID_Y - cy
    u = (cos * dx + sin * dy) / (size * aspect)
    v = (cos * dy - sin * dx) / size
    if label in (0, 2, 4, 6):
        parts = _draw_top(u, v, rng, n, label)
    elif label == 1:
        parts = _draw_trouser(u, v, rng, n)
    elif label == 3:
        parts = _draw_dress(u, v, rng, n)
    elif label == 8:
        parts = _draw_bag(u, v, rng, n)
    else:
        parts = _draw_footwear(u, v, rng, n, label)
    # Soft edge of 0.6-1.6 px, then an outline stroke brighter or darker.
    sd_px = parts.sd * size
    softness = _uniform(rng, 0.6, 1.6, n)
    mask = np.minimum(np.maximum(sd_px * (1.0 / softness) + 0.5, 0.0), 1.0)
    stroke_w = _uniform(rng, 0.6, 1.8, n)
    stroke_gain = _uniform(rng, -0.35, 0.35, n)
    stroke = np.maximum(1.0 - np.abs(sd_px - stroke_w) * (1.0 / stroke_w), 0.0)
    pick = rng.integers(0, len(_TEXTURES), n)
    if label == 6:  # shirts are often striped or checked
        patterned = rng.random(n) < 0.5
        pick[patterned] = _PATTERNED[rng.integers(0, len(_PATTERNED), int(patterned.sum()))]
    texture = _TEXTURES[pick]
    brightness = _uniform(rng, 0.35, 1.0, n)
    image = mask * brightness * texture * parts.shade * (1.0 + stroke_gain * stroke)
    noise = _NOISE[rng.integers(0, len(_NOISE), n)]
    sigma = _uniform(rng, 0.01, 0.06, n)
    image = image + sigma * noise * (0.2 + mask)
    image = np.minimum(np.maximum(image * 255.0 + 0.5, 0.0), 255.0)
    return image.astype(np.uint8)


def _split_id(train: bool) -> int:
    return 1 if train else 2


def generate_synthetic(size: int, seed: int = 0, train: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Generate ``size`` images: ``(uint8 [size, 28, 28], int64 [size])``.

    Deterministic in ``(size, seed, train)``; the training and test splits of
    one seed are drawn from different random streams. Classes are balanced
    (to within one image) and in random order. Work is done in chunks of a few
    thousand images, each class of a chunk drawn in one vectorized batch.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"size must be a non-negative integer, got {size!r}")
    size = int(size)
    root = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, _split_id(train), GENERATOR_VERSION])
    label_seq, draw_seq = root.spawn(2)
    labels = np.arange(size, dtype=np.int64) % len(CLASSES)
    np.random.Generator(np.random.PCG64(label_seq)).shuffle(labels)
    images = np.empty((size, _SIZE, _SIZE), dtype=np.uint8)
    chunk_seqs = draw_seq.spawn((size + _CHUNK - 1) // _CHUNK)
    for k, chunk_seq in enumerate(chunk_seqs):
        rng = np.random.Generator(np.random.PCG64(chunk_seq))
        start = k * _CHUNK
        chunk_labels = labels[start:start + _CHUNK]
        for label in range(len(CLASSES)):
            where = np.flatnonzero(chunk_labels == label)
            if where.size:
                images[start + where] = _render_class(label, where.size, rng)
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
    if images.shape != (size, _SIZE, _SIZE) or images.dtype != np.uint8 or labels.shape != (size,):
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
        self.size = _DEFAULT_SIZES[self.train] if size is None else size
        if isinstance(self.size, bool) or not isinstance(self.size, (int, np.integer)) or self.size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        self.size = int(self.size)
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
        from PIL import Image

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
    from torchvision.datasets import FashionMNIST

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
