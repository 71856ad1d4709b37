// Stress tests of SessionStore: many threads, one store, expiry running
// concurrently, then a check that nothing was lost or double-counted.
//
// Every loop is bounded by a count, never by time, and nothing sleeps: the
// expiry thread moves a ManualClock in step with the workers' progress,
// waiting on a condition variable for them. Under ThreadSanitizer the counts
// are smaller so the run stays short; the normal build runs the full ones.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::kStart;

#if defined(SESSIONWHEEL_TSAN)
constexpr int kOpsPerThread = 100'000;
constexpr int kRaceRounds = 5'000;
#else
constexpr int kOpsPerThread = 100'000;
constexpr int kRaceRounds = 10'000;
#endif
constexpr int kThreads = 2;
// The expiry thread moves the clock one step per this many worker ops.
constexpr int kOpsPerClockStep = 16;
constexpr int kClockSteps = kThreads * kOpsPerThread / kOpsPerClockStep;
constexpr absl::Duration kClockStep = absl::Milliseconds(10);  // One tick.
constexpr absl::Duration kRetention = absl::Seconds(3);

// Few names, so creates race for them.
const char* const kNames[] = {"n0",  "n1",  "n2",  "n3", "n4",  "n5",
                              "n6",  "n7",  "n8",  "n9", "n10", "n11",
                              "n12", "n13", "n14", "n15"};
constexpr int kNameCount = 16;

// Collects unexpected outcomes from any thread; the test reports the first
// few after joining.
class Problems {
 public:
  void Add(std::string what) {
    std::lock_guard<std::mutex> l(mu_);
    ++count_;
    if (first_.size() < 20) first_.push_back(std::move(what));
  }
  int64_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return count_;
  }
  std::string Report() {
    std::lock_guard<std::mutex> l(mu_);
    std::string out;
    for (const std::string& s : first_) absl::StrAppend(&out, "\n  ", s);
    return out;
  }

 private:
  std::mutex mu_;
  int64_t count_ = 0;
  std::vector<std::string> first_;
};

std::string Describe(const absl::Status& status) {
  std::optional<int> code = ProxyErrorCode(status);
  return absl::StrCat(status.ToString(), " [",
                      code ? absl::StrCat(*code) : "no code", "]");
}

bool HasCode(const absl::Status& status, int code) {
  return ProxyErrorCode(status) == code;
}

// The reasons the workers close and fail Sessions with.
constexpr std::string_view kHostClose = "host-close";
constexpr std::string_view kHostFail = "host-fail";

// Counts events by type and checks that each Session's events form a legal
// life: created first; interaction and closed only while live; purged only
// once ended; nothing after deleted or purged. Reordered delivery for one
// Session breaks this. It also checks what each change wrote, as the event
// reports the Session just after it: an interaction leaves the Session
// in-progress (or unknown), and a close or fail writes the status that goes
// with its reason.
class AuditListener : public SessionListener {
 public:
  explicit AuditListener(Problems* problems) : problems_(problems) {}

  enum class Life { kNone, kLive, kEnded, kGone };

