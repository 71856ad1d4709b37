// Fuzzes page tokens (engine/core/page_token.h). The first byte picks one of
// two modes and the scope (the Services list's zero scope, or 16 input bytes):
//
// - text: the rest of the input is a token. Decoding never crashes, and a
//   token that decodes re-encodes to exactly the same text (the header's
//   promise that no two texts decode to one cursor).
// - cursor: input bytes make a cursor, whose token must have the documented
//   shape ("PA"/"PB" and 56 lower-case hex digits) and decode to that cursor
//   in its scope; the same token with one character changed, at a position
//   and to a byte both taken from the input, must be refused.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/core/page_token.h"
#include "engine/util/sid.h"
#include "tests/fuzz/fuzz_input.h"

namespace sessionwheel::fuzz {
namespace {

using internal::DecodePageToken;
using internal::EncodePageToken;
using internal::kPageTokenLength;
using internal::PageCursor;
using internal::Sid128;

Sid128 SidFrom(FuzzInput& in) {
  Sid128 sid;
  sid.hi = in.Integer(8);
  sid.lo = in.Integer(8);
  return sid;
}

void CheckText(std::string_view token, const Sid128& scope) {
  const std::optional<PageCursor> cursor = DecodePageToken(token, scope);
  if (!cursor.has_value()) return;
  SW_FUZZ_CHECK(
      EncodePageToken(*cursor, scope) == token,
      "a decoded token re-encodes differently: " + std::string(token));
}

bool IsLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void CheckCursor(FuzzInput& in, const Sid128& scope) {
  PageCursor cursor;
  cursor.direction = in.Bool() ? PageCursor::Direction::kBefore
                               : PageCursor::Direction::kAfter;
  cursor.sid = SidFrom(in);
  cursor.seq = in.Integer(8);
  const std::string token = EncodePageToken(cursor, scope);
  SW_FUZZ_CHECK(token.size() == kPageTokenLength, "wrong length: " + token);
  SW_FUZZ_CHECK(
      token.substr(0, 2) ==
          (cursor.direction == PageCursor::Direction::kAfter ? "PA" : "PB"),
      "wrong prefix: " + token);
  for (size_t i = 2; i < token.size(); ++i) {
    SW_FUZZ_CHECK(IsLowerHex(token[i]), "not lower-case hex: " + token);
  }
  SW_FUZZ_CHECK(DecodePageToken(token, scope) == cursor,
                "a token does not decode to its cursor: " + token);

  std::string altered = token;
  const size_t position = in.Index(altered.size());
  altered[position] = static_cast<char>(in.Byte());
  if (altered != token) {
    SW_FUZZ_CHECK(!DecodePageToken(altered, scope).has_value(),
                  "a token with one character changed is accepted: " + altered +
                      " (was " + token + ")");
  }
}

void FuzzPageToken(FuzzInput& in) {
  const uint8_t mode = in.Byte();
  const Sid128 scope = mode & 2 ? SidFrom(in) : Sid128();
  if (mode & 1) {
    CheckCursor(in, scope);
  } else {
    CheckText(in.Rest(), scope);
  }
}

}  // namespace
}  // namespace sessionwheel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessionwheel::fuzz::FuzzInput in(data, size);
  sessionwheel::fuzz::FuzzPageToken(in);
  return 0;
}
