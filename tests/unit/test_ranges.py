"""core.imports.pools.ranges: property tests against the stdlib ``ipaddress`` module, plus explicit cases."""

from __future__ import annotations

import ipaddress
import pickle

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from poolimport.core.imports.pools.ranges import (
    Ipv4Ranges,
    Ipv6Pool,
    RangeError,
    ipv4_from_str,
    ipv4_to_str,
    ipv6_from_str,
    ipv6_prefix_to_str,
    parse_ipv4_ranges,
    parse_ipv6_pool,
    sort_key,
    sort_key_to_int,
)

IPV4_MAX = 2**32 - 1
IPV6_MAX = 2**128 - 1
WINDOW = 1200  # parts are drawn near one base address so overlaps and adjacency are common


def _v4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


# ---------------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def ipv4_parts(draw: st.DrawFn) -> tuple[list[str], set[int]]:
    """A list of RouterOS range parts (text) and the set of addresses they cover, computed with ipaddress."""
    base = draw(
        st.one_of(
            st.just(0),
            st.just(IPV4_MAX - WINDOW),
            st.integers(0, IPV4_MAX - WINDOW),
        )
    )
    parts: list[str] = []
    expected: set[int] = set()
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["range", "single", "cidr"]))
        ws = draw(st.sampled_from(["", " ", "  "]))
        if kind == "range":
            start = base + draw(st.integers(0, WINDOW))
            end = min(base + WINDOW, start + draw(st.integers(0, 300)))
            a, b = ipaddress.IPv4Address(start), ipaddress.IPv4Address(end)
            for network in ipaddress.summarize_address_range(a, b):
                expected.update(int(x) for x in network)
            parts.append(f"{ws}{a}{ws}-{ws}{b}{ws}")
        elif kind == "single":
            address = base + draw(st.integers(0, WINDOW))
            expected.add(address)
            parts.append(f"{ws}{_v4(address)}{ws}")
        else:
            length = draw(st.integers(23, 32))
            address = base + draw(st.integers(0, WINDOW))
            network = ipaddress.IPv4Network((address, length), strict=False)  # host bits allowed
            expected.update(int(x) for x in network)
            parts.append(f"{ws}{_v4(address)}/{length}{ws}")
    return parts, expected


def _intervals_ok(ranges: Ipv4Ranges) -> None:
    previous_end = -2
    for start, end in ranges.intervals:
        assert isinstance(start, int) and isinstance(end, int)
        assert start <= end
        assert start > previous_end + 1  # sorted, and neither overlapping nor adjacent
        previous_end = end


# ---------------------------------------------------------------------------------------------------------
# IPv4 ranges: properties


@settings(max_examples=150, deadline=None)
@given(ipv4_parts())
def test_ipv4_ranges_match_ipaddress(data: tuple[list[str], set[int]]) -> None:
    parts, expected = data
    ranges = parse_ipv4_ranges(",".join(parts))
    _intervals_ok(ranges)
    assert ranges.count() == len(expected)
    assert list(ranges) == sorted(expected)


@settings(max_examples=100, deadline=None)
@given(ipv4_parts(), st.integers(1, 700))
def test_ipv4_batches_concatenate_to_iteration(data: tuple[list[str], set[int]], size: int) -> None:
    ranges = parse_ipv4_ranges(",".join(data[0]))
    batches = list(ranges.iter_batches(size))
    assert all(1 <= len(batch) <= size for batch in batches)
    assert all(len(batch) == size for batch in batches[:-1])  # batches are filled across intervals
    assert [a for batch in batches for a in batch] == list(ranges)


@settings(max_examples=100, deadline=None)
@given(ipv4_parts(), st.lists(st.integers(-5, WINDOW + 5), max_size=30))
def test_ipv4_contains_agrees(data: tuple[list[str], set[int]], offsets: list[int]) -> None:
    parts, expected = data
    ranges = parse_ipv4_ranges(",".join(parts))
    probes = set()
    for start, end in ranges.intervals:
        probes.update({start - 1, start, end, end + 1})
    low = min(expected)
    probes.update(low + offset for offset in offsets)
    for probe in probes:
        assert (probe in ranges) == (probe in expected), probe


@settings(max_examples=50, deadline=None)
@given(ipv4_parts())
def test_ipv4_parse_is_order_independent(data: tuple[list[str], set[int]]) -> None:
    parts = data[0]
    assert parse_ipv4_ranges(",".join(parts)) == parse_ipv4_ranges(",".join(reversed(parts)))


def test_constructor_normalizes() -> None:
    ranges = Ipv4Ranges(((10, 20), (0, 4), (5, 7), (15, 30), (40, 40)))
    assert ranges.intervals == ((0, 7), (10, 30), (40, 40))
    assert ranges.count() == 8 + 21 + 1
    with pytest.raises(ValueError):
        Ipv4Ranges(((5, 4),))
    with pytest.raises(ValueError):
        Ipv4Ranges(((0, IPV4_MAX + 1),))


