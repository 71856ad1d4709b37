#include "engine/persist/crc32c_fast.h"

#include <cstdint>
#include <cstring>

#include "engine/persist/crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define SESSIONWHEEL_CRC32C_SSE42 1
#endif

namespace sessionwheel::internal {
namespace {

#if defined(SESSIONWHEEL_CRC32C_SSE42)

// One 8-byte step per instruction. A single dependency chain, not three
// interleaved ones: the journal's records are a few hundred bytes, where
// the chain's 3-cycle latency costs less than the merging would.
__attribute__((target("sse4.2"))) uint32_t Sse42(std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t crc = 0xffffffffu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // Unaligned and little-endian, as the CRC reads.
    crc = _mm_crc32_u64(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = _mm_crc32_u8(crc32, static_cast<uint8_t>(*p));
  return ~crc32;
}

// __builtin_cpu_init first: this runs as a static initializer, possibly
// before the one that sets up __builtin_cpu_supports. Until it has run the
// flag is false and the table answers, with the same value.
bool DetectSse42() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

const bool kHasSse42 = DetectSse42();

#endif

}  // namespace

uint32_t Crc32cFast(std::string_view bytes) {
#if defined(SESSIONWHEEL_CRC32C_SSE42)
  if (kHasSse42) return Sse42(bytes);
#endif
  return Crc32c(bytes);
}

bool Crc32cFastUsesHardware() {
#if defined(SESSIONWHEEL_CRC32C_SSE42)
  return kHasSse42;
#else
  return false;
#endif
}

}  // namespace sessionwheel::internal
