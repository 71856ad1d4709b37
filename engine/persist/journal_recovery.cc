// ReadJournal and RecoverJournal: the segments in LSN order, each record
// checked, and the recovery modes' rules for damage (docs/journal.md).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/persist/journal.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

struct Segment {
  uint64_t first_lsn;
  std::string name;
};

// What RecoverJournal changes once reading has stopped.
struct Repair {
  // The segment where reading stopped early, and the end of its last good
  // record: it is cut there.
  std::optional<size_t> cut_segment;
  uint64_t cut_offset = 0;
  // kPointInTime: segments from this index on follow the damage and are set
  // aside as `.corrupt`.
  std::optional<size_t> discard_from;
  // The last segment holds no record (a torn header, or a header alone).
  bool remove_last = false;
};

std::string Num(uint64_t v) { return std::to_string(v); }

// Whether a record that passes its CRC starts anywhere in `bytes` after
// `offset` with an LSN that could follow `next_lsn`: if one does, the bad
// record at `offset` is damage, not a write the crash cut short. Cheap
// filters (the length fits, the LSN is in range) before the CRC; each
// record takes at least kRecordHeaderBytes, which bounds the LSN.
bool ValidRecordAfter(std::string_view bytes, size_t offset,
                      uint64_t next_lsn) {
  for (size_t at = offset + 1; at + kRecordHeaderBytes <= bytes.size(); ++at) {
    const std::string_view rest = bytes.substr(at);
    const std::optional<RecordHeader> header = PeekRecordHeader(rest);
    if (header->payload_bytes > rest.size() - kRecordHeaderBytes) continue;
    const uint64_t max_skipped = (at - offset) / kRecordHeaderBytes;
    if (header->lsn < next_lsn || header->lsn - next_lsn > max_skipped) {
      continue;
    }
    JournalRecord record;
    size_t size;
    if (DecodeRecord(rest, &record, &size) == RecordCheck::kOk) return true;
  }
  return false;
}

// Why a record that DecodeRecord refused is bad.
std::string_view Why(RecordCheck check) {
  switch (check) {
    case RecordCheck::kTruncated:
      return "a record cut short";
    case RecordCheck::kBadLength:
      return "a record length over the limit";
    case RecordCheck::kBadChecksum:
      return "a record checksum mismatch";
    case RecordCheck::kOk:
      break;
  }
  return "a valid record";
}

class JournalReader {
 public:
  JournalReader(const JournalOptions& options, JournalRecovery mode,
                absl::FunctionRef<absl::Status(const JournalRecord&)> fn)
      : dir_(options.dir),
        files_(options.files != nullptr ? options.files : PosixJournalFiles()),
        mode_(mode),
        fn_(fn) {}

  // Reads from `from_lsn`; on success, repair() says what RecoverJournal
  // should change.
  absl::StatusOr<uint64_t> Read(uint64_t from_lsn) {
    absl::StatusOr<std::vector<std::string>> names = files_->List(dir_);
    if (!names.ok()) return names.status();
    for (std::string& name : *names) {
      if (std::optional<uint64_t> first = ParseSegmentFileName(name)) {
        segments_.push_back(Segment{*first, std::move(name)});
      }
    }
    if (segments_.empty()) return from_lsn;
    std::sort(segments_.begin(), segments_.end(),
              [](const Segment& a, const Segment& b) {
                return a.first_lsn < b.first_lsn;
              });
    if (segments_.front().first_lsn > from_lsn) {
      return absl::OutOfRangeError(
          Cat("journal ", dir_, ": LSN ", Num(from_lsn),
              " is before the oldest segment, ", segments_.front().name,
              ": its records were removed or never written"));
    }
    // The last segment starting at or before from_lsn; the ones before it
    // hold only older records and are not read.
    size_t start = 0;
    while (start + 1 < segments_.size() &&
           segments_[start + 1].first_lsn <= from_lsn) {
      ++start;
    }
    next_lsn_ = segments_[start].first_lsn;
    for (size_t i = start; i < segments_.size(); ++i) {
      absl::StatusOr<bool> more = ReadSegment(i, from_lsn);
      if (!more.ok()) return more.status();
      if (!*more) break;
    }
    return std::max(next_lsn_, from_lsn);
  }

  // Makes the directory match what Read returned (RecoverJournal).
  absl::Status Apply() {
    if (repair_.cut_segment.has_value()) {
      const size_t i = *repair_.cut_segment;
      if (repair_.cut_offset <= kSegmentHeaderBytes) {
        // No record left, and a writer will want the name. The last
        // segment's bad record was most likely torn: it goes. In the
        // middle, it is set aside with the segments after it.
        if (i + 1 == segments_.size()) {
          repair_.remove_last = true;
        } else {
          repair_.discard_from = i;
        }
      } else {
        absl::Status s = files_->Truncate(Path(i), repair_.cut_offset);
        if (!s.ok()) return s;
      }
    }
    if (repair_.discard_from.has_value()) {
      for (size_t i = *repair_.discard_from; i < segments_.size(); ++i) {
        absl::Status s = files_->Rename(Path(i), Cat(Path(i), ".corrupt"));
        if (!s.ok()) return s;
      }
    } else if (repair_.remove_last) {
      return files_->Remove(Path(segments_.size() - 1));
    }
    return absl::OkStatus();
  }