# ---------------------------------------------------------------------------------------------------------
# IPv4 addresses


@given(st.integers(0, IPV4_MAX))
def test_ipv4_str_round_trip(value: int) -> None:
    text = ipv4_to_str(value)
    assert text == str(ipaddress.IPv4Address(value))
    assert ipv4_from_str(text) == value
    assert ipv4_from_str(str(ipaddress.IPv4Address(value))) == value


@pytest.mark.parametrize("value", [0, 1, 255, 256, 65535, 65536, 0x0A000001, 0x7FFFFFFF, IPV4_MAX])
def test_ipv4_str_edges(value: int) -> None:
    assert ipv4_to_str(value) == str(ipaddress.IPv4Address(value))
    assert ipv4_from_str(ipv4_to_str(value)) == value


@pytest.mark.parametrize("value", [-1, IPV4_MAX + 1])
def test_ipv4_to_str_rejects_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        ipv4_to_str(value)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789.: -/a", max_size=18))
def test_ipv4_from_str_accepts_exactly_what_ipaddress_accepts(text: str) -> None:
    try:
        expected: int | None = int(ipaddress.IPv4Address(text))
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(RangeError):
            ipv4_from_str(text)
    else:
        assert ipv4_from_str(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.2.3",
        "1.2.3.4.5",
        "010.0.0.1",
        "1.2.3.256",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1..3.4",
        "+1.2.3.4",
        "١.2.3.4",
    ],
)
def test_ipv4_from_str_strict(text: str) -> None:
    with pytest.raises(RangeError) as info:
        ipv4_from_str(text)
    assert info.value.token == text
    assert repr(text) in str(info.value)


# ---------------------------------------------------------------------------------------------------------
# IPv4 ranges: explicit cases


def test_cgnat_slash16_without_edges() -> None:
    ranges = parse_ipv4_ranges("100.64.0.2-100.64.255.254")
    assert ranges.count() == 65_533
    assert ranges.intervals == ((ipv4_from_str("100.64.0.2"), ipv4_from_str("100.64.255.254")),)
    assert ipv4_from_str("100.64.0.1") not in ranges
    assert ipv4_from_str("100.64.0.2") in ranges
    assert ipv4_from_str("100.64.255.254") in ranges
    assert ipv4_from_str("100.64.255.255") not in ranges


def test_two_ranges() -> None:
    ranges = parse_ipv4_ranges("10.0.0.10-10.0.0.19,10.0.1.0-10.0.1.4")
    assert ranges.count() == 15
    assert [ipv4_to_str(a) for a in ranges][:2] == ["10.0.0.10", "10.0.0.11"]
    assert [ipv4_to_str(a) for a in ranges][-1] == "10.0.1.4"


def test_two_slash24s_count_512() -> None:
    ranges = parse_ipv4_ranges("192.168.1.0/24,192.168.7.0/24")
    assert ranges.count() == 512
    assert len(ranges.intervals) == 2
    first = list(ranges)
    assert ipv4_to_str(first[0]) == "192.168.1.0"  # network and broadcast are handed out too
    assert ipv4_to_str(first[255]) == "192.168.1.255"
    assert ipv4_to_str(first[-1]) == "192.168.7.255"


def test_adjacent_and_overlapping_merge() -> None:
    assert parse_ipv4_ranges("10.0.0.0/25,10.0.0.128/25").intervals == (
        (ipv4_from_str("10.0.0.0"), ipv4_from_str("10.0.0.255")),
    )
    overlapping = parse_ipv4_ranges("10.0.0.1-10.0.0.100, 10.0.0.50-10.0.0.150, 10.0.0.7")
    assert overlapping.count() == 150
    assert len(overlapping.intervals) == 1


def test_host_bits_use_containing_network() -> None:
    assert parse_ipv4_ranges("10.0.0.5/24") == parse_ipv4_ranges("10.0.0.0-10.0.0.255")


def test_whitespace_tolerated() -> None:
    assert parse_ipv4_ranges(" 10.0.0.1 - 10.0.0.5 ,  10.0.0.9 ").count() == 6
    assert parse_ipv4_ranges("10.0.0.0 / 30").count() == 4


def test_whole_space_and_slash8_are_counted_without_expanding() -> None:
    assert parse_ipv4_ranges("10.0.0.0/8").count() == 2**24
    everything = parse_ipv4_ranges("0.0.0.0/0")
    assert everything.count() == 2**32
    assert 0 in everything and IPV4_MAX in everything
    first = next(everything.iter_batches(3))
    assert first == [0, 1, 2]


