"""examples/climatebenchpress_inrcodec.py follows ClimateBenchPress' Compressor contract and its codecs
pass ClimateBenchPress' error-bound test (climatebenchpress/compressor/tests/error_bound.py,
reimplemented here on numpy) on real data: A1B air temperature, its anomaly (values through
zero, the hard case for the pointwise relative bound) and OSTIA sea surface temperature with its
land NaNs. ClimateBenchPress itself (Python 3.12, zarr 2.18) is not imported.
"""
import importlib.util
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from inrcodec.bench.datasets import DATASETS
from inrcodec.sample_data import load_a1b

EXAMPLE = Path(__file__).parents[1] / "examples" / "climatebenchpress_inrcodec.py"
KEYWORDS = ["dtype", "data_min", "data_max", "data_abs_min", "data_abs_max", "data_min_2d",
            "data_max_2d"]


def load_example():
    spec = importlib.util.spec_from_file_location("climatebenchpress_inrcodec", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def error_bound(x, y, error_type: str, threshold: float) -> tuple[bool, float]:
    """ClimateBenchPress' ErrorBound.__call__, line for line, on numpy arrays."""
    assert x.dtype.kind == "f" and y.dtype.kind == "f"
    with np.errstate(invalid="ignore"):
        if error_type == "abs_error":
            satisfied = np.abs(x - y) <= threshold
        else:
            satisfied = np.abs(x - y) <= np.abs(x) * threshold
    satisfied = satisfied | (np.isnan(x) & np.isnan(y))
    satisfied = satisfied | (np.isinf(x) & np.isinf(y) & (x == y))
    exceed_thresh = np.sum(~satisfied) / x.size
    return bool(exceed_thresh == 0.0), float(exceed_thresh)


@pytest.fixture(scope="module")
def fields():
    a1b = np.asarray(load_a1b()[200:204], dtype=np.float32)
    return {"a1b": a1b, "a1b_anomaly": (a1b - a1b.mean(axis=0)).astype(np.float32),
            "ostia": np.asarray(DATASETS["ostia"].load()[:2], dtype=np.float32)}


def stats(x):
    """The keywords ClimateBenchPress' Compressor.build passes (compressors/abc.py)."""
    finite = x[np.isfinite(x)]
    with warnings.catch_warnings():  # OSTIA's land: all-NaN columns
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    return dict(dtype=x.dtype, data_min=float(finite.min()), data_max=float(finite.max()),
                data_abs_min=float(np.abs(finite).min()), data_abs_max=float(np.abs(finite).max()),
                data_min_2d=low, data_max_2d=high)


def test_the_class_follows_the_compressor_contract():
    cls = load_example().InrCodec
    assert cls.name == "inrcodec" and cls.description
    # Compressor.has_abs_error_impl / has_rel_error_impl look in the class's own __dict__
    assert "abs_bound_codec" in cls.__dict__ and "rel_bound_codec" in cls.__dict__
    for method in ("abs_bound_codec", "rel_bound_codec"):
        assert isinstance(inspect.getattr_static(cls, method), staticmethod)
        params = inspect.signature(getattr(cls, method)).parameters
        assert list(params) == ["error_bound", *KEYWORDS]
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY and params[k].default is None
                   for k in KEYWORDS)
    codec = cls.rel_bound_codec(1e-3)
    assert codec.get_config()["id"] == "inrcodec" and "x|v|" in codec.mode.label


@pytest.mark.parametrize("name", ["a1b", "a1b_anomaly", "ostia"])
@pytest.mark.parametrize("kind,bounds", [("abs_error", (0.05, 0.5)), ("rel_error", (1e-4, 1e-2))])
def test_the_error_bound_check_passes_on_real_data(fields, name, kind, bounds):
    cls, x = load_example().InrCodec, fields[name]
    make = cls.abs_bound_codec if kind == "abs_error" else cls.rel_bound_codec
    for eb in bounds:
        codec = make(eb, **stats(x))
        # through the numcodecs config, as a benchmark's stores are read back
        decoder = type(codec).from_config(codec.get_config())
        y = np.asarray(decoder.decode(codec.encode(x))).reshape(x.shape)
        assert y.dtype == x.dtype
        passed, exceed = error_bound(x, y, kind, eb)
        assert passed, f"{name} {kind}={eb}: {exceed:.3%} of values over"


def test_the_check_catches_what_it_should(fields):
    x = fields["ostia"]
    y = x.copy()
    y[np.isfinite(x)] += 0.02
    assert error_bound(x, y, "abs_error", 0.05)[0] and not error_bound(x, y, "abs_error", 0.01)[0]
    y = x.copy()
    y[np.isnan(x)] = 0.0  # a NaN not kept fails
    assert not error_bound(x, y, "abs_error", 1.0)[0]
    z = np.zeros(4, np.float32)
    assert not error_bound(z, z + 1e-30, "rel_error", 0.5)[0]  # zeros must stay zeros


def test_the_example_runs_standalone():
    out = subprocess.run([sys.executable, str(EXAMPLE)], check=True, capture_output=True,
                         text=True).stdout
    assert out.count("error-bound test passed") == 4 and "FAILED" not in out
