import numpy as np
import pytest
import torch

# The tests check mechanics on small tensors, where a second intra-op thread buys nothing and,
# on a machine with other work, spins: the size-budget solve ran 25x slower on two threads.
torch.set_num_threads(1)


@pytest.fixture
def every_call_compiled(monkeypatch):
    """Kernels for every call, however small (a process loads them after 8 million points)."""
    from inrcodec.coding import kernels

    monkeypatch.setattr(kernels, "LOAD_AFTER_WORK", 0)


@pytest.fixture
def numpy_only(monkeypatch):
    """``numpy_only(True)`` runs what follows on the numpy path, ``numpy_only(False)`` compiled."""
    from inrcodec.coding import kernels

    original = kernels.compiled

    def use(numpy: bool):
        monkeypatch.setattr(kernels, "compiled", (lambda: None) if numpy else original)
    return use


@pytest.fixture(scope="session")
def a1b() -> np.ndarray:
    from inrcodec.sample_data import load_a1b

    return load_a1b()


@pytest.fixture(scope="session")
def codec():
    from inrcodec import INRCodec

    return INRCodec()  # the bundled default model


@pytest.fixture(scope="session")
def a1b_netcdf(tmp_path_factory):
    """48 A1B fields (160-207, some seen in training, most not) as a netCDF source file."""
    from inrcodec.sample_data import open_a1b

    path = tmp_path_factory.mktemp("src") / "a1b_part.nc"
    open_a1b().isel(time=slice(160, 208)).to_netcdf(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """``tiny_model(patch_shape, steps=5)``: the path of a tiny model (helpers.train_tiny_model),
    trained once a session for each patch shape and step count. Tests must not write to it."""
    from helpers import train_tiny_model

    folder = tmp_path_factory.mktemp("tiny_models")
    trained = {}

    def get(patch_shape, steps: int = 5) -> str:
        key = (tuple(patch_shape), steps)
        if key not in trained:
            trained[key] = train_tiny_model(key[0], folder, steps)
        return trained[key]

    return get


@pytest.fixture(scope="session")
def cluster():
    """The address of one dask LocalCluster for the session's distributed tests: two
    single-threaded worker processes, as ``inrcodec compress`` starts by default, so that chunks
    are fitted outside this process. Tests pass it as ``scheduler=`` or ``--scheduler``; a test
    that kills a worker or the command starts a cluster of its own."""
    import logging

    pytest.importorskip("distributed")
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as local:
        yield local.scheduler_address
