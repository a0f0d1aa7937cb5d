"""A trained model as one file: safetensors weights plus a JSON card, and its content hash.

Loading reads tensors and JSON only; nothing is ever unpickled, so a model embedded in a store
cannot run code. The hash covers everything that changes decoded values (weights, architecture,
patch shape, latent statistics) and nothing descriptive, so re-describing a model keeps its hash.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .coding.quantize import HEADROOM, LatentQuantizer
from .linear import FORMAT as FORMAT_LINEAR, FORMAT_POSITIONS, LinearModel, LinearModelError, check_file

if TYPE_CHECKING:  # torch is imported where a SIREN is built: a linear model's reader needs none
    import torch

    from .nn.fit import Linearisation
    from .nn.network import ModulatedSiren

FORMAT = "inrcodec-model/1"
FORMAT_WITH_BASIS = "inrcodec-model/2"  # version 1 plus a latent basis, which older readers
# would ignore (and so decode wrongly): they refuse this format instead.
# What a model file may declare, checked before anything is allocated: a store's embedded model
# is untrusted input. Generous for real use (the bundled models: width 64, depth 3-4, 64 latents,
# patches of 1,813 and 4,096 points; COIN++ used width 512 and depth 15 at most).
DEFAULT = "linear-2d"  # the codec's model unless told (docs/compare-models.md chose it)
MAX_DIMS = 4  # of a patch and the network's coordinates: the network's own limit
MAX_WIDTH = 1024
MAX_DEPTH = 16
MAX_LATENT_DIM = 1024
MAX_PATCH_POINTS = 2 ** 16  # 256 x 256, 40^3 or 16^4 points
MAX_PATCH_ACTIVATIONS = 2 ** 22  # points x width: 32 MiB of float64 per sine layer and patch
MAX_HEADER_BYTES = 2 ** 20  # the safetensors JSON header, card included (bundled: 2-3 kB)
# The largest file within these limits (width 1024, depth 16, 1024 latents and a basis) holds
# 33.6M float32 values, 128 MiB; a compressed model inflates no further than its header says.
BUNDLED = {"default-2d": "default-2d.safetensors", "default-3d": "default-3d.safetensors",
           # The SIRENs' first-order spans as linear models (pipelines/linear_models.py): their
           # quality where they were trained at 2K operations a value, exact on every machine.
           "linear-2d": "linear-2d.safetensors", "linear-3d": "linear-3d.safetensors",
           # Meta-learned on many kinds of data (pipelines/train_universal.py): where adapting
           # to a user's archive starts.
           "universal-2d": "universal-2d.safetensors", "universal-3d": "universal-3d.safetensors"}


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

    linear = False

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

    @property
    def latent_dim(self) -> int:
        return self.net.latent_dim

    @functools.cached_property
    def linearisation(self) -> Linearisation:
        """The network at a zero latent on the patch grid, for an encoder's first inner step."""
        from .nn.coords import grid
        from .nn.fit import Linearisation

        return Linearisation(self.net, grid(self.patch_shape))

    @functools.cached_property
    def span(self) -> tuple[np.ndarray, np.ndarray]:
        """(f0, Q): the network at a zero latent on the patch grid (N,) and an orthonormal
        basis (N, latent_dim) of its Jacobian's columns, float64: the affine space a patch's
        first-order fit lies in, onto which the encoder's gate projects (sections/network.py)."""
        linearisation = self.linearisation
        basis, _ = np.linalg.qr(linearisation.jacobian.detach().double().numpy())
        return linearisation.value.detach().double().numpy(), basis

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
        import torch

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
        import safetensors.torch

        return safetensors.torch.save(self._tensors(),
                                      metadata={"inrcodec": json.dumps(header, sort_keys=True)})

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model | LinearModel":
        """The model of a file: a SIREN (this class) or, for the linear family's format, a
        ``LinearModel``, each checked before anything is allocated."""
        data = bytes(data)
        entries, header, n = _read_header(data)
        size = _check_sizes(header, entries)  # before anything is allocated
        if size != len(data) - 8 - n:
            raise ModelError(f"model file with {len(data) - 8 - n:,} bytes of tensors, but its "
                             f"header says {size:,}")
        if header["format"] in (FORMAT_LINEAR, FORMAT_POSITIONS):
            try:
                return LinearModel.from_parts(header, data)
            except LinearModelError as e:
                raise ModelError(str(e)) from e
        import safetensors.torch

        from .nn.network import ModulatedSiren

        card = header.get("card", {})
        try:
            tensors = safetensors.torch.load(data)
        except Exception as e:  # safetensors raises several types for a bad file
            raise ModelError(f"not an inrcodec model file: {e}") from e
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
        if stored is not None and (not isinstance(stored, str) or stored != model.hash):
            raise ModelError(f"model file is damaged: its content hashes to {model.hash[:12]}, "
                             f"but it says {str(stored)[:12]}")
        return model

    @classmethod
    def from_compressed(cls, data: bytes) -> "Model":
        """A model from its zlib-compressed file (as a codec config embeds it), inflated no
        further than its header and then the sizes that header declares: a zlib bomb is refused
        having allocated next to nothing."""
        try:
            head = zlib.decompressobj().decompress(data, 8 + MAX_HEADER_BYTES)
            entries, header, n = _read_header(head)
            return cls.from_bytes(decompress_bounded(data, 8 + n + _check_sizes(header, entries)))
        except zlib.error as e:
            raise ModelError(f"damaged model data: {e}") from e
        except ValueError as e:
            raise e if isinstance(e, ModelError) else ModelError(f"damaged model data: {e}") from e

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        return cls.from_bytes(Path(path).read_bytes())


