"""Fewer codings, the same promises: the bounded kinds make only the ways whose estimated bytes
come near the smallest (sections/bounds.py), and a large chunk's floor searches its bound on a
central block first (modes/latents.py)."""

import math

import numpy as np
import pytest

from inrcodec import INRCodec
from inrcodec.measure import psnr_db
from inrcodec.modes import bounded, latents
from inrcodec.sections import bounds


@pytest.mark.parametrize("settings", [{"max_error": 0.05}, {"relative_error": 0.001}, {}])
def test_making_only_the_likely_smallest_way_stores_what_making_every_way_stores(
        monkeypatch, a1b, settings):
    codec = INRCodec(**settings)
    chunks = [a1b[i:i + 12].astype(np.float32) for i in (0, 100, 200)] + [a1b[5:6].astype(np.float32)]
    planned = [bytes(codec.encode(c)) for c in chunks]
    monkeypatch.setattr(bounds, "ESTIMATE_MARGIN", math.inf)
    assert [bytes(codec.encode(c)) for c in chunks] == planned


def large_chunks() -> dict[str, np.ndarray]:
    """Chunks of 65,536 values or more, where the floor's search starts on a block: a smooth
    field with noise, one with a storm off the centre, and a masked one."""
    y, x = np.mgrid[:400, :500] / 400.0
    rng = np.random.default_rng(0)
    smooth = 280 + 20 * np.sin(7 * x + 3 * y) * np.cos(5 * y) + 0.05 * rng.normal(size=x.shape)
    storm = smooth + 40 * np.exp(-((x - 0.1) ** 2 + (y - 0.2) ** 2) / 0.002) * np.sin(90 * x)
    masked = smooth.copy()
    masked[:, :150] = np.nan
    return {"smooth": smooth, "storm": storm, "masked": masked}


@pytest.mark.parametrize("name", ["smooth", "storm", "masked"])
@pytest.mark.parametrize("floor", [30.0, 45.0])
def test_a_large_chunk_keeps_its_floor(name, floor):
    chunk = large_chunks()[name].astype(np.float32)[None]
    codec = INRCodec(min_psnr=floor)
    decoded = codec.decode(codec.encode(chunk))
    finite = np.isfinite(chunk)
    error = decoded[finite].astype(np.float64) - chunk[finite]
    value_range = float(np.ptp(chunk[finite]))
    assert psnr_db(value_range, float(np.sqrt(np.mean(error ** 2)))) >= floor - 1e-6


def test_a_block_far_emptier_than_its_chunk_does_not_decide_what_is_made(monkeypatch, a1b):
    """A1B tiled to 120 x 111 x 147 with its centre missing: the trial block holds almost no
    values, so its estimate must not stop the network being fitted or a way being made
    (scaled by all points, it once stored 5.4 times the bytes)."""
    chunk = tile_without_centre(a1b)
    for settings in ({"max_error": 0.5}, {"relative_error": 0.001}):
        codec = INRCodec(**settings)
        planned = len(codec.encode(chunk))
        with monkeypatch.context() as every_way_made:
            every_way_made.setattr(bounds, "margin", lambda way: math.inf)
            for module in (bounds, bounded):
                every_way_made.setattr(module, "alone_way", made_alone)
            assert len(codec.encode(chunk)) == planned


def tile_without_centre(a1b: np.ndarray) -> np.ndarray:
    """40 A1B fields tiled 3 x 3 (40 x 111 x 147), the centre of every field missing."""
    chunk = np.tile(a1b[:40], (1, 3, 3)).astype(np.float32)
    chunk[:, 25:86, 35:112] = np.nan
    return chunk


def made_alone(chunk, bound, settings=None, first_sweep=False):
    return bounds.made(ALONE_WAY(chunk, bound, settings))


ALONE_WAY = bounds.alone_way