  void OnEvent(const SessionEvent& e) noexcept override {
    counts_[static_cast<int>(e.type)].fetch_add(1, std::memory_order_relaxed);
    if (e.type == EventType::kClosed) {
      if (e.closed_reason == kHostClose) {
        host_closes_.fetch_add(1, std::memory_order_relaxed);
      } else if (e.closed_reason == kHostFail) {
        host_fails_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    Entry& entry = sessions_[e.sid];
    Life before = entry.life;
    bool ended = IsEnded(e.status);
    bool legal = true;
    switch (e.type) {
      case EventType::kCreated:
        legal = before == Life::kNone;
        entry.life = ended ? Life::kEnded : Life::kLive;
        break;
      case EventType::kUpdated:
        // A successful update leaves the Session live (an update that makes
        // it overdue is followed by its own closed event).
        legal =
            before == Life::kLive ||
            (before == Life::kEnded && e.status == SessionStatus::kInProgress);
        entry.life = Life::kLive;
        break;
      case EventType::kInteraction:
        legal =
            before == Life::kLive && !ended && e.status != SessionStatus::kOpen;
        entry.life = Life::kLive;
        break;
      case EventType::kClosed:
        legal = before == Life::kLive && ended &&
                (e.closed_reason == kHostFail
                     ? e.status == SessionStatus::kFailed
                     : e.status == SessionStatus::kClosed &&
                           (e.closed_reason == kHostClose ||
                            e.closed_reason == kReasonApi ||
                            e.closed_reason == kReasonTtl ||
                            e.closed_reason == kReasonDateExpiry));
        entry.life = Life::kEnded;
        break;
      case EventType::kPurged:
        legal = before == Life::kEnded;
        entry.life = Life::kGone;
        break;
      case EventType::kDeleted:
        legal = before == Life::kLive || before == Life::kEnded;
        entry.life = Life::kGone;
        break;
    }
    entry.status = e.status;
    entry.history += std::string(EventTypeName(e.type));
    if (e.type == EventType::kClosed || e.type == EventType::kInteraction) {
      entry.history += "(" + std::string(StatusName(e.status)) +
                       (e.closed_reason.empty() ? "" : ", ") +
                       std::string(e.closed_reason) + ")";
    }
    entry.history += " ";
    if (!legal) {
      problems_->Add(absl::StrCat("event order for ", e.sid.ToString(),
                                  ": illegal last event in: ", entry.history));
    }
  }

  int64_t count(EventType type) const {
    return counts_[static_cast<int>(type)].load();
  }
  // kClosed events with the workers' close and fail reasons.
  int64_t host_closes() const { return host_closes_.load(); }
  int64_t host_fails() const { return host_fails_.load(); }

  struct Entry {
    Life life = Life::kNone;
    SessionStatus status = SessionStatus::kOpen;
    std::string history;
  };
  // Call only when no events are being delivered.
  std::map<Sid, Entry> sessions() {
    std::lock_guard<std::mutex> l(mu_);
    return sessions_;
  }

 private:
  Problems* const problems_;
  std::array<std::atomic<int64_t>, 6> counts_{};
  std::atomic<int64_t> host_closes_{0};
  std::atomic<int64_t> host_fails_{0};
  std::mutex mu_;
  std::map<Sid, Entry> sessions_;
};

// SIDs the workers created, for each other to find.
class SidPool {
 public:
  void Add(const Sid& sid) {
    std::lock_guard<std::mutex> l(mu_);
    if (sids_.size() < kCap) {
      sids_.push_back(sid);
    } else {
      sids_[next_++ % kCap] = sid;
    }
  }
  std::optional<Sid> Pick(std::mt19937_64& rng) {
    std::lock_guard<std::mutex> l(mu_);
    if (sids_.empty()) return std::nullopt;
    return sids_[std::uniform_int_distribution<size_t>(0,
                                                       sids_.size() - 1)(rng)];
  }

 private:
  static constexpr size_t kCap = 512;
  std::mutex mu_;
  std::vector<Sid> sids_;
  size_t next_ = 0;
};

// Lets the expiry thread keep pace with the workers without sleeping.
class Progress {
 public:
  void Add(int64_t ops) {
    std::lock_guard<std::mutex> l(mu_);
    ops_ += ops;
    cv_.notify_all();
  }
  void WorkerDone() {
    std::lock_guard<std::mutex> l(mu_);
    ++done_;
    cv_.notify_all();
  }
  // Waits until `ops` worker ops happened; false once all workers are done.
  bool WaitFor(int64_t ops) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return ops_ >= ops || done_ == kThreads; });
    return ops_ >= ops && done_ < kThreads;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t ops_ = 0;
  int done_ = 0;
};

struct Tally {
  int64_t creates = 0;
  int64_t deletes = 0;
  int64_t name_taken = 0;
  int64_t not_found = 0;
  int64_t refused_ended = 0;
  int64_t interactions = 0;
  int64_t closes = 0;
  int64_t fails = 0;
};

