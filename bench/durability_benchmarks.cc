// sessionwheel-bench's durability workloads (issue 10): what keeping the
// store in a data directory costs, by sync policy, measured in the same run
// as the in-memory store and as the disk's own sync latency; how long
// recovery takes; what a checkpoint costs the calls running beside it.
//
// Each benchmark is named "<workload>/<variant>". Every one builds what it
// needs in each iteration, in a ScratchDir of its own (under $TMPDIR, else
// the build directory: on the disk, not tmpfs) that it removes before the
// next; it times only its own part, by hand, one iteration per repetition.
// At N Sessions (SW_BENCH_SESSIONS, default 1,000,000):
//
//   disk_sync/append_fdatasync
//        append 200 bytes to a file and fdatasync it, kSyncOps times: what
//        one sync costs on this disk, the bound on kEveryWrite at one thread
//        (also us_per_sync, p50_us, p99_us)
//   durable_create/<policy>/threads:T
//        T threads create Sessions (names of their own, ttls of 1 to 2 h)
//        in a new store: <policy> is memory (no data_dir), os, interval or
//        every_write (SyncPolicy kOs, kInterval, kEveryWrite), T 1 and 2,
//        and 16 for every_write (group commit); defaults is kInterval with
//        the default automatic checkpoints, at one thread
//   durable_interaction/<policy>/threads:T
//        T threads record interactions on random Sessions of a store
//        holding N (loaded untimed)
//   durable_recover/<journal|checkpoint>[_cold]
//        SessionStore::Open of a directory holding N Sessions, all in the
//        journal or all in one checkpoint; _cold with the files dropped from
//        the page cache first, as after a reboot; warm, as after a process
//        restart (also data_mb: the directory's size)
//   durable_checkpoint/while_fetching
//        Checkpoint() of a store holding N (kInterval) while one thread
//        fetches random Sessions by SID: the checkpoint's time, and as
//        counters the fetches' latency during it (fetch_p50_us,
//        fetch_p99_us, fetch_max_us, fetches_over_1ms: how many took longer
//        than 1 ms, to 3%) and for as long again right after it
//        (idle_p99_us, idle_max_us, idle_over_1ms: this machine's own
//        noise, to set the checkpoint's figures against), the
//        allocator's peak bytes in use above those before it
//        (extra_heap_mb, sampled every millisecond by the fetching thread),
//        the peak resident memory above that before it (extra_rss_mb), the
//        checkpoint file (checkpoint_mb)
//
// How many operations a rate row does: N for memory, os and interval; for
// every_write kSyncOps per thread (at most N): each call waits for a sync,
// so N would take minutes to an hour, as the disk goes; kSyncOps syncs take
// a few seconds at most.
//
// Ratios measured inside each iteration, so a noisy machine cannot come
// between the two sides: vs_memory (os, interval, defaults rows) is the
// row's rate over the in-memory store's on the same work with the same
// threads, run just before it; vs_disk (every_write rows) is the row's rate
// over the rate of disk_sync's append and fdatasync in the same directory,
// taken in kSyncBlocks blocks alternating with the row's own (at one
// thread, the fraction of what the disk's sync latency allows).
//
// The rate rows other than defaults turn automatic checkpoints off
// (checkpoint_min_bytes at its maximum): they measure the journal, and
// durable_checkpoint measures checkpoints.

#include "bench/durability_benchmarks.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/workload.h"
#include "benchmark/benchmark.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"

namespace sessionwheel::bench {
namespace {

using benchmark::State;
using Benchmark = benchmark::internal::Benchmark;
using SteadyClock = std::chrono::steady_clock;

// Syncs per thread in an every_write row, and in disk_sync.
constexpr int64_t kSyncOps = 2000;

// An every_write row alternates this many blocks of its calls with blocks
// of disk syncs (TimeRow): a virtual disk's sync latency moves by several
// times within seconds, so the blocks are short.
constexpr int kSyncBlocks = 20;

// The bytes disk_sync appends per sync: about one journal record of a
// Session (its 17-byte header, the change header, the Session's image).
constexpr size_t kSyncRecordBytes = 200;

// As the interaction workload of benchmarks.cc: thread 0 moves the clock
// 1 ms every this many interactions.
constexpr int64_t kOpsPerMs = 256;

// How often the checkpoint's fetcher samples the allocator.
constexpr auto kHeapSampleEvery = std::chrono::milliseconds(1);

enum class Policy { kMemory, kOs, kInterval, kEveryWrite, kDefaults };

std::string_view PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kMemory:
      return "memory";
    case Policy::kOs:
      return "os";
    case Policy::kInterval:
      return "interval";
    case Policy::kEveryWrite:
      return "every_write";
    case Policy::kDefaults:
      return "defaults";
  }
  return "?";
}

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

