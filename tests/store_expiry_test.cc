// Tests of expiry: the TTL window and date_expiry close a Session exactly at
// its expiry instant (never early, never stale), Advance() and NextWakeup()
// drive the wheel, and ended Sessions are purged after closed_retention.
//
// Every test runs on a ManualClock set to 2026-01-01T00:00:00Z and a seeded
// store with closed_retention of one hour; times are compared exactly.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/core/shard.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::IsProxyError;
using testing_util::IsSessionNotFound;
using testing_util::kT0;
using testing_util::StoreTest;

// Closed Sessions are kept this long in these tests, so purges are in reach.
constexpr absl::Duration kRetention = absl::Hours(1);
constexpr absl::Duration kTick = absl::Milliseconds(10);

class StoreExpiryTest : public StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.closed_retention = kRetention;
    options.tick = kTick;
  }

  Session CreateWithTtl(int64_t ttl) {
    CreateSessionParams params;
    params.ttl = ttl;
    return Create(params);
  }

  // The Session as an expiry at `instant` for `reason` must leave it.
  void ExpectExpired(const Session& before, absl::Time instant,
                     std::string_view reason) {
    Session after = MustFetch(before.sid);
    EXPECT_EQ(after.status, SessionStatus::kClosed);
    EXPECT_EQ(after.closed_reason, std::string(reason));
    EXPECT_EQ(after.date_ended, instant);
    EXPECT_EQ(after.date_updated, instant);
    EXPECT_EQ(after.date_created, before.date_created);
    EXPECT_EQ(after.date_started, before.date_started);
    EXPECT_EQ(after.ttl, before.ttl);
    EXPECT_EQ(after.date_expiry, before.date_expiry);
  }

  // Follows NextWakeup(): sets the clock to each wakeup in turn and runs
  // Advance() there, until a run closes or purges something. Returns the
  // clock at that run, or nullopt if nothing is pending.
  std::optional<absl::Time> FollowWakeupsUntilWork() {
    for (int i = 0; i < 10000; ++i) {
      std::optional<absl::Time> wakeup = store_->NextWakeup();
      if (!wakeup.has_value()) return std::nullopt;
      if (*wakeup <= clock_.Now()) {
        ADD_FAILURE() << "NextWakeup() " << *wakeup << " is not after now "
                      << clock_.Now() << " although Advance() just ran";
        return std::nullopt;
      }
      clock_.Set(*wakeup);
      if (store_->Advance() > 0) return *wakeup;
    }
    ADD_FAILURE() << "NextWakeup() never led to any work";
    return std::nullopt;
  }
};

// The TTL
// ----------------------------------------------------------------------

TEST_F(StoreExpiryTest, TtlExpiryIsNeverEarly) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kOpen);
  EXPECT_EQ(fetched.date_ended, std::nullopt);
  EXPECT_EQ(fetched.closed_reason, std::nullopt);
  EXPECT_EQ(fetched.date_updated, kT0);
}

TEST_F(StoreExpiryTest, TtlExpiryAtTheInstantClosesWithReasonTtl) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
  EXPECT_EQ(store_->Advance(), 0);  // Nothing is closed twice.
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, ExpiryWritesTheInstantNotTheMomentItWasNoticed) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(95));
  EXPECT_EQ(store_->Advance(), 1);
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
}

TEST_F(StoreExpiryTest, ExpiryKeepsMilliseconds) {
  // semantics.md: created at 12:00:00.500 with ttl 10, expires 12:00:10.500.
  At(absl::Milliseconds(500));
  Session session = CreateWithTtl(10);
  At(absl::Milliseconds(10499));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Milliseconds(10500));
  ExpectExpired(session, kT0 + absl::Milliseconds(10500), kReasonTtl);
}

