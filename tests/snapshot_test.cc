// Snapshots: WriteSnapshot and OpenSnapshot round trips (field by field, list
// order, any shard count), expiry after a restore, limits and SIDs after a
// restore, the pinned bytes of a fixed store, and the refusal of every
// damaged file: each truncation, each bit flip, a foreign file, a newer
// version, inconsistent content (by the name rules the decoder is given).
// The file itself: a crash before the rename and the removal of what it
// left, links, names of NAME_MAX bytes, anything but a regular file.

#include "engine/persist/snapshot.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "engine/core/shard.h"
#include "engine/persist/crc32c.h"
#include "engine/persist/file_io.h"
#include "engine/util/utf8.h"
#include "gtest/gtest.h"
#include "sessionwheel/internal/mutex.h"
#include "tests/store_compare.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::AllServices;
using testing_util::AllSessions;
using testing_util::ExpectSameContent;
using testing_util::ExpectSameServicesAndCounts;
using testing_util::ExpectSameSession;
using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::SameSession;
using testing_util::StoreTest;

// Sessions the round trip creates; a thirty-first are deleted again, so
// over 100,000 are held when it writes (a tenth of that under TSan).
#ifdef SESSIONWHEEL_TSAN
constexpr int kManySessions = 10340;
#else
constexpr int kManySessions = 103400;
#endif

