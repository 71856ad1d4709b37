// Failover by killing: host processes share a redis-server the test starts
// on loopback, and the test kills the owner with SIGKILL, or stops it with
// SIGSTOP past its lease and lets it continue, while they serve a workload.
//
// Each host is a child process forked from the test (which has no thread
// of its own then). It runs a ScaleOutHost that may own every partition
// (so one host owns them all and the other is its standby), and for every
// partition it owns creates Sessions and closes some it made, telling the
// parent through a pipe each change acknowledged (AckMode::kStream) and
// how many partitions it owns. The parent keeps two hosts alive; each round
// it waits for the owner to acknowledge a random number of changes, kills
// it, and starts a new host in its place: the standby must take over. At
// the end the parent rebuilds every partition from Redis alone
// (ReadPartitionFromRedis) and checks it against the model of acknowledged
// changes: every acknowledged create is there with its SID, every
// acknowledged close is closed. The fence is what makes that hold after
// SIGSTOP: the stopped owner's late appends are refused by Redis.
//
// SW_SCALEOUT_KILLS sets the number of kills (default 10) and
// SW_SCALEOUT_STOPS the stop/continue cycles (default 3);
// docs/scale-out.md reports a long run.

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/scaleout/redis_client.h"
#include "gtest/gtest.h"
#include "sessionwheel/scaleout.h"
#include "sessionwheel/store.h"
#include "tests/redis_server.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::kAccountSid;
using testing_util::RedisCluster;
using testing_util::RedisServer;

constexpr int kPartitions = 4;

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text == nullptr ? fallback : std::max(0, std::atoi(text));
}

// What a host writes to the pipe: fixed size (under PIPE_BUF), so a read
// never splits one and a kill never leaves half of one.
struct Message {
  // 'C' created, 'X' closed, 'E' heard an expiry, 'O' owns `partition`
  // partitions.
  char kind;
  int32_t partition;
  char name[24];
  char sid[Sid::kTextSize + 1];
};

Sid ServiceIn(int p) {
  for (uint64_t lo = 1;; ++lo) {
    Sid sid("KS", 0xfa11000000000000ULL, lo);
    if (PartitionOfService(sid, kPartitions) == p) return sid;
  }
}

ScaleOutOptions HostOptions(int port, const std::string& dir,
                            const std::string& host) {
  ScaleOutOptions o;
  o.redis_port = port;
  o.partitions = kPartitions;
  o.host_id = host;
  o.data_dir = dir + "/" + host;
  o.account_sid = kAccountSid;
  o.lease = absl::Milliseconds(300);
  o.ack = AckMode::kStream;
  o.store.sync = SyncPolicy::kEveryWrite;
  o.max_owned = kPartitions;
  o.checkpoint_every = 200;  // Small, so kills land near checkpoints too.
  return o;
}

void Send(int fd, const Message& m) {
  if (write(fd, &m, sizeof(m)) != sizeof(m)) _exit(3);
}

// Tells the parent of every expiry the host reports.
class ExpiryTeller final : public SessionListener {
 public:
  explicit ExpiryTeller(int fd) : fd_(fd) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kClosed || e.closed_reason != kReasonTtl) return;
    Message m{};
    m.kind = 'E';
    e.sid.Write(m.sid);
    Send(fd_, m);
  }

 private:
  const int fd_;
};

