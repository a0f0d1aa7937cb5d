"""The range-coding stage every coder's section ends in (constriction's range coder): segments
of symbols under the parametric tables (tables.py) or any constriction model, cut to as few
bytes as still decode, and the escaped values beside them. The interpolation, wavelet and mask
coders build their segments and call ``range_code``; their decoders read with ``RangeReader``."""

from functools import lru_cache

import constriction
import numpy as np

from . import kernels
from .bytes import ContainerError, svarint, varint
from .entropy import shortest_cut
from .tables import CONTEXTS, SCALE_CODES, SCALE_LOW, SHAPES, UNIFORM, cell_codes, table

SMALL_STREAM = 1 << 16  # up to this many symbols, the stream's tail is cut as short as decodes


def write_escapes(escapes: list) -> bytes:
    """varint E, then E svarints: the escaped q, in coding order."""
    return varint(len(escapes)) + b"".join(svarint(int(q)) for q in escapes)


def read_escapes(reader, most: int, limit: int, section: str) -> list[int]:
    """What ``write_escapes`` wrote; ContainerError for more than ``most`` or one past
    ``limit``."""
    count = reader.varint()
    if count > most:
        raise ContainerError(f"corrupted {section} section: too many escaped values")
    escapes = [reader.svarint() for _ in range(count)]
    if any(abs(q) > limit for q in escapes):
        raise ContainerError(f"corrupted {section} section: escaped value out of range")
    return escapes


def coded_segments(step_levels: list[int], symbols: list, shape: int, activity: int,
                   level_codes: dict, escapes: list, slope: int = 4) -> list:
    """(model, symbols) in the order the decoder decodes them, for steps' (q, bucket) pairs at
    their levels under a plan; the q past a table's reach are appended to ``escapes``."""
    segments = []
    if level_codes:
        segments.append((UNIFORM, np.array([activity - SCALE_LOW], np.int32)))
    current = None
    for level, (q, bucket) in zip(step_levels, symbols):
        if not q.size:
            continue
        if level != current:
            current = level
            segments.append((UNIFORM, np.array([level_codes[current] - SCALE_LOW], np.int32)))
            cells = cell_codes(level_codes[current], activity, slope)
            widths = np.array([table(code, shape)[0] for code in cells])
        # Bucket by bucket, each in the step's order (a stable sort): K + q, or the escape.
        coded, edges, escaped = kernels.by_bucket(q, bucket, widths) or _by_bucket(q, bucket, widths)
        escapes += escaped.tolist()
        for b in range(CONTEXTS):
            if edges[b + 1] > edges[b]:
                segments.append((table(cells[b], shape)[2], coded[edges[b]:edges[b + 1]]))
    return segments


def _by_bucket(q: np.ndarray, bucket: np.ndarray, widths: np.ndarray) -> tuple:
    """``kernels.by_bucket``'s (coded, edges, escaped q) by a stable sort."""
    order = np.argsort(bucket, kind="stable")
    q, bucket = q[order], bucket[order]
    k = widths[bucket]
    out = np.abs(q) > k
    coded = np.where(out, 2 * k + 1, q + k).astype(np.int32)
    return coded, np.concatenate([[0], np.cumsum(np.bincount(bucket, minlength=CONTEXTS))]), q[out]


def range_code(segments: list) -> bytes:
    """The segments, each (model, symbols) or (model family, symbols, its parameters per
    symbol), range-coded, cut to as few bytes as still decode (``shortest_cut``; a large
    stream only loses its trailing zero bytes, which the decoder puts back, as in the format's
    first versions)."""
    if not segments:
        return b""
    segments = _merged(segments)
    encoder = constriction.stream.queue.RangeEncoder()
    for model, symbols, *parameters in segments:
        encoder.encode(symbols, model, *parameters)
    final = encoder.pos()
    data = encoder.get_compressed().astype(">u4").tobytes()
    if sum(len(s[1]) for s in segments) > SMALL_STREAM:
        return data.rstrip(b"\0")
    # (a stream no cut shortens ends in a nonzero byte: else dropping it would decode)
    return shortest_cut(data, final)


def words(data: bytes) -> np.ndarray:
    padded = data + b"\0" * (-len(data) % 4 or 4)  # what the encoder cut, and a word
    return np.frombuffer(padded, ">u4").astype(np.uint32)


