// The scale-out host (include/sessionwheel/scaleout.h) in one process:
// hosts sharing a redis-server the test starts on loopback. Leases expire
// in Redis's real time, so they are short (300 ms) and every wait is a
// bounded poll of a condition, never a sleep for time to pass; Session
// time is a ManualClock.

#include "sessionwheel/scaleout.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/scaleout/follower.h"
#include "engine/scaleout/owner.h"
#include "engine/scaleout/partition_log.h"
#include "engine/scaleout/redis_client.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/store.h"
#include "tests/redis_server.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::RedisServer;

constexpr int kPartitions = 4;

// Polls `done` until it holds or 10 s pass; the result is `done`'s last.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A Service SID that falls in partition `p`.
Sid ServiceIn(int p, int n = 0) {
  for (uint64_t lo = 1;; ++lo) {
    Sid sid("KS", 0x5eed000000000000ULL + static_cast<uint64_t>(n), lo);
    if (PartitionOfService(sid, kPartitions) == p) return sid;
  }
}

// Records the expiries it hears, by Session SID.
class ExpiryLog final : public SessionListener {
 public:
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kClosed ||
        (e.closed_reason != kReasonTtl &&
         e.closed_reason != kReasonDateExpiry)) {
      return;
    }
    std::lock_guard<std::mutex> l(mu_);
    ++heard_[e.sid.ToString()];
  }
  std::map<std::string, int> heard() {
    std::lock_guard<std::mutex> l(mu_);
    return heard_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> heard_;
};

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }
  void TearDown() override {
    hosts_.clear();
    server_.Stop();
    std::filesystem::remove_all(dir_);
  }

  ScaleOutOptions Options(const std::string& host, int port = 0) {
    ScaleOutOptions o;
    o.redis_port = port != 0 ? port : server_.port();
    o.partitions = kPartitions;
    o.host_id = host;
    o.data_dir = dir_ + "/" + host;
    o.account_sid = kAccountSid;
    o.deployment_seed = 42;
    o.lease = absl::Milliseconds(300);
    o.store.clock = &clock_;
    o.store.sync = SyncPolicy::kEveryWrite;
    o.max_owned = kPartitions;
    return o;
  }

  ScaleOutHost& StartHost(const ScaleOutOptions& o) {
    auto host = ScaleOutHost::Start(o);
    EXPECT_TRUE(host.ok()) << host.status();
    hosts_.push_back(*std::move(host));
    return *hosts_.back();
  }

  // Creates Service n of partition p on `host`, which must own p.
  Sid CreateService(ScaleOutHost& host, int p, int n = 0) {
    CreateServiceParams params;
    params.sid = ServiceIn(p, n);
    params.unique_name = "svc-" + std::to_string(p) + "-" + std::to_string(n);
    EXPECT_TRUE(host.Write(p,
                           [&](SessionStore& s) {
                             return s.CreateService(params).status();
                           })
                    .ok());
    return *params.sid;
  }

  absl::StatusOr<Session> CreateSession(ScaleOutHost& host, const Sid& service,
                                        const std::string& name,
                                        int64_t ttl = 0) {
    CreateSessionParams params;
    params.unique_name = name;
    if (ttl > 0) params.ttl = ttl;
    Session out;
    absl::Status s =
        host.Write(host.PartitionOf(service), [&](SessionStore& st) {
          return st.CreateSession(service, params, &out);
        });
    if (!s.ok()) return s;
    return out;
  }

  const std::string dir_ = std::filesystem::temp_directory_path() /
                           ("sw_scaleout_" + std::to_string(getpid()));
  RedisServer server_{dir_ + "/redis"};
  ManualClock clock_{kT0};
  std::vector<std::unique_ptr<ScaleOutHost>> hosts_;
};

TEST(PartitionMapTest, AServiceAlwaysMapsToTheSamePartition) {
  const Sid ks = *Sid::Parse("KS0123456789abcdef0123456789abcdef");
  // FNV-1a 64 of the text, modulo P: pinned, so every host and language
  // agrees (docs/scale-out.md gives it in Python).
  EXPECT_EQ(PartitionOfService(ks, 1), 0);
  const int p = PartitionOfService(ks, 64);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PartitionOfService(ks, 64), p);
  int seen[8] = {};
  for (int n = 0; n < 800; ++n) {
    ++seen[PartitionOfService(Sid("KS", 77, n), 8)];
  }
  for (int count : seen) EXPECT_GT(count, 50);  // Spread over all.
  EXPECT_EQ(PartitionOfService(ks, 0), -1);     // No partition, no crash.
  EXPECT_EQ(PartitionOfService(ks, -3), -1);
}