TEST_F(StoreExpiryTest, ReadAtTheInstantSeesClosedWithoutAdvance) {
  CreateSessionParams params;
  params.ttl = 60;
  params.unique_name = "ride-42";
  Session session = Create(params);
  At(absl::Seconds(60));
  // No Advance(): the read applies the expiry itself.
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
  Session by_name = MustFetch("ride-42");
  EXPECT_EQ(by_name.status, SessionStatus::kClosed);
  EXPECT_EQ(store_->Stats().closed, 1);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, UpdateAtTheInstantSeesTheSessionClosed) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  UpdateSessionParams params;
  params.ttl = 120;
  EXPECT_TRUE(IsProxyError(store_->UpdateSession(ks_, session.sid, params),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
}

TEST_F(StoreExpiryTest, InteractionAtTheInstantIs80607) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_TRUE(IsProxyError(store_->RecordInteraction(ks_, session.sid),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
}

TEST_F(StoreExpiryTest, CloseAtTheInstantIs80607AndKeepsReasonTtl) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(61));
  EXPECT_TRUE(IsProxyError(store_->CloseSession(ks_, session.sid, "host"),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
}

TEST_F(StoreExpiryTest, ReopenAfterExpiryIsAllowedAndRestartsTheWindow) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(100));
  UpdateSessionParams reopen;
  reopen.status = SessionStatus::kInProgress;
  absl::StatusOr<Session> reopened =
      store_->UpdateSession(ks_, session.sid, reopen);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->status, SessionStatus::kInProgress);
  EXPECT_EQ(reopened->date_ended, std::nullopt);
  At(absl::Seconds(160) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(160));
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(160));
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, ReopenCancelsThePendingPurge) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);  // Closed; purge due at 60 s + 1 h.
  At(absl::Seconds(70));
  UpdateSessionParams reopen;
  reopen.status = SessionStatus::kInProgress;
  reopen.ttl = 0;  // Re-opened for good.
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, reopen).ok());
  At(absl::Seconds(60) + kRetention + absl::Seconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  ExpectInvariants();
}

// date_expiry
// ------------------------------------------------------------------

TEST_F(StoreExpiryTest, LaterDateExpiryOverridesTtl) {
  CreateSessionParams params;
  params.ttl = 60;
  params.date_expiry = kT0 + absl::Seconds(120);
  Session session = Create(params);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(120) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(120));
  EXPECT_EQ(store_->Advance(), 1);
  ExpectExpired(session, kT0 + absl::Seconds(120), kReasonDateExpiry);
}

TEST_F(StoreExpiryTest, EarlierDateExpiryOverridesTtl) {
  CreateSessionParams params;
  params.ttl = 600;
  params.date_expiry = kT0 + absl::Seconds(30);
  Session session = Create(params);
  At(absl::Seconds(30));
  ExpectExpired(session, kT0 + absl::Seconds(30), kReasonDateExpiry);
}

TEST_F(StoreExpiryTest, InteractionDoesNotMoveDateExpiry) {
  CreateSessionParams params;
  params.ttl = 600;
  params.date_expiry = kT0 + absl::Seconds(60);
  Session session = Create(params);
  At(absl::Seconds(50));
  ASSERT_TRUE(store_->RecordInteraction(ks_, session.sid).ok());
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.closed_reason, std::string(kReasonDateExpiry));
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(60));
}

TEST_F(StoreExpiryTest, UpdatedDateExpiryMovesTheSessionInTheWheel) {
  CreateSessionParams params;
  params.date_expiry = kT0 + absl::Seconds(60);
  Session session = Create(params);
  At(absl::Seconds(10));
  UpdateSessionParams later;
  later.date_expiry = kT0 + absl::Seconds(300);
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, later).ok());
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(300));
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(300));
  EXPECT_EQ(closed.date_updated, kT0 + absl::Seconds(300));
  EXPECT_EQ(closed.closed_reason, std::string(kReasonDateExpiry));
}

TEST_F(StoreExpiryTest, FarFutureDateExpiryIsKeptAndDoesNotExpire) {
  const absl::Time far = absl::FromCivil(
      absl::CivilSecond(9999, 12, 31, 23, 59, 59), absl::UTCTimeZone());
  CreateSessionParams params;
  params.date_expiry = far;
  Session session = Create(params);
  EXPECT_EQ(session.date_expiry, far);
  At(absl::Hours(24 * 365 * 100));
  EXPECT_EQ(store_->Advance(), 0);
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kOpen);
  EXPECT_EQ(fetched.date_expiry, far);
  std::optional<absl::Time> wakeup = store_->NextWakeup();
  if (wakeup) {
    EXPECT_GT(*wakeup, clock_.Now());
  }
  ExpectInvariants();
}

