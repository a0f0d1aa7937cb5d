"""The interpolation coder's hot loops compiled (numba): one pass per level-axis step computes
every point's prediction and context bucket, where numpy needs a dozen passes over memory, and
the trials' bit estimate sums its cells in two passes instead of a dozen bincounts.

It is the same arithmetic as ``sweep.interpolate``, ``sweep.buckets`` and ``trials.Batch.bits``,
operation for operation (elementwise IEEE operations in the same order, no fast-math, so no fused
multiply-adds), so the bytes and the reconstruction do not depend on whether numba is
installed: ``tests/test_kernels.py`` compares both paths. Numba rather than a C or Rust
extension: it installs as a wheel on every platform numpy does, with no compiler step, and
falls back to the numpy path (``INRCODEC_KERNELS=numpy`` forces it) where it is missing.
Compiled code is cached beside the module, so a process compiles it once per machine.
"""

import math
import os
from functools import cache

import numpy as np

from .tables import CONTEXTS

ESCAPE_LIMIT = 2 ** 62  # sweep.ESCAPE_LIMIT (sweep imports this module)
ESCAPED = -(2 ** 63)  # what the range decoder leaves where an escaped value goes

THRESHOLDS = np.array([2.0 ** i - 1.0 for i in range(1, CONTEXTS)])  # sweep.buckets' octaves
DIMS = 5  # the step's axis, the trials' settings, up to three other axes
assert len(THRESHOLDS) == 5, "the kernel compares five thresholds"


# Loading the kernels costs a fresh process about a second; they save tens of nanoseconds a
# point a step. An encoder loads them once its calls have passed this many points (times
# settings): a process that encodes an archive soon does, one that encodes a few small chunks
# never imports numba.
LOAD_AFTER_WORK = 1 << 23
_WORK = [0]  # points (times settings) of the encoder's calls so far in this process
_LOADED = []  # a true entry once ``compiled`` has loaded the kernels in this process


@cache
def compiled() -> dict | None:
    """The compiled kernels by name, or None where numba is missing, cannot compile them, or
    INRCODEC_KERNELS=numpy. Loading them costs about a second in a fresh process."""
    if os.environ.get("INRCODEC_KERNELS", "").lower() == "numpy":
        return None
    try:
        import numba
    except ImportError:
        return None
    try:
        kernels = {f.__name__: _jit(numba, f)
                   for f in (_sweep_step, _cell_rms, _offset_bits, _lift, _lift_lines, _range_decode,
                             _band_buckets, _dequantize, _batch_sweep)}
        _warm_up(kernels)
    except Exception:  # a platform numba cannot compile for: the numpy path, same bytes
        return None
    _LOADED.append(True)
    return kernels


def _warm_up(kernels: dict) -> None:
    """Every kernel called once on a tiny input (compiled now, or loaded from the cache), so
    that a numba that cannot compile one turns them all off here, not in the middle of a
    chunk."""
    f, i8, i64 = np.zeros, np.int8, np.int64
    grid, strided = f((2, 1, 1, 1, 2)), f((4, 1, 1, 4))[::2, :, :, ::2]  # as views arrive
    kernels["_sweep_step"](grid, 1, f(1, bool), np.ones(1), THRESHOLDS, f((1, 1, 1, 1, 2)),
                           f((1, 1, 1, 1, 2), i8), True, f((1, 1, 1, 1, 2)), False,
                           f((1, 1, 1, 1, 1), bool), f((1, 1, 1, 1, 2)), f((1, 1, 1, 1, 2)), 1.0)
    kernels["_cell_rms"](f(2, i64), f(2), 1)
    kernels["_offset_bits"](f(2, i64), f(2), f(1, i64), f(1, i64), f(9), 3, 1, 3)
    for lift in ("_lift", "_lift_lines"):
        kernels[lift](strided.copy(), 1, False, 0.1, 0.1, 0.1, 0.1, 1.0, 2.0, 0.5)
        kernels[lift](strided, 1, True, 0.1, 0.1, 0.1, 0.1, 1.0, 2.0, 0.5)
    kernels["_band_buckets"](strided, np.ones(4, bool), 1.0, THRESHOLDS, f((1, 1, 2, 2), i8))
    kernels["_dequantize"](f((1, 1, 1, 2), i64), 0.05, 1.0, strided)
    state = np.array([0, 2 ** 64 - 1, 0, 0], np.uint64)  # a stream of zeros: symbol 0
    kernels["_range_decode"](state, f(1, np.uint32), np.array([0, 1 << 23, 1 << 24], np.uint32),
                             np.array([[0, 2, 0, -1, 0]], i64), f(1, i8), f(1, i64))
    table = np.array([[1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]], i64)  # one step: point 1 from 0
    kernels["_batch_sweep"](f((1, 2)), f(2), f(1, bool), False, table, f(1, i64), f(1, bool),
                            np.ones((1, 1)), THRESHOLDS, 1.0, 1, f((1, 1)), f((1, 1), i8), f((1, 1), i64))


