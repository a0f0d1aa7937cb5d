"""The PSNR floor's bound search on large chunks (`modes/latents.py`): how many trials it makes
on a central block and on the whole chunk, what it stores and how long it takes, as the encoder
is and with its give-up rule turned off (a trial that misses the floor with at least the bytes
another way stores the chunk in ends the search: every container that keeps the floor is at a
finer bound, no smaller).

Chunks of 27,840 to 10^6 values that real archives have: NEMO's three months, OSTIA's 54 months
in one chunk, hybrid height's 15 levels, GloSea4's 13 members and 6 leads, a single GloSea4
field, uwnd's 12 months, A1B's test years, HadISST's globe, four 64^3 MNI blocks, one turbulence
component, the fMRI volumes, two smooth synthetic fields (1000 x 1000 and 400 x 500), noise and
integrated noise. Floors: the default (40 dB) and 30, 50 and 60 dB; the bundled linear models;
one thread, inrcodec's compiled kernels loaded from the start; each encode the best of
``--repeats``, the two encoders in turn.

    python pipelines/floor_search.py [--repeats 3] [--markdown docs/floor-search.md]
                                     [--chunks "smooth 400 x 500" ...]
"""

import argparse
import functools
import math
import time

import numpy as np
import torch
from pipelines_common import machine, publish_results, table

from inrcodec import INRCodec
from inrcodec.bench.datasets import DATASETS
from inrcodec.coding import kernels
from inrcodec.modes import latents

FLOORS = (None, 30.0, 50.0, 60.0)  # None: the default floor


def large_chunks() -> dict:
    """The chunks, by name, each made when asked (float32 unless the data is integer or
    float64): a dataset is loaded for its first chunk only."""
    load = functools.cache(lambda name: np.asarray(DATASETS[name].load()))

    def smooth(n: int, m: int) -> np.ndarray:
        y, x = np.mgrid[:n, :m] / m
        noise = np.random.default_rng(0).normal(size=x.shape)
        return (280 + 20 * np.sin(7 * x + 3 * y) * np.cos(5 * y) + 0.05 * noise).astype(np.float32)[None]

    out = {f"nemo month {t}": lambda t=t: load("nemo")[t:t + 1] for t in range(3)}
    out.update({"ostia 54 months": lambda: load("ostia"),
                "hybrid height 15 levels": lambda: load("hybrid_height"),
                "glosea4 13 members": lambda: load("glosea4")[:13],
                "glosea4 one field": lambda: load("glosea4")[:1],
                "glosea4 6 leads": lambda: load("glosea4")[60:66],
                "uwnd 12 months": lambda: load("uwnd"),
                "a1b 48 test years": lambda: load("a1b")[192:240],
                "hadisst": lambda: load("hadisst")})
    for i, (y, z) in enumerate([(64, 64), (128, 64), (64, 0), (128, 128)]):
        out[f"mni block {i}"] = lambda y=y, z=z: load("mni")[128:192, y:y + 64, z:z + 64]
    out["turbulence vx"] = lambda: load("turbulence")[:1]
    out["fmri 2 volumes"] = lambda: load("example4d")
    out["smooth 1000 x 1000"] = lambda: smooth(1000, 1000)
    out["smooth 400 x 500"] = lambda: smooth(400, 500)
    out["noise 300 x 300"] = lambda: np.random.default_rng(1).normal(size=(1, 300, 300)).astype(np.float32)
    out["integrated noise 400 x 400"] = lambda: np.cumsum(np.cumsum(
        np.random.default_rng(2).normal(size=(400, 400)), 0), 1).astype(np.float32)[None]
    return {name: (lambda make=make: np.ascontiguousarray(make())) for name, make in out.items()}


class Counted:
    """``latents.within`` counting its calls on whole chunks and on blocks of them."""

    def __init__(self):
        self.within, self.whole, self.block, self.size = latents.within, 0, 0, 0

    def __call__(self, chunk, *args, **kwargs):
        if chunk.array.size == self.size:
            self.whole += 1
        else:
            self.block += 1
        return self.within(chunk, *args, **kwargs)


def never_giving_up(search):
    return lambda self, *args, over=None, **kwargs: search(self, *args, **kwargs)