// The base of the TTL window
// -------------------------------------------------------

TEST_F(StoreExpiryTest, InteractionRestartsTheTtlWindow) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(50));
  ASSERT_TRUE(store_->RecordInteraction(ks_, session.sid).ok());
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 0);
  At(absl::Seconds(110) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(110));
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(110));
  EXPECT_EQ(closed.date_last_interaction, kT0 + absl::Seconds(50));
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, TtlUpdateAppliesFromTheBase) {
  Session session = CreateWithTtl(0);
  At(absl::Seconds(20));
  ASSERT_TRUE(store_->RecordInteraction(ks_, session.sid).ok());  // base = 20
  At(absl::Seconds(50));
  UpdateSessionParams params;
  params.ttl = 60;
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, params).ok());
  At(absl::Seconds(80) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(80));
  EXPECT_EQ(store_->Advance(), 1);
  ExpectExpired(MustFetch(session.sid), kT0 + absl::Seconds(80), kReasonTtl);
}

TEST_F(StoreExpiryTest, TtlUpdateWithoutInteractionAppliesFromCreate) {
  Session session = CreateWithTtl(600);
  At(absl::Seconds(50));
  UpdateSessionParams params;
  params.ttl = 100;
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, params).ok());
  At(absl::Seconds(100));
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(100));
}

TEST_F(StoreExpiryTest, TtlUpdateToZeroStopsExpiry) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(10));
  UpdateSessionParams params;
  params.ttl = 0;
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, params).ok());
  At(absl::Minutes(30));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, UpdateMakingTheSessionOverdueClosesItAtOnce) {
  Session session = CreateWithTtl(0);
  At(absl::Seconds(100));
  UpdateSessionParams params;
  params.ttl = 60;
  absl::StatusOr<Session> updated =
      store_->UpdateSession(ks_, session.sid, params);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->status, SessionStatus::kClosed);
  EXPECT_EQ(updated->closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(updated->date_ended, kT0 + absl::Seconds(60));
  // date_updated is the update's own time, not the earlier expiry instant:
  // no time field moves backwards.
  EXPECT_EQ(updated->date_updated, kT0 + absl::Seconds(100));
  EXPECT_EQ(updated->ttl, 60);
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kClosed);
  EXPECT_EQ(fetched.date_ended, kT0 + absl::Seconds(60));
  EXPECT_EQ(fetched.date_updated, kT0 + absl::Seconds(100));
  EXPECT_EQ(store_->Stats().expired, 1);
  EXPECT_EQ(store_->Advance(), 0);
  ExpectInvariants();
}

// Advance, NextWakeup and Stats
// ----------------------------------------------------

TEST_F(StoreExpiryTest, AdvanceReturnsHowManyItClosedOrPurged) {
  for (int i = 0; i < 3; ++i) CreateWithTtl(60);
  CreateWithTtl(120);
  CreateWithTtl(0);
  EXPECT_EQ(store_->Advance(), 0);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 3);
  At(absl::Seconds(120));
  EXPECT_EQ(store_->Advance(), 1);
  At(absl::Seconds(60) + kRetention);
  EXPECT_EQ(store_->Advance(), 3);  // The three purged.
  At(absl::Seconds(120) + kRetention);
  EXPECT_EQ(store_->Advance(), 1);
  EXPECT_EQ(store_->Stats().sessions, 1);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, NextWakeupIsNulloptWithNothingPending) {
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
  CreateWithTtl(0);
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
}

TEST_F(StoreExpiryTest, NextWakeupIsAtMostATickAfterTheEarliestExpiry) {
  At(absl::Milliseconds(3));  // Off the tick grid.
  CreateWithTtl(120);
  CreateWithTtl(60);
  const absl::Time first = kT0 + absl::Milliseconds(3) + absl::Seconds(60);
  std::optional<absl::Time> wakeup = store_->NextWakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_GT(*wakeup, clock_.Now());
  EXPECT_LE(*wakeup, first + kTick);
}

