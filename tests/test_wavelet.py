"""The wavelet transform coder (coding/dwt.py, coding/wavelet.py) and the PSNR floor it keeps
(sections/transform.py, kind WAVELET)."""

import math

import numpy as np
import pytest
from test_modes import as_chunk, kind, power_law_field

from inrcodec import INRCodec
from inrcodec.coding import dwt, wavelet
from inrcodec.coding.bytes import ContainerError
from inrcodec.coding.container import VERSION, Container, Kind
from inrcodec.measure import psnr
from inrcodec.sections import transform

SHAPES = [(1,), (2,), (7,), (8,), (9,), (37, 49), (18, 432), (1, 145, 19), (3, 1, 7),
          (17, 9, 12), (2, 24, 11, 16)]


@pytest.mark.parametrize("shape", SHAPES)
def test_the_transform_inverts_on_any_shape(shape):
    x = np.random.default_rng(0).normal(size=shape) * 100
    levels = tuple(dwt.levels_of(n) for n in shape)
    coefficients = dwt.forward(x, levels)
    assert coefficients.shape == x.shape  # non-expansive
    assert np.abs(dwt.inverse(coefficients, levels) - x).max() < 1e-12 * 100
    # every coefficient lies in exactly one band
    cover = np.zeros(shape, int)
    for _, _, slices in dwt.bands(shape, levels):
        cover[slices] += 1
    assert (cover == 1).all()


def test_a_smooth_field_puts_its_energy_in_the_approximation():
    field = power_law_field((64, 64), slope=4.0).astype(np.float64)
    levels = (dwt.levels_of(64),) * 2
    coefficients = dwt.forward(field - field.mean(), levels)
    approximation = dwt.bands(field.shape, levels)[0][2]
    finest = [s for level, _, s in dwt.bands(field.shape, levels) if level == 1]
    gain = dwt.band_gain(field.shape, levels, levels[0] + 1, 0)
    fine = sum(float(np.sum(coefficients[s] ** 2)) for s in finest)
    assert gain * np.sum(coefficients[approximation] ** 2) > 100 * fine


@pytest.mark.parametrize("shape", SHAPES)
def test_the_decoder_rebuilds_the_encoders_reconstruction_bit_for_bit(shape):
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(size=shape), axis=-1) + 50
    missing = rng.random(shape) < 0.2
    missing.flat[0] = False
    for m in (None, missing):
        section, recon = wavelet.encode(np.where(m, np.nan, x) if m is not None else x, -8, m)
        assert np.array_equal(wavelet.decode(section, shape), recon)
        known = slice(None) if m is None else ~m
        assert np.sqrt(np.mean((recon[known] - x[known]) ** 2)) < 0.5


def test_the_error_follows_the_step():
    # At a fine step every band's error is uniform, step / sqrt(12) in the values: the band
    # gains make the one step mean the same error everywhere.
    field = power_law_field((1, 90, 120)).astype(np.float64) * 10
    coefficients = wavelet.Coefficients(field)
    for code in (-64, -48):
        rms = np.sqrt(np.mean((coefficients.reconstruction(code)[0] - field) ** 2))
        assert rms == pytest.approx(wavelet.step_of(code) / np.sqrt(12), rel=0.15)
    sizes = [len(coefficients.section(code)) for code in (-64, -48, -32, 0)]
    assert sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("shape, slope, missing", [((90, 120), 3.0, False), ((90, 120), 1.0, False),
                                                   ((6, 40, 50), 4.0, False), ((90, 120), 3.0, True)])
def test_the_coefficients_alone_estimate_a_reconstructions_error(shape, slope, missing):
    """From coarse steps (most coefficients zeroed) to fine ones, on smooth and rough fields,
    in 3-D and with missing points (filled; the error over every point): the estimate is
    within 10% (0.8 dB; 1-3% on A1B's fields) of the reconstruction's rms error."""
    field = power_law_field(shape, slope=slope).astype(np.float64)
    mask = None
    if missing:
        mask = np.zeros(shape, bool)
        mask[20:50, 30:70] = True
    coefficients = wavelet.Coefficients(field, mask)
    filled = field if mask is None else wavelet.fill(field, mask)
    for code in range(-80, 33, 16):
        real = np.sqrt(np.mean((coefficients.reconstruction(code)[0] - filled) ** 2))
        assert coefficients.estimated_rms(code) == pytest.approx(real, rel=0.1), code


