// The journal's bytes: segment file names, the segment header, records and
// their masked CRC-32C. docs/journal.md has the layout byte by byte; the
// writer (journal.cc) and the reader (journal_recovery.cc) share these
// helpers so the two can never disagree on an offset.
//
// Example:
//
//   std::string file = EncodeSegmentHeader(1) + EncodeRecord(7, 1, "abc");
//   JournalRecord record;
//   size_t size;
//   DecodeRecord(std::string_view(file).substr(kSegmentHeaderBytes), &record,
//                &size);  // RecordCheck::kOk; record.lsn == 1, size == 20

#ifndef SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FORMAT_H_
#define SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sessionwheel::internal {

// One record as the journal holds it. The payload is opaque here: the store
// encodes its images into it and says how with `type`.
struct JournalRecord {
  uint8_t type = 0;
  uint64_t lsn = 0;
  std::string_view payload;
};

// The format this build writes. It reads this one and version 1, whose
// Session images have no Participant dates (docs/journal.md).
inline constexpr uint32_t kJournalVersion = 2;
inline constexpr uint32_t kOldestJournalVersion = 1;
inline constexpr std::string_view kJournalMagic("SWHLJRNL", 8);
// Magic, version, first LSN, CRC.
inline constexpr size_t kSegmentHeaderBytes = 24;
// CRC, payload length, type, LSN.
inline constexpr size_t kRecordHeaderBytes = 17;
// A limit, so that a damaged length can never ask a reader for gigabytes,
// and a record always fits a buffer.
inline constexpr uint32_t kMaxJournalPayloadBytes = uint32_t{16} << 20;

// "journal-<first LSN as 16 lower-case hex digits>.log": names sort as
// their LSNs do.
std::string SegmentFileName(uint64_t first_lsn);

// The first LSN a segment file name carries; nullopt for any other name
// (upper-case digits, another length, a `.corrupt` suffix...).
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

// The header of a segment whose first record will be `first_lsn`.
std::string EncodeSegmentHeader(uint64_t first_lsn);

struct SegmentHeader {
  uint32_t version = 0;
  uint64_t first_lsn = 0;
};

// The header at the start of `bytes`; nullopt when `bytes` is shorter than a
// header or the magic or the CRC is wrong. The version is the caller's to
// check: a header that passes its CRC with another version is a newer
// format, not damage.
std::optional<SegmentHeader> DecodeSegmentHeader(std::string_view bytes);

// Writes a record header to `out` (kRecordHeaderBytes) with a zero CRC:
// SealRecords computes it later, away from the appenders' lock.
void EncodeRecordHeader(uint32_t payload_bytes, uint8_t type, uint64_t lsn,
                        char* out);

// Sets the CRC of each record in `records`, whole records back to back as
// EncodeRecordHeader and the payloads left them.
void SealRecords(char* records, size_t size);

// One whole record, sealed.
std::string EncodeRecord(uint8_t type, uint64_t lsn, std::string_view payload);

// A record header's fields, read without checking anything: the reader's
// cheap filters before it spends a CRC on a candidate record.
struct RecordHeader {
  uint32_t payload_bytes = 0;
  uint8_t type = 0;
  uint64_t lsn = 0;
};

// The header at the start of `bytes`; nullopt when `bytes` is shorter.
std::optional<RecordHeader> PeekRecordHeader(std::string_view bytes);

enum class RecordCheck {
  kOk,
  kTruncated,    // Fewer bytes than the header or its length asks for.
  kBadLength,    // A length over kMaxJournalPayloadBytes.
  kBadChecksum,  // The CRC does not match.
};

// Checks and decodes the record at the start of `bytes`. On kOk, sets
// `*record` (its payload points into `bytes`) and `*size`, the record's
// bytes with its header. The LSN is the caller's to check.
RecordCheck DecodeRecord(std::string_view bytes, JournalRecord* record,
                         size_t* size);

// leveldb's mask: the CRC of a string that holds CRCs of its own (a journal
// record embedded in a payload) is more often zero or repeated, so the
// stored value is rotated and offset.
uint32_t MaskCrc(uint32_t crc);
uint32_t UnmaskCrc(uint32_t masked);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FORMAT_H_
