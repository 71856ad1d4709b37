// The store hands out answers and events without touching the heap in
// steady state (docs/design.md, "What the store hands out"): a host that
// reuses one Session allocates nothing per fetch, and a listener costs no
// allocation per event. This binary counts every operator new.

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// Counting replacements of the global allocation functions, for this test
// binary only. The other forms (arrays, nothrow, aligned) forward here.
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace sessionwheel {
namespace {

using testing_util::StoreTest;

// Heap allocations made while `fn` runs.
template <typename Fn>
long AllocationsDuring(Fn fn) {
  const long before = g_allocations.load(std::memory_order_relaxed);
  fn();
  return g_allocations.load(std::memory_order_relaxed) - before;
}

class AllocationTest : public StoreTest {
 protected:
  // 1000 Sessions with 16-character names (past std::string's inline
  // capacity) and a TTL.
  std::vector<Sid> CreateSome() {
    std::vector<Sid> sids;
    for (int i = 0; i < 1000; ++i) {
      CreateSessionParams params;
      params.unique_name = absl::StrCat("ride-00000000", 1000 + i);
      params.ttl = 3600;
      sids.push_back(Create(params).sid);
    }
    return sids;
  }
};

TEST_F(AllocationTest, AFetchIntoAReusedSessionAllocatesNothing) {
  const std::vector<Sid> sids = CreateSome();
  Session answer;
  ASSERT_TRUE(store_->FetchSession(ks_, sids[0], &answer).ok());  // Warm.
  EXPECT_EQ(AllocationsDuring([&] {
              for (const Sid& sid : sids) {
                ASSERT_TRUE(store_->FetchSession(ks_, sid, &answer).ok());
              }
            }),
            0);
  EXPECT_EQ(
      AllocationsDuring([&] {
        for (int i = 0; i < 1000; ++i) {
          ASSERT_TRUE(
              store_
                  ->FetchSession(ks_, absl::StrCat("ride-00000000", 1000 + i),
                                 &answer)
                  .ok());
        }
      }),
      1000)  // The test's own StrCat, one per name; the store none.
      << "the store allocated while fetching by name";
}

TEST_F(AllocationTest, InteractionsAndTheirEventsAllocateNothing) {
  const std::vector<Sid> sids = CreateSome();
  class Counter : public SessionListener {
   public:
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type == EventType::kInteraction) ++heard;
    }
    long heard = 0;
  };
  auto counter = std::make_shared<Counter>();
  store_->AddListener(counter);
  // Warm up: the event queue and its text arena reach their size.
  for (int round = 0; round < 3; ++round) {
    for (const Sid& sid : sids) {
      ASSERT_TRUE(store_->RecordInteraction(ks_, sid).ok());
    }
  }
  EXPECT_EQ(AllocationsDuring([&] {
              for (const Sid& sid : sids) {
                ASSERT_TRUE(store_->RecordInteraction(ks_, sid).ok());
              }
            }),
            0);
  EXPECT_EQ(counter->heard, 4000);
}

// A mass expiry's own bookkeeping may still grow (the wheel's slot arrays
// reach their size only once every slot has been used), so this compares
// two identical stores, one heard by a listener: the listener must add no
// allocation at all once the event queues have reached their size.
TEST(AllocationExpiryTest, AListenerAddsNoAllocationToAMassExpiry) {
  class Counter : public SessionListener {
   public:
    void OnEvent(const SessionEvent& e) noexcept override {
      if (e.type == EventType::kClosed) ++closed;
    }
    long closed = 0;
  };
  auto counter = std::make_shared<Counter>();
  // Allocations of each round's Advance, per store.
  std::vector<long> advances[2];
  for (int heard = 0; heard < 2; ++heard) {
    ManualClock clock(testing_util::kT0);
    StoreOptions options;
    options.clock = &clock;
    options.seed = 7;
    options.closed_retention = absl::ZeroDuration();  // Closed, purged, freed.
    auto store = SessionStore::Open(options).value();
    if (heard == 1) store->AddListener(counter);
    CreateServiceParams service;
    service.unique_name = "main";
    const Sid ks = store->CreateService(service)->sid;
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 1000; ++i) {
        CreateSessionParams params;
        params.unique_name = absl::StrCat("ride-00000000", 1000 + i);
        params.ttl = 60;
        ASSERT_TRUE(store->CreateSession(ks, params, nullptr).ok());
      }
      clock.Advance(absl::Seconds(61));
      advances[heard].push_back(
          AllocationsDuring([&] { EXPECT_EQ(store->Advance(), 1000); }));
    }
  }
  EXPECT_EQ(counter->closed, 4000);
  // The queue and the deliverer's buffers swap at each delivery, so each
  // grows once, in the first two rounds; after that, the same count heard
  // or not.
  EXPECT_EQ(advances[1][2], advances[0][2]);
  EXPECT_EQ(advances[1][3], advances[0][3]);
}

}  // namespace
}  // namespace sessionwheel
