#include "engine/scaleout/follower.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sessionwheel::internal {

absl::StatusOr<std::unique_ptr<PartitionFollower>> PartitionFollower::Build(
    RedisClient& redis, const PartitionLog& log, const StoreOptions& options,
    const std::string& scratch_dir) {
  StoreOptions follower = options;
  follower.follower = true;
  follower.data_dir.clear();
  follower.background_expiry = false;
  std::unique_ptr<PartitionFollower> f(
      new PartitionFollower(log, follower, scratch_dir));
  if (absl::Status s = f->Reload(redis); !s.ok()) return s;
  return f;
}

std::shared_ptr<SessionStore> PartitionFollower::store() {
  MutexLock l(&mu_);
  return store_;
}

absl::Status PartitionFollower::Reload(RedisClient& redis) {
  absl::StatusOr<std::optional<PartitionLog::Checkpoint>> checkpoint =
      log_.GetCheckpoint(redis);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<std::unique_ptr<SessionStore>> store;
  uint64_t next = 1;
  if (!checkpoint->has_value()) {
    store = SessionStore::Open(options_);
  } else {
    // OpenSnapshot reads a file: the bytes go through one, removed at once.
    std::error_code ignored;
    std::filesystem::create_directories(scratch_dir_, ignored);
    // Unique in the process too: a standby's reload and a
    // ReadPartitionFromRedis may build the same partition at once.
    static std::atomic<uint64_t> builds{0};
    const std::string path =
        absl::StrCat(scratch_dir_, "/checkpoint-p", log_.partition(), "-",
                     getpid(), "-", builds.fetch_add(1), ".tmp");
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write((*checkpoint)->bytes.data(),
                static_cast<std::streamsize>((*checkpoint)->bytes.size()));
      if (!out) {
        return absl::UnavailableError(absl::StrCat("cannot write ", path));
      }
    }
    store = SessionStore::OpenSnapshot(path, options_);
    std::filesystem::remove(path, ignored);
    next = (*checkpoint)->lsn;
  }
  if (!store.ok()) return store.status();
  {
    MutexLock l(&mu_);
    store_ = std::shared_ptr<SessionStore>(*std::move(store));
  }
  next_.store(next, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<int> PartitionFollower::Poll(RedisClient& redis,
                                            absl::Duration block) {
  absl::StatusOr<std::vector<LogRecord>> records =
      log_.Read(redis, next(), 1024, block);
  if (!records.ok()) return records.status();
  if (records->empty()) {
    // Caught up, or the stream was trimmed past next() (behind a checkpoint
    // newer than this follower) down to nothing: the head tells.
    absl::StatusOr<uint64_t> head = log_.Head(redis);
    if (!head.ok()) return head.status();
    if (*head < next()) return 0;
    records = log_.Read(redis, next(), 1024, absl::ZeroDuration());
    if (!records.ok()) return records.status();
  }
  // Trimmed: start again from the checkpoint. The owner may trim again
  // between the load and the read (a newer checkpoint): try a few times.
  for (int reload = 0; records->empty() || records->front().lsn > next();
       ++reload) {
    if (reload == 3) {
      return absl::DataLossError(absl::StrCat(
          "partition ", log_.partition(), ": the stream starts at ",
          records->empty() ? 0 : records->front().lsn,
          ", after its checkpoint's ", next()));
    }
    if (absl::Status s = Reload(redis); !s.ok()) return s;
    records = log_.Read(redis, next(), 1024, absl::ZeroDuration());
    if (!records.ok()) return records.status();
    if (records->empty()) break;  // The checkpoint holds it all.
  }
  std::shared_ptr<SessionStore> store = this->store();
  int applied = 0;
  for (const LogRecord& r : *records) {
    if (r.lsn < next()) continue;
    if (absl::Status s = store->ApplyChange(Change{r.lsn, r.type, r.payload});
        !s.ok()) {
      return s;
    }
    next_.store(r.lsn + 1, std::memory_order_release);
    ++applied;
  }
  return applied;
}

absl::Status PartitionFollower::CatchUp(RedisClient& redis) {
  absl::StatusOr<uint64_t> head = log_.Head(redis);
  if (!head.ok()) return head.status();
  while (next() <= *head) {
    absl::StatusOr<int> applied = Poll(redis, absl::ZeroDuration());
    if (!applied.ok()) return applied.status();
    if (*applied == 0 && next() <= *head) {
      return absl::DataLossError(
          absl::StrCat("partition ", log_.partition(),
                       ": the stream ends before its head ", *head));
    }
  }
  return absl::OkStatus();
}

}  // namespace sessionwheel::internal
