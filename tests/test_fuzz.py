"""Damaged chunks of every kind with their checksum made valid again (issue 32: a hostile store
or a buggy writer can do that; CRC32 is no signature): each mutation either raises a
ContainerError or decodes, to anything, within a second plus the time to fill the array it
claims at 100 MB/s (an all-NaN or constant chunk of any shape up to the 2 GiB cap is a few
legitimate bytes: its cost is the output's, not the input's). Slow: run with ``-m slow``."""

import json
import time
import zlib
from pathlib import Path

import numcodecs
import numpy as np
import pytest

from inrcodec import ContainerError
from inrcodec.coding.container import VERSION, Container, peek_kind

FIXTURES = Path(__file__).parent / "fixtures" / f"v{VERSION}"
MUTATIONS = 400  # per chunk


def chunks_of_every_kind() -> list:
    found = {}
    for config in sorted(FIXTURES.glob("*/codec.json")):
        codec = numcodecs.get_codec(json.loads(config.read_text()))
        for path in sorted(config.parent.glob("*.bin")):
            kind = Container.from_bytes(path.read_bytes(), codec.model.hash).kind.name
            found.setdefault(kind, []).append((config, path))
    return [(kind, *pair) for kind, pairs in sorted(found.items()) for pair in pairs[:3]]


def with_checksum(body: bytes, model_hash: str) -> bytes:
    kind = peek_kind(body[:6])
    checked = bytes.fromhex(model_hash) + body if kind is not None and kind.uses_model else body
    return body + zlib.crc32(checked).to_bytes(4, "little")


def mutations(data: bytes, rng: np.random.Generator):
    body = bytearray(data[:-4])
    for _ in range(MUTATIONS):
        out = bytearray(body)
        how = rng.integers(5)
        if how == 0:  # flip a few bits
            for i in rng.integers(0, 8 * len(out), rng.integers(1, 4)):
                out[i // 8] ^= 1 << (i % 8)
        elif how == 1:  # cut the tail
            out = out[:rng.integers(2, len(out) + 1)]
        elif how == 2:  # overwrite a byte of the header (shape, resolution, normalisation)
            out[rng.integers(2, min(len(out), 16))] = rng.integers(256)
        elif how == 3:  # garbage in the middle
            i = rng.integers(0, len(out))
            out[i:i + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        else:  # drop a span
            i = rng.integers(2, len(out))
            del out[i:i + rng.integers(1, 8)]
        yield bytes(out)


@pytest.mark.slow
@pytest.mark.parametrize("kind, config, path", chunks_of_every_kind(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_a_damaged_chunk_with_a_valid_checksum_is_refused_or_decoded_quickly(kind, config, path):
    codec = numcodecs.get_codec(json.loads(config.read_text()))
    rng = np.random.default_rng(sum(map(ord, path.parent.name + path.name)))
    for body in mutations(path.read_bytes(), rng):
        chunk = with_checksum(body, codec.model.hash)
        try:
            claimed = Container.from_bytes(chunk, codec.model.hash)
        except ContainerError:
            continue
        allowed = 1.0 + np.prod(claimed.shape, dtype=float) * claimed.dtype.itemsize / 1e8
        start = time.perf_counter()
        try:
            codec.decode(chunk)
        except ContainerError:
            pass
        seconds = time.perf_counter() - start
        assert seconds < allowed, f"{chunk.hex()} took {seconds:.1f} s"