def test_the_floors_step_search_starts_where_the_coefficients_say(monkeypatch):
    """A1B's test fields at 30-50 dB floors: the search's first reconstruction is within
    1 dB of the floor, and it keeps the floor in at most three (1.4-1.8 on average; from a
    uniform quantizer's step, as before, 2.7-6.5 and up to eight)."""
    from inrcodec.sample_data import A1B_TEST, load_a1b

    fields = load_a1b()[A1B_TEST]
    tries = []
    original = wavelet.Coefficients.reconstruction

    def counted(self, code):
        tries.append(code)
        return original(self, code)

    for field in fields[::8]:
        chunk = as_chunk(field[None])
        for db in (30.0, 40.0, 50.0):
            target = chunk.value_range * 10 ** (-db / 20)
            coefficients = wavelet.Coefficients(chunk.array.astype(np.float64))
            tries.clear()
            with monkeypatch.context() as watched:
                watched.setattr(wavelet.Coefficients, "reconstruction", counted)
                code, _ = transform._coarsest(chunk, coefficients, target, 0.0, None)
            first = np.sqrt(np.mean((original(coefficients, tries[0])[0] - field) ** 2))
            assert abs(20 * math.log10(first / target)) < 1.0 and code is not None
            assert len(tries) <= 3, (db, tries)


def test_missing_points_are_filled_smoothly():
    field = power_law_field((40, 50), slope=4.0).astype(np.float64)
    missing = np.zeros(field.shape, bool)
    missing[10:25, 5:30] = True
    filled = wavelet.fill(field, missing)
    assert np.array_equal(filled[~missing], field[~missing])
    assert field[~missing].min() <= filled[missing].min() <= filled[missing].max() <= field[~missing].max()


@pytest.mark.parametrize("shape", [(60, 90), (20, 24, 28)])
def test_the_relaxed_fill_costs_the_wavelet_fewer_bits_than_block_averages(shape):
    field = power_law_field(shape, slope=4.0).astype(np.float64)
    missing = power_law_field(shape, slope=3.0, seed=7) > 0.5
    missing |= np.roll(missing, 3, axis=-1)  # a ragged coast
    assert 0.1 < missing.mean() < 0.7
    code = int(16 * np.log2(float(np.ptp(field)) * 1e-2))
    sizes = {sweeps: len(wavelet.encode(wavelet.fill(field, missing, sweeps), code)[0])
             for sweeps in (0, wavelet.RELAX_SWEEPS)}
    assert sizes[wavelet.RELAX_SWEEPS] < 0.9 * sizes[0]


@pytest.mark.parametrize("slope", wavelet.SLOPES)
def test_a_section_of_every_slope_decodes_bit_for_bit(slope, monkeypatch):
    real = wavelet.plan
    monkeypatch.setattr(wavelet, "plan", lambda levels, symbols, slopes: real(
        levels, symbols, slopes=(slope,)))
    field = power_law_field((40, 60), slope=3.0).astype(np.float64)
    section, recon = wavelet.encode(field, -24)
    assert section[0] >> 2 & 3 == wavelet.SLOPES.index(slope)
    assert np.array_equal(wavelet.decode(section, field.shape), recon)


def test_the_section_takes_the_slope_of_fewest_bits():
    field = power_law_field((73, 144), slope=2.5).astype(np.float64)  # rough, like wind
    sizes = {}
    for slope in wavelet.SLOPES:
        coefficients = wavelet.Coefficients(field)
        plan_, _, symbols = coefficients._quantized(-40, contexts=True)
        sizes[slope] = wavelet.plan(plan_.band_levels, symbols, slopes=(slope,))[3]
    chosen = wavelet.SLOPES[wavelet.encode(field, -40)[0][0] >> 2 & 3]
    assert sizes[chosen] == min(sizes.values())


def test_corrupted_sections_are_refused():
    section, _ = wavelet.encode(power_law_field((30, 40)).astype(np.float64), -40)
    with pytest.raises(ContainerError):
        wavelet.decode(bytes([64 | section[0]]) + section[1:], (30, 40))  # a third axis
    with pytest.raises(ContainerError):
        wavelet.decode(section[:2] + bytes([200, 1]) + section[4:], (30, 40))  # escape count
    from inrcodec.coding.bytes import svarint

    with pytest.raises(ContainerError, match="step out of range"):
        wavelet.decode(section[:1] + svarint(10 ** 9) + section[2:], (30, 40))
    with pytest.raises(ContainerError, match="escaped value out of range"):
        wavelet.decode(section[:2] + bytes([1]) + svarint(2 ** 55) + section[3:], (30, 40))
    # (a truncated stream can decode to something: the chunk's checksum is what refuses it)


def test_a_step_too_fine_for_the_values_is_refused():
    with pytest.raises(ValueError, match="too fine"):
        wavelet.encode(np.array([0.0, 1e30, 3.0, 4.0]), -200)


