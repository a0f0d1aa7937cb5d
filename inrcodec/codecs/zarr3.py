"""INRSerializer: inrcodec as a Zarr format 3 array -> bytes codec (a serializer).

It shares everything with the numcodecs codec: the same settings, the same model, the same
bitstream. Like zarr's own wrapper of numcodecs codecs, it holds one thing, the codec config,
and builds the inner codec from it once, when first used. Zarr finds it through the
``zarr.codecs`` entry point under the name written to ``zarr.json``, so a store opens in a fresh
process with nothing but the package installed.
"""

import asyncio
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import parse_named_configuration

from ..coding.bytes import ContainerError
from .numcodecs import INRCodec

NAME = "inrcodec"


@dataclass(frozen=True)
class INRSerializer(ArrayBytesCodec):
    """Zarr v3 serializer; use with ``compressors=None`` (the output is already entropy-coded).

    Takes the same settings as :class:`inrcodec.INRCodec`.
    """

    is_fixed_size = False

    codec_config: dict

    def __init__(self, model="linear-2d", **settings):
        config = INRCodec(model, **settings).get_config()
        del config["id"]
        object.__setattr__(self, "codec_config", config)

    @classmethod
    def from_dict(cls, data: dict) -> "INRSerializer":
        _, configuration = parse_named_configuration(data, NAME)
        serializer = cls.__new__(cls)
        object.__setattr__(serializer, "codec_config", dict(configuration))
        serializer.codec  # noqa: B018 - checks the settings now; the model loads when first used
        return serializer

    def to_dict(self) -> dict:
        return {"name": NAME, "configuration": dict(self.codec_config)}

    @cached_property
    def codec(self) -> INRCodec:
        return INRCodec.from_config(self.codec_config)

    def __getattr__(self, name):  # what INRCodec has: mode, model, latent_bits, ...
        if name.startswith("_") or name in ("codec", "codec_config"):
            raise AttributeError(name)
        return getattr(self.codec, name)

    def __hash__(self) -> int:
        return hash(self.codec_config["model_hash"])

    def validate(self, *, shape, dtype, chunk_grid) -> None:
        native = np.dtype(dtype.to_native_dtype())
        if native.kind not in "fiu" or native.kind + str(native.itemsize) == "f16":
            raise TypeError(f"inrcodec stores float16/32/64 and integer arrays, not {native}")
        if len(shape) < self.codec.model.ndim:
            raise ValueError(f"inrcodec's model fits {self.codec.model.ndim}-D patches; this "
                             f"array has {len(shape)} dimensions"
                             + (f": use a model of at most {len(shape)}" if shape else "")
                             + " (or store it without inrcodec, losslessly, as inrcodec "
                             "compress does)")

    def _encode_sync(self, chunk_array, chunk_spec):
        return chunk_spec.prototype.buffer.from_bytes(
            self.codec.encode(chunk_array.as_numpy_array()))

    def _decode_sync(self, chunk_bytes, chunk_spec):
        from ..core import decode

        codec = self.codec  # the shape is checked before the chunk is decoded (core.decode)
        decoded = decode(chunk_bytes.to_bytes(), codec.model_hash, lambda: codec.model,
                         tuple(chunk_spec.shape))
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