TEST_F(ScaleOutTest, AckModeWaitNeedsAWaitTimeoutOfAMillisecond) {
  ScaleOutOptions o = Options("a");
  o.ack = AckMode::kWait;
  o.wait_timeout = absl::Microseconds(500);  // WAIT 1 0: for ever.
  EXPECT_EQ(ScaleOutHost::Start(o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ScaleOutTest, AHostTakesEveryPartitionAndItsWritesReachTheStream) {
  ScaleOutHost& a = StartHost(Options("a"));
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  EXPECT_EQ(*a.OwnerOf(2), "a");
  const Sid ks = CreateService(a, 2);
  auto session = CreateSession(a, ks, "ride-1");
  ASSERT_TRUE(session.ok()) << session.status();
  // Acknowledged under AckMode::kStream: Redis alone has it now.
  auto replica = ReadPartitionFromRedis(Options("reader"), 2);
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ(*(*replica)->FetchSession(ks, "ride-1"), *session);
  // A partition's Service belongs there, not elsewhere.
  auto other = ReadPartitionFromRedis(Options("reader"), 1);
  EXPECT_TRUE(absl::IsNotFound((*other)->FetchService(ks).status()));
}

TEST_F(ScaleOutTest, ASessionSidAloneNamesItsPartition) {
  ScaleOutHost& a = StartHost(Options("a"));
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  for (int p = 0; p < kPartitions; ++p) {
    const Sid ks = CreateService(a, p);
    auto session = CreateSession(a, ks, "ride-" + std::to_string(p));
    ASSERT_TRUE(session.ok()) << session.status();
    EXPECT_EQ(PartitionOfSession(session->sid, kPartitions), p)
        << session->sid.ToString();
  }
  // Digits past the partition count name none.
  const std::optional<Sid> beyond =
      Sid::Parse("KC" + std::string(28, '0') + "ffff");
  ASSERT_TRUE(beyond.has_value());
  EXPECT_EQ(PartitionOfSession(*beyond, kPartitions), std::nullopt);
  EXPECT_EQ(PartitionOfSession(Sid(), kPartitions), std::nullopt);
}

TEST_F(ScaleOutTest, AHostRefusesWhatItDoesNotOwnSoTheCallerForwards) {
  ScaleOutOptions oa = Options("a");
  oa.max_owned = 1;
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == 1; }));
  ScaleOutHost& b = StartHost(Options("b"));
  ASSERT_TRUE(Eventually([&] { return b.Owned().size() == kPartitions - 1; }));
  const int mine = a.Owned()[0];
  const int theirs = b.Owned()[0];
  absl::Status s =
      a.Write(theirs, [](SessionStore&) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(*a.OwnerOf(theirs), "b");
  EXPECT_EQ(*b.OwnerOf(mine), "a");
  EXPECT_TRUE(absl::IsFailedPrecondition(
      b.Read(mine, [](SessionStore&) { return absl::OkStatus(); })));
}

