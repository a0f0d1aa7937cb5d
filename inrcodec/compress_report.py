"""The report of ``inrcodec compress``: per variable what it cost and what it kept, and the
store as a whole, every number of it checkable against the store on disk.

One definition of bits per value, here and in ``inrcodec info`` and ``inrcodec demo``: every
stored byte of a variable (its chunks and its own metadata files) over every value of the
variable, NaNs included. PSNR is over the variable's finite range (``measure.psnr``).
"""

import math
from collections import Counter
from dataclasses import dataclass, field

from .coding.kinds import NETWORK_KINDS, Kind
from .measure import psnr_db
from .store import describe_kinds, kinds_legend

LEGEND = ("kB meta: the variable's own metadata (codec config, attributes); ratio and bits/val "
          "count its chunks and its metadata: bits/val = 8 x those bytes / every value of the "
          "variable, NaNs included. PSNR over the variable's finite range; bias = mean(decoded - "
          f"original); network: chunks stored by the network ({', '.join(NETWORK_KINDS)}) of all")


@dataclass
class VariableReport:
    mode: object = None  # the codec's mode: what each chunk promises
    chunks: int = 0
    encoded: int = 0  # in this run; the others were already in the store
    values: int = 0  # every value, NaNs included
    finite: int = 0
    bytes_in: int = 0
    bytes_out: int = 0  # the chunks as stored
    metadata_bytes: int = 0  # the array's own metadata files
    model_bytes: int = 0  # of those, a model embedded in its codec's config (a learned one)
    squared_error: float = 0.0
    error_sum: float = 0.0
    max_abs_error: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    kinds: Counter = field(default_factory=Counter)
    worst: float | None = None  # the worst chunk's measure of the promise (Mode.measure)
    kept: bool | None = None  # None: nothing promised
    workers: set = field(default_factory=set)
    # The chunks a classic codec was tried on (classic.compare: all but the lossless ones), what
    # it needed for them, and what inrcodec stored them in at what quality.
    classic: Counter = field(default_factory=Counter)

    def add(self, stats: dict) -> None:
        self.chunks += 1
        for name in ("encoded", "values", "finite", "bytes_in", "bytes_out", "squared_error",
                     "error_sum"):
            setattr(self, name, getattr(self, name) + stats[name])
        self.max_abs_error = max(self.max_abs_error, stats["max_abs_error"])
        self.low, self.high = min(self.low, stats["low"]), max(self.high, stats["high"])
        self.kinds[stats["kind"]] += 1
        self.workers.add(stats["worker"])
        if stats.get("classic") is not None:
            c = stats["classic"]
            self.classic.update(chunks=1, finite=stats["finite"], bytes=c["bytes"],
                                squared_error=c["squared_error"], inrcodec_bytes=stats["bytes_out"],
                                inrcodec_squared_error=stats["squared_error"])
            self.classic["max_abs_error"] = max(self.classic["max_abs_error"], c["max_abs_error"])
        if stats.get("promise") is not None:
            value, kept = stats["promise"]
            worse = min if self.mode.higher_is_better else max
            self.worst = value if self.worst is None else worse(self.worst, value)
            self.kept = kept if self.kept is None else self.kept and kept

    @property
    def stored_bytes(self) -> int:
        return self.bytes_out + self.metadata_bytes

    @property
    def ratio(self) -> float:
        return self.bytes_in / max(self.stored_bytes, 1)

    @property
    def bits_per_value(self) -> float:
        return 8 * self.stored_bytes / max(self.values, 1)

    @property
    def psnr_db(self) -> float:
        if not self.finite:
            return math.nan
        return psnr_db(self.high - self.low, math.sqrt(self.squared_error / self.finite))

    @property
    def bias(self) -> float:
        return self.error_sum / self.finite if self.finite else math.nan

    def against_classic(self) -> str | None:
        """One sentence: whether a classic error-bounded codec would have stored this variable
        in fewer bytes at no worse a quality (max error and RMSE), and what to do about it."""
        c = self.classic
        if not c["chunks"]:
            return None
        # inrcodec's bytes with the model its chunks need, which a classic codec does without
        # (a learned model's 180 kB had been left out: "195x these bytes" for about 2.5x).
        mine_bytes = c["inrcodec_bytes"] + self.model_bytes
        ratio = c["bytes"] / max(mine_bytes, 1)
        rmse, mine = (math.sqrt(c[k] / max(c["finite"], 1))
                      for k in ("squared_error", "inrcodec_squared_error"))
        quality = (f"max error {c['max_abs_error']:.4g} (inrcodec {self.max_abs_error:.4g}), "
                   f"RMSE {rmse:.4g} (inrcodec {mine:.4g})")
        of = "" if c["chunks"] == self.chunks else f" on the {c['chunks']} lossy chunks"
        model = (f" (the embedded model's {self.model_bytes / 1e3:.1f} kB included)"
                 if self.model_bytes else "")
        if ratio < 1 and rmse <= mine * 1.0001:
            return (f"WORSE than a classic codec: SZ3-style interpolation would have stored it in "
                    f"{c['bytes'] / 1e3:.1f} kB, {ratio:.2f}x inrcodec's {mine_bytes / 1e3:.1f} "
                    f"kB{of}{model}, at {quality}. The model does not know this data: an error bound "
                    "(--max-error or --relative-error) never costs more than that coder")
        return (f"a classic codec (SZ3-style interpolation) would have needed {ratio:.2f}x "
                f"these bytes{of}{model} ({c['bytes'] / 1e3:.1f} kB), at {quality}")

    @property
    def network_chunks(self) -> int:
        return sum(n for kind, n in self.kinds.items() if kind in NETWORK_KINDS)


