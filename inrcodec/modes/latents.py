"""Plain latents: each patch is the network's reconstruction from its quantized latents,
wherever that reaches the mode's PSNR floor."""

import math
from collections.abc import Callable

import numpy as np

from ..chunk import Chunk, errors, excess_db
from ..coding.container import Container, Kind
from ..coding.entropy import rate_distortion_symbols
from ..coding.interp import central_block
from ..coding.quantize import LatentQuantizer
from ..measure import psnr_db, rms
from ..sections import transform
from ..sections.bounds import Prediction, within
from ..sections.network import decode, fit, latent_fields, least_latent_bytes
from .base import MOST_ERROR, Mode, positive

MOST_PSNR = 1000.0  # dB
LOOSENING_TRIALS = 3  # bounds tried past the first that keeps the floor
LOOSE_ENOUGH_DB = 0.25  # a floor kept by less than this is not worth another trial
MOST_LOOSENING_DB = 20.0  # a lossless chunk has an infinite PSNR: one decade at a time
SEARCH_POINTS = 1 << 15  # a chunk of twice as many values searches a block this size first
SAME_AS_BLOCK_DB = 1.0  # a chunk this close to its block's excess takes the block's bound
BLOCK_SLACK = 4.0  # a block this many times over another way's bytes, in proportion, gives up
# (a block can be unlike its chunk: a factor 2 lost 4% on a noisy centre, review)


def size(container: Container, model) -> int:
    return len(container.to_bytes(model.hash))


