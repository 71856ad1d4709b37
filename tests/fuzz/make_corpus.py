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


# proxy_fake_fuzz -------------------------------------------------------------
# A setup byte (bits 0-1 the retention: 0 90 days, 1 an hour, 2 zero, 3 never;
# bits 2-3 the shards: 0 and 2 four, 1 one, 3 sixteen), then steps: a step
# byte (0 Advance, 1 SetTime, else a request).

ADVANCE_STEPS = ["0", "1ms", "10ms", "999ms", "1s", "59s", "1h", "1d", "90d"]
METHODS = ["GET", "POST", "DELETE", "GET", "POST", "get", "Delete", "PUT", ""]
BODY_KEYS = ["UniqueName", "Ttl", "DateExpiry", "Status", "Mode",
             "Participants", "DefaultTtl", "UniqueName", "Ttl", "Status",
             "PageSize", "junk", "Identifier", "Identifier", "FriendlyName",
             "ProxyIdentifier", "Body", "Body"]
IDENTIFIERS = ["+15555550100", "+15555550101", "a", "", "cafe", "xff"]
BODIES = ["hello", "", "cafe", "xff"]
QUERY_KEYS = ["PageSize", "Page", "PageToken", "PageSize", "PageToken", "junk"]
INTEGERS = ["0", "1", "59", "60", "3600", "86400", "-1", "1.5", " 1", "",
            "253402300799", "253402300800", "9223372036854775807",
            "-9223372036854775808", "99999999999999999999", "0x10"]
STATUSES = ["open", "in-progress", "closed", "failed", "unknown", "Open", ""]
MODES = ["message-only", "voice-only", "voice-and-message", "both"]
PARTICIPANTS = ["alice", "with_proxy", "empty", "null_name", "number",
                "array", "string", "not_json"]
PAGE_SIZES = ["1", "2", "3", "50", "1000", "1001", "0", "-1", "100001"]
AHEAD = ["1s", "59s", "1h", "1d", "90d", "0", "-1s"]
FIXED_DATES = ["9999", "10000", "bare", "fraction", "offset", "feb30",
               "space"]


def fake_advance(step):
    return bytes([0, ADVANCE_STEPS.index(step)])


def fake_set_time(seconds_after_start_minus_a_day):
    return bytes([1]) + integer(seconds_after_start_minus_a_day, 4) + b"\x00"


def value(key, choice):
    """Value(): a byte (not 0 mod 16), then the key's own choice."""
    if key == "UniqueName":
        # Name(): 5 picks from kNames (0 "rides", 1 "ride-42", 2 "Order
        # #1234", ...); 0, 1 and 2 are 191 'a', 192 'a', 191 two-byte chars.
        if isinstance(choice, int):
            return bytes([1, 5, choice])
        return bytes([1, {"191": 0, "192": 1, "191x2": 2}[choice]])
    if key in ("Ttl", "DefaultTtl"):
        return bytes([1, 1, INTEGERS.index(choice)])
    if key == "DateExpiry":
        if choice in FIXED_DATES:
            return bytes([1, 0, FIXED_DATES.index(choice)])
        return bytes([1, 1, AHEAD.index(choice)])
    if key == "Status":
        return bytes([1, STATUSES.index(choice)])
    if key == "Mode":
        return bytes([1, MODES.index(choice)])
    if key == "Participants":
        return bytes([1, PARTICIPANTS.index(choice)])
    if key == "PageSize":
        return bytes([1, PAGE_SIZES.index(choice)])
    if key in ("Identifier", "FriendlyName", "ProxyIdentifier"):
        # A byte 0 mod 8: 192 'i'; else a pick.
        if choice == "192":
            return bytes([1, 0])
        return bytes([1, 1, IDENTIFIERS.index(choice)])
    if key == "Body":
        if choice in ("1600", "1601"):
            return bytes([1, {"1600": 0, "1601": 1}[choice]])
        return bytes([1, 2, BODIES.index(choice)])
    raise ValueError(key)


def form(fields, keys=BODY_KEYS):
    """MakeForm(): a byte (not 0 mod 16), the field count, then per field
    the key, its value and an encoding byte (1: percent-encoded)."""
    assert 1 <= len(fields) <= 4
    out = bytes([1, len(fields) - 1])
    for key, choice in fields:
        out += bytes([keys.index(key)]) + value(key, choice) + b"\x01"
    return out


# Under a Session (shape 4): 0 the Session itself, 3 .../Participants,
# 4 .../Participants/{kp}, 5 .../Participants/{kp}/MessageInteractions,
# 6 .../Interactions, 7 .../Interactions/{ki}.
(SESSION, PARTICIPANT_LIST, PARTICIPANT, MESSAGES, INTERACTION_LIST,
 INTERACTION) = (0, 3, 4, 5, 6, 7)


