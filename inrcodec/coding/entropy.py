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

from .bytes import ContainerError
from .quantize import LatentQuantizer

_LN2 = 0.6931471805599453
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # fdlibm's split
MIN_PROBABILITY = 2.0 ** -20  # every symbol stays encodable, clipped tails included
# What a bit is worth in squared quantizer steps: the slope of an entropy-coded uniform
# quantizer's distortion-rate curve, 2 ln 2 x step^2 / 12 (Gish-Pierce), so trading error for
# bits at this rate moves along that curve rather than below it.
RATE_WEIGHT = 2 * _LN2 / 12


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


@lru_cache(maxsize=16)  # a table takes up to 2**17 x latent_dim floats
def _tables(std: tuple[float, ...], step: float, low: int, size: int) -> np.ndarray:
    from . import kernels  # (kernels imports tables, which imports this)

    scales = _scales(std, step)
    compiled = kernels.logistic_tables(scales, low, size, MIN_PROBABILITY, (_LN2, _LN2_HI, _LN2_LO))
    if compiled is not None:
        return compiled
    tables = np.empty((len(std), size), dtype=np.float32)
    for d, s in enumerate(scales):
        edges = logistic_cdf((low + np.arange(size - 1) + 0.5) / s)
        p = np.maximum(np.diff(np.concatenate([[0.0], edges, [1.0]])), MIN_PROBABILITY)
        tables[d] = p / sum(p.tolist())  # a sequential sum: the same total on every machine
    return tables


def _scales(std: tuple[float, ...], step: float) -> list[float]:
    """Each dimension's logistic scale, in quantizer steps (a spread under 1e-6 steps floored)."""
    return [max(sigma, 1e-6 * step) * math.sqrt(3.0) / math.pi / step for sigma in std]


@lru_cache(maxsize=4)
def _models(std: tuple[float, ...], step: float, low: int, size: int) -> list:
    """One constriction model per dimension of ``_tables``: built once, not once a chunk."""
    return [constriction.stream.model.Categorical(t, perfect=False)
            for t in _tables(std, step, low, size)]


@lru_cache(maxsize=4)
def _packed_tables(std: tuple[float, ...], step: float, low: int, size: int) -> tuple:
    """``_tables`` for the compiled range reader (``rangecoder.packed_tables``)."""
    from .rangecoder import packed_tables

    return packed_tables([(t, low, -1) for t in _tables(std, step, low, size)])


def symbol_models(quantizer: LatentQuantizer) -> list:
    return _models(*quantizer.tables_key)


def probability_tables(quantizer: LatentQuantizer) -> np.ndarray:
    """(latent_dim, alphabet_size) float32 probabilities of each symbol in each dimension."""
    return _tables(*quantizer.tables_key)


def encode_symbols(symbols: np.ndarray, quantizer: LatentQuantizer) -> bytes:
    """Range-code (patches, latent_dim) symbols, dimension by dimension, cut to the byte."""
    encoder = constriction.stream.queue.RangeEncoder()
    for d, model in enumerate(symbol_models(quantizer)):
        encoder.encode((symbols[:, d] - quantizer.low).astype(np.int32), model)
    return _shortest(encoder)


def decode_symbols(data: bytes, patches: int, quantizer: LatentQuantizer,
                   little_endian_words: bool = False) -> np.ndarray:
    """What ``encode_symbols`` coded; ``little_endian_words`` for format version 1, which
    stored the coder's words little-endian with trailing zero bytes dropped."""
    from . import kernels  # (kernels and rangecoder import tables, which imports this)
    from .rangecoder import RangeReader

    dims = len(quantizer.std)
    if not little_endian_words and kernels.at_hand(patches * dims) is not None:  # compiled
        cdf, tables = _packed_tables(*quantizer.tables_key)
        dimension = np.repeat(np.arange(dims, dtype=np.int32), patches)
        symbols = RangeReader(data, 0).symbols(cdf, tables, dimension)
        return symbols.reshape(dims, patches).T.astype(np.int32)
    models = symbol_models(quantizer)
    if little_endian_words:
        words = np.frombuffer(bytes(data) + b"\0" * (-len(data) % 4), "<u4")
    else:  # what _shortest dropped, and a word
        words = np.frombuffer(bytes(data) + b"\0" * (-len(data) % 4 or 4), ">u4")
    decoder = constriction.stream.queue.RangeDecoder(words.astype(np.uint32))
    symbols = np.empty((patches, len(models)), dtype=np.int32)
    for d, model in enumerate(models):
        symbols[:, d] = decoder.decode(model, patches)
    return symbols + quantizer.low


def least_code_bits(quantizer: LatentQuantizer) -> float:
    """The fewest bits a patch's latents can take: each dimension's most probable symbol's."""
    return _least_bits(*quantizer.tables_key)


