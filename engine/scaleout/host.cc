// ScaleOutHost (include/sessionwheel/scaleout.h): the partitions of one
// host. A control thread keeps the leases: every third of the lease it
// renews those it owns (one that fails to renew stops serving at once),
// takes partitions without an owner up to its share, gives one up when it
// holds more than its share (hosts joined), and registers the host as live.
// Each partition the host does not own has a follower thread that tails
// the stream (XREAD BLOCK) into a follower store; taking a partition over
// stops that thread, catches up to the stream's end, and promotes the
// follower's state to an owner (engine/scaleout/owner.h).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/scaleout/follower.h"
#include "engine/scaleout/owner.h"
#include "engine/scaleout/partition_log.h"
#include "engine/scaleout/redis_client.h"
#include "engine/scaleout/trace.h"
#include "sessionwheel/internal/mutex.h"
#include "sessionwheel/scaleout.h"

namespace sessionwheel {

int PartitionOfService(const Sid& service, int partitions) {
  if (partitions < 1) return -1;
  const std::string text = service.ToString();
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64.
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return static_cast<int>(h % static_cast<uint64_t>(partitions));
}

std::optional<int> PartitionOfSession(const Sid& session, int partitions) {
  const std::string text = session.ToString();
  if (text.size() < 4) return std::nullopt;
  int tag = 0;
  for (char c : text.substr(text.size() - 4)) {
    tag = tag * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
  }
  if (tag >= partitions) return std::nullopt;
  return tag;
}

namespace internal {

// The options of every follower store of the deployment.
StoreOptions FollowerOptions(const ScaleOutOptions& o) {
  StoreOptions store = o.store;
  store.account_sid = o.account_sid;
  return store;
}

namespace {

using std::chrono::steady_clock;

absl::Status CheckOptions(const ScaleOutOptions& o) {
  if (o.partitions < 1 || o.partitions > 65536) {
    return absl::InvalidArgumentError("partitions must be 1 to 65536");
  }
  if (o.host_id.empty() || o.host_id.find('|') != std::string::npos) {
    return absl::InvalidArgumentError(
        "host_id must be set, without a '|' character");
  }
  if (o.data_dir.empty())
    return absl::InvalidArgumentError("data_dir is required");
  if (o.account_sid.empty()) {
    return absl::InvalidArgumentError("account_sid is required");
  }
  if (o.lease < absl::Milliseconds(100)) {
    return absl::InvalidArgumentError("lease must be at least 100 ms");
  }
  if (o.ack != AckMode::kLocal && o.store.sync != SyncPolicy::kEveryWrite) {
    return absl::InvalidArgumentError(
        "AckMode kStream and kWait need store.sync = SyncPolicy::kEveryWrite");
  }
  if (o.checkpoint_every < 1) {
    return absl::InvalidArgumentError("checkpoint_every must be >= 1");
  }
  if (o.ack == AckMode::kWait && o.wait_timeout < absl::Milliseconds(1)) {
    // WAIT takes whole milliseconds, and WAIT n 0 waits for ever.
    return absl::InvalidArgumentError(
        "wait_timeout must be at least 1 ms with AckMode kWait");
  }
  return absl::OkStatus();
}

// A follower thread: tails one partition's stream into its follower.
class Standby {
 public:
  Standby(const ScaleOutOptions& options, int partition,
          std::unique_ptr<PartitionFollower> follower)
      : options_(options),
        partition_(partition),
        follower_(std::move(follower)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Standby() { Release(); }

  // Stops the thread and hands the follower over.
  std::unique_ptr<PartitionFollower> Release() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return std::move(follower_);
  }
  std::shared_ptr<SessionStore> store() { return follower_->store(); }