std::string ReadBytes(const std::string& path) {
  absl::StatusOr<std::string> bytes = internal::ReadFile(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// What the tests read of an event, kept past OnEvent (whose views are not).
struct Event {
  EventType type = EventType::kCreated;
  Sid sid;
  std::string closed_reason;
  std::optional<absl::Time> date_ended;
};

// A listener that keeps every event.
class Recorder : public SessionListener {
 public:
  void OnEvent(const SessionEvent& event) noexcept override {
    internal::MutexLock l(&mu_);
    events_.push_back({event.type, event.sid, std::string(event.closed_reason),
                       event.date_ended});
  }
  std::vector<Event> Take() {
    internal::MutexLock l(&mu_);
    return std::move(events_);
  }

 private:
  internal::Mutex mu_;
  std::vector<Event> events_ ABSL_GUARDED_BY(mu_);
};

// The fixture's store on kT0, plus a fresh directory for snapshot files.
class SnapshotTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    std::string dir = ::testing::TempDir() + "snapshot_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    dir_ = dir;
    path_ = dir_ + "/store.snap";
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Options for a restored store: its own clock, the fixture's seed.
  StoreOptions RestoreOptions(ManualClock* clock) {
    StoreOptions options;
    options.clock = clock;
    options.seed = kSeed;
    return options;
  }

  // Writes the fixture's store to path_; a failure fails the test.
  void MustWrite() {
    absl::Status written = store_->WriteSnapshot(path_);
    ASSERT_TRUE(written.ok()) << written;
  }

  // Opens path_ with `options`; a failure fails the test.
  std::unique_ptr<SessionStore> MustOpen(const StoreOptions& options) {
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::OpenSnapshot(path_, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // A small store touching every field the format holds: names, ttl,
  // date_expiry, each mode, interactions, an API close, a host close with a
  // non-ASCII reason, a failure, an unknown status, Participants, two
  // Services.
  void FillSmall() {
    const Sid other = NewService("other", 300);
    CreateSessionParams named;
    named.unique_name = std::string("ride-") + testing_util::kTwoByteChar;
    named.ttl = 60;
    named.participants = {{"+15550001", "Alice", "+15559999"},
                          {"+15550002", "", ""}};
    const Session a = Create(named);
    CreateSessionParams dated;
    dated.date_expiry = kT0 + absl::Minutes(30);
    dated.mode = SessionMode::kMessageOnly;
    Create(other, dated);
    At(absl::Milliseconds(1500));
    ASSERT_TRUE(store_->RecordInteraction(ks_, a.sid).ok());
    const Session c = Create(other);
    ASSERT_TRUE(store_->CloseSession(other, c.sid, "driver left").ok());
    CreateSessionParams unknown;
    unknown.status = SessionStatus::kUnknown;
    unknown.mode = SessionMode::kVoiceOnly;
    const Session d = Create(unknown);
    ASSERT_TRUE(store_->FailSession(ks_, d.sid, "carrier \xc3\xa9rror").ok());
    CreateSessionParams closed;
    closed.status = SessionStatus::kClosed;
    closed.unique_name = "closed-at-create";
    Create(closed);
  }

  // The names in dir_ other than path_'s, sorted.
  std::vector<std::string> OtherFiles() {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path() != path_) names.push_back(entry.path().filename());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // How the name of a temporary file of path_ by the process `pid` starts:
  // all but its per-process count (16 hex digits) and ".tmp".
  static std::string TemporaryPrefix(pid_t pid) {
    const std::string name =
        internal::TemporaryPath("store.snap", static_cast<uint64_t>(pid), 0);
    return name.substr(0, name.size() - 16 - 4);
  }

  std::string dir_;
  std::string path_;
};

// A Session record as version 1 wrote it: no history flag, so no
// Participant dates and no Interactions after the Participants.
std::string VersionOneSession(const internal::Sid128& sid,
                              const internal::Sid128& service,
                              int64_t created_ms) {
  std::string out;
  auto u64 = [&out](uint64_t v) {
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  };
  auto str = [&out](std::string_view text) {
    const auto n = static_cast<uint32_t>(text.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
    out.append(text);
  };
  u64(sid.hi);
  u64(sid.lo);
  u64(service.hi);
  u64(service.lo);
  u64(1);  // seq
  for (int64_t v : {created_ms, created_ms, created_ms, internal::kNullMs,
                    internal::kNullMs, internal::kNullMs, int64_t{0}}) {
    u64(static_cast<uint64_t>(v));
  }
  out.push_back(0);  // open
  out.push_back(2);  // voice-and-message
  out.push_back(0);  // no end reason
  out.push_back(0);  // flags: none
  out.push_back(1);  // one Participant
  u64(7);
  u64(8);
  str("+15550001");
  str("Alice");
  str("");
  return out;
}

TEST(SnapshotFormatTest, AVersionOneSessionRecordStillParses) {
  const internal::Sid128 sid{0x0123, 0x4567};
  const internal::Sid128 service{0x89ab, 0xcdef};
  internal::SessionImage image;
  ASSERT_TRUE(internal::ParseSessionImage(VersionOneSession(sid, service, 1000),
                                          internal::SnapshotRulesOfTheStore(),
                                          &image)
                  .ok());
  ASSERT_EQ(image.participants.size(), 1u);
  EXPECT_EQ(image.participants[0].identifier, "+15550001");
  // Dated with its Session, never deleted; no Interactions.
  EXPECT_EQ(image.participants[0].created_ms, 1000);
  EXPECT_EQ(image.participants[0].updated_ms, 1000);
  EXPECT_EQ(image.participants[0].deleted_ms, internal::kNullMs);
  EXPECT_TRUE(image.interactions.empty());
  EXPECT_EQ(image.next_interaction_seq, 0u);
  // Version 2 writes the history after the Participants.
  std::string v2;
  internal::AppendSessionImage(image, &v2);
  EXPECT_EQ(v2.size(),
            VersionOneSession(sid, service, 1000).size() + 3 * 8 + 8 + 4);
}

TEST_F(SnapshotTest, RoundTripsManySessionsFieldByField) {
  const std::vector<Sid> services = {ks_, NewService("rides", 3600),
                                     NewService("food"),
                                     NewService("parcels", 60)};
  NewService("no-sessions");
  NewService("deleted");
  std::vector<std::pair<Sid, Sid>> created;
  for (int i = 0; i < kManySessions; ++i) {
    clock_.Advance(absl::Milliseconds(1 + i % 7));
    const Sid& ks = services[static_cast<size_t>(i) % services.size()];
    CreateSessionParams p;
    if (i % 3 == 0) p.unique_name = absl::StrCat("session-", i);
    if (i % 5 == 0) p.ttl = 60 + i % 600;
    if (i % 5 == 1) p.date_expiry = clock_.Now() + absl::Seconds(30 + i % 900);
    if (i % 5 == 2) p.ttl = 0;
    if (i % 11 == 0) p.mode = SessionMode::kMessageOnly;
    if (i % 13 == 0) p.mode = SessionMode::kVoiceOnly;
    if (i % 17 == 0) p.status = SessionStatus::kUnknown;
    if (i % 19 == 0) p.status = SessionStatus::kClosed;
    if (i % 7 == 0) p.participants = {{absl::StrCat("+1555", i), "A", "+1"}};
    const Sid sid = Create(ks, p).sid;
    created.emplace_back(ks, sid);
    switch (i % 23) {
      case 1:
        (void)store_->RecordInteraction(ks, sid);
        break;
      case 2:
        (void)store_->CloseSession(ks, sid, "driver left");
        break;
      case 3:
        (void)store_->FailSession(ks, sid, "carrier error");
        break;
      case 4: {
        UpdateSessionParams close;
        close.status = SessionStatus::kClosed;
        (void)store_->UpdateSession(ks, sid, close);
        break;
      }
      default:
        break;
    }
  }
  // Expire a share by ttl and date_expiry, then re-open and delete some.
  clock_.Advance(absl::Minutes(10));
  EXPECT_GT(store_->Advance(), 0);
  for (size_t i = 0; i < created.size(); i += 29) {
    UpdateSessionParams reopen;
    reopen.status = SessionStatus::kInProgress;
    reopen.date_expiry = clock_.Now() + absl::Hours(1);
    (void)store_->UpdateSession(created[i].first, created[i].second, reopen);
  }
  for (size_t i = 5; i < created.size(); i += 31) {
    (void)store_->DeleteSession(created[i].first, created[i].second);
  }
  ASSERT_TRUE(store_->DeleteService(AllServices(*store_)[0].sid).ok());
  const StoreStats before = store_->Stats();
  ASSERT_GE(before.sessions, kManySessions / 31 * 30);
  ASSERT_GT(before.open, 0);
  ASSERT_GT(before.in_progress, 0);
  ASSERT_GT(before.closed, 0);
  ASSERT_GT(before.failed, 0);
  ASSERT_GT(before.unknown, 0);
  ASSERT_GT(before.expired, 0);

  MustWrite();
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  ExpectSameServicesAndCounts(*store_, *restored);
  // Field by field, by SID and by name; and the creation order, newest first.
  absl::flat_hash_map<Sid, std::vector<Sid>> newest_first;
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    if (ExpectSameSession(*store_, *restored, it->first, it->second)) {
      newest_first[it->first].push_back(it->second);
    }
  }
  // Nothing was due, so nothing changed on load...
  EXPECT_EQ(restored->Stats().expired, 0);
  EXPECT_EQ(restored->Stats().purged, 0);
  // ...and the restored store writes the very same bytes: every hidden
  // field (TTL base, sequence numbers, the SID count) came back too.
  const std::string again = dir_ + "/again.snap";
  ASSERT_TRUE(restored->WriteSnapshot(again).ok());
  const std::string bytes = ReadBytes(path_);
  EXPECT_TRUE(ReadBytes(again) == bytes);
  RecordProperty("snapshot_bytes", static_cast<int>(bytes.size()));

  // Equal sequence numbers make equal lists; the newest page of each
  // Service shows it (a list visits every shard per page, so not all pages).
  int64_t listed = 0;
  for (const Sid& ks : services) {
    ListParams newest;
    newest.page_size = 1000;
    absl::StatusOr<SessionPage> page = restored->ListSessions(ks, newest);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_EQ(page->sessions.size(), 1000u);
    for (size_t i = 0; i < page->sessions.size(); ++i) {
      ASSERT_EQ(page->sessions[i].sid, newest_first[ks][i]) << "at " << i;
    }
    listed += static_cast<int64_t>(newest_first[ks].size());
  }
  EXPECT_EQ(listed, before.sessions);
  RecordProperty("sessions_round_tripped", static_cast<int>(listed));
}

// Times and TTLs too large for a record's compact fields (kept in full
// beside it) round-trip too: same fields, same bytes written again.
TEST_F(SnapshotTest, RoundTripsTimesAndTtlsPastTheRecordsCompactRange) {
  CreateSessionParams far;
  far.date_expiry = absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                                    absl::UTCTimeZone());
  far.ttl = int64_t{1} << 33;
  far.unique_name = "far";
  const Session a = Create(far);
  clock_.Set(absl::FromCivil(absl::CivilSecond(8000, 1, 1, 0, 0, 0),
                             absl::UTCTimeZone()) +
             absl::Milliseconds(9));
  ASSERT_TRUE(store_->RecordInteraction(ks_, a.sid).ok());
  const Session b = Create();
  ASSERT_TRUE(store_->CloseSession(ks_, b.sid, "done").ok());

  MustWrite();
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  EXPECT_TRUE(ExpectSameSession(*store_, *restored, ks_, a.sid));
  EXPECT_TRUE(ExpectSameSession(*store_, *restored, ks_, b.sid));
  EXPECT_EQ(restored->FetchSession(ks_, a.sid)->ttl, int64_t{1} << 33);
  const std::string again = dir_ + "/again.snap";
  ASSERT_TRUE(restored->WriteSnapshot(again).ok());
  EXPECT_TRUE(ReadBytes(again) == ReadBytes(path_));
}

TEST_F(SnapshotTest, RoundTripsTheSmallStoreAndAnEmptyOne) {
  {
    MustWrite();  // Only the fixture's Service.
    ManualClock clock(kT0);
    std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(ExpectSameContent(*store_, *restored), 0);
  }
  FillSmall();
  MustWrite();
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(ExpectSameContent(*store_, *restored), 5);
}

TEST_F(SnapshotTest, RestoredSessionExpiresAtItsInstant) {
  CreateSessionParams ttl;
  ttl.ttl = 60;
  const Session a = Create(ttl);
  CreateSessionParams dated;
  dated.date_expiry = kT0 + absl::Minutes(5);
  const Session b = Create(dated);
  At(absl::Seconds(10));
  ASSERT_TRUE(store_->RecordInteraction(ks_, a.sid).ok());  // base = T0+10s
  MustWrite();

  ManualClock clock(kT0 + absl::Seconds(10));
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  auto recorder = std::make_shared<Recorder>();
  restored->AddListener(recorder);

  const absl::Time a_instant = kT0 + absl::Seconds(70);
  clock.Set(a_instant - absl::Milliseconds(1));
  EXPECT_EQ(restored->Advance(), 0);
  EXPECT_EQ(restored->FetchSession(ks_, a.sid)->status,
            SessionStatus::kInProgress);
  clock.Set(a_instant);
  EXPECT_EQ(restored->Advance(), 1);
  std::vector<Event> events = recorder->Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, EventType::kClosed);
  EXPECT_EQ(events[0].sid, a.sid);
  EXPECT_EQ(events[0].closed_reason, "ttl");
  EXPECT_EQ(events[0].date_ended, a_instant);

  clock.Set(*dated.date_expiry);
  EXPECT_EQ(restored->Advance(), 1);
  events = recorder->Take();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sid, b.sid);
  EXPECT_EQ(events[0].closed_reason, "date_expiry");
  EXPECT_EQ(events[0].date_ended, *dated.date_expiry);
}

