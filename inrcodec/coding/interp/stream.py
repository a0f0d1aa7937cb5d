"""The interpolation section's bytes: the flags, the escaped values and the range-coded stream
(constriction's range coder), written from an encoder's sweep and read back into a decoder's."""

import numpy as np

from ..bytes import ContainerError
from ..rangecoder import RangeReader, coded_segments, next_escape, range_code, write_escapes
from ..tables import SCALE_LOW, cell_codes, plan
from .sweep import FLAT_AXES, Sweep, flat_of

# A compiled reader decodes a chunk of up to this many points (and FLAT_AXES axes) in one call:
# one call per step costs about 20 us, most of a small chunk's decode (an A1B chunk of 12
# fields: 0.79 against 1.08 ms; NEMO's 330 x 360 field: 1.9 against 2.1 ms); on a million points
# the step by step kernels predict faster (12.9 against 9.9 ms), the two even near 2^18 points.
SWEPT_POINTS = 1 << 18


def write(sweep: Sweep, symbols: list) -> bytes:
    """The section of an encoder's sweep and its steps' (q, bucket) pairs."""
    step_levels = [step.level for step in sweep.steps]
    shape, activity, level_codes, _, _ = plan(step_levels, symbols)
    escapes = sweep.coded_anchors()
    segments = coded_segments(step_levels, symbols, shape, activity, level_codes, escapes)
    flags = (int(sweep.cubic) | sweep.bound_mode << 1 | shape << 3 | int(sweep.reverse) << 5
             | bool(sweep.batch_axes) << 6)
    axes = bytes([sweep.batch_axes]) if sweep.batch_axes else b""
    return bytes([flags]) + axes + write_escapes(escapes) + range_code(segments)


def read(sweep: Sweep, stream: bytes, escapes: list[int], shape: int) -> None:
    """Rebuild ``sweep.recon`` from the range-coded ``stream`` and the escaped values."""
    pending = iter(escapes)
    anchors = np.zeros(sweep.anchor_coded.shape, np.int64)
    anchors[sweep.anchor_coded] = [next_escape(pending) for _ in range(int(sweep.anchor_coded.sum()))]
    sweep.anchor(anchors)
    reader = RangeReader(stream, sweep.recon.size)
    if reader.compiled and sweep.recon.ndim <= FLAT_AXES and sweep.recon.size <= SWEPT_POINTS:
        return _read_whole(sweep, reader, np.array(list(pending), np.int64), shape)
    if sweep.coded:
        activity = SCALE_LOW + reader.uniform()
    current = None
    for step in sweep.steps:
        marked = reader.compiled and step.count and sweep.predict_marked(step)
        pred, bucket = marked or sweep.predict(step)
        if step.count:
            if step.level != current:
                current = step.level
                cells = cell_codes(SCALE_LOW + reader.uniform(), activity)
            if marked or step.coded is None:
                q = reader.buckets(bucket, cells, shape, pending)  # int64: stored as floats
            else:
                q = np.zeros(pred.shape)
                q[step.coded] = reader.buckets(bucket[step.coded], cells, shape, pending)
        else:
            q = np.zeros(pred.shape)
        sweep.store(step, pred, q)
    if next(pending, None) is not None:
        raise ContainerError("corrupted interpolation section: unused escaped values")


def _read_whole(sweep: Sweep, reader: RangeReader, escapes: np.ndarray, shape: int) -> None:
    """``read``'s steps in one compiled call (``kernels.decode_sweep``): the same values."""
    steps = sweep.steps
    # A copy: core's decoded masks are read-only, another type to numba (compiled again).
    missing = None if sweep.missing is None else np.array(sweep.missing, bool, order="C").reshape(-1)
    table, counts, levels = flat_of(tuple(steps), sweep.shape)
    taken = reader.sweep(sweep.recon.reshape(-1), missing, table, counts, levels, sweep.cubic,
                         np.array([2.0 * sweep.halves[s.level] for s in steps]), shape, escapes)
    if taken < escapes.size:
        raise ContainerError("corrupted interpolation section: unused escaped values")
