
import numpy as np
import pytest
import torch

# The tests check mechanics on small tensors, where a second intra-op thread buys nothing and,
# on a machine with other work, spins: the size-budget solve ran 25x slower on two threads.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def a1b() -> np.ndarray:
    from inrcodec.sample_data import load_a1b

    return load_a1b()


@pytest.fixture(scope="session")
def codec():
    from inrcodec import INRCodec

    return INRCodec()  # the bundled default model


def smooth_field(shape, seed=0) -> np.ndarray:
    """A smooth random field: a few low-frequency waves, like geophysical data."""
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    out = np.zeros(shape)
    for _ in range(4):
        phase = sum(rng.uniform(0, 3) * a for a in axes)
        out += rng.normal() * np.sin(2 * np.pi * phase + rng.uniform(0, 6))
    return (280 + 5 * out).astype(np.float32)


@pytest.fixture(scope="session")
def a1b_netcdf(tmp_path_factory):
    """48 A1B fields (160-207, some seen in training, most not) as a netCDF source file."""
    from inrcodec.sample_data import open_a1b

    path = tmp_path_factory.mktemp("src") / "a1b_part.nc"
    open_a1b().isel(time=slice(160, 208)).to_netcdf(path)
    return path
