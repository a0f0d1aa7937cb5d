
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
