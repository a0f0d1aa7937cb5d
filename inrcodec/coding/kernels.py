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
import threading
import types
from functools import cache

import numpy as np

from . import tables

# tables.py's, written out: numba bakes a global into its cached code, which it recompiles only
# when this file changes, so a change there must come here too (the assertion says so).
CONTEXTS, SCALE_LOW, SCALE_CODES = 6, -48, 128
assert (CONTEXTS, SCALE_LOW, SCALE_CODES) == (tables.CONTEXTS, tables.SCALE_LOW, tables.SCALE_CODES)

ESCAPE_LIMIT = 2 ** 62  # sweep.ESCAPE_LIMIT (sweep imports this module)
ESCAPED = -(2 ** 63)  # what the range decoder leaves where an escaped value goes
NOT_CODED = -1  # the bucket of a point the stream does not hold (missing): the decoder gives 0

HISTOGRAM_PER_POINT = 1  # cell_counts' histogram may hold this many entries a point (+ 2^16): no
# more memory than the sort's keys
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


def compiled() -> dict | None:
    """The compiled kernels by name, or None where numba is missing, cannot compile them, or
    INRCODEC_KERNELS=numpy. Loading them costs about a second in a fresh process (once: the
    threads of a process that need them together wait for the first)."""
    with _LOADING:
        return _compiled()


_LOADING = threading.Lock()


@cache
def _compiled() -> dict | None:
    if os.environ.get("INRCODEC_KERNELS", "").lower() == "numpy":
        return None
    try:
        import numba
    except ImportError:
        return None
    try:
        kernels = {f.__name__: _jit(numba, f)
                   for f in (_sweep_step, _cell_rms, _offset_bits, _lift, _lift_lines, _range_decode,
                             _band_buckets, _dequantize, _batch_sweep, _store, _clip_cast,
                             _plan_totals, _quantize_row, _relax, _linear_chunk,
                             _by_bucket, _cell_counts, _reduce_rows, _logistic_tables)}
        # These call other kernels (a step's reader, the whole decoders of an interpolation
        # sweep and of a wavelet section, a band's quantizer row by row, the tables' costs
        # summed in numpy's order): compiled against the compiled ones.
        def composed(function, *called):
            scope = {**globals(), **{name: kernels[name] for name in called}}
            return _jit(numba, types.FunctionType(function.__code__, scope, function.__name__))
        kernels["_read_step"] = composed(_read_step, "_range_decode")
        kernels["_decode_sweep"] = composed(_decode_sweep, "_range_decode", "_read_step")
        kernels["_decode_bands"] = composed(_decode_bands, "_range_decode", "_read_step",
                                            "_band_buckets", "_dequantize")
        kernels["_quantize_band"] = composed(_quantize_band, "_quantize_row")
        kernels["_cell_costs"] = composed(_cell_costs, "_reduce_rows")
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
    for q in (f(grid.shape, i64), f(grid.shape)):  # the decoder's q: int64, or float where masked
        kernels["_store"](grid, q, 1.0, strided[:, None])
    for dtype in (np.float32, np.float64):
        kernels["_clip_cast"](f(2), -1.0, 1.0, f(2, dtype))
        kernels["_linear_chunk"](f((1, 2), dtype), 1.0, f(2), f((1, 2), np.int32), 1.0, 0.0, f(2))
    kernels["_offset_bits"](f(2, i64), f(2), f(1, i64), f(1, i64), f(9), 3, 1, 3)
    kernels["_logistic_tables"](np.ones(1), -1, 3, 1e-6, 0.7, 0.7, 1e-10, _POWERS_OF_TWO, f(3),
                                f((1, 3), np.float32))
    for lift in ("_lift", "_lift_lines"):
        kernels[lift](strided.copy(), 1, False, 0.1, 0.1, 0.1, 0.1, 1.0, 2.0, 0.5)
        kernels[lift](strided, 1, True, 0.1, 0.1, 0.1, 0.1, 1.0, 2.0, 0.5)
    kernels["_band_buckets"](strided, np.ones(4, bool), 1.0, THRESHOLDS, f((1, 1, 2, 2), i8))
    kernels["_dequantize"](f((1, 1, 1, 2), i64), 0.05, 1.0, strided)
    span = np.array([1, 1, 1, 1, 2, 0, 0, 0, 1], i64)  # the second row of two
    for approximation in (True, False):
        for keep in (True, False):
            kernels["_quantize_band"](f(4), f(4), span, 1.0, approximation, 0.45, 0.05,
                                      f((1, 1, 1, 2), i64), keep)
    kernels["_relax"](f((1, 1, 2, 2)), np.ones((1, 1, 2, 2), np.bool_), 1, f((1, 1, 2, 2)))
    kernels["_plan_totals"](f((1, CONTEXTS, SCALE_CODES)), f((1, 1), i64), f(1, i64), 4, f((1, 1, 1)))
    kernels["_by_bucket"](f(2, i64), f(2, i8), np.ones(CONTEXTS, i64), f(2, np.int32), f(2, i64),
                          f(CONTEXTS + 1, i64))
    kernels["_cell_counts"](f(2, i64), f(2, i8), 0, 1, f(CONTEXTS * 3, i64))
    kernels["_cell_costs"](f(2, i64), np.ones(2, i64), np.array([0, 1], i64), f((1, 1, 2)),
                           f(1, i64), f((2, 2)))
    state = np.array([0, 2 ** 64 - 1, 0, 0], np.uint64)  # a stream of zeros: symbol 0
    kernels["_range_decode"](state, f(1, np.uint32), np.array([0, 1 << 23, 1 << 24], np.uint32),
                             np.array([[0, 2, 0, -1, 0]], i64), f(1, i8), f(1, i64))
    row = np.array([[0, 2, 0, -1, 0]], i64)
    kernels["_decode_sweep"](f(2), f(2, bool), True, np.array([[1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]], i64),
                             np.ones(1, i64), np.ones(1, i64), False, np.ones(1), THRESHOLDS,
                             np.array([0, 2 ** 64 - 1, 0, 0], np.uint64), f(1, np.uint32),
                             np.array([0, 1 << 23, 1 << 24], np.uint32), row,
                             np.array([0, 1 << 23, 1 << 24], np.uint32),
                             np.repeat(row, SCALE_CODES, 0), f(0, i64), f(1), f(1, i8), f(1, i64))
    layout = np.array([[2, 0, 0, 0, 0, 1, 1, 1, 1, -2, 0, 0, 0, 0],  # an approximation of 1
                       [1, 0, 0, 0, 1, 1, 1, 1, 2, 0, 0, 0, 0, 1]], i64)  # and its child
    kernels["_decode_bands"](f((1, 1, 1, 2)), layout, np.ones(2), 4, THRESHOLDS, 0.05,
                             np.array([0, 2 ** 64 - 1, 0, 0], np.uint64), f(1, np.uint32),
                             np.array([0, 1 << 23, 1 << 24], np.uint32), row,
                             np.array([0, 1 << 23, 1 << 24], np.uint32),
                             np.repeat(row, SCALE_CODES, 0), f(0, i64), f(1, i8), f(1, i64))
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