TEST_F(ScaleOutTest, AStandbyFollowsTheStreamAndTakesOverOnRelease) {
  auto a = ScaleOutHost::Start(Options("a"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(Eventually([&] { return (*a)->Owned().size() == kPartitions; }));
  ScaleOutHost& b = StartHost(Options("b"));
  const Sid ks = CreateService(**a, 3);
  std::vector<Session> made;
  for (int i = 0; i < 50; ++i) {
    auto s = CreateSession(**a, ks, "ride-" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << s.status();
    made.push_back(*s);
  }
  // The standby's follower catches up with the stream.
  ASSERT_TRUE(Eventually([&] {
    return b
        .ReadStandby(3,
                     [&](SessionStore& st) {
                       return st.FetchSession(ks, "ride-49").status();
                     })
        .ok();
  }));
  a->reset();  // Releases its leases: b takes over within a control period.
  ASSERT_TRUE(Eventually([&] { return b.Owned().size() == kPartitions; }));
  for (const Session& s : made) {
    Session got;
    ASSERT_TRUE(b.Read(3, [&](SessionStore& st) {
                   return st.FetchSession(ks, s.sid, &got);
                 }).ok());
    EXPECT_EQ(got, s);
  }
  // And it serves: its changes continue the stream.
  auto next = CreateSession(b, ks, "ride-50");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_NE(next->sid, made.back().sid);
  auto replica = ReadPartitionFromRedis(Options("reader"), 3);
  ASSERT_TRUE(replica.ok());
  EXPECT_EQ((*replica)->Stats().sessions, 51);
}

TEST_F(ScaleOutTest, EachExpiryIsReportedOnceAcrossAHandover) {
  auto la = std::make_shared<ExpiryLog>();
  auto lb = std::make_shared<ExpiryLog>();
  ScaleOutOptions oa = Options("a");
  oa.listener = la;
  auto a = ScaleOutHost::Start(oa);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(Eventually([&] { return (*a)->Owned().size() == kPartitions; }));
  ScaleOutOptions ob = Options("b");
  ob.listener = lb;
  ScaleOutHost& b = StartHost(ob);
  const Sid ks = CreateService(**a, 0);
  const Sid s10 = CreateSession(**a, ks, "t10", 10)->sid;
  const Sid s20 = CreateSession(**a, ks, "t20", 20)->sid;
  const Sid s30 = CreateSession(**a, ks, "t30", 30)->sid;
  clock_.Set(kT0 + absl::Seconds(15));
  // a's wheel closes s10 and reports it once the watermark passes it.
  ASSERT_TRUE(Eventually([&] { return la->heard().count(s10.ToString()); }));
  a->reset();
  // s20 falls due while no host owns the partition.
  clock_.Set(kT0 + absl::Seconds(25));
  ASSERT_TRUE(Eventually([&] { return b.Owned().size() == kPartitions; }));
  ASSERT_TRUE(Eventually([&] { return lb->heard().count(s20.ToString()); }));
  clock_.Set(kT0 + absl::Seconds(35));
  ASSERT_TRUE(Eventually([&] { return lb->heard().count(s30.ToString()); }));
  EXPECT_EQ(la->heard(), (std::map<std::string, int>{{s10.ToString(), 1}}));
  EXPECT_EQ(lb->heard(), (std::map<std::string, int>{{s20.ToString(), 1},
                                                     {s30.ToString(), 1}}));
}

TEST_F(ScaleOutTest, AStandbyFreesWhatItsOwnerPurgedAndReportsNothing) {
  auto heard = std::make_shared<ExpiryLog>();
  ScaleOutOptions oa = Options("a");
  oa.store.closed_retention = absl::Minutes(1);
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  ScaleOutOptions ob = Options("b");
  ob.store.closed_retention = absl::Minutes(1);
  ob.listener = heard;
  ScaleOutHost& b = StartHost(ob);
  const Sid ks = CreateService(a, 2);
  ASSERT_TRUE(CreateSession(a, ks, "short", 10).ok());
  ASSERT_TRUE(Eventually([&] {
    return b
        .ReadStandby(2,
                     [&](SessionStore& st) {
                       return st.FetchSession(ks, "short").status();
                     })
        .ok();
  }));
  // Purges are not in the stream: the standby's own wheel frees it.
  clock_.Set(kT0 + absl::Minutes(5));
  int64_t held = -1;
  EXPECT_TRUE(Eventually([&] {
    b.ReadStandby(2, [&](SessionStore& st) {
       held = st.Stats().sessions;
       return absl::OkStatus();
     }).IgnoreError();
    return held == 0;
  })) << held;
  EXPECT_TRUE(heard->heard().empty());  // Only an owner reports.
}

TEST_F(ScaleOutTest, ALateStandbyStartsFromTheCheckpointInRedis) {
  ScaleOutOptions oa = Options("a");
  oa.checkpoint_every = 20;
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  const Sid ks = CreateService(a, 1);
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(CreateSession(a, ks, "ride-" + std::to_string(i)).ok());
  }
  // The stream was trimmed behind a checkpoint: it no longer starts at 1.
  auto redis = *internal::RedisClient::Connect("127.0.0.1", server_.port(),
                                               absl::Seconds(1));
  auto checkpoint_lsn = redis->Command({"HGET", "sw:{p1}:ckpt", "lsn"});
  ASSERT_TRUE(checkpoint_lsn.ok());
  EXPECT_GT(std::stoll(checkpoint_lsn->str), 1);
  auto first =
      redis->Command({"XRANGE", "sw:{p1}:log", "-", "+", "COUNT", "1"});
  ASSERT_TRUE(first.ok());
  if (!first->elements.empty()) {
    EXPECT_NE(first->elements[0].elements[0].str, "1-0");
  }
  ScaleOutHost& late = StartHost(Options("late"));
  int64_t seen = -1;
  EXPECT_TRUE(Eventually([&] {
    late.ReadStandby(1,
                     [&](SessionStore& st) {
                       seen = st.Stats().sessions;
                       return absl::OkStatus();
                     })
        .IgnoreError();
    return seen == 100;
  })) << "the late standby holds "
      << seen << " Sessions; Redis holds "
      << (*ReadPartitionFromRedis(Options("reader"), 1))->Stats().sessions
      << "; checkpoint at "
      << redis->Command({"HGET", "sw:{p1}:ckpt", "lsn"})->str << ", head "
      << redis->Command({"GET", "sw:{p1}:head"})->str;
}

TEST_F(ScaleOutTest, StartingWhileRedisIsDownIsUnavailable) {
  const int port = server_.port();
  server_.Stop();
  auto host = ScaleOutHost::Start(Options("a", port));
  EXPECT_TRUE(absl::IsUnavailable(host.status())) << host.status();
}

// kLocal under kInterval: the journal writes its buffers every few
// milliseconds, and the feed reads only what it has written. A checkpoint
// for Redis taken while changes stream in must first write them out, or it
// removes them from the journal before they are shipped (the owner then
// finds its feed gone and fences itself), and a release must too, or its
// last round misses them. Every change acknowledged is in Redis after a
// release, through checkpoints.
TEST_F(ScaleOutTest,
       KLocalUnderIntervalSyncLosesNothingToCheckpointsOrARelease) {
  ScaleOutOptions oa = Options("a");
  oa.ack = AckMode::kLocal;
  oa.store.sync = SyncPolicy::kInterval;
  oa.checkpoint_every = 20;
  auto a = ScaleOutHost::Start(oa);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(Eventually([&] { return (*a)->Owned().size() == kPartitions; }));
  const Sid ks = CreateService(**a, 2);
  auto redis = *internal::RedisClient::Connect("127.0.0.1", server_.port(),
                                               absl::Seconds(1));
  auto checkpoint_lsn = [&] {
    auto lsn = redis->Command({"HGET", "sw:{p2}:ckpt", "lsn"});
    return lsn.ok() && !lsn->str.empty() ? std::stoll(lsn->str) : 0;
  };
  // Creates stream in while the owner takes six checkpoints (one every
  // 20 records, after a round), so each meets changes still buffered.
  std::vector<Session> made;
  absl::Status refused;
  int checkpoints = 0;
  int64_t last = checkpoint_lsn();
  for (int i = 0; i < 200000 && checkpoints < 6 && refused.ok(); ++i) {
    absl::StatusOr<Session> s =
        CreateSession(**a, ks, "n-" + std::to_string(i));
    if (!s.ok()) {
      refused = s.status();
      break;
    }
    made.push_back(*std::move(s));
    if (i % 64 == 0 && checkpoint_lsn() != last) {
      last = checkpoint_lsn();
      ++checkpoints;
    }
  }
  EXPECT_TRUE(refused.ok()) << refused;
  EXPECT_EQ(checkpoints, 6);
  a->reset();  // A release: the last round ships what is left.
  auto replica = ReadPartitionFromRedis(Options("reader"), 2);
  ASSERT_TRUE(replica.ok()) << replica.status();
  int missing = 0;
  for (const Session& s : made) {
    if (!(*replica)->FetchSession(ks, s.sid).ok()) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << made.size() << " acknowledged creates";
}

// A release stops the owner while writers may still hold it: a change that
// begins after the stop must be refused, not run on a store whose last
// round has shipped (under kLocal it would be acknowledged, then lost).
TEST_F(ScaleOutTest, AStoppedOwnerRefusesChangesWithoutRunningThem) {
  ScaleOutOptions o = Options("a");
  o.ack = AckMode::kLocal;
  internal::PartitionLog log(o.key_prefix, 1);
  auto redis = *internal::RedisClient::Connect("127.0.0.1", server_.port(),
                                               absl::Seconds(1));
  absl::StatusOr<uint64_t> epoch = log.Acquire(*redis, o.host_id, o.lease);
  ASSERT_TRUE(epoch.ok() && *epoch != 0) << epoch.status();
  auto follower = internal::PartitionFollower::Build(
      *redis, log, internal::FollowerOptions(o), dir_ + "/scratch");
  ASSERT_TRUE(follower.ok()) << follower.status();
  ASSERT_TRUE((*follower)->CatchUp(*redis).ok());
  auto owner = internal::PartitionOwner::Promote(
      o, log, *epoch, **follower, *redis,
      std::chrono::steady_clock::now() + std::chrono::minutes(1));
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE(
      (*owner)->Change([](SessionStore&) { return absl::OkStatus(); }).ok());
  (*owner)->Stop();
  bool ran = false;
  absl::Status s = (*owner)->Change([&](SessionStore&) {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(s, absl::FailedPreconditionError("not the owner of partition 1"));
  EXPECT_FALSE(ran);
}

// A listener runs on a shipping thread; under kStream its Write would wait
// for a round that only that thread runs. It is refused at once instead,
// with nothing changed, and the partition goes on shipping.
TEST_F(ScaleOutTest, AListenersWriteUnderKStreamIsRefusedNotHung) {
  class WritingListener final : public SessionListener {
   public:
    EventTypes Hears() const override { return {EventType::kCreated}; }
    void OnEvent(const SessionEvent& e) noexcept override {
      ScaleOutHost* host = host_.load();
      if (host == nullptr || done_.exchange(true)) return;
      Session out;
      result_ =
          host->Write(host->PartitionOf(e.service_sid), [&](SessionStore& s) {
            return s.CreateSession(e.service_sid, {}, &out);
          });
      heard_.Open();
    }
    std::atomic<ScaleOutHost*> host_{nullptr};
    std::atomic<bool> done_{false};
    absl::Status result_;  // Written before heard_ opens.
    testing_util::Gate heard_;
  };
  auto listener = std::make_shared<WritingListener>();
  ScaleOutOptions oa = Options("a");
  oa.listener = listener;
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  listener->host_ = &a;
  const Sid ks = CreateService(a, 2);
  ASSERT_TRUE(CreateSession(a, ks, "first").ok());
  ASSERT_TRUE(listener->heard_.Wait());
  EXPECT_EQ(listener->result_.code(), absl::StatusCode::kFailedPrecondition)
      << listener->result_;
  // Nothing was created by the refused Write, and the partition still
  // ships: a later create is acknowledged through the stream.
  ASSERT_TRUE(CreateSession(a, ks, "second").ok());
  int64_t sessions = -1;
  ASSERT_TRUE(a.Read(2, [&](SessionStore& s) {
                 sessions = s.Stats().sessions;
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(sessions, 2);
}

// An upload Redis refuses (here a checkpoint past its bulk limit; out of
// memory is the same) is tried again only after checkpoint_every more
// records, not every round: each try stops the partition's changes while
// the checkpoint starts and writes the whole partition.
TEST_F(ScaleOutTest, AFailedCheckpointUploadIsNotRetriedEveryRound) {
  ScaleOutOptions oa = Options("a");
  oa.ack = AckMode::kLocal;
  oa.store.sync = SyncPolicy::kInterval;
  oa.checkpoint_every = 1000;
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  const Sid ks = CreateService(a, 2);
  auto redis = *internal::RedisClient::Connect("127.0.0.1", server_.port(),
                                               absl::Seconds(1));
  ASSERT_TRUE(
      redis->Command({"CONFIG", "SET", "proto-max-bulk-len", "1mb"}).ok());
  // A field of INFO `section`, "<key>:<name>=<n>,...", as a number.
  auto info = [&](const std::string& section, const std::string& key,
                  const std::string& name) -> int64_t {
    auto r = redis->Command({"INFO", section});
    if (!r.ok()) return -1;
    const size_t at = r->str.find(key + ":" + name + "=");
    if (at == std::string::npos) return 0;
    return std::stoll(r->str.substr(at + key.size() + name.size() + 2));
  };
  auto rounds = [&] {
    return info("commandstats", "cmdstat_evalsha", "calls");
  };
  auto errors = [&] { return info("errorstats", "errorstat_ERR", "count"); };
  // 12,000 Sessions: a checkpoint of about 1.5 MB, which Redis refuses.
  for (int i = 0; i < 12000; ++i) {
    ASSERT_TRUE(
        CreateSession(a, ks, "sixteen-chars-" + std::to_string(i)).ok());
  }
  // Some 50 rounds of each partition for the uploads the creates asked for,
  // then as many again with nothing new.
  for (int wait = 0; wait < 2; ++wait) {
    const int64_t from = rounds();
    ASSERT_TRUE(
        Eventually([&] { return rounds() >= from + 50 * kPartitions; }));
  }
  const int64_t before = errors();
  ASSERT_GE(before, 1) << "no upload was refused: the test needs one";
  const int64_t from = rounds();
  ASSERT_TRUE(Eventually([&] { return rounds() >= from + 50 * kPartitions; }));
  EXPECT_EQ(errors(), before);
}

TEST_F(ScaleOutTest, HostsThatJoinGetAFairShare) {
  ScaleOutOptions oa = Options("a");
  oa.max_owned = 0;
  ScaleOutHost& a = StartHost(oa);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  const Sid ks = CreateService(a, 0);
  ASSERT_TRUE(CreateSession(a, ks, "kept").ok());
  ScaleOutOptions ob = Options("b");
  ob.max_owned = 0;
  ScaleOutHost& b = StartHost(ob);
  ASSERT_TRUE(Eventually(
      [&] { return a.Owned().size() == 2 && b.Owned().size() == 2; }));
  // Whoever owns partition 0 now serves the Session made before the move.
  ScaleOutHost& owner = *a.OwnerOf(0) == "a" ? a : b;
  EXPECT_TRUE(owner
                  .Read(0,
                        [&](SessionStore& st) {
                          return st.FetchSession(ks, "kept").status();
                        })
                  .ok());
}

TEST_F(ScaleOutTest, AcknowledgedWritesSurviveARedisRestartWithAppendOnly) {
  RedisServer aof(dir_ + "/aof",
                  {"--appendonly", "yes", "--appendfsync", "always"});
  ASSERT_TRUE(aof.ok());
  ScaleOutHost& a = StartHost(Options("a", aof.port()));
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  const Sid ks = CreateService(a, 2);
  std::vector<Session> made;
  for (int i = 0; i < 20; ++i) {
    made.push_back(*CreateSession(a, ks, "before-" + std::to_string(i)));
  }
  aof.Stop();
  aof.Start();  // Same port and directory: it loads its append-only file.
  ASSERT_TRUE(aof.ok());
  // The host reconnects (and reloads its scripts) and serves again, under
  // its old lease or a new epoch if the old one lapsed meanwhile.
  absl::StatusOr<Session> after;
  ASSERT_TRUE(Eventually([&] {
    after = CreateSession(a, ks, "after");
    return after.ok();
  }));
  auto replica = ReadPartitionFromRedis(Options("reader", aof.port()), 2);
  ASSERT_TRUE(replica.ok()) << replica.status();
  for (const Session& s : made) {
    EXPECT_EQ(*(*replica)->FetchSession(ks, s.sid), s);
  }
  EXPECT_EQ(*(*replica)->FetchSession(ks, after->sid), *after);
  hosts_.clear();  // Before `aof` stops.
}

TEST_F(ScaleOutTest, AckModeWaitWaitsForARedisReplica) {
  RedisServer replica(dir_ + "/replica", {"--replicaof", "127.0.0.1",
                                          std::to_string(server_.port())});
  ASSERT_TRUE(replica.ok());
  auto master = *internal::RedisClient::Connect("127.0.0.1", server_.port(),
                                                absl::Seconds(1));
  ASSERT_TRUE(Eventually([&] {
    auto info = master->Command({"INFO", "replication"});
    return info.ok() && info->str.find("state=online") != std::string::npos;
  }));
  ScaleOutOptions o = Options("a");
  o.ack = AckMode::kWait;
  o.wait_replicas = 1;
  o.wait_timeout = absl::Seconds(2);
  ScaleOutHost& a = StartHost(o);
  ASSERT_TRUE(Eventually([&] { return a.Owned().size() == kPartitions; }));
  const Sid ks = CreateService(a, 1);
  auto s = CreateSession(a, ks, "replicated");
  ASSERT_TRUE(s.ok()) << s.status();
  // Acknowledged: the replica has it, so reading from it alone finds it.
  auto from_replica =
      ReadPartitionFromRedis(Options("reader", replica.port()), 1);
  ASSERT_TRUE(from_replica.ok()) << from_replica.status();
  EXPECT_EQ(*(*from_replica)->FetchSession(ks, "replicated"), *s);
  // Without the replica, WAIT cannot be satisfied: the write is refused.
  hosts_.clear();
  replica.Stop();
  ScaleOutOptions quick = o;
  quick.wait_timeout = absl::Milliseconds(50);
  ScaleOutHost& b = StartHost(quick);
  ASSERT_TRUE(Eventually([&] { return b.Owned().size() == kPartitions; }));
  auto refused = CreateSession(b, ks, "unreplicated");
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
}

}  // namespace
}  // namespace sessionwheel
