// sessionwheel-bench: every workload of the performance brief (issue 4), run
// for sessionwheel, the three baselines and the no-concurrency limit side by
// side. The limit is single-threaded: it is left out of the two-thread runs
// of fetch_sid and mix_80_20, and of lateness_system (an expiry thread).
//
// Each benchmark is named "<workload>/<store>". At N live Sessions
// (SW_BENCH_SESSIONS, default 1,000,000) with random SIDs and 16-character
// unique_names:
//
//   create            load N Sessions into an empty store (random ttls);
//                     also bytes_per_session, from the allocator
//   create_no_ttl     the same with ttl 0: what the expiry bookkeeping costs
//   growth_worst_create  the same, each create timed alone: the worst (in
//                     wall and in CPU time) and the 99.9th percentile, where
//                     a table's growth shows;
//                     then all expire and are freed, and the heap still in
//                     use is reported (heap_after_purge_mb)
//   fetch_sid         fetch a random live Session by SID (1 and 2 threads)
//   fetch_sid_batch   the same, 64 random live Sessions a call
//                     (SessionStore::FetchSessions); the rate is Sessions
//   fetch_name        fetch a random live Session by unique_name
//   fetch_name_batch  the same, 64 random live Sessions a call
//                     (SessionStore::FetchSessionsByName)
//   update_ttl        set a random live Session's ttl
//   interaction       record an interaction on a random live Session
//   mix_80_20         80% fetch by SID, 20% interaction (1 and 2 threads)
//   expire_same_tick  n Sessions due in one tick, closed by one Advance
//                     (n from 10k to 4M, up to 4 N: the chart's sweep)
//   expire_same_tick_cold  the same at N, the Advance starting from creation
//   expire_same_tick_{heard,freed,freed_heard}[_cold]  the same, heard by
//                     a listener of closes (EventTypes{kClosed}) and/or
//                     freed as they expire (closed_retention 0)
//   expire_same_tick_freed_heard_all  freed, heard by a listener of every
//                     type (a purge event too, for each Session)
//   expire_spread     N Sessions due over 60 s, advanced every 10 ms tick
//   expire_spread_freed_heard_1s  the same, freed and heard, advanced every
//                     second (issue 9's row, and the Caffeine peer's steps)
//   lateness_manual   close-event time minus expiry instant, manual clock
//   lateness_system   the same on the system clock, background expiry
//   memory_latency    one dependent load from DRAM: no store, one run; the
//                     floor under every single-call rate (ns_per_load)
//
// and the durability workloads (durable_*, disk_sync), sessionwheel only, by
// sync policy against the in-memory store: durability_benchmarks.cc.
//
// The per-operation workloads share one store per kind with N live Sessions,
// built on first use (untimed) and kept. The one-shot workloads build a store
// in every iteration and time only their part (manual time), one iteration
// per repetition. Nothing here asserts a time: a benchmark whose store gives
// a wrong answer stops with an error, and the binary then exits 1.
//
// Run: ./dev.sh bench (5 repetitions, medians), or build/release/bench/
// sessionwheel-bench with any Google Benchmark flags.

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/durability_benchmarks.h"
#include "bench/store_under_test.h"
#include "bench/summary_reporter.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/store.h"

