"""A dataset's rate-distortion plot: PSNR and max abs error against bits per value."""

from pathlib import Path

from .fronts import CONTROL, ORDER, families, front, is_ours, lossless, of


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
        points = of(rows, family)
        style = dict(color=_colour(family),
                     lw=2.4 if is_ours(family) else 1.2,
                     ms=5 if is_ours(family) else 3.5)
        if lossless(points):
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
                   "o-" if family != CONTROL else "o", label=family, **style)
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


def _colour(family: str):
    """One colour per codec in every plot: the known ones in ORDER, command-line ones after."""
    import matplotlib

    colours = matplotlib.colormaps["tab20"].colors
    index = ORDER.index(family) if family in ORDER else len(ORDER) + sum(map(ord, family)) % 8
    return colours[(2 * index) % 20 + (2 * index) // 20 % 2]


def _save_small(fig, path: Path) -> None:
    """A PNG of 256 colours: a line plot loses nothing visible and shrinks about four-fold."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=64, format="png")
    image = Image.open(buffer).convert("RGB").quantize(colors=256)
    image.save(path, optimize=True)