void Worker(int id, SessionStore* store, ManualClock* clock, const Sid& ks,
            SidPool* pool, Progress* progress, Problems* problems,
            Tally* tally) {
  std::mt19937_64 rng(1000 + id);
  auto uniform = [&rng](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  auto where = [id](int i, const char* op) {
    return absl::StrCat("thread ", id, " op ", i, " ", op, ": ");
  };
  for (int i = 0; i < kOpsPerThread; ++i) {
    if (i % 32 == 31) progress->Add(32);
    int r = uniform(0, 99);
    std::optional<Sid> sid;
    if (r >= 25 && r < 99 && !(r >= 40 && r < 50)) {
      sid = pool->Pick(rng);
      if (!sid) r = 0;  // Nothing to act on yet: create instead.
    }
    if (r < 25) {
      CreateSessionParams p;
      if (uniform(0, 99) < 60) {
        p.unique_name = kNames[uniform(0, kNameCount - 1)];
      }
      static constexpr int64_t kTtls[] = {0, 1, 2, 5};
      if (uniform(0, 99) < 80) p.ttl = kTtls[uniform(0, 3)];
      if (uniform(0, 99) < 10) {
        p.date_expiry = clock->Now() + absl::Milliseconds(uniform(1000, 4000));
      }
      int s = uniform(0, 99);
      if (s < 3) {
        p.status = SessionStatus::kClosed;
      } else if (s < 5) {
        p.status = SessionStatus::kUnknown;
      }
      absl::StatusOr<Session> got = store->CreateSession(ks, p);
      if (got.ok()) {
        ++tally->creates;
        if (got->unique_name != p.unique_name ||
            got->status != p.status.value_or(SessionStatus::kOpen)) {
          problems->Add(where(i, "create") + "wrong session " +
                        got->sid.ToString());
        }
        pool->Add(got->sid);
      } else if (p.unique_name &&
                 HasCode(got.status(), kErrorSessionNameTaken) &&
                 absl::IsAlreadyExists(got.status())) {
        ++tally->name_taken;
      } else if (p.date_expiry &&
                 HasCode(got.status(), kErrorInvalidParameter)) {
        // The expiry thread moved the clock past date_expiry meanwhile.
      } else {
        problems->Add(where(i, "create") + Describe(got.status()));
      }
    } else if (r < 40) {
      absl::StatusOr<Session> got = store->FetchSession(ks, *sid);
      if (got.ok()) {
        if (got->sid != *sid) problems->Add(where(i, "fetch") + "wrong sid");
      } else if (HasCode(got.status(), kErrorNotFound)) {
        ++tally->not_found;
      } else {
        problems->Add(where(i, "fetch") + Describe(got.status()));
      }
    } else if (r < 50) {
      std::string name = kNames[uniform(0, kNameCount - 1)];
      absl::StatusOr<Session> got = store->FetchSession(ks, name);
      if (got.ok()) {
        if (got->unique_name != name) {
          problems->Add(where(i, "fetch by name") + "wrong session");
        }
      } else if (!HasCode(got.status(), kErrorNotFound)) {
        problems->Add(where(i, "fetch by name") + Describe(got.status()));
      }
    } else if (r < 60) {
      UpdateSessionParams p;
      if (uniform(0, 99) < 40) p.ttl = uniform(0, 3);
      int s = uniform(0, 99);
      if (s < 25) {
        p.status = SessionStatus::kClosed;
      } else if (s < 50) {
        p.status = SessionStatus::kInProgress;
      }
      absl::StatusOr<Session> got = store->UpdateSession(ks, *sid, p);
      if (got.ok()) {
        if (p.status == SessionStatus::kClosed &&
            (got->status != SessionStatus::kClosed ||
             got->closed_reason != std::string(kReasonApi))) {
          problems->Add(where(i, "update to closed") + "not closed");
        }
        if (p.status == SessionStatus::kInProgress &&
            got->status != SessionStatus::kInProgress) {
          problems->Add(where(i, "re-open") + "not in-progress");
        }
      } else if (HasCode(got.status(), kErrorNotFound) ||
                 HasCode(got.status(), kErrorSessionClosed) ||
                 HasCode(got.status(), kErrorInvalidTransition) ||
                 HasCode(got.status(), kErrorInvalidParameter)) {
        // Gone, ended, not in the table, or a re-open past date_expiry.
      } else {
        problems->Add(where(i, "update") + Describe(got.status()));
      }
    } else if (r < 72) {
      // The Session as the interaction left it is in its event (the
      // listener checks it); a fetch right after may already see another
      // thread's change, so it checks what no other change can undo.
      absl::Status got = store->RecordInteraction(ks, *sid);
      if (got.ok()) {
        ++tally->interactions;
        absl::StatusOr<Session> after = store->FetchSession(ks, *sid);
        if (after.ok() && (after->status == SessionStatus::kOpen ||
                           !after->date_last_interaction.has_value())) {
          problems->Add(where(i, "interaction") + "status " +
                        std::string(StatusName(after->status)));
        }
      } else if (HasCode(got, kErrorSessionClosed)) {
        ++tally->refused_ended;
      } else if (!HasCode(got, kErrorNotFound)) {
        problems->Add(where(i, "interaction") + Describe(got));
      }
    } else if (r < 84) {
      // As for interactions: the event is exact. A failed Session stays
      // failed with its reason until it is deleted or purged; a closed one
      // may be re-opened meanwhile.
      bool fail = r >= 80;
      absl::Status got = fail ? store->FailSession(ks, *sid, kHostFail)
                              : store->CloseSession(ks, *sid, kHostClose);
      if (got.ok()) {
        ++(fail ? tally->fails : tally->closes);
        absl::StatusOr<Session> after = store->FetchSession(ks, *sid);
        if (fail && after.ok() &&
            (after->status != SessionStatus::kFailed ||
             after->closed_reason != std::string(kHostFail))) {
          problems->Add(where(i, "fail") + "wrong result");
        }
        if (!fail && after.ok() && after->status == SessionStatus::kOpen) {
          problems->Add(where(i, "close") + "open again");
        }
      } else if (HasCode(got, kErrorSessionClosed)) {
        ++tally->refused_ended;
      } else if (!HasCode(got, kErrorNotFound)) {
        problems->Add(where(i, "close/fail") + Describe(got));
      }
    } else if (r < 99) {
      absl::Status got = store->DeleteSession(ks, *sid);
      if (got.ok()) {
        ++tally->deletes;
      } else if (HasCode(got, kErrorNotFound)) {
        ++tally->not_found;
      } else {
        problems->Add(where(i, "delete") + Describe(got));
      }
    } else {
      ListParams lp;
      lp.page_size = 20;
      absl::StatusOr<SessionPage> page = store->ListSessions(ks, lp);
      if (!page.ok()) {
        problems->Add(where(i, "list") + Describe(page.status()));
      } else {
        std::set<std::string> names;
        for (const Session& s : page->sessions) {
          if (s.unique_name && !names.insert(*s.unique_name).second) {
            problems->Add(where(i, "list") + "name twice: " + *s.unique_name);
          }
        }
      }
    }
  }
  progress->WorkerDone();
}

// Counts the events it is called with, by type: a listener of some types
// only, beside the audit's of every type.
class TypeCounter : public SessionListener {
 public:
  explicit TypeCounter(EventTypes hears) : hears_(hears) {}
  EventTypes Hears() const override { return hears_; }
  void OnEvent(const SessionEvent& e) noexcept override {
    counts_[static_cast<int>(e.type)].fetch_add(1, std::memory_order_relaxed);
  }
  int64_t count(EventType type) const {
    return counts_[static_cast<int>(type)].load(std::memory_order_relaxed);
  }

 private:
  const EventTypes hears_;
  std::array<std::atomic<int64_t>, 8> counts_{};
};

// The whole Service, walked page by page.
std::vector<Session> ListAll(SessionStore* store, const Sid& ks) {
  std::vector<Session> all;
  ListParams lp;
  lp.page_size = 1000;
  for (int pages = 0; pages < 100'000; ++pages) {
    absl::StatusOr<SessionPage> page = store->ListSessions(ks, lp);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) break;
    all.insert(all.end(), page->sessions.begin(), page->sessions.end());
    if (page->next_page_token.empty()) break;
    lp.page_token = page->next_page_token;
  }
  return all;
}