// The bound the lead asked for: NextWakeup() is never before the earliest
// pending expiry or purge instant (nothing for Advance() to close earlier).
// NextWakeup may come early (the wheel re-sorting a coarse slot) but never
// later than one tick after the earliest pending expiry or purge.
TEST_F(StoreExpiryTest, NextWakeupIsNeverLaterThanATickAfterTheEarliestWork) {
  At(absl::Milliseconds(3));
  Session session = CreateWithTtl(60);
  const absl::Time expiry = kT0 + absl::Milliseconds(3) + absl::Seconds(60);
  std::optional<absl::Time> wakeup = store_->NextWakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_LE(*wakeup, expiry + kTick);

  clock_.Set(expiry);
  ASSERT_EQ(MustFetch(session.sid).status, SessionStatus::kClosed);
  const absl::Time purge = expiry + kRetention;
  wakeup = store_->NextWakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_LE(*wakeup, purge + kTick);
}

TEST_F(StoreExpiryTest, FollowingNextWakeupClosesWithinATickAndNeverEarly) {
  At(absl::Milliseconds(3));  // Off the tick grid.
  Session later = CreateWithTtl(120);
  Session sooner = CreateWithTtl(60);
  const absl::Time first = kT0 + absl::Milliseconds(3) + absl::Seconds(60);
  const absl::Time second = first + absl::Seconds(60);

  std::optional<absl::Time> at = FollowWakeupsUntilWork();
  ASSERT_TRUE(at.has_value());
  EXPECT_GE(*at, first);
  EXPECT_LE(*at, first + kTick);
  Session closed = MustFetch(sooner.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.date_ended, first);
  EXPECT_EQ(MustFetch(later.sid).status, SessionStatus::kOpen);

  at = FollowWakeupsUntilWork();
  ASSERT_TRUE(at.has_value());
  EXPECT_GE(*at, second);
  EXPECT_LE(*at, second + kTick);
  EXPECT_EQ(MustFetch(later.sid).date_ended, second);

  // Then the purges, one retention after each end.
  at = FollowWakeupsUntilWork();
  ASSERT_TRUE(at.has_value());
  EXPECT_GE(*at, first + kRetention);
  EXPECT_LE(*at, first + kRetention + kTick);
  EXPECT_TRUE(IsSessionNotFound(Fetch(sooner.sid), ks_, sooner.sid));
  EXPECT_EQ(MustFetch(later.sid).status, SessionStatus::kClosed);

  at = FollowWakeupsUntilWork();
  ASSERT_TRUE(at.has_value());
  EXPECT_GE(*at, second + kRetention);
  EXPECT_LE(*at, second + kRetention + kTick);
  EXPECT_TRUE(IsSessionNotFound(Fetch(later.sid), ks_, later.sid));
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, AdvanceOffTheTickGridClosesByTheNextTickBoundary) {
  At(absl::Milliseconds(3));
  Session session = CreateWithTtl(60);
  const absl::Time expiry = kT0 + absl::Milliseconds(3) + absl::Seconds(60);
  clock_.Set(expiry - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  // Between the instant and the next tick boundary the wheel may or may not
  // have run it; one tick later it has.
  clock_.Set(expiry);
  int64_t closed = store_->Advance();
  clock_.Set(expiry + kTick);
  closed += store_->Advance();
  EXPECT_EQ(closed, 1);
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kClosed);
  EXPECT_EQ(fetched.date_ended, expiry);
  EXPECT_EQ(fetched.date_updated, expiry);
}

TEST_F(StoreExpiryTest, NextWakeupCoversThePurge) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  const absl::Time purge = kT0 + absl::Seconds(60) + kRetention;
  std::optional<absl::Time> wakeup = store_->NextWakeup();
  ASSERT_TRUE(wakeup.has_value());
  EXPECT_LE(*wakeup, purge + kTick);
  At(absl::Seconds(60) + kRetention);
  EXPECT_EQ(store_->Advance(), 1);
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
}

TEST_F(StoreExpiryTest, NextWakeupForgetsADeletedSession) {
  Session session = CreateWithTtl(60);
  ASSERT_TRUE(store_->NextWakeup().has_value());
  ASSERT_TRUE(store_->DeleteSession(ks_, session.sid).ok());
  EXPECT_EQ(store_->NextWakeup(), std::nullopt);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 0);
}

