#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.

Text targets (form, iso_time, page_token's text mode) get typical, boundary
and malformed texts. The other targets read their input as a stream of
choices, so their seeds are scenarios spelt in those choices: the encoders
below mirror how each target's source decodes its input (FuzzInput in
fuzz_input.h, the choice order in the target). Regenerate after changing a
target's decoding; the replay tests run the seeds in every build either way.

Usage: tests/fuzz/make_corpus.py   (rewrites every seed; keeps other files)
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def integer(value, size):
    """FuzzInput::Integer(size): little-endian."""
    return (value % (1 << (8 * size))).to_bytes(size, "little")


def length_prefixed(text):
    """FuzzInput::Bytes(): a length byte, then the bytes."""
    data = text.encode() if isinstance(text, str) else text
    assert len(data) < 256
    return bytes([len(data)]) + data


# form_fuzz: the input is a form body or query string -------------------------

FORMS = {
    "create_session": "UniqueName=Order+%231234&Ttl=3600&Mode=voice-only",
    "participants": "Participants=%7B%22Identifier%22%3A%22%2B15555550100%22"
    "%2C%22FriendlyName%22%3A%22Alice%22%7D&Participants=%7B%22Identifier"
    "%22%3A%22%2B15555550101%22%7D",
    "list_query": "PageSize=20&Page=1&PageToken=PA0123456789abcdef",
    "empty_fields": "a=1&&b=2&",
    "no_equals": "flag&a=1&=&==",
    "bad_escapes": "a=%&b=%4&c=%GZ&d=100%25&e=%%41&%=1",
    "nul_and_utf8": "a=x%00y&UniqueName=caf%C3%A9&b=%ff%FE",
    "plus_and_space": "my+key=a+b%20c%2Bd",
    "participants_junk": "Participants=%5B%5D&Participants=not+json"
    "&Participants=%7B%22Identifier%22%3A1%7D",
}

# iso_time_fuzz: the input is a date-time text ---------------------------------

TIMES = {
    "utc": "2024-02-29T12:00:00Z",
    "offset": "2024-02-29T12:00:00+05:30",
    "offset_no_colon": "2030-01-01T00:00:00-0800",
    "fraction": "2030-01-01T00:00:00.123456789Z",
    "lower_case": "2030-01-01t23:59:59z",
    "bare_date": "2030-12-31",
    "leap_second": "2016-12-31T23:59:60.5Z",
    "year_0000_offset": "0000-01-01T00:00:00+01:00",
    "year_9999_offset": "9999-12-31T23:59:59-23:59",
    "bad_day": "2023-02-29T00:00:00Z",
    "missing_zone": "2030-01-01T00:00:00",
    "ten_fraction_digits": "2030-01-01T00:00:00.1234567890Z",
}

# page_token_fuzz: a mode byte (bit 0: cursor mode, bit 1: 16 scope bytes) ----

SCOPE = integer(0x0123456789ABCDEF, 8) + integer(0xFEDCBA9876543210, 8)


def page_token_seeds():
    yield "text_services_scope", b"\x00" + b"PA" + b"0" * 56
    yield "text_service_scope", b"\x02" + SCOPE + b"PB" + b"f" * 56
    yield "text_upper_case", b"\x00" + b"PA" + b"A" * 56
    yield "text_short", b"\x00PA0123"
    # Cursor mode: direction byte, sid (16 bytes), seq (8), position, byte.
    yield "cursor_after", (b"\x01\x00" + integer(1, 8) + integer(2, 8) +
                           integer(3, 8) + b"\x05x")
    yield "cursor_before_scoped", (b"\x03" + SCOPE + b"\x01" +
                                   integer(2**64 - 1, 8) * 3 + b"\x39f")
    yield "cursor_alter_prefix", (b"\x01\x00" + integer(7, 16) +
                                  integer(9, 8) + b"\x01B")


# timer_wheel_fuzz ------------------------------------------------------------
# Start: a byte (0 zero, 1 Integer(3), 2 Integer(8), 3 kMax - Integer(5)).
# Each operation: entry byte, kind byte (0-1 schedule, 2 move, 3 cancel,
# 4-5 advance, 6 pop one, 7 drain), then the kind's own bytes.

def schedule(entry, deadline_kind, *extra):
    return bytes([entry, 0, deadline_kind]) + b"".join(extra)


def advance(target_kind, *extra):
    return bytes([0, 4, target_kind]) + b"".join(extra)


DRAIN = bytes([0, 7])
POP = bytes([0, 6])


def timer_wheel_seeds():
    # Deadline kinds: 0 zero, 1 now - Integer(2), 2 now, 3 now + 1 + b % 64,
    # 4 now + Integer(3), 5 now + (Integer(8) >> b), 6 kMax - Integer(2),
    # 7 Integer(8), 8 boundary (bits, +b%2, -b%2).
    # Target kinds: 0 now - b, 1 now + b, 2 now + Integer(3), 3 next event,
    # 4 earliest - b%2, 5 now + (Integer(8) >> b), 6 Integer(8).
    yield "due_now_fifo", (b"\x00" + schedule(1, 2) + schedule(2, 0) +
                           schedule(3, 1, integer(5, 2)) + DRAIN)
    yield "one_tick_ahead", (b"\x00" + schedule(1, 3, b"\x00") + advance(1,
                             b"\x00") + POP + advance(1, b"\x01") + DRAIN)
    yield "cascade_boundaries", (b"\x01" + integer(4095, 3) +
                                 schedule(1, 8, b"\x06\x00\x00") +
                                 schedule(2, 8, b"\x0c\x01\x00") +
                                 schedule(3, 8, b"\x12\x00\x01") +
                                 advance(4, b"\x01") + DRAIN + advance(3) +
                                 DRAIN + advance(4, b"\x00") + DRAIN)
    yield "end_of_time", (b"\x03" + integer(100, 5) + schedule(1, 6,
                          integer(0, 2)) + schedule(2, 6, integer(37, 2)) +
                          advance(6, integer(2**64 - 1, 8)) + DRAIN)
    yield "huge_jump", (b"\x00" + schedule(1, 5, integer(2**62, 8), b"\x00") +
                        schedule(2, 7, integer(2**63 + 5, 8)) +
                        advance(5, integer(2**63, 8), b"\x00") + DRAIN +
                        advance(6, integer(2**64 - 1, 8)) + DRAIN)
    yield "reschedule_and_cancel", (b"\x02" + integer(123456789, 8) +
                                    schedule(1, 4, integer(70000, 3)) +
                                    bytes([1, 2, 1, 1]) +  # move 1 later
                                    schedule(2, 4, integer(500, 3)) +
                                    bytes([2, 3]) +  # cancel 2
                                    advance(2, integer(80000, 3)) + DRAIN)
    yield "cancel_while_due", (b"\x00" + schedule(1, 3, b"\x05") +
                               schedule(2, 3, b"\x06") +
                               schedule(3, 3, b"\x07") +
                               advance(1, b"\x0a") + bytes([2, 3]) +
                               POP + schedule(4, 2) + bytes([3, 3]) + DRAIN)


def main():
    for name, text in FORMS.items():
        write("form_fuzz", name, text)
    for name, text in TIMES.items():
        write("iso_time_fuzz", name, text)
    for target, seeds in [("page_token_fuzz", page_token_seeds()),
                          ("timer_wheel_fuzz", timer_wheel_seeds())]:
        for name, data in seeds:
            write(target, name, data)


if __name__ == "__main__":
    main()
