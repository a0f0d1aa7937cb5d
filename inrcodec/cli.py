"""The ``inrcodec`` command.

    inrcodec demo    compress the bundled A1B sample with the bundled model, through xarray and
                     a real Zarr store, and print size, ratio and errors
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def demo(out: str | None, latent_bits: int, inner_steps: int) -> None:
    import xarray as xr

    from . import INRCodec
    from .sample_data import A1B_TEST, A1B_VARIABLE, a1b_path, open_a1b

    codec = INRCodec("default-2d", latent_bits=latent_bits, inner_steps=inner_steps)
    ds = open_a1b()[[A1B_VARIABLE]]
    original = ds[A1B_VARIABLE].values
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(out or Path(tmp) / "a1b.zarr")
        start = time.perf_counter()
        # One chunk per field: the model's patch is a whole 37 x 49 field.
        ds.to_zarr(store, mode="w", zarr_format=2, consolidated=True,
                   encoding={A1B_VARIABLE: {"compressors": codec, "chunks": (1, 37, 49)}})
        written = time.perf_counter()
        decoded = xr.open_zarr(store)[A1B_VARIABLE].values
        read = time.perf_counter()
        stored = sum(p.stat().st_size for p in (store / A1B_VARIABLE).iterdir()
                     if not p.name.startswith("."))

    print(f"{a1b_path().name}: {A1B_VARIABLE} {original.shape} {original.dtype}, "
          f"{original.nbytes / 1e6:.2f} MB, model trained on fields 0-191")
    print(f"codec: {codec!r}")
    print(f"stored {stored} bytes of chunks: ratio {original.nbytes / stored:.1f}x, "
          f"{8 * stored / original.size:.3f} bits per value (headers, checksums included)")
    print(f"write {written - start:.1f} s, read {read - written:.2f} s"
          + (f"; store kept at {out}" if out else ""))
    print(f"{'fields':24} {'PSNR dB':>8} {'RMSE K':>8} {'max err K':>9}")
    for label, part in [("all 0-239", slice(None)), ("held out 192-239", A1B_TEST)]:
        x, y = original[part].astype(np.float64), decoded[part]
        rmse = float(np.sqrt(np.mean((x - y) ** 2)))
        print(f"{label:24} {20 * np.log10(np.ptp(x) / rmse):>8.2f} {rmse:>8.3f} "
              f"{np.abs(x - y).max():>9.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inrcodec", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="compress the bundled sample data and report")
    p.add_argument("--out", help="keep the Zarr store at this path")
    p.add_argument("--latent-bits", type=int, default=5)
    p.add_argument("--inner-steps", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        demo(args.out, args.latent_bits, args.inner_steps)
    except (ValueError, ImportError, OSError) as e:  # a readable line, not a traceback
        print(f"inrcodec {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
