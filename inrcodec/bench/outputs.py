"""A run's results as files: benchmarks.json (everything), benchmarks.csv (one row per dataset,
codec and setting), benchmarks-DATASET.png (plots.py) and benchmarks.md (markdown.py)."""

import csv
import json
import math
from pathlib import Path

from .markdown import markdown
from .plots import plot


def write(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "benchmarks.json", out / "benchmarks.csv"]
    written[0].write_text(json.dumps(_finite(results), separators=(",", ":")) + "\n")
    write_csv(results["rows"], written[1])
    plots = {}
    for ds in results["datasets"]:
        rows = [r for r in results["rows"] if r["dataset"] == ds["name"]]
        path = out / f"benchmarks-{ds['name']}.png"
        if rows and plot(ds, rows, path):
            plots[ds["name"]] = path.name
            written.append(path)
    written.append(out / "benchmarks.md")
    written[-1].write_text(markdown(results, plots))
    return written


def _finite(value):
    """JSON has no infinity: a lossless PSNR is written as null. Floats keep 6 digits."""
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def write_csv(rows: list[dict], path: Path) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ("" if r.get(k) is None else _csv_value(r[k])) for k in columns})


def _csv_value(v):
    return f"{v:.6g}" if isinstance(v, float) else v
