"""Reading chunks of format versions 1 and 2, which are never written any more.

Layout (little-endian, varints are LEB128, signed ones zigzag-mapped)::

    magic "IC" | version u8 (1 or 2) | model tag u8 (first byte of the model's sha256)
    u8: dtype code (low 4 bits) | latent bits (high 4 bits, 0 for CONSTANT and EMPTY)
    u8: ndim (bits 0-2) | Fortran order (bit 3) | kind (bits 4-5) | has mask (bit 6)
        | big-endian dtype (bit 7)
    ndim varints: the shape
    kind LATENTS, BOUNDED: svarint scale code, svarint offset code
    version 2 only (gated LATENTS): u8 sixteenths of a bit of extra latent resolution
    then as versions 3-6 (layout.read_body): bound or constant, mask, latents, section, crc32

Version 1 range-coded plain latents as 32-bit little-endian words with trailing zero bytes
dropped; version 2 chunks are gated latents, coded as version 3 codes them. Neither had
headroom in the latents' alphabet (quantize.py).
"""

from .bytes import ContainerError, Reader
from .kinds import Kind
from .layout import check, read_body, read_layout
from .normalise import Normalisation
from .quantize import FRACTIONS

GATED = 2  # the version that added gated latents (size-budget mode)


def read_legacy(data: bytes, model_hash: str) -> dict:
    """The ``Container`` fields of a chunk of version 1 or 2."""
    if len(data) < 10:
        raise ContainerError("not an inrcodec chunk (too short)")
    if not 1 <= data[2] <= GATED:
        raise ContainerError(f"corrupted inrcodec chunk: version {data[2]} after the magic "
                             "bytes of versions 1 and 2")
    reader = Reader(data[:-4], 4)
    type_byte, layout = reader.byte(), reader.byte()
    kind = check(data, model_hash, type_byte, layout >> 4 & 3)
    gated = data[2] == GATED
    if gated and kind != Kind.LATENTS:
        raise ContainerError(f"corrupted inrcodec chunk: gated latents in a chunk of kind "
                             f"{kind.name}")
    # The quirks below become fields, so that nothing past this module reads a version.
    fields = dict(latent_headroom=0, little_endian_words=data[2] == 1, gated=gated,
                  zlib_mask=True,
                  **read_layout(reader, type_byte & 15, layout >> 7, layout & 7, layout >> 3 & 1,
                                kind))
    if kind.uses_model:
        fields["latent_bits"] = type_byte >> 4
        scale_code = reader.svarint()
        fields["normalisation"] = Normalisation(reader.svarint(), scale_code)
    if gated:
        fields["latent_fraction"] = reader.byte()
        if fields["latent_fraction"] >= FRACTIONS:
            raise ContainerError("corrupted inrcodec chunk: bad latent resolution")
    return dict(**fields, **read_body(reader, kind, fields["dtype"], layout >> 6 & 1))
