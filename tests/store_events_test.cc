// Tests of the events a SessionStore delivers to its listeners: one per
// change, of the right type, with the Session as it is after the change, in
// order per Session, with no engine lock held (so a listener may call back
// into the store), and from the store's own thread under background expiry.
//
// Nothing here sleeps. Waiting for the background thread waits on a
// condition variable; the only time limit is a generous guard that turns a
// hang into a failure.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
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

constexpr absl::Duration kRetention = absl::Minutes(10);
// Turns a hang of the background thread into a failure. Not a timing
// assertion: an event that arrives at all arrives long before this.
constexpr std::chrono::seconds kHangGuard{60};

// A SessionEvent kept past OnEvent: its views copied into strings of its own.
struct Recorded {
  EventType type = EventType::kCreated;
  SessionStatus status = SessionStatus::kOpen;
  SessionMode mode = SessionMode::kVoiceAndMessage;
  bool has_unique_name = false;
  absl::Time time;
  Sid sid;
  Sid service_sid;
  int64_t ttl = 0;
  std::string unique_name;
  std::string closed_reason;
  absl::Time date_created;
  absl::Time date_updated;
  std::optional<absl::Time> date_ended;
  std::optional<absl::Time> date_last_interaction;
  std::optional<absl::Time> date_expiry;
};

Recorded Record(const SessionEvent& e) {
  Recorded r;
  r.type = e.type;
  r.status = e.status;
  r.mode = e.mode;
  r.has_unique_name = e.has_unique_name;
  r.time = e.time;
  r.sid = e.sid;
  r.service_sid = e.service_sid;
  r.ttl = e.ttl;
  r.unique_name = std::string(e.unique_name);
  r.closed_reason = std::string(e.closed_reason);
  r.date_created = e.date_created;
  r.date_updated = e.date_updated;
  r.date_ended = e.date_ended;
  r.date_last_interaction = e.date_last_interaction;
  r.date_expiry = e.date_expiry;
  return r;
}

// The event carries every field of `s` it mirrors (all but participants and
// date_started, which is date_created): the Session as the event saw it.
// An absent unique_name or closed_reason is an empty view in the event.
::testing::AssertionResult Carries(const Recorded& e, const Session& s) {
  std::string diff;
  auto check = [&](bool same, const char* field) {
    if (!same) absl::StrAppend(&diff, " ", field);
  };
  check(e.sid == s.sid, "sid");
  check(e.service_sid == s.service_sid, "service_sid");
  check(e.has_unique_name == s.unique_name.has_value(), "has_unique_name");
  check(e.unique_name == s.unique_name.value_or(""), "unique_name");
  check(e.status == s.status, "status");
  check(e.closed_reason == s.closed_reason.value_or(""), "closed_reason");
  check(e.ttl == s.ttl, "ttl");
  check(e.mode == s.mode, "mode");
  check(e.date_created == s.date_created, "date_created");
  check(e.date_updated == s.date_updated, "date_updated");
  check(e.date_ended == s.date_ended, "date_ended");
  check(e.date_last_interaction == s.date_last_interaction,
        "date_last_interaction");
  check(e.date_expiry == s.date_expiry, "date_expiry");
  if (diff.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "the " << EventTypeName(e.type) << " event differs in" << diff
         << " from " << testing_util::Describe(s);
}

struct Heard {
  Recorded event;
  std::thread::id thread;
};

// Records every event, and lets a test wait for one.
class Recorder : public SessionListener {
 public:
  void OnEvent(const SessionEvent& event) noexcept override {
    std::lock_guard<std::mutex> l(mu_);
    heard_.push_back({Record(event), std::this_thread::get_id()});
    cv_.notify_all();
  }

  std::vector<Heard> heard() {
    std::lock_guard<std::mutex> l(mu_);
    return heard_;
  }

  std::vector<Recorded> events() {
    std::vector<Recorded> out;
    for (Heard& h : heard()) out.push_back(std::move(h.event));
    return out;
  }

  std::vector<Recorded> EventsFor(const Sid& sid) {
    std::vector<Recorded> out;
    for (Heard& h : heard()) {
      if (h.event.sid == sid) out.push_back(std::move(h.event));
    }
    return out;
  }

  std::vector<EventType> TypesFor(const Sid& sid) {
    std::vector<EventType> out;
    for (const Recorded& e : EventsFor(sid)) out.push_back(e.type);
    return out;
  }

  // Waits until an event matching `pred` arrived; false on the hang guard.
  bool WaitFor(const std::function<bool(const Recorded&)>& pred) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kHangGuard, [&] {
      for (const Heard& h : heard_) {
        if (pred(h.event)) return true;
      }
      return false;
    });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Heard> heard_;
};

