"""Base networks side by side: quality on the held-out A1B fields and speed, in one run.

For each model (a bundled name or a file): its architecture and matrix FLOPs per value, how long
it trained, its quality on fields 192-239 (unquantized latents, and through the codec at 0.15
bits per value with 1 and 12 fields per chunk, as docs/training-time.md scores them), and the
default codec's encode and decode speed on 12-field chunks of those fields beside SZ3's at 1% of
their range, one thread, the best of three. This is where a cheaper base network (issue #19)
or a universal one (issue #18) has to show it keeps the quality.

    python pipelines/compare_models.py default-2d candidate.safetensors [--markdown docs/architectures.md]
"""

import argparse
import json

import numpy as np
import torch
from pipelines_common import machine, publish, table
from speed import fraction, measure
from training_time import score

from inrcodec import INRCodec
from inrcodec.bench.inr import forward_flops
from inrcodec.bench.machine import load_average, load_text
from inrcodec.bench.peers import Context, sz3
from inrcodec.model import resolve
from inrcodec.sample_data import A1B_TEST, load_a1b


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+")
    p.add_argument("--markdown")
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    loads = [load_average()]
    test = load_a1b()[A1B_TEST]
    chunks = [test[i:i + 12] for i in range(0, len(test), 12)]
    bound = float(f"{0.01 * float(np.ptp(test)):.2g}")
    peer = sz3(Context(test.dtype, False, float(np.ptp(test)), (bound,), False))[0]
    rows = []
    for name in args.models:
        model = resolve(name)
        codec = INRCodec(model)
        speed = measure(chunks, codec.encode, lambda data, shape, dtype, codec=codec: codec.decode(data),
                        3)
        reference = measure(chunks, peer.encode, peer.decode, 3)
        training = model.card.get("training", {})
        rows.append({"model": name, "hash": model.hash[:12], **model.net.architecture(),
                     "flops_per_value": round(forward_flops(model)["per_point_with_shift_map"]),
                     "outer_steps": training.get("outer_steps"),
                     "minutes": (training.get("seconds") or 0) / 60,
                     **score(model, training.get("seconds")),
                     **{k: speed[k] for k in ("encode_mb_s", "decode_mb_s")},
                     "sz3_encode_mb_s": reference["encode_mb_s"],
                     "sz3_decode_mb_s": reference["decode_mb_s"]})
    lines = [f"Base networks on the held-out A1B fields 192-239; {machine()}; speed: the default "
             "codec (40 dB floor) on 12-field chunks, best of 3, with SZ3 at 1% of the range "
             "measured right after each (`pipelines/compare_models.py`).", "", *table(
                 ["model", "width x depth", "FLOPs/value", "outer steps", "minutes",
                  "unquantized dB", "dB at 0.15 b/v, 1 field/chunk", "12 fields/chunk",
                  "encode MB/s", "x SZ3", "decode MB/s", "x SZ3"],
                 [[r["model"], f"{r['width']} x {r['depth']}", f"{r['flops_per_value']:,}",
                   r["outer_steps"], f"{r['minutes']:.0f}", f"{r['unquantized']:.2f}",
                   f"{r['at_015']:.2f}", f"{r['at_015_12']:.2f}", f"{r['encode_mb_s']:.3g}",
                   fraction(r["encode_mb_s"] / r["sz3_encode_mb_s"]), f"{r['decode_mb_s']:.3g}",
                   fraction(r["decode_mb_s"] / r["sz3_decode_mb_s"])] for r in rows])]
    lines[0] += load_text(loads + [load_average()])
    publish(lines, args.markdown)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
