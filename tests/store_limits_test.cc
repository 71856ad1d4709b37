// Tests of the Session limits (StoreOptions::max_sessions and
// max_sessions_per_service) and the Service limit (max_services): a create
// past a limit is refused with ResourceExhausted/20429 and evicts nothing;
// ended Sessions count until deleted or purged; a delete, a purge or a
// Service delete frees places; a bad request hears its own error first; and
// racing threads never take more places than there are.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::IsInvalidParameter;
using testing_util::IsProxyError;
using testing_util::StoreTest;

constexpr int64_t kMaxSessions = 8;
constexpr int64_t kMaxPerService = 5;
constexpr absl::Duration kRetention = absl::Hours(1);

::testing::AssertionResult IsTooManyRequests(const absl::Status& status) {
  return IsProxyError(status, absl::StatusCode::kResourceExhausted,
                      kErrorTooManyRequests);
}

template <typename T>
::testing::AssertionResult IsTooManyRequests(const absl::StatusOr<T>& result) {
  return IsTooManyRequests(result.status());
}

CreateSessionParams Named(const std::string& name) {
  CreateSessionParams params;
  params.unique_name = name;
  return params;
}

// A store of at most kMaxSessions Sessions, kMaxPerService per Service,
// with ended Sessions purged after kRetention.
class StoreLimitsTest : public StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.max_sessions = kMaxSessions;
    options.max_sessions_per_service = kMaxPerService;
    options.closed_retention = kRetention;
  }

  // Creates `count` Sessions named prefix0, prefix1... in Service `ks`.
  std::vector<Session> Fill(const Sid& ks, const std::string& prefix,
                            int64_t count) {
    std::vector<Session> out;
    for (int64_t i = 0; i < count; ++i) {
      out.push_back(Create(ks, Named(absl::StrCat(prefix, i))));
    }
    return out;
  }
};

TEST(StoreLimitsOptionsTest, OpenRefusesANegativeLimit) {
  StoreOptions options;
  options.max_sessions = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(SessionStore::Open(options).status()));
  options.max_sessions = kNoLimit;
  options.max_sessions_per_service = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(SessionStore::Open(options).status()));
  options.max_sessions_per_service = kNoLimit;
  options.max_services = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(SessionStore::Open(options).status()));
}

TEST(StoreLimitsOptionsTest, ByDefaultThereIsNoLimit) {
  StoreOptions options;
  EXPECT_EQ(options.max_sessions, kNoLimit);
  EXPECT_EQ(options.max_sessions_per_service, kNoLimit);
  EXPECT_EQ(options.max_services, kNoLimit);
}

// The Service limit is reached exactly: the next create is refused and
// nothing is evicted; a name or a SID in use still hears that it is (the
// limit is the last check); a Service delete frees a place.
TEST(StoreLimitsOptionsTest,
     TheServiceLimitRefusesPastItUntilADeleteFreesAPlace) {
  ManualClock clock(testing_util::kT0);
  StoreOptions options;
  options.clock = &clock;
  options.max_services = 3;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  std::vector<Sid> services;
  for (int i = 0; i < 3; ++i) {
    CreateServiceParams params;
    params.unique_name = absl::StrCat("svc-", i);
    services.push_back(store->CreateService(params).value().sid);
  }
  CreateServiceParams fourth;
  fourth.unique_name = "svc-3";
  EXPECT_TRUE(IsTooManyRequests(store->CreateService(fourth)));
  CreateServiceParams taken;
  taken.unique_name = "svc-0";
  EXPECT_TRUE(absl::IsAlreadyExists(store->CreateService(taken).status()));
  CreateServiceParams same_sid;
  same_sid.sid = services[0];
  same_sid.unique_name = "another-name";
  EXPECT_TRUE(absl::IsAlreadyExists(store->CreateService(same_sid).status()));
  EXPECT_EQ(store->Stats().services, 3);
  for (const Sid& ks : services) EXPECT_TRUE(store->FetchService(ks).ok());

  ASSERT_TRUE(store->DeleteService(services[1]).ok());
  EXPECT_TRUE(store->CreateService(fourth).ok());
  CreateServiceParams fifth;
  fifth.unique_name = "svc-4";
  EXPECT_TRUE(IsTooManyRequests(store->CreateService(fifth)));
}