def test_single_address_edges() -> None:
    ranges = parse_ipv4_ranges("0.0.0.0,255.255.255.255")
    assert list(ranges) == [0, IPV4_MAX]
    assert list(ranges.iter_batches(1)) == [[0], [IPV4_MAX]]


def test_iteration_streams() -> None:
    iterator = iter(parse_ipv4_ranges("0.0.0.0/0"))  # 2**32 addresses: a list would never finish
    assert [next(iterator) for _ in range(3)] == [0, 1, 2]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        next(parse_ipv4_ranges("10.0.0.1").iter_batches(0))


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("10.0.0.1-10.0.0.300", "10.0.0.300"),
        ("10.0.0.9-10.0.0.1", "10.0.0.9-10.0.0.1"),
        ("abc", "abc"),
        ("10.0.0.1,,10.0.0.2", ""),
        ("10.0.0.1,", ""),
        ("", ""),
        ("   ", "   "),
        ("10.0.0.0/33", "/33"),
        ("10.0.0.0/", "/"),
        ("10.0.0.0/x", "/x"),
        ("010.0.0.1", "010.0.0.1"),
        ("10.0.0.1-010.0.0.9", "010.0.0.9"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:db8::1-2001:db8::9", "2001:db8::1"),
        ("10.0.0.1-10.0.0.2-10.0.0.3", "10.0.0.1-10.0.0.2-10.0.0.3"),
        ("10.0.0.1-", ""),
        ("10.0.0.0/24,10.0.1.999", "10.0.1.999"),
    ],
)
def test_malformed_ranges_name_the_token(text: str, token: str) -> None:
    with pytest.raises(RangeError) as info:
        parse_ipv4_ranges(text)
    assert info.value.token == token
    assert repr(token) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_error_message_format() -> None:
    with pytest.raises(RangeError) as info:
        parse_ipv4_ranges("10.0.0.1-10.0.0.300")
    assert str(info.value) == "bad address '10.0.0.300' in '10.0.0.1-10.0.0.300'"
    with pytest.raises(RangeError) as info:
        parse_ipv4_ranges("10.0.0.1,,10.0.0.2")
    assert "empty" in str(info.value) and "'10.0.0.1,,10.0.0.2'" in str(info.value)
    with pytest.raises(RangeError) as info:
        parse_ipv4_ranges("2001:db8::1")
    assert "IPv6" in str(info.value)


def test_range_error_pickles() -> None:
    error = RangeError("bad address 'x'", "x")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.token == "x" and str(copy) == "bad address 'x'"


# ---------------------------------------------------------------------------------------------------------
# IPv6


@st.composite
def ipv6_ints(draw: st.DrawFn) -> int:
    """128-bit ints with plenty of zero groups (so '::' compression is exercised)."""
    groups = draw(st.lists(st.one_of(st.just(0), st.integers(0, 0xFFFF)), min_size=8, max_size=8))
    value = 0
    for group in groups:
        value = (value << 16) | group
    return value


@settings(max_examples=150, deadline=None)
@given(ipv6_ints(), st.integers(0, 128), st.integers(0, 8))
def test_ipv6_pool_matches_ipaddress_subnets(address: int, prefix: int, extra: int) -> None:
    prefix_length = min(128, prefix + extra)
    network = ipaddress.IPv6Network((address, prefix), strict=False)
    pool = parse_ipv6_pool(f"{network}", str(prefix_length))
    expected = [int(n.network_address) for n in network.subnets(new_prefix=prefix_length)]
    assert pool.network == int(network.network_address)
    assert (pool.prefix, pool.prefix_length) == (prefix, prefix_length)
    assert pool.count() == len(expected) == 2 ** (prefix_length - prefix)
    assert list(pool) == expected
    for size in (1, 3, 64):
        batches = list(pool.iter_batches(size))
        assert all(1 <= len(batch) <= size for batch in batches)
        assert [n for batch in batches for n in batch] == expected
    for n in expected[:3] + expected[-3:]:
        assert n in pool
        text = ipv6_prefix_to_str(n, prefix_length)
        assert ipv6_from_str(text) == n


@settings(max_examples=300)
@given(ipv6_ints(), st.integers(0, 128))
def test_ipv6_prefix_to_str_matches_ipaddress(address: int, length: int) -> None:
    network = int(ipaddress.IPv6Network((address, length), strict=False).network_address)
    text = ipv6_prefix_to_str(network, length)
    assume(ipaddress.IPv6Address(network).ipv4_mapped is None)  # its text form changed in Python 3.13
    if length == 128:
        assert text == str(ipaddress.IPv6Address(network))
        assert "/" not in text
    else:
        assert text == str(ipaddress.IPv6Network((network, length)))
    assert ipv6_from_str(text) == network