def request(method, shape, ids=b"", body=None, query=None, full_url=False,
            child=SESSION, child_id=b""):
    """A request step. Shapes: 0 /v1/Services, 1 .../{ks}, 2 .../Sessions,
    4 .../Sessions/{id}[/child]. ids: the ServiceId/SessionId choices;
    child_id: the Participant's or Interaction's."""
    out = bytes([2, METHODS.index(method), shape]) + ids
    if shape == 4:
        out += bytes([child]) + child_id
    out += b"\x00" if full_url else b"\x01"
    if shape in (0, 2) or (shape == 4 and child in (PARTICIPANT_LIST,
                                                    INTERACTION_LIST)):
        out += b"\x01" if query is None else b"\x00" + form(query, QUERY_KEYS)
    out += b"\x00" if body is None else b"\x01" + form(body)
    return out


FIRST_SERVICE = b"\x00\x00"  # ServiceId: the first minted SID.
FIRST_SERVICE_UPPER = b"\x02\x00"
FIRST_SESSION = b"\x00\x00"  # SessionId: the first minted SID.
SESSION_BY_NAME = b"\x03\x00"  # The first Session name seen.
UNKNOWN_SESSION = b"\x04" + integer(42, 16)
MALFORMED_SESSION = b"\x05"
FIRST_CHILD = b"\x00\x00"  # The first Participant or Interaction SID seen.
UNKNOWN_CHILD = b"\x04" + integer(42, 16)


def create_service(name=0, ttl=None):
    fields = [("UniqueName", name)]
    if ttl is not None:
        fields.append(("DefaultTtl", ttl))
    return request("POST", 0, body=fields)