TEST(StoreLimitsOptionsTest, ALimitOfZeroRefusesEveryCreate) {
  ManualClock clock(testing_util::kT0);
  StoreOptions options;
  options.clock = &clock;
  options.max_sessions = 0;
  std::unique_ptr<SessionStore> store = SessionStore::Open(options).value();
  CreateServiceParams service;
  service.unique_name = "empty";
  const Sid ks = store->CreateService(service).value().sid;
  EXPECT_TRUE(IsTooManyRequests(store->CreateSession(ks, {})));
  EXPECT_EQ(store->Stats().sessions, 0);
}

TEST_F(StoreLimitsTest, TheServiceLimitIsReachedExactlyAndNothingIsEvicted) {
  std::vector<Session> held = Fill(ks_, "s", kMaxPerService);
  absl::StatusOr<Session> refused = store_->CreateSession(ks_, Named("over"));
  ASSERT_TRUE(IsTooManyRequests(refused));
  EXPECT_EQ(refused.status().message(),
            "Too Many Requests: the Service holds its maximum of 5 Sessions.");
  // Every Session is still there; the refused one took no name.
  for (const Session& s : held) EXPECT_TRUE(Fetch(s.sid).ok()) << s.sid;
  EXPECT_TRUE(absl::IsNotFound(Fetch("over").status()));
  EXPECT_EQ(store_->Stats().sessions, kMaxPerService);
  ExpectInvariants();
}

TEST_F(StoreLimitsTest, TheStoreLimitSpansServices) {
  const Sid other = NewService("other");
  Fill(ks_, "main", kMaxPerService);
  Fill(other, "other", kMaxSessions - kMaxPerService);
  // Neither Service is full, the store is.
  absl::StatusOr<Session> refused = store_->CreateSession(other, {});
  ASSERT_TRUE(IsTooManyRequests(refused));
  EXPECT_EQ(refused.status().message(),
            "Too Many Requests: the store holds its maximum of 8 Sessions.");
  EXPECT_EQ(store_->Stats().sessions, kMaxSessions);
  ExpectInvariants();
}

TEST_F(StoreLimitsTest, OneFullServiceLeavesTheOthersFree) {
  Fill(ks_, "main", kMaxPerService);
  ASSERT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  const Sid other = NewService("other");
  EXPECT_TRUE(store_->CreateSession(other, {}).ok());
}

TEST_F(StoreLimitsTest, EndedSessionsCountUntilDeleted) {
  std::vector<Session> held = Fill(ks_, "s", kMaxPerService);
  ASSERT_TRUE(store_->CloseSession(ks_, held[0].sid, "done").ok());
  ASSERT_TRUE(store_->FailSession(ks_, held[1].sid, "broke").ok());
  EXPECT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  ASSERT_TRUE(store_->DeleteSession(ks_, held[0].sid).ok());
  EXPECT_TRUE(store_->CreateSession(ks_, {}).ok());
  EXPECT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  ExpectInvariants();
}

TEST_F(StoreLimitsTest, APurgeFreesAPlace) {
  CreateSessionParams expiring;
  expiring.ttl = 60;
  Create(expiring);
  Fill(ks_, "s", kMaxPerService - 1);
  At(absl::Seconds(60));  // Expired: closed, still held.
  EXPECT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  At(absl::Seconds(60) + kRetention);  // Purged, even before Advance().
  EXPECT_TRUE(store_->CreateSession(ks_, {}).ok());
  EXPECT_EQ(store_->Stats().purged, 1);
  ExpectInvariants();
}

