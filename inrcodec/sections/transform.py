"""A PSNR floor by transform coding: the wavelet coder (coding/wavelet.py) at the coarsest step
whose decoded chunk still keeps the floor, on the values themselves (kind WAVELET) or on the
network's residual (kind LATENTS_WAVELET). Where the network has not learned the data, the
first keeps a floor in the fewest bits on smooth fields (SPERR's ground); where it has, the
second keeps a floor past the network's own reach for a fraction of either's bits."""

import math
from dataclasses import dataclass

import numpy as np

from ..chunk import Chunk, cast, excess_db
from ..coding import wavelet
from ..coding.batch import unlike_axes
from ..coding.container import Container, Kind
from .network import prediction_of

DB_PER_CODE = 6.02 / 16  # a uniform quantizer's PSNR falls 6 dB per octave of its step
CLOSE_ENOUGH_DB = 0.2  # a pass this near the floor is not worth another trial
MOST_CODES = 64  # the furthest one trial moves (4 octaves): an exact chunk's PSNR is infinite
MOST_TRIALS = 8  # reconstructions tried before the coarsest passing step is taken
# The estimate's search for a starting step goes this many octaves from a uniform quantizer's:
# a smooth field keeps a floor at steps many octaves coarser (6 on a 1000 x 1000 one).
ESTIMATED_OCTAVES = 24


def encode_floor(chunk: Chunk, target_rms: float, prediction=None,
                 smaller_than: int | None = None) -> Container | None:
    """A container whose RMS error over the chunk's values is at most ``target_rms``, or None
    where no step the coder can use keeps it (a floor near lossless). With the network's
    ``prediction`` (bounds.Prediction) the residual is coded (LATENTS_WAVELET), else the
    values (WAVELET). With ``smaller_than`` (bytes), None as soon as the coder's bound from
    below shows it cannot store the chunk in fewer: the search stops, and nothing is coded.
    Where some axes' slices look unlike (coding/batch.py), the chunk is also coded without
    transforming along them, and the smaller kept."""
    floor = plan_floor(chunk, target_rms, prediction, smaller_than)
    return None if floor is None else floor.finish(smaller_than)


@dataclass
class Floor:
    """``encode_floor``'s steps found, its sections not yet coded (most of its time on small
    chunks): a caller with another way to store the chunk codes them only where they can be
    smaller (``least_bytes``)."""

    found: list  # (wavelet.Coefficients, step code, its nonzero symbols), in the order tried
    chunk: Chunk
    prediction: object

    @property
    def least_bytes(self) -> float:
        """Fewer bytes than any of its sections can take (``_coarsest``'s bound)."""
        return min(_least_bytes(nonzero) for _, _, nonzero in self.found)

    def finish(self, smaller_than: int | None = None) -> Container | None:
        """The container of the smallest section (the first of equals), or None where none
        can be smaller than ``smaller_than`` bytes."""
        best = None
        for coefficients, code, nonzero in self.found:
            if smaller_than is not None and _least_bytes(nonzero) >= smaller_than:
                continue
            section = coefficients.section(code, smaller_than)
            if section is not None and (best is None or len(section) < len(best)):
                best, smaller_than = section, len(section)
        if best is None:
            return None
        if self.prediction is None:
            return Container(kind=Kind.WAVELET, section=best, **self.chunk.header)
        return Container(kind=Kind.LATENTS_WAVELET, section=best, **self.prediction.fields)


def plan_floor(chunk: Chunk, target_rms: float, prediction=None,
               smaller_than: int | None = None) -> Floor | None:
    """``encode_floor``'s coarsest steps, found by reconstructions alone; None where it would
    give None before coding a section."""
    if not 0 < target_rms < math.inf:
        return None
    base = 0.0 if prediction is None else prediction.values
    values = np.where(chunk.finite, chunk.array.astype(np.float64) - base, 0)
    unlike = sum(1 << a for a in unlike_axes(values, ~chunk.finite)) & _split_axes(values.shape)
    found = []
    for batch_axes in (0, unlike) if unlike else (0,):
        try:
            coefficients = wavelet.Coefficients(values, ~chunk.finite, batch_axes)
        except ValueError:  # every value missing
            break
        code, nonzero = _coarsest(chunk, coefficients, target_rms, base, smaller_than)
        if code is not None:
            found.append((coefficients, code, nonzero))
    return Floor(found, chunk, prediction) if found else None


