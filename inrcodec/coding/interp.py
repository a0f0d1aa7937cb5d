"""Error-bounded coding with SZ3-style multilevel interpolation prediction.

``encode(values, half)`` codes a float64 array so that ``decode`` returns every non-missing value
within ``half`` (up to float64 rounding). Points are visited from a coarse grid down to stride 1
(SZ3, Zhao et al. ICDE 2021): at level ``l`` (stride ``s = 2**l``) and axis ``d`` the new points
are those at odd multiples of ``s/2`` along ``d``, on the grid already decoded along the other
axes (axes refined before ``d`` at this level at stride ``s/2``, the others at ``s``; axes go
first to last, or last to first: a flag). Each is predicted from decoded neighbours along
``d`` (cubic -1/16, 9/16, 9/16, -1/16, or linear; quadratic or linear at the edges), its error
quantized with step ``2 h_l`` and reconstructed as ``pred + 2 h_l q``. One level-axis step is
one vectorised numpy pass, and the decoder repeats the encoder's arithmetic exactly
(elementwise IEEE operations only), so both hold bit-identical reconstructions.

``h_l = half / min(alpha**(l-1), beta)`` (QoZ's level-wise bounds): coarse points, from which
everything finer is predicted, get a finer quantizer. Missing points are neither coded nor used
as data: their reconstruction is their prediction, so neighbours still predict from something
both sides know.

Entropy coding (constriction's range coder): each point's context is the local activity of its
known neighbours (the larger of their first and third differences, in quantizer steps, in
``CONTEXTS`` octave buckets, found by comparisons, not logarithms); its symbol is coded with a
discretised table of one of ``SHAPES`` (a Laplace, two Laplace mixtures, a logistic; one per
chunk) whose rms code (quarter octaves, normalise.py's grid) is
``max(level code, activity code + 4 bucket)``: one code per level and one per chunk, so a
37 x 49 chunk spends about 6 bytes on its tables. The encoder picks the codes and shape of the
fewest bits (the tables' ideal code lengths over the symbols' histograms, within a few bytes of
the real stream), and the interpolant, level bounds and axis order from trial sweeps on a
central block (``TRIAL_POINTS``). Tables come from portable
arithmetic only (entropy.portable_exp), so every machine builds the same ones. Symbols beyond a
table's ``+-K`` take its escape symbol and are stored as svarints beside the stream.

Section layout::

    u8 flags: cubic (bit 0) | level-bound mode (bits 1-2, ``BOUND_MODES``) | table shape
        (bits 3-4, ``SHAPES``) | axes in reverse order (bit 5); bits 6-7 are 0
    varint E: the number of escaped values; then E svarints: the anchor's q (when it is not
        missing) and each escaped q, in coding order
    the range-coded stream, to the end: 32-bit words big-endian, cut to the byte. In it, when
        any point but the anchor is coded: the activity code (uniform over the 128 scale codes),
        then per level (coarse to fine) that has coded points its level code (uniform), and per
        level-axis step, per context bucket in increasing order, the bucket's symbols (C order of
        the step's grid with the step's axis moved first, missing points skipped)
"""

import math
from functools import lru_cache

import constriction
import numpy as np

try:
    from .bytes import ContainerError, Reader, svarint, varint
except ImportError:  # before the toolbox moved to bytes.py
    from .container import ContainerError, Reader, svarint, varint
from .entropy import logistic_cdf, portable_exp
from .normalise import scale_from_code

CONTEXTS = 6
SCALE_LOW, SCALE_CODES = -48, 128  # scale codes -48..79: rms 2**-12 .. 2**19.75 steps
MAX_K = 2 ** 12  # a table's widest symbol; anything wider escapes
TAIL_WIDTH = 16  # a table spans +-TAIL_WIDTH rms (at least +-1)
MIN_PROBABILITY = 2.0 ** -20
ESCAPE_LIMIT = 2 ** 62  # a larger |q| is coded as 0: such a value misses the bound anyway
BOUND_MODES = ((1.0, 1.0), (1.25, 2.0), (1.5, 3.0), (2.0, 4.0))  # (alpha, beta) per level
# Table shapes: (weight, width) of a second Laplace mixed into the first; width 0: a logistic.
SHAPES = ((0.0, 1.0), (0.1, 4.0), (0.3, 4.0), (0.0, 0.0))
SMALL_STREAM = 1 << 16  # up to this many symbols, the stream's tail is cut as short as decodes
TRIAL_POINTS = 1 << 15  # settings are chosen on a central block of about this many points