std::string Types(const std::vector<EventType>& types) {
  std::string out;
  for (EventType t : types) {
    absl::StrAppend(&out, out.empty() ? "" : ",",
                    std::string(EventTypeName(t)));
  }
  return out;
}

class StoreEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.clock = &clock_;
    options.seed = 3;
    options.closed_retention = kRetention;
    store_ = SessionStore::Open(options).value();
    store_->AddListener(recorder_);
    ks_ = NewService("events");
  }

  Sid NewService(const std::string& name) {
    CreateServiceParams p;
    p.unique_name = name;
    return store_->CreateService(p).value().sid;
  }

  Session Create(CreateSessionParams p = {}) {
    absl::StatusOr<Session> s = store_->CreateSession(ks_, p);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(Session());
  }

  Session CreateWithTtl(int64_t ttl) {
    CreateSessionParams p;
    p.ttl = ttl;
    return Create(p);
  }

  Session Update(const Sid& sid, UpdateSessionParams p) {
    absl::StatusOr<Session> s = store_->UpdateSession(ks_, sid, p);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.value_or(Session());
  }

  Session UpdateStatus(const Sid& sid, SessionStatus status) {
    UpdateSessionParams p;
    p.status = status;
    return Update(sid, p);
  }

  ManualClock clock_{kStart};
  std::unique_ptr<SessionStore> store_;
  std::shared_ptr<Recorder> recorder_ = std::make_shared<Recorder>();
  Sid ks_;
};

// Each event type --------------------------------------------------------

TEST_F(StoreEventsTest, CreateEmitsCreatedWithTheNewSession) {
  clock_.Advance(absl::Milliseconds(1500));
  CreateSessionParams p;
  p.unique_name = "ride-1";
  p.ttl = 60;
  Session s = Create(p);
  std::vector<Recorded> events = recorder_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kCreated);
  EXPECT_TRUE(Carries(events[0], s));
  EXPECT_EQ(events[0].time, clock_.Now());
}

TEST_F(StoreEventsTest, UpdateEmitsUpdated) {
  Session s = CreateWithTtl(60);
  clock_.Advance(absl::Seconds(5));
  UpdateSessionParams p;
  p.ttl = 120;
  Session updated = Update(s.sid, p);
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,updated");
  EXPECT_TRUE(Carries(events[1], updated));
  EXPECT_EQ(events[1].ttl, 120);
  EXPECT_EQ(events[1].time, clock_.Now());
}

TEST_F(StoreEventsTest, InteractionEmitsInteraction) {
  Session s = CreateWithTtl(60);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store_->RecordInteraction(ks_, s.sid).ok());
  absl::StatusOr<Session> after = store_->FetchSession(ks_, s.sid);
  ASSERT_TRUE(after.ok()) << after.status();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,interaction");
  EXPECT_TRUE(Carries(events[1], *after));
  EXPECT_EQ(events[1].status, SessionStatus::kInProgress);
  EXPECT_EQ(events[1].time, clock_.Now());
}

TEST_F(StoreEventsTest, UpdateToClosedEmitsClosedNotUpdated) {
  Session s = CreateWithTtl(60);
  clock_.Advance(absl::Seconds(5));
  Session closed = UpdateStatus(s.sid, SessionStatus::kClosed);
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_TRUE(Carries(events[1], closed));
  EXPECT_EQ(events[1].status, SessionStatus::kClosed);
  EXPECT_EQ(events[1].closed_reason, std::string(kReasonApi));
  EXPECT_EQ(events[1].time, clock_.Now());
}

TEST_F(StoreEventsTest, ReopenEmitsUpdated) {
  Session s = CreateWithTtl(60);
  UpdateStatus(s.sid, SessionStatus::kClosed);
  clock_.Advance(absl::Seconds(5));
  Session reopened = UpdateStatus(s.sid, SessionStatus::kInProgress);
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed,updated");
  EXPECT_TRUE(Carries(events[2], reopened));
  EXPECT_EQ(events[2].status, SessionStatus::kInProgress);
  EXPECT_EQ(events[2].closed_reason, "");
  EXPECT_EQ(events[2].date_ended, std::nullopt);
}

