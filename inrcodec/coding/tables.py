"""The parametric tables every range-coded section draws from (the interpolation and wavelet
coders'): the discretised rms tables of a scale code and shape, the scale codes of a level's
context buckets, and the cost model (ideal code lengths over histograms) that picks the codes,
shape and slope of the fewest bits."""

import math
from functools import lru_cache

import constriction
import numpy as np

from .entropy import logistic_cdf, portable_exp
from .normalise import scale_from_code

CONTEXTS = 6
SCALE_LOW, SCALE_CODES = -48, 128  # scale codes -48..79: rms 2**-12 .. 2**19.75 steps
MAX_K = 2 ** 12  # a table's widest symbol; anything wider escapes
TAIL_WIDTH = 16  # a table spans +-TAIL_WIDTH rms (at least +-1)
MIN_PROBABILITY = 2.0 ** -20
# Table shapes: (weight, width) of a second Laplace mixed into the first; width 0: a logistic.
SHAPES = ((0.0, 1.0), (0.1, 4.0), (0.3, 4.0), (0.0, 0.0))

UNIFORM = constriction.stream.model.Categorical(np.full(SCALE_CODES, 1.0 / SCALE_CODES,
                                                         dtype=np.float32), perfect=False)


@lru_cache(maxsize=SCALE_CODES * len(SHAPES))
def table(code: int, shape: int) -> tuple[int, np.ndarray, object]:
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


@lru_cache(maxsize=1)
def bit_matrix() -> np.ndarray:
    """bits[q + MAX_K + 1, shape, c] of coding q (clipped to +-(MAX_K + 1)) with table shape
    ``shape`` and scale code index c, escapes included (their svarint bytes too): the encoder's
    cost model, a row per q."""
    q = np.arange(-MAX_K - 1, MAX_K + 2)
    escape_bits = 8.0 * np.ceil((np.floor(np.log2(2 * np.abs(q) + 1)) + 1) / 7)
    bits = np.empty((q.size, len(SHAPES), SCALE_CODES))
    for shape in range(len(SHAPES)):
        for i in range(SCALE_CODES):
            k, p, _ = table(SCALE_LOW + i, shape)
            lengths = -np.log2(p.astype(np.float64) / p.astype(np.float64).sum())
            row = np.full(q.size, lengths[-1]) + escape_bits
            inside = np.abs(q) <= k
            row[inside] = lengths[q[inside] + k]
            bits[:, shape, i] = row
    return bits


def cell_codes(level_code: int, activity_code: int, slope: int = 4) -> list[int]:
    """Scale code of each context bucket of a level: ``slope`` codes (quarter octaves) more
    for each bucket up, at least the level's."""
    return [min(SCALE_LOW + SCALE_CODES - 1, max(level_code, activity_code + slope * b))
            for b in range(CONTEXTS)]


def plan(step_levels: list[int], symbols: list, shapes: tuple[int, ...] | None = None,
         slopes: tuple[int, ...] = (4,)) -> tuple[int, int, dict, float, int]:
    """(shape, activity code, level codes, estimated bits, slope) for the steps' (q, bucket)
    pairs, each step at its level in ``step_levels``: the fewest bits over ``shapes`` and the
    buckets' ``slopes`` (see ``cell_codes``)."""
    width = 2 * MAX_K + 3
    levels = sorted({level for level, (q, _) in zip(step_levels, symbols) if q.size}, reverse=True)
    if not levels:
        return 0, 0, {}, 0.0, slopes[0]
    row = {level: i for i, level in enumerate(levels)}
    # One histogram over (level, bucket, clipped q): keys sort by cell, then by q.
    coded = [(row[level], pair) for level, pair in zip(step_levels, symbols) if pair[0].size]
    counted = _kernels().cell_counts([pair for _, pair in coded], [r for r, _ in coded],
                                     len(levels) * CONTEXTS, MAX_K + 1)
    if counted is None:
        counted = np.unique(np.concatenate([(r * CONTEXTS + bucket.astype(np.int64)) * width
                                            + np.clip(q, -MAX_K - 1, MAX_K + 1) + MAX_K + 1
                                            for r, (q, bucket) in coded]), return_counts=True)
    keys, counts = counted
    cells, index = keys // width, keys % width
    starts = np.flatnonzero(np.diff(cells, prepend=-1))
    best = (math.inf,)
    shapes = range(len(SHAPES)) if shapes is None else shapes
    tables = {}  # bits of each cell under each code, and a bound below any plan's bits
    every = _kernels().cell_costs(index, counts, starts, bit_matrix(), tuple(shapes))
    if every is None:
        rows = bit_matrix()[index]
        every = np.add.reduceat((rows if len(shapes) == len(SHAPES) else rows[:, list(shapes)])
                                * counts[:, None, None], starts, axis=0)  # (cell, shape, code)
    for j, shape in enumerate(shapes):
        costs = np.zeros((len(levels) * CONTEXTS, SCALE_CODES))
        costs[cells[starts]] = every[:, j]
        tables[shape] = costs.reshape(len(levels), CONTEXTS, SCALE_CODES), float(costs.min(1).sum())
    # A shape whose every cell at its own best code loses to the best plan so far cannot win.
    for shape, slope in sorted(((s, k) for s in shapes for k in slopes),
                               key=lambda pair: tables[pair[0]][1]):
        costs, bound = tables[shape]
        if bound + 7.0 * (1 + len(levels)) > best[0] * (1 + 1e-9) + 1e-6:
            continue
        # Level codes worth trying: near each level's best single table.
        single = costs.sum(1).argmin(1)
        level_codes = np.clip(single[:, None] + np.arange(-12, 5), 0, SCALE_CODES - 1)  # (L, O)
        # Activity codes: every fourth in reach of the cells' own best codes, then around the best.
        own = costs.argmin(2)[costs.any(2)]
        coarse = np.arange(max(0, own.min() - slope * CONTEXTS), min(SCALE_CODES, own.max() + 4),
                           4)
        centre = int(coarse[_totals(costs, level_codes, coarse, slope).min(2).sum(0).argmin()])
        activities = np.arange(max(0, centre - 3), min(SCALE_CODES, centre + 4))
        totals = _totals(costs, level_codes, activities, slope)
        per_activity = totals.min(2).sum(0)
        a = int(per_activity.argmin())
        total = float(per_activity[a]) + 7.0 * (1 + len(levels))
        if total < best[0] or total == best[0] and (shape, slope) < (best[1], best[4]):  # ties
            best = (total, shape, SCALE_LOW + int(activities[a]),
                    {level: SCALE_LOW + int(level_codes[i, totals[i, a].argmin()])
                     for i, level in enumerate(levels)}, slope)
    return best[1], best[2], best[3], best[0], best[4]


def _kernels():
    """coding/kernels.py, imported where first used (it imports this module)."""
    from . import kernels

    return kernels


def _totals(costs: np.ndarray, level_codes: np.ndarray, activities: np.ndarray,
            slope: int) -> np.ndarray:
    """[l, a, o]: level l's bits with activity code index ``activities[a]`` and level code index
    ``level_codes[l, o]`` (every bucket at ``max(level, activity + slope bucket)``)."""
    if (compiled := _kernels().plan_totals(costs, level_codes, activities, slope)) is not None:
        return compiled
    cell = np.minimum(np.maximum(level_codes[:, None, :, None], activities[None, :, None, None]
                                 + slope * np.arange(CONTEXTS)), SCALE_CODES - 1)  # (L, A, O, B)
    return costs[np.arange(len(costs))[:, None, None, None], np.arange(CONTEXTS), cell].sum(3)
