"""Procedural drawing of the synthetic Fashion-MNIST silhouettes.

:func:`render_class` draws a batch of 28x28 grayscale images of one class in
one vectorized pass. Every image is drawn in its own normalized frame (u to
the right, v down, the garment roughly inside [-1, 1]^2), placed with a random
center, size, aspect and rotation. Shapes are unions/intersections of simple
regions, combined as approximate signed distances (positive inside): union =
max, intersection = min, cut-out = min(a, -b). The distance becomes a
soft-edged mask; texture, shading, an outline stroke and noise are applied on
top.

The classes that are hard to tell apart in the real data share a generator
with overlapping parameter ranges: the tops (:data:`TOPS`) and the footwear
(:data:`FOOTWEAR`). The dataset built from these drawings is
:mod:`tb_fmnist_plugin.fmnist.synthetic`.
"""
from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import numpy as np

__all__ = ["FOOTWEAR", "GENERATOR_VERSION", "IMAGE_SIZE", "TOPS", "render_class"]

#: Bumped whenever the drawing changes, so disk caches of older drawings are
#: never reused (it also seeds the fixed textures and noise).
GENERATOR_VERSION = 1

#: Height and width of every image, in pixels.
IMAGE_SIZE = 28

#: Labels drawn by the tops generator: T-shirt/top, Pullover, Coat, Shirt.
TOPS: Tuple[int, ...] = (0, 2, 4, 6)
#: Labels drawn by the footwear generator: Sandal, Sneaker, Ankle boot.
FOOTWEAR: Tuple[int, ...] = (5, 7, 9)


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


class _TopStyle(NamedTuple):
    """Parameter ranges of one class of the tops generator (lengths in frame units)."""

    long_chance: float  # chance of long sleeves: 0 or 1, or in between (drawn per image)
    long_sleeve: Optional[Tuple[float, float]]  # sleeve length when long (None: never long)
    short_sleeve: Optional[Tuple[float, float]]  # sleeve length when short (None: never short)
    bottom: Tuple[float, float]  # hem position
    width: Tuple[float, float]  # half-width of the body
    collar: float  # chance of a collar
    placket: float  # chance of a center placket line
    band: float  # chance of a waistband
    pocket: float  # chance of pockets
    vee: float  # chance of a V (rather than round) neck
    placket_depth: Tuple[float, float]  # darkness of the placket line


_TOP_STYLES: Dict[int, _TopStyle] = {
    # T-shirt/top: short sleeves, plain round neck
    0: _TopStyle(0.0, None, (0.22, 0.55), (0.78, 0.95), (0.48, 0.62), 0.05, 0.05, 0.15, 0.0, 0.2, (0.05, 0.2)),
    # Pullover: long sleeves, round neck, ribbed band
    2: _TopStyle(1.0, (1.15, 1.65), None, (0.78, 0.95), (0.48, 0.62), 0.05, 0.05, 0.6, 0.05, 0.2, (0.05, 0.2)),
    # Coat: long sleeves, longer and wider body, strong placket
    4: _TopStyle(1.0, (1.3, 1.75), None, (0.88, 0.98), (0.54, 0.68), 0.5, 0.8, 0.15, 0.4, 0.5, (0.2, 0.6)),
    # Shirt: sleeves long or short, collar, faint placket, patterns
    6: _TopStyle(0.7, (1.05, 1.6), (0.3, 0.6), (0.8, 0.97), (0.48, 0.64), 0.8, 0.7, 0.1, 0.2, 0.5, (0.15, 0.45)),
}


def _draw_top(u: np.ndarray, v: np.ndarray, rng: np.random.Generator, n: int, kind: int) -> _Parts:
    """T-shirt/top (0), Pullover (2), Coat (4) and Shirt (6): one generator.

    A torso, two sleeves, a neck cut-out, and optionally a collar, a center
    placket line, a waistband and pockets. The classes differ in the ranges
    of sleeve length, body length and width and in how likely each detail
    is (:data:`_TOP_STYLES`); the ranges overlap, as the real classes do.
    """
    au = np.abs(u)
    top = np.float32(-0.85)
    style = _TOP_STYLES[kind]
    if style.long_sleeve is not None and style.short_sleeve is not None:  # either, per image
        long = _chance(rng, style.long_chance, n)
        sleeve = _mix(long, _uniform(rng, *style.long_sleeve, n), _uniform(rng, *style.short_sleeve, n))
    else:
        long = np.full((n, 1, 1), style.long_chance, np.float32)
        sleeve = _uniform(rng, *(style.long_sleeve or style.short_sleeve), n)
    bottom = _uniform(rng, *style.bottom, n)
    width = _uniform(rng, *style.width, n)
    collar, placket, band, pocket = style.collar, style.placket, style.band, style.pocket
    placket_depth = style.placket_depth
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
    vee = _uniform(rng, 0.0, 1.0, n) * _chance(rng, style.vee, n)
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
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float32)
    bank = np.ones((count, IMAGE_SIZE, IMAGE_SIZE), np.float32)
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
            bank[i] = 1.0 - amp * rng.random((IMAGE_SIZE, IMAGE_SIZE))
        elif kind == 5:  # soft gradient (lighting)
            coord = (x * np.cos(angle) + y * np.sin(angle)) / IMAGE_SIZE
            bank[i] = 1.0 - amp * (coord - coord.min())
        elif kind == 6:  # blotchy print
            coarse = rng.random((7, 7)).astype(np.float32)
            bank[i] = 1.0 - amp * np.kron(coarse, np.ones((4, 4), np.float32))
        # kinds 0 and 7: plain
    return bank


_TEXTURES = _texture_bank()
_PATTERNED = np.flatnonzero(np.isin(np.arange(len(_TEXTURES)) % 8, (1, 2, 3)))
_NOISE = np.random.Generator(np.random.PCG64(7919 + GENERATOR_VERSION)).standard_normal(
    (256, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32
)
_GRID_Y, _GRID_X = (g.astype(np.float32)[None] for g in np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE])

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


def render_class(label: int, n: int, rng: np.random.Generator) -> np.ndarray:
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
    if label in TOPS:
        parts = _draw_top(u, v, rng, n, label)
    elif label == 1:
        parts = _draw_trouser(u, v, rng, n)
    elif label == 3:
        parts = _draw_dress(u, v, rng, n)
    elif label == 8:
        parts = _draw_bag(u, v, rng, n)
    else:  # FOOTWEAR
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
