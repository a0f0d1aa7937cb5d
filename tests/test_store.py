"""Store inspection (inrcodec.store) on both Zarr formats, through zarr's public API only."""

import asyncio
from pathlib import Path

import pytest
import zarr

import inrcodec.store
from helpers import smooth_field
from inrcodec import INRCodec, INRSerializer
from inrcodec.store import (
    chunk_kinds,
    inrcodec_of,
    stored_bytes,
    stored_chunk,
    stored_chunk_bytes,
    stored_chunk_size,
)


def chunk_files(folder: Path) -> dict[str, int]:
    """Every file of an array's folder but its metadata, by name, with its size."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".z") and p.name != "zarr.json"}


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_chunks_are_found_and_counted_without_the_metadata(tmp_path, zarr_format):
    data = smooth_field((3, 37, 49), seed=1)
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=zarr_format)
    codec = ({"compressors": INRCodec()} if zarr_format == 2
             else {"serializer": INRSerializer(), "compressors": None})
    array = group.create_array("t", shape=data.shape, chunks=(1, 37, 49), dtype=data.dtype, **codec)
    array[:2] = data[:2]  # the third chunk is not written yet
    plain = group.create_array("p", shape=(4,), chunks=(2,), dtype="f4")

    files = chunk_files(tmp_path / "s.zarr" / "t")
    key = "{}.0.0" if zarr_format == 2 else "c/{}/0/0"
    assert set(files) == {key.format(0), key.format(1)}
    assert stored_chunk_bytes(array) == sum(files.values())
    assert [stored_chunk_size(array, (i, 0, 0)) for i in range(3)] == [
        files[key.format(0)], files[key.format(1)], None]
    assert isinstance(inrcodec_of(array), INRCodec) and inrcodec_of(plain) is None
    assert stored_chunk_bytes(plain) == 0
    folder = tmp_path / "s.zarr" / "t"
    assert stored_bytes(array) == (sum(files.values()), sum(
        p.stat().st_size for p in folder.iterdir() if p.name in (".zarray", ".zattrs", "zarr.json")))
    assert stored_chunk(array, (1, 0, 0)) == (folder / key.format(1)).read_bytes()
    assert stored_chunk(array, (2, 0, 0)) is None
    from collections import Counter

    from inrcodec.coding.container import Container

    kinds = Counter(Container.from_bytes((folder / key.format(i)).read_bytes(),
                                         inrcodec_of(array).model_hash).kind.name for i in (0, 1))
    assert chunk_kinds(array) == (kinds, 2)


def test_it_also_works_inside_a_running_event_loop(tmp_path):
    array = zarr.create_array(tmp_path / "a.zarr", shape=(4,), chunks=(2,), dtype="f4",
                              zarr_format=2)
    array[:] = 1.0

    async def look() -> int:  # as in Jupyter, where a loop already runs
        return stored_chunk_bytes(array)

    assert asyncio.run(look()) == stored_chunk_bytes(array) > 0


def test_only_zarrs_public_api_is_used():
    source = Path(inrcodec.store.__file__).read_text()
    assert "zarr.core" not in source and "store_path" not in source


def test_chunk_kinds_are_read_from_the_first_bytes_alone(tmp_path):
    import numpy as np

    from inrcodec.coding.container import Container
    from inrcodec.store import chunk_kind

    codec = INRCodec(min_psnr=None)
    field = smooth_field((1, 37, 49), seed=2)
    noise = np.random.default_rng(0).normal(size=(1, 37, 49)).astype(np.float32)
    chunks = {"LATENTS": field, "CONSTANT": np.full_like(field, 3.0),
              "EMPTY": np.full_like(field, np.nan)}
    for expected, values in chunks.items():
        data = codec.encode(values)
        assert chunk_kind(data[:6]) == Container.from_bytes(data, codec.model.hash).kind.name == expected
    bounded = INRCodec(max_error=1e-3).encode(noise)  # the network cannot predict noise
    assert chunk_kind(bounded[:6]) == Container.from_bytes(bounded, codec.model.hash).kind.name
    assert chunk_kind(b"\x28\xb5/\xfd\x00\x00") is None  # zstd's, not ours

    array = zarr.create_array(tmp_path / "k.zarr", shape=(4, 37, 49), chunks=(1, 37, 49),
                              dtype="f4", compressors=codec, zarr_format=2)
    array[:] = np.concatenate([field, field + 1, np.full_like(field, 3.0), field - 1])
    kinds, held = chunk_kinds(array)
    assert held == 4 and kinds == {"LATENTS": 3, "CONSTANT": 1}
    sampled, held = chunk_kinds(array, limit=2)
    assert held == 4 and sum(sampled.values()) == 2


def test_store_size_and_disk_usage_match_the_files_and_du(tmp_path):
    import subprocess

    from inrcodec.store import disk_usage, store_size

    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    array = group.create_array("t", shape=(3, 37, 49), chunks=(1, 37, 49), dtype="f4",
                               compressors=INRCodec(min_psnr=None))
    array[:] = smooth_field((3, 37, 49), seed=3)
    files = [p for p in (tmp_path / "s.zarr").rglob("*") if p.is_file()]
    assert store_size(group.store) == (sum(p.stat().st_size for p in files), len(files))
    chunks, metadata = stored_bytes(array)
    assert chunks == sum(chunk_files(tmp_path / "s.zarr" / "t").values())
    assert metadata == sum(p.stat().st_size for p in (tmp_path / "s.zarr" / "t").glob(".z*"))
    du = subprocess.run(["du", "-s", "-B1", str(tmp_path / "s.zarr")], capture_output=True,
                        text=True, check=True).stdout.split()[0]
    assert disk_usage(tmp_path / "s.zarr") == int(du)