 private:
  void Run() {
    std::unique_ptr<RedisClient> redis;
    auto next_settle = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      // Purges are not in the stream (the store derives them): a follower
      // that never ran its wheel would keep every ended Session its owner
      // purged. So it settles now and then, silently (it has no listener;
      // only the owner reports). Retention must outlast the lag, as
      // docs/durability.md says of any follower.
      if (std::chrono::steady_clock::now() >= next_settle) {
        follower_->store()->Advance();
        next_settle =
            std::chrono::steady_clock::now() + std::chrono::seconds(1);
      }
      if (redis == nullptr) {
        auto c = RedisClient::Connect(options_.redis_host, options_.redis_port,
                                      absl::Seconds(1));
        if (!c.ok()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
        redis = *std::move(c);
      }
      // Short blocks: the thread notices a stop within one.
      if (absl::StatusOr<int> polled =
              follower_->Poll(*redis, absl::Milliseconds(50));
          !polled.ok()) {
        Trace(options_.host_id, partition_, "follower failed", polled.status());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  const ScaleOutOptions& options_;
  const int partition_;
  std::unique_ptr<PartitionFollower> follower_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class HostImpl final : public ScaleOutHost {
 public:
  explicit HostImpl(const ScaleOutOptions& options) : options_(options) {
    for (int p = 0; p < options.partitions; ++p) {
      slots_.push_back(std::make_unique<Slot>(options.key_prefix, p));
    }
  }

  absl::Status Start() {
    absl::StatusOr<std::unique_ptr<RedisClient>> c = RedisClient::Connect(
        options_.redis_host, options_.redis_port, options_.lease / 2);
    if (!c.ok()) return c.status();
    control_redis_ = *std::move(c);
    c = RedisClient::Connect(options_.redis_host, options_.redis_port,
                             options_.lease / 2);
    if (!c.ok()) return c.status();
    {
      MutexLock l(&query_mu_);
      query_redis_ = *std::move(c);
    }
    c = RedisClient::Connect(options_.redis_host, options_.redis_port,
                             options_.lease / 2);
    if (!c.ok()) return c.status();
    renew_redis_ = *std::move(c);
    renew_ = std::thread([this] { RunRenewals(); });
    ControlRound();
    control_ = std::thread([this] { RunControl(); });
    return absl::OkStatus();
  }

  ~HostImpl() override {
    {
      CvMutexLock l(&control_mu_);
      stop_ = true;
      control_cv_.notify_all();
    }
    if (control_.joinable()) control_.join();
    if (renew_.joinable()) renew_.join();
    for (auto& slot : slots_) {
      std::shared_ptr<PartitionOwner> owner;
      std::unique_ptr<Standby> standby;
      {
        MutexLock l(&slot->mu);
        owner = std::move(slot->owner);
        standby = std::move(slot->standby);
      }
      if (owner != nullptr) {
        owner->Stop();  // Ships the rest.
        slot->log.Release(*control_redis_, options_.host_id, owner->epoch())
            .IgnoreError();
      }
    }
    // Null when Start() failed to reach Redis at all.
    if (control_redis_ != nullptr) {
      control_redis_->Command({"ZREM", HostsKey(), options_.host_id})
          .IgnoreError();
    }
  }

  int PartitionOf(const Sid& service) const override {
    return PartitionOfService(service, options_.partitions);
  }

  absl::StatusOr<std::string> OwnerOf(int partition) override {
    if (partition < 0 || partition >= options_.partitions) {
      return absl::InvalidArgumentError("partition out of range");
    }
    MutexLock l(&query_mu_);
    auto holder = slots_[partition]->log.Holder(*query_redis_);
    if (!holder.ok()) return holder.status();
    if (!holder->has_value()) {
      return absl::NotFoundError(
          absl::StrCat("partition ", partition, " has no owner now"));
    }
    return (*holder)->first;
  }

  std::vector<int> Owned() override {
    std::vector<int> out;
    for (int p = 0; p < options_.partitions; ++p) {
      if (auto owner = OwnerFor(p); owner != nullptr && owner->Serving()) {
        out.push_back(p);
      }
    }
    return out;
  }

  absl::Status Write(
      int partition,
      absl::FunctionRef<absl::Status(SessionStore&)> op) override {
    if (options_.ack != AckMode::kLocal && PartitionOwner::Delivering()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "partition ", partition,
          ": a listener cannot Write under AckMode kStream or kWait (the "
          "change would wait for a shipping round, which waits for the "
          "listener); nothing was changed"));
    }
    std::shared_ptr<PartitionOwner> owner = ServingOwner(partition);
    if (owner == nullptr) return NotOwner(partition);
    absl::Status s = owner->Change(op);
    if (!s.ok() || options_.ack == AckMode::kLocal) return s;
    return owner->AwaitShipped();
  }

  absl::Status Read(
      int partition,
      absl::FunctionRef<absl::Status(SessionStore&)> op) override {
    std::shared_ptr<PartitionOwner> owner = ServingOwner(partition);
    if (owner == nullptr) return NotOwner(partition);
    return op(owner->store());
  }

  absl::Status ReadStandby(
      int partition,
      absl::FunctionRef<absl::Status(SessionStore&)> op) override {
    if (partition < 0 || partition >= options_.partitions) {
      return absl::InvalidArgumentError("partition out of range");
    }
    std::shared_ptr<SessionStore> store;
    {
      MutexLock l(&slots_[partition]->mu);
      if (slots_[partition]->standby != nullptr) {
        store = slots_[partition]->standby->store();
      }
    }
    if (store == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("this host follows no partition ", partition));
    }
    return op(*store);
  }

 private:
  struct Slot {
    Slot(const std::string& prefix, int p) : log(prefix, p) {}
    const PartitionLog log;
    Mutex mu;
    std::shared_ptr<PartitionOwner> owner ABSL_GUARDED_BY(mu);
    std::unique_ptr<Standby> standby ABSL_GUARDED_BY(mu);
    // The epoch of a lease taken and not yet serving (a take-over under
    // way), renewed meanwhile; 0 for none.
    uint64_t taking ABSL_GUARDED_BY(mu) = 0;
  };

  std::string HostsKey() const { return options_.key_prefix + ":hosts"; }

  static absl::Status NotOwner(int partition) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the owner of partition ", partition));
  }

