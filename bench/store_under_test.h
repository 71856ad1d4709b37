// The one interface every store in the benchmarks answers to, so that
// sessionwheel and the baselines run the very same workloads.
//
// A store under test holds the Sessions of one Service. A call that answers
// fills a caller-owned `sessionwheel::Session`, reusing its buffers, as the
// engine's public API does, so "fetch" means the same work everywhere: find
// the Session, apply any due expiry, and copy it out. Calls that answer
// nothing in the engine (an interaction) answer nothing here either. Each store
// reads the time from the Clock it is given, on every call, as the engine does.
//
// The stores:
//
//   sessionwheel  the engine, through its public API (SessionStore::Open)
//   multimap      (a) one std::mutex; std::unordered_map by SID and by name;
//                 std::multimap by deadline
//   lazy_heap     (b) one std::mutex; absl::flat_hash_map by SID and by name;
//                 a std::priority_queue of (deadline, version, Session) with
//                 lazy deletion
//   indexed_heap  (c) one std::mutex; absl::flat_hash_map by SID and by name;
//                 an indexed 4-ary heap with position tracking
//   limit         (d) the no-concurrency limit, a reference rather than a
//                 rival: no locks, fixed-size records in one vector, the
//                 record's slot in its SID, a table of 32-bit handles by
//                 name, a 1 ms timer wheel of handles (baseline_limit.cc).
//                 Single-threaded: the two-thread workloads and the expiry
//                 thread skip it (see SingleThreaded)
//
// Example:
//
//   sessionwheel::ManualClock clock(absl::FromUnixSeconds(1798761600));
//   StoreConfig config;
//   config.clock = &clock;
//   auto store = OpenStore(StoreKind::kIndexedHeap, config);
//   Session s;
//   store->Create("ride-000000000042", 60, &s);
//   clock.Advance(absl::Seconds(60));
//   store->Advance();  // closes it: status closed, closed_reason "ttl"

#ifndef SESSIONWHEEL_BENCH_STORE_UNDER_TEST_H_
#define SESSIONWHEEL_BENCH_STORE_UNDER_TEST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/types/span.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel::bench {

enum class StoreKind {
  kSessionwheel,
  kMultimap,
  kLazyHeap,
  kIndexedHeap,
  kLimit,
};

inline constexpr StoreKind kAllStores[] = {
    StoreKind::kSessionwheel, StoreKind::kMultimap, StoreKind::kLazyHeap,
    StoreKind::kIndexedHeap,  StoreKind::kLimit,
};

// "sessionwheel", "multimap", "lazy_heap", "indexed_heap", "limit": the
// second part of every benchmark's name.
std::string_view StoreName(StoreKind kind);

// True for a store that must only be called from one thread and cannot run
// background_expiry (limit): workloads with two threads leave it out.
bool SingleThreaded(StoreKind kind);

struct StoreConfig {
  // Where time comes from; required, not owned. A ManualClock for workloads
  // that move time by hand, SystemClock() with background_expiry.
  Clock* clock = nullptr;

  // Run expiry on a thread the store owns, sleeping until the next deadline
  // (or until a Session is scheduled earlier). Otherwise expiry runs only in
  // Advance() and when a call touches a Session that is due.
  bool background_expiry = false;

  // Hears every expiry as a kClosed event, delivered with no store lock held.
  // sessionwheel also sends its other events (created, interaction...). Null
  // for none: no store builds events nobody hears.
  std::shared_ptr<SessionListener> listener;

  // Seeds the SIDs a store mints, so runs are repeatable.
  uint64_t seed = 1;

  // Frees each Session as it expires (sessionwheel: closed_retention 0, its
  // close and purge in one pass), as Redis and Caffeine do. Otherwise ended
  // Sessions are kept until deleted.
  bool free_on_expiry = false;
};

// A store of one Service's Sessions, expiring them by ttl; thread-safe unless
// SingleThreaded says otherwise.
class ExpiryStoreUnderTest {
 public:
  virtual ~ExpiryStoreUnderTest() = default;

  // Creates an open Session named `unique_name` with `ttl` seconds (0: no
  // ttl), minting a random "KC" SID, and fills *out. False if the name is
  // held.
  virtual bool Create(std::string_view unique_name, int64_t ttl,
                      Session* out) = 0;

  // Fills *out with the Session with this SID; false if there is none.
  virtual bool FetchBySid(const Sid& sid, Session* out) = 0;

  // Fills out[i] with the Session of sids[i]; false if one is missing. A
  // store without a call for many keys answers them one by one.
  virtual bool FetchBySidBatch(absl::Span<const Sid> sids,
                               absl::Span<Session> out) {
    for (size_t i = 0; i < sids.size(); ++i) {
      if (!FetchBySid(sids[i], &out[i])) return false;
    }
    return true;
  }

  // Fills *out with the Session holding this unique_name; false if none.
  virtual bool FetchByName(std::string_view unique_name, Session* out) = 0;

  // Fills out[i] with the Session holding names[i]; false if one is
  // missing. A store without a call for many keys answers them one by one.
  virtual bool FetchByNameBatch(absl::Span<const std::string_view> names,
                                absl::Span<Session> out) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (!FetchByName(names[i], &out[i])) return false;
    }
    return true;
  }

  // Sets the ttl of a live Session, its window still starting at the last
  // interaction (or the create), and fills *out. False if absent or ended.
  virtual bool UpdateTtl(const Sid& sid, int64_t ttl, Session* out) = 0;

  // Records an interaction now: the Session becomes in-progress and its ttl
  // window restarts. False if absent or ended.
  virtual bool RecordInteraction(const Sid& sid) = 0;

  // Closes every Session whose expiry instant is at or before the clock's
  // now (status closed, closed_reason "ttl", date_ended the instant) and
  // returns how many it closed.
  virtual int64_t Advance() = 0;
};

// Opens an empty store of `kind`. Never null.
std::unique_ptr<ExpiryStoreUnderTest> OpenStore(StoreKind kind,
                                                const StoreConfig& config);

// The factories behind OpenStore, one per file.
std::unique_ptr<ExpiryStoreUnderTest> OpenSessionwheel(
    const StoreConfig& config);
std::unique_ptr<ExpiryStoreUnderTest> OpenMultimapBaseline(
    const StoreConfig& config);
std::unique_ptr<ExpiryStoreUnderTest> OpenLazyHeapBaseline(
    const StoreConfig& config);
std::unique_ptr<ExpiryStoreUnderTest> OpenIndexedHeapBaseline(
    const StoreConfig& config);
std::unique_ptr<ExpiryStoreUnderTest> OpenLimitBaseline(
    const StoreConfig& config);

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_STORE_UNDER_TEST_H_
