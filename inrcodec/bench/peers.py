"""Peer compressors behind one interface: a ``Contender`` encodes a chunk to bytes and decodes it
back, given the chunk's shape and dtype (which a Zarr array keeps in its metadata, free).

Every stored byte a peer needs is in its bytes. Peers that cannot store NaN (ZFP, SPERR) get what
inrcodec gives itself: the chunk with NaNs filled smoothly (``wavelet.fill``) and inrcodec's
lossless NaN mask stored in front (a 4-byte length, then the mask as ``coding/bilevel.py`` codes
it), charged like any byte; so a difference on masked data is the codecs', not their
preprocessing. Peers for floating data see integer
chunks as float32 and their results are rounded and clipped back. Singleton axes are dropped
first: a (1, 37, 49) chunk is a 2-D field to SZ3, ZFP and SPERR.
"""

import importlib.util
import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..coding import bilevel, wavelet


@dataclass
class Contender:
    family: str  # one curve in the plots: a codec and mode
    setting: str  # the point on it
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes, tuple, np.dtype], np.ndarray]
    bound: float | None = None  # the absolute error it promises, if any
    lossless: bool = False
    params: dict = field(default_factory=dict)
    # Multiply-adds x 2 that numpy does where torch's counter cannot see them (a linear model's
    # products), per value: (encode, decode).
    numpy_flops: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True)
class Context:
    """What a peer's settings depend on: the data, and how long a run may take."""
    dtype: np.dtype
    has_nans: bool
    value_range: float
    bounds: tuple[float, ...]  # absolute error bounds shared by every error-bounded codec
    quick: bool


# Absolute error bounds, as fractions of the test data's range: 30% down to 0.01%.
BOUND_FRACTIONS = {False: (0.3, 0.1, 0.03, 0.01, 0.003, 0.001, 3e-4, 1e-4), True: (0.03, 0.003)}
BOUND_DIGITS = 2  # significant digits of a bound


def absolute_bounds(value_range: float, dtype: np.dtype, quick: bool) -> tuple[float, ...]:
    bounds = [float(f"{value_range * f:.{BOUND_DIGITS}g}") for f in BOUND_FRACTIONS[quick]]
    if dtype.kind in "iu":  # integer errors are whole: a bound of 2.55 promises what 2 does
        bounds = sorted({max(1.0, math.floor(b)) for b in bounds}, reverse=True)
    return tuple(bounds)


FULL = {"zfp_rates": (1, 2, 4, 8, 12, 16), "keepbits": (2, 4, 6, 8, 10, 12, 16),
        "quantize_fractions": (1e-2, 1e-3, 1e-4)}
# ZFP fixed rate stays at 1 bit per value or more: below that zfpy corrupted the heap (NOTES).
QUICK = {"zfp_rates": (4,), "keepbits": (8,), "quantize_fractions": (1e-3,)}
ZSTD_LEVEL = 9
MASK_LENGTH = struct.Struct("<I")  # before the NaN mask a peer cannot store itself


def require(module: str, install: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"needs {module}: pip install {install}")


