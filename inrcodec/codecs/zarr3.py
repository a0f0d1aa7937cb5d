"""INRSerializer: inrcodec as a Zarr format 3 array -> bytes codec (a serializer).

It shares everything with the numcodecs codec: the same settings, the same embedded model, the
same bitstream. Zarr finds it through the ``zarr.codecs`` entry point under the name written to
``zarr.json``, so a store opens in a fresh process with nothing but the package installed.
"""

import asyncio
from dataclasses import dataclass, field

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import parse_named_configuration

from ..coding.container import ContainerError
from .numcodecs import INRCodec

NAME = "inrcodec"


@dataclass(frozen=True)
class INRSerializer(ArrayBytesCodec):
    """Zarr v3 serializer; use with ``compressors=None`` (the output is already entropy-coded).

    Takes the same settings as :class:`inrcodec.INRCodec`.
    """

    is_fixed_size = False

    model_hash: str
    latent_bits: float
    inner_steps: int
    max_error: float | None
    relative_error: float | None
    bits_per_value: float | None
    embed_model: bool
    codec: INRCodec = field(compare=False, repr=False)

    def __init__(self, model="default-2d", latent_bits: float = 6.5, inner_steps: int = 3,
                 max_error: float | None = None, relative_error: float | None = None,
                 bits_per_value: float | None = None, embed_model: bool = True,
                 model_hash: str | None = None, model_data: str | None = None):
        codec = INRCodec(model, latent_bits=latent_bits, inner_steps=inner_steps,
                         max_error=max_error, relative_error=relative_error,
                         bits_per_value=bits_per_value, embed_model=embed_model,
                         model_hash=model_hash, model_data=model_data)
        for name, value in [("codec", codec), ("model_hash", codec.model.hash),
                            ("latent_bits", latent_bits), ("inner_steps", inner_steps),
                            ("max_error", max_error), ("relative_error", relative_error),
                            ("bits_per_value", bits_per_value), ("embed_model", embed_model)]:
            object.__setattr__(self, name, value)

    @classmethod
    def from_dict(cls, data: dict) -> "INRSerializer":
        _, configuration = parse_named_configuration(data, NAME)
        return cls(**configuration)

    def to_dict(self) -> dict:
        configuration = self.codec.get_config()
        del configuration["id"]
        return {"name": NAME, "configuration": configuration}

    def validate(self, *, shape, dtype, chunk_grid) -> None:
        native = np.dtype(dtype.to_native_dtype())
        if native.kind not in "fiu" or native.kind + str(native.itemsize) == "f16":
            raise TypeError(f"inrcodec stores float16/32/64 and integer arrays, not {native}")
        if len(shape) < self.codec.model.ndim:
            raise ValueError(f"inrcodec's model fits {self.codec.model.ndim}-D patches; this "
                             f"array has {len(shape)} dimensions: use a model of at most "
                             f"{len(shape)}")

    def _encode_sync(self, chunk_array, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(
            self.codec.encode(chunk_array.as_numpy_array()))

    def _decode_sync(self, chunk_bytes, chunk_spec):
        decoded = self.codec.decode(chunk_bytes.to_bytes())
        expected = np.dtype(chunk_spec.dtype.to_native_dtype())
        if decoded.dtype.newbyteorder("=") == expected.newbyteorder("="):
            decoded = decoded.astype(expected, copy=False)  # zarr may ask for another byte order
        if decoded.shape != tuple(chunk_spec.shape) or decoded.dtype != expected:
            raise ContainerError(f"inrcodec chunk holds {decoded.dtype} {decoded.shape}, but the "
                                 f"array expects {expected} {tuple(chunk_spec.shape)}")
        return chunk_spec.prototype.nd_buffer.from_numpy_array(decoded)

    async def _encode_single(self, chunk_array, chunk_spec):
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)

    def compute_encoded_size(self, input_byte_length: int, chunk_spec) -> int:
        raise NotImplementedError("inrcodec's output size depends on the data")
