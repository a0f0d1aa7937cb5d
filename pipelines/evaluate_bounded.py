"""Error-bounded mode against SZ3 at the same absolute bounds, on the held-out A1B fields.

The 48 test fields (192-239, never seen in training) are cut into the same chunks for both
codecs: one 37 x 49 field per chunk, and 12 fields per chunk. Bits per value count every stored
byte; every decoded value is checked against the bound.

    pip install pysz
    python pipelines/evaluate_bounded.py [--model default-2d] [--markdown docs/bounded.md]
"""

import argparse

import numpy as np
import pysz
import torch
from pipelines_common import machine, publish

from inrcodec import INRCodec
from inrcodec.measure import RoundTrip, chunks_along_first_axis, codec_round_trip, round_trip
from inrcodec.sample_data import A1B_TEST, load_a1b


def sz3(chunks: list[np.ndarray], bound: float) -> RoundTrip:
    config = pysz.szConfig()
    config.errorBoundMode = pysz.szErrorBoundMode.ABS
    config.absErrorBound = bound

    def encode(chunk: np.ndarray) -> bytes:
        return pysz.sz.compress(np.ascontiguousarray(chunk), config)[0].tobytes()

    def decode(data: bytes, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return pysz.sz.decompress(np.frombuffer(data, np.uint8), dtype, shape)[0]

    return round_trip(chunks, encode, decode)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="default-2d")
    p.add_argument("--bounds", type=float, nargs="+", default=[0.05, 0.1, 0.25, 0.5, 1.0])
    p.add_argument("--latent-bits", type=float, nargs="+", default=[4, 5, 6])
    p.add_argument("--fields-per-chunk", type=int, nargs="+", default=[1, 12])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--markdown")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    test = load_a1b()[A1B_TEST]

    lines = [f"Error-bounded compression of A1B fields 192-239 (48 fields of 37 x 49 float32, "
             f"range {np.ptp(test):.1f} K), model `{args.model}`; {machine()}.", "",
             "| fields/chunk | bound K | codec | bits/value | max error K | bound held "
             "| encode + decode s |", "|---|---|---|---|---|---|---|"]
    for per_chunk in args.fields_per_chunk:
        chunks = chunks_along_first_axis(test, per_chunk)
        for bound in args.bounds:
            rows = [("SZ3", sz3(chunks, bound))]
            rows += [(f"inrcodec, {b}-bit latents", codec_round_trip(
                INRCodec(args.model, latent_bits=b, max_error=bound), chunks))
                for b in args.latent_bits]
            for name, trip in rows:
                error = trip.distortion()["max_abs_error"]
                seconds = trip.encode_seconds + trip.decode_seconds
                lines.append(f"| {per_chunk} | {bound} | {name} | {trip.bits_per_value:.3f} | "
                             f"{error:.4f} | {'yes' if error <= bound else 'NO'} | {seconds:.2f} |")
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
