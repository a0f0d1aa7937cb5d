"""encode(chunk) -> bytes and decode(bytes) -> chunk: what every chunk goes through.

Encode: validate -> find the NaNs, or an integer chunk's zeros (a lossless mask) -> store
exactly what needs no model (empty, constant) -> let the mode store the rest (modes/, where nn/
and coding/ meet) -> the container, or the raw values where those are smaller. Decode reads the
container and hands it to the decoder of its kind (coding/kinds.py), loading the model only for
a kind that uses it: a store without network chunks is read without torch.
"""

import math
import warnings
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .chunk import Chunk
from .coding import bilevel
from .coding.container import (
    DTYPES,
    MAX_BYTES,
    MAX_NDIM,
    Container,
    ContainerError,
    Kind,
    least_bytes,
    peek_kind,
)
from .coding.mask import decode_mask
from .sections import relative

if TYPE_CHECKING:
    from .model import Model
    from .modes import Mode

MAX_INNER_STEPS = 1000


def validate(chunk: np.ndarray, model: "Model") -> np.ndarray:
    """The chunk as an ndarray the codec can store, or a clear error saying why not."""
    chunk = np.asanyarray(chunk)
    if isinstance(chunk, np.ma.MaskedArray):
        raise TypeError("masked arrays are not supported: fill masked values with NaN first")
    if chunk.dtype.kind + str(chunk.dtype.itemsize) not in DTYPES:
        raise TypeError(f"inrcodec stores float16/32/64 and integer arrays, not {chunk.dtype}; "
                        "convert the data (e.g. .astype('float32')) first")
    if chunk.ndim > MAX_NDIM:
        raise ValueError(f"inrcodec stores arrays of up to {MAX_NDIM} dimensions, not {chunk.ndim}")
    if chunk.ndim and chunk.ndim < model.ndim:
        series = (" (none is bundled for 1-D series: store them losslessly, as `inrcodec "
                  "compress` does)") if chunk.ndim == 1 else ""
        raise ValueError(f"the model fits {model.ndim}-D patches; a {chunk.ndim}-D chunk needs "
                         f"a model of at most {chunk.ndim} dimensions{series}")
    if chunk.nbytes > MAX_BYTES:
        raise ValueError(f"chunk of {chunk.nbytes / 2**30:.1f} GiB: inrcodec stores chunks of at "
                         f"most {MAX_BYTES / 2**30:.0f} GiB; use smaller chunks")
    if chunk.dtype.kind in "iu" and chunk.dtype.itemsize == 8 and chunk.size and (
            chunk.max() > 2 ** 53 or chunk.min() < -2 ** 53):
        raise ValueError("64-bit integers beyond +-2**53 are not stored exactly enough by "
                         "inrcodec's float64 arithmetic: store them losslessly instead")
    if chunk.dtype.kind == "f" and np.isinf(chunk).any():
        raise ValueError("chunk contains +-Inf, which a lossy codec cannot represent: replace "
                         "infinite values (with NaN to mark them missing) before compressing")
    return chunk


def encode(chunk: np.ndarray, model: "Model", mode: "Mode", inner_steps: int) -> bytes:
    """The chunk's bytes, stored as ``mode`` says (see modes/), never more than its raw bytes
    and a header."""
    chunk = validate(chunk, model)
    fortran = chunk.ndim > 1 and chunk.flags.f_contiguous and not chunk.flags.c_contiguous
    layout = dict(dtype=chunk.dtype, shape=chunk.shape, fortran_order=fortran)
    finite = np.isfinite(chunk) if chunk.dtype.kind == "f" else chunk != 0
    if chunk.dtype.kind in "iu" and not finite.any():
        finite[...] = True  # all zeros: a constant chunk
    # The mask marks what is stored exactly without being coded: NaNs in floats, zeros in
    # integers (an MNI volume's background must come back exactly zero, whatever the bound).
    mask = None if finite.all() else _mask_bytes(~finite)
    if not finite.any():
        return _checked_budget(mode, Container(kind=Kind.EMPTY, **layout).to_bytes(model.hash),
                               chunk)
    values = chunk[finite]
    if values.min() != values.max():
        container = mode.encode(Chunk(chunk, finite, dict(mask=mask, **layout)), model, inner_steps)
    elif mode.pointwise and values.dtype.kind == "f" and len(np.unique(np.signbit(values))) > 1:
        # +0.0 and -0.0 under a pointwise bound: zeros, each -0.0 stored exactly (an exception)
        section = relative.encode(chunk, finite, 0.5)[0]
        container = Container(kind=Kind.RELATIVE, bound=0.5, section=section, mask=mask, **layout)
    else:
        container = Container(kind=Kind.CONSTANT, constant=values[:1].tobytes(), mask=mask,
                              **layout)
    data = container.to_bytes(model.hash, least_bytes(container.kind, chunk.size, mask is not None))
    if len(data) > chunk.nbytes:  # a promise any mode keeps, and raw bytes never miss it
        raw = Container(kind=Kind.RAW, section=chunk.tobytes(order="F" if fortran else "C"),
                        **layout).to_bytes(model.hash)
        data = min(data, raw, key=len)
    return data if container.kind not in (Kind.CONSTANT, Kind.RELATIVE) else \
        _checked_budget(mode, data, chunk)