def _merged(segments: list) -> list:
    """The segments with each run under one model joined: the same stream, fewer calls."""
    out = []
    for model, symbols, *parameters in segments:
        if out and out[-1][0] is model and not parameters and len(out[-1]) == 2:
            out[-1][1].append(symbols)
        else:
            out.append((model, [symbols], *parameters))
    return [(model, parts[0] if len(parts) == 1 else np.concatenate(parts), *parameters)
            for model, parts, *parameters in out]


class RangeReader:
    """A section's range-coded stream read back, symbol for symbol as ``range_code`` wrote it:
    by constriction's RangeDecoder, or, where this process has the compiled kernels (an
    archive's reader or writer soon has), by the same decoder compiled
    (``kernels._range_decode``), which reads a step's buckets in one call instead of one per
    bucket. ``points``: how many the section decodes (a process loads the kernels once its
    coders have passed ``kernels.LOAD_AFTER_WORK``)."""

    def __init__(self, data: bytes, points: int, stream_words: np.ndarray | None = None):
        """``stream_words``: the stream as uint32 words where a format stored them otherwise
        (little-endian: the residual section's), instead of ``data``."""
        self.words = words(data) if stream_words is None else stream_words
        self.compiled = kernels.at_hand(points) is not None
        if self.compiled:  # constriction's first state: the first two words are the point
            first = self.words[:2].tolist() + [0, 0]  # (missing words read as zeros)
            point = first[0] << 32 | first[1]
            self.state = np.array([0, 2 ** 64 - 1, point, min(2, len(self.words))], np.uint64)
        else:
            self.decoder = constriction.stream.queue.RangeDecoder(self.words)

    def uniform(self) -> int:
        """One symbol under UNIFORM."""
        if not self.compiled:
            return int(self.decoder.decode(UNIFORM, 1)[0])
        cdf, tables = _uniform_tables()
        out = np.empty(1, np.int64)
        self._decode(cdf, tables, np.zeros(1, np.int8), out)
        return int(out[0])

    def buckets(self, bucket: np.ndarray, cells: list[int], shape: int, pending) -> np.ndarray:
        """One step's q (int64, ``bucket``'s shape), bucket by bucket, escapes taken from
        ``pending``; compiled readers also take buckets ``kernels.NOT_CODED`` (q 0, not in the
        stream)."""
        if not self.compiled:
            return decode_buckets(self.decoder, bucket, cells, shape, pending)
        cdf, tables = _cell_tables(cells, shape)
        flat = np.ascontiguousarray(bucket).reshape(-1)
        out = np.empty(flat.size, np.int64)
        if self._decode(cdf, tables, flat, out):  # in coding order: by bucket, then point
            escaped = np.flatnonzero(out == kernels.ESCAPED)
            for j in escaped[np.argsort(flat[escaped], kind="stable")]:
                out[j] = next_escape(pending)
        return out.reshape(bucket.shape)

    def sweep(self, recon: np.ndarray, missing: np.ndarray | None, steps: np.ndarray,
              counts: np.ndarray, levels: np.ndarray, cubic: bool, quantum: np.ndarray,
              shape: int, escapes: np.ndarray) -> int:
        """Compiled readers only: ``kernels.decode_sweep`` from this reader's place, under the
        tables of ``shape``; how many of ``escapes`` it took."""
        return _taken(kernels.decode_sweep(recon, missing, steps, counts, levels, cubic, quantum,
                                           self.state, self.words,
                                           (*_uniform_tables(), *_all_cell_tables(shape)), escapes))

    def bands(self, kept: np.ndarray, layout: np.ndarray, steps: np.ndarray, slope: int,
              thresholds: np.ndarray, pull: float, shape: int, escapes: np.ndarray) -> int:
        """Compiled readers only: ``kernels.decode_bands`` from this reader's place, under the
        tables of ``shape``; how many of ``escapes`` it took."""
        return _taken(kernels.decode_bands(kept, layout, steps, slope, thresholds, pull,
                                           self.state, self.words,
                                           (*_uniform_tables(), *_all_cell_tables(shape)), escapes))

    def symbols(self, cdf: np.ndarray, tables: np.ndarray, bucket: np.ndarray) -> np.ndarray:
        """Compiled readers only: each point's value (int64) under its ``bucket``'s row of
        ``packed_tables``, bucket 0's points first; tables without an escape."""
        out = np.empty(bucket.size, np.int64)
        self._decode(cdf, tables, bucket, out)
        return out

    def _decode(self, cdf, tables, bucket, out) -> int:
        """How many escapes there were."""
        count = kernels.range_decode(self.state, self.words, cdf, tables, bucket, out)
        if count < 0:
            raise ContainerError("corrupted range-coded stream: a point past every symbol")
        return count


