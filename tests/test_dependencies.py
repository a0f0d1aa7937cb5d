"""A missing optional dependency gives an error that says what to install."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module, call, advice", [
    ("iris_sample_data", "inrcodec.sample_data:a1b_path", "inrcodec[data]"),
    ("nilearn", "inrcodec.sample_data:mni_path", "inrcodec[examples]"),
    ("distributed", "inrcodec.distributed:compress", "dask[distributed]"),
])
def test_missing_optional_dependency_says_what_to_install(monkeypatch, module, call, advice):
    import importlib

    monkeypatch.setitem(sys.modules, module, None)  # makes "import module" fail
    where, name = call.split(":")
    function = getattr(importlib.import_module(where), name)
    with pytest.raises(ImportError, match=advice.replace("[", r"\[").replace("]", r"\]")):
        function("a.nc", "b.zarr") if name == "compress" else function()


def test_the_numcodecs_codec_works_without_zarr_and_the_serializer_says_what_to_install():
    script = ("import sys; sys.modules['zarr'] = None\n"
              "import numpy as np, inrcodec\n"
              "c = inrcodec.INRCodec(); c.decode(c.encode(np.ones((37, 49), 'f4')))\n"
              "inrcodec.INRSerializer\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("pip install 'inrcodec[zarr]'")