TEST_F(StoreEventsTest, HostCloseEmitsClosedWithTheHostReason) {
  Session s = CreateWithTtl(60);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store_->CloseSession(ks_, s.sid, "rider-cancelled").ok());
  absl::StatusOr<Session> closed = store_->FetchSession(ks_, s.sid);
  ASSERT_TRUE(closed.ok()) << closed.status();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_TRUE(Carries(events[1], *closed));
  EXPECT_EQ(events[1].status, SessionStatus::kClosed);
  EXPECT_EQ(events[1].closed_reason, "rider-cancelled");
  EXPECT_EQ(events[1].time, clock_.Now());
}

TEST_F(StoreEventsTest, FailEmitsClosedWithFailedStatusAndReason) {
  Session s = CreateWithTtl(60);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store_->FailSession(ks_, s.sid, "carrier-error").ok());
  absl::StatusOr<Session> failed = store_->FetchSession(ks_, s.sid);
  ASSERT_TRUE(failed.ok()) << failed.status();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_TRUE(Carries(events[1], *failed));
  EXPECT_EQ(events[1].status, SessionStatus::kFailed);
  EXPECT_EQ(events[1].closed_reason, "carrier-error");
  EXPECT_EQ(events[1].time, clock_.Now());
}

TEST_F(StoreEventsTest, TtlExpiryEmitsClosedAtTheExpiryInstant) {
  clock_.Advance(absl::Milliseconds(500));
  Session s = CreateWithTtl(60);
  const absl::Time instant = s.date_created + absl::Seconds(60);
  // Never early: one millisecond before, nothing.
  clock_.Set(instant - absl::Milliseconds(1));
  store_->Advance();
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created");
  clock_.Set(instant + absl::Seconds(3));
  store_->Advance();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_EQ(events[1].time, instant);
  EXPECT_EQ(events[1].status, SessionStatus::kClosed);
  EXPECT_EQ(events[1].closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(events[1].date_ended, instant);
  EXPECT_EQ(events[1].date_updated, instant);
  EXPECT_TRUE(Carries(events[1], store_->FetchSession(ks_, s.sid).value()));
}

TEST_F(StoreEventsTest, DateExpiryEmitsClosedAtTheExpiryInstant) {
  CreateSessionParams p;
  const absl::Time instant =
      kStart + absl::Seconds(90) + absl::Milliseconds(250);
  p.date_expiry = instant;
  p.ttl = 10;  // date_expiry governs while set.
  Session s = Create(p);
  clock_.Set(instant + absl::Seconds(1));
  store_->Advance();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_EQ(events[1].time, instant);
  EXPECT_EQ(events[1].closed_reason, std::string(kReasonDateExpiry));
  EXPECT_EQ(events[1].date_ended, instant);
}

TEST_F(StoreEventsTest, ExpiryAppliedByAReadEmitsClosedOnce) {
  Session s = CreateWithTtl(60);
  const absl::Time instant = s.date_created + absl::Seconds(60);
  clock_.Set(instant + absl::Seconds(2));
  // No Advance(): the read applies the expiry itself.
  absl::StatusOr<Session> read = store_->FetchSession(ks_, s.sid);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->status, SessionStatus::kClosed);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
  EXPECT_EQ(recorder_->EventsFor(s.sid)[1].time, instant);
  // The wheel, running later, finds nothing more to say.
  store_->Advance();
  EXPECT_EQ(Types(recorder_->TypesFor(s.sid)), "created,closed");
}

TEST_F(StoreEventsTest, UpdateThatMakesSessionOverdueEmitsUpdatedThenClosed) {
  Session s = CreateWithTtl(0);
  clock_.Advance(absl::Seconds(100));
  UpdateSessionParams p;
  p.ttl = 30;
  Session answer = Update(s.sid, p);
  const absl::Time instant = s.date_created + absl::Seconds(30);
  EXPECT_EQ(answer.status, SessionStatus::kClosed);
  EXPECT_EQ(answer.date_ended, instant);
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,updated,closed");
  EXPECT_EQ(events[2].time, instant);
  EXPECT_EQ(events[2].closed_reason, std::string(kReasonTtl));
  EXPECT_TRUE(Carries(events[2], answer));
}

