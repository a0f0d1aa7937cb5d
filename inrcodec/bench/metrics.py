"""Distortion, memory and arithmetic of one codec run.

PSNR is taken over the range of the original's finite values (``20 log10(range / RMSE)``), the
convention of the climate-compression literature; errors are measured in float64 on the values
the original has (NaNs excluded, and checked separately).
"""

import os
import threading
import time
from pathlib import Path

import numpy as np


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    finite = np.isfinite(original)
    x = original[finite].astype(np.float64)
    rmse = np.sqrt(np.mean((x - decoded[finite].astype(np.float64)) ** 2))
    return float(20 * np.log10(np.ptp(x) / rmse)) if rmse > 0 else float("inf")


def distortion(original: np.ndarray, decoded: np.ndarray) -> dict:
    """RMSE, PSNR and max abs error over the original's finite values; whether NaNs came back
    exactly where they were (None when the original has none)."""
    finite = np.isfinite(original)
    x, y = original[finite].astype(np.float64), decoded[finite].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(y - x)
    max_error = float(error.max()) if np.isfinite(error).all() else float("inf")
    rmse = float(np.sqrt(np.mean(error ** 2))) if np.isfinite(max_error) else float("inf")
    nans = None if finite.all() else bool(np.array_equal(np.isnan(original), np.isnan(decoded)))
    return {"rmse": rmse, "psnr_db": psnr(original, decoded) if np.isfinite(rmse) else float("nan"),
            "max_abs_error": max_error, "nans_preserved": nans}


class PeakRSS:
    """Peak resident memory above the level at entry, sampled from /proc/self/statm every
    ``interval`` seconds by a thread. It sees every allocator (numpy, torch, C libraries), unlike
    tracemalloc; spikes shorter than the interval can be missed, and memory freed by an earlier
    run but kept by malloc is reused without showing. ``mb`` is None off Linux."""

    def __init__(self, interval: float = 0.002):
        self.interval, self.mb = interval, None
        self._statm = Path("/proc/self/statm")

    def _rss(self) -> int:
        return int(self._statm.read_text().split()[1]) * self._page

    def _sample(self) -> None:
        while not self._done.is_set():
            self._peak = max(self._peak, self._rss())
            time.sleep(self.interval)

    def __enter__(self):
        if self._statm.exists():
            self._page = os.sysconf("SC_PAGE_SIZE")
            self._start = self._peak = self._rss()
            self._done = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._statm.exists():
            self._done.set()
            self._thread.join()
            self._peak = max(self._peak, self._rss())
            self.mb = (self._peak - self._start) / 1e6
        return False


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break
    ``torch.autograd.grad`` (the inner loop of encoding); totals need no module breakdown."""
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def count_flops(function) -> tuple[int, object]:
    """(FLOPs, result) of ``function()``, counted by torch's FlopCounterMode: matrix products
    only (2 per multiply-add), forward and backward; sines and elementwise work are not counted."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()
    with counter:
        result = function()
    return counter.get_total_flops(), result