def decompress_bounded(data: bytes, limit: int) -> bytes:
    """zlib-inflated ``data``; a ValueError, after inflating at most ``limit + 1`` bytes, if the
    result would be longer than ``limit`` (a zlib bomb) or the stream is damaged."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as e:
        raise ValueError(f"damaged zlib stream: {e}") from e
    if len(out) > limit:
        raise ValueError(f"zlib stream inflates to more than {limit:,} bytes")
    if not inflater.eof or inflater.unused_data:
        raise ValueError("zlib stream truncated or followed by other bytes")
    return out


def _read_header(data: bytes) -> tuple[dict, dict, int]:
    """(tensor entries, inrcodec header, header length) of a safetensors file's first bytes."""
    n = int.from_bytes(data[:8], "little")
    if len(data) < 8 or not 2 <= n <= min(MAX_HEADER_BYTES, len(data) - 8):
        raise ModelError(f"not an inrcodec model file: a header of {n:,} bytes in a file of "
                         f"{len(data):,} (at most {MAX_HEADER_BYTES:,})")
    try:
        entries = json.loads(data[8:8 + n])
        header = json.loads(entries.pop("__metadata__")["inrcodec"])
    except Exception as e:  # json raises several types for a bad file
        raise ModelError(f"not an inrcodec model file: {e}") from e
    if not isinstance(header, dict):
        raise ModelError("not an inrcodec model file: its header is not a JSON object")
    if header.get("format") not in (FORMAT, FORMAT_WITH_BASIS, FORMAT_LINEAR, FORMAT_POSITIONS):
        raise ModelError(f"unsupported model format {header.get('format')!r:.100}; this "
                         f"inrcodec reads {FORMAT}, {FORMAT_WITH_BASIS}, {FORMAT_LINEAR} and "
                         f"{FORMAT_POSITIONS}: upgrade inrcodec")
    return entries, header, n