@lru_cache(maxsize=8)
def _least_bits(std: tuple[float, ...], step: float, low: int, size: int) -> float:
    """``code_lengths(...).min(1).sum()``, once per table (every chunk's reader checks it)."""
    return float((-np.log2(_tables(std, step, low, size).astype(np.float64))).min(1).sum())


def code_lengths(quantizer: LatentQuantizer) -> np.ndarray:
    """(latent_dim, alphabet_size) ideal code length in bits of each symbol in each dimension."""
    return -np.log2(probability_tables(quantizer).astype(np.float64))


def rate_distortion_symbols(latents: np.ndarray, quantizer: LatentQuantizer) -> np.ndarray:
    """The symbols of ``latents`` that lower squared error + ``RATE_WEIGHT`` x coded bits, each
    coefficient rounded down, up or to zero (entropy-constrained quantization).

    Nearest rounding spends as many bits on a coefficient a hair past a rounding boundary as on
    one at the grid point; moving it to the cheaper neighbour costs little error. Only in a
    latent basis do squared coefficient errors add up to the decoded error (nn/basis.py); other
    models keep nearest rounding. On held-out A1B this gave about +0.2 dB at 0.15 bits per value.
    """
    if quantizer.basis is None:
        return quantizer.quantize(latents)
    return _rate_distortion(latents, quantizer, _tabled)[0]


def estimated_code_bits(latents: np.ndarray, quantizer: LatentQuantizer) -> float:
    """The ideal code length of ``rate_distortion_symbols(latents, quantizer)``, from the
    tables' logistic at the symbols it weighs alone: no table is built (at 11-12 bits one
    holds 2**14-2**15 symbols a dimension and takes tens of milliseconds), and none is
    normalised (its floor at MIN_PROBABILITY adds up to 3% to a fine table's total): a few
    bits a patch under the real code at fine resolutions, a guide for a size budget's search."""
    return float(-np.log2(_rate_distortion(latents, quantizer, _untabled)[1]).sum())