// The host process: serves until killed. Every other Session it creates
// has a TTL of 1 s, so expiries fall due all along, some while no host
// owns the partition.
[[noreturn]] void RunHost(int port, const std::string& dir,
                          const std::string& host, int fd) {
  auto send = [fd](const Message& m) { Send(fd, m); };
  ScaleOutOptions options = HostOptions(port, dir, host);
  options.listener = std::make_shared<ExpiryTeller>(fd);
  auto started = ScaleOutHost::Start(options);
  if (!started.ok()) _exit(2);
  ScaleOutHost& h = **started;
  std::map<int, std::vector<Sid>> made;  // By partition.
  int owned_told = -1;
  for (uint64_t k = 0;; ++k) {
    const std::vector<int> owned = h.Owned();
    if (static_cast<int>(owned.size()) != owned_told) {
      owned_told = static_cast<int>(owned.size());
      Message m{};
      m.kind = 'O';
      m.partition = owned_told;
      send(m);
    }
    if (owned.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    const int p = owned[k % owned.size()];
    const Sid ks = ServiceIn(p);
    CreateServiceParams service;
    service.sid = ks;
    service.unique_name = "failover-" + std::to_string(p);
    h.Write(p, [&](SessionStore& s) {
       return s.CreateService(service).status();
     }).IgnoreError();  // Made by an earlier host, or it is not ours now.
    Message m{};
    m.partition = p;
    if (k % 4 == 3 && !made[p].empty()) {
      // Close one this host made in this partition.
      const Sid target = made[p][k % made[p].size()];
      absl::Status s = h.Write(p, [&](SessionStore& st) {
        return st.CloseSession(ks, target, "done");
      });
      if (!s.ok()) continue;
      m.kind = 'X';
      target.Write(m.sid);
    } else {
      CreateSessionParams params;
      params.unique_name = host + "-" + std::to_string(k);
      if (k % 2 == 0) params.ttl = 1;
      Session out;
      absl::Status s = h.Write(p, [&](SessionStore& st) {
        return st.CreateSession(ks, params, &out);
      });
      if (!s.ok()) continue;
      m.kind = 'C';
      std::snprintf(m.name, sizeof(m.name), "%s", params.unique_name->c_str());
      out.sid.Write(m.sid);
      made[p].push_back(out.sid);
    }
    send(m);
  }
}

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::string host;
  int owned = 0;
  int acks = 0;  // Changes acknowledged since the count was last reset.
};

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Clustered()) {
      cluster_ = std::make_unique<RedisCluster>(dir_ + "/cluster");
      ASSERT_TRUE(cluster_->ok()) << "the Redis Cluster did not form";
      port_ = cluster_->port(0);
    } else {
      server_ = std::make_unique<RedisServer>(dir_ + "/redis");
      ASSERT_TRUE(server_->ok()) << "redis-server did not start";
      port_ = server_->port();
    }
  }
  virtual bool Clustered() const { return false; }
  void TearDown() override {
    for (Child& c : children_) Kill(c);
    server_.reset();
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  Child Spawn() {
    Child c;
    c.host = "h" + std::to_string(spawned_++);
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    c.pid = fork();
    if (c.pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlives the test.
      close(fds[0]);
      RunHost(port_, dir_, c.host, fds[1]);
    }
    close(fds[1]);
    c.fd = fds[0];
    return c;
  }

  void Kill(Child& c, int signal = SIGKILL) {
    if (c.pid <= 0) return;
    kill(c.pid, SIGCONT);
    kill(c.pid, signal);
    waitpid(c.pid, nullptr, 0);
    c.pid = -1;
    Drain(c, 0);
    close(c.fd);
  }

  // Reads what `c` wrote, waiting up to `wait_ms` for the first message.
  void Drain(Child& c, int wait_ms) {
    pollfd pfd{c.fd, POLLIN, 0};
    while (poll(&pfd, 1, wait_ms) > 0 && (pfd.revents & POLLIN)) {
      Message m;
      if (read(c.fd, &m, sizeof(m)) != sizeof(m)) return;
      wait_ms = 0;
      if (m.kind == 'O') {
        c.owned = m.partition;
      } else if (m.kind == 'C') {
        ++c.acks;
        created_[m.sid] = {m.partition, m.name};
      } else if (m.kind == 'X') {
        ++c.acks;
        closed_[m.sid] = m.partition;
      } else if (m.kind == 'E') {
        ++expiries_heard_[m.sid];
      }
    }
  }

  // Reads from every child until `done` holds or 20 s pass.
  bool Until(const std::function<bool()>& done) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      for (Child& c : children_) {
        if (c.pid > 0) Drain(c, 2);
      }
    }
    return true;
  }

  // Three hosts; `kills` times, waits for the busiest to acknowledge a
  // random number of changes, kills it, waits for the others to take its
  // partitions over and starts a new host in its place. Then checks the
  // partitions in Redis against the model, and the expiries heard.
  void KillOwners(int kills, uint32_t seed) {
    std::mt19937 rng(seed);
    StartHosts();
    for (int round = 0; round < kills; ++round) {
      Child* victim = Busiest();
      ASSERT_NE(victim, nullptr);
      victim->acks = 0;
      const int wanted = std::uniform_int_distribution<int>(1, 60)(rng);
      ASSERT_TRUE(Until([&] { return victim->acks >= wanted; }))
          << "the owner stopped acknowledging in round " << round;
      Kill(*victim);
      ASSERT_TRUE(Until([&] { return AllServed(nullptr); }))
          << "its partitions were not taken over in round " << round;
      *victim = Spawn();
    }
    // Sessions with a 1 s TTL expire all along: wait for a report.
    ASSERT_TRUE(Until([&] { return !expiries_heard_.empty(); }));
    for (Child& c : children_) Kill(c);
    EXPECT_GT(created_.size(), static_cast<size_t>(kills));
    CheckModel();
    CheckExpiries();
  }

  // Three hosts: an owner of every partition, then two standbys.
  void StartHosts() {
    children_.push_back(Spawn());
    ASSERT_TRUE(Until([&] { return Owner() != nullptr; }));
    children_.push_back(Spawn());
    children_.push_back(Spawn());
  }

  // No expiry was reported twice, by one host or by two.
  void CheckExpiries() {
    int reported = 0;
    for (const auto& [sid, times] : expiries_heard_) {
      EXPECT_EQ(times, 1) << "expiry of " << sid << " reported " << times
                          << " times";
      ++reported;
    }
    EXPECT_GT(reported, 0);
    std::printf(
        "%zu creates and %zu closes acknowledged, all kept; %d "
        "expiries reported, none twice\n",
        created_.size(), closed_.size(), reported);
  }

  // The host that owns every partition, as it last told.
  Child* Owner() {
    for (Child& c : children_) {
      if (c.pid > 0 && c.owned == kPartitions) return &c;
    }
    return nullptr;
  }

  // The live host that owns the most partitions.
  Child* Busiest() {
    Child* best = nullptr;
    for (Child& c : children_) {
      if (c.pid > 0 && c.owned > 0 &&
          (best == nullptr || c.owned > best->owned)) {
        best = &c;
      }
    }
    return best;
  }

  // Whether the live hosts but `except` own every partition between them,
  // as they last told.
  bool AllServed(const Child* except) {
    int owned = 0;
    for (const Child& c : children_) {
      if (c.pid > 0 && &c != except) owned += c.owned;
    }
    return owned == kPartitions;
  }

  int AcksBut(const Child* except) {
    int acks = 0;
    for (const Child& c : children_) {
      if (&c != except) acks += c.acks;
    }
    return acks;
  }

  // Every acknowledged change is in the partitions Redis holds.
  void CheckModel() {
    ScaleOutOptions reader = HostOptions(port_, dir_, "reader");
    std::map<int, std::shared_ptr<SessionStore>> parts;
    for (int p = 0; p < kPartitions; ++p) {
      auto store = ReadPartitionFromRedis(reader, p);
      ASSERT_TRUE(store.ok()) << store.status();
      ASSERT_TRUE((*store)->CheckInvariants().ok());
      parts[p] = *store;
    }
    int64_t held = 0;
    for (auto& [p, store] : parts) held += store->Stats().sessions;
    EXPECT_GE(held, static_cast<int64_t>(created_.size()));
    for (const auto& [sid, where] : created_) {
      auto got = parts[where.first]->FetchSession(ServiceIn(where.first),
                                                  *Sid::Parse(sid));
      ASSERT_TRUE(got.ok()) << "acknowledged create lost: " << sid;
      EXPECT_EQ(got->unique_name, where.second);
    }
    for (const auto& [sid, p] : closed_) {
      auto got = parts[p]->FetchSession(ServiceIn(p), *Sid::Parse(sid));
      ASSERT_TRUE(got.ok()) << sid;
      EXPECT_EQ(got->status, SessionStatus::kClosed)
          << "acknowledged close lost: " << sid;
    }
  }

  const std::string dir_ = std::filesystem::temp_directory_path() /
                           ("sw_failover_" + std::to_string(getpid()));
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RedisCluster> cluster_;  // Instead, when Clustered().
  int port_ = 0;
  std::vector<Child> children_;
  int spawned_ = 0;
  std::map<std::string, std::pair<int, std::string>> created_;
  std::map<std::string, int> closed_;
  std::map<std::string, int> expiries_heard_;  // By Session SID, all hosts.
};

