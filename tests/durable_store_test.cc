// A store in a data directory (StoreOptions::data_dir): every acknowledged
// change comes back after the store is closed and opened again, from the
// journal alone, from a checkpoint alone, and from both; expiries that fell
// due while it was closed are applied as OpenSnapshot applies them; SIDs are
// never minted twice; the directory belongs to one store at a time; limits
// never refuse recovery. A model-based test checks, over 50 seeds of random
// changes, checkpoints and reopenings, that the recovered store equals one
// that never stopped, field by field.
//
// Killing the process mid-write is crash_test's; damaged journals are
// journal_test's.

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "engine/core/durability.h"
#include "engine/persist/journal_files.h"
#include "engine/persist/journal_format.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/events.h"
#include "sessionwheel/store.h"
#include "tests/journal_files_testing.h"
#include "tests/store_compare.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::ExpectSameContent;
using testing_util::FailingFiles;
using testing_util::HeldCreateFiles;
using testing_util::IsProxyError;
using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::SameSession;

class DurableStoreTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSeed = 4242;

  void SetUp() override {
    std::string dir = ::testing::TempDir() + "durable_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOptions Options() {
    StoreOptions options;
    options.clock = &clock_;
    options.seed = kSeed;
    options.account_sid = kAccountSid;
    options.data_dir = dir_;
    options.sync = SyncPolicy::kEveryWrite;
    return options;
  }

  // `options` for a follower: in memory, changed only by ApplyChange.
  static StoreOptions AsFollower(StoreOptions options) {
    options.data_dir.clear();
    options.follower = true;
    return options;
  }

  std::unique_ptr<SessionStore> MustOpen(const StoreOptions& options) {
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // The same store, closed and opened again (with Options() by default).
  void Reopen(std::unique_ptr<SessionStore>& store,
              std::optional<StoreOptions> options = std::nullopt) {
    store.reset();
    store = MustOpen(options.value_or(Options()));
    ASSERT_NE(store, nullptr);
  }

  Sid MustCreateService(SessionStore& store, const std::string& name,
                        int64_t default_ttl = 0) {
    CreateServiceParams params;
    params.unique_name = name;
    params.default_ttl = default_ttl;
    absl::StatusOr<Service> service = store.CreateService(params);
    EXPECT_TRUE(service.ok()) << service.status();
    return service.ok() ? service->sid : Sid();
  }

  Session MustCreate(SessionStore& store, const Sid& ks,
                     CreateSessionParams params = CreateSessionParams()) {
    absl::StatusOr<Session> session = store.CreateSession(ks, params);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *session : Session();
  }

  // A follower opened (with `options`, in memory) from `leader`'s latest
  // checkpoint, with the leader's changes since applied; null on failure.
  std::unique_ptr<SessionStore> FollowerFromLatestCheckpoint(
      SessionStore& leader, StoreOptions options) {
    absl::StatusOr<SessionStore::CheckpointPosition> start =
        leader.LatestCheckpoint();
    EXPECT_TRUE(start.ok()) << start.status();
    if (!start.ok()) return nullptr;
    absl::StatusOr<std::unique_ptr<SessionStore>> follower =
        SessionStore::OpenSnapshot(start->path, AsFollower(options));
    EXPECT_TRUE(follower.ok()) << follower.status();
    if (!follower.ok()) return nullptr;
    absl::StatusOr<uint64_t> next = leader.ReadChanges(
        start->lsn,
        [&](const Change& change) { return (*follower)->ApplyChange(change); });
    EXPECT_TRUE(next.ok()) << next.status();
    return next.ok() ? *std::move(follower) : nullptr;
  }

  std::vector<std::string> FilesStartingWith(const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  ManualClock clock_{kT0};
  std::string dir_;
};

// A store that did everything durably, and a twin in memory that did the
// same: after reopening, the durable one must hold what the twin holds.
TEST_F(DurableStoreTest, EveryKindOfChangeComesBackFromTheJournal) {
  auto store = MustOpen(Options());
  StoreOptions twin_options = Options();
  twin_options.data_dir.clear();
  auto twin = MustOpen(twin_options);
  ASSERT_NE(store, nullptr);
  ASSERT_NE(twin, nullptr);
  // Each change, on both.
  auto both = [&](auto change) {
    change(*store);
    change(*twin);
  };
  Sid ks, gone;
  both([&](SessionStore& s) { ks = MustCreateService(s, "rides", 300); });
  both([&](SessionStore& s) { gone = MustCreateService(s, "old"); });
  for (int i = 0; i < 12; ++i) {
    clock_.Advance(absl::Milliseconds(7));
    CreateSessionParams params;
    if (i % 3 == 0) params.unique_name = "ride-" + std::to_string(i);
    if (i % 4 == 1) params.ttl = 60;
    both([&](SessionStore& s) { MustCreate(s, ks, params); });
  }
  for (int i = 0; i < 5; ++i) {
    both([&](SessionStore& s) { MustCreate(s, gone); });
  }
  // Whatever the twin answered, the store answered too (same seed).
  std::vector<Session> listed = testing_util::AllSessions(*twin, ks);
  ASSERT_EQ(listed.size(), 12u);
  clock_.Advance(absl::Seconds(1));
  both([&](SessionStore& s) {
    UpdateSessionParams update;
    update.ttl = 900;
    ASSERT_TRUE(s.UpdateSession(ks, listed[0].sid, update).ok());
    ASSERT_TRUE(s.RecordInteraction(ks, listed[1].sid).ok());
    ASSERT_TRUE(s.CloseSession(ks, listed[2].sid, "done by host").ok());
    ASSERT_TRUE(s.FailSession(ks, listed[3].sid, "carrier error").ok());
    ASSERT_TRUE(s.DeleteSession(ks, listed[4].sid).ok());
    UpdateSessionParams close;
    close.status = SessionStatus::kClosed;
    ASSERT_TRUE(s.UpdateSession(ks, listed[5].sid, close).ok());
    UpdateServiceParams service;
    service.default_ttl = 42;
    service.unique_name = "rides-renamed";
    ASSERT_TRUE(s.UpdateService(ks, service).ok());
    ASSERT_TRUE(s.DeleteService(gone).ok());
  });
  Reopen(store);
  EXPECT_EQ(ExpectSameContent(*twin, *store), 11);
  EXPECT_TRUE(IsProxyError(store->FetchService(gone),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  // And once more, from a store that was itself recovered.
  Reopen(store);
  EXPECT_EQ(ExpectSameContent(*twin, *store), 11);
}

TEST_F(DurableStoreTest, ACheckpointAndTheJournalAfterItComeBackTogether) {
  auto store = MustOpen(Options());
  const Sid ks = MustCreateService(*store, "main");
  std::vector<Sid> before;
  for (int i = 0; i < 300; ++i) before.push_back(MustCreate(*store, ks).sid);
  ASSERT_TRUE(store->Checkpoint().ok());
  EXPECT_EQ(FilesStartingWith("checkpoint-").size(), 1u);
  // After it: a delete, an interaction, new Sessions.
  ASSERT_TRUE(store->DeleteSession(ks, before[10]).ok());
  clock_.Advance(absl::Seconds(3));
  ASSERT_TRUE(store->RecordInteraction(ks, before[20]).ok());
  for (int i = 0; i < 50; ++i) MustCreate(*store, ks);
  const std::vector<Session> want = testing_util::AllSessions(*store, ks);
  Reopen(store);
  const std::vector<Session> got = testing_util::AllSessions(*store, ks);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_TRUE(SameSession(got[i], want[i])) << i;
  }
  // A second checkpoint makes the first and the journal before it go.
  ASSERT_TRUE(store->Checkpoint().ok());
  EXPECT_EQ(FilesStartingWith("checkpoint-").size(), 1u);
  Reopen(store);
  EXPECT_EQ(testing_util::AllSessions(*store, ks).size(), want.size());
  EXPECT_TRUE(store->CheckInvariants().ok());
}

// A checkpoint is loaded a shard at a time, so damage in its second shard's
// Sessions is met after the first shard's are in place: Open still fails
// with DataLoss, and no store exists to show the half it read.
TEST_F(DurableStoreTest, ACheckpointDamagedInItsSecondShardRefusesOpen) {
  StoreOptions options = Options();
  options.shards = 2;
  options.sync = SyncPolicy::kOs;  // 10,000 creates, no sync each.
  {
    auto store = MustOpen(options);
    const Sid ks = MustCreateService(*store, "main");
    for (int i = 0; i < 10000; ++i) MustCreate(*store, ks);
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  const std::vector<std::string> checkpoints = FilesStartingWith("checkpoint-");
  ASSERT_EQ(checkpoints.size(), 1u);
  const std::string path = dir_ + "/" + checkpoints[0];
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  file.seekg(0, std::ios::end);
  // The last Sessions in the file are the second shard's.
  const std::streamoff at = static_cast<std::streamoff>(file.tellg()) - 40;
  char byte = 0;
  file.seekg(at);
  file.get(byte);
  file.seekp(at);
  file.put(static_cast<char>(byte ^ 0x20));
  file.close();
  absl::StatusOr<std::unique_ptr<SessionStore>> store =
      SessionStore::Open(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), path))
      << store.status();
  EXPECT_TRUE(absl::StrContains(store.status().message(), "checksum mismatch"))
      << store.status();
}

TEST_F(DurableStoreTest,
       ExpiriesThatFellDueWhileClosedAreAppliedAtTheirInstant) {
  auto store = MustOpen(Options());
  const Sid ks = MustCreateService(*store, "main");
  CreateSessionParams params;
  params.ttl = 60;
  params.unique_name = "short";
  const Session s = MustCreate(*store, ks, params);
  store.reset();
  clock_.Advance(absl::Minutes(5));
  store = MustOpen(Options());
  absl::StatusOr<Session> got = store->FetchSession(ks, s.sid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, SessionStatus::kClosed);
  EXPECT_EQ(got->closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(got->date_ended, kT0 + absl::Seconds(60));
  EXPECT_EQ(store->Stats().closed, 1);
}

// An interaction is journaled in its compact record. One made after a
// checkpoint keeps alive a Session that the checkpoint alone would have let
// expire and, with retention 0, be freed: recovery settles nothing before
// the journal's replay is done.
TEST_F(DurableStoreTest, AnInteractionAfterACheckpointKeepsItsSessionAlive) {
  StoreOptions options = Options();
  options.closed_retention = absl::ZeroDuration();
  auto store = MustOpen(options);
  const Sid ks = MustCreateService(*store, "main");
  CreateSessionParams params;
  params.ttl = 60;
  params.unique_name = "kept-alive-by-a-call";
  const Session s = MustCreate(*store, ks, params);
  ASSERT_TRUE(store->Checkpoint().ok());
  clock_.Advance(absl::Seconds(50));
  ASSERT_TRUE(store->RecordInteraction(ks, s.sid).ok());
  absl::StatusOr<SessionStore::CheckpointPosition> checkpoint =
      store->LatestCheckpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  std::vector<std::pair<uint8_t, size_t>> changes;
  ASSERT_TRUE(store
                  ->ReadChanges(checkpoint->lsn,
                                [&](const Change& c) {
                                  changes.emplace_back(c.type,
                                                       c.payload.size());
                                  return absl::OkStatus();
                                })
                  .ok());
  // The Session's SID (16 bytes) and the time (8).
  EXPECT_EQ(changes, (std::vector<std::pair<uint8_t, size_t>>{{5, 24}}));

  store.reset();
  clock_.Advance(absl::Seconds(50));  // Due at 60 without the interaction.
  store = MustOpen(options);
  absl::StatusOr<Session> got = store->FetchSession(ks, s.sid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, SessionStatus::kInProgress);
  EXPECT_EQ(got->date_last_interaction, kT0 + absl::Seconds(50));
  EXPECT_EQ(got->date_updated, kT0 + absl::Seconds(50));
  // And it expires 60 s after the interaction, not after its creation.
  clock_.Advance(absl::Seconds(11));
  store->Advance();
  EXPECT_EQ(store->FetchSession(ks, s.sid).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

TEST_F(DurableStoreTest, ANamePurgedAndTakenAgainComesBackWithItsNewHolder) {
  StoreOptions options = Options();
  auto store = MustOpen(options);
  const Sid ks = MustCreateService(*store, "main");
  CreateSessionParams params;
  params.ttl = 10;
  params.unique_name = "reused";
  const Session first = MustCreate(*store, ks, params);
  // Closed at 10 s, purged 90 days later; the name is free again.
  clock_.Advance(absl::Hours(24 * 91));
  store->Advance();
  params.ttl = 0;
  const Session second = MustCreate(*store, ks, params);
  Reopen(store);
  absl::StatusOr<Session> by_name = store->FetchSession(ks, "reused");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->sid, second.sid);
  EXPECT_TRUE(absl::IsNotFound(store->FetchSession(ks, first.sid).status()));
  EXPECT_TRUE(store->CheckInvariants().ok());
}

TEST_F(DurableStoreTest, NoSidIsMintedTwiceAcrossReopenings) {
  for (bool seeded : {true, false}) {
    SCOPED_TRACE(seeded);
    std::filesystem::remove_all(dir_);
    StoreOptions options = Options();
    if (!seeded) options.seed.reset();
    std::vector<Sid> seen;
    for (int round = 0; round < 4; ++round) {
      auto store = MustOpen(options);
      ASSERT_NE(store, nullptr);
      Sid ks;
      if (round == 0) {
        ks = MustCreateService(*store, "main");
      } else {
        absl::StatusOr<ServicePage> page = store->ListServices(ListParams());
        ASSERT_TRUE(page.ok());
        ks = page->services.at(0).sid;
      }
      for (int i = 0; i < 20; ++i) seen.push_back(MustCreate(*store, ks).sid);
      // Half of them deleted: a SID of a deleted Session must not return.
      for (size_t i = seen.size() - 20; i < seen.size(); i += 2) {
        ASSERT_TRUE(store->DeleteSession(ks, seen[i]).ok());
      }
      if (round == 2) {
        ASSERT_TRUE(store->Checkpoint().ok());
      }
    }
    std::vector<Sid> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  }
}

TEST_F(DurableStoreTest, ADirectoryIsOpenedByOneStoreAtATime) {
  auto store = MustOpen(Options());
  absl::StatusOr<std::unique_ptr<SessionStore>> second =
      SessionStore::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
      << second.status();
  store.reset();
  EXPECT_TRUE(SessionStore::Open(Options()).ok());
}

// Recovery never refuses a store's own Services for the limit: reopened
// with a lower max_services, from the journal and from a checkpoint, every
// Service comes back, and creates wait until deletes make room.
TEST_F(DurableStoreTest, RecoveryLoadsEveryServicePastTheServiceLimit) {
  auto store = MustOpen(Options());
  std::vector<Sid> services;
  for (int i = 0; i < 4; ++i) {
    services.push_back(MustCreateService(*store, absl::StrCat("svc-", i)));
  }
  StoreOptions limited = Options();
  limited.max_services = 2;
  for (bool checkpoint : {false, true}) {
    SCOPED_TRACE(checkpoint ? "from a checkpoint" : "from the journal");
    if (checkpoint) {
      ASSERT_TRUE(store->Checkpoint().ok());
    }
    Reopen(store, limited);
    EXPECT_EQ(store->Stats().services, 4);
    for (const Sid& ks : services) EXPECT_TRUE(store->FetchService(ks).ok());
    CreateServiceParams more;
    more.unique_name = "one-more";
    EXPECT_EQ(store->CreateService(more).status().code(),
              absl::StatusCode::kResourceExhausted);
  }
  ASSERT_TRUE(store->DeleteService(services[0]).ok());
  ASSERT_TRUE(store->DeleteService(services[1]).ok());
  ASSERT_TRUE(store->DeleteService(services[2]).ok());
  CreateServiceParams room;
  room.unique_name = "room-at-last";
  EXPECT_TRUE(store->CreateService(room).ok());
}

TEST_F(DurableStoreTest, ADirectoryKeepsItsSeedAndAccount) {
  MustOpen(Options()).reset();
  StoreOptions other_seed = Options();
  other_seed.seed = kSeed + 1;
  EXPECT_EQ(SessionStore::Open(other_seed).status().code(),
            absl::StatusCode::kFailedPrecondition);
  StoreOptions other_account = Options();
  other_account.account_sid = "AC00000000000000000000000000000001";
  EXPECT_EQ(SessionStore::Open(other_account).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Unset, both come from the directory.
  StoreOptions unset = Options();
  unset.seed.reset();
  unset.account_sid.clear();
  auto store = MustOpen(unset);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->account_sid().ToString(), kAccountSid);
}

TEST_F(DurableStoreTest,
       LimitsNeverRefuseRecoveryButRefuseCreatesUntilThereIsRoom) {
  StoreOptions options = Options();
  auto store = MustOpen(options);
  const Sid ks = MustCreateService(*store, "main");
  std::vector<Sid> sids;
  for (int i = 0; i < 10; ++i) sids.push_back(MustCreate(*store, ks).sid);
  store.reset();
  // Opened again with a lower limit: every Session comes back.
  options.max_sessions = 5;
  absl::StatusOr<std::unique_ptr<SessionStore>> reopened =
      SessionStore::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Stats().sessions, 10);
  EXPECT_TRUE(IsProxyError(
      (*reopened)->CreateSession(ks, CreateSessionParams()),
      absl::StatusCode::kResourceExhausted, kErrorTooManyRequests));
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE((*reopened)->DeleteSession(ks, sids[i]).ok());
  }
  EXPECT_TRUE((*reopened)->CreateSession(ks, CreateSessionParams()).ok());
}

TEST_F(DurableStoreTest, CheckpointNeedsADataDirectory) {
  StoreOptions options = Options();
  options.data_dir.clear();
  auto store = MustOpen(options);
  EXPECT_EQ(store->Checkpoint().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->FlushJournal().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Under kInterval and kOs the journal writes its buffers every few
// milliseconds, and the feed reads only what it has written: after
// FlushJournal, it holds every change whose call returned before it.
TEST_F(DurableStoreTest, AfterFlushJournalTheFeedHoldsEveryReturnedChange) {
  for (SyncPolicy sync : {SyncPolicy::kInterval, SyncPolicy::kOs}) {
    StoreOptions options = Options();
    options.sync = sync;
    auto store = MustOpen(options);
    const Sid ks = MustCreateService(*store, "main");
    for (int i = 0; i < 1000; ++i) MustCreate(*store, ks);
    ASSERT_TRUE(store->FlushJournal().ok());
    int changes = 0;
    absl::StatusOr<uint64_t> next = store->ReadChanges(1, [&](const Change&) {
      ++changes;
      return absl::OkStatus();
    });
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(changes, 1001);
    EXPECT_EQ(*next, 1002u);
    store.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
}

// The change feed: a follower in memory that applies a durable store's
// changes reads exactly what the store reads, SIDs included.
TEST_F(DurableStoreTest, AFollowerReadsWhatItsLeaderReads) {
  auto leader = MustOpen(Options());
  auto follower = MustOpen(AsFollower(Options()));
  const Sid ks = MustCreateService(*leader, "main", 120);
  std::vector<Sid> sids;
  for (int i = 0; i < 40; ++i) {
    CreateSessionParams params;
    if (i % 3 == 0) params.unique_name = "f" + std::to_string(i);
    sids.push_back(MustCreate(*leader, ks, params).sid);
  }
  ASSERT_TRUE(leader->DeleteSession(ks, sids[1]).ok());
  ASSERT_TRUE(leader->CloseSession(ks, sids[2], "done").ok());
  auto apply_all = [&](uint64_t from) {
    absl::StatusOr<uint64_t> next = leader->ReadChanges(
        from,
        [&](const Change& change) { return follower->ApplyChange(change); });
    EXPECT_TRUE(next.ok()) << next.status();
    return next.ok() ? *next : from;
  };
  const uint64_t next = apply_all(1);
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 39);
  // More changes, read from where the feed stopped.
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(leader->RecordInteraction(ks, sids[3]).ok());
  UpdateServiceParams update;
  update.default_ttl = 7;
  ASSERT_TRUE(leader->UpdateService(ks, update).ok());
  MustCreate(*leader, ks);
  const uint64_t after = apply_all(next);
  EXPECT_EQ(after, next + 3);
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 40);
  // Every change again: applying one twice changes nothing.
  apply_all(1);
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 40);
  // And the clock does the rest on both: the default TTL closes them alike.
  clock_.Advance(absl::Minutes(5));
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 40);
}