def encode(values: np.ndarray, half: float, missing: np.ndarray | None = None,
           cubic: bool | None = None, bound_mode: int | None = None,
           reverse: bool | None = None) -> tuple[bytes, np.ndarray]:
    """(section bytes, the decoder's reconstruction as float64) of ``values``.

    Every non-missing point of the reconstruction is within ``half`` of its value (up to
    float64 rounding; a non-finite value, or one so far from its prediction that ``|q|`` would
    pass ``ESCAPE_LIMIT``, is not: it decodes to its prediction, and the caller must store it
    otherwise). Missing points decode to their prediction. ``cubic``, ``bound_mode`` and
    ``reverse`` (the axis order) fix the settings the encoder otherwise chooses for the fewest
    bits.
    """
    values = np.asarray(values, dtype=np.float64)
    missing = _check(values.shape, half, missing)
    sweep, symbols = _choose(values, half, missing, cubic, bound_mode, reverse)
    return _write(sweep, symbols), sweep.recon


def _run(values: np.ndarray, half: float, missing: np.ndarray | None,
         settings: tuple[bool, int, bool]) -> tuple["_Sweep", list]:
    """The encoder's sweep over ``values``, and each step's (q, bucket) of its coded points."""
    sweep = _Sweep(values.shape, half, missing, *settings)
    if sweep.anchor_coded:
        sweep.anchor_q = int(_quantize(values[(0,) * values.ndim], sweep.anchor_step))
        sweep.anchor(sweep.anchor_q)
    return sweep, [sweep.encode_step(values, step) for step in sweep.steps]


def decode(data: bytes, shape: tuple[int, ...], half: float,
           missing: np.ndarray | None = None) -> np.ndarray:
    """The float64 reconstruction ``encode`` returned; ContainerError for bad bytes."""
    shape = tuple(int(n) for n in shape)
    missing = _check(shape, half, missing)
    reader = Reader(bytes(data), 0)
    flags = reader.byte()
    if flags >> 6:
        raise ContainerError("corrupted interpolation section: unknown flags")
    sweep = _Sweep(shape, half, missing, bool(flags & 1), flags >> 1 & 3, bool(flags >> 5 & 1))
    count = reader.varint()
    if count > sweep.coded + 1:
        raise ContainerError("corrupted interpolation section: too many escaped values")
    escapes = [reader.svarint() for _ in range(count)]
    if any(abs(q) > ESCAPE_LIMIT for q in escapes):
        raise ContainerError("corrupted interpolation section: escaped value out of range")
    try:
        _read(sweep, reader.rest(), escapes, flags >> 3 & 3)
    except AssertionError as e:  # constriction's word for a stream it cannot decode
        raise ContainerError(f"corrupted interpolation section: {e}") from e
    return sweep.recon


def _check(shape: tuple[int, ...], half: float, missing: np.ndarray | None) -> np.ndarray | None:
    if not (math.isfinite(half) and half > 0):
        raise ValueError(f"the half step must be positive and finite, not {half}")
    if missing is None:
        return None
    missing = np.asarray(missing, dtype=bool)
    if missing.shape != tuple(shape):
        raise ValueError(f"missing mask of shape {missing.shape} for values of shape {shape}")
    return missing if missing.any() else None


# --- prediction ---------------------------------------------------------------------------

class _Step:
    """One level-axis pass: where its points lie, their predictions, contexts and coded ones."""

    def __init__(self, level: int, axis: int, known: tuple, target: tuple, order: tuple,
                 shape: tuple, coded: np.ndarray | None):
        self.level, self.axis, self.known, self.target = level, axis, known, target
        self.order, self.shape = order, shape  # the axes with ``axis`` first, the grid's shape so
        self.coded = coded  # boolean mask over that grid; None: all coded
        self.count = math.prod(shape) if coded is None else int(coded.sum())  # how many are coded


