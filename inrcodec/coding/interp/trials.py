"""The encoder's trials: many settings swept at once, and their bits estimated.

Settings of one axis order share every step's geometry, so they are stacked along a second axis
(the step's axis stays first) and swept together: one numpy pass per level and axis serves them
all, which is what makes small chunks cheap. Each setting's slice sees exactly the arithmetic of
its own sweep (elementwise IEEE operations with the same operands), so a trial's reconstruction
and symbols are the ones ``sweep.run`` would give, bit for bit, and the chosen one is kept.

Bits are estimated per (setting, level, context bucket) cell: each cell at the best of a few
tables of the first shape about the rms of its bulk (``OFFSETS``; spikes, which escape, left
out), costed by ``tables.bit_matrix``, plus the codes' bits. That is near what ``tables.plan``
finds (it ties the cells' codes together), by about as much for every setting, so it ranks them
nearly as well at a fraction of the cost: on A1B and four other datasets' test chunks the bytes
are within 0.02% of choosing by ``plan`` after greedy single sweeps, as the encoder did before.
"""


import numpy as np

from .. import kernels
from ..tables import CONTEXTS, MAX_K, SCALE_CODES, SCALE_LOW, SHAPES, bit_matrix
from .sweep import BOUND_MODES, FLAT_AXES, Sweep, buckets, flat_of, halves_of, interpolate, quantize

OFFSETS = (-6, -4, -2, 0, 2)  # the scale codes tried about a cell's rms code (quarter octaves)


