"""Backward compatibility: chunks written by every bitstream version keep decoding the same.

Like numcodecs' ``check_backwards_compatibility``, with a tolerance: decoding runs a network,
whose float results may differ in the last bits between machines and torch versions.
"""

import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from inrcodec.coding.container import VERSION, Container, Kind

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(FIXTURES.glob("v*/*/*.bin"))


def test_the_current_version_has_fixtures_of_every_kind():
    configs = list((FIXTURES / f"v{VERSION}").glob("*/codec.json"))
    assert configs, "new bitstream version without fixtures: run tests/fixtures/make_fixtures.py"
    kinds = set()
    for config in configs:
        codec = numcodecs.get_codec(json.loads(config.read_text()))
        kinds |= {Container.from_bytes(p.read_bytes(), codec.model.hash).kind
                  for p in config.parent.glob("*.bin")}
    assert kinds == set(Kind)


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.stem}")
def test_fixture_decodes_as_when_it_was_written(path):
    codec = numcodecs.get_codec(json.loads((path.parent / "codec.json").read_text()))
    expected = np.load(path.with_suffix(".decoded.npy"))
    original = np.load(path.with_suffix(".npy"))
    decoded = codec.decode(path.read_bytes())
    assert decoded.dtype == expected.dtype and decoded.shape == expected.shape
    assert decoded.flags.f_contiguous == expected.flags.f_contiguous
    assert np.array_equal(np.isnan(decoded), np.isnan(original))
    finite = ~np.isnan(expected)
    config = json.loads((path.parent / "codec.json").read_text())
    if "max_error" in config:  # the promise itself, whatever the decoder's float details
        assert np.all(np.abs(decoded[finite].astype(np.float64) - original[finite])
                      <= config["max_error"])
    if "pointwise_relative_error" in config:
        x = original[finite].astype(np.float64)
        assert np.all(np.abs(decoded[finite].astype(np.float64) - x)
                      <= config["pointwise_relative_error"] * np.abs(x))
    kind = Container.from_bytes(path.read_bytes(), codec.model.hash).kind
    if "bits_per_value" in config and kind == Kind.LATENTS:  # exact chunks are header only
        assert 8 * path.stat().st_size <= config["bits_per_value"] * original.size
    if getattr(codec.model, "linear", False):  # the same on every machine, by construction
        assert decoded.tobytes() == expected.tobytes()
    elif expected.dtype.kind in "iu":  # rounded to integers: a last-bit change may move one step
        assert np.abs(decoded.astype(np.int64) - expected).max(initial=0) <= 1
    else:
        spread = float(np.ptp(original[finite])) if finite.any() else 0.0
        assert np.allclose(decoded[finite], expected[finite], rtol=0, atol=1e-4 * spread + 1e-6)
