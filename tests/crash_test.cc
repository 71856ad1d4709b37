// Proof by killing: a child process runs changes from two threads on a
// durable store and is killed with SIGKILL at a random moment; the parent
// then recovers the store from its directory and compares it with a model
// of the operations the child started and finished.
//
// Each round forks a child that opens the store (recovering what earlier
// rounds left), and each of its two threads runs a sequence of changes on
// Sessions of its own, drawn from a generator seeded by (round, thread), so
// the parent can draw the same sequence. Before each call a thread writes
// "starting op k" to a pipe, after it "op k acknowledged" (with the SID of
// a created Session). The parent kills the child after a random number of
// acknowledgements, reads what is left in the pipe, opens the store and
// checks, per thread, that the state of its Sessions is exactly the state
// after its first j operations for some j:
//
//   - j is at most the number of operations started (nothing is invented,
//     and nothing is half applied: the state matches a whole prefix);
//   - with SyncPolicy::kEveryWrite, j is at least the number acknowledged
//     (nothing acknowledged is lost). With kInterval and kOs a kill may
//     lose the last milliseconds of buffered records, so j may be smaller.
//
// Every Session of earlier rounds must read exactly as it did when that
// round was checked (a store serves 50 rounds, then a new one starts, so a
// long run's rounds cost the same). Automatic checkpoints are made small so
// that kills land in them too. The clock is manual and never moves, so no
// Session expires and the model needs no time.
//
// SW_CRASH_KILLS sets the number of rounds per sync policy (default 70, so
// CI kills 210 times), SW_CRASH_SEED the kill moments; docs/durability.md
// reports a run of 5,000.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::SameSession;

constexpr int kThreads = 2;
constexpr int kOpsPerThread = 400;  // More than a round ever reaches.
constexpr char kServiceName[] = "crash";
constexpr int kRoundsPerStore = 50;

// SW_CRASH_SEED varies the kill moments (default 2026).
uint64_t Seed() {
  const char* text = std::getenv("SW_CRASH_SEED");
  return text == nullptr ? 2026 : std::strtoull(text, nullptr, 10);
}

int Rounds() {
  const char* text = std::getenv("SW_CRASH_KILLS");
  return text == nullptr ? 70 : std::max(1, std::atoi(text));
}

// One operation of a thread's sequence.
// kMessage: a message to the Session's Participant (each is created with
// one), which is also its interaction.
enum class OpKind : uint8_t {
  kCreate,
  kUpdateTtl,
  kInteract,
  kMessage,
  kClose,
  kDelete
};
struct Op {
  OpKind kind = OpKind::kCreate;
  int target = 0;   // Which of the thread's Sessions (by creation index).
  int64_t ttl = 0;  // kCreate, kUpdateTtl.
};

// The thread's sequence: the same in the child and in the parent.
std::vector<Op> OpsFor(int round, int thread) {
  std::mt19937_64 rng(static_cast<uint64_t>(round) * 7919 + thread);
  std::vector<Op> ops;
  int created = 0;
  for (int k = 0; k < kOpsPerThread; ++k) {
    Op op;
    const int pick = static_cast<int>(rng() % 100);
    if (created == 0 || pick < 35) {
      op.kind = OpKind::kCreate;
      op.target = created++;
      op.ttl = static_cast<int64_t>(rng() % 5) * 3600;
    } else {
      op.target = static_cast<int>(rng() % static_cast<uint64_t>(created));
      op.kind = pick < 55   ? OpKind::kUpdateTtl
                : pick < 67 ? OpKind::kInteract
                : pick < 75 ? OpKind::kMessage
                : pick < 90 ? OpKind::kClose
                            : OpKind::kDelete;
      op.ttl = static_cast<int64_t>(rng() % 7) * 600;
    }
    ops.push_back(op);
  }
  return ops;
}

std::string NameOf(int round, int thread, int target) {
  return "r" + std::to_string(round) + "-t" + std::to_string(thread) + "-s" +
         std::to_string(target);
}

// What a thread writes to the pipe: fixed size, so a read never splits one
// (writes of at most PIPE_BUF bytes are atomic).
struct Note {
  int32_t thread = 0;
  int32_t index = 0;
  int32_t acknowledged = 0;  // 0: starting.
  int32_t ok = 0;
  char sid[40] = {};  // A created Session's SID.
};

