"""Learning a user's archive by default: a linear model (linear.py) from the EOFs of a sample of
its own chunks, in seconds, kept only where it pays.

What pays is measured, not assumed: chunks of the store's own shape from the end of the first
axis (at least its last tenth, which the sample never reads) are encoded with the command's own
promise by the starting model and by the learned one, and the learned model is kept only where
the whole variable, projected from those chunks, would take fewer bytes with it, the model's own
bytes (embedded in the store's metadata, twice) included, and only where it saves on a few
chunks across the variable too (an end unlike the rest, after an instrument change, had kept a
model that cost bytes). Hourly weather of a few days, or a field that drifts, learns nothing the
held-out end confirms, and the starting model is kept; the report says which, and why.
"""

import itertools
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from .linear import LinearModel, learn, learn_positions
from .measure import codec_round_trip
from .patches import count_patches
from .training_windows import codec_patches, codec_windows, open_source, sample_patches

SAMPLE_PATCHES = 4096  # patches the EOFs are computed from, at most (a choice, not tuned)
# Absolute coordinates (each patch position of a whole field with EOFs of its own): learned from
# the same windows' fields, in parts of at most this many points (seconds of SVDs).
MAX_POSITION_POINTS = 4096
POSITION_LATENTS = (8, 32)  # a few sizes (each a trial coding), not tuned
# How many EOFs a model keeps (the measured best of these, in 8-bit tables), then whether a
# finer table pays: a model embedded in a small store must be small.
LATENTS = (8, 16, 32, 64, 128)
TABLE_BITS = (8, 12)
HELD_OUT = 8  # held-out chunks measured, at most: learning is a small share of a compression
METADATA_COPIES = 2  # a codec config (and the model in it) is in .zarray and .zmetadata
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
                samples: int = SAMPLE_PATCHES, seed: int = 0, progress: bool = False,
                positions: bool = False) -> LinearModel:
    """A linear model of ``latents`` EOFs of ``variable``'s patches, cut from distinct windows of
    the chunks ``compress`` would choose, each normalised as the codec normalises a chunk
    (``inrcodec train --linear``); with ``positions``, EOFs of its own for each patch position
    of a field (``--positions``: the chunks must hold whole fields)."""
    from .xarray import chunks_for

    ds = open_source(source)
    if variable not in ds.data_vars:
        raise ValueError(f"no variable {variable!r} in the source; it has {sorted(ds.data_vars)}")
    var = ds[variable]
    chunks = chunks_for(var.shape, var.dtype.itemsize, patch_shape, var.dims)
    shared, placed = _eofs(ds, variable, chunks, patch_shape, latents, samples, seed, progress,
                           name=f"linear-{variable}", positions=positions)
    if positions and placed is None:
        raise ValueError(f"no EOFs for each patch position of {variable!r}: its chunks hold "
                         f"parts of its {var.shape[-len(patch_shape):]} fields, its parts are "
                         f"over {MAX_POSITION_POINTS:,} points, or a position has no field with "
                         "every point known")
    return placed if positions else shared