[[noreturn]] void Die(const absl::Status& status) {
  std::fprintf(stderr, "sessionwheel-bench: %s\n", status.ToString().c_str());
  std::abort();
}

// The options of a store under `policy`, in `dir` unless kMemory, on the
// manual clock, seeded, keeping ended Sessions (as sessionwheel_store.cc).
StoreOptions Options(Policy policy, const std::string& dir,
                     ManualClock* clock) {
  StoreOptions options;
  options.clock = clock;
  options.seed = 1;
  options.closed_retention = absl::InfiniteDuration();
  if (policy == Policy::kMemory) return options;
  options.data_dir = dir;
  switch (policy) {
    case Policy::kOs:
      options.sync = SyncPolicy::kOs;
      break;
    case Policy::kEveryWrite:
      options.sync = SyncPolicy::kEveryWrite;
      break;
    default:
      options.sync = SyncPolicy::kInterval;
      break;
  }
  if (policy != Policy::kDefaults) {
    options.checkpoint_min_bytes = std::numeric_limits<int64_t>::max();
  }
  return options;
}

// A store and its one Service, called through the public API as a host
// calls it. The clock outlives the store.
struct Store {
  ManualClock clock{Start()};
  std::unique_ptr<SessionStore> store;
  Sid service;
};

// Opens a store under `policy` in `dir` (ignored for kMemory). A new store
// gets the Service "bench"; a recovered one has it already.
std::unique_ptr<Store> OpenStore(Policy policy, const std::string& dir) {
  auto s = std::make_unique<Store>();
  absl::StatusOr<std::unique_ptr<SessionStore>> store =
      SessionStore::Open(Options(policy, dir, &s->clock));
  if (!store.ok()) Die(store.status());
  s->store = *std::move(store);
  ListParams first;
  first.page_size = 1;
  absl::StatusOr<ServicePage> page = s->store->ListServices(first);
  if (!page.ok()) Die(page.status());
  if (!page->services.empty()) {
    s->service = page->services[0].sid;
    return s;
  }
  CreateServiceParams service;
  service.unique_name = "bench";
  absl::StatusOr<Service> created = s->store->CreateService(service);
  if (!created.ok()) Die(created.status());
  s->service = created->sid;
  return s;
}

// Creates Sessions [from, to) of `names`, storing their SIDs in `sids`
// (indexed as the names) unless null; false if the store refused one.
bool CreateRange(Store& s, const KeyList& names, int64_t from, int64_t to,
                 std::vector<Sid>* sids) {
  CreateSessionParams params;
  Session out;
  for (int64_t i = from; i < to; ++i) {
    params.unique_name.emplace(names[i]);
    params.ttl = LiveTtl(i);
    if (!s.store->CreateSession(s.service, params, &out).ok()) return false;
    if (sids != nullptr) (*sids)[i] = out.sid;
  }
  return true;
}

// `count` interactions on `sids` in order from `from` (wrapping around);
// thread 0 moves the clock as benchmarks.cc's interaction does. False if
// one was refused.
bool InteractRange(Store& s, const std::vector<Sid>& sids, int thread,
                   int64_t from, int64_t count) {
  const size_t n = sids.size();
  size_t i = static_cast<size_t>(from) % n;
  for (int64_t k = 1; k <= count; ++k) {
    if (!s.store->RecordInteraction(s.service, sids[i]).ok()) return false;
    if (++i == n) i = 0;
    if (thread == 0 && k % kOpsPerMs == 0) {
      s.clock.Advance(absl::Milliseconds(1));
    }
  }
  return true;
}