StoreOptions OptionsFor(const std::string& dir, SyncPolicy sync, Clock* clock) {
  StoreOptions options;
  options.clock = clock;
  options.seed = 99;
  options.account_sid = kAccountSid;
  options.data_dir = dir;
  options.sync = sync;
  options.sync_interval = absl::Milliseconds(5);
  options.checkpoint_min_bytes = 16 << 10;
  return options;
}

// The child: runs both threads' sequences until killed. Never returns.
[[noreturn]] void RunChild(const std::string& dir, SyncPolicy sync, int round,
                           int fd) {
  ManualClock clock(kT0);
  absl::StatusOr<std::unique_ptr<SessionStore>> store =
      SessionStore::Open(OptionsFor(dir, sync, &clock));
  if (!store.ok()) _exit(3);
  absl::StatusOr<ServicePage> services = (*store)->ListServices(ListParams());
  if (!services.ok() || services->services.size() != 1) _exit(4);
  const Sid ks = services->services[0].sid;
  auto run = [&](int thread) {
    const std::vector<Op> ops = OpsFor(round, thread);
    std::vector<Sid> sids;
    std::vector<Sid> participants;  // Each Session's one.
    for (int k = 0; k < kOpsPerThread; ++k) {
      const Op& op = ops[k];
      Note note;
      note.thread = thread;
      note.index = k;
      if (write(fd, &note, sizeof note) != sizeof note) _exit(5);
      absl::Status s;
      Sid created;
      switch (op.kind) {
        case OpKind::kCreate: {
          CreateSessionParams params;
          params.unique_name = NameOf(round, thread, op.target);
          params.ttl = op.ttl;
          params.participants.push_back({"+15550000", "", ""});
          absl::StatusOr<Session> session = (*store)->CreateSession(ks, params);
          s = session.status();
          if (session.ok()) created = session->sid;
          sids.push_back(created);
          participants.push_back(session.ok() ? session->participants[0].sid
                                              : Sid());
          break;
        }
        case OpKind::kUpdateTtl: {
          UpdateSessionParams params;
          params.ttl = op.ttl;
          s = (*store)->UpdateSession(ks, sids[op.target], params).status();
          break;
        }
        case OpKind::kInteract:
          s = (*store)->RecordInteraction(ks, sids[op.target]);
          break;
        case OpKind::kMessage:
          s = (*store)
                  ->RecordMessageInteraction(ks, sids[op.target],
                                             participants[op.target], "hi")
                  .status();
          break;
        case OpKind::kClose:
          s = (*store)->CloseSession(ks, sids[op.target], "by host");
          break;
        case OpKind::kDelete:
          s = (*store)->DeleteSession(ks, sids[op.target]);
          break;
      }
      note.acknowledged = 1;
      note.ok = s.ok() ? 1 : 0;
      const std::string text = created.ToString();
      std::memcpy(note.sid, text.data(),
                  std::min(text.size(), sizeof note.sid));
      if (write(fd, &note, sizeof note) != sizeof note) _exit(5);
    }
  };
  std::thread other(run, 1);
  run(0);
  other.join();
  _exit(0);  // Ran out of operations before the kill: still a valid round.
}

// A Session as the model sees it.
struct ModelSession {
  bool exists = false;
  SessionStatus status = SessionStatus::kOpen;
  int64_t ttl = 0;
  bool interacted = false;
  bool closed_by_host = false;
  size_t messages = 0;  // Interactions recorded by kMessage.
};

// The thread's Sessions after its first `j` operations (by creation index).
std::vector<ModelSession> ModelAfter(const std::vector<Op>& ops, int j) {
  std::vector<ModelSession> out;
  for (int k = 0; k < j; ++k) {
    const Op& op = ops[k];
    if (op.kind == OpKind::kCreate) {
      ModelSession s;
      s.exists = true;
      s.ttl = op.ttl;
      out.push_back(s);
      continue;
    }
    ModelSession& s = out[op.target];
    const bool live = s.exists && (s.status == SessionStatus::kOpen ||
                                   s.status == SessionStatus::kInProgress);
    switch (op.kind) {
      case OpKind::kUpdateTtl:
        if (live) s.ttl = op.ttl;
        break;
      case OpKind::kInteract:
        if (live) {
          s.status = SessionStatus::kInProgress;
          s.interacted = true;
        }
        break;
      case OpKind::kMessage:
        if (live) {
          s.status = SessionStatus::kInProgress;
          s.interacted = true;
          ++s.messages;
        }
        break;
      case OpKind::kClose:
        if (live) {
          s.status = SessionStatus::kClosed;
          s.closed_by_host = true;
        }
        break;
      case OpKind::kDelete:
        s.exists = false;
        break;
      case OpKind::kCreate:
        break;
    }
  }
  return out;
}

