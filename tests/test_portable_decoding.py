"""The same chunks decoded in fresh processes on every CPU path torch and MKL can take (issue 32):
torch's vector kernels (ATEN_CPU_CAPABILITY), MKL's conditional numerical reproducibility
(MKL_CBWR=COMPATIBLE), one thread and two.

What holds, and is tested as it holds: every kind without the network decodes to the same bytes
on every path (elementwise IEEE arithmetic only), and so does every kind on every torch kernel
and thread count; under MKL_CBWR=COMPATIBLE, MKL's products move the network's last bits, so
its chunks may differ there in the last bits, and the bounded ones still keep their bound (the
quantizer's slack covers another machine's float64 network, coding/residual.py). A linear
model's chunks decode to the same bytes on every path, MKL's included (linear.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from helpers import linear_model_of
from inrcodec import INRCodec
from inrcodec.coding.container import VERSION, Container

FIXTURES = Path(__file__).parent / "fixtures"
BOUNDS = (1e-9, 1e-6, 1e-3)
PATHS = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
         "default": {"ATEN_CPU_CAPABILITY": "default"},
         "mkl compatible": {"MKL_CBWR": "COMPATIBLE"},
         "two threads": {"INRCODEC_TEST_THREADS": "2"}}  # the others run on one
if "avx512f" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False:
    PATHS["avx512"] = {"ATEN_CPU_CAPABILITY": "avx512"}  # where the CPU has it
DECODE = """
import hashlib, json, os, pickle, sys
import numcodecs, numpy, torch
torch.set_num_threads(int(os.environ.get("INRCODEC_TEST_THREADS", "1")))
cases = pickle.load(open(sys.argv[1], "rb"))
out = {}
for key, (config, chunk) in cases.items():
    decoded = numpy.ascontiguousarray(numcodecs.get_codec(config).decode(chunk))
    out[key] = decoded.tobytes().hex()
json.dump(out, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="module")
def cases(a1b, tmp_path_factory):
    """The current version's fixtures, and float64 A1B fields under tight absolute bounds, one
    field a chunk and twelve."""
    import pickle

    found = {}
    for config in sorted((FIXTURES / f"v{VERSION}").glob("*/codec.json")):
        settings = json.loads(config.read_text())
        for path in sorted(config.parent.glob("*.bin")):
            found[f"{config.parent.name}/{path.stem}"] = (settings, path.read_bytes())
    fields = a1b[192:216].astype(np.float64)
    originals = {}
    for bound in BOUNDS:
        codec = INRCodec(max_error=bound)
        for label, chunk in (("one", fields[:1]), ("twelve", fields[:12])):
            key = f"bounded {bound:g} {label}"
            found[key] = (codec.get_config(), bytes(codec.encode(chunk)))
            originals[key] = (chunk, bound)
    # A linear model's chunks (linear.py) decode to the same bytes on every path, MKL's
    # included: its products are sums of integers, exact in float64 in any order.
    model = linear_model_of(a1b[:192], 64)
    for bound in BOUNDS + (0.1,):
        codec = INRCodec(model, max_error=bound)
        for label, chunk in (("one", fields[:1]), ("twelve", fields[:12])):
            key = f"linear bounded {bound:g} {label}"
            found[key] = (codec.get_config(), bytes(codec.encode(chunk)))
            originals[key] = (chunk, bound)
    codec = INRCodec(model, min_psnr=None, latent_bits=7)
    found["linear latents"] = (codec.get_config(), bytes(codec.encode(fields[:12])))
    kinds = {Container.from_bytes(chunk, model.hash).kind.name
             for key, (_, chunk) in found.items() if key.startswith("linear ")}
    assert {"LATENTS", "BOUNDED"} <= kinds or {"LATENTS", "BOUNDED_SPATIAL"} <= kinds, kinds
    folder = tmp_path_factory.mktemp("paths")
    (folder / "cases.pkl").write_bytes(pickle.dumps(found))
    return folder, found, originals


def decoded_on(folder: Path, names: list[str]) -> dict:
    """Each path's decoded chunks, by path name: the paths' fresh processes run side by side."""
    outs = {name: folder / f"{name.replace(' ', '_')}.json" for name in names}
    runs = {name: subprocess.Popen([sys.executable, "-c", DECODE, str(folder / "cases.pkl"), str(out)],
                                   env={**os.environ, **PATHS[name]})
            for name, out in outs.items()}
    for name, run in runs.items():
        assert run.wait(timeout=300) == 0, name
    return {name: json.loads(out.read_text()) for name, out in outs.items()}


@pytest.mark.slow  # ~20 s; test_safeguards.py reads the default (linear) model's store back on
# every CPU path in the default suite
def test_every_path_decodes_the_same_bytes_but_mkl_s_products_in_network_chunks(cases):
    folder, found, originals = cases
    results = decoded_on(folder, list(PATHS))
    reference = results["avx2"]
    for name, got in results.items():
        for key, (config, chunk) in found.items():
            codec = numcodecs.get_codec(config)
            kind = Container.from_bytes(chunk, codec.model_hash).kind
            if key in originals:  # the bound, on every value, on every path
                original, bound = originals[key]
                values = np.frombuffer(bytes.fromhex(got[key]), np.float64).reshape(original.shape)
                assert np.abs(values - original).max() <= bound, (name, key)
            if name != "mkl compatible" or not kind.uses_model or codec.model.linear:
                assert got[key] == reference[key], (name, key, kind.name)