def proxy_fake_seeds():
    svc = create_service()
    yield "create_and_list_services", (b"\x0c" + svc + create_service(1) +
                                       request("GET", 0, query=[
                                           ("PageSize", "1")]))
    yield "session_expires_by_ttl", (
        b"\x00" + svc +
        request("POST", 2, FIRST_SERVICE, body=[("UniqueName", 1),
                                                ("Ttl", "60")]) +
        fake_advance("59s") + request("GET", 4, FIRST_SERVICE + FIRST_SESSION) +
        fake_advance("1s") + request("GET", 4, FIRST_SERVICE + SESSION_BY_NAME))
    yield "session_expires_by_date", (
        b"\x00" + svc +
        request("POST", 2, FIRST_SERVICE, body=[("DateExpiry", "1h")]) +
        fake_advance("1h") + request("GET", 2, FIRST_SERVICE))
    yield "close_reopen_and_purge", (
        b"\x01" + svc + request("POST", 2, FIRST_SERVICE, body=[("Ttl", "60")]) +
        request("POST", 4, FIRST_SERVICE + FIRST_SESSION,
                body=[("Status", "closed")]) +
        request("POST", 4, FIRST_SERVICE + FIRST_SESSION,
                body=[("Status", "in-progress")]) +
        request("POST", 4, FIRST_SERVICE + FIRST_SESSION,
                body=[("Status", "closed")]) +
        fake_advance("1h") + request("GET", 4, FIRST_SERVICE + FIRST_SESSION))
    yield "service_default_ttl", (
        b"\x00" + create_service(0, "3600") +
        request("POST", 2, FIRST_SERVICE) + fake_advance("1h") +
        request("GET", 2, FIRST_SERVICE, full_url=True))
    yield "service_default_ttl_max", (
        b"\x00" + create_service(0, "253402300799") +
        request("POST", 2, FIRST_SERVICE) + request("GET", 2, FIRST_SERVICE))
    yield "create_every_parameter", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE, body=[
            ("UniqueName", 2), ("Mode", "message-only"),
            ("Participants", "alice"), ("Participants", "with_proxy")]) +
        request("GET", 4, FIRST_SERVICE_UPPER + FIRST_SESSION))
    yield "errors", (
        b"\x00" + svc +
        request("POST", 2, FIRST_SERVICE, body=[("UniqueName", "192")]) +
        request("POST", 2, FIRST_SERVICE, body=[("Ttl", "-1")]) +
        request("POST", 2, FIRST_SERVICE, body=[("Status", "Open")]) +
        request("POST", 2, FIRST_SERVICE, body=[("Mode", "both")]) +
        request("POST", 2, FIRST_SERVICE, body=[("DateExpiry", "-1s")]) +
        request("POST", 2, FIRST_SERVICE, body=[("Participants", "alice")] * 3) +
        request("DELETE", 4, FIRST_SERVICE + MALFORMED_SESSION) +
        request("GET", 4, FIRST_SERVICE + UNKNOWN_SESSION) +
        request("PUT", 2, FIRST_SERVICE) +
        request("GET", 0, query=[("PageSize", "1001")]) + create_service())
    yield "name_taken_and_freed", (
        b"\x0c" + svc +
        request("POST", 2, FIRST_SERVICE, body=[("UniqueName", 0)]) +
        request("POST", 2, FIRST_SERVICE, body=[("UniqueName", 0)]) +
        request("DELETE", 4, FIRST_SERVICE + FIRST_SESSION) +
        request("POST", 2, FIRST_SERVICE, body=[("UniqueName", 0)]))
    yield "update_transitions", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE,
                                body=[("Status", "failed")]) +
        request("POST", 4, FIRST_SERVICE + FIRST_SESSION,
                body=[("Status", "in-progress")]) +
        request("POST", 4, FIRST_SERVICE + FIRST_SESSION, body=[("Ttl", "1")]))
    yield "paging", (
        b"\x04" + svc + request("POST", 2, FIRST_SERVICE) * 5 +
        request("GET", 2, FIRST_SERVICE, query=[("PageSize", "2")]) +
        bytes([2, 0, 6, 0, 0]) +  # GET the first page URL seen, no body
        bytes([2, 0, 6, 1, 0]))  # and the second
    yield "clock_goes_back", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE, body=[("Ttl", "60")]) +
        fake_set_time(86400 + 3600) + fake_set_time(0) +
        request("POST", 2, FIRST_SERVICE, body=[("Ttl", "60")]) +
        fake_advance("1d") + request("GET", 2, FIRST_SERVICE))
    yield "delete_service", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE) +
        request("DELETE", 1, FIRST_SERVICE) +
        request("GET", 4, FIRST_SERVICE + FIRST_SESSION) +
        request("GET", 1, FIRST_SERVICE))
    session = FIRST_SERVICE + FIRST_SESSION
    yield "participants_and_interactions", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE, body=[("Ttl", "60")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "+15555550100"),
                      ("FriendlyName", "a")]) +
        request("GET", 4, session, child=PARTICIPANT_LIST,
                query=[("PageSize", "1")]) +
        request("GET", 4, session, child=PARTICIPANT, child_id=FIRST_CHILD) +
        fake_advance("59s") +
        request("POST", 4, session, child=MESSAGES, child_id=FIRST_CHILD,
                body=[("Body", "hello")]) +
        request("GET", 4, session, child=INTERACTION_LIST) +
        request("POST", 4, session, child=MESSAGES, child_id=FIRST_CHILD,
                body=[("Body", "1600")]) +
        fake_advance("59s") + request("GET", 4, session) +
        request("DELETE", 4, session, child=PARTICIPANT,
                child_id=FIRST_CHILD) +
        request("GET", 4, session, child=PARTICIPANT_LIST))
    yield "participant_and_message_errors", (
        b"\x00" + svc + request("POST", 2, FIRST_SERVICE) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "192")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "a")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "a")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "+15555550101")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "+15555550100")]) +
        request("POST", 4, session, child=MESSAGES, child_id=FIRST_CHILD,
                body=[("Body", "")]) +
        request("POST", 4, session, child=MESSAGES, child_id=FIRST_CHILD,
                body=[("Body", "1601")]) +
        request("POST", 4, session, child=MESSAGES, child_id=UNKNOWN_CHILD,
                body=[("Body", "hello")]) +
        request("GET", 4, session, child=INTERACTION, child_id=UNKNOWN_CHILD) +
        request("DELETE", 4, session, child=PARTICIPANT,
                child_id=FIRST_CHILD) +
        request("POST", 4, session, child=MESSAGES, child_id=FIRST_CHILD,
                body=[("Body", "hello")]) +
        request("POST", 4, session, body=[("Status", "closed")]) +
        request("POST", 4, session, child=PARTICIPANT_LIST,
                body=[("Identifier", "cafe")]) +
        request("PUT", 4, session, child=INTERACTION_LIST))
    yield "no_routes", b"\x00" + b"".join(
        bytes([2, 0, 7, k, 1, 0]) for k in range(12))


def main():
    for name, text in FORMS.items():
        write("form_fuzz", name, text)
    for name, text in TIMES.items():
        write("iso_time_fuzz", name, text)
    for target, seeds in [("page_token_fuzz", page_token_seeds()),
                          ("timer_wheel_fuzz", timer_wheel_seeds()),
                          ("proxy_fake_fuzz", proxy_fake_seeds())]:
        for name, data in seeds:
            write(target, name, data)


if __name__ == "__main__":
    main()
