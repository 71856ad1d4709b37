// Durable stores under races and faults that a store of one shard, or one
// thread, never meets: each test pins a promise of store.h ("every change
// is in the journal before its call returns"; recovery gives back every
// acknowledged change) through an interleaving the test forces. Found by a
// review of the multi-shard paths on 2026-12-01, with a failing test for
// each; the engine was fixed after.
//
// - A Session created in a shard its new Service has reached, while the
//   Service waits for the other shards, must be journaled after its
//   Service (CreateService journals it before any shard has it).
// - A fuzzy checkpoint's registry, copied after its roll, may show a
//   Service holding a name that a replayed record gives to another Service
//   for a while: the first keeps its Sessions.
// - DeleteService waits for its own record whatever the listeners that
//   hear its Sessions go do (it is acknowledged before they are removed).
//
// Clocks are manual, or a manual clock that can hold one thread inside
// Now(); nothing sleeps.

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/core/durability.h"
#include "engine/core/shard.h"
#include "engine/persist/journal_files.h"
#include "engine/util/sid.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"
#include "tests/journal_files_testing.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::FailingFiles;
using testing_util::Gate;
using testing_util::HeldCreateFiles;
using testing_util::kAccountSid;
using testing_util::kT0;

// A manual clock that holds the next thread marked by HoldNextCallHere()
// inside Now() until Release(): a call that reads the clock under its
// shard's lock then holds that lock, so a test can stop another call that
// needs it at a chosen shard.
class HoldingClock : public Clock {
 public:
  explicit HoldingClock(absl::Time start) : clock_(start) {}
  absl::Time Now() const override {
    bool hold = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (held_thread_ == std::this_thread::get_id()) {
        held_thread_ = std::thread::id();
        hold = true;
      }
    }
    if (hold) {
      entered_.Open();
      EXPECT_TRUE(release_.Wait());
    }
    return clock_.Now();
  }
  void HoldNextCallHere() {
    std::lock_guard<std::mutex> l(mu_);
    held_thread_ = std::this_thread::get_id();
  }
  void WaitUntilHeld() { EXPECT_TRUE(entered_.Wait()); }
  void Release() { release_.Open(); }

 private:
  ManualClock clock_;
  mutable std::mutex mu_;
  mutable std::thread::id held_thread_;
  mutable Gate entered_;
  mutable Gate release_;
};

class DurableRacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = ::testing::TempDir() + "durable_races_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOptions Options(Clock* clock) {
    StoreOptions options;
    options.clock = clock;
    options.seed = 4242;
    options.account_sid = kAccountSid;
    options.data_dir = dir_;
    options.sync = SyncPolicy::kEveryWrite;
    return options;
  }

  std::unique_ptr<SessionStore> MustOpen(const StoreOptions& options,
                                         internal::JournalFiles* files) {
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        files == nullptr ? SessionStore::Open(options)
                         : internal::OpenDurableStore(options, files);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string dir_;
};

// A name of Service `ks` whose Session lives in shard `shard` of 2.
std::string NameInShard(const Sid& ks, uint32_t shard, std::string_view stem) {
  for (int i = 0;; ++i) {
    std::string name = absl::StrCat(std::string(stem), "-", i);
    if ((internal::NameShardByte(internal::Body(ks), name) & 1u) == shard) {
      return name;
    }
  }
}

// CreateService adds the Service to shard 0, then to shard 1. A Session
// created in shard 0 in between is acknowledged (kEveryWrite: its record is
// on the disk). Had the Service been journaled after its last shard, as
// until 2026-12-01, the Session's record would come first, and replay,
// meeting it before its Service exists, would skip it
// (Shard::ApplySessionImage): an acknowledged create lost. With one shard
// no call runs between the Service's last shard and its journal record.
TEST_F(DurableRacesTest,
       ASessionCreatedAsItsServiceReachesItsShardSurvivesRecovery) {
  HoldingClock clock(kT0);
  StoreOptions options = Options(&clock);
  options.shards = 2;
  std::unique_ptr<SessionStore> store = MustOpen(options, nullptr);
  ASSERT_NE(store, nullptr);

  CreateServiceParams main_params;
  main_params.unique_name = "main";
  const Sid ks_main = store->CreateService(main_params).value().sid;
  CreateSessionParams in_shard_1;
  in_shard_1.unique_name = NameInShard(ks_main, 1, "holder");
  const Sid holder = store->CreateSession(ks_main, in_shard_1).value().sid;

  const Sid ks("KS", 0x0123456789abcdefULL, 0xfedcba9876543210ULL);
  CreateSessionParams in_shard_0;
  in_shard_0.unique_name = NameInShard(ks, 0, "early");

  // A fetch holds shard 1's lock, stopped inside the clock.
  std::thread fetch([&] {
    clock.HoldNextCallHere();
    EXPECT_TRUE(store->FetchSession(ks_main, holder).ok());
  });
  clock.WaitUntilHeld();
  // The Service reaches shard 0, then waits for shard 1.
  absl::Status created_service;
  std::thread create_service([&] {
    CreateServiceParams params;
    params.sid = ks;
    params.unique_name = "new";
    created_service = store->CreateService(params).status();
  });
  // As soon as shard 0 holds it, a Session is created there.
  absl::StatusOr<Session> early;
  for (;;) {
    early = store->CreateSession(ks, in_shard_0);
    if (!absl::IsNotFound(early.status())) break;
    std::this_thread::yield();
  }
  clock.Release();
  fetch.join();
  create_service.join();
  ASSERT_TRUE(early.ok()) << early.status();
  ASSERT_TRUE(created_service.ok()) << created_service;
  ASSERT_TRUE(store->FetchSession(ks, early->sid).ok());

  store.reset();
  store = MustOpen(options, nullptr);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->FetchService(ks).ok());
  absl::StatusOr<Session> back = store->FetchSession(ks, early->sid);
  EXPECT_TRUE(back.ok()) << "the acknowledged create of " << early->sid
                         << " is gone after recovery: " << back.status();
}

