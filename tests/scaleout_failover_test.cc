// Failover by killing, under a routing client: host processes share a
// redis-server the test starts on loopback, a client sends every request to
// the owner of its partition, and the test kills the owner with SIGKILL, or
// stops it with SIGSTOP past its lease and lets it continue, under that load.
//
// Each host is a child process forked from the test (which has no thread of
// its own then). It runs a ScaleOutHost that may own every partition (so one
// host owns them all and the others are its standbys) and serves requests
// from a pipe, one line a request and one line an answer on another pipe,
// as a host serves its network: create a Session in a Service, close a
// Session, or say which host owns a partition (ScaleOutHost::OwnerOf, the
// lease in Redis). A host that does not own the request's partition answers
// "not mine" (Write's FailedPrecondition). On the answer pipe it also tells
// how many partitions it owns and every expiry it reports.
//
// The client is the test process itself, a single-threaded loop with a few
// requests in flight. For each request it picks a Service, and so a
// partition (PartitionOfService), or for a close an acknowledged Session and
// its partition from its SID alone (PartitionOfSession). It sends the request
// to the owner it last learned of that partition; with none known, it asks
// a live host for OwnerOf first, the public way any host of a deployment
// answers it (the test runs no ScaleOutHost of its own: every host takes
// partitions, and a forked process must not inherit one's threads). One
// request in eight goes first to a random host, as a load balancer would
// send it. "Not mine" makes the client look the owner up again and re-route;
// a request to a host that was killed gets no answer (EOF), one to a stopped
// host none within a second; neither is acknowledged. The model of
// acknowledged changes is the client's, built from the answers it got (an
// "ok" that arrives late, from a host continued after SIGSTOP, counts too).
//
// The test keeps three hosts alive; each round it waits for the owner to
// acknowledge a random number of the client's changes, kills it, and starts
// a new host in its place: the standbys must take over, and the client finds
// them. At the end it rebuilds every partition from Redis alone
// (ReadPartitionFromRedis) and checks it against the model: every
// acknowledged create is there with its SID and name, every acknowledged
// close is closed, and no expiry was reported twice. The fence is what makes
// that hold after SIGSTOP: the stopped owner's late appends are refused by
// Redis.
//
// SW_SCALEOUT_KILLS sets the number of kills (default 10),
// SW_SCALEOUT_STOPS the stop/continue cycles (default 3),
// SW_SCALEOUT_CLUSTER_KILLS the kills against a Redis Cluster (default 5)
// and SW_SCALEOUT_SEED the seed; docs/scale-out.md reports a long run.

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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/scaleout/redis_client.h"
#include "gtest/gtest.h"
#include "sessionwheel/scaleout.h"
#include "sessionwheel/store.h"
#include "tests/redis_server.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using std::chrono::steady_clock;
using testing_util::kAccountSid;
using testing_util::RedisCluster;
using testing_util::RedisServer;

constexpr int kPartitions = 4;
// Services of the workload per partition.
constexpr int kServicesPerPartition = 2;
// Requests the client keeps in flight.
constexpr size_t kInFlight = 4;
// How long the client waits for an answer (longer than a lease, so only a
// stopped host misses it).
constexpr auto kAnswerTimeout = std::chrono::seconds(1);

int EnvInt(const char* name, int fallback) {
  const char* text = std::getenv(name);
  return text == nullptr ? fallback : std::max(0, std::atoi(text));
}