// How many Interactions the store holds for the Session, or -1 on an error.
int64_t InteractionsOf(SessionStore& store, const Sid& ks, const Sid& kc) {
  ListParams all;
  all.page_size = 100;
  absl::StatusOr<InteractionPage> page = store.ListInteractions(ks, kc, all);
  if (!page.ok() || !page->next_page_token.empty()) return -1;
  return static_cast<int64_t>(page->interactions.size());
}

// Whether the store holds exactly `model` for the thread's Sessions whose
// SIDs are known (`sids`, by creation index; unknown ones are checked by
// name), and nothing for Sessions not yet created.
bool Matches(SessionStore& store, const Sid& ks, int round, int thread,
             const std::vector<ModelSession>& model,
             const std::vector<std::optional<Sid>>& sids, int created_total) {
  for (int t = 0; t < created_total; ++t) {
    absl::StatusOr<Session> got =
        store.FetchSession(ks, NameOf(round, thread, t));
    const bool want = t < static_cast<int>(model.size()) && model[t].exists;
    if (got.ok() != want) return false;
    if (!want) continue;
    const ModelSession& m = model[t];
    if (t < static_cast<int>(sids.size()) && sids[t] && got->sid != *sids[t]) {
      return false;
    }
    if (got->status != m.status || got->ttl != m.ttl ||
        got->date_last_interaction.has_value() != m.interacted ||
        (got->closed_reason == std::optional<std::string>("by host")) !=
            m.closed_by_host ||
        got->participants.size() != 1 ||
        InteractionsOf(store, ks, got->sid) !=
            static_cast<int64_t>(m.messages)) {
      return false;
    }
  }
  return true;
}

// The first of the thread's Sessions that differs from `model`, for a
// failure's message.
std::string Mismatch(SessionStore& store, const Sid& ks, int round, int thread,
                     const std::vector<ModelSession>& model,
                     int created_total) {
  for (int t = 0; t < created_total; ++t) {
    absl::StatusOr<Session> got =
        store.FetchSession(ks, NameOf(round, thread, t));
    const bool want = t < static_cast<int>(model.size()) && model[t].exists;
    std::string what = "Session " + std::to_string(t) + ": ";
    if (got.ok() != want) {
      return what + (want ? "missing" : "present, not in the model");
    }
    if (!want) continue;
    const ModelSession& m = model[t];
    const int64_t messages = InteractionsOf(store, ks, got->sid);
    if (got->status != m.status || got->ttl != m.ttl ||
        got->date_last_interaction.has_value() != m.interacted ||
        messages != static_cast<int64_t>(m.messages)) {
      return what + "status " + std::string(StatusName(got->status)) + " ttl " +
             std::to_string(got->ttl) + " messages " +
             std::to_string(messages) + ", model status " +
             std::string(StatusName(m.status)) + " ttl " +
             std::to_string(m.ttl) + " messages " + std::to_string(m.messages);
    }
  }
  return "no difference";
}

class CrashTest : public ::testing::TestWithParam<SyncPolicy> {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "crash_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
};

