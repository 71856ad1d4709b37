#include "engine/persist/journal_format.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "engine/persist/crc32c_fast.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

constexpr std::string_view kNamePrefix = "journal-";
constexpr std::string_view kNameSuffix = ".log";
constexpr size_t kNameDigits = 16;

// Header offsets (docs/journal.md).
constexpr size_t kVersionOffset = 8;
constexpr size_t kFirstLsnOffset = 12;
constexpr size_t kHeaderCrcOffset = 20;

// Record offsets: the CRC covers everything from kLengthOffset on.
constexpr size_t kLengthOffset = 4;
constexpr size_t kTypeOffset = 8;
constexpr size_t kLsnOffset = 9;

constexpr uint32_t kMaskDelta = 0xa282ead8u;

void PutLe(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  }
  return v;
}

uint32_t GetLe32(const char* p) { return static_cast<uint32_t>(GetLe(p, 4)); }

}  // namespace

uint32_t MaskCrc(uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}

uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rotated = masked - kMaskDelta;
  return (rotated >> 17) | (rotated << 15);
}

std::string SegmentFileName(uint64_t first_lsn) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[kNameDigits];
  for (size_t i = 0; i < kNameDigits; ++i) {
    digits[kNameDigits - 1 - i] = kHex[(first_lsn >> (4 * i)) & 0xf];
  }
  return Cat(kNamePrefix, std::string_view(digits, kNameDigits), kNameSuffix);
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != kNamePrefix.size() + kNameDigits + kNameSuffix.size() ||
      name.substr(0, kNamePrefix.size()) != kNamePrefix ||
      name.substr(kNamePrefix.size() + kNameDigits) != kNameSuffix) {
    return std::nullopt;
  }
  uint64_t lsn = 0;
  for (char c : name.substr(kNamePrefix.size(), kNameDigits)) {
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    lsn = (lsn << 4) | digit;
  }
  return lsn;
}

std::string EncodeSegmentHeader(uint64_t first_lsn) {
  std::string header(kSegmentHeaderBytes, '\0');
  std::memcpy(header.data(), kJournalMagic.data(), kJournalMagic.size());
  PutLe(&header[kVersionOffset], kJournalVersion, 4);
  PutLe(&header[kFirstLsnOffset], first_lsn, 8);
  const uint32_t crc =
      Crc32cFast(std::string_view(header.data(), kHeaderCrcOffset));
  PutLe(&header[kHeaderCrcOffset], MaskCrc(crc), 4);
  return header;
}

std::optional<SegmentHeader> DecodeSegmentHeader(std::string_view bytes) {
  if (bytes.size() < kSegmentHeaderBytes ||
      bytes.substr(0, kJournalMagic.size()) != kJournalMagic) {
    return std::nullopt;
  }
  const uint32_t crc = Crc32cFast(bytes.substr(0, kHeaderCrcOffset));
  if (UnmaskCrc(GetLe32(&bytes[kHeaderCrcOffset])) != crc) return std::nullopt;
  SegmentHeader header;
  header.version = GetLe32(&bytes[kVersionOffset]);
  header.first_lsn = GetLe(&bytes[kFirstLsnOffset], 8);
  return header;
}

void EncodeRecordHeader(uint32_t payload_bytes, uint8_t type, uint64_t lsn,
                        char* out) {
  PutLe(out, 0, 4);
  PutLe(out + kLengthOffset, payload_bytes, 4);
  out[kTypeOffset] = static_cast<char>(type);
  PutLe(out + kLsnOffset, lsn, 8);
}

void SealRecords(char* records, size_t size) {
  size_t at = 0;
  while (at < size) {
    char* record = records + at;
    const size_t bytes = kRecordHeaderBytes + GetLe32(record + kLengthOffset);
    const uint32_t crc = Crc32cFast(
        std::string_view(record + kLengthOffset, bytes - kLengthOffset));
    PutLe(record, MaskCrc(crc), 4);
    at += bytes;
  }
}

std::string EncodeRecord(uint8_t type, uint64_t lsn, std::string_view payload) {
  std::string record(kRecordHeaderBytes, '\0');
  EncodeRecordHeader(static_cast<uint32_t>(payload.size()), type, lsn,
                     record.data());
  record.append(payload);
  SealRecords(record.data(), record.size());
  return record;
}

std::optional<RecordHeader> PeekRecordHeader(std::string_view bytes) {
  if (bytes.size() < kRecordHeaderBytes) return std::nullopt;
  RecordHeader header;
  header.payload_bytes = GetLe32(&bytes[kLengthOffset]);
  header.type = static_cast<uint8_t>(bytes[kTypeOffset]);
  header.lsn = GetLe(&bytes[kLsnOffset], 8);
  return header;
}

RecordCheck DecodeRecord(std::string_view bytes, JournalRecord* record,
                         size_t* size) {
  if (bytes.size() < kRecordHeaderBytes) return RecordCheck::kTruncated;
  const uint32_t length = GetLe32(&bytes[kLengthOffset]);
  if (length > kMaxJournalPayloadBytes) return RecordCheck::kBadLength;
  const size_t bytes_needed = kRecordHeaderBytes + length;
  if (bytes.size() < bytes_needed) return RecordCheck::kTruncated;
  const uint32_t crc =
      Crc32cFast(bytes.substr(kLengthOffset, bytes_needed - kLengthOffset));
  if (UnmaskCrc(GetLe32(bytes.data())) != crc) return RecordCheck::kBadChecksum;
  record->type = static_cast<uint8_t>(bytes[kTypeOffset]);
  record->lsn = GetLe(&bytes[kLsnOffset], 8);
  record->payload = bytes.substr(kRecordHeaderBytes, length);
  *size = bytes_needed;
  return RecordCheck::kOk;
}

}  // namespace sessionwheel::internal