// The k-th Service of partition p.
Sid ServiceIn(int p, int k) {
  for (uint64_t lo = 1;; ++lo) {
    Sid sid("KS", 0xfa11000000000000ULL, lo);
    if (PartitionOfService(sid, kPartitions) == p && k-- == 0) return sid;
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

// Writes one line in one write(): under PIPE_BUF, so lines written by two
// threads never interleave and a kill never leaves half of one. False when
// the other end is gone.
bool WriteLine(int fd, std::string line) {
  line += '\n';
  return write(fd, line.data(), line.size()) ==
         static_cast<ssize_t>(line.size());
}

// A host's writes: without the test to read them it has nothing to do.
void SendLine(int fd, const std::string& line) {
  if (!WriteLine(fd, line)) _exit(3);
}

// Tells the client of every expiry the host reports: "E <sid>".
class ExpiryTeller final : public SessionListener {
 public:
  explicit ExpiryTeller(int fd) : fd_(fd) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kClosed || e.closed_reason != kReasonTtl) return;
    SendLine(fd_, "E " + e.sid.ToString());
  }

 private:
  const int fd_;
};

// The answer to one request line, as a host's network front would give it:
//   "<id> owner <p>"            -> "W <id> <p> <host_id or ->"
//   "<id> create <KS> <name> <ttl>" -> "A <id> ok <KC>"
//   "<id> close <KS> <KC>"      -> "A <id> ok"
// or "A <id> notmine" when this host does not own the partition, "A <id>
// err <code>" for any other failure.
std::string Serve(ScaleOutHost& h, const std::string& line) {
  std::istringstream in(line);
  std::string id, verb;
  in >> id >> verb;
  if (verb == "owner") {
    int p = -1;
    in >> p;
    absl::StatusOr<std::string> owner = h.OwnerOf(p);
    return "W " + id + " " + std::to_string(p) + " " +
           (owner.ok() ? *owner : "-");
  }
  std::string service_text, arg;
  in >> service_text >> arg;
  const std::optional<Sid> service = Sid::Parse("KS", service_text);
  if (!service.has_value()) return "A " + id + " err bad-service";
  absl::Status s;
  Session out;
  if (verb == "create") {
    int ttl = 0;
    in >> ttl;
    const int p = h.PartitionOf(*service);
    CreateServiceParams sp;
    sp.sid = *service;
    sp.unique_name = "svc-" + service_text;
    h.Write(p, [&](SessionStore& st) {
       return st.CreateService(sp).status();
     }).IgnoreError();  // Made before, or not ours: the create says which.
    CreateSessionParams params;
    params.unique_name = arg;
    if (ttl > 0) params.ttl = ttl;
    s = h.Write(p, [&](SessionStore& st) {
      return st.CreateSession(*service, params, &out);
    });
  } else if (verb == "close") {
    const std::optional<Sid> session = Sid::Parse("KC", arg);
    const std::optional<int> p = session.has_value()
                                     ? PartitionOfSession(*session, kPartitions)
                                     : std::nullopt;
    if (!p.has_value()) return "A " + id + " err bad-session";
    s = h.Write(*p, [&](SessionStore& st) {
      return st.CloseSession(*service, *session, "done");
    });
  } else {
    return "A " + id + " err bad-verb";
  }
  if (absl::IsFailedPrecondition(s) &&
      absl::StartsWith(s.message(), "not the owner")) {
    return "A " + id + " notmine";
  }
  if (!s.ok()) {
    return "A " + id + " err " + std::to_string(static_cast<int>(s.code()));
  }
  return "A " + id + " ok" + (verb == "create" ? " " + out.sid.ToString() : "");
}

// The host process: serves requests from `in` until killed, answering on
// `out`, and tells "O <n>" there whenever the number of partitions it owns
// changes. Every other Session the client creates has a TTL of 1 s, so
// expiries fall due all along, some while no host owns the partition.
[[noreturn]] void RunHost(int port, const std::string& dir,
                          const std::string& host, int in, int out) {
  ScaleOutOptions options = HostOptions(port, dir, host);
  options.listener = std::make_shared<ExpiryTeller>(out);
  auto started = ScaleOutHost::Start(options);
  if (!started.ok()) _exit(2);
  ScaleOutHost& h = **started;
  int owned_told = -1;
  std::string pending;
  for (;;) {
    const int owned = static_cast<int>(h.Owned().size());
    if (owned != owned_told) {
      owned_told = owned;
      SendLine(out, "O " + std::to_string(owned));
    }
    pollfd pfd{in, POLLIN, 0};
    if (poll(&pfd, 1, 5) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(in, buf, sizeof(buf));
    if (n <= 0) _exit(0);  // The test is gone.
    pending.append(buf, static_cast<size_t>(n));
    for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      SendLine(out, Serve(h, line));
    }
  }
}