TEST(StressTest, MixedOperationsWithConcurrentExpiryKeepCountsExact) {
  ManualClock clock(kStart);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 7;
  options.closed_retention = kRetention;
  options.tick = kClockStep;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  Problems problems;
  auto audit = std::make_shared<AuditListener>(&problems);
  store->AddListener(audit);
  const EventTypes ends{EventType::kClosed, EventType::kPurged};
  auto ends_only = std::make_shared<TypeCounter>(ends);
  store->AddListener(ends_only);
  CreateServiceParams sp;
  sp.unique_name = "stress";
  const Sid ks = store->CreateService(sp).value().sid;

  SidPool pool;
  Progress progress;
  std::array<Tally, kThreads> tallies;
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) {
    threads.emplace_back(Worker, id, store.get(), &clock, ks, &pool, &progress,
                         &problems, &tallies[id]);
  }
  int64_t clock_steps = 0;
  int64_t advanced = 0;
  std::thread expiry([&] {
    for (int i = 0; i < kClockSteps; ++i) {
      if (!progress.WaitFor(int64_t{i + 1} * kOpsPerClockStep)) break;
      clock.Advance(kClockStep);
      advanced += store->Advance();
      ++clock_steps;
    }
  });
  for (std::thread& t : threads) t.join();
  expiry.join();

  // Run what is due at the final clock time (a tick boundary), so the wheel
  // and the counts are settled.
  advanced += store->Advance();
  EXPECT_EQ(problems.count(), 0) << problems.Report();

  absl::Status invariants = store->CheckInvariants();
  ASSERT_TRUE(invariants.ok()) << invariants;

  Tally total;
  for (const Tally& t : tallies) {
    total.creates += t.creates;
    total.deletes += t.deletes;
    total.name_taken += t.name_taken;
    total.not_found += t.not_found;
    total.refused_ended += t.refused_ended;
    total.interactions += t.interactions;
    total.closes += t.closes;
    total.fails += t.fails;
  }
  StoreStats stats = store->Stats();
  // Each Session is in exactly one state.
  EXPECT_EQ(stats.open + stats.in_progress + stats.closed + stats.failed +
                stats.unknown,
            stats.sessions);
  // Counts add up, and agree with what the listener heard.
  EXPECT_EQ(total.creates - total.deletes - stats.purged, stats.sessions);
  EXPECT_EQ(audit->count(EventType::kCreated), total.creates);
  EXPECT_EQ(audit->count(EventType::kDeleted), total.deletes);
  EXPECT_EQ(audit->count(EventType::kPurged), stats.purged);
  // Every interaction, close and fail that succeeded was heard once, with
  // what it wrote (checked by the listener).
  EXPECT_EQ(audit->count(EventType::kInteraction), total.interactions);
  EXPECT_EQ(audit->host_closes(), total.closes);
  EXPECT_EQ(audit->host_fails(), total.fails);
  // A listener of closes and purges only heard each of them, and nothing
  // else, while other threads' events of every type went to the audit.
  for (EventType t :
       {EventType::kCreated, EventType::kUpdated, EventType::kInteraction,
        EventType::kClosed, EventType::kDeleted, EventType::kPurged}) {
    EXPECT_EQ(ends_only->count(t), ends.contains(t) ? audit->count(t) : 0)
        << EventTypeName(t);
  }

  // The list shows every Session once, with unique names, in the state the
  // last event reported.
  std::vector<Session> all = ListAll(store.get(), ks);
  EXPECT_EQ(static_cast<int64_t>(all.size()), stats.sessions);
  std::set<std::string> names;
  std::set<Sid> sids;
  StoreStats listed;
  for (const Session& s : all) {
    EXPECT_TRUE(sids.insert(s.sid).second) << "listed twice: " << s.sid;
    if (s.unique_name) {
      ++listed.named;
      EXPECT_TRUE(names.insert(*s.unique_name).second)
          << "name held twice: " << *s.unique_name;
    }
    switch (s.status) {
      case SessionStatus::kOpen:
        ++listed.open;
        break;
      case SessionStatus::kInProgress:
        ++listed.in_progress;
        break;
      case SessionStatus::kClosed:
        ++listed.closed;
        break;
      case SessionStatus::kFailed:
        ++listed.failed;
        break;
      case SessionStatus::kUnknown:
        ++listed.unknown;
        break;
    }
  }
  EXPECT_EQ(listed.named, stats.named);
  EXPECT_EQ(listed.open, stats.open);
  EXPECT_EQ(listed.in_progress, stats.in_progress);
  EXPECT_EQ(listed.closed, stats.closed);
  EXPECT_EQ(listed.failed, stats.failed);
  EXPECT_EQ(listed.unknown, stats.unknown);

  int mismatches = 0;
  int64_t alive_by_events = 0;
  const std::map<Sid, AuditListener::Entry> heard = audit->sessions();
  for (const auto& [sid, entry] : heard) {
    bool alive = entry.life == AuditListener::Life::kLive ||
                 entry.life == AuditListener::Life::kEnded;
    if (alive) ++alive_by_events;
    bool listed_here = sids.count(sid) > 0;
    if (alive != listed_here && ++mismatches <= 10) {
      ADD_FAILURE() << sid << ": events say " << (alive ? "alive" : "gone")
                    << " (" << entry.history << "), list says "
                    << (listed_here ? "present" : "absent");
    }
  }
  for (const Session& s : all) {
    auto it = heard.find(s.sid);
    if (it != heard.end() && it->second.status != s.status &&
        ++mismatches <= 10) {
      ADD_FAILURE() << s.sid << ": last event says "
                    << StatusName(it->second.status) << ", list says "
                    << StatusName(s.status) << " (" << it->second.history
                    << ")";
    }
  }
  EXPECT_EQ(alive_by_events, stats.sessions);

  // The run exercised what it should.
  EXPECT_GT(total.name_taken, 0);
  EXPECT_GT(stats.expired, 0);
  EXPECT_GT(stats.purged, 0);
  EXPECT_GT(total.deletes, 0);
  EXPECT_GT(clock_steps, 0);
  std::cout << "creates=" << total.creates << " deletes=" << total.deletes
            << " purged=" << stats.purged << " expired=" << stats.expired
            << " name_taken=" << total.name_taken
            << " not_found=" << total.not_found
            << " refused_ended=" << total.refused_ended
            << " left=" << stats.sessions << " clock_steps=" << clock_steps
            << " advance_returned=" << advanced << "\n";
}