def _checked_budget(mode: "Mode", data: bytes, chunk: np.ndarray) -> bytes:
    """``data``, with a BudgetWarning where a size budget's chunk stored without its mode (all
    NaN, constant, or zeros of both signs) takes more than the budget: its header alone, as the
    budget's promise says of a chunk with nothing left for its data."""
    budget = getattr(mode, "bits_per_value", None)
    if budget is not None and 8 * len(data) > budget * chunk.size:
        from .modes import BudgetWarning

        warnings.warn(BudgetWarning(
            f"a chunk of shape {chunk.shape} holds one value (or none) and cannot be stored in "
            f"its budget of {budget:g} bits per value: its header takes {len(data)} bytes. "
            "Give a larger budget or larger chunks"), stacklevel=3)
    return data


# A land or brain mask is the same in every chunk of a variable: coded and decoded once each
# (in a process; by content, so a mask that changes is simply coded again). Only masks of up
# to REMEMBERED_POINTS points are kept: 8 of them take at most 32 MB.
MASKS_REMEMBERED, REMEMBERED_POINTS = 8, 1 << 22


def _mask_bytes(missing: np.ndarray) -> bytes:
    if missing.size > REMEMBERED_POINTS:
        return bilevel.encode(missing)
    return _coded_mask(np.packbits(missing).tobytes(), missing.shape)


def _mask_of(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    if math.prod(shape) > REMEMBERED_POINTS:
        return bilevel.decode(data, shape)
    return _decoded_mask(data, shape)


@lru_cache(maxsize=MASKS_REMEMBERED)
def _coded_mask(packed: bytes, shape: tuple[int, ...]) -> bytes:
    """``bilevel.encode`` of the mask whose ``np.packbits`` are ``packed``."""
    size = math.prod(shape)
    return bilevel.encode(np.unpackbits(np.frombuffer(packed, np.uint8), count=size)
                          .astype(bool).reshape(shape))


@lru_cache(maxsize=MASKS_REMEMBERED)
def _decoded_mask(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """``bilevel.decode``, read-only: every chunk with these bytes shares it."""
    missing = bilevel.decode(data, shape)
    missing.flags.writeable = False
    return missing


def decode(data: bytes, model_hash: str, load_model: "Callable[[], Model]",
           shape: tuple[int, ...] | None = None) -> np.ndarray:
    """The chunk ``data``, written with the model of ``model_hash`` (``load_model`` gives it,
    called only for a chunk whose kind uses it: first, so that a model that cannot be had says
    why before its chunk's checksum does). With ``shape`` (what the array's metadata says a
    chunk holds), a chunk that claims another is refused before any work is done on it: a
    damaged or hostile chunk cannot make its reader fill more than the chunk it asked for."""
    kind = peek_kind(data[:6])
    model = load_model() if kind is not None and kind.uses_model else None
    c = Container.from_bytes(data, model_hash if model is None else model.hash)
    if shape is not None and tuple(c.shape) != tuple(shape):
        raise ContainerError(f"inrcodec chunk claims shape {tuple(c.shape)}, but the array's "
                             f"chunks are {tuple(shape)}")
    size = math.prod(c.shape)
    missing = None if c.mask is None else (decode_mask(c.mask, size).reshape(c.shape)
                                            if c.zlib_mask else _mask_of(c.mask, c.shape))
    if c.kind == Kind.EMPTY and size == 0:
        out = np.empty(c.shape, dtype=c.dtype)
    elif c.kind == Kind.EMPTY:
        if c.dtype.kind != "f":
            raise ContainerError("corrupted inrcodec chunk: an all-NaN chunk of integers")
        out = np.full(c.shape, np.nan, dtype=c.dtype)
    elif c.kind == Kind.CONSTANT:
        out = np.full(c.shape, np.frombuffer(c.constant, c.dtype)[0], dtype=c.dtype)
    elif c.kind == Kind.RAW:
        if len(c.section) != size * c.dtype.itemsize or missing is not None:
            raise ContainerError("corrupted inrcodec chunk: raw values of the wrong size")
        return np.frombuffer(c.section, c.dtype).reshape(c.shape, order="F" if c.fortran_order
                                                         else "C").copy(order="K")
    else:
        if model is not None and len(c.shape) < model.ndim:
            raise ContainerError(f"corrupted inrcodec chunk: shape {c.shape} cannot hold "
                                 f"{model.ndim}-D patches")
        out = _decode_section(c, model, ~missing if missing is not None else np.ones(c.shape, bool))
    if missing is not None:
        out[missing] = np.nan if c.dtype.kind == "f" else 0
    return np.asfortranarray(out) if c.fortran_order else out


def _decode_section(c: Container, model: "Model | None", finite: np.ndarray) -> np.ndarray:
    """The kind's decoder, whose damaged input may trip any layer below it (constriction asserts,
    math overflows, torch refuses a shape): every such failure is a ContainerError, so a reader
    catches one ValueError for any damaged chunk."""
    try:
        return c.kind.spec.decode()(c, model, finite)
    except ContainerError:
        raise
    except (AssertionError, ArithmeticError, IndexError, ValueError, RuntimeError) as e:
        raise ContainerError(f"corrupted inrcodec chunk: {type(e).__name__}: {e}") from e
