"""The quick benchmark runs end to end through the CLI and reports what it measured."""

import csv
import importlib.util
import json

import pytest

from inrcodec.bench.fronts import rate_at
from inrcodec.bench.inr import accepts
from inrcodec.bench.pca import HEADER
from inrcodec.cli import main

# The quick run's peers; a missing one skips these tests rather than failing them.
for module in ("pysz", "zfpy", "pcodec", "matplotlib"):
    pytest.importorskip(module)

FAMILIES = ["inrcodec", "inrcodec floor", "inrcodec bounded", "PCA control", "SZ3", "ZFP fixed-rate",
            "ZFP fixed-accuracy", "BitRound+Zstd", "Quantize+Zstd", "Zstd (lossless)",
            "PCodec (lossless)"]
FAMILIES += ["SPERR"] if importlib.util.find_spec("numcodecs_wasm_sperr") else []
BOUNDED = {"inrcodec bounded", "SZ3", "ZFP fixed-accuracy", "SPERR"}


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    codec = json.dumps({"id": "zstd", "level": 1})
    assert main(["bench", "--quick", "--datasets", "a1b", "ostia", "--out", str(out),
                 "--codec", codec]) == 0
    return out, json.loads((out / "benchmarks.json").read_text())


def test_every_codec_has_results_on_every_dataset(bench):
    out, results = bench
    with open(out / "benchmarks.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(results["rows"])
    expected = FAMILIES + ["zstd"] + (["inrcodec budget"] if accepts("bits_per_value") else [])
    for dataset in ("a1b", "ostia"):
        present = {r["family"] for r in rows if r["dataset"] == dataset}
        missing = set(expected) - present - ({"inrcodec budget"} if dataset == "ostia" else set())
        assert not missing, (dataset, missing, results["notes"])
    for r in results["rows"]:
        assert r["bits_per_value"] > 0 and r["stored_bytes"] > 0
        assert r["encode_mb_s"] > 0 and r["decode_mb_s"] > 0
        assert (r["psnr_db"] is None) == r["lossless"]  # JSON writes a lossless infinity as null


def test_bounds_hold_nans_come_back_and_lossless_is_lossless(bench):
    _, results = bench
    for r in results["rows"]:
        if r["family"] in BOUNDED:
            assert r["bound"] > 0 and r["bound_held"] and r["max_abs_error"] <= r["bound"], r
        if r["lossless"]:
            assert r["max_abs_error"] == 0
        assert r["nans_preserved"] is (True if r["dataset"] == "ostia" else None), r


def test_inrcodec_is_charged_for_its_model_and_its_flops_are_counted(bench):
    _, results = bench
    for r in results["rows"]:
        if r["family"].startswith("inrcodec"):
            assert r["bits_per_value_with_model"] > r["bits_per_value"] + 1  # 120 kB, ~90k values
    cost = {(c["dataset"], c["family"]): c for c in results["cost"]}
    plain = cost["a1b", "inrcodec"]
    forward = results["datasets"][0]["forward_flops"]["per_point_with_shift_map"]
    assert plain["decode_flops_per_value"] == pytest.approx(forward, rel=0.01)  # no padding
    # A linear model: one projection (2K a value) and the decoder's check of its latents.
    assert plain["encode_flops_per_value"] == pytest.approx(2 * forward, rel=0.01)
    assert 0 < plain["encode_flop_rate"] < 2 * results["matmul_flops"]


def test_the_report_names_the_machine_and_shows_the_plots(bench):
    out, results = bench
    report = (out / "benchmarks.md").read_text()
    assert results["machine"] in report and "GFLOP/s" in report
    for dataset in ("a1b", "ostia"):
        assert (out / f"benchmarks-{dataset}.png").stat().st_size > 10_000
        assert f"benchmarks-{dataset}.png" in report
    assert "Where inrcodec wins and loses" in report and "PCA control" in report
    assert f"the same {HEADER.size}-byte header per chunk" in report  # the control's, from code
    assert "3% and 0.3% of the test data's range" in report  # the quick run's bounds


def test_bounded_codecs_are_the_rows_with_a_bound_whatever_their_name():
    from inrcodec.bench.fronts import bounded_families
    from inrcodec.bench.verdicts import losses

    def row(family, bound, bits):
        return {"dataset": "d", "family": family, "bound": bound, "bound_held": True,
                "bits_per_value": bits, "psnr_db": 40.0, "lossless": False}

    rows = [row("inrcodec bounded", 0.1, 1.0), row("new peer", 0.1, 0.5), row("SZ3", 0.1, 2.0),
            row("ZFP fixed-rate", None, 0.1), row("inrcodec", None, 0.2)]
    assert bounded_families(rows) == ["SZ3", "new peer", "inrcodec bounded"]
    results = {"rows": rows, "datasets": [{"name": "d", "model": "m", "model_data": "x",
                                           "model_saw": "x"}]}
    # A bounded peer the code has never heard of still counts: it beats inrcodec at 0.1.
    assert "fewer bits than every bounded peer at 0 of 1 bounds" in "\n".join(losses(results))


def test_rates_are_read_off_the_front_between_settings():
    rows = [{"bits_per_value": b, "psnr_db": p} for b, p in [(1, 30), (4, 50), (2, 20)]]
    assert rate_at(rows, 40) == (pytest.approx(2.0), "")  # halfway in dB, in log rate
    assert rate_at(rows, 25) == (1, "<=")
    assert rate_at(rows, 60) is None


def test_a_family_of_several_knobs_is_read_off_each_knobs_own_front():
    # Two RMS floors and a bound between them: the bound is on the family's front, but no
    # setting lies between it and a floor, so 46 dB is read between the floors.
    rows = [{"psnr_db": 45.0, "bits_per_value": 0.5, "params": '{"max_rmse": 0.65}'},
            {"psnr_db": 50.0, "bits_per_value": 1.0, "params": '{"max_rmse": 0.36}'},
            {"psnr_db": 46.0, "bits_per_value": 0.9, "params": '{"max_error": 1.2}'}]
    assert rate_at(rows, 46)[0] == pytest.approx(0.5 * 2 ** 0.2)
    assert rate_at(rows[:2] + [{**rows[2], "bits_per_value": 0.52}], 46)[0] == 0.52


def test_unknown_datasets_and_bad_codec_json_are_refused(capsys):
    assert main(["bench", "--quick", "--datasets", "nope"]) == 1
    assert "unknown dataset(s) nope" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--codec", "{not json"])


def test_chunks_tile_the_array_and_the_pp_reader_reads_glosea4():
    import numpy as np

    from inrcodec.bench.datasets import DATASETS, load_glosea4, split

    glosea = load_glosea4()
    assert glosea.shape == (78, 145, 192) and np.isfinite(glosea).all()
    assert 180 < glosea.min() < glosea.max() < 330  # kelvin
    chunks = split(np.arange(5 * 7 * 9).reshape(5, 7, 9), (2, 4, 9))
    assert [c.shape for c in chunks[:2]] == [(2, 4, 9), (2, 3, 9)] and len(chunks) == 6
    assert sorted(np.concatenate([c.ravel() for c in chunks])) == list(range(5 * 7 * 9))
    mni = DATASETS["mni"]
    assert mni.test.start >= 98  # the 3-D model saw x < 98 only



def test_the_turbulence_field_is_planned_the_same_way_every_run(tmp_path, monkeypatch):
    """FFTW's default planner times its algorithms and picked another plan now and then: the
    simulated 64^3 field (and the benchmark's turbulence rows) moved in its last bits from one
    run to the next (a quarter of the runs, measured). Its plans are heuristic ones."""
    import pyfftw

    from inrcodec.sample_data import turbulence

    flags, planner = [], pyfftw.FFTW
    monkeypatch.setattr(pyfftw, "FFTW", lambda *a, **k: flags.append(k.get("flags")) or planner(*a, **k))
    first = turbulence(16, tmp_path / "a")
    assert flags and all(f == ("FFTW_ESTIMATE",) for f in flags), flags
    again = turbulence(16, tmp_path / "b")
    assert all(first[name].tobytes() == again[name].tobytes() for name in first)
