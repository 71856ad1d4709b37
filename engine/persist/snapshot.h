// Snapshots: a store's Services and Sessions as versioned, checksummed bytes.
//
// The image types below are this room's own: plain fields, in the terms of
// the file format, with nothing of the core's records, so a record's layout
// can change without touching the format and the format without touching
// the record. The core converts its records to and from images in one place
// (engine/core/shard_snapshot.cc).
//
// Writing: the store copies its state into a StoreImage, EncodeSnapshot
// turns the image into bytes outside every lock, and WriteFileAtomically
// (file_io.h) puts them on disk. Loading reverses it: ReadFile, then
// DecodeSnapshot, which checks every byte and every field before a store is
// built, so a bad file is refused whole and nothing is half-loaded.
// docs/snapshots.md has the byte layout.
//
// Example:
//
//   std::string bytes = EncodeSnapshot(image);
//   ...
//   absl::StatusOr<StoreImage> back = DecodeSnapshot(bytes, rules);
//   // *back == image, field by field

#ifndef SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_
#define SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/util/sid.h"

namespace sessionwheel::internal {

// The format this build writes and the only one it reads.
inline constexpr uint32_t kSnapshotVersion = 1;

// A null time in an image (and in the file).
inline constexpr int64_t kNullMs = std::numeric_limits<int64_t>::min();

// A Service as a snapshot holds it. Times are Unix milliseconds.
struct ServiceImage {
  Sid128 sid;
  uint64_t seq = 0;  // Store-wide creation order.
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t default_ttl = 0;  // Seconds.
  std::string unique_name;
};

// A Participant as a snapshot holds it: its "KP" SID as a body.
struct ParticipantImage {
  Sid128 sid;
  std::string identifier;
  std::string friendly_name;
  std::string proxy_identifier;
};

// A Session as a snapshot holds it. Times are Unix milliseconds or kNullMs.
// The enums' numbers are the bytes of the file: never renumber them.
struct SessionImage {
  enum class Status : uint8_t {
    kOpen,
    kInProgress,
    kClosed,
    kFailed,
    kUnknown
  };
  enum class Mode : uint8_t { kMessageOnly, kVoiceOnly, kVoiceAndMessage };
  // Why an ended Session ended; kHost: the host's own closed_reason.
  enum class EndReason : uint8_t { kNone, kApi, kTtl, kDateExpiry, kHost };

  Sid128 sid;
  Sid128 service;
  uint64_t seq = 0;  // Store-wide creation order.
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t base_ms = 0;  // The TTL base: latest of create, re-open, interaction.
  int64_t ended_ms = kNullMs;
  int64_t last_interaction_ms = kNullMs;
  int64_t date_expiry_ms = kNullMs;
  int64_t ttl = 0;  // Seconds; 0: none.
  Status status = Status::kOpen;
  Mode mode = Mode::kVoiceAndMessage;
  EndReason end_reason = EndReason::kNone;
  std::optional<std::string> unique_name;
  std::string host_reason;  // Set only when end_reason == kHost.
  std::vector<ParticipantImage> participants;  // At most 2.
};

// Everything a store needs to come back as it was.
struct StoreImage {
  Sid128 account;
  uint64_t next_seq = 1;  // The next creation sequence number.
  uint64_t sids_minted =
      0;  // The SID generator's count (SidGenerator::SkipTo).
  std::vector<ServiceImage> services;  // Oldest first.
  // In any order: a store writes them shard by shard (SnapshotWriter).
  std::vector<SessionImage> sessions;
};

// What DecodeSnapshot checks but the store defines: which unique_names are
// valid, and which shard byte a named Session's SID carries. The core
// implements it (SnapshotRulesOfTheStore(), engine/core/shard_snapshot.cc),
// so each rule lives in one place and this room needs nothing of the core.
class SnapshotRules {
 public:
  virtual ~SnapshotRules() = default;
  // Whether `name` may be a Service's or a Session's unique_name.
  virtual bool IsValidName(std::string_view name) const = 0;
  // The shard byte the SID of `service`'s Session named `name` carries.
  virtual uint8_t NameShardByte(const Sid128& service,
                                std::string_view name) const = 0;
};

// The snapshot file's bytes for `image`.
std::string EncodeSnapshot(const StoreImage& image);

// Writes a snapshot a record at a time, for a store too large to copy into
// one image: the bytes EncodeSnapshot writes for an image holding the same
// Services and Sessions in the same order. Services come first, then
// Sessions; the counts, next_seq and sids_minted are filled in by Finish(),
// which rewrites the first bytes, and the checksum is combined from the
// pieces (Crc32cCombine), so nothing is read back. Bytes reach the sink in
// pieces of about kFlushBytes, so the writer's memory stays that size.
//
// Example:
//
//   SnapshotWriter writer(&file_sink, account);
//   for (...) writer.AddService(service);
//   for (...) writer.AddSession(session);
//   writer.Finish(next_seq, sids_minted);  // then commit the file
class SnapshotWriter {
 public:
  static constexpr size_t kFlushBytes = size_t{1} << 20;

