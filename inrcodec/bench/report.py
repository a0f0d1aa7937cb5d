"""A run's results as files: benchmarks.json (everything), benchmarks.csv (one row per dataset,
codec and setting), benchmarks-DATASET.png (rate-distortion) and benchmarks.md (the report).

Comparisons between codecs are read off each family's rate-distortion front (its settings that
no other setting of the same family beats on both size and PSNR), interpolating PSNR linearly
in log bits per value between neighbouring settings, never extrapolating.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np

PSNR_TARGETS = (30.0, 40.0, 50.0)
HEADLINE_DB = 40.0
HEADLINE_DATASET = "a1b"  # its section lists every setting
BOUNDED_FAMILIES = ("SZ3", "SPERR", "ZFP fixed-accuracy", "inrcodec bounded")
ORDER = ("inrcodec", "inrcodec bounded", "inrcodec budget", "PCA control", "SZ3", "SPERR",
         "ZFP fixed-accuracy", "ZFP fixed-rate", "BitRound+Zstd", "Quantize+Zstd",
         "PCodec (lossless)", "Zstd (lossless)")


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


# --- reading rate-distortion curves -----------------------------------------------------------

def families(rows: list[dict]) -> list[str]:
    present = list(dict.fromkeys(r["family"] for r in rows))
    return [f for f in ORDER if f in present] + [f for f in present if f not in ORDER]


def front(rows: list[dict]) -> list[dict]:
    """The settings no other setting beats on both bits per value and PSNR, by rate."""
    out, best = [], -math.inf
    for r in sorted(rows, key=lambda r: (r["bits_per_value"], -r["psnr_db"])):
        if np.isfinite(r["psnr_db"]) and r["psnr_db"] > best:
            out.append(r)
            best = r["psnr_db"]
    return out


def rate_at(rows: list[dict], target_db: float) -> tuple[float, str] | None:
    """(bits per value where the front reaches ``target_db``, "" or "<=" when even the smallest
    setting is past it); None when no setting reaches it."""
    points = front(rows)
    for i, r in enumerate(points):
        if r["psnr_db"] >= target_db:
            if i == 0:
                return r["bits_per_value"], "<="
            p = points[i - 1]
            t = (target_db - p["psnr_db"]) / (r["psnr_db"] - p["psnr_db"])
            return math.exp(math.log(p["bits_per_value"]) * (1 - t)
                            + math.log(r["bits_per_value"]) * t), ""
    return None


def psnr_at(rows: list[dict], bits: float) -> float | None:
    """PSNR of the front at ``bits`` per value, or None outside the rates it spans."""
    points = front(rows)
    for p, r in zip(points, points[1:]):
        if p["bits_per_value"] <= bits <= r["bits_per_value"]:
            span = math.log(r["bits_per_value"]) - math.log(p["bits_per_value"])
            t = (math.log(bits) - math.log(p["bits_per_value"])) / span if span else 0.0
            return p["psnr_db"] * (1 - t) + r["psnr_db"] * t
    return None


def _of(rows, family):
    return [r for r in rows if r["family"] == family]


def _lossless(points: list[dict]) -> bool:
    return all(r["lossless"] for r in points)


def _rate_text(hit) -> str:
    return "-" if hit is None else f"{hit[1]}{hit[0]:.3g}".replace("<=", "&le; ")


def _colour(family: str):
    """One colour per codec in every plot: the known ones in ORDER, command-line ones after."""
    import matplotlib

    colours = matplotlib.colormaps["tab20"].colors
    index = ORDER.index(family) if family in ORDER else len(ORDER) + sum(map(ord, family)) % 8
    return colours[(2 * index) % 20 + (2 * index) // 20 % 2]


# --- plots --------------------------------------------------------------------------------------

def plot(ds: dict, rows: list[dict], path: Path) -> bool:
    """PSNR and max abs error against bits per value (log axes); False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    for family in families(rows):
        points = _of(rows, family)
        style = dict(color=_colour(family),
                     lw=2.4 if family.startswith("inrcodec") else 1.2,
                     ms=5 if family.startswith("inrcodec") else 3.5)
        if _lossless(points):
            for ax in (left, right):
                ax.axvline(points[0]["bits_per_value"], ls=":", color=style["color"], label=family)
            continue
        curve = front(points)
        left.plot([p["bits_per_value"] for p in curve], [p["psnr_db"] for p in curve], "o-",
                  label=family, **style)
        left.plot([p["bits_per_value"] for p in points], [p["psnr_db"] for p in points], "o",
                  color=style["color"], ms=2, alpha=0.5)
        by_rate = sorted((p for p in points if p["max_abs_error"] > 0),
                         key=lambda p: p["bits_per_value"])
        right.plot([p["bits_per_value"] for p in by_rate], [p["max_abs_error"] for p in by_rate],
                   "o-" if family != "PCA control" else "o", label=family, **style)
    left.set(xscale="log", xlabel="bits per value (every stored byte)",
             ylabel="PSNR dB (test data's range)")
    right.set(xscale="log", yscale="log", xlabel="bits per value (every stored byte)",
              ylabel="max abs error")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{ds['name']}: {ds['description']}", fontsize=10)
    fig.tight_layout()
    _save_small(fig, path)
    plt.close(fig)
    return True


