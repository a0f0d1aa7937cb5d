"""inrcodec: lossy compression of scientific arrays with meta-learned neural representations."""

from .codecs.numcodecs import INRCodec
from .coding.container import ContainerError, ModelMismatchError
from .model import Model, ModelError

__all__ = ["INRCodec", "Model", "ModelError", "ContainerError", "ModelMismatchError"]
__version__ = "0.1.0"
