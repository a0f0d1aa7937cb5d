"""A store can't hurt its reader: crafted models are refused before they allocate, and error
bounds that the dtype can honour are accepted on all valid data."""

import base64
import json
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from inrcodec.coding import residual
from inrcodec.coding.normalise import Normalisation
from inrcodec.model import (
    MAX_DEPTH,
    MAX_HEADER_BYTES,
    MAX_LATENT_DIM,
    MAX_WIDTH,
    Model,
    ModelError,
    decompress_bounded,
)
from inrcodec.nn.network import ModulatedSiren

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "v1" / "latents" / "codec.json").read_text())
TINY = zlib.decompress(base64.b64decode(FIXTURE["model_data"]))  # width 16, depth 2, 8x8 patches


def with_header(data: bytes, patch_shape=None, **architecture) -> bytes:
    """The model file ``data`` with its decoding header changed and its tensors left alone."""
    n = int.from_bytes(data[:8], "little")
    entries = json.loads(data[8:8 + n])
    header = json.loads(entries["__metadata__"]["inrcodec"])
    header["architecture"].update(architecture)
    header["patch_shape"] = patch_shape or header["patch_shape"]
    entries["__metadata__"]["inrcodec"] = json.dumps(header, sort_keys=True)
    text = json.dumps(entries).encode()
    return len(text).to_bytes(8, "little") + text + data[8 + n:]


def config_with(model_bytes: bytes, compressed: bytes | None = None) -> bytes:
    compressed = zlib.compress(model_bytes, 9) if compressed is None else compressed
    config = dict(FIXTURE, model_data=base64.b64encode(compressed).decode())
    config.pop("model_hash", None)
    return json.dumps(config).encode()