TEST_F(StoreExpiryTest, StatsCountStatusesExpiriesAndPurges) {
  CreateSessionParams named;
  named.unique_name = "ride-42";
  named.ttl = 60;
  Session expiring = Create(named);
  Session open = Create();
  Session in_progress = Create();
  ASSERT_TRUE(store_->RecordInteraction(ks_, in_progress.sid).ok());
  CreateSessionParams unknown;
  unknown.status = SessionStatus::kUnknown;
  Create(unknown);
  Session closed = Create();
  ASSERT_TRUE(store_->CloseSession(ks_, closed.sid, "host").ok());
  Session failed = Create();
  ASSERT_TRUE(store_->FailSession(ks_, failed.sid, "host").ok());

  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.services, 1);
  EXPECT_EQ(stats.sessions, 6);
  EXPECT_EQ(stats.open, 2);
  EXPECT_EQ(stats.in_progress, 1);
  EXPECT_EQ(stats.closed, 1);
  EXPECT_EQ(stats.failed, 1);
  EXPECT_EQ(stats.unknown, 1);
  EXPECT_EQ(stats.named, 1);
  EXPECT_EQ(stats.expired, 0);
  EXPECT_EQ(stats.purged, 0);

  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  stats = store_->Stats();
  EXPECT_EQ(stats.sessions, 6);
  EXPECT_EQ(stats.open, 1);
  EXPECT_EQ(stats.closed, 2);
  EXPECT_EQ(stats.named, 1);
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(stats.purged, 0);

  // The host-closed and failed ones ended at kT0, the expired one at 60 s.
  At(kRetention + absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 3);
  stats = store_->Stats();
  EXPECT_EQ(stats.sessions, 3);
  EXPECT_EQ(stats.open, 1);
  EXPECT_EQ(stats.in_progress, 1);
  EXPECT_EQ(stats.unknown, 1);
  EXPECT_EQ(stats.closed, 0);
  EXPECT_EQ(stats.failed, 0);
  EXPECT_EQ(stats.named, 0);
  EXPECT_EQ(stats.expired, 1);
  EXPECT_EQ(stats.purged, 3);
  (void)expiring;
  (void)open;
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, StatsCountExpiriesAppliedByReads) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kClosed);
  EXPECT_EQ(store_->Stats().expired, 1);
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(store_->Stats().expired, 1);
}

// Purge
// ------------------------------------------------------------------------

TEST_F(StoreExpiryTest, PurgeAfterRetentionWithAdvanceFreesTheName) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  params.ttl = 60;
  Session session = Create(params);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  At(absl::Seconds(60) + kRetention - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kClosed);
  At(absl::Seconds(60) + kRetention);
  EXPECT_EQ(store_->Advance(), 1);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
  EXPECT_TRUE(IsSessionNotFound(Fetch("ride-42"), ks_, "ride-42"));
  EXPECT_EQ(store_->Stats().purged, 1);
  Session reborn = Create(params);
  EXPECT_NE(reborn.sid, session.sid);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, PurgeAfterRetentionWithoutAdvanceFreesTheName) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  params.ttl = 60;
  Session session = Create(params);
  At(absl::Seconds(60) + kRetention - absl::Milliseconds(1));
  Session closed = MustFetch(session.sid);  // Expired by the read.
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(60));
  At(absl::Seconds(60) + kRetention);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
  EXPECT_TRUE(IsSessionNotFound(Fetch("ride-42"), ks_, "ride-42"));
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, NameOfAnOverduePurgeIsFreeWithoutAnyRead) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  params.ttl = 60;
  Session session = Create(params);
  // Never read, never advanced: at the purge instant the name is free.
  At(absl::Seconds(60) + kRetention);
  absl::StatusOr<Session> reborn = store_->CreateSession(ks_, params);
  ASSERT_TRUE(reborn.ok()) << reborn.status();
  EXPECT_NE(reborn->sid, session.sid);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
  EXPECT_EQ(MustFetch("ride-42").sid, reborn->sid);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, FailedSessionsArePurgedToo) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  Session session = Create(params);
  At(absl::Seconds(10));
  ASSERT_TRUE(store_->FailSession(ks_, session.sid, "carrier").ok());
  At(absl::Seconds(10) + kRetention - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kFailed);
  At(absl::Seconds(10) + kRetention);
  EXPECT_EQ(store_->Advance(), 1);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
  EXPECT_TRUE(store_->CreateSession(ks_, params).ok());
  EXPECT_EQ(store_->Stats().purged, 1);
}

