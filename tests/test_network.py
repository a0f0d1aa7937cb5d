"""The base network's shortcuts agree with plain autograd: its Jacobian by one backward pass, an
encoder's first inner step as a matrix product, and in-place evaluation without autograd."""

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from inrcodec.nn.coords import axis, grid
from inrcodec.nn.fit import Linearisation, fit_latents, masked_mse
from inrcodec.nn.network import ModulatedSiren


def network(seed=0) -> ModulatedSiren:
    torch.manual_seed(seed)
    return ModulatedSiren(2, 16, 3, 8).eval().requires_grad_(False)


def test_the_latent_jacobian_is_autograds():
    net, coords = network(), grid((5, 7))
    latents = 0.3 * torch.randn(3, 8)
    values, jacobian = net.latent_jacobian(coords, latents)
    for latent, mine, value in zip(latents, jacobian, values):
        expected = torch.func.jacfwd(lambda z: net(coords, z[None])[0])(latent)
        assert torch.allclose(mine, expected, rtol=1e-4, atol=1e-5)
        assert torch.allclose(value, net(coords, latent[None])[0], rtol=1e-5, atol=1e-6)


def test_the_first_inner_step_as_a_matrix_product_is_the_gradient_step():
    net, coords = network(1), grid((6, 6))
    target = torch.randn(4, 36)
    weight = (torch.rand(4, 36) > 0.3).float()  # don't-care points as NaNs and padding make them
    steps = torch.full((8,), 0.05)
    for n in (1, 3):
        plain = fit_latents(net, coords, target, weight, steps, n)
        linear = fit_latents(net, coords, target, weight, steps, n,
                             linearisation=Linearisation(net, coords))
        assert torch.allclose(plain, linear, rtol=1e-4, atol=1e-6)


def test_evaluating_in_place_gives_the_same_bits():
    net, coords = network(2), grid((9, 4))
    latents = torch.randn(5, 8)
    with torch.enable_grad():
        reference = net(coords, latents.requires_grad_(True)).detach()
    with torch.no_grad():
        assert torch.equal(net(coords, latents.detach()), reference)


def test_meta_learning_through_the_linearised_first_step_has_autograds_gradients():
    net, coords = network(3), grid((6, 5))
    net.train().requires_grad_(True)
    target, weight = torch.randn(4, 30), (torch.rand(4, 30) > 0.2).float()
    steps = torch.full((8,), 0.05, requires_grad=True)

    def outer_gradients(linearised: bool):
        if linearised:
            latents = fit_latents(net, coords, target, weight, steps, 3, create_graph=True)
        else:  # the plain inner loop, every step by autograd
            latents = torch.zeros(4, 8, requires_grad=True)
            for _ in range(3):
                loss = masked_mse(net(coords, latents), target, weight).sum()
                (grad,) = torch.autograd.grad(loss, latents, create_graph=True)
                latents = latents - steps * grad
        loss = masked_mse(net(coords, latents), target, weight).mean()
        return torch.autograd.grad(loss, [*net.parameters(), steps])

    for mine, plain in zip(outer_gradients(True), outer_gradients(False)):
        assert torch.allclose(mine, plain, rtol=1e-3, atol=1e-6)


def test_decoding_gives_the_same_bits_on_one_thread_and_on_two(a1b):
    # On an AVX-512 Xeon a matrix-vector output layer moved these fields by an ulp on 2 threads.
    from inrcodec import INRCodec

    codec = INRCodec()
    encoded = [codec.encode(a1b[i:i + 1]) for i in (196, 211, 217)] + [codec.encode(a1b[192:204])]
    once = [codec.decode(e).tobytes() for e in encoded]
    torch.set_num_threads(2)
    try:
        assert [codec.decode(e).tobytes() for e in encoded] == once
    finally:
        torch.set_num_threads(1)



@pytest.mark.slow  # ~7 s of fresh processes: the SIREN's grid (a linear model has none)
def test_the_grid_is_the_same_on_every_cpu_path():
    """Issue 32: torch.linspace's values depend on the CPU kernel torch picks; the grid must not."""
    script = ("import hashlib; from inrcodec.nn.coords import grid; print(hashlib.sha256("
              "grid((37, 49)).numpy().tobytes() + grid((16, 16, 16)).numpy().tobytes()).hexdigest())")
    here = hashlib.sha256(grid((37, 49)).numpy().tobytes()
                          + grid((16, 16, 16)).numpy().tobytes()).hexdigest()
    for capability in ("default", "avx2"):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env={**os.environ, "ATEN_CPU_CAPABILITY": capability}, check=True)
        assert out.stdout.strip() == here, capability


@pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
                    reason="the stored chunks were written where linspace ran its AVX2 kernel")
def test_grid_axes_are_what_linspace_gave_where_every_chunk_was_written():
    assert all(np.array_equal(axis(n), torch.linspace(-1, 1, n).numpy()) for n in range(2, 4097))
    assert axis(49)[5] == np.float32(-0.79166669)


@pytest.fixture
def fitted(monkeypatch) -> list:
    """A list that grows by one each time the encoder fits patches."""
    from inrcodec.sections import network

    calls = []
    original = network.fit_patches
    monkeypatch.setattr(network, "fit_patches", lambda *a: calls.append(1) or original(*a))
    return calls


def test_the_projection_gate_stores_rough_data_without_fitting_and_the_same_bytes(monkeypatch,
                                                                                  fitted):
    """A field rougher than the network can follow: the cheap gate (one projection onto the
    network's first-order span) skips the fit, and the chunk is the one the fit's gate gave."""
    from test_modes import power_law_field

    from inrcodec import INRCodec
    from inrcodec.sections import network

    rough = (power_law_field((160, 160), slope=1.5, seed=3) * 3 + 280).astype(np.float32)
    codec = INRCodec("default-2d", relative_error=0.01)
    gated = codec.encode(rough)
    assert not fitted
    monkeypatch.setattr(network, "PROJECTION_SLACK_DB", float("inf"))
    assert codec.encode(rough) == gated and fitted  # the fit's own gate: same bytes, later