class _Sweep:
    """The reconstruction as it is built, step by step, the same on both sides."""

    def __init__(self, shape: tuple[int, ...], half: float, missing: np.ndarray | None,
                 cubic: bool, bound_mode: int, reverse: bool = False):
        self.shape, self.cubic, self.bound_mode, self.reverse = shape, cubic, bound_mode, reverse
        self.missing = missing
        self.recon = np.zeros(shape, dtype=np.float64)
        self.levels = _levels(shape)
        self.steps = list(_steps(shape, self.levels, missing, reverse))
        self.halves = _halves(half, self.levels, BOUND_MODES[bound_mode])
        self.anchor_coded = math.prod(shape) > 0 and not (missing is not None
                                                         and missing[(0,) * len(shape)])
        self.anchor_step = 2.0 * self.halves[self.levels + 1]
        self.anchor_q = 0
        self.coded = sum(s.count for s in self.steps)

    def predict(self, step: _Step) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, context bucket) of the step's points, axis first."""
        known = self.recon[step.known].transpose(step.order)
        m = step.shape[0]
        pred = _interpolate(known, m, self.cubic)
        return pred, _buckets(known, m, 2.0 * self.halves[step.level])

    def store(self, step: _Step, pred: np.ndarray, q: np.ndarray) -> None:
        """Reconstruct the step's points from their prediction and (float) q; q = 0 where missing."""
        out = self.recon[step.target].transpose(step.order)
        out[...] = pred + q * (2.0 * self.halves[step.level])

    def encode_step(self, values: np.ndarray, step: _Step) -> tuple[np.ndarray, np.ndarray]:
        """(q, bucket) of the step's coded points, after storing their reconstruction."""
        pred, bucket = self.predict(step)
        v = values[step.target].transpose(step.order)
        q = _quantize(v - pred, 2.0 * self.halves[step.level])
        if step.coded is not None:
            q[~step.coded] = 0.0
        self.store(step, pred, q)
        if step.coded is not None:
            return q[step.coded].astype(np.int64), bucket[step.coded]
        return q.ravel().astype(np.int64), bucket.ravel()

    def anchor(self, q: float) -> None:
        self.recon[(0,) * len(self.shape)] = q * self.anchor_step


def _levels(shape: tuple[int, ...]) -> int:
    n = max(shape, default=1)
    return math.ceil(math.log2(n)) if n > 1 else 0


def _halves(half: float, levels: int, mode: tuple[float, float]) -> list[float]:
    """Half steps per level (index 0 unused; levels + 1 is the anchor), by exact products so that
    every machine gets the same numbers (no pow())."""
    alpha, beta = mode
    halves, ratio = [half, half], 1.0
    for _ in range(2, levels + 2):
        ratio = min(ratio * alpha, beta)
        halves.append(half / ratio)
    return halves


def _steps(shape: tuple[int, ...], levels: int, missing: np.ndarray | None, reverse: bool):
    """Each level's passes, one per axis: the first axis first, or (``reverse``) the last."""
    axes = list(range(len(shape)))[::-1 if reverse else 1]
    for level in range(levels, 0, -1):
        s, h = 2 ** level, 2 ** (level - 1)
        for i, d in enumerate(axes):
            if shape[d] <= h:
                continue
            done = axes[:i]  # refined at this level already
            known = tuple(slice(0, None, h if e in done else s) for e in range(len(shape)))
            target = known[:d] + (slice(h, None, s),) + known[d + 1:]
            grid = [len(range(*t.indices(m))) for t, m in zip(target, shape)]
            if math.prod(grid):
                order = (d,) + tuple(e for e in range(len(shape)) if e != d)  # the axis first
                coded = None if missing is None else ~missing[target].transpose(order)
                yield _Step(level, d, known, target, order, tuple(grid[e] for e in order), coded)