def _eofs(ds, variable: str, chunks: tuple[int, ...], patch_shape: tuple[int, ...], latents: int,
          samples: int, seed: int, progress: bool, name: str,
          validation_fraction: float = 0.1, positions: bool = False) -> tuple:
    """(the EOFs of patches of distinct windows (one field of a chunk each) from the first
    ``1 - validation_fraction`` of the first axis; with ``positions``, where a chunk's fields
    are the variable's whole fields, those of each patch position of the same windows' fields
    (absolute coordinates, ``linear.learn_positions``), else None)."""
    var, d = ds[variable], len(patch_shape)
    window = tuple(min(c, n) for c, n in zip(chunks[-d:], var.shape[-d:]))
    windows = sample_patches(ds, variable, window, -(-samples // count_patches(window, patch_shape)),
                             seed=seed, validation_fraction=validation_fraction,
                             progress=progress)
    card = {"name": name, "data": f"{variable}: {windows.describe()}"}
    patches = codec_patches(windows.train, patch_shape).reshape(-1, math.prod(patch_shape))
    shared = learn(np.nan_to_num(patches), np.isfinite(patches), patch_shape, latents, card=card)
    # The model's own patches where a field holds several, else the field's halves (a
    # whole-field patch has one position, which the shared EOFs already learn).
    cut = patch_shape if count_patches(window, patch_shape) > 1 else tuple(-(-n // 2) for n in window)
    if not positions or window != tuple(var.shape[-d:]) or math.prod(cut) > MAX_POSITION_POINTS:
        return shared, None  # tiles of a larger field, or parts too large to learn in seconds
    try:
        return shared, learn_positions(np.stack(list(codec_windows(windows.train))), cut, latents,
                                       card=card)
    except ValueError:  # too few whole fields to learn from: the shared EOFs' candidates only
        return shared, None


def learn_archive(source, variable: str, start, chunks: tuple[int, ...], settings: dict,
                  seed: int = 0, progress: bool = False, start_name: str | None = None) -> Learning:
    """The linear model to compress ``variable`` with instead of ``start``, where it pays under
    the codec ``settings`` (the variable's promise); ``chunks`` are the store's. Learning is an
    optimisation: whatever stops it (a constant or all-NaN variable, data too odd to learn
    from) leaves ``start`` in place and says why, and never stops the compression."""
    began = time.monotonic()
    start_name = start_name or str(start.card.get("name", start.hash[:12]))
    try:
        model, kept, reason, projected = _learn(source, variable, start, chunks, settings, seed,
                                                progress, start_name)
    except Exception as e:  # noqa: BLE001 - see the docstring: the start model is kept
        model, kept, reason, projected = None, False, f"{start_name} kept: {e}", None
    return Learning(model, kept, reason, time.monotonic() - began, projected)


def _learn(source, variable, start, chunks, settings, seed, progress, start_name) -> tuple:
    if not bytes_judge(start, settings):
        return None, False, "no promise on the error to judge a model's bytes by", None
    ds = open_source(source)
    var, shape = ds[variable], start.patch_shape
    d = len(shape)
    if var.ndim <= d:
        return None, False, "one field, nothing held out to measure learning on", None
    if any(min(c, n) < p for c, n, p in zip(chunks[-d:], var.shape[-d:], shape)):
        return None, False, (f"its chunks' fields {chunks[-d:]} are smaller than the model's "
                             f"patches {shape}"), None
    held_out = held_out_chunks(var, chunks)
    if not held_out:
        return None, False, "its first axis is too short to hold chunks out", None
    first_held = min(where[0].start for where in held_out)
    fraction = 1 - first_held / var.shape[0]
    full, placed = _eofs(ds, variable, chunks, shape, max(LATENTS), SAMPLE_PATCHES, seed, progress,
                         name=f"learned-{variable}", validation_fraction=fraction, positions=True)
    arrays = [np.asarray(var[where].values) for where in held_out]
    # The candidates are chosen on half the held-out chunks and the choice judged on the other
    # half: judged where it was chosen, the best of several would look better than it is.
    choose, judge = (arrays[0::2], arrays[1::2]) if len(arrays) > 1 else (arrays,) * 2

    def projected(model, sample: list) -> float:
        return projected_bytes(model, settings, sample, var.size)

    best, best_bytes, family = None, math.inf, full
    for k in sorted({min(k, full.latent_dim) for k in LATENTS}):
        candidate = full.truncated(k, min(TABLE_BITS))
        if (size := projected(candidate, choose)) < best_bytes:
            best, best_bytes, family = candidate, size, full
    if placed is not None:
        # A few sizes (each a trial coding of the held-out chunks: on A1B, warm, learning takes
        # 2.6 s with them and 0.9 s without), and none whose own bytes outweigh the start
        # model's whole variable, which it could never pay for.
        ceiling = projected(start, choose)
        for k in sorted({min(k, placed.latent_dim) for k in POSITION_LATENTS}):
            candidate = placed.truncated(k, min(TABLE_BITS))
            if embedded_bytes(candidate, settings) >= ceiling:
                continue
            if (size := projected(candidate, choose)) < best_bytes:
                best, best_bytes, family = candidate, size, placed
    for bits in sorted(TABLE_BITS)[1:]:
        candidate = family.truncated(best.latent_dim, bits)
        if (size := projected(candidate, choose)) < best_bytes:
            best, best_bytes = candidate, size
    before, best_bytes = projected(start, judge), projected(best, judge)
    numbers = {"start": round(before), "learned": round(best_bytes)}
    saving = 1 - best_bytes / before if before > 0 else 0.0
    what = (f"{best.latent_dim} EOFs of {full.card['patches']} patches" if best.home is None else
            f"{best.latent_dim} EOFs for each of the {len(best.position_mean)} "
            f"{' x '.join(map(str, best.patch_shape))} patch positions of a field (absolute "
            f"coordinates, from {best.card['fields']} fields)")
    text = (f"{what} in {best.card['table_bits']}-bit tables (chosen on {len(choose)} held-out "
            "chunks); "
            f"on {len(judge)} others the variable would take {best_bytes / 1e3:,.1f} kB with it "
            f"(its metadata included) against {before / 1e3:,.1f} kB with {start_name}")
    if saving < MIN_GAIN:
        return best, False, (f"{text}: {saving:+.1%}, under the {MIN_GAIN:.0%} it must save, "
                             f"so {start_name} is kept"), numbers
    # The end may not be the variable (an instrument changed, a spin-up): the model must save
    # on chunks across it too. Learned from some of them, they can only flatter it; where even
    # they do not, it would cost bytes (probe 4: a clean last tenth kept a 186 kB model for an
    # archive of noise, 15% over the store without it).
    across = [np.asarray(var[where].values) for where in _spread_chunks(var, chunks, HELD_OUT // 2)
              if where not in held_out]
    if across:
        there = 1 - projected(best, across) / projected(start, across)  # (metadata: never 0)
        if there < MIN_GAIN:
            return best, False, (f"{text}: {saving:.1%} fewer bytes there, but {there:+.1%} on "
                                 f"{len(across)} chunks across the variable, under the "
                                 f"{MIN_GAIN:.0%} it must save, so {start_name} is kept"), numbers
    return best, True, f"{text}: {saving:.1%} fewer bytes", numbers


def bytes_judge(start, settings: dict) -> bool:
    """Whether bytes can say if a model pays under ``settings``: not under a budget, which fills
    every chunk, nor without a promise, where nothing bounds the error."""
    from .codecs.numcodecs import INRCodec
    from .modes import Latents

    mode = INRCodec(start, **settings).mode
    return not (mode.sized or isinstance(mode, Latents) and not mode.floored)


def embedded_bytes(model, settings: dict) -> int:
    """A model's bytes as a store holds them: in its codec config, in each array's metadata and
    again in the consolidated metadata."""
    from .codecs.numcodecs import INRCodec

    return METADATA_COPIES * len(json.dumps(INRCodec(model, **settings).get_config()))


def projected_bytes(model, settings: dict, sample: list, values: int) -> float:
    """A variable of ``values`` values' bytes with ``model``, projected from the chunks in
    ``sample``, and the model's own as the store holds them: in its codec config, in each array's
    metadata and again in the consolidated metadata."""
    from .codecs.numcodecs import INRCodec

    stored = codec_round_trip(INRCodec(model, **settings), sample).stored_bytes
    return stored / sum(a.size for a in sample) * values + embedded_bytes(model, settings)


def embedding_pays(var, chunks: tuple[int, ...], settings: dict, start, model) -> str | None:
    """None where the variable, with ``model`` embedded in its metadata, would take fewer
    bytes than with ``start`` (projected from its held-out chunks, else from chunks across
    it); else why not. A model fine-tuned by ``--adapt`` (169 kB) had been embedded for a
    variable of 0.4 kB. Under a budget, or without a promise, bytes cannot judge a model: None."""
    if not bytes_judge(start, settings):
        return None
    where = held_out_chunks(var, chunks) or _spread_chunks(var, chunks)
    sample = [np.asarray(var[w].values) for w in where]
    before, after = (projected_bytes(m, settings, sample, var.size) for m in (start, model))
    if after < before:
        return None
    return (f"the variable would take {after / 1e3:,.1f} kB with it embedded (its metadata "
            f"included) against {before / 1e3:,.1f} kB without")


def _spread_chunks(var, chunks: tuple[int, ...], most: int = HELD_OUT) -> list[tuple]:
    """Up to ``most`` chunks of the store's grid, evenly spread over all of it."""
    grid = list(itertools.product(*[range(0, m, c) for m, c in zip(var.shape, chunks)]))
    even = np.unique(np.linspace(0, len(grid) - 1, most).round().astype(int))
    return [tuple(slice(a, min(a + c, m)) for a, c, m in zip(grid[i], chunks, var.shape))
            for i in even]


def held_out_chunks(var, chunks: tuple[int, ...]) -> list[tuple]:
    """Up to ``HELD_OUT`` chunks of the store's grid (as index tuples) from the end of the first
    axis, at least its last tenth, evenly spread over the other axes: what learning is judged
    on, never learned from. Empty where the first axis has no whole chunk before them."""
    n = var.shape[0]
    step = chunks[0]
    first = (max(n - max(1, round(0.1 * n)), 0) // step) * step  # on the chunk grid
    if first == 0:
        return []
    starts = [range(first, n, step)] + [range(0, m, c) for m, c in zip(var.shape[1:], chunks[1:])]
    grid = list(itertools.product(*starts))
    even = np.unique(np.linspace(0, len(grid) - 1, HELD_OUT).round().astype(int))
    return [tuple(slice(a, min(a + c, m)) for a, c, m in zip(grid[i], chunks, var.shape))
            for i in even]


__all__ = ["Learning", "embedding_pays", "learn_archive", "learn_model"]
