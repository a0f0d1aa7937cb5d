"""Memory and arithmetic of one codec run (distortion and PSNR: ``inrcodec.measure``)."""

import os
import threading
import time
from pathlib import Path

PEAK_RSS_INTERVAL = 0.002  # seconds between samples of resident memory


class PeakRSS:
    """Peak resident memory above the level at entry, sampled from /proc/self/statm every
    ``interval`` seconds by a thread. It sees every allocator (numpy, torch, C libraries), unlike
    tracemalloc; spikes shorter than the interval can be missed, and memory freed by an earlier
    run but kept by malloc is reused without showing. ``mb`` is None off Linux."""

    def __init__(self, interval: float = PEAK_RSS_INTERVAL):
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