// Runs body(t) for t in [0, threads) on as many threads, released together
// once all have started; returns the seconds from the release until the
// last one finished. *ok is false if any body returned false.
template <typename Body>
double TimeThreads(int threads, bool* ok, Body body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<bool> all_ok{true};
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      if (!body(t)) all_ok.store(false, std::memory_order_relaxed);
    });
  }
  while (ready.load(std::memory_order_acquire) < threads) {
    std::this_thread::yield();
  }
  const auto start = SteadyClock::now();
  go.store(true, std::memory_order_release);
  for (std::thread& thread : pool) thread.join();
  const double seconds = Since(start);
  *ok = all_ok.load();
  return seconds;
}

// How many operations a rate row does (see the file comment).
int64_t OpsFor(Policy policy, int threads) {
  const int64_t n = SessionCount();
  return policy == Policy::kEveryWrite ? std::min(n, threads * kSyncOps) : n;
}

// Appends kSyncRecordBytes to a new file in `dir` and fdatasyncs it,
// `count` times, as the journal does with one record under kEveryWrite;
// returns the seconds and records each sync's latency in `latency` unless
// null.
double TimeDiskSyncs(const std::string& dir, int64_t count,
                     LatencyHistogram* latency) {
  const std::string path = dir + "/disk_sync.bin";
  const int fd = open(path.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) Die(absl::ErrnoToStatus(errno, "open " + path));
  const std::string record(kSyncRecordBytes, 'r');
  const auto start = SteadyClock::now();
  for (int64_t i = 0; i < count; ++i) {
    const auto before = SteadyClock::now();
    if (write(fd, record.data(), record.size()) !=
            static_cast<ssize_t>(record.size()) ||
        fdatasync(fd) != 0) {
      Die(absl::ErrnoToStatus(errno, "write and fdatasync " + path));
    }
    if (latency != nullptr) {
      latency->Record(
          std::chrono::nanoseconds(SteadyClock::now() - before).count());
    }
  }
  const double seconds = Since(start);
  close(fd);
  unlink(path.c_str());
  return seconds;
}

// A store under `policy` in `dir` holding n live Sessions, with their SIDs
// in random order in *sids. A durable one is loaded under kOs, closed and
// opened again under `policy` (a recovery): loading n Sessions under
// kEveryWrite would take n syncs. Then the directory is synced, so no
// write-back of the loading lands in the timed part.
std::unique_ptr<Store> LoadedStore(Policy policy, const ScratchDir* dir,
                                   int64_t n, std::vector<Sid>* sids) {
  const KeyList& names = UniqueNames(n);
  sids->assign(n, Sid());
  const std::string path = dir == nullptr ? std::string() : dir->path();
  std::unique_ptr<Store> s =
      OpenStore(policy == Policy::kMemory ? policy : Policy::kOs, path);
  if (!CreateRange(*s, names, 0, n, sids)) {
    Die(absl::InternalError("a fresh name was refused"));
  }
  std::shuffle(sids->begin(), sids->end(), std::mt19937_64(1));
  if (policy == Policy::kMemory) return s;
  s.reset();
  dir->Sync();
  return OpenStore(policy, path);
}

// The in-memory store holding N live Sessions that the interaction rows
// compare with, built on first use and kept for the run, like the live
// stores of benchmarks.cc.
struct MemoryLive {
  std::unique_ptr<Store> store;
  std::vector<Sid> sids;
};
MemoryLive& SharedMemoryLive() {
  static auto* live = [] {
    auto* m = new MemoryLive;
    m->store = LoadedStore(Policy::kMemory, nullptr, SessionCount(), &m->sids);
    return m;
  }();
  return *live;
}

// Rates ---------------------------------------------------------------------

void BM_DiskSync(State& state) {
  const int64_t count = std::min(SessionCount(), kSyncOps);
  for (auto _ : state) {
    ScratchDir dir;
    LatencyHistogram latency;
    const double seconds = TimeDiskSyncs(dir.path(), count, &latency);
    state.SetIterationTime(seconds);
    state.counters["us_per_sync"] = seconds * 1e6 / static_cast<double>(count);
    state.counters["p50_us"] = latency.PercentileUs(0.50);
    state.counters["p99_us"] = latency.PercentileUs(0.99);
  }
  state.SetItemsProcessed(state.iterations() * count);
}

// What a rate row measured: its own seconds, and for every_write the disk's
// syncs per second through the same stretch of time.
struct RowTimes {
  double seconds = 0;
  double disk_syncs_per_second = 0;
};

