// PartitionFollower: a partition as its stream in Redis has it, in a
// follower store (StoreOptions::follower): the latest checkpoint Redis
// keeps, then every record after it. A standby keeps one per partition it
// does not own and polls the stream into it; taking the partition over
// starts from it (engine/scaleout/owner.h). Not safe for concurrent
// Poll()s; store() may be read from any thread.

#ifndef SESSIONWHEEL_ENGINE_SCALEOUT_FOLLOWER_H_
#define SESSIONWHEEL_ENGINE_SCALEOUT_FOLLOWER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/scaleout/partition_log.h"
#include "engine/scaleout/redis_client.h"
#include "sessionwheel/internal/mutex.h"
#include "sessionwheel/store.h"

namespace sessionwheel::internal {

class PartitionFollower {
 public:
  // Loads the partition's checkpoint from Redis (through a file in
  // `scratch_dir`) or, with none, starts empty; `options` are the follower
  // store's (follower is set here). Errors: Unavailable; DataLoss for a
  // checkpoint that does not load.
  static absl::StatusOr<std::unique_ptr<PartitionFollower>> Build(
      RedisClient& redis, const PartitionLog& log, const StoreOptions& options,
      const std::string& scratch_dir);

  // Applies what the stream holds from next() on, waiting up to `block`
  // for the first record when there is none (0: no wait). If the stream
  // was trimmed past next(), starts again from the checkpoint. Returns how
  // many records it applied.
  absl::StatusOr<int> Poll(RedisClient& redis, absl::Duration block);

  // Polls until it has applied the stream's head as Redis has it now.
  absl::Status CatchUp(RedisClient& redis);

  // The LSN of the next record to apply.
  uint64_t next() const { return next_.load(std::memory_order_acquire); }

  std::shared_ptr<SessionStore> store() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  PartitionFollower(const PartitionLog& log, const StoreOptions& options,
                    std::string scratch_dir)
      : log_(log), options_(options), scratch_dir_(std::move(scratch_dir)) {}

  // Replaces the store with the checkpoint's (or an empty one).
  absl::Status Reload(RedisClient& redis);

  // Constant after construction.
  const PartitionLog log_;
  const StoreOptions options_;
  const std::string scratch_dir_;

  std::atomic<uint64_t> next_{1};
  Mutex mu_;
  std::shared_ptr<SessionStore> store_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_FOLLOWER_H_