def zlib_bomb(prefix: bytes = b"", zeros: int = 2 ** 30) -> bytes:
    """The zlib stream of ``prefix`` and then ``zeros`` zero bytes, without compressing them all:
    after a full flush, every MiB of zeros compresses to the same deflate block."""
    deflate, mib = zlib.compressobj(9), b"\0" * 2 ** 20
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(mib) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = zlib.adler32(prefix)
    a, b = adler & 0xFFFF, ((adler >> 16) + zeros * (adler & 0xFFFF)) % 65521  # b grows by a a zero
    return head + block * (zeros // 2 ** 20) + deflate.flush()[:-4] + (b << 16 | a).to_bytes(4, "big")


def huge_patches() -> bytes:
    tiny = Model.from_bytes(TINY)
    huge = Model(tiny.net, tiny.step_sizes, (20000, 20000), tiny.latent_mean, tiny.latent_std)
    return huge.to_bytes()  # with its own hash: nothing but the limits can refuse it


# The crafted models: how each is loaded, and the file.
CRAFTED = {
    "width 16384": lambda: ("config", config_with(with_header(TINY, width=16384))),
    "zlib bomb": lambda: ("compressed", zlib_bomb()),
    "zlib bomb after a model": lambda: ("compressed", zlib_bomb(TINY)),
    "zlib bomb in a codec config": lambda: ("config", config_with(b"", zlib_bomb(TINY))),
    "20000 x 20000 patches": lambda: ("bytes", huge_patches()),
}
HEADROOM = 2 ** 30  # address space a refusal may take beyond an imported torch and inrcodec

# Loads each crafted file in one fresh process whose address space is capped at HEADROOM over
# what the imports took (torch alone reserves gigabytes of it): its error and peak memory.
REFUSE = textwrap.dedent("""
    import json, re, resource, sys
    import numcodecs, torch
    from inrcodec.model import Model, ModelError
    torch.set_num_threads(1)
    load = {"config": lambda data: numcodecs.get_codec(json.loads(data)).model,  # loaded when used
            "bytes": Model.from_bytes, "compressed": Model.from_compressed}
    status = lambda key: int(re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read())[1])
    resource.setrlimit(resource.RLIMIT_AS, (status("VmSize") * 1024 + int(sys.argv[1]),
                                            resource.RLIM_INFINITY))
    results = {}
    for name, (how, path) in json.loads(sys.argv[2]).items():
        data = open(path, "rb").read()
        open("/proc/self/clear_refs", "w").write("5")  # the peak resident size starts from here
        before = status("VmRSS")
        try:
            load[how](data)
            error = None
        except ModelError as e:
            error = str(e)
        results[name] = {"error": error, "peak_mib": (status("VmHWM") - before) / 1024}
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict:
    if not sys.platform.startswith("linux"):
        pytest.skip("address-space limits and /proc are Linux's")
    folder, files = tmp_path_factory.mktemp("crafted"), {}
    for i, (name, craft) in enumerate(CRAFTED.items()):
        how, data = craft()
        (folder / str(i)).write_bytes(data)
        files[name] = (how, str(folder / str(i)))
    run = subprocess.run([sys.executable, "-c", REFUSE, str(HEADROOM), json.dumps(files)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout.splitlines()[-1])
    print(json.dumps(results, indent=1))  # the peak memory of each refusal (pytest -s)
    return results


def test_a_config_claiming_width_16384_is_refused_without_allocating(refusals):
    assert f"width 16384 is not an integer from 1 to {MAX_WIDTH}" in refusals["width 16384"]["error"]
    assert refusals["width 16384"]["peak_mib"] < 100


def test_an_embedded_zlib_bomb_is_refused_without_inflating_it(refusals):
    for prefix in (b"", TINY):  # 1 GiB of zeros (after a valid model file) in about 1 MB
        bomb = zlib_bomb(prefix)
        assert len(bomb) < 2 ** 21
        assert zlib.decompressobj().decompress(bomb, len(prefix) + 2 ** 20) == prefix + bytes(2 ** 20)
    assert "a header of 0 bytes" in refusals["zlib bomb"]["error"]
    assert f"more than {len(TINY):,} bytes" in refusals["zlib bomb after a model"]["error"]
    assert refusals["zlib bomb"]["peak_mib"] < 100
    assert refusals["zlib bomb after a model"]["peak_mib"] < 100
    through_a_store = refusals["zlib bomb in a codec config"]
    assert f"more than {len(TINY):,} bytes" in through_a_store["error"]
    assert through_a_store["peak_mib"] < 100


def test_patches_of_20000_by_20000_with_a_consistent_hash_are_refused(refusals):
    assert "patches of 400,000,000 points" in refusals["20000 x 20000 patches"]["error"]
    assert refusals["20000 x 20000 patches"]["peak_mib"] < 100
    codec = numcodecs.get_codec(json.loads(config_with(huge_patches())))
    with pytest.raises(ModelError, match="400,000,000 points"):
        codec.model  # noqa: B018 (a codec loads its model when first used)


@pytest.mark.parametrize("change, message", [
    (dict(width=MAX_WIDTH), "tensor net.hidden.0.bias is .*16.* but the architecture says F32 \\[1024\\]"),
    (dict(depth=MAX_DEPTH + 1), "depth 17 is not an integer from 1 to 16"),
    (dict(latent_dim=MAX_LATENT_DIM + 1), "latent_dim 1025"),
    (dict(width=True), "width True is not an integer"),
    (dict(dim_in=3), "patch shape \\[8, 8\\] is not 3 positive integers"),
    (dict(patch_shape=[256, 512]), "at most 65,536 points"),
    (dict(patch_shape=[8, -8]), "not 2 positive integers"),
    (dict(gain=2.0), "is not dim_in, width, depth, latent_dim, w0"),
])
def test_model_sizes_are_checked_against_the_limits_and_each_other(change, message):
    with pytest.raises(ModelError, match=message):
        Model.from_bytes(with_header(TINY, **change))


def test_tensors_and_headers_must_be_the_sizes_they_claim():
    n = int.from_bytes(TINY[:8], "little")
    with pytest.raises(ModelError, match="bytes of tensors, but its header says"):
        Model.from_bytes(TINY + b"\0" * 64)
    with pytest.raises(ModelError, match="a header of"):
        Model.from_bytes((MAX_HEADER_BYTES + 1).to_bytes(8, "little") + TINY[8:])
    entries = json.loads(TINY[8:8 + n])
    entries["net.out.bias"]["shape"] = [2 ** 40]
    text = json.dumps(entries).encode()
    with pytest.raises(ModelError, match="net.out.bias"):
        Model.from_bytes(len(text).to_bytes(8, "little") + text + TINY[8 + n:])
    assert Model.from_bytes(TINY).hash == FIXTURE["model_hash"]


def test_the_largest_model_within_the_limits_takes_128_mib():
    shapes = ModulatedSiren.parameter_shapes(4, MAX_WIDTH, MAX_DEPTH, MAX_LATENT_DIM)
    values = sum(np.prod(s) for s in shapes.values()) + MAX_LATENT_DIM * (3 + MAX_LATENT_DIM)
    assert 2 ** 27 < 4 * values < 2 ** 27 + 2 ** 23


def test_bounded_decompression():
    data = zlib.compress(b"x" * 1000)
    assert decompress_bounded(data, 1000) == b"x" * 1000
    for bad, message in [(data, "more than 999"), (data[:-3], "truncated"),
                         (data + b"junk", "followed by"), (b"not zlib", "damaged")]:
        with pytest.raises(ValueError, match=message):
            decompress_bounded(bad, 999 if bad is data else 1000)
    assert Model.from_compressed(zlib.compress(TINY)).hash == FIXTURE["model_hash"]
    with pytest.raises(ModelError, match="damaged model data"):
        Model.from_compressed(b"not zlib")


# Error bounds on valid data that the dtype can honour.
Y, X = np.mgrid[0:37, 0:49]
WAVE = np.sin(X / 7.0) * np.cos(Y / 5.0)  # smooth, one patch of the bundled 2-D model
LARGE = {
    "float16 to +-65000": (WAVE * 65000).astype("f2"),
    "float16 ramp to 60000": np.linspace(0, 60000, WAVE.size).reshape(WAVE.shape).astype("f2"),
    "float32 near its max": (3e38 + WAVE * 3e37).astype("f4"),
    "int32 above 5e8": (6e8 + WAVE * 1000).astype("i4"),
    "uint32 near 3e9": (3e9 + WAVE * 1e5).astype("u4"),
    "int64 near 2**53": (2 ** 53 - 10 ** 6 + np.rint(WAVE * 1e5)).astype("i8"),
}
CASES = ([(name, bound) for name in LARGE if name.startswith("float16")
          for bound in (1, 10, 100, 1000, 5000)] + [("float32 near its max", 1e35)]
         + [(name, bound) for name in LARGE if "int" in name for bound in (0.5, 1, 3)])


@pytest.mark.parametrize("name, bound", CASES)
def test_bounds_the_dtype_can_honour_are_accepted_and_held(name, bound):
    chunk = LARGE[name]
    codec = numcodecs.get_codec({"id": "inrcodec", "max_error": bound})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float16's infinite spacing at its largest value warned
        decoded = codec.decode(codec.encode(chunk))
    assert decoded.dtype == chunk.dtype
    assert np.abs(decoded.astype(np.float64) - chunk.astype(np.float64)).max() <= bound
    if chunk.dtype.kind in "iu" and bound < 1:
        assert np.array_equal(decoded, chunk)  # integers within less than 1: lossless


@pytest.mark.parametrize("name", LARGE)
def test_the_bound_holds_when_another_machine_predicts_as_differently_as_it_can(name):
    """The decoder's float64 prediction off by twice the network's measured float64 error and
    one more ulp, either way: every value the encoder kept still decodes within the bound."""
    chunk = LARGE[name]
    values = chunk.ravel().astype(np.float64)
    norm = Normalisation.fit(chunk.ravel())
    rng = np.random.default_rng(0)
    prediction = values + rng.normal(0, 0.05, values.size) * norm.scale  # a fair predictor
    cast = lambda v: np.clip(np.rint(v) if chunk.dtype.kind in "iu" else v,  # noqa: E731
                             *_range(chunk.dtype)).astype(chunk.dtype)
    for bound in (0.5, 1, 3, 100) if chunk.dtype.kind in "iu" else (100, 5000, 1e35):
        half = residual.half_step(bound, chunk.dtype, norm)
        if not half > 0:
            continue
        symbols, exceptions = residual.quantize(values, prediction, half, bound, norm, chunk.dtype,
                                                cast)
        kept = np.ones(values.size, bool)
        kept[exceptions] = False
        for way in (-1, 1):
            other = np.nextafter(prediction + way * 1.4e-14 * norm.scale, way * np.inf)
            decoded = cast(residual.reconstruct(other, symbols, half)).astype(np.float64)
            assert np.abs(decoded - values)[kept].max(initial=0) <= bound, (bound, way)
        if bound >= 100:  # not met by exceptions alone (a few ulps of 2**53 exceed small bounds)
            assert kept.mean() > 0.5, bound


def _range(dtype):
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    return float(info.min), float(info.max)