TEST_F(StoreExpiryTest, FailedSessionsArePurgedByAReadToo) {
  CreateSessionParams params;
  params.status = SessionStatus::kFailed;
  Session session = Create(params);
  At(kRetention);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
}

TEST_F(StoreExpiryTest, ApiClosedAndCreatedClosedSessionsArePurged) {
  Session by_update = Create();
  UpdateSessionParams close;
  close.status = SessionStatus::kClosed;
  ASSERT_TRUE(store_->UpdateSession(ks_, by_update.sid, close).ok());
  CreateSessionParams created_closed;
  created_closed.status = SessionStatus::kClosed;
  Session by_create = Create(created_closed);
  At(kRetention);
  EXPECT_EQ(store_->Advance(), 2);
  EXPECT_TRUE(IsSessionNotFound(Fetch(by_update.sid), ks_, by_update.sid));
  EXPECT_TRUE(IsSessionNotFound(Fetch(by_create.sid), ks_, by_create.sid));
}

// What never expires
// -----------------------------------------------------------------

TEST_F(StoreExpiryTest, UnknownStatusNeverExpires) {
  CreateSessionParams with_ttl;
  with_ttl.status = SessionStatus::kUnknown;
  with_ttl.ttl = 60;
  Session a = Create(with_ttl);
  CreateSessionParams with_date;
  with_date.status = SessionStatus::kUnknown;
  with_date.date_expiry = kT0 + absl::Seconds(60);
  Session b = Create(with_date);
  At(absl::Minutes(50));
  EXPECT_EQ(store_->Advance(), 0);
  for (const Session& s : {a, b}) {
    Session fetched = MustFetch(s.sid);
    EXPECT_EQ(fetched.status, SessionStatus::kUnknown);
    EXPECT_EQ(fetched.date_ended, std::nullopt);
    EXPECT_EQ(fetched.closed_reason, std::nullopt);
  }
  // An interaction leaves it unknown and still not expiring.
  ASSERT_TRUE(store_->RecordInteraction(ks_, a.sid).ok());
  At(absl::Minutes(55));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(a.sid).status, SessionStatus::kUnknown);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, UnknownSessionClosedByApiIsPurged) {
  CreateSessionParams params;
  params.status = SessionStatus::kUnknown;
  Session session = Create(params);
  UpdateSessionParams close;
  close.status = SessionStatus::kClosed;
  ASSERT_TRUE(store_->UpdateSession(ks_, session.sid, close).ok());
  At(kRetention);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
}

// A clock that goes back
// --------------------------------------------------------------

// A clock outside the years the API writes (0000 to 9999) reads as the
// nearest instant inside them, so no time arithmetic of the store can
// overflow (found by a review: an infinite clock overflowed base + ttl).
TEST_F(StoreExpiryTest, AClockOutsideYears0000To9999ReadsAsTheirNearestEnd) {
  const absl::Time last = absl::FromUnixMillis(253402300799999);
  const absl::Time first = absl::FromUnixMillis(-62167219200000);
  for (const absl::Time t : {absl::InfiniteFuture(), last + absl::Hours(1)}) {
    clock_.Set(t);
    const Session session = CreateWithTtl(60);
    EXPECT_EQ(session.date_created, last);
    EXPECT_EQ(store_->Advance(), 0);
    EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  }
  for (const absl::Time t : {absl::InfinitePast(), first - absl::Hours(1)}) {
    clock_.Set(t);
    const Session session = CreateWithTtl(60);
    EXPECT_EQ(session.date_created, first);
    EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  }
}

TEST_F(StoreExpiryTest, ClockGoingBackDoesNotExpireAnythingEarly) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(59));
  EXPECT_EQ(store_->Advance(), 0);
  clock_.Set(kT0 - absl::Hours(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(60) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
}

TEST_F(StoreExpiryTest,
       SessionCreatedAfterClockWentBackExpiresOnItsOwnInstant) {
  // The wheel has run to 1 h; then the clock is set back to kT0.
  At(absl::Hours(1) - absl::Minutes(1));
  EXPECT_EQ(store_->Advance(), 0);
  clock_.Set(kT0);
  Session session = CreateWithTtl(60);
  EXPECT_EQ(session.date_created, kT0);  // Timestamps follow the clock.
  EXPECT_EQ(store_->Advance(), 0);
  At(absl::Seconds(30));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(60) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kOpen);
  At(absl::Seconds(60));
  ExpectExpired(session, kT0 + absl::Seconds(60), kReasonTtl);
  ExpectInvariants();
}