def _check_sizes(header: dict, entries: dict) -> int:
    """The bytes of tensors that a file's header declares, once every size in it is within the
    limits and consistent with its architecture."""
    if header["format"] in (FORMAT_LINEAR, FORMAT_POSITIONS):
        return _linear_sizes(header, entries)
    from .nn.network import ModulatedSiren

    arch = header.get("architecture")
    names = ("dim_in", "width", "depth", "latent_dim", "w0")
    if not isinstance(arch, dict) or not set(names[:4]) <= set(arch) <= set(names):
        raise ModelError(f"model architecture {arch!r:.200} is not {', '.join(names)} (a newer "
                         "inrcodec's model? upgrade inrcodec)")
    for name, limit in [("dim_in", MAX_DIMS), ("width", MAX_WIDTH), ("depth", MAX_DEPTH),
                        ("latent_dim", MAX_LATENT_DIM)]:
        value = arch[name]
        if type(value) is not int or not 1 <= value <= limit:
            raise ModelError(f"model {name} {value!r:.50} is not an integer from 1 to {limit}")
    w0 = arch.get("w0", 30.0)
    if type(w0) not in (int, float) or not math.isfinite(w0):
        raise ModelError(f"model w0 {w0!r:.50} is not a finite number")
    patch = header.get("patch_shape")
    if (not isinstance(patch, list) or len(patch) != arch["dim_in"]
            or not all(type(n) is int and n >= 1 for n in patch)):
        raise ModelError(f"model patch shape {patch!r:.100} is not {arch['dim_in']} positive "
                         "integers")
    points = math.prod(patch)
    if points > MAX_PATCH_POINTS or points * arch["width"] > MAX_PATCH_ACTIVATIONS:
        raise ModelError(f"model patches of {points:,} points and width {arch['width']}: at most "
                         f"{MAX_PATCH_POINTS:,} points and {MAX_PATCH_ACTIVATIONS:,} points x width")
    params = {k: v for k, v in arch.items() if k != "w0"}
    latents = (arch["latent_dim"],)
    expected = {f"net.{k}": v for k, v in ModulatedSiren.parameter_shapes(**params).items()}
    expected.update(step_sizes=latents, latent_mean=latents, latent_std=latents)
    optional = {"gate_init": latents, "gate_steps": latents, "latent_basis": latents * 2}
    for name, entry in entries.items():
        shape = expected.get(name, optional.get(name))
        if shape is None:
            raise ModelError(f"model file holds an unknown tensor {name!r:.100}")
        if not isinstance(entry, dict) or entry.get("dtype") != "F32" or entry.get("shape") != list(shape):
            found = (entry.get("dtype"), entry.get("shape")) if isinstance(entry, dict) else entry
            raise ModelError(f"model tensor {name} is {found!r:.100}, but the architecture says "
                             f"F32 {list(shape)}")
    missing = sorted(set(expected) - set(entries))
    if missing:
        raise ModelError(f"incomplete model file: no {', '.join(missing)}")
    return 4 * sum(math.prod(expected.get(name, optional.get(name))) for name in entries)


def _linear_sizes(header: dict, entries: dict) -> int:
    """The bytes of a linear model's tensors, each within the family's limits (linear.py)."""
    try:
        return check_file(header, entries)
    except LinearModelError as e:
        raise ModelError(str(e)) from e


def bundled_with_hash(model_hash: str) -> "Model | LinearModel | None":
    """The model with this hash among every model the package has ever bundled, or None.

    ``inrcodec/models/`` keeps each bundled model's file after a newer one takes its name, so a
    store that names a bundled model by hash (instead of embedding it) opens for good."""
    name = _bundled_hashes().get(model_hash)
    if name is None:
        return None
    model = _load_bundled(name)
    if model.hash != model_hash:
        raise ModelError(f"the bundled file {_bundled_hashes()[model_hash]} says hash "
                         f"{model_hash[:12]} but holds {model.hash[:12]}: reinstall inrcodec")
    return model


def is_bundled(model_hash: str) -> bool:
    """Whether the package bundles (or once bundled) the model of this hash: read from the
    files' headers, nothing loaded."""
    return model_hash in _bundled_hashes()


@functools.cache
def _bundled_hashes() -> dict[str, str]:
    """Each bundled file's name by the hash its header states: a store that names a linear
    model loads that one alone (no SIREN, so no torch); loading checks the hash."""
    folder = resources.files("inrcodec") / "models"
    found = {}
    for f in folder.iterdir():
        if f.name.endswith(".safetensors"):
            with f.open("rb") as opened:
                _, header, _ = _read_header(opened.read(8 + MAX_HEADER_BYTES))
            if isinstance(header.get("hash"), str):  # every bundled file says its hash
                found[header["hash"]] = f.name
    return found


@functools.cache
def _load_bundled(name: str) -> "Model | LinearModel":
    return Model.from_bytes((resources.files("inrcodec") / "models" / name).read_bytes())


def bundled_path(name: str) -> Path:
    if name not in BUNDLED:
        raise ModelError(f"no bundled model named {name!r}; bundled: {sorted(BUNDLED)}")
    return Path(str(resources.files("inrcodec") / "models" / BUNDLED[name]))


def is_model(obj) -> bool:
    return isinstance(obj, Model | LinearModel)


def resolve(model: "Model | str | Path") -> "Model":
    """A model from a model (a SIREN or a linear one), a bundled model's name, or a path to a
    model file."""
    if is_model(model):
        return model
    if isinstance(model, str) and model in BUNDLED:
        return Model.load(bundled_path(model))
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"model {str(model)!r} is neither a bundled model "
                         f"({', '.join(sorted(BUNDLED))}) nor a file")
    return Model.load(path)
