"""The linear base network: every patch is a mean plus its latents times a tabulated basis.

A patch's values are ``mean + latents @ basis``: the output is linear in the latents, so
encoding is one least-squares projection (no inner loop) and decoding one matrix product, tens
to hundreds of multiply-adds a value where the SIREN spends 25,000 (docs/linear-family.md). The
basis is the coordinate network evaluated once on the patch grid and kept as a table; here it is
learned as the EOFs of an archive's own patches (``learn``, closed form, seconds), which beat
every network where there is an archive to learn from (docs/linear-family.md).

Decoding is the same on every machine by construction (issue 32): the basis is stored as 16-bit
integers times a power of two, latents are integer symbols times one step, so
``symbols @ table`` is a sum of integers below 2^53, exact in float64 whatever order a BLAS
kernel, thread count or alignment adds them in; one multiplication by ``step * 2^-exponent``
and one addition of the mean follow, each a single IEEE rounding. No torch: a reader of such a
chunk loads numpy and safetensors only.
"""

import functools
import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import safetensors.numpy

from .coding import kernels
from .coding.quantize import HEADROOM, LatentQuantizer
from .patches import count_patches, from_patches, to_patches

FORMAT = "inrcodec-model/3"
# A model with positional parts (``home``): format 4, which a reader of format 3 refuses rather
# than decode its chunks with the shared basis alone.
FORMAT_POSITIONS = "inrcodec-model/4"
TABLE_BITS = 15  # int16 entries: the basis to ~1e-5 of its largest value
# A sum of K products of a symbol (under 2^16: 12 bits, a fraction and 3 of headroom) by a
# table entry (under 2^15) stays below 2^53, and so exact in float64, for K up to 2^21.
MAX_LATENTS = 1024
MAX_DIMS = 4
MAX_POINTS = 2 ** 16
# Without a prior, a patch with fewer valid points than latents has no unique projection: in a
# patch with points missing, each coefficient is held towards zero by its training spread as by
# noise of this variance (the normalised chunk's units); whole patches are plain least squares.
PRIOR_NOISE = 1e-3
MIN_PATCHES_PER_LATENT = 2  # whole patches the EOFs need per latent, at least
# A partial patch's normal equations depend only on which of its points are valid: an archive's
# fixed land mask gives every time step's chunks the same ones. A model keeps the latest this
# many (a latent's square each: 32 kB at 64 latents), and starts over when they are full.
KEPT_GRAMS = 512
MAX_POSITIONS = 4096  # a field's patches a model may have parts for
# A file's positional table holds at most as many entries as the largest shared one may (128 MB):
# a config that claims more is refused before anything is inflated or allocated.
MAX_POSITION_ENTRIES = MAX_LATENTS * MAX_POINTS


class LinearModelError(ValueError):
    """A linear model file that cannot be used."""