  std::shared_ptr<PartitionOwner> OwnerFor(int p) {
    if (p < 0 || p >= options_.partitions) return nullptr;
    MutexLock l(&slots_[p]->mu);
    return slots_[p]->owner;
  }

  std::shared_ptr<PartitionOwner> ServingOwner(int p) {
    std::shared_ptr<PartitionOwner> owner = OwnerFor(p);
    return owner != nullptr && owner->Serving() ? owner : nullptr;
  }

  // Calls `round` every third of a lease until the host stops.
  template <typename Round>
  void EveryThirdOfALease(Round round) {
    const auto period = absl::ToChronoMilliseconds(options_.lease / 3);
    for (;;) {
      {
        CvMutexLock l(&control_mu_);
        if (!stop_) {
          control_mu_.WaitUntil(&control_cv_, steady_clock::now() + period);
        }
        if (stop_) return;
      }
      round();
    }
  }

  void RunControl() {
    EveryThirdOfALease([this] { ControlRound(); });
  }

  // The lease keeper: renews every lease on a thread of its own, so a slow
  // take-over on the control thread never lets the others lapse.
  void RunRenewals() {
    EveryThirdOfALease([this] { RenewLeases(); });
  }

  // The number of partitions this host should own now.
  int Share() {
    if (options_.max_owned > 0) return options_.max_owned;
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    RedisClient& redis = *control_redis_;
    redis
        .Command(
            {"ZADD", HostsKey(),
             std::to_string(now_ms + absl::ToInt64Milliseconds(options_.lease)),
             options_.host_id})
        .IgnoreError();
    redis
        .Command(
            {"ZREMRANGEBYSCORE", HostsKey(), "-inf", std::to_string(now_ms)})
        .IgnoreError();
    absl::StatusOr<RedisReply> live = redis.Command({"ZCARD", HostsKey()});
    const int64_t hosts = live.ok() ? std::max<int64_t>(1, live->integer) : 1;
    return static_cast<int>((options_.partitions + hosts - 1) / hosts);
  }

