"""The bitstream of one chunk: a few header bytes, the coded content, and a checksum.

Layout of format version 6, the one written (little-endian, varints are LEB128, signed ones
zigzag-mapped)::

    u8: 0xC0 | version (6): "a compact inrcodec chunk" and its version in one byte
    u8: model tag (first byte of the model's sha256)
    u8: dtype code (bits 0-3) | kind, low 2 bits (bits 4-5) | has mask (bit 6)
        | big-endian dtype (bit 7)
    u8: ndim (bits 0-2) | Fortran order (bit 3) | gated latents (bit 4) | kind, bit 2 (bit 5)
        | kind, bit 3 (bit 6)
    ndim varints: the shape
    kinds with latents: u8 resolution: latent bits (bits 0-3) | sixteenths of a bit
        (bits 4-7, see quantize.py); svarint scale code, svarint offset code (normalise.py)
    kinds with a bound: the bound, float64 (absolute; for RELATIVE, the pointwise fraction)
    kind CONSTANT: the value, itemsize bytes in the dtype's byte order
    kind EMPTY:    nothing (every value is NaN)
    if has mask: varint length, then the NaN mask (coding/bilevel.py)
    kind LATENTS:  the range-coded latents, to the end
    kind WAVELET:  the wavelet section (coding/wavelet.py), to the end
    kinds with latents and a bound, and LATENTS_WAVELET: varint length, the range-coded
        latents, then the residuals (the mode's own section, see modes/; LATENTS_WAVELET's is a
        wavelet section) to the end
    kinds with a bound only: the mode's section, to the end
    kind RAW: the values, exactly as given, to the end
    crc32 u32 of everything before it, preceded (for kinds with latents) by the model's sha256

The range-coded latents are the coder's 32-bit words, big-endian, cut to the byte (entropy.py);
gated ones say which latent dimensions each patch kept (``entropy.encode_gated``).

Version 3 is version 4 with kinds 0-3 only (bit 5 of the layout byte always 0); version 4
added RAW, SPATIAL, BOUNDED_SPATIAL and RELATIVE, so a reader of version 3 refuses them;
version 5 added WAVELET and LATENTS_WAVELET (bit 6), which a reader of version 4 refuses as
an unknown flag. Versions 1-5 coded the mask as zlib-compressed packed bits (mask.py); version 6
codes it by hierarchical refinement with adaptive contexts (bilevel.py), in fewer bytes
(docs/wavelet.md).
Versions 1 and 2 (read by legacy.py, never written any more) began with the magic bytes "IC"
and a version byte, kept the latent bits in the dtype byte, padded plain latents to whole
32-bit little-endian words, and (version 2, size-budget chunks only) added the resolution
byte; legacy.py turns those quirks into ``Container`` fields, so nothing past it reads a
version.

Chunks are tiny (tens of bytes), so every field is as short as it can be. The checksum is checked
before anything is decoded; it covers the model hash, so a chunk decoded with another model is
refused rather than turned into wrong values.
"""

import enum
import zlib
from dataclasses import dataclass

import numpy as np

from .bytes import ContainerError, Reader, svarint, varint
from .normalise import Normalisation
from .quantize import HEADROOM, MAX_BITS, MIN_BITS

VERSION = 6  # the version written, and the newest read
BILEVEL_MASKS = 6  # the first version whose masks are bilevel.py's
OLDEST_COMPACT = 3  # the first version with this layout
MARKER = 0xC0  # high nibble of a compact (version 3+) chunk's first byte
MAX_NDIM = 7
MAX_BYTES = 2 ** 31  # a chunk claiming more is corrupt (or crafted): never allocated