 private:
  std::string Path(size_t i) const { return Cat(dir_, "/", segments_[i].name); }

  absl::Status Damaged(size_t i, uint64_t offset, std::string_view what) const {
    return absl::DataLossError(
        Cat("journal ", Path(i), " at offset ", Num(offset), ": ", what));
  }

  // Reads segment `i`, calling fn_ for its records at or after from_lsn.
  // Returns whether reading goes on to the next segment.
  absl::StatusOr<bool> ReadSegment(size_t i, uint64_t from_lsn) {
    const bool last = i + 1 == segments_.size();
    const bool tolerate_tail = mode_ == JournalRecovery::kTolerateTornTail;
    if (segments_[i].first_lsn != next_lsn_) {
      if (tolerate_tail) {
        return Damaged(
            i, 0,
            Cat("the segment starts at LSN ", Num(segments_[i].first_lsn),
                " where LSN ", Num(next_lsn_), " was due"));
      }
      repair_.discard_from = i;
      return false;
    }
    absl::StatusOr<std::string> read = files_->ReadAll(Path(i));
    if (!read.ok()) return read.status();
    const std::string_view bytes = *read;

    const std::optional<SegmentHeader> header = DecodeSegmentHeader(bytes);
    if (!header.has_value() || header->first_lsn != segments_[i].first_lsn) {
      // Torn while being created: the header is synced before any record
      // is written, so a segment holding no more than a header's bytes
      // holds no record.
      if (last && bytes.size() <= kSegmentHeaderBytes) {
        repair_.remove_last = true;
        return false;
      }
      if (tolerate_tail) {
        return Damaged(i, 0,
                       header.has_value()
                           ? "the header's first LSN is not the file name's"
                           : "a damaged segment header");
      }
      repair_.discard_from = i;
      return false;
    }
    if (header->version < kOldestJournalVersion ||
        header->version > kJournalVersion) {
      return absl::FailedPreconditionError(
          Cat("journal ", Path(i), ": format version ", Num(header->version),
              "; this build reads version ", Num(kJournalVersion)));
    }

    size_t offset = kSegmentHeaderBytes;
    while (offset < bytes.size()) {
      JournalRecord record;
      size_t size = 0;
      const RecordCheck check =
          DecodeRecord(bytes.substr(offset), &record, &size);
      if (check == RecordCheck::kOk && record.lsn == next_lsn_) {
        if (record.lsn >= from_lsn) {
          absl::Status s = fn_(record);
          if (!s.ok()) return s;
        }
        ++next_lsn_;
        offset += size;
        continue;
      }
      // A bad record. kTolerateTornTail forgives only a torn tail: an
      // unreadable record at the end of the last segment with no valid
      // record after it. A valid record with the wrong LSN is never torn.
      if (tolerate_tail) {
        const bool torn = check != RecordCheck::kOk && last &&
                          !ValidRecordAfter(bytes, offset, next_lsn_);
        if (!torn) {
          return Damaged(
              i, offset,
              check == RecordCheck::kOk
                  ? Cat("a record of LSN ", Num(record.lsn), " where LSN ",
                        Num(next_lsn_), " was due")
                  : Cat(Why(check),
                        last ? ", followed by valid records"
                             : ", in a segment that is not the last"));
        }
      } else if (!last) {
        repair_.discard_from = i + 1;
      }
      repair_.cut_segment = i;
      repair_.cut_offset = offset;
      return false;
    }
    if (last && offset == kSegmentHeaderBytes) repair_.remove_last = true;
    return true;
  }

  const std::string dir_;
  JournalFiles* const files_;
  const JournalRecovery mode_;
  const absl::FunctionRef<absl::Status(const JournalRecord&)> fn_;

  std::vector<Segment> segments_;  // In LSN order.
  uint64_t next_lsn_ = 0;
  Repair repair_;
};

}  // namespace

absl::StatusOr<uint64_t> ReadJournal(
    const JournalOptions& options, uint64_t from_lsn, JournalRecovery mode,
    absl::FunctionRef<absl::Status(const JournalRecord&)> fn) {
  return JournalReader(options, mode, fn).Read(from_lsn);
}

absl::StatusOr<uint64_t> RecoverJournal(
    const JournalOptions& options, uint64_t from_lsn, JournalRecovery mode,
    absl::FunctionRef<absl::Status(const JournalRecord&)> fn) {
  JournalReader reader(options, mode, fn);
  absl::StatusOr<uint64_t> next = reader.Read(from_lsn);
  if (!next.ok()) return next;
  absl::Status repaired = reader.Apply();
  if (!repaired.ok()) return repaired;
  return next;
}

}  // namespace sessionwheel::internal
