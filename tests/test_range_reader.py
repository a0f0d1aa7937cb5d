"""The compiled range decoder (kernels._range_decode, read through rangecoder.RangeReader) reads
constriction's streams symbol for symbol: the same fixed-point tables, the same state, the same
answer on bytes that are no stream. Chunks decode to the same bytes with it and without."""

import json
from pathlib import Path

import constriction
import numcodecs
import numpy as np
import pytest

from inrcodec.coding import kernels, rangecoder
from inrcodec.coding.bytes import ContainerError
from inrcodec.coding.rangecoder import RangeReader, decode_buckets, quantized_cdf, words
from inrcodec.coding.tables import CONTEXTS, SCALE_CODES, SCALE_LOW, SHAPES, UNIFORM, table

pytestmark = pytest.mark.skipif(kernels.compiled() is None, reason="numba is not installed")

SCALE = (2 ** 64 - 1) >> 24  # the first symbol's scale: the point's quantile is point // SCALE



def first_symbol(model, point: int) -> int:
    """What constriction decodes first from a stream whose first 64 bits are ``point``."""
    return int(constriction.stream.queue.RangeDecoder(
        np.array([point >> 32, point & 0xFFFFFFFF], np.uint32)).decode(model, 1)[0])


def test_the_quantized_tables_are_constrictions():
    """Each left end pinned: a point at the end's quantile decodes the symbol, one below it the
    symbol before. Every symbol of the narrow tables, a sample of the wide ones."""
    rng = np.random.default_rng(0)
    tables = [(UNIFORM, np.full(SCALE_CODES, 1.0 / SCALE_CODES, np.float32))]
    tables += [(model, p) for code in range(SCALE_LOW, SCALE_LOW + SCALE_CODES, 3)
               for shape in range(len(SHAPES)) for _, p, model in [table(code, shape)]]
    for model, p in tables:
        cdf = quantized_cdf(p).astype(np.int64)
        assert cdf[0] == 0 and cdf[-1] == 1 << 24 and np.all(np.diff(cdf) > 0)
        symbols = np.arange(1, p.size) if p.size <= 66 else np.unique(np.concatenate(
            [[1, p.size // 2, p.size // 2 + 1, p.size - 1], rng.integers(1, p.size, 24)]))
        for s in symbols:
            assert first_symbol(model, SCALE * int(cdf[s])) == s
            assert first_symbol(model, SCALE * int(cdf[s]) - 1) == s - 1


def random_steps(rng, steps: int):
    """(cells, shape, q, bucket) of steps with random tables, wide q and escapes."""
    out = []
    for _ in range(steps):
        shape = int(rng.integers(len(SHAPES)))
        cells = sorted(int(c) for c in rng.integers(SCALE_LOW, SCALE_LOW + 60, CONTEXTS))
        n = int(rng.integers(1, 3000))
        bucket = rng.integers(0, CONTEXTS, n).astype(np.int8)
        if rng.random() < 0.5:
            bucket[:] = 0
        rms = np.array([2.0 ** (c / 4) for c in cells])[bucket]
        q = np.rint(rng.laplace(size=n) * rms).astype(np.int64)
        q[rng.random(n) < 0.01] = rng.integers(-10 ** 6, 10 ** 6)  # escapes
        out.append((cells, shape, q, bucket))
    return out


def written(steps) -> tuple[bytes, list]:
    """The steps range-coded as the coders code them: a uniform symbol, then bucket by bucket."""
    segments, escapes = [(UNIFORM, np.array([5], np.int32))], []
    for cells, shape, q, bucket in steps:
        order = np.argsort(bucket, kind="stable")
        for b in range(CONTEXTS):
            k, _, model = table(cells[b], shape)
            chosen = q[order][bucket[order] == b]
            out = np.abs(chosen) > k
            escapes += chosen[out].tolist()
            if chosen.size:
                segments.append((model, np.where(out, 2 * k + 1, chosen + k).astype(np.int32)))
    return rangecoder.range_code(segments), escapes


def read(data: bytes, steps, escapes: list, compiled: bool) -> list:
    reader = RangeReader(data, 0)
    assert reader.compiled == compiled
    pending = iter(escapes)
    got = [reader.uniform()]
    for cells, shape, _, bucket in steps:
        got.append(reader.buckets(bucket, cells, shape, pending))
    return got


@pytest.mark.parametrize("seed", range(4))
def test_the_compiled_reader_reads_what_constriction_wrote(every_call_compiled, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    steps = random_steps(rng, 12)
    data, escapes = written(steps)
    got = read(data, steps, escapes, compiled=True)
    assert got[0] == 5
    for (_, _, q, _), decoded in zip(steps, got[1:]):
        assert np.array_equal(decoded, q)
    monkeypatch.setattr(kernels, "compiled", lambda: None)
    assert all(np.array_equal(a, b) for a, b in zip(read(data, steps, escapes, compiled=False), got))


def test_bytes_that_are_no_stream_read_alike(every_call_compiled):
    """Random and cut bytes: both readers give the same symbols, or both refuse."""
    rng = np.random.default_rng(7)
    data, _ = written(random_steps(rng, 3))
    cases = [rng.bytes(int(n)) for n in rng.integers(0, 64, 200)] + [data[:n] for n in range(len(data))]
    cases += [bytes([255] * 16), b"\xff\xff\xff\xff\xff\xff\xff\xfe"]
    bucket = (np.arange(400) % CONTEXTS).astype(np.int8)
    cells = [SCALE_LOW + 40] * 3 + [SCALE_LOW + 2] * 3
    for stream in cases:
        reader, decoder = RangeReader(stream, 0), constriction.stream.queue.RangeDecoder(words(stream))
        assert reader.compiled
        escapes = list(range(10 ** 4))
        try:
            expected = decode_buckets(decoder, bucket, cells, 1, iter(escapes))
        except (AssertionError, ContainerError):
            expected = None
        try:
            got = reader.buckets(bucket, cells, 1, iter(escapes))
        except ContainerError:
            got = None
        assert (got is None) == (expected is None)
        if got is not None:
            assert np.array_equal(got, expected)


def test_a_uniform_point_past_every_symbol_is_refused_alike(every_call_compiled):
    """A point at the top of the first range lies past a table whose last symbol ends below
    2**24 x scale: constriction refuses it, and so does the compiled reader."""
    stream = b"\xff" * 8
    with pytest.raises(AssertionError):
        constriction.stream.queue.RangeDecoder(words(stream)).decode(UNIFORM, 1)
    with pytest.raises(ContainerError):
        RangeReader(stream, 0).uniform()


FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("v*/*/*.bin"))


def test_every_fixture_decodes_to_the_same_bytes_compiled(monkeypatch):
    """Every stored chunk of every version: the compiled reader from the first point, then
    constriction's."""
    def decode_all():
        out = []
        for path in FIXTURES:
            codec = numcodecs.get_codec(json.loads((path.parent / "codec.json").read_text()))
            out.append(np.asarray(codec.decode(path.read_bytes())).tobytes())
        return out

    monkeypatch.setattr(kernels, "LOAD_AFTER_WORK", 0)
    compiled = decode_all()
    monkeypatch.setattr(kernels, "compiled", lambda: None)
    assert decode_all() == compiled


def test_an_empty_residual_stream_reads_as_constrictions(every_call_compiled, monkeypatch):
    """The residual section drops its stream's trailing zero bytes: a stream of the first
    symbol alone is no bytes at all, which constriction reads as zeros."""
    from inrcodec.coding import residual

    sections = [residual.encode(np.array(q, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))
                for q in ([-1], [-1] * 5, [-3, -3], [2, -2, 0, 1])]
    assert sections[0] == bytes.fromhex("080100")  # (nothing after the header)
    compiled = [residual.decode(b, n, np.dtype(np.float32))[0] for b, n in zip(sections, (1, 5, 2, 4))]
    monkeypatch.setattr(kernels, "compiled", lambda: None)
    numpy = [residual.decode(b, n, np.dtype(np.float32))[0] for b, n in zip(sections, (1, 5, 2, 4))]
    assert all(np.array_equal(a, b) for a, b in zip(compiled, numpy))
    assert compiled[2].tolist() == [-3, -3]


@pytest.mark.parametrize("shape", [(0, 300), (300, 0), (0, 64, 64), (1, 300)])
def test_a_chunk_that_claims_an_empty_axis_reads_alike(monkeypatch, shape):
    """A wavelet chunk re-headed with an axis of length 0 (or 1): the compiled band contexts
    skip such an axis as numpy's do (they read past its end once)."""
    import dataclasses

    from inrcodec.coding.container import Container

    folder = Path(__file__).parent / "fixtures" / "v7" / "latents_floor"
    codec = numcodecs.get_codec(json.loads((folder / "codec.json").read_text()))
    c = Container.from_bytes((folder / "f2.bin").read_bytes(), codec.model.hash)
    chunk = dataclasses.replace(c, shape=shape).to_bytes(codec.model.hash)

    def read():
        try:
            return np.asarray(codec.decode(chunk)).tobytes()
        except ContainerError as e:
            return type(e)

    monkeypatch.setattr(kernels, "LOAD_AFTER_WORK", 0)
    compiled = read()
    monkeypatch.setattr(kernels, "compiled", lambda: None)
    assert read() == compiled


@pytest.mark.parametrize("seed", range(3))
def test_points_not_coded_are_skipped_and_read_as_zero(every_call_compiled, seed):
    """A compiled reader given buckets NOT_CODED (missing points, as the interpolation decoder
    marks them) reads the coded points' q from a stream of those alone, and 0 elsewhere; one
    bucket holding most points, or none coded at all, as in the steps of a masked field."""
    rng = np.random.default_rng(seed)
    steps = random_steps(rng, 8)
    for _, _, _, bucket in steps[::2]:
        bucket[rng.random(bucket.size) < 0.97] = 1  # one bucket holds most points
    coded = [rng.random(q.size) >= rng.choice([0.0, 0.3, 1.0]) for _, _, q, _ in steps]
    data, escapes = written([(cells, shape, q[c], bucket[c])
                             for (cells, shape, q, bucket), c in zip(steps, coded)])
    reader, pending = RangeReader(data, 0), iter(escapes)
    assert reader.compiled and reader.uniform() == 5
    for (cells, shape, q, bucket), c in zip(steps, coded):
        marked = np.where(c, bucket, kernels.NOT_CODED).astype(np.int8)
        assert np.array_equal(reader.buckets(marked, cells, shape, pending), np.where(c, q, 0))
    assert next(pending, None) is None


def test_masked_chunks_decode_alike_with_points_skipped(every_call_compiled, numpy_only):
    """A field with an island and a step whose points are all missing decodes to the same bytes
    with the compiled reader (missing points skipped in the stream's buckets) and with numpy."""
    from inrcodec import INRCodec

    y, x = np.mgrid[:96, :130] / 40.0
    field = (280 + 10 * np.sin(x) * np.cos(2 * y)).astype(np.float32)
    field[(x - 1.5) ** 2 + (y - 1.2) ** 2 < 0.8] = np.nan  # an island
    field[::2, 1::2] = np.nan  # a step's target points all missing
    for codec in (INRCodec("linear-2d", max_error=0.05), INRCodec("linear-2d", relative_error=1e-3)):
        encoded = codec.encode(field[None])
        numpy_only(True)
        expected = codec.decode(encoded)
        numpy_only(False)
        got = codec.decode(encoded)
        assert np.array_equal(np.asarray(got).view(np.uint32), np.asarray(expected).view(np.uint32))


def test_masked_chunks_decode_alike_step_by_step(every_call_compiled, numpy_only, monkeypatch):
    """The step by step compiled reader (chunks over SWEPT_POINTS) skips missing points too:
    its predicting kernel marks them NOT_CODED, as ``predict`` with the coded points taken out
    would leave them, and a masked chunk decodes as numpy decodes it."""
    from inrcodec.coding import interp
    from inrcodec.coding.interp import stream
    from inrcodec.coding.interp.sweep import Sweep

    rng = np.random.default_rng(5)
    y, x = np.mgrid[:120, :130] / 40.0
    field = 280 + 10 * np.sin(x) * np.cos(2 * y) + rng.normal(size=x.shape)
    missing = rng.random(field.shape) < 0.3
    missing[(x - 1.5) ** 2 + (y - 1.2) ** 2 < 0.8] = True
    sweep = Sweep(field.shape, 0.05, missing, True, 1)
    sweep.recon[...] = field
    for step in sweep.steps:
        pred, bucket = sweep.predict(step)
        marked = sweep.predict_marked(step)
        assert np.array_equal(marked[0], pred)
        expected = bucket if step.coded is None else np.where(step.coded, bucket, kernels.NOT_CODED)
        assert np.array_equal(marked[1], expected)
    monkeypatch.setattr(stream, "SWEPT_POINTS", 0)
    for half in (0.05, 0.5):
        data, recon = interp.encode(field, half, missing)
        got = interp.decode(data, field.shape, half, missing)
        numpy_only(True)
        expected = interp.decode(data, field.shape, half, missing)
        numpy_only(False)
        assert np.array_equal(got.view(np.int64), expected.view(np.int64))
        assert np.array_equal(got.view(np.int64), recon.view(np.int64))
