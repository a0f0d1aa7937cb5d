"""Meta-learning mechanics on small synthetic fields (quality is measured by pipelines/)."""

import json

import numpy as np
import pytest
import torch

from helpers import smooth_field
from inrcodec import Model
from inrcodec.coding.normalise import Normalisation
from inrcodec.model import resolve
from inrcodec.nn.coords import grid
from inrcodec.nn.fit import fit_in_batches, masked_mse
from inrcodec.recipe import BUNDLED, Recipe
from inrcodec.train import affine_mixes, meta_train, normalised_samples
from inrcodec.training_windows import codec_patches


@pytest.fixture(scope="module")
def samples():
    return np.stack([smooth_field((12, 12), seed) for seed in range(24)])


def fit_error(model, samples):
    """Mean squared error of the network's unquantized fit (3 inner steps) to normalised
    samples: the network alone, whatever the codec would choose to store (a PSNR floor, a
    spatial coder)."""
    values, weights = (torch.from_numpy(a).flatten(1) for a in normalised_samples(samples[:6]))
    coords = grid(model.patch_shape)
    latents = fit_in_batches(model.net, model.step_sizes, coords, values, weights, 3)
    with torch.no_grad():
        return float(masked_mse(model.net(coords, latents), values, weights).mean())


def test_the_default_recipe_is_the_bundled_models():
    model = resolve("default-2d")
    recorded = model.card["training"]  # written before the recipe was data: a flat record
    assert {k: getattr(BUNDLED, k) for k in recorded if hasattr(BUNDLED, k)} == {
        k: v for k, v in recorded.items() if hasattr(BUNDLED, k)}
    assert {"lr", "mix", "batch_size", "inner_steps", "first_order", "seed"} <= set(recorded)
    architecture = model.net.architecture()
    assert (BUNDLED.width, BUNDLED.depth, BUNDLED.latent_dim, BUNDLED.w0) == (
        architecture["width"], architecture["depth"], architecture["latent_dim"], architecture["w0"])
    assert BUNDLED.latent_basis == (model.latent_basis is not None) and not model.gated
    # pipelines/train_default.py --minutes 59: the time budget ran out, no step limit.
    assert BUNDLED.minutes == 59 and BUNDLED.max_steps is None
    assert BUNDLED.minutes * 60 <= recorded["seconds"] < BUNDLED.minutes * 60 + 60


def test_a_new_model_card_records_its_recipe_whole(samples):
    recipe = Recipe(width=16, depth=2, latent_dim=8, batch_size=8, max_steps=3, minutes=None,
                    gate_penalty=(1e-3, 1e-2), mix=0.5)
    model = meta_train(samples, recipe, progress=False)
    assert Recipe(**model.card["recipe"]) == recipe
    assert meta_train(samples, recipe, progress=False, lr=0.0).card["recipe"]["lr"] == 0.0
    with pytest.raises(ValueError, match="max_steps or minutes"):
        meta_train(samples, recipe, max_steps=None, progress=False)


def test_the_train_command_and_the_pipelines_take_the_recipe_field_by_field():
    import argparse

    from inrcodec.recipe import add_recipe_arguments, recipe_from

    parser = argparse.ArgumentParser()
    add_recipe_arguments(parser)
    assert recipe_from(parser.parse_args([])) == BUNDLED
    changed = recipe_from(parser.parse_args(["--steps", "5", "--no-latent-basis", "--first-order",
                                             "--gate-penalty", "1e-3", "1e-2", "--mix", "0"]))
    assert changed == Recipe(max_steps=5, latent_basis=False, first_order=True,
                             gate_penalty=(1e-3, 1e-2), mix=0.0)


def test_training_learns_and_is_reproducible(samples):
    kw = dict(width=16, depth=2, latent_dim=8, batch_size=8, mix=0.0, progress=False)
    untrained = meta_train(samples, max_steps=1, lr=0.0, **kw)
    trained = meta_train(samples, max_steps=150, lr=3e-3, **kw)
    assert fit_error(trained, samples) < 0.5 * fit_error(untrained, samples)
    assert not torch.allclose(trained.step_sizes, untrained.step_sizes)  # Meta-SGD steps learn
    assert (trained.latent_std > 0).all()
    again = meta_train(samples, max_steps=150, lr=3e-3, **kw)
    assert again.hash == trained.hash