def _taken(taken: int) -> int:
    """A whole decoder's count of the escapes it took, or its refusal of the stream."""
    if taken == -1:
        raise ContainerError("corrupted range-coded stream: a point past every symbol")
    if taken == -2:
        raise ContainerError("corrupted inrcodec chunk: too few escaped values")
    return taken


def quantized_cdf(probabilities: np.ndarray) -> np.ndarray:
    """constriction's fixed-point cdf (uint32, one more than the symbols, 24 bits) of
    ``Categorical(probabilities, perfect=False)`` (float32): its ``fast_quantized_cdf``, the
    same float32 operations in the same order (sequential sums, then truncation), so the
    compiled decoder reads the symbols it wrote."""
    p = np.asarray(probabilities, np.float32)
    running = np.cumsum(p, dtype=np.float32)  # a sequential sum, as Rust's iterator sums
    scale = np.float32(2 ** 24 - p.size) / running[-1]
    before = np.concatenate([np.zeros(1, np.float32), running[:-1]])
    left = (before * scale).astype(np.uint32) + np.arange(p.size, dtype=np.uint32)
    return np.append(left, np.uint32(2 ** 24))


def packed_tables(tables: list[tuple[np.ndarray, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """(every table's cdf end to end, a row per table for ``kernels._range_decode``) of
    (probabilities, value of symbol 0, escape symbol or -1)."""
    cdfs = [quantized_cdf(p) for p, _, _ in tables]
    starts = np.cumsum([0] + [len(c) for c in cdfs[:-1]])
    rows = [(start, len(p), low, escape, int(np.argmax(p)))
            for start, (p, low, escape) in zip(starts, tables)]
    return np.concatenate(cdfs), np.array(rows, np.int64)


@lru_cache(maxsize=1)
def _uniform_tables() -> tuple[np.ndarray, np.ndarray]:
    return packed_tables([(np.full(SCALE_CODES, 1.0 / SCALE_CODES, np.float32), 0, -1)])


def _cell_tables(cells: list[int], shape: int) -> tuple[np.ndarray, np.ndarray]:
    """The packed tables of a level's context buckets (``cell_codes``): q = -K..K, then the
    escape; rows of ``_all_cell_tables``."""
    cdf, rows = _all_cell_tables(shape)
    return cdf, rows[np.asarray(cells) - SCALE_LOW]


@lru_cache(maxsize=len(SHAPES))  # 1.7 MB each; built once per process, in 25-40 ms
def _all_cell_tables(shape: int) -> tuple[np.ndarray, np.ndarray]:
    """The packed tables of every scale code (a row each, from SCALE_LOW) of ``shape``."""
    return packed_tables([(p, -k, 2 * k + 1) for code in range(SCALE_LOW, SCALE_LOW + SCALE_CODES)
                          for k, p, _ in [table(code, shape)]])


def decode_buckets(decoder, bucket: np.ndarray, cells: list[int], shape: int,
                   pending) -> np.ndarray:
    """One step's q (int64, ``bucket``'s shape), bucket by bucket, escapes taken from
    ``pending``: by constriction's decoder."""
    if not bucket.size:
        return np.zeros(bucket.shape, np.int64)
    counts = np.bincount(bucket.ravel(), minlength=CONTEXTS)
    decoded = []
    for b in np.flatnonzero(counts):
        k, _, model = table(cells[b], shape)
        symbols = decoder.decode(model, int(counts[b])).astype(np.int64)
        got = symbols - k
        out = symbols == 2 * k + 1
        if out.any():
            got[out] = [next_escape(pending) for _ in range(int(out.sum()))]
        decoded.append(got)
    if len(decoded) == 1:
        return decoded[0].reshape(bucket.shape)
    flat = np.empty(bucket.size, np.int64)  # each bucket's values in the points' order
    flat[np.argsort(bucket, axis=None, kind="stable")] = np.concatenate(decoded)
    return flat.reshape(bucket.shape)


def next_escape(pending) -> int:
    value = next(pending, None)
    if value is None:
        raise ContainerError("corrupted inrcodec chunk: too few escaped values")
    return value
