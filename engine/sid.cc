#include "engine/sid.h"

#include <array>
#include <cstring>
#include <random>

namespace sessionwheel::internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// The 64-bit golden ratio, the splitmix64 increment.
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15;

// Writes `v` as 16 lower-case hex digits, most significant first.
void WriteHex64(char* out, uint64_t v) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHexDigits[v & 0xf];
    v >>= 4;
  }
}

// The longest prefix a SID has ("KC", "KS", "AC", "KP"; page tokens use "").
constexpr size_t kMaxSidPrefix = 2;

// The value of each byte as a hex digit of either case, or 0xff. A table:
// every Session call parses two SIDs, so this loop is on the hot path.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xff;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

// Parses exactly 16 hex digits at `p` into *v.
bool ParseHex64(const char* p, uint64_t* v) {
  uint64_t r = 0;
  uint8_t bad = 0;
  for (int i = 0; i < 16; ++i) {
    const uint8_t d = kHexValue[static_cast<unsigned char>(p[i])];
    bad |= d;  // Only 0xff has bit 4 set: every digit is 0..15.
    r = (r << 4) | (d & 0xf);
  }
  *v = r;
  return (bad & 0x10) == 0;
}

// Reads `n` (0..8) bytes as a little-endian word, byte by byte, so the result
// does not depend on the host's byte order.
uint64_t LoadLe(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Derives a sub-key from a seed (one splitmix64 step).
uint64_t SplitMix(uint64_t* state) {
  *state += kGolden;
  return Mix64(*state);
}

}  // namespace

std::string FormatSid(std::string_view prefix, const Sid128& sid) {
  // Built on the stack and copied once: every Session the store returns
  // formats its SID, and growing a std::string costs more than the digits.
  if (prefix.size() > kMaxSidPrefix) {
    std::string out;
    AppendSid(&out, prefix, sid);
    return out;
  }
  char text[kMaxSidPrefix + kSidHexDigits];
  std::memcpy(text, prefix.data(), prefix.size());
  WriteHex64(text + prefix.size(), sid.hi);
  WriteHex64(text + prefix.size() + 16, sid.lo);
  return std::string(text, prefix.size() + kSidHexDigits);
}

void AppendSid(std::string* out, std::string_view prefix, const Sid128& sid) {
  const size_t start = out->size();
  out->resize(start + prefix.size() + kSidHexDigits);
  char* p = out->data() + start;
  if (!prefix.empty()) std::memcpy(p, prefix.data(), prefix.size());
  p += prefix.size();
  WriteHex64(p, sid.hi);
  WriteHex64(p + 16, sid.lo);
}

std::optional<Sid128> ParseSid(std::string_view prefix, std::string_view text) {
  if (text.size() != prefix.size() + kSidHexDigits) return std::nullopt;
  if (text.substr(0, prefix.size()) != prefix) return std::nullopt;
  const char* p = text.data() + prefix.size();
  Sid128 sid;
  if (!ParseHex64(p, &sid.hi) || !ParseHex64(p + 16, &sid.lo)) {
    return std::nullopt;
  }
  return sid;
}

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9;
  x ^= x >> 27;
  x *= 0x94d049bb133111eb;
  x ^= x >> 31;
  return x;
}

// Eight bytes at a time, each word folded into the state through Mix64; the
// tail (0..7 bytes) and then the length go in last, so "a" and "a\0" differ.
// Words are assembled byte by byte, so the value never depends on the host.
uint64_t StableHash(std::string_view bytes, uint64_t seed) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t n = bytes.size();
  uint64_t h = Mix64(seed ^ kGolden);
  while (n >= 8) {
    h = Mix64(h ^ LoadLe(p, 8)) + kGolden;
    p += 8;
    n -= 8;
  }
  h = Mix64(h ^ LoadLe(p, n)) + kGolden;
  return Mix64(h ^ static_cast<uint64_t>(bytes.size()));
}

SidGenerator::SidGenerator(uint64_t seed) {
  uint64_t state = seed;
  k0_ = SplitMix(&state);
  k1_ = SplitMix(&state);
  // A zero k1 would map lo == 0 to hi == 0, the zero SID.
  if (k1_ == 0) k1_ = kGolden;
}

uint64_t SidGenerator::RandomSeed() {
  std::random_device rd;
  uint64_t seed = 0;
  for (int i = 0; i < 2; ++i) seed = (seed << 32) | uint64_t{rd()};
  return seed;
}

Sid128 SidGenerator::Next() {
  const uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  Sid128 sid;
  sid.lo = Mix64(n ^ k0_);
  sid.hi = Mix64(sid.lo ^ k1_);
  return sid;
}

}  // namespace sessionwheel::internal
