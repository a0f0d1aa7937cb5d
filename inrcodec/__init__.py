"""inrcodec: lossy compression of scientific arrays with meta-learned neural representations."""

# Only what opening a store needs is imported here: torch (about 1.4 s) waits for the first
# encode or decode.
from .codecs.numcodecs import INRCodec
from .coding.container import ContainerError, ModelMismatchError

__all__ = ["INRCodec", "INRSerializer", "Model", "ModelError", "ContainerError",
           "ModelMismatchError"]
__version__ = "0.1.0"


def __getattr__(name):
    if name in ("Model", "ModelError"):
        from . import model

        return getattr(model, name)
    if name == "INRSerializer":  # needs zarr (the "zarr" extra); numcodecs users may lack it
        try:
            from .codecs.zarr3 import INRSerializer
        except ImportError as e:
            raise ImportError(f"INRSerializer needs zarr 3 ({e}): pip install 'inrcodec[zarr]'") from e
        return INRSerializer
    raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")
