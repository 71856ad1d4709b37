#include "engine/core/page_token.h"

namespace sessionwheel::internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void AppendHex(std::string* out, uint64_t v, int digits) {
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
    out->push_back(kHexDigits[(v >> shift) & 0xf]);
  }
}

// Parses `text`, which must be all lower-case hex digits, into *v.
bool ParseLowerHex(std::string_view text, uint64_t* v) {
  uint64_t r = 0;
  for (const char c : text) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    r = (r << 4) | static_cast<uint64_t>(d);
  }
  *v = r;
  return true;
}

void AppendBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

// The low 32 bits of StableHash over the direction letter, then sid.hi,
// sid.lo, seq, scope.hi, scope.lo as 8 big-endian bytes each (41 bytes).
uint32_t Check(char direction, const Sid128& sid, uint64_t seq,
               const Sid128& scope) {
  std::string bytes;
  bytes.reserve(41);
  bytes.push_back(direction);
  AppendBigEndian(&bytes, sid.hi);
  AppendBigEndian(&bytes, sid.lo);
  AppendBigEndian(&bytes, seq);
  AppendBigEndian(&bytes, scope.hi);
  AppendBigEndian(&bytes, scope.lo);
  return static_cast<uint32_t>(StableHash(bytes));
}

char DirectionLetter(PageCursor::Direction d) {
  return d == PageCursor::Direction::kAfter ? 'A' : 'B';
}

}  // namespace

std::string EncodePageToken(const PageCursor& cursor, const Sid128& scope) {
  const char letter = DirectionLetter(cursor.direction);
  std::string token;
  token.reserve(kPageTokenLength);
  token.push_back('P');
  token.push_back(letter);
  AppendSid(&token, "", cursor.sid);
  AppendHex(&token, cursor.seq, 16);
  AppendHex(&token, Check(letter, cursor.sid, cursor.seq, scope), 8);
  return token;
}

std::optional<PageCursor> DecodePageToken(std::string_view token,
                                          const Sid128& scope) {
  if (token.size() != kPageTokenLength || token[0] != 'P') return std::nullopt;
  PageCursor cursor;
  if (token[1] == 'A') {
    cursor.direction = PageCursor::Direction::kAfter;
  } else if (token[1] == 'B') {
    cursor.direction = PageCursor::Direction::kBefore;
  } else {
    return std::nullopt;
  }
  uint64_t check;
  if (!ParseLowerHex(token.substr(2, 16), &cursor.sid.hi) ||
      !ParseLowerHex(token.substr(18, 16), &cursor.sid.lo) ||
      !ParseLowerHex(token.substr(34, 16), &cursor.seq) ||
      !ParseLowerHex(token.substr(50, 8), &check)) {
    return std::nullopt;
  }
  if (check != Check(token[1], cursor.sid, cursor.seq, scope)) {
    return std::nullopt;
  }
  return cursor;
}

}  // namespace sessionwheel::internal