TEST_F(StoreEventsTest, DeleteEmitsDeletedWithTheSessionAsItWas) {
  CreateSessionParams p;
  p.unique_name = "to-delete";
  Session s = Create(p);
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store_->RecordInteraction(ks_, s.sid).ok());
  Session interacted = store_->FetchSession(ks_, s.sid).value();
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(store_->DeleteSession(ks_, s.sid).ok());
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  ASSERT_EQ(Types(recorder_->TypesFor(s.sid)), "created,interaction,deleted");
  EXPECT_TRUE(Carries(events[2], interacted));
  EXPECT_EQ(events[2].time, clock_.Now());
}

TEST_F(StoreEventsTest, DeleteServiceEmitsDeletedForEachOfItsSessions) {
  Session kept = Create();
  Sid other = NewService("doomed");
  std::vector<Sid> doomed;
  for (int i = 0; i < 5; ++i) {
    CreateSessionParams p;
    if (i % 2 == 0) p.unique_name = absl::StrCat("d", i);
    p.ttl = i;
    doomed.push_back(store_->CreateSession(other, p).value().sid);
  }
  ASSERT_TRUE(store_->CloseSession(other, doomed[1], "done").ok());
  ASSERT_TRUE(store_->DeleteService(other).ok());
  for (const Sid& sid : doomed) {
    std::vector<EventType> types = recorder_->TypesFor(sid);
    ASSERT_FALSE(types.empty()) << sid;
    EXPECT_EQ(types.back(), EventType::kDeleted) << sid << ": " << Types(types);
    EXPECT_EQ(recorder_->EventsFor(sid).back().service_sid, other);
  }
  EXPECT_EQ(Types(recorder_->TypesFor(kept.sid)), "created");
}

TEST_F(StoreEventsTest, PurgeEmitsPurgedAfterTheRetention) {
  Session closed = CreateWithTtl(0);
  Session failed = CreateWithTtl(0);
  clock_.Advance(absl::Seconds(2));
  ASSERT_TRUE(store_->CloseSession(ks_, closed.sid, "bye").ok());
  ASSERT_TRUE(store_->FailSession(ks_, failed.sid, "oops").ok());
  Session closed_now = store_->FetchSession(ks_, closed.sid).value();
  Session failed_now = store_->FetchSession(ks_, failed.sid).value();
  const absl::Time purge_at = *closed_now.date_ended + kRetention;
  clock_.Set(purge_at - absl::Milliseconds(10));
  store_->Advance();
  EXPECT_EQ(Types(recorder_->TypesFor(closed.sid)), "created,closed");
  clock_.Set(purge_at);
  store_->Advance();
  for (const Session& ended : {closed_now, failed_now}) {
    std::vector<Recorded> events = recorder_->EventsFor(ended.sid);
    ASSERT_EQ(Types(recorder_->TypesFor(ended.sid)), "created,closed,purged");
    EXPECT_TRUE(Carries(events[2], ended));
    // When the purge took effect: its instant, and no later than now.
    EXPECT_GE(events[2].time, purge_at);
    EXPECT_LE(events[2].time, clock_.Now());
  }
}

// Order ------------------------------------------------------------------

TEST_F(StoreEventsTest, EventsForOneSessionArriveInTheOrderOfTheChanges) {
  CreateSessionParams p;
  p.ttl = 30;
  p.unique_name = "lifecycle";
  Session s = Create(p);
  clock_.Advance(absl::Seconds(1));
  UpdateSessionParams ttl;
  ttl.ttl = 60;
  Update(s.sid, ttl);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(store_->RecordInteraction(ks_, s.sid).ok());
  clock_.Advance(absl::Seconds(1));
  UpdateStatus(s.sid, SessionStatus::kClosed);
  clock_.Advance(absl::Seconds(1));
  UpdateStatus(s.sid, SessionStatus::kInProgress);
  clock_.Advance(absl::Seconds(1));
  ASSERT_TRUE(store_->RecordInteraction(ks_, s.sid).ok());
  clock_.Advance(absl::Minutes(2));  // Past the TTL.
  store_->Advance();
  clock_.Advance(kRetention);  // Past the retention.
  store_->Advance();
  std::vector<Recorded> events = recorder_->EventsFor(s.sid);
  EXPECT_EQ(Types(recorder_->TypesFor(s.sid)),
            "created,updated,interaction,closed,updated,interaction,closed,"
            "purged");
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LE(events[i - 1].time, events[i].time) << "event " << i;
  }
  ASSERT_EQ(events.size(), 8u);
  EXPECT_EQ(events[6].closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(events[6].time,
            *events[5].date_last_interaction + absl::Seconds(60));
}

