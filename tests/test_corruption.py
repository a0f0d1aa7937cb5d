"""Corrupted and truncated chunks decode to a clear error or to exactly the original result."""

import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from inrcodec import ContainerError
from inrcodec.coding.container import VERSION, Kind

FIXTURES = Path(__file__).parent / "fixtures"
V1 = FIXTURES / "v1"


def corruptions(data: bytes, rng: np.random.Generator, n: int):
    """Bit flips, cut tails, garbage headers and random splices of ``data``."""
    for _ in range(n):
        out = bytearray(data)
        kind = rng.integers(4)
        if kind == 0:
            for i in rng.integers(0, 8 * len(out), rng.integers(1, 4)):
                out[i // 8] ^= 1 << (i % 8)
        elif kind == 1:
            out = out[:rng.integers(0, len(out))]
        elif kind == 2:
            k = rng.integers(1, min(len(out), 12) + 1)
            out[:k] = rng.integers(0, 256, k, dtype=np.uint8).tobytes()
            out[:2] = data[:2] if rng.random() < 0.5 else out[:2]
        else:
            i = rng.integers(0, len(out))
            out[i:i + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        yield bytes(out)


@pytest.mark.parametrize("setting", ["latents", "bounded"])
@pytest.mark.parametrize("name", ["f4_nans", "i2", "f8_fortran", "constant", "all_nan"])
def test_corrupted_chunks_never_decode_to_wrong_data(setting, name):
    fixture_codec = numcodecs.get_codec(json.loads((V1 / setting / "codec.json").read_text()))
    never_wrong(fixture_codec, (V1 / setting / f"{name}.bin").read_bytes(), setting + name)


def never_wrong(codec, data: bytes, seed: str) -> None:
    """200 corruptions of ``data`` each raise ContainerError or decode exactly as ``data``."""
    expected = codec.decode(data)
    for corrupted in corruptions(data, np.random.default_rng(sum(map(ord, seed))), 200):
        try:
            decoded = codec.decode(corrupted)
        except ContainerError:
            continue
        assert corrupted == data or np.array_equal(decoded, expected, equal_nan=True)


def one_fixture_of_each_kind(version: str) -> dict:
    """{kind name: (codec config, chunk path)}: the current version's kinds, one chunk each."""
    from inrcodec.coding.container import Container

    found = {}
    for config in sorted((FIXTURES / version).glob("*/codec.json")):
        codec = numcodecs.get_codec(json.loads(config.read_text()))
        for path in sorted(config.parent.glob("*.bin")):
            kind = Container.from_bytes(path.read_bytes(), codec.model.hash).kind.name
            found.setdefault(kind, (config, path))
    return found


CURRENT_KINDS = one_fixture_of_each_kind(f"v{VERSION}")


def test_every_kind_is_corrupted():
    assert set(CURRENT_KINDS) == {kind.name for kind in Kind}


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy-or-as-loaded", "compiled"])
@pytest.mark.parametrize("kind", sorted(CURRENT_KINDS))
def test_corrupted_chunks_of_every_kind_never_decode_to_wrong_data(kind, compiled, monkeypatch):
    """Also with the compiled kernels from the first point (a reader of an archive has them)."""
    if compiled:
        from inrcodec.coding import kernels

        if kernels.compiled() is None:
            pytest.skip("numba is not installed")
        monkeypatch.setattr(kernels, "LOAD_AFTER_WORK", 0)
    config, path = CURRENT_KINDS[kind]
    never_wrong(numcodecs.get_codec(json.loads(config.read_text())), path.read_bytes(), kind)
