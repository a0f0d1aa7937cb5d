"""The bitstream's toolbox: LEB128 varints, a bounds-checked reader, and the error for bad bytes.

Every coder (latents, masks, residuals) and the chunk layout itself use these, so they live
below all of them: nothing here imports from the rest of the package.
"""


class ContainerError(ValueError):
    """Bytes that are not a valid inrcodec chunk (corrupted, truncated or foreign)."""


def svarint(n: int) -> bytes:
    """A signed integer as a zigzag-mapped varint."""
    return varint(2 * n if n >= 0 else -2 * n - 1)


def varint(n: int) -> bytes:
    """A non-negative integer as LEB128."""
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


class Reader:
    """Reads fields off a byte string, refusing to run past its end."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ContainerError("truncated inrcodec chunk")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def byte(self) -> int:
        return self.take(1)[0]

    def varint(self) -> int:
        value = 0
        for shift in range(0, 70, 7):
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
        raise ContainerError("corrupted inrcodec chunk: overlong integer")

    def svarint(self) -> int:
        n = self.varint()
        return n // 2 if n % 2 == 0 else -(n + 1) // 2

    def rest(self) -> bytes:
        return self.data[self.pos:]
