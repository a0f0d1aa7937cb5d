"""Lossless coding of a bilevel (True/False) array of any shape, such as a chunk's NaN mask, by
hierarchical refinement with adaptive binary contexts.

A land mask or a brain's outline is mostly large regions with smooth edges: zlib on packed bits
pays for every row of an edge again. Here the array is decoded coarse to fine, as the
interpolation coder decodes values: the points on a grid of spacing 2**k along every axis are
known, then each axis in turn is halved, and every new point sits halfway between two known
points along that axis. Its context is how many of those two are set, and how many of the known
points around them are (the ring: the same two moved +-2**k along the axes already halved at this
spacing, +-2**(k+1) along the others). Inside a region all agree and the bit costs almost nothing;
only points near an edge cost. Each context's probability is the adaptive estimate
``(ones + 1/2) / (seen + 1)`` over every point coded before in that context (both sides count the
same points), refreshed after each group of points: a pass is coded in groups that double in size
(GROUP, 2 GROUP, 4 GROUP, ... of its points in C order), so a group is one vectorised coder call
(constriction's Bernoulli family, a probability per point). Sharing the counts across levels
and keeping the contexts few (15) took fewer bytes on the benchmark's masks than 30 contexts
split by level or 500 by the ring's exact count: a chunk's mask is too small to learn many.

Bytes: constriction's range coder over every pass, to the end (``rangecoder.range_code``). The
first bit (the origin) is coded at one half. An empty array is zero bytes.
"""

import math

import constriction
import numpy as np

from .bytes import ContainerError
from .rangecoder import range_code, words

GROUP = 16  # a pass's first group; later groups double
RING_BUCKETS = 5  # the ring's share of set points: none, under half, half, over half, all
CONTEXTS = 3 * RING_BUCKETS  # (how many of the two are set, the ring's bucket)


BERNOULLI = constriction.stream.model.Bernoulli(perfect=False)


def encode(bits: np.ndarray) -> bytes:
    bits = np.asarray(bits, dtype=bool)
    segments = []
    for points, contexts, counts in _passes(bits.shape, known=bits):
        symbols = bits[points].astype(np.int32).reshape(-1)
        for a, b in _groups(len(contexts)):
            segments.append((BERNOULLI, symbols[a:b], counts.probabilities(contexts[a:b])))
            counts.add(symbols[a:b], contexts[a:b])
    return range_code(segments)


def decode(data: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """The array ``encode`` coded; ContainerError for bytes that are not one."""
    shape = tuple(int(n) for n in shape)
    bits = np.zeros(shape, bool)
    if not bits.size:
        if data:
            raise ContainerError("corrupted mask: bytes for an empty array")
        return bits
    decoder = constriction.stream.queue.RangeDecoder(words(bytes(data)))
    try:
        for points, contexts, counts in _passes(shape, known=bits):
            symbols = np.empty(len(contexts), np.int32)
            for a, b in _groups(len(contexts)):
                symbols[a:b] = decoder.decode(BERNOULLI, counts.probabilities(contexts[a:b]))
                counts.add(symbols[a:b], contexts[a:b])
            bits[points] = symbols.astype(bool).reshape(bits[points].shape)
    except AssertionError as e:  # constriction's word for a stream it cannot decode
        raise ContainerError(f"corrupted mask: {e}") from e
    return bits


class _Counts:
    """Every context's ones and points seen so far, on both sides alike."""

    def __init__(self):
        self.ones = np.zeros(CONTEXTS, np.int64)
        self.seen = np.zeros(CONTEXTS, np.int64)

    def probabilities(self, contexts: np.ndarray) -> np.ndarray:
        """Each point's probability of a set bit (float32, computed alike on both sides)."""
        return ((self.ones + 0.5) / (self.seen + 1.0)).astype(np.float32)[contexts]

    def add(self, symbols: np.ndarray, contexts: np.ndarray) -> None:
        self.seen += np.bincount(contexts, minlength=CONTEXTS)
        self.ones += np.bincount(contexts[symbols.astype(bool)], minlength=CONTEXTS)


def _groups(n: int):
    """(start, stop) of a pass's groups: GROUP points, then twice as many each time."""
    start, size = 0, GROUP
    while start < n:
        yield start, min(n, start + size)
        start, size = start + size, 2 * size


def _passes(shape: tuple[int, ...], known: np.ndarray):
    """(the pass's points as slices, their contexts in C order, the counts) pass by pass, coarse
    to fine; ``known`` holds every point decoded before a pass when it is asked for its
    contexts (the encoder passes the whole array: it reads only those points)."""
    if not math.prod(shape):
        return
    counts = _Counts()
    yield tuple(slice(0, 1) for _ in shape), np.zeros(1, np.int8), counts
    top = max((max(n - 1, 1)).bit_length() for n in shape)
    for k in range(top - 1, -1, -1):
        d = 1 << k
        for axis, n in enumerate(shape):
            if n <= d:
                continue
            # Along ``axis`` every d-th point (the known even ones, the new odd ones); along the
            # axes before it every d-th, after it every 2d-th: what is known at this pass.
            grid = tuple(slice(0, None, d if a <= axis else 2 * d) for a in range(len(shape)))
            points = grid[:axis] + (slice(d, None, 2 * d),) + grid[axis + 1:]
            yield points, _contexts(known[grid], axis).reshape(-1), counts


def _contexts(grid: np.ndarray, axis: int) -> np.ndarray:
    """The contexts of ``grid``'s odd points along ``axis`` from its even (known) points: how
    many of the two beside each are set, and the ring's bucket (see the module's notes)."""
    # int8 throughout (a ring holds at most 24 points): a pass of a big chunk stays small.
    even = np.moveaxis(grid[(slice(None),) * axis + (slice(0, None, 2),)], axis, 0).astype(np.int8)
    new = grid.shape[axis] // 2
    ring_set, ring_seen = np.zeros(even.shape, np.int8), np.zeros(even.shape, np.int8)
    for other in range(1, even.ndim):
        m = even.shape[other]
        if m < 2:
            continue
        lower = (slice(None),) * other + (slice(0, m - 1),)
        upper = (slice(None),) * other + (slice(1, m),)
        ring_set[upper] += even[lower]  # the neighbour before, along ``other``
        ring_set[lower] += even[upper]  # and after
        ring_seen[upper] += 1
        ring_seen[lower] += 1
    # The two known points beside each new one; past the end, the one before counts twice.
    before = np.arange(new)
    after = np.where(before + 1 < len(even), before + 1, before)
    pair = even[before] + even[after]
    ring_set, ring_seen = ring_set[before] + ring_set[after], ring_seen[before] + ring_seen[after]
    # The ring's share, bucketed without division: none, under half, half, over half, all.
    twice = 2 * ring_set
    ring = np.where(ring_seen == 0, 2, np.where(ring_set == 0, 0, np.where(
        ring_set == ring_seen, 4, np.where(twice < ring_seen, 1, np.where(twice == ring_seen, 2, 3)))))
    return np.moveaxis((pair * RING_BUCKETS + ring).astype(np.int8), 0, axis)
