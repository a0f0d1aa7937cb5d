"""inrcodec inside numcodecs-safeguards' SafeguardedCodec (the `safeguards` extra).

The safeguards hold an absolute error bound over whatever inrcodec decodes: every value,
NaNs kept where they were, through a real Zarr store read back in a fresh process, and
`inrcodec info` sees inrcodec inside the wrapper.
"""
import subprocess
import sys

import numpy as np
import pytest

safeguards = pytest.importorskip("numcodecs_safeguards")

from inrcodec import INRCodec  # noqa: E402
from inrcodec.bench.datasets import DATASETS  # noqa: E402
from inrcodec.cli import main  # noqa: E402
from inrcodec.sample_data import load_a1b  # noqa: E402


@pytest.fixture(scope="module")
def fields():
    return {"a1b": np.asarray(load_a1b()[200:204], dtype=np.float32),
            "ostia": np.asarray(DATASETS["ostia"].load()[:2], dtype=np.float32)}


def guarded(inner: INRCodec, eb: float):
    return safeguards.SafeguardedCodec(
        codec=inner, safeguards=[dict(kind="eb", type="abs", eb=eb, equal_nan=True)])


def assert_holds(x: np.ndarray, y: np.ndarray, eb: float) -> None:
    assert y.shape == x.shape and y.dtype == x.dtype
    nan = np.isnan(x)
    assert np.array_equal(nan, np.isnan(y)), "NaNs must stay where they were"
    assert np.all(np.abs(x[~nan] - y[~nan]) <= eb), np.abs(x[~nan] - y[~nan]).max()


@pytest.mark.parametrize("name", ["a1b", "ostia"])
@pytest.mark.parametrize("inner", ["plain", "bounded"])
def test_every_value_within_the_safeguards_bound(fields, name, inner):
    x = fields[name]
    eb = float(0.002 * (np.nanmax(x) - np.nanmin(x)))
    codec = guarded(INRCodec() if inner == "plain" else INRCodec(max_error=2 * eb), eb)
    y = np.asarray(codec.decode(codec.encode(x))).reshape(x.shape)
    assert_holds(x, y, eb)


def test_zarr_store_decodes_in_a_fresh_process_and_info_sees_inrcodec(fields, tmp_path, capsys):
    import zarr

    store = tmp_path / "s.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=2)
    ebs = {}
    for name, x in fields.items():
        ebs[name] = float(0.002 * (np.nanmax(x) - np.nanmin(x)))
        array = group.create_array(name, shape=x.shape, chunks=(1, *x.shape[1:]), dtype=x.dtype,
                                   compressors=[guarded(INRCodec(), ebs[name])], fill_value=np.nan)
        array[:] = x
    for name, x in fields.items():
        np.save(tmp_path / f"{name}.npy", x)
    script = (
        "import sys, numpy as np, zarr\n"
        "store, eb = sys.argv[1], eval(sys.argv[2])\n"
        "group = zarr.open_group(store, mode='r')\n"
        "for name, bound in eb.items():\n"
        "    x = np.load(f'{store}/../{name}.npy'); y = group[name][:]\n"
        "    nan = np.isnan(x)\n"
        "    assert np.array_equal(nan, np.isnan(y)), name\n"
        "    assert np.all(np.abs(x[~nan] - y[~nan]) <= bound), name\n"
        "    print(name, type(group[name].compressors[0]).__name__)\n")
    done = subprocess.run([sys.executable, "-c", script, str(store), repr(ebs)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.split() == ["a1b", "SafeguardedCodec", "ostia", "SafeguardedCodec"]

    assert main(["info", str(store)]) in (0, None)
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.split()[:1] in (["a1b"], ["ostia"])]
    assert len(rows) == 2 and all("safeguarded >=40 dB" in row for row in rows), out
    assert "inside numcodecs-safeguards' frame" in out


@pytest.mark.parametrize("path", [{"MKL_CBWR": "COMPATIBLE"}, {"ATEN_CPU_CAPABILITY": "default"},
                                  {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}],
                         ids=lambda p: next(iter(p)))
def test_a_linear_model_s_store_reads_back_on_every_cpu_path(fields, tmp_path, path):
    """The safeguards check their corrections against a checksum of the decoded data: they need
    bit-identical decodes. A SIREN's chunks lose that under MKL_CBWR=COMPATIBLE; a linear
    model's (linear.py) keep it on every path."""
    import os

    import zarr

    from helpers import linear_model_of

    a1b = load_a1b()
    model = linear_model_of(a1b[:192], 64)
    x = fields["a1b"]
    assert INRCodec().model.linear  # the default codec writes such chunks too
    eb = float(0.002 * np.ptp(x))
    store = tmp_path / "s.zarr"
    group = zarr.open_group(str(store), mode="w", zarr_format=2)
    inner = INRCodec(model, min_psnr=None, latent_bits=7)
    group.create_array("t", shape=x.shape, chunks=(2, *x.shape[1:]), dtype=x.dtype,
                       compressors=[guarded(inner, eb)], fill_value=np.nan)[:] = x
    np.save(tmp_path / "x.npy", x)
    script = ("import sys, numpy as np, zarr\n"
              "y = zarr.open_group(sys.argv[1], mode='r')['t'][:]\n"
              "x = np.load(sys.argv[2])\n"
              "assert np.abs(x - y).max() <= float(sys.argv[3])\n"
              "print(y.tobytes().hex()[:64], np.abs(x - y).max())\n")
    done = subprocess.run([sys.executable, "-c", script, str(store), str(tmp_path / "x.npy"),
                           repr(eb)], capture_output=True, text=True, env={**os.environ, **path})
    assert done.returncode == 0, done.stderr[-2000:]
