"""Short training pilots: which meta-training settings are worth a full run, without the test fields.

Each configuration (``meta_train`` keywords as JSON, changes to the bundled recipe,
``inrcodec.recipe.Recipe``) is meta-learned on A1B fields 0-143 for the same
wall-clock time, one torch thread each, ``--jobs`` at a time, and scored on the later, unseen
fields 144-191: unquantized (3 and 10 inner steps) and through the codec, one field per chunk,
every byte counted, PSNR read off at 0.15 bits per value (interpolated between latent
resolutions). PSNR is over those fields' range in K.

    python pipelines/training_pilots.py --minutes 15 \\
        --config 'base={}' 'qat6={"quantization_bits": 6}' 'w40={"w0": 40}' \\
        [--markdown docs/training-pilots.md]
"""

import json

import numpy as np
from pipelines_common import (
    PILOT_SCORE,
    machine,
    pilot,
    pilot_arguments,
    psnr_at_rate,
    publish,
    side_by_side,
    table,
)

from inrcodec.recipe import BUNDLED


def score(name: str, keywords: dict, minutes: float) -> dict:
    from inrcodec.model import resolve

    # "init" names a model to continue (a smoke test: a few steps from scratch cannot reach the
    # 0.15 bits per value it is scored at).
    init = {"init": resolve(keywords["init"])} if "init" in keywords else {}
    model, fields, scores = pilot(minutes, **{**keywords, **init})
    return {"name": name, "keywords": keywords, **scores,
            "at_015": psnr_at_rate(model, fields[PILOT_SCORE].astype(np.float64))}


def main() -> None:
    p = pilot_arguments(__doc__)
    p.add_argument("--config", nargs="+", required=True, metavar="NAME=JSON")
    args = p.parse_args()
    names, keywords = zip(*[(c.split("=", 1)[0], json.loads(c.split("=", 1)[1]))
                            for c in args.config])
    rows = side_by_side(score, list(zip(names, keywords, [args.minutes] * len(names))), args.jobs)
    lines = [f"Training pilots on A1B: meta-learned on fields 0-143 for {args.minutes:g} minutes "
             f"each (the bundled recipe, {BUNDLED.describe()}, plus the keywords shown), scored "
             f"on fields 144-191; {machine()}, {args.jobs} configurations at a time.", "",
             *table(["pilot", "meta_train keywords", "outer steps", "unquantized PSNR dB, 3 steps",
                     "10 steps", "PSNR dB at 0.15 bits/value"],
                    [[r["name"], f"`{json.dumps(r['keywords'])}`", r["steps"], f"{r['unseen_3']:.2f}",
                      f"{r['unseen_10']:.2f}", f"{r['at_015']:.2f}"] for r in rows])]
    publish(lines, args.markdown)


if __name__ == "__main__":
    main()