TEST_F(SnapshotTest, OverdueSessionsAreClosedOrPurgedOnLoad) {
  CreateSessionParams ttl;
  ttl.unique_name = "by-ttl";
  ttl.ttl = 3600;  // Closes at T0+1h, purged at T0+2h.
  Create(ttl);
  CreateSessionParams dated;
  dated.date_expiry = kT0 + absl::Minutes(45);  // Purged at T0+1h45m.
  const Session b = Create(dated);
  CreateSessionParams closed;
  closed.unique_name = "closed";
  closed.status = SessionStatus::kClosed;  // Ended at T0, purged at T0+1h.
  Create(closed);
  CreateSessionParams unknown;
  unknown.status = SessionStatus::kUnknown;
  unknown.ttl = 60;  // An unknown Session never expires by time.
  const Session d = Create(unknown);
  const Session e = Create();  // No ttl: never expires.
  At(absl::Seconds(1));
  MustWrite();

  ManualClock clock(kT0 + absl::Minutes(90));
  StoreOptions options = RestoreOptions(&clock);
  options.closed_retention = absl::Hours(1);
  std::unique_ptr<SessionStore> restored = MustOpen(options);
  ASSERT_NE(restored, nullptr);
  auto recorder = std::make_shared<Recorder>();
  restored->AddListener(recorder);

  absl::StatusOr<Session> a = restored->FetchSession(ks_, "by-ttl");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, SessionStatus::kClosed);
  EXPECT_EQ(a->closed_reason, "ttl");
  EXPECT_EQ(a->date_ended, kT0 + absl::Hours(1));
  EXPECT_EQ(a->date_updated, kT0 + absl::Hours(1));
  absl::StatusOr<Session> got = restored->FetchSession(ks_, b.sid);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->closed_reason, "date_expiry");
  EXPECT_EQ(got->date_ended, *dated.date_expiry);
  EXPECT_TRUE(testing_util::IsSessionNotFound(
      restored->FetchSession(ks_, "closed"), ks_, "closed"));
  EXPECT_EQ(restored->FetchSession(ks_, d.sid)->status,
            SessionStatus::kUnknown);
  EXPECT_EQ(restored->FetchSession(ks_, e.sid)->status, SessionStatus::kOpen);
  EXPECT_EQ(restored->Stats().expired, 2);
  EXPECT_EQ(restored->Stats().purged, 1);
  EXPECT_EQ(restored->Stats().sessions, 4);
  // The purged Session's name is free again.
  EXPECT_TRUE(restored->CreateSession(ks_, closed).ok());
  // The load-time closes happened before any listener: none is reported.
  EXPECT_EQ(restored->Advance(), 0);
  for (const Event& event : recorder->Take()) {
    EXPECT_EQ(event.type, EventType::kCreated);
  }
}

TEST_F(SnapshotTest, NewSessionsFollowTheRestoredOnes) {
  FillSmall();
  MustWrite();
  // A restored store numbers its new Session after every restored one, so
  // it lists first, before the restored ones in their order.
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  absl::StatusOr<Session> fresh =
      restored->CreateSession(ks_, CreateSessionParams());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  std::vector<Session> listed = AllSessions(*restored, ks_);
  ASSERT_FALSE(listed.empty());
  EXPECT_EQ(listed.front().sid, fresh->sid);
  listed.erase(listed.begin());
  EXPECT_EQ(listed, AllSessions(*store_, ks_));
}

// The writer goes on after its snapshot and hands out B; a store opened
// from that snapshot, with the same seed, must never mint B again, or B's
// holder would fetch someone else's Session. Twice from one file too, as
// after two crashes: neither open mints what the other did.
TEST_F(SnapshotTest, ARestoredStoreNeverMintsASidItsWriterMintedAfter) {
  Create();  // A
  MustWrite();
  CreateSessionParams params;
  params.participants = {{"+15550003", "Bob", "+15559998"}};
  const Session b = Create(params);
  const Sid service_b = NewService("after-the-snapshot");

  std::vector<Sid> minted = {b.sid, b.participants[0].sid, service_b};
  for (int open = 0; open < 2; ++open) {
    SCOPED_TRACE(open);
    ManualClock clock(clock_.Now());
    std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
    ASSERT_NE(restored, nullptr);
    absl::StatusOr<Session> c = restored->CreateSession(ks_, params);
    ASSERT_TRUE(c.ok()) << c.status();
    CreateServiceParams service;
    service.unique_name = "after-the-snapshot";
    absl::StatusOr<Service> service_c = restored->CreateService(service);
    ASSERT_TRUE(service_c.ok()) << service_c.status();
    for (const Sid& sid : {c->sid, c->participants[0].sid, service_c->sid}) {
      for (const Sid& earlier : minted) EXPECT_NE(sid, earlier);
      minted.push_back(sid);
    }
    // B's SID names nothing in the restored store.
    EXPECT_TRUE(testing_util::IsSessionNotFound(
        restored->FetchSession(ks_, b.sid), ks_, b.sid));
  }
}

TEST_F(SnapshotTest, RestoresIntoAnyShardCount) {
  for (int i = 0; i < 2000; ++i) {
    CreateSessionParams p;
    if (i % 2 == 0) p.unique_name = absl::StrCat("n", i);
    p.ttl = 60 + i;
    Create(p);
  }
  MustWrite();
  for (int shards : {1, 2, 256}) {
    SCOPED_TRACE(shards);
    ManualClock clock(kT0);
    StoreOptions options = RestoreOptions(&clock);
    options.shards = shards;
    std::unique_ptr<SessionStore> restored = MustOpen(options);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(ExpectSameContent(*store_, *restored), 2000);
    // Named Sessions still route by name, and expire on the wheel.
    clock.Set(kT0 + absl::Seconds(60 + 1999));
    EXPECT_EQ(restored->Advance(), 2000);
  }
}

