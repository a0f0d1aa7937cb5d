"""INRCodec: inrcodec as a numcodecs codec (Zarr format 2, and anything else numcodecs serves).

The config is the codec: plain JSON holding the settings, the model's name and full hash, and,
for a model the package does not bundle, the model itself (zlib-compressed safetensors, base64),
so a store decodes on any machine that has the package. A codec built from a store's config
loads its model at its first encode or decode, so a dataset opens fast and one variable's
problem stays that variable's.
"""

import base64
import hashlib
import inspect
import os
import threading
import zlib

from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_ndarray_like, ndarray_copy

from ..coding.bytes import ContainerError

DEFAULT_MIN_PSNR = 40.0  # dB over a chunk's range: what INRCodec() promises on any data

# torch, which core, modes and model need, is imported at a codec's first use, not when numcodecs
# loads this module to open a store (measured: 1.4 s of the 2.3-3.1 s a six-variable store took).

# Configs carrying the same embedded model share one loaded copy. Keyed by the embedded text
# itself, so a damaged copy is never mistaken for a good one seen before.
_models: dict = {}
_models_lock = threading.Lock()
ALLOW_MODEL_FILES = "INRCODEC_ALLOW_MODEL_FILES"  # set to 1 to let stores name local model files




class ConfigError(ContainerError):
    """A codec config this inrcodec cannot use: written by a newer one, or damaged."""


def _load_embedded(model_data: str):
    from ..model import Model, ModelError

    key = hashlib.sha256(model_data.encode()).digest()
    with _models_lock:
        if key in _models:
            return _models[key]
    try:
        compressed = base64.b64decode(model_data, validate=True)
    except ValueError as e:
        raise ModelError(f"the model embedded in the codec config is damaged: {e}") from e
    model = Model.from_compressed(compressed)  # inflates no further than the sizes it declares
    with _models_lock:
        return _models.setdefault(key, model)