def measure(x: np.ndarray, floor: float | None, repeats: int) -> dict:
    """Each encoder's bytes, trials and best encode time on ``x`` at ``floor``."""
    model = "linear-3d" if x.ndim == 4 or x.dtype == np.uint8 else "linear-2d"  # MNI's blocks
    codec = INRCodec(model) if floor is None else INRCodec(model, min_psnr=floor)
    counted, search = Counted(), latents.Latents._search
    counted.size = x.size
    encoders = {"now": search, "never giving up": never_giving_up(search)}
    row = {name: {"seconds": math.inf} for name in encoders}
    latents.within = counted
    try:
        codec.encode(x)  # the model's caches and the kernels' first calls, once
        for _ in range(repeats):
            for name, function in encoders.items():
                latents.Latents._search = function
                counted.whole = counted.block = 0
                began = time.perf_counter()
                data = codec.encode(x)
                seconds = time.perf_counter() - began
                row[name].update(seconds=min(seconds, row[name]["seconds"]), bytes=len(data),
                                 whole=counted.whole, block=counted.block)
    finally:
        latents.within, latents.Latents._search = counted.within, search
    return {"model": model, **row}


def report(rows: list[dict], minutes: float) -> list[str]:
    now = [r["now"] for r in rows]
    before = [r["never giving up"] for r in rows]
    same = sum(a["bytes"] == b["bytes"] for a, b in zip(now, before))
    searched = sum(b["whole"] + b["block"] > 0 for b in before)
    seconds_now, seconds_before = sum(r["seconds"] for r in now), sum(r["seconds"] for r in before)
    spared = [(a, b) for a, b in zip(now, before) if (a["whole"], a["block"]) != (b["whole"], b["block"])]
    spared_now, spared_before = (sum(r["seconds"] for r in rs) for rs in zip(*spared)) if spared else (0, 0)
    lines = [
        "# The floor's bound search on large chunks: giving up at a trial that cannot win", "",
        f"{machine()}; `pipelines/floor_search.py`; the whole run took {minutes:.1f} minutes. "
        "Each encode the best of its repeats, the two encoders in turn in one process, one "
        "thread, the compiled kernels loaded from the start. *Never giving up*: the encoder "
        "with `_search`'s give-up rule turned off (the search before it). Trials: calls of "
        "`within` on the whole chunk and on its central block.", "",
        "## Summary", "",
        f"- {len(rows)} encodes ({len(set(r['chunk'] for r in rows))} chunks x "
        f"{len(FLOORS)} floors), {searched} with a bound search: the same bytes in {same} of "
        f"{len(rows)}.",
        f"- Whole-chunk trials: {sum(r['whole'] for r in now)} against "
        f"{sum(r['whole'] for r in before)}; block trials: {sum(r['block'] for r in now)} "
        f"against {sum(r['block'] for r in before)}.",
        f"- Encode time summed: {seconds_now:.2f} s against {seconds_before:.2f} s "
        f"({seconds_now / seconds_before:.2f}x); over the {len(spared)} encodes where the rule "
        f"spared a trial, {spared_now:.2f} s against {spared_before:.2f} s "
        f"({spared_now / spared_before if spared else 1:.2f}x).", "",
        "## Every encode", ""]
    cells = []
    for r in rows:
        a, b = r["now"], r["never giving up"]
        cells.append([r["chunk"], "x".join(map(str, r["shape"])), r["floor"], r["model"],
                      f"{a['bytes']:,}", "same" if a["bytes"] == b["bytes"] else f"{b['bytes']:,}",
                      f"{a['whole']} + {a['block']}", f"{b['whole']} + {b['block']}",
                      f"{1e3 * a['seconds']:.1f}", f"{1e3 * b['seconds']:.1f}"])
    return lines + table(["chunk", "shape", "floor", "model", "bytes", "never giving up: bytes",
                          "trials, whole + block", "never giving up: trials", "encode ms",
                          "never giving up: ms"], cells)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--markdown", default="docs/floor-search.md")
    p.add_argument("--chunks", nargs="+", help="only these chunks (their names in the report)")
    args = p.parse_args()
    kernels.compiled()
    torch.set_num_threads(1)
    began, rows = time.perf_counter(), []
    chunks = large_chunks()
    for name, make in ({n: chunks[n] for n in args.chunks} if args.chunks else chunks).items():
        x = make()
        for floor in FLOORS:
            row = {"chunk": name, "shape": list(x.shape), "floor": "default" if floor is None
                   else f"{floor:g} dB", **measure(x, floor, args.repeats)}
            rows.append(row)
            print(f"{name} {row['floor']}: {row['now']} / {row['never giving up']}", flush=True)
    publish_results(report(rows, (time.perf_counter() - began) / 60), rows, args.markdown)


if __name__ == "__main__":
    main()
