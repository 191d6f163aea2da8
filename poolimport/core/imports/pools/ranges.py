"""RouterOS IP pool ranges: parsing, counting and streaming expansion.

Addresses are plain ints everywhere (IPv4: 0 .. 2**32-1, IPv6: 0 .. 2**128-1); the hot paths (iteration,
batching, IPv4 formatting and parsing) never touch the slow ``ipaddress`` module.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from poolimport.core.errors import PoolimportError

__all__ = [
    "Ipv4Ranges",
    "Ipv6Pool",
    "RangeError",
    "ipv4_from_str",
    "ipv4_to_str",
    "ipv6_from_str",
    "ipv6_prefix_to_str",
    "parse_ipv4_ranges",
    "parse_ipv6_pool",
    "sort_key",
    "sort_key_to_int",
]

IPV4_MAX = (1 << 32) - 1
IPV6_MAX = (1 << 128) - 1
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")


class RangeError(PoolimportError, ValueError):
    """Malformed pool range; ``.token`` is the offending token and ``str(err)`` names it.

    Example: ``bad address '10.0.0.300' in '10.0.0.1-10.0.0.300'``.
    """

    token: str

    def __init__(self, message: str, token: str) -> None:
        super().__init__(message, token)  # both in args, so the error pickles and unpickles intact
        self.token = token

    def __str__(self) -> str:
        return str(self.args[0])


def _error(what: str, token: str, text: str | None = None) -> RangeError:
    message = f"{what} {token!r}"
    if text is not None and text != token:
        message += f" in {text!r}"
    return RangeError(message, token)


def _decimal(text: str, maximum: int) -> int | None:
    """A canonical non-negative decimal (ASCII digits, no leading zeros) <= maximum, else None."""
    if not text or not _DIGITS.issuperset(text) or (len(text) > 1 and text[0] == "0") or len(text) > 3:
        return None
    value = int(text)
    return value if value <= maximum else None


# ---------------------------------------------------------------------------------------------------------
# IPv4 addresses


def _make_ipv4_to_str() -> Callable[[int], str]:
    # A table of the 65,536 "a.b" halves (~4 MB, ~25 ms at import) makes formatting ~3x faster than
    # four shifts and masks; a closure cell is the fastest lookup that keeps the public signature exact.
    halves = [f"{high}.{low}" for high in range(256) for low in range(256)]

    def ipv4_to_str(value: int) -> str:
        """Dotted quad of an IPv4 address int, e.g. 167772161 -> "10.0.0.1"."""
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"not an IPv4 address int: {value}")
        return f"{halves[value >> 16]}.{halves[value & 0xFFFF]}"

    return ipv4_to_str


ipv4_to_str = _make_ipv4_to_str()


# Every canonical octet's text: the lookup is the whole check (ASCII digits, no leading zero, 0-255) and
# several times faster than checking and converting, which counts with 65,000 used entries per pool.
_OCTET = {str(octet): octet for octet in range(256)}.__getitem__


def _ipv4_or_none(text: str) -> int | None:
    parts = text.split(".")
    if len(parts) != 4:
        return None
    try:
        a, b, c, d = map(_OCTET, parts)
    except KeyError:
        return None
    return a << 24 | b << 16 | c << 8 | d


def ipv4_from_str(text: str) -> int:
    """Strict dotted-quad parse: four decimal octets 0-255, no leading zeros, no whitespace."""
    value = _ipv4_or_none(text)
    if value is None:
        raise _bad_ipv4(text, None)
    return value


def _bad_ipv4(token: str, text: str | None) -> RangeError:
    if ":" in token:
        error = _error("bad address", token, text)
        return RangeError(f"{error} (IPv6 address in an IPv4 pool)", token)
    return _error("bad address", token, text)


# ---------------------------------------------------------------------------------------------------------
# IPv4 ranges


@dataclass(frozen=True)
class Ipv4Ranges:
    """A set of IPv4 addresses as sorted, merged, inclusive (start, end) int intervals.

    Overlapping and adjacent intervals are merged; the constructor normalizes whatever it is given.
    """

    intervals: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", _merge(self.intervals))

    def count(self) -> int:
        """Number of addresses; never expands."""
        return sum(end - start + 1 for start, end in self.intervals)

    def __iter__(self) -> Iterator[int]:
        """Every address, ascending, streaming."""
        for start, end in self.intervals:
            yield from range(start, end + 1)

    def iter_batches(self, size: int) -> Iterator[list[int]]:
        """Every address, ascending, in lists of ``size`` (the last may be shorter), spanning intervals."""
        if size < 1:
            raise ValueError(f"batch size must be positive, got {size}")
        batch: list[int] = []
        for start, end in self.intervals:
            current = start
            stop = end + 1
            while current < stop:
                take = min(size - len(batch), stop - current)
                if batch:
                    batch.extend(range(current, current + take))
                else:
                    batch = list(range(current, current + take))
                current += take
                if len(batch) == size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, int):
            return False
        index = bisect_right(self.intervals, (address, IPV4_MAX + 1)) - 1
        return index >= 0 and address <= self.intervals[index][1]


def _merge(intervals: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if not 0 <= start <= end <= IPV4_MAX:
            raise ValueError(f"not an IPv4 interval: ({start}, {end})")
        if merged and start <= merged[-1][1] + 1:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)


def _parse_ipv4_part(part: str, text: str) -> tuple[int, int]:
    if "-" in part:
        pieces = part.split("-")
        if len(pieces) != 2:
            raise _error("bad range", part, text)
        first, last = pieces[0].strip(), pieces[1].strip()
        start, end = _ipv4_or_none(first), _ipv4_or_none(last)
        if start is None:
            raise _bad_ipv4(first, text)
        if end is None:
            raise _bad_ipv4(last, text)
        if start > end:
            raise _error("reversed range", part, text)
        return start, end
    if "/" in part:
        address_text, _, length_text = part.partition("/")
        address_text, length_text = address_text.strip(), length_text.strip()
        address = _ipv4_or_none(address_text)
        if address is None:
            raise _bad_ipv4(address_text, text)
        length = _decimal(length_text, 32)
        if length is None:
            raise _error("bad prefix length", f"/{length_text}", text)
        size = 1 << (32 - length)
        network = address & ~(size - 1)  # host bits set: use the containing network, as RouterOS does
        return network, network + size - 1
    address = _ipv4_or_none(part)
    if address is None:
        raise _bad_ipv4(part, text)
    return address, address


def parse_ipv4_ranges(text: str) -> Ipv4Ranges:
    """Parse a RouterOS ``/ip/pool`` ``ranges`` value: comma-separated ``a-b``, ``a`` or ``a/n`` parts."""
    if not text.strip():
        raise _error("empty ranges", text)
    intervals = []
    for raw in text.split(","):
        part = raw.strip()
        if not part:
            raise _error("empty part", part, text)
        intervals.append(_parse_ipv4_part(part, text))
    return Ipv4Ranges(_merge(intervals))


# ---------------------------------------------------------------------------------------------------------
# IPv6


def _ipv6_address(token: str, text: str | None) -> int:
    if "%" in token or not token or token != token.strip():
        raise _error("bad IPv6 address", token, text)
    try:
        return int(ipaddress.IPv6Address(token))
    except ValueError:
        raise _error("bad IPv6 address", token, text) from None


def ipv6_from_str(text: str) -> int:
    """``2001:db8::5`` -> its int; ``2001:db8::/64`` -> the network int (host bits cleared)."""
    address_text, slash, length_text = text.partition("/")
    address = _ipv6_address(address_text, text)
    if not slash:
        return address
    length = _decimal(length_text, 128)
    if length is None:
        raise _error("bad prefix length", f"/{length_text}", text)
    return address & ~((1 << (128 - length)) - 1) & IPV6_MAX


def ipv6_prefix_to_str(network: int, prefix_length: int) -> str:
    """RFC 5952 text: ``2001:db8:0:1::/64``; for a /128 just the address, ``2001:db8::5``."""
    if not 0 <= network <= IPV6_MAX or not 0 <= prefix_length <= 128:
        raise ValueError(f"not an IPv6 prefix: {network}/{prefix_length}")
    groups = [(network >> shift) & 0xFFFF for shift in range(112, -1, -16)]
    best_start, best_len, run_start = -1, 1, -1  # only runs of two or more zero groups are compressed
    for index, group in enumerate(groups + [1]):
        if group == 0:
            if run_start < 0:
                run_start = index
        elif run_start >= 0:
            if index - run_start > best_len:
                best_start, best_len = run_start, index - run_start
            run_start = -1
    if best_start >= 0:
        head = ":".join(f"{g:x}" for g in groups[:best_start])
        tail = ":".join(f"{g:x}" for g in groups[best_start + best_len :])
        address = f"{head}::{tail}"
    else:
        address = ":".join(f"{g:x}" for g in groups)
    return address if prefix_length == 128 else f"{address}/{prefix_length}"


@dataclass(frozen=True)
class Ipv6Pool:
    """A RouterOS IPv6 pool: ``network/prefix`` handed out as ``prefix_length``-sized prefixes."""

    network: int
    prefix: int
    prefix_length: int

    def __post_init__(self) -> None:
        if not 0 <= self.prefix <= self.prefix_length <= 128:
            raise ValueError(f"bad IPv6 pool: prefix {self.prefix}, prefix-length {self.prefix_length}")
        if not 0 <= self.network <= IPV6_MAX or self.network & ((1 << (128 - self.prefix)) - 1):
            raise ValueError(f"not an IPv6 network for /{self.prefix}: {self.network}")

    @property
    def _step(self) -> int:
        return 1 << (128 - self.prefix_length)

    def count(self) -> int:
        """Number of delegated prefixes: 2 ** (prefix_length - prefix)."""
        return 1 << (self.prefix_length - self.prefix)

    def __iter__(self) -> Iterator[int]:
        """Network int of each delegated prefix, ascending, streaming."""
        step = self._step
        return iter(range(self.network, self.network + self.count() * step, step))

    def iter_batches(self, size: int) -> Iterator[list[int]]:
        if size < 1:
            raise ValueError(f"batch size must be positive, got {size}")
        step, total = self._step, self.count()
        for first in range(0, total, size):
            last = min(first + size, total)
            yield list(range(self.network + first * step, self.network + last * step, step))

    def __contains__(self, network: object) -> bool:
        """True for the network int of one of the pool's delegated prefixes (aligned, inside the prefix)."""
        if not isinstance(network, int):
            return False
        offset = network - self.network
        return 0 <= offset < (1 << (128 - self.prefix)) and offset & (self._step - 1) == 0