// Enough Sessions that a shard's batch is handed over before the file moves
// on (Restore's kRestoreBatch is 4096): from a store with more shards, a
// shard gets several batches, each older than the last in places; from one
// with fewer, the file's runs interleave this store's shards.
TEST_F(SnapshotTest, RestoresLargeShardsIntoOtherShardCounts) {
  for (int i = 0; i < 20000; ++i) {
    CreateSessionParams p;
    if (i % 2 == 0) p.unique_name = absl::StrCat("n", i);
    Create(p);
  }
  MustWrite();
  for (int shards : {1, 4, 64}) {
    SCOPED_TRACE(shards);
    ManualClock clock(kT0);
    StoreOptions options = RestoreOptions(&clock);
    options.shards = shards;
    std::unique_ptr<SessionStore> restored = MustOpen(options);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(ExpectSameContent(*store_, *restored), 20000);
    absl::Status invariants = restored->CheckInvariants();
    EXPECT_TRUE(invariants.ok()) << invariants;
  }
}

// A store restored under another seed (or none) cannot read the handles its
// SIDs carry: every Session is found through the foreign-SID table instead,
// and works as any other, while new Sessions get SIDs of the new store.
TEST_F(SnapshotTest, RestoresUnderAnotherSeedThroughForeignSids) {
  std::vector<Sid> sids;
  for (int i = 0; i < 600; ++i) {
    CreateSessionParams p;
    if (i % 3 == 0) p.unique_name = absl::StrCat("n", i);
    p.ttl = 60 + i;
    sids.push_back(Create(p).sid);
  }
  MustWrite();
  for (std::optional<uint64_t> seed :
       {std::optional<uint64_t>(kSeed + 1), std::optional<uint64_t>()}) {
    SCOPED_TRACE(seed.has_value() ? "another seed" : "no seed");
    ManualClock clock(kT0);
    StoreOptions options = RestoreOptions(&clock);
    options.seed = seed;
    std::unique_ptr<SessionStore> restored = MustOpen(options);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(ExpectSameContent(*store_, *restored), 600);
    EXPECT_TRUE(restored->CheckInvariants().ok());
    // Changed and deleted by SID, next to new Sessions.
    for (size_t i = 0; i < sids.size(); i += 2) {
      ASSERT_TRUE(restored->RecordInteraction(ks_, sids[i]).ok());
      ASSERT_TRUE(restored->DeleteSession(ks_, sids[i + 1]).ok());
      absl::StatusOr<Session> fresh =
          restored->CreateSession(ks_, CreateSessionParams());
      ASSERT_TRUE(fresh.ok()) << fresh.status();
      EXPECT_TRUE(restored->FetchSession(ks_, fresh->sid).ok());
    }
    for (size_t i = 0; i < sids.size(); i += 2) {
      EXPECT_EQ(restored->FetchSession(ks_, sids[i])->status,
                SessionStatus::kInProgress);
      EXPECT_TRUE(testing_util::IsSessionNotFound(
          restored->FetchSession(ks_, sids[i + 1]), ks_, sids[i + 1]));
    }
    EXPECT_EQ(restored->Stats().sessions, 600);
    EXPECT_TRUE(restored->CheckInvariants().ok());
  }
}

TEST_F(SnapshotTest, TakesTheSnapshotsAccount) {
  Create();
  MustWrite();
  ManualClock clock(kT0);
  StoreOptions options = RestoreOptions(&clock);
  std::unique_ptr<SessionStore> restored = MustOpen(options);
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->account_sid(), Sid::Parse("AC", kAccountSid));
  EXPECT_TRUE(restored->FetchService(ks_).ok());

  options.account_sid = kAccountSid;  // The same account is fine.
  EXPECT_TRUE(SessionStore::OpenSnapshot(path_, options).ok());
  options.account_sid = "AC00000000000000000000000000000000";
  absl::StatusOr<std::unique_ptr<SessionStore>> other =
      SessionStore::OpenSnapshot(path_, options);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument)
      << other.status();
  options.account_sid.clear();
  options.shards = 3;
  EXPECT_EQ(SessionStore::OpenSnapshot(path_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A snapshot may hold more Sessions than the opening store's limits allow:
// a store's own, whose shards were copied at different moments while
// Sessions were deleted and created, or one opened with smaller limits. It
// loads whole, and creates are refused until deletes make room.
TEST_F(SnapshotTest, ASnapshotOverTheLimitsLoadsWholeAndCreatesWaitForRoom) {
  std::vector<Sid> sids;
  for (int i = 0; i < 3; ++i) sids.push_back(Create().sid);
  MustWrite();
  for (bool per_service : {true, false}) {
    SCOPED_TRACE(per_service ? "max_sessions_per_service" : "max_sessions");
    ManualClock clock(kT0);
    StoreOptions options = RestoreOptions(&clock);
    (per_service ? options.max_sessions_per_service : options.max_sessions) = 2;
    std::unique_ptr<SessionStore> restored = MustOpen(options);
    ASSERT_NE(restored, nullptr);
    EXPECT_EQ(ExpectSameContent(*store_, *restored), 3);
    EXPECT_TRUE(testing_util::IsProxyError(restored->CreateSession(ks_, {}),
                                           absl::StatusCode::kResourceExhausted,
                                           kErrorTooManyRequests));
    // At the limit: still no room.
    ASSERT_TRUE(restored->DeleteSession(ks_, sids[0]).ok());
    EXPECT_TRUE(testing_util::IsProxyError(restored->CreateSession(ks_, {}),
                                           absl::StatusCode::kResourceExhausted,
                                           kErrorTooManyRequests));
    // Below it: one create, and the limit holds again.
    ASSERT_TRUE(restored->DeleteSession(ks_, sids[1]).ok());
    EXPECT_TRUE(restored->CreateSession(ks_, {}).ok());
    EXPECT_TRUE(testing_util::IsProxyError(restored->CreateSession(ks_, {}),
                                           absl::StatusCode::kResourceExhausted,
                                           kErrorTooManyRequests));
    EXPECT_EQ(restored->Stats().sessions, 2);
    EXPECT_TRUE(restored->CheckInvariants().ok());
  }
}

// The bytes of a fixed store (seeded SIDs, a manual clock), pinned: a change
// to the format, or to what the core puts in an image, changes them. The
// file's own checksum field is pinned, not a CRC of the whole file: that
// covers the checksum and the fixed end marker too, and so is the same for
// every well-formed file. The size is the encoder's from before the persist
// room had image types of its own; the checksum changed twice since, not
// the format: when Session SIDs began to carry their record's handle (the
// content's SIDs), and when the writer began to stream Sessions shard by
// shard, a slice at a time, in the order of their handles rather than of
// their creation (the content's order).
TEST_F(SnapshotTest, WritesThePinnedBytesOfTheFormat) {
  FillSmall();
  MustWrite();
  const std::string bytes = ReadBytes(path_);
  ASSERT_EQ(bytes.size(), 954u);
  const std::string_view body(bytes.data(), bytes.size() - 12);
  uint32_t stored = 0;
  for (int i = 3; i >= 0; --i) {
    stored = stored << 8 | static_cast<uint8_t>(bytes[bytes.size() - 12 + i]);
  }
  EXPECT_EQ(stored, internal::Crc32c(body));
  EXPECT_EQ(stored, 0x894b1522u);
}

TEST_F(SnapshotTest, RefusesEveryTruncation) {
  FillSmall();
  MustWrite();
  const std::string bytes = ReadBytes(path_);
  ASSERT_GT(bytes.size(), 500u);
  const std::string cut = dir_ + "/cut.snap";
  ManualClock clock(kT0);
  for (size_t size = 0; size < bytes.size(); ++size) {
    WriteBytes(cut, std::string_view(bytes).substr(0, size));
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::OpenSnapshot(cut, RestoreOptions(&clock));
    ASSERT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
        << "prefix of " << size << " bytes: " << store.status();
    ASSERT_TRUE(absl::StartsWith(store.status().message(), cut + ": "));
  }
  RecordProperty("prefixes_refused", static_cast<int>(bytes.size()));
}

TEST_F(SnapshotTest, DetectsEveryBitFlip) {
  FillSmall();
  MustWrite();
  const std::string bytes = ReadBytes(path_);
  // Each flip goes to the decoder OpenSnapshot runs before it builds a
  // store (a file per flip is slow under the sanitizers); one goes through
  // a file to show the whole path refuses it too.
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string copy = bytes;
      copy[i] = static_cast<char>(copy[i] ^ (1 << bit));
      absl::StatusOr<internal::StoreImage> image =
          internal::DecodeSnapshot(copy, internal::SnapshotRulesOfTheStore());
      // A flip in the magic makes it no snapshot at all.
      ASSERT_EQ(image.status().code(), i < 8
                                           ? absl::StatusCode::kInvalidArgument
                                           : absl::StatusCode::kDataLoss)
          << "byte " << i << " bit " << bit << ": " << image.status();
    }
  }
  RecordProperty("bits_flipped", static_cast<int>(8 * bytes.size()));
  std::string copy = bytes;
  copy[copy.size() / 2] ^= 0x10;
  WriteBytes(path_, copy);
  ManualClock clock(kT0);
  EXPECT_EQ(
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock)).status().code(),
      absl::StatusCode::kDataLoss);
}