  // Renews every lease this host holds or is taking. One refused (another
  // host holds it) stops its partition at once; one Redis did not answer
  // keeps serving until the lease is no longer safe (PartitionOwner::
  // Serving). The control thread then drops what stopped.
  void RenewLeases() {
    RedisClient& redis = *renew_redis_;
    const absl::Duration safe = options_.lease - options_.lease / 5;
    for (auto& slot : slots_) {
      std::shared_ptr<PartitionOwner> owner;
      uint64_t taking = 0;
      {
        MutexLock l(&slot->mu);
        owner = slot->owner;
        taking = slot->taking;
      }
      if (taking != 0) {
        slot->log.Renew(redis, options_.host_id, taking, options_.lease)
            .IgnoreError();
      }
      if (owner == nullptr || owner->Fenced() || owner->Revoked()) continue;
      const auto sent = steady_clock::now();
      absl::StatusOr<bool> renewed = slot->log.Renew(
          redis, options_.host_id, owner->epoch(), options_.lease);
      if (renewed.ok() && *renewed) {
        // Still ours in Redis: safe for another lease from when it was sent.
        owner->set_valid_until(sent + absl::ToChronoNanoseconds(safe));
      } else if (renewed.ok()) {
        Trace(options_.host_id, slot->log.partition(), "lease lost",
              renewed.status());
        owner->Revoke();
      }
    }
  }

  // Drops the partitions that stopped serving (a lost lease, a fence, a
  // lease Redis did not renew in time) and follows them again. Returns how
  // many this host still owns.
  int DropStopped() {
    int owned = 0;
    for (auto& slot : slots_) {
      std::shared_ptr<PartitionOwner> owner;
      {
        MutexLock l(&slot->mu);
        owner = slot->owner;
      }
      if (owner == nullptr) continue;
      if (owner->Serving()) {
        ++owned;
      } else {
        Demote(*slot, /*release=*/false);
      }
    }
    return owned;
  }

  void ControlRound() {
    RedisClient& redis = *control_redis_;
    int owned = DropStopped();
    const int share = Share();
    // More than a fair share (hosts joined): give the last one up, with
    // everything shipped, so a host with fewer takes it at once.
    if (owned > share) {
      for (int p = options_.partitions - 1; p >= 0; --p) {
        if (OwnerFor(p) != nullptr) {
          Demote(*slots_[p], /*release=*/true);
          --owned;
          break;
        }
      }
    }
    // Take partitions without an owner, up to the share, starting at a
    // place of this host's own so hosts do not all race for the same one.
    const int start = PartitionOfService(
        Sid("KS", std::hash<std::string>{}(options_.host_id), 0),
        options_.partitions);
    for (int i = 0; i < options_.partitions; ++i) {
      const int p = (start + i) % options_.partitions;
      Slot& slot = *slots_[p];
      {
        MutexLock l(&slot.mu);
        if (slot.owner != nullptr) continue;
      }
      if (owned < share) {
        auto holder = slot.log.Holder(redis);
        if (holder.ok() && !holder->has_value()) {
          if (TakeOver(slot)) {
            ++owned;
            continue;
          }
        }
      }
      EnsureStandby(slot);
    }
  }

  void EnsureStandby(Slot& slot) {
    if (!options_.standby) return;
    {
      MutexLock l(&slot.mu);
      if (slot.standby != nullptr) return;
    }
    auto follower = PartitionFollower::Build(*control_redis_, slot.log,
                                             FollowerOptions(options_),
                                             options_.data_dir + "/scratch");
    if (!follower.ok()) return;
    MutexLock l(&slot.mu);
    slot.standby = std::make_unique<Standby>(options_, slot.log.partition(),
                                             *std::move(follower));
  }