// A follower's listener hears a Session its feed deletes by the time
// ApplyChange returns, as after any call of a single-threaded host, and
// nothing of the changes it applies otherwise (store.h, `follower`).
TEST_F(DurableStoreTest, AFollowersListenerHearsAnAppliedDeleteAtOnce) {
  auto leader = MustOpen(Options());
  auto follower = MustOpen(AsFollower(Options()));
  class Log : public SessionListener {
   public:
    void OnEvent(const SessionEvent& e) noexcept override {
      std::lock_guard<std::mutex> l(mu_);
      heard_.push_back(std::string(EventTypeName(e.type)) + " " +
                       e.sid.ToString());
    }
    std::vector<std::string> heard() {
      std::lock_guard<std::mutex> l(mu_);
      return heard_;
    }

   private:
    std::mutex mu_;
    std::vector<std::string> heard_;
  };
  auto log = std::make_shared<Log>();
  follower->AddListener(log);
  const Sid ks = MustCreateService(*leader, "main");
  const Sid kc = MustCreate(*leader, ks).sid;
  ASSERT_TRUE(leader->RecordInteraction(ks, kc).ok());
  ASSERT_TRUE(leader->DeleteSession(ks, kc).ok());
  std::vector<std::vector<std::string>> heard_after;
  absl::StatusOr<uint64_t> next =
      leader->ReadChanges(1, [&](const Change& change) {
        absl::Status s = follower->ApplyChange(change);
        heard_after.push_back(log->heard());
        return s;
      });
  ASSERT_TRUE(next.ok()) << next.status();
  const std::vector<std::string> none;
  const std::vector<std::string> deleted = {"deleted " + kc.ToString()};
  EXPECT_EQ(heard_after,
            std::vector<std::vector<std::string>>({none, none, none, deleted}));
}

