"""The benchmark behind docs/benchmarks.md: inrcodec against SZ3, ZFP, SPERR, BitRound, Quantize,
PCodec, Zstd and a PCA control, on the same chunks of real datasets (see inrcodec/bench/).

    pip install torch==2.13.0 -e ".[bench]"
    python pipelines/benchmark.py --out docs          # the full run (about half an hour, 1 thread)
    python pipelines/benchmark.py --quick --out /tmp/bench --datasets a1b ostia

The same as ``inrcodec bench``.
"""

import argparse

from inrcodec.bench.run import add_arguments, options_from, run_and_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    run_and_report(options_from(p.parse_args()))


if __name__ == "__main__":
    main()
