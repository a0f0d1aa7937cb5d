"""Error-bounded coding with SZ3-style multilevel interpolation prediction.

``encode(values, half)`` codes a float64 array so that ``decode`` returns every non-missing value
within ``half`` (up to float64 rounding). Points are visited from a coarse grid down to stride 1
(SZ3, Zhao et al. ICDE 2021): at level ``l`` (stride ``s = 2**l``) and axis ``d`` the new points
are those at odd multiples of ``s/2`` along ``d``, on the grid already decoded along the other
axes (axes refined before ``d`` at this level at stride ``s/2``, the others at ``s``; axes go
first to last, or last to first: a flag). Each is predicted from decoded neighbours along
``d`` (cubic -1/16, 9/16, 9/16, -1/16, or linear; quadratic or linear at the edges), its error
quantized with step ``2 h_l`` and reconstructed as ``pred + 2 h_l q``. One level-axis step is
one vectorised numpy pass, and the decoder repeats the encoder's arithmetic exactly
(elementwise IEEE operations only), so both hold bit-identical reconstructions.

``h_l = half / min(alpha**(l-1), beta)`` (QoZ's level-wise bounds): coarse points, from which
everything finer is predicted, get a finer quantizer. Missing points are neither coded nor used
as data: their reconstruction is their prediction, so neighbours still predict from something
both sides know.

Entropy coding (constriction's range coder): each point's context is the local activity of its
known neighbours (the larger of their first and third differences, in quantizer steps, in
``CONTEXTS`` octave buckets, found by comparisons, not logarithms); its symbol is coded with a
discretised table of one of ``SHAPES`` (a Laplace, two Laplace mixtures, a logistic; one per
chunk) whose rms code (quarter octaves, normalise.py's grid) is
``max(level code, activity code + 4 bucket)``: one code per level and one per chunk, so a
37 x 49 chunk spends about 6 bytes on its tables. The encoder picks the codes and shape of the
fewest bits (the tables' ideal code lengths over the symbols' histograms, within a few bytes of
the real stream), and the interpolant, level bounds and axis order from trial sweeps on a
central block (``TRIAL_POINTS``). Tables come from portable
arithmetic only (entropy.portable_exp), so every machine builds the same ones. Symbols beyond a
table's ``+-K`` take its escape symbol and are stored as svarints beside the stream.

Section layout::

    u8 flags: cubic (bit 0) | level-bound mode (bits 1-2, ``BOUND_MODES``) | table shape
        (bits 3-4, ``SHAPES``) | axes in reverse order (bit 5) | batch axes follow (bit 6,
        version 7); bit 7 is 0
    if bit 6: u8, a bit per batch axis (coding/batch.py): nothing is predicted along them; each
        slice along them has its own anchor, its first point
    varint E: the number of escaped values; then E svarints: the anchors' q (those not missing,
        in C order of the slices; one anchor without batch axes) and each escaped q, in coding
        order
    the range-coded stream, to the end: 32-bit words big-endian, cut to the byte. In it, when
        any point but the anchor is coded: the activity code (uniform over the 128 scale codes),
        then per level (coarse to fine) that has coded points its level code (uniform), and per
        level-axis step, per context bucket in increasing order, the bucket's symbols (C order of
        the step's grid with the step's axis moved first, missing points skipped)

Modules: ``sweep`` (levels, axes, prediction, quantization), ``tables`` (context buckets,
probability tables, the cost model), ``stream`` (the section's bytes), ``trials`` (the encoder's
batched trial sweeps and their estimated bits); this one holds the entry points and the
encoder's choice of settings.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..batch import candidates, unlike_axes
from ..bytes import ContainerError, Reader
from ..rangecoder import read_escapes
from ..tables import CONTEXTS, SHAPES
from . import stream
from .sweep import BOUND_MODES, ESCAPE_LIMIT, Sweep, run
from .trials import Batch

__all__ = ["encode", "plan", "Planned", "decode", "central_block", "unlike_axes",
           "BOUND_MODES", "CONTEXTS", "ESCAPE_LIMIT", "SHAPES", "REVERSED",
           "SMALL_TRIAL", "TRIAL_POINTS"]

TRIAL_POINTS = 1 << 15  # settings are chosen on a central block of about this many points
SMALL_TRIAL = 1 << 14  # up to this many trial points, every setting is swept at once
REVERSED = 2  # the settings of the fewest bits in the first axis order tried in the other


def encode(values: np.ndarray, half: float, missing: np.ndarray | None = None,
           cubic: bool | None = None, bound_mode: int | None = None,
           reverse: bool | None = None, batch_axes: int | None = None) -> tuple[bytes, np.ndarray]:
    """(section bytes, the decoder's reconstruction as float64) of ``values``.

    Every non-missing point of the reconstruction is within ``half`` of its value (up to
    float64 rounding; a non-finite value, or one so far from its prediction that ``|q|`` would
    pass ``ESCAPE_LIMIT``, is not: it decodes to its prediction, and the caller must store it
    otherwise). Missing points decode to their prediction. ``cubic``, ``bound_mode``,
    ``reverse`` (the axis order) and ``batch_axes`` (a bit per axis not predicted along) fix the
    settings the encoder otherwise chooses for the fewest bits.
    """
    return plan(values, half, missing, cubic, bound_mode, reverse, batch_axes).finish()


@dataclass
class Planned:
    """An encoding chosen but not made: its estimated bits (trials.py, from the trial block,
    in proportion to the chunk's values) and ``finish()``, which gives what ``encode`` gives."""

    bits: float | None  # None: the trial block holds too few of the chunk's values to tell
    finish: Callable[[], tuple]
    settings: dict | None  # cubic, bound_mode, reverse, batch_axes: ``plan``'s arguments to fix
    # them; None where the search stopped after its first sweep (``rest``)
    extrapolated: bool  # whether the bits are a block's, in proportion to the chunk's values
    rest: Callable[[], "Planned"] | None = None  # the search made whole, where it stopped early


def plan(values: np.ndarray, half: float, missing: np.ndarray | None = None,
         cubic: bool | None = None, bound_mode: int | None = None, reverse: bool | None = None,
         batch_axes: int | None = None, first_sweep: bool = False) -> Planned:
    """``encode``'s settings chosen and its bits estimated, before the sweep of a large
    chunk and the stream: a caller with several ways to store a chunk finishes the likely
    smallest. ``first_sweep``, where no setting is fixed and no axis looks unlike (batch
    axes can take a stack's bytes down tenfold): the search stops after its first trial sweep
    (both interpolants at level-bound mode 1, in the first axis order; every setting at once
    on a small block), and ``rest`` makes the rest of it; a caller that finds the first
    sweep's bits far above another way's spares the rest (they are never below the whole
    search's)."""
    values = np.asarray(values, dtype=np.float64)
    missing = _check(values.shape, half, missing)
    free = cubic is None and bound_mode is None and reverse is None and batch_axes is None
    search = _Search(values, half, missing, cubic, bound_mode, reverse, batch_axes)
    stopped = search.run(first_sweep and free and not search.unlike)
    return _planned(search, stopped)


def _planned(search: "_Search", stopped: bool) -> Planned:
    bits, chosen, settings = search.chosen()
    values = search.values

    def finish() -> tuple[bytes, np.ndarray]:
        sweep, symbols = chosen()
        return stream.write(sweep, symbols), sweep.recon

    def rest() -> Planned:
        search.run(False)
        return _planned(search, False)

    return Planned(bits, finish, None if stopped else settings,
                   bits is None or values.size > TRIAL_POINTS, rest if stopped else None)


def decode(data: bytes, shape: tuple[int, ...], half: float,
           missing: np.ndarray | None = None) -> np.ndarray:
    """The float64 reconstruction ``encode`` returned; ContainerError for bad bytes."""
    shape = tuple(int(n) for n in shape)
    missing = _check(shape, half, missing)
    reader = Reader(bytes(data), 0)
    flags = reader.byte()
    if flags >> 7:
        raise ContainerError("corrupted interpolation section: unknown flags")
    batch_axes = reader.byte() if flags >> 6 & 1 else 0
    if flags >> 6 & 1 and not 0 < batch_axes < 1 << len(shape):
        raise ContainerError("corrupted interpolation section: batch axes the chunk does not have")
    rebuilt = Sweep(shape, half, missing, bool(flags & 1), flags >> 1 & 3, bool(flags >> 5 & 1),
                    batch_axes=batch_axes)
    escapes = read_escapes(reader, rebuilt.coded + rebuilt.anchor_coded.size, ESCAPE_LIMIT,
                           "interpolation")
    try:
        stream.read(rebuilt, reader.rest(), escapes, flags >> 3 & 3)
    except AssertionError as e:  # constriction's word for a stream it cannot decode
        raise ContainerError(f"corrupted interpolation section: {e}") from e
    return rebuilt.recon


def _check(shape: tuple[int, ...], half: float, missing: np.ndarray | None) -> np.ndarray | None:
    if not (math.isfinite(half) and half > 0):
        raise ValueError(f"the half step must be positive and finite, not {half}")
    if missing is None:
        return None
    missing = np.asarray(missing, dtype=bool)
    if missing.shape != tuple(shape):
        raise ValueError(f"missing mask of shape {missing.shape} for values of shape {shape}")
    return missing if missing.any() else None


class _Search:
    """The encoder's choice of settings: the (cubic, bound mode, axis order) of the fewest
    estimated bits on a central block of the chunk (trials.py). Every interpolant and
    level-bound mode allowed is swept at once in the first-to-last axis order (on a block over
    ``SMALL_TRIAL`` points, the interpolants at mode 1 first, then the other modes with the
    better one), then the ``REVERSED`` best (one on a large block) in the other order. A chunk
    that is its own block keeps the trial's run; a larger one's bits are the block's in
    proportion to its values.

    Where some axes' slices look unlike (``unlike_axes``), the same search is made with them as
    batch axes (the most unlike, then it and the next, ...: ``batch.candidates``), and the fewest
    bits of all kept; ``batch_axes`` given, only it is searched. The search is a generator, so
    that it can stop after its first sweep and go on later (``run``)."""

    def __init__(self, values: np.ndarray, half: float, missing: np.ndarray | None,
                 cubic: bool | None, bound_mode: int | None, reverse: bool | None,
                 batch_axes: int | None):
        self.values, self.half, self.missing = values, half, missing
        block = central_block(values.shape, TRIAL_POINTS)
        self.trial = values[block]
        self.trial_missing = None if missing is None or not missing[block].any() else missing[block]
        self.interpolants = (True, False) if cubic is None else (cubic,)
        self.modes = range(len(BOUND_MODES)) if bound_mode is None else (bound_mode,)
        self.reverse, self.batch_axes = reverse, batch_axes
        self.tried = []  # (estimated bits, the trial sweeps, index among them) of the settings kept
        self.unlike = ([] if batch_axes is not None
                       else list(candidates(unlike_axes(self.trial, self.trial_missing))))
        self.progress = self._every_search()

    def run(self, first_sweep: bool) -> bool:
        """Searches on, to the end or (``first_sweep``) to the end of the first sweep; whether
        it stopped before the end."""
        for _ in self.progress:
            if first_sweep:
                return True
        return False

    def _every_search(self):
        yield from self._search(self.batch_axes or 0)
        for axes in self.unlike:
            yield from self._search(axes)

    def _search(self, axes: int):
        """Every setting tried with ``axes`` into ``tried`` (with ``reverse`` given, only those
        in its order), yielding after each sweep."""
        tried, reverse = [], self.reverse
        interpolants, modes = self.interpolants, self.modes
        first = len(self.tried)  # this search's candidates, as they come, replace tried[first:]

        def sweep_all(options: list, backwards: bool) -> list:
            sweeps = Batch(self.trial, self.half, self.trial_missing, options, backwards, axes)
            found = [(float(b), sweeps, i) for i, b in enumerate(sweeps.bits())]
            tried.extend(found)
            return found

        several_axes = sum(n > 1 for i, n in enumerate(self.values.shape) if not axes >> i & 1) > 1
        if reverse and several_axes and len(interpolants) == len(modes) == 1:
            self.tried += sweep_all([(interpolants[0], modes[0])], True)  # all given: one sweep
            return
        small = self.trial.size <= SMALL_TRIAL
        if small or len(interpolants) == 1 or len(modes) == 1:
            sweep_all([(c, m) for c in interpolants for m in modes], False)
            if not reverse:
                self.tried[first:] = tried
            yield
        else:
            _, best, i = min(sweep_all([(c, 1) for c in interpolants], False), key=_bits)
            if not reverse:
                self.tried[first:] = tried
            yield
            chosen = best.options[i][0]
            sweep_all([(chosen, m) for m in modes if m != 1], False)
        if several_axes and (reverse is None or reverse):
            ranked = sorted(tried, key=_bits)[:REVERSED if small else 1]
            backwards = sweep_all([b.options[i] for _, b, i in ranked], True)
            if reverse:
                tried = backwards
        self.tried[first:] = tried

    def chosen(self) -> tuple:
        """(estimated bits, the encoder's run to come, its settings) of the fewest bits so far."""
        bits, best, i = min(self.tried, key=_bits)
        (cubic, bound_mode), reverse, batch_axes = best.options[i], best.reverse, best.batch_axes
        settings = dict(cubic=cubic, bound_mode=bound_mode, reverse=reverse, batch_axes=batch_axes)
        values, missing, trial, trial_missing = self.values, self.missing, self.trial, self.trial_missing
        if trial.shape == values.shape:
            return bits, lambda: best.take(i), settings
        # In proportion to the values coded; a block far emptier than the chunk tells nothing.
        coded = values.size if missing is None else values.size - int(missing.sum())
        coded_trial = trial.size if trial_missing is None else trial.size - int(trial_missing.sum())
        scaled = bits * coded / coded_trial if coded_trial * 4 >= trial.size * coded / values.size else None
        settled = (cubic, bound_mode, reverse)
        return scaled, lambda: run(values, self.half, missing, settled, batch_axes), settings


def _bits(candidate: tuple) -> float:
    return candidate[0]


def central_block(shape: tuple[int, ...], points: int) -> tuple:
    """A central block of about ``points`` points, with the chunk's aspect where it can."""
    size = math.prod(shape)
    if size <= points:
        return tuple(slice(None) for _ in shape)
    shrink = (points / size) ** (1 / max(1, sum(n > 1 for n in shape)))
    block = []
    for n in shape:
        m = max(1, min(n, int(n * shrink) + 1))
        block.append(slice((n - m) // 2, (n - m) // 2 + m))
    return tuple(block)
