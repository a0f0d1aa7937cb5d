"""The bitstream of one chunk: a few header bytes, the coded content, and a checksum.

Layout of format version 1 (little-endian, varints are LEB128, signed ones zigzag-mapped)::

    magic "IC" | version u8 | model tag u8 (first byte of the model's sha256)
    u8: dtype code (low 4 bits) | latent bits (high 4 bits, 0 for CONSTANT and EMPTY)
    u8: ndim (bits 0-2) | Fortran order (bit 3) | kind (bits 4-5) | has mask (bit 6)
        | big-endian dtype (bit 7)
    ndim varints: the shape
    kind LATENTS, BOUNDED: svarint scale code, svarint offset code (see normalise.py)
    kind BOUNDED:  the absolute error bound, float64
    kind CONSTANT: the value, itemsize bytes in the dtype's byte order
    kind EMPTY:    nothing (every value is NaN)
    if has mask: varint length, then the zlib-coded NaN mask
    kind LATENTS: the range-coded latents, to the end
    kind BOUNDED: varint length, the range-coded latents, then the residuals (see residual.py)
        to the end
    crc32 u32 of everything before it, preceded (for LATENTS, BOUNDED) by the model's sha256

Format version 2 is version 1 plus gated latents (size-budget mode): a version 2 chunk is of
kind LATENTS, has one more byte after the normalisation (the latents' extra resolution in
sixteenths of a bit, see quantize.py), and its range-coded latents say which latent dimensions
each patch kept (see entropy.encode_gated). Every other chunk is still written as version 1, byte for byte as
before, so stores and fixtures written before version 2 existed read unchanged.

Chunks are tiny (tens of bytes), so every field is as short as it can be. The checksum is checked
before anything is decoded; it covers the model hash, so a chunk decoded with another model is
refused rather than turned into wrong values.
"""

import enum
import zlib
from dataclasses import dataclass

import numpy as np

from .normalise import Normalisation
from .quantize import FRACTIONS

MAGIC = b"IC"
VERSION = 2  # the newest version this module reads; VERSION_GATED's only addition is gating
VERSION_GATED = 2
MAX_NDIM = 7
MAX_BYTES = 2 ** 31  # a chunk claiming more is corrupt (or crafted): never allocated