def predict_buckets(known: np.ndarray, m: int, cubic, quantum, settings: bool,
                    coded: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """(prediction float64, bucket int8) of the ``m`` points of a step from its ``known``
    points (the step's axis first; with ``settings``, the trials' settings second, ``cubic``
    and ``quantum`` one per setting, else one each), bucket NOT_CODED where ``coded`` (no
    settings axis) is False; None where the kernel is not at hand."""
    return _step(known, m, cubic, quantum, settings, coded=coded, counted=False)


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
    dwt.merge has ``x -= f * y``, this has ``x += (-f) * y``: they round alike). The four steps
    run together down the rows, each a row or two behind the one before, so that each row of
    ``x`` is read and written once, not once a step: a step's rows t - 2 .. t stay in a ring."""
    n, A, B, C = x.shape
    nd, width = n - ns, A * B * C
    if inverse:  # s from d, d from s, s, d: rows t, t - 1, t - 1, t - 2 at step t
        f1, f2, f3, f4 = -delta, -gamma, -beta, -alpha
        # the lows gathered first: the interleaved output overwrites their rows before they are read
        s, d = np.empty((ns, width)), np.empty((4, width))
        for i in range(ns):
            for a in range(A):
                for b in range(B):
                    line, row = x[i, a, b], s[i, (a * B + b) * C:(a * B + b + 1) * C]
                    for c in range(C):
                        row[c] = line[c] * k
        for t in range(ns + 2):
            u, v = t - 1, t - 2
            if 2 <= t < nd:  # every step on the rows' values at once (no mirrored edges here)
                for a in range(A):
                    for b in range(B):
                        lo, hi = (a * B + b) * C, (a * B + b + 1) * C
                        high, even, odd = x[ns + t, a, b], x[2 * u, a, b], x[2 * v + 1, a, b]
                        dt, du, dv = d[t % 4, lo:hi], d[u % 4, lo:hi], d[v % 4, lo:hi]
                        st, su, sv = s[t, lo:hi], s[u, lo:hi], s[v, lo:hi]
                        for c in range(C):
                            d0 = high[c] * two_over_k
                            s1 = st[c] + f1 * (du[c] + d0)
                            d1 = du[c] + f2 * (su[c] + s1)
                            s2 = su[c] + f3 * (dv[c] + d1)
                            dt[c], st[c], du[c], su[c] = d0, s1, d1, s2
                            even[c] = s2
                            odd[c] = dv[c] + f4 * (sv[c] + s2)
                continue
            if t < nd:
                for a in range(A):
                    for b in range(B):
                        line, row = x[ns + t, a, b], d[t % 4, (a * B + b) * C:(a * B + b + 1) * C]
                        for c in range(C):
                            row[c] = line[c] * two_over_k
            if t < ns:  # s[i] += f (d[i - 1] + d[i]), mirrored past both ends
                out, d0, d1 = s[t], d[max(t - 1, 0) % 4], d[min(t, nd - 1) % 4]
                for r in range(width):
                    out[r] += f1 * (d0[r] + d1[r])
            if 0 <= u < nd:  # d[i] += f (s[i] + s[i + 1]), the last s mirrored
                out, s0, s1 = d[u % 4], s[u], s[min(u + 1, ns - 1)]
                for r in range(width):
                    out[r] += f2 * (s0[r] + s1[r])
            if 0 <= u < ns:
                out, d0, d1 = s[u], d[max(u - 1, 0) % 4], d[min(u, nd - 1) % 4]
                for r in range(width):
                    out[r] += f3 * (d0[r] + d1[r])
                for a in range(A):
                    for b in range(B):
                        line, row = x[2 * u, a, b], out[(a * B + b) * C:(a * B + b + 1) * C]
                        for c in range(C):
                            line[c] = row[c]
            if 0 <= v < nd:
                out, s0, s1 = d[v % 4], s[v], s[min(v + 1, ns - 1)]
                for r in range(width):
                    out[r] += f4 * (s0[r] + s1[r])
                for a in range(A):
                    for b in range(B):
                        line, row = x[2 * v + 1, a, b], out[(a * B + b) * C:(a * B + b + 1) * C]
                        for c in range(C):
                            line[c] = row[c]
        return
    # split: d from s, s from d, d, s: rows t - 1, t - 1, t - 2, t - 2 at step t; the highs kept
    # until the end (their rows are still to be read)
    s, d, highs = np.empty((4, width)), np.empty((4, width)), np.empty((nd, width))
    for t in range(ns + 2):
        u, v = t - 1, t - 2
        if 3 <= t < nd:
            for a in range(A):
                for b in range(B):
                    lo, hi = (a * B + b) * C, (a * B + b + 1) * C
                    even, odd, low = x[2 * t, a, b], x[2 * t + 1, a, b], x[v, a, b]
                    st, su, sv = s[t % 4, lo:hi], s[u % 4, lo:hi], s[v % 4, lo:hi]
                    dt, du, dv, dw = d[t % 4, lo:hi], d[u % 4, lo:hi], d[v % 4, lo:hi], d[(t - 3) % 4, lo:hi]
                    high = highs[v, lo:hi]
                    for c in range(C):
                        s0, d0 = even[c], odd[c]
                        d1 = du[c] + alpha * (su[c] + s0)
                        s1 = su[c] + beta * (dv[c] + d1)
                        d2 = dv[c] + gamma * (sv[c] + s1)
                        s2 = sv[c] + delta * (dw[c] + d2)
                        st[c], dt[c], du[c], su[c], dv[c] = s0, d0, d1, s1, d2
                        low[c] = s2 / k
                        high[c] = d2 * k_over_two
            continue
        if t < ns:
            for a in range(A):
                for b in range(B):
                    line, row = x[2 * t, a, b], s[t % 4, (a * B + b) * C:(a * B + b + 1) * C]
                    for c in range(C):
                        row[c] = line[c]
        if t < nd:
            for a in range(A):
                for b in range(B):
                    line, row = x[2 * t + 1, a, b], d[t % 4, (a * B + b) * C:(a * B + b + 1) * C]
                    for c in range(C):
                        row[c] = line[c]
        if 0 <= u < nd:
            out, s0, s1 = d[u % 4], s[u % 4], s[min(u + 1, ns - 1) % 4]
            for r in range(width):
                out[r] += alpha * (s0[r] + s1[r])
        if 0 <= u < ns:
            out, d0, d1 = s[u % 4], d[max(u - 1, 0) % 4], d[min(u, nd - 1) % 4]
            for r in range(width):
                out[r] += beta * (d0[r] + d1[r])
        if 0 <= v < nd:
            out, s0, s1 = d[v % 4], s[v % 4], s[min(v + 1, ns - 1) % 4]
            for r in range(width):
                out[r] += gamma * (s0[r] + s1[r])
            high, d2 = highs[v], d[v % 4]
            for r in range(width):
                high[r] = d2[r] * k_over_two
        if 0 <= v < ns:
            out, d0, d1 = s[v % 4], d[max(v - 1, 0) % 4], d[min(v, nd - 1) % 4]
            for r in range(width):
                out[r] += delta * (d0[r] + d1[r])
            for a in range(A):
                for b in range(B):
                    line, row = x[v, a, b], out[(a * B + b) * C:(a * B + b + 1) * C]
                    for c in range(C):
                        line[c] = row[c] / k
    for i in range(nd):
        for a in range(A):
            for b in range(B):
                line, row = x[ns + i, a, b], highs[i, (a * B + b) * C:(a * B + b + 1) * C]
                for c in range(C):
                    line[c] = row[c]


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
                if inverse:
                    for i in range(ns):
                        s[i] = line[i] * k
                    for i in range(nd):
                        d[i] = line[ns + i] * two_over_k
                else:
                    for i in range(nd):
                        s[i] = line[2 * i]
                        d[i] = line[2 * i + 1]
                    if ns > nd:
                        s[nd] = line[n - 1]
                for step in range(4):
                    f = order[step]
                    if (step % 2 == 0) != inverse:  # the edges outside the loops: no branches
                        for i in range(ns - 1):
                            d[i] += f * (s[i] + s[i + 1])
                        if nd == ns:
                            d[nd - 1] += f * (s[ns - 1] + s[ns - 1])
                    else:
                        s[0] += f * (d[0] + d[0])
                        for i in range(1, nd):
                            s[i] += f * (d[i - 1] + d[i])
                        if ns > nd and ns > 1:
                            s[nd] += f * (d[nd - 1] + d[nd - 1])
                if inverse:
                    for i in range(nd):
                        line[2 * i] = s[i]
                        line[2 * i + 1] = d[i]
                    if ns > nd:
                        line[n - 1] = s[nd]
                else:
                    for i in range(ns):
                        line[i] = s[i] / k
                    for i in range(nd):
                        line[ns + i] = d[i] * k_over_two