TEST_P(CrashTest, KilledAtRandomMomentsKeepsAWholePrefixOfTheChanges) {
  const SyncPolicy sync = GetParam();
  ManualClock clock(kT0);
  Sid ks;
  std::mt19937_64 rng(Seed());
  std::map<std::string, Session> earlier;  // Every Session of earlier rounds.
  int64_t acknowledged_total = 0;
  const int rounds = Rounds();
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // A new store every kRoundsPerStore rounds, so that a long run's rounds
    // cost the same: each recovers and checks what its store's earlier
    // rounds left, never the whole run's.
    if (round % kRoundsPerStore == 0) {
      std::filesystem::remove_all(dir_);
      earlier.clear();
      auto store = SessionStore::Open(OptionsFor(dir_, sync, &clock));
      ASSERT_TRUE(store.ok()) << store.status();
      CreateServiceParams params;
      params.unique_name = kServiceName;
      absl::StatusOr<Service> service = (*store)->CreateService(params);
      ASSERT_TRUE(service.ok()) << service.status();
      ks = service->sid;
    }
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      RunChild(dir_, sync, round, fds[1]);
    }
    close(fds[1]);
    // Kill after a random number of acknowledgements; 0 kills during the
    // child's own recovery.
    const int kill_after = static_cast<int>(rng() % 250);
    int started[kThreads] = {0, 0};
    int acked[kThreads] = {0, 0};
    std::vector<std::optional<Sid>> sids[kThreads];
    const std::vector<Op> ops[kThreads] = {OpsFor(round, 0), OpsFor(round, 1)};
    int acks = 0;
    bool killed = false;
    auto take = [&](const Note& note) {
      const int t = note.thread;
      if (note.acknowledged == 0) {
        started[t] = note.index + 1;
        return;
      }
      acked[t] = note.index + 1;
      ++acks;
      if (ops[t][note.index].kind == OpKind::kCreate) {
        const int target = ops[t][note.index].target;
        if (static_cast<int>(sids[t].size()) <= target)
          sids[t].resize(target + 1);
        if (note.ok == 1)
          sids[t][target] = Sid::Parse(std::string(note.sid, 34)).value();
      }
    };
    if (kill_after == 0) {
      kill(child, SIGKILL);
      killed = true;
    }
    Note note;
    for (;;) {
      const ssize_t n = read(fds[0], &note, sizeof note);
      if (n == 0) break;
      if (n < 0 && errno == EINTR) continue;
      ASSERT_EQ(n, static_cast<ssize_t>(sizeof note));
      take(note);
      if (!killed && acks >= kill_after) {
        kill(child, SIGKILL);
        killed = true;
      }
    }
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(child, &wstatus, 0), child);
    if (!killed || !WIFSIGNALED(wstatus)) {
      ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
          << "the child failed on its own: status " << wstatus;
    }
    acknowledged_total += acked[0] + acked[1];

    auto store = SessionStore::Open(OptionsFor(dir_, sync, &clock));
    ASSERT_TRUE(store.ok()) << store.status();
    absl::Status invariants = (*store)->CheckInvariants();
    ASSERT_TRUE(invariants.ok()) << invariants;
    int created[kThreads] = {0, 0};
    for (int t = 0; t < kThreads; ++t) {
      for (int k = 0; k < started[t]; ++k) {
        if (ops[t][k].kind == OpKind::kCreate) ++created[t];
      }
    }
    for (int t = 0; t < kThreads; ++t) {
      const int created_total = created[t];
      const int lowest = sync == SyncPolicy::kEveryWrite ? acked[t] : 0;
      bool found = false;
      for (int j = started[t]; j >= lowest && !found; --j) {
        found = Matches(**store, ks, round, t, ModelAfter(ops[t], j), sids[t],
                        created_total);
      }
      ASSERT_TRUE(found) << "thread " << t << ": no prefix from " << lowest
                         << " to " << started[t]
                         << " operations matches the recovered store ("
                         << acked[t] << " acknowledged); at " << acked[t]
                         << ": "
                         << Mismatch(**store, ks, round, t,
                                     ModelAfter(ops[t], acked[t]),
                                     created_total);
    }
    // Earlier rounds' Sessions are as they were.
    for (const auto& [name, want] : earlier) {
      absl::StatusOr<Session> got = (*store)->FetchSession(ks, name);
      ASSERT_TRUE(got.ok()) << name << ": " << got.status();
      ASSERT_TRUE(SameSession(*got, want)) << name;
    }
    for (int t = 0; t < kThreads; ++t) {
      for (int target = 0; target < created[t]; ++target) {
        const std::string name = NameOf(round, t, target);
        absl::StatusOr<Session> got = (*store)->FetchSession(ks, name);
        if (got.ok()) earlier[name] = *got;
      }
    }
  }
  // The rounds did work, and kills landed mid-run.
  EXPECT_GT(acknowledged_total, rounds);
}

INSTANTIATE_TEST_SUITE_P(Policies, CrashTest,
                         ::testing::Values(SyncPolicy::kEveryWrite,
                                           SyncPolicy::kInterval,
                                           SyncPolicy::kOs),
                         [](const ::testing::TestParamInfo<SyncPolicy>& info) {
                           switch (info.param) {
                             case SyncPolicy::kEveryWrite:
                               return "EveryWrite";
                             case SyncPolicy::kInterval:
                               return "Interval";
                             case SyncPolicy::kOs:
                               return "Os";
                           }
                           return "Unknown";
                         });

}  // namespace
}  // namespace sessionwheel