def _rate_distortion(latents: np.ndarray, quantizer: LatentQuantizer, probabilities
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(``rate_distortion_symbols``, their probabilities as ``probabilities`` gives them)."""
    if quantizer.basis is None:  # nearest rounding
        symbols = quantizer.quantize(latents)
        return symbols, probabilities(quantizer, symbols.astype(np.int64))
    x = quantizer.coefficients(latents) / quantizer.step
    low = np.floor(x)
    candidates = np.clip(np.stack([low, low + 1, np.zeros_like(x)]), quantizer.low,
                         quantizer.low + quantizer.alphabet_size - 1).astype(np.int64)
    # Only the candidates' code lengths: a size budget's search calls this at resolutions whose
    # tables hold up to 2**17 symbols per dimension.
    p = probabilities(quantizer, candidates).astype(np.float64)
    chosen = (((x - candidates) ** 2 - RATE_WEIGHT * np.log2(p)).argmin(0))[None]
    return (np.take_along_axis(candidates, chosen, 0)[0].astype(np.int32),
            np.take_along_axis(p, chosen, 0)[0])


def _tabled(quantizer: LatentQuantizer, symbols: np.ndarray) -> np.ndarray:
    """The probabilities of ``symbols`` (..., latent_dim) in the quantizer's tables."""
    return probability_tables(quantizer)[np.arange(symbols.shape[-1]), symbols - quantizer.low]


def _untabled(quantizer: LatentQuantizer, symbols: np.ndarray) -> np.ndarray:
    """``_tabled`` from ``_tables``' logistic at ``symbols`` alone, before its floor and
    normalisation."""
    std, step, low, size = quantizer.tables_key
    s = np.array(_scales(std, step))
    upper = np.where(symbols >= low + size - 1, 1.0, logistic_cdf((symbols + 0.5) / s))
    lower = np.where(symbols <= low, 0.0, logistic_cdf((symbols - 0.5) / s))
    return np.maximum(upper - lower, MIN_PROBABILITY)


def gate_flag_bits(kept: np.ndarray, latent_dim: int) -> np.ndarray:
    """Ideal bits that say which latents each patch keeps, given ``kept`` per patch."""
    p = np.clip(kept / latent_dim, 1e-12, 1 - 1e-12)
    flags = np.where((kept > 0) & (kept < latent_dim),
                     -latent_dim * (p * np.log2(p) + (1 - p) * np.log2(1 - p)), 0.0)
    return math.log2(latent_dim + 1) + flags


def encode_gated(symbols: np.ndarray, kept: np.ndarray, quantizer: LatentQuantizer) -> bytes:
    """Range-code the latents a size budget kept: how many each patch kept (uniform over
    0..D), which (flags of probability kept/D: as cheap as enumerating the subset), then, one
    dimension after another, the kept symbols with that dimension's table. The stream is cut to
    the byte (a budget counts bytes), not to the coder's 32-bit word."""
    kept = kept.astype(bool)
    counts = kept.sum(1)
    share = counts / kept.shape[1]
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(counts.astype(np.int32), _count_model(kept.shape[1]))
    flagged = (counts > 0) & (counts < kept.shape[1])
    if flagged.any():
        encoder.encode(kept[flagged].ravel().astype(np.int32), _FLAGS,
                       np.repeat(share[flagged], kept.shape[1]))
    for d, table in enumerate(probability_tables(quantizer)):
        if kept[:, d].any():
            encoder.encode((symbols[kept[:, d], d] - quantizer.low).astype(np.int32),
                           constriction.stream.model.Categorical(table, perfect=False))
    return _shortest(encoder)


def _shortest(encoder) -> bytes:
    """The encoder's words, big-endian, cut to the byte (``shortest_cut``)."""
    final = encoder.pos()
    return shortest_cut(encoder.get_compressed().astype(">u4").tobytes(), final)


def shortest_cut(data: bytes, final: tuple, most: int = 8) -> bytes:
    """``data`` (a range coder's sealed words, big-endian) with as many trailing bytes dropped,
    up to ``most``, as still decode every symbol; ``final``: the coder's ``pos()`` before it
    was sealed (the words written, and its final interval's lower end and width in the 64-bit
    window after them).

    The decoder pads with zero bytes, so a cut keeps the words' value rounded up to whole
    bytes, and it decodes every symbol exactly when that value lies in the final interval
    (each symbol's interval holds the next; constriction's arithmetic is exact). The seal
    wrote the interval's lower end rounded up to a word, from which the end itself follows.
    A cut inside the interval leaves every shorter one inside it (it lies between the words'
    value and the longer cut), so drops are tried from one up until one leaves it. Only the
    last 16 bytes are looked at: a cut changes nothing before them (but a carry)."""
    position, (lower, width) = final
    end = 4 * (position + 2)  # the decoder's window reaches two words past the written ones
    if not data or len(data) > end:
        return data
    start = max(0, len(data) - 16) & ~3  # the frame looked at: data[start:], then zero bytes
    shift = 8 * (end - len(data))
    value = int.from_bytes(data[start:], "big") << shift
    point = int.from_bytes(data[start:4 * (position + 1)], "big") << 32  # the sealed lower end
    gap = (point - lower) % (1 << 64)
    if gap >> 32:  # not what the seal writes: keep every byte
        return data
    low = point - gap  # (below zero: it borrows from the bytes before the frame, as they stay)
    drop, rounded = 0, value
    while drop < min(len(data), most):
        unit = 256 ** (drop + 1) << shift
        cut = -(-value // unit) * unit
        if not low <= cut < low + width or (start == 0 and cut >> 8 * end):
            break
        drop, rounded = drop + 1, cut
    if not drop:
        return data
    if rounded >> 8 * (end - start):  # carried into the bytes before the frame
        whole = int.from_bytes(data, "big")
        whole = -(-whole // 256 ** drop) * 256 ** drop
        return whole.to_bytes(len(data), "big")[:-drop]
    return data[:start] + (rounded >> shift).to_bytes(len(data) - start, "big")[:-drop]


def decode_gated(data: bytes, patches: int,
                 quantizer: LatentQuantizer) -> tuple[np.ndarray, np.ndarray]:
    """(symbols, kept) as ``encode_gated`` took them; symbols of dropped latents are 0."""
    try:
        return _decode_gated(data, patches, quantizer)
    except AssertionError as e:  # constriction's word for bytes that are not a valid stream
        raise ContainerError(f"corrupted inrcodec chunk: {e}") from e


def _decode_gated(data: bytes, patches: int,
                  quantizer: LatentQuantizer) -> tuple[np.ndarray, np.ndarray]:
    tables = probability_tables(quantizer)
    dim = len(tables)
    padded = bytes(data) + b"\0" * (-len(data) % 4 or 4)  # what _shortest dropped, and a word
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(padded, ">u4").astype(np.uint32))
    counts = decoder.decode(_count_model(dim), patches).astype(np.int64)
    kept = np.zeros((patches, dim), dtype=bool)
    kept[counts == dim] = True
    flagged = (counts > 0) & (counts < dim)
    if flagged.any():
        share = np.repeat(counts[flagged] / dim, dim)
        kept[flagged] = decoder.decode(_FLAGS, share).reshape(-1, dim).astype(bool)
    if not np.array_equal(kept.sum(1), counts):
        raise ContainerError("corrupted inrcodec chunk: gate flags disagree with their counts")
    symbols = np.zeros((patches, dim), dtype=np.int32)
    for d, table in enumerate(tables):
        if kept[:, d].any():
            model = constriction.stream.model.Categorical(table, perfect=False)
            symbols[kept[:, d], d] = decoder.decode(model, int(kept[:, d].sum())) + quantizer.low
    return symbols, kept


_FLAGS = constriction.stream.model.Bernoulli(perfect=False)


def _count_model(dim: int):
    return constriction.stream.model.Categorical(np.full(dim + 1, 1 / (dim + 1)), perfect=False)