TEST_F(StoreExpiryTest, ClockGoingBackDoesNotPurgeEarly) {
  Session session = CreateWithTtl(60);
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  At(absl::Seconds(60) + kRetention - absl::Seconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  clock_.Set(kT0);
  EXPECT_EQ(store_->Advance(), 0);
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(60));
  At(absl::Seconds(60) + kRetention);
  EXPECT_EQ(store_->Advance(), 1);
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
}

TEST_F(StoreExpiryTest, ManyExpiriesAcrossWheelLevelsAreExact) {
  // Instants spread from one tick to a day: each closes exactly on time.
  const std::vector<int64_t> ttls = {1,   2,   59,   60,    61,
                                     255, 256, 3600, 86399, 86400};
  std::vector<Session> sessions;
  for (int64_t ttl : ttls) sessions.push_back(CreateWithTtl(ttl));
  for (size_t i = 0; i < ttls.size(); ++i) {
    SCOPED_TRACE(ttls[i]);
    At(absl::Seconds(ttls[i]) - absl::Milliseconds(1));
    store_->Advance();
    EXPECT_EQ(MustFetch(sessions[i].sid).status, SessionStatus::kOpen);
    At(absl::Seconds(ttls[i]));
    EXPECT_EQ(store_->Advance(), 1);
    Session closed = MustFetch(sessions[i].sid);
    EXPECT_EQ(closed.status, SessionStatus::kClosed);
    EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(ttls[i]));
  }
  ExpectInvariants();
}

// An infinite closed_retention keeps ended Sessions until they are deleted:
// no purge, and nothing for the wheel to do once they have ended.
TEST(StoreRetentionTest, InfiniteRetentionNeverPurges) {
  ManualClock clock(kT0);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 7;
  options.closed_retention = absl::InfiniteDuration();
  std::unique_ptr<SessionStore> store = *SessionStore::Open(options);
  CreateServiceParams service;
  service.unique_name = "main";
  const Sid ks = store->CreateService(service)->sid;
  CreateSessionParams params;
  params.unique_name = "kept";
  params.ttl = 60;
  const Sid kc = store->CreateSession(ks, params)->sid;

  clock.Advance(absl::Hours(24 * 365 * 200));
  EXPECT_EQ(store->Advance(), 1);  // The expiry; never a purge.
  absl::StatusOr<Session> kept = store->FetchSession(ks, "kept");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->status, SessionStatus::kClosed);
  EXPECT_EQ(store->Stats().purged, 0);
  EXPECT_EQ(store->NextWakeup(), std::nullopt);
  EXPECT_TRUE(store->CheckInvariants().ok());
  EXPECT_TRUE(store->DeleteSession(ks, kc).ok());
}

TEST(StoreRetentionTest, RetentionOutOfRangeIsRefused) {
  StoreOptions options;
  options.closed_retention = absl::Seconds(-1);
  EXPECT_TRUE(absl::IsInvalidArgument(SessionStore::Open(options).status()));
  options.closed_retention = absl::Hours(24 * 365 * 101);
  EXPECT_TRUE(absl::IsInvalidArgument(SessionStore::Open(options).status()));
}

// Mass expiry in slices
// ----------------------------------------------------------

// A shard settles at most StoreOptions::bulk_slice due Sessions per lock hold
// and delivers their events before the next slice. One Advance still
// settles every due Session, each heard exactly once and in order, and a
// listener may call back into the store between slices.
class SlicedExpiryTest : public StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.shards = 1;  // Every Session in one shard: many slices.
    options.closed_retention = absl::ZeroDuration();  // Closed, then purged.
  }
};