@given(ipv6_ints(), st.integers(0, 128))
def test_ipv6_from_str_clears_host_bits(address: int, length: int) -> None:
    text = f"{ipaddress.IPv6Address(address)}/{length}"
    expected = int(ipaddress.IPv6Network(text, strict=False).network_address)
    assert ipv6_from_str(text) == expected
    assert ipv6_from_str(str(ipaddress.IPv6Address(address))) == address


def test_ipv6_slash48_by_64() -> None:
    pool = parse_ipv6_pool("2001:db8::/48", "64")
    assert pool.count() == 65_536
    first = next(pool.iter_batches(2))
    assert [ipv6_prefix_to_str(n, 64) for n in first] == ["2001:db8::/64", "2001:db8:0:1::/64"]
    assert ipv6_prefix_to_str(list(pool)[-1], 64) == "2001:db8:0:ffff::/64"
    assert ipv6_from_str("2001:db8:0:1::/64") in pool
    assert ipv6_from_str("2001:db8:0:1::5") not in pool  # not a delegated prefix's network
    assert ipv6_from_str("2001:db9::/64") not in pool


def test_ipv6_prefix_length_128_yields_addresses() -> None:
    pool = parse_ipv6_pool("2001:db8::/126", 128)
    assert pool.count() == 4
    assert [ipv6_prefix_to_str(n, pool.prefix_length) for n in pool] == [
        "2001:db8::",
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8::3",
    ]
    assert ipv6_from_str("2001:db8::2") in pool


def test_ipv6_huge_pool_counts_and_streams() -> None:
    pool = parse_ipv6_pool("2001:db8::/32", " 128 ")
    assert pool.count() == 2**96
    iterator = iter(pool)
    assert [next(iterator) for _ in range(2)] == [pool.network, pool.network + 1]
    assert next(pool.iter_batches(2)) == [pool.network, pool.network + 1]
    assert bool(pool)


def test_ipv6_host_bits_use_containing_network() -> None:
    assert parse_ipv6_pool("2001:db8::5/48", 64) == Ipv6Pool(ipv6_from_str("2001:db8::"), 48, 64)


@pytest.mark.parametrize(
    ("prefix", "prefix_length", "token"),
    [
        ("2001:db8::g/48", "64", "2001:db8::g"),
        ("2001:db8:::/48", "64", "2001:db8:::"),
        ("10.0.0.0/8", "64", "10.0.0.0"),
        ("2001:db8::/129", "129", "/129"),
        ("2001:db8::/48", "32", "32"),
        ("2001:db8::/48", "129", "129"),
        ("2001:db8::/48", "abc", "abc"),
        ("2001:db8::/48", "", ""),
        ("2001:db8::/48", "-64", "-64"),
        ("2001:db8::/48", 129, "129"),
        ("2001:db8::/48", -1, "-1"),
        ("2001:db8::", "64", "2001:db8::"),
        ("", "64", ""),
        ("fe80::1%eth0/64", "64", "fe80::1%eth0"),
    ],
)
def test_malformed_ipv6_pools_name_the_token(prefix: str, prefix_length: str | int, token: str) -> None:
    with pytest.raises(RangeError) as info:
        parse_ipv6_pool(prefix, prefix_length)
    assert info.value.token == token
    assert repr(token) in str(info.value)


@pytest.mark.parametrize("text", ["", "2001:db8::/", "2001:db8::/129", "2001:db8::g", "10.0.0.1", " ::1"])
def test_ipv6_from_str_rejects(text: str) -> None:
    with pytest.raises(RangeError):
        ipv6_from_str(text)


# ---------------------------------------------------------------------------------------------------------
# Sort keys


@given(st.integers(0, IPV4_MAX), st.integers(0, IPV4_MAX))
def test_sort_key_ipv4_orders_numerically(a: int, b: int) -> None:
    key_a, key_b = sort_key(4, a), sort_key(4, b)
    assert len(key_a) == 8 and key_a == key_a.lower()
    assert (key_a < key_b) == (a < b)
    assert sort_key_to_int(key_a) == a


@given(ipv6_ints(), ipv6_ints())
def test_sort_key_ipv6_orders_numerically(a: int, b: int) -> None:
    key_a, key_b = sort_key(6, a), sort_key(6, b)
    assert len(key_a) == 32 and key_a == key_a.lower()
    assert (key_a < key_b) == (a < b)
    assert sort_key_to_int(key_a) == a


def test_sort_key_examples_and_errors() -> None:
    assert sort_key(4, ipv4_from_str("10.0.0.1")) == "0a000001"
    assert sort_key(6, 1) == "0" * 31 + "1"
    for family, value in ((4, -1), (4, IPV4_MAX + 1), (6, IPV6_MAX + 1), (5, 1)):
        with pytest.raises(ValueError):
            sort_key(family, value)
    for key in ("", "0A000001", "0a00001", "0a00000g"):
        with pytest.raises(ValueError):
            sort_key_to_int(key)