// Sets the version field and recomputes the checksum, as a newer writer
// would have written it.
std::string WithVersion(std::string bytes, uint32_t version) {
  for (int i = 0; i < 4; ++i) {
    bytes[8 + static_cast<size_t>(i)] = static_cast<char>(version >> (8 * i));
  }
  const size_t crc_at = bytes.size() - 12;
  const uint32_t crc =
      internal::Crc32c(std::string_view(bytes).substr(0, crc_at));
  for (int i = 0; i < 4; ++i) {
    bytes[crc_at + static_cast<size_t>(i)] = static_cast<char>(crc >> (8 * i));
  }
  return bytes;
}

// `bytes` with its body length and checksum made right again.
std::string Reframed(std::string bytes) {
  const uint64_t body = bytes.size() - 32;
  for (int i = 0; i < 8; ++i) {
    bytes[12 + static_cast<size_t>(i)] = static_cast<char>(body >> (8 * i));
  }
  return WithVersion(std::move(bytes), internal::kSnapshotVersion);
}

TEST_F(SnapshotTest, RefusesAForeignFileAndANewerVersion) {
  Create();
  MustWrite();
  const std::string bytes = ReadBytes(path_);
  ManualClock clock(kT0);
  WriteBytes(path_, "ksid,unique_name\nKS00,rides\n");
  absl::StatusOr<std::unique_ptr<SessionStore>> foreign =
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock));
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(foreign.status().message(), "wrong magic"));

  WriteBytes(path_, WithVersion(bytes, internal::kSnapshotVersion + 1));
  absl::StatusOr<std::unique_ptr<SessionStore>> newer =
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock));
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(
      newer.status().message(),
      absl::StrCat("version ", internal::kSnapshotVersion + 1)))
      << newer.status();
  WriteBytes(path_, WithVersion(bytes, 0));
  EXPECT_EQ(
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock)).status().code(),
      absl::StatusCode::kFailedPrecondition);

  // Version 1 is still read (its Sessions carry no history flags, which
  // this build reads in either version).
  WriteBytes(path_, WithVersion(bytes, 1));
  EXPECT_TRUE(SessionStore::OpenSnapshot(path_, RestoreOptions(&clock)).ok());
  WriteBytes(path_, bytes + "x");  // Anything after the end marker.
  EXPECT_EQ(
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock)).status().code(),
      absl::StatusCode::kDataLoss);
}

TEST_F(SnapshotTest, ReportsFileErrors) {
  ManualClock clock(kT0);
  absl::StatusOr<std::unique_ptr<SessionStore>> missing =
      SessionStore::OpenSnapshot(dir_ + "/absent.snap", RestoreOptions(&clock));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "absent.snap"));
  absl::Status written = store_->WriteSnapshot(dir_ + "/no/such/dir.snap");
  EXPECT_EQ(written.code(), absl::StatusCode::kNotFound) << written;
  // Nothing is left behind by a failed write.
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(SnapshotTest, CrashBeforeRenameKeepsThePreviousSnapshot) {
  const Session first = Create();
  MustWrite();
  const std::string previous = ReadBytes(path_);
  Create();

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child dies after the new file is written and synced, before the
    // rename: what a crash or a kill -9 at that moment would leave.
    internal::SetBeforeRenameHookForTesting(
        [](const std::string&) { _exit(0); });
    (void)store_->WriteSnapshot(path_);
    _exit(1);  // The hook was not reached.
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  EXPECT_EQ(ReadBytes(path_), previous);
  // The dead writer's complete, unrenamed file.
  const std::vector<std::string> left = OtherFiles();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(left[0], TemporaryPrefix(child))) << left[0];
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  const std::vector<Session> sessions = AllSessions(*restored, ks_);
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_TRUE(SameSession(sessions[0], first));

  // The next write is not disturbed by the leftover, and removes it: its
  // writer is dead.
  MustWrite();
  EXPECT_TRUE(OtherFiles().empty());
  restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(AllSessions(*restored, ks_).size(), 2u);
}

