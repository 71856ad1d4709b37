// CRC-32C (Castagnoli, the iSCSI polynomial), the checksum of the snapshot
// format: it detects every burst error of up to 32 bits, so any single
// flipped bit of a file is caught.
//
// Example:
//
//   uint32_t crc = Crc32c("123456789");  // 0xe3069283, the standard check
//
// A table-driven byte-at-a-time loop: a snapshot is checksummed once per
// write and once per load, far from the hot paths.

#ifndef SESSIONWHEEL_ENGINE_PERSIST_CRC32C_H_
#define SESSIONWHEEL_ENGINE_PERSIST_CRC32C_H_

#include <cstdint>
#include <string_view>

namespace sessionwheel::internal {

// CRC-32C of `bytes`.
uint32_t Crc32c(std::string_view bytes);

// CRC-32C of A followed by B, from Crc32c(A), Crc32c(B) and B's size: so a
// writer can checksum a file whose first bytes it writes last.
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t size_b);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_CRC32C_H_
