import math

import constriction
import numpy as np
import pytest

from inrcodec.coding.entropy import (
    RATE_WEIGHT,
    code_lengths,
    decode_symbols,
    encode_symbols,
    estimated_code_bits,
    portable_exp,
    probability_tables,
    rate_distortion_symbols,
    shortest_cut,
    symbol_models,
)
from inrcodec.coding.normalise import Normalisation, scale_from_code
from inrcodec.coding.quantize import LatentQuantizer


def test_portable_exp_matches_libm():
    x = np.linspace(-700, 700, 20001)
    assert np.allclose(portable_exp(x), [math.exp(v) for v in x], rtol=1e-14, atol=0)


@pytest.mark.parametrize("bits", [1, 3, 5, 8, 12])
def test_symbols_round_trip(bits):
    rng = np.random.default_rng(bits)
    std = rng.uniform(0.001, 1.0, 24).astype(np.float32)
    q = LatentQuantizer(rng.normal(size=24).astype(np.float32), std, bits)
    latents = q.mean + rng.standard_t(3, size=(50, 24)) * std  # heavy tails hit the clipping
    symbols = q.quantize(latents)
    assert symbols.min() >= q.low and symbols.max() < q.low + q.alphabet_size
    assert np.array_equal(decode_symbols(encode_symbols(symbols, q), 50, q), symbols)


def test_code_length_is_close_to_the_ideal():
    rng = np.random.default_rng(0)
    std = np.geomspace(0.01, 1, 32).astype(np.float32)
    q = LatentQuantizer(np.zeros(32, np.float32), std, 6)
    symbols = q.quantize(rng.logistic(size=(2000, 32)) * std * math.sqrt(3) / math.pi)
    tables = probability_tables(q)
    ideal = -np.log2(tables[np.arange(32), symbols - q.low]).sum() / 8
    assert len(encode_symbols(symbols, q)) <= ideal * 1.01 + 8


def test_rate_distortion_symbols_trade_error_for_bits_in_a_basis():
    rng = np.random.default_rng(1)
    std = np.geomspace(0.02, 1, 16).astype(np.float32)
    basis = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    q = LatentQuantizer(np.zeros(16, np.float32), std, 5, basis=basis)
    latents = q.latents(rng.logistic(size=(500, 16)) * std)
    nearest, chosen = q.quantize(latents), rate_distortion_symbols(latents, q)
    lengths, dims = code_lengths(q), np.arange(16)
    bits_nearest, bits_chosen = (lengths[dims, s - q.low] for s in (nearest, chosen))
    x = q.coefficients(latents) / q.step
    error_nearest, error_chosen = (x - nearest) ** 2, (x - chosen) ** 2
    # Never dearer than nearest rounding, never more extra error than the bits it saved.
    assert (bits_chosen <= bits_nearest + 1e-12).all() and bits_chosen.sum() < bits_nearest.sum()
    assert (error_chosen <= error_nearest + RATE_WEIGHT * (bits_nearest - bits_chosen) + 1e-9).all()
    assert not np.array_equal(chosen, nearest)
    assert np.array_equal(decode_symbols(encode_symbols(chosen, q), 500, q), chosen)


def test_rate_distortion_symbols_round_to_nearest_without_a_basis():
    rng = np.random.default_rng(2)
    q = LatentQuantizer(np.zeros(8, np.float32), np.ones(8, np.float32), 4)
    latents = rng.normal(size=(100, 8)).astype(np.float32)
    assert np.array_equal(rate_distortion_symbols(latents, q), q.quantize(latents))


def test_quantizer_step_and_errors():
    q = LatentQuantizer(np.zeros(2, np.float32), np.array([0.5, 2.0], np.float32), 4)
    assert q.step == 8 * 2.0 / 16
    z = np.array([[0.3, -1.1]])
    assert np.all(np.abs(q.dequantize(q.quantize(z)) - z) <= q.step / 2 + 1e-7)
    for bad in (0, 13, 2.5):
        with pytest.raises(ValueError, match="latent bits"):
            LatentQuantizer(np.zeros(2), np.ones(2), bad)


def test_normalisation_is_exact_and_close():
    values = np.random.default_rng(0).normal(287.3, 11.0, 1000)
    n = Normalisation.fit(values)
    assert n.scale == scale_from_code(n.scale_code)
    assert abs(n.scale / values.std() - 1) < 0.1 and abs(n.offset - values.mean()) < n.scale / 16
    assert np.allclose(n.invert(n.apply(values)), values)