// A link stays a link: WriteSnapshot follows a chain of them (one absolute,
// one relative to its own directory) and replaces the final target, beside
// which its temporary file was written. A dangling link's target is
// created.
TEST_F(SnapshotTest, WritesThroughSymlinksToTheirFinalTarget) {
  Create();
  const std::string plain = dir_ + "/plain.snap";
  ASSERT_TRUE(store_->WriteSnapshot(plain).ok());
  const std::string expected = ReadBytes(plain);
  ASSERT_TRUE(std::filesystem::create_directory(dir_ + "/data"));
  const std::string target = dir_ + "/data/store.snap";
  WriteBytes(target, "the previous snapshot");
  const std::string middle = dir_ + "/data/middle.snap";
  std::filesystem::create_symlink("store.snap", middle);
  std::filesystem::create_symlink(middle, path_);

  MustWrite();
  EXPECT_TRUE(std::filesystem::is_symlink(path_));
  EXPECT_EQ(std::filesystem::read_symlink(path_), middle);
  EXPECT_EQ(std::filesystem::read_symlink(middle), "store.snap");
  EXPECT_TRUE(std::filesystem::is_regular_file(
      std::filesystem::symlink_status(target)));
  EXPECT_EQ(ReadBytes(target), expected);
  // Nothing else was left in either directory.
  EXPECT_EQ(OtherFiles(), (std::vector<std::string>{"data", "plain.snap"}));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_ + "/data"),
                          std::filesystem::directory_iterator()),
            2);
  ManualClock clock(clock_.Now());
  std::unique_ptr<SessionStore> restored = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(ExpectSameContent(*store_, *restored), 1);

  const std::string dangling = dir_ + "/dangling.snap";
  std::filesystem::create_symlink("data/new.snap", dangling);
  ASSERT_TRUE(store_->WriteSnapshot(dangling).ok());
  EXPECT_TRUE(std::filesystem::is_symlink(dangling));
  EXPECT_EQ(ReadBytes(dir_ + "/data/new.snap"), expected);
}

// Only a regular file is read, links followed: /dev/zero, a FIFO with no
// writer and a directory are refused at once, before any read (reading
// /dev/zero never ends, and opening a FIFO waits for a writer).
TEST_F(SnapshotTest, ReadsNothingButARegularFile) {
  const std::string fifo = dir_ + "/fifo.snap";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string link = dir_ + "/zero.snap";
  std::filesystem::create_symlink("/dev/zero", link);
  ManualClock clock(kT0);
  for (const std::string& path : {std::string("/dev/zero"), link, dir_, fifo}) {
    SCOPED_TRACE(path);
    absl::StatusOr<std::unique_ptr<SessionStore>> opened =
        SessionStore::OpenSnapshot(path, RestoreOptions(&clock));
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition)
        << opened.status();
    EXPECT_TRUE(absl::StrContains(opened.status().message(), path));
    EXPECT_TRUE(
        absl::StrContains(opened.status().message(), "not a regular file"))
        << opened.status();
  }

  // A regular file is read to its size and no further, whatever its bytes
  // claim: a Session count of 2^63 with a checksum made right is DataLoss.
  Create();
  MustWrite();
  std::string huge = ReadBytes(path_);
  huge[56 + 7] = '\x80';
  WriteBytes(path_, Reframed(huge));
  absl::StatusOr<std::unique_ptr<SessionStore>> lying =
      SessionStore::OpenSnapshot(path_, RestoreOptions(&clock));
  EXPECT_EQ(lying.status().code(), absl::StatusCode::kDataLoss)
      << lying.status();
}

// WriteSnapshot replaces only a regular file: not a FIFO, a directory or a
// device, whether named or reached through a link.
TEST_F(SnapshotTest, ReplacesNothingButARegularFile) {
  Create();
  const std::string fifo = dir_ + "/fifo.snap";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string link = dir_ + "/null.snap";
  std::filesystem::create_symlink("/dev/null", link);
  const std::string subdir = dir_ + "/subdir";
  ASSERT_TRUE(std::filesystem::create_directory(subdir));
  for (const std::string& path : {fifo, subdir, link}) {
    SCOPED_TRACE(path);
    absl::Status written = store_->WriteSnapshot(path);
    EXPECT_EQ(written.code(), absl::StatusCode::kFailedPrecondition) << written;
    EXPECT_TRUE(absl::StrContains(written.message(), "not a regular file"))
        << written;
  }
  EXPECT_TRUE(std::filesystem::is_fifo(fifo));
  EXPECT_TRUE(std::filesystem::is_empty(subdir));
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  EXPECT_EQ(OtherFiles(),
            (std::vector<std::string>{"fifo.snap", "null.snap", "subdir"}));
}

// A file name of NAME_MAX (255) bytes takes a snapshot: the temporary
// file's name is short whatever the target's, and never cuts a UTF-8
// character of it in two.
TEST_F(SnapshotTest, WritesAFileWhoseNameIsNameMaxLong) {
  Create();
  for (const std::string& name :
       {std::string(NAME_MAX, 'n'),
        "x" + testing_util::Repeat(testing_util::kTwoByteChar, NAME_MAX / 2)}) {
    ASSERT_EQ(name.size(), size_t{NAME_MAX});
    const std::string path = dir_ + "/" + name;
    absl::Status written = store_->WriteSnapshot(path);
    ASSERT_TRUE(written.ok()) << written;
    ManualClock clock(clock_.Now());
    absl::StatusOr<std::unique_ptr<SessionStore>> restored =
        SessionStore::OpenSnapshot(path, RestoreOptions(&clock));
    ASSERT_TRUE(restored.ok()) << restored.status();
    EXPECT_EQ(ExpectSameContent(*store_, **restored), 1);
    EXPECT_EQ(OtherFiles(), std::vector<std::string>{name});
    std::filesystem::remove(path);

    const std::string longest =
        std::filesystem::path(
            internal::TemporaryPath(path, std::numeric_limits<int32_t>::max(),
                                    std::numeric_limits<uint64_t>::max()))
            .filename();
    EXPECT_LE(longest.size(), 64u);
    EXPECT_TRUE(internal::IsValidUtf8(longest)) << longest;
  }
}

// A writer killed between creating its temporary file and the rename
// leaves the file behind; the next write of the same target removes it,
// and every file of this process left by an earlier one with its pid. It
// leaves a live writer's file (pid 1 lives as long as the system), another
// target's, and anything not named as a temporary file.
TEST_F(SnapshotTest, AWriteRemovesTheTemporaryFilesOfDeadWriters) {
  Create();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);  // Its pid names no process.
  const auto temporary = [](const std::string& target, pid_t pid, int n) {
    return internal::TemporaryPath(target, static_cast<uint64_t>(pid),
                                   static_cast<uint64_t>(n));
  };
  const std::string dead = temporary(path_, child, 7);
  const std::string earlier = temporary(path_, getpid(), 1 << 30);
  const std::string alive = temporary(path_, 1, 7);
  const std::string other = temporary(dir_ + "/other.snap", child, 7);
  const std::string look_alike = dead + ".keep";
  for (const std::string& path : {dead, earlier, alive, other, look_alike}) {
    WriteBytes(path, "half a snapshot");
  }
  std::filesystem::create_directory(temporary(path_, child, 8));

  MustWrite();
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_FALSE(std::filesystem::exists(earlier));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_TRUE(std::filesystem::exists(other));
  EXPECT_TRUE(std::filesystem::exists(look_alike));
  EXPECT_TRUE(std::filesystem::is_directory(temporary(path_, child, 8)));
  EXPECT_EQ(OtherFiles().size(), 4u);
  ManualClock clock(clock_.Now());
  EXPECT_NE(MustOpen(RestoreOptions(&clock)), nullptr);
}

