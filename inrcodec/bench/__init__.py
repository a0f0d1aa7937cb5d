"""Rate-distortion benchmark of inrcodec against peer compressors on real data (``inrcodec bench``).

datasets.py  the arrays, their chunking and declared train/test splits
peers.py     classic compressors (SZ3, ZFP, SPERR, BitRound, ...) behind one chunk interface
inr.py       inrcodec's settings, and its FLOPs counted by torch
pca.py       the linear (EOF) control coded with inrcodec's quantizer and range coder
metrics.py   peak memory and FLOPs (errors and PSNR: inrcodec/measure.py);  machine.py  what it ran on
run.py       one run: every codec on the same chunks
outputs.py   the run as files: JSON, CSV, plots.py (rate-distortion plots), markdown.py (the report;
             fronts.py reads the codecs' fronts, verdicts.py says where inrcodec wins and loses)
"""
