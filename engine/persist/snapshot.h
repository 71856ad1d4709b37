// Snapshots: a store's Services and Sessions as versioned, checksummed bytes.
//
// Writing: the store copies its state into a StoreImage (store.cc walks the
// Services and the shards; shard_snapshot.cc copies each shard's records
// under its lock), EncodeSnapshot turns the image into bytes outside every
// lock, and WriteFileAtomically (file_io.h) puts them on disk through a
// temporary file, fsync and rename, so a crash at any moment leaves the
// previous snapshot whole. Loading reverses it: ReadFile, then DecodeSnapshot,
// which checks every byte and every field before a store is built, so a bad
// file is refused whole and nothing is half-loaded. docs/snapshots.md has the
// byte layout.
//
// Example:
//
//   std::string bytes = EncodeSnapshot(image);
//   absl::Status written = WriteFileAtomically("/var/lib/app/s.snap", bytes);
//   ...
//   absl::StatusOr<std::string> read = ReadFile("/var/lib/app/s.snap");
//   absl::StatusOr<StoreImage> back = DecodeSnapshot(*read);  // == image

#ifndef SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_
#define SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/shard.h"
#include "engine/util/sid.h"
#include "sessionwheel/session.h"

namespace sessionwheel::internal {

// The format this build writes and the only one it reads.
inline constexpr uint32_t kSnapshotVersion = 1;

// A Service as a snapshot holds it. Times are Unix milliseconds.
struct ServiceImage {
  Sid128 sid;
  uint64_t seq = 0;  // Store-wide creation order.
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t default_ttl = 0;
  std::string unique_name;
};

// A Session as a snapshot holds it: its record's SessionState, plus what
// the record keeps after itself or by pointer.
struct SessionImage : SessionState {
  std::string unique_name;  // Set only when has_name; name_size is its size.
  Sid128 service;
  std::string host_reason;  // Set only when end_reason == kHost.
  std::vector<Participant> participants;
};

// Everything a store needs to come back as it was.
struct StoreImage {
  Sid128 account;
  uint64_t next_seq = 1;  // The next creation sequence number.
  uint64_t sids_minted =
      0;  // The SID generator's count (SidGenerator::SkipTo).
  std::vector<ServiceImage> services;  // Oldest first.
  std::vector<SessionImage> sessions;  // Oldest first.
};

// The snapshot file's bytes for `image`.
std::string EncodeSnapshot(const StoreImage& image);

// Parses and checks a whole snapshot. Errors: InvalidArgument when the bytes
// do not start with the snapshot magic; FailedPrecondition for a format
// version this build does not read; DataLoss for anything truncated,
// corrupted (checksum mismatch) or inconsistent (a duplicate SID, name or
// sequence number, a value out of range, a named Session in the wrong
// shard...). The message says which.
absl::StatusOr<StoreImage> DecodeSnapshot(std::string_view bytes);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_SNAPSHOT_H_
