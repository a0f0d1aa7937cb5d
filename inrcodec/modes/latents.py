"""Plain latents: each patch is the network's reconstruction from its quantized latents,
wherever that reaches the mode's PSNR floor."""

import math

import numpy as np

from ..coding.container import Container, Kind
from ..coding.entropy import rate_distortion_symbols
from ..coding.quantize import LatentQuantizer
from ..measure import psnr_db
from .base import Chunk, Mode, errors, positive
from .bounded import within
from .network import decode, fit, hopeless_rms, latent_fields


class Latents(Mode):
    """The network's reconstruction at ``latent_bits`` (1-12, in steps of 1/16), wherever it
    reaches ``min_psnr`` dB over the chunk's own range; elsewhere the chunk is stored within the
    absolute bound that gives that PSNR (modes/bounded.py). ``min_psnr=None``: the network's
    reconstruction, however poor."""

    def __init__(self, latent_bits: float = 6.5, min_psnr: float | None = None):
        LatentQuantizer.resolution(latent_bits)  # validates it
        if min_psnr is not None:
            positive("min_psnr", min_psnr)
        self.latent_bits, self.min_psnr = latent_bits, min_psnr

    def settings(self) -> dict:
        return {"latent_bits": self.latent_bits, "min_psnr": self.min_psnr}

    @property
    def promise(self) -> str:
        if self.min_psnr is None:
            return (f"no bound: the model's reconstruction at {self.latent_bits:g}-bit latents, "
                    "as good as the model knows data of this kind")
        return (f"every chunk at least {self.min_psnr:g} dB PSNR over its own range: the model's "
                f"reconstruction ({self.latent_bits:g}-bit latents) where it gets there, an error "
                "bound where it does not")

    @property
    def label(self) -> str:
        return "latents" if self.min_psnr is None else f">={self.min_psnr:g} dB"

    higher_is_better = True

    def measure(self, original, decoded, stored_bytes, chunk_values):
        if self.min_psnr is None:
            return None
        x, error = errors(original, decoded)
        rmse = math.sqrt(float(np.mean(error ** 2))) if x.size else 0.0
        value = psnr_db(float(np.ptp(x)) if x.size else 0.0, rmse)
        return value, bool(value >= self.min_psnr - 1e-9)

    def describe(self, worst: float) -> str:
        return f"worst chunk {worst:.2f} dB"

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        quantizer = model.quantizer(*LatentQuantizer.resolution(self.latent_bits))
        # A uniform quantizer's error has an rms of bound / sqrt(3): the bound that gives the
        # floor starts there (and tightens until the decoded chunk gets there, most at once).
        values = chunk.values
        bound = (None if self.min_psnr is None else  # Python floats: a huge range is inf, quietly
                 math.sqrt(3) * (float(values.max()) - float(values.min())) * 10 ** (-self.min_psnr / 20))
        fitted = fit(chunk, model, inner_steps, quantizer,
                     give_up_above=None if bound is None else hopeless_rms(bound))
        if fitted is not None:
            symbols = rate_distortion_symbols(fitted, quantizer)
            container = Container(kind=Kind.LATENTS, **latent_fields(chunk, quantizer, symbols))
            if bound is None or _psnr(chunk, decode(container, model, chunk.finite)) >= self.min_psnr:
                return container
        while True:
            container, decoded = within(chunk, model, inner_steps, bound, self.latent_bits, fitted,
                                        network=fitted is not None)
            if _psnr(chunk, decoded) >= self.min_psnr:  # exact values, at worst, get there
                return container
            bound /= 2


def _psnr(chunk: Chunk, decoded: np.ndarray) -> float:
    values = chunk.values.astype(np.float64)
    error = decoded[chunk.finite].astype(np.float64) - values
    return psnr_db(float(values.max() - values.min()), float(np.sqrt(np.mean(error ** 2))))