// A checkpoint rolls the journal, then copies the Service registry: the
// copy may hold Service changes made after the roll, which replay applies
// again. Here "a" passes from a Service created and deleted after the roll
// to X, which held "b" before it: the checkpoint holds X as "a", and
// replaying the short-lived Service's put finds "a" held by X. Detaching X
// there, as until 2026-12-01, removed X's Sessions, and X's own put,
// replayed last, brought X back empty; now X keeps them, and its put gives
// it the name back (store.cc, ApplyServicePutDetaching).
TEST_F(DurableRacesTest, ANameReusedAfterACheckpointsRollKeepsItsSessions) {
  ManualClock clock(kT0);
  HeldCreateFiles files;
  StoreOptions options = Options(&clock);
  options.sync = SyncPolicy::kOs;  // Changes go on while the roll waits.
  std::unique_ptr<SessionStore> store = MustOpen(options, &files);
  ASSERT_NE(store, nullptr);
  CreateServiceParams x_params;
  x_params.unique_name = "b";
  const Sid x = store->CreateService(x_params).value().sid;
  const Sid kept = store->CreateSession(x, CreateSessionParams()).value().sid;

  files.HoldNextCreate();
  absl::Status checkpointed;
  std::thread checkpoint([&] { checkpointed = store->Checkpoint(); });
  files.WaitUntilHeld();  // The roll has fixed the replay's start.
  CreateServiceParams y_params;
  y_params.unique_name = "a";
  const Sid y = store->CreateService(y_params).value().sid;
  ASSERT_TRUE(store->DeleteService(y).ok());
  UpdateServiceParams rename;
  rename.unique_name = "a";
  ASSERT_TRUE(store->UpdateService(x, rename).ok());
  files.Release();
  checkpoint.join();
  ASSERT_TRUE(checkpointed.ok()) << checkpointed;
  ASSERT_TRUE(store->FetchSession(x, kept).ok());

  store.reset();
  store = MustOpen(options, nullptr);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Service> back_x = store->FetchService(x);
  ASSERT_TRUE(back_x.ok()) << back_x.status();
  EXPECT_EQ(back_x->unique_name, "a");
  absl::StatusOr<Session> back = store->FetchSession(x, kept);
  EXPECT_TRUE(back.ok()) << "Session " << kept
                         << " of the renamed Service is gone after recovery: "
                         << back.status();
  EXPECT_EQ(store->Stats().sessions, 1);
  absl::Status invariants = store->CheckInvariants();
  EXPECT_TRUE(invariants.ok()) << invariants;
  CreateServiceParams another_a;
  another_a.unique_name = "a";  // X's, and X's alone.
  EXPECT_EQ(store->CreateService(another_a).status().code(),
            absl::StatusCode::kAlreadyExists);
}

// DeleteService journals its record and removes the Sessions in slices,
// delivering their kDeleted. A listener's call that fails (here a delete of
// the Session it just heard deleted: NotFound) resets this thread's pending
// LSN (Acknowledge of an error). When DeleteService waited for its record
// after the removal, as until 2026-12-01, it then waited for nothing and
// returned OK although its record never reached the full disk. It waits
// before the removal now. store.h, SyncPolicy::kEveryWrite: "A change
// returns once its record is on the disk".
TEST_F(DurableRacesTest, DeleteServiceWaitsForItsRecordWhateverAListenerDoes) {
  ManualClock clock(kT0);
  FailingFiles files;
  StoreOptions options = Options(&clock);
  std::unique_ptr<SessionStore> store = MustOpen(options, &files);
  ASSERT_NE(store, nullptr);
  CreateServiceParams params;
  params.unique_name = "doomed";
  const Sid doomed = store->CreateService(params).value().sid;
  ASSERT_TRUE(store->CreateSession(doomed, CreateSessionParams()).ok());

  class Cleaner : public SessionListener {
   public:
    Cleaner(SessionStore* store, const Sid& ks) : store_(store), ks_(ks) {}
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type != EventType::kDeleted) return;
      last_ = store_->DeleteSession(ks_, e.sid);  // Gone already.
    }
    SessionStore* const store_;
    const Sid ks_;
    absl::Status last_;
  };
  auto cleaner = std::make_shared<Cleaner>(store.get(), doomed);
  store->AddListener(cleaner);

  files.failing = true;
  const absl::Status deleted = store->DeleteService(doomed);
  // NotFound when the delete waited after its Sessions went, the disk's
  // error now that it waits before.
  ASSERT_FALSE(cleaner->last_.ok());
  EXPECT_EQ(deleted.code(), absl::StatusCode::kResourceExhausted)
      << "DeleteService acknowledged a record the full disk never took: "
      << deleted;
  // The store itself knows: its next change is refused.
  EXPECT_EQ(store->CreateService(CreateServiceParams{std::nullopt, "next", 0})
                .status()
                .code(),
            absl::StatusCode::kResourceExhausted);
  store.reset();
  files.failing = false;
  store = MustOpen(options, nullptr);
  ASSERT_NE(store, nullptr);
  // The delete never reached the disk and was not acknowledged: reopened,
  // the store is what the disk holds, the Service and its Session.
  EXPECT_TRUE(store->FetchService(doomed).ok());
  EXPECT_EQ(store->Stats().sessions, 1);
}

}  // namespace
}  // namespace sessionwheel
