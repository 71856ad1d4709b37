// PartitionOwner: a partition this host holds the lease of. It keeps the
// partition in a durable store of its own (a directory per partition and
// epoch), and one thread ships that store's change feed to the stream in
// rounds: each round runs the wheel (Advance), reads the feed from where
// the last one stopped, and appends it with the expiry watermark in one
// fenced script (engine/scaleout/partition_log.h). Writers waiting for
// AckMode kStream or kWait wait for a round that began after their change.
//
// Expiries are reported exactly once across owners by a watermark W kept
// in Redis: a round that runs the wheel at time t appends W = t - tick
// (every expiry due at or before W is closed by then) before it delivers
// the expiry events due at or before W; later ones wait for a later round.
// So every expiry delivered is at or before the watermark in Redis, and a
// new owner reports those after it: the Sessions its own recovery closed
// (as expired, after W) are found by a scan when it takes over. A crash
// between a round's append and its delivery loses those reports; none is
// ever made twice.

#ifndef SESSIONWHEEL_ENGINE_SCALEOUT_OWNER_H_
#define SESSIONWHEEL_ENGINE_SCALEOUT_OWNER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "engine/scaleout/follower.h"
#include "engine/scaleout/partition_log.h"
#include "engine/scaleout/redis_client.h"
#include "engine/util/cv_mutex.h"
#include "sessionwheel/scaleout.h"
#include "sessionwheel/store.h"

namespace sessionwheel::internal {

using SteadyTime = std::chrono::steady_clock::time_point;

// The options of every follower store of the deployment: `o.store` with
// the deployment's account.
StoreOptions FollowerOptions(const ScaleOutOptions& o);

class PartitionOwner {
 public:
  // Takes over partition `log` at `epoch`: `follower` must hold the whole
  // stream (CatchUp after the lease was taken, so nothing can follow).
  // Opens the durable store in `<data_dir>/p<N>-e<epoch>` from the
  // follower's state, finds the expiries after the watermark that no owner
  // reported, and starts shipping. `valid_until`: when the lease, as this
  // host last renewed it, stops being safe to serve under.
  static absl::StatusOr<std::unique_ptr<PartitionOwner>> Promote(
      const ScaleOutOptions& options, const PartitionLog& log, uint64_t epoch,
      PartitionFollower& follower, RedisClient& redis, SteadyTime valid_until);

  ~PartitionOwner();

  uint64_t epoch() const { return epoch_; }
  SessionStore& store() { return *store_; }

  // Runs a change on the store. Changes wait while a checkpoint for Redis
  // starts (MaybeUploadCheckpoint). Once Stop() has begun, refuses without
  // running `op`: FailedPrecondition "not the owner of partition N", as the
  // host answers for a partition it does not own (the caller forwards).
  absl::Status Change(absl::FunctionRef<absl::Status(SessionStore&)> op);

  // True while the lease is safe to serve under and Redis has not fenced
  // this owner off.
  bool Serving() const;
  // Redis refused this owner's epoch: another host owns the partition.
  bool Fenced() const { return fenced_.load(std::memory_order_acquire); }
  void set_valid_until(SteadyTime t);
  // Whether the calling thread is inside the host's listener, called by
  // some partition's shipping thread: it cannot wait for a round, its own
  // or (waiting on it in turn) another partition's.
  static bool Delivering();

  // Stops serving at once (a lost lease).
  void Revoke();
  bool Revoked() const { return revoked_.load(std::memory_order_acquire); }

  // Waits until a round that began after the call has appended the feed
  // (and, for AckMode::kWait, Redis's replicas have it). Errors:
  // Unavailable when the lease lapses first, Redis fenced this owner, or
  // that round failed (Redis did not answer, WAIT timed out).
  absl::Status AwaitShipped();

  // Refuses changes from now on, waits for those running, and stops the
  // shipping thread; then, if still serving (a release), makes the journal
  // durable and ships it in one last round, so the next owner starts with
  // every change this owner acknowledged, under every AckMode and sync
  // policy.
  void Stop();

 private:
  struct HeldEvent;
  class Listener;

  PartitionOwner(const ScaleOutOptions& options, const PartitionLog& log,
                 uint64_t epoch);
  void Run();
  // One round; false if it could not append (the caller retries).
  bool Round();
  absl::Status Ship(std::optional<int64_t> watermark_ms);
  absl::Status MaybeUploadCheckpoint();
  void Deliver(int64_t watermark_ms);
  void Hold(HeldEvent event);

  // Constant after construction.
  const ScaleOutOptions options_;
  const PartitionLog log_;
  const uint64_t epoch_;
  Clock* const clock_;
  std::unique_ptr<SessionStore> store_;
  std::unique_ptr<RedisClient> redis_;  // The shipping thread's.

  // Shared by changes, exclusive while a checkpoint is taken: a checkpoint
  // removes the journal before its position, so every change before it
  // must be in the stream first.
  std::shared_mutex gate_;
  bool closed_ = false;  // Under gate_, set once by Stop(): refuse changes.

  std::atomic<int64_t> valid_until_ns_{0};  // steady_clock, since epoch.
  std::atomic<bool> fenced_{false};
  std::atomic<bool> revoked_{false};

  // Only the shipping thread.
  uint64_t next_lsn_ = 1;        // The next record to ship.
  uint64_t checkpoint_lsn_ = 0;  // The last checkpoint uploaded.
  // Where the last upload was tried: a failed one is tried again only
  // checkpoint_every records later, not every round.
  uint64_t checkpoint_tried_lsn_ = 0;
  int64_t watermark_ms_ = 0;  // The last appended.

  CvMutex mu_;
  std::condition_variable cv_;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;  // Rounds begun.
  uint64_t shipped_ ABSL_GUARDED_BY(mu_) = 0;  // The last that appended.
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;   // The last that did not.
  absl::Status failure_ ABSL_GUARDED_BY(mu_);  // Why.
  bool wanted_ ABSL_GUARDED_BY(mu_) = false;   // A writer waits.
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<HeldEvent> events_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_OWNER_H_