// A purge is run when its tick comes (the store's `tick`, 10 ms here): one
// due between two ticks frees its place by the next tick boundary, as an
// expiry's event comes by then (semantics.md, "Due purges first").
TEST_F(StoreLimitsTest, APurgeDueBetweenTwoTicksFreesItsPlaceByTheNextTick) {
  At(absl::Milliseconds(5));  // Off the 10 ms grid.
  CreateSessionParams closed;
  closed.status = SessionStatus::kClosed;  // Ended now: purged an hour on.
  Create(closed);
  Fill(ks_, "s", kMaxPerService - 1);
  EXPECT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  At(absl::Milliseconds(10) + kRetention);  // The tick after its purge.
  EXPECT_TRUE(store_->CreateSession(ks_, {}).ok());
  EXPECT_EQ(store_->Stats().purged, 1);
  ExpectInvariants();
}

TEST_F(StoreLimitsTest, DeletingAServiceFreesItsPlaces) {
  const Sid doomed = NewService("doomed");
  Fill(doomed, "d", kMaxPerService);
  Fill(ks_, "s", kMaxSessions - kMaxPerService);
  ASSERT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  ASSERT_TRUE(store_->DeleteService(doomed).ok());
  // The store's places are back, and the surviving Service's count is its
  // own: it fills up to its limit and no further.
  Fill(ks_, "more", kMaxPerService - (kMaxSessions - kMaxPerService));
  EXPECT_TRUE(IsTooManyRequests(store_->CreateSession(ks_, {})));
  EXPECT_EQ(store_->Stats().sessions, kMaxPerService);
  ExpectInvariants();
}