def _longest_cut_that_decodes(data: bytes, decodes) -> bytes:
    """The oracle: every cut from the shortest (eight bytes dropped) up, by the decoder."""
    value = int.from_bytes(data, "big")
    for drop in range(min(len(data), 8), 0, -1):
        rounded = -(-value // 256 ** drop) * 256 ** drop
        if rounded < 256 ** len(data) and decodes(rounded.to_bytes(len(data), "big")[:-drop]):
            return rounded.to_bytes(len(data), "big")[:-drop]
    return data


def test_a_stream_is_cut_to_the_longest_cut_that_decodes():
    """The cut found from the coder's final interval is the one trying every cut with the
    decoder finds: for the latents' streams and for streams of up to 20,000 symbols, among them
    ones that end with words held back (constriction's inverted situation)."""
    rng = np.random.default_rng(3)
    q = LatentQuantizer(np.zeros(16, np.float32), np.geomspace(0.05, 1, 16).astype(np.float32), 6)
    drops, held_back = set(), 0
    for _ in range(60):
        symbols = q.quantize(rng.normal(size=(int(rng.integers(1, 30)), 16)) * q.std)
        encoder = constriction.stream.queue.RangeEncoder()
        for d, model in enumerate(symbol_models(q)):
            encoder.encode((symbols[:, d] - q.low).astype(np.int32), model)
        final = encoder.pos()
        data = encoder.get_compressed().astype(">u4").tobytes()

        def decodes(candidate: bytes, symbols=symbols) -> bool:
            try:
                return np.array_equal(decode_symbols(candidate, len(symbols), q), symbols)
            except AssertionError:
                return False

        longest = _longest_cut_that_decodes(data, decodes)
        assert shortest_cut(data, final) == longest == encode_symbols(symbols, q)
        drops.add(len(data) - len(longest))
    for _ in range(400):
        probs = rng.dirichlet(np.full(int(rng.integers(2, 40)), rng.choice([0.05, 1.0, 10.0])))
        probs = np.maximum(probs, 1e-5) / np.maximum(probs, 1e-5).sum()
        model = constriction.stream.model.Categorical(probs.astype(np.float32), perfect=False)
        symbols = rng.choice(len(probs), size=int(rng.integers(1, 20000)), p=probs).astype(np.int32)
        encoder = constriction.stream.queue.RangeEncoder()
        encoder.encode(symbols, model)
        final = encoder.pos()
        held_back += final[1][0] + final[1][1] >= 1 << 64  # the interval wraps: words held back
        data = encoder.get_compressed().astype(">u4").tobytes()

        def decodes(candidate: bytes, symbols=symbols, model=model) -> bool:
            padded = candidate + b"\0" * (-len(candidate) % 4 or 4)
            decoder = constriction.stream.queue.RangeDecoder(
                np.frombuffer(padded, ">u4").astype(np.uint32))
            try:
                return np.array_equal(decoder.decode(model, len(symbols)), symbols)
            except AssertionError:
                return False

        assert shortest_cut(data, final) == _longest_cut_that_decodes(data, decodes)
    assert len(drops) >= 3 and held_back >= 5  # cuts of several lengths; wrapped intervals


@pytest.mark.parametrize("model_name", ["linear-2d", "default-2d"])
def test_the_estimated_code_bits_come_just_under_the_tables(model_name):
    """``estimated_code_bits`` builds no table: the logistic at the symbols weighed alone,
    neither floored nor normalised, so never over the tables' ideal code length, and within
    3% of it from coarse to the finest resolution (a size budget's guide)."""
    from inrcodec.model import resolve

    model = resolve(model_name)
    latents = (np.random.default_rng(5).normal(size=(12, model.latent_dim))
               * model.quantizer(6).std).astype(np.float32)
    for bits, fraction in ((2, 0), (6, 8), (9, 3), (12, 15)):
        quantizer = model.quantizer(bits, fraction)
        symbols = rate_distortion_symbols(latents, quantizer)
        tabled = float(code_lengths(quantizer)[np.arange(symbols.shape[1]),
                                                symbols - quantizer.low].sum())
        estimate = estimated_code_bits(latents, quantizer)
        assert 0.97 * tabled <= estimate <= tabled + 1e-6, (bits, fraction)
