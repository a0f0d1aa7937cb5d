"""What a Zarr store holds, read through zarr's public API: which arrays inrcodec encodes, the
bytes their chunks and metadata take, and the kind of each chunk (``inrcodec info``, the
cluster's resumable writes and its report, the examples).

zarr's stores are asynchronous and its own way of waiting on them is private, so each look
runs on an event loop of its own.
"""

import asyncio
import math
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .coding.container import peek_kind
from .coding.kinds import NETWORK_KINDS, Kind

METADATA_KEYS = (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")  # formats 2 and 3
HEADER_BYTES = 6  # enough for the kind of a chunk of any version (bytes 2-3, or 5 for 1-2)


def inrcodec_of(array):
    """The INRCodec that encodes a Zarr array, whichever format; None for other arrays.

    It is found inside a wrapper that keeps its codec in ``.codec``: inrcodec's Zarr v3
    serializer, or numcodecs-safeguards' ``SafeguardedCodec``.
    """
    from .codecs.numcodecs import INRCodec

    for codec in (*array.compressors, array.serializer):
        for _ in range(3):
            if isinstance(codec, INRCodec):
                return codec
            codec = getattr(codec, "codec", None)
    return None


def stored_chunk(array, chunk_coords: tuple[int, ...]) -> bytes | None:
    """The bytes of one chunk as stored, or None while the store does not hold it."""
    from zarr.buffer import default_buffer_prototype

    key = _key(array, array.metadata.encode_chunk_key(chunk_coords))

    async def get() -> bytes | None:
        found = await array.store.get(key, prototype=default_buffer_prototype())
        return None if found is None else found.to_bytes()

    return _wait(get())


def delete_chunk(array, chunk_coords: tuple[int, ...]) -> None:
    """Remove one stored chunk (nothing happens where there is none)."""
    key = _key(array, array.metadata.encode_chunk_key(chunk_coords))
    _wait(array.store.delete(key))


def stored_chunk_size(array, chunk_coords: tuple[int, ...]) -> int | None:
    """Bytes of one encoded chunk as stored, or None while the store does not hold it."""
    key = _key(array, array.metadata.encode_chunk_key(chunk_coords))

    async def size() -> int | None:
        if not await array.store.exists(key):
            return None
        return await array.store.getsize(key)

    return _wait(size())


def stored_chunk_bytes(array) -> int:
    """Bytes of the encoded chunks of ``array`` in its store (metadata, and the model, excluded;
    so are a write's unfinished ``.partial`` files)."""
    return stored_bytes(array)[0]


def stored_bytes(array) -> tuple[int, int]:
    """(bytes of the array's chunks, bytes of its own metadata files) in its store."""
    store, prefix = array.store, _key(array, "")

    async def total() -> tuple[int, int]:
        chunks = metadata = 0
        async for key in store.list_prefix(prefix):
            name = key.rsplit("/", 1)[-1]
            if name in METADATA_KEYS:
                metadata += await store.getsize(key)
            elif not name.endswith(".partial"):
                chunks += await store.getsize(key)
        return chunks, metadata

    return _wait(total())


def store_size(store) -> tuple[int, int]:
    """(bytes, number of files) of everything a store holds: chunks, metadata, coordinates."""
    async def total() -> tuple[int, int]:
        size = files = 0
        async for key in store.list():
            if not key.endswith(".partial"):
                size, files = size + await store.getsize(key), files + 1
        return size, files

    return _wait(total())


def disk_usage(path) -> int | None:
    """What ``du`` says a local store takes (its files' and folders' allocated blocks), or None
    for a store that is not a local folder. Small chunk files round up to whole blocks."""
    root = Path(path)
    if not root.is_dir():
        return None
    used = os.lstat(root).st_blocks
    for folder, dirs, files in os.walk(root):
        used += sum(os.lstat(os.path.join(folder, n)).st_blocks for n in (*dirs, *files))
    return 512 * used


def chunk_kind(header: bytes) -> str | None:
    """The kind's name of an inrcodec chunk (``"LATENTS"``, ``"SPATIAL"``, ...) from its first
    bytes, unchecked; None for bytes that are no inrcodec chunk."""
    kind = peek_kind(header)
    return None if kind is None else kind.name


def chunk_kinds(array, limit: int | None = 1000) -> tuple[Counter, int]:
    """(how many chunks of each kind, how many chunks the store holds) of an inrcodec array.

    Only each chunk's first bytes are read. With more than ``limit`` chunks stored, ``limit``
    of them, evenly spaced, are read: the counts then cover those (their sum says how many).
    """
    from zarr.abc.store import RangeByteRequest
    from zarr.buffer import default_buffer_prototype

    store, prefix = array.store, _key(array, "")
    inner = _shard_index_bytes(array)

    async def head(key: str, start: int = 0):
        return await store.get(key, prototype=default_buffer_prototype(),
                               byte_range=RangeByteRequest(start, start + HEADER_BYTES))

    async def look() -> tuple[Counter, int]:
        keys = [k async for k in store.list_prefix(prefix)
                if k.rsplit("/", 1)[-1] not in METADATA_KEYS and not k.endswith(".partial")]
        keys.sort()
        if inner is not None:  # each key a shard: its chunks' places read from its index
            return await look_in_shards(keys)
        chosen = keys if limit is None or len(keys) <= limit else [
            keys[i * len(keys) // limit] for i in range(limit)]
        heads = await asyncio.gather(*(head(k) for k in chosen))
        return Counter(chunk_kind(h.to_bytes()) or "other" for h in heads if h is not None), len(keys)

    async def look_in_shards(keys: list[str]) -> tuple[Counter, int]:
        from zarr.abc.store import SuffixByteRequest

        indexes = await asyncio.gather(*(store.get(k, prototype=default_buffer_prototype(),
                                                   byte_range=SuffixByteRequest(inner))
                                         for k in keys))
        places = [(k, int(o)) for k, index in zip(keys, indexes) if index is not None
                  for o in np.frombuffer(index.to_bytes()[:inner - 4], "<u8")[0::2]
                  if o != np.iinfo(np.uint64).max]  # (an empty chunk's offset)
        chosen = places if limit is None or len(places) <= limit else [
            places[i * len(places) // limit] for i in range(limit)]
        heads = await asyncio.gather(*(head(k, o) for k, o in chosen))
        return Counter(chunk_kind(h.to_bytes()) or "other" for h in heads if h is not None), len(places)

    return _wait(look())


def _shard_index_bytes(array) -> int | None:
    """The bytes of each shard's index (Zarr 3 sharding: an offset and a length a chunk, then
    a crc32c, at the shard's end), where the array is sharded so; else None."""
    codecs = getattr(array.metadata, "codecs", ())
    sharding = next((c for c in codecs if type(c).__name__ == "ShardingCodec"), None)
    if sharding is None:
        return None
    config = sharding.to_dict()["configuration"]
    names = [c["name"] for c in config["index_codecs"]]
    if config["index_location"] != "end" or names != ["bytes", "crc32c"]:
        raise ValueError("a sharded array whose shard index is not the default (at the end, "
                         "with a crc32c): its chunks' kinds cannot be read")
    chunks_per_shard = math.prod(s // c for s, c in zip(array.shards, array.chunks))
    return 16 * chunks_per_shard + 4


def describe_kinds(kinds: Counter) -> str:
    """``"12 by the network (LATENTS 10, BOUNDED_SPATIAL 2), 3 without it (SPATIAL 3)"``."""
    def part(names, label: str) -> str:
        found = {k: n for k, n in sorted(kinds.items()) if k in names}
        detail = ", ".join(f"{k} {n}" for k, n in found.items())
        return f"{sum(found.values())} {label}" + (f" ({detail})" if detail else "")

    others = [k for k in kinds if k not in NETWORK_KINDS]
    return f"{part(NETWORK_KINDS, 'by the network')}, {part(others, 'without it')}"


def kinds_legend(kinds) -> str:
    """What each kind named in ``kinds`` is, from the kinds table: ``"SPATIAL: spatial
    prediction within a bound; ..."``."""
    return "; ".join(f"{name}: {Kind[name].spec.legend}" for name in sorted(kinds)
                     if name in Kind.__members__)


def _key(array, name: str) -> str:
    """A key of the array's own folder in its store."""
    return f"{array.path}/{name}" if array.path else name


def _wait(coroutine):
    """The coroutine's result, on a new event loop (in a thread of its own where this thread
    already runs one, as in Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