  // Takes the lease and promotes the partition. False if another host took
  // it first or Redis failed.
  bool TakeOver(Slot& slot) {
    RedisClient& redis = *control_redis_;
    const auto sent = steady_clock::now();
    absl::StatusOr<uint64_t> epoch =
        slot.log.Acquire(redis, options_.host_id, options_.lease);
    if (!epoch.ok() || *epoch == 0) return false;
    {
      MutexLock l(&slot.mu);
      slot.taking = *epoch;
    }
    const auto valid_until =
        sent + absl::ToChronoNanoseconds(options_.lease - options_.lease / 5);
    std::unique_ptr<Standby> standby;
    {
      MutexLock l(&slot.mu);
      standby = std::move(slot.standby);
    }
    std::unique_ptr<PartitionFollower> follower;
    if (standby != nullptr) follower = standby->Release();
    if (follower == nullptr) {
      auto built =
          PartitionFollower::Build(redis, slot.log, FollowerOptions(options_),
                                   options_.data_dir + "/scratch");
      if (built.ok()) follower = *std::move(built);
    }
    absl::StatusOr<std::unique_ptr<PartitionOwner>> owner =
        follower == nullptr ? absl::UnavailableError("no follower")
                            : absl::StatusOr<std::unique_ptr<PartitionOwner>>(
                                  absl::UnknownError(""));
    if (follower != nullptr) {
      // The epoch is raised: nothing can join the stream now but ours.
      absl::Status s = follower->CatchUp(redis);
      owner = s.ok() ? PartitionOwner::Promote(options_, slot.log, *epoch,
                                               *follower, redis, valid_until)
                     : absl::StatusOr<std::unique_ptr<PartitionOwner>>(s);
    }
    {
      MutexLock l(&slot.mu);
      slot.taking = 0;
    }
    if (!owner.ok()) {
      Trace(options_.host_id, slot.log.partition(), "take-over failed",
            owner.status());
      slot.log.Release(redis, options_.host_id, *epoch).IgnoreError();
      return false;
    }
    // The promotion took time: renew before serving, from when this was sent.
    const auto renewing = steady_clock::now();
    absl::StatusOr<bool> renewed =
        slot.log.Renew(redis, options_.host_id, *epoch, options_.lease);
    if (!renewed.ok() || !*renewed) {  // Lost meanwhile.
      (*owner)->Revoke();
      return false;
    }
    (*owner)->set_valid_until(
        renewing +
        absl::ToChronoNanoseconds(options_.lease - options_.lease / 5));
    MutexLock l(&slot.mu);
    slot.owner = *std::move(owner);
    return true;
  }

  void Demote(Slot& slot, bool release) {
    std::shared_ptr<PartitionOwner> owner;
    {
      MutexLock l(&slot.mu);
      owner = std::move(slot.owner);
    }
    if (owner == nullptr) return;
    if (!release) owner->Revoke();
    owner->Stop();  // With a release, ships the rest first.
    if (release) {
      slot.log.Release(*control_redis_, options_.host_id, owner->epoch())
          .IgnoreError();
    }
    owner.reset();  // Waits for no one: writers hold their own reference.
    EnsureStandby(slot);
  }

  // Constant after construction.
  const ScaleOutOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;

  // Only the control thread (and Start/the destructor, when it is not
  // running).
  std::unique_ptr<RedisClient> control_redis_;

  // Only the lease keeper's thread.
  std::unique_ptr<RedisClient> renew_redis_;

  Mutex query_mu_;
  std::unique_ptr<RedisClient> query_redis_ ABSL_GUARDED_BY(query_mu_);

  CvMutex control_mu_;
  std::condition_variable control_cv_;
  bool stop_ ABSL_GUARDED_BY(control_mu_) = false;
  std::thread control_;
  std::thread renew_;
};

}  // namespace
}  // namespace internal

absl::StatusOr<std::unique_ptr<ScaleOutHost>> ScaleOutHost::Start(
    const ScaleOutOptions& options) {
  if (absl::Status s = internal::CheckOptions(options); !s.ok()) return s;
  auto host = std::make_unique<internal::HostImpl>(options);
  if (absl::Status s = host->Start(); !s.ok()) return s;
  return std::unique_ptr<ScaleOutHost>(std::move(host));
}

absl::StatusOr<std::shared_ptr<SessionStore>> ReadPartitionFromRedis(
    const ScaleOutOptions& options, int partition) {
  absl::StatusOr<std::unique_ptr<internal::RedisClient>> redis =
      internal::RedisClient::Connect(options.redis_host, options.redis_port,
                                     absl::Seconds(5));
  if (!redis.ok()) return redis.status();
  internal::PartitionLog log(options.key_prefix, partition);
  absl::StatusOr<std::unique_ptr<internal::PartitionFollower>> follower =
      internal::PartitionFollower::Build(**redis, log,
                                         internal::FollowerOptions(options),
                                         options.data_dir + "/scratch");
  if (!follower.ok()) return follower.status();
  if (absl::Status s = (*follower)->CatchUp(**redis); !s.ok()) return s;
  return (*follower)->store();
}

}  // namespace sessionwheel
