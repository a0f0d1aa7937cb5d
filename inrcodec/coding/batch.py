"""Batch axes: axes of a chunk whose slices are unlike fields (pressure levels, ensemble
members, several variables stacked, an anomaly beside its field), which the coders do not
predict or transform along: each slice is coded from its own points. Real archives are chunked
(time, level, lat, lon) or (member, lat, lon); a chunk of geopotential on three levels cost 5x
SZ3's bits while the interpolation coder predicted one level from another (issue 31). The
coders try the axes found here and keep them where they take fewer bits."""

import math

import numpy as np

UNLIKE = 4.0  # an axis whose slices differ this much more than the smoothest axis's points


def unlike_axes(values: np.ndarray, missing: np.ndarray | None) -> list[int]:
    """The axes whose neighbouring slices differ by more than ``UNLIKE`` times the neighbouring
    points along the smoothest other axis (mean absolute differences), the most unlike first:
    where the slices are different fields (pressure levels, variables, an anomaly beside its
    field), prediction along the axis may cost more than it saves (the coders' trials say). At
    least one axis is left out."""
    if missing is not None and not missing.any():
        missing = None  # (the same means, without gathering every point)
    spread = {}
    for axis, n in enumerate(values.shape):
        if n > 1:
            ahead = (slice(None),) * axis + (slice(1, None),)
            behind = (slice(None),) * axis + (slice(0, -1),)
            step = np.subtract(values[ahead], values[behind])
            np.abs(step, out=step)
            if missing is not None:
                step = step[~(missing[ahead] | missing[behind])]
            if step.size:
                spread[axis] = float(np.mean(step))
    unlike = [a for a in spread
              if spread[a] > UNLIKE * min((spread[e] for e in spread if e != a), default=math.inf)]
    unlike.sort(key=spread.get, reverse=True)
    return unlike[:len(spread) - 1]


def candidates(unlike: list[int]) -> list[int]:
    """The sets of batch axes worth a trial, as bit masks: the most unlike axis, then it and the
    next, and so on (u and v winds of two times: the two stacking axes, not the latitude whose
    gradient also passed ``UNLIKE``)."""
    return [sum(1 << a for a in unlike[:k]) for k in range(1, len(unlike) + 1)]