def _jit(numba, function):
    try:  # compiled once per machine, cached beside the package or in the user's cache
        return numba.njit(cache=True, nogil=True, error_model="numpy")(function)
    except Exception:  # no writable cache directory: compiled once per process
        return numba.njit(nogil=True, error_model="numpy")(function)


def at_hand(work: int) -> dict | None:
    """The kernels for a call over ``work`` more points, loaded once the coders' calls in this
    process (encoding or decoding) have passed LOAD_AFTER_WORK points; None before, or where
    ``compiled`` has none. A process that reads or writes a few chunks never loads them: it
    would pay more than it gains."""
    if not _LOADED:
        _WORK[0] += work
    if _LOADED or _WORK[0] >= LOAD_AFTER_WORK:
        return compiled()
    return None


def predict_buckets(known: np.ndarray, m: int, cubic, quantum, settings: bool
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """(prediction float64, bucket int8) of the ``m`` points of a step from its ``known``
    points (the step's axis first; with ``settings``, the trials' settings second, ``cubic``
    and ``quantum`` one per setting, else one each); None where the kernel is not at hand."""
    return _step(known, m, cubic, quantum, settings, counted=False)


def encode_step(known: np.ndarray, m: int, cubic, quantum, settings: bool, values: np.ndarray,
                coded: np.ndarray | None, out: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``predict_buckets``, then each point's q (float64: ``sweep.quantize`` of its value
    minus its prediction, 0 where not ``coded``) and its reconstruction written to ``out``
    (``values`` and ``coded`` have no settings axis): (q, bucket), or None."""
    return _step(known, m, cubic, quantum, settings, values, coded, out)


_NONE = np.zeros((1,) * DIMS)  # what the kernel is given for the arrays a step does not use
_NO_MASK = _NONE.astype(bool)


def _step(known, m, cubic, quantum, settings, values=None, coded=None, out=None, counted=True):
    kernels = at_hand(m * int(np.prod(known.shape[1:])) if counted else 0)
    others = known.ndim - 1 - settings
    if kernels is None or others > DIMS - 2:
        return None
    pred = np.empty((m,) + known.shape[1:])
    bucket = np.empty(pred.shape, np.int8)

    count = known.shape[1] if settings else 1  # settings, along the kernel's second axis

    def lift(x, own_settings=settings):  # to DIMS axes; ``values`` and ``coded``: repeated
        if not own_settings:
            x = x[:, None]
        x = x[(slice(None),) * 2 + (None,) * (DIMS - 2 - others) + (slice(None),) * others]
        return x if x.shape[1] == count else np.broadcast_to(x, x.shape[:1] + (count,) + x.shape[2:])

    encode = values is not None
    q = np.empty(pred.shape) if encode else None
    kernels["_sweep_step"](
        lift(known), m, np.asarray(cubic, np.bool_).ravel(), np.asarray(quantum, np.float64).ravel(),
        THRESHOLDS, lift(pred), lift(bucket), encode,
        lift(values, False) if encode else _NONE, coded is not None,
        lift(coded, False) if coded is not None else _NO_MASK,
        lift(q) if encode else _NONE, lift(out) if encode else _NONE, float(ESCAPE_LIMIT))
    return (q, bucket) if encode else (pred, bucket)


def cell_rms(cell: np.ndarray, q: np.ndarray, size: int) -> np.ndarray | None:
    """``trials.Batch.bits``' rms of each cell's bulk (its q under 32 times its median's
    octave); None where the kernel is not at hand."""
    kernels = at_hand(q.size)
    return None if kernels is None else kernels["_cell_rms"](cell, q, size)


def offset_bits(cell: np.ndarray, q: np.ndarray, centre: np.ndarray, offsets: tuple,
                matrix: np.ndarray, row: int, limit: int, codes: int) -> np.ndarray:
    """Each cell's bits, ``matrix[(q + limit + 1) * row + code]`` summed, under the scale
    code ``centre + offset`` (clipped to ``codes``) for each of ``offsets``, q clipped to
    +-(``limit`` + 1): shape (offsets, cells). Only where ``cell_rms`` gave a result."""
    return compiled()["_offset_bits"](cell, q, centre, np.asarray(offsets, np.int64), matrix,
                                      row, limit, codes)


def lift(view: np.ndarray, ns: int, inverse: bool, factors: tuple, counted: bool = True) -> bool:
    """One level of dwt.split (``inverse``: dwt.merge) along axis 0 of ``view``, in place:
    lows first then highs, or their merge; ``factors`` (ALPHA, BETA, GAMMA, DELTA, K). False
    where the kernel is not at hand (``at_hand``; or the view has over DIMS - 1 axes)."""
    kernels = at_hand(view.size if counted else 0)
    if kernels is None or view.ndim > DIMS - 1:
        return False
    lifted = view[(slice(None),) + (None,) * (DIMS - 1 - view.ndim) + (slice(None),) * (view.ndim - 1)]
    if lifted.shape[0] < 2:
        return False
    # Along memory (the view's first axis is the array's last): each line on its own, in cache.
    across = [st for st, n in zip(view.strides[1:], view.shape[1:]) if n > 1]
    along = view.strides[0] == view.itemsize and all(st > view.itemsize for st in across)
    kernels["_lift_lines" if along else "_lift"](lifted, ns, inverse, *factors, 2 / factors[4],
                                                 factors[4] / 2)
    return True


def _lift(x, ns, inverse, alpha, beta, gamma, delta, k, two_over_k, k_over_two):
    """dwt.split / dwt.merge on (n, A, B, C), the same operations in the same order (where
    dwt.merge has ``x -= f * y``, this has ``x += (-f) * y``: they round alike)."""
    n, A, B, C = x.shape
    nd, width = n - ns, A * B * C
    s, d = np.empty((ns, width)), np.empty((nd, width))
    for i in range(n):  # gather the lows and highs: split halves, or interleaved for merge
        low = i < ns if inverse else i % 2 == 0
        row = (i if inverse else i // 2) if low else (i - ns if inverse else i // 2)
        r = 0
        for a in range(A):
            for b in range(B):
                for c in range(C):
                    if low:
                        s[row, r] = x[i, a, b, c] * k if inverse else x[i, a, b, c]
                    else:
                        d[row, r] = x[i, a, b, c] * two_over_k if inverse else x[i, a, b, c]
                    r += 1
    order = (-delta, -gamma, -beta, -alpha) if inverse else (alpha, beta, gamma, delta)
    for step in range(4):  # split: d from s, s from d, d, s; merge: s, d, s, d
        factor = order[step]
        if (step % 2 == 0) != inverse:  # d[i] += f (s[i] + s[i + 1]), the last s mirrored
            for i in range(nd):
                j = i + 1 if i + 1 < ns else ns - 1
                for r in range(width):
                    d[i, r] += factor * (s[i, r] + s[j, r])
        else:  # s[i] += f (d[i - 1] + d[i]), mirrored past both ends
            for i in range(ns):
                before = i - 1 if i > 0 else 0
                after = i if i < nd else nd - 1
                for r in range(width):
                    s[i, r] += factor * (d[before, r] + d[after, r])
    for i in range(n):  # scatter: interleaved for merge, lows then highs for split
        low = i % 2 == 0 if inverse else i < ns
        row = (i // 2 if inverse else i) if low else (i // 2 if inverse else i - ns)
        r = 0
        for a in range(A):
            for b in range(B):
                for c in range(C):
                    if low:
                        x[i, a, b, c] = s[row, r] if inverse else s[row, r] / k
                    else:
                        x[i, a, b, c] = d[row, r] if inverse else d[row, r] * k_over_two
                    r += 1


def _lift_lines(x, ns, inverse, alpha, beta, gamma, delta, k, two_over_k, k_over_two):
    """``_lift``, one line along axis 0 at a time: the same operations on each value."""
    n, A, B, C = x.shape
    nd = n - ns
    s, d = np.empty(ns), np.empty(nd)
    order = (-delta, -gamma, -beta, -alpha) if inverse else (alpha, beta, gamma, delta)
    for a in range(A):
        for b in range(B):
            for c in range(C):
                line = x[:, a, b, c]
                for i in range(n):
                    low = i < ns if inverse else i % 2 == 0
                    row = (i if inverse else i // 2) if low else (i - ns if inverse else i // 2)
                    if low:
                        s[row] = line[i] * k if inverse else line[i]
                    else:
                        d[row] = line[i] * two_over_k if inverse else line[i]
                for step in range(4):
                    factor = order[step]
                    if (step % 2 == 0) != inverse:
                        for i in range(nd):
                            d[i] += factor * (s[i] + s[i + 1 if i + 1 < ns else ns - 1])
                    else:
                        for i in range(ns):
                            s[i] += factor * (d[i - 1 if i > 0 else 0] + d[i if i < nd else nd - 1])
                for i in range(n):
                    low = i % 2 == 0 if inverse else i < ns
                    row = (i // 2 if inverse else i) if low else (i // 2 if inverse else i - ns)
                    if low:
                        line[i] = s[row] if inverse else s[row] / k
                    else:
                        line[i] = d[row] if inverse else d[row] * k_over_two


def _cell_rms(cell, q, size):
    below = np.zeros((size, 16), np.int64)
    for j in range(q.shape[0]):  # floor(log2(|q| + 1)), at most 15
        below[cell[j], min(math.frexp(abs(q[j]) + 1.0)[1] - 1, 15)] += 1
    reach = np.empty(size)
    for c in range(size):  # the median's octave: how many octaves hold under half
        total, run, median = 0, 0, 0
        for o in range(16):
            total += below[c, o]
        for o in range(16):
            run += below[c, o]
            median += run < total / 2.0
        reach[c] = math.ldexp(1.0, median + 5)
    squares, counts = np.zeros(size), np.zeros(size)
    for j in range(q.shape[0]):
        if abs(q[j]) < reach[cell[j]]:
            squares[cell[j]] += q[j] * q[j]
            counts[cell[j]] += 1.0
    return np.sqrt(squares / np.maximum(counts, 1.0))


def _offset_bits(cell, q, centre, offsets, matrix, row, limit, codes):
    out = np.zeros((offsets.shape[0], centre.shape[0]))
    for j in range(q.shape[0]):
        index = (int(min(max(q[j], -limit - 1.0), limit + 1.0)) + limit + 1) * row
        for o in range(offsets.shape[0]):
            code = min(max(centre[cell[j]] + offsets[o], 0), codes - 1)
            out[o, cell[j]] += matrix[index + code]
    return out


def _sweep_step(k, m, cubic, quantum, thresholds, pred, bucket, encode, values, has_coded, coded, q,
                recon, limit):
    """k: (n, A, B, C, D) known points, the step's axis first and A the settings; pred and
    bucket: (m, A, B, C, D). ``cubic`` and ``quantum`` have one entry per setting, or one.
    With ``encode``, each point's q and reconstruction too, from ``values`` (and ``coded``)."""
    n = k.shape[0]
    A, B, C, D = k.shape[1], k.shape[2], k.shape[3], k.shape[4]
    for i in range(m):
        third = n >= 4 and 1 <= i and i <= n - 3  # the third difference is defined here
        lo = i if i < n - 1 else n - 2  # the first difference's left point
        for a in range(A):
            step = quantum[a if quantum.shape[0] > 1 else 0]
            t1, t2, t3 = thresholds[0] * step, thresholds[1] * step, thresholds[2] * step
            t4, t5 = thresholds[3] * step, thresholds[4] * step
            if n == 1:
                case = 0  # the one known point
            elif i == n - 1:
                case = 1  # past the last known point: linear extrapolation
            elif cubic[a if cubic.shape[0] > 1 else 0] and n >= 3:
                case = 2 if i == 0 else (3 if i == n - 2 else 4)  # quadratic ends, cubic inside
            else:
                case = 5  # linear
            for b in range(B):
                for c in range(C):
                    kk = k[:, a, b, c, :]
                    pp = pred[i, a, b, c, :]
                    bb = bucket[i, a, b, c, :]
                    if case == 4:
                        for d in range(D):
                            pp[d] = (-kk[i - 1, d] + 9.0 * kk[i, d] + 9.0 * kk[i + 1, d]
                                     - kk[i + 2, d]) / 16.0
                    elif case == 5:
                        for d in range(D):
                            pp[d] = (kk[i, d] + kk[i + 1, d]) * 0.5
                    elif case == 0:
                        for d in range(D):
                            pp[d] = kk[0, d]
                    elif case == 1:
                        for d in range(D):
                            pp[d] = 1.5 * kk[n - 1, d] - 0.5 * kk[n - 2, d]
                    elif case == 2:
                        for d in range(D):
                            pp[d] = (3.0 * kk[0, d] + 6.0 * kk[1, d] - kk[2, d]) / 8.0
                    else:
                        for d in range(D):
                            pp[d] = (-kk[n - 3, d] + 6.0 * kk[n - 2, d] + 3.0 * kk[n - 1, d]) / 8.0
                    for d in range(D):
                        act = abs(kk[lo + 1, d] - kk[lo, d]) if n >= 2 else 0.0
                        if third:  # np.maximum's NaN: a NaN either side is NaN
                            t = abs(kk[i - 1, d] - kk[i, d] - kk[i + 1, d] + kk[i + 2, d])
                            act = t if (t > act or t != t) else act
                        bb[d] = (act >= t1) + (act >= t2) + (act >= t3) + (act >= t4) + (act >= t5)
                    if encode:  # sweep.quantize, then the reconstruction
                        for d in range(D):
                            qq = np.rint((values[i, a, b, c, d] - pp[d]) / step)
                            if not abs(qq) <= limit or (has_coded and not coded[i, a, b, c, d]):
                                qq = 0.0
                            q[i, a, b, c, d] = qq
                            recon[i, a, b, c, d] = pp[d] + qq * step


def band_buckets(parent: np.ndarray, halved: tuple[bool, ...], step: float, thresholds: np.ndarray,
                 shape: tuple[int, ...]) -> np.ndarray | None:
    """``wavelet.Plan.buckets``: a band's context buckets (int8, ``shape``) from its
    ``parent``'s coefficients, each axis ``halved`` or not; None where the kernel is not at
    hand (or the band has over four axes)."""
    kernels = at_hand(0)  # (a band's points are counted by its coder: lifting, range reader)
    if kernels is None or parent.ndim > 4 or not parent.size:  # (the numpy path takes no band)
        return None
    lead = (1,) * (4 - parent.ndim)
    out = np.empty(lead + tuple(shape), np.int8)
    kernels["_band_buckets"](parent[(None,) * len(lead)], np.array((False,) * len(lead) + halved),
                             step, thresholds, out)
    return out.reshape(shape)


def dequantize(q: np.ndarray, pull: float, step: float, out: np.ndarray) -> bool:
    """``out[...] = sign(q) (|q| - pull) step`` (``wavelet.Plan.dequantize`` of a detail band);
    False where the kernel is not at hand (or over four axes)."""
    kernels = at_hand(0)  # (a band's points are counted by its coder)
    if kernels is None or q.ndim > 4:
        return False
    lead = (1,) * (4 - q.ndim)
    kernels["_dequantize"](q[(None,) * len(lead)], pull, step, out[(None,) * len(lead)])
    return True


def _band_buckets(parent, halved, step, thresholds, out):
    """Half the magnitude of each parent coefficient plus half its cross's mean (its
    neighbours along every axis longer than 1, the edge repeated), as ``wavelet._smoothed``
    sums them, over ``step`` against ``thresholds``: each parent's bucket, then each
    coefficient's parent's."""
    P = parent.shape
    magnitude = np.abs(parent)  # contiguous
    total = magnitude.copy()
    count = 1
    for axis in range(4):  # the cross, an axis at a time as wavelet._smoothed adds them
        if P[axis] <= 1:
            continue
        count += 2
        moved = np.moveaxis(magnitude, axis, 3)  # this axis last: one pass along rows
        t = np.moveaxis(total, axis, 3)
        n = moved.shape[3]
        for i0 in range(moved.shape[0]):
            for i1 in range(moved.shape[1]):
                for i2 in range(moved.shape[2]):
                    row, out_row = moved[i0, i1, i2], t[i0, i1, i2]
                    out_row[0] += row[0] + row[1]
                    for i3 in range(1, n - 1):
                        out_row[i3] += row[i3 - 1] + row[i3 + 1]
                    out_row[n - 1] += row[n - 2] + row[n - 1]
    parent_bucket = np.empty(P, np.int8)
    for i0 in range(P[0]):
        for i1 in range(P[1]):
            for i2 in range(P[2]):
                for i3 in range(P[3]):
                    activity = (0.5 * magnitude[i0, i1, i2, i3]
                                + 0.5 * total[i0, i1, i2, i3] / count) / step
                    b = 0
                    for t in range(thresholds.shape[0]):
                        b += activity >= thresholds[t]
                    parent_bucket[i0, i1, i2, i3] = b
    S = out.shape
    for i0 in range(S[0]):
        j0 = min(i0 // 2 if halved[0] else i0, P[0] - 1)
        for i1 in range(S[1]):
            j1 = min(i1 // 2 if halved[1] else i1, P[1] - 1)
            for i2 in range(S[2]):
                j2 = min(i2 // 2 if halved[2] else i2, P[2] - 1)
                row = parent_bucket[j0, j1, j2]
                if halved[3]:
                    for i3 in range(S[3]):
                        out[i0, i1, i2, i3] = row[min(i3 // 2, P[3] - 1)]
                else:
                    for i3 in range(S[3]):
                        out[i0, i1, i2, i3] = row[min(i3, P[3] - 1)]


def _dequantize(q, pull, step, out):
    for i0 in range(q.shape[0]):
        for i1 in range(q.shape[1]):
            for i2 in range(q.shape[2]):
                for i3 in range(q.shape[3]):
                    v = q[i0, i1, i2, i3]
                    sign = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
                    out[i0, i1, i2, i3] = sign * (abs(v) - pull) * step


def range_decode(state: np.ndarray, words: np.ndarray, cdf: np.ndarray, tables: np.ndarray,
                 bucket: np.ndarray, out: np.ndarray) -> int:
    """``rangecoder.RangeReader``'s symbols, compiled (only where ``compiled`` gave kernels)."""
    return compiled()["_range_decode"](state, words, cdf, tables, bucket, out)


def _range_decode(state, words, cdf, tables, bucket, out):
    """constriction's queue RangeDecoder (32-bit words, 64-bit state, 24-bit precision) and its
    contiguous categorical model, operation for operation: ``bucket[j]``'s table (a row of
    ``tables``: its first entry in ``cdf``, its symbols, the value of symbol 0, its escape
    symbol or -1, its likeliest symbol) decodes point j into ``out[j]``, bucket 0's points
    first, each bucket's in the points' order. ``state`` (lower, range, point, next word) is
    carried from call to call. Returns how many escapes were decoded (``out`` holds ESCAPED
    there), or -1 where the stream is not one constriction could decode."""
    precision, word = np.uint64(24), np.uint64(32)
    one = np.uint64(1)
    lower, width, point, pos = state[0], state[1], state[2], np.int64(state[3])
    counts = np.zeros(tables.shape[0], np.int64)
    for j in range(bucket.shape[0]):
        counts[bucket[j]] += 1
    start = np.zeros(tables.shape[0] + 1, np.int64)  # each bucket's first place in ``order``
    for t in range(tables.shape[0]):
        start[t + 1] = start[t] + counts[t]
    mixed = 0 < counts.max() < bucket.shape[0]  # else every point is in one bucket, in order
    order = np.empty(bucket.shape[0] if mixed else 0, np.int64)
    if mixed:  # a counting sort: the points bucket by bucket, each bucket's in order
        filled = start[:-1].copy()
        for j in range(bucket.shape[0]):
            order[filled[bucket[j]]] = j
            filled[bucket[j]] += 1
    escapes = 0
    for t in range(tables.shape[0]):
        if not counts[t]:
            continue
        first, size, low, escape, likely = (tables[t, 0], tables[t, 1], tables[t, 2], tables[t, 3],
                                            tables[t, 4])
        likely_left, likely_right = np.uint64(cdf[first + likely]), np.uint64(cdf[first + likely + 1])
        for o in range(start[t], start[t + 1]):
            j = order[o] if mixed else o
            scale = width >> precision
            offset = point - lower  # wraps, as constriction's does
            if offset >= scale * likely_left and offset < scale * likely_right:
                symbol, left, right = likely, likely_left, likely_right  # without dividing
            else:
                quantile = offset // scale
                if quantile >= one << precision:
                    return -1
                a, b = 0, size  # the first symbol whose left end lies past the quantile
                while a < b:
                    middle = (a + b) >> 1
                    if np.uint64(cdf[first + middle]) <= quantile:
                        a = middle + 1
                    else:
                        b = middle
                symbol = a - 1
                left, right = np.uint64(cdf[first + symbol]), np.uint64(cdf[first + symbol + 1])
            lower += scale * left
            width = scale * (right - left)
            if width < one << word:
                lower, width, point = lower << word, width << word, point << word
                if pos < words.shape[0]:
                    point |= np.uint64(words[pos])
                    pos += 1
            if symbol == escape:
                out[j] = ESCAPED
                escapes += 1
            else:
                out[j] = symbol + low
    state[0], state[1], state[2], state[3] = lower, width, point, np.uint64(pos)
    return escapes


def _batch_sweep(recon, values, missing, has_missing, steps, offsets, cubic, quantum, thresholds,
                 limit, levels, q_out, bucket_out, cell_out):
    """Every level-axis step of the trials' settings, in order (``trials.Batch``): the
    arithmetic of ``_sweep_step`` (and of ``sweep.interpolate``, ``sweep.buckets``,
    ``sweep.quantize``) point for point. recon: (A, P), each setting's reconstruction, flat
    (C order), anchors set; values and missing: (P,). A row of ``steps``: n, m (the known and
    target points along the step's axis), kd (the flat stride between known points along it),
    t0 (the flat index of its first target point), four other axes' counts then flat strides
    (C order, counts of 1 padding), the step's level row. ``quantum``: (A, steps). Each coded
    point's q, bucket and cell ((a levels + row) CONTEXTS + bucket) are written to row a of
    the outputs from ``offsets[step]`` on, in the step's order (its axis first, then C order)."""
    A = recon.shape[0]
    for s in range(steps.shape[0]):
        n, m, kd, t0 = steps[s, 0], steps[s, 1], steps[s, 2], steps[s, 3]
        c1, c2, c3, c4 = steps[s, 4], steps[s, 5], steps[s, 6], steps[s, 7]
        w1, w2, w3, w4 = steps[s, 8], steps[s, 9], steps[s, 10], steps[s, 11]
        row = steps[s, 12]
        for a in range(A):
            step = quantum[a, s]
            t1, t2, t3 = thresholds[0] * step, thresholds[1] * step, thresholds[2] * step
            t4, t5 = thresholds[3] * step, thresholds[4] * step
            cell_base = (a * levels + row) * CONTEXTS
            r = recon[a]
            pos = offsets[s]
            for i in range(m):
                third = n >= 4 and 1 <= i and i <= n - 3
                lo = i if i < n - 1 else n - 2
                if n == 1:
                    case = 0
                elif i == n - 1:
                    case = 1
                elif cubic[a] and n >= 3:
                    case = 2 if i == 0 else (3 if i == n - 2 else 4)
                else:
                    case = 5
                target = t0 + i * kd
                for x1 in range(c1):
                    for x2 in range(c2):
                        for x3 in range(c3):
                            for x4 in range(c4):
                                o = x1 * w1 + x2 * w2 + x3 * w3 + x4 * w4
                                if case == 4:
                                    pp = (-r[(i - 1) * kd + o] + 9.0 * r[i * kd + o]
                                          + 9.0 * r[(i + 1) * kd + o] - r[(i + 2) * kd + o]) / 16.0
                                elif case == 5:
                                    pp = (r[i * kd + o] + r[(i + 1) * kd + o]) * 0.5
                                elif case == 0:
                                    pp = r[o]
                                elif case == 1:
                                    pp = 1.5 * r[(n - 1) * kd + o] - 0.5 * r[(n - 2) * kd + o]
                                elif case == 2:
                                    pp = (3.0 * r[o] + 6.0 * r[kd + o] - r[2 * kd + o]) / 8.0
                                else:
                                    pp = (-r[(n - 3) * kd + o] + 6.0 * r[(n - 2) * kd + o]
                                          + 3.0 * r[(n - 1) * kd + o]) / 8.0
                                act = abs(r[(lo + 1) * kd + o] - r[lo * kd + o]) if n >= 2 else 0.0
                                if third:  # np.maximum's NaN: a NaN either side is NaN
                                    t = abs(r[(i - 1) * kd + o] - r[i * kd + o] - r[(i + 1) * kd + o]
                                            + r[(i + 2) * kd + o])
                                    act = t if (t > act or t != t) else act
                                bb = (act >= t1) + (act >= t2) + (act >= t3) + (act >= t4) + (act >= t5)
                                p = target + o
                                skip = has_missing and missing[p]
                                qq = np.rint((values[p] - pp) / step)
                                if not abs(qq) <= limit or skip:
                                    qq = 0.0
                                r[p] = pp + qq * step
                                if not skip:
                                    q_out[a, pos] = qq
                                    bucket_out[a, pos] = bb
                                    cell_out[a, pos] = cell_base + bb
                                    pos += 1
