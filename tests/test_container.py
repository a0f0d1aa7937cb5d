import numpy as np
import pytest

from inrcodec.coding import bilevel
from inrcodec.coding.container import VERSION, Container, ContainerError, Kind, ModelMismatchError
from inrcodec.coding.mask import MaskError, decode_mask, encode_mask
from inrcodec.coding.normalise import Normalisation

HASH = "ab" * 32
OTHER = "cd" * 32


def latents_container(**kw):
    fields = dict(dtype=np.dtype("<f4"), shape=(1, 37, 49), fortran_order=False,
                  kind=Kind.LATENTS, latent_bits=5, normalisation=Normalisation(396, 14),
                  latents=b"\x12\x34\x56")
    return Container(**{**fields, **kw})


@pytest.mark.parametrize("c", [
    latents_container(),
    latents_container(mask=bilevel.encode(np.eye(37, 49, dtype=bool)), fortran_order=True),
    latents_container(dtype=np.dtype(">i2"), normalisation=Normalisation(-10 ** 12, -300)),
    latents_container(gated=True, latent_bits=12, latent_fraction=15),
    latents_container(kind=Kind.BOUNDED, bound=0.25, section=b"\1\2", latent_fraction=3),
    Container(np.dtype("<f8"), (3, 4), False, Kind.CONSTANT, constant=b"\0" * 8),
    Container(np.dtype("<f2"), (5,), False, Kind.EMPTY),
    Container(np.dtype("<u1"), (), False, Kind.CONSTANT, constant=b"\7"),
])
def test_round_trip(c):
    assert Container.from_bytes(c.to_bytes(HASH), HASH) == c


def test_header_is_small():
    # The per-chunk overhead is what a tiny chunk pays: marker and version, model tag, type,
    # layout, 3 shape bytes, resolution, 3 normalisation bytes, crc 4 = 15 bytes around the
    # payload (format versions 1-2 took 16, and padded the payload to 32-bit words).
    assert len(latents_container().to_bytes(HASH)) == 15 + 3


def test_other_model_is_refused():
    data = latents_container().to_bytes(HASH)
    with pytest.raises(ModelMismatchError, match="another model"):
        Container.from_bytes(data, OTHER)


def test_every_single_bit_flip_is_caught():
    data = latents_container(mask=bilevel.encode(np.eye(37, 49, dtype=bool))).to_bytes(HASH)
    for i in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(ContainerError):
            Container.from_bytes(bytes(flipped), HASH)


def test_every_truncation_is_caught():
    data = latents_container().to_bytes(HASH)
    for n in range(len(data)):
        with pytest.raises(ContainerError):
            Container.from_bytes(data[:n], HASH)


def test_foreign_bytes_and_newer_versions_are_refused():
    with pytest.raises(ContainerError, match="not an inrcodec chunk"):
        Container.from_bytes(b"\x28\xb5\x2f\xfd" + bytes(20), HASH)  # a zstd frame
    data = bytearray(latents_container().to_bytes(HASH))
    data[0] = 0xC0 | VERSION + 1
    with pytest.raises(ContainerError, match=f"version {VERSION + 1}.*upgrade"):
        Container.from_bytes(bytes(data), HASH)
    with pytest.raises(ContainerError, match="version 99"):  # the magic bytes of versions 1-2
        Container.from_bytes(b"IC\x63" + bytes(data[1:]), HASH)


def test_mask_round_trip_and_corruption():
    missing = np.random.default_rng(0).random(1813) < 0.3
    assert np.array_equal(decode_mask(encode_mask(missing), 1813), missing)
    with pytest.raises(MaskError):
        decode_mask(encode_mask(missing), 1000)
    with pytest.raises(MaskError):
        decode_mask(b"garbage", 1813)


def test_a_valid_checksum_cannot_make_decode_allocate_a_huge_chunk():
    c = latents_container(shape=(2 ** 20, 2 ** 20))  # 4 TiB of float32, with a correct crc
    with pytest.raises(ContainerError, match="impossible shape"):
        Container.from_bytes(c.to_bytes(HASH), HASH)
