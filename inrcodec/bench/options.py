"""The ``inrcodec bench`` command's options, apart from the run: the CLI builds its parser from
them without loading torch, which the run needs (seconds at every command's start)."""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from .datasets import DATASETS

QUICK_TEST_CHUNKS = 4
QUICK_DATASETS = ["a1b"]


@dataclass
class Options:
    datasets: list[str] = field(default_factory=list)  # empty: all (quick: QUICK_DATASETS)
    quick: bool = False
    codecs: list[dict] = field(default_factory=list)  # extra numcodecs configs
    out: Path = Path("bench")
    threads: int = 1

    def command(self) -> str:
        parts = ["inrcodec bench", f"--out {self.out}"] + (["--quick"] if self.quick else [])
        parts += [f"--datasets {' '.join(self.datasets)}"] if self.datasets else []
        parts += [f"--codec '{json.dumps(c)}'" for c in self.codecs]
        parts += [f"--threads {self.threads}"] if self.threads != 1 else []
        return " ".join(parts)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--datasets", nargs="+", metavar="NAME",
                   help=f"datasets to run (default: all; with --quick: {' '.join(QUICK_DATASETS)}); "
                        f"one of {', '.join(DATASETS)}")
    p.add_argument("--quick", action="store_true",
                   help=f"few settings, at most {QUICK_TEST_CHUNKS} test chunks per dataset")
    p.add_argument("--codec", action="append", default=[], type=_json_codecs, metavar="JSON",
                   help="also a numcodecs codec (a config, or a list of configs), e.g. "
                        "'{\"id\": \"sperr.rs\", \"mode\": \"pwe\", \"pwe\": 0.1}'; repeatable")
    p.add_argument("--out", type=Path, default=Path("bench"),
                   help="folder for benchmarks.md, .csv, .json and the plots (default: bench)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")


def _json_codecs(text: str) -> list[dict]:
    try:
        configs = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON: {e}") from None
    configs = configs if isinstance(configs, list) else [configs]
    if not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in configs):
        raise argparse.ArgumentTypeError('a codec is a JSON object with an "id"')
    return configs


def options_from(args: argparse.Namespace) -> Options:
    return Options(datasets=args.datasets or [], quick=args.quick,
                   codecs=[c for group in args.codec for c in group], out=args.out,
                   threads=args.threads)
