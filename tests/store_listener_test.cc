// Tests of the listener contract (include/sessionwheel/events.h): a listener
// that blocks, calls back into the store on its own Session, or adds another
// listener cannot corrupt the store, lose an event or deliver one twice; a
// listener that throws ends the process; a listener hears only the types
// it names.
//
// Every store here has one shard, so all Sessions share one event queue and
// one deliverer: the cases where listeners can get in each other's way.
// Nothing sleeps: the blocking test hands over with Gates, whose only time
// limit is a guard that turns a hang into a failure.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/core/shard.h"
#include "engine/util/sid.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::FetchByNames;
using testing_util::Gate;
using testing_util::kStart;
using testing_util::NameBatch;

// "<type> <unique_name or sid>" for every event heard, in order: of every
// type, or of those given.
class Log : public SessionListener {
 public:
  Log() = default;
  explicit Log(EventTypes hears) : hears_(hears) {}
  EventTypes Hears() const override { return hears_; }
  void OnEvent(const SessionEvent& e) noexcept override {
    std::lock_guard<std::mutex> l(mu_);
    lines_.push_back(absl::StrCat(
        std::string(EventTypeName(e.type)), " ",
        e.has_unique_name ? std::string(e.unique_name) : e.sid.ToString()));
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }

 private:
  const EventTypes hears_ = EventTypes::All();
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Hands each event to a step that throws, as a listener calling code that
// can fail might, and does not catch.
class Thrower : public SessionListener {
 public:
  void OnEvent(const SessionEvent& e) noexcept override { Fail(e); }

 private:
  // Not noexcept: the throw escapes it, and OnEvent, into the store.
  static void Fail(const SessionEvent& e) {
    throw std::runtime_error(absl::StrCat("listener failed on ",
                                          std::string(EventTypeName(e.type))));
  }
};

using Lines = std::vector<std::string>;

// A store's options on `clock`, seeded, with `shards` shards.
StoreOptions OptionsOn(ManualClock* clock, int shards) {
  StoreOptions options;
  options.clock = clock;
  options.seed = 11;
  options.shards = shards;
  return options;
}

class StoreListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = SessionStore::Open(OptionsOn(&clock_, /*shards=*/1)).value();
    CreateServiceParams service;
    service.unique_name = "listened";
    ks_ = store_->CreateService(service).value().sid;
  }

  absl::StatusOr<Session> Create(const std::string& name) {
    CreateSessionParams params;
    params.unique_name = name;
    return store_->CreateSession(ks_, params);
  }

  ManualClock clock_{kStart};
  std::unique_ptr<SessionStore> store_;
  Sid ks_;
};

// Throwing -------------------------------------------------------------------

// OnEvent is noexcept: an exception escaping a listener ends the process
// (std::terminate) rather than leaving the store to choose between
// delivering the event again and losing it.
using StoreListenerDeathTest = StoreListenerTest;

TEST_F(StoreListenerDeathTest, AThrowingListenerEndsTheProcess) {
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        store_->AddListener(std::make_shared<Thrower>());
        Create("a").IgnoreError();
      },
      "listener failed on created");
}

// Blocking -------------------------------------------------------------------

TEST_F(StoreListenerTest, ABlockedListenerHoldsUpOnlyTheDeliveringThread) {
  Gate blocked;
  Gate release;
  class Blocker : public SessionListener {
   public:
    Blocker(Gate* blocked, Gate* release)
        : blocked_(blocked), release_(release) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.unique_name != "slow") return;
      blocked_->Open();
      release_->Wait();
    }
    Gate* const blocked_;
    Gate* const release_;
  };
  auto log = std::make_shared<Log>();
  store_->AddListener(std::make_shared<Blocker>(&blocked, &release));
  store_->AddListener(log);
  absl::Status slow_status;
  std::thread slow([&] { slow_status = Create("slow").status(); });
  ASSERT_TRUE(blocked.Wait());
  // The one shard is being delivered by `slow`, stuck in the listener. This
  // thread's calls on the same shard, on the same Session too, go through;
  // their events queue behind the blocked one.
  absl::StatusOr<Session> fast = Create("fast");
  EXPECT_TRUE(fast.ok()) << fast.status();
  absl::StatusOr<Session> slow_session = store_->FetchSession(ks_, "slow");
  ASSERT_TRUE(slow_session.ok()) << slow_session.status();
  EXPECT_TRUE(store_->RecordInteraction(ks_, slow_session->sid).ok());
  EXPECT_EQ(log->lines(), Lines());
  release.Open();
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << slow_status;
  // `slow` delivered what queued behind it before its call returned.
  EXPECT_EQ(log->lines(),
            Lines({"created slow", "created fast", "interaction slow"}));
}