class Batch:
    """Sweeps of ``options`` ((cubic, bound mode) pairs) in one axis order over ``values``."""

    def __init__(self, values: np.ndarray, half: float, missing: np.ndarray | None,
                 options: list[tuple[bool, int]], reverse: bool, batch_axes: int = 0):
        order = sorted(range(len(options)), key=lambda i: not options[i][0])  # cubic ones first
        self.options = [options[i] for i in order]
        self.reverse, self.batch_axes = reverse, batch_axes
        self.geometry = g = Sweep(values.shape, half, missing, False, 0, reverse, batch_axes=batch_axes)
        count = len(self.options)
        self.cubic = sum(c for c, _ in self.options)
        levels = self.geometry.levels
        self.halves = np.array([halves_of(half, levels, BOUND_MODES[m]) for _, m in self.options])
        self.recon = np.zeros((count,) + values.shape)
        anchors = np.asarray(values[g.anchors], np.float64)
        anchor_step = (2.0 * self.halves[:, levels + 1]).reshape((count,) + (1,) * anchors.ndim)
        q = quantize(np.broadcast_to(anchors, (count,) + anchors.shape), anchor_step)
        self.anchor_q = np.where(g.anchor_coded, q, 0.0) + 0.0  # as sweep.run's integers: no -0
        self.recon[(slice(None),) + g.anchors] = self.anchor_q * anchor_step
        # Levels with coded points, coarse to fine: a row each in ``bits``' cells.
        self.levels = sorted({s.level for s in g.steps if s.count}, reverse=True)
        # The whole sweep in one compiled call where the kernels are at hand (the step by step
        # path below counts its work towards loading them, as before), else step by step.
        compiled = kernels.at_hand(0) if values.ndim <= FLAT_AXES else None
        self.compiled = compiled
        if compiled is not None:
            self.results = None
            self._sweep(values, missing, compiled)
        else:
            self.results = [self._step(values, step) for step in self.geometry.steps]

    def _sweep(self, values: np.ndarray, missing: np.ndarray | None, compiled: dict) -> None:
        """Every step at once (``kernels._batch_sweep``): each setting's coded points' q,
        bucket and cell (as ``bits`` numbers them) in ``self.q``, ``self.bucket`` and
        ``self.cell`` (a row per setting, the steps' points in order from ``self.offsets``),
        the same numbers ``_step`` gives."""
        g, shape = self.geometry, values.shape
        row = {level: i for i, level in enumerate(self.levels)}
        flat, counts, levels = flat_of(tuple(g.steps), shape)  # a trial's block is small
        table = np.empty((len(g.steps), 13), np.int64)
        table[:, :12] = flat
        table[:, 12] = [row.get(level, 0) for level in levels.tolist()]
        offsets = np.cumsum(counts) - counts  # each step's first place
        total = int(counts.sum())
        count = len(self.options)
        quantum = 2.0 * self.halves[:, [step.level for step in g.steps]]
        self.q, self.cell = np.empty((count, total)), np.empty((count, total), np.int64)
        self.bucket = np.empty((count, total), np.int8)
        self.offsets = offsets
        compiled["_batch_sweep"](
            self.recon.reshape(count, -1), np.ascontiguousarray(values, np.float64).reshape(-1),
            np.zeros(1, np.bool_) if missing is None else np.ascontiguousarray(missing, np.bool_).reshape(-1),
            missing is not None, table, offsets, np.array([c for c, _ in self.options], np.bool_),
            np.ascontiguousarray(quantum), kernels.THRESHOLDS, float(kernels.ESCAPE_LIMIT),
            len(self.levels), self.q, self.bucket, self.cell)

    def _step(self, values: np.ndarray, step) -> tuple[np.ndarray, np.ndarray]:
        """(q, bucket) of every point of the step, shaped (axis, setting, other axes)."""
        axes = (step.order[0] + 1, 0) + tuple(e + 1 for e in step.order[1:])
        known = self.recon[(slice(None),) + step.known].transpose(axes)
        m = step.shape[0]
        size = (1, len(self.options)) + (1,) * (known.ndim - 2)
        quantum = (2.0 * self.halves[:, step.level]).reshape(size)
        v = values[step.target].transpose(step.order)
        out = self.recon[(slice(None),) + step.target].transpose(axes)
        compiled = kernels.encode_step(known, m, [c for c, _ in self.options], quantum, True, v,
                                       step.coded, out)
        if compiled:
            return compiled
        if self.cubic in (0, len(self.options)):
            pred = interpolate(known, m, self.cubic > 0)
        else:
            pred = np.concatenate([interpolate(known[:, :self.cubic], m, True),
                                   interpolate(known[:, self.cubic:], m, False)], axis=1)
        bucket = buckets(known, m, quantum)
        q = quantize(v[:, None] - pred, quantum)
        if step.coded is not None:
            q = np.where(step.coded[:, None], q, 0.0)
        out[...] = pred + q * quantum
        return q, bucket

    def bits(self) -> np.ndarray:
        """Estimated bits of each option."""
        steps = self.geometry.steps
        count = len(self.options)
        levels = self.levels
        if not levels:
            return np.zeros(count)
        size = count * len(levels) * CONTEXTS
        if self.results is None:  # swept at once: the cells are numbered already
            return self._bits(self.cell.reshape(-1), self.q.reshape(-1), size, self.compiled)
        row = {level: i for i, level in enumerate(levels)}
        cells, qs = [], []
        for step, (q, bucket) in zip(steps, self.results):
            if not step.count:
                continue
            setting = np.arange(count).reshape((1, count) + (1,) * (q.ndim - 2))
            cell = (setting * len(levels) + row[step.level]) * CONTEXTS + bucket
            if step.coded is None:
                cells.append(cell.ravel())
                qs.append(q.ravel())
            else:
                coded = np.broadcast_to(step.coded[:, None], q.shape)
                cells.append(np.broadcast_to(cell, q.shape)[coded])
                qs.append(q[coded])
        return self._bits(np.concatenate(cells), np.concatenate(qs), size)

    def _bits(self, cell: np.ndarray, q: np.ndarray, size: int, compiled: dict | None = None
              ) -> np.ndarray:
        """``bits`` from each coded point's cell and q (``compiled``: the kernels, decided
        already)."""
        count, levels = len(self.options), self.levels
        # Each cell's best table lies near the rms of its bulk (spikes, which escape, left out:
        # values over 32 times its median's octave): try a few codes about it.
        if compiled is not None:
            rms = compiled["_cell_rms"](cell, q, size)
        else:
            rms = kernels.cell_rms(cell, q, size)
            compiled = rms is not None
        if not compiled:
            octave = np.minimum(np.frexp(np.abs(q) + 1.0)[1] - 1, 15)  # floor(log2(|q| + 1)), at most 15
            below = np.bincount(cell * 16 + octave, None, size * 16).reshape(size, 16).cumsum(1)
            median = (below < below[:, -1:] / 2.0).sum(1)
            bulk = np.abs(q) < np.exp2(median + 5.0)[cell]
            squares = np.bincount(cell, q * q * bulk, size)
            rms = np.sqrt(squares / np.maximum(np.bincount(cell, bulk, size), 1))
        centre = (np.rint(4.0 * np.log2(np.maximum(rms, 2.0 ** -13))) - SCALE_LOW).astype(np.int64)
        row = len(SHAPES) * SCALE_CODES
        matrix = bit_matrix().ravel()  # shape 0: the first SCALE_CODES of each row
        if compiled:
            best = kernels.offset_bits(cell, q, centre, OFFSETS, matrix, row, MAX_K, SCALE_CODES).min(0)
        else:
            index = (np.clip(q, -MAX_K - 1, MAX_K + 1).astype(np.int64) + (MAX_K + 1)) * row
            best = np.full(size, np.inf)
            for offset in OFFSETS:
                codes = np.clip(centre + offset, 0, SCALE_CODES - 1)
                np.minimum(best, np.bincount(cell, matrix.take(index + codes[cell]), size), out=best)
        return best.reshape(count, -1).sum(1) + 7.0 * (1 + len(levels)) + self.anchor_bits()

    def anchor_bits(self) -> np.ndarray:
        """Each option's bits for its anchors beyond the first (svarints, and the batch byte),
        which only batch axes add."""
        if not self.batch_axes:
            return np.zeros(len(self.options))
        q = self.anchor_q[(slice(None), self.geometry.anchor_coded)][:, 1:]
        zigzag = 2.0 * np.abs(q) + 1.0
        return 8.0 * (1 + np.ceil(np.log2(zigzag + 1.0) / 7.0).sum(1))

    def take(self, i: int) -> tuple[Sweep, list]:
        """Option ``i``'s sweep and its steps' (q, bucket) of coded points, as ``sweep.run``."""
        cubic, mode = self.options[i]
        g = self.geometry
        chosen = Sweep(g.shape, 0.0, g.missing, cubic, mode, self.reverse, steps=g.steps,
                       halves=list(self.halves[i]), batch_axes=self.batch_axes)
        chosen.recon = self.recon[i].copy()
        chosen.anchor_q = self.anchor_q[i].astype(np.int64)
        if self.results is None:
            ends = self.offsets + [step.count for step in g.steps]
            return chosen, [(self.q[i, a:b].astype(np.int64), self.bucket[i, a:b])
                            for a, b in zip(self.offsets, ends)]
        symbols = []
        for step, (q, bucket) in zip(g.steps, self.results):
            q, bucket = q[:, i], bucket[:, i]
            if step.coded is not None:
                symbols.append((q[step.coded].astype(np.int64), bucket[step.coded]))
            else:
                symbols.append((q.ravel().astype(np.int64), bucket.ravel()))
        return chosen, symbols
