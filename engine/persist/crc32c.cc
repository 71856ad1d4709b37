#include "engine/persist/crc32c.h"

#include <array>
#include <cstdint>

namespace sessionwheel::internal {
namespace {

// The reflected table of the Castagnoli polynomial 0x1EDC6F41.
constexpr std::array<uint32_t, 256> kCrcTable = [] {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    t[i] = c;
  }
  return t;
}();

// A 32x32 matrix over GF(2), one column per bit: the effect of running the
// CRC register over some number of zero bits.
using Gf2Matrix = std::array<uint32_t, 32>;

uint32_t Times(const Gf2Matrix& m, uint32_t v) {
  uint32_t out = 0;
  for (int bit = 0; v != 0; ++bit, v >>= 1) {
    if (v & 1u) out ^= m[bit];
  }
  return out;
}

Gf2Matrix Squared(const Gf2Matrix& m) {
  Gf2Matrix out;
  for (int bit = 0; bit < 32; ++bit) out[bit] = Times(m, m[bit]);
  return out;
}

}  // namespace

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b) {
  // CRC(A || B) is CRC(A) run through size_b zero bytes, xor CRC(B): the
  // pre- and post-inversions cancel. Running through 2^k zero bytes is a
  // matrix, squared from one zero bit's, applied for each set bit of
  // size_b (zlib's crc32_combine does the same).
  Gf2Matrix one_bit;
  one_bit[0] = 0x82f63b78u;
  for (int bit = 1; bit < 32; ++bit) one_bit[bit] = 1u << (bit - 1);
  Gf2Matrix zeros = Squared(Squared(Squared(one_bit)));  // One zero byte.
  for (; size_b != 0; size_b >>= 1) {
    if (size_b & 1u) crc_a = Times(zeros, crc_a);
    zeros = Squared(zeros);
  }
  return crc_a ^ crc_b;
}

uint32_t Crc32c(std::string_view bytes) {
  uint32_t crc = ~0u;
  for (char c : bytes) {
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(c)) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

}  // namespace sessionwheel::internal