DTYPES = ["f2", "f4", "f8", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"]


class ContainerError(ValueError):
    """Bytes that are not a valid inrcodec chunk (corrupted, truncated or foreign)."""


class ModelMismatchError(ContainerError):
    """A chunk encoded with another model than the one given to decode it."""


class Kind(enum.IntEnum):
    LATENTS = 0
    CONSTANT = 1
    EMPTY = 2
    BOUNDED = 3  # latents plus residuals that keep every value within an absolute bound

    @property
    def uses_model(self) -> bool:
        return self in (Kind.LATENTS, Kind.BOUNDED)


@dataclass(frozen=True)
class Container:
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    kind: Kind
    latent_bits: int = 0
    normalisation: Normalisation | None = None
    constant: bytes = b""
    mask: bytes | None = None
    payload: bytes = b""  # the coded latents
    max_error: float = 0.0
    residuals: bytes = b""
    gated: bool = False  # the payload holds gated latents (format version 2)
    latent_fraction: int = 0  # gated only: sixteenths of a bit of extra latent resolution

    def to_bytes(self, model_hash: str) -> bytes:
        dtype = np.dtype(self.dtype)
        big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not _little_endian())
        out = bytearray(MAGIC)
        out += bytes([VERSION_GATED if self.gated else 1, _model_tag(model_hash),
                      DTYPES.index(dtype.kind + str(dtype.itemsize)) | self.latent_bits << 4,
                      len(self.shape) | self.fortran_order << 3 | self.kind << 4
                      | (self.mask is not None) << 6 | big << 7])
        for n in self.shape:
            out += varint(n)
        if self.kind.uses_model:
            out += svarint(self.normalisation.scale_code)
            out += svarint(self.normalisation.offset_code)
        if self.gated:
            out.append(self.latent_fraction)
        if self.kind == Kind.BOUNDED:
            out += np.float64(self.max_error).astype("<f8").tobytes()
        elif self.kind == Kind.CONSTANT:
            out += self.constant
        if self.mask is not None:
            out += varint(len(self.mask)) + self.mask
        if self.kind == Kind.BOUNDED:
            out += varint(len(self.payload)) + self.payload + self.residuals
        else:
            out += self.payload
        checked = bytes.fromhex(model_hash) + out if self.kind.uses_model else out
        return bytes(out + zlib.crc32(checked).to_bytes(4, "little"))

    @classmethod
    def from_bytes(cls, data: bytes, model_hash: str) -> "Container":
        data = bytes(data)
        if len(data) < 10 or data[:2] != MAGIC:
            raise ContainerError("not an inrcodec chunk (bad magic bytes or too short)")
        if not 1 <= data[2] <= VERSION:
            raise ContainerError(f"inrcodec chunk of format version {data[2]}; this inrcodec "
                                 f"reads versions 1 to {VERSION}: upgrade inrcodec")
        body, crc = data[:-4], int.from_bytes(data[-4:], "little")
        reader = Reader(body, 4)
        type_byte, layout = reader.byte(), reader.byte()
        kind_code = layout >> 4 & 3
        if (type_byte & 15) >= len(DTYPES) or kind_code > max(Kind):
            raise ContainerError("corrupted inrcodec chunk: unknown dtype or kind")
        kind = Kind(kind_code)
        gated = data[2] == VERSION_GATED
        if gated and kind != Kind.LATENTS:
            raise ContainerError("corrupted inrcodec chunk: gated latents in a chunk of kind "
                                 f"{kind.name}")
        if kind.uses_model and zlib.crc32(bytes.fromhex(model_hash) + body) != crc:
            if body[3] != _model_tag(model_hash):
                raise ModelMismatchError(
                    f"chunk was encoded with another model (tag {body[3]:02x}) than this "
                    f"codec's model {model_hash[:12]}: open the store with the codec it was "
                    "written with")
            raise ContainerError("inrcodec chunk failed its checksum: it is corrupted or "
                                 "truncated (or was encoded with another model)")
        if not kind.uses_model and zlib.crc32(body) != crc:
            raise ContainerError("inrcodec chunk failed its checksum: corrupted or truncated")

        dtype = np.dtype(DTYPES[type_byte & 15]).newbyteorder(">" if layout >> 7 else "<")
        ndim = layout & 7
        shape = tuple(reader.varint() for _ in range(ndim))
        if np.prod(shape, dtype=np.float64) * dtype.itemsize > MAX_BYTES:
            raise ContainerError(f"inrcodec chunk claims an impossible shape {shape}")
        fields = dict(dtype=dtype, shape=shape, fortran_order=bool(layout >> 3 & 1), kind=kind,
                      gated=gated)
        if kind.uses_model:
            fields["latent_bits"] = type_byte >> 4
            scale_code = reader.svarint()
            fields["normalisation"] = Normalisation(reader.svarint(), scale_code)
        if gated:
            fields["latent_fraction"] = reader.byte()
            if fields["latent_fraction"] >= FRACTIONS:
                raise ContainerError("corrupted inrcodec chunk: bad latent resolution")
        if kind == Kind.BOUNDED:
            fields["max_error"] = float(np.frombuffer(reader.take(8), "<f8")[0])
            if not fields["max_error"] > 0:  # also refuses NaN
                raise ContainerError("corrupted inrcodec chunk: error bound is not positive")
        elif kind == Kind.CONSTANT:
            fields["constant"] = reader.take(dtype.itemsize)
        if layout >> 6 & 1:
            fields["mask"] = reader.take(reader.varint())
        if kind == Kind.BOUNDED:
            fields["payload"] = reader.take(reader.varint())
            fields["residuals"] = reader.rest()
        else:
            fields["payload"] = reader.rest()
            if not kind.uses_model and fields["payload"]:
                raise ContainerError("corrupted inrcodec chunk: unexpected trailing bytes")
        return cls(**fields)


def _little_endian() -> bool:
    return np.little_endian


def _model_tag(model_hash: str) -> int:
    return int(model_hash[:2], 16)


def svarint(n: int) -> bytes:
    """A signed integer as a zigzag-mapped varint."""
    return varint(2 * n if n >= 0 else -2 * n - 1)


def varint(n: int) -> bytes:
    """A non-negative integer as LEB128."""
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


class Reader:
    """Reads fields off the header, refusing to run past its end."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ContainerError("truncated inrcodec chunk")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        value = 0
        for shift in range(0, 70, 7):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
        raise ContainerError("corrupted inrcodec chunk: overlong integer")

    def svarint(self) -> int:
        n = self.varint()
        return n // 2 if n % 2 == 0 else -(n + 1) // 2

    def rest(self) -> bytes:
        return self.data[self.pos:]
