"""Where inrcodec wins and loses: against the best peer, the bounded peers and the PCA control."""

import numpy as np

from .fronts import (
    CONTROL,
    bounded,
    families,
    front,
    is_ours,
    is_peer,
    lossless,
    of,
    psnr_at,
    rate_at,
    rate_text,
)

HEADLINE_DB = 40.0


def losses(results: dict) -> list[str]:
    """The section: a summary over the run, then each dataset's verdict."""
    rows = results["rows"]
    lines = ["## Where inrcodec wins and loses", "", *_summary(results), ""]
    for d in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == d["name"]]
        plain = of(mine, "inrcodec")
        if not plain:
            continue
        parts = []
        for target in (30.0, HEADLINE_DB):
            ours, best = rate_at(plain, target), best_peer(mine, target)
            if ours is None:
                top = max(plain, key=lambda r: r["psnr_db"])
                parts.append(f"never reaches {target:.0f} dB (best {top['psnr_db']:.1f} dB at "
                             f"{top['bits_per_value']:.3g} bits/value)")
                break
            if best:
                verdict = "fewer" if ours[0] < best[1][0] else "more"
                parts.append(f"{target:.0f} dB at {rate_text(ours)} bits/value against "
                             f"{rate_text(best[1])} for {best[0]} ({verdict} bits)")
        for part in (_bounded_wins(mine), _pca_gap(mine)):
            if part:
                parts.append(part)
        with_model = plain[0].get("model_bits_per_value")
        if with_model:
            parts.append(f"its model adds {with_model:.3g} bits/value over this test split")
        lines.append(f"- **{d['name']}** (model trained on {d['model_saw']}): inrcodec "
                     + "; ".join(parts) + ".")
    return lines + [""]


def best_peer(rows: list[dict], target: float):
    """(family, (bits per value, "" or "<=")) of the lossy peer reaching ``target`` dB with the
    fewest bits; None when none reaches it."""
    hits = [(f, rate_at(of(rows, f), target)) for f in families(rows)
            if is_peer(f) and not lossless(of(rows, f))]
    hits = [(f, h) for f, h in hits if h is not None]
    return min(hits, key=lambda h: h[1][0]) if hits else None


def _summary(results: dict) -> list[str]:
    """How often inrcodec beats every peer, plain and error-bounded, over the whole run."""
    rows, wins, runs, stalls, bounded_wins = results["rows"], [], [], [], [0, 0, set()]
    for d in results["datasets"]:
        mine = [r for r in rows if r["dataset"] == d["name"]]
        plain = of(mine, "inrcodec")
        if not plain:
            continue
        runs.append(d["name"])
        ours, best = rate_at(plain, HEADLINE_DB), best_peer(mine, HEADLINE_DB)
        if ours is not None and (best is None or ours[0] < best[1][0]):
            wins.append(d["name"])
        elif ours is None:
            stalls.append(max(r["psnr_db"] for r in plain))
        won, shared = _bounded_counts(mine)
        bounded_wins[0] += len(won)
        bounded_wins[1] += shared
        bounded_wins[2].update([d["name"]] if won else [])
    models = "; ".join(sorted({f"`{d['model']}`: {d['model_data']}" for d in results["datasets"]}))
    text = (f"With plain latents inrcodec reaches {HEADLINE_DB:.0f} dB with fewer bits than every "
            f"peer on {len(wins)} of {len(runs)} datasets" + (f" ({', '.join(wins)})" if wins else ""))
    if stalls:
        text += (f"; on {len(stalls)} it never reaches {HEADLINE_DB:.0f} dB at all (best "
                 f"{min(stalls):.1f} to {max(stalls):.1f} dB)")
    if bounded_wins[1]:
        text += (f". Error-bounded, it needs fewer bits than every bounded peer at "
                 f"{bounded_wins[0]} of {bounded_wins[1]} (dataset, bound) pairs"
                 + (f", on {', '.join(sorted(bounded_wins[2]))}" if bounded_wins[2] else ""))
    return [text + f". Each bundled model was meta-learned on one dataset ({models})."]


def _fewest_bits_by_bound(rows: list[dict]) -> dict[float, dict]:
    """For each bound, the row that held it with the fewest bits per value."""
    best = {}
    for r in rows:
        if bounded(r) and r["bound_held"] and (
                r["bound"] not in best or r["bits_per_value"] < best[r["bound"]]["bits_per_value"]):
            best[r["bound"]] = r
    return best


def _bounded_counts(rows: list[dict]) -> tuple[list[float], int]:
    """(bounds where inrcodec beats every bounded peer that held it, bounds compared). Every
    inrcodec row with a bound counts as inrcodec's, whatever its mode is called."""
    ours = {r["bound"]: r for r in rows if is_ours(r["family"]) and bounded(r)}
    best = _fewest_bits_by_bound([r for r in rows if is_peer(r["family"]) and r["bound"] in ours])
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
    control, ours = of(rows, CONTROL), front(of(rows, "inrcodec"))
    gaps = [psnr_at(control, r["bits_per_value"]) for r in ours]
    gaps = [g - r["psnr_db"] for g, r in zip(gaps, ours) if g is not None]
    if not gaps:
        return None
    word = "better" if np.median(gaps) > 0 else "worse"
    return (f"the PCA control is {min(gaps):+.1f} to {max(gaps):+.1f} dB against it at equal "
            f"rate ({word} over inrcodec's rates)")
