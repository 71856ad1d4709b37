#include "engine/util/sid.h"

#include <cstring>
#include <ostream>
#include <random>

namespace sessionwheel::internal {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// The 64-bit golden ratio, the splitmix64 increment.
constexpr uint64_t kGolden = 0x9e3779b97f4a7c15;

// The longest prefix a SID has ("KC", "KS", "AC", "KP"; page tokens use "").
constexpr size_t kMaxSidPrefix = 2;

// Eight bytes at a time ("SWAR"): every Session call parses two SIDs, so this
// is on the hot path, and a byte-by-byte loop was a sixth of a fetch.
constexpr uint64_t kOnes = 0x0101010101010101;  // One in every byte.
constexpr uint64_t kHigh = 0x8080808080808080;  // Each byte's top bit.

// The top bit of each byte of `w` (all bytes below 0x80) whose value is in
// [lo, hi]. Adding 0x80 - lo sets a byte's top bit iff byte >= lo, and
// adding 0x7f - hi iff byte > hi; neither sum carries into the next byte.
uint64_t BytesInRange(uint64_t w, uint8_t lo, uint8_t hi) {
  const uint64_t at_least_lo = (w + kOnes * (0x80 - lo)) & kHigh;
  const uint64_t above_hi = (w + kOnes * (0x7f - hi)) & kHigh;
  return at_least_lo & ~above_hi;
}

// Parses 8 hex digits of either case at `p` into the low 32 bits of *v.
bool ParseHex32(const char* p, uint64_t* v) {
  // Byte i of w is p[i], whatever the host's byte order.
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  if constexpr (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) {
    w = __builtin_bswap64(w);
  }
  if ((w & kHigh) != 0) return false;  // Not ASCII: the sums below need it.
  const uint64_t digit = BytesInRange(w, '0', '9');
  const uint64_t letter = BytesInRange(w | kOnes * 0x20, 'a', 'f');
  if ((digit | letter) != kHigh) return false;
  // '0'..'9' and 'a'..'f'/'A'..'F' end in 0..9 and 1..6: letters add 9.
  uint64_t n = (w & kOnes * 0x0f) + (letter >> 7) * 9;
  // Pack the nibbles, p[0] most significant: bytes pairwise, then 16-bit
  // lanes, then 32-bit lanes.
  n = ((n << 4) | (n >> 8)) & 0x00ff00ff00ff00ff;
  n = ((n << 8) | (n >> 16)) & 0x0000ffff0000ffff;
  n = ((n << 16) | (n >> 32)) & 0x00000000ffffffff;
  *v = n;
  return true;
}

// Parses exactly 16 hex digits at `p` into *v.
bool ParseHex64(const char* p, uint64_t* v) {
  uint64_t hi = 0, lo = 0;
  if (!ParseHex32(p, &hi) || !ParseHex32(p + 8, &lo)) return false;
  *v = hi << 32 | lo;
  return true;
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

// By hand, not absl::Hex: every Session answer and event writes two SIDs,
// and a fixed 16-digit loop into a caller's buffer needs no string.
void WriteHex64(char* out, uint64_t v) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHexDigits[v & 0xf];
    v >>= 4;
  }
}

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

namespace {
constexpr int kHalfBits = 28;
constexpr uint64_t kHalfMask = (uint64_t{1} << kHalfBits) - 1;
}  // namespace

HandleCodec::HandleCodec(uint64_t seed) {
  uint64_t state = seed ^ 0x68616e646c65ULL;  // "handle": not the SID keys.
  for (uint64_t& k : keys_) k = SplitMix(&state);
}

uint64_t HandleCodec::Encode(uint32_t handle, uint64_t salt) const {
  uint64_t left = (salt & 0xffffff) << 4 | handle >> 28;
  uint64_t right = handle & kHalfMask;
  for (uint64_t k : keys_) {
    const uint64_t next = left ^ (Mix64(right ^ k) & kHalfMask);
    left = right;
    right = next;
  }
  return left << kHalfBits | right;
}

uint32_t HandleCodec::Decode(uint64_t bits) const {
  uint64_t left = (bits & kMask) >> kHalfBits;
  uint64_t right = bits & kHalfMask;
  for (int i = kRounds - 1; i >= 0; --i) {
    const uint64_t previous = right ^ (Mix64(left ^ keys_[i]) & kHalfMask);
    right = left;
    left = previous;
  }
  return static_cast<uint32_t>((left & 0xf) << 28 | right);
}

namespace {

// A bijection on 48-bit words: xor-shifts and odd multipliers, each one
// invertible modulo 2^48.
uint64_t Mix48(uint64_t x) {
  constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;
  x &= kMask48;
  x ^= x >> 24;
  x = (x * 0xd6e8feb86659fd93ULL) & kMask48;
  x ^= x >> 23;
  x = (x * 0x9e3779b97f4a7c15ULL) & kMask48;
  x ^= x >> 24;
  return x;
}

}  // namespace

SidGenerator::SidGenerator(uint64_t seed, std::optional<uint16_t> tag)
    : tag_(tag) {
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
  uint64_t draw;
  return Next(&draw);
}

Sid128 SidGenerator::Next(uint64_t* draw) {
  const uint64_t n = counter_.fetch_add(1, std::memory_order_relaxed);
  *draw = n;
  Sid128 sid;
  sid.lo = tag_.has_value() ? Mix48(n ^ k0_) << 16 | *tag_ : Mix64(n ^ k0_);
  sid.hi = Mix64(sid.lo ^ k1_);
  return sid;
}

}  // namespace sessionwheel::internal

namespace sessionwheel {

namespace {
// A resource prefix: two upper-case ASCII letters.
bool IsPrefix(std::string_view prefix) {
  return prefix.size() == 2 && prefix[0] >= 'A' && prefix[0] <= 'Z' &&
         prefix[1] >= 'A' && prefix[1] <= 'Z';
}
}  // namespace

std::optional<Sid> Sid::Parse(std::string_view text) {
  if (text.size() != kTextSize) return std::nullopt;
  return Parse(text.substr(0, 2), text);
}

std::optional<Sid> Sid::Parse(std::string_view prefix, std::string_view text) {
  if (!IsPrefix(prefix)) return std::nullopt;
  std::optional<internal::Sid128> body = internal::ParseSid(prefix, text);
  if (!body) return std::nullopt;
  return Sid(prefix, body->hi, body->lo);
}

void Sid::Write(char* out) const {
  out[0] = prefix_[0];
  out[1] = prefix_[1];
  internal::WriteHex64(out + 2, hi_);
  internal::WriteHex64(out + 18, lo_);
}

std::string Sid::ToString() const {
  if (is_null()) return std::string();
  char text[kTextSize];
  Write(text);
  return std::string(text, kTextSize);
}

void Sid::AppendTo(std::string* out) const {
  if (is_null()) return;
  const size_t start = out->size();
  out->resize(start + kTextSize);
  Write(out->data() + start);
}

std::ostream& operator<<(std::ostream& os, const Sid& sid) {
  if (sid.is_null()) return os << "(null SID)";
  char text[Sid::kTextSize];
  sid.Write(text);
  return os.write(text, Sid::kTextSize);
}

}  // namespace sessionwheel
