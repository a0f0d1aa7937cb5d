"""inrcodec: lossy compression of scientific arrays with meta-learned neural representations."""

from .codecs.numcodecs import INRCodec
from .coding.container import ContainerError, ModelMismatchError
from .model import Model, ModelError

__all__ = ["INRCodec", "INRSerializer", "Model", "ModelError", "ContainerError",
           "ModelMismatchError"]
__version__ = "0.1.0"


def __getattr__(name):
    if name == "INRSerializer":  # needs zarr (the "zarr" extra); numcodecs users may lack it
        try:
            from .codecs.zarr3 import INRSerializer
        except ImportError as e:
            raise ImportError(f"INRSerializer needs zarr 3 ({e}): pip install 'inrcodec[zarr]'") from e
        return INRSerializer
    raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")
