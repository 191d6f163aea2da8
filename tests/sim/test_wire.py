from __future__ import annotations

import pytest
from librouteros import protocol as client_protocol

from poolimport.sim.wire import (
    WireError,
    decode_length,
    encode_length,
    encode_sentence,
    extra_length_bytes,
    read_word,
    split_sentences,
)

BOUNDARIES = [
    (0, 1),
    (0x7F, 1),
    (0x80, 2),
    (0x3FFF, 2),
    (0x4000, 3),
    (0x1FFFFF, 3),
    (0x200000, 4),
    (0xFFFFFFF, 4),
    (0x10000000, 5),
    (0xFFFFFFFF, 5),
]


@pytest.mark.parametrize(("length", "size"), BOUNDARIES)
def test_length_round_trip_at_each_boundary(length: int, size: int) -> None:
    encoded = encode_length(length)
    assert len(encoded) == size
    assert extra_length_bytes(encoded[0]) == size - 1
    assert decode_length(encoded) == length


@pytest.mark.parametrize(("length", "size"), [b for b in BOUNDARIES if b[0] < 0x10000000])
def test_length_encoding_matches_librouteros(length: int, size: int) -> None:
    assert encode_length(length) == client_protocol.encode_length(length)
    assert client_protocol.decode_length(encode_length(length)) == length


def test_five_byte_form_is_f0_then_four_bytes() -> None:
    assert encode_length(0x10000000) == b"\xf0\x10\x00\x00\x00"
    assert encode_length(0x12345678) == b"\xf0\x12\x34\x56\x78"


@pytest.mark.parametrize("bad", [-1, 0x100000000])
def test_out_of_range_lengths_are_rejected(bad: int) -> None:
    with pytest.raises(WireError):
        encode_length(bad)


@pytest.mark.parametrize("control", [0xF1, 0xF7, 0xF8, 0xFF])
def test_reserved_control_bytes_are_rejected(control: int) -> None:
    with pytest.raises(WireError):
        extra_length_bytes(control)


def test_decode_rejects_wrong_prefix_size() -> None:
    with pytest.raises(WireError):
        decode_length(b"\x80")


@pytest.mark.parametrize("length", [1, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000])
def test_words_of_boundary_sizes_round_trip(length: int) -> None:
    word = b"x" * length
    assert split_sentences(encode_sentence([b"!re", word])) == [[b"!re", word]]


def test_empty_word_terminates_the_sentence() -> None:
    assert encode_sentence([]) == b"\x00"
    assert split_sentences(b"\x03!re\x00\x00") == [[b"!re"], []]


def test_read_word_honours_limit() -> None:
    data = encode_sentence([b"y" * 300])
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        pos += n
        return data[pos - n : pos]

    with pytest.raises(WireError):
        read_word(read, max_length=299)


def test_sentence_encoding_matches_librouteros() -> None:
    words = ["/ip/pool/print", "=.proplist=name,ranges", "?name=pppoe", "=comment=" + "ü" * 200]
    assert encode_sentence(words, "utf-8") == client_protocol.encode_sentence(*words, encoding="utf-8")
    assert split_sentences(encode_sentence(words)) == [[w.encode() for w in words]]