def test_affine_mixes_are_normalised_like_chunks_and_keep_dont_care_points(samples):
    with_nan = samples.copy()
    with_nan[3, :2] = np.nan
    values, weights = (torch.from_numpy(a).flatten(1) for a in normalised_samples(with_nan))
    idx = torch.arange(len(values))
    mixed, w = affine_mixes(values, weights, idx, 1.0, np.random.default_rng(0))
    assert mixed.shape == values.shape and not torch.equal(mixed, values)
    for x, keep in zip(mixed.numpy(), w.numpy() > 0):
        # Each mix is what the codec's normalisation makes of it: mean ~0, spread ~1.
        norm = Normalisation.fit(x[keep])
        assert abs(norm.offset) <= norm.scale / 32 and norm.scale_code == 0
        assert (x[~keep] == 0).all()
    assert (w[3, :24] == 0).all()  # a NaN in the sample stays "don't care" in its mix
    again, _ = affine_mixes(values, weights, idx, 1.0, np.random.default_rng(0))
    assert torch.equal(mixed, again)
    unmoved, _ = affine_mixes(values, weights, idx, 0.0, np.random.default_rng(0))
    assert torch.allclose(unmoved, values, atol=0.1)


def test_training_on_mixes_learns(samples):
    kw = dict(width=16, depth=2, latent_dim=8, batch_size=8, progress=False, mix=1.0)
    untrained = meta_train(samples, max_steps=1, lr=0.0, **kw)
    trained = meta_train(samples, max_steps=150, lr=3e-3, **kw)
    # Slower than on the samples themselves (0.63x where they reach 0.43x): it learns their span.
    assert fit_error(trained, samples) < 0.7 * fit_error(untrained, samples)
    assert trained.card["recipe"]["mix"] == 1.0


def test_training_continues_from_a_model(samples, tmp_path):
    kw = dict(batch_size=8, progress=False, val_samples=samples[:4], val_every=10)
    first = meta_train(samples, width=16, depth=2, latent_dim=8, max_steps=20, **kw)
    first.save(tmp_path / "m.safetensors")
    more = meta_train(samples, max_steps=20, init=Model.load(tmp_path / "m.safetensors"), **kw)
    assert more.net.architecture() == first.net.architecture()
    assert more.card["training"]["outer_steps"] == 40
    assert [v["step"] for v in more.card["validation"]] == [10, 20, 30, 40]
    with pytest.raises(ValueError, match="patches"):
        meta_train(samples[:, :6], max_steps=1, init=first, progress=False)


def test_samples_without_information_are_refused():
    with pytest.raises(ValueError, match="two distinct finite values"):
        meta_train(np.full((4, 8, 8), 3.0, "f4"), max_steps=1, progress=False)


@pytest.mark.parametrize("samples, error, message", [
    (np.zeros((4, 8, 8), complex), TypeError, "real numbers"),
    (np.zeros(16, "f4"), ValueError, "patch dimensions"),
    (np.zeros((2, 2, 2, 2, 2, 2), "f4"), ValueError, "patch dimensions"),
])
def test_bad_training_input_is_refused_clearly(samples, error, message):
    with pytest.raises(error, match=message):
        meta_train(samples, max_steps=1, progress=False)


@pytest.mark.parametrize("penalty", [(0.0, 1e-3), (1e-2, 1e-3), (1e-3,), (1e-3, float("inf"))])
def test_bad_gate_penalties_are_refused_clearly(samples, penalty):
    with pytest.raises(ValueError, match="gate_penalty"):
        meta_train(samples, max_steps=1, progress=False, gate_penalty=penalty)


@pytest.mark.parametrize("mix", [-1.0, float("nan"), float("inf")])
def test_bad_mix_spreads_are_refused_clearly(samples, mix):
    with pytest.raises(ValueError, match="mix must be"):
        meta_train(samples, max_steps=1, progress=False, mix=mix)


def test_checkpoints_can_be_resumed(samples, tmp_path):
    checkpoint = tmp_path / "run.checkpoint"
    meta_train(samples, width=16, depth=2, latent_dim=8, batch_size=8, max_steps=5,
               progress=False, checkpoint=checkpoint, checkpoint_every=0.0)
    saved = Model.load(checkpoint)
    assert saved.card["training"]["outer_steps"] == 5
    more = meta_train(samples, max_steps=5, progress=False, init=saved)
    assert more.card["training"]["outer_steps"] == 10