// Calling back, adding listeners ----------------------------------------------

TEST_F(StoreListenerTest, AListenerMayChangeAndDeleteTheSessionItHearsAbout) {
  class Undo : public SessionListener {
   public:
    Undo(SessionStore* store, const Sid& ks) : store_(store), ks_(ks) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type == EventType::kCreated) {
        EXPECT_TRUE(store_->RecordInteraction(ks_, e.sid).ok());
      } else if (e.type == EventType::kInteraction) {
        EXPECT_TRUE(store_->DeleteSession(ks_, e.sid).ok());
      }
    }
    SessionStore* const store_;
    const Sid ks_;
  };
  auto log = std::make_shared<Log>();
  store_->AddListener(std::make_shared<Undo>(store_.get(), ks_));
  store_->AddListener(log);
  ASSERT_TRUE(Create("brief").ok());
  EXPECT_EQ(log->lines(),
            Lines({"created brief", "interaction brief", "deleted brief"}));
  EXPECT_TRUE(absl::IsNotFound(store_->FetchSession(ks_, "brief").status()));
  EXPECT_TRUE(store_->CheckInvariants().ok());
}

// A batch fetch by name that closes due Sessions reports each close once,
// after its lock, to a listener that may itself fetch a batch.
TEST_F(StoreListenerTest,
       ABatchByNameReportsEachCloseOnceToAListenerThatMayFetch) {
  class Refetcher : public SessionListener {
   public:
    Refetcher(SessionStore* store, const Sid& ks) : store_(store), ks_(ks) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type != EventType::kClosed) return;
      const std::vector<std::string_view> names = {
          "kept", std::string_view(e.unique_name)};
      const NameBatch fetched = FetchByNames(*store_, ks_, names);
      ASSERT_TRUE(fetched.call.ok()) << fetched.call;
      EXPECT_TRUE(fetched.statuses[0].ok()) << fetched.statuses[0];
      EXPECT_TRUE(fetched.statuses[1].ok()) << fetched.statuses[1];
      EXPECT_EQ(fetched.out[1].status, SessionStatus::kClosed);
      ++refetched;
    }
    SessionStore* const store_;
    const Sid ks_;
    int refetched = 0;
  };
  CreateSessionParams params;
  params.ttl = 5;
  for (const char* name : {"a", "b"}) {
    params.unique_name = name;
    ASSERT_TRUE(store_->CreateSession(ks_, params).ok());
  }
  ASSERT_TRUE(Create("kept").ok());
  auto log = std::make_shared<Log>();
  auto refetcher = std::make_shared<Refetcher>(store_.get(), ks_);
  store_->AddListener(refetcher);
  store_->AddListener(log);
  clock_.Advance(absl::Seconds(5));
  const std::vector<std::string_view> names = {"a", "kept", "b", "a"};
  const NameBatch fetched = FetchByNames(*store_, ks_, names);
  ASSERT_TRUE(fetched.call.ok()) << fetched.call;
  for (const absl::Status& s : fetched.statuses) EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(fetched.out[0].status, SessionStatus::kClosed);
  EXPECT_EQ(fetched.out[3].status, SessionStatus::kClosed);
  EXPECT_EQ(log->lines(), Lines({"closed a", "closed b"}));
  EXPECT_EQ(refetcher->refetched, 2);
  EXPECT_TRUE(store_->CheckInvariants().ok());
}

TEST_F(StoreListenerTest, AListenerAddedByAListenerHearsTheNextEvent) {
  auto late = std::make_shared<Log>();
  class Adder : public SessionListener {
   public:
    Adder(SessionStore* store, std::shared_ptr<Log> late)
        : store_(store), late_(std::move(late)) {}
    void OnEvent(const SessionEvent&) noexcept override {
      if (late_ != nullptr) store_->AddListener(std::move(late_));
    }
    SessionStore* const store_;
    std::shared_ptr<Log> late_;
  };
  store_->AddListener(std::make_shared<Adder>(store_.get(), late));
  ASSERT_TRUE(Create("first").ok());
  ASSERT_TRUE(Create("second").ok());
  EXPECT_EQ(late->lines(), Lines({"created second"}));
}

// Hearing less ---------------------------------------------------------------