DTYPES = ["f2", "f4", "f8", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8"]


class ModelMismatchError(ContainerError):
    """A chunk encoded with another model than the one given to decode it."""


class Kind(enum.IntEnum):
    LATENTS = 0  # the network's reconstruction
    CONSTANT = 1
    EMPTY = 2
    BOUNDED = 3  # latents plus residuals that keep every value within an absolute bound
    RAW = 4  # the values themselves: when nothing else is smaller
    SPATIAL = 5  # an absolute bound from spatial prediction alone (no network)
    BOUNDED_SPATIAL = 6  # latents plus spatially predicted residuals, within an absolute bound
    RELATIVE = 7  # a pointwise relative bound, |x - y| <= bound * |x|
    WAVELET = 8  # a PSNR floor by transform coding alone (no network)
    LATENTS_WAVELET = 9  # latents plus their residual by transform coding, for a PSNR floor

    @property
    def uses_model(self) -> bool:
        return self in (Kind.LATENTS, Kind.BOUNDED, Kind.BOUNDED_SPATIAL, Kind.LATENTS_WAVELET)

    @property
    def has_residuals(self) -> bool:
        """Whether a mode's own section follows (after the latents, for kinds with both)."""
        return self.has_bound or self == Kind.LATENTS_WAVELET

    @property
    def has_bound(self) -> bool:
        return self in (Kind.BOUNDED, Kind.SPATIAL, Kind.BOUNDED_SPATIAL, Kind.RELATIVE)


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
    payload: bytes = b""  # the coded latents, or (RAW) the values
    max_error: float = 0.0  # the bound, for kinds that have one
    residuals: bytes = b""  # the section of a bounded kind's mode
    gated: bool = False  # the payload says which latents each patch kept
    latent_fraction: int = 0  # sixteenths of a bit of extra latent resolution
    # Quirks of versions 1-2, set by legacy.py: their latents' alphabet had no headroom, and
    # version 1 coded plain latents as little-endian words.
    latent_headroom: int = HEADROOM
    little_endian_words: bool = False
    zlib_mask: bool = False  # versions 1-5: the mask is mask.py's zlib-coded packed bits

    def to_bytes(self, model_hash: str) -> bytes:
        dtype = np.dtype(self.dtype)
        big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not _little_endian())
        out = bytearray([MARKER | VERSION, _model_tag(model_hash),
                         DTYPES.index(dtype.kind + str(dtype.itemsize)) | (self.kind & 3) << 4
                         | (self.mask is not None) << 6 | big << 7,
                         len(self.shape) | self.fortran_order << 3 | self.gated << 4
                         | (self.kind >> 2 & 1) << 5 | self.kind >> 3 << 6])
        for n in self.shape:
            out += varint(n)
        if self.kind.uses_model:
            out.append(self.latent_bits | self.latent_fraction << 4)
            out += svarint(self.normalisation.scale_code)
            out += svarint(self.normalisation.offset_code)
        out += self._body()
        return _with_checksum(out, model_hash, self.kind)

    def _body(self) -> bytes:
        """What follows the normalisation: the same in every version."""
        out = bytearray()
        if self.kind.has_bound:
            out += np.float64(self.max_error).astype("<f8").tobytes()
        elif self.kind == Kind.CONSTANT:
            out += self.constant
        if self.mask is not None:
            out += varint(len(self.mask)) + self.mask
        if self.kind.uses_model and self.kind.has_residuals:
            out += varint(len(self.payload)) + self.payload
        return bytes(out + (self.residuals if self.kind.has_residuals else self.payload))

    @classmethod
    def from_bytes(cls, data: bytes, model_hash: str) -> "Container":
        data = bytes(data)
        if data[:2] == b"IC":
            from .legacy import read_legacy  # versions 1 and 2

            return read_legacy(data, model_hash)
        if len(data) < 8 or data[0] & 0xF0 != MARKER:
            raise ContainerError("not an inrcodec chunk (bad first byte or too short)")
        version = data[0] & 0x0F
        if not OLDEST_COMPACT <= version <= VERSION:
            raise ContainerError(f"inrcodec chunk of format version {version}; this "
                                 f"inrcodec reads versions 1 to {VERSION}: upgrade inrcodec")
        reader = Reader(data[:-4], 2)
        type_byte, layout = reader.byte(), reader.byte()
        code = kind_code(type_byte, layout)
        if layout >> (7 if version >= 5 else 6 if version >= 4 else 5):
            raise ContainerError("corrupted inrcodec chunk: unknown layout flags")
        kind = check(data, model_hash, type_byte, code)
        gated = bool(layout >> 4 & 1)
        if gated and kind != Kind.LATENTS:
            raise ContainerError("corrupted inrcodec chunk: gated latents in a chunk of kind "
                                 f"{kind.name}")
        fields = dict(gated=gated, **read_layout(reader, type_byte & 15, type_byte >> 7,
                                                 layout & 7, layout >> 3 & 1, kind))
        if kind.uses_model:
            resolution = reader.byte()
            fields["latent_bits"], fields["latent_fraction"] = resolution & 15, resolution >> 4
            if not MIN_BITS <= fields["latent_bits"] <= MAX_BITS:
                raise ContainerError("corrupted inrcodec chunk: bad latent resolution")
            scale_code = reader.svarint()
            fields["normalisation"] = Normalisation(reader.svarint(), scale_code)
        return cls(**fields, **read_body(reader, kind, fields["dtype"], type_byte >> 6 & 1),
                   zlib_mask=version < BILEVEL_MASKS)


