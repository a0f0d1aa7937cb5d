"""A trained model as one file: safetensors weights plus a JSON card, and its content hash.

Loading reads tensors and JSON only; nothing is ever unpickled, so a model embedded in a store
cannot run code. The hash covers everything that changes decoded values (weights, architecture,
patch shape, latent statistics) and nothing descriptive, so re-describing a model keeps its hash.
"""

import copy
import functools
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import safetensors.torch
import torch

from .coding.quantize import HEADROOM, LatentQuantizer
from .nn.network import ModulatedSiren

FORMAT = "inrcodec-model/1"
FORMAT_WITH_BASIS = "inrcodec-model/2"  # version 1 plus a latent basis, which older readers
# would ignore (and so decode wrongly): they refuse this format instead.
BUNDLED = {"default-2d": "default-2d.safetensors", "default-3d": "default-3d.safetensors"}


class ModelError(ValueError):
    """A model file that cannot be used: unreadable, incomplete or not what was expected."""


@dataclass
class Model:
    net: ModulatedSiren
    step_sizes: torch.Tensor  # (latent_dim,) learned inner-loop step per latent dimension
    patch_shape: tuple[int, ...]
    latent_mean: np.ndarray  # (latent_dim,) of fitted latents on the training data
    latent_std: np.ndarray
    card: dict = field(default_factory=dict)  # description only: data, time, quality
    # Meta-learned with L0 gates in the inner loop (size-budget mode): where each gate's
    # log-odds start, and the inner-loop step for each. None for models trained without gates.
    gate_init: torch.Tensor | None = None
    gate_steps: torch.Tensor | None = None
    # (latent_dim, latent_dim): latents are quantized as coefficients in this basis, and
    # latent_std is then the coefficients' spread (see nn/basis.py). None: the latents themselves.
    latent_basis: torch.Tensor | None = None

    def __post_init__(self):
        self.net.eval().requires_grad_(False)
        self.step_sizes = self.step_sizes.detach().float()
        self.latent_mean = np.asarray(self.latent_mean, dtype=np.float32)
        self.latent_std = np.asarray(self.latent_std, dtype=np.float32)
        self.patch_shape = tuple(int(n) for n in self.patch_shape)
        if (self.gate_init is None) != (self.gate_steps is None):
            raise ModelError("a gated model needs both gate_init and gate_steps")
        if self.gate_init is not None:
            self.gate_init = self.gate_init.detach().float()
            self.gate_steps = self.gate_steps.detach().float()
        if self.latent_basis is not None:
            # Gates drop latents; a basis mixes them: a dropped coefficient has no meaning there.
            if self.gated:
                raise ModelError("a model has meta-learned gates or a latent basis, not both")
            self.latent_basis = self.latent_basis.detach().float()
            if self.latent_basis.shape != (self.net.latent_dim,) * 2:
                raise ModelError(f"latent basis of shape {tuple(self.latent_basis.shape)} for "
                                 f"{self.net.latent_dim} latents")
        self.hash = self._hash()

    def quantizer(self, bits: int, fraction: int = 0, headroom: int = HEADROOM) -> LatentQuantizer:
        """The quantizer of this model's latents at a resolution of ``bits + fraction / 16``."""
        basis = None if self.latent_basis is None else self.latent_basis.numpy()
        return LatentQuantizer(self.latent_mean, self.latent_std, bits, fraction, basis, headroom)

    @functools.cached_property
    def net64(self) -> ModulatedSiren:
        """A float64 copy of the network, for predictions that must agree across machines."""
        return copy.deepcopy(self.net).double()

    @property
    def gated(self) -> bool:
        return self.gate_init is not None

    @property
    def ndim(self) -> int:
        return len(self.patch_shape)

    def _tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"net.{k}": v.detach().float().contiguous() for k, v in self.net.state_dict().items()}
        tensors["step_sizes"] = self.step_sizes.contiguous()
        tensors["latent_mean"] = torch.from_numpy(self.latent_mean)
        tensors["latent_std"] = torch.from_numpy(self.latent_std)
        if self.gated:  # absent otherwise, so models without gates keep their hash
            tensors["gate_init"] = self.gate_init.contiguous()
            tensors["gate_steps"] = self.gate_steps.contiguous()
        if self.latent_basis is not None:
            tensors["latent_basis"] = self.latent_basis.contiguous()
        return tensors

    def _decoding_header(self) -> dict:
        return {"format": FORMAT if self.latent_basis is None else FORMAT_WITH_BASIS,
                "architecture": self.net.architecture(),
                "patch_shape": list(self.patch_shape)}

    def _hash(self) -> str:
        h = hashlib.sha256(json.dumps(self._decoding_header(), sort_keys=True).encode())
        for name, tensor in sorted(self._tensors().items()):
            h.update(name.encode())
            h.update(tensor.numpy().astype("<f4").tobytes())
        return h.hexdigest()

    def to_bytes(self) -> bytes:
        # One metadata key: safetensors writes several in a random order, and the bytes of a
        # model must not change between saves (they end up in codec configs).
        header = {**self._decoding_header(), "card": self.card, "hash": self.hash}
        return safetensors.torch.save(self._tensors(),
                                      metadata={"inrcodec": json.dumps(header, sort_keys=True)})

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        try:
            tensors = safetensors.torch.load(bytes(data))
            header_len = int.from_bytes(data[:8], "little")
            metadata = json.loads(data[8:8 + header_len]).get("__metadata__", {})
            header = json.loads(metadata["inrcodec"])
            card = header.get("card", {})
        except Exception as e:  # safetensors and json raise several types for a bad file
            raise ModelError(f"not an inrcodec model file: {e}") from e
        if header.get("format") not in (FORMAT, FORMAT_WITH_BASIS):
            raise ModelError(f"unsupported model format {header.get('format')!r}; this inrcodec "
                             f"reads {FORMAT} and {FORMAT_WITH_BASIS}: upgrade inrcodec")
        if (header["format"] == FORMAT_WITH_BASIS) != ("latent_basis" in tensors):
            raise ModelError(f"model file of format {header['format']} "
                             f"{'without' if 'latent_basis' not in tensors else 'with'} a latent basis")
        try:
            net = ModulatedSiren(**header["architecture"])
            net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
            model = cls(net, tensors["step_sizes"], tuple(header["patch_shape"]),
                        tensors["latent_mean"].numpy(), tensors["latent_std"].numpy(), card,
                        tensors.get("gate_init"), tensors.get("gate_steps"),
                        tensors.get("latent_basis"))
        except (KeyError, TypeError, RuntimeError, ValueError) as e:
            raise ModelError(f"incomplete or inconsistent model file: {e}") from e
        stored = header.get("hash")
        if stored is not None and stored != model.hash:
            raise ModelError(f"model file is damaged: its content hashes to {model.hash[:12]}, "
                             f"but it says {stored[:12]}")
        return model

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        return cls.from_bytes(Path(path).read_bytes())


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise ModelError(f"no bundled model named {name!r}; bundled: {sorted(BUNDLED)}")
    return Path(str(resources.files("inrcodec") / "models" / BUNDLED[name]))


def resolve(model: "Model | str | Path") -> "Model":
    """A Model from a Model, a bundled model's name, or a path to a model file."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str) and model in BUNDLED:
        return Model.load(bundled_path(model))
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"model {str(model)!r} is neither a bundled model "
                         f"({', '.join(sorted(BUNDLED))}) nor a file")
    return Model.load(path)
