"""Learning a user's archive by default: a linear model (linear.py) from the EOFs of a sample of
its own chunks, in seconds, kept only where it pays.

What pays is measured, not assumed: distinct held-out windows (the last tenth of the first axis,
which the sample never reads) are encoded with the command's own promise by the starting model
and by the learned one, and the learned model is kept only where the whole variable, projected
from those windows, would take fewer bytes with it, the model's own bytes (embedded in the store)
included. Hourly weather of a few days, or a field that drifts, learns nothing the held-out end
confirms, and the starting model is kept; the report says which, and why.
"""

import math
import time
import zlib
from dataclasses import dataclass

import numpy as np

from .linear import LinearModel, learn
from .measure import codec_round_trip
from .patches import count_patches
from .training_windows import codec_patches, open_source, sample_patches

SAMPLE_PATCHES = 4096  # patches the EOFs are computed from, at most (a choice, not tuned)
# How many EOFs a model keeps (the measured best of these, in 8-bit tables), then whether a
# finer table pays: a model embedded in a small store must be small.
LATENTS = (16, 32, 64, 128)
TABLE_BITS = (8, 12)
HELD_OUT = 8  # held-out windows measured, at most: learning is a small share of a compression
MIN_GAIN = 0.02  # a learned model must save this share of the variable's bytes to be kept


@dataclass
class Learning:
    model: "LinearModel | None"  # the learned model, kept or not; None where none was learned
    kept: bool
    reason: str
    seconds: float
    projected: dict | None = None  # {"start": bytes, "learned": bytes} for the whole variable

    def describe(self) -> str:
        return f"{'learned' if self.kept else 'not learned'} in {self.seconds:.1f} s: {self.reason}"


def learn_model(source, variable: str, patch_shape: tuple[int, ...], latents: int = 64,
                samples: int = SAMPLE_PATCHES, seed: int = 0, progress: bool = False) -> LinearModel:
    """A linear model of ``latents`` EOFs of ``variable``'s patches, cut from distinct windows of
    the chunks ``compress`` would choose, each normalised as the codec normalises a chunk
    (``inrcodec train --linear``)."""
    from .xarray import chunks_for

    ds = open_source(source)
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the source; it has {sorted(ds.data_vars)}")
    var, d = ds[variable], len(patch_shape)
    chunks = chunks_for(var.shape, var.dtype.itemsize, patch_shape, var.dims)
    window = tuple(min(c, n) for c, n in zip(chunks[-d:], var.shape[-d:]))
    windows = sample_patches(ds, variable, window, -(-samples // count_patches(window, patch_shape)),
                             seed=seed, progress=progress)
    patches = codec_patches(windows.train, patch_shape).reshape(-1, math.prod(patch_shape))
    return learn(np.nan_to_num(patches), np.isfinite(patches), patch_shape, latents,
                 card={"name": f"linear-{variable}", "data": f"{variable}: {windows.describe()}"})


def learn_archive(source, variable: str, start, chunks: tuple[int, ...], settings: dict,
                  seed: int = 0, progress: bool = False, start_name: str | None = None) -> Learning:
    """The linear model to compress ``variable`` with instead of ``start``, where it pays under
    the codec ``settings`` (the variable's promise); ``chunks`` are the store's."""
    from .codecs.numcodecs import INRCodec

    began = time.monotonic()
    start_name = start_name or str(start.card.get("name", start.hash[:12]))

    def done(reason: str, model=None, kept=False, projected=None) -> Learning:
        return Learning(model, kept, reason, time.monotonic() - began, projected)

    ds = open_source(source)
    var, shape = ds[variable], start.patch_shape
    d = len(shape)
    window = tuple(min(c, n) for c, n in zip(chunks[-d:], var.shape[-d:]))
    if var.ndim <= d:
        return done("one field, nothing held out to measure learning on")
    if any(w < p for w, p in zip(window, shape)):
        return done(f"its chunks' fields {window} are smaller than the model's patches {shape}")
    per_window = count_patches(window, shape)
    windows = sample_patches(ds, variable, window, -(-SAMPLE_PATCHES // per_window), seed=seed,
                             progress=progress)
    if windows.validation is None or len(windows.validation) == 0:
        return done("no held-out end of the first axis to measure learning on")
    patches = codec_patches(windows.train, shape).reshape(-1, math.prod(shape))
    try:
        full = learn(np.nan_to_num(patches), np.isfinite(patches), shape, max(LATENTS),
                     card={"name": f"learned-{variable}", "data": f"{variable}: "
                           f"{windows.describe()}"})
    except ValueError as e:
        return done(str(e))
    even = np.unique(np.linspace(0, len(windows.validation) - 1, HELD_OUT).round().astype(int))
    held_out = list(windows.validation[even])
    # The candidates are chosen on half the held-out windows and the choice judged on the other
    # half: judged where it was chosen, the best of several would look better than it is.
    choose, judge = (held_out[0::2], held_out[1::2]) if len(held_out) > 1 else (held_out,) * 2

    def projected(model, windows_: list) -> float:
        codec = INRCodec(model, **settings)
        stored = codec_round_trip(codec, windows_).stored_bytes
        own = 0 if model is start else len(zlib.compress(model.to_bytes(), 9))
        return stored / sum(w.size for w in windows_) * var.size + own

    best, best_bytes = None, math.inf
    for k in sorted({min(k, full.latent_dim) for k in LATENTS}):
        candidate = full.truncated(k, min(TABLE_BITS))
        if (size := projected(candidate, choose)) < best_bytes:
            best, best_bytes = candidate, size
    for bits in sorted(TABLE_BITS)[1:]:
        candidate = full.truncated(best.latent_dim, bits)
        if (size := projected(candidate, choose)) < best_bytes:
            best, best_bytes = candidate, size
    before, best_bytes = projected(start, judge), projected(best, judge)
    numbers = {"start": round(before), "learned": round(best_bytes)}
    saving = 1 - best_bytes / before if before > 0 else 0.0
    text = (f"{best.latent_dim} EOFs of {full.card['patches']} patches in "
            f"{best.card['table_bits']}-bit tables (chosen on {len(choose)} held-out windows); "
            f"on {len(judge)} others the variable would take {best_bytes / 1e3:,.1f} kB with it "
            f"(model included) against {before / 1e3:,.1f} kB with {start_name}")
    if saving < MIN_GAIN:
        return done(f"{text}: {saving:+.1%}, under the {MIN_GAIN:.0%} it must save, so "
                    f"{start_name} is kept", best, False, numbers)
    return done(f"{text}: {saving:.1%} fewer bytes", best, True, numbers)


__all__ = ["Learning", "learn_archive", "learn_model"]