@dataclass
class Report:
    dest: str
    seconds: float  # from submitting the tasks to the last result
    variables: dict[str, VariableReport]
    setup_seconds: float = 0.0  # opening the source, starting the cluster, writing metadata
    store_bytes: int = 0  # every file of the store: chunks, metadata, coordinates
    store_files: int = 0
    disk_bytes: int | None = None  # what du says, for a local store
    source_bytes: int = 0  # every variable the store holds, as the source has it in memory
    plots: list = field(default_factory=list)  # the error maps and histograms written
    adaptations: dict = field(default_factory=dict)  # by variable: adapt.Adaptation
    learnings: dict = field(default_factory=dict)  # by variable: learn.Learning
    lossless: dict = field(default_factory=dict)  # stored as they are: name -> why
    notes: dict = field(default_factory=dict)  # by variable: xarray.source_notes
    created: bool = True  # a new store (else one resumed or appended to)
    appended: dict = field(default_factory=dict)  # by variable: (rows appended, the dimension)
    held: dict = field(default_factory=dict)  # by variable: (shape, chunk bytes) the store holds

    @classmethod
    def of(cls, dest: str, ds, variables: dict, seconds: float, setup_seconds: float) -> "Report":
        """The report, with the store measured once every chunk is in it."""
        import zarr

        from .store import disk_usage, inrcodec_of, store_size, stored_bytes

        group = zarr.open_group(dest, mode="r")
        held = {}
        for name, report in variables.items():
            chunks, report.metadata_bytes = stored_bytes(group[name])
            codec = inrcodec_of(group[name])
            report.model_bytes = len((codec.get_config() if codec else {}).get("model_data") or "")
            held[name] = (tuple(group[name].shape), chunks)
        size, files = store_size(group.store)
        return cls(dest, seconds, variables, setup_seconds, size, files, disk_usage(dest),
                   sum(int(ds[name].nbytes) for name in ds.variables), held=held)

    def table(self) -> str:
        lines = [self.largest_errors()] if self.variables else []
        lines += [f"{'variable':20} {'chunks':>6} {'encoded':>7} {'network':>7} {'MB in':>8} "
                 f"{'kB chunks':>9} {'kB meta':>7} {'ratio':>7} {'bits/val':>8} {'PSNR dB':>7} "
                 f"{'max err':>9} {'bias':>9}  {'promise':14} kept"]
        for name, v in self.variables.items():
            label = getattr(v.mode, "label", "?")
            lines.append(f"{name:20} {v.chunks:>6} {v.encoded:>7} {v.network_chunks:>7} "
                         f"{v.bytes_in / 1e6:>8.2f} {v.bytes_out / 1e3:>9.1f} "
                         f"{v.metadata_bytes / 1e3:>7.1f} {v.ratio:>7.1f} {v.bits_per_value:>8.3f} "
                         f"{v.psnr_db:>7.2f} {v.max_abs_error:>9.4g} {v.bias:>9.3g}  {label:14} "
                         f"{kept_text(v.mode, v.worst, v.kept)}")
            lines.append(f"  {name}: chunks {describe_kinds(v.kinds)}; promise: "
                         f"{getattr(v.mode, 'promise', '?')}")
            if name in self.appended:
                rows, dim = self.appended[name]
                shape, chunk_bytes = self.held[name]
                held = chunk_bytes + v.metadata_bytes  # as bits/val counts: chunks and metadata
                lines.append(f"  {name}: appended {rows} along {dim} (the columns above are this "
                             f"run's chunks); the store now holds {shape} in {chunk_bytes / 1e3:.1f} "
                             f"kB of chunks and {v.metadata_bytes / 1e3:.1f} kB of metadata, "
                             f"{8 * held / max(math.prod(shape), 1):.3f} bits per value")
            lines += [f"  {name}: {note}" for note in self.notes.get(name, [])]
            if name in self.adaptations:
                lines.append(f"  {name}: {self.adaptations[name].describe()}")
            if name in self.learnings:
                lines.append(f"  {name}: {self.learnings[name].describe()}")
            if (verdict := v.against_classic()) is not None:
                lines.append(f"  {name}: {verdict}")
        values = sum(v.values for v in self.variables.values())
        du = "" if self.disk_bytes is None else (
            f"; du: {self.disk_bytes / 1e3:.1f} kB (whole file-system blocks)")
        lines.append(f"whole store: {self.store_bytes / 1e3:.1f} kB in {self.store_files} files "
                     f"for {self.source_bytes / 1e6:.2f} MB of variables and coordinates: ratio "
                     f"{self.source_bytes / max(self.store_bytes, 1):.1f}, "
                     f"{8 * self.store_bytes / max(values, 1):.3f} bits per value of the "
                     f"compressed variables{du}")
        lines.append(LEGEND)
        used = set().union(*(v.kinds for v in self.variables.values()))
        if used & set(Kind.__members__):
            lines.append(f"kinds: {kinds_legend(used)}")
        if self.lossless:
            lines.append(f"stored losslessly: {_grouped(self.lossless)}")
        chunks = sum(v.encoded for v in self.variables.values())
        lines.append(f"{chunks} chunks encoded in {self.seconds:.1f} s "
                     f"({chunks / max(self.seconds, 1e-9):.2f} chunks/s) after "
                     f"{self.setup_seconds:.1f} s of setup (source, learning, cluster, metadata) into "
                     f"{'a new store ' if self.created else ''}{self.dest}")
        if self.plots:
            lines.append(f"error maps and histograms: {', '.join(map(str, self.plots))}")
        return "\n".join(lines)

    def largest_errors(self) -> str:
        """The first line: each variable's largest error, against its range."""
        parts = []
        for name, v in self.variables.items():
            spread = v.high - v.low
            share = f" = {100 * v.max_abs_error / spread:.3g}% of its range" if spread > 0 else ""
            parts.append(f"{name} {v.max_abs_error:.4g}{share}")
        return f"largest error: {'; '.join(parts)}"


def _grouped(why: dict) -> str:
    """``"time, lat, lon (coordinate); land (integer ...)"``: names grouped by reason."""
    by = {}
    for name, reason in why.items():
        by.setdefault(reason, []).append(str(name))
    return "; ".join(f"{', '.join(names)} ({reason})" for reason, names in by.items())


def kept_text(mode, worst: float | None, kept: bool | None) -> str:
    """``"yes, worst chunk 41.20 dB"``, ``"NO, max error 0.13"``, or ``"nothing promised"``."""
    if kept is None or worst is None:
        return "nothing promised"
    return f"{'yes' if kept else 'NO'}, {mode.describe(worst)}"