def test_an_unseen_smooth_field_keeps_the_floor_in_fewer_bits_than_spatial_prediction(monkeypatch):
    field = power_law_field((1, 96, 120), slope=4.0) * 3 + 280
    codec = INRCodec("universal-2d", min_psnr=40)
    data = codec.encode(field)
    assert kind(codec, data) == Kind.WAVELET
    assert psnr(field, codec.decode(data).reshape(field.shape)) >= 40
    monkeypatch.setattr(transform, "plan_floor",
                        lambda chunk, floor, prediction=None, smaller_than=None: None)
    without = codec.encode(field)
    assert kind(codec, without) == Kind.SPATIAL
    assert len(data) < 0.8 * len(without)


def test_a_floor_past_the_networks_reach_codes_its_residual(a1b, monkeypatch):
    field = a1b[200:201]
    codec = INRCodec(min_psnr=50)  # the bundled model reaches about 45 dB on its own
    data = codec.encode(field)
    assert kind(codec, data) == Kind.LATENTS_WAVELET
    assert 50 <= psnr(field, codec.decode(data).reshape(field.shape)) < 50.6
    original = transform.encode_floor
    monkeypatch.setattr(transform, "encode_floor",
                        lambda chunk, floor, prediction=None, smaller_than=None:
                        None if prediction is not None
                        else original(chunk, floor, smaller_than=smaller_than))
    assert len(data) < 0.8 * len(codec.encode(field))  # the bound search's or the values'


def test_least_bits_bound_every_section_from_below_and_come_near_it():
    bounds = []
    for seed, slope, code in [(0, 2.5, -40), (1, 3.5, -20), (2, 4.0, 0), (3, 3.0, 16)]:
        coefficients = wavelet.Coefficients(power_law_field((1, 60, 70), slope=slope, seed=seed) * 5)
        plan_, _, symbols = coefficients._quantized(code, contexts=True)
        bound, coded = wavelet.least_bits(plan_.band_levels, symbols), 8 * len(coefficients.section(code))
        assert bound <= coded
        assert coefficients.section(code, smaller_than=math.floor(bound / 8)) is None
        bounds.append(bound / coded)
    assert min(bounds) > 0.5, bounds  # a bound that prunes


def test_the_floors_wavelet_section_is_not_coded_where_the_latents_take_fewer_bytes(
        a1b, monkeypatch):
    """Its step is found first (reconstructions alone); its section, most of a small chunk's
    encode, is coded only where it could be the smaller (its symbols' entropy says it cannot
    here): the same bytes either way."""
    field = a1b[200:201]
    codec = INRCodec()  # the bundled linear model has learned these fields
    coded, range_code = [], wavelet.range_code
    monkeypatch.setattr(wavelet, "range_code", lambda segments: coded.append(1) or range_code(segments))
    data = codec.encode(field)
    assert kind(codec, data) == Kind.LATENTS and coded == []
    monkeypatch.setattr(transform.Floor, "least_bytes", property(lambda self: -math.inf))
    assert codec.encode(field) == data and len(coded) == 1


def test_the_floor_is_kept_near_the_floor_with_nans_and_integers():
    field = power_law_field((1, 60, 70), slope=3.5) * 3 + 280
    with_nans = field.copy()
    with_nans[0, 20:40, :30] = np.nan
    integers = np.rint(power_law_field((1, 60, 70), slope=3.5, seed=3) * 900 + 2000).astype("i2")
    for array in (with_nans, integers):
        chunk = as_chunk(array) if array.dtype.kind == "i" else None
        codec = INRCodec("universal-2d", min_psnr=35)
        data = codec.encode(array)
        decoded = codec.decode(data).reshape(array.shape)
        assert np.array_equal(np.isnan(decoded), np.isnan(array)) if array.dtype.kind == "f" else True
        assert 35 <= psnr(array, decoded) < 35.6
        if chunk is not None:
            floor = float(np.ptp(array)) * 10 ** (-35 / 20)
            assert transform.encode_floor(chunk, floor).kind == Kind.WAVELET


def test_an_exact_floor_the_wavelet_cannot_keep_leaves_the_other_candidates():
    values = np.arange(60, dtype=np.float64).reshape(6, 10) ** 3
    floor = float(np.ptp(values)) * 10 ** (-400 / 20)  # 400 dB: past float64's reach
    assert transform.encode_floor(as_chunk(values), floor) is None
    codec = INRCodec("universal-2d", min_psnr=400)
    assert psnr(values, codec.decode(codec.encode(values)).reshape(values.shape)) >= 400