class SliceListener : public SessionListener {
 public:
  explicit SliceListener(SessionStore* store, Sid ks)
      : store_(store), ks_(ks) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type == EventType::kCreated) return;
    events_.push_back({e.type, e.sid});
    // The first close creates a Session while the Advance is under way.
    if (e.type == EventType::kClosed && !created_) {
      created_ = true;
      CreateSessionParams params;
      params.unique_name = "made-in-a-listener";
      created_ok_ = store_->CreateSession(ks_, params, nullptr).ok();
    }
  }
  std::vector<std::pair<EventType, Sid>> events_;
  bool created_ = false;
  bool created_ok_ = false;

 private:
  SessionStore* const store_;
  const Sid ks_;
};

TEST_F(SlicedExpiryTest, OneAdvanceSettlesEverySliceAndHearsEachOnce) {
  const int n = 3 * StoreOptions().bulk_slice + 7;
  std::vector<Sid> sids;
  for (int i = 0; i < n; ++i) {
    CreateSessionParams params;
    params.ttl = 60;
    if (i % 2 == 0) params.unique_name = absl::StrCat("s", i);
    sids.push_back(Create(params).sid);
  }
  auto listener = std::make_shared<SliceListener>(store_.get(), ks_);
  store_->AddListener(listener);
  At(absl::Seconds(61));
  EXPECT_EQ(store_->Advance(), n);
  EXPECT_TRUE(listener->created_ok_);
  // Each Session closed, then purged, once; nothing else but the create.
  absl::flat_hash_map<Sid, std::vector<EventType>> by_sid;
  for (const auto& [type, sid] : listener->events_) by_sid[sid].push_back(type);
  ASSERT_EQ(by_sid.size(), static_cast<size_t>(n));
  for (const Sid& sid : sids) {
    EXPECT_EQ(by_sid[sid],
              (std::vector<EventType>{EventType::kClosed, EventType::kPurged}))
        << sid;
  }
  EXPECT_EQ(store_->Stats().sessions, 1);  // The listener's.
  EXPECT_TRUE(Fetch("made-in-a-listener").ok());
  EXPECT_EQ(store_->Stats().purged, n);
  ExpectInvariants();
}

// Bulk work is bounded by StoreOptions::bulk_slice whatever it is: Sessions
// far ahead (high on the wheel, so each cascades down several levels before
// it is due) expire at most a slice per lock hold, every one of them.
class SmallSliceExpiryTest : public StoreTest {
 protected:
  static constexpr int kSlice = 3;
  void ConfigureStore(StoreOptions& options) override {
    options.shards = 1;
    options.bulk_slice = kSlice;
    options.closed_retention = absl::InfiniteDuration();
  }
};

class ExpiredCountListener : public SessionListener {
 public:
  explicit ExpiredCountListener(SessionStore* store) : store_(store) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kClosed) return;
    closed_.push_back(e.sid);
    expired_when_heard_.push_back(store_->Stats().expired);
  }
  std::vector<Sid> closed_;
  std::vector<int64_t> expired_when_heard_;

 private:
  SessionStore* const store_;
};

TEST_F(SmallSliceExpiryTest, AFarMassExpiryGoesASliceAtATime) {
  constexpr int kSessions = 40;
  std::vector<Sid> sids;
  for (int i = 0; i < kSessions; ++i) {
    CreateSessionParams params;
    params.ttl = 86400 + i % 4;  // A day ahead: level 3 of the wheel.
    sids.push_back(Create(params).sid);
  }
  auto listener = std::make_shared<ExpiredCountListener>(store_.get());
  store_->AddListener(listener);
  At(absl::Hours(24 * 365));  // A clock jump well past them all.
  EXPECT_EQ(store_->Advance(), kSessions);
  ASSERT_EQ(listener->expired_when_heard_.size(),
            static_cast<size_t>(kSessions));
  for (int i = 0; i < kSessions; ++i) {
    // When event i is heard, the events before it were heard and its own
    // slice settled at most kSlice.
    EXPECT_GT(listener->expired_when_heard_[i], i) << "event " << i;
    EXPECT_LE(listener->expired_when_heard_[i], i + kSlice) << "event " << i;
  }
  std::vector<Sid> heard = listener->closed_;
  std::sort(heard.begin(), heard.end());
  std::sort(sids.begin(), sids.end());
  EXPECT_EQ(heard, sids);
  ExpectInvariants();
}

}  // namespace
}  // namespace sessionwheel
