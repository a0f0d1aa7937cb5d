"""The interpolation coder's traversal and prediction: levels coarse to fine, one vectorised
pass per level and axis, the same arithmetic on both sides (elementwise IEEE operations only)."""

import math
from functools import lru_cache

import numpy as np

from .. import kernels
from ..tables import CONTEXTS

ESCAPE_LIMIT = kernels.ESCAPE_LIMIT  # a larger |q| is coded as 0: such a value misses the bound anyway
BOUND_MODES = ((1.0, 1.0), (1.25, 2.0), (1.5, 3.0), (2.0, 4.0))  # (alpha, beta) per level
MASK_POINTS_REMEMBERED = 1 << 22  # a mask's steps are built once up to this many points
FLAT_AXES = 5  # ``flat_steps`` holds a step's axis and up to four others


class Step:
    """One level-axis pass: where its points lie, their predictions, contexts and coded ones."""

    def __init__(self, level: int, axis: int, known: tuple, target: tuple, order: tuple,
                 shape: tuple, coded: np.ndarray | None):
        self.level, self.axis, self.known, self.target = level, axis, known, target
        self.order, self.shape = order, shape  # the axes with ``axis`` first, the grid's shape so
        self.coded = coded  # boolean mask over that grid; None: all coded
        self.count = math.prod(shape) if coded is None else int(coded.sum())  # how many are coded


class Sweep:
    """The reconstruction as it is built, step by step, the same on both sides."""

    def __init__(self, shape: tuple[int, ...], half: float, missing: np.ndarray | None,
                 cubic: bool, bound_mode: int, reverse: bool = False,
                 steps: list | None = None, halves: list | None = None, batch_axes: int = 0):
        """``steps`` and ``halves``, where given, are the ones this would build (a trial's).
        ``batch_axes``: a bit per axis along which nothing is predicted (``steps_of``)."""
        self.shape, self.cubic, self.bound_mode, self.reverse = shape, cubic, bound_mode, reverse
        self.missing, self.batch_axes = missing, batch_axes
        self.recon = np.zeros(shape, dtype=np.float64)
        self.levels = levels_of(shape, batch_axes)
        if steps is None:
            steps = _steps(shape, self.levels, missing, reverse, batch_axes)
        self.steps = steps
        self.halves = halves_of(half, self.levels, BOUND_MODES[bound_mode]) if halves is None else halves
        # The anchors: the first point of every slice along the batch axes (one point without).
        self.anchors = anchors_of(shape, batch_axes) if math.prod(shape) else (slice(0, 0),) * len(shape)
        self.anchor_coded = (np.ones(self.recon[self.anchors].shape, bool) if missing is None
                             else ~missing[self.anchors])
        self.anchor_step = 2.0 * self.halves[self.levels + 1]
        self.anchor_q = np.zeros(self.anchor_coded.shape, np.int64)
        self.coded = sum(s.count for s in self.steps)

    def predict(self, step: Step) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, context bucket) of the step's points, axis first."""
        known = self.recon[step.known].transpose(step.order)
        m, quantum = step.shape[0], 2.0 * self.halves[step.level]
        return (kernels.predict_buckets(known, m, self.cubic, quantum, settings=False)
                or (interpolate(known, m, self.cubic), buckets(known, m, quantum)))

    def predict_marked(self, step: Step) -> tuple[np.ndarray, np.ndarray] | None:
        """``predict`` by the kernel, the points not coded in bucket ``kernels.NOT_CODED``
        (a compiled reader skips them); None where the kernel is not at hand."""
        known = self.recon[step.known].transpose(step.order)
        return kernels.predict_buckets(known, step.shape[0], self.cubic,
                                       2.0 * self.halves[step.level], False, step.coded)

    def store(self, step: Step, pred: np.ndarray, q: np.ndarray) -> None:
        """Reconstruct the step's points from their prediction and (float) q; q = 0 where missing."""
        out = self.recon[step.target].transpose(step.order)
        if not kernels.store(pred, q, 2.0 * self.halves[step.level], out):
            out[...] = pred + q * (2.0 * self.halves[step.level])

    def encode_step(self, values: np.ndarray, step: Step) -> tuple[np.ndarray, np.ndarray]:
        """(q, bucket) of the step's coded points, after storing their reconstruction."""
        v = values[step.target].transpose(step.order)
        out = self.recon[step.target].transpose(step.order)
        quantum = 2.0 * self.halves[step.level]
        compiled = kernels.encode_step(self.recon[step.known].transpose(step.order), step.shape[0],
                                       self.cubic, quantum, False, v, step.coded, out)
        if compiled:
            q, bucket = compiled
        else:
            pred, bucket = self.predict(step)
            q = quantize(v - pred, quantum)
            if step.coded is not None:
                q[~step.coded] = 0.0
            self.store(step, pred, q)
        if step.coded is not None:
            return q[step.coded].astype(np.int64), bucket[step.coded]
        return q.ravel().astype(np.int64), bucket.ravel()

    def anchor(self, q: np.ndarray) -> None:
        """Reconstruct the anchors from their q (0 where not coded: they are predicted as 0)."""
        self.anchor_q = np.asarray(q, np.int64).reshape(self.anchor_coded.shape)
        self.recon[self.anchors] = self.anchor_q * self.anchor_step

    def coded_anchors(self) -> list[int]:
        """The q of the coded anchors, in C order: what the section stores for them."""
        return self.anchor_q[self.anchor_coded].tolist()

