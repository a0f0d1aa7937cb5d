"""Cutting a chunk into the model's patches and putting it back together.

A chunk of n dimensions meets a model of d-dimensional patches (n >= d): the last d axes are
tiled by patches (padding the edges), and every index of the leading n - d axes is a separate
slice. A (12, 37, 49) chunk and a 2-D model of 37 x 49 patches give 12 patches.
"""

import math
from functools import lru_cache

import numpy as np


def patch_grid(chunk_shape: tuple[int, ...], patch_shape: tuple[int, ...]) -> tuple[int, ...]:
    """(slices, patches along each tiled axis) for a chunk of ``chunk_shape``."""
    d = len(patch_shape)
    lead = math.prod(chunk_shape[:-d]) if len(chunk_shape) > d else 1
    return (lead,) + tuple(-(-s // p) for s, p in zip(chunk_shape[-d:], patch_shape))


def count_patches(chunk_shape, patch_shape) -> int:
    return math.prod(patch_grid(chunk_shape, patch_shape))


def to_patches(values: np.ndarray, patch_shape: tuple[int, ...], pad_value=0) -> np.ndarray:
    """(patches, prod(patch_shape)) from a chunk; the padding holds ``pad_value``."""
    d = len(patch_shape)
    grid = patch_grid(values.shape, patch_shape)
    values = values.reshape((grid[0],) + values.shape[-d:])
    padding = [(0, 0)] + [(0, g * p - s) for g, p, s in zip(grid[1:], patch_shape, values.shape[1:])]
    padded = np.pad(values, padding, constant_values=pad_value)
    split = padded.reshape((grid[0],) + sum(((g, p) for g, p in zip(grid[1:], patch_shape)), ()))
    order = (0,) + tuple(range(1, 2 * d, 2)) + tuple(range(2, 2 * d + 1, 2))
    return split.transpose(order).reshape(math.prod(grid), math.prod(patch_shape))


def from_patches(patches: np.ndarray, chunk_shape: tuple[int, ...],
                 patch_shape: tuple[int, ...]) -> np.ndarray:
    """The chunk of ``chunk_shape`` that ``to_patches`` cut into ``patches``."""
    d = len(patch_shape)
    grid = patch_grid(chunk_shape, patch_shape)
    split = patches.reshape(grid + tuple(patch_shape))
    order = (0,) + sum(((1 + i, 1 + d + i) for i in range(d)), ())
    padded = split.transpose(order).reshape((grid[0],) + tuple(g * p for g, p in zip(grid[1:], patch_shape)))
    crop = (slice(None),) + tuple(slice(0, s) for s in chunk_shape[-d:])
    return padded[crop].reshape(chunk_shape)


PLACES_REMEMBERED = 1 << 22  # a chunk of up to this many points keeps its ``patch_places``


def patch_places(chunk_shape: tuple[int, ...], patch_shape: tuple[int, ...]) -> np.ndarray:
    """(patches, points) int32: where each patch point lies in the flat chunk of
    ``chunk_shape`` (C order; a chunk holds under 2^31 values), -1 on padding:
    ``from_patches`` as an index. Kept for a few shapes (an archive's chunks share a few) up
    to PLACES_REMEMBERED points: shared, never written."""
    if math.prod(chunk_shape) <= PLACES_REMEMBERED:
        return _remembered_places(chunk_shape, patch_shape)
    return _places(chunk_shape, patch_shape)


def _places(chunk_shape: tuple[int, ...], patch_shape: tuple[int, ...]) -> np.ndarray:
    index = np.arange(math.prod(chunk_shape), dtype=np.int32).reshape(chunk_shape)
    return np.ascontiguousarray(to_patches(index, patch_shape, pad_value=-1))


_remembered_places = lru_cache(maxsize=8)(_places)
