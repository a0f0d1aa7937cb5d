"""INRCodec: inrcodec as a numcodecs codec (Zarr format 2, and anything else numcodecs serves).

The config is the codec: plain JSON holding the settings and, by default, the model itself
(zlib-compressed safetensors, base64), so a store decodes on any machine that has the package.
"""

import base64
import hashlib
import math
import threading
import zlib

from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_ndarray_like, ndarray_copy

from .. import core
from ..coding.quantize import LatentQuantizer
from ..model import Model, ModelError, resolve

# Configs carrying the same embedded model share one loaded copy. Keyed by the embedded text
# itself, so a damaged copy is never mistaken for a good one seen before.
_models: dict[bytes, Model] = {}
_OPTIONAL = ("max_error", "relative_error", "bits_per_value")  # settings in a config only if set
_models_lock = threading.Lock()


def _load_embedded(model_data: str) -> Model:
    key = hashlib.sha256(model_data.encode()).digest()
    with _models_lock:
        if key in _models:
            return _models[key]
    try:
        raw = zlib.decompress(base64.b64decode(model_data, validate=True))
    except (ValueError, zlib.error) as e:
        raise ModelError(f"the model embedded in the codec config is damaged: {e}") from e
    model = Model.from_bytes(raw)
    with _models_lock:
        return _models.setdefault(key, model)


class INRCodec(Codec):
    """Lossy codec storing each patch of a chunk as a quantized, entropy-coded latent vector.

    Parameters
    ----------
    model : name of a bundled model (``"default-2d"``), path to a model file, or a ``Model``.
    latent_bits : quantization resolution of the latents, 1-12 in steps of 1/16 (such as 6.5);
        each bit halves the quantization step and costs about one more bit per latent
        dimension that varies.
    inner_steps : gradient steps that fit each patch's latent at encode time (decoding never
        fits, so this changes encode speed and quality only).
    max_error : absolute error bound: every finite value decodes within it (the network
        predicts, a range-coded residual corrects). Costs more bits than plain latents.
    relative_error : the same, as a fraction of each chunk's value range.
    bits_per_value : size budget: every chunk takes at most this many bits per value, its
        header included, and comes within a byte or so of it (see ``inrcodec.budget``). The
        latents' resolution is then chosen per chunk and ``latent_bits`` is not used.
    embed_model : store the model inside the codec config (default) so the data decodes on
        any machine with inrcodec installed, whatever models it has.
    model_hash, model_data : written by ``get_config``; given back by ``from_config``.
    """

    codec_id = "inrcodec"

    def __init__(self, model="default-2d", latent_bits: float = 6.5, inner_steps: int = 3,
                 max_error: float | None = None, relative_error: float | None = None,
                 bits_per_value: float | None = None, embed_model: bool = True,
                 model_hash: str | None = None, model_data: str | None = None):
        if not (isinstance(inner_steps, int) and 0 <= inner_steps <= core.MAX_INNER_STEPS):
            raise ValueError(f"inner_steps must be an integer from 0 to {core.MAX_INNER_STEPS}")
        if sum(x is not None for x in (max_error, relative_error, bits_per_value)) > 1:
            raise ValueError("give one of max_error, relative_error and bits_per_value")
        for name, bound in [("max_error", max_error), ("relative_error", relative_error),
                            ("bits_per_value", bits_per_value)]:
            if bound is not None and not (isinstance(bound, int | float) and 0 < bound < math.inf):
                raise ValueError(f"{name} must be a positive number, not {bound!r}")
        LatentQuantizer.resolution(latent_bits)  # validates latent_bits
        if model_data is not None:
            self.model = _load_embedded(model_data)
        else:
            self.model = resolve(model)
        if model_hash is not None and model_hash != self.model.hash:
            raise ModelError(f"model {model!r} has hash {self.model.hash[:12]}, but the codec "
                             f"config expects {model_hash[:12]}: this is not the model the data "
                             "was written with")
        self.model_name = model if isinstance(model, str) else str(model.card.get("name", "custom"))
        self.latent_bits, self.inner_steps, self.embed_model = latent_bits, inner_steps, embed_model
        self.max_error, self.relative_error = max_error, relative_error
        self.bits_per_value = bits_per_value

    def encode(self, buf):
        return core.encode(ensure_ndarray_like(buf), self.model, self.latent_bits,
                           self.inner_steps, self.max_error, self.relative_error,
                           self.bits_per_value)

    def decode(self, buf, out=None):
        decoded = core.decode(ensure_bytes(buf), self.model)
        return decoded if out is None else ndarray_copy(decoded, out)

    def get_config(self) -> dict:
        config = {"id": self.codec_id, "model": self.model_name, "model_hash": self.model.hash,
                  "latent_bits": self.latent_bits, "inner_steps": self.inner_steps,
                  "embed_model": self.embed_model}
        for name in _OPTIONAL:  # only when set: older configs stay valid
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        if self.embed_model:
            config["model_data"] = base64.b64encode(
                zlib.compress(self.model.to_bytes(), 9)).decode("ascii")
        return config

    def __reduce__(self):  # dask ships the codec as its config, not as pickled torch modules
        return (_from_config, (self.get_config(),))

    def __repr__(self) -> str:
        bound = "".join(f", {name}={getattr(self, name)!r}" for name in _OPTIONAL
                        if getattr(self, name) is not None)
        return (f"INRCodec(model={self.model_name!r}, model_hash={self.model.hash[:12]!r}, "
                f"latent_bits={self.latent_bits}, inner_steps={self.inner_steps}{bound})")


def _from_config(config: dict) -> INRCodec:
    config = dict(config)
    config.pop("id", None)
    return INRCodec.from_config(config)