struct Child {
  pid_t pid = -1;
  int in = -1;   // Requests to the host.
  int out = -1;  // Its answers and reports.
  std::string host;
  std::string unread;  // Part of a line.
  int owned = 0;
  int acks = 0;  // Changes acknowledged since the count was last reset.
  // Missed an answer's deadline and has answered nothing since (stopped):
  // the client neither asks it nor routes to it.
  bool silent = false;
};

// A request of the client's workload.
struct Request {
  bool close = false;
  Sid service;
  Sid session;  // For a close.
  std::string name;
  int ttl = 0;
  int partition = 0;
  std::string to;  // The host it was sent to; empty until sent.
  steady_clock::time_point deadline;    // For an answer, once sent.
  steady_clock::time_point not_before;  // Of the next try, once refused.
  int tries = 0;
};

// An owner lookup under way (`id` != 0), or none to send before `retry`.
struct Lookup {
  uint64_t id = 0;
  std::string asked;
  steady_clock::time_point deadline;
};

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // A host that died: its write fails instead.
    for (int p = 0; p < kPartitions; ++p) {
      for (int k = 0; k < kServicesPerPartition; ++k) {
        services_.push_back(ServiceIn(p, k));
      }
    }
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
    int to_host[2], from_host[2];
    EXPECT_EQ(pipe(to_host), 0);
    EXPECT_EQ(pipe(from_host), 0);
    c.pid = fork();
    if (c.pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlives the test.
      for (const Child& other : children_) {
        if (other.pid > 0) {
          close(other.in);
          close(other.out);
        }
      }
      close(to_host[1]);
      close(from_host[0]);
      RunHost(port_, dir_, c.host, to_host[0], from_host[1]);
    }
    close(to_host[0]);
    close(from_host[1]);
    c.in = to_host[1];
    c.out = from_host[0];
    return c;
  }

  // Kills `c`, reads what it wrote before it died (answers in the pipe were
  // given: they acknowledge), and gives up on what it did not answer.
  void Kill(Child& c, int signal = SIGKILL) {
    if (c.pid <= 0) return;
    kill(c.pid, SIGCONT);
    kill(c.pid, signal);
    waitpid(c.pid, nullptr, 0);
    c.pid = -1;
    Read(c);
    close(c.in);
    close(c.out);
    for (auto it = requests_.begin(); it != requests_.end();) {
      if (it->second.to == c.host) {
        ++unanswered_;
        GiveUp(it->second);
        it = requests_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = lookups_.begin(); it != lookups_.end();) {
      it = it->second.asked == c.host ? lookups_.erase(it) : std::next(it);
    }
  }

  // Runs the client until `done` holds or 20 s pass.
  bool Until(const std::function<bool()>& done) {
    const auto deadline = steady_clock::now() + std::chrono::seconds(20);
    while (!done()) {
      if (steady_clock::now() > deadline) return false;
      Pump();
    }
    return true;
  }

  // One turn of the client: new requests up to kInFlight, routes what is
  // unsent, reads the answers for up to 2 ms, and gives up on what is past
  // its deadline.
  void Pump() {
    while (requests_.size() < kInFlight) NewRequest();
    for (auto& [id, r] : requests_) {
      if (r.to.empty() && steady_clock::now() >= r.not_before) Route(id, r);
    }
    std::vector<pollfd> fds;
    std::vector<Child*> polled;
    for (Child& c : children_) {
      if (c.pid > 0) {
        fds.push_back({c.out, POLLIN, 0});
        polled.push_back(&c);
      }
    }
    if (poll(fds.data(), fds.size(), 2) > 0) {
      for (size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].revents & POLLIN) Read(*polled[i]);
      }
    }
    const auto now = steady_clock::now();
    for (auto it = requests_.begin(); it != requests_.end();) {
      Request& r = it->second;
      if (r.to.empty() || now < r.deadline) {
        ++it;
        continue;
      }
      ++unanswered_;
      Silent(r.to, r.partition);
      abandoned_[it->first] = r;  // An answer may come late.
      GiveUp(r);
      it = requests_.erase(it);
    }
    for (auto it = lookups_.begin(); it != lookups_.end();) {
      if (now < it->second.deadline) {
        ++it;
        continue;
      }
      if (it->second.id != 0) Silent(it->second.asked, it->first);
      it = lookups_.erase(it);
    }
  }

  // A new request: one in four closes a Session the client saw created, the
  // rest create one in a random Service.
  void NewRequest() {
    Request r;
    const uint64_t id = ++next_id_;
    ++made_;
    if (!open_.empty() && std::uniform_int_distribution<int>(0, 3)(rng_) == 0) {
      const size_t i =
          std::uniform_int_distribution<size_t>(0, open_.size() - 1)(rng_);
      r.close = true;
      r.session = open_[i];
      open_[i] = open_.back();
      open_.pop_back();
      r.service = *Sid::Parse(created_[r.session.ToString()].first);
      const std::optional<int> p = PartitionOfSession(r.session, kPartitions);
      EXPECT_TRUE(p.has_value()) << r.session;
      r.partition = p.value_or(0);
    } else {
      r.service = services_[std::uniform_int_distribution<size_t>(
          0, services_.size() - 1)(rng_)];
      r.partition = PartitionOfService(r.service, kPartitions);
      r.name = "n" + std::to_string(id);
      r.ttl = id % 2 == 0 ? 1 : 0;
    }
    requests_[id] = r;
  }

  // Sends `r` to the owner of its partition, as last learned, or starts
  // looking the owner up.
  void Route(uint64_t id, Request& r) {
    Child* to = nullptr;
    if (r.tries == 0 && std::uniform_int_distribution<int>(0, 7)(rng_) == 0) {
      to = AnyHost();  // As a load balancer would.
    } else if (auto it = owner_.find(r.partition); it != owner_.end()) {
      to = Answering(it->second);
      if (to == nullptr) owner_.erase(it);
    }
    if (to == nullptr) {
      LookUp(r.partition);
      return;
    }
    const std::string line =
        r.close ? absl::StrCat(id, " close ", r.service.ToString(), " ",
                               r.session.ToString())
                : absl::StrCat(id, " create ", r.service.ToString(), " ",
                               r.name, " ", r.ttl);
    WriteLine(to->in, line);  // A host that died by itself never answers.
    r.to = to->host;
    r.deadline = steady_clock::now() + kAnswerTimeout;
  }

  // Asks a live host which host owns `p`, unless a lookup is under way or
  // the last answer was "no owner" a moment ago.
  void LookUp(int p) {
    if (lookups_.count(p) != 0) return;
    Child* asked = AnyHost();
    if (asked == nullptr) return;
    const uint64_t id = ++next_id_;
    WriteLine(asked->in, absl::StrCat(id, " owner ", p));
    lookups_[p] = {id, asked->host, steady_clock::now() + kAnswerTimeout};
  }

  // A random live host that has not gone silent.
  Child* AnyHost() {
    std::vector<Child*> hosts;
    for (Child& c : children_) {
      if (c.pid > 0 && !c.silent) hosts.push_back(&c);
    }
    if (hosts.empty()) return nullptr;
    return hosts[std::uniform_int_distribution<size_t>(0,
                                                       hosts.size() - 1)(rng_)];
  }

  Child* Answering(const std::string& host) {
    for (Child& c : children_) {
      if (c.pid > 0 && !c.silent && c.host == host) return &c;
    }
    return nullptr;
  }

  // `host` missed a deadline for partition `p`: neither asked nor routed to
  // until it answers again.
  void Silent(const std::string& host, int p) {
    for (Child& c : children_) {
      if (c.host == host) c.silent = true;
    }
    if (auto it = owner_.find(p); it != owner_.end() && it->second == host) {
      owner_.erase(it);
    }
  }

  // A request ends unacknowledged: its Session may be closed again.
  void GiveUp(const Request& r) {
    if (r.close) open_.push_back(r.session);
  }

  void Read(Child& c) {
    char buf[4096];
    for (;;) {
      pollfd pfd{c.out, POLLIN, 0};
      if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN)) return;
      const ssize_t n = read(c.out, buf, sizeof(buf));
      if (n <= 0) return;
      c.unread.append(buf, static_cast<size_t>(n));
      for (size_t eol; (eol = c.unread.find('\n')) != std::string::npos;) {
        const std::string line = c.unread.substr(0, eol);
        c.unread.erase(0, eol + 1);
        Heard(c, line);
      }
    }
  }

  void Heard(Child& c, const std::string& line) {
    std::istringstream in(line);
    std::string kind;
    in >> kind;
    if (kind == "O") {
      in >> c.owned;
      return;
    }
    if (kind == "E") {
      std::string sid;
      in >> sid;
      ++expiries_heard_[sid];
      return;
    }
    c.silent = false;  // It answers again.
    uint64_t id = 0;
    in >> id;
    if (kind == "W") {
      int p = -1;
      std::string owner;
      in >> p >> owner;
      auto it = lookups_.find(p);
      if (it == lookups_.end() || it->second.id != id) return;
      if (owner == "-") {
        // A failover under way: ask again in a moment.
        it->second = {0, "",
                      steady_clock::now() + std::chrono::milliseconds(5)};
      } else {
        owner_[p] = owner;
        lookups_.erase(it);
      }
      return;
    }
    std::string outcome, sid;
    in >> outcome >> sid;
    if (auto late = abandoned_.find(id); late != abandoned_.end()) {
      if (outcome == "ok") {
        ++late_acks_;
        ++c.acks;
        Acknowledged(late->second, sid);
      }
      abandoned_.erase(late);
      return;
    }
    auto it = requests_.find(id);
    if (it == requests_.end()) return;
    Request& r = it->second;
    if (outcome == "ok") {
      ++c.acks;
      Acknowledged(r, sid);
    } else if (outcome == "notmine" && ++r.tries < 200) {
      ++rerouted_;
      if (auto o = owner_.find(r.partition);
          o != owner_.end() && o->second == c.host) {
        owner_.erase(o);
      }
      // Looks the owner up again, after a pause that grows with the tries:
      // the lease names a host that is still taking the partition over
      // before that host serves it.
      r.to.clear();
      r.not_before = steady_clock::now() +
                     std::chrono::milliseconds(2 * std::min(r.tries - 1, 5));
      return;
    } else {
      GiveUp(r);
    }
    requests_.erase(it);
  }

  void Acknowledged(const Request& r, const std::string& sid) {
    if (r.close) {
      closed_.insert(r.session.ToString());
      return;
    }
    const std::optional<Sid> session = Sid::Parse("KC", sid);
    ASSERT_TRUE(session.has_value()) << sid;
    EXPECT_EQ(PartitionOfSession(*session, kPartitions), r.partition)
        << "the SID " << sid << " names another partition than its Service";
    created_[sid] = {r.service.ToString(), r.name};
    open_.push_back(*session);
  }

  // Three hosts; `kills` times, waits for the busiest to acknowledge a
  // random number of the client's changes, kills it, waits for the others
  // to take its partitions over and starts a new host in its place. Then
  // checks the partitions in Redis against the model, and the expiries
  // heard.
  void KillOwners(int kills, uint32_t seed) {
    rng_.seed(seed);
    StartHosts();
    for (int round = 0; round < kills; ++round) {
      Child* victim = Busiest();
      ASSERT_NE(victim, nullptr);
      victim->acks = 0;
      const int wanted = std::uniform_int_distribution<int>(1, 60)(rng_);
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
    // The hosts answered "not mine" to requests sent as a load balancer
    // would, and the client re-routed them.
    EXPECT_GT(rerouted_, 0);
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
        "%d requests; %zu creates and %zu closes acknowledged (%d of them "
        "late), all kept; %d re-routed after \"not mine\", %d not answered; "
        "%d expiries reported, none twice\n",
        made_, created_.size(), closed_.size(), late_acks_, rerouted_,
        unanswered_, reported);
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
    for (const auto& [sid, made] : created_) {
      const Sid service = *Sid::Parse(made.first);
      auto got = parts[PartitionOfService(service, kPartitions)]->FetchSession(
          service, *Sid::Parse(sid));
      ASSERT_TRUE(got.ok()) << "acknowledged create lost: " << sid;
      EXPECT_EQ(got->unique_name, made.second);
    }
    for (const std::string& sid : closed_) {
      const Sid service = *Sid::Parse(created_[sid].first);
      auto got = parts[PartitionOfService(service, kPartitions)]->FetchSession(
          service, *Sid::Parse(sid));
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

  // The client.
  std::mt19937 rng_{2026};
  std::vector<Sid> services_;
  uint64_t next_id_ = 0;                   // Of requests and owner lookups.
  int made_ = 0;                           // Requests.
  std::map<uint64_t, Request> requests_;   // In flight, by id.
  std::map<uint64_t, Request> abandoned_;  // Past their deadline.
  std::map<int, std::string> owner_;       // Last learned, by partition.
  std::map<int, Lookup> lookups_;          // By partition.
  int rerouted_ = 0;
  int unanswered_ = 0;
  int late_acks_ = 0;
  // The model: what the answers acknowledged.
  std::map<std::string, std::pair<std::string, std::string>>
      created_;                   // Session SID -> Service SID, name.
  std::set<std::string> closed_;  // Session SIDs.
  std::vector<Sid> open_;         // Acknowledged, not being closed.
  std::map<std::string, int> expiries_heard_;  // By Session SID, all hosts.
};

TEST_F(FailoverTest,
       StandbysTakeOverFromAKilledOwnerAndNothingAcknowledgedIsLost) {
  KillOwners(EnvInt("SW_SCALEOUT_KILLS", 10), EnvInt("SW_SCALEOUT_SEED", 2026));
}

TEST_F(FailoverTest,
       AnOwnerStoppedPastItsLeaseStopsServingAndItsLateWritesAreFenced) {
  const int stops = EnvInt("SW_SCALEOUT_STOPS", 3);
  rng_.seed(EnvInt("SW_SCALEOUT_SEED", 2026) + 2);
  StartHosts();
  for (int round = 0; round < stops; ++round) {
    ASSERT_TRUE(Until([&] { return AllServed(nullptr); }));
    Child* stopped = Busiest();
    stopped->acks = 0;
    ASSERT_TRUE(Until([&] { return stopped->acks >= 5; }));
    kill(stopped->pid, SIGSTOP);
    // The others take the lapsed leases, the client finds them, and they
    // serve.
    for (Child& c : children_) c.acks = 0;
    ASSERT_TRUE(Until([&] {
      return AllServed(stopped) && AcksBut(stopped) >= 5;
    })) << "round "
        << round;
    kill(stopped->pid, SIGCONT);
    // The old owner finds its leases gone and serves nothing; whatever it
    // acknowledges now, late, the model keeps and checks.
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