  // Where the bytes go: appended in order, and the first ones overwritten
  // once at the end (an AtomicFileWriter, or a string).
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual absl::Status Append(std::string_view bytes) = 0;
    virtual absl::Status WriteAt(uint64_t offset, std::string_view bytes) = 0;
  };

  SnapshotWriter(Sink* sink, const Sid128& account);
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Errors: the sink's, after which every call returns it; Internal for a
  // Service after a Session.
  absl::Status AddService(const ServiceImage& image);
  absl::Status AddSession(const SessionImage& image);
  absl::Status Finish(uint64_t next_seq, uint64_t sids_minted);

 private:
  absl::Status FlushIfFull();
  absl::Status Flush();

  Sink* const sink_;
  Sid128 account_;
  std::string buffer_;
  // Where the records start in buffer_: after the prefix, until the first
  // flush.
  size_t records_from_ = 0;
  uint32_t records_crc_ = 0;  // Of the records flushed so far.
  uint64_t records_bytes_ = 0;
  uint32_t services_ = 0;
  uint64_t sessions_ = 0;
  absl::Status status_;
};

// Writes the snapshot file at `path` atomically (AtomicFileWriter): `fill`
// adds the Services and Sessions to the writer and calls Finish(); then the
// file is synced and renamed into place. Returns the file's size. Errors:
// `fill`'s, or the file's (as WriteFileAtomically's); the target is then
// untouched.
absl::StatusOr<uint64_t> WriteSnapshotFile(
    const std::string& path, const Sid128& account,
    absl::FunctionRef<absl::Status(SnapshotWriter&)> fill);

// Parses and checks a whole snapshot. Errors: InvalidArgument when the bytes
// do not start with the snapshot magic; FailedPrecondition for a format
// version this build does not read; DataLoss for anything truncated,
// corrupted (checksum mismatch) or inconsistent (a duplicate SID, name or
// sequence number, a value out of range, a name `rules` refuses, a named
// Session in the wrong shard...). The message says which.
absl::StatusOr<StoreImage> DecodeSnapshot(std::string_view bytes,
                                          const SnapshotRules& rules);

// Single images, in the bytes a snapshot's body holds them, for the
// journal's records (engine/core/durability.h): one format for a Session
// wherever it is written.
void AppendServiceImage(const ServiceImage& image, std::string* out);
void AppendSessionImage(const SessionImage& image, std::string* out);

// Parses exactly one image from `bytes` and checks it as DecodeSnapshot
// checks one (the rules between images are the reader's). Errors: DataLoss,
// saying what is wrong.
absl::Status ParseServiceImage(std::string_view bytes,
                               const SnapshotRules& rules, ServiceImage* out);
absl::Status ParseSessionImage(std::string_view bytes,
                               const SnapshotRules& rules, SessionImage* out);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_
