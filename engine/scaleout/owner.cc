#include "engine/scaleout/owner.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/scaleout/trace.h"
#include "engine/util/sid.h"

namespace sessionwheel::internal {
namespace {

// True while this thread calls the host's listener (Deliver).
thread_local bool t_delivering = false;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool IsExpiryReason(std::string_view reason) {
  return reason == kReasonTtl || reason == kReasonDateExpiry;
}

// The seed of partition `p`'s store at `epoch`: a new SID key for each
// owner, so one never mints again a SID an earlier owner minted for a
// change the stream did not keep.
uint64_t StoreSeed(uint64_t deployment_seed, int partition, uint64_t epoch) {
  return Mix64(deployment_seed ^ Mix64((uint64_t(partition) << 32) ^ epoch));
}

}  // namespace

// An event kept until it may be delivered: its strings owned.
struct PartitionOwner::HeldEvent {
  SessionEvent event;
  std::string unique_name;
  std::string closed_reason;
  bool expiry = false;  // Waits for the watermark to pass its time.
};

class PartitionOwner::Listener final : public SessionListener {
 public:
  explicit Listener(PartitionOwner* owner) : owner_(owner) {}
  void OnEvent(const SessionEvent& event) noexcept override {
    HeldEvent held;
    held.event = event;
    held.unique_name = std::string(event.unique_name);
    held.closed_reason = std::string(event.closed_reason);
    held.expiry = (event.type == EventType::kClosed &&
                   IsExpiryReason(event.closed_reason)) ||
                  event.type == EventType::kPurged;
    owner_->Hold(std::move(held));
  }

