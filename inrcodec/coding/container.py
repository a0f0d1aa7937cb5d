"""The bitstream of one chunk: a few header bytes, the coded content, and a checksum.

Layout of format version 7, the one written (little-endian, varints are LEB128, signed ones
zigzag-mapped)::

    u8: 0xC0 | version (7): "a compact inrcodec chunk" and its version in one byte
    u8: model tag (first byte of the model's sha256)
    u8: dtype code (bits 0-3) | kind, low 2 bits (bits 4-5) | has mask (bit 6)
        | big-endian dtype (bit 7)
    u8: ndim (bits 0-2) | Fortran order (bit 3) | gated latents (bit 4) | kind, bit 2 (bit 5)
        | kind, bit 3 (bit 6) | padded (bit 7, version 7)
    ndim varints: the shape
    kinds with latents: u8 resolution: latent bits (bits 0-3) | sixteenths of a bit
        (bits 4-7, see quantize.py); svarint scale code, svarint offset code (normalise.py)
    kinds with a bound: the bound, float64 (absolute, or for RELATIVE the pointwise fraction)
    kind CONSTANT: the value, itemsize bytes in the dtype's byte order
    kind EMPTY:    nothing (every value is NaN)
    if has mask: varint length, then the NaN mask (coding/bilevel.py)
    kinds with latents and a section (kinds.py): varint length, the range-coded latents,
        then the section, to the end
    kind LATENTS: the range-coded latents, to the end
    every other kind: its section (kinds.py says what it holds, sections/ how), to the end;
        RAW's is the values exactly as given; CONSTANT and EMPTY have none
    if padded: n zero bytes, then n as u32 (version 7: see ``least_bytes``)
    crc32 u32 of everything before it, preceded (for kinds with latents) by the model's sha256

The range-coded latents are the coder's 32-bit words, big-endian, cut to the byte (entropy.py);
gated ones say which latent dimensions each patch kept (``entropy.encode_gated``).

Version 3 is version 4 with kinds 0-3 only (bit 5 of the layout byte always 0); version 4
added RAW, SPATIAL, BOUNDED_SPATIAL and RELATIVE, so a reader of version 3 refuses them;
version 5 added WAVELET and LATENTS_WAVELET (bit 6), which a reader of version 4 refuses as
an unknown flag. Versions 1-5 coded the mask as zlib-compressed packed bits (mask.py); version 6
codes it by hierarchical refinement with adaptive contexts (bilevel.py), in fewer bytes
(docs/wavelet.md). Version 7 lets the interpolation and wavelet sections name batch axes, along
which nothing is predicted or transformed (coding/batch.py; flag bit 6 and a byte in the
interpolation section, bits 4-7 of the wavelet section's first byte): a reader of version 6
refuses them as unknown flags, and every version-6 section is a version-7 one without them.
Version 7 also bounds a reader's work by the bytes it was given: a coded chunk holds at least
one byte per ``VALUES_PER_BYTE`` values (per ``NETWORK_VALUES_PER_BYTE`` for kinds that run the
network), padded with zeros where its content is shorter (``least_bytes``), and a reader refuses
one that claims more values than its bytes allow before decoding anything.
Versions 1 and 2 (read by legacy.py, never written any more) began with the magic bytes "IC"
and a version byte, kept the latent bits in the dtype byte, padded plain latents to whole
32-bit little-endian words, and (version 2, size-budget chunks only) added the resolution
byte; legacy.py turns those quirks into ``Container`` fields, so nothing past it reads a
version.

Chunks are tiny (tens of bytes), so every field is as short as it can be. The checksum is checked
before anything is decoded; it covers the model hash, so a chunk decoded with another model is
refused rather than turned into wrong values.
"""

import math
from dataclasses import dataclass

import numpy as np

from .bytes import ContainerError, Reader, svarint, varint
from .kinds import LAST_KIND, Kind
from .layout import (
    DTYPES,
    MARKER,
    MAX_BYTES,
    MAX_NDIM,
    ModelMismatchError,
    check,
    checksum,
    model_tag,
    read_body,
    read_layout,
)
from .legacy import read_legacy
from .normalise import Normalisation
from .quantize import HEADROOM, MAX_BITS, MIN_BITS

__all__ = ["DTYPES", "MAX_BYTES", "MAX_NDIM", "Container", "ContainerError", "Kind",
           "ModelMismatchError", "VERSION", "least_bytes"]

