"""RouterOS API wire format: length-prefixed words grouped into zero-terminated sentences.

Lengths use a variable-size big-endian prefix whose leading bits say how many bytes follow:

    0x00000000-0x0000007F  1 byte   0xxxxxxx
    0x00000080-0x00003FFF  2 bytes  10xxxxxx ...
    0x00004000-0x001FFFFF  3 bytes  110xxxxx ...
    0x00200000-0x0FFFFFFF  4 bytes  1110xxxx ...
    0x10000000-0xFFFFFFFF  5 bytes  0xF0 followed by the length as 4 bytes

A first byte >= 0xF8 is a reserved control byte; 0xF1-0xF7 are unassigned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

MAX_LENGTH = 0xFFFFFFFF


class WireError(ValueError):
    """The byte stream is not valid RouterOS API framing."""


def encode_length(length: int) -> bytes:
    if length < 0 or length > MAX_LENGTH:
        raise WireError(f"word length {length} out of range 0..{MAX_LENGTH:#x}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def extra_length_bytes(first: int) -> int:
    """How many more prefix bytes follow a length prefix starting with `first`."""
    if first < 0x80:
        return 0
    if first < 0xC0:
        return 1
    if first < 0xE0:
        return 2
    if first < 0xF0:
        return 3
    if first == 0xF0:
        return 4
    raise WireError(f"reserved or unknown control byte {first:#04x} in length prefix")


def decode_length(prefix: bytes) -> int:
    """Decode a complete length prefix (1-5 bytes, as produced by `encode_length`)."""
    if not prefix:
        raise WireError("empty length prefix")
    first = prefix[0]
    size = 1 + extra_length_bytes(first)
    if len(prefix) != size:
        raise WireError(f"length prefix starting {first:#04x} needs {size} bytes, got {len(prefix)}")
    if size == 5:
        return int.from_bytes(prefix[1:], "big")
    masks = {1: 0x7F, 2: 0x3FFF, 3: 0x1FFFFF, 4: 0xFFFFFFF}
    return int.from_bytes(prefix, "big") & masks[size]


def encode_word(word: str | bytes, encoding: str = "utf-8") -> bytes:
    # Words the sim cannot represent in the configured encoding become "?" rather than killing
    # the session: the point of a non-utf-8 encoding is to produce odd bytes, not to crash.
    data = word if isinstance(word, bytes) else word.encode(encoding, errors="replace")
    return encode_length(len(data)) + data


def encode_sentence(words: Iterable[str | bytes], encoding: str = "utf-8") -> bytes:
    return b"".join(encode_word(word, encoding) for word in words) + b"\x00"


def read_word(read: Callable[[int], bytes], max_length: int = MAX_LENGTH) -> bytes:
    """Read one word using `read(n)`, which must return exactly n bytes or raise."""
    prefix = read(1)
    extra = extra_length_bytes(prefix[0])
    if extra:
        prefix += read(extra)
    length = decode_length(prefix)
    if length > max_length:
        raise WireError(f"word of {length} bytes exceeds limit of {max_length}")
    return read(length) if length else b""


def read_sentence(read: Callable[[int], bytes], max_length: int = MAX_LENGTH) -> list[bytes]:
    """Read words up to the zero-length terminator; the terminator is not returned."""
    words: list[bytes] = []
    while word := read_word(read, max_length):
        words.append(word)
    return words


def split_sentences(data: bytes) -> list[list[bytes]]:
    """Decode a complete byte string into sentences (handy for tests and debugging)."""
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(data):
            raise WireError("truncated data")
        chunk = data[pos : pos + n]
        pos += n
        return chunk

    sentences = []
    while pos < len(data):
        sentences.append(read_sentence(read))
    return sentences
