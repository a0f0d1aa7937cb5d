"""What a Zarr store holds, read through zarr's public API: which arrays inrcodec encodes, and
the bytes their chunks take (``inrcodec info``, the cluster's resumable writes, the examples).

zarr's stores are asynchronous and its own way of waiting on them is private, so each look
runs on an event loop of its own.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

METADATA_KEYS = (".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json")  # formats 2 and 3


def inrcodec_of(array):
    """The INRCodec that encodes a Zarr array, whichever format; None for other arrays."""
    from .codecs.numcodecs import INRCodec

    for codec in (*array.compressors, array.serializer):
        if isinstance(codec, INRCodec):
            return codec
        if hasattr(codec, "codec") and isinstance(codec.codec, INRCodec):
            return codec.codec
    return None


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
    store, prefix = array.store, _key(array, "")

    async def total() -> int:
        size = 0
        async for key in store.list_prefix(prefix):
            name = key.rsplit("/", 1)[-1]
            if name not in METADATA_KEYS and not name.endswith(".partial"):
                size += await store.getsize(key)
        return size

    return _wait(total())


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
