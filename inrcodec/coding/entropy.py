"""Entropy coding of quantized latents with constriction's range coder.

Each latent dimension has its own probability table: a logistic distribution (close to a
Gaussian, with heavier tails) of the dimension's spread, discretized on the quantizer's grid.
The tables are computed with basic IEEE arithmetic only (+, -, *, /), so the encoder and a
decoder on any other machine build bit-identical tables; a libm exp() could differ in its last
bit and silently derail the decoder.
"""

import math
from functools import lru_cache

import constriction
import numpy as np

from .quantize import LatentQuantizer

_LN2 = 0.6931471805599453
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm's split
MIN_PROBABILITY = 2.0 ** -20  # every symbol stays encodable, clipped tails included


def portable_exp(x: np.ndarray) -> np.ndarray:
    """exp(x) to ~1e-15 relative, the same on every IEEE-754 machine (for |x| <= 700).

    Range reduction with fdlibm's two-part ln 2 and a fixed Taylor series: elementwise +, -, *,
    / and exact scaling by powers of two only, which numpy evaluates identically everywhere.
    """
    x = np.asarray(x, dtype=np.float64)
    k = np.floor(x / _LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    term, total = np.ones_like(r), np.ones_like(r)
    for n in range(1, 18):
        term = term * r / n
        total = total + term
    return np.ldexp(total, k.astype(np.int32))


def logistic_cdf(x: np.ndarray) -> np.ndarray:
    """The standard logistic CDF, portably (see ``portable_exp``); 0 at and below -700."""
    x = np.clip(np.asarray(x, dtype=np.float64), -700.0, 700.0)
    return np.where(x > -700, 1.0 / (1.0 + portable_exp(-x)), 0.0)


@lru_cache(maxsize=64)
def _tables(std: tuple[float, ...], step: float, low: int, size: int) -> np.ndarray:
    tables = np.empty((len(std), size), dtype=np.float32)
    for d, sigma in enumerate(std):
        s = max(sigma, 1e-6 * step) * math.sqrt(3.0) / math.pi / step  # logistic scale in steps
        edges = logistic_cdf((low + np.arange(size - 1) + 0.5) / s)
        p = np.maximum(np.diff(np.concatenate([[0.0], edges, [1.0]])), MIN_PROBABILITY)
        tables[d] = p / sum(p.tolist())  # a sequential sum: the same total on every machine
    return tables


def probability_tables(quantizer: LatentQuantizer) -> np.ndarray:
    """(latent_dim, alphabet_size) float32 probabilities of each symbol in each dimension."""
    return _tables(tuple(float(s) for s in quantizer.std), quantizer.step, quantizer.low,
                   quantizer.alphabet_size)


def encode_symbols(symbols: np.ndarray, quantizer: LatentQuantizer) -> bytes:
    """Range-code (patches, latent_dim) symbols, dimension by dimension."""
    tables = probability_tables(quantizer)
    encoder = constriction.stream.queue.RangeEncoder()
    for d in range(symbols.shape[1]):
        model = constriction.stream.model.Categorical(tables[d], perfect=False)
        encoder.encode((symbols[:, d] - quantizer.low).astype(np.int32), model)
    # The coder's last word is often padded with zero bytes: they need not be stored.
    return encoder.get_compressed().astype("<u4").tobytes().rstrip(b"\0")


def decode_symbols(data: bytes, patches: int, quantizer: LatentQuantizer) -> np.ndarray:
    tables = probability_tables(quantizer)
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(padded, "<u4").astype(np.uint32))
    symbols = np.empty((patches, len(tables)), dtype=np.int32)
    for d in range(len(tables)):
        model = constriction.stream.model.Categorical(tables[d], perfect=False)
        symbols[:, d] = decoder.decode(model, patches)
    return symbols + quantizer.low