// Runs operations [0, ops) of a row through `block(from, to)`, which does
// operations [from, to) and returns their seconds. every_write rows run in
// kSyncBlocks blocks, each followed by its share of kSyncOps disk syncs in
// `dir`, so that the store's rate and the disk's are taken through the same
// stretch of a disk whose latency drifts; the other rows in one block.
template <typename Block>
RowTimes TimeRow(Policy policy, const ScratchDir* dir, int64_t ops,
                 Block block) {
  RowTimes times;
  if (policy != Policy::kEveryWrite) {
    times.seconds = block(0, ops);
    return times;
  }
  const int64_t syncs = std::min(SessionCount(), kSyncOps);
  double disk_seconds = 0;
  for (int b = 0; b < kSyncBlocks; ++b) {
    times.seconds += block(ops * b / kSyncBlocks, ops * (b + 1) / kSyncBlocks);
    disk_seconds += TimeDiskSyncs(
        dir->path(), syncs * (b + 1) / kSyncBlocks - syncs * b / kSyncBlocks,
        nullptr);
  }
  times.disk_syncs_per_second = static_cast<double>(syncs) / disk_seconds;
  return times;
}

// Sets the ratio counter of a durable row: against the in-memory store's
// seconds on the same work, or against the disk's syncs per second.
void SetRatio(State& state, Policy policy, int64_t ops, const RowTimes& times,
              double memory_seconds) {
  if (policy == Policy::kMemory) return;
  if (policy == Policy::kEveryWrite) {
    state.counters["vs_disk"] =
        static_cast<double>(ops) / times.seconds / times.disk_syncs_per_second;
  } else {
    state.counters["vs_memory"] = memory_seconds / times.seconds;
  }
}

// The seconds `threads` threads take to create Sessions [from, to) of
// `names` in `s`, each a slice of its own. Aborts if one is refused.
double CreateBlock(Store& s, const KeyList& names, int threads, int64_t from,
                   int64_t to) {
  bool ok = true;
  const double seconds = TimeThreads(threads, &ok, [&](int t) {
    return CreateRange(s, names, from + (to - from) * t / threads,
                       from + (to - from) * (t + 1) / threads, nullptr);
  });
  if (!ok) Die(absl::InternalError("a create was refused"));
  return seconds;
}

void BM_Create(State& state, Policy policy) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t ops = OpsFor(policy, threads);
  const KeyList& names = UniqueNames(ops);
  for (auto _ : state) {
    double memory_seconds = 0;
    if (policy != Policy::kMemory && policy != Policy::kEveryWrite) {
      std::unique_ptr<Store> memory = OpenStore(Policy::kMemory, "");
      memory_seconds = CreateBlock(*memory, names, threads, 0, ops);
    }
    ScratchDir dir;
    std::unique_ptr<Store> s = OpenStore(policy, dir.path());
    const RowTimes times =
        TimeRow(policy, &dir, ops, [&](int64_t from, int64_t to) {
          return CreateBlock(*s, names, threads, from, to);
        });
    SetRatio(state, policy, ops, times, memory_seconds);
    state.SetIterationTime(times.seconds);
  }
  state.SetItemsProcessed(state.iterations() * ops);
}

// Interactions on a store by `threads` threads, each walking the SIDs from
// a random place of its own and going on from where it stopped at the next
// block.
class InteractionBlocks {
 public:
  InteractionBlocks(Store& s, const std::vector<Sid>& sids, int threads)
      : s_(s), sids_(sids), threads_(threads) {
    const int64_t n = static_cast<int64_t>(sids.size());
    std::mt19937_64 rng(SteadyClock::now().time_since_epoch().count());
    const int64_t start = static_cast<int64_t>(rng() % sids.size());
    for (int t = 0; t < threads; ++t) next_.push_back(start + n * t / threads);
  }

  // The seconds of interactions [from, to) of the row. Aborts if one is
  // refused.
  double operator()(int64_t from, int64_t to) {
    bool ok = true;
    const double seconds = TimeThreads(threads_, &ok, [&](int t) {
      const int64_t count =
          (to - from) * (t + 1) / threads_ - (to - from) * t / threads_;
      const bool done = InteractRange(s_, sids_, t, next_[t], count);
      next_[t] += count;
      return done;
    });
    if (!ok) Die(absl::InternalError("an interaction was refused"));
    return seconds;
  }