TEST_F(StoreLimitsTest, ARequestWithItsOwnFaultHearsThatFaultFirst) {
  Fill(ks_, "s", kMaxPerService);
  CreateSessionParams bad_ttl;
  bad_ttl.ttl = -1;
  EXPECT_TRUE(IsInvalidParameter(store_->CreateSession(ks_, bad_ttl), "Ttl"));
  CreateSessionParams crowded;
  crowded.participants.resize(3);
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, crowded),
                           absl::StatusCode::kInvalidArgument,
                           kErrorTooManyParticipants));
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, Named("s0")),
                           absl::StatusCode::kAlreadyExists,
                           kErrorSessionNameTaken));
  EXPECT_TRUE(IsProxyError(store_->CreateSession(Sid("KS", 0, 0), {}),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  // None of them took a place.
  ASSERT_TRUE(store_->DeleteSession(ks_, MustFetch("s0").sid).ok());
  EXPECT_TRUE(store_->CreateSession(ks_, {}).ok());
}

// Concurrency ---------------------------------------------------------------

#if defined(SESSIONWHEEL_TSAN)
constexpr int kRounds = 200;
#else
constexpr int kRounds = 2000;
#endif
constexpr int kThreads = 4;

// Runs work(0) .. work(kThreads - 1) on threads of their own, at once.
template <typename Work>
void Race(Work work) {
  std::vector<std::thread> threads;
  for (int id = 0; id < kThreads; ++id) threads.emplace_back(work, id);
  for (std::thread& t : threads) t.join();
}

std::unique_ptr<SessionStore> OpenLimited(int64_t max_sessions,
                                          int64_t max_per_service,
                                          ManualClock* clock) {
  StoreOptions options;
  options.clock = clock;
  options.seed = 7;
  options.max_sessions = max_sessions;
  options.max_sessions_per_service = max_per_service;
  return SessionStore::Open(options).value();
}

// What thread `id` creates on its `i`-th try: every other Session named, so
// the creates land on every shard (an unnamed one's shard is random).
CreateSessionParams RacerParams(int id, int i) {
  CreateSessionParams params;
  if (i % 2 == 0) params.unique_name = absl::StrCat("t", id, "-", i);
  return params;
}

Sid NewService(SessionStore& store, const std::string& name) {
  CreateServiceParams params;
  params.unique_name = name;
  return store.CreateService(params).value().sid;
}

// Threads racing into one Service take exactly its places; every refusal
// is 20429.
TEST(StoreLimitsConcurrencyTest, RacingCreatesTakeExactlyTheServicesPlaces) {
  constexpr int64_t kServiceMax = 150;
  constexpr int kPerThread = 100;  // 400 tries for 150 places.
  ManualClock clock(testing_util::kT0);
  std::unique_ptr<SessionStore> store =
      OpenLimited(kNoLimit, kServiceMax, &clock);
  const Sid ks = NewService(*store, "raced");
  std::atomic<int64_t> created{0};
  std::atomic<int> other_errors{0};
  Race([&](int id) {
    for (int i = 0; i < kPerThread; ++i) {
      absl::StatusOr<Session> s = store->CreateSession(ks, RacerParams(id, i));
      if (s.ok()) {
        created.fetch_add(1);
      } else if (!IsTooManyRequests(s)) {
        other_errors.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(created.load(), kServiceMax);
  EXPECT_EQ(store->Stats().sessions, kServiceMax);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

// Threads racing into four Services whose limits add up to more than the
// store's: the store ends exactly full and no Service passes its own.
TEST(StoreLimitsConcurrencyTest, RacingCreatesTakeExactlyTheStoresPlaces) {
  constexpr int64_t kStoreMax = 300;
  constexpr int64_t kServiceMax = 100;
  constexpr int kPerThread = 100;  // Each Service gets 100 tries or more.
  ManualClock clock(testing_util::kT0);
  std::unique_ptr<SessionStore> store =
      OpenLimited(kStoreMax, kServiceMax, &clock);
  std::vector<Sid> services;
  for (int i = 0; i < 4; ++i) {
    services.push_back(NewService(*store, absl::StrCat("svc", i)));
  }
  std::atomic<int64_t> created[4] = {};
  std::atomic<int> other_errors{0};
  Race([&](int id) {
    for (int i = 0; i < kPerThread; ++i) {
      // Each thread its own Service on even tries, another on odd ones.
      const int which = (id + i % 2) % 4;
      absl::StatusOr<Session> s = store->CreateSession(services[which], {});
      if (s.ok()) {
        created[which].fetch_add(1);
      } else if (!IsTooManyRequests(s)) {
        other_errors.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(other_errors.load(), 0);
  int64_t total = 0;
  for (const std::atomic<int64_t>& n : created) {
    EXPECT_LE(n.load(), kServiceMax);
    total += n.load();
  }
  EXPECT_EQ(total, kStoreMax);
  EXPECT_EQ(store->Stats().sessions, kStoreMax);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

// Threads that create, hold and delete never hold more Sessions between
// them than the limit allows, and leave no place taken behind.
TEST(StoreLimitsConcurrencyTest, CreateAndDeleteNeverPassTheLimitNorLeak) {
  constexpr int64_t kLimit = 3;
  ManualClock clock(testing_util::kT0);
  std::unique_ptr<SessionStore> store = OpenLimited(kNoLimit, kLimit, &clock);
  const Sid ks = NewService(*store, "churn");
  // Counted up after a create succeeds and down before the delete, so it
  // never exceeds what the store holds.
  std::atomic<int64_t> held{0};
  std::atomic<int64_t> most_held{0};
  std::atomic<int> failures{0};
  Race([&](int id) {
    for (int i = 0; i < kRounds; ++i) {
      absl::StatusOr<Session> s = store->CreateSession(ks, RacerParams(id, i));
      if (!s.ok()) {
        if (!IsTooManyRequests(s)) failures.fetch_add(1);
        continue;
      }
      const int64_t now_held = held.fetch_add(1) + 1;
      int64_t most = most_held.load();
      while (now_held > most &&
             !most_held.compare_exchange_weak(most, now_held)) {
      }
      held.fetch_sub(1);
      if (!store->DeleteSession(ks, s->sid).ok()) failures.fetch_add(1);
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(most_held.load(), kLimit);
  EXPECT_EQ(store->Stats().sessions, 0);
  // Every place came back: the Service fills to its limit again, exactly.
  for (int64_t i = 0; i < kLimit; ++i) {
    EXPECT_TRUE(store->CreateSession(ks, {}).ok()) << i;
  }
  EXPECT_TRUE(IsTooManyRequests(store->CreateSession(ks, {})));
  EXPECT_TRUE(store->CheckInvariants().ok());
}

}  // namespace
}  // namespace sessionwheel