 private:
  PartitionOwner* const owner_;
};

PartitionOwner::PartitionOwner(const ScaleOutOptions& options,
                               const PartitionLog& log, uint64_t epoch)
    : options_(options),
      log_(log),
      epoch_(epoch),
      clock_(options.store.clock != nullptr ? options.store.clock
                                            : SystemClock()) {}

absl::StatusOr<std::unique_ptr<PartitionOwner>> PartitionOwner::Promote(
    const ScaleOutOptions& options, const PartitionLog& log, uint64_t epoch,
    PartitionFollower& follower, RedisClient& redis, SteadyTime valid_until) {
  std::unique_ptr<PartitionOwner> owner(
      new PartitionOwner(options, log, epoch));
  owner->set_valid_until(valid_until);

  absl::StatusOr<std::optional<int64_t>> reported = log.Reported(redis);
  if (!reported.ok()) return reported.status();
  const int64_t reported_ms =
      reported->value_or(std::numeric_limits<int64_t>::min());

  // A directory of this epoch's own: the store continues the stream's LSNs
  // from a checkpoint named for the follower's position. Earlier epochs'
  // directories of the partition are stale: the stream is the truth.
  const std::string prefix = absl::StrCat("p", log.partition(), "-e");
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  for (const auto& entry :
       std::filesystem::directory_iterator(options.data_dir, error)) {
    if (absl::StartsWith(entry.path().filename().string(), prefix)) {
      std::filesystem::remove_all(entry.path(), error);
    }
  }
  const std::string dir = absl::StrCat(options.data_dir, "/", prefix, epoch);
  if (!std::filesystem::create_directories(dir, error) && error) {
    return absl::UnavailableError(
        absl::StrCat("mkdir ", dir, ": ", error.message()));
  }
  const uint64_t next = follower.next();
  if (absl::Status s = follower.store()->WriteSnapshot(
          absl::StrFormat("%s/checkpoint-%016x.snap", dir, next));
      !s.ok()) {
    return s;
  }
  StoreOptions store_options = options.store;
  store_options.data_dir = dir;
  store_options.follower = false;
  store_options.background_expiry = false;
  store_options.seed =
      StoreSeed(options.deployment_seed, log.partition(), epoch);
  store_options.account_sid = options.account_sid;
  // Every SID this owner mints names its partition (PartitionOfSession).
  store_options.sid_tag = static_cast<uint16_t>(log.partition());
  // Only MaybeUploadCheckpoint checkpoints: an automatic one could remove
  // journal records not yet in the stream.
  store_options.checkpoint_min_bytes = std::numeric_limits<int64_t>::max();
  absl::StatusOr<std::unique_ptr<SessionStore>> store =
      SessionStore::Open(store_options);
  if (!store.ok()) return store.status();
  owner->store_ = *std::move(store);

  // Recovery closed, without events, what fell due since the last owner
  // ran its wheel. Those after the watermark no owner reported: they are
  // this owner's to report, once the watermark passes them.
  ListParams services;
  services.page_size = 1000;
  do {
    absl::StatusOr<ServicePage> page = owner->store_->ListServices(services);
    if (!page.ok()) return page.status();
    for (const Service& service : page->services) {
      ListParams sessions;
      sessions.page_size = 1000;
      do {
        absl::StatusOr<SessionPage> list =
            owner->store_->ListSessions(service.sid, sessions);
        if (!list.ok()) return list.status();
        for (const Session& s : list->sessions) {
          if (s.status != SessionStatus::kClosed || !s.date_ended ||
              !s.closed_reason || !IsExpiryReason(*s.closed_reason) ||
              absl::ToUnixMillis(*s.date_ended) <= reported_ms) {
            continue;
          }
          HeldEvent held;
          held.expiry = true;
          held.closed_reason = *s.closed_reason;
          held.unique_name = s.unique_name.value_or("");
          SessionEvent& e = held.event;
          e.type = EventType::kClosed;
          e.status = s.status;
          e.mode = s.mode;
          e.has_unique_name = s.unique_name.has_value();
          e.time = *s.date_ended;
          e.sid = s.sid;
          e.service_sid = s.service_sid;
          e.ttl = s.ttl;
          e.date_created = s.date_created;
          e.date_updated = s.date_updated;
          e.date_ended = s.date_ended;
          e.date_last_interaction = s.date_last_interaction;
          e.date_expiry = s.date_expiry;
          owner->Hold(std::move(held));
        }
        sessions.page_token = list->next_page_token;
      } while (!sessions.page_token.empty());
    }
    services.page_token = page->next_page_token;
  } while (!services.page_token.empty());

  owner->store_->AddListener(std::make_shared<Listener>(owner.get()));
  owner->next_lsn_ = next;
  owner->checkpoint_lsn_ = next;
  owner->watermark_ms_ = reported->value_or(0);
  // A command may take as long as WAIT does.
  absl::StatusOr<std::unique_ptr<RedisClient>> client =
      RedisClient::Connect(options.redis_host, options.redis_port,
                           options.lease + options.wait_timeout);
  if (!client.ok()) return client.status();
  owner->redis_ = *std::move(client);
  owner->thread_ = std::thread([o = owner.get()] { o->Run(); });
  return owner;
}

PartitionOwner::~PartitionOwner() {
  Stop();
  store_.reset();  // Before the members its listener reaches.
}

absl::Status PartitionOwner::Change(
    absl::FunctionRef<absl::Status(SessionStore&)> op) {
  std::shared_lock<std::shared_mutex> l(gate_);
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("not the owner of partition ", log_.partition()));
  }
  return op(*store_);
}

bool PartitionOwner::Serving() const {
  return !fenced_.load(std::memory_order_acquire) &&
         !revoked_.load(std::memory_order_acquire) &&
         NowNs() < valid_until_ns_.load(std::memory_order_acquire);
}

void PartitionOwner::set_valid_until(SteadyTime t) {
  valid_until_ns_.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
          .count(),
      std::memory_order_release);
}

void PartitionOwner::Revoke() {
  revoked_.store(true, std::memory_order_release);
  CvMutexLock l(&mu_);
  cv_.notify_all();
}

