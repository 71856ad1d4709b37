// 128-bit SIDs: minting, parsing and formatting, plus the stable hash that
// routes names to shards and signs page tokens.
//
// A SID's text is a two-letter resource prefix ("KC", "KS", ...) and 32
// lower-case hex digits. The engine keeps only the 128-bit body; the prefix
// is implied by where the SID is stored. Bodies are minted by a keyed
// bijection of a counter, so one generator never repeats itself and a seeded
// store mints the same sequence on every run.
//
// Example:
//
//   SidGenerator gen(42);
//   Sid128 sid = gen.Next();
//   std::string text = FormatSid("KC", sid);  // "KC" + 32 hex digits
//   std::optional<Sid128> back = ParseSid("KC", text);  // == sid

#ifndef SESSIONWHEEL_ENGINE_UTIL_SID_H_
#define SESSIONWHEEL_ENGINE_UTIL_SID_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "sessionwheel/sid.h"

namespace sessionwheel::internal {

// A 128-bit SID body; text form is a 2-letter prefix + 32 lower-case hex
// digits (hi then lo).
struct Sid128 {
  uint64_t hi = 0;
  uint64_t lo = 0;

  friend bool operator==(const Sid128& a, const Sid128& b) {
    return a.hi == b.hi && a.lo == b.lo;
  }
  friend bool operator!=(const Sid128& a, const Sid128& b) { return !(a == b); }
  // Orders as the hex text does: by hi, then lo.
  friend bool operator<(const Sid128& a, const Sid128& b) {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Sid128& s) {
    return H::combine(std::move(h), s.hi, s.lo);
  }

  bool is_zero() const { return hi == 0 && lo == 0; }
};

// The public SID with `prefix` and this body, and back.
inline Sid ToSid(std::string_view prefix, const Sid128& body) {
  return Sid(prefix, body.hi, body.lo);
}
inline Sid128 Body(const Sid& sid) { return Sid128{sid.hi(), sid.lo()}; }

// Number of hex digits in a SID body.
inline constexpr size_t kSidHexDigits = 32;

// Writes `v` as 16 lower-case hex digits at `out`, most significant first.
void WriteHex64(char* out, uint64_t v);

// "KC" + 32 lower-case hex digits.
std::string FormatSid(std::string_view prefix, const Sid128& sid);

// Appends the same text to *out (no allocation beyond the append).
void AppendSid(std::string* out, std::string_view prefix, const Sid128& sid);

// Parses exactly prefix + 32 hex digits (either case); nullopt for anything
// else (wrong length, wrong/missing prefix, non-hex, NUL bytes...). The prefix
// is compared case-sensitively: "kc..." is not a Session SID.
std::optional<Sid128> ParseSid(std::string_view prefix, std::string_view text);

// Shard routing uses the top byte of hi (the first two hex digits after the
// prefix).
inline uint8_t ShardByte(const Sid128& sid) {
  return static_cast<uint8_t>(sid.hi >> 56);
}

// Returns `sid` with its shard byte replaced by `b`.
inline Sid128 WithShardByte(Sid128 sid, uint8_t b) {
  sid.hi = (sid.hi & ~(uint64_t{0xff} << 56)) | (uint64_t{b} << 56);
  return sid;
}

// A stable 64-bit hash of bytes: the same value on every run and platform
// (NOT absl::Hash, which is salted per process). Used to route unique names to
// shards and to check page tokens, so its values are pinned by tests and must
// never change: snapshots and outstanding page tokens depend on them.
uint64_t StableHash(std::string_view bytes, uint64_t seed = 0);

// The splitmix64 / murmur3 finalizer: a bijection on 64-bit words with good
// avalanche. Mix(0) == 0.
uint64_t Mix64(uint64_t x);

// Hides a number in 56 bits of a SID and finds it again: a store puts a
// record's 32-bit handle and 24 bits of salt into the bits of a Session SID
// below its shard byte (engine/core/shard.h), so the SID still looks
// random, and only a store with the same key reads the handle back.
//
// A keyed bijection: a four-round Feistel network on two 28-bit halves,
// the round function Mix64 of the half and a round key. Decode(Encode(x))
// is x for every 56-bit x.
class HandleCodec {
 public:
  static constexpr uint64_t kMask = (uint64_t{1} << 56) - 1;

  explicit HandleCodec(uint64_t seed);

  // The 56 bits for `handle` and the low 24 bits of `salt`.
  uint64_t Encode(uint32_t handle, uint64_t salt) const;
  // The handle that Encode put into the low 56 bits of `bits`.
  uint32_t Decode(uint64_t bits) const;

 private:
  static constexpr int kRounds = 4;
  uint64_t keys_[kRounds];
};

// Mints distinct SIDs. Thread-safe and lock-free.
//
// An atomic counter n is fed through a bijective mixer keyed by the seed:
// lo = Mix64(n ^ k0), hi = Mix64(lo ^ k1). Since n -> lo is a bijection, every
// SID from one generator is distinct (guaranteed, not just probable) until the
// counter wraps after 2^64 draws; k1 is never zero, so Next() never returns
// the zero SID. Same seed => same sequence when called from one thread.
//
// With a `tag`, the low 16 bits of lo (a SID's last four hex digits) are the
// tag, and the 48 above them a bijective mix of n: distinct until 2^48 draws
// (StoreOptions::sid_tag).
class SidGenerator {
 public:
  explicit SidGenerator(uint64_t seed,
                        std::optional<uint16_t> tag = std::nullopt);
  SidGenerator(const SidGenerator&) = delete;
  SidGenerator& operator=(const SidGenerator&) = delete;

  // Seeded from std::random_device.
  static uint64_t RandomSeed();

  Sid128 Next();
  // The same, and which draw it was, for GiveBack.
  Sid128 Next(uint64_t* draw);

  // Takes back `draw` if it was the last one, so that the next Next()
  // returns the same SID again: a caller that found it had no use for a SID
  // (a refused create) leaves a seeded sequence as if it had never asked.
  // Does nothing if another SID was drawn since (that one is in use, or
  // about to be; `draw` is then never handed out). Never hands a SID out
  // twice: the counter only goes back from draw + 1 to draw.
  void GiveBack(uint64_t draw) {
    uint64_t last = draw + 1;
    counter_.compare_exchange_strong(last, draw, std::memory_order_relaxed);
  }

  // How many SIDs Next() has returned: a snapshot records it.
  uint64_t minted() const { return counter_.load(std::memory_order_relaxed); }

  // Continues the count after `count` SIDs (does nothing if already past
  // it), so a store restored from a snapshot counts on from its writer's
  // count. It keeps one generator from repeating itself; it cannot keep a
  // restored store from repeating what its writer minted after the
  // snapshot: that takes another key (engine/core/store.cc, sids_).
  void SkipTo(uint64_t count) {
    uint64_t seen = counter_.load(std::memory_order_relaxed);
    while (seen < count && !counter_.compare_exchange_weak(
                               seen, count, std::memory_order_relaxed)) {
    }
  }

 private:
  // Constant after construction.
  uint64_t k0_;
  uint64_t k1_;
  std::optional<uint16_t> tag_;

  std::atomic<uint64_t> counter_{0};
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_UTIL_SID_H_