def test_a_version_4_reader_refuses_a_wavelet_chunk():
    field = power_law_field((1, 40, 50), slope=4.0)
    codec = INRCodec("universal-2d", min_psnr=40)
    data = bytearray(codec.encode(field))
    assert data[0] == 0xC0 | VERSION
    assert Container.from_bytes(bytes(data), codec.model.hash).kind == Kind.WAVELET
    import zlib

    data[0] = 0xC4
    data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
    with pytest.raises(ContainerError, match="layout flags"):
        Container.from_bytes(bytes(data), codec.model.hash)


def test_an_rms_floor_holds_every_chunk_to_one_target_whatever_its_range(a1b):
    import numcodecs

    codec = INRCodec("universal-2d", max_rmse=0.02)
    assert "RMS error of at most 0.02" in codec.mode.promise
    assert numcodecs.get_codec(codec.get_config()).mode.max_rmse == 0.02
    for field in (power_law_field((1, 50, 60), slope=4.0) * scale for scale in (1, 10)):
        decoded = codec.decode(codec.encode(field)).reshape(field.shape)
        rmse = np.sqrt(np.mean((decoded.astype(np.float64) - field) ** 2))
        assert 0.017 < rmse <= 0.02  # kept, and not by far
    learned = INRCodec(max_rmse=0.05)  # past the bundled model's reach on A1B
    data = learned.encode(a1b[200:201])
    assert kind(learned, data) == Kind.LATENTS_WAVELET
    assert np.sqrt(np.mean((learned.decode(data).reshape(1, 37, 49) - a1b[200:201]) ** 2)) <= 0.05
    with pytest.raises(ValueError, match="not max_error and max_rmse"):
        INRCodec(max_rmse=0.1, max_error=0.1)


@pytest.mark.parametrize("batch_axes", [1, 2, 5])
def test_a_section_with_batch_axes_decodes_bit_for_bit(batch_axes):
    values = power_law_field((3, 24, 40)).astype(np.float64)[:, :, :, None].repeat(2, axis=3)
    section, recon = wavelet.encode(values, -30, batch_axes=batch_axes)
    assert section[0] >> 4 == batch_axes
    assert np.array_equal(wavelet.decode(section, values.shape), recon)


def test_a_floor_over_unlike_slices_is_not_transformed_across_them():
    """Ten fields stacked with offsets and scales of their own (levels of a model run): the
    transform along the stack pays for the jumps between them; across a batch axis it does not."""
    fields = [power_law_field((40, 56), seed=i) * (1 + i) + 500.0 * i for i in range(10)]
    chunk = as_chunk(np.stack(fields).astype(np.float64))
    target = float(np.ptp(chunk.values)) * 10 ** (-40 / 20)
    stacked = transform.encode_floor(chunk, target)
    assert stacked.section[0] >> 4 == 1  # the stack's axis
    decoded = transform.decode(stacked, None, chunk.finite)
    assert np.sqrt(np.mean((decoded - chunk.array) ** 2)) <= target
    across = wavelet.Coefficients(chunk.array, None, 0)
    code, _ = transform._coarsest(chunk, across, target, 0.0, None)
    assert len(stacked.section) < 0.6 * len(across.section(code))


def test_an_integer_chunks_zeros_count_in_its_floor_as_in_its_psnr():
    """A brain slice's background is zeros, stored exactly in the mask: they are values, and a
    floor measured without them overshot a 25 dB floor by 6.6 dB (1.8x SPERR's bits)."""
    y, x = np.mgrid[:120, :100]
    head = (y - 60) ** 2 / 50 ** 2 + (x - 50) ** 2 / 40 ** 2 < 1  # a quarter zeros around it
    texture = power_law_field((120, 100), slope=2.5) * 25 + 120
    slice_ = np.where(head, np.clip(texture, 1, 255), 0).astype(np.uint8)
    codec = INRCodec("universal-2d", min_psnr=25)
    decoded = codec.decode(codec.encode(slice_)).reshape(slice_.shape)
    assert (decoded[slice_ == 0] == 0).all()  # the background exact, from the mask
    assert 25 <= psnr(slice_, decoded) < 27


def test_a_floor_over_five_axes_with_unlike_slices_past_the_fourth():
    """A wavelet section names batch axes among the first four only: a 5-D chunk whose last
    axis stacks unlike fields is coded without naming it (it crashed the section's flags)."""
    fields = [power_law_field((2, 16, 16), seed=i) + 100.0 * i for i in range(8)]
    chunk = np.stack(fields, axis=-1)[None].astype(np.float32)  # (1, 2, 16, 16, 8)
    codec = INRCodec("universal-2d", min_psnr=40)
    decoded = codec.decode(codec.encode(chunk)).reshape(chunk.shape)
    assert psnr(chunk, decoded) >= 40
    with pytest.raises(ValueError, match="first four"):
        wavelet.Coefficients(chunk.astype(np.float64), None, 1 << 4)