VERSION = 7  # the version written, and the newest read
PADDED = 7  # the first version that may pad a chunk, and bounds its values by its bytes
# The most values a chunk of a coded kind (or with a mask) may claim per stored byte (version 7
# on): a damaged version-7 chunk of 20 bytes cannot make its reader decode more than about a
# million values (classic kinds, ~0.1 s) or a few patches (the network's, ~25,000 FLOPs a
# value). Older versions are read as they were written (a chunk labelled version 6 escapes the
# rule: the Zarr v3 serializer's shape check still holds it to its array's chunks). The
# densest real chunks measured took 36,000 values a byte (a spike in 10^6 zeros at a 30 dB
# floor) and 90 (the network's latents); the rare denser one is padded.
VALUES_PER_BYTE = 1 << 16
NETWORK_VALUES_PER_BYTE = 1 << 10
BILEVEL_MASKS = 6  # the first version whose masks are bilevel.py's
OLDEST_COMPACT = 3  # the first version with this layout


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
    latents: bytes = b""  # the range-coded latents, for kinds that use the model
    section: bytes = b""  # what the kind's coder wrote (kinds.py); RAW: the values
    bound: float = 0.0  # for kinds with a bound: absolute, or RELATIVE's pointwise fraction
    gated: bool = False  # the latents say which latent dimensions each patch kept
    latent_fraction: int = 0  # sixteenths of a bit of extra latent resolution
    # Quirks of versions 1-2, set by legacy.py: their latents' alphabet had no headroom, and
    # version 1 coded plain latents as little-endian words.
    latent_headroom: int = HEADROOM
    little_endian_words: bool = False
    zlib_mask: bool = False  # versions 1-5: the mask is mask.py's zlib-coded packed bits

    def to_bytes(self, model_hash: str, at_least: int = 0) -> bytes:
        """The chunk's bytes, padded with zeros to ``at_least`` where shorter."""
        dtype = np.dtype(self.dtype)
        big = dtype.byteorder == ">" or (dtype.byteorder == "=" and not np.little_endian)
        out = bytearray([MARKER | VERSION, model_tag(model_hash),
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
        out += self.body()
        if len(out) + 4 < at_least:
            pad = at_least - len(out) - 8
            out[3] |= 0x80
            out += bytes(max(pad, 0)) + max(pad, 0).to_bytes(4, "little")
        return bytes(out + checksum(bytes(out), model_hash, self.kind).to_bytes(4, "little"))

    def body(self) -> bytes:
        """What follows the normalisation: the same in every version (``layout.read_body``)."""
        out = bytearray()
        if self.kind.has_bound:
            out += np.float64(self.bound).astype("<f8").tobytes()
        elif self.kind == Kind.CONSTANT:
            out += self.constant
        if self.mask is not None:
            out += varint(len(self.mask)) + self.mask
        if self.kind.uses_model and self.kind.spec.section:
            out += varint(len(self.latents)) + self.latents
        return bytes(out + (self.latents if self.kind.uses_model and not self.kind.spec.section
                            else self.section))

    @classmethod
    def from_bytes(cls, data: bytes, model_hash: str) -> "Container":
        data = bytes(data)
        if data[:2] == b"IC":
            return cls(**read_legacy(data, model_hash))  # versions 1 and 2
        if len(data) < 8 or data[0] & 0xF0 != MARKER:
            raise ContainerError("not an inrcodec chunk (bad first byte or too short)")
        version = data[0] & 0x0F
        if not OLDEST_COMPACT <= version <= VERSION:
            raise ContainerError(f"inrcodec chunk of format version {version}; this "
                                 f"inrcodec reads versions 1 to {VERSION}: upgrade inrcodec")
        reader = Reader(data[:-4], 2)
        type_byte, layout = reader.byte(), reader.byte()
        code = kind_code(type_byte, layout)
        if layout >> (8 if version >= PADDED else 7 if version >= 5 else 6 if version >= 4 else 5):
            raise ContainerError("corrupted inrcodec chunk: unknown layout flags")
        kind = check(data, model_hash, type_byte, code)
        if layout >> 7:
            reader = Reader(_unpadded(data[:-4]), 4)
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
        masked = type_byte >> 6 & 1
        if version >= PADDED and len(data) < least_bytes(kind, size := math.prod(fields["shape"]),
                                                         masked):
            raise ContainerError(f"corrupted inrcodec chunk: claims {size} values in {len(data)} "
                                 "bytes, more than a chunk of its kind holds")
        return cls(**fields, **read_body(reader, kind, fields["dtype"], masked),
                   zlib_mask=version < BILEVEL_MASKS)


def _unpadded(data: bytes) -> bytes:
    """A padded chunk's bytes (its checksum off) without the padding."""
    if len(data) < 8:
        raise ContainerError("corrupted inrcodec chunk: padded, but too short")
    pad = int.from_bytes(data[-4:], "little")
    if pad > len(data) - 8 or any(data[len(data) - 4 - pad:-4]):
        raise ContainerError("corrupted inrcodec chunk: bad padding")
    return data[:len(data) - 4 - pad]


def least_bytes(kind: Kind, size: int, masked: bool) -> int:
    """The fewest bytes a version-7 chunk of ``kind`` holding ``size`` values may take."""
    if kind in (Kind.EMPTY, Kind.CONSTANT, Kind.RAW) and not masked:
        return 0  # nothing to decode: filling the array is the reader's work
    per_byte = NETWORK_VALUES_PER_BYTE if kind.uses_model else VALUES_PER_BYTE
    return -(-size // per_byte)


def peek_kind(header: bytes) -> Kind | None:
    """The kind of a chunk from its first bytes, unchecked; None for bytes that are no inrcodec
    chunk (another codec's, a shard) or name no kind."""
    header = bytes(header)
    if header[:2] == b"IC" and len(header) >= 6:  # versions 1 and 2: kind in bits 4-5 of byte 5
        code = header[5] >> 4 & 3
    elif len(header) >= 4 and header[0] & 0xF0 == MARKER and OLDEST_COMPACT <= header[0] & 15 <= VERSION:
        code = kind_code(header[2], header[3])
    else:
        return None
    return Kind(code) if code <= LAST_KIND else None


def kind_code(type_byte: int, layout: int) -> int:
    """A compact chunk's kind number, from its third and fourth bytes (bits 0-1 in bits 4-5 of
    the first, bits 2-3 in bits 5-6 of the second)."""
    return type_byte >> 4 & 3 | (layout >> 5 & 3) << 2
