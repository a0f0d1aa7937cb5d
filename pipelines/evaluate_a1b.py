"""Rate-distortion and speed of a model on the held-out A1B fields 192-239, 37 x 49 chunks.

Every test field is written as its own chunk into a real Zarr (format 2) store with INRCodec
and read back; bits per value count every stored chunk byte (header, mask, checksum). A PCA
(EOF) control trained on the same fields 0-191, its coefficients quantized and range-coded with
the same quantizer and entropy coder and charged the same per-chunk header, shows what a linear
basis achieves at the same rate.

    python pipelines/evaluate_a1b.py [--model default-2d] [--markdown docs/a1b.md]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import zarr
from pipelines_common import machine, stamp, stamped, unquantized_psnr

from inrcodec import INRCodec
from inrcodec.bench.machine import load_average, load_text
from inrcodec.bench.pca import Basis, PCAControl
from inrcodec.measure import psnr, round_trip
from inrcodec.model import resolve
from inrcodec.sample_data import A1B_TEST as TEST, A1B_TRAIN as TRAIN, load_a1b
from inrcodec.store import stored_chunk_bytes
from inrcodec.train import normalised
from inrcodec.training_report import write_report


def inr_point(test: np.ndarray, codec: INRCodec, fields_per_chunk: int = 1,
              repeats: int = 3) -> dict:
    """One codec setting through a real Zarr store; speeds are the best of ``repeats`` writes
    and reads (one pass over 48 small fields takes about a second: too short to time once)."""
    encode_s = decode_s = float("inf")
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            z = zarr.create_array(store=f"{tmp}/a.zarr", shape=test.shape, dtype=test.dtype,
                                  chunks=(fields_per_chunk,) + test.shape[1:], zarr_format=2,
                                  compressors=codec)
            t0 = time.perf_counter()
            z[:] = test
            t1 = time.perf_counter()
            decoded = zarr.open_array(f"{tmp}/a.zarr", mode="r")[:]
            t2 = time.perf_counter()
            stored = stored_chunk_bytes(z)
        encode_s, decode_s = min(encode_s, t1 - t0), min(decode_s, t2 - t1)
    mb = test.nbytes / 1e6
    return {"codec": "inrcodec", "fields_per_chunk": fields_per_chunk,
            "latent_bits": codec.latent_bits, "inner_steps": codec.inner_steps,
            "bits_per_value": 8 * stored / test.size,
            "bytes_per_field": stored / len(test), "psnr_db": psnr(test, decoded),
            "max_abs_error": float(np.abs(decoded - test).max()),
            "encode_mb_s": mb / encode_s, "decode_mb_s": mb / decode_s}


def pca_points(basis: Basis, test: np.ndarray, components: int, bits: list[float]) -> list[dict]:
    """The EOF control (inrcodec.bench.pca), normalised per field as the codec normalises a chunk."""
    points = []
    for b in bits:
        control = PCAControl(basis, components, b)
        trip = round_trip(test, control.encode, control.decode)
        points.append({"codec": f"pca-{components}", "fields_per_chunk": 1, "latent_bits": b,
                       "bits_per_value": trip.bits_per_value,
                       "bytes_per_field": trip.stored_bytes / len(test), "psnr_db": trip.psnr(),
                       "max_abs_error": trip.distortion()["max_abs_error"]})
    return points


def ceilings(model, basis: Basis, train: np.ndarray, test: np.ndarray) -> str:
    """What the network and the EOFs reach with nothing quantized: where the bits cannot help."""

    def eofs(k: int) -> float:
        decoded = []
        for f in test:
            values, norm, _ = normalised(f)
            flat = values.ravel()
            coefficients = (flat - basis.mean) @ basis.eofs[:k].T
            decoded.append(norm.invert(basis.mean + coefficients @ basis.eofs[:k]).reshape(f.shape))
        return psnr(test, np.stack(decoded))

    return (f"Unquantized (no bits spent on the latents or coefficients): the network "
            f"{unquantized_psnr(model, test, 3):.2f} dB on these fields with 3 inner steps, "
            f"{unquantized_psnr(model, train[-48:], 3):.2f} dB on training fields 144-191; "
            f"64 EOFs {eofs(64):.2f} dB, all {len(basis.eofs)} EOFs of the training fields "
            f"{eofs(len(basis.eofs)):.2f} dB.\n")


def markdown(rows: list[dict], model: str, load: str = "") -> str:
    lines = [f"A1B fields 192-239 (48 fields of 37 x 49 float32, never seen in training), "
             f"model `{model}`; {machine()}. Bits and bytes count every stored byte.{load}", "",
             "| codec | fields/chunk | latent bits | inner steps | bits/value | bytes/field | "
             "PSNR dB | max error K | encode MB/s | decode MB/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = (f"{r['encode_mb_s']:.2f} | {r['decode_mb_s']:.2f}" if "encode_mb_s" in r
                 else "- | -")
        lines.append(f"| {r['codec']} | {r['fields_per_chunk']} | {r['latent_bits']} | "
                     f"{r.get('inner_steps', '-')} | "
                     f"{r['bits_per_value']:.3f} | {r['bytes_per_field']:.1f} | "
                     f"{r['psnr_db']:.2f} | {r['max_abs_error']:.2f} | {speed} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="default-2d")
    p.add_argument("--bits", type=float, nargs="+", default=[5, 6, 6.375, 6.4375, 6.5, 7, 8])
    p.add_argument("--inner-steps", type=int, nargs="+", default=[3, 10])
    p.add_argument("--fields-per-chunk", type=int, default=12,
                   help="also at this many fields per chunk (headers spread over more values)")
    p.add_argument("--pca-bits", type=float, nargs="+", default=[4, 5, 6, 6.5, 7, 8])
    p.add_argument("--pca-components", type=int, nargs="+", default=[16, 32, 64, 128, 192],
                   help="EOFs kept by the PCA control (192: all of the training fields')")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="also write the rows as JSON here")
    p.add_argument("--markdown", help="also write the table as markdown here")
    p.add_argument("--report", help="also write the model's training report (PREFIX.json/png)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    loads = [load_average()]
    fields = load_a1b()
    train, test = fields[TRAIN], fields[TEST]
    rows = [inr_point(test, INRCodec(args.model, latent_bits=b, inner_steps=s))
            for s in args.inner_steps for b in args.bits]
    rows += [inr_point(test, INRCodec(args.model, latent_bits=b), args.fields_per_chunk)
             for b in args.bits]
    basis = Basis.fit(list(train))  # the training fields' EOFs, for every control and ceiling
    for k in args.pca_components:
        rows += pca_points(basis, test, k, args.pca_bits)
    table = (markdown(rows, args.model, load_text(loads + [load_average()])) + "\n"
             + ceilings(resolve(args.model), basis, train, test))
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(stamped(table, stamp()))
    if args.report:
        write_report(resolve(args.model), test, args.report)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