def kind_code(type_byte: int, layout: int) -> int:
    """A compact chunk's kind number, from its third and fourth bytes (bits 0-1 in bits 4-5 of
    the first, bits 2-3 in bits 5-6 of the second)."""
    return type_byte >> 4 & 3 | (layout >> 5 & 3) << 2


def _with_checksum(out: bytearray, model_hash: str, kind: Kind) -> bytes:
    checked = bytes.fromhex(model_hash) + out if kind.uses_model else out
    return bytes(out + zlib.crc32(checked).to_bytes(4, "little"))


def check(data: bytes, model_hash: str, type_byte: int, kind_code: int) -> Kind:
    """The chunk's kind, once its checksum (over the model hash too) has been verified."""
    if (type_byte & 15) >= len(DTYPES) or kind_code > max(Kind):
        raise ContainerError("corrupted inrcodec chunk: unknown dtype or kind")
    kind = Kind(kind_code)
    body, crc = data[:-4], int.from_bytes(data[-4:], "little")
    if kind.uses_model and zlib.crc32(bytes.fromhex(model_hash) + body) != crc:
        tag = data[1] if data[0] & 0xF0 == MARKER else data[3]
        if tag != _model_tag(model_hash):
            raise ModelMismatchError(
                f"chunk was encoded with another model (tag {tag:02x}) than this "
                f"codec's model {model_hash[:12]}: open the store with the codec it was "
                "written with")
        raise ContainerError("inrcodec chunk failed its checksum: it is corrupted or "
                             "truncated (or was encoded with another model)")
    if not kind.uses_model and zlib.crc32(body) != crc:
        raise ContainerError("inrcodec chunk failed its checksum: corrupted or truncated")
    return kind


def read_layout(reader: Reader, dtype_code: int, big: int, ndim: int, fortran: int,
                kind: Kind) -> dict:
    """dtype, shape (read here), order and kind, as every version defines them."""
    dtype = np.dtype(DTYPES[dtype_code]).newbyteorder(">" if big else "<")
    shape = tuple(reader.varint() for _ in range(ndim))
    if np.prod(shape, dtype=np.float64) * dtype.itemsize > MAX_BYTES:
        raise ContainerError(f"inrcodec chunk claims an impossible shape {shape}")
    return dict(dtype=dtype, shape=shape, fortran_order=bool(fortran), kind=kind)


def read_body(reader: Reader, kind: Kind, dtype: np.dtype, has_mask: int) -> dict:
    """The fields ``Container._body`` wrote."""
    fields = {}
    if kind.has_bound:
        fields["max_error"] = float(np.frombuffer(reader.take(8), "<f8")[0])
        if not 0 < fields["max_error"] < np.inf:  # also refuses NaN
            raise ContainerError("corrupted inrcodec chunk: error bound is not positive")
    elif kind == Kind.CONSTANT:
        fields["constant"] = reader.take(dtype.itemsize)
    if has_mask:
        fields["mask"] = reader.take(reader.varint())
    if kind.uses_model and kind.has_residuals:
        fields["payload"] = reader.take(reader.varint())
    if kind.has_residuals:
        fields["residuals"] = reader.rest()
    else:
        fields["payload"] = reader.rest()
        if kind in (Kind.CONSTANT, Kind.EMPTY) and fields["payload"]:
            raise ContainerError("corrupted inrcodec chunk: unexpected trailing bytes")
    return fields


def _little_endian() -> bool:
    return np.little_endian


def _model_tag(model_hash: str) -> int:
    return int(model_hash[:2], 16)
