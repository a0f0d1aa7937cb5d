"""The universal models: bundled, grid-agnostic (any field, smaller than a patch or larger), and
the start of adaptation in compress."""

import numpy as np
import pytest

from helpers import smooth_field
from inrcodec import INRCodec
from inrcodec.model import resolve


@pytest.mark.parametrize("name, patch", [("universal-2d", (32, 32)), ("universal-3d", (16, 16, 16))])
def test_the_universal_models_are_bundled_with_what_they_learned_from(name, patch):
    model = resolve(name)
    assert model.patch_shape == patch
    assert model.card["data"].startswith(f"universal {len(patch)}-D:")
    assert "Gaussian random fields" in model.card["data"]


def test_a_field_narrower_than_a_patch_with_nans_keeps_its_bound():
    # OSTIA's 18 x 432 fields are narrower than a 32 x 32 patch: the edges are padded.
    chunk = smooth_field((18, 432), 4)[None]
    chunk[0, :5, 100:180] = np.nan
    codec = INRCodec("universal-2d", max_error=0.01)
    decoded = codec.decode(codec.encode(chunk))
    assert np.array_equal(np.isnan(decoded), np.isnan(chunk))
    assert np.nanmax(np.abs(decoded - chunk)) <= 0.01