// What the before-rename hook below does: a second write of the same
// target while the first waits to rename.
struct NestedWrite {
  SessionStore* store = nullptr;
  std::string path;
  absl::Status status;
  bool first_kept = false;
};
NestedWrite* g_nested = nullptr;

// A write of this process in flight keeps its temporary file though its
// pid is alive and ours: a second write of the same target, made while the
// first waits before its rename, leaves it, and both succeed.
TEST_F(SnapshotTest, AWriteInFlightKeepsItsTemporaryFile) {
  Create();
  NestedWrite nested;
  nested.store = store_.get();
  nested.path = path_;
  g_nested = &nested;
  internal::SetBeforeRenameHookForTesting([](const std::string& temp) {
    internal::SetBeforeRenameHookForTesting(nullptr);
    g_nested->status = g_nested->store->WriteSnapshot(g_nested->path);
    g_nested->first_kept = std::filesystem::exists(temp);
  });
  absl::Status written = store_->WriteSnapshot(path_);
  internal::SetBeforeRenameHookForTesting(nullptr);
  g_nested = nullptr;
  EXPECT_TRUE(written.ok()) << written;
  EXPECT_TRUE(nested.status.ok()) << nested.status;
  EXPECT_TRUE(nested.first_kept);
  EXPECT_TRUE(OtherFiles().empty());
  ManualClock clock(clock_.Now());
  EXPECT_NE(MustOpen(RestoreOptions(&clock)), nullptr);
}

TEST_F(SnapshotTest, WritesWhileOtherThreadsChangeTheStore) {
  constexpr int kOps = 3000;
  std::thread sessions([&] {
    std::vector<Sid> live;
    for (int i = 0; i < kOps; ++i) {
      CreateSessionParams p;
      if (i % 2 == 0) p.unique_name = absl::StrCat("busy-", i);
      p.ttl = 1 + i % 5;
      absl::StatusOr<Session> s = store_->CreateSession(ks_, p);
      if (!s.ok()) continue;
      live.push_back(s->sid);
      if (i % 3 == 0)
        (void)store_->RecordInteraction(ks_, live[live.size() / 2]);
      if (i % 5 == 0) (void)store_->CloseSession(ks_, live.front(), "done");
      if (i % 7 == 0) {
        (void)store_->DeleteSession(ks_, live.back());
        live.pop_back();
      }
      if (i % 50 == 0) clock_.Advance(absl::Seconds(1));
      if (i % 100 == 0) store_->Advance();
    }
  });
  std::thread services([&] {
    for (int i = 0; i < kOps / 30; ++i) {
      const Sid ks = NewService(absl::StrCat("busy-service-", i));
      (void)store_->CreateSession(ks, CreateSessionParams());
      if (i % 2 == 0) (void)store_->DeleteService(ks);
    }
  });
  std::vector<std::string> paths;
  for (int i = 0; i < 4; ++i) {
    paths.push_back(absl::StrCat(dir_, "/busy-", i, ".snap"));
    absl::Status written = store_->WriteSnapshot(paths.back());
    EXPECT_TRUE(written.ok()) << written;
  }
  sessions.join();
  services.join();
  for (const std::string& path : paths) {
    ManualClock clock(clock_.Now());
    absl::StatusOr<std::unique_ptr<SessionStore>> restored =
        SessionStore::OpenSnapshot(path, RestoreOptions(&clock));
    ASSERT_TRUE(restored.ok()) << restored.status();
    absl::Status invariants = (*restored)->CheckInvariants();
    EXPECT_TRUE(invariants.ok()) << invariants;
  }
}

// The decoder's own checks, on content whose checksum is right.
class DecodeTest : public SnapshotTest {
 protected:
  void SetUp() override {
    SnapshotTest::SetUp();
    FillSmall();
    MustWrite();
    absl::StatusOr<internal::StoreImage> image = internal::DecodeSnapshot(
        ReadBytes(path_), internal::SnapshotRulesOfTheStore());
    ASSERT_TRUE(image.ok()) << image.status();
    image_ = *image;
    ASSERT_EQ(image_.sessions.size(), 5u);
  }

  // Loading `image` from a file fails with DataLoss naming `what`: the
  // decoder's checks and the shards' (two Sessions with one SID) alike.
  void ExpectRefused(const internal::StoreImage& image, const char* what) {
    WriteBytes(path_, internal::EncodeSnapshot(image));
    ManualClock clock(kT0);
    absl::StatusOr<std::unique_ptr<SessionStore>> back =
        SessionStore::OpenSnapshot(path_, RestoreOptions(&clock));
    EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss)
        << back.status();
    EXPECT_TRUE(absl::StrContains(back.status().message(), what))
        << back.status();
  }

  internal::StoreImage image_;
};

TEST_F(DecodeTest, RoundTripsTheImage) {
  const std::string bytes = internal::EncodeSnapshot(image_);
  absl::StatusOr<internal::StoreImage> back =
      internal::DecodeSnapshot(bytes, internal::SnapshotRulesOfTheStore());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(internal::EncodeSnapshot(*back), bytes);
}

// A change that breaks a rule of the format, and what the refusal says.
struct Breakage {
  const char* what;
  void (*apply)(internal::StoreImage& image);
};

const Breakage kBreakages[] = {
    {"two Sessions have the SID",
     [](internal::StoreImage& i) { i.sessions[1].sid = i.sessions[0].sid; }},
    {"belongs to no Service",
     [](internal::StoreImage& i) {
       i.sessions[0].service = i.sessions[0].sid;
     }},
    {"unknown status",
     [](internal::StoreImage& i) {
       i.sessions[0].status = static_cast<internal::SessionImage::Status>(9);
     }},
    {"unknown status, mode or end reason",
     [](internal::StoreImage& i) {
       i.sessions[0].mode = static_cast<internal::SessionImage::Mode>(3);
     }},
    {"unknown status, mode or end reason",
     [](internal::StoreImage& i) {
       i.sessions[0].end_reason =
           static_cast<internal::SessionImage::EndReason>(5);
     }},
    {"disagrees with its status",  // An open Session with a date_ended.
     [](internal::StoreImage& i) {
       i.sessions[0].ended_ms = i.sessions[0].created_ms;
     }},
    {"out of range", [](internal::StoreImage& i) { i.sessions[0].ttl = -1; }},
    {"out of range",
     [](internal::StoreImage& i) {
       i.sessions[0].date_expiry_ms = std::numeric_limits<int64_t>::max();
     }},
    {"shard byte",  // The new name hashes to another shard.
     [](internal::StoreImage& i) { i.sessions[0].unique_name = "another"; }},
    {"invalid unique_name",
     [](internal::StoreImage& i) { i.sessions[0].unique_name = "\xff"; }},
    // A record reads an empty name as none: it must never load.
    {"invalid unique_name",
     [](internal::StoreImage& i) { i.sessions[0].unique_name = ""; }},
    {"same sequence number",
     [](internal::StoreImage& i) { i.sessions[1].seq = i.sessions[0].seq; }},
    {"sequence number is out of range",
     [](internal::StoreImage& i) { i.next_seq = i.sessions.back().seq; }},
    {"unique_name is invalid or not unique",
     [](internal::StoreImage& i) {
       i.services[1].unique_name = i.services[0].unique_name;
     }},
    {"two Services have the SID",
     [](internal::StoreImage& i) { i.services[1].sid = i.services[0].sid; }},
    {"more than 2 Participants",
     [](internal::StoreImage& i) { i.sessions[0].participants.resize(3); }},
};