// A reusable barrier for a fixed number of threads (C++17 has none).
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void Wait() {
    std::unique_lock<std::mutex> l(mu_);
    int64_t generation = generation_;
    if (++waiting_ == n_) {
      waiting_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(l, [&] { return generation != generation_; });
  }

 private:
  const int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_ = 0;
  int64_t generation_ = 0;
};

TEST(StressTest, SameUniqueNameFromTwoThreadsExactlyOneWins) {
  ManualClock clock(kStart);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 11;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  Problems problems;
  auto audit = std::make_shared<AuditListener>(&problems);
  store->AddListener(audit);
  CreateServiceParams sp;
  sp.unique_name = "race";
  const Sid ks = store->CreateService(sp).value().sid;

  Barrier barrier(2);
  std::array<absl::StatusOr<Session>, 2> results;
  std::array<int64_t, 2> wins{};
  int64_t bad_rounds = 0;
  std::string first_bad;
  auto racer = [&](int id) {
    for (int round = 0; round < kRaceRounds; ++round) {
      CreateSessionParams p;
      // Several names, so the race lands on different shards' name tables.
      p.unique_name = absl::StrCat("contested-", round % 13);
      p.ttl = round % 3;
      barrier.Wait();
      results[id] = store->CreateSession(ks, p);
      barrier.Wait();
      if (id == 0) {
        int ok = 0, winner = -1;
        bool loser_right = true;
        for (int k = 0; k < 2; ++k) {
          if (results[k].ok()) {
            ++ok;
            winner = k;
          } else if (!absl::IsAlreadyExists(results[k].status()) ||
                     !HasCode(results[k].status(), kErrorSessionNameTaken)) {
            loser_right = false;
          }
        }
        if (ok != 1 || !loser_right) {
          if (++bad_rounds == 1) {
            first_bad = absl::StrCat(
                "round ", round, ": ",
                results[0].ok() ? "OK" : Describe(results[0].status()), " / ",
                results[1].ok() ? "OK" : Describe(results[1].status()));
          }
        }
        for (int k = 0; k < 2; ++k) {
          if (results[k].ok()) {
            if (k == winner) ++wins[k];
            absl::Status deleted = store->DeleteSession(ks, results[k]->sid);
            if (!deleted.ok()) problems.Add("delete: " + Describe(deleted));
          }
        }
      }
      barrier.Wait();  // The name is free again before the next round.
    }
  };
  std::thread t0(racer, 0), t1(racer, 1);
  t0.join();
  t1.join();

  EXPECT_EQ(bad_rounds, 0) << first_bad;
  EXPECT_EQ(wins[0] + wins[1], kRaceRounds);
  EXPECT_EQ(problems.count(), 0) << problems.Report();
  EXPECT_EQ(audit->count(EventType::kCreated), kRaceRounds);
  EXPECT_EQ(audit->count(EventType::kDeleted), kRaceRounds);
  EXPECT_EQ(store->Stats().sessions, 0);
  EXPECT_EQ(store->Stats().named, 0);
  absl::Status invariants = store->CheckInvariants();
  EXPECT_TRUE(invariants.ok()) << invariants;
  std::cout << "wins: thread 0 " << wins[0] << ", thread 1 " << wins[1] << "\n";
}

}  // namespace
}  // namespace sessionwheel
