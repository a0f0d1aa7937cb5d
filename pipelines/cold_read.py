"""The first read of one time step in a fresh process: inrcodec against SZ3 and ZFP on the same
Zarr chunks (issue 33: a cold read paid 1.2-1.7 s for torch where SZ3 and ZFP took 0.08-0.10 s).

Each store holds a real dataset no bundled model was trained on (OSTIA SST, iris-sample-data,
NaN over land), one field a chunk, written once; each read is a new Python process that imports
xarray, opens the store and reads time step 0: what a user's first look at an archive costs.
The time counted starts before ``import xarray`` (Python's own start-up is left out, the same
for every codec) and ends when the values are in memory. The median of ``--repeats`` runs.

    python pipelines/cold_read.py [--repeats 7] [--out docs/cold-read.md]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from numcodecs.abc import Codec
from numcodecs.registry import register_codec

sys.path.insert(0, str(Path(__file__).parent))

READ = """
import time
start = time.perf_counter()
import sys
sys.path.insert(0, {here!r})
import cold_read  # registers the SZ3 codec, as a reader of an SZ3 store must have it
import xarray as xr
values = xr.open_zarr({store!r})["sst"].isel(time=0).values
print(time.perf_counter() - start, "torch" in sys.modules)
"""


class PySZ3(Codec):
    """SZ3 (pysz) as a numcodecs codec with an absolute bound: the peer, in a Zarr store."""

    codec_id = "pysz3-cold-read"

    def __init__(self, abs: float, shape: list, dtype: str):
        self.abs, self.shape, self.dtype = abs, list(shape), dtype

    def _config(self):
        import pysz

        config = pysz.szConfig()
        config.errorBoundMode = pysz.szErrorBoundMode.ABS
        config.absErrorBound = self.abs
        return config

    def encode(self, buf):
        import pysz

        return pysz.sz.compress(np.ascontiguousarray(buf).reshape(self.shape), self._config())[0].tobytes()

    def decode(self, buf, out=None):
        import pysz

        values = pysz.sz.decompress(np.frombuffer(buf, np.uint8), np.dtype(self.dtype), tuple(self.shape))[0]
        if out is not None:
            np.copyto(np.frombuffer(out, self.dtype).reshape(self.shape), values)
            return out
        return values


register_codec(PySZ3)


def stores(folder: Path) -> dict[str, Path]:
    """The same OSTIA fields, one a chunk, under each codec; the bound 1% of the range."""
    import numcodecs
    import xarray as xr

    from inrcodec import INRCodec
    from inrcodec.bench.datasets import DATASETS

    sst = DATASETS["ostia"].load().astype(np.float32)
    ds = xr.Dataset({"sst": (("time", "lat", "lon"), sst)})
    bound = float(0.01 * (np.nanmax(sst) - np.nanmin(sst)))
    chunk = (1, *sst.shape[1:])
    codecs = {"inrcodec default (40 dB floor)": INRCodec(),
              f"inrcodec max_error={bound:.3g}": INRCodec(max_error=bound),
              f"SZ3 abs={bound:.3g}": PySZ3(bound, chunk, "float32"),
              f"ZFP accuracy={bound:.3g}": numcodecs.ZFPY(tolerance=bound)}
    out = {}
    for i, (label, codec) in enumerate(codecs.items()):
        out[label] = folder / f"store{i}.zarr"
        ds.to_zarr(out[label], zarr_format=2, consolidated=True,
                   encoding={"sst": {"compressors": codec, "chunks": chunk}})
    return out


def cold_read(store: Path, repeats: int) -> tuple[float, bool]:
    """The median seconds of a fresh process's first read, and whether it imported torch."""
    here = str(Path(__file__).parent)
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", READ.format(here=here, store=str(store))],
                             capture_output=True, text=True, check=True).stdout.split()
        runs.append((float(out[0]), out[1] == "True"))
    return statistics.median(r[0] for r in runs), runs[0][1]


def main() -> None:
    from pipelines_common import publish

    from inrcodec.bench.machine import load_average, load_text

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--out", help="markdown report to write (e.g. docs/cold-read.md)")
    args = p.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        results = {label: cold_read(path, args.repeats) for label, path in stores(Path(tmp)).items()}
    sz3 = next(seconds for label, (seconds, _) in results.items() if label.startswith("SZ3"))
    lines = ["# The first read of a time step in a fresh process", "",
             f"OSTIA SST (iris-sample-data), one 18 x 432 field a chunk; median of {args.repeats} "
             "fresh processes, each from `import xarray` to the values in memory."
             + load_text([load_before, load_average()], "the speed of every read") + " Ratios to SZ3 are "
             "within the run, so compare them.", "",
             "| store | seconds | x SZ3 | imported torch |", "|---|---|---|---|"]
    lines += [f"| {label} | {seconds:.3f} | {seconds / sz3:.2f} | {'yes' if torch else 'no'} |"
              for label, (seconds, torch) in results.items()]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