def anchors_of(shape: tuple[int, ...], batch_axes: int) -> tuple:
    """Where the anchors lie: every index along a batch axis, the first along the others."""
    return tuple(slice(None) if batch_axes >> a & 1 else 0 for a in range(len(shape)))


def run(values: np.ndarray, half: float, missing: np.ndarray | None,
        settings: tuple[bool, int, bool], batch_axes: int = 0) -> tuple[Sweep, list]:
    """The encoder's sweep over ``values`` with ``settings`` (cubic, bound mode, reverse) and
    ``batch_axes``, and each step's (q, bucket) of its coded points."""
    sweep = Sweep(values.shape, half, missing, *settings, batch_axes=batch_axes)
    if sweep.anchor_coded.size:
        q = quantize(np.asarray(values[sweep.anchors], np.float64), sweep.anchor_step)
        sweep.anchor(np.where(sweep.anchor_coded, q, 0.0).astype(np.int64))
    return sweep, [sweep.encode_step(values, step) for step in sweep.steps]


def levels_of(shape: tuple[int, ...], batch_axes: int = 0) -> int:
    n = max((m for a, m in enumerate(shape) if not batch_axes >> a & 1), default=1)
    return math.ceil(math.log2(n)) if n > 1 else 0


def halves_of(half: float, levels: int, mode: tuple[float, float]) -> list[float]:
    """Half steps per level (index 0 unused; levels + 1 is the anchor), by exact products so that
    every machine gets the same numbers (no pow())."""
    alpha, beta = mode
    halves, ratio = [half, half], 1.0
    for _ in range(2, levels + 2):
        ratio = min(ratio * alpha, beta)
        halves.append(half / ratio)
    return halves


def _steps(shape: tuple[int, ...], levels: int, missing: np.ndarray | None, reverse: bool,
           batch_axes: int) -> tuple:
    """``steps_of``, built once per shape and mask: an archive's chunks share their shape and
    mostly their mask (a land mask is the same in every time step)."""
    if missing is None:
        return _unmasked_steps(shape, levels, reverse, batch_axes)
    if missing.size > MASK_POINTS_REMEMBERED:
        return tuple(steps_of(shape, levels, missing, reverse, batch_axes))
    return _masked_steps(shape, levels, np.packbits(missing).tobytes(), reverse, batch_axes)


@lru_cache(maxsize=8)  # of masks up to MASK_POINTS_REMEMBERED: 32 MB at most
def _masked_steps(shape: tuple[int, ...], levels: int, packed: bytes, reverse: bool,
                  batch_axes: int) -> tuple:
    missing = np.unpackbits(np.frombuffer(packed, np.uint8), count=math.prod(shape)).astype(bool)
    # Shared by every sweep over this mask, and never written (left writable: a read-only
    # array is another type to the compiled kernels, compiled again in a process without a cache).
    return tuple(steps_of(shape, levels, missing.reshape(shape), reverse, batch_axes))