def _cell_rms(cell, q, size):
    below = np.zeros((size, 16), np.int64)
    for j in range(q.shape[0]):  # floor(log2(|q| + 1)), at most 15: q is an integer
        x, octave = min(abs(q[j]), 32767.0) + 1.0, 0
        while x >= 2.0:  # (most q are 0 or 1: no libm call)
            x *= 0.5
            octave += 1
        below[cell[j], octave] += 1
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
    tried = offsets.shape[0]
    table = np.empty((centre.shape[0], tried), np.int64)  # each cell's codes, once
    for c in range(centre.shape[0]):
        for o in range(tried):
            table[c, o] = min(max(centre[c] + offsets[o], 0), codes - 1)
    sums = np.zeros((centre.shape[0], tried))  # a cell's sums side by side (the same order)
    for j in range(q.shape[0]):
        index = (int(min(max(q[j], -limit - 1.0), limit + 1.0)) + limit + 1) * row
        c = cell[j]
        for o in range(tried):
            sums[c, o] += matrix[index + table[c, o]]
    out = np.empty((tried, centre.shape[0]))
    for o in range(tried):
        for c in range(centre.shape[0]):
            out[o, c] = sums[c, o]
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
                    if case == 4 and not encode:  # most points: the loops below fused, in registers
                        for d in range(D):
                            k0, k1, k2, k3 = kk[i - 1, d], kk[i, d], kk[i + 1, d], kk[i + 2, d]
                            pp[d] = (-k0 + 9.0 * k1 + 9.0 * k2 - k3) / 16.0
                            act = abs(k2 - k1)  # case 4 has n >= 4, lo = i and the third difference
                            t = abs(k0 - k1 - k2 + k3)
                            act = t if (t > act) | (t != t) else act  # no branch
                            bb[d] = (act >= t1) + (act >= t2) + (act >= t3) + (act >= t4) + (act >= t5)
                            if has_coded and not coded[i, a, b, c, d]:
                                bb[d] = -1  # NOT_CODED
                        continue
                    if case == 5 and not encode:  # linear, inside (lo = i): fused as case 4
                        for d in range(D):
                            k1, k2 = kk[i, d], kk[i + 1, d]
                            pp[d] = (k1 + k2) * 0.5
                            act = abs(k2 - k1)
                            if third:
                                t = abs(kk[i - 1, d] - k1 - k2 + kk[i + 2, d])
                                act = t if (t > act) | (t != t) else act
                            bb[d] = (act >= t1) + (act >= t2) + (act >= t3) + (act >= t4) + (act >= t5)
                            if has_coded and not coded[i, a, b, c, d]:
                                bb[d] = -1  # NOT_CODED
                        continue
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
                            act = t if (t > act) | (t != t) else act  # no branch
                        bb[d] = (act >= t1) + (act >= t2) + (act >= t3) + (act >= t4) + (act >= t5)
                    if has_coded and not encode:
                        for d in range(D):
                            if not coded[i, a, b, c, d]:
                                bb[d] = -1  # NOT_CODED
                    if encode:  # sweep.quantize, then the reconstruction
                        for d in range(D):
                            qq = np.rint((values[i, a, b, c, d] - pp[d]) / step)
                            if not abs(qq) <= limit or (has_coded and not coded[i, a, b, c, d]):
                                qq = 0.0
                            q[i, a, b, c, d] = qq
                            recon[i, a, b, c, d] = pp[d] + qq * step


def store(pred: np.ndarray, q: np.ndarray, quantum: float, out: np.ndarray) -> bool:
    """``sweep.Sweep.store``: ``out[...] = pred + q * quantum`` (q int64 or float64, every
    array of the step's shape, ``out`` a view into the reconstruction) in one pass; False
    where the kernel is not at hand (or the step has over DIMS axes)."""
    kernels = at_hand(0)
    if kernels is None or out.ndim > DIMS:
        return False
    lead = (None,) * (DIMS - out.ndim)  # read in the step's order: the reads stay sequential
    kernels["_store"](pred[lead], q[lead], quantum, out[lead])
    return True


def _store(pred, q, quantum, out):
    A, B, C, D, E = out.shape
    for a in range(A):
        for b in range(B):
            for c in range(C):
                for d in range(D):
                    for e in range(E):
                        out[a, b, c, d, e] = pred[a, b, c, d, e] + q[a, b, c, d, e] * quantum


def clip_cast(values: np.ndarray, low: float, high: float, dtype: np.dtype) -> np.ndarray | None:
    """``np.clip(values, low, high).astype(dtype)`` of float64 ``values`` into a float
    ``dtype`` (float32 or float64) in one pass (NaN stays NaN); None where the kernel is not
    at hand (or the values are not one contiguous float64 block)."""
    kernels = at_hand(0)
    if (kernels is None or values.dtype != np.float64 or not values.flags.c_contiguous
            or dtype not in (np.float32, np.float64)):
        return None
    out = np.empty(values.shape, dtype)
    kernels["_clip_cast"](values.reshape(-1), low, high, out.reshape(-1))
    return out


def _clip_cast(values, low, high, out):
    for i in range(values.shape[0]):
        v = values[i]
        out[i] = low if v < low else (high if v > high else v)


def logistic_tables(scales: list[float], low: int, size: int, min_probability: float,
                    ln2: tuple[float, float, float]) -> np.ndarray | None:
    """``entropy._tables``' probabilities (float32, a row per scale), the same numbers in one
    compiled pass (``_logistic_tables``: the same IEEE operations in the same order, the
    Taylor series of ``portable_exp`` fused per point); None where the kernel is not at hand.
    A fine resolution's table holds 2**15 symbols a dimension: numpy's passes took 400 ms."""
    kernels = at_hand(len(scales) * size)
    if kernels is None:
        return None
    out = np.empty((len(scales), size), np.float32)
    kernels["_logistic_tables"](np.array(scales, np.float64), low, size, min_probability,
                                *ln2, _POWERS_OF_TWO, np.empty(size), out)
    return out