TEST_F(StoreEventsTest, EventsFromTwoThreadsArriveInOrderPerSession) {
#if defined(SESSIONWHEEL_TSAN)
  constexpr int kPerThread = 300;
#else
  constexpr int kPerThread = 1000;
#endif
  std::vector<Sid> sids[2];
  auto work = [&](int id) {
    for (int i = 0; i < kPerThread; ++i) {
      CreateSessionParams p;
      p.ttl = 0;
      absl::StatusOr<Session> s = store_->CreateSession(ks_, p);
      if (!s.ok()) {
        ADD_FAILURE() << s.status();
        return;
      }
      const Sid sid = s->sid;
      UpdateSessionParams ttl;
      ttl.ttl = 600;
      UpdateSessionParams close;
      close.status = SessionStatus::kClosed;
      UpdateSessionParams reopen;
      reopen.status = SessionStatus::kInProgress;
      bool ok = store_->RecordInteraction(ks_, sid).ok() &&
                store_->UpdateSession(ks_, sid, ttl).ok() &&
                store_->CloseSession(ks_, sid, "host").ok() &&
                store_->UpdateSession(ks_, sid, reopen).ok() &&
                store_->RecordInteraction(ks_, sid).ok() &&
                store_->UpdateSession(ks_, sid, close).ok() &&
                store_->DeleteSession(ks_, sid).ok();
      if (!ok) {
        ADD_FAILURE() << "thread " << id << " session " << i;
        return;
      }
      sids[id].push_back(sid);
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  std::map<Sid, std::vector<EventType>> by_sid;
  for (const Recorded& e : recorder_->events()) {
    by_sid[e.sid].push_back(e.type);
  }
  int wrong = 0;
  for (int id = 0; id < 2; ++id) {
    ASSERT_EQ(sids[id].size(), static_cast<size_t>(kPerThread));
    for (const Sid& sid : sids[id]) {
      std::string got = Types(by_sid[sid]);
      if (got !=
              "created,interaction,updated,closed,updated,interaction,closed,"
              "deleted" &&
          ++wrong <= 5) {
        ADD_FAILURE() << sid << ": " << got;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
}

TEST_F(StoreEventsTest, AListenerAddedLaterHearsOnlyLaterEvents) {
  Session first = CreateWithTtl(60);
  auto late = std::make_shared<Recorder>();
  store_->AddListener(late);
  ASSERT_TRUE(store_->RecordInteraction(ks_, first.sid).ok());
  Session second = CreateWithTtl(60);
  std::vector<Recorded> events = late->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, EventType::kInteraction);
  EXPECT_EQ(events[0].sid, first.sid);
  EXPECT_EQ(events[1].type, EventType::kCreated);
  EXPECT_EQ(events[1].sid, second.sid);
  // The first listener heard everything.
  EXPECT_EQ(recorder_->events().size(), 3u);
}

// Listeners calling back into the store -----------------------------------

// On the first `created`, fetches that Session and creates another one in
// the same Service; on an interaction, closes the Session. Records the order
// of calls and whether a call arrived while another was still running.
class ReentrantListener : public SessionListener {
 public:
  ReentrantListener(SessionStore* store, const Sid& ks)
      : store_(store), ks_(ks) {}

  void OnEvent(const SessionEvent& e) noexcept override {
    if (depth_.fetch_add(1) != 0) nested_delivery_ = true;
    log_.push_back(absl::StrCat(
        std::string(EventTypeName(e.type)), " ",
        e.has_unique_name ? std::string(e.unique_name) : std::string("-")));
    threads_.push_back(std::this_thread::get_id());
    if (e.type == EventType::kCreated && !created_once_) {
      created_once_ = true;
      absl::StatusOr<Session> fetched = store_->FetchSession(ks_, e.sid);
      fetch_ok_ = fetched.ok() && Carries(Record(e), *fetched);
      CreateSessionParams p;
      p.unique_name = "nested";
      absl::StatusOr<Session> nested = store_->CreateSession(ks_, p);
      nested_create_ok_ = nested.ok();
      // A name taken by the outer Session is refused, as for anyone.
      CreateSessionParams clash;
      if (e.has_unique_name) clash.unique_name = std::string(e.unique_name);
      clash_code_ = ProxyErrorCode(store_->CreateSession(ks_, clash).status());
    }
    if (e.type == EventType::kInteraction) {
      close_ok_ = store_->CloseSession(ks_, e.sid, "from-listener").ok();
    }
    depth_.fetch_sub(1);
  }

  SessionStore* const store_;
  const Sid ks_;
  std::atomic<int> depth_{0};
  bool nested_delivery_ = false;
  bool created_once_ = false;
  bool fetch_ok_ = false;
  bool nested_create_ok_ = false;
  bool close_ok_ = false;
  std::optional<int> clash_code_;
  std::vector<std::string> log_;
  std::vector<std::thread::id> threads_;
};

TEST_F(StoreEventsTest, ListenerMayCallBackIntoTheStore) {
  auto listener = std::make_shared<ReentrantListener>(store_.get(), ks_);
  store_->AddListener(listener);
  CreateSessionParams p;
  p.unique_name = "outer";
  Session outer = Create(p);
  // Single-threaded host: by the time the call returns, the outer event and
  // the events of the listener's own calls have been delivered, in order,
  // on this thread, each after the previous OnEvent returned.
  EXPECT_TRUE(listener->fetch_ok_);
  EXPECT_TRUE(listener->nested_create_ok_);
  EXPECT_EQ(listener->clash_code_, kErrorSessionNameTaken);
  EXPECT_FALSE(listener->nested_delivery_);
  ASSERT_EQ(listener->log_.size(), 2u);
  EXPECT_EQ(listener->log_[0], "created outer");
  EXPECT_EQ(listener->log_[1], "created nested");
  for (std::thread::id id : listener->threads_) {
    EXPECT_EQ(id, std::this_thread::get_id());
  }
  absl::StatusOr<Session> nested = store_->FetchSession(ks_, "nested");
  ASSERT_TRUE(nested.ok()) << nested.status();

  // An interaction whose listener closes the Session: interaction, then
  // closed, both heard by the other listener too.
  ASSERT_TRUE(store_->RecordInteraction(ks_, outer.sid).ok());
  EXPECT_TRUE(listener->close_ok_);
  EXPECT_FALSE(listener->nested_delivery_);
  EXPECT_EQ(Types(recorder_->TypesFor(outer.sid)),
            "created,interaction,closed");
  EXPECT_EQ(recorder_->EventsFor(outer.sid).back().closed_reason,
            "from-listener");
  EXPECT_EQ(store_->FetchSession(ks_, outer.sid)->status,
            SessionStatus::kClosed);
}

TEST_F(StoreEventsTest, ListenerMayCallBackIntoTheStoreFromExpiry) {
  // Sessions on several shards expire in one Advance(); a listener that
  // reads and writes the store from inside the expiry must not deadlock.
  class Reader : public SessionListener {
   public:
    Reader(SessionStore* store, const Sid& ks) : store_(store), ks_(ks) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type != EventType::kClosed) return;
      absl::StatusOr<Session> s = store_->FetchSession(ks_, e.sid);
      if (s.ok() && s->status == SessionStatus::kClosed) ++reads_ok_;
      // Refused: it has ended.
      if (ProxyErrorCode(store_->RecordInteraction(ks_, e.sid)) ==
          kErrorSessionClosed) {
        ++refused_;
      }
      store_->Stats();
    }
    SessionStore* const store_;
    const Sid ks_;
    int reads_ok_ = 0;
    int refused_ = 0;
  };
  auto reader = std::make_shared<Reader>(store_.get(), ks_);
  store_->AddListener(reader);
  for (int i = 0; i < 40; ++i) CreateWithTtl(10);
  clock_.Advance(absl::Seconds(11));
  EXPECT_EQ(store_->Advance(), 40);
  EXPECT_EQ(reader->reads_ok_, 40);
  EXPECT_EQ(reader->refused_, 40);
}

// Background expiry -------------------------------------------------------

TEST(StoreEventsBackgroundTest, ExpiryEventComesFromTheStoresOwnThread) {
  ManualClock clock(kStart);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 5;
  options.background_expiry = true;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  auto recorder = std::make_shared<Recorder>();
  store->AddListener(recorder);
  CreateServiceParams sp;
  sp.unique_name = "background";
  const Sid ks = store->CreateService(sp).value().sid;
  CreateSessionParams p;
  p.ttl = 60;
  Session s = store->CreateSession(ks, p).value();
  const absl::Time instant = s.date_created + absl::Seconds(60);

  clock.Advance(absl::Seconds(61));
  auto closed = [&](const Recorded& e) {
    return e.type == EventType::kClosed && e.sid == s.sid;
  };
  ASSERT_TRUE(recorder->WaitFor(closed))
      << "no closed event from the background thread";
  for (const Heard& h : recorder->heard()) {
    if (!closed(h.event)) continue;
    EXPECT_NE(h.thread, std::this_thread::get_id());
    EXPECT_EQ(h.event.time, instant);
    EXPECT_EQ(h.event.closed_reason, kReasonTtl);
    EXPECT_EQ(h.event.date_ended, instant);
  }
  store.reset();  // Returns: the background thread stops.
  // The store no longer watches the clock.
  clock.Advance(absl::Hours(1));
}

// Counts calls, and flags any that arrive after the store is gone.
class AfterDestroyWatch : public SessionListener {
 public:
  explicit AfterDestroyWatch(SessionStore** store, Sid* ks)
      : store_(store), ks_(ks) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (destroyed_.load()) late_.fetch_add(1);
    calls_.fetch_add(1);
    // A little work that touches the store, to keep the thread busy.
    if (e.type == EventType::kClosed && *store_ != nullptr) {
      (*store_)->FetchSession(*ks_, e.sid).IgnoreError();
    }
  }
  SessionStore** const store_;
  Sid* const ks_;
  std::atomic<bool> destroyed_{false};
  std::atomic<int> late_{0};
  std::atomic<int> calls_{0};
};

TEST(StoreEventsBackgroundTest, DestroyingTheStoreStopsItsThreadAndEvents) {
#if defined(SESSIONWHEEL_TSAN)
  constexpr int kRounds = 10;
#else
  constexpr int kRounds = 40;
#endif
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ManualClock clock(kStart);
    StoreOptions options;
    options.clock = &clock;
    options.seed = 100 + round;
    options.background_expiry = true;
    options.closed_retention = absl::Seconds(2);
    std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
    SessionStore* raw = store.get();
    Sid ks;
    auto watch = std::make_shared<AfterDestroyWatch>(&raw, &ks);
    store->AddListener(watch);
    CreateServiceParams sp;
    sp.unique_name = "short-lived";
    ks = store->CreateService(sp).value().sid;
    for (int i = 0; i < 200; ++i) {
      CreateSessionParams p;
      p.ttl = 1 + i % 5;
      ASSERT_TRUE(store->CreateSession(ks, p).ok());
    }
    CreateSessionParams far;
    far.ttl = 86400;  // Still pending when the store goes.
    ASSERT_TRUE(store->CreateSession(ks, far).ok());
    // Expiries come due while we destroy the store, at a different moment
    // in each round.
    for (int i = 0; i < round % 8; ++i) clock.Advance(absl::Seconds(1));
    clock.Advance(absl::Seconds(3));
    store.reset();
    watch->destroyed_.store(true);
    raw = nullptr;
    clock.Advance(absl::Hours(1));  // Nobody is listening to the clock now.
    EXPECT_EQ(watch->late_.load(), 0);
  }
}

TEST(StoreEventsBackgroundTest, DestroyingAnIdleStoreReturns) {
  ManualClock clock(kStart);
  StoreOptions options;
  options.clock = &clock;
  options.background_expiry = true;
  { std::unique_ptr<SessionStore> store = SessionStore::Open(options).value(); }
  {
    std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
    CreateServiceParams sp;
    sp.unique_name = "idle";
    Sid ks = store->CreateService(sp).value().sid;
    CreateSessionParams p;
    p.ttl = 3600;
    ASSERT_TRUE(store->CreateSession(ks, p).ok());
  }
  clock.Advance(absl::Hours(2));
}

}  // namespace
}  // namespace sessionwheel