@lru_cache(maxsize=64)
def _unmasked_steps(shape: tuple[int, ...], levels: int, reverse: bool, batch_axes: int) -> tuple:
    """``steps_of`` a shape without missing points: every chunk of an array shares them."""
    return tuple(steps_of(shape, levels, None, reverse, batch_axes))


def steps_of(shape: tuple[int, ...], levels: int, missing: np.ndarray | None, reverse: bool,
             batch_axes: int = 0):
    """Each level's passes, one per axis: the first axis first, or (``reverse``) the last.
    A batch axis has none: its slices are unlike fields (pressure levels, members, variables),
    each predicted from its own points only."""
    axes = [a for a in range(len(shape)) if not batch_axes >> a & 1][::-1 if reverse else 1]
    for level in range(levels, 0, -1):
        s, h = 2 ** level, 2 ** (level - 1)
        for i, d in enumerate(axes):
            if shape[d] <= h:
                continue
            done = axes[:i]  # refined at this level already
            known = tuple(slice(None) if batch_axes >> e & 1 else slice(0, None, h if e in done else s)
                          for e in range(len(shape)))
            target = known[:d] + (slice(h, None, s),) + known[d + 1:]
            grid = [len(range(*t.indices(m))) for t, m in zip(target, shape)]
            if math.prod(grid):
                order = (d,) + tuple(e for e in range(len(shape)) if e != d)  # the axis first
                coded = None if missing is None else ~missing[target].transpose(order)
                yield Step(level, d, known, target, order, tuple(grid[e] for e in order), coded)


def flat_steps(steps, shape: tuple[int, ...]) -> np.ndarray:
    """The steps as the whole-sweep kernels read them, a row each: n, m (the known and target
    points along the step's axis), the flat stride between known points along it, the flat
    index of its first target point, then up to four other axes' counts and flat strides (C
    order, right-aligned, counts of 1 padding)."""
    flat = [math.prod(shape[e + 1:]) for e in range(len(shape))]  # C order's strides
    table = np.zeros((len(steps), 12), np.int64)
    table[:, 4:8] = 1
    for j, step in enumerate(steps):
        d = step.order[0]
        known = step.known[d].indices(shape[d])
        t0 = step.target[d].indices(shape[d])[0] * flat[d]
        others = step.order[1:]
        for slot, (e, size) in enumerate(zip(others, step.shape[1:]), 4 - len(others)):
            first, _, every = step.target[e].indices(shape[e])
            t0 += first * flat[e]
            table[j, 4 + slot], table[j, 8 + slot] = size, every * flat[e]
        table[j, :4] = len(range(*known)), step.shape[0], known[2] * flat[d], t0
    return table


@lru_cache(maxsize=16)  # of small sweeps' steps, built once per shape and mask (``_steps``)
def flat_of(steps: tuple, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``flat_steps``, each step's coded points, each step's level): shared, never written."""
    return (flat_steps(steps, shape), np.array([s.count for s in steps], np.int64),
            np.array([s.level for s in steps], np.int64))


def interpolate(k: np.ndarray, m: int, cubic: bool) -> np.ndarray:
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


def quantize(diff: np.ndarray, step: float) -> np.ndarray:
    """rint(diff / step); 0 where that is not a number or beyond ESCAPE_LIMIT: such a point
    cannot hold the bound anyway (the caller stores it), and its prediction keeps its
    neighbours' predictions sound."""
    with np.errstate(invalid="ignore", over="ignore"):
        q = np.rint(diff / step)
        if np.abs(q).max(initial=0.0) <= ESCAPE_LIMIT:  # also False for a NaN
            return q
        return np.where(np.abs(q) <= ESCAPE_LIMIT, q, 0.0)


def buckets(k: np.ndarray, m: int, step: float) -> np.ndarray:
    """Context of each point: octaves of its neighbours' activity, in quantizer steps.

    Thresholds are compared, never logarithms taken, so both sides agree exactly."""
    n = k.shape[0]
    activity = (np.empty if n >= 2 else np.zeros)((m,) + k.shape[1:])  # m is n - 1 or n
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