TEST(EventTypesTest, HoldsTheTypesNamed) {
  constexpr EventTypes closes{EventType::kClosed};
  static_assert(closes.contains(EventType::kClosed));
  static_assert(!closes.contains(EventType::kPurged));
  static_assert(EventTypes().empty());
  static_assert(!closes.empty());
  constexpr EventTypes both = closes | EventTypes{EventType::kPurged};
  static_assert(both == EventTypes({EventType::kClosed, EventType::kPurged}));
  for (EventType t :
       {EventType::kCreated, EventType::kUpdated, EventType::kInteraction,
        EventType::kClosed, EventType::kDeleted, EventType::kPurged}) {
    EXPECT_TRUE(EventTypes::All().contains(t)) << EventTypeName(t);
    EXPECT_EQ(both.contains(t),
              t == EventType::kClosed || t == EventType::kPurged)
        << EventTypeName(t);
  }
  EXPECT_EQ(EventTypes::FromBits(0xFF), EventTypes::All());
  // Every type there is, a new one too (EventTypeName names each: -Wswitch
  // sees to that), is in All(), so a default listener hears it.
  for (int v = 0; v < 256; ++v) {
    const auto t = static_cast<EventType>(v);
    if (EventTypeName(t) == "unknown") continue;
    EXPECT_TRUE(EventTypes::All().contains(t)) << EventTypeName(t);
  }
}

TEST_F(StoreListenerTest, AListenerHearsOnlyTheTypesItNames) {
  auto closes = std::make_shared<Log>(EventTypes{EventType::kClosed});
  auto all = std::make_shared<Log>();
  store_->AddListener(closes);
  store_->AddListener(all);
  CreateSessionParams params;
  params.unique_name = "brief";
  params.ttl = 5;
  const Sid kc = store_->CreateSession(ks_, params).value().sid;
  ASSERT_TRUE(store_->RecordInteraction(ks_, kc).ok());
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(store_->Advance(), 1);
  ASSERT_TRUE(store_->DeleteSession(ks_, kc).ok());
  EXPECT_EQ(closes->lines(), Lines({"closed brief"}));
  EXPECT_EQ(all->lines(), Lines({"created brief", "interaction brief",
                                 "closed brief", "deleted brief"}));
}

// A Session freed as it expires makes two events, closed and purged: each
// goes only to the listeners that hear its type.
TEST(StoreListenerFreedTest, EachEventOfAFreedSessionGoesToItsListenersOnly) {
  ManualClock clock{kStart};
  StoreOptions options = OptionsOn(&clock, /*shards=*/1);
  options.closed_retention = absl::ZeroDuration();
  auto store = SessionStore::Open(options).value();
  CreateServiceParams service;
  service.unique_name = "freed";
  const Sid ks = store->CreateService(service).value().sid;
  auto closes = std::make_shared<Log>(EventTypes{EventType::kClosed});
  auto purges = std::make_shared<Log>(EventTypes{EventType::kPurged});
  store->AddListener(closes);
  store->AddListener(purges);
  CreateSessionParams params;
  params.ttl = 5;
  for (const char* name : {"a", "b"}) {
    params.unique_name = name;
    ASSERT_TRUE(store->CreateSession(ks, params).ok());
  }
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(store->Advance(), 2);
  EXPECT_EQ(closes->lines(), Lines({"closed a", "closed b"}));
  EXPECT_EQ(purges->lines(), Lines({"purged a", "purged b"}));
  EXPECT_EQ(store->Stats().sessions, 0);
}

// Events no listener heard were not kept: a listener added later hears the
// types it names from then on, the ones nobody heard before included.
TEST_F(StoreListenerTest, AListenerAddedLaterHearsTypesNoneHeardBefore) {
  auto closes = std::make_shared<Log>(EventTypes{EventType::kClosed});
  store_->AddListener(closes);
  ASSERT_TRUE(Create("unheard").ok());
  auto all = std::make_shared<Log>();
  store_->AddListener(all);
  ASSERT_TRUE(Create("heard").ok());
  EXPECT_EQ(all->lines(), Lines({"created heard"}));
  EXPECT_TRUE(closes->lines().empty());
}

