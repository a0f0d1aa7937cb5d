"""Every kind of chunk, described once: whether it needs the model, whether it carries a bound,
what its section holds, which function decodes it and how reports name it. The container
(container.py), the decoders (``core.decode``), the compress report and ``inrcodec info``
all read this table; adding a kind is a row here, its decoder, and fixtures (CONTRIBUTING.md).

A kind's number is part of the bitstream (container.py says where its bits go): never reuse one.
"""

import enum
import importlib
from dataclasses import dataclass
from functools import cache


class Kind(enum.IntEnum):
    LATENTS = 0
    CONSTANT = 1
    EMPTY = 2
    BOUNDED = 3
    RAW = 4
    SPATIAL = 5
    BOUNDED_SPATIAL = 6
    RELATIVE = 7
    WAVELET = 8
    LATENTS_WAVELET = 9

    @property
    def spec(self) -> "KindSpec":
        return KINDS[self]

    @property
    def uses_model(self) -> bool:
        return KINDS[self].uses_model

    @property
    def has_bound(self) -> bool:
        return KINDS[self].bound is not None


@dataclass(frozen=True)
class KindSpec:
    legend: str  # what a chunk of this kind is, for reports
    uses_model: bool = False  # it holds latents, decoded through the model (checksummed with it)
    bound: str | None = None  # the float64 bound it carries: "absolute" or "pointwise fraction"
    section: str | None = None  # what its section holds (after the latents, where it has both)
    decoder: str | None = None  # "module:function" reading (container, model, finite) -> values;
    # None: core.py stores and reads it without a mode

    def decode(self):
        """The decoding function (imported on first use: the classic kinds never import torch)."""
        return _resolve(self.decoder)


KINDS = {
    Kind.LATENTS: KindSpec("the network's reconstruction", uses_model=True,
                           decoder="inrcodec.sections.network:decode"),
    Kind.CONSTANT: KindSpec("one value repeated"),
    Kind.EMPTY: KindSpec("every value missing"),
    Kind.BOUNDED: KindSpec("the network plus its residual, value by value, within a bound",
                           uses_model=True, bound="absolute", section="residual symbols",
                           decoder="inrcodec.sections.bounds:decode"),
    Kind.RAW: KindSpec("the values themselves", section="values"),
    Kind.SPATIAL: KindSpec("spatial prediction within a bound", bound="absolute",
                           section="interpolation", decoder="inrcodec.sections.bounds:decode_spatial"),
    Kind.BOUNDED_SPATIAL: KindSpec("the network plus its spatially predicted residual, within a "
                                   "bound", uses_model=True, bound="absolute",
                                   section="interpolation", decoder="inrcodec.sections.bounds:decode"),
    Kind.RELATIVE: KindSpec("spatial prediction of log magnitudes, within a pointwise relative "
                            "bound", bound="pointwise fraction", section="relative interpolation",
                            decoder="inrcodec.sections.relative:decode"),
    Kind.WAVELET: KindSpec("the wavelet coder", section="wavelet",
                           decoder="inrcodec.sections.transform:decode"),
    Kind.LATENTS_WAVELET: KindSpec("the network plus its residual by the wavelet coder",
                                   uses_model=True, section="wavelet",
                                   decoder="inrcodec.sections.transform:decode_residual"),
}
LAST_KIND = max(Kind)  # the highest kind number a reader knows (made once: readers ask per chunk)
NETWORK_KINDS = tuple(k.name for k in Kind if k.uses_model)  # the names reports count as "by the network"


@cache
def _resolve(path: str):
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)
