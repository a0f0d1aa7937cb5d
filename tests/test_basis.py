"""The latent basis: what it promises (nn/basis.py), and how a model file carries it."""

import numpy as np
import pytest
import torch

from helpers import smooth_field
from inrcodec import INRCodec, Model
from inrcodec.model import FORMAT, FORMAT_WITH_BASIS, ModelError
from inrcodec.nn.basis import output_metric
from inrcodec.nn.coords import grid
from inrcodec.nn.fit import fit_in_batches
from inrcodec.train import meta_train, normalised_samples

SAMPLES = np.stack([smooth_field((8, 8), seed) for seed in range(48)])


@pytest.fixture(scope="module")
def model() -> Model:
    return meta_train(SAMPLES, width=16, depth=2, latent_dim=8, batch_size=8, max_steps=30,
                      progress=False)


def training_latents(model):
    values, weights = (torch.from_numpy(a).flatten(1) for a in normalised_samples(SAMPLES))
    return fit_in_batches(model.net, model.step_sizes, grid(model.patch_shape), values, weights,
                          3), weights


def test_coefficients_are_uncorrelated_widest_first_and_equal_in_the_output(model):
    latents, weights = training_latents(model)
    quantizer = model.quantizer(6)
    coefficients = quantizer.coefficients(latents.numpy())
    covariance = np.cov(coefficients.T)
    assert np.allclose(covariance, np.diag(np.diag(covariance)), atol=1e-6 * covariance.max())
    assert np.all(np.diff(model.latent_std) <= 0)
    assert np.allclose(coefficients.std(0), model.latent_std, rtol=1e-3)
    # In coefficients, the decoder's average metric is the identity: a unit step in any of them
    # moves the output alike.
    metric = output_metric(model.net, grid(model.patch_shape), latents, weights)
    basis = model.latent_basis.double().numpy()
    assert np.allclose(basis @ metric @ basis.T, np.eye(8), atol=1e-3)
    assert np.allclose(quantizer.latents(coefficients), latents.numpy(), atol=1e-5)


def test_a_model_with_a_basis_round_trips_and_says_so(model, tmp_path):
    model.save(tmp_path / "m.safetensors")
    loaded = Model.load(tmp_path / "m.safetensors")
    assert loaded.hash == model.hash and torch.equal(loaded.latent_basis, model.latent_basis)
    assert FORMAT_WITH_BASIS.encode() in (tmp_path / "m.safetensors").read_bytes()[:2000]
    without = meta_train(SAMPLES, width=16, depth=2, latent_dim=8, max_steps=2, progress=False,
                         latent_basis=False)
    assert without.latent_basis is None and FORMAT.encode() in without.to_bytes()[:2000]
    codec = INRCodec(loaded, latent_bits=5.5)
    chunk = smooth_field((3, 8, 8), seed=99)
    assert np.sqrt(np.mean((codec.decode(codec.encode(chunk)) - chunk) ** 2)) < chunk.std()


def test_gates_and_a_basis_do_not_mix(model):
    gated = meta_train(SAMPLES, width=16, depth=2, latent_dim=8, max_steps=2, progress=False,
                       gate_penalty=(1e-3, 1e-2))
    assert gated.latent_basis is None  # trained with gates: no basis fitted
    with pytest.raises(ModelError, match="not both"):
        Model(gated.net, gated.step_sizes, gated.patch_shape, gated.latent_mean,
              gated.latent_std, gate_init=gated.gate_init, gate_steps=gated.gate_steps,
              latent_basis=model.latent_basis)


def test_resolutions_come_in_sixteenths_of_a_bit(model):
    chunk = smooth_field((4, 8, 8), seed=7)
    sizes = [len(INRCodec(model, latent_bits=b).encode(chunk)) for b in (4, 4.5, 5)]
    assert sizes[0] <= sizes[1] <= sizes[2]
    for bad in (4.1, 0.5, 12.5, "5"):
        with pytest.raises(ValueError, match="multiple of 1/16"):
            INRCodec(model, latent_bits=bad)
