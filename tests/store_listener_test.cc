// Tests of the listener contract (include/sessionwheel/events.h): a listener
// that throws, blocks, calls back into the store on its own Session, or adds
// another listener cannot corrupt the store, lose an event or deliver one
// twice.
//
// Every store here has one shard, so all Sessions share one event queue and
// one deliverer: the cases where listeners can get in each other's way.
// Nothing sleeps: the blocking test hands over with Gates, whose only time
// limit is a guard that turns a hang into a failure.

#include <chrono>
#include <condition_variable>
#include <functional>
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
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::kStart;

constexpr std::chrono::seconds kHangGuard{60};

// A one-shot signal between threads (std::mutex, so TSan sees it).
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // True once open; false if the hang guard ran out first.
  bool Wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kHangGuard, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// "<type> <unique_name or sid>" for every event heard, in order.
class Log : public SessionListener {
 public:
  void OnEvent(const SessionEvent& e) override {
    std::lock_guard<std::mutex> l(mu_);
    lines_.push_back(
        absl::StrCat(std::string(EventTypeName(e.type)), " ",
                     e.session.unique_name.value_or(e.session.sid)));
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> l(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Runs `fn` on each event, then throws if the event is the `throw_at`-th
// (from 1) it has heard.
class Thrower : public SessionListener {
 public:
  explicit Thrower(int throw_at) : throw_at_(throw_at) {}
  void OnEvent(const SessionEvent& e) override {
    if (on_event) on_event(e);
    if (++heard_ == throw_at_) throw std::runtime_error("listener failed");
  }
  std::function<void(const SessionEvent&)> on_event;

 private:
  const int throw_at_;
  int heard_ = 0;
};

using Lines = std::vector<std::string>;

class StoreListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions options;
    options.clock = &clock_;
    options.seed = 11;
    options.shards = 1;
    store_ = SessionStore::Open(options).value();
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
  std::string ks_;
};

// Throwing -------------------------------------------------------------------

TEST_F(StoreListenerTest, AThrowReachesTheCallerAfterTheChangeIsMade) {
  auto thrower = std::make_shared<Thrower>(1);
  auto log = std::make_shared<Log>();
  store_->AddListener(thrower);
  store_->AddListener(log);
  EXPECT_THROW(Create("a").IgnoreError(), std::runtime_error);
  // The Session was created, and the listener after the thrower heard it.
  EXPECT_TRUE(store_->FetchSession(ks_, "a").ok());
  EXPECT_EQ(log->lines(), Lines({"created a"}));
  // Delivery goes on as before: the shard is not left "delivering".
  ASSERT_TRUE(Create("b").ok());
  EXPECT_EQ(log->lines(), Lines({"created a", "created b"}));
  EXPECT_TRUE(store_->CheckInvariants().ok());
}

TEST_F(StoreListenerTest, EventsAfterAThrowWaitForTheNextDeliveryInOrder) {
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(Create(name).ok());
  auto thrower = std::make_shared<Thrower>(1);
  auto log = std::make_shared<Log>();
  store_->AddListener(thrower);
  store_->AddListener(log);
  // Deleting the Service queues three events in one batch; the first throws.
  EXPECT_THROW(store_->DeleteService(ks_).IgnoreError(), std::runtime_error);
  EXPECT_EQ(log->lines(), Lines({"deleted c"}));
  // The next delivery, here Advance(), brings the rest, each once, in order.
  store_->Advance();
  EXPECT_EQ(log->lines(), Lines({"deleted c", "deleted b", "deleted a"}));
  store_->Advance();
  EXPECT_EQ(log->lines().size(), 3u);
  EXPECT_TRUE(store_->CheckInvariants().ok());
}

TEST_F(StoreListenerTest, AThrowAfterCallingBackLeavesTheNestedEventQueued) {
  auto thrower = std::make_shared<Thrower>(1);
  auto log = std::make_shared<Log>();
  thrower->on_event = [&](const SessionEvent& e) {
    if (e.session.unique_name == "outer") {
      EXPECT_TRUE(Create("nested").ok());
    }
  };
  store_->AddListener(thrower);
  store_->AddListener(log);
  EXPECT_THROW(Create("outer").IgnoreError(), std::runtime_error);
  EXPECT_EQ(log->lines(), Lines({"created outer"}));
  // This thread is no longer "inside a listener": its next call delivers.
  ASSERT_TRUE(store_->FetchSession(ks_, "nested").ok());
  EXPECT_EQ(log->lines(), Lines({"created outer", "created nested"}));
}

TEST(StoreListenerBackgroundTest, TheExpiryThreadSurvivesAThrow) {
  ManualClock clock(kStart);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 12;
  options.shards = 1;
  options.background_expiry = true;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  CreateServiceParams service;
  service.unique_name = "background";
  const std::string ks = store->CreateService(service).value().sid;
  Gate second_closed;
  auto thrower = std::make_shared<Thrower>(1);
  thrower->on_event = [&](const SessionEvent& e) {
    if (e.session.unique_name == "second") second_closed.Open();
  };
  for (const char* name : {"first", "second"}) {
    CreateSessionParams params;
    params.unique_name = name;
    params.ttl = std::string(name) == "first" ? 10 : 20;
    ASSERT_TRUE(store->CreateSession(ks, params).ok());
  }
  store->AddListener(thrower);  // After the creates: it hears expiries only.
  clock.Advance(absl::Seconds(10));  // "first" closes, and the thrower throws.
  clock.Advance(absl::Seconds(10));
  EXPECT_TRUE(second_closed.Wait()) << "no event after the throw";
}

// Blocking -------------------------------------------------------------------

TEST_F(StoreListenerTest, ABlockedListenerHoldsUpOnlyTheDeliveringThread) {
  Gate blocked;
  Gate release;
  class Blocker : public SessionListener {
   public:
    Blocker(Gate* blocked, Gate* release)
        : blocked_(blocked), release_(release) {}
    void OnEvent(const SessionEvent& e) override {
      if (e.session.unique_name != "slow") return;
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
    Undo(SessionStore* store, std::string ks)
        : store_(store), ks_(std::move(ks)) {}
    void OnEvent(const SessionEvent& e) override {
      if (e.type == EventType::kCreated) {
        EXPECT_TRUE(store_->RecordInteraction(ks_, e.session.sid).ok());
      } else if (e.type == EventType::kInteraction) {
        EXPECT_TRUE(store_->DeleteSession(ks_, e.session.sid).ok());
      }
    }
    SessionStore* const store_;
    const std::string ks_;
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

TEST_F(StoreListenerTest, AListenerAddedByAListenerHearsTheNextEvent) {
  auto late = std::make_shared<Log>();
  class Adder : public SessionListener {
   public:
    Adder(SessionStore* store, std::shared_ptr<Log> late)
        : store_(store), late_(std::move(late)) {}
    void OnEvent(const SessionEvent&) override {
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

}  // namespace
}  // namespace sessionwheel