namespace sessionwheel::bench {
namespace {

using benchmark::State;
using Benchmark = benchmark::internal::Benchmark;

// The engine's default tick, at which the expiry workloads step the clock.
constexpr absl::Duration kTick = absl::Milliseconds(10);

// The per-operation workloads move the manual clock 1 ms per this many
// operations (of thread 0), so interactions restart their windows at new
// instants, as in a running system.
constexpr int64_t kOpsPerMs = 256;

// Sessions in lateness_system: enough to load the expiry path, few enough
// that a run takes seconds of wall time.
constexpr int64_t kSystemLatenessSessions = 100'000;

StoreConfig ManualConfig(ManualClock* clock) {
  StoreConfig config;
  config.clock = clock;
  return config;
}

// What becomes of expired Sessions, and whether a listener hears them.
struct ExpiryMode {
  bool freed = false;     // Freed at once rather than kept as closed.
  bool listener = false;  // A CloseCounter listens.
  // It hears every type of event, and counts the closes among them, rather
  // than hearing closes only (a freed Session's purge too, then).
  bool hears_all = false;
};

// A listener that only counts close events: the cheapest a host can be. It
// hears kClosed only, unless told to hear every type.
class CloseCounter : public SessionListener {
 public:
  explicit CloseCounter(bool hears_all = false) : hears_all_(hears_all) {}
  EventTypes Hears() const override {
    return hears_all_ ? EventTypes::All() : EventTypes{EventType::kClosed};
  }
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type == EventType::kClosed) {
      closed_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  int64_t closed() const { return closed_.load(std::memory_order_relaxed); }

 private:
  const bool hears_all_;
  std::atomic<int64_t> closed_{0};
};

StoreConfig ExpiryConfig(ManualClock* clock, ExpiryMode mode,
                         std::shared_ptr<CloseCounter> counter) {
  StoreConfig config = ManualConfig(clock);
  config.free_on_expiry = mode.freed;
  if (mode.listener) config.listener = std::move(counter);
  return config;
}

// Runs `fn` and returns its wall time in seconds.
template <typename Fn>
double TimeSeconds(Fn fn) {
  const auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// Creates Sessions [from, to) of the shared names with `ttl`; false if the
// store refused one.
bool CreateRange(ExpiryStoreUnderTest* store, int64_t from, int64_t to,
                 int64_t ttl) {
  const KeyList& names = UniqueNames(static_cast<size_t>(to));
  Session out;
  for (int64_t i = from; i < to; ++i) {
    if (!store->Create(names[i], ttl, &out)) return false;
  }
  return true;
}

// The live store -------------------------------------------------------------

// A store holding N live Sessions with long ttls, shared by the per-operation
// workloads and their threads, with its keys in random order.
struct LiveStore {
  ManualClock clock{Start()};
  std::unique_ptr<ExpiryStoreUnderTest> store;
  std::vector<Sid> sids;
  KeyList names{16};
};

// The live store of `kind`, built on first use. Never destroyed: tearing
// down millions of Sessions at exit would only add to the run.
LiveStore& Live(StoreKind kind) {
  static std::mutex mu;
  static auto* stores = new std::map<StoreKind, std::unique_ptr<LiveStore>>;
  std::lock_guard<std::mutex> l(mu);
  std::unique_ptr<LiveStore>& live = (*stores)[kind];
  if (live != nullptr) return *live;
  live = std::make_unique<LiveStore>();
  live->store = OpenStore(kind, ManualConfig(&live->clock));
  const int64_t n = SessionCount();
  const KeyList& names = UniqueNames(n);
  KeyList own_names(16);
  Session s;
  for (int64_t i = 0; i < n; ++i) {
    if (!live->store->Create(names[i], LiveTtl(i), &s)) {
      std::fprintf(stderr, "sessionwheel-bench: %s refused a fresh name\n",
                   std::string(StoreName(kind)).c_str());
      std::abort();
    }
    live->sids.push_back(s.sid);
    own_names.Add(names[i]);
  }
  // As a store's expiry thread would have by now (nothing is due): for
  // sessionwheel, this finishes any resize of a name index under way, so
  // that the lookups below see the index as it is between resizes.
  live->store->Advance();
  std::shuffle(live->sids.begin(), live->sids.end(), std::mt19937_64(1));
  live->names = own_names.Shuffled(2);
  return *live;
}

// Where a thread starts walking the keys: random, so that repeated runs do
// not replay the same (cached) prefix.
size_t StartIndex(const State& state, size_t n) {
  thread_local std::mt19937_64 rng(state.thread_index() + 1);
  return rng() % n;
}

// Per-operation workloads --------------------------------------------------

// The loop of every per-operation workload: `op(key, i, &answer)` on the
// live keys in order from a random start, `i` being the key's index, into
// one Session the thread reuses, as a host would; a call that misses fails
// the run. With `moves_clock`, thread 0 moves the clock 1 ms every
// kOpsPerMs calls. A template, so `op` inlines and costs what a hand-written
// loop would.
template <typename Keys, typename Op>
void RunOnLiveKeys(State& state, LiveStore& live, const Keys& keys,
                   const char* miss, bool moves_clock, Op op) {
  const size_t n = keys.size();
  moves_clock = moves_clock && state.thread_index() == 0;
  size_t i = StartIndex(state, n);
  int64_t ops = 0;
  Session answer;
  for (auto _ : state) {
    if (!op(keys[i], i, &answer)) {
      state.SkipWithError(miss);
      break;
    }
    benchmark::DoNotOptimize(answer);
    if (++i == n) i = 0;
    if (moves_clock && ++ops % kOpsPerMs == 0) {
      live.clock.Advance(absl::Milliseconds(1));
    }
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FetchBySid(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  RunOnLiveKeys(state, live, live.sids, "fetch by SID missed a live Session",
                false, [&](const Sid& sid, size_t, Session* out) {
                  return live.store->FetchBySid(sid, out);
                });
}

// The loop of the batch workloads: `fetch(keys, answers)` on kBatch
// consecutive live keys a call from a random start, into Sessions the
// thread reuses; items are Sessions, so the rates compare with the single
// calls'. A call that misses fails the run.
template <typename Fetch>
void RunBatches(State& state, size_t live_keys, const char* miss, Fetch fetch) {
  constexpr size_t kBatch = 64;
  const size_t n = live_keys / kBatch * kBatch;
  if (n == 0) {
    state.SkipWithError("a batch needs at least 64 live Sessions");
    return;
  }
  size_t i = StartIndex(state, n) / kBatch * kBatch;
  std::vector<Session> answers(kBatch);
  for (auto _ : state) {
    if (!fetch(i, kBatch, absl::MakeSpan(answers))) {
      state.SkipWithError(miss);
      break;
    }
    benchmark::DoNotOptimize(answers.data());
    i += kBatch;
    if (i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// Fetches by SID 64 random live Sessions a call (FetchBySidBatch).
void BM_FetchBySidBatch(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  RunBatches(state, live.sids.size(),
             "a batch fetch by SID missed a live Session",
             [&](size_t first, size_t count, absl::Span<Session> out) {
               return live.store->FetchBySidBatch(
                   absl::MakeConstSpan(live.sids.data() + first, count), out);
             });
}

void BM_FetchByName(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  RunOnLiveKeys(state, live, live.names, "fetch by name missed a live Session",
                false, [&](std::string_view name, size_t, Session* out) {
                  return live.store->FetchByName(name, out);
                });
}

// Fetches by unique_name 64 random live Sessions a call (FetchByNameBatch).
void BM_FetchByNameBatch(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  std::vector<std::string_view> names;
  RunBatches(state, live.names.size(),
             "a batch fetch by name missed a live Session",
             [&](size_t first, size_t count, absl::Span<Session> out) {
               names.resize(count);
               for (size_t k = 0; k < count; ++k) {
                 names[k] = live.names[first + k];
               }
               return live.store->FetchByNameBatch(names, out);
             });
}

void BM_UpdateTtl(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  RunOnLiveKeys(state, live, live.sids, "update missed a live Session", false,
                [&](const Sid& sid, size_t i, Session* out) {
                  return live.store->UpdateTtl(sid, LiveTtl(i), out);
                });
}

void BM_RecordInteraction(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  RunOnLiveKeys(state, live, live.sids, "interaction missed a live Session",
                true, [&](const Sid& sid, size_t, Session*) {
                  return live.store->RecordInteraction(sid);
                });
}

// Four fetches by SID, then an interaction, on random live Sessions.
void BM_Mix(State& state, StoreKind kind) {
  LiveStore& live = Live(kind);
  int64_t ops = 0;
  RunOnLiveKeys(state, live, live.sids, "mix missed a live Session", true,
                [&](const Sid& sid, size_t, Session* out) {
                  return ++ops % 5 == 0 ? live.store->RecordInteraction(sid)
                                        : live.store->FetchBySid(sid, out);
                });
}

// One-shot workloads -------------------------------------------------------

// Loads N Sessions into an empty store. The allocator's bytes in use before
// the store opens and after the last create, over N, is bytes_per_session.
void BM_Create(State& state, StoreKind kind, bool with_ttl) {
  const int64_t n = SessionCount();
  const KeyList& names = UniqueNames(n);
  double bytes_per_session = 0;
  for (auto _ : state) {
    ManualClock clock(Start());
    const int64_t before = HeapBytesInUse();
    auto store = OpenStore(kind, ManualConfig(&clock));
    bool ok = true;
    Session answer;
    const double seconds = TimeSeconds([&] {
      for (int64_t i = 0; i < n && ok; ++i) {
        ok = store->Create(names[i], with_ttl ? LiveTtl(i) : 0, &answer);
      }
    });
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    bytes_per_session =
        static_cast<double>(HeapBytesInUse() - before) / static_cast<double>(n);
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["bytes_per_session"] = bytes_per_session;
}

// The CPU time the calling thread has used, in nanoseconds: unlike the wall
// clock it stops while the scheduler runs another process (on a shared
// machine, for milliseconds at a time).
int64_t ThreadCpuNs() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Grows one Service from empty to N Sessions, timing each create alone: a
// table that rehashes all it holds in one call (sessionwheel's name index
// before issue 11, a baseline's maps) shows as the worst create. max_us and
// the percentiles are wall time, what a caller waits; max_cpu_us is the
// most CPU time one create used (with the clock read's own, about 0.5 us),
// which the scheduler's time slices on a shared machine do not inflate, so
// it is the figure for the store's own pauses. Then every Session expires
// and is freed in one Advance, and heap_after_purge_mb is the allocator's
// bytes still in use over those before the store opened: what a store
// keeps of its peak once it is empty.
void BM_GrowthWorstCreate(State& state, StoreKind kind) {
  const int64_t n = SessionCount();
  const KeyList& names = UniqueNames(n);
  LatencyHistogram latency;
  int64_t max_cpu_ns = 0;
  double heap_after_purge = 0;
  for (auto _ : state) {
    ManualClock clock(Start());
    const int64_t before = HeapBytesInUse();
    StoreConfig config = ManualConfig(&clock);
    config.free_on_expiry = true;
    auto store = OpenStore(kind, config);
    bool ok = true;
    Session answer;
    double seconds = 0;
    int64_t cpu = ThreadCpuNs();
    for (int64_t i = 0; i < n && ok; ++i) {
      const auto start = std::chrono::steady_clock::now();
      ok = store->Create(names[i], LiveTtl(i), &answer);
      const auto took = std::chrono::steady_clock::now() - start;
      // Read after the create only: since the last read, the loop has done
      // nothing else worth counting.
      const int64_t cpu_now = ThreadCpuNs();
      max_cpu_ns = std::max(max_cpu_ns, cpu_now - cpu);
      cpu = cpu_now;
      latency.Record(
          std::chrono::duration_cast<std::chrono::nanoseconds>(took).count());
      seconds += std::chrono::duration<double>(took).count();
    }
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    state.SetIterationTime(seconds);
    clock.Advance(absl::Hours(3));  // Past every LiveTtl.
    if (store->Advance() != n) {
      state.SkipWithError("advancing past every ttl did not free them all");
      break;
    }
    heap_after_purge = static_cast<double>(HeapBytesInUse() - before);
  }
  state.SetItemsProcessed(state.iterations() * n);
  state.counters["max_us"] = latency.MaxUs();
  state.counters["max_cpu_us"] = static_cast<double>(max_cpu_ns) / 1e3;
  state.counters["p999_us"] = latency.PercentileUs(0.999);
  state.counters["p99_us"] = latency.PercentileUs(0.99);
  state.counters["heap_after_purge_mb"] = heap_after_purge / (1 << 20);
}

// n Sessions due within one 10 ms tick, cleared by one Advance. They are
// created a tenth at a time over 10 ms of clock with a 60 s ttl, so their
// instants are ten distinct milliseconds of one tick (with a single instant
// for all, a heap would never sift). `warm`: the store was advanced to the
// tick before, untimed, as its background thread or a host advancing every
// tick would have done; the wheel has cascaded its entries down by then.
// Cold: the timed Advance starts from creation and does all of the wheel's
// work. The baselines have nothing to do before the tick either way.
//
// `expiry` says what becomes of the expired Sessions and who hears of it.
void BM_ExpireSameTick(State& state, StoreKind kind, bool warm,
                       ExpiryMode expiry) {
  const int64_t n = state.range(0);
  constexpr int64_t kSpreadMs = 10;
  for (auto _ : state) {
    ManualClock clock(Start());
    auto counter = std::make_shared<CloseCounter>(expiry.hears_all);
    auto store = OpenStore(kind, ExpiryConfig(&clock, expiry, counter));
    bool ok = true;
    for (int64_t ms = 1; ms <= kSpreadMs && ok; ++ms) {
      clock.Advance(absl::Milliseconds(1));  // Instants 60.001 s to 60.010 s.
      ok = CreateRange(store.get(), n * (ms - 1) / kSpreadMs,
                       n * ms / kSpreadMs, 60);
    }
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    if (warm) {
      clock.Set(Start() + absl::Seconds(60));
      if (store->Advance() != 0) {
        state.SkipWithError("a Session closed before its instant");
        break;
      }
    }
    clock.Set(Start() + absl::Seconds(60) + kTick);
    int64_t closed = 0;
    state.SetIterationTime(TimeSeconds([&] { closed = store->Advance(); }));
    if (closed != n) {
      state.SkipWithError("one Advance did not close every due Session");
      break;
    }
    if (expiry.listener && counter->closed() != n) {
      state.SkipWithError("the listener did not hear every close");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// N Sessions created over 60 s of clock, a batch every 10 ms tick, each with
// a 60 s ttl, so their expiries spread evenly over the next 60 s. Timed: the
// clock moving through those 60 s in steps of `step` (a tick, as an expiry
// thread moves it; or 1 s, as issue 9's row and the Caffeine peer do), with
// an Advance at each.
void BM_ExpireSpread(State& state, StoreKind kind, ExpiryMode expiry,
                     absl::Duration step) {
  const int64_t n = SessionCount();
  const int64_t ticks = absl::Seconds(60) / kTick;
  const int64_t steps = absl::Seconds(60) / step;
  for (auto _ : state) {
    ManualClock clock(Start());
    auto counter = std::make_shared<CloseCounter>(expiry.hears_all);
    auto store = OpenStore(kind, ExpiryConfig(&clock, expiry, counter));
    bool ok = true;
    for (int64_t t = 0; t < ticks && ok; ++t) {
      ok = CreateRange(store.get(), n * t / ticks, n * (t + 1) / ticks, 60);
      store->Advance();
      clock.Advance(kTick);
    }
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    int64_t closed = 0;
    state.SetIterationTime(TimeSeconds([&] {
      for (int64_t s = 0; s < steps; ++s) {
        closed += store->Advance();
        clock.Advance(step);
      }
      closed += store->Advance();  // The last step's Sessions.
    }));
    if (closed != n) {
      state.SkipWithError("ticking through did not close every Session");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void SetLatenessCounters(State& state, const LatenessRecorder& recorder) {
  const LatenessRecorder::Summary s = recorder.Summarize();
  state.counters["p50_ms"] = s.p50_ms;
  state.counters["p99_ms"] = s.p99_ms;
  state.counters["max_ms"] = s.max_ms;
}

// N Sessions created over 1 s of manual clock, a batch per millisecond, each
// with a 1 s ttl; then the clock moves through the next second 1 ms at a time
// with an Advance at each. A close event's lateness is the clock at delivery
// minus its expiry instant: the wheel rounds an instant up to its 10 ms tick,
// the baselines close at the exact millisecond.
void BM_LatenessManualClock(State& state, StoreKind kind) {
  const int64_t n = SessionCount();
  constexpr int64_t kSteps = 1000;
  const int64_t slack = kTick / absl::Milliseconds(1);  // Up to a tick late.
  for (auto _ : state) {
    ManualClock clock(Start());
    auto recorder = std::make_shared<LatenessRecorder>(&clock, n);
    StoreConfig config = ManualConfig(&clock);
    config.listener = recorder;
    auto store = OpenStore(kind, config);
    bool ok = true;
    for (int64_t ms = 0; ms < kSteps && ok; ++ms) {
      ok = CreateRange(store.get(), n * ms / kSteps, n * (ms + 1) / kSteps, 1);
      store->Advance();
      clock.Advance(absl::Milliseconds(1));
    }
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    state.SetIterationTime(TimeSeconds([&] {
      for (int64_t ms = 0; ms <= kSteps + slack; ++ms) {
        store->Advance();
        clock.Advance(absl::Milliseconds(1));
      }
    }));
    if (recorder->closed() != static_cast<size_t>(n)) {
      state.SkipWithError("not every Session's close event arrived");
      break;
    }
    SetLatenessCounters(state, *recorder);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// min(N, 100k) Sessions created as fast as the store takes them on the system
// clock, with ttls of 1 and 2 s, and expired by the store's own background
// thread. Timed: from the first create to the last close event.
void BM_LatenessSystemClock(State& state, StoreKind kind) {
  const int64_t n = std::min(SessionCount(), kSystemLatenessSessions);
  const KeyList& names = UniqueNames(n);
  for (auto _ : state) {
    auto recorder = std::make_shared<LatenessRecorder>(SystemClock(), n);
    StoreConfig config;
    config.clock = SystemClock();
    config.background_expiry = true;
    config.listener = recorder;
    auto store = OpenStore(kind, config);
    bool ok = true;
    Session answer;
    const double seconds = TimeSeconds([&] {
      for (int64_t i = 0; i < n && ok; ++i) {
        ok = store->Create(names[i], 1 + i % 2, &answer);
      }
      const absl::Time give_up = absl::Now() + absl::Seconds(30);
      while (recorder->closed() < static_cast<size_t>(n) &&
             absl::Now() < give_up) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
    if (!ok) {
      state.SkipWithError("create refused a fresh name");
      break;
    }
    if (recorder->closed() != static_cast<size_t>(n)) {
      state.SkipWithError("not every close event arrived within 30 s");
      break;
    }
    state.SetIterationTime(seconds);
    SetLatenessCounters(state, *recorder);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Listing ------------------------------------------------------------------

// A 1000-Session page of a Service holding N Sessions, in a store of
// `shards` shards: the first page, then the pages after it in turn, each
// timed. sessionwheel only: the baselines do not list.
void BM_ListPage(State& state) {
  const int shards = static_cast<int>(state.range(0));
  const int64_t n = SessionCount();
  ManualClock clock(Start());
  StoreOptions options;
  options.clock = &clock;
  options.seed = 1;
  options.shards = shards;
  auto store = SessionStore::Open(options).value();
  CreateServiceParams service;
  service.unique_name = "bench";
  const Sid ks = store->CreateService(service)->sid;
  const KeyList& names = UniqueNames(n);
  CreateSessionParams params;
  for (int64_t i = 0; i < n; ++i) {
    params.unique_name.emplace(names[i]);
    params.ttl = LiveTtl(i);
    if (!store->CreateSession(ks, params, nullptr).ok()) {
      state.SkipWithError("create refused a fresh name");
      return;
    }
  }
  ListParams page;
  page.page_size = static_cast<int>(std::min<int64_t>(1000, n));
  for (auto _ : state) {
    absl::StatusOr<SessionPage> got = store->ListSessions(ks, page);
    if (!got.ok() ||
        got->sessions.size() != static_cast<size_t>(page.page_size)) {
      state.SkipWithError("a page came back short");
      break;
    }
    // The next page, or the first again at the end of the walk.
    page.page_token = got->next_page_token;
    if (got->next_page_token.empty() || n - page.page_size < page.page_size) {
      page.page_token.clear();
    }
  }
  state.SetItemsProcessed(state.iterations() * page.page_size);
}

// The memory floor ---------------------------------------------------------

// memory_latency's buffer: a constant, not N, so CI's tiny run measures the
// same floor. It is about the heap of 500k Sessions and takes well under a
// second to build (once, untimed). A cloud VM may report its host's whole L3
// (the 2-core dev VM says 260 MiB), but its share is far smaller: with huge
// pages, a load cost the same there at 64 MiB as at 256 MiB.
constexpr size_t kLatencyBufferBytes = size_t{256} << 20;

// Dependent loads per iteration: enough that the loop's own cost vanishes.
constexpr int64_t kLoadsPerIteration = int64_t{1} << 16;

// One cache line of the chase, holding the index of the next.
struct alignas(64) ChaseLine {
  uint32_t next;
};

// The buffer as one random cycle through all its lines (Sattolo's shuffle),
// built on first use. Never freed, like the live stores.
const std::vector<ChaseLine>& ChaseCycle() {
  static const auto* lines = [] {
    auto* v =
        new std::vector<ChaseLine>(kLatencyBufferBytes / sizeof(ChaseLine));
    for (size_t i = 0; i < v->size(); ++i) (*v)[i].next = i;
    std::mt19937_64 rng(1);
    for (size_t i = v->size() - 1; i > 0; --i) {
      std::swap((*v)[i].next, (*v)[rng() % i].next);
    }
    return v;
  }();
  return *lines;
}

// The time of one load whose address depends on the load before: a random
// walk through a buffer far beyond the cache, on ordinary 4 KiB pages, so
// each load also misses the TLB, as a lookup in a store of 1M Sessions does.
// That lookup costs a few such dependent misses (hash slot, record, its
// strings), so this is the floor under every single-call rate: 2 misses at
// 100-200 ns each bound a fetch at a few M/s, whatever the store. Reported
// as ns_per_load; no store takes part, so it runs once, not per store.
void BM_MemoryLatency(State& state) {
  const std::vector<ChaseLine>& lines = ChaseCycle();
  uint32_t at = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    for (int64_t k = 0; k < kLoadsPerIteration; ++k) at = lines[at].next;
    benchmark::DoNotOptimize(at);
  }
  const double ns = std::chrono::duration<double, std::nano>(
                        std::chrono::steady_clock::now() - start)
                        .count();
  const int64_t loads = state.iterations() * kLoadsPerIteration;
  state.SetItemsProcessed(loads);
  state.counters["ns_per_load"] = ns / static_cast<double>(loads);
}

// Registration -------------------------------------------------------------

// The sweep's sizes: 10k to 4M, and N itself, up to 4 N (so a tiny CI run
// stays tiny).
std::vector<int64_t> SweepSizes() {
  const int64_t n = SessionCount();
  std::set<int64_t> sizes = {10'000, 100'000, 1'000'000, 4'000'000, n};
  std::vector<int64_t> out;
  for (int64_t s : sizes) {
    if (s <= 4 * n) out.push_back(s);
  }
  return out;
}

// Registers "<workload>/<store>".
template <typename... Args>
Benchmark* Register(const char* workload, StoreKind kind,
                    void (*fn)(State&, StoreKind, Args...), Args... args) {
  const std::string name =
      std::string(workload) + "/" + std::string(StoreName(kind));
  return benchmark::RegisterBenchmark(name.c_str(), fn, kind, args...);
}

// A store built per iteration, part of it timed by hand: one iteration per
// repetition (the store is the setup), times in milliseconds.
Benchmark* OneShot(Benchmark* b) {
  return b->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
}

// Single operations on the live store, in wall time (with threads, the rate
// is the total over wall time).
Benchmark* PerOperation(Benchmark* b) { return b->UseRealTime(); }

// One thread, and two where the store may be called from several.
Benchmark* OneAndTwoThreads(Benchmark* b, StoreKind kind) {
  b->Threads(1);
  if (!SingleThreaded(kind)) b->Threads(2);
  return b;
}

// Each workload for every store in turn, so the stores run side by side.
void RegisterAll() {
  for (StoreKind k : kAllStores)
    OneShot(Register("create", k, BM_Create, true));
  for (StoreKind k : kAllStores) {
    OneShot(Register("create_no_ttl", k, BM_Create, false));
  }
  for (StoreKind k : kAllStores) {
    OneShot(Register("growth_worst_create", k, BM_GrowthWorstCreate));
  }
  for (StoreKind k : kAllStores) {
    OneAndTwoThreads(PerOperation(Register("fetch_sid", k, BM_FetchBySid)), k);
  }
  for (StoreKind k : kAllStores) {
    PerOperation(Register("fetch_sid_batch", k, BM_FetchBySidBatch));
  }
  for (StoreKind k : kAllStores) {
    PerOperation(Register("fetch_name", k, BM_FetchByName));
  }
  for (StoreKind k : kAllStores) {
    PerOperation(Register("fetch_name_batch", k, BM_FetchByNameBatch));
  }
  for (StoreKind k : kAllStores) {
    PerOperation(Register("update_ttl", k, BM_UpdateTtl));
  }
  for (StoreKind k : kAllStores) {
    PerOperation(Register("interaction", k, BM_RecordInteraction));
  }
  for (StoreKind k : kAllStores) {
    OneAndTwoThreads(PerOperation(Register("mix_80_20", k, BM_Mix)), k);
  }
  const ExpiryMode kept, kept_heard{false, true}, freed{true, false},
      freed_heard{true, true}, freed_heard_all{true, true, true};
  for (int64_t n : SweepSizes()) {
    for (StoreKind k : kAllStores) {
      OneShot(Register("expire_same_tick", k, BM_ExpireSameTick, true, kept))
          ->Arg(n);
    }
  }
  // The headline rows: kept or freed, heard or not, warm or cold.
  const struct {
    const char* name;
    bool warm;
    ExpiryMode mode;
  } kSameTick[] = {
      {"expire_same_tick_cold", false, kept},
      {"expire_same_tick_heard", true, kept_heard},
      {"expire_same_tick_freed", true, freed},
      {"expire_same_tick_freed_cold", false, freed},
      {"expire_same_tick_freed_heard", true, freed_heard},
      {"expire_same_tick_freed_heard_cold", false, freed_heard},
      {"expire_same_tick_freed_heard_all", true, freed_heard_all},
  };
  for (const auto& row : kSameTick) {
    for (StoreKind k : kAllStores) {
      OneShot(Register(row.name, k, BM_ExpireSameTick, row.warm, row.mode))
          ->Arg(SessionCount());
    }
  }
  for (StoreKind k : kAllStores) {
    OneShot(Register("expire_spread", k, BM_ExpireSpread, kept, kTick));
  }
  for (StoreKind k : kAllStores) {
    OneShot(Register("expire_spread_freed_heard", k, BM_ExpireSpread,
                     freed_heard, kTick));
  }
  for (StoreKind k : kAllStores) {
    OneShot(Register("expire_spread_freed_heard_1s", k, BM_ExpireSpread,
                     freed_heard, absl::Seconds(1)));
  }
  for (StoreKind k : kAllStores) {
    OneShot(Register("lateness_manual", k, BM_LatenessManualClock));
  }
  for (StoreKind k : kAllStores) {
    if (SingleThreaded(k)) continue;  // It has no expiry thread.
    OneShot(Register("lateness_system", k, BM_LatenessSystemClock));
  }
  for (int shards : {1, 16, 256}) {
    benchmark::RegisterBenchmark("list_page_1000/sessionwheel", BM_ListPage)
        ->Arg(shards)
        ->ArgName("shards")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  // No "/<store>" in the name: the summary prints it on a line of its own.
  benchmark::RegisterBenchmark("memory_latency", BM_MemoryLatency)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace
}  // namespace sessionwheel::bench

int main(int argc, char** argv) {
  using sessionwheel::bench::SummaryReporter;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  sessionwheel::bench::RegisterAll();
  sessionwheel::bench::RegisterDurabilityBenchmarks();
  SummaryReporter reporter;
  reporter.AddRatio("fetch_sid/threads:2", "fetch_sid/threads:1");
  reporter.AddRatio("mix_80_20/threads:2", "mix_80_20/threads:1");
  reporter.AddRatio("create", "create_no_ttl");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() == 0 ? 0 : 1;
}