def _least_bytes(nonzero: int) -> float:
    """A range coder may end up to ~8 bytes short of one bit per nonzero symbol (each costs
    at least its sign's: every table is symmetric)."""
    return (nonzero - wavelet.SHORTFALL_BITS) / 8


def _split_axes(shape: tuple[int, ...]) -> int:
    """A bit for each axis the transform splits among the first four (a wavelet section names
    batch axes in four bits): only those can be batch axes."""
    return sum(1 << a for a, n in enumerate(shape[:wavelet.BATCH_AXES]) if wavelet.levels_of((n,))[0])


def _coarsest(chunk: Chunk, coefficients, target_rms: float, base,
              smaller_than: int | None) -> tuple[int | None, int]:
    """(the coarsest step code whose reconstruction keeps ``target_rms``, its nonzero
    symbols), or (None, 0): none found, or none can be coded in fewer than ``smaller_than``
    bytes."""
    def hopeless(nonzero: int) -> bool:
        return smaller_than is not None and _least_bytes(nonzero) >= smaller_than

    # The search starts at the coarsest step whose error the coefficients alone estimate
    # within the target (``estimated_rms``), and steps by the PSNR left over (the secant's
    # slope once two trials have been made), within the codes between the coarsest pass and
    # the finest miss so far.
    code = _estimated_code(coefficients, target_rms)
    trials, nonzeros = {}, {}  # code: dB inside the target, nonzero symbols
    passed = failed = None
    while len(trials) < MOST_TRIALS:
        try:
            recon, nonzeros[code] = coefficients.reconstruction(code)
        except ValueError:  # q would not fit: far too fine a step
            break
        trials[code] = excess_db(chunk, cast(base + recon, chunk.array.dtype), target_rms)
        if trials[code] >= 0:
            passed = code if passed is None else max(passed, code)
        else:
            failed = code if failed is None else min(failed, code)
            if hopeless(nonzeros[code]):  # every step that keeps the floor is finer: no smaller
                return None, 0
        if passed is not None and (trials[passed] < CLOSE_ENOUGH_DB
                                   or failed is not None and failed - passed <= 1):
            break
        slope = DB_PER_CODE
        if passed is not None and failed is not None:
            slope = min(1.0, max(0.05, (trials[passed] - trials[failed]) / (failed - passed)))
        move = min(MOST_CODES, max(-MOST_CODES, trials[code] / slope))
        code += math.floor(move) if move >= 0 else -math.ceil(-move) - 1
        if passed is not None:
            code = max(code, passed + 1)
        if failed is not None:
            code = min(code, failed - 1)
        if code in trials:
            break
    if passed is None or hopeless(nonzeros[passed]):
        return None, 0
    return passed, nonzeros[passed]


def _estimated_code(coefficients, target_rms: float) -> int:
    """The coarsest step code whose ``estimated_rms`` is within ``target_rms``: from a uniform
    quantizer's (an rms of step / sqrt(12)), by octaves, then halves."""
    code = math.floor(16 * math.log2(math.sqrt(12) * target_rms))
    within = coefficients.estimated_rms(code) <= target_rms
    octave = 16 if within else -16
    for _ in range(ESTIMATED_OCTAVES):  # the bracket: a code within, the next octave not
        if (coefficients.estimated_rms(code + octave) <= target_rms) != within:
            break
        code += octave
    else:
        return code
    low, high = (code, code + octave) if within else (code + octave, code)
    while high - low > 1:
        middle = (low + high) // 2
        if coefficients.estimated_rms(middle) <= target_rms:
            low = middle
        else:
            high = middle
    return low


def decode(c: Container, model, finite: np.ndarray) -> np.ndarray:
    return cast(wavelet.decode(c.section, c.shape), c.dtype)


def decode_residual(c: Container, model, finite: np.ndarray) -> np.ndarray:
    values = prediction_of(c, model, exact=True)
    return cast(values + wavelet.decode(c.section, c.shape), c.dtype)