def _interpolate(k: np.ndarray, m: int, cubic: bool) -> np.ndarray:
    """Predictions of the ``m`` points between (and, if m == len(k), after) the known ``k``."""
    n = k.shape[0]
    pred = np.empty((m,) + k.shape[1:])
    if n == 1:
        pred[0] = k[0]
        return pred
    if cubic and n >= 3:
        if n >= 4:
            pred[1:n - 2] = (-k[:n - 3] + 9.0 * k[1:n - 2] + 9.0 * k[2:n - 1] - k[3:]) / 16.0
        pred[0] = (3.0 * k[0] + 6.0 * k[1] - k[2]) / 8.0
        pred[n - 2] = (-k[n - 3] + 6.0 * k[n - 2] + 3.0 * k[n - 1]) / 8.0
    else:
        pred[:n - 1] = (k[:-1] + k[1:]) * 0.5
    if m == n:  # a point past the last known one: linear extrapolation
        pred[n - 1] = 1.5 * k[n - 1] - 0.5 * k[n - 2]
    return pred


def _buckets(k: np.ndarray, m: int, step: float) -> np.ndarray:
    """Context of each point: octaves of its neighbours' activity, in quantizer steps.

    Thresholds are compared, never logarithms taken, so both sides agree exactly."""
    n = k.shape[0]
    activity = np.zeros((m,) + k.shape[1:])
    if n >= 2:
        j = min(m, n - 1)
        activity[:j] = np.abs(k[1:j + 1] - k[:j])
        if n >= 4:  # third difference: how far from a straight line the neighbours lie
            third = np.abs(k[:n - 3] - k[1:n - 2] - k[2:n - 1] + k[3:])
            np.maximum(activity[1:n - 2], third, out=activity[1:n - 2])
        if m == n:
            activity[n - 1] = np.abs(k[n - 1] - k[n - 2])
    bucket = np.zeros(activity.shape, np.int8)
    for i in range(1, CONTEXTS):
        bucket += activity >= (2.0 ** i - 1.0) * step
    return bucket


def _quantize(diff: np.ndarray, step: float) -> np.ndarray:
    """rint(diff / step); 0 where that is not a number or beyond ESCAPE_LIMIT: such a point
    cannot hold the bound anyway (the caller stores it), and its prediction keeps its
    neighbours' predictions sound."""
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(diff / step)
        if np.abs(q).max(initial=0.0) <= ESCAPE_LIMIT:  # also False for a NaN
            return q
        return np.where(np.abs(q) <= ESCAPE_LIMIT, q, 0.0)


# --- settings ------------------------------------------------------------------------------

def _choose(values: np.ndarray, half: float, missing: np.ndarray | None, cubic: bool | None,
            bound_mode: int | None, reverse: bool | None) -> tuple["_Sweep", list]:
    """The encoder's run with the (cubic, bound mode, axis order) of the fewest estimated bits
    on a central block of the chunk: the interpolant first (at SZ3's default level bounds), then
    the level bounds for it, stepping from mode 1 while that saves bits, then the axis order.
    A chunk that is its own block keeps the trial's run."""
    block = _trial_block(values.shape)
    whole = all(b == slice(None) for b in block)
    trial = values[block]
    trial_missing = None if missing is None or not missing[block].any() else missing[block]
    runs = {}

    def bits(option):
        if option not in runs:
            runs[option] = _run(trial, half, trial_missing, option)
        return _plan(*runs[option], shapes=(0,))[3]

    interpolants = (True, False) if cubic is None else (cubic,)
    chosen = interpolants[0] if len(interpolants) == 1 else min(
        interpolants, key=lambda c: bits((c, 1 if bound_mode is None else bound_mode, False)))
    mode = 1 if bound_mode is None else bound_mode
    if bound_mode is None:  # bits fall, then rise, with alpha: walk down or up while they fall
        walk = -1 if bits((chosen, 0, False)) < bits((chosen, 1, False)) else 1
        while (0 <= mode + walk < len(BOUND_MODES)
               and bits((chosen, mode + walk, False)) < bits((chosen, mode, False))):
            mode += walk
    option = (chosen, mode, False)
    if sum(n > 1 for n in values.shape) > 1 and (reverse is None or reverse):
        reversed_option = (chosen, mode, True)
        if reverse or bits(reversed_option) < bits(option):
            option = reversed_option
    if whole and option in runs:
        return runs[option]
    return _run(values, half, missing, option)


