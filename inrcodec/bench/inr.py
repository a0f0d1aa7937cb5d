"""inrcodec in the benchmark: its settings as data, the model's size, its arithmetic per value.

Each entry of ``settings`` is one ``INRCodec(model, **keywords)``; a mode is a family of
entries, so a new mode is one more line. The size-budget mode (``bits_per_value``) is included
only where this version of ``INRCodec`` accepts that keyword.
"""

import inspect
import math
from pathlib import Path

from ..codecs.numcodecs import INRCodec
from ..model import bundled_path, resolve
from .peers import Contender

PLAIN_LATENT_BITS = {False: (3, 4, 5, 6, 7), True: (3, 5)}  # by quick
FLOORS = {False: (30.0, 40.0, 50.0), True: (40.0,)}  # the default codec's PSNR floor, dB
# The RMS floors, as dB over the test range: a point near every PSNR the fronts are read at.
RMS_FLOORS = {False: (25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0), True: (40.0,)}
DEFAULT_LATENT_BITS = inspect.signature(INRCodec).parameters["latent_bits"].default
# Loosest first: a run gives up on a family's tighter settings once one takes too long.
BUDGETS = {False: (2.0, 1.0, 0.5, 0.25, 0.15), True: (1.0,)}  # bits per value


def accepts(keyword: str) -> bool:
    return keyword in inspect.signature(INRCodec).parameters


def settings(bounds: tuple[float, ...], quick: bool,
             value_range: float | None = None) -> list[tuple[str, dict]]:
    """(family, INRCodec keywords) of every inrcodec point of a run; with the test data's
    ``value_range``, the RMS floors that give the PSNR floors' dB over that range."""
    # The network's own curve: plain latents without the floor that falls back to error bounds.
    out = [("inrcodec", {"latent_bits": b, "min_psnr": None}) for b in PLAIN_LATENT_BITS[quick]]
    out += [("inrcodec floor", {"min_psnr": p}) for p in FLOORS[quick]]
    if value_range and accepts("max_rmse"):
        out += [("inrcodec rms floor", {"max_rmse": float(f"{value_range * 10 ** (-p / 20):.3g}")})
                for p in RMS_FLOORS[quick]]
    out += [("inrcodec bounded", {"max_error": b}) for b in bounds]
    if accepts("bits_per_value"):
        out += [("inrcodec budget", {"bits_per_value": b}) for b in BUDGETS[quick]]
    return out


def contenders(model: str, bounds: tuple[float, ...], quick: bool,
               value_range: float | None = None) -> list[Contender]:
    out = []
    # A linear model's products are numpy's: 2K per value to decode, and as many again to
    # project (encode), counted from its size (torch's counter sees none of them).
    loaded = resolve(model)
    per_value = 2.0 * loaded.latent_dim if loaded.linear else 0.0
    for family, keywords in settings(bounds, quick, value_range):
        codec = INRCodec(model, **keywords)
        out.append(Contender(family, ", ".join(f"{k}={v:g}" for k, v in keywords.items()
                                               if v is not None),
                             codec.encode, lambda data, shape, dtype, codec=codec: codec.decode(data),
                             bound=codec.mode.absolute_bound, params=dict(keywords),
                             numpy_flops=(2 * per_value, per_value)))
    return out


def describe_model(model: str, test_values: int) -> dict:
    """The bundled model's file size (what a reader needs once, beside the chunks), that size
    spread over ``test_values``, its hash, what it was trained on, its forward pass's FLOPs."""
    size, loaded = Path(bundled_path(model)).stat().st_size, resolve(model)
    return {"model_bytes": size, "model_bits_per_test_value": 8 * size / test_values,
            "model_hash": loaded.hash, "model_data": loaded.card.get("data", ""),
            "forward_flops": forward_flops(model)}


def forward_flops(model: str) -> dict:
    """The network's arithmetic counted from its architecture (2 FLOPs per multiply-add): per
    point, the sine layers and output; per patch, the latent -> shift map. A cross-check on the
    FLOPs torch counts."""
    loaded = resolve(model)
    if loaded.linear:  # one multiply-add per latent and point; nothing per patch
        per_point = 2 * loaded.latent_dim
        return {"per_point": per_point, "per_patch": 0, "per_point_with_shift_map": per_point}
    net, patch_points = loaded.net, math.prod(loaded.patch_shape)
    per_point = 2 * (net.dim_in * net.width + (net.depth - 1) * net.width ** 2 + net.width)
    per_patch = 2 * net.latent_dim * net.width * net.depth
    return {"per_point": per_point, "per_patch": per_patch,
            "per_point_with_shift_map": per_point + per_patch / patch_points}
