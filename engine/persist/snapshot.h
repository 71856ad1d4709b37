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
// (file_io.h) puts them on disk. Loading reverses it a Session at a time
// (SnapshotReader), checking every byte and every field; the store it fills
// is not handed out until the whole file has passed, so a bad file is
// refused whole and nothing is half-loaded.
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
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/util/sid.h"

namespace sessionwheel::internal {

// The format this build writes. It reads this one and version 1, which
// has no Participant dates and no Interactions (docs/snapshots.md).
inline constexpr uint32_t kSnapshotVersion = 2;
inline constexpr uint32_t kOldestSnapshotVersion = 1;

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

// A Participant as a snapshot holds it: its "KP" SID as a body. A file of
// version 1 has no dates: they read as the Session's created_ms, and null.
struct ParticipantImage {
  Sid128 sid;
  std::string identifier;
  std::string friendly_name;
  std::string proxy_identifier;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t deleted_ms = kNullMs;
};

// An Interaction as a snapshot holds it: a message to a Participant.
struct InteractionImage {
  Sid128 sid;          // "KI" body.
  Sid128 participant;  // "KP" body: the outbound Participant.
  uint64_t seq = 0;    // Its place in the Session's Interactions.
  int64_t created_ms = 0;
  std::string body;
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
  // The Interactions, oldest first, and the next one's seq. A journal
  // record of a change to the Session leaves them out (has_interactions
  // false): replaying it keeps those the Session holds.
  bool has_interactions = true;
  uint64_t next_interaction_seq = 0;
  std::vector<InteractionImage> interactions;
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

class FileReader;

// Reads a snapshot a Session at a time, from a file in pieces of about
// kPieceBytes or from bytes in memory, so loading a store never holds more
// than the piece and what the caller keeps: at 10M Sessions a whole
// StoreImage took several GB. Each record is checked as it is read (its
// fields, its name by `rules`, its Service, its sequence number against
// next_seq and against every other record's); Finish() checks what only the
// whole file shows, the checksum first.
//
// A caller builds from the Sessions as they come, so it must be able to
// throw all of it away: nothing read is to be trusted, nor anything built
// from it shown, until Finish() returns OK. Two records with one SID or one
// (Service, unique_name) are the caller's to find, where it files Sessions
// by those (Shard::RestoreSessions): a SID and a named Session's name pick
// the same shard byte, which the reader checks.
//
// Every error is as DecodeSnapshot's. One found before the end is reported
// only once the rest of the file has been read for its checksum, so a
// damaged file says "checksum mismatch" whichever check it fails first;
// Refuse() does the same for the caller's own findings.
//
// Example:
//
//   absl::StatusOr<std::unique_ptr<SnapshotReader>> reader =
//       SnapshotReader::OpenFile(path, rules);
//   ... (*reader)->services() ...
//   SessionImage session;
//   while (*(more = (*reader)->Next(&session))) ... file `session` ...
//   absl::Status whole = (*reader)->Finish();  // only now is it all good
class SnapshotReader {
 public:
  static constexpr size_t kPieceBytes = size_t{1} << 20;

  // Opens the file at `path` (its size then bounds every read) or `bytes`
  // (which must outlive the reader), reads the header and the Services and
  // checks them. Errors: the file's (as ReadFile's); else as DecodeSnapshot,
  // this one's and every later one's message starting with the path.
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> OpenFile(
      const std::string& path, const SnapshotRules& rules);
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> OpenBytes(
      std::string_view bytes, const SnapshotRules& rules);
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;
  ~SnapshotReader();

  // The file's size, and the header's fields.
  uint64_t size() const { return size_; }
  const Sid128& account() const { return account_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t sids_minted() const { return sids_minted_; }
  uint64_t sessions() const { return sessions_; }
  // Oldest first, checked.
  const std::vector<ServiceImage>& services() const { return services_; }

  // Reads the next Session into *out, checked on its own; false once every
  // Session the header counts has been read. Errors: as DecodeSnapshot's.
  absl::StatusOr<bool> Next(SessionImage* out);

  // After the last Session: no bytes after it, the checksum, and no two
  // records with one sequence number. Errors: as DecodeSnapshot's.
  absl::Status Finish();

  // `status`, the caller's finding in what it was given, or DataLoss
  // "checksum mismatch" if the file turns out damaged: the cause to report.
  absl::Status Refuse(absl::Status status);

 private:
  class SeqSet;

  SnapshotReader(std::unique_ptr<FileReader> file, std::string_view bytes,
                 uint64_t size, const SnapshotRules& rules);
  absl::Status ReadHeader();
  absl::Status ReadServices();
  absl::StatusOr<bool> ReadNext(SessionImage* out);
  absl::Status CheckEnd();
  // `status`, or "checksum mismatch" if the file is damaged.
  absl::Status Checked(absl::Status status);
  // `status` with the file's path in front, when reading a file.
  absl::Status Named(const absl::Status& status) const;
  // Reads more of the body after what is left unread, at least `want` bytes
  // of it if the body holds them; false at the body's end.
  absl::StatusOr<bool> Refill(size_t want);
  // Reads the rest of the covered bytes for the checksum; whether it holds.
  bool ChecksumHolds();

  const std::unique_ptr<FileReader> file_;  // Null: reading bytes_.
  const std::string_view bytes_;
  const uint64_t size_;
  const SnapshotRules& rules_;
  std::string buffer_;
  size_t at_ = 0;          // Where the unread bytes start in buffer_.
  uint64_t read_to_ = 0;   // The file's bytes read into buffer_ end here.
  uint64_t body_end_ = 0;  // Where the footer starts.
  uint32_t crc_ = 0;       // Of the file's bytes before read_to_.
  uint32_t stored_crc_ = 0;
  Sid128 account_;
  uint64_t next_seq_ = 1;
  uint64_t sids_minted_ = 0;
  uint64_t sessions_ = 0;
  uint64_t sessions_read_ = 0;
  std::vector<ServiceImage> services_;
  absl::flat_hash_set<Sid128> service_sids_;
  std::unique_ptr<SeqSet> seqs_;
};

// Reads and checks a whole snapshot into one image, through SnapshotReader:
// for tests and tools, as a store loads a Session at a time. Errors:
// InvalidArgument when the bytes do not start with the snapshot magic;
// FailedPrecondition for a format version this build does not read;
// DataLoss for anything truncated, corrupted (checksum mismatch) or
// inconsistent (a sequence number used twice, a value out of range, a name
// `rules` refuses, a named Session in the wrong shard...). The message says
// which. Two Sessions with one SID or one name are not looked for here
// (SnapshotReader).
absl::StatusOr<StoreImage> DecodeSnapshot(std::string_view bytes,
                                          const SnapshotRules& rules);

// Single images, in the bytes a snapshot's body holds them, for the
// journal's records (engine/core/durability.h): one format for a Session
// wherever it is written.
void AppendServiceImage(const ServiceImage& image, std::string* out);
void AppendSessionImage(const SessionImage& image, std::string* out);
void AppendInteractionImage(const InteractionImage& image, std::string* out);

// Parses exactly one image from `bytes` and checks it as DecodeSnapshot
// checks one (the rules between images are the reader's). Errors: DataLoss,
// saying what is wrong.
absl::Status ParseServiceImage(std::string_view bytes,
                               const SnapshotRules& rules, ServiceImage* out);
absl::Status ParseSessionImage(std::string_view bytes,
                               const SnapshotRules& rules, SessionImage* out);
absl::Status ParseInteractionImage(std::string_view bytes,
                                   InteractionImage* out);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_
