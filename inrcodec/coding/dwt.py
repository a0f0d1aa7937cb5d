"""The CDF 9/7 wavelet (JPEG 2000's irreversible one, SPERR's) by lifting, on arrays of any shape.

Non-expansive on any length of two or more: whole-sample symmetric extension at both edges, so
an axis of ``n`` values splits into ``ceil(n / 2)`` low and ``floor(n / 2)`` high coefficients.
A multilevel transform splits every axis of at least ``MIN_LENGTH`` values, then recurses on the
low corner (Mallat's layout: the coefficients stay where the array was, lows first); an axis
stops splitting once it is shorter, so a long thin chunk keeps decomposing along its long axis.
Elementwise IEEE operations only, so the decoder's inverse is the same on every machine (and
the same compiled, kernels.lift, or not).
"""

from functools import lru_cache

import numpy as np

from . import kernels

# Daubechies and Sweldens' lifting factors of CDF 9/7, and JPEG 2000's band scaling (low-pass DC
# gain 1, high-pass Nyquist gain 1).
ALPHA, BETA, GAMMA, DELTA = (-1.586134342059924, -0.052980118572961, 0.882911075530934,
                             0.443506852043971)
K = 1.230174104914001
FACTORS = (ALPHA, BETA, GAMMA, DELTA, K)  # for the compiled lifting (kernels.lift)
MIN_LENGTH = 8  # a shorter axis is not split any further
MAX_LEVELS = 6


def levels_of(n: int) -> int:
    """How many times an axis of ``n`` values is split."""
    levels = 0
    while n >= MIN_LENGTH and levels < MAX_LEVELS:
        n, levels = (n + 1) // 2, levels + 1
    return levels


def lengths(n: int, levels: int) -> list[int]:
    """An axis's low-part length after 0, 1, ... ``levels`` splits."""
    out = [n]
    for _ in range(levels):
        out.append((out[-1] + 1) // 2)
    return out


def _next(s: np.ndarray, nd: int) -> np.ndarray:
    """s[i + 1] beside each of the ``nd`` high values, mirrored past the end."""
    return s[1:nd + 1] if len(s) > nd else np.concatenate([s[1:], s[-1:]])


def _around(d: np.ndarray, ns: int) -> np.ndarray:
    """d[i - 1] + d[i] beside each of the ``ns`` low values, mirrored past both ends."""
    before = np.concatenate([d[:1], d[:ns - 1]])
    return before + (d if len(d) == ns else np.concatenate([d, d[-1:]]))


def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of one level along axis 0 (at least 2 long)."""
    s, d = x[0::2].copy(), x[1::2].copy()
    ns, nd = len(s), len(d)
    d += ALPHA * (s[:nd] + _next(s, nd))
    s += BETA * _around(d, ns)
    d += GAMMA * (s[:nd] + _next(s, nd))
    s += DELTA * _around(d, ns)
    return s / K, d * (K / 2)


def merge(s: np.ndarray, d: np.ndarray) -> np.ndarray:
    """``split``'s inverse."""
    s, d = s * K, d * (2 / K)
    ns, nd = len(s), len(d)
    s -= DELTA * _around(d, ns)
    d -= GAMMA * (s[:nd] + _next(s, nd))
    s -= BETA * _around(d, ns)
    d -= ALPHA * (s[:nd] + _next(s, nd))
    x = np.empty((ns + nd,) + s.shape[1:])
    x[0::2], x[1::2] = s, d
    return x


def forward(x: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    """The coefficients (float64, ``x``'s shape) with axis ``a`` split ``levels[a]`` times."""
    out = np.array(x, dtype=np.float64)
    sizes = [lengths(n, la) for n, la in zip(out.shape, levels)]
    for level in range(max(levels, default=0)):
        corner = out[tuple(slice(0, s[min(level, len(s) - 1)]) for s in sizes)]
        for axis, la in enumerate(levels):
            if level < la:
                view = np.moveaxis(corner, axis, 0)
                if not kernels.lift(view, (len(view) + 1) // 2, False, FACTORS):
                    view[...] = np.concatenate(split(view))
    return out


def inverse(c: np.ndarray, levels: tuple[int, ...], counted: bool = True,
            in_place: bool = False) -> np.ndarray:
    """``forward``'s inverse; ``counted`` False where the caller counted its points for
    ``kernels.at_hand`` already (a decoder's range reader); ``in_place``: in ``c`` (float64)
    itself, not a copy (a decoder's own coefficients: a pass over memory fewer)."""
    out = c if in_place and c.dtype == np.float64 else np.array(c, dtype=np.float64)
    sizes = [lengths(n, la) for n, la in zip(out.shape, levels)]
    for level in reversed(range(max(levels, default=0))):
        corner = out[tuple(slice(0, s[min(level, len(s) - 1)]) for s in sizes)]
        for axis in reversed(range(len(levels))):
            if level < levels[axis]:
                view = np.moveaxis(corner, axis, 0)
                ns = sizes[axis][level + 1]
                if not kernels.lift(view, ns, True, FACTORS, counted):
                    view[...] = merge(view[:ns], view[ns:])
    return out


def bands(shape: tuple[int, ...], levels: tuple[int, ...]) -> list[tuple[int, int, tuple]]:
    """(level, orientation, slices) of every band, in coding order: the approximation (level
    ``max(levels) + 1``, orientation 0), then the details coarse to fine. An orientation's bit
    ``a`` says the band is high-pass along axis ``a``."""
    top = max(levels, default=0)
    sizes = [lengths(n, la) for n, la in zip(shape, levels)]
    out = [(top + 1, 0, tuple(slice(0, s[-1]) for s in sizes))]
    for level in range(top, 0, -1):
        split_axes = [a for a, la in enumerate(levels) if level <= la]
        for orientation in range(1, 1 << len(shape)):
            if any(orientation >> a & 1 for a in range(len(shape)) if a not in split_axes):
                continue
            out.append((level, orientation, tuple(
                (slice(s[level], s[level - 1]) if orientation >> a & 1 else slice(0, s[level]))
                if level <= la else slice(0, s[-1])
                for a, (s, la) in enumerate(zip(sizes, levels)))))
    return out


def band_gain(shape: tuple[int, ...], levels: tuple[int, ...], level: int, orientation: int) -> float:
    """The squared norm of a band's synthesis function: the error one unit of its coefficients
    puts in the values (the product of each axis's, as the transform is separable)."""
    gain = 1.0
    for a, (n, la) in enumerate(zip(shape, levels)):
        gain *= _axis_gain(n, min(level, la), bool(orientation >> a & 1))
    return gain


@lru_cache(maxsize=1024)
def _axis_gain(n: int, level: int, high: bool) -> float:
    """Along one axis a band is the high part of split ``level`` or the low part after it (not
    split further along this axis): a unit at its middle, synthesised through ``level`` merges."""
    if level == 0:
        return 1.0
    s = lengths(n, level)
    impulse = np.zeros(n)
    impulse[(s[level] + s[level - 1]) // 2 if high else s[level] // 2] = 1.0
    return float(np.sum(inverse(impulse, (level,)) ** 2))