// An event no listener hears is not queued at all: not even for a listener
// added before it would have been delivered.
TEST_F(StoreListenerTest, AnEventNoListenerHearsIsNotQueued) {
  auto all = std::make_shared<Log>();
  class CreateThenAdd : public SessionListener {
   public:
    CreateThenAdd(SessionStore* store, const Sid& ks, std::shared_ptr<Log> all)
        : store_(store), ks_(ks), all_(std::move(all)) {}
    EventTypes Hears() const override { return {EventType::kClosed}; }
    void OnEvent(const SessionEvent&) noexcept override {
      CreateSessionParams params;
      params.unique_name = "unheard";
      // Queued behind this event, and delivered in the same loop, if it
      // were queued at all: `all` is there by then.
      EXPECT_TRUE(store_->CreateSession(ks_, params).ok());
      store_->AddListener(all_);
    }
    SessionStore* const store_;
    const Sid ks_;
    const std::shared_ptr<Log> all_;
  };
  store_->AddListener(std::make_shared<CreateThenAdd>(store_.get(), ks_, all));
  const Sid kc = Create("closing").value().sid;
  UpdateSessionParams close;
  close.status = SessionStatus::kClosed;
  ASSERT_TRUE(store_->UpdateSession(ks_, kc, close).ok());
  EXPECT_TRUE(all->lines().empty());
  ASSERT_TRUE(Create("heard").ok());
  EXPECT_EQ(all->lines(), Lines({"created heard"}));
}

TEST_F(StoreListenerTest, HearsIsAskedOnceWhenTheListenerIsAdded) {
  class Counting : public Log {
   public:
    EventTypes Hears() const override {
      ++asked;
      return EventTypes::All();
    }
    mutable int asked = 0;
  };
  auto listener = std::make_shared<Counting>();
  store_->AddListener(listener);
  EXPECT_EQ(listener->asked, 1);
  ASSERT_TRUE(Create("a").ok());
  ASSERT_TRUE(Create("b").ok());
  EXPECT_EQ(listener->asked, 1);
  EXPECT_EQ(listener->lines(), Lines({"created a", "created b"}));
}

TEST_F(StoreListenerTest, AListenerThatHearsNothingIsNeverCalled) {
  auto none = std::make_shared<Log>(EventTypes{});
  store_->AddListener(none);
  const Sid kc = Create("quiet").value().sid;
  ASSERT_TRUE(store_->RecordInteraction(ks_, kc).ok());
  ASSERT_TRUE(store_->DeleteSession(ks_, kc).ok());
  EXPECT_TRUE(none->lines().empty());
}

// Listeners calling back across shards, in a single-threaded host: every
// event has been delivered when the call that caused it returns, those
// queued on a shard whose events this thread has already delivered in the
// same loop included.
TEST(StoreListenerShardsTest, CallsBackAcrossShardsLeaveNothingQueued) {
  ManualClock clock{kStart};
  auto store = SessionStore::Open(OptionsOn(&clock, /*shards=*/2)).value();
  CreateServiceParams service;
  service.unique_name = "hopping";
  const Sid ks = store->CreateService(service).value().sid;
  // Two names in different shards (a named Session lives in its name's).
  const auto shard = [&](const std::string& name) {
    return internal::NameShardByte(internal::Body(ks), name) & 1;
  };
  const std::string there = "there";
  std::string here = "here-0";
  for (int i = 1; shard(here) == shard(there); ++i) {
    here = absl::StrCat("here-", i);
  }
  CreateSessionParams params;
  params.unique_name = there;
  const Sid kc_there = store->CreateSession(ks, params).value().sid;

  // Creating `here` interacts with `there`, whose interaction interacts
  // with `here` again: here's shard, there's, then here's again.
  class Hopper : public SessionListener {
   public:
    Hopper(SessionStore* store, const Sid& ks, const Sid& there)
        : store_(store), ks_(ks), there_(there) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type == EventType::kCreated) {
        here_ = e.sid;
        EXPECT_TRUE(store_->RecordInteraction(ks_, there_).ok());
      } else if (e.type == EventType::kInteraction && e.sid == there_) {
        EXPECT_TRUE(store_->RecordInteraction(ks_, here_).ok());
      }
    }
    SessionStore* const store_;
    const Sid ks_;
    const Sid there_;
    Sid here_;
  };
  auto log = std::make_shared<Log>();
  store->AddListener(std::make_shared<Hopper>(store.get(), ks, kc_there));
  store->AddListener(log);
  params.unique_name = here;
  ASSERT_TRUE(store->CreateSession(ks, params).ok());
  EXPECT_EQ(log->lines(), Lines({"created " + here, "interaction " + there,
                                 "interaction " + here}));
}

}  // namespace
}  // namespace sessionwheel
