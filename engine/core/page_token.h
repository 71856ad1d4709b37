// Opaque keyset page tokens for the Services and Sessions lists.
//
// A token names the boundary item of the page just served, not an offset, so
// a walk over a list that changes underneath it still sees every item that
// exists for the whole walk exactly once. Twilio tokens start "PA" (the page
// after a position) or "PB" (the page before). Ours are "PA" or "PB" + 32 hex
// of the boundary item's SID + 16 hex of its creation sequence number + 8 hex
// check digits, all lower-case (58 characters). The check is the low 32 bits
// of StableHash over (direction, sid, seq, scope), so a token made for another
// scope (another Service's list, or the Services list) or altered by hand is
// refused. The check is not a secret: it catches mistakes, not forgeries.
//
// Example:
//
//   PageCursor cursor{PageCursor::Direction::kAfter, last.sid, last.seq};
//   std::string token = EncodePageToken(cursor, service_sid);
//   ...
//   std::optional<PageCursor> back = DecodePageToken(token, service_sid);
//   if (!back) { ...21481... }

#ifndef SESSIONWHEEL_ENGINE_CORE_PAGE_TOKEN_H_
#define SESSIONWHEEL_ENGINE_CORE_PAGE_TOKEN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/util/sid.h"

namespace sessionwheel::internal {

// The length of every page token.
inline constexpr size_t kPageTokenLength = 2 + 32 + 16 + 8;

struct PageCursor {
  // kAfter: items older than the boundary ("PA"); kBefore: newer ("PB").
  enum class Direction { kAfter, kBefore };
  Direction direction = Direction::kAfter;
  Sid128 sid;        // the boundary item
  uint64_t seq = 0;  // its creation sequence number

  friend bool operator==(const PageCursor& a, const PageCursor& b) {
    return a.direction == b.direction && a.sid == b.sid && a.seq == b.seq;
  }
  friend bool operator!=(const PageCursor& a, const PageCursor& b) {
    return !(a == b);
  }
};

// `scope` is the Service SID for a Session list, or a zero Sid128 for the
// Services list.
std::string EncodePageToken(const PageCursor& cursor, const Sid128& scope);

// nullopt for anything malformed or foreign: wrong length, wrong prefix,
// non-hex or upper-case hex (so no two texts decode to one cursor), bad check.
std::optional<PageCursor> DecodePageToken(std::string_view token,
                                          const Sid128& scope);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_PAGE_TOKEN_H_