class Latents(Mode):
    """The network's reconstruction at ``latent_bits`` (1-12, in steps of 1/16), wherever it
    keeps the mode's floor: at least ``min_psnr`` dB over the chunk's own range, or (``max_rmse``)
    an RMS error of at most that over the chunk's finite values. Elsewhere, and wherever they are
    smaller, the chunk is stored by transform coding (sections/transform.py) or within the loosest
    absolute bound a short search finds that still keeps the floor (sections/bounds.py). Neither:
    the network's reconstruction, however poor."""

    def __init__(self, latent_bits: float = 6.5, min_psnr: float | None = None,
                 max_rmse: float | None = None):
        LatentQuantizer.resolution(latent_bits)  # validates it
        if min_psnr is not None and max_rmse is not None:
            raise ValueError("a floor is min_psnr or max_rmse: give one")
        if min_psnr is not None:
            # Past float64's resolution (about 6.02 dB a bit) no chunk can be told apart from
            # lossless: a floor beyond that is a mistake, not a promise to keep.
            min_psnr = positive("min_psnr", min_psnr, most=MOST_PSNR)
        if max_rmse is not None:
            max_rmse = positive("max_rmse", max_rmse, MOST_ERROR)
        self.latent_bits, self.min_psnr, self.max_rmse = latent_bits, min_psnr, max_rmse
        self.floored = min_psnr is not None or max_rmse is not None

    def settings(self) -> dict:
        out = {"latent_bits": self.latent_bits, "min_psnr": self.min_psnr}
        return out if self.max_rmse is None else {**out, "max_rmse": self.max_rmse}

    @property
    def promise(self) -> str:
        if not self.floored:
            return (f"no bound: the model's reconstruction at {self.latent_bits:g}-bit latents, "
                    "as good as the model knows data of this kind")
        floor = (f"at least {self.min_psnr:g} dB PSNR over its own range" if self.max_rmse is None
                 else f"an RMS error of at most {self.max_rmse:g}")
        return (f"every chunk {floor}: the model's reconstruction ({self.latent_bits:g}-bit "
                "latents) where it gets there and is the smallest, transform coding or an error "
                "bound where they are")

    @property
    def label(self) -> str:
        if self.max_rmse is not None:
            return f"rms<={self.max_rmse:g}"
        return "latents" if self.min_psnr is None else f">={self.min_psnr:g} dB"

    @property
    def higher_is_better(self) -> bool:  # a PSNR; an RMSE is better lower
        return self.max_rmse is None

    def measure(self, original, decoded, stored_bytes, chunk_values):
        if not self.floored:
            return None
        x, error = errors(original, decoded)
        rmse = rms(error)
        if self.max_rmse is not None:
            return rmse, bool(rmse <= self.max_rmse * (1 + 1e-9))
        value = psnr_db(float(np.ptp(x)) if x.size else 0.0, rmse)
        return value, bool(value >= self.min_psnr - 1e-9)

    def describe(self, worst: float) -> str:
        return f"worst chunk {worst:.4g} rms" if self.max_rmse is not None else f"worst chunk {worst:.2f} dB"

    def target_rms(self, chunk: Chunk) -> float:
        """The largest RMS error the floor allows this chunk (Python floats: a huge range is
        inf, quietly)."""
        if self.max_rmse is not None:
            return self.max_rmse
        return chunk.value_range * 10 ** (-self.min_psnr / 20)

    def encode(self, chunk: Chunk, model, inner_steps: int) -> Container:
        quantizer = model.quantizer(*LatentQuantizer.resolution(self.latent_bits))
        # A uniform quantizer's error has an rms of bound / sqrt(3): where the network misses
        # the floor, the search for a bound that keeps it starts there.
        bound = target = None
        if self.floored:
            target = self.target_rms(chunk)
            bound = math.sqrt(3) * target
        # Transform coding keeps a floor in the fewest bits on smooth data the network has not
        # learned. Its step found first, it says whether the network can pay at all: where the
        # latents alone would take more bytes, nothing is fitted. Its section is coded only
        # where that takes knowing its bytes, or where it can be smaller than the latents.
        floor = transform.plan_floor(chunk, target) if self.floored else None
        least = least_latent_bytes(chunk.array.shape, model, quantizer)
        coded = None if floor is None or least < floor.least_bytes else floor.finish()
        fitted = None
        if floor is None or coded is None or least < size(coded, model):
            fitted = fit(chunk, model, inner_steps, quantizer,
                         bound=bound)
        kept = False
        if fitted is not None:
            symbols = rate_distortion_symbols(fitted, quantizer)
            container = Container(kind=Kind.LATENTS, **latent_fields(chunk, quantizer, symbols))
            if bound is None:
                return container
            kept = excess_db(chunk, decode(container, model, chunk.finite), target) >= 0
        if floor is not None and coded is None:  # equal bytes: the transform's, as before
            coded = floor.finish(size(container, model) + 1 if kept else None)
        candidates = [] if coded is None else [coded]
        if kept:
            candidates.append(container)
        prediction = None
        if not kept:
            prediction = None if fitted is None else Prediction.of(chunk, model, quantizer, fitted)
            smallest = min((size(c, model) for c in candidates), default=None)
            if (loosest := self._loosest(chunk, model, bound, target, prediction, smallest)) is not None:
                candidates.append(loosest)
        # Every candidate keeps the floor: the smallest is stored. The network's residual by
        # transform coding last (a search that cannot beat the best stops early).
        best = min(candidates, key=lambda c: size(c, model))
        if prediction is not None and \
                prediction.least_bytes(Kind.LATENTS_WAVELET, model) < (smallest := size(best, model)):
            trial = transform.encode_floor(chunk, target, prediction, smaller_than=smallest)
            if trial is not None and size(trial, model) < smallest:
                best = trial
        return best

    def _loosest(self, chunk: Chunk, model, bound: float, target: float,
                 prediction: Prediction | None, smaller_than: int | None = None) -> Container | None:
        """The smallest container, over a few bounds, whose decoded chunk keeps the floor
        (an rms of at most ``target``); None where none can be smaller than ``smaller_than``
        bytes (what another way stores the chunk in).

        Most values of a smooth chunk are predicted well within the bound, so its error is far
        below bound / sqrt(3): on the benchmark's unseen datasets that first bound gave 1-5 dB
        more than the floor asked. The bound is tightened until the floor holds (exact values,
        at worst, get there), then loosened by what is left over, the PSNR falling about 1 dB
        per dB of bound, halving the step after a miss. A large chunk makes that search on a
        central block first and starts from the bound found there: where the block is like the
        chunk, one encode of the whole chunk instead of four or more; and where the block's
        bytes, in proportion to the values, are over BLOCK_SLACK times ``smaller_than``, the
        chunk is not searched. Either search gives up at a trial that misses the floor with
        that many bytes or more (``_search``)."""
        part, settled = _central_part(chunk, prediction), None
        if part is not None:
            scale = chunk.values.size / part[0].values.size
            over = None if smaller_than is None else \
                (lambda c: len(c.section) * scale > BLOCK_SLACK * smaller_than)
            if (found := self._search(*part, model, bound, target, over=over)) is None:
                return None
            found, bound, settled = found
            if over is not None and over(found):
                return None
        over = None if smaller_than is None else (lambda c: size(c, model) >= smaller_than)
        found = self._search(chunk, prediction, model, bound, target, settled, over=over)
        return None if found is None else found[0]

    def _search(self, chunk: Chunk, prediction: Prediction | None, model, bound: float,
                target: float, settled: float | None = None,
                over: Callable[[Container], bool] | None = None
                ) -> tuple[Container, float, float] | None:
        """(the smallest container that keeps the floor, the loosest bound that kept it, the
        excess there). ``settled``: the excess a block of the chunk kept at ``bound`` after its
        own search; where the chunk keeps the floor there by at most SAME_AS_BLOCK_DB more, the
        block's search stands for the chunk's. The interpolation settings found at the first
        bound serve every later one (``within``'s ``settings``). None at a trial that misses the
        floor and is already ``over`` what the caller can use: every container that keeps it
        is at a finer bound, no smaller. (On 84 floors, 30-60 dB, of 21 chunks of 27,840 to 10^6
        values, from NEMO, OSTIA, GloSea4, MNI and 7 other sources, that spared 66 of 183
        whole-chunk trials and changed no byte.)"""
        settings = {}
        while True:
            container, decoded = within(chunk, model, bound, prediction, settings=settings)
            excess = excess_db(chunk, decoded, target)
            if excess >= 0:
                break
            if over is not None and over(container):
                return None
            bound /= 2
            settled = None
        if settled is not None and excess <= settled + SAME_AS_BLOCK_DB:
            return container, bound, excess
        best, best_size, kept = container, len(container.to_bytes(model.hash)), excess
        step = min(excess, MOST_LOOSENING_DB) / 20  # in decades of the bound
        for _ in range(LOOSENING_TRIALS):
            if step < LOOSE_ENOUGH_DB / 20:
                break
            trial, decoded = within(chunk, model, bound * 10 ** step, prediction, settings=settings)
            excess = excess_db(chunk, decoded, target)
            if excess >= 0:
                bound, kept = bound * 10 ** step, excess
                if (trial_size := len(trial.to_bytes(model.hash))) < best_size:
                    best, best_size = trial, trial_size
                step = min(excess, MOST_LOOSENING_DB) / 20
            elif over is not None and over(trial):
                return None
            else:
                step /= 2
        return best, bound, kept


def _central_part(chunk: Chunk, prediction: Prediction | None) -> tuple | None:
    """(a central block of about SEARCH_POINTS values as a chunk, the prediction there), for
    a chunk of at least twice as many with enough values in the block; else None. The block's
    containers, only measured, carry the block's share of the latents' bytes."""
    if chunk.array.size < 2 * SEARCH_POINTS:
        return None
    block = central_block(chunk.array.shape, SEARCH_POINTS)
    finite = chunk.finite[block]
    values = chunk.array[block][finite]
    if values.size < SEARCH_POINTS // 4 or values.min() == values.max():
        return None
    part = Chunk(chunk.array[block], finite, chunk.header)
    part.__dict__["norm"] = chunk.norm  # the residual's step is set by the chunk's normalisation
    if prediction is None:
        return part, None
    latents = prediction.fields["latents"]
    share = latents[:round(len(latents) * part.array.size / chunk.array.size)]
    return part, Prediction(prediction.values[block], {**prediction.fields, "latents": share})