def parse_ipv6_pool(prefix: str, prefix_length: str | int) -> Ipv6Pool:
    """Parse RouterOS ``/ipv6/pool`` ``prefix`` (``2001:db8::/48``) and ``prefix-length`` (``64``)."""
    text = prefix.strip()
    address_text, slash, length_text = text.partition("/")
    if not slash:
        raise _error("missing prefix length in IPv6 prefix", prefix)
    address = _ipv6_address(address_text.strip(), prefix)
    length = _decimal(length_text.strip(), 128)
    if length is None:
        raise _error("bad prefix length", f"/{length_text.strip()}", prefix)
    if isinstance(prefix_length, bool):
        raise _error("bad prefix-length", str(prefix_length))
    if isinstance(prefix_length, int):
        delegated: int | None = prefix_length if 0 <= prefix_length <= 128 else None
        token = str(prefix_length)
    else:
        token = prefix_length.strip()
        delegated = _decimal(token, 128)
    if delegated is None:
        raise _error("bad prefix-length", token)
    if delegated < length:
        raise RangeError(f"prefix-length {token!r} is shorter than the prefix {prefix.strip()!r}", token)
    network = address & ~((1 << (128 - length)) - 1) & IPV6_MAX  # host bits set: use the containing network
    return Ipv6Pool(network=network, prefix=length, prefix_length=delegated)


# ---------------------------------------------------------------------------------------------------------
# Sort keys


def sort_key(family: int, value: int) -> str:
    """Zero-padded lowercase hex (8 chars for IPv4, 32 for IPv6): sorts numerically as text."""
    if family == 4:
        if not 0 <= value <= IPV4_MAX:
            raise ValueError(f"not an IPv4 address int: {value}")
        return f"{value:08x}"
    if family == 6:
        if not 0 <= value <= IPV6_MAX:
            raise ValueError(f"not an IPv6 address int: {value}")
        return f"{value:032x}"
    raise ValueError(f"unknown address family: {family}")


def sort_key_to_int(key: str) -> int:
    """Inverse of sort_key (either family)."""
    if len(key) not in (8, 32) or not _HEX.issuperset(key):
        raise ValueError(f"not a sort key: {key!r}")
    return int(key, 16)