# 2**k for k from -1022 (index 0) to 1023, exact: exp(y) for |y| <= 700 is a series' value in
# [0.7, 1.5] times 2**k with |k| <= 1010, a normal number, so the product is ldexp's, exactly,
# and the loop has no call that would keep it from running four points at once.
_POWERS_OF_TWO = np.ldexp(1.0, np.arange(-1022, 1024))


def _logistic_tables(scales, low, size, min_probability, ln2, ln2_hi, ln2_lo, powers, p, out):
    for d in range(scales.shape[0]):
        s = scales[d]
        for i in range(size - 1):  # entropy.logistic_cdf((low + i + 0.5) / s), point by point
            x = min(max((low + i + 0.5) / s, -700.0), 700.0)
            y = -x  # its portable_exp(-x)
            k = math.floor(y / ln2 + 0.5)
            r = (y - k * ln2_hi) - k * ln2_lo
            term, value = 1.0, 1.0
            for n in range(1, 18):
                term = term * r / n
                value = value + term
            edge = 1.0 / (1.0 + value * powers[int(k) + 1022])
            p[i] = edge if x > -700 else 0.0
        p[size - 1] = 1.0
        previous, total = 0.0, 0.0
        for i in range(size):  # the edges' differences, floored, and their sequential sum
            edge = p[i]
            p[i] = max(edge - previous, min_probability)
            previous = edge
            total += p[i]
        for i in range(size):
            out[d, i] = p[i] / total


def linear_chunk(products: np.ndarray, factor: float, mean: np.ndarray,
                 chunk_shape: tuple[int, ...], patch_shape: tuple[int, ...], scale: float,
                 offset: float) -> np.ndarray | None:
    """A linear model's chunk (float64, ``chunk_shape``) from its patches' integer
    ``products`` (patches, points; float32 or float64, contiguous): ``(product * factor +
    mean) * scale + offset`` written at each point's place in the chunk
    (``patches.patch_places``), the operations of ``LinearModel.values``, ``from_patches``
    and ``Normalisation.invert`` in their order, in one pass; None where the kernel is not at
    hand."""
    from ..patches import patch_places

    kernels = at_hand(math.prod(chunk_shape))
    if kernels is None:
        return None
    out = np.empty(chunk_shape)
    kernels["_linear_chunk"](products, factor, mean, patch_places(chunk_shape, patch_shape), scale,
                             offset, out.reshape(-1))
    return out


def _linear_chunk(products, factor, mean, places, scale, offset, out):
    for p in range(products.shape[0]):
        for j in range(products.shape[1]):
            k = places[p, j]
            if k >= 0:
                v = np.float64(products[p, j]) * factor
                v = v + mean[j]
                v = v * scale
                out[k] = v + offset


