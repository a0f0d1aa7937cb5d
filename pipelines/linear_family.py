"""Issue 30's first measurement: a base network linear in its latents, as a codec with real bytes.

Every bundled SIREN holds such a family already: its linearisation at the zero latent,
``f0 + J z`` on the patch grid (``Model.linearisation``). Here that span is a codec: each patch's
coefficients in an orthonormal basis of it are the least-squares projection of the patch (one
matrix product), quantized with one step for every coefficient (the basis is orthonormal, so one
step is right in the output metric) and range-coded with the repository's parametric tables
(``coding/tables.py``: a Laplace table per quarter-octave scale code, escapes beyond it, the
stream cut by ``coding/rangecoder.range_code``); decoded as ``f0 + basis @ coefficients``. It is
measured beside the SIREN as the codec stores it today (``INRCodec(model, latent_bits=b,
min_psnr=None)``), the benchmark's PCA control (``inrcodec/bench/pca.py``: EOFs of whole train
chunks) and the same linear codec with the basis learned from the train split's patches instead
(patch-level EOFs: what the network's span adds over the archive's own EOFs).

The linear codecs, in detail:

- A chunk is normalised as the codec normalises one (``Normalisation``, NaNs at the mean) and
  cut into the model's patches (``patches.to_patches``). A patch that is not whole (padding at
  the chunk's edge, NaNs) is solved on its valid points alone: the basis is the span restricted
  to those points, re-orthonormalised (an SVD), so the projection is the weighted least-squares
  fit and one step still suits every coefficient. Bases are ordered by the variance the model's
  own latent statistics give each direction (``latent_mean``, ``latent_std``, ``latent_basis``
  through the Jacobian), and cached per mask: the decoder builds the same from the mask alone.
- Scales: ``train``: each coefficient's mean and rms (per patch mask and index) from the
  dataset's train split, cut and normalised the same way: nothing per chunk. ``chunk``: each
  index's rms over the chunk's patches, to the nearest octave of the step, sent in the chunk
  (a byte, then 4 bits per index up to the last one that is not negligible): counted in the
  bytes. Datasets without a train split have ``chunk`` scales only.
- Rounding: to the floor, the ceiling or zero, whichever costs least in squared error plus
  ``RATE_WEIGHT`` x bits (the entropy-constrained rounding the codec's latents use); then the
  table shape of the fewest bits (a byte in the chunk).
- Bytes: the PCA control's 15-byte header (normalisation codes, mask length), the NaN mask
  (``coding/bilevel.py``), the shape byte, any scales, the escapes, the stream. The basis, like
  the network and the control's EOFs, is not counted (it is the model).

Quality is PSNR with each chunk's error over that chunk's own range: ``-10 log10`` of the mean
over chunks of ``(rmse / range)^2``; the json also holds the repository's usual PSNR over the
whole test split's range (``RoundTrip.psnr``, as docs/a1b.md). Each candidate's PSNR at a rate is
read off its rate-distortion front (``bench/fronts.psnr_at``: linear in log rate between measured
points, never extrapolated).

    python pipelines/linear_family.py [--datasets a1b a1b_12 ...] [--markdown docs/linear-family.md]
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread for numpy's products too, before it loads

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import constriction  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from pipelines_common import publish_results, table  # noqa: E402

from inrcodec import INRCodec  # noqa: E402
from inrcodec.bench.datasets import DATASETS  # noqa: E402
from inrcodec.bench.fronts import front, psnr_at  # noqa: E402
from inrcodec.bench.inr import forward_flops  # noqa: E402
from inrcodec.bench.machine import load_average, load_text  # noqa: E402
from inrcodec.bench.pca import HEADER, Basis, PCAControl  # noqa: E402
from inrcodec.coding import bilevel  # noqa: E402
from inrcodec.coding.bytes import Reader  # noqa: E402
from inrcodec.coding.entropy import RATE_WEIGHT  # noqa: E402
from inrcodec.coding.normalise import Normalisation  # noqa: E402
from inrcodec.coding.rangecoder import range_code, read_escapes, words, write_escapes  # noqa: E402
from inrcodec.coding.tables import MAX_K, SCALE_CODES, SCALE_LOW, SHAPES, bit_matrix, table as code_table  # noqa: E402,E501
from inrcodec.measure import codec_round_trip, psnr, round_trip  # noqa: E402
from inrcodec.model import resolve  # noqa: E402
from inrcodec.patches import from_patches, to_patches  # noqa: E402
from inrcodec.sample_data import A1B_TEST, A1B_TRAIN, load_a1b  # noqa: E402
from inrcodec.train import normalised  # noqa: E402

RATES = (0.05, 0.1, 0.15, 0.2, 0.3)  # bits per value the tables read PSNR at
MAX_RATE = 0.5
MODELS = ("default-2d", "universal-2d")
STEPS = tuple(2.0 ** (e / 2) for e in range(8, -21, -1))  # quantizer steps, normalised units
PCA_COMPONENTS, PCA_BITS = (16, 32, 64, 128), (3, 4, 5, 6, 7, 8, 9, 10)  # and all the train's
RANK_TOLERANCE = 1e-6  # singular values below this share of the largest leave a restricted basis
MIN_KEYED = 8  # train patches of one mask that learn their own EOFs; fewer: the whole patch's
SIREN_BITS = None  # latent bits of the SIREN's points; None: from 4 down and up to bracket RATES
MAX_TEST_CHUNKS = None  # all
OCTAVE_LOW = -4  # per-chunk scales: octaves of the step from 2^-4 (negligible) to 2^11


# The datasets: name -> (description, loader of (test chunks, train chunks)).
def _a1b(fields_per_chunk: int):
    def load():
        fields = load_a1b()
        cut = lambda a: [a[i:i + fields_per_chunk] for i in range(0, len(a), fields_per_chunk)]  # noqa: E731
        return cut(fields[A1B_TEST]), cut(fields[A1B_TRAIN])
    return load


def _bench(name: str):
    def load():
        ds = DATASETS[name]
        array = ds.load()
        return ds.test_chunks(array), ds.train_chunks(array)
    return load


SETS = {
    "a1b": ("A1B 2 m temperature, held-out fields 192-239, one 37 x 49 field a chunk; train 0-191",
            _a1b(1)),
    "a1b_12": ("A1B, held-out fields 192-239, 12 fields a chunk (4 chunks); train 0-191 likewise",
               _a1b(12)),
    "hybrid_height": ("UM potential temperature, 15 model levels, 100 x 100 chunks; no train split",
                      _bench("hybrid_height")),
    "glosea4": ("GloSea4 surface temperature, 145 x 192 chunks; test 60-77, train 0-59",
                _bench("glosea4")),
    "nemo": ("NEMO SST, 165 x 180 chunks, 45% NaN (land); no train split", _bench("nemo")),
    "ostia": ("OSTIA SST, 18 x 432 chunks, 26% NaN (land); test 43-53, train 0-42",
              _bench("ostia")),
}


# --- the linear family: an orthonormal basis for every patch mask -----------------------------

@dataclass(eq=False)
class Family:
    """Bases for the patches of one patch shape: the whole patch's ``mean`` (N,) and orthonormal
    ``basis`` (N, K) ordered by ``prior`` variance (K,), restricted to a mask's points when a
    patch is not whole; or a mask's own (mean, basis) from ``keyed``. None where nothing fits."""
    name: str
    patch_shape: tuple
    mean: np.ndarray | None
    basis: np.ndarray | None
    prior: np.ndarray | None
    keyed: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)
    layouts: dict = field(default_factory=dict)  # (chunk shape, mask) -> (patches, groups)
    restricted: int = 0  # masks served by restricting the whole patch's basis

    @property
    def components(self) -> int:
        return self.basis.shape[1] if self.basis is not None else max(
            b.shape[1] for _, b in self.keyed.values())

    def on(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        key = mask.tobytes()
        if key not in self.cache:
            self.cache[key] = self._on(mask, key)
        return self.cache[key]

    def _on(self, mask: np.ndarray, key: bytes):
        if key in self.keyed:
            return self.keyed[key]
        if self.basis is None or not mask.any():
            return None
        if mask.all():
            return self.mean, self.basis
        self.restricted += 1
        u, s, wt = np.linalg.svd(self.basis[mask], full_matrices=False)
        keep = s > RANK_TOLERANCE * s.max()
        u, b = u[:, keep], s[keep, None] * wt[keep]  # basis[mask] = u @ b
        values, vectors = np.linalg.eigh((b * self.prior) @ b.T)  # prior variance on u's span
        return self.mean[mask], u @ vectors[:, ::-1]


def siren_family(model, name: str) -> Family:
    """The network's first-order span at the zero latent, in the principal directions of the
    latent spread the model was trained with (its latent statistics through the Jacobian)."""
    lin = model.linearisation
    f0 = lin.value.detach().double().numpy()
    q, r = np.linalg.qr(lin.jacobian.detach().double().numpy())
    basis = np.eye(len(model.latent_std)) if model.latent_basis is None else \
        model.latent_basis.double().numpy()
    spread = basis.T @ np.diag(model.latent_std.astype(np.float64) ** 2) @ basis
    mean = model.latent_mean.astype(np.float64)
    prior, vectors = np.linalg.eigh(r @ (spread + np.outer(mean, mean)) @ r.T)
    return Family(f"linearised {name}", model.patch_shape, f0,
                  q @ vectors[:, ::-1], prior[::-1])


def eof_family(train: list[np.ndarray], patch_shape: tuple, components: int) -> Family:
    """EOFs of the train split's patches, each chunk normalised as the codec does: the whole
    patches' (pooled over positions), and every mask's own where it has MIN_KEYED patches."""
    values, masks = zip(*[_patches(c, patch_shape)[:2] for c in train])
    values, masks = np.concatenate(values), np.concatenate(masks)
    keyed, whole = {}, (None, None, None)
    for mask, idx in mask_groups(masks):
        rows = values[idx][:, mask]
        if len(rows) < MIN_KEYED or not mask.any():
            continue
        mean = rows.mean(0)
        _, s, vt = np.linalg.svd(rows - mean, full_matrices=False)
        k = min(components, int((s > RANK_TOLERANCE * s[0]).sum()))
        keyed[mask.tobytes()] = mean, vt[:k].T
        if mask.all():
            whole = mean, vt[:k].T, s[:k] ** 2 / len(rows)
    size = "x".join(map(str, patch_shape))
    return Family(f"patch EOFs {size}", patch_shape, *whole, keyed=keyed)


def _patches(chunk: np.ndarray, patch_shape: tuple):
    """(normalised patches (P, N) float64, their masks (P, N) bool, normalisation, finite)."""
    values, norm, finite = normalised(chunk)
    return (to_patches(values, patch_shape), to_patches(finite, patch_shape, False).astype(bool),
            norm, finite)


# --- the codec --------------------------------------------------------------------------------

@dataclass(eq=False)
class Analysis:
    """A chunk projected onto a family: what every step's encoding starts from."""
    chunk: np.ndarray
    norm: Normalisation
    finite: np.ndarray
    masks: np.ndarray  # (P, N) bool
    groups: list  # (mask, patch indices, coefficients (n, r)) for each mask with a basis

    @property
    def coefficients(self) -> np.ndarray:
        return np.concatenate([c.ravel() for _, _, c in self.groups]) if self.groups else np.zeros(0)


def mask_groups(masks: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mask, indices of the patches with it) for each distinct row of ``masks``, in the order
    of their packed bytes."""
    if masks.all():
        return [(masks[0], np.arange(len(masks)))]
    index = {}
    for i, row in enumerate(np.packbits(masks, axis=1)):
        index.setdefault(row.tobytes(), []).append(i)
    return [(masks[rows[0]], np.array(rows)) for _, rows in sorted(index.items())]


def groups(masks: np.ndarray, family: Family) -> list:
    """(mask, patch indices, (mean, basis)) for each distinct mask with a basis, in a fixed order."""
    out = []
    for mask, idx in mask_groups(masks):
        on = family.on(mask)
        if on is not None and on[1].shape[1]:
            out.append((mask, idx, on))
    return out


def analyse(chunk: np.ndarray, family: Family) -> Analysis:
    patches, masks, norm, finite = _patches(chunk, family.patch_shape)
    return Analysis(chunk, norm, finite, masks,
                    [(mask, idx, (patches[idx][:, mask] - mean) @ basis)
                     for mask, idx, (mean, basis) in groups(masks, family)])


@dataclass(eq=False)
class Scales:
    """Train-split scales: (mean, rms) of each coefficient, per patch mask and index; masks the
    train split never had fall back to each index's rms over all masks, mean 0."""
    keyed: dict
    pooled: np.ndarray
    fallbacks: int = 0

    @classmethod
    def fit(cls, analyses: list[Analysis]) -> "Scales":
        collected, pooled = {}, {}
        for a in analyses:
            for mask, _, c in a.groups:
                collected.setdefault(mask.tobytes(), []).append(c)
                for i in range(c.shape[1]):
                    pooled.setdefault(i, []).append(c[:, i])
        keyed = {}
        for key, parts in collected.items():
            c = np.concatenate(parts)
            mean = c.mean(0)
            keyed[key] = mean, np.sqrt(((c - mean) ** 2).mean(0))
        rms = np.array([np.sqrt(np.mean(np.concatenate(pooled[i]) ** 2)) for i in sorted(pooled)])
        return cls(keyed, rms)

    def of(self, mask: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
        got = self.keyed.get(mask.tobytes())
        if got is not None and len(got[0]) == r:
            return got
        self.fallbacks += 1
        return np.zeros(r), self.pooled[:r]


def scale_codes(rms: np.ndarray, step: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        codes = np.round(4 * np.log2(np.maximum(rms, 1e-300) / step))
    return np.clip(codes, SCALE_LOW, SCALE_LOW + SCALE_CODES - 1).astype(np.int64)


def octaves(rms: np.ndarray, step: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        e = np.round(np.log2(np.maximum(rms, 1e-300) / step))
    return np.clip(e, OCTAVE_LOW, OCTAVE_LOW + 15).astype(np.int64)


def pack_octaves(e: np.ndarray) -> bytes:
    """A byte (how many indices), then 4 bits per index up to the last above OCTAVE_LOW."""
    n = int(np.flatnonzero(e > OCTAVE_LOW)[-1]) + 1 if (e > OCTAVE_LOW).any() else 0
    nibbles = list(e[:n] - OCTAVE_LOW) + [0] * (n % 2)
    return bytes([n]) + bytes(16 * a + b for a, b in zip(nibbles[::2], nibbles[1::2]))


def unpack_octaves(reader: Reader, size: int) -> np.ndarray:
    n = reader.byte()
    data = reader.take((n + 1) // 2)
    nibbles = [v for b in data for v in (b >> 4, b & 15)][:n]
    e = np.full(size, OCTAVE_LOW, np.int64)
    e[:n] = np.array(nibbles, np.int64) + OCTAVE_LOW
    return e


class LinearCodec:
    """The linear family as a codec at one quantizer ``step`` (normalised units), with
    ``scales`` from a train split or (None) sent in each chunk."""

    def __init__(self, family: Family, step: float, scales: Scales | None):
        self.family, self.step, self.scales = family, step, scales

    def _means_and_codes(self, group_list, octave_codes: np.ndarray | None):
        """Each coefficient's mean and scale code, in coding order (group, patch, index)."""
        means, codes = [], []
        for mask, idx, (_, basis) in group_list:
            r = basis.shape[1]
            if self.scales is None:
                mean, code = np.zeros(r), 4 * octave_codes[:r]
            else:
                mean, rms = self.scales.of(mask, r)
                code = scale_codes(rms, self.step)
            means.append(np.tile(mean, len(idx)))
            codes.append(np.tile(code, len(idx)))
        if not means:
            return np.zeros(0), np.zeros(0, np.int64)
        return np.concatenate(means), np.concatenate(codes)

    def encode(self, a: Analysis) -> bytes:
        mask_bytes = b"" if a.finite.all() else bilevel.encode(~a.finite)
        side, octave_codes = b"", None
        if self.scales is None:
            r = max((c.shape[1] for _, _, c in a.groups), default=0)
            rms = np.zeros(r)
            for i in range(r):
                rms[i] = np.sqrt(np.mean(np.concatenate([c[:, i] for _, _, c in a.groups
                                                         if c.shape[1] > i]) ** 2))
            octave_codes = octaves(rms, self.step)
            side = pack_octaves(octave_codes)
        group_list = [(mask, idx, self.family.on(mask)) for mask, idx, _ in a.groups]
        means, codes = self._means_and_codes(group_list, octave_codes)
        x = (a.coefficients - means) / self.step
        q = rd_round(x, codes)
        per_shape = (bit_matrix()[np.clip(q, -MAX_K - 1, MAX_K + 1) + MAX_K + 1, :,
                                  codes - SCALE_LOW].sum(0) if len(q) else np.zeros(len(SHAPES)))
        shape = int(np.argmin(per_shape))
        escapes, segments = [], []
        order = np.argsort(codes, kind="stable")
        for code in np.unique(codes):
            chosen = order[codes[order] == code]
            k, _, model = code_table(int(code), shape)
            qq = q[chosen]
            out = np.abs(qq) > k
            escapes += qq[out].tolist()
            segments.append((model, np.where(out, 2 * k + 1, qq + k).astype(np.int32)))
        return (HEADER.pack(a.norm.offset_code, a.norm.scale_code, len(mask_bytes)) + mask_bytes
                + bytes([shape]) + side + write_escapes(escapes) + range_code(segments))

    def decode(self, data: bytes, shape: tuple, dtype) -> np.ndarray:
        offset_code, scale_code, mask_length = HEADER.unpack_from(data)
        reader = Reader(data, HEADER.size)
        finite = np.ones(shape, bool)
        if mask_length:
            finite = ~bilevel.decode(reader.take(mask_length), shape)
        table_shape = reader.byte()
        key = (tuple(shape), np.packbits(finite).tobytes())
        if key not in self.family.layouts:  # what a reader caches per chunk shape and mask
            masks = to_patches(finite, self.family.patch_shape, False).astype(bool)
            self.family.layouts[key] = masks.shape, groups(masks, self.family)
        patches_shape, group_list = self.family.layouts[key]
        octave_codes = None
        if self.scales is None:
            octave_codes = unpack_octaves(reader, self.family.components)
        means, codes = self._means_and_codes(group_list, octave_codes)
        escapes = iter(read_escapes(reader, len(codes), 2 ** 40, "linear"))
        q = np.zeros(len(codes), np.int64)
        order = np.argsort(codes, kind="stable")
        decoder = constriction.stream.queue.RangeDecoder(words(reader.rest()))
        for code in np.unique(codes):
            chosen = order[codes[order] == code]
            k, _, model = code_table(int(code), table_shape)
            got = decoder.decode(model, len(chosen)).astype(np.int64) - k
            out = got == k + 1
            got[out] = [next(escapes) for _ in range(int(out.sum()))]
            q[chosen] = got
        coefficients = means + q * self.step
        patches = np.zeros(patches_shape)
        start = 0
        for mask, idx, (mean, basis) in group_list:
            r = basis.shape[1]
            c = coefficients[start:start + len(idx) * r].reshape(len(idx), r)
            start += len(idx) * r
            patches[np.ix_(idx, np.flatnonzero(mask))] = mean + c @ basis.T
        values = Normalisation(offset_code, scale_code).invert(
            from_patches(patches, shape, self.family.patch_shape))
        return np.where(finite, values, np.nan).astype(dtype)


def rd_round(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each coefficient (in steps) to its floor, ceiling or zero, whichever costs least in
    squared error plus RATE_WEIGHT x its bits under its scale code's Laplace table."""
    if not len(x):
        return np.zeros(0, np.int64)
    low = np.floor(x)
    candidates = np.stack([low, low + 1, np.zeros_like(x)]).astype(np.int64)
    bits = bit_matrix()[np.clip(candidates, -MAX_K - 1, MAX_K + 1) + MAX_K + 1, 0, codes - SCALE_LOW]
    cost = (x - candidates) ** 2 + RATE_WEIGHT * bits
    return np.take_along_axis(candidates, cost.argmin(0)[None], 0)[0]


# --- measuring --------------------------------------------------------------------------------

def chunk_psnr(chunks: list[np.ndarray], decoded: list[np.ndarray]) -> float:
    """-10 log10 of the mean over chunks of (rmse / the chunk's range)^2."""
    shares = []
    for c, d in zip(chunks, decoded):
        finite = np.isfinite(c)
        x, y = c[finite].astype(np.float64), np.asarray(d)[finite].astype(np.float64)
        shares.append(np.mean((x - y) ** 2) / np.ptp(x) ** 2)
    return float(-10 * np.log10(np.mean(shares)))


def row(chunks, encoded, decoded, **extra) -> dict:
    values = sum(c.size for c in chunks)
    original = np.concatenate([c.ravel() for c in chunks])
    restored = np.concatenate([np.asarray(d).ravel() for d in decoded])
    return {"bits_per_value": 8 * sum(map(len, encoded)) / values,
            "psnr_db": chunk_psnr(chunks, decoded), "psnr_split_db": psnr(original, restored),
            **extra}


def linear_rows(family: Family, scales: Scales | None, analyses: list[Analysis],
                top: float) -> list[dict]:
    """Every step from the coarsest until the rate passes MAX_RATE, or passes the last rate
    read with the PSNR within 0.02 dB of the unquantized ``top``."""
    chunks, rows = [a.chunk for a in analyses], []
    for step in STEPS:
        codec = LinearCodec(family, step, scales)
        encoded = [codec.encode(a) for a in analyses]
        decoded = [codec.decode(e, a.chunk.shape, a.chunk.dtype) for e, a in zip(encoded, analyses)]
        rows.append(row(chunks, encoded, decoded, step=step))
        rate = rows[-1]["bits_per_value"]
        if rate > MAX_RATE or rate > RATES[-1] and rows[-1]["psnr_db"] > top - 0.02:
            break
    return rows


def ceiling(family: Family, analyses: list[Analysis]) -> float:
    """PSNR (each chunk's range) with the coefficients unquantized: the span's own limit."""
    decoded = []
    for a in analyses:
        patches = np.zeros(a.masks.shape)
        for mask, idx, c in a.groups:
            mean, basis = family.on(mask)
            patches[np.ix_(idx, np.flatnonzero(mask))] = mean + c @ basis.T
        values = a.norm.invert(from_patches(patches, a.chunk.shape, family.patch_shape))
        decoded.append(np.where(a.finite, values, np.nan))
    return chunk_psnr([a.chunk for a in analyses], decoded)


def siren_rows(model_name: str, chunks: list[np.ndarray]) -> list[dict]:
    """INRCodec's plain latents at integer latent bits from 4 down to a rate of at most 0.05 and
    up to one of at least 0.3 bits per value (or the resolutions' ends)."""
    rows = {}
    if SIREN_BITS:
        return [row(chunks, trip.encoded, trip.decoded, latent_bits=bits) for bits in SIREN_BITS
                for trip in [codec_round_trip(INRCodec(model_name, latent_bits=bits,
                                                       min_psnr=None), chunks)]]

    def at(bits: int) -> dict:
        if bits not in rows:
            trip = codec_round_trip(INRCodec(model_name, latent_bits=bits, min_psnr=None), chunks)
            rows[bits] = row(chunks, trip.encoded, trip.decoded, latent_bits=bits)
        return rows[bits]

    bits = 4
    while at(bits)["bits_per_value"] > 0.045 and bits > 1:
        bits -= 1
    bits = 5
    while bits < 12 and at(bits - 1)["bits_per_value"] < RATES[-1] * 1.05:
        at(bits)
        bits += 1
    return [rows[b] for b in sorted(rows)]


def pca_rows(train: list[np.ndarray], chunks: list[np.ndarray]) -> list[dict]:
    basis = Basis.fit(train)
    out = []
    for k in sorted({k for k in PCA_COMPONENTS if k < len(train)} | {len(train) - 1}):
        for bits in PCA_BITS:
            control = PCAControl(basis, k, bits)
            trip = round_trip(chunks, control.encode, control.decode)
            out.append(row(chunks, trip.encoded, trip.decoded, components=k, latent_bits=bits))
    return out


def at_rates(rows: list[dict], key: str = "psnr_db") -> dict:
    points = [{"bits_per_value": r["bits_per_value"], "psnr_db": r[key]} for r in rows]
    return {str(rate): psnr_at(points, rate) for rate in RATES}


def siren_flops_per_value(model_name: str, model, chunks) -> float:
    costs = forward_flops(model_name)
    patches = sum(to_patches(np.zeros(c.shape), model.patch_shape).shape[0] for c in chunks)
    points = patches * math.prod(model.patch_shape)
    return (costs["per_point"] * points + costs["per_patch"] * patches) / sum(c.size for c in chunks)


def linear_flops_per_value(analyses: list[Analysis]) -> float:
    """2 x components x valid points of every patch (the mean's add not counted), per value."""
    flops = sum(2 * c.shape[1] * int(mask.sum()) * len(idx) for a in analyses
                for mask, idx, c in a.groups)
    return flops / sum(a.chunk.size for a in analyses)


def run_dataset(name: str, models: dict, components: list[int]) -> dict:
    description, load = SETS[name]
    test, train = load()
    test = test[:MAX_TEST_CHUNKS]
    out = {"description": description, "test_chunks": len(test), "train_chunks": len(train),
           "values": int(sum(c.size for c in test)), "candidates": {}}

    def add(label, rows, flops, **extra):
        out["candidates"][label] = {"rows": rows, "at_rates": at_rates(rows),
                                    "at_rates_split": at_rates(rows, "psnr_split_db"),
                                    "front_rates": [r["bits_per_value"] for r in front(rows)],
                                    "flops_per_value": flops, **extra}
        got = out["candidates"][label]["at_rates"]
        print(f"  {label}: " + ", ".join(f"{r}: {'-' if v is None else f'{v:.2f}'}"
                                         for r, v in got.items()), flush=True)

    for model_name, model in models.items():
        start = time.perf_counter()
        add(f"SIREN {model_name}", siren_rows(model_name, test),
            siren_flops_per_value(model_name, model, test), seconds=time.perf_counter() - start)
    if len(train) >= 32 and len({c.shape for c in train}) == 1 and test[0].shape[0] == 1:
        rows = pca_rows(train, test)  # FLOPs: of the most EOFs on its front
        add("PCA control (bench)", rows, 2 * max(r["components"] for r in front(rows)))
    for model_name, model in models.items():
        families = [siren_family(model, model_name)]
        for k in components if train else ():
            family = eof_family(train, model.patch_shape, k)
            if family.components > families[-1].components or len(families) == 1:
                families.append(family)  # not again where the train split has fewer EOFs
        for family in families:
            start = time.perf_counter()
            analyses = [analyse(c, family) for c in test]
            top = ceiling(family, analyses)
            uncovered = sum(int(a.masks.any(1).sum()) - sum(len(i) for _, i, _ in a.groups)
                            for a in analyses)
            flops = linear_flops_per_value(analyses)
            label = (f"{family.name}, K={family.components}" if family.name.startswith("patch")
                     else f"linearised {model_name}")
            modes = [("train", Scales.fit([analyse(c, family) for c in train]))] if train else []
            if not family.name.startswith("patch"):
                modes.append(("chunk", None))
            for mode, scales in modes:
                rows = linear_rows(family, scales, analyses, top)
                add(f"{label}, {mode} scales", rows, flops, ceiling_db=top,
                    seconds=time.perf_counter() - start, restricted_masks=family.restricted,
                    scale_fallbacks=scales.fallbacks if scales else 0,
                    uncovered_patches=uncovered)
    return out


# --- decode time of one chunk -----------------------------------------------------------------

def best_of(function, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def decode_times(cases: list[tuple[str, str, np.ndarray, list]], repeats: int) -> list[dict]:
    """Seconds to decode one chunk (best of ``repeats``, one thread) for each case: INRCodec.decode
    of its plain latents at 6 bits, the linearised network's decode from its bytes (train scales
    where there are train chunks), and that decode's matrix products alone."""
    return [decode_time(*case, repeats) for case in cases]


def decode_time(label: str, model_name: str, chunk: np.ndarray, train: list,
                repeats: int) -> dict:
    codec = INRCodec(model_name, latent_bits=6, min_psnr=None)
    siren_bytes = codec.encode(chunk)
    codec.decode(siren_bytes)
    family = siren_family(resolve(model_name), model_name)
    analysis = analyse(chunk, family)
    scales = Scales.fit([analyse(c, family) for c in train]) if train else None
    linear = LinearCodec(family, 2.0 ** -4, scales)
    linear_bytes = linear.encode(analysis)
    linear.decode(linear_bytes, chunk.shape, chunk.dtype)  # the bases cached, as a reader's
    products = {dtype: [(c.astype(dtype), family.on(mask)[1].T.astype(dtype).copy())
                        for mask, _, c in analysis.groups] for dtype in (np.float32, np.float64)}
    with torch.no_grad():
        siren_s = best_of(lambda: codec.decode(siren_bytes), repeats)
    linear_s = best_of(lambda: linear.decode(linear_bytes, chunk.shape, chunk.dtype), repeats)
    product_s = {dtype: best_of(lambda: [c @ b for c, b in pairs], repeats * 5)  # noqa: B023
                 for dtype, pairs in products.items()}
    print(f"  decode {label}: SIREN {siren_s * 1e3:.2f} ms, linear {linear_s * 1e3:.2f} ms, "
          f"product {product_s[np.float64] * 1e6:.0f} us (float64) "
          f"{product_s[np.float32] * 1e6:.0f} us (float32)", flush=True)
    return {"case": label, "model": model_name, "shape": list(chunk.shape),
            "siren_bytes": len(siren_bytes), "linear_bytes": len(linear_bytes),
            "siren_decode_s": siren_s, "linear_decode_s": linear_s,
            "product_float64_s": product_s[np.float64], "product_float32_s": product_s[np.float32]}


# --- the report -------------------------------------------------------------------------------

def fmt(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def reading(c: dict, rate: str, key: str = "psnr_db") -> str:
    """PSNR at ``rate`` off the front; past the front's last rate, at least its PSNR there
    (more bits allowed never cost quality): "&ge; x"; below its first rate, "-"."""
    value = c["at_rates" if key == "psnr_db" else "at_rates_split"][rate]
    if value is not None:
        return f"{value:.2f}"
    below = [r[key] for r in c["rows"] if r["bits_per_value"] <= float(rate)]
    return f"&ge; {max(below):.2f}" if below else "-"


def top(c: dict) -> str:
    best = max(c["rows"], key=lambda r: r["psnr_db"])
    return f"{best['psnr_db']:.2f} at {best['bits_per_value']:.3f}"


def markdown(results: dict, load: str) -> list[str]:
    rates = [str(r) for r in RATES]
    lines = ["# The network's linearisation as a codec (issue 30)", "",
             "Each bundled SIREN's first-order span at the zero latent (`f0 + J z` on the patch grid) "
             "used as a linear codec: every patch's least-squares coefficients in an orthonormal "
             "basis of the span, one quantizer step for all, range-coded with the repository's "
             "Laplace tables; beside the SIREN as `INRCodec(model, latent_bits=b, min_psnr=None)` "
             "stores it, the benchmark's PCA control (`bench/pca.py`: EOFs of whole train chunks, "
             "16 to 128 and all of the train split's, 3 to 10 bits, its front over them; on chunks "
             "of one field with a train split of 32 or more) and the same linear codec with patch "
             "EOFs of the train split (K of them: 64 as the networks' latents, and 128). Real "
             "bytes throughout (models and bases not counted). PSNR: "
             "each chunk's error over its own range, averaged as mean squared error over chunks; "
             "read off each candidate's rate-distortion front at equal rate, never "
             "extrapolated ('-': below the lowest rate it reached; '&ge; x': past its highest, "
             "where it holds at least the x it reached below). 'ceiling': the linear codec "
             "with its coefficients unquantized. FLOPs: matrix FLOPs per value to decode (2 per "
             "multiply-add; the SIREN's from its width and depth over every patch point, padding "
             "included, as `bench/inr.forward_flops`; the linear codec's 2 x components x valid "
             "points). 'train scales': each coefficient's mean and rms from the train split, "
             "nothing sent; 'chunk scales': each index's rms to an octave, sent in every chunk "
             "(counted). Partial patches (padding, NaNs) are solved on their valid points with "
             "the span restricted to them and re-orthonormalised. Every linear chunk carries the PCA "
             "control's 15-byte header (normalisation codes, mask length; INRCodec's container "
             "takes 15-16 bytes for a chunk) and a byte for its table shape: on a 37 x 49 field "
             "that alone is 0.07 bits per value, so no codec here reaches 0.05 on one field a chunk."
             + load, ""]
    for name, ds in results["datasets"].items():
        lines += [f"## {name}", "", f"{ds['description']}; {ds['test_chunks']} test chunks, "
                  f"{ds['values']:,} values.", ""]
        rows = []
        for label, c in ds["candidates"].items():
            rows.append([label, *[reading(c, r) for r in rates], top(c),
                         fmt(c.get("ceiling_db")), f"{c['flops_per_value']:,.0f}"])
        lines += table(["candidate", *[f"{r} b/v" for r in rates], "best measured (dB at b/v)",
                        "ceiling", "FLOPs/value"], rows)
        lines.append("")
    lines += ["## The same, PSNR over the whole test split's range", "",
              "The repository's usual PSNR (`RoundTrip.psnr`, as docs/a1b.md): the error over "
              "every test value against the range of all of them.", ""]
    rows = []
    for name, ds in results["datasets"].items():
        for label, c in ds["candidates"].items():
            rows.append([name, label, *[reading(c, r, "psnr_split_db") for r in rates]])
    lines += table(["dataset", "candidate", *[f"{r} b/v" for r in rates]], rows)
    linear = [c for ds in results["datasets"].values() for c in ds["candidates"].values()
              if "scale_fallbacks" in c]
    lines += ["", f"Coefficients whose patch mask the train split never had (pooled scales "
              f"instead): {sum(c['scale_fallbacks'] for c in linear)} patch masks; patches "
              f"with valid points but no basis: {sum(c['uncovered_patches'] for c in linear)}."]
    lines += ["", "## Decode time of one chunk (one thread)", "",
              "Best of several runs, the bases cached as a reader would cache them. The linear "
              "decode is from its bytes (range decoding, the product, putting patches together, "
              "the normalisation); 'product' is its matrix products alone.", ""]
    rows = [[d["case"], "x".join(map(str, d["shape"])), f"{d['siren_decode_s'] * 1e3:.2f}",
             f"{d['linear_decode_s'] * 1e3:.2f}", f"{d['siren_decode_s'] / d['linear_decode_s']:.1f}",
             f"{d['product_float64_s'] * 1e6:.0f}", f"{d['product_float32_s'] * 1e6:.0f}",
             f"{d['siren_decode_s'] / d['product_float64_s']:.0f}"]
            for d in results["decode"]]
    lines += table(["chunk", "shape", "SIREN decode ms", "linear decode ms", "SIREN / linear",
                    "product us (float64)", "product us (float32)", "SIREN / product"], rows)
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--components", type=int, nargs="+", default=[64, 128],
                   help="patch EOFs kept (each a candidate; the networks have 64 latents)")
    p.add_argument("--repeats", type=int, default=20, help="of each decode timed")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 4 test chunks a dataset, every fourth step, latent bits 3 and 6")
    p.add_argument("--markdown", help="write the report here (its results beside it as .json)")
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.quick:
        global STEPS, SIREN_BITS, MAX_TEST_CHUNKS
        STEPS, SIREN_BITS, MAX_TEST_CHUNKS = STEPS[::4], (3, 6), 4
    started, loads = time.perf_counter(), [load_average()]
    models = {m: resolve(m) for m in args.models}
    results = {"datasets": {}, "rates": list(RATES), "steps": list(STEPS)}
    for name in args.datasets:
        print(name, flush=True)
        results["datasets"][name] = run_dataset(name, models, args.components)
    a1b = load_a1b()
    cases = [("A1B, 12 fields", args.models[0], a1b[A1B_TEST][:12],
              [a1b[i:i + 12] for i in range(0, 192, 12)])]
    if "glosea4" in args.datasets and len(args.models) > 1:
        test, train = SETS["glosea4"][1]()
        cases.append(("GloSea4, one field", args.models[1], test[0], train))
    results["decode"] = decode_times(cases, args.repeats)
    loads.append(load_average())
    results["seconds"] = time.perf_counter() - started
    lines = markdown(results, load_text(loads, "every time here"))
    lines += ["", f"The whole run took {results['seconds'] / 60:.1f} minutes."]
    publish_results(lines, results, args.markdown)


if __name__ == "__main__":
    main()
