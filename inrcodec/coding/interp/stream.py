"""The interpolation section's bytes: the flags, the escaped values and the range-coded stream
(constriction's range coder), written from an encoder's sweep and read back into a decoder's."""

import numpy as np

from ..bytes import ContainerError
from ..rangecoder import RangeReader, coded_segments, next_escape, range_code, write_escapes
from ..tables import SCALE_LOW, cell_codes, plan
from .sweep import Sweep


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
    if sweep.coded:
        activity = SCALE_LOW + reader.uniform()
    current = None
    for step in sweep.steps:
        pred, bucket = sweep.predict(step)
        if step.count:
            if step.level != current:
                current = step.level
                cells = cell_codes(SCALE_LOW + reader.uniform(), activity)
            flat = bucket if step.coded is None else bucket[step.coded]
            values = reader.buckets(flat, cells, shape, pending)  # int64: stored as floats
            if step.coded is None:
                q = values.reshape(pred.shape)
            else:
                q = np.zeros(pred.shape)
                q[step.coded] = values
        else:
            q = np.zeros(pred.shape)
        sweep.store(step, pred, q)
    if next(pending, None) is not None:
        raise ContainerError("corrupted interpolation section: unused escaped values")