def _trial_block(shape: tuple[int, ...]) -> tuple:
    """A central block of about TRIAL_POINTS points, with the chunk's aspect where it can."""
    size = math.prod(shape)
    if size <= TRIAL_POINTS:
        return tuple(slice(None) for _ in shape)
    shrink = (TRIAL_POINTS / size) ** (1 / max(1, sum(n > 1 for n in shape)))
    block = []
    for n in shape:
        m = max(1, min(n, int(n * shrink) + 1))
        block.append(slice((n - m) // 2, (n - m) // 2 + m))
    return tuple(block)


# --- tables --------------------------------------------------------------------------------

@lru_cache(maxsize=SCALE_CODES * len(SHAPES))
def _table(code: int, shape: int) -> tuple[int, np.ndarray, object]:
    """(K, probabilities float32 of q = -K..K then the escape, constriction model) of a scale
    code and shape. Portable arithmetic only (entropy.portable_exp), so both sides agree."""
    rms = scale_from_code(code)
    k = int(min(MAX_K, max(1, math.ceil(TAIL_WIDTH * rms))))
    weight, ratio = SHAPES[shape]
    if ratio == 0:  # a logistic
        s = rms * math.sqrt(3.0) / math.pi
        edges = logistic_cdf((np.arange(-k, k + 2, dtype=np.float64) - 0.5) / s)
        p = np.concatenate([np.diff(edges), [edges[0] + (1.0 - edges[-1])]])
    else:  # a mixture of two Laplace distributions, the wide one ``ratio`` times as wide
        upper = np.zeros(k + 2)  # mass above q - 1/2, for q = 0..k+1
        for w, b in ((1.0 - weight, rms / math.sqrt(2.0)), (weight, ratio * rms / math.sqrt(2.0))):
            if w:
                upper[1:] += w * 0.5 * portable_exp(np.maximum(-(np.arange(k + 1) + 0.5) / b, -700.0))
        upper[0] = 1.0  # (not used)
        half_masses = upper[1:-1] - upper[2:]  # q = 1..k
        p = np.concatenate([half_masses[::-1], [1.0 - 2.0 * upper[1]], half_masses,
                            [2.0 * upper[-1]]])
    p = np.maximum(p, MIN_PROBABILITY).astype(np.float32)
    return k, p, constriction.stream.model.Categorical(p, perfect=False)


@lru_cache(maxsize=len(SHAPES))
def _bit_matrix(shape: int) -> np.ndarray:
    """bits[c, q + MAX_K + 1] of coding q (clipped to +-(MAX_K + 1)) with scale code index c,
    escapes included (their svarint bytes too): the encoder's cost model."""
    q = np.arange(-MAX_K - 1, MAX_K + 2)
    escape_bits = 8.0 * np.ceil((np.floor(np.log2(2 * np.abs(q) + 1)) + 1) / 7)
    bits = np.empty((SCALE_CODES, q.size))
    for i in range(SCALE_CODES):
        k, p, _ = _table(SCALE_LOW + i, shape)
        lengths = -np.log2(p.astype(np.float64) / p.astype(np.float64).sum())
        row = np.full(q.size, lengths[-1]) + escape_bits
        inside = np.abs(q) <= k
        row[inside] = lengths[q[inside] + k]
        bits[i] = row
    return bits


def _symbols(q: np.ndarray, code: int, shape: int) -> tuple[np.ndarray, np.ndarray]:
    """(symbols int32, the escaped q) of ``q`` under the table of ``code`` and ``shape``."""
    k = _table(code, shape)[0]
    out = np.abs(q) > k
    symbols = np.where(out, 2 * k + 1, q + k).astype(np.int32)
    return symbols, q[out]


def _cell_codes(level_code: int, activity_code: int) -> list[int]:
    """Scale code of each context bucket of a level."""
    return [min(SCALE_LOW + SCALE_CODES - 1, max(level_code, activity_code + 4 * b))
            for b in range(CONTEXTS)]


# --- the stream ----------------------------------------------------------------------------

def _plan(sweep: _Sweep, symbols: list,
          shapes: tuple[int, ...] | None = None) -> tuple[int, int, dict, float]:
    """(shape, activity code, level codes, estimated bits) for the steps' (q, bucket) pairs:
    the fewest bits over ``shapes``."""
    width = 2 * MAX_K + 3
    levels = sorted({step.level for step, (q, _) in zip(sweep.steps, symbols) if q.size}, reverse=True)
    if not levels:
        return 0, 0, {}, 0.0
    row = {level: i for i, level in enumerate(levels)}
    # One histogram over (level, bucket, clipped q): keys sort by cell, then by q.
    keys = np.concatenate([(row[step.level] * CONTEXTS + bucket.astype(np.int64)) * width
                           + np.clip(q, -MAX_K - 1, MAX_K + 1) + MAX_K + 1
                           for step, (q, bucket) in zip(sweep.steps, symbols) if q.size])
    keys, counts = np.unique(keys, return_counts=True)
    cells, index = keys // width, keys % width
    starts = np.flatnonzero(np.diff(cells, prepend=-1))
    best = (math.inf,)
    for shape in range(len(SHAPES)) if shapes is None else shapes:
        costs = np.zeros((len(levels) * CONTEXTS, SCALE_CODES))  # bits of each cell under each code
        costs[cells[starts]] = np.add.reduceat(_bit_matrix(shape)[:, index] * counts, starts, axis=1).T
        costs = costs.reshape(len(levels), CONTEXTS, SCALE_CODES)
        # Level codes worth trying: near each level's best single table.
        single = costs.sum(1).argmin(1)
        level_codes = np.clip(single[:, None] + np.arange(-12, 5), 0, SCALE_CODES - 1)  # (L, O)
        # Activity codes: every fourth in reach of the cells' own best codes, then around the best.
        own = costs.argmin(2)[costs.any(2)]
        coarse = np.arange(max(0, own.min() - 4 * CONTEXTS), min(SCALE_CODES, own.max() + 4), 4)
        centre = int(coarse[_totals(costs, level_codes, coarse).min(2).sum(0).argmin()])
        activities = np.arange(max(0, centre - 3), min(SCALE_CODES, centre + 4))
        totals = _totals(costs, level_codes, activities)
        per_activity = totals.min(2).sum(0)
        a = int(per_activity.argmin())
        total = float(per_activity[a]) + 7.0 * (1 + len(levels))
        if total < best[0]:
            best = (total, shape, SCALE_LOW + int(activities[a]),
                    {level: SCALE_LOW + int(level_codes[i, totals[i, a].argmin()])
                     for i, level in enumerate(levels)})
    return best[1], best[2], best[3], best[0]


def _totals(costs: np.ndarray, level_codes: np.ndarray, activities: np.ndarray) -> np.ndarray:
    """[l, a, o]: level l's bits with activity code index ``activities[a]`` and level code index
    ``level_codes[l, o]`` (every bucket at ``max(level, activity + 4 bucket)``)."""
    cell = np.minimum(np.maximum(level_codes[:, None, :, None], activities[None, :, None, None]
                                 + 4 * np.arange(CONTEXTS)), SCALE_CODES - 1)  # (L, A, O, B)
    return costs[np.arange(len(costs))[:, None, None, None], np.arange(CONTEXTS), cell].sum(3)


_UNIFORM = constriction.stream.model.Categorical(np.full(SCALE_CODES, 1.0 / SCALE_CODES,
                                                          dtype=np.float32), perfect=False)


def _write(sweep: _Sweep, symbols: list) -> bytes:
    shape, activity, level_codes, _ = _plan(sweep, symbols)
    escapes = [sweep.anchor_q] if sweep.anchor_coded else []
    segments = []  # (model, symbols): what the decoder will decode, in order
    if level_codes:
        segments.append((_UNIFORM, np.array([activity - SCALE_LOW], np.int32)))
    current = None
    for step, (q, bucket) in zip(sweep.steps, symbols):
        if not q.size:
            continue
        if step.level != current:
            current = step.level
            segments.append((_UNIFORM, np.array([level_codes[current] - SCALE_LOW], np.int32)))
            cells = _cell_codes(level_codes[current], activity)
        for b in range(CONTEXTS):
            chosen = bucket == b
            if chosen.any():
                coded, escaped = _symbols(q[chosen], cells[b], shape)
                segments.append((_table(cells[b], shape)[2], coded))
                escapes += escaped.tolist()
    out = bytearray([int(sweep.cubic) | sweep.bound_mode << 1 | shape << 3 | int(sweep.reverse) << 5])
    out += varint(len(escapes))
    for q in escapes:
        out += svarint(int(q))
    return bytes(out) + _range_code(segments)


def _range_code(segments: list) -> bytes:
    """The segments range-coded, cut to as few bytes as still decode (checked for small
    streams; large ones only lose their trailing zero bytes, which the decoder puts back)."""
    if not segments:
        return b""
    encoder = constriction.stream.queue.RangeEncoder()
    for model, symbols in segments:
        encoder.encode(symbols, model)
    data = encoder.get_compressed().astype(">u4").tobytes()
    if sum(len(s) for _, s in segments) > SMALL_STREAM:
        return data.rstrip(b"\0")
    value = int.from_bytes(data, "big")

    def cut(drop: int) -> bytes | None:  # rounded up within the coder's final interval
        unit = 256 ** drop
        rounded = -(-value // unit) * unit
        return rounded.to_bytes(len(data), "big")[:-drop] if rounded < 256 ** len(data) else None

    # A cut that decodes leaves every shorter cut decoding too (it lies between the full
    # value and the longer cut's): bisect for the longest.
    good, bad = 0, min(len(data), 8) + 1
    while bad - good > 1:
        drop = (good + bad) // 2
        candidate = cut(drop)
        if candidate is not None and _decodes(candidate, segments):
            good = drop
        else:
            bad = drop
    return cut(good) if good else data.rstrip(b"\0")


def _words(data: bytes) -> np.ndarray:
    padded = data + b"\0" * (-len(data) % 4 or 4)  # what the encoder cut, and a word
    return np.frombuffer(padded, ">u4").astype(np.uint32)


def _decodes(data: bytes, segments: list) -> bool:
    decoder = constriction.stream.queue.RangeDecoder(_words(data))
    try:
        return all(np.array_equal(decoder.decode(model, len(s)), s) for model, s in segments)
    except AssertionError:
        return False


def _read(sweep: _Sweep, stream: bytes, escapes: list[int], shape: int) -> None:
    """Rebuild ``sweep.recon`` from the range-coded ``stream`` and the escaped values."""
    pending = iter(escapes)
    if sweep.anchor_coded:
        sweep.anchor(float(_next(pending)))
    decoder = constriction.stream.queue.RangeDecoder(_words(stream))
    if sweep.coded:
        activity = SCALE_LOW + int(decoder.decode(_UNIFORM, 1)[0])
    current = None
    for step in sweep.steps:
        pred, bucket = sweep.predict(step)
        q = np.zeros(pred.shape)
        if step.count:
            if step.level != current:
                current = step.level
                cells = _cell_codes(SCALE_LOW + int(decoder.decode(_UNIFORM, 1)[0]), activity)
            flat = bucket if step.coded is None else bucket[step.coded]
            values = np.zeros(flat.shape, np.float64)
            for b in range(CONTEXTS):
                chosen = flat == b
                n = int(chosen.sum())
                if n:
                    k, _, model = _table(cells[b], shape)
                    symbols = decoder.decode(model, n).astype(np.int64)
                    got = (symbols - k).astype(np.float64)
                    out = symbols == 2 * k + 1
                    if out.any():
                        got[out] = [float(_next(pending)) for _ in range(int(out.sum()))]
                    values[chosen] = got
            if step.coded is None:
                q = values.reshape(pred.shape)
            else:
                q[step.coded] = values
        sweep.store(step, pred, q)
    if next(pending, None) is not None:
        raise ContainerError("corrupted interpolation section: unused escaped values")


def _next(pending) -> int:
    value = next(pending, None)
    if value is None:
        raise ContainerError("corrupted interpolation section: too few escaped values")
    return value