def test_train_command_draws_windows_from_an_archive_and_holds_out_validation(tmp_path, capsys):
    from inrcodec.cli import main
    from inrcodec.sample_data import a1b_path
    from inrcodec.training_windows import sample_patches

    windows = sample_patches(a1b_path(), "air_temperature", (16, 16), 50)
    assert windows.train.shape == (50, 16, 16) and windows.validation.shape == (5, 16, 16)
    out = tmp_path / "m.safetensors"
    assert main(["train", str(a1b_path()), "--var", "air_temperature", "--patch", "16,16",
                 "--out", str(out), "--steps", "20", "--samples", "64", "--val-every", "10",
                 "--width", "16", "--depth", "2", "--latent-dim", "8", "--mix", "2"]) == 0
    model = Model.load(out)
    assert model.patch_shape == (16, 16) and len(model.card["validation"]) == 2
    assert model.card["recipe"]["mix"] == 2.0 and model.card["recipe"]["max_steps"] == 20
    assert "held-out PSNR" in capsys.readouterr().out
    assert [p["latent_bits"] for p in model.card["rate_distortion"]] == [2, 3, 4, 5, 6, 8]
    assert (tmp_path / "m.report.png").stat().st_size > 1000
    assert json.loads((tmp_path / "m.report.json").read_text())["model_hash"] == model.hash
    assert main(["train", str(a1b_path()), "--var", "nope", "--patch", "16,16",
                 "--out", str(out)]) == 1


def test_codec_patches_normalise_each_window_whole_and_pad_as_the_codec_does():
    window = smooth_field((40, 40), 3) * 5 + 280
    patches = codec_patches([window], (32, 32))
    # 2 x 2 patches; the corner one holds 8 x 8 of 1,024 points (< 1/8) and is left out.
    assert patches.shape == (3, 32, 32)
    whole = Normalisation.fit(window).apply(window)
    np.testing.assert_array_equal(patches[0], whole[:32, :32].astype(np.float32))
    np.testing.assert_array_equal(patches[1][:, :8], whole[:32, 32:].astype(np.float32))
    assert np.isnan(patches[1][:, 8:]).all() and np.isnan(patches[2][8:]).all()


def test_samples_normalised_beforehand_train_as_the_same_samples_normalised_by_training(samples):
    # Windows of exactly one patch: normalising each whole is what training does to a sample.
    before = meta_train(codec_patches(samples, samples.shape[1:]), normalise=False, mix=0,
                        width=16, depth=2, latent_dim=8, batch_size=4, max_steps=3, progress=False)
    within = meta_train(samples, mix=0, width=16, depth=2, latent_dim=8, batch_size=4,
                        max_steps=3, progress=False)
    assert before.hash == within.hash


def test_mixes_of_patches_normalised_beforehand_keep_the_place_of_the_patch_they_move(samples):
    values, weights = (torch.from_numpy(a).flatten(1) for a in normalised_samples(samples))
    values = values * 0.3 - 1.2  # as a patch in a corner of its chunk might be
    idx = torch.arange(8)
    mixed, w = affine_mixes(values, weights, idx, 3.0, np.random.default_rng(0), renormalise=False)
    assert mixed.shape == (8, values.shape[1]) and bool((w == 1).all())
    np.testing.assert_allclose(mixed.mean(-1), values[idx].mean(-1), atol=1e-5)
    np.testing.assert_allclose(mixed.std(-1, correction=0), values[idx].std(-1, correction=0), rtol=1e-4)
    assert not torch.allclose(mixed, values[idx])


SEED = 0  # a draw whose three mixes each take samples from two bands: all are dropped


def test_gated_training_on_mixes_of_samples_whose_masks_do_not_overlap(monkeypatch):
    """Patches from a coast: a mix of three is "don't care" wherever one is, so some mixes (or
    a whole batch of them) have nothing left and are dropped; the gates' penalties follow the
    batch that remains, and a batch left empty trains on its samples as drawn."""
    y, x = np.mgrid[:16, :16] / 16
    phases = np.random.default_rng(0).uniform(0, 6, 12)
    samples = np.stack([np.sin(3 * x + k) * np.cos(2 * y - k) for k in phases]).astype(np.float32)
    for i in range(12):  # each known on one of three disjoint column bands
        samples[i][:, np.arange(16) // 6 != i % 3] = np.nan
    import inrcodec.train

    met = []  # each batch: how many mixes were left, or None where none was

    def recorded(*args, **kwargs):
        try:
            out = affine_mixes(*args, **kwargs)
        except ValueError:
            met.append(None)
            raise
        met.append(len(out[0]))
        return out

    monkeypatch.setattr(inrcodec.train, "affine_mixes", recorded)
    model = meta_train(samples, width=16, depth=2, latent_dim=8, batch_size=8, max_steps=6,
                       minutes=None, gate_penalty=(1e-3, 1e-2), mix=0.5, progress=False)
    assert model.gated and None in met and any(0 < n < 8 for n in met if n is not None)
    values, weights = (torch.from_numpy(a.reshape(12, -1)) for a in normalised_samples(samples))
    with pytest.raises(ValueError, match="two distinct finite values"):  # what a batch can meet
        affine_mixes(values, weights, torch.tensor([0, 1, 2]), 0.5, np.random.default_rng(SEED))