 private:
  Store& s_;
  const std::vector<Sid>& sids_;
  const int threads_;
  std::vector<int64_t> next_;  // Where each thread goes on.
};

void BM_Interaction(State& state, Policy policy) {
  const int threads = static_cast<int>(state.range(0));
  const int64_t ops = OpsFor(policy, threads);
  MemoryLive& memory = SharedMemoryLive();
  for (auto _ : state) {
    if (policy == Policy::kMemory) {
      state.SetIterationTime(
          InteractionBlocks(*memory.store, memory.sids, threads)(0, ops));
      continue;
    }
    ScratchDir dir;
    std::vector<Sid> sids;
    std::unique_ptr<Store> s = LoadedStore(policy, &dir, SessionCount(), &sids);
    double memory_seconds = 0;
    if (policy != Policy::kEveryWrite) {
      memory_seconds =
          InteractionBlocks(*memory.store, memory.sids, threads)(0, ops);
    }
    const RowTimes times =
        TimeRow(policy, &dir, ops, InteractionBlocks(*s, sids, threads));
    SetRatio(state, policy, ops, times, memory_seconds);
    state.SetIterationTime(times.seconds);
  }
  state.SetItemsProcessed(state.iterations() * ops);
}

// Recovery and checkpoints ----------------------------------------------------

