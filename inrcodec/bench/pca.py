"""The linear control: an EOF (PCA) basis in place of the network, coded like inrcodec.

The basis is fitted on the dataset's train chunks, each normalised exactly as the codec normalises
a chunk (NaNs set to the chunk mean, i.e. 0 after normalising). A chunk is stored as its
normalisation codes and NaN mask in a 15-byte header (inrcodec's for a 1 x 37 x 49 chunk), the mask,
and its coefficients quantized with inrcodec's ``LatentQuantizer`` (statistics from the train
coefficients, rounded by ``rate_distortion_symbols``) and range-coded with inrcodec's
``encode_symbols``. A learned codec has to beat it.
"""

import struct
from dataclasses import dataclass

import numpy as np

from ..coding import bilevel
from ..coding.entropy import decode_symbols, encode_symbols, rate_distortion_symbols
from ..coding.normalise import Normalisation
from ..coding.quantize import LatentQuantizer
from ..train import normalised
from .peers import Contender, cast_back

HEADER = struct.Struct("<qhIx")  # offset code, scale code, mask length: 15 bytes
MIN_TRAIN_CHUNKS = 32  # fewer chunks give too few EOFs to mean anything
COMPONENTS = {False: (16, 32, 64), True: (16,)}  # by quick
BITS = {False: (4, 5, 6, 7, 8), True: (6,)}


@dataclass(frozen=True, eq=False)
class Basis:
    mean: np.ndarray  # (values,) mean normalised train chunk
    eofs: np.ndarray  # (components, values), leading first
    train_coefficients: np.ndarray  # (train chunks, components)

    @classmethod
    def fit(cls, train: list[np.ndarray]) -> "Basis":
        flat = np.stack([normalised(c)[0].ravel() for c in train])
        mean = flat.mean(0)
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
        return cls(mean, vt, (flat - mean) @ vt.T)


class PCAControl:
    def __init__(self, basis: Basis, components: int, bits: float):
        """``bits``: the coefficients' resolution, a multiple of 1/16 as inrcodec's latent bits."""
        self.mean, self.eofs = basis.mean, basis.eofs[:components]
        coefficients = basis.train_coefficients[:, :components]
        whole, sixteenths = LatentQuantizer.resolution(bits)
        # The EOFs are orthonormal, so squared coefficient errors add up to the field's: an
        # identity basis gives the control inrcodec's entropy-constrained rounding too.
        self.quantizer = LatentQuantizer(coefficients.mean(0).astype(np.float32),
                                         coefficients.std(0).astype(np.float32), whole, sixteenths,
                                         basis=np.eye(components, dtype=np.float32))

    def encode(self, chunk: np.ndarray) -> bytes:
        values, norm, finite = normalised(chunk)
        flat = values.ravel()
        symbols = rate_distortion_symbols(((flat - self.mean) @ self.eofs.T)[None], self.quantizer)
        mask = b"" if finite.all() else bilevel.encode(~finite)
        return (HEADER.pack(norm.offset_code, norm.scale_code, len(mask)) + mask
                + encode_symbols(symbols, self.quantizer))

    def decode(self, data: bytes, shape: tuple, dtype: np.dtype) -> np.ndarray:
        offset_code, scale_code, mask_length = HEADER.unpack_from(data)
        start = HEADER.size + mask_length
        symbols = decode_symbols(data[start:], 1, self.quantizer)
        flat = self.quantizer.dequantize(symbols)[0].astype(np.float64) @ self.eofs + self.mean
        values = cast_back(Normalisation(offset_code, scale_code).invert(flat).reshape(shape), dtype)
        if mask_length:
            values[bilevel.decode(data[HEADER.size:start], values.shape)] = np.nan
        return values


def contenders(train: list[np.ndarray], quick: bool) -> list[Contender]:
    """The control at several basis sizes and bit depths; none without enough train chunks of
    one shape."""
    if len(train) < MIN_TRAIN_CHUNKS or len({c.shape for c in train}) != 1:
        return []
    basis = Basis.fit(train)
    out = []
    for k in COMPONENTS[quick]:
        if k >= len(train):
            continue
        for b in BITS[quick]:
            control = PCAControl(basis, k, b)
            out.append(Contender("PCA control", f"EOFs={k}, bits={b}", control.encode,
                                 control.decode, params={"components": k, "bits": b}))
    return out