TEST_F(DurableStoreTest, AFollowerStartsFromTheLatestCheckpoint) {
  auto leader = MustOpen(Options());
  const Sid ks = MustCreateService(*leader, "main");
  EXPECT_EQ(leader->LatestCheckpoint().status().code(),
            absl::StatusCode::kNotFound);
  std::vector<Sid> sids;
  for (int i = 0; i < 50; ++i) sids.push_back(MustCreate(*leader, ks).sid);
  ASSERT_TRUE(leader->Checkpoint().ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(leader->DeleteSession(ks, sids[i]).ok());
  }
  MustCreate(*leader, ks);
  // The changes before the checkpoint are gone from the feed.
  EXPECT_EQ(
      leader->ReadChanges(1, [](const Change&) { return absl::OkStatus(); })
          .status()
          .code(),
      absl::StatusCode::kOutOfRange);
  std::unique_ptr<SessionStore> follower =
      FollowerFromLatestCheckpoint(*leader, Options());
  ASSERT_NE(follower, nullptr);
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 41);
}

// As recovery: a follower opened from a checkpoint settles nothing before
// the feed's changes reach it, so an interaction after the checkpoint
// keeps its Session, which the checkpoint alone would have let expire and,
// with retention 0, be freed.
TEST_F(DurableStoreTest, AFollowersFeedKeepsAliveWhatItsCheckpointLetExpire) {
  StoreOptions options = Options();
  options.closed_retention = absl::ZeroDuration();
  auto leader = MustOpen(options);
  const Sid ks = MustCreateService(*leader, "main");
  CreateSessionParams params;
  params.ttl = 60;
  const Session s = MustCreate(*leader, ks, params);
  ASSERT_TRUE(leader->Checkpoint().ok());
  clock_.Advance(absl::Seconds(50));
  ASSERT_TRUE(leader->RecordInteraction(ks, s.sid).ok());
  clock_.Advance(absl::Seconds(50));  // Due at 60 without the interaction.

  std::unique_ptr<SessionStore> follower =
      FollowerFromLatestCheckpoint(*leader, options);
  ASSERT_NE(follower, nullptr);
  absl::StatusOr<Session> got = follower->FetchSession(ks, s.sid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, SessionStatus::kInProgress);
  EXPECT_EQ(ExpectSameContent(*leader, *follower), 1);
}