def cast_back(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Values as ``dtype``; integers rounded and clipped into their type."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return values.astype(dtype)


def adapted(compress: Callable[[np.ndarray], bytes],
            decompress: Callable[[bytes, tuple, np.dtype], np.ndarray],
            ctx: Context, floats_only: bool = True, mask_nans: bool = False):
    """(encode, decode) of a chunk from a codec of squeezed arrays (see the module's notes)."""
    mask_nans = mask_nans and ctx.has_nans

    def work_dtype(dtype: np.dtype) -> np.dtype:
        return np.dtype(np.float32) if floats_only and dtype.kind in "iu" else dtype

    def encode(chunk: np.ndarray) -> bytes:
        x = np.ascontiguousarray(np.squeeze(chunk), dtype=work_dtype(chunk.dtype))
        if not mask_nans:
            return compress(x)
        missing = np.isnan(x)
        mask = bilevel.encode(missing) if missing.any() else b""
        if mask:  # inrcodec's own smooth stand-in (wavelet.fill), far cheaper than the mean
            x = wavelet.fill(np.where(missing, 0, x).astype(np.float64), missing).astype(x.dtype)
        return MASK_LENGTH.pack(len(mask)) + mask + compress(x)

    def decode(data: bytes, shape: tuple, dtype: np.dtype) -> np.ndarray:
        squeezed = tuple(n for n in shape if n != 1)
        missing = None
        if mask_nans:
            (length,) = MASK_LENGTH.unpack_from(data)
            start = MASK_LENGTH.size
            if length:
                missing = bilevel.decode(data[start:start + length], squeezed).reshape(shape)
            data = data[start + length:]
        values = decompress(data, squeezed, work_dtype(dtype)).reshape(shape)
        values = cast_back(values, dtype)
        if missing is not None:
            values[missing] = np.nan
        return values

    return encode, decode


def numcodecs_chain(*codecs):
    """(compress, decompress) through numcodecs codecs applied in order (filters, then bytes)."""
    from numcodecs.compat import ensure_bytes

    def compress(x: np.ndarray) -> bytes:
        for codec in codecs:
            x = codec.encode(x)
        return ensure_bytes(x)

    def decompress(data: bytes, shape: tuple, dtype: np.dtype) -> np.ndarray:
        data = np.frombuffer(data, np.uint8)  # what Zarr hands a codec; some refuse bytes
        for codec in reversed(codecs):
            data = codec.decode(data)
        out = np.asarray(data)
        if out.dtype != dtype:  # a bytes codec last hands back raw bytes
            out = np.frombuffer(out.tobytes(), dtype)
        return out.reshape(shape)

    return compress, decompress


def sz3(ctx: Context) -> list[Contender]:
    require("pysz", "pysz")
    import pysz

    def contender(bound: float) -> Contender:
        config = pysz.szConfig()
        config.errorBoundMode = pysz.szErrorBoundMode.ABS
        config.absErrorBound = bound

        def compress(x):
            return pysz.sz.compress(x, config)[0].tobytes()

        def decompress(data, shape, dtype):
            return pysz.sz.decompress(np.frombuffer(data, np.uint8), dtype, shape)[0]

        # SZ3 keeps NaNs itself.
        return Contender("SZ3", f"abs={bound:g}", *adapted(compress, decompress, ctx),
                         bound=bound, params={"abs": bound})

    return [contender(b) for b in ctx.bounds]


def zfp(ctx: Context) -> list[Contender]:
    require("zfpy", "zfpy==1.0.1")
    import zfpy

    def contender(family, setting, bound=None, **kwargs) -> Contender:
        def compress(x):
            return zfpy.compress_numpy(x, **kwargs)

        def decompress(data, shape, dtype):
            return zfpy.decompress_numpy(data)

        return Contender(family, setting, *adapted(compress, decompress, ctx, mask_nans=True),
                         bound=bound, params=kwargs)

    rates = (QUICK if ctx.quick else FULL)["zfp_rates"]
    return ([contender("ZFP fixed-rate", f"rate={r}", rate=r) for r in rates]
            + [contender("ZFP fixed-accuracy", f"tolerance={b:g}", bound=b, tolerance=b)
               for b in ctx.bounds])


def sperr(ctx: Context) -> list[Contender]:
    """SPERR (wavelets) with a point-wise error bound, through numcodecs-wasm-sperr."""
    require("numcodecs_wasm_sperr", "numcodecs-wasm-sperr")
    import numcodecs

    def contender(bound: float) -> Contender:
        codec = numcodecs.get_codec({"id": "sperr.rs", "mode": "pwe", "pwe": bound})
        return Contender("SPERR", f"pwe={bound:g}",
                         *adapted(*numcodecs_chain(codec), ctx, mask_nans=True),
                         bound=bound, params={"pwe": bound})

    return [contender(b) for b in ctx.bounds]


def bitround_zstd(ctx: Context) -> list[Contender]:
    """Mantissa bits kept, then Zstd (the xbitinfo approach); floating data only."""
    from numcodecs import BitRound, Zstd

    if ctx.dtype.kind != "f":
        return []
    return [Contender("BitRound+Zstd", f"keepbits={k}",
                      *adapted(*numcodecs_chain(BitRound(k), Zstd(ZSTD_LEVEL)), ctx),
                      params={"keepbits": k})
            for k in (QUICK if ctx.quick else FULL)["keepbits"]]


def quantize_zstd(ctx: Context) -> list[Contender]:
    """numcodecs Quantize (decimal digits kept, chosen from fractions of the range), then Zstd."""
    from numcodecs import Quantize, Zstd

    if ctx.dtype.kind != "f":
        return []
    fractions = (QUICK if ctx.quick else FULL)["quantize_fractions"]
    digits = sorted({max(0, math.ceil(-math.log10(ctx.value_range * f))) for f in fractions})
    return [Contender("Quantize+Zstd", f"digits={d}",
                      *adapted(*numcodecs_chain(Quantize(d, ctx.dtype), Zstd(ZSTD_LEVEL)), ctx),
                      params={"digits": d})
            for d in digits]


def zstd(ctx: Context) -> list[Contender]:
    from numcodecs import Zstd

    return [Contender("Zstd (lossless)", f"level={ZSTD_LEVEL}",
                      *adapted(*numcodecs_chain(Zstd(ZSTD_LEVEL)), ctx, floats_only=False),
                      lossless=True)]


def pcodec(ctx: Context) -> list[Contender]:
    require("pcodec", "pcodec")
    from numcodecs import PCodec

    return [Contender("PCodec (lossless)", "default",
                      *adapted(*numcodecs_chain(PCodec()), ctx, floats_only=False), lossless=True)]


def from_json(config: dict) -> Callable[[Context], list[Contender]]:
    """A numcodecs config given on the command line, used as it is (no NaN mask, no casts)."""
    def peer(ctx: Context) -> list[Contender]:
        import numcodecs

        codec = numcodecs.get_codec(dict(config))
        setting = json.dumps({k: v for k, v in config.items() if k != "id"}, sort_keys=True)
        return [Contender(config["id"], setting,
                          *adapted(*numcodecs_chain(codec), ctx, floats_only=False),
                          params=dict(config))]

    return peer


DEFAULT_PEERS = {"SZ3": sz3, "ZFP": zfp, "SPERR": sperr, "BitRound+Zstd": bitround_zstd,
                 "Quantize+Zstd": quantize_zstd, "Zstd": zstd, "PCodec": pcodec}
