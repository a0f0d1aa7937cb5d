"""What a trained model achieves: rate-distortion on held-out samples, and a training report."""

import json
from pathlib import Path

import numpy as np

from .codecs.numcodecs import INRCodec
from .measure import codec_round_trip
from .model import Model


def rate_distortion(model: Model, samples: np.ndarray, bits=(2, 3, 4, 5, 6, 8)) -> list[dict]:
    """Bits per value (every stored byte) and PSNR (over the samples' joint range) of each
    sample encoded as its own chunk, at several latent bit depths."""
    samples = np.asarray(samples, dtype=np.float32)
    points = []
    for b in bits:
        trip = codec_round_trip(INRCodec(model, latent_bits=b), samples)
        points.append({"latent_bits": b, "bits_per_value": trip.bits_per_value,
                       "psnr_db": round(trip.psnr(), 3)})
    return points


def write_report(model: Model, samples: np.ndarray, prefix: str | Path) -> dict:
    """``PREFIX.json`` (the recipe, validation PSNR per outer step, rate-distortion) and
    ``PREFIX.png``."""
    report = {"model_hash": model.hash, "recipe": model.card.get("recipe"),
              "training": model.card.get("training", {}),
              "validation": model.card.get("validation", []),
              "rate_distortion": rate_distortion(model, samples)}
    Path(f"{prefix}.json").write_text(json.dumps(report, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return report  # the JSON says it all; the plot needs matplotlib
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    if report["validation"]:
        left.plot([v["seconds"] / 60 for v in report["validation"]],
                  [v["val_psnr"] for v in report["validation"]], marker="o")
    left.set(xlabel="training minutes", ylabel="validation PSNR dB (unquantized latents)",
             title="quality vs training time")
    rd = report["rate_distortion"]
    right.semilogx([p["bits_per_value"] for p in rd], [p["psnr_db"] for p in rd], marker="o")
    for p in rd:
        right.annotate(f"{p['latent_bits']}b", (p["bits_per_value"], p["psnr_db"]))
    right.set(xlabel="bits per value (all bytes)", ylabel="PSNR dB",
              title="rate-distortion on held-out samples")
    fig.tight_layout()
    fig.savefig(f"{prefix}.png", dpi=80)
    plt.close(fig)
    return report