// Opens a directory holding N Sessions, all in the journal or all in one
// checkpoint, after loading it untimed (under kOs, automatic checkpoints
// off) and closing it; `cold`: with its files dropped from the page cache.
void BM_Recover(State& state, bool from_checkpoint, bool cold) {
  const int64_t n = SessionCount();
  const KeyList& names = UniqueNames(n);
  for (auto _ : state) {
    ScratchDir dir;
    {
      std::unique_ptr<Store> s = OpenStore(Policy::kOs, dir.path());
      if (!CreateRange(*s, names, 0, n, nullptr)) {
        Die(absl::InternalError("a fresh name was refused"));
      }
      if (from_checkpoint) {
        if (absl::Status c = s->store->Checkpoint(); !c.ok()) Die(c);
      }
    }
    if (cold) {
      dir.DropFromPageCache();
    } else {
      dir.Sync();
    }
    state.counters["data_mb"] = static_cast<double>(dir.FileBytes()) / 1e6;
    ManualClock clock(Start());
    absl::StatusOr<std::unique_ptr<SessionStore>> store;
    const auto start = SteadyClock::now();
    store = SessionStore::Open(Options(Policy::kInterval, dir.path(), &clock));
    const double seconds = Since(start);
    if (!store.ok()) Die(store.status());
    if ((*store)->Stats().sessions != n) {
      state.SkipWithError("recovery did not bring back every Session");
      break;
    }
    state.SetIterationTime(seconds);
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Checkpoint() of a store holding N (kInterval, loaded untimed) while one
// thread fetches random Sessions, timing each fetch and sampling the
// allocator between fetches; then as long again without a checkpoint.
void BM_Checkpoint(State& state) {
  const int64_t n = SessionCount();
  for (auto _ : state) {
    ScratchDir dir;
    std::vector<Sid> sids;
    std::unique_ptr<Store> s = LoadedStore(Policy::kInterval, &dir, n, &sids);

    // 0: warming up; 1: during the checkpoint; 2: after it; 3: stop.
    std::atomic<int> phase{0};
    std::atomic<int64_t> fetches{0};
    std::atomic<bool> missed{false};
    LatencyHistogram during;
    LatencyHistogram after;
    int64_t heap_peak = 0;  // Written by the fetcher in phase 1.
    std::thread fetcher([&] {
      pthread_setname_np(pthread_self(), "sw-bench-fetch");  // For perf.
      Session out;
      size_t i =
          std::mt19937_64(SteadyClock::now().time_since_epoch().count())() %
          sids.size();
      auto next_sample = SteadyClock::now();
      for (int p; (p = phase.load(std::memory_order_acquire)) != 3;) {
        const auto before = SteadyClock::now();
        const bool ok = s->store->FetchSession(s->service, sids[i], &out).ok();
        const auto done = SteadyClock::now();
        if (!ok) missed.store(true, std::memory_order_relaxed);
        const int64_t ns = std::chrono::nanoseconds(done - before).count();
        if (p == 1) {
          during.Record(ns);
          if (done >= next_sample) {
            heap_peak = std::max(heap_peak, HeapBytesInUse());
            next_sample = SteadyClock::now() + kHeapSampleEvery;
          }
        } else if (p == 2) {
          after.Record(ns);
        }
        if (++i == sids.size()) i = 0;
        fetches.fetch_add(1, std::memory_order_relaxed);
      }
    });
    while (fetches.load(std::memory_order_relaxed) < 10'000) {
      std::this_thread::yield();
    }
    const int64_t heap_before = HeapBytesInUse();
    const int64_t rss_before = ResidentBytes();
    const bool rss_peak_known = ResetPeakResidentBytes();
    phase.store(1, std::memory_order_release);
    const auto start = SteadyClock::now();
    const absl::Status checkpointed = s->store->Checkpoint();
    const double seconds = Since(start);
    const int64_t rss_peak = PeakResidentBytes();
    phase.store(2, std::memory_order_release);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    phase.store(3, std::memory_order_release);
    fetcher.join();
    if (!checkpointed.ok()) Die(checkpointed);
    if (missed.load()) {
      state.SkipWithError("a fetch missed a live Session");
      break;
    }
    state.SetIterationTime(seconds);
    state.counters["fetch_p50_us"] = during.PercentileUs(0.50);
    state.counters["fetch_p99_us"] = during.PercentileUs(0.99);
    state.counters["fetch_max_us"] = during.MaxUs();
    state.counters["fetches_over_1ms"] =
        static_cast<double>(during.CountAbove(1'000'000));
    state.counters["idle_p99_us"] = after.PercentileUs(0.99);
    state.counters["idle_max_us"] = after.MaxUs();
    state.counters["idle_over_1ms"] =
        static_cast<double>(after.CountAbove(1'000'000));
    state.counters["extra_heap_mb"] =
        static_cast<double>(std::max<int64_t>(0, heap_peak - heap_before)) /
        1e6;
    if (rss_peak_known) {
      state.counters["extra_rss_mb"] =
          static_cast<double>(std::max<int64_t>(0, rss_peak - rss_before)) /
          1e6;
    }
    state.counters["checkpoint_mb"] =
        static_cast<double>(dir.FileBytes()) / 1e6;
  }
  state.SetItemsProcessed(state.iterations() * n);
}

// Registration ----------------------------------------------------------------

// One iteration per repetition, timed by hand, in milliseconds.
Benchmark* OneShot(Benchmark* b) {
  return b->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
}

Benchmark* RegisterRate(const char* workload, Policy policy,
                        void (*fn)(State&, Policy), int threads) {
  const std::string name =
      std::string(workload) + "/" + std::string(PolicyName(policy));
  return OneShot(benchmark::RegisterBenchmark(name.c_str(), fn, policy))
      ->Arg(threads)
      ->ArgName("threads");
}

}  // namespace

void RegisterDurabilityBenchmarks() {
  OneShot(
      benchmark::RegisterBenchmark("disk_sync/append_fdatasync", BM_DiskSync));
  const struct {
    const char* workload;
    void (*fn)(State&, Policy);
  } kRates[] = {{"durable_create", BM_Create},
                {"durable_interaction", BM_Interaction}};
  for (const auto& rate : kRates) {
    // The policies side by side at each thread count.
    for (int threads : {1, 2, 16}) {
      for (Policy policy : {Policy::kMemory, Policy::kOs, Policy::kInterval,
                            Policy::kEveryWrite, Policy::kDefaults}) {
        if (threads == 16 && policy != Policy::kEveryWrite) continue;
        if (threads != 1 && policy == Policy::kDefaults) continue;
        RegisterRate(rate.workload, policy, rate.fn, threads);
      }
    }
  }
  for (bool from_checkpoint : {false, true}) {
    for (bool cold : {false, true}) {
      const std::string name = std::string("durable_recover/") +
                               (from_checkpoint ? "checkpoint" : "journal") +
                               (cold ? "_cold" : "");
      OneShot(benchmark::RegisterBenchmark(name.c_str(), BM_Recover,
                                           from_checkpoint, cold));
    }
  }
  OneShot(benchmark::RegisterBenchmark("durable_checkpoint/while_fetching",
                                       BM_Checkpoint));
}

}  // namespace sessionwheel::bench