void PartitionOwner::Hold(HeldEvent event) {
  CvMutexLock l(&mu_);
  events_.push_back(std::move(event));
}

absl::Status PartitionOwner::AwaitShipped() {
  CvMutexLock l(&mu_);
  const uint64_t want = started_ + 1;
  wanted_ = true;
  cv_.notify_all();
  while (shipped_ < want) {
    if (failed_ >= want) {
      return absl::UnavailableError(absl::StrCat(
          "partition ", log_.partition(),
          ": the change is not acknowledged: ", failure_.message()));
    }
    if (!Serving() || stop_) {
      return absl::UnavailableError(
          absl::StrCat("partition ", log_.partition(),
                       ": lost its lease before the change "
                       "reached the stream; it is not acknowledged"));
    }
    mu_.WaitUntil(
        &cv_, std::chrono::steady_clock::now() + std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

void PartitionOwner::Stop() {
  {
    CvMutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_all();
  }
  {
    // A change that began before the stop ends before the last round reads
    // the journal; one that begins after it is refused, not left unshipped.
    std::unique_lock<std::shared_mutex> l(gate_);
    closed_ = true;
  }
  if (!thread_.joinable()) return;  // Promote failed: it never ran.
  thread_.join();
  // A release: one last round, so the next owner starts with everything.
  // Under kInterval or kOs the last changes may still be in the journal's
  // buffers, which the feed does not read: written out first.
  if (Serving()) {
    if (absl::Status s = store_->FlushJournal(); !s.ok()) {
      Trace(options_.host_id, log_.partition(), "flush before release", s);
    }
    Round();
  }
  CvMutexLock l(&mu_);
  cv_.notify_all();
}

void PartitionOwner::Run() {
  const auto tick = absl::ToChronoMilliseconds(options_.store.tick);
  auto next_round = std::chrono::steady_clock::now();
  for (;;) {
    {
      CvMutexLock l(&mu_);
      while (!stop_ && !wanted_ &&
             std::chrono::steady_clock::now() < next_round) {
        mu_.WaitUntil(&cv_, next_round);
      }
      if (stop_) return;
      wanted_ = false;
    }
    Round();
    next_round = std::chrono::steady_clock::now() + tick;
  }
}

bool PartitionOwner::Round() {
  if (!Serving()) return false;
  uint64_t round;
  {
    CvMutexLock l(&mu_);
    round = ++started_;
  }
  // Every expiry due at or before t - tick is closed by this Advance.
  const absl::Time t = clock_->Now();
  store_->Advance();
  const int64_t watermark =
      std::max(watermark_ms_, absl::ToUnixMillis(t - options_.store.tick));
  absl::Status s = Ship(watermark);
  if (s.ok() && options_.ack == AckMode::kWait) {
    absl::StatusOr<RedisReply> r = redis_->Command(
        {"WAIT", std::to_string(options_.wait_replicas),
         std::to_string(absl::ToInt64Milliseconds(options_.wait_timeout))});
    if (!r.ok()) {
      s = r.status();
    } else if (r->integer < options_.wait_replicas) {
      s = absl::UnavailableError("WAIT: too few Redis replicas have it");
    }
  }
  if (!s.ok()) {
    Trace(options_.host_id, log_.partition(), "round failed", s);
    if (absl::IsAborted(s) || absl::IsDataLoss(s) || absl::IsOutOfRange(s)) {
      fenced_.store(true, std::memory_order_release);  // Never serves again.
    }
    CvMutexLock l(&mu_);
    failed_ = round;
    failure_ = s;
    cv_.notify_all();
    return false;
  }
  watermark_ms_ = watermark;
  Deliver(watermark);
  {
    CvMutexLock l(&mu_);
    shipped_ = round;
    cv_.notify_all();
  }
  if (absl::Status c = MaybeUploadCheckpoint(); !c.ok()) {
    Trace(options_.host_id, log_.partition(),
          absl::IsAborted(c) ? "checkpoint refused" : "checkpoint failed", c);
    if (absl::IsAborted(c)) fenced_.store(true, std::memory_order_release);
  }
  return true;
}

absl::Status PartitionOwner::Ship(std::optional<int64_t> watermark_ms) {
  constexpr size_t kBatch = 512;
  std::vector<LogRecord> batch;
  absl::Status failed;
  absl::StatusOr<uint64_t> end = store_->ReadChanges(
      next_lsn_, [&](const sessionwheel::Change& c) -> absl::Status {
        batch.push_back({c.lsn, c.type, std::string(c.payload)});
        if (batch.size() < kBatch) return absl::OkStatus();
        absl::StatusOr<uint64_t> head =
            log_.Append(*redis_, epoch_, std::nullopt, batch);
        if (!head.ok()) return head.status();
        next_lsn_ = c.lsn + 1;
        batch.clear();
        return absl::OkStatus();
      });
  if (!end.ok()) return end.status();
  absl::StatusOr<uint64_t> head =
      log_.Append(*redis_, epoch_, watermark_ms, batch);
  if (!head.ok()) return head.status();
  next_lsn_ = *end;
  return absl::OkStatus();
}

absl::Status PartitionOwner::MaybeUploadCheckpoint() {
  // A failed upload (Redis out of memory, a checkpoint past its bulk
  // limit) is not retried each round: each try stops the partition's
  // changes while the checkpoint starts, and writes the whole partition.
  if (next_lsn_ - std::max(checkpoint_lsn_, checkpoint_tried_lsn_) <
      static_cast<uint64_t>(options_.checkpoint_every)) {
    return absl::OkStatus();
  }
  checkpoint_tried_lsn_ = next_lsn_;
  {
    // The checkpoint removes the journal before its position: no change may
    // begin until everything before it is in the stream. The feed reads
    // only what the journal has written, and under kInterval or kOs the
    // last changes may still be in its buffers: written out first, or the
    // checkpoint would remove them unshipped.
    std::unique_lock<std::shared_mutex> l(gate_);
    if (absl::Status s = store_->FlushJournal(); !s.ok()) return s;
    if (absl::Status s = Ship(std::nullopt); !s.ok()) return s;
    if (absl::Status s = store_->Checkpoint(); !s.ok()) return s;
  }
  // The checkpoint may hold changes after its position: they are in the
  // journal (it was flushed before the file took its name), and go to the
  // stream before the checkpoint, so a standby loading it sees nothing the
  // stream lacks.
  if (absl::Status s = Ship(std::nullopt); !s.ok()) return s;
  absl::StatusOr<SessionStore::CheckpointPosition> at =
      store_->LatestCheckpoint();
  if (!at.ok()) return at.status();
  std::ifstream in(at->path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::UnavailableError(absl::StrCat("cannot read ", at->path));
  }
  if (absl::Status s = log_.PutCheckpoint(*redis_, epoch_, at->lsn, bytes);
      !s.ok()) {
    return s;
  }
  checkpoint_lsn_ = at->lsn;
  return absl::OkStatus();
}

void PartitionOwner::Deliver(int64_t watermark_ms) {
  std::vector<HeldEvent> ready;
  {
    CvMutexLock l(&mu_);
    std::deque<HeldEvent> later;
    for (HeldEvent& e : events_) {
      if (e.expiry && absl::ToUnixMillis(e.event.time) > watermark_ms) {
        later.push_back(std::move(e));
      } else {
        ready.push_back(std::move(e));
      }
    }
    events_ = std::move(later);
  }
  if (options_.listener == nullptr) return;
  t_delivering = true;
  for (HeldEvent& e : ready) {
    e.event.unique_name = e.unique_name;
    e.event.closed_reason = e.closed_reason;
    options_.listener->OnEvent(e.event);
  }
  t_delivering = false;
}

bool PartitionOwner::Delivering() { return t_delivering; }

}  // namespace sessionwheel::internal