TEST_F(DurableStoreTest, AFollowerRefusesChangesOfItsOwn) {
  const StoreOptions options = AsFollower(Options());
  auto follower = MustOpen(options);
  CreateServiceParams params;
  params.unique_name = "mine";
  EXPECT_EQ(follower->CreateService(params).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // And only a follower applies changes; only a durable store has a feed.
  StoreOptions plain = Options();
  plain.data_dir.clear();
  auto store = MustOpen(plain);
  EXPECT_EQ(store->ApplyChange(Change{}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(
      store->ReadChanges(1, [](const Change&) { return absl::OkStatus(); })
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
  // A damaged change is refused, not applied.
  EXPECT_EQ(follower->ApplyChange(Change{1, 3, "short"}).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(DurableStoreTest, AFullDiskRefusesChangesAndLosesNothingAcknowledged) {
  FailingFiles files;
  absl::StatusOr<std::unique_ptr<SessionStore>> opened =
      internal::OpenDurableStore(Options(), &files);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<SessionStore> store = *std::move(opened);
  const Sid ks = MustCreateService(*store, "main");
  std::vector<Sid> acknowledged;
  for (int i = 0; i < 5; ++i)
    acknowledged.push_back(MustCreate(*store, ks).sid);
  files.failing = true;
  absl::StatusOr<Session> refused = store->CreateSession(ks, {});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted)
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "No space"))
      << refused.status();
  // From then on every change is refused before it is applied, even once
  // the disk has room again, until the store is opened again; reads go on.
  files.failing = false;
  const int64_t held = store->Stats().sessions;
  EXPECT_EQ(store->CreateSession(ks, {}).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->DeleteSession(ks, acknowledged[0]).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->Stats().sessions, held);
  EXPECT_TRUE(store->FetchSession(ks, acknowledged[0]).ok());
  EXPECT_TRUE(store->CheckInvariants().ok());
  store.reset();
  store = MustOpen(Options());
  for (const Sid& sid : acknowledged) {
    EXPECT_TRUE(store->FetchSession(ks, sid).ok()) << sid;
  }
  EXPECT_LE(store->Stats().sessions, 6);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

// The real file system, but the next segment the journal creates is held
// until Release(), and then keeps its header and only the first record of
// the first write after it: the disk filled up there (ENOSPC).
class HeldSegmentFiles : public HeldCreateFiles {
 protected:
  absl::StatusOr<std::unique_ptr<internal::AppendFile>> CreateHeld(
      const std::string& path) override {
    absl::StatusOr<std::unique_ptr<internal::AppendFile>> file =
        HeldCreateFiles::CreateHeld(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<internal::AppendFile>(
        new FirstRecordOnly(*std::move(file), path));
  }

 private:
  // The segment header passes; of the next write, the first record does.
  class FirstRecordOnly : public internal::AppendFile {
   public:
    FirstRecordOnly(std::unique_ptr<internal::AppendFile> file,
                    std::string path)
        : file_(std::move(file)), path_(std::move(path)) {}
    absl::Status Append(std::string_view bytes) override {
      if (appends_++ == 0) return file_->Append(bytes);
      if (appends_ == 2) {
        std::optional<internal::RecordHeader> first =
            internal::PeekRecordHeader(bytes);
        if (first.has_value()) {
          const size_t n = internal::kRecordHeaderBytes + first->payload_bytes;
          if (absl::Status s = file_->Append(bytes.substr(0, n)); !s.ok()) {
            return s;
          }
        }
      }
      return absl::ErrnoToStatus(ENOSPC, "write " + path_);
    }
    absl::Status Sync() override { return file_->Sync(); }
    absl::Status Close() override { return file_->Close(); }

   private:
    std::unique_ptr<internal::AppendFile> file_;
    const std::string path_;
    int appends_ = 0;
  };
};

// A checkpoint copies the store while changes go on, so it may hold changes
// whose records are still in the journal's buffer. Under kOs (and kInterval)
// a crash may lose those records; a checkpoint that took its name before
// they reached the file would bring back a later change without an earlier
// one: x's second update lost (replay sets x back to its first), y's update,
// made after it, kept. Here the disk fills after the first of the three
// records, as a kill would stop the writer, and the store must come back as
// after a prefix of the calls.
TEST_F(DurableStoreTest, ACheckpointHoldsNoChangeItsJournalDidNotKeep) {
  HeldSegmentFiles files;
  StoreOptions options = Options();
  options.sync = SyncPolicy::kOs;
  absl::StatusOr<std::unique_ptr<SessionStore>> opened =
      internal::OpenDurableStore(options, &files);
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::unique_ptr<SessionStore> store = *std::move(opened);
  const Sid ks = MustCreateService(*store, "main");
  const Sid x = MustCreate(*store, ks).sid;
  const Sid y = MustCreate(*store, ks).sid;

  // The checkpoint's roll fixes its position, then waits to create the
  // segment that starts there: the updates below come after the position,
  // and before the copy, which holds all three.
  files.HoldNextCreate();
  absl::Status checkpointed;
  std::thread checkpoint([&] { checkpointed = store->Checkpoint(); });
  files.WaitUntilHeld();
  auto update = [&](const Sid& sid, int64_t ttl) {
    UpdateSessionParams params;
    params.ttl = ttl;
    absl::StatusOr<Session> s = store->UpdateSession(ks, sid, params);
    EXPECT_TRUE(s.ok()) << s.status();  // kOs acknowledges before writing.
  };
  update(x, 600);
  update(x, 1200);
  update(y, 1800);
  files.Release();
  checkpoint.join();
  // The journal kept x's first update only; a checkpoint with the other
  // two would be a state no prefix of the calls leads to.
  EXPECT_FALSE(checkpointed.ok());
  store.reset();

  store = MustOpen(options);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<Session> got_x = store->FetchSession(ks, x);
  absl::StatusOr<Session> got_y = store->FetchSession(ks, y);
  ASSERT_TRUE(got_x.ok() && got_y.ok()) << got_x.status() << got_y.status();
  EXPECT_EQ(got_x->ttl, 600);
  EXPECT_EQ(got_y->ttl, 0);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

// Model-based: random changes, clock moves, checkpoints and reopenings on a
// durable store and on a twin in memory given the same calls; after each
// reopening and at the end the two hold the same, field by field. A
// reopened store mints SIDs under a new key (Durability::MintSalt), so
// Services and Sessions are paired by the call that created them and
// compared under the twin's SIDs.
class DurableModelTest : public DurableStoreTest,
                         public ::testing::WithParamInterface<int> {
 protected:
  void ExpectSame(SessionStore& twin, SessionStore& store,
                  const std::map<Sid, Sid>& twin_of) {
    const std::vector<Service> want_services = testing_util::AllServices(twin);
    std::vector<Service> services = testing_util::AllServices(store);
    ASSERT_EQ(services.size(), want_services.size());
    for (size_t i = 0; i < services.size(); ++i) {
      const Sid mine = services[i].sid;
      auto pair = twin_of.find(mine);
      ASSERT_NE(pair, twin_of.end()) << mine;
      services[i].sid = pair->second;
      EXPECT_EQ(services[i], want_services[i]);
      const std::vector<Session> want =
          testing_util::AllSessions(twin, want_services[i].sid);
      std::vector<Session> got = testing_util::AllSessions(store, mine);
      ASSERT_EQ(got.size(), want.size()) << want_services[i].unique_name;
      for (size_t i = 0; i < want.size(); ++i) {
        auto pair = twin_of.find(got[i].sid);
        ASSERT_NE(pair, twin_of.end()) << got[i].sid;
        got[i].sid = pair->second;
        got[i].service_sid = want[i].service_sid;
        EXPECT_TRUE(SameSession(got[i], want[i])) << "at position " << i;
      }
    }
    // Counted after the lists, which settle every Session they pass: a
    // Session due between two ticks is settled by a read, not yet by
    // Advance, and recovery settles it at once.
    testing_util::ExpectSameCounts(twin, store);
  }
};

TEST_P(DurableModelTest, RecoveredStoreEqualsOneThatNeverStopped) {
  std::mt19937_64 rng(static_cast<uint64_t>(GetParam()));
  StoreOptions options = Options();
  options.sync = SyncPolicy::kOs;
  options.closed_retention = absl::Seconds(30);
  // Small, so that automatic checkpoints happen too.
  options.checkpoint_min_bytes = 4096;
  auto store = MustOpen(options);
  StoreOptions twin_options = options;
  twin_options.data_dir.clear();
  auto twin = MustOpen(twin_options);
  ASSERT_NE(store, nullptr);
  // Each Service or Session: the store's SID, the twin's.
  struct Pair {
    Sid ks;  // Sessions: the Service's in the store; in the twin, twin_of.
    Sid sid;
    Sid twin;
  };
  std::vector<Pair> services;
  std::vector<Pair> sessions;
  std::map<Sid, Sid> twin_of;
  auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
  auto same_outcome = [](const absl::Status& a, const absl::Status& b) {
    EXPECT_EQ(a.code(), b.code()) << a << " / " << b;
  };
  for (int step = 0; step < 400; ++step) {
    const int op = static_cast<int>(rng() % 100);
    if (services.empty() || op < 4) {
      CreateServiceParams params;
      params.unique_name = "svc-" + std::to_string(step);
      params.default_ttl = static_cast<int64_t>(rng() % 3) * 20;
      absl::StatusOr<Service> a = store->CreateService(params);
      absl::StatusOr<Service> b = twin->CreateService(params);
      ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
      services.push_back(Pair{Sid(), a->sid, b->sid});
      twin_of[a->sid] = b->sid;
    } else if (op < 40 || sessions.empty()) {
      const Pair& svc = services[pick(services.size())];
      CreateSessionParams params;
      if (rng() % 2 == 0) params.unique_name = "n" + std::to_string(rng() % 40);
      if (rng() % 2 == 0) params.ttl = static_cast<int64_t>(rng() % 60);
      absl::StatusOr<Session> a = store->CreateSession(svc.sid, params);
      absl::StatusOr<Session> b = twin->CreateSession(svc.twin, params);
      same_outcome(a.status(), b.status());
      if (a.ok() && b.ok()) {
        Session renamed = *a;
        renamed.sid = b->sid;
        renamed.service_sid = b->service_sid;
        ASSERT_TRUE(SameSession(renamed, *b));
        sessions.push_back(Pair{svc.sid, a->sid, b->sid});
        twin_of[a->sid] = b->sid;
      }
    } else if (op < 55) {
      const Pair& p = sessions[pick(sessions.size())];
      same_outcome(store->RecordInteraction(p.ks, p.sid),
                   twin->RecordInteraction(twin_of[p.ks], p.twin));
    } else if (op < 65) {
      const Pair& p = sessions[pick(sessions.size())];
      UpdateSessionParams params;
      if (rng() % 2 == 0) params.ttl = static_cast<int64_t>(rng() % 90);
      if (rng() % 4 == 0) params.status = SessionStatus::kClosed;
      if (rng() % 5 == 0) params.status = SessionStatus::kInProgress;
      absl::StatusOr<Session> a = store->UpdateSession(p.ks, p.sid, params);
      absl::StatusOr<Session> b =
          twin->UpdateSession(twin_of[p.ks], p.twin, params);
      same_outcome(a.status(), b.status());
    } else if (op < 72) {
      const Pair& p = sessions[pick(sessions.size())];
      same_outcome(store->CloseSession(p.ks, p.sid, "host"),
                   twin->CloseSession(twin_of[p.ks], p.twin, "host"));
    } else if (op < 80) {
      const Pair& p = sessions[pick(sessions.size())];
      same_outcome(store->DeleteSession(p.ks, p.sid),
                   twin->DeleteSession(twin_of[p.ks], p.twin));
    } else if (op < 82) {
      const Pair& svc = services[pick(services.size())];
      UpdateServiceParams params;
      params.default_ttl = static_cast<int64_t>(rng() % 4) * 15;
      same_outcome(store->UpdateService(svc.sid, params).status(),
                   twin->UpdateService(svc.twin, params).status());
    } else if (op < 83) {
      const Pair& svc = services[pick(services.size())];
      same_outcome(store->DeleteService(svc.sid),
                   twin->DeleteService(svc.twin));
    } else if (op < 93) {
      clock_.Advance(absl::Milliseconds(static_cast<int64_t>(rng() % 20000)));
      if (rng() % 2 == 0) {
        store->Advance();
        twin->Advance();
      }
    } else if (op < 96) {
      ASSERT_TRUE(store->Checkpoint().ok());
    } else {
      Reopen(store, options);
      twin->Advance();
      store->Advance();
      ExpectSame(*twin, *store, twin_of);
      if (HasFailure()) FAIL() << "seed " << GetParam() << " step " << step;
    }
  }
  Reopen(store, options);
  twin->Advance();
  store->Advance();
  ExpectSame(*twin, *store, twin_of);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DurableModelTest, ::testing::Range(0, 50));

}  // namespace
}  // namespace sessionwheel