@pytest.mark.parametrize("floor", [50.0, 60.0, 70.0])
def test_a_block_search_stores_about_what_the_whole_search_stores(monkeypatch, floor):
    """Unlike blocks (a disc of values in a masked chunk, a noisy centre in a smooth field):
    the block's search may land elsewhere than the whole chunk's, within a few percent."""
    codec = INRCodec(min_psnr=floor)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:400, :500] / 400.0
    steps = np.floor(8 * np.sin(3 * x) * np.cos(4 * y)) * 10.0
    disc = steps + 0.3 * rng.normal(size=x.shape)
    disc[np.hypot(y - 0.5, x - 0.625) > 0.3] = np.nan
    centre = steps.copy()
    centre[130:270, 170:330] += rng.normal(size=(140, 160))
    for chunk in (disc, centre):
        chunk = chunk.astype(np.float32)[None]
        blocked = len(codec.encode(chunk))
        with monkeypatch.context() as whole:
            whole.setattr(latents, "SEARCH_POINTS", 1 << 40)
            assert blocked <= 1.1 * len(codec.encode(chunk))


def test_the_gates_keep_the_network_where_it_pays(monkeypatch, a1b):
    """A1B tiled 3 x 3 with its centre missing, at bounds the linear network pays at: the gates
    (sections/network.py) must not set it aside (with no slack they did: 1.55x the bytes)."""
    from inrcodec.sections import network

    chunk = tile_without_centre(a1b)
    for settings in ({"max_error": 0.05}, {"relative_error": 0.001}):
        codec = INRCodec(**settings)
        gated = len(codec.encode(chunk))
        with monkeypatch.context() as ungated:
            for slack in ("PROJECTION_SLACK_DB", "SPATIAL_SLACK_DB"):
                ungated.setattr(network, slack, math.inf)
            assert gated <= 1.02 * len(codec.encode(chunk))


WHOLE_SEARCH = bounds.whole_search


def test_spatial_prediction_alone_is_searched_whole_only_where_it_comes_near(monkeypatch, a1b):
    """A1B with its learned model: at 1% of the range the network's ways need under half the
    bytes of spatial prediction alone, whose search stops after its first sweep on most chunks;
    at 10% spatial prediction comes near or wins, and is searched whole. Either way the bytes
    are those of searching it whole every time."""
    chunks = [a1b[i:i + 12].astype(np.float32) for i in (0, 100, 200)] + [a1b[5:6].astype(np.float32)]
    calls = {"planned": 0, "whole": 0}

    def planned(*args, **kwargs):
        calls["planned"] += kwargs.get("first_sweep", False)
        return ALONE_WAY(*args, **kwargs)

    def whole(way):
        calls["whole"] += way[0].rest is not None
        return WHOLE_SEARCH(way)

    for module in (bounds, bounded):
        monkeypatch.setattr(module, "alone_way", planned)
        monkeypatch.setattr(module, "whole_search", whole)
    made = {}
    for settings in ({"max_error": 0.42}, {"max_error": 4.2}, {}):
        codec = INRCodec(**settings)
        calls.update(planned=0, whole=0)
        stopped = [bytes(codec.encode(c)) for c in chunks]
        made[settings.get("max_error")] = dict(calls)
        with monkeypatch.context() as always:
            always.setattr(bounds, "SEARCH_GAIN", math.inf)
            assert [bytes(codec.encode(c)) for c in chunks] == stopped
    assert made[0.42]["planned"] == len(chunks) and made[0.42]["whole"] <= 1
    assert made[4.2]["whole"] == made[4.2]["planned"] == len(chunks)


@pytest.mark.parametrize("name", ["smooth", "masked"])
def test_a_bound_search_that_misses_with_too_many_bytes_gives_up(monkeypatch, name):
    """A trial that misses the floor with at least the bytes another way stores the chunk in
    ends the floor's bound search (modes/latents.py): every container that keeps the floor is
    at a finer bound. The same bytes as searching on, in fewer trials."""
    chunk = large_chunks()[name].astype(np.float32)[None]
    codec = INRCodec(min_psnr=30.0)
    trials = []

    def counted(*args, **kwargs):
        trials.append(args[2])
        return WITHIN(*args, **kwargs)

    monkeypatch.setattr(latents, "within", counted)
    stored = bytes(codec.encode(chunk))
    given_up = len(trials)
    trials.clear()
    monkeypatch.setattr(latents.Latents, "_search",
                        lambda self, *args, over=None, **kwargs: SEARCH(self, *args, **kwargs))
    assert bytes(codec.encode(chunk)) == stored
    assert given_up < len(trials)


WITHIN, SEARCH = latents.within, latents.Latents._search