def test_the_span_is_an_orthonormal_basis_of_the_jacobian():
    from inrcodec.model import resolve

    model = resolve("universal-2d")
    start, basis = model.span
    jacobian = model.linearisation.jacobian.double().numpy()
    assert np.allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=1e-10)
    assert np.allclose(basis @ (basis.T @ jacobian), jacobian, atol=1e-6 * np.abs(jacobian).max())
    assert start.shape == (math.prod(model.patch_shape),)


def test_where_interpolation_predicts_better_nothing_is_fitted_under_a_tight_bound(monkeypatch,
                                                                                  fitted):
    """A smooth field the network does not know, under a bound of 1% of its range: cubic
    interpolation predicts it far better than the network's span can, so the network is not
    fitted (it was, and thrown away), and the bytes are what the fit's own gates gave."""
    from test_modes import power_law_field

    from inrcodec import INRCodec
    from inrcodec.chunk import Chunk
    from inrcodec.sections import network

    smooth = (power_law_field((256, 256), slope=3.5, seed=3) * 3 + 280).astype(np.float32)
    chunk = Chunk(smooth, np.ones(smooth.shape, bool), {})
    assert network.cubic_residual_rms(chunk) < 0.01 * np.ptp(smooth)  # under the bound
    codec = INRCodec("universal-2d", relative_error=0.01)
    gated = codec.encode(smooth)
    assert not fitted
    monkeypatch.setattr(network, "SPATIAL_SLACK_DB", float("inf"))
    assert codec.encode(smooth) == gated and fitted


def test_cubic_residual_rms_is_the_finest_cubic_interpolation_error():
    from inrcodec.chunk import Chunk
    from inrcodec.sections.network import cubic_residual_rms

    ramp = np.add.outer(np.arange(20.0) ** 3, np.arange(30.0))  # cubic along 0, linear along 1
    assert cubic_residual_rms(Chunk(ramp, np.ones(ramp.shape, bool), {})) == 0.0
    noise = np.random.default_rng(0).normal(size=(64, 64))
    assert 1.0 < cubic_residual_rms(Chunk(noise, np.ones(noise.shape, bool), {})) < 1.6
    with_nans = noise.copy()
    with_nans[::2] = np.nan
    assert np.isfinite(cubic_residual_rms(Chunk(with_nans, np.isfinite(with_nans), {})))
    assert cubic_residual_rms(Chunk(noise[:5, :5], np.ones((5, 5), bool), {})) == float("inf")


@pytest.mark.parametrize("settings", [dict(min_psnr=40), dict(relative_error=0.1)])
def test_no_network_is_fitted_whose_latents_alone_outweigh_the_classic_coders(monkeypatch,
                                                                            settings):
    """A smooth 512 x 512 field the network does not know: the wavelet keeps a 40 dB floor, and
    spatial prediction a loose bound, in fewer bytes than the latents of its patches could take,
    so nothing is fitted; the bytes are the ones fitting gave."""
    from test_modes import power_law_field

    from inrcodec import INRCodec
    from inrcodec.modes import bounded, latents

    smooth = (power_law_field((512, 512), slope=4.0, seed=5) * 3 + 280).astype(np.float32)
    codec = INRCodec(**settings)
    fitted = []
    for module in (latents, bounded):
        original = module.fit
        monkeypatch.setattr(module, "fit", lambda *a, _f=original, **k: fitted.append(1) or _f(*a, **k))
    gated = codec.encode(smooth)
    assert not fitted
    for module in (latents, bounded):
        monkeypatch.setattr(module, "least_latent_bytes", lambda *a: 0.0)
    assert codec.encode(smooth) == gated and fitted


def test_a_linear_model_gives_up_on_its_sample_where_it_misses_by_far(monkeypatch, a1b):
    """NEMO's coastal field under a bound of 1% of its range: the linear model's projection
    misses cubic interpolation's by far, and the sample of patches says so without projecting
    the rest; the same bytes as judging the whole projection. Under the default floor the
    sample passes, and every patch is projected at once (the same latents as always). A
    chunk without missing points is projected at once, without a sample first."""
    from inrcodec import INRCodec
    from inrcodec.bench.datasets import DATASETS
    from inrcodec.linear import LinearModel
    from inrcodec.sections import network

    field = np.asarray(DATASETS["nemo"].load()[0], np.float32)[None]
    projected = []
    original = LinearModel.project
    monkeypatch.setattr(LinearModel, "project",
                        lambda self, t, w, positions=None: projected.append(len(t))
                        or original(self, t, w, positions))
    bound = 0.01 * float(np.nanmax(field) - np.nanmin(field))
    sampled = INRCodec("linear-2d", max_error=bound).encode(field)
    patches = 72
    assert projected == [18]  # a quarter of the patches, the rest never
    monkeypatch.setattr(network, "SAMPLE_MARGIN_DB", float("inf"))
    projected.clear()
    assert INRCodec("linear-2d", max_error=bound).encode(field) == sampled
    assert projected == [18, patches]
    monkeypatch.setattr(network, "SAMPLE_MARGIN_DB", 3.0)
    projected.clear()
    INRCodec("linear-2d").encode(field)
    assert projected[:2] == [18, patches]
    projected.clear()  # every patch whole (12 A1B fields): one product, no sample first
    INRCodec("linear-2d", relative_error=0.01).encode(a1b[:12])
    assert projected == [12]
