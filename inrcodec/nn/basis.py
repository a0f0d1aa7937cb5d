"""A basis for the latents in which one uniform quantization step is the right one everywhere.

Rounding each latent to a grid spends bits best when (a) the latent dimensions are uncorrelated,
so no two of them pay for the same information, and (b) a unit step in any of them moves the
decoded values by the same amount, so one step size suits all. Neither holds for meta-learned
latents: on A1B they are strongly correlated (1.2 bits per dimension to gain), and their effect
on the output varies 30-fold between directions. The basis fixes both, in the metric of the
decoder itself: ``G = E[J^T W J]``, with ``J`` the network's Jacobian with respect to the
latent at each training sample's fitted latent and ``W`` its valid points, measures how far a
change of latent moves the output. Whitening by ``G`` makes the error of a change the same in
every direction; a rotation onto the principal axes of the whitened latents then decorrelates
them (a Karhunen-Loeve transform), ordered from the widest. This is transform coding, done in the
output's metric rather than the latents'.
"""

import numpy as np
import torch

from .network import ModulatedSiren

SAMPLES = 512  # latents whose Jacobians make the metric: enough for a 64 x 64 average


def output_metric(net: ModulatedSiren, coords: torch.Tensor, latents: torch.Tensor,
                  weight: torch.Tensor, batch: int = 16) -> np.ndarray:
    """``E[J^T W J]`` over the samples, float64 (latent_dim, latent_dim), per valid point."""
    metric = torch.zeros(net.latent_dim, net.latent_dim, dtype=torch.float64)
    for i in range(0, len(latents), batch):
        _, j = net.latent_jacobian(coords, latents[i:i + batch])  # (b, points, latent_dim)
        w = weight[i:i + batch].double()
        j = j.double()
        metric += torch.einsum("bpi,bp,bpj->ij", j, w / w.sum(-1, keepdim=True).clamp_min(1), j)
    return (metric / len(latents)).numpy()


def fit_basis(net: ModulatedSiren, coords: torch.Tensor, latents: torch.Tensor,
              weight: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, basis, coefficient std) from fitted ``latents`` (n, latent_dim) of training
    samples, with ``latents = mean + coefficients @ basis`` and coefficients uncorrelated, of
    decreasing spread, each moving the output equally per unit."""
    z = latents.double().numpy()
    mean = z.mean(0)
    metric = output_metric(net, coords, latents[:SAMPLES], weight[:SAMPLES])
    # A direction the network ignores would make the metric singular: a tiny ridge keeps it
    # invertible without changing the directions that matter.
    metric += np.eye(len(metric)) * 1e-9 * np.trace(metric) / len(metric)
    whiten = np.linalg.cholesky(metric).T  # metric = whiten.T @ whiten
    whitened = (z - mean) @ whiten.T
    variance, rotation = np.linalg.eigh(np.cov(whitened.T))
    order = np.argsort(variance)[::-1]
    analysis = rotation[:, order].T @ whiten  # coefficients = (z - mean) @ analysis.T
    basis = np.linalg.inv(analysis).T
    coefficients = (z - mean) @ analysis.T
    return mean, basis, coefficients.std(0)