def by_bucket(q: np.ndarray, bucket: np.ndarray, widths: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A step's symbols in coding order (``rangecoder.coded_segments``: bucket by bucket, each
    bucket's in the step's order): (width + q, or 2 width + 1 where |q| passes its bucket's
    width, int32; each bucket's first place and the end, CONTEXTS + 1; the escaped q in that
    order), by counting instead of a stable sort and five passes; None where the kernel is not
    at hand, or for other types than q int64, bucket int8 (0 to CONTEXTS - 1), widths int64."""
    kernels = at_hand(0)
    if kernels is None or (q.dtype, bucket.dtype, widths.dtype) != (np.int64, np.int8, np.int64):
        return None
    coded, escaped = np.empty(q.size, np.int32), np.empty(q.size, np.int64)
    edges = np.empty(CONTEXTS + 1, np.int64)
    count = kernels["_by_bucket"](q, bucket, widths, coded, escaped, edges)
    return coded, edges, escaped[:count]


def _by_bucket(q, bucket, widths, coded, escaped, edges):
    counts, outs = np.zeros(CONTEXTS, np.int64), np.zeros(CONTEXTS, np.int64)
    for j in range(q.shape[0]):
        b = bucket[j]
        counts[b] += 1
        outs[b] += abs(q[j]) > widths[b]
    place, escape = np.empty(CONTEXTS, np.int64), np.empty(CONTEXTS, np.int64)
    total = escapes = 0
    for b in range(CONTEXTS):
        edges[b], place[b], escape[b] = total, total, escapes
        total += counts[b]
        escapes += outs[b]
    edges[CONTEXTS] = total
    for j in range(q.shape[0]):
        b, v = bucket[j], q[j]
        k = widths[b]
        if abs(v) > k:
            coded[place[b]] = 2 * k + 1
            escaped[escape[b]] = v
            escape[b] += 1
        else:
            coded[place[b]] = v + k
        place[b] += 1
    return escapes


def cell_counts(symbols: list, rows: list[int], cells: int, reach: int
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """``tables.plan``'s histogram: ``np.unique(keys, return_counts=True)`` of each point's
    key ``(row * CONTEXTS + bucket) * (2 reach + 1) + clip(q, -reach, reach) + reach`` over
    the steps' (q int64, bucket int8) ``symbols`` at their ``rows`` (under ``cells`` =
    rows x CONTEXTS), counted in a dense histogram in one pass a step instead of sorted: the
    same sorted keys as ``np.unique``'s, with its counts. None where the kernel is not at
    hand, for other types, or where the histogram would outsize the points (a few far
    symbols in a small chunk: sorting them is cheaper)."""
    kernels = at_hand(0)
    if kernels is None or any((q.dtype, b.dtype) != (np.int64, np.int8) for q, b in symbols):
        return None
    # Only as wide as the symbols reach: an archive's small chunks take a few dozen values.
    near = min(reach, max(max(-int(q.min()), int(q.max())) for q, _ in symbols))
    if cells * (2 * near + 1) > HISTOGRAM_PER_POINT * sum(q.size for q, _ in symbols) + (1 << 16):
        return None
    histogram = np.zeros(cells * (2 * near + 1), np.int64)
    for (q, bucket), row in zip(symbols, rows):
        kernels["_cell_counts"](q, bucket, row, near, histogram)
    keys = np.flatnonzero(histogram)
    cell, index = np.divmod(keys, 2 * near + 1)
    return cell * (2 * reach + 1) + index + (reach - near), histogram[keys]


def _cell_counts(q, bucket, row, reach, histogram):
    width = 2 * reach + 1
    for j in range(q.shape[0]):
        v = min(max(q[j], -reach), reach)
        histogram[(row * CONTEXTS + bucket[j]) * width + v + reach] += 1


def cell_costs(index: np.ndarray, counts: np.ndarray, starts: np.ndarray, matrix: np.ndarray,
               shapes: tuple[int, ...]) -> np.ndarray | None:
    """``tables.plan``'s bits of each cell under each of ``shapes`` and every scale code:
    ``matrix``'s rows (``tables.bit_matrix``) at ``index`` times ``counts``, summed over each
    run of keys from ``starts`` (``np.add.reduceat`` along the keys), without the (keys,
    shapes, codes) products numpy makes; the same sums in numpy's order (``_reduce_rows``).
    None where the kernel is not at hand."""
    kernels = at_hand(0)  # (the symbols are counted by their coder)
    if kernels is None:
        return None
    out = np.empty((len(starts), len(shapes) * matrix.shape[2]))
    kernels["_cell_costs"](index, counts, starts, matrix, np.array(shapes, np.int64), out)
    return out.reshape(len(starts), len(shapes), matrix.shape[2])


def _cell_costs(index, counts, starts, matrix, shapes, out):
    codes, width = matrix.shape[2], out.shape[1]
    ends = np.empty(starts.shape[0], np.int64)
    ends[:-1], ends[-1] = starts[1:], index.shape[0]
    longest = (ends - starts).max()
    products = np.empty((longest, width))  # a run's rows, one at a time
    depth, rest = 2, longest  # how deep numpy's halving of the longest run goes, and one more
    while rest > 128:
        rest -= rest // 2 - rest // 2 % 8  # (the larger half)
        depth += 1
    scratch = np.empty((8 + 2 * depth, width))  # _reduce_rows' sums
    for s in range(starts.shape[0]):
        for k in range(starts[s], ends[s]):
            count = np.float64(counts[k])
            for j in range(shapes.shape[0]):
                for c in range(codes):
                    products[k - starts[s], j * codes + c] = matrix[index[k], shapes[j], c] * count
        _reduce_rows(products, ends[s] - starts[s], out[s], scratch)


def _reduce_rows(x, n, out, scratch):
    """``out`` = ``np.add.reduce(x[:n], axis=0)`` as numpy sums a run in ``reduceat`` along an
    outer axis, column by column: the first row, plus numpy's pairwise sum of the rest
    (numpy/_core/src/umath/loops_utils.h.src: under 8 rows one after another, up to 128 in 8
    interleaved sums, more halved at a multiple of 8). tests/test_kernels.py holds numpy to
    it. ``scratch``: 8 rows as wide, and 2 for each level of the halving."""
    width = x.shape[1]
    if n == 1:
        out[:] = x[0]
        return
    levels = (scratch.shape[0] - 8) // 2
    r, partial, value = scratch[:8], scratch[8:8 + levels], scratch[8 + levels:]
    # numpy's halving as a stack of runs (first row, count) still to sum, left to right; a
    # run whose left half is done holds its sum (state 1: summing the left, 2: the right).
    first, count = np.empty(levels, np.int64), np.empty(levels, np.int64)
    state = np.empty(levels, np.int64)
    depth = 0
    first[0], count[0], state[0] = 1, n - 1, 0
    while depth >= 0:
        a, m = first[depth], count[depth]
        if m > 128:
            half = m // 2 - m // 2 % 8
            state[depth] = 1
            first[depth + 1], count[depth + 1], state[depth + 1] = a, half, 0
            depth += 1
            continue
        v = value[depth]
        if m < 8:
            v[:] = x[a]
            for i in range(1, m):
                for c in range(width):
                    v[c] += x[a + i, c]
        else:
            r[:] = x[a:a + 8]
            i = 8
            while i < m - m % 8:
                for j in range(8):
                    for c in range(width):
                        r[j, c] += x[a + i + j, c]
                i += 8
            for c in range(width):
                v[c] = (((r[0, c] + r[1, c]) + (r[2, c] + r[3, c]))
                        + ((r[4, c] + r[5, c]) + (r[6, c] + r[7, c])))
            while i < m:
                for c in range(width):
                    v[c] += x[a + i, c]
                i += 1
        # A finished run's sum goes to the run that halved it.
        done = depth
        depth -= 1
        while depth >= 0 and state[depth] == 2:  # both halves done: the left's plus the right's
            for c in range(width):
                value[depth, c] = partial[depth, c] + value[done, c]
            done = depth
            depth -= 1
        if depth >= 0:  # the left half done: the right next
            partial[depth] = value[done]
            state[depth] = 2
            half = count[depth] // 2 - count[depth] // 2 % 8
            first[depth + 1], count[depth + 1], state[depth + 1] = first[depth] + half, count[depth] - half, 0
            depth += 1
        else:
            for c in range(width):
                out[c] = x[0, c] + value[done, c]


def plan_totals(costs: np.ndarray, level_codes: np.ndarray, activities: np.ndarray,
                slope: int) -> np.ndarray | None:
    """``tables._totals`` in one pass, without its (levels, activities, codes, buckets) index
    array: the same sums in numpy's order (a contiguous axis of six: one after another);
    None where the kernel is not at hand."""
    kernels = at_hand(0)  # (the symbols are counted by their coder)
    if kernels is None:
        return None
    out = np.empty((len(level_codes), len(activities), level_codes.shape[1]))
    kernels["_plan_totals"](np.ascontiguousarray(costs, np.float64),
                            np.ascontiguousarray(level_codes, np.int64),
                            np.ascontiguousarray(activities, np.int64), slope, out)
    return out


def _plan_totals(costs, level_codes, activities, slope, out):
    top = SCALE_CODES - 1
    for level in range(level_codes.shape[0]):
        for a in range(activities.shape[0]):
            for o in range(level_codes.shape[1]):
                floor = level_codes[level, o]
                total = 0.0
                for b in range(CONTEXTS):
                    total += costs[level, b, min(max(floor, activities[a] + slope * b), top)]
                out[level, a, o] = total


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


def quantize_band(whole: np.ndarray, kept: np.ndarray, span: np.ndarray | None, step: float,
                  approximation: bool, rounding: float, pull: float,
                  q: np.ndarray | None = None) -> tuple[int, float] | None:
    """``wavelet.Plan``'s quantize then dequantize of a band of ``whole`` (a chunk's
    coefficients) into the same band of ``kept`` (and its q into ``q``, int64, the band's
    shape, where given), in one pass: (how many of its symbols are not 0, its largest |q|:
    over MAX_Q or NaN, ``q`` holds nothing worth reading); None where the kernel is not at
    hand, or for arrays other than two C-ordered ones of one shape and at most four axes.
    ``span``: the band's first place in them and its lengths and strides along four axes
    (``wavelet._band_spans``; None over four axes)."""
    kernels = at_hand(0)  # (a band's points are counted by its lifting)
    if (kernels is None or span is None or whole.ndim > 4 or whole.shape != kept.shape
            or not (whole.flags.c_contiguous and kept.flags.c_contiguous)):
        return None
    if not span[1:5].prod():
        return 0, 0.0
    keep = q is not None
    return kernels["_quantize_band"](whole.reshape(-1), kept.reshape(-1), span, step,
                                     approximation, rounding, pull,
                                     q.reshape(span[1:5]) if keep else _NO_Q, keep)


_NO_Q = np.zeros((1, 1, 1, 1), np.int64)


def _quantize_band(c, out, span, step, approximation, rounding, pull, q_out, keep):
    # The approximation: q = rint(c / step), coded as differences in C order, decoded at
    # q step (+0.0: an integer q has no -0). A detail: |q| = floor(|c| / step + rounding),
    # decoded as _dequantize decodes it, sign(q) (|q| - pull) step. Row by row, each a
    # contiguous slice of the flat arrays (its last axis is theirs): a band's view is of no
    # known layout to numba, which then vectorises nothing (3.4x slower on a 500 x 500 band).
    # The largest |q| is that of the largest |c| (each operation is monotonic; NaN where some
    # c is NaN), found in a pass of its own: a running maximum in the main loop stops it
    # vectorising too.
    nonzero, previous, top = 0, 0.0, 0.0
    n = span[4]
    for i0 in range(span[1]):
        for i1 in range(span[2]):
            for i2 in range(span[3]):
                a = span[0] + i0 * span[5] + i1 * span[6] + i2 * span[7]
                q_row = q_out[i0, i1, i2] if keep else q_out[0, 0, 0]
                got = _quantize_row(c[a:a + n], out[a:a + n], q_row, step, approximation,
                                    rounding, pull, keep, previous)
                nonzero, previous = nonzero + got[0], got[2]
                if got[1] != got[1]:  # a NaN coefficient: no q (``quantize`` refuses it too)
                    return nonzero, np.nan
                if got[1] > top:
                    top = got[1]
    largest = abs(np.rint(top / step)) if approximation else np.floor(top / step + rounding)
    return nonzero, largest if largest >= 0 else 0.0  # (0 / 0, inf / inf: every q was 0)


def _quantize_row(values, row, q_row, step, approximation, rounding, pull, keep, previous):
    """One row of ``_quantize_band``: (its symbols that are not 0, its largest |value|, its
    last q)."""
    nonzero, top = 0, 0.0
    if approximation:
        for j in range(values.shape[0]):
            q = np.rint(values[j] / step)
            row[j] = (q + 0.0) * step
            nonzero += q != previous
            previous = q
            if keep and abs(q) <= 4503599627370496.0:  # MAX_Q: an int64 for sure
                q_row[j] = np.int64(q)
    else:
        for j in range(values.shape[0]):
            v = values[j]
            m = np.floor(abs(v) / step + rounding)
            sign = np.float64((np.int64(v > 0) - np.int64(v < 0)) * np.int64(m != 0))
            q = sign * m
            row[j] = sign * (m - pull) * step
            nonzero += m != 0
            if keep and abs(q) <= 4503599627370496.0:
                q_row[j] = np.int64(q)
    nan = False
    for j in range(values.shape[0]):
        nan |= values[j] != values[j]
        if abs(values[j]) > top:
            top = abs(values[j])
    return nonzero, np.nan if nan else top, previous


def relax(x: np.ndarray, free: np.ndarray, sweeps: int) -> np.ndarray | None:
    """``wavelet._relaxed`` (Jacobi sweeps moving each ``free`` point to its neighbours' mean)
    compiled: each point's neighbours summed in numpy's order (axis by axis, the lower one
    first); None where the kernel is not at hand (or over four axes)."""
    kernels = at_hand(0)  # (the fill's points are counted by the transform after it)
    if kernels is None or x.ndim > 4 or max(x.shape, default=1) < 2:
        return None
    shape = (1,) * (4 - x.ndim) + x.shape
    out = np.array(x, np.float64).reshape(shape)
    kernels["_relax"](out, np.ascontiguousarray(free).reshape(shape), sweeps, np.empty(shape))
    return out.reshape(x.shape)


def _relax(x, free, sweeps, spare):
    N = x.shape
    for _ in range(sweeps):
        for i0 in range(N[0]):
            for i1 in range(N[1]):
                for i2 in range(N[2]):
                    for i3 in range(N[3]):
                        if not free[i0, i1, i2, i3]:
                            spare[i0, i1, i2, i3] = x[i0, i1, i2, i3]
                            continue
                        total, count = 0.0, 0.0
                        if N[0] > 1:
                            if i0 > 0:
                                total += x[i0 - 1, i1, i2, i3]
                                count += 1.0
                            if i0 < N[0] - 1:
                                total += x[i0 + 1, i1, i2, i3]
                                count += 1.0
                        if N[1] > 1:
                            if i1 > 0:
                                total += x[i0, i1 - 1, i2, i3]
                                count += 1.0
                            if i1 < N[1] - 1:
                                total += x[i0, i1 + 1, i2, i3]
                                count += 1.0
                        if N[2] > 1:
                            if i2 > 0:
                                total += x[i0, i1, i2 - 1, i3]
                                count += 1.0
                            if i2 < N[2] - 1:
                                total += x[i0, i1, i2 + 1, i3]
                                count += 1.0
                        if N[3] > 1:
                            if i3 > 0:
                                total += x[i0, i1, i2, i3 - 1]
                                count += 1.0
                            if i3 < N[3] - 1:
                                total += x[i0, i1, i2, i3 + 1]
                                count += 1.0
                        spare[i0, i1, i2, i3] = total / max(count, 1.0)
        x[...] = spare


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
    """``sign(q) (|q| - pull) step``; a band of zeros (most of a smooth field's) filled with
    its one value (-0.0 at a finite step: not skipped)."""
    Q = q.shape
    if q.size == 0:
        return
    zeros = True
    for i0 in range(Q[0]):
        for i1 in range(Q[1]):
            for i2 in range(Q[2]):
                values = q[i0, i1, i2]
                for i3 in range(Q[3]):
                    zeros &= values[i3] == 0
                if not zeros:
                    break
            if not zeros:
                break
        if not zeros:
            break
    for i0 in range(Q[0]):
        for i1 in range(Q[1]):
            for i2 in range(Q[2]):
                row, values = out[i0, i1, i2], q[i0, i1, i2]
                if zeros:
                    v = values[0]
                    row[:] = np.float64(np.int64(v > 0) - np.int64(v < 0)) * (abs(v) - pull) * step
                    continue
                for i3 in range(Q[3]):
                    v = values[i3]
                    sign = np.float64(np.int64(v > 0) - np.int64(v < 0))  # no branch; 0.0, not -0.0
                    row[i3] = sign * (abs(v) - pull) * step


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
    carried from call to call; a point of bucket NOT_CODED is not in the stream (``out`` 0).
    Returns how many escapes were decoded (``out`` holds ESCAPED there), or -1 where the
    stream is not one constriction could decode."""
    precision, word = np.uint64(24), np.uint64(32)
    one = np.uint64(1)
    lower, width, point, pos = state[0], state[1], state[2], np.int64(state[3])
    n, T = bucket.shape[0], tables.shape[0]
    counts = np.zeros(T, np.int64)
    if T <= 6:  # CONTEXTS: counted in registers, in one pass (no chain through memory)
        c0, c1, c2, c3, c4, c5 = 0, 0, 0, 0, 0, 0
        for j in range(n):
            b = bucket[j]
            c0, c1, c2 = c0 + (b == 0), c1 + (b == 1), c2 + (b == 2)
            c3, c4, c5 = c3 + (b == 3), c4 + (b == 4), c5 + (b == 5)
        for t, c in enumerate((c0, c1, c2, c3, c4, c5)):
            if t < T:
                counts[t] = c
    else:
        for j in range(n):
            if bucket[j] >= 0:
                counts[bucket[j]] += 1
    start = np.zeros(T + 1, np.int64)  # each bucket's first place in the stream's order
    for t in range(T):
        start[t + 1] = start[t] + counts[t]
    mixed = counts.max() < n  # else every point is in one bucket, in order
    decoded = np.empty(n, np.int64) if mixed else out  # in the stream's order, then put back
    escapes = 0
    for t in range(tables.shape[0]):
        if not counts[t]:
            continue
        first, size, low, escape, likely = (tables[t, 0], tables[t, 1], tables[t, 2], tables[t, 3],
                                            tables[t, 4])
        likely_left, likely_right = np.uint64(cdf[first + likely]), np.uint64(cdf[first + likely + 1])
        for j in range(start[t], start[t + 1]):
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
                decoded[j] = ESCAPED
                escapes += 1
            else:
                decoded[j] = symbol + low
    state[0], state[1], state[2], state[3] = lower, width, point, np.uint64(pos)
    if mixed:  # each point takes its bucket's next value; the likeliest bucket's by a branch
        top = np.argmax(counts)  # that is mostly taken where it holds most points
        filled, next_top = start[:-1].copy(), start[top]
        for j in range(n):
            b = bucket[j]
            if b == top:
                out[j] = decoded[next_top]
                next_top += 1
            elif b < 0:  # NOT_CODED
                out[j] = 0
            else:
                out[j] = decoded[filled[b]]
                filled[b] += 1
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
                                if case >= 4:  # inside (lo = i): most points, fewer loads
                                    k1, k2 = r[i * kd + o], r[(i + 1) * kd + o]
                                    if case == 4:
                                        pp = (-r[(i - 1) * kd + o] + 9.0 * k1 + 9.0 * k2
                                              - r[(i + 2) * kd + o]) / 16.0
                                    else:
                                        pp = (k1 + k2) * 0.5
                                    act = abs(k2 - k1)
                                    if third:  # np.maximum's NaN: a NaN either side is NaN
                                        t = abs(r[(i - 1) * kd + o] - k1 - k2 + r[(i + 2) * kd + o])
                                        act = t if (t > act) | (t != t) else act  # no branch
                                else:
                                    if case == 0:
                                        pp = r[o]
                                    elif case == 1:
                                        pp = 1.5 * r[(n - 1) * kd + o] - 0.5 * r[(n - 2) * kd + o]
                                    elif case == 2:
                                        pp = (3.0 * r[o] + 6.0 * r[kd + o] - r[2 * kd + o]) / 8.0
                                    else:
                                        pp = (-r[(n - 3) * kd + o] + 6.0 * r[(n - 2) * kd + o]
                                              + 3.0 * r[(n - 1) * kd + o]) / 8.0
                                    act = abs(r[(lo + 1) * kd + o] - r[lo * kd + o]) if n >= 2 else 0.0
                                    if third:
                                        t = abs(r[(i - 1) * kd + o] - r[i * kd + o] - r[(i + 1) * kd + o]
                                                + r[(i + 2) * kd + o])
                                        act = t if (t > act) | (t != t) else act
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


def decode_sweep(recon: np.ndarray, missing: np.ndarray | None, steps: np.ndarray,
                 counts: np.ndarray, levels: np.ndarray, cubic: bool, quantum: np.ndarray,
                 state: np.ndarray, words: np.ndarray, tables: tuple, escapes: np.ndarray) -> int:
    """``stream.read``'s steps in one call, where ``compiled`` gave kernels: ``recon`` (flat,
    anchors set) rebuilt from the stream read by ``state`` and ``words`` (``RangeReader``'s),
    each step's prediction and bucket as ``_sweep_step`` makes them, its symbols as
    ``_range_decode`` reads them under the level's tables (``tables``: the uniform table's
    cdf and row, every scale code's cdf and rows, as ``rangecoder.packed_tables`` packs
    them), escapes taken from ``escapes`` in bucket order, and its points stored as
    ``_store`` stores them. ``steps``: ``sweep.flat_steps``; ``counts``, ``levels`` and
    ``quantum``: each step's coded points, level and quantizer step. Returns how many
    escapes it took, -1 for a stream constriction could not decode, -2 for too few escapes."""
    size = int(steps[:, 1].max()) * int(steps[:, 4:8].prod(1).max()) if len(steps) else 0
    pred, bucket, q = np.empty(size), np.empty(size, np.int8), np.empty(size, np.int64)
    return compiled()["_decode_sweep"](
        recon, np.zeros(1, np.bool_) if missing is None else missing, missing is not None, steps,
        counts, levels, cubic, quantum, THRESHOLDS, state, words, *tables, escapes, pred, bucket,
        q)


def _decode_sweep(r, missing, has_missing, steps, counts, levels, cubic, quantum, thresholds,
                  state, words, uniform_cdf, uniform_row, cdf, rows, escapes, pred, bucket, q):
    # The predictions and buckets are sweep.interpolate's and sweep.buckets', as _sweep_step and
    # _batch_sweep compute them too: a change to one is a change to all four (test_kernels.py
    # and test_range_reader.py compare them).
    taken, current, activity = 0, -1, 0
    one_bucket, one = np.zeros(1, np.int8), np.zeros(1, np.int64)
    tabs = np.empty((CONTEXTS, rows.shape[1]), np.int64)
    if counts.sum():
        if _range_decode(state, words, uniform_cdf, uniform_row, one_bucket, one) < 0:
            return -1
        activity = SCALE_LOW + one[0]
    for s in range(steps.shape[0]):
        n, m, kd, t0 = steps[s, 0], steps[s, 1], steps[s, 2], steps[s, 3]
        c1, c2, c3, c4 = steps[s, 4], steps[s, 5], steps[s, 6], steps[s, 7]
        w1, w2, w3, w4 = steps[s, 8], steps[s, 9], steps[s, 10], steps[s, 11]
        step = quantum[s]
        t1, t2, t3 = thresholds[0] * step, thresholds[1] * step, thresholds[2] * step
        t4, t5 = thresholds[3] * step, thresholds[4] * step
        o = 0
        for i in range(m):  # _sweep_step's predictions and buckets, in the step's point order
            third = n >= 4 and 1 <= i and i <= n - 3
            lo = i if i < n - 1 else n - 2
            if n == 1:
                case = 0
            elif i == n - 1:
                case = 1
            elif cubic and n >= 3:
                case = 2 if i == 0 else (3 if i == n - 2 else 4)
            else:
                case = 5
            for x1 in range(c1):
                for x2 in range(c2):
                    for x3 in range(c3):
                        base = x1 * w1 + x2 * w2 + x3 * w3
                        if case == 4:  # most points: n >= 4, lo = i and the third difference
                            r0, r1 = (i - 1) * kd + base, i * kd + base
                            r2, r3 = (i + 1) * kd + base, (i + 2) * kd + base
                            for x4 in range(c4):
                                f = x4 * w4
                                k0, k1, k2, k3 = r[r0 + f], r[r1 + f], r[r2 + f], r[r3 + f]
                                pred[o + x4] = (-k0 + 9.0 * k1 + 9.0 * k2 - k3) / 16.0
                                act = abs(k2 - k1)
                                t = abs(k0 - k1 - k2 + k3)
                                act = t if (t > act or t != t) else act
                                bucket[o + x4] = ((act >= t1) + (act >= t2) + (act >= t3)
                                                  + (act >= t4) + (act >= t5))
                        elif case == 5:  # linear, inside (lo = i): as case 4, two points
                            r1, r2 = i * kd + base, (i + 1) * kd + base
                            r0, r3 = (i - 1) * kd + base, (i + 2) * kd + base  # (if third)
                            for x4 in range(c4):
                                f = x4 * w4
                                k1, k2 = r[r1 + f], r[r2 + f]
                                pred[o + x4] = (k1 + k2) * 0.5
                                act = abs(k2 - k1)
                                if third:
                                    t = abs(r[r0 + f] - k1 - k2 + r[r3 + f])
                                    act = t if (t > act) | (t != t) else act
                                bucket[o + x4] = ((act >= t1) + (act >= t2) + (act >= t3)
                                                  + (act >= t4) + (act >= t5))
                        else:  # the ends (cases 0-3)
                            for x4 in range(c4):
                                f = base + x4 * w4
                                if case == 0:
                                    pp = r[f]
                                elif case == 1:
                                    pp = 1.5 * r[(n - 1) * kd + f] - 0.5 * r[(n - 2) * kd + f]
                                elif case == 2:
                                    pp = (3.0 * r[f] + 6.0 * r[kd + f] - r[2 * kd + f]) / 8.0
                                else:
                                    pp = (-r[(n - 3) * kd + f] + 6.0 * r[(n - 2) * kd + f]
                                          + 3.0 * r[(n - 1) * kd + f]) / 8.0
                                act = abs(r[(lo + 1) * kd + f] - r[lo * kd + f]) if n >= 2 else 0.0
                                if third:  # np.maximum's NaN: a NaN either side is NaN
                                    t = abs(r[(i - 1) * kd + f] - r[i * kd + f] - r[(i + 1) * kd + f]
                                            + r[(i + 2) * kd + f])
                                    act = t if (t > act or t != t) else act
                                pred[o + x4] = pp
                                bucket[o + x4] = ((act >= t1) + (act >= t2) + (act >= t3)
                                                  + (act >= t4) + (act >= t5))
                        if has_missing:
                            for x4 in range(c4):
                                if missing[t0 + i * kd + base + x4 * w4]:
                                    bucket[o + x4] = -1  # NOT_CODED
                        o += c4
        if counts[s]:
            taken = _read_step(state, words, uniform_cdf, uniform_row, cdf, rows, tabs,
                               levels[s] != current, activity, 4, bucket[:o], q[:o], escapes, taken)
            current = levels[s]
            if taken < 0:
                return taken
        else:
            q[:o] = 0
        o = 0
        for i in range(m):  # _store
            for x1 in range(c1):
                for x2 in range(c2):
                    for x3 in range(c3):
                        base = t0 + i * kd + x1 * w1 + x2 * w2 + x3 * w3
                        for x4 in range(c4):
                            r[base + x4 * w4] = pred[o + x4] + q[o + x4] * step
                        o += c4
    return taken


def _read_step(state, words, uniform_cdf, uniform_row, cdf, rows, tabs, new_level, activity,
               slope, bucket, q, escapes, taken):
    """One step's (or band's) symbols into ``q`` as the whole decoders read them: at a
    ``new_level``, first the level's code and its buckets' tables (``tables.cell_codes``) into
    ``tabs``; then ``bucket``'s points under them (``_range_decode``), each escape taken from
    ``escapes`` from ``taken`` on, bucket by bucket, each bucket's in the points' order. The
    new ``taken``, -1 for a stream constriction could not decode, -2 for too few escapes."""
    one_bucket, one = np.zeros(1, np.int8), np.zeros(1, np.int64)
    if new_level:
        if _range_decode(state, words, uniform_cdf, uniform_row, one_bucket, one) < 0:
            return -1
        for c in range(CONTEXTS):
            code = min(SCALE_LOW + SCALE_CODES - 1, max(SCALE_LOW + one[0], activity + slope * c))
            tabs[c] = rows[code - SCALE_LOW]
    found = _range_decode(state, words, cdf, tabs, bucket, q)
    if found < 0:
        return -1
    if found:
        where, w = np.empty(found, np.int64), 0
        for j in range(q.shape[0]):
            if q[j] == ESCAPED:
                where[w] = j
                w += 1
        for c in range(CONTEXTS):
            for j in where:
                if bucket[j] == c:
                    if taken == escapes.shape[0]:
                        return -2
                    q[j] = escapes[taken]
                    taken += 1
    return taken


def decode_bands(kept: np.ndarray, layout: np.ndarray, steps: np.ndarray, slope: int,
                 thresholds: np.ndarray, pull: float, state: np.ndarray, words: np.ndarray, tables: tuple,
                 escapes: np.ndarray) -> int:
    """``wavelet.decode``'s bands in one call, where ``compiled`` gave kernels: ``kept`` (four
    axes, zeros) filled with every band's dequantized coefficients from the stream read by
    ``state`` and ``words`` (``RangeReader``'s), band by band as ``wavelet.decode`` reads
    them: its buckets as ``_band_buckets`` makes them (bucket 0 without a parent or where the
    parent is all zeros), its symbols as ``_range_decode`` reads them under its level's tables
    (``tables``: the uniform table's cdf and row, every scale code's cdf and rows), escapes in
    bucket order, the approximation's q summed from its differences, each band dequantized as
    ``wavelet.Plan.dequantize``. ``layout``: a row per band (``wavelet.Plan.layout``);
    ``steps``: each band's quantizer step. Returns how many escapes it took, -1 for a stream
    constriction could not decode, -2 for too few escapes."""
    sizes = (layout[:, 5:9] - layout[:, 1:5]).prod(1)
    size = int(sizes.max()) if len(sizes) else 0
    return compiled()["_decode_bands"](kept, layout, steps, slope, thresholds, pull,
                                       state, words, *tables, escapes, np.empty(size, np.int8),
                                       np.empty(size, np.int64))


def _decode_bands(kept, layout, steps, slope, thresholds, pull, state, words, uniform_cdf,
                  uniform_row, cdf, rows, escapes, bucket, q):
    taken, current, activity = 0, -1, 0
    one_bucket, one = np.zeros(1, np.int8), np.zeros(1, np.int64)
    tabs = np.empty((CONTEXTS, rows.shape[1]), np.int64)
    if kept.size:
        if _range_decode(state, words, uniform_cdf, uniform_row, one_bucket, one) < 0:
            return -1
        activity = SCALE_LOW + one[0]
    for i in range(layout.shape[0]):
        level, parent = layout[i, 0], layout[i, 9]
        view = kept[layout[i, 1]:layout[i, 5], layout[i, 2]:layout[i, 6],
                    layout[i, 3]:layout[i, 7], layout[i, 4]:layout[i, 8]]
        n = view.size
        if n == 0:
            continue
        shape = view.shape
        b, qq = bucket[:n], q[:n]
        b[:] = 0
        if parent >= 0:
            above = kept[layout[parent, 1]:layout[parent, 5], layout[parent, 2]:layout[parent, 6],
                         layout[parent, 3]:layout[parent, 7], layout[parent, 4]:layout[parent, 8]]
            active = False  # a parent of zeros: bucket 0 without a look (NaN counts: not 0)
            for value in above.flat:
                if value != 0:
                    active = True
                    break
            if active:
                halved = layout[i, 10:14] != 0
                _band_buckets(above, halved, steps[i], thresholds, b.reshape(shape))
        taken = _read_step(state, words, uniform_cdf, uniform_row, cdf, rows, tabs,
                           level != current, activity, slope, b, qq, escapes, taken)
        current = level
        if taken < 0:
            return taken
        if parent == -2:  # the approximation: its q's differences in C order, rounded to nearest
            total, j = 0, 0
            for i0 in range(shape[0]):
                for i1 in range(shape[1]):
                    for i2 in range(shape[2]):
                        row = view[i0, i1, i2]
                        for i3 in range(shape[3]):
                            total += qq[j]
                            row[i3] = total * steps[i]
                            j += 1
        else:
            _dequantize(qq.reshape(shape), pull, steps[i], view)
    return taken
