"""The fields every version of the container lays out alike, read here for container.py (versions
3-6) and legacy.py (versions 1-2): the checksum and kind, dtype and shape, and the body after the
normalisation (bound or constant, mask, latents, section)."""

import math
import zlib

import numpy as np

from .bytes import ContainerError, Reader
from .kinds import LAST_KIND, Kind

MARKER = 0xC0  # high nibble of a compact (version 3+) chunk's first byte
MAX_NDIM = 7
MAX_BYTES = 2 ** 31  # a chunk claiming more is corrupt (or crafted): never allocated

DTYPES = ["f2", "f4", "f8", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"]


class ModelMismatchError(ContainerError):
    """A chunk encoded with another model than the one given to decode it."""


def model_tag(model_hash: str) -> int:
    return int(model_hash[:2], 16)


def checksum(body: bytes, model_hash: str, kind: Kind) -> int:
    """crc32 of a chunk's bytes before the checksum, after the model's sha256 for kinds with
    latents: a chunk decoded with another model is refused rather than turned into wrong values."""
    return zlib.crc32(bytes.fromhex(model_hash) + body if kind.uses_model else body)


def check(data: bytes, model_hash: str, type_byte: int, kind_code: int) -> Kind:
    """The chunk's kind, once its checksum (over the model hash too) has been verified."""
    if (type_byte & 15) >= len(DTYPES) or kind_code > LAST_KIND:
        raise ContainerError("corrupted inrcodec chunk: unknown dtype or kind")
    kind = Kind(kind_code)
    body, crc = data[:-4], int.from_bytes(data[-4:], "little")
    if checksum(body, model_hash, kind) == crc:
        return kind
    if kind.uses_model:
        tag = data[1] if data[0] & 0xF0 == MARKER else data[3]
        if tag != model_tag(model_hash):
            raise ModelMismatchError(
                f"chunk was encoded with another model (tag {tag:02x}) than this "
                f"codec's model {model_hash[:12]}: open the store with the codec it was "
                "written with")
        raise ContainerError("inrcodec chunk failed its checksum: it is corrupted or "
                             "truncated (or was encoded with another model)")
    raise ContainerError("inrcodec chunk failed its checksum: corrupted or truncated")


def read_layout(reader: Reader, dtype_code: int, big: int, ndim: int, fortran: int,
                kind: Kind) -> dict:
    """dtype, shape (read here), order and kind, as every version defines them."""
    dtype = np.dtype(DTYPES[dtype_code]).newbyteorder(">" if big else "<")
    shape = tuple(reader.varint() for _ in range(ndim))
    if math.prod(shape) * dtype.itemsize > MAX_BYTES:  # (Python's integers: no overflow)
        raise ContainerError(f"inrcodec chunk claims an impossible shape {shape}")
    return dict(dtype=dtype, shape=shape, fortran_order=bool(fortran), kind=kind)


def read_body(reader: Reader, kind: Kind, dtype: np.dtype, has_mask: int) -> dict:
    """The fields ``Container.body`` wrote."""
    fields = {}
    if kind.has_bound:
        fields["bound"] = float(np.frombuffer(reader.take(8), "<f8")[0])
        if not 0 < fields["bound"] < np.inf:  # also refuses NaN
            raise ContainerError("corrupted inrcodec chunk: error bound is not positive")
    elif kind == Kind.CONSTANT:
        fields["constant"] = reader.take(dtype.itemsize)
    if has_mask:
        fields["mask"] = reader.take(reader.varint())
    if kind.uses_model and kind.spec.section:
        fields["latents"] = reader.take(reader.varint())
        fields["section"] = reader.rest()
    elif kind.uses_model:
        fields["latents"] = reader.rest()
    else:
        fields["section"] = reader.rest()
        if kind in (Kind.CONSTANT, Kind.EMPTY) and fields["section"]:
            raise ContainerError("corrupted inrcodec chunk: unexpected trailing bytes")
    return fields
