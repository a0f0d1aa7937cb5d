"""Reading a run's rows: codec families, their rate-distortion fronts, and what a row promises.

Comparisons between codecs are read off each family's rate-distortion front (its settings that
no other setting of the same family beats on both size and PSNR), interpolating PSNR linearly
in log bits per value between neighbouring settings, never extrapolating. A family that mixes
settings of several knobs (evaluate_universal.py's one family per model: plain latents, floors,
bounds) is read off each knob's own front and gives the fewest bits of them: between two
settings of one knob lie settings that get near the line, between a bound and a floor none do.
"""

import json
import math

import numpy as np

# The order of codecs in every table and plot; codecs given on the command line come after.
ORDER = ("inrcodec", "inrcodec floor", "inrcodec rms floor", "inrcodec bounded", "inrcodec budget",
         "PCA control", "SZ3", "SPERR",
         "ZFP fixed-accuracy", "ZFP fixed-rate", "BitRound+Zstd", "Quantize+Zstd",
         "PCodec (lossless)", "Zstd (lossless)")
CONTROL = "PCA control"


def families(rows: list[dict]) -> list[str]:
    present = list(dict.fromkeys(r["family"] for r in rows))
    return [f for f in ORDER if f in present] + [f for f in present if f not in ORDER]


def of(rows: list[dict], family: str) -> list[dict]:
    return [r for r in rows if r["family"] == family]


def is_ours(family: str) -> bool:
    return family.startswith("inrcodec")


def is_peer(family: str) -> bool:
    """Another compressor: not inrcodec, and not the control built from inrcodec's parts."""
    return not is_ours(family) and family != CONTROL


def lossless(points: list[dict]) -> bool:
    return all(r["lossless"] for r in points)


def bounded(row: dict) -> bool:
    """Whether the row's setting promised an absolute error bound."""
    return row["bound"] is not None


def bounded_families(rows: list[dict]) -> list[str]:
    """Families with an error bound, the peers first, then inrcodec's."""
    present = [f for f in families(rows) if any(bounded(r) for r in of(rows, f))]
    return sorted(present, key=is_ours)


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
    setting is past it); None when no setting reaches it. Rows of several knobs: the fewest
    bits over each knob's own front."""
    hits = [h for h in (_rate_on(front(group), target_db) for group in _by_knob(rows)) if h]
    return min(hits, key=lambda h: h[0]) if hits else None


def _by_knob(rows: list[dict]) -> list[list[dict]]:
    """The rows grouped by the settings they give (a mode's keyword: ``max_error``,
    ``min_psnr``, ...; plain latents' ``latent_bits``)."""
    groups = {}
    for r in rows:
        params = r.get("params") or {}
        params = json.loads(params) if isinstance(params, str) else params  # a run's rows: JSON
        knob = tuple(sorted(k for k, v in params.items() if v is not None))
        groups.setdefault(knob, []).append(r)
    return list(groups.values())


def _rate_on(points: list[dict], target_db: float) -> tuple[float, str] | None:
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


def rate_text(hit) -> str:
    return "-" if hit is None else f"{hit[1]}{hit[0]:.3g}".replace("<=", "&le; ")
