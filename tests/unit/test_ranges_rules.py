"""core.imports.pools.ranges: the edges and the exact words of its errors (properties: test_ranges.py)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

from poolimport.core.imports.pools import ranges
from poolimport.core.imports.pools.ranges import (
    IPV4_MAX,
    IPV6_MAX,
    Ipv4Ranges,
    Ipv6Pool,
    RangeError,
    ipv4_from_str,
    ipv6_from_str,
    ipv6_prefix_to_str,
    parse_ipv4_ranges,
    parse_ipv6_pool,
    sort_key,
    sort_key_to_int,
)


def message(error: pytest.ExceptionInfo[BaseException]) -> str:
    return str(error.value)


def test_a_range_error_keeps_its_token_through_pickling() -> None:
    with pytest.raises(RangeError) as caught:
        parse_ipv4_ranges("10.0.0.1-10.0.0.300")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.token, str(copy)) == ("10.0.0.300", "bad address '10.0.0.300' in '10.0.0.1-10.0.0.300'")


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (ipv4_from_str, "10.0.0.300", "bad address '10.0.0.300'"),
        (parse_ipv4_ranges, "10.0.0.300", "bad address '10.0.0.300'"),  # the token is the whole text
        (ipv4_from_str, "2001:db8::1", "bad address '2001:db8::1' (IPv6 address in an IPv4 pool)"),
        (
            parse_ipv4_ranges,
            "10.0.0.1,2001:db8::1",
            "bad address '2001:db8::1' in '10.0.0.1,2001:db8::1' (IPv6 address in an IPv4 pool)",
        ),
    ],
)
def test_a_bad_address_is_named_with_its_text_only_when_that_says_more(
    parse: Callable[[str], object], text: str, expected: str
) -> None:
    with pytest.raises(RangeError) as caught:
        parse(text)
    assert message(caught) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  ", "empty ranges '  '"),
        ("10.0.0.1,,10.0.0.2", "empty part '' in '10.0.0.1,,10.0.0.2'"),
        (
            "10.0.0.1-10.0.0.2-10.0.0.3,10.0.1.1",
            "bad range '10.0.0.1-10.0.0.2-10.0.0.3' in '10.0.0.1-10.0.0.2-10.0.0.3,10.0.1.1'",
        ),
        ("10.0.0.x-10.0.0.5", "bad address '10.0.0.x' in '10.0.0.x-10.0.0.5'"),
        ("10.0.0.1 - 10.0.0.x", "bad address '10.0.0.x' in '10.0.0.1 - 10.0.0.x'"),
        ("10.0.0.5-10.0.0.1,10.0.1.1", "reversed range '10.0.0.5-10.0.0.1' in '10.0.0.5-10.0.0.1,10.0.1.1'"),
        ("10.0.0.x/24", "bad address '10.0.0.x' in '10.0.0.x/24'"),
        ("10.0.0.0/33", "bad prefix length '/33' in '10.0.0.0/33'"),
        ("10.0.0.0/ 8x", "bad prefix length '/8x' in '10.0.0.0/ 8x'"),
        ("10.0.0.0/08", "bad prefix length '/08' in '10.0.0.0/08'"),
        ("10.0.0.0/8/8", "bad prefix length '/8/8' in '10.0.0.0/8/8'"),
        ("10.0.0.01", "bad address '10.0.0.01'"),
    ],
)
def test_each_way_a_range_can_be_wrong_is_named_in_the_routers_text(text: str, expected: str) -> None:
    with pytest.raises(RangeError) as caught:
        parse_ipv4_ranges(text)
    assert message(caught) == expected


def test_ipv4_to_str_as_its_factory_builds_it_formats_every_octet() -> None:
    """ipv4_to_str is built once, at import: building it again is how a test sees how it is built."""
    to_str = ranges._make_ipv4_to_str()
    assert to_str(0) == "0.0.0.0"
    assert to_str(IPV4_MAX) == "255.255.255.255"
    assert to_str(0x0A01FF02) == "10.1.255.2"
    assert to_str(0x00010000) == "0.1.0.0"
    for outside in (-1, IPV4_MAX + 1):
        with pytest.raises(ValueError) as caught:
            to_str(outside)
        assert message(caught) == f"not an IPv4 address int: {outside}"


def test_an_interval_must_run_forward_inside_the_ipv4_space() -> None:
    for interval in ((5, 1), (-1, 0), (0, IPV4_MAX + 1)):
        with pytest.raises(ValueError) as caught:
            Ipv4Ranges((interval,))
        assert message(caught) == f"not an IPv4 interval: {interval}"


def test_membership_is_for_address_numbers_only() -> None:
    assert "10.0.0.1" not in parse_ipv4_ranges("10.0.0.1")
    assert ipv4_from_str("10.0.0.1") in parse_ipv4_ranges("10.0.0.1")
    assert "2001:db8::" not in parse_ipv6_pool("2001:db8::/64", "64")


@pytest.mark.parametrize("pool", [parse_ipv4_ranges("10.0.0.1"), parse_ipv6_pool("2001:db8::/64", "64")])
def test_a_batch_size_below_one_is_refused(pool: Ipv4Ranges | Ipv6Pool) -> None:
    with pytest.raises(ValueError) as caught:
        next(pool.iter_batches(0))
    assert message(caught) == "batch size must be positive, got 0"


# -- IPv6 pools ----------------------------------------------------------------------------------------------


def test_an_ipv6_pool_spans_the_whole_address_space_and_no_further() -> None:
    assert Ipv6Pool(network=IPV6_MAX, prefix=128, prefix_length=128).count() == 1
    assert Ipv6Pool(network=0, prefix=0, prefix_length=128).count() == 2**128
    with pytest.raises(ValueError) as caught:
        Ipv6Pool(network=IPV6_MAX + 1, prefix=0, prefix_length=0)
    assert message(caught) == f"not an IPv6 network for /0: {IPV6_MAX + 1}"


def test_an_ipv6_pool_refuses_host_bits_and_lengths_past_128() -> None:
    with pytest.raises(ValueError) as caught:
        Ipv6Pool(network=1, prefix=64, prefix_length=64)
    assert message(caught) == "not an IPv6 network for /64: 1"
    with pytest.raises(ValueError) as caught:
        Ipv6Pool(network=0, prefix=64, prefix_length=129)
    assert message(caught) == "bad IPv6 pool: prefix 64, prefix-length 129"


@pytest.mark.parametrize(
    ("prefix", "length", "expected"),
    [
        ("2001:db8::", "64", "missing prefix length in IPv6 prefix '2001:db8::'"),
        ("2001:zz::/48", "64", "bad IPv6 address '2001:zz::' in '2001:zz::/48'"),
        ("2001:db8::/129", "130", "bad prefix length '/129' in '2001:db8::/129'"),
        ("2001:db8::/48/64", "64", "bad prefix length '/48/64' in '2001:db8::/48/64'"),
    ],
)
def test_a_bad_ipv6_prefix_is_named_in_the_routers_text(prefix: str, length: str, expected: str) -> None:
    with pytest.raises(RangeError) as caught:
        parse_ipv6_pool(prefix, length)
    assert message(caught) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fe80::1%eth0", "bad IPv6 address 'fe80::1%eth0'"),
        ("", "bad IPv6 address ''"),
        ("2001:zz::1", "bad IPv6 address '2001:zz::1'"),
        ("2001:zz::/64", "bad IPv6 address '2001:zz::' in '2001:zz::/64'"),
        ("fe80::%eth0/64", "bad IPv6 address 'fe80::%eth0' in 'fe80::%eth0/64'"),
        ("2001:db8::/129", "bad prefix length '/129' in '2001:db8::/129'"),
    ],
)
def test_a_bad_ipv6_address_or_prefix_is_named(text: str, expected: str) -> None:
    with pytest.raises(RangeError) as caught:
        ipv6_from_str(text)
    assert message(caught) == expected


def test_a_zone_index_is_no_part_of_a_pool_prefix() -> None:
    with pytest.raises(RangeError) as caught:
        parse_ipv6_pool("fe80::%eth0/64", "64")
    assert message(caught) == "bad IPv6 address 'fe80::%eth0' in 'fe80::%eth0/64'"


def test_a_prefix_length_given_as_a_number_may_be_zero_but_not_a_boolean() -> None:
    assert parse_ipv6_pool("::/0", 0).count() == 1
    assert parse_ipv6_pool("2001:db8::/64", 65).count() == 2
    with pytest.raises(RangeError) as caught:
        parse_ipv6_pool("2001:db8::/64", True)
    assert (message(caught), caught.value.token) == ("bad prefix-length 'True'", "True")


def test_ipv6_prefix_text_covers_the_whole_space_and_refuses_past_it() -> None:
    assert ipv6_prefix_to_str(IPV6_MAX, 128) == "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
    assert ipv6_prefix_to_str(0, 0) == "::/0"
    for network, length in ((IPV6_MAX + 1, 64), (0, 129), (-1, 64), (0, -1)):
        with pytest.raises(ValueError) as caught:
            ipv6_prefix_to_str(network, length)
        assert message(caught) == f"not an IPv6 prefix: {network}/{length}"


# -- sort keys -----------------------------------------------------------------------------------------------


def test_the_highest_address_of_each_family_has_a_sort_key() -> None:
    assert sort_key(4, IPV4_MAX) == "ffffffff"
    assert sort_key(6, IPV6_MAX) == "f" * 32


@pytest.mark.parametrize(
    ("family", "value", "expected"),
    [
        (4, IPV4_MAX + 1, f"not an IPv4 address int: {IPV4_MAX + 1}"),
        (6, -1, "not an IPv6 address int: -1"),
        (5, 1, "unknown address family: 5"),
    ],
)
def test_a_value_without_a_sort_key_is_refused_saying_why(family: int, value: int, expected: str) -> None:
    with pytest.raises(ValueError) as caught:
        sort_key(family, value)
    assert message(caught) == expected


def test_text_that_is_not_a_sort_key_is_refused_quoted() -> None:
    with pytest.raises(ValueError) as caught:
        sort_key_to_int("xyz")
    assert message(caught) == "not a sort key: 'xyz'"