class INRCodec(Codec):
    """Lossy codec storing each patch of a chunk as a quantized, entropy-coded latent vector.

    Parameters
    ----------
    model : name of a bundled model (``"linear-2d"``), path to a model file, or a ``Model``.
    latent_bits : quantization resolution of the latents, 1-12 in steps of 1/16 (such as 6.5);
        each bit halves the quantization step and costs about one more bit per latent
        dimension that varies.
    min_psnr : with no bound or budget, what every chunk keeps: at least this PSNR (dB, over
        the chunk's own value range). A chunk whose network reconstruction falls short is stored
        within the absolute bound that gets there instead (error-bounded coding, below). None:
        the network's reconstruction, however poor (quality then depends on the model knowing
        the data).
    max_rmse : in place of ``min_psnr``, what every chunk keeps: an RMS error over its finite
        values of at most this (in the data's units), stored the same ways. One target for
        every chunk, whatever its range: what a dataset-wide PSNR asks for.
    inner_steps : gradient steps that fit each patch's latent at encode time (decoding never
        fits, so this changes encode speed and quality only).
    max_error : absolute error bound: every finite value decodes within it (the network
        predicts, a range-coded residual corrects). Costs more bits than plain latents.
    relative_error : the same, as a fraction of each chunk's value range (max - min): one
        absolute bound per chunk. Not a pointwise relative bound: that is the next setting.
    pointwise_relative_error : every finite value within this fraction of its own magnitude,
        ``|x - y| <= eps |x|`` (zeros stay exactly zero), as ClimateBenchPress and
        compression-safeguards define a relative bound. Coded by spatial prediction alone.
    bits_per_value : size budget: every chunk takes at most this many bits per value, its
        header included, and comes within a byte or so of it (see ``inrcodec.modes.budget``).
        The latents' resolution is then chosen per chunk and ``latent_bits`` is not used.
    embed_model : store the model inside the codec config, so the data decodes on any machine
        with inrcodec installed, whatever models it has. By default only a model the package
        does not bundle is embedded; a bundled one is named by its full hash (the package keeps
        every model it ever bundled).
    model_hash, model_data : written by ``get_config``; given back by ``from_config``.
    """

    codec_id = "inrcodec"

    def __init__(self, model="linear-2d", latent_bits: float = 6.5, inner_steps: int = 3,
                 max_error: float | None = None, relative_error: float | None = None,
                 bits_per_value: float | None = None, embed_model: bool | None = None,
                 model_hash: str | None = None, model_data: str | None = None,
                 pointwise_relative_error: float | None = None,
                 min_psnr: float | None = DEFAULT_MIN_PSNR, max_rmse: float | None = None):
        from .. import modes
        from ..core import MAX_INNER_STEPS

        if not (isinstance(inner_steps, int) and 0 <= inner_steps <= MAX_INNER_STEPS):
            raise ValueError(f"inner_steps must be an integer from 0 to {MAX_INNER_STEPS}")
        self.mode = modes.from_settings(latent_bits, max_error, relative_error, bits_per_value,
                                        pointwise_relative_error, min_psnr, max_rmse)
        # The bound or budget lives in self.mode alone; latent_bits stays in every config.
        self.latent_bits, self.inner_steps, self.embed_model = latent_bits, inner_steps, embed_model
        if hasattr(model, "card"):  # a Model (its module, and torch, are not imported for a name)
            self.model_name = str(model.card.get("name", "custom"))
        else:
            self.model_name = os.fspath(model)
        self._source, self._expected_hash, self._model_data = model, model_hash, model_data
        self._model = None  # the Model, loaded at first use
        self._lock = threading.Lock()
        self._from_store = False
        if not getattr(self, "_lazy", False):
            self.model  # noqa: B018 - a codec the user builds refuses a bad model at once

    @classmethod
    def from_config(cls, config: dict) -> "INRCodec":
        """The codec a store's config describes, built at its first use (so opening a store
        imports no torch and loads no model). A config it cannot use (a newer inrcodec's, or a
        damaged one) gives a codec that says so when used: the rest of the store still opens."""
        codec = cls.__new__(cls)
        codec.__dict__.update(_pending={k: v for k, v in config.items() if k != "id"},
                              _pending_lock=threading.Lock())
        return codec

    def __getattr__(self, name):  # only for attributes not yet set: a codec still pending
        state = self.__dict__
        if "_pending_lock" not in state or name.startswith("__"):
            raise AttributeError(name)
        with state["_pending_lock"]:
            if "_pending" in state:
                self._build(state["_pending"])
        if "_unusable" in state:
            error = state["_unusable"]
            raise ConfigError(f"unusable inrcodec codec config: {error}") from error
        return object.__getattribute__(self, name)

    def _build(self, config: dict) -> None:
        try:
            unknown = sorted(set(config) - set(inspect.signature(INRCodec.__init__).parameters))
            if unknown:
                raise ConfigError(f"it has settings ({', '.join(unknown)}) that this inrcodec does "
                                  "not know: it was written by a newer inrcodec; upgrade inrcodec")
            self._lazy = True
            self.__init__(**config)
            self._from_store = True
        except (TypeError, ValueError) as e:  # ConfigError, or a setting of the wrong type or value
            self.__dict__["_unusable"] = e
        finally:
            self.__dict__["_config"] = self.__dict__.pop("_pending")

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        from ..model import ModelError, bundled_with_hash, is_model, resolve

        source, expected = self._source, self._expected_hash
        if self._model_data is not None:
            model = _load_embedded(self._model_data)
        elif expected is not None and (found := bundled_with_hash(expected)) is not None:
            model = found
        elif self._from_store and not is_model(source) and not _bundled_name(source) \
                and os.environ.get(ALLOW_MODEL_FILES) != "1":
            raise ModelError(f"the codec config names the model file {self.model_name!r}; a store "
                             "may not make its reader read local files. Set "
                             f"{ALLOW_MODEL_FILES}=1 to allow it")
        else:
            model = resolve(source)
        if expected is not None and expected != model.hash:
            raise ModelError(f"model {self.model_name!r} has hash {model.hash}, but the codec "
                             f"config expects {expected}: this is not the model the data was "
                             "written with (and this inrcodec bundles no model with that hash)")
        return model

    @property
    def model_hash(self) -> str:
        return self._expected_hash or self.model.hash

    def encode(self, buf):
        from ..core import encode

        return encode(ensure_ndarray_like(buf), self.model, self.mode, self.inner_steps)

    def decode(self, buf, out=None):
        from ..core import decode

        # The model is loaded (torch with it) only for a chunk that needs it.
        decoded = decode(ensure_bytes(buf), self.model_hash, lambda: self.model)
        return decoded if out is None else ndarray_copy(decoded, out)

    def _embeds(self) -> bool:
        from ..model import is_bundled

        if self.embed_model is not None:
            return bool(self.embed_model)
        return self._model_data is not None or not is_bundled(self.model_hash)

    def get_config(self) -> dict:
        if "_unusable" in self.__dict__:  # kept as it was, so that rewriting a store keeps it
            return {"id": self.codec_id, **self._config}
        embed = self._embeds()
        config = {"id": self.codec_id, "model": self.model_name, "model_hash": self.model_hash,
                  "latent_bits": self.latent_bits, "inner_steps": self.inner_steps,
                  "embed_model": embed}
        config.update({k: v for k, v in self.mode.settings().items() if k != "latent_bits"})
        if embed:
            config["model_data"] = self._model_data or base64.b64encode(
                zlib.compress(self.model.to_bytes(), 9)).decode("ascii")
        return config

    def __reduce__(self):  # dask ships the codec as its config, not as pickled torch modules
        return (_from_config, (self.get_config(),))

    def __repr__(self) -> str:
        bound = "".join(f", {k}={v!r}" for k, v in self.mode.settings().items() if k != "latent_bits")
        return (f"INRCodec(model={self.model_name!r}, model_hash={self.model_hash!r}, "
                f"latent_bits={self.latent_bits}, inner_steps={self.inner_steps}{bound})")


def _bundled_name(source) -> bool:
    from ..model import BUNDLED

    return isinstance(source, str) and source in BUNDLED


def _from_config(config: dict) -> INRCodec:
    return INRCodec.from_config(config)