TEST_F(FailoverTest,
       StandbysTakeOverFromAKilledOwnerAndNothingAcknowledgedIsLost) {
  KillOwners(EnvInt("SW_SCALEOUT_KILLS", 10), EnvInt("SW_SCALEOUT_SEED", 2026));
}

TEST_F(FailoverTest,
       AnOwnerStoppedPastItsLeaseStopsServingAndItsLateWritesAreFenced) {
  const int stops = EnvInt("SW_SCALEOUT_STOPS", 3);
  StartHosts();
  for (int round = 0; round < stops; ++round) {
    ASSERT_TRUE(Until([&] { return AllServed(nullptr); }));
    Child* stopped = Busiest();
    stopped->acks = 0;
    ASSERT_TRUE(Until([&] { return stopped->acks >= 5; }));
    kill(stopped->pid, SIGSTOP);
    // The others take the lapsed leases and serve.
    for (Child& c : children_) c.acks = 0;
    ASSERT_TRUE(Until([&] {
      return AllServed(stopped) && AcksBut(stopped) >= 5;
    })) << "round "
        << round;
    kill(stopped->pid, SIGCONT);
    // The old owner finds its leases gone and serves nothing; whatever it
    // acknowledges now it acknowledged before the stop (the model checks
    // that those are kept).
    ASSERT_TRUE(Until([&] { return stopped->owned == 0; }))
        << "round " << round;
    ASSERT_TRUE(Until([&] { return AcksBut(stopped) >= 10; }));
  }
  // Sessions with a 1 s TTL expire all along: wait for a report.
  ASSERT_TRUE(Until([&] { return !expiries_heard_.empty(); }));
  for (Child& c : children_) Kill(c);
  CheckModel();
  CheckExpiries();
}

// The same against a three-master Redis Cluster: each partition's keys in
// one slot, the hosts following MOVED to the master of each. Every host
// connects to the first master only.
class ClusterFailoverTest : public FailoverTest {
 protected:
  bool Clustered() const override { return true; }
};

TEST_F(ClusterFailoverTest,
       StandbysTakeOverFromAKilledOwnerAndNothingAcknowledgedIsLost) {
  // The partitions' slots fall on more than one master (redis-cli splits
  // the 16384 slots in three even ranges).
  std::set<int> masters;
  for (int p = 0; p < kPartitions; ++p) {
    const int slot =
        internal::RedisClient::Slot("{p" + std::to_string(p) + "}");
    masters.insert(slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
  }
  EXPECT_GE(masters.size(), 2u);
  KillOwners(EnvInt("SW_SCALEOUT_CLUSTER_KILLS", 5),
             EnvInt("SW_SCALEOUT_SEED", 2026) + 1);
}

}  // namespace
}  // namespace sessionwheel