// A snapshot is copied a slice at a time while the store runs: a Session
// deleted after its slice was copied, and a newer one that took its name in
// a slice copied later, are both in the file. The newer is kept.
TEST_F(DecodeTest, KeepsTheNewerOfTwoSessionsHoldingOneName) {
  size_t named = image_.sessions.size();
  for (size_t i = 0; i < image_.sessions.size(); ++i) {
    if (image_.sessions[i].unique_name.has_value()) named = i;
  }
  ASSERT_LT(named, image_.sessions.size());
  internal::StoreImage image = image_;
  internal::SessionImage newer = image.sessions[named];
  newer.sid.lo ^= 1;  // Another Session, in the same shard.
  newer.seq = image.next_seq++;
  newer.ttl = 77;
  // Before the older one in the file, as a slice copied earlier can be.
  image.sessions.insert(image.sessions.begin(), newer);
  WriteBytes(path_, internal::EncodeSnapshot(image));
  ManualClock clock(kT0);
  std::unique_ptr<SessionStore> back = MustOpen(RestoreOptions(&clock));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->Stats().sessions, image_.sessions.size());
  const Sid service = internal::ToSid("KS", newer.service);
  absl::StatusOr<Session> kept =
      back->FetchSession(service, *newer.unique_name);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->sid, internal::ToSid("KC", newer.sid));
  EXPECT_EQ(kept->ttl, 77);
  EXPECT_FALSE(
      back->FetchSession(service,
                         internal::ToSid("KC", image_.sessions[named].sid))
          .ok());
}

// Damage met after the first shard's Sessions are in place (each shard
// holds more than a batch) still refuses the whole file: the store being
// filled is dropped, never handed out.
TEST_F(SnapshotTest, RefusesDamageFoundAfterTheFirstShardIsRestored) {
  ManualClock clock(kT0);
  StoreOptions two_shards = RestoreOptions(&clock);
  two_shards.shards = 2;
  {
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(two_shards);
    ASSERT_TRUE(store.ok()) << store.status();
    CreateServiceParams params;
    params.unique_name = "many";
    absl::StatusOr<Service> service = (*store)->CreateService(params);
    ASSERT_TRUE(service.ok()) << service.status();
    for (int i = 0; i < 10000; ++i) {
      ASSERT_TRUE((*store)->CreateSession(service->sid, {}).ok());
    }
    ASSERT_TRUE((*store)->WriteSnapshot(path_).ok());
  }
  absl::StatusOr<internal::StoreImage> image = internal::DecodeSnapshot(
      ReadBytes(path_), internal::SnapshotRulesOfTheStore());
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_GT(image->sessions.size(), 2u);
  // The file's last Sessions are the second shard's.
  const size_t last = image->sessions.size() - 1;
  const internal::StoreImage good = *image;
  image->sessions[last].status = static_cast<internal::SessionImage::Status>(9);
  WriteBytes(path_, internal::EncodeSnapshot(*image));
  absl::StatusOr<std::unique_ptr<SessionStore>> back =
      SessionStore::OpenSnapshot(path_, two_shards);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "unknown status"))
      << back.status();

  // Found by the shard, once the reader has passed it on.
  image = good;
  image->sessions[last].sid = image->sessions[last - 1].sid;
  WriteBytes(path_, internal::EncodeSnapshot(*image));
  back = SessionStore::OpenSnapshot(path_, two_shards);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(
      absl::StrContains(back.status().message(), "two Sessions have the SID"))
      << back.status();

  // A flipped bit there: the checksum names it, whatever else it breaks.
  std::string bytes = internal::EncodeSnapshot(good);
  bytes[bytes.size() - 40] ^= 0x04;
  WriteBytes(path_, bytes);
  back = SessionStore::OpenSnapshot(path_, two_shards);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "checksum mismatch"))
      << back.status();
}

TEST_F(DecodeTest, RefusesInconsistentContent) {
  for (const Breakage& breakage : kBreakages) {
    internal::StoreImage image = image_;
    breakage.apply(image);
    ExpectRefused(image, breakage.what);
  }
}

// Rules of a store unlike the real one: what DecodeSnapshot applies is what
// it is given, not a copy of the core's rules of its own.
class OtherRules final : public internal::SnapshotRules {
 public:
  OtherRules(bool names_valid, uint8_t shard_byte_offset)
      : names_valid_(names_valid), shard_byte_offset_(shard_byte_offset) {}
  bool IsValidName(std::string_view name) const override {
    return names_valid_ &&
           internal::SnapshotRulesOfTheStore().IsValidName(name);
  }
  uint8_t NameShardByte(const internal::Sid128& service,
                        std::string_view name) const override {
    return static_cast<uint8_t>(internal::NameShardByte(service, name) +
                                shard_byte_offset_);
  }

 private:
  const bool names_valid_;
  const uint8_t shard_byte_offset_;
};

TEST_F(DecodeTest, ChecksNamesByTheRulesItIsGiven) {
  const std::string bytes = internal::EncodeSnapshot(image_);
  EXPECT_TRUE(internal::DecodeSnapshot(bytes, OtherRules(true, 0)).ok());

  absl::StatusOr<internal::StoreImage> back =
      internal::DecodeSnapshot(bytes, OtherRules(false, 0));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(back.status().message(),
                                "a Service's unique_name is invalid"))
      << back.status();

  back = internal::DecodeSnapshot(bytes, OtherRules(true, 1));
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "shard byte"))
      << back.status();
}

TEST_F(DecodeTest, NeverTrustsACountOrALength) {
  const internal::SnapshotRules& rules = internal::SnapshotRulesOfTheStore();
  const std::string bytes = internal::EncodeSnapshot(image_);
  // The Session count sits after the account (16), next_seq, sids_minted
  // (8 each) and the Service count (4), at 20 + 36.
  std::string huge = bytes;
  for (int i = 0; i < 8; ++i) huge[56 + static_cast<size_t>(i)] = '\x7f';
  absl::StatusOr<internal::StoreImage> back =
      internal::DecodeSnapshot(Reframed(huge), rules);
  EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "count exceeds"))
      << back.status();

  std::string extra = bytes;
  extra.insert(extra.size() - 12, "junk");
  back = internal::DecodeSnapshot(Reframed(extra), rules);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "follow the last"))
      << back.status();

  std::string short_body = bytes;
  short_body.erase(short_body.size() - 16, 4);
  back = internal::DecodeSnapshot(Reframed(short_body), rules);
  EXPECT_TRUE(absl::StrContains(back.status().message(), "runs past the end"))
      << back.status();
}

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(internal::Crc32c(""), 0u);
  EXPECT_EQ(internal::Crc32c("123456789"), 0xe3069283u);
}

}  // namespace
}  // namespace sessionwheel