def _save_small(fig, path: Path) -> None:
    """A PNG of 256 colours: a line plot loses nothing visible and shrinks about four-fold."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=64, format="png")
    image = Image.open(buffer).convert("RGB").quantize(colors=256)
    image.save(path, optimize=True)


# --- markdown -----------------------------------------------------------------------------------

def markdown(results: dict, plots: dict[str, str]) -> str:
    rows = results["rows"]
    lines = [
        "# Benchmarks", "",
        f"Generated by `{results['command']}` on {results['date']} ({results['revision']}), in "
        f"{results.get('seconds', 0) / 60:.1f} minutes.", "",
        f"**Machine:** {results['machine']}. One large float32 `torch.matmul` runs at "
        f"{results['matmul_flops'] / 1e9:.1f} GFLOP/s on the same {results['torch_threads']} "
        "thread(s), measured in the same run." + _load_text(results), ""]
    if results["quick"]:
        lines += ["*A quick run: few settings and few chunks; not for quoting.*", ""]
    lines += [*_method(), *_datasets(results), *_headline(results), *_losses(results),
              *_cost(results)]
    for ds in results["datasets"]:
        lines += _dataset_section(ds, [r for r in rows if r["dataset"] == ds["name"]], plots)
    if results["notes"]:
        lines += ["## Notes from the run", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


def _load_text(results: dict) -> str:
    loads = [x for x in results.get("load_average", []) if x is not None]
    if not loads:
        return ""
    return (f" The machine's 1-minute load average was {loads[0]:.1f} at the start and "
            f"{loads[-1]:.1f} at the end of the run; above the number of cores, other processes "
            "competed with the run for the CPU and every speed here (the matmul rate's too) is "
            "lower than an idle machine's.")


def _method() -> list[str]:
    return [
        "## How it was measured", "",
        "- Every codec compresses the same test chunks, one chunk at a time, and decodes them "
        "from its bytes alone (plus the chunk's shape and dtype, which Zarr keeps in metadata).",
        "- **Bits per value** count every stored byte of every chunk (headers, checksums, NaN "
        "masks) over all values of the chunks, NaNs included. inrcodec's model file is reported "
        "separately, amortized over the dataset's whole test split (`model_bits_per_value` and "
        "`bits_per_value_with_model` in the CSV); a store embeds it once in its metadata.",
        "- **PSNR** is `20 log10(range / RMSE)` over the evaluated test values' range; RMSE and "
        "**max abs error** are taken over the original's finite values in float64. **NaNs "
        "preserved** checks that NaNs come back exactly where they were. **Bound held** checks "
        "every value of error-bounded modes against their bound.",
        "- **Error bounds** are absolute, the same for every bounded codec: 30%, 10%, 3%, 1%, "
        "0.3%, 0.1%, 0.03% and 0.01% of the test data's range (2 significant digits; whole "
        "numbers of at least 1 for integer data). inrcodec's bounded mode uses 6-bit latents.",
        "- ZFP and SPERR cannot store NaN: they get the chunk with NaNs set to its mean and the "
        "bench stores inrcodec's lossless NaN mask (zlib-packed bits, with a 4-byte length) in "
        "front, charged like any byte. SZ3, the numcodecs codecs and inrcodec keep NaNs "
        "themselves. Integer data reach SZ3, ZFP and SPERR as float32 and come back rounded "
        "and clipped; BitRound and Quantize apply to floating data only. Singleton axes are "
        "dropped for the peers: a (1, 37, 49) chunk is a 2-D field to them.",
        "- Peers: SZ3 via `pysz`, ZFP via `zfpy` 1.0.1, SPERR via `numcodecs-wasm-sperr` "
        "(WebAssembly: slower than a native build), BitRound, Quantize, Zstd (level 9) and "
        "PCodec via numcodecs. The **PCA control** replaces the network by an EOF basis fitted "
        "on the dataset's train split and codes the coefficients with inrcodec's own quantizer "
        "and range coder, charged the same 16-byte header per chunk; it runs only where the "
        "train split has at least 32 chunks.",
        "- **Speed** is original megabytes per second, encode and decode separately, one chunk "
        "after another on one thread; the first setting of every codec is run once untimed. "
        "**Peak memory** is resident memory above the level at the start of a setting's encode "
        "and decode, sampled from /proc/self/statm every 2 ms (it sees torch and C libraries, "
        "which tracemalloc does not; memory a previous setting freed but malloc kept is reused "
        "without showing).",
        "- **FLOPs** of inrcodec are counted by `torch.utils.flop_counter.FlopCounterMode` on "
        "one test chunk per mode (matrix products only, 2 FLOPs per multiply-add, forward and "
        "backward; sines and elementwise work are not counted) and compared with the measured "
        "matmul rate above.", ""]


def _datasets(results: dict) -> list[str]:
    lines = ["## Datasets", "",
             "| dataset | array | NaN | chunks | test split | evaluated | PCA train | "
             "inrcodec model, trained on |", "|---|---|---|---|---|---|---|---|"]
    for d in results["datasets"]:
        evaluated = (f"{d['evaluated_chunks']} of {d['test_chunks']} chunks, "
                     f"{d['evaluated_values']:,} values")
        train = f"{d['train']} ({d['train_chunks']} chunks)" if d["train_chunks"] else "-"
        lines.append(f"| {d['name']} | {tuple(d['shape'])} {d['dtype']} | "
                     f"{100 * d['nan_fraction']:.0f}% | {tuple(d['chunks'])} | {d['test']} | "
                     f"{evaluated} | {train} | `{d['model']}`: {d['model_saw']} |")
    subsampled = [d["name"] for d in results["datasets"]
                  if d["evaluated_chunks"] < d["test_chunks"]]
    if subsampled:
        lines += ["", f"To keep the run affordable on one thread, {', '.join(subsampled)} "
                  "evaluate an even subsample of their test chunks (the same chunks for every "
                  "codec)."]
    return lines + [""]


def _headline(results: dict) -> list[str]:
    rows = results["rows"]
    present = families(rows)
    lossy = [f for f in present if not _lossless(_of(rows, f))]
    lossless = [f for f in present if _lossless(_of(rows, f))]
    lines = [f"## Bits per value for {HEADLINE_DB:.0f} dB PSNR", "",
             "Read off each codec's rate-distortion front (interpolated between settings; "
             "\"&le;\" when its smallest setting is already better, \"-\" when no setting "
             "reaches it). Lossless codecs: their bits per value. inrcodec's figures exclude "
             "its model (see the datasets' sections).", "",
             "| dataset | " + " | ".join(lossy + lossless) + " |",
             "|---|" + "---|" * (len(lossy) + len(lossless))]
    for d in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == d["name"]]
        cells = [_rate_text(rate_at(_of(mine, f), HEADLINE_DB)) if _of(mine, f) else "n/a"
                 for f in lossy]
        cells += [f"{_of(mine, f)[0]['bits_per_value']:.3g}" if _of(mine, f) else "n/a"
                  for f in lossless]
        lines.append(f"| {d['name']} | " + " | ".join(cells) + " |")
    return lines + [""]


def _best_peer(rows: list[dict], target: float):
    """(family, bits per value) of the peer reaching ``target`` dB with the fewest bits."""
    hits = [(f, rate_at(_of(rows, f), target)) for f in families(rows)
            if not f.startswith("inrcodec") and f != "PCA control" and not _lossless(_of(rows, f))]
    hits = [(f, h) for f, h in hits if h is not None]
    return min(hits, key=lambda h: h[1][0]) if hits else None


def _losses(results: dict) -> list[str]:
    """Where inrcodec stands against the best peer and the PCA control, dataset by dataset."""
    rows = results["rows"]
    lines = ["## Where inrcodec wins and loses", "", *_summary(results), ""]
    for d in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == d["name"]]
        plain = _of(mine, "inrcodec")
        if not plain:
            continue
        parts = []
        for target in (30.0, HEADLINE_DB):
            ours, best = rate_at(plain, target), _best_peer(mine, target)
            if ours is None:
                top = max(plain, key=lambda r: r["psnr_db"])
                parts.append(f"never reaches {target:.0f} dB (best {top['psnr_db']:.1f} dB at "
                             f"{top['bits_per_value']:.3g} bits/value)")
                break
            if best:
                verdict = "fewer" if ours[0] < best[1][0] else "more"
                parts.append(f"{target:.0f} dB at {_rate_text(ours)} bits/value against "
                             f"{_rate_text(best[1])} for {best[0]} ({verdict} bits)")
        bounded = _bounded_wins(mine)
        if bounded:
            parts.append(bounded)
        gap = _pca_gap(mine)
        if gap:
            parts.append(gap)
        with_model = plain[0].get("model_bits_per_value")
        if with_model:
            parts.append(f"its model adds {with_model:.3g} bits/value over this test split")
        lines.append(f"- **{d['name']}** (model trained on {d['model_saw']}): inrcodec "
                     + "; ".join(parts) + ".")
    return lines + [""]


def _summary(results: dict) -> list[str]:
    """How often inrcodec beats every peer, plain and error-bounded, over the whole run."""
    rows, wins, runs, stalls, bounded = results["rows"], [], [], [], [0, 0, set()]
    for d in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == d["name"]]
        plain = _of(mine, "inrcodec")
        if not plain:
            continue
        runs.append(d["name"])
        ours, best = rate_at(plain, HEADLINE_DB), _best_peer(mine, HEADLINE_DB)
        if ours is not None and (best is None or ours[0] < best[1][0]):
            wins.append(d["name"])
        elif ours is None:
            stalls.append(max(r["psnr_db"] for r in plain))
        won, shared = _bounded_counts(mine)
        bounded[0] += len(won)
        bounded[1] += shared
        bounded[2].update([d["name"]] if won else [])
    models = "; ".join(sorted({f"`{d['model']}`: {d['model_data']}" for d in results["datasets"]}))
    text = (f"With plain latents inrcodec reaches {HEADLINE_DB:.0f} dB with fewer bits than every "
            f"peer on {len(wins)} of {len(runs)} datasets" + (f" ({', '.join(wins)})" if wins else ""))
    if stalls:
        text += (f"; on {len(stalls)} it never reaches {HEADLINE_DB:.0f} dB at all (best "
                 f"{min(stalls):.1f} to {max(stalls):.1f} dB)")
    if bounded[1]:
        text += (f". Error-bounded, it needs fewer bits than every bounded peer at {bounded[0]} of "
                 f"{bounded[1]} (dataset, bound) pairs"
                 + (f", on {', '.join(sorted(bounded[2]))}" if bounded[2] else ""))
    return [text + f". Each bundled model was meta-learned on one dataset ({models})."]


def _bounded_counts(rows: list[dict]) -> tuple[list[float], int]:
    """(bounds where inrcodec bounded beats every bounded peer that held it, bounds compared)."""
    ours = {r["bound"]: r for r in _of(rows, "inrcodec bounded")}
    best = {}
    for r in rows:
        if r["family"] in BOUNDED_FAMILIES[:-1] and r["bound"] in ours and r["bound_held"]:
            if r["bound"] not in best or r["bits_per_value"] < best[r["bound"]]["bits_per_value"]:
                best[r["bound"]] = r
    shared = [b for b in ours if b in best]
    return [b for b in shared if ours[b]["bits_per_value"] < best[b]["bits_per_value"]], len(shared)


def _bounded_wins(rows: list[dict]) -> str | None:
    wins, shared = _bounded_counts(rows)
    if not shared:
        return None
    return (f"error-bounded, it needs fewer bits than every bounded peer at {len(wins)} of "
            f"{shared} bounds" + (f" ({', '.join(f'{b:g}' for b in wins)})" if wins else ""))


def _pca_gap(rows: list[dict]) -> str | None:
    """PSNR of the PCA control minus inrcodec's, at inrcodec's own rates."""
    control = _of(rows, "PCA control")
    gaps = [psnr_at(control, r["bits_per_value"]) for r in front(_of(rows, "inrcodec"))]
    gaps = [g - r["psnr_db"] for g, r in zip(gaps, front(_of(rows, "inrcodec"))) if g is not None]
    if not gaps:
        return None
    word = "better" if np.median(gaps) > 0 else "worse"
    return (f"the PCA control is {min(gaps):+.1f} to {max(gaps):+.1f} dB against it at equal "
            f"rate ({word} over inrcodec's rates)")


def _cost(results: dict) -> list[str]:
    cost, rate = results["cost"], results["matmul_flops"]
    if not cost:
        return []
    lines = ["## What inrcodec costs", "",
             "| dataset | mode | chunk | encode FLOPs/value | decode FLOPs/value | encode GFLOP/s "
             "(% of matmul) | decode GFLOP/s (% of matmul) |", "|---|---|---|---|---|---|---|"]
    for c in cost:
        lines.append(
            f"| {c['dataset']} | {c['family']}, {c['setting']} | {tuple(c['chunk_shape'])} | "
            f"{c['encode_flops_per_value']:,.0f} | {c['decode_flops_per_value']:,.0f} | "
            f"{c['encode_flop_rate'] / 1e9:.1f} ({100 * c['encode_flop_rate'] / rate:.0f}%) | "
            f"{c['decode_flop_rate'] / 1e9:.1f} ({100 * c['decode_flop_rate'] / rate:.0f}%) |")
    by_model = {d["model"]: d["forward_flops"] for d in results["datasets"]}
    fractions = [c[f"{k}_flop_rate"] / rate for c in cost for k in ("encode", "decode")]
    lines += ["", "Each mode is counted at its first setting, shown. A size budget that binds "
              "costs more to encode: the latents' resolution is searched per chunk, and a model "
              "trained with gates (neither bundled model has them) adds a constrained solve of 50 "
              "steps of forward plus backward per chunk (`docs/budget.md` counts the cost per "
              "budget).",
              "", "Cross-check from the architecture: one forward pass costs "
              + "; ".join(f"{f['per_point']:,} FLOPs per point for `{m}`, plus "
                          f"{f['per_patch']:,} per patch for the latent-to-shift map"
                          for m, f in by_model.items())
              + ". Decoding is that forward pass on every point of the padded patches, so its "
              "count per value is the forward count times the padding overhead. Encoding runs "
              "the inner loop's 3 steps of forward plus backward; the backward pass is about one "
              "forward, not two, because the network's weights are frozen and only the latents "
              "need gradients, so encoding costs about 6 forward passes (the bounded mode adds "
              "one more in float64 for the prediction).", "",
              f"**Why this is {100 * min(fractions):.0f}-{100 * max(fractions):.0f}% of the "
              "matmul rate and not close to it:** the matrices are thin (width 64: every layer "
              "is a (points x 64) by (64 x 64) product, too little work per byte moved to keep "
              "the vector units busy), each product is followed by a separate pass for the "
              "shift, the sine (a transcendental function costing tens of instructions, not "
              "counted as FLOPs) and, when encoding, their derivatives, each a full trip through "
              "memory; autograd and the Python loop over inner steps and chunks add a fixed "
              "cost per call, which dominates small chunks; and normalisation, quantization, "
              "entropy coding and (bounded mode) the float64 prediction and residual coder run "
              "outside torch. Closing the gap: fuse each layer's matmul, shift and sine into one "
              "kernel (`torch.compile` on CPU, or a GPU, where the same thin matrices run at a "
              "far higher rate), batch patches of many chunks into one pass, write the inner "
              "loop's backward pass by hand (the derivative of sin is cos of the same argument, "
              "already computed), and run the network in bfloat16 where the bound allows.", ""]
    return lines


def _dataset_section(ds: dict, rows: list[dict], plots: dict[str, str]) -> list[str]:
    lines = [f"## {ds['name']}: {ds['description']}", "",
             f"{tuple(ds['shape'])} {ds['dtype']}, chunks {tuple(ds['chunks'])}; test split "
             f"{ds['test']}, {ds['evaluated_values']:,} values evaluated, range "
             f"{ds['value_range']:.4g}. inrcodec model `{ds['model']}` "
             f"({ds['model_bytes']:,} bytes, {ds['model_bits_per_test_value']:.3g} bits per "
             f"test value if stored once for this split, hash {ds['model_hash'][:12]}), trained "
             f"on {ds['model_saw']}.", ""]
    if ds["name"] in plots:
        lines += [f"![{ds['name']} rate-distortion]({plots[ds['name']]})", ""]
    header = " | ".join(f"bits/value @ {t:.0f} dB" for t in PSNR_TARGETS)
    lines += [f"| codec | settings | {header} | best PSNR dB (bits/value) | max error at best | "
              "NaNs kept | encode MB/s | decode MB/s | peak MB |",
              "|---|---|" + "---|" * (len(PSNR_TARGETS) + 6)]
    for family in families(rows):
        points = _of(rows, family)
        if _lossless(points):
            rates = ["lossless"] * len(PSNR_TARGETS)
            best = f"lossless ({points[0]['bits_per_value']:.3g})"
        else:
            rates = [_rate_text(rate_at(points, t)) for t in PSNR_TARGETS]
            top = max(points, key=lambda r: r["psnr_db"])
            best = f"{top['psnr_db']:.1f} ({top['bits_per_value']:.3g})"
        nans = {r["nans_preserved"] for r in points}
        kept = "-" if nans == {None} else ("yes" if nans == {True} else "**no**")
        memory = [r["peak_rss_mb"] for r in points if r["peak_rss_mb"] is not None]
        lines.append(
            f"| {family} | {len(points)} | {' | '.join(rates)} | {best} | "
            f"{max(points, key=lambda r: r['psnr_db'])['max_abs_error']:.3g} | {kept} | "
            f"{np.median([r['encode_mb_s'] for r in points]):.3g} | "
            f"{np.median([r['decode_mb_s'] for r in points]):.3g} | "
            f"{f'{max(memory):.1f}' if memory else '-'} |")
    lines += ["", "Speeds are medians over a codec's settings, peak memory the largest.", ""]
    lines += _bounded_table(rows)
    return lines + (_every_setting(rows) if ds["name"] == HEADLINE_DATASET else [])


def _every_setting(rows: list[dict]) -> list[str]:
    lines = ["Every setting:", "",
             "| codec | setting | bits/value | + model | PSNR dB | RMSE | max error | "
             "bound held | encode MB/s | decode MB/s | peak MB |", "|---|---|" + "---|" * 9]
    for r in rows:
        held = "" if r["bound_held"] is None else ("yes" if r["bound_held"] else "**no**")
        model = r.get("bits_per_value_with_model")
        memory = r["peak_rss_mb"]
        lines.append(
            f"| {r['family']} | {r['setting']} | {r['bits_per_value']:.3f} | "
            f"{'' if model is None else f'{model:.2f}'} | {r['psnr_db']:.2f} | {r['rmse']:.3g} | "
            f"{r['max_abs_error']:.3g} | {held} | {r['encode_mb_s']:.3g} | "
            f"{r['decode_mb_s']:.3g} | {'-' if memory is None else f'{memory:.1f}'} |")
    return lines + [""]


def _bounded_table(rows: list[dict]) -> list[str]:
    present = [f for f in BOUNDED_FAMILIES if _of(rows, f)]
    bounds = sorted({r["bound"] for r in rows if r["family"] in present}, reverse=True)
    if not present or not bounds:
        return []
    lines = ["Error-bounded modes, bits per value at each absolute bound (every value checked; "
             "**missed** marks a bound that was not held):", "",
             "| bound | " + " | ".join(present) + " |", "|---|" + "---|" * len(present)]
    for b in bounds:
        cells = []
        for f in present:
            hit = [r for r in _of(rows, f) if r["bound"] == b]
            if not hit:
                cells.append("-")
                continue
            r = hit[0]
            cells.append(f"{r['bits_per_value']:.3g}" + ("" if r["bound_held"] else
                                                         f" **missed** ({r['max_abs_error']:.3g})"))
        lines.append(f"| {b:g} | " + " | ".join(cells) + " |")
    return lines + [""]
