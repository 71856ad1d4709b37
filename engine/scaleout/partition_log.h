// PartitionLog: one partition's keys in Redis and the Lua scripts that keep
// its lease, epoch, stream and checkpoint consistent.
//
// Every key of partition N carries the hash tag {pN}, so in a Redis Cluster
// they all live in one slot and one script may touch them together:
//
//   <prefix>:{pN}:lease     "host|epoch" of the owner, with a PX expiry
//   <prefix>:{pN}:epoch     the fencing token: +1 for every lease taken
//   <prefix>:{pN}:log       the stream: entry "<lsn>-0" {t: type, d: payload}
//   <prefix>:{pN}:head      the LSN of the stream's last entry
//   <prefix>:{pN}:ckpt      hash {lsn, data}: the latest checkpoint
//   <prefix>:{pN}:reported  the expiry watermark, Unix ms: the owner has
//                           reported every expiry due at or before it
//
// Redis enforces the fence: the append and checkpoint scripts compare the
// caller's epoch with the epoch key and refuse ("FENCED") a stale one,
// atomically with the write. Taking a lease sets the lease (NX PX) and
// raises the epoch in one script, so once a new owner holds the lease no
// record of the old one can land after it.

#ifndef SESSIONWHEEL_ENGINE_SCALEOUT_PARTITION_LOG_H_
#define SESSIONWHEEL_ENGINE_SCALEOUT_PARTITION_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/scaleout/redis_client.h"

namespace sessionwheel::internal {

// One record of the stream: a change of the owner's feed.
struct LogRecord {
  uint64_t lsn = 0;
  uint8_t type = 0;
  std::string payload;
};

class PartitionLog {
 public:
  PartitionLog(const std::string& prefix, int partition);

  int partition() const { return partition_; }
  const std::string& lease_key() const { return lease_; }
  const std::string& log_key() const { return log_; }

  // Takes the lease for `host` if no one holds it: returns the new epoch,
  // or 0 if it is held.
  absl::StatusOr<uint64_t> Acquire(RedisClient& redis, const std::string& host,
                                   absl::Duration lease) const;
  // Extends the lease if it is still `host`'s at `epoch`: false if not.
  absl::StatusOr<bool> Renew(RedisClient& redis, const std::string& host,
                             uint64_t epoch, absl::Duration lease) const;
  // Gives the lease up if it is still `host`'s at `epoch`.
  absl::Status Release(RedisClient& redis, const std::string& host,
                       uint64_t epoch) const;
  // The holder's host and epoch; nullopt when no one holds the lease.
  absl::StatusOr<std::optional<std::pair<std::string, uint64_t>>> Holder(
      RedisClient& redis) const;

  // Appends `records` (consecutive LSNs, from head + 1; ones at or below
  // head are skipped, so a retry is harmless) and, if `watermark_ms` is
  // set, raises the expiry watermark, all only if `epoch` is the current
  // epoch. Returns the head after it. Errors: Aborted ("FENCED") for a
  // stale epoch; DataLoss for a gap; Unavailable when Redis does not answer.
  absl::StatusOr<uint64_t> Append(RedisClient& redis, uint64_t epoch,
                                  std::optional<int64_t> watermark_ms,
                                  const std::vector<LogRecord>& records) const;

  // Stores a checkpoint covering the stream before `lsn` and trims the
  // stream's entries below it, if `epoch` is current. Errors as Append.
  absl::Status PutCheckpoint(RedisClient& redis, uint64_t epoch, uint64_t lsn,
                             const std::string& bytes) const;
  struct Checkpoint {
    uint64_t lsn = 0;
    std::string bytes;
  };
  absl::StatusOr<std::optional<Checkpoint>> GetCheckpoint(
      RedisClient& redis) const;

  // Up to `count` records from `from_lsn` on. With `block` > 0, waits up
  // to that long for the first (XREAD BLOCK); otherwise XRANGE.
  absl::StatusOr<std::vector<LogRecord>> Read(RedisClient& redis,
                                              uint64_t from_lsn, int count,
                                              absl::Duration block) const;

  absl::StatusOr<uint64_t> Head(RedisClient& redis) const;
  // The expiry watermark (Unix ms), or nullopt if none was ever set.
  absl::StatusOr<std::optional<int64_t>> Reported(RedisClient& redis) const;

 private:
  const int partition_;
  const std::string lease_, epoch_, log_, head_, ckpt_, reported_;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_PARTITION_LOG_H_