@dataclass
class LinearModel:
    patch_shape: tuple[int, ...]
    mean: np.ndarray  # (points,) float32, the patches' mean in normalised units
    table: np.ndarray  # (latents, points) int16: the basis times 2**exponent
    exponent: int
    latent_std: np.ndarray  # (latents,) float32: each latent's spread in training
    card: dict = field(default_factory=dict)
    # Absolute coordinates: in a chunk whose fields (its patch axes) are ``home``, each of a
    # field's patch positions has its own mean and basis (an archive's geography: land and
    # sea, orography, the coast), in place of the shared ones, which other chunks use.
    home: tuple[int, ...] | None = None
    position_mean: np.ndarray | None = None  # (positions, points) float32
    position_table: np.ndarray | None = None  # (positions, latents, points) int16, ``exponent``
    _quantizers: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _grams: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    linear = True
    gated = False
    latent_basis = None

    def __post_init__(self):
        self.patch_shape = tuple(int(n) for n in self.patch_shape)
        self.mean = np.ascontiguousarray(self.mean, dtype=np.float32)
        self.table = np.ascontiguousarray(self.table, dtype=np.int16)
        self.latent_std = np.ascontiguousarray(self.latent_std, dtype=np.float32)
        self.exponent = int(self.exponent)
        check_shapes(self.patch_shape, self.mean.shape, self.table.shape, self.latent_std.shape,
                     self.exponent)
        if self.home is not None:
            self.home = tuple(int(n) for n in self.home)
            self.position_mean = np.ascontiguousarray(self.position_mean, dtype=np.float32)
            self.position_table = np.ascontiguousarray(self.position_table, dtype=np.int16)
            check_positions(self.patch_shape, self.home, self.table.shape,
                            self.position_mean.shape, self.position_table.shape)
        elif self.position_mean is not None or self.position_table is not None:
            raise LinearModelError("linear model with positional parts but no home shape")
        if not (np.isfinite(self.mean).all() and np.isfinite(self.latent_std).all()
                and (self.latent_std >= 0).all() and (self.home is None
                                                      or np.isfinite(self.position_mean).all())):
            raise LinearModelError("linear model with non-finite values or negative spreads")
        self.hash = self._hash()

    @property
    def latent_dim(self) -> int:
        return len(self.table)

    @property
    def ndim(self) -> int:
        return len(self.patch_shape)

    def quantizer(self, bits: int, fraction: int = 0, headroom: int = HEADROOM) -> LatentQuantizer:
        # The basis is orthonormal in the output (EOFs): squared coefficient errors add up to
        # the decoded error, so one step suits every latent and rate-distortion rounding applies
        # (the identity as the quantizer's basis says so). One per resolution: a reader asks
        # for it per chunk, and it keeps its tables' key (entropy.py).
        key = bits, fraction, headroom
        if key not in self._quantizers:
            self._quantizers[key] = LatentQuantizer(
                np.zeros(self.latent_dim, np.float32), self.latent_std, bits, fraction,
                np.eye(self.latent_dim, dtype=np.float32), headroom)
        return self._quantizers[key]

    @functools.cached_property
    def basis(self) -> np.ndarray:
        """(latents, points) float64: the basis the decoder multiplies by, exactly."""
        return np.ldexp(self.table.astype(np.float64), -self.exponent)

    @functools.cached_property
    def _table64(self) -> np.ndarray:
        return self.table.astype(np.float64)

    @functools.cached_property
    def _gram(self) -> np.ndarray:
        """(latents, latents): the basis times itself, over a whole patch's points."""
        return self.basis @ self.basis.T

    @functools.cached_property
    def _whole_projection(self) -> np.ndarray:
        """(points, latents): least squares of a patch with every point valid, in the
        decoder's own (integer-rounded) basis."""
        return np.linalg.solve(self._gram, self.basis).T  # near-orthonormal

    def positions(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """Each patch's position in its field, as ``patches.to_patches`` cuts a chunk of
        ``shape`` (field by field), where the chunk's fields are ``home``; else None: the
        shared mean and basis serve every patch."""
        if self.home is None or tuple(shape[-self.ndim:]) != self.home:
            return None
        fields = math.prod(shape[:-self.ndim])
        return np.tile(np.arange(len(self.position_mean)), fields)

    @functools.cached_property
    def _parts(self) -> list["LinearModel"]:
        """Each position's mean and basis as a model of its own (its latents' spread is the
        shared one: the quantizer and the tables are the model's)."""
        return [LinearModel(self.patch_shape, mean, table, self.exponent, self.latent_std)
                for mean, table in zip(self.position_mean, self.position_table)]

    def _by_position(self, positions: np.ndarray, rows: np.ndarray, method, *arrays) -> np.ndarray:
        """``method`` (a part's) applied to each position's ``arrays`` rows, into one array."""
        out = np.empty((len(positions), rows))
        for p, part in enumerate(self._parts):
            where = positions == p
            if where.any():
                out[where] = method(part, *(a[where] for a in arrays))
        return out

    def project(self, target: np.ndarray, weight: np.ndarray,
                positions: np.ndarray | None = None) -> np.ndarray:
        """Latents (patches, latents) float64 of normalised patches ``target`` whose points
        weigh ``weight`` (1 valid, 0 padding or NaN): each patch's least-squares fit over its
        valid points (where some are missing, the prior holds a latent the points cannot tell
        towards zero); with ``positions``, each in its position's basis."""
        if positions is not None:
            return self._by_position(positions, self.latent_dim, LinearModel.project,
                                     np.asarray(target), np.asarray(weight))
        x = (np.asarray(target, np.float64) - self.mean) * weight
        latents = x @ self._whole_projection
        partial = np.flatnonzero(np.asarray(weight).min(-1) < 1)
        if len(partial):
            grams = np.empty((len(partial), self.latent_dim, self.latent_dim))
            products = np.empty((len(partial), self.latent_dim, 1))
            for j, i in enumerate(partial):  # the chunk's edges and masks (most of a coastal chunk's)
                grams[j] = self._normal_matrix(weight[i] > 0)
                products[j, :, 0] = self.basis @ x[i]  # x is 0 off the valid points
            # One stacked solve: LAPACK's, patch by patch, the numbers a call each gave.
            latents[partial] = np.linalg.solve(grams, products)[..., 0]
        return latents

    def _normal_matrix(self, valid: np.ndarray) -> np.ndarray:
        """The regularised normal equations' matrix of a patch whose ``valid`` points are
        known (the same numbers whether made or kept: ``KEPT_GRAMS``)."""
        key = valid.tobytes()
        if (kept := self._grams.get(key)) is not None:
            return kept
        # The valid points' products, from whichever side has fewer points: a patch with a
        # little land is the whole patch's less the land's (half or less the work).
        if 2 * np.count_nonzero(valid) > valid.size:
            b = self.basis[:, ~valid]
            gram = self._gram - b @ b.T
        else:
            b = self.basis[:, valid]
            gram = b @ b.T
        gram += self._prior
        if len(self._grams) >= KEPT_GRAMS:
            self._grams.clear()
        self._grams[key] = gram
        return gram

    @functools.cached_property
    def _prior(self) -> np.ndarray:
        return PRIOR_NOISE * np.diag(_inverse_variance(self.latent_std))

    @functools.cached_property
    def _table32(self) -> np.ndarray:
        return self.table.astype(np.float32)

    @functools.cached_property
    def _reach(self) -> np.ndarray:
        """Each latent's largest |table entry| (float64)."""
        return np.abs(self.table.astype(np.float64)).max(1, initial=0.0)

    def reconstruct(self, latents: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """(patches, points) float64: the patches of unquantized ``latents``."""
        if positions is not None:
            return self._by_position(positions, math.prod(self.patch_shape),
                                     LinearModel.reconstruct, np.asarray(latents))
        return self.mean + np.asarray(latents, np.float64) @ self.basis

    def values(self, symbols: np.ndarray, step: float,
               positions: np.ndarray | None = None) -> np.ndarray:
        """(patches, points) float64 of integer ``symbols`` (patches, latents) quantized by
        ``step``: bit-identical on every machine (see the module's docstring)."""
        if positions is not None:
            return self._by_position(positions, math.prod(self.patch_shape),
                                     lambda part, s: part.values(s, step), np.asarray(symbols))
        return self._scaled(self._products(symbols), step)

    def chunk_values(self, symbols: np.ndarray, step: float, shape: tuple[int, ...],
                     norm) -> np.ndarray:
        """``values`` put back into a chunk of ``shape`` and un-normalised by ``norm``
        (coding/normalise.py): float64, the same numbers, in one compiled pass where the
        kernels are at hand (a decoder's; a chunk of ``home`` fields takes numpy's, whose
        numbers are the same)."""
        if (positions := self.positions(shape)) is not None:
            patches = self.values(symbols, step, positions)
            return norm.invert(from_patches(patches, shape, self.patch_shape), in_place=True)
        products = self._products(symbols)
        chunk = kernels.linear_chunk(products, math.ldexp(step, -self.exponent), self._mean64,
                                     shape, self.patch_shape, norm.scale, norm.offset)
        if chunk is not None:
            return chunk
        patches = self._scaled(products, step)
        return norm.invert(from_patches(patches, shape, self.patch_shape), in_place=True)

    def _scaled(self, products: np.ndarray, step: float) -> np.ndarray:
        """``values`` from ``_products``: a float64 copy, times ``step``, plus the mean."""
        products = products.astype(np.float64)
        products *= math.ldexp(step, -self.exponent)  # (in place: the same operations)
        products += self._mean64
        return products

    def _products(self, symbols: np.ndarray) -> np.ndarray:
        """``symbols @ table``, exact: float32 where every partial sum is an integer under 2^24
        (exact in any order, at twice float64's rate: a fifth of a chunk's decode), else
        float64 (integers below 2^53)."""
        symbols = np.asarray(symbols)
        if symbols.dtype.kind in "iu" and symbols.size and (
                np.abs(symbols.astype(np.float64)) @ self._reach).max() < 2 ** 24:
            return symbols.astype(np.float32) @ self._table32
        return symbols.astype(np.float64) @ self._table64

    @functools.cached_property
    def _mean64(self) -> np.ndarray:
        return self.mean.astype(np.float64)

    def truncated(self, latents: int, table_bits: int = TABLE_BITS) -> "LinearModel":
        """This model with its first ``latents`` basis functions, tabulated to ``table_bits``
        bits (a smaller model to store, a coarser basis)."""
        if self.home is None:
            return LinearModel(self.patch_shape, self.mean, *_tabulate(self.basis[:latents], table_bits),
                               self.latent_std[:latents], dict(self.card, table_bits=table_bits))
        bases = np.concatenate([self.basis[None], np.stack([p.basis for p in self._parts])])
        table, exponent = _tabulate(bases[:, :latents].reshape(-1, bases.shape[-1]), table_bits)
        table = table.reshape(len(bases), -1, bases.shape[-1])
        return LinearModel(self.patch_shape, self.mean, table[0], exponent, self.latent_std[:latents],
                           dict(self.card, table_bits=table_bits), self.home, self.position_mean,
                           table[1:])

    def _tensors(self) -> dict[str, np.ndarray]:
        tensors = {"mean": self.mean, "table": self.table, "latent_std": self.latent_std}
        if self.home is not None:
            tensors.update(position_mean=self.position_mean, position_table=self.position_table)
        return tensors

    def _decoding_header(self) -> dict:
        if self.home is None:
            return {"format": FORMAT, "patch_shape": list(self.patch_shape), "exponent": self.exponent}
        return {"format": FORMAT_POSITIONS, "patch_shape": list(self.patch_shape),
                "exponent": self.exponent, "home": list(self.home)}

    def _hash(self) -> str:
        h = hashlib.sha256(json.dumps(self._decoding_header(), sort_keys=True).encode())
        for name, tensor in sorted(self._tensors().items()):
            h.update(name.encode())
            h.update(tensor.astype(tensor.dtype.newbyteorder("<")).tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        header = {**self._decoding_header(), "card": self.card, "hash": self.hash}
        return safetensors.numpy.save(self._tensors(),
                                      metadata={"inrcodec": json.dumps(header, sort_keys=True)})

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_parts(cls, header: dict, data: bytes) -> "LinearModel":
        """The model of a file whose inrcodec ``header`` and tensor entries ``check_file``
        accepted (model.py does, before anything is inflated or allocated)."""
        try:
            tensors = safetensors.numpy.load(data)
        except Exception as e:  # safetensors raises several types for a bad file
            raise LinearModelError(f"not an inrcodec model file: {e}") from e
        home = header.get("home")
        model = cls(tuple(header["patch_shape"]), tensors["mean"], tensors["table"],
                    header["exponent"], tensors["latent_std"], header.get("card", {}),
                    None if home is None else tuple(home), tensors.get("position_mean"),
                    tensors.get("position_table"))
        stored = header.get("hash")
        if stored is not None and (not isinstance(stored, str) or stored != model.hash):
            raise LinearModelError(f"model file is damaged: its content hashes to "
                                   f"{model.hash[:12]}, but it says {str(stored)[:12]}")
        return model


TENSOR_TYPES = {"mean": ("F32", 4), "table": ("I16", 2), "latent_std": ("F32", 4)}
POSITION_TYPES = {"position_mean": ("F32", 4), "position_table": ("I16", 2)}


def check_file(header: dict, entries: dict) -> int:
    """The bytes of tensors a linear model file declares, once its header (patch shape,
    exponent) and tensor entries (names, types, shapes) are within the family's limits."""
    patch, exponent = header.get("patch_shape"), header.get("exponent")
    if not (isinstance(patch, list) and all(type(n) is int and n >= 1 for n in patch)
            and type(exponent) is int):
        raise LinearModelError(f"linear model with patch shape {patch!r:.100} and exponent "
                               f"{exponent!r:.50}")
    home = header.get("home")
    types = TENSOR_TYPES if header.get("format") == FORMAT else {**TENSOR_TYPES, **POSITION_TYPES}
    if types is not TENSOR_TYPES and not (isinstance(home, list) and len(home) == len(patch) and
                                          all(type(n) is int and n >= 1 for n in home)):
        raise LinearModelError(f"linear model with positions in fields of shape {home!r:.100}")
    if set(entries) != set(types) or not all(
            isinstance(e, dict) and isinstance(e.get("shape"), list)
            and all(type(n) is int and n >= 0 for n in e["shape"]) for e in entries.values()):
        raise LinearModelError(f"linear model file holds {sorted(entries)!r:.200}, not "
                               f"{', '.join(types)}")
    dtypes = {name: e.get("dtype") for name, e in entries.items()}
    if dtypes != {name: kind for name, (kind, _) in types.items()}:
        raise LinearModelError(f"linear model tensors of types {dtypes!r:.200}")
    shapes = {name: tuple(e["shape"]) for name, e in entries.items()}
    check_shapes(tuple(patch), shapes["mean"], shapes["table"], shapes["latent_std"], exponent)
    if types is not TENSOR_TYPES:
        check_positions(tuple(patch), tuple(home), shapes["table"], shapes["position_mean"],
                        shapes["position_table"])
    return sum(size * math.prod(shapes[name]) for name, (_, size) in types.items())


def check_positions(patch_shape, home, table_shape, mean_shape, position_table_shape) -> None:
    """Refuses positional parts that do not match the fields they serve."""
    positions = count_patches(home, patch_shape)
    if positions > MAX_POSITIONS or mean_shape != (positions, math.prod(patch_shape)) or \
            position_table_shape != (positions, *table_shape) or \
            math.prod(position_table_shape) > MAX_POSITION_ENTRIES:
        raise LinearModelError(f"linear model with positional tensors of shapes {mean_shape} and "
                               f"{position_table_shape} for the {positions} patches of a "
                               f"{home} field (at most {MAX_POSITIONS} positions and "
                               f"{MAX_POSITION_ENTRIES:,} table entries)")


def check_shapes(patch_shape, mean_shape, table_shape, std_shape, exponent) -> None:
    """Refuses shapes outside the family's limits (see the top of this module)."""
    points = math.prod(patch_shape)
    if not 1 <= len(patch_shape) <= MAX_DIMS or points > MAX_POINTS:
        raise LinearModelError(f"linear model patches of shape {patch_shape}: 1 to {MAX_DIMS} "
                               f"axes, at most {MAX_POINTS:,} points")
    if (mean_shape != (points,) or len(table_shape) != 2 or table_shape[1] != points
            or not 1 <= table_shape[0] <= MAX_LATENTS or std_shape != (table_shape[0],)):
        raise LinearModelError(f"linear model tensors of shapes {mean_shape}, {table_shape}, "
                               f"{std_shape} for patches of {points} points (at most "
                               f"{MAX_LATENTS} latents)")
    if not 0 <= exponent <= 60:
        raise LinearModelError(f"linear model exponent {exponent} is not from 0 to 60")


def _inverse_variance(std: np.ndarray) -> np.ndarray:
    return 1.0 / np.maximum(std.astype(np.float64), 1e-6) ** 2


def learn(target: np.ndarray, weight: np.ndarray, patch_shape: tuple[int, ...], latents: int,
          card: dict | None = None) -> LinearModel:
    """The EOFs of an archive's patches: normalised ``target`` (patches, points) as the codec
    cuts chunks, ``weight`` 1 where a point is valid. Only whole patches teach the basis; its
    first ``latents`` principal directions (fewer where there are too few patches) are kept."""
    whole = np.asarray(target, np.float64)[np.asarray(weight).min(-1) > 0]
    latents = min(latents, len(whole) // MIN_PATCHES_PER_LATENT, whole.shape[1], MAX_LATENTS)
    if latents < 1:
        raise ValueError(f"{len(whole)} whole patches of {patch_shape} are too few to learn "
                         "from: give more data or a smaller patch")
    mean = whole.mean(0)
    _, singular, rows = np.linalg.svd(whole - mean, full_matrices=False)
    basis = rows[:latents]
    basis *= np.where(basis[np.arange(latents), np.abs(basis).argmax(1)] < 0, -1, 1)[:, None]
    std = singular[:latents] / math.sqrt(len(whole))
    return LinearModel(patch_shape, mean.astype(np.float32), *_tabulate(basis, TABLE_BITS),
                       std.astype(np.float32), dict(card or {}, patches=len(whole)))


def learn_positions(fields: np.ndarray, patch_shape: tuple[int, ...], latents: int,
                    card: dict | None = None) -> LinearModel:
    """A model with absolute coordinates: the EOFs of each patch position of normalised
    ``fields`` (n, *home; NaN where a value is missing), as the codec cuts a field of that
    shape, beside the shared EOFs of every whole patch (``learn``), which serve chunks of other
    shapes. Every position keeps the same number of EOFs, at most ``latents``, as many as its
    fields with every point known allow (MIN_PATCHES_PER_LATENT each) at the position with the
    fewest; its latents are coded with the positions' pooled spreads."""
    fields = np.asarray(fields, np.float64)
    home = tuple(fields.shape[1:])
    if len(home) != len(patch_shape):
        raise ValueError(f"fields of shape {home} for patches of {len(patch_shape)} axes")
    patches = np.stack([to_patches(f, patch_shape, pad_value=np.nan) for f in fields], axis=1)
    valid = np.isfinite(patches)  # (positions, fields, points)
    parts = []
    for rows, known in zip(patches, valid):
        points = known.any(0)  # the position's points inside the field
        whole = rows[(known == points).all(1)][:, points]  # its fields with every one known
        if not len(whole):
            raise ValueError(f"a {patch_shape} patch position has no field with every point known")
        mean = whole.mean(0)
        _, singular, eofs = np.linalg.svd(whole - mean, full_matrices=False)
        parts.append((points, mean, eofs, singular / math.sqrt(len(whole)), len(whole)))
    latents = min([latents, MAX_LATENTS] + [min(n // MIN_PATCHES_PER_LATENT, len(e))
                                            for _, _, e, _, n in parts])
    if latents < 1:
        raise ValueError(f"too few whole fields ({len(fields)}) to learn each patch position from")
    shared = learn(np.nan_to_num(patches.reshape(-1, patches.shape[-1])),
                   valid.reshape(-1, patches.shape[-1]), patch_shape, latents)
    latents = shared.latent_dim
    means = np.zeros((len(parts), patches.shape[-1]))
    bases = np.zeros((len(parts), latents, patches.shape[-1]))
    for p, (points, mean, eofs, _, _) in enumerate(parts):
        means[p, points] = mean
        bases[p][:, points] = eofs[:latents]
    std = np.sqrt(np.mean([spread[:latents] ** 2 for *_, spread, _ in parts], 0))
    every = np.concatenate([shared.basis[None], bases])
    table, exponent = _tabulate(every.reshape(-1, every.shape[-1]), TABLE_BITS)
    table = table.reshape(every.shape)
    return LinearModel(patch_shape, shared.mean, table[0], exponent, std.astype(np.float32),
                       dict(card or {}, patches=int(valid.all(-1).sum()), fields=len(fields)),
                       home, means.astype(np.float32), table[1:])


def from_network(network, target: np.ndarray, weight: np.ndarray, card: dict | None = None) -> LinearModel:
    """A SIREN's first-order span (``Model.span``: the network at a zero latent and its
    Jacobian's columns) as a linear model: the same decoded quality where the network was
    trained, at 2K operations a value instead of its ~25,000 (docs/linear-family.md). The span
    is rotated onto the principal axes of the whole patches' coefficients in ``target``
    (patches, points; ``weight`` 1 where valid), and the mean moved to theirs."""
    start, span = network.span
    whole = np.asarray(target, np.float64)[np.asarray(weight).min(-1) > 0]
    if len(whole) < MIN_PATCHES_PER_LATENT * span.shape[1]:
        raise ValueError(f"{len(whole)} whole patches are too few for the spread of "
                         f"{span.shape[1]} coefficients")
    coefficients = (whole - start) @ span
    variance, rotation = np.linalg.eigh(np.cov(coefficients.T))
    order = np.argsort(variance)[::-1]
    basis = (span @ rotation[:, order]).T
    mean = start + coefficients.mean(0) @ span.T
    std = np.sqrt(np.maximum(variance[order], 0))
    return LinearModel(network.patch_shape, mean.astype(np.float32), *_tabulate(basis, TABLE_BITS),
                       std.astype(np.float32), dict(card or {}, patches=len(whole)))


def _tabulate(basis: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(table, exponent): ``basis`` as integers of at most ``bits`` bits (sign included) times
    2**-exponent."""
    if not 2 <= bits <= TABLE_BITS + 1:
        raise ValueError(f"a basis table holds 2 to {TABLE_BITS + 1} bits an entry, not {bits}")
    exponent = int(math.floor(math.log2((2 ** (bits - 1) - 1) / max(np.abs(basis).max(), 1e-300))))
    exponent = min(60, max(0, exponent))
    table = np.rint(np.ldexp(basis, exponent))
    if np.abs(table).max() > 2 ** TABLE_BITS - 1:
        raise ValueError(f"a basis of values up to {np.abs(basis).max():.3g} does not fit a table "
                         f"of {bits} bits: the basis should be orthonormal")
    return table.astype(np.int16), exponent
