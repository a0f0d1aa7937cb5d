"""Compress datasets into Zarr on a dask cluster: the same as ``inrcodec compress``.

    python pipelines/compress.py 'data/*.nc' out.zarr [--scheduler tcp://host:8786] [...]
    python pipelines/compress.py --help
"""

import sys

from inrcodec.cli import main

if __name__ == "__main__":
    sys.exit(main(["compress", *sys.argv[1:]]))
