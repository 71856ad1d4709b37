// sessionwheel-storm: what the store's bulk work does to the calls beside
// it (issue 11). One thread fetches Sessions at a fixed rate, its latencies
// corrected for coordinated omission as wrk2 does (bench/paced_fetcher.h),
// while the main thread runs one storm on a store of --sessions:
//
//   idle            nothing: the fetcher alone on a store holding N live
//                   Sessions for --idle-seconds, this machine's own noise
//   expiry          N Sessions of one Service, ttl 60 s, created at one
//                   instant, so all are due in one tick; the clock moves
//                   61 s and Advance() closes them all (closed_retention
//                   infinite: they are kept, closed)
//   purge           the same N, closed by an untimed Advance() with
//                   closed_retention 1 h; the clock moves 1 h and Advance()
//                   purges them all
//   delete_service  DeleteService of a Service holding N/10 Sessions,
//                   another Service holding the other 9N/10 (created
//                   interleaved, so both are spread over the same memory)
//   growth          N creates into an empty store: every table grows from
//                   0 to N while the fetcher reads the Sessions created so
//                   far
//   snapshot        WriteSnapshot of a store holding N, to a file on the
//                   disk
//   checkpoint      Checkpoint() of a durable store holding N (data_dir on
//                   the disk, SyncPolicy::kInterval, no automatic
//                   checkpoints)
//   list_walk       ListSessions through all N Sessions of a Service in
//                   pages of 1000
//   clock_jump      N Sessions created in year 1 with ttls spread from 1 s
//                   to 10 years; the clock jumps to 9999-12-31 and
//                   Advance() closes them all (closed_retention infinite)
//
// What the fetcher reads: in expiry, purge and clock_jump, N/10 more
// Sessions, with no ttl, of a Service of their own (a fetch of a Session
// the storm is expiring would expire it itself); in delete_service the
// Service not deleted; in growth the Sessions created so far; otherwise
// the N Sessions themselves. Always by SID, a random one each time, into a
// caller-owned Session. Every Session has a 16-character unique_name; the
// N of a storm have ttls of 1 to 2 h unless said. A listener counting
// events is added before each storm, so events are queued and delivered as
// for a host that listens (--no-listener: none).
//
// Each storm's store is built untimed; the fetcher warms up on it for
// --warmup-ms, then records from the storm's start until --tail-ms after
// its end. Per run: the storm's seconds and Sessions a second; the fetches
// recorded, their p50, p99, p99.9 and maximum latency and how many took
// over 1 ms and 5 ms. --unsliced-too runs each storm again on a store with
// StoreOptions::bulk_slice at INT_MAX (bulk work in one lock hold per
// shard), alternating which goes first, and reports the sliced storm's
// throughput over the unsliced one's. Every figure is a median over
// --repetitions runs. A table goes to stdout; --out writes JSON for
// bench/plot_storm.py. A storm that does not do all its work, or a fetch
// that misses its Session, ends the program with status 1.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/paced_fetcher.h"
#include "bench/workload.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"
#include "tools/flags.h"

ABSL_FLAG(int64_t, sessions, 10000000,
          "Sessions each storm works through, 10 to 100000000");
ABSL_FLAG(int64_t, shards, 16, "StoreOptions::shards");
ABSL_FLAG(double, rate, 20000, "fetches a second, 1 to 1000000");
ABSL_FLAG(std::string, storms, "all",
          "comma-separated storms to run, or all: idle, expiry, purge, "
          "delete_service, growth, snapshot, checkpoint, list_walk, "
          "clock_jump");
ABSL_FLAG(std::string, out, "", "write the results as JSON to this file");
ABSL_FLAG(int64_t, repetitions, 5, "runs of each storm, 1 to 1000");
ABSL_FLAG(bool, unsliced_too, false,
          "also run each storm with bulk_slice INT_MAX and compare");
ABSL_FLAG(int64_t, bulk_slice, 1024,
          "StoreOptions::bulk_slice of the sliced runs");
ABSL_FLAG(double, warmup_ms, 200,
          "the fetcher runs this long before recording");
ABSL_FLAG(double, tail_ms, 20, "the fetcher records this long past a storm");
ABSL_FLAG(double, idle_seconds, 1, "how long the idle storm lasts");
ABSL_FLAG(bool, no_listener, false, "add no listener to the stores");

namespace sessionwheel::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;
using nlohmann::json;

constexpr char kUsage[] = R"(Usage: sessionwheel-storm [FLAGS]

Runs bulk work ("storms": mass expiry, purge, a Service delete, table
growth, a snapshot, a checkpoint, a list walk, a clock jump) on a store of
--sessions while another thread fetches Sessions at --rate, and reports the
fetches' latency (corrected for coordinated omission) and each storm's own
throughput, as medians of --repetitions runs. bench/storm.cc describes each
storm; docs/performance.md ("Pauses") the results. --help prints this text.
)";

constexpr int kUnsliced = INT_MAX;
constexpr int64_t kStormTtl = 60;
constexpr int kPageSize = 1000;
// Ttls of the clock jump's Sessions: 1 s to 10 years.
constexpr int64_t kJumpTtlSpread = int64_t{10} * 365 * 24 * 3600;

[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "sessionwheel-storm: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::exit(1);
}

// The splitmix64 step: the fetcher's random numbers, and the jump's ttls.
uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A host's listener at its cheapest: counts what it hears.
class CountingListener : public SessionListener {
 public:
  void OnEvent(const SessionEvent&) noexcept override {
    events_.fetch_add(1, std::memory_order_relaxed);
  }
  int64_t events() const { return events_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> events_{0};
};

// What every storm is built from.
struct Config {
  int64_t sessions = 0;
  int shards = 16;
  int bulk_slice = 1024;
  bool listener = true;
  absl::Duration idle = absl::Seconds(1);
};

// A store set up for one storm: the Sessions the fetcher reads, and the
// storm itself.
class Scene {
 public:
  virtual ~Scene() = default;

  // One fetch of a random fetchable Session; true if it was found. Called
  // by the fetcher's thread only.
  bool Fetch() {
    const uint64_t n = available_.load(std::memory_order_acquire);
    const uint64_t i = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(SplitMix(&rng_)) * n) >> 64);
    return store_->FetchSession(fetched_, targets_[i], &out_).ok();
  }

  // The storm, timed. Returns the Sessions it worked through.
  virtual int64_t Run() = 0;

  // After Run(): an error if the storm left work undone.
  virtual absl::Status Check(int64_t done) = 0;

  // The Sessions held when the storm starts.
  int64_t held() const { return held_; }

 protected:
  explicit Scene(const Config& config) : config_(config) {}

  StoreOptions Options() {
    StoreOptions options;
    options.clock = &clock_;
    options.shards = config_.shards;
    options.seed = 1;
    options.bulk_slice = config_.bulk_slice;
    return options;
  }

  void Open(const StoreOptions& options) {
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options);
    if (!store.ok()) Die(store.status().ToString());
    store_ = *std::move(store);
  }

  Sid AddService(std::string name) {
    CreateServiceParams params;
    params.unique_name = std::move(name);
    absl::StatusOr<Service> service = store_->CreateService(params);
    if (!service.ok()) Die(service.status().ToString());
    return service->sid;
  }

  // Creates a Session of `service` named UniqueName(name) with `ttl`
  // seconds (0: none); returns its SID. Reuses its buffers.
  Sid Create(const Sid& service, uint64_t name, int64_t ttl) {
    const std::string_view text = UniqueNames(name + 1)[name];
    if (params_.unique_name.has_value()) {
      params_.unique_name->assign(text.data(), text.size());
    } else {
      params_.unique_name.emplace(text);
    }
    params_.ttl = ttl;
    if (absl::Status s = store_->CreateSession(service, params_, &created_);
        !s.ok()) {
      Die(s.ToString());
    }
    return created_.sid;
  }

  // `count` Sessions of a Service of their own, with no ttl, for the
  // fetcher to read.
  void AddFetched(int64_t count) {
    fetched_ = AddService("fetched");
    targets_.reserve(count);
    for (int64_t i = 0; i < count; ++i) {
      targets_.push_back(Create(fetched_, i, 0));
    }
    available_.store(targets_.size(), std::memory_order_release);
  }

  // `count` Sessions with ttls of 1 to 2 h in a Service of their own, for
  // the fetcher to read.
  void AddSteady(int64_t count) {
    fetched_ = AddService("steady");
    targets_.reserve(count);
    for (int64_t i = 0; i < count; ++i) {
      targets_.push_back(Create(fetched_, i, LiveTtl(i)));
    }
    available_.store(targets_.size(), std::memory_order_release);
  }

  // Ends the untimed part: adds the listener, counts what is held.
  void Ready() {
    if (config_.listener) {
      listener_ = std::make_shared<CountingListener>();
      store_->AddListener(listener_);
    }
    held_ = store_->Stats().sessions;
  }

  int64_t events() const { return listener_ ? listener_->events() : -1; }

  // `done` must be `want`, and so must the events heard when listening.
  absl::Status Expect(const char* what, int64_t done, int64_t want) {
    if (done != want) {
      return absl::InternalError(
          absl::StrCat(what, ": ", done, " Sessions, not ", want));
    }
    if (listener_ && events() != want) {
      return absl::InternalError(
          absl::StrCat(what, ": ", events(), " events, not ", want));
    }
    return absl::OkStatus();
  }

  const Config config_;
  ManualClock clock_{Start()};
  std::unique_ptr<ScratchDir> dir_;  // Outlives store_: declared before it.
  std::unique_ptr<SessionStore> store_;
  Sid fetched_;               // The fetcher's Service.
  std::vector<Sid> targets_;  // Its Sessions; the first available_ exist.
  std::atomic<uint64_t> available_{0};

 private:
  std::shared_ptr<CountingListener> listener_;
  int64_t held_ = 0;
  CreateSessionParams params_;
  Session created_;
  Session out_;  // The fetcher's.
  uint64_t rng_ =
      static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
};

class IdleScene : public Scene {
 public:
  explicit IdleScene(const Config& config) : Scene(config) {
    Open(Options());
    AddSteady(config.sessions);
    Ready();
  }
  int64_t Run() override {
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(config_.idle));
    return 0;
  }
  absl::Status Check(int64_t) override { return absl::OkStatus(); }
};

// N Sessions all due in one tick (plus N/10 fetched ones with no ttl).
// `retention`: how long they are kept once closed.
class DueAtOnceScene : public Scene {
 protected:
  DueAtOnceScene(const Config& config, absl::Duration retention)
      : Scene(config) {
    StoreOptions options = Options();
    options.closed_retention = retention;
    Open(options);
    AddFetched(std::max<int64_t>(1, config.sessions / 10));
    const Sid storm = AddService("storm");
    for (int64_t i = 0; i < config.sessions; ++i) Create(storm, i, kStormTtl);
  }
};

class ExpiryScene : public DueAtOnceScene {
 public:
  explicit ExpiryScene(const Config& config)
      : DueAtOnceScene(config, absl::InfiniteDuration()) {
    Ready();
  }
  int64_t Run() override {
    clock_.Advance(absl::Seconds(kStormTtl + 1));
    return store_->Advance();
  }
  absl::Status Check(int64_t done) override {
    return Expect("expiry closed", done, config_.sessions);
  }
};

class PurgeScene : public DueAtOnceScene {
 public:
  explicit PurgeScene(const Config& config)
      : DueAtOnceScene(config, absl::Hours(1)) {
    clock_.Advance(absl::Seconds(kStormTtl + 1));
    if (const int64_t closed = store_->Advance(); closed != config.sessions) {
      Die(absl::StrCat("purge's setup closed ", closed));
    }
    Ready();
  }
  int64_t Run() override {
    clock_.Advance(absl::Hours(1));
    return store_->Advance();
  }
  absl::Status Check(int64_t done) override {
    return Expect("purge purged", done, config_.sessions);
  }
};

class DeleteServiceScene : public Scene {
 public:
  explicit DeleteServiceScene(const Config& config) : Scene(config) {
    Open(Options());
    fetched_ = AddService("kept");
    doomed_ = AddService("doomed");
    for (int64_t i = 0; i < config.sessions; ++i) {
      if (i % 10 == 0) {
        Create(doomed_, i, LiveTtl(i));
        ++doomed_count_;
      } else {
        targets_.push_back(Create(fetched_, i, LiveTtl(i)));
      }
    }
    available_.store(targets_.size(), std::memory_order_release);
    Ready();
  }
  int64_t Run() override {
    if (absl::Status s = store_->DeleteService(doomed_); !s.ok()) {
      Die(s.ToString());
    }
    return doomed_count_;
  }
  absl::Status Check(int64_t done) override {
    return Expect("delete_service removed", held() - store_->Stats().sessions,
                  done);
  }

 private:
  Sid doomed_;
  int64_t doomed_count_ = 0;
};

class GrowthScene : public Scene {
 public:
  explicit GrowthScene(const Config& config) : Scene(config) {
    Open(Options());
    fetched_ = AddService("growing");
    targets_.resize(config.sessions);
    // One to fetch from the start.
    targets_[0] = Create(fetched_, 0, LiveTtl(0));
    available_.store(1, std::memory_order_release);
    Ready();
  }
  int64_t Run() override {
    for (int64_t i = 1; i < config_.sessions; ++i) {
      targets_[i] = Create(fetched_, i, LiveTtl(i));
      available_.store(i + 1, std::memory_order_release);
    }
    return config_.sessions - 1;
  }
  absl::Status Check(int64_t done) override {
    return Expect("growth created", store_->Stats().sessions - held(), done);
  }
};

class SnapshotScene : public Scene {
 public:
  explicit SnapshotScene(const Config& config) : Scene(config) {
    dir_ = std::make_unique<ScratchDir>();
    Open(Options());
    AddSteady(config.sessions);
    Ready();
  }
  int64_t Run() override {
    if (absl::Status s = store_->WriteSnapshot(Path()); !s.ok()) {
      Die(s.ToString());
    }
    return held();
  }
  absl::Status Check(int64_t) override {
    std::error_code error;
    if (std::filesystem::file_size(Path(), error) == 0 || error) {
      return absl::InternalError("snapshot: no file written");
    }
    return absl::OkStatus();
  }

 private:
  std::string Path() const { return dir_->path() + "/storm.snap"; }
};

class CheckpointScene : public Scene {
 public:
  explicit CheckpointScene(const Config& config) : Scene(config) {
    dir_ = std::make_unique<ScratchDir>();
    StoreOptions options = Options();
    options.data_dir = dir_->path();
    options.sync = SyncPolicy::kInterval;
    options.checkpoint_min_bytes = kNoLimit;
    Open(options);
    AddSteady(config.sessions);
    dir_->Sync();  // No write-back of the loading in the timed part.
    Ready();
  }
  int64_t Run() override {
    if (absl::Status s = store_->Checkpoint(); !s.ok()) Die(s.ToString());
    return held();
  }
  absl::Status Check(int64_t) override {
    return store_->LatestCheckpoint().status();
  }
};

class ListWalkScene : public Scene {
 public:
  explicit ListWalkScene(const Config& config) : Scene(config) {
    Open(Options());
    AddSteady(config.sessions);
    Ready();
  }
  int64_t Run() override {
    ListParams params;
    params.page_size = kPageSize;
    int64_t listed = 0;
    do {
      absl::StatusOr<SessionPage> page = store_->ListSessions(fetched_, params);
      if (!page.ok()) Die(page.status().ToString());
      listed += static_cast<int64_t>(page->sessions.size());
      params.page_token = std::move(page->next_page_token);
    } while (!params.page_token.empty());
    return listed;
  }
  absl::Status Check(int64_t done) override {
    if (done != held()) {
      return absl::InternalError(
          absl::StrCat("list_walk listed ", done, " of ", held()));
    }
    return absl::OkStatus();
  }
};

class ClockJumpScene : public Scene {
 public:
  explicit ClockJumpScene(const Config& config) : Scene(config) {
    clock_.Set(absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0),
                               absl::UTCTimeZone()));
    StoreOptions options = Options();
    options.closed_retention = absl::InfiniteDuration();
    Open(options);
    AddFetched(std::max<int64_t>(1, config.sessions / 10));
    const Sid storm = AddService("storm");
    uint64_t state = 1;
    for (int64_t i = 0; i < config.sessions; ++i) {
      Create(storm, i,
             1 + static_cast<int64_t>(SplitMix(&state) % kJumpTtlSpread));
    }
    Ready();
  }
  int64_t Run() override {
    clock_.Set(absl::FromCivil(absl::CivilSecond(9999, 12, 31, 23, 59, 59),
                               absl::UTCTimeZone()));
    return store_->Advance();
  }
  absl::Status Check(int64_t done) override {
    return Expect("clock_jump closed", done, config_.sessions);
  }
};

// The runs
// ---------------------------------------------------------------------

struct StormKind {
  const char* name;
  std::unique_ptr<Scene> (*make)(const Config&);
  const char* what;  // For the JSON and the chart.
};

template <typename S>
std::unique_ptr<Scene> Make(const Config& config) {
  return std::make_unique<S>(config);
}

constexpr StormKind kStorms[] = {
    {"idle", Make<IdleScene>, "no storm: the fetcher alone"},
    {"expiry", Make<ExpiryScene>, "N due in one tick, closed and kept"},
    {"purge", Make<PurgeScene>, "N closed Sessions purged at once"},
    {"delete_service", Make<DeleteServiceScene>,
     "DeleteService of N/10 Sessions"},
    {"growth", Make<GrowthScene>, "N creates into an empty store"},
    {"snapshot", Make<SnapshotScene>, "WriteSnapshot of N"},
    {"checkpoint", Make<CheckpointScene>, "Checkpoint() of a durable N"},
    {"list_walk", Make<ListWalkScene>, "ListSessions of N, pages of 1000"},
    {"clock_jump", Make<ClockJumpScene>,
     "year 1 to 9999: N with ttls up to 10 years closed"},
};

// How the fetcher runs.
struct Pace {
  double rate = 20000;
  absl::Duration warmup = absl::Milliseconds(200);
  absl::Duration tail = absl::Milliseconds(20);
};

// One run of a storm.
struct RunFigures {
  double seconds = 0;
  int64_t sessions = 0;  // Worked through by the storm.
  int64_t held = 0;      // In the store when it started.
  int64_t fetches = 0;
  double window_s = 0;  // The fetcher's recorded stretch.
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  int64_t over_1ms = 0, over_5ms = 0;
  // Cores' worth of CPU that other processes used, and that the hypervisor
  // stole, during the window: the machine's noise.
  double other_cores = 0, steal_cores = 0;
};

json ToJson(const RunFigures& r) {
  return {{"seconds", r.seconds},
          {"sessions", r.sessions},
          {"held", r.held},
          {"sessions_per_s", r.seconds > 0 ? r.sessions / r.seconds : 0.0},
          {"fetches", r.fetches},
          {"window_s", r.window_s},
          {"p50_us", r.p50_us},
          {"p99_us", r.p99_us},
          {"p999_us", r.p999_us},
          {"max_us", r.max_us},
          {"over_1ms", r.over_1ms},
          {"over_5ms", r.over_5ms},
          {"other_cores", r.other_cores},
          {"steal_cores", r.steal_cores}};
}

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// CPU time in clock ticks: the machine's busy and stolen time (/proc/stat)
// and this process's (/proc/self/stat), to tell how much of the machine
// other processes, or the hypervisor, took during a run. Zero where the
// files cannot be read.
struct CpuTicks {
  int64_t busy = 0;
  int64_t steal = 0;
  int64_t self = 0;
};

CpuTicks ReadCpuTicks() {
  CpuTicks t;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  int64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0,
          softirq = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >>
      t.steal;
  t.busy = user + nice + system + irq + softirq;
  std::ifstream self("/proc/self/stat");
  std::string line;
  std::getline(self, line);
  // After the command's closing parenthesis: fields 3 on; utime and stime
  // are fields 14 and 15.
  std::istringstream fields(
      line.substr(std::min(line.size(), line.rfind(')') + 1)));
  std::string skip;
  for (int field = 3; field <= 13; ++field) fields >> skip;
  int64_t utime = 0, stime = 0;
  fields >> utime >> stime;
  t.self = utime + stime;
  return t;
}

// Builds the storm's store, runs the fetcher on it through the storm, and
// checks both did right.
RunFigures Measure(const StormKind& kind, const Config& config,
                   const Pace& pace) {
  std::unique_ptr<Scene> scene = kind.make(config);
  RunFigures r;
  {
    PacedFetcher fetcher(pace.rate, pace.warmup,
                         [&scene] { return scene->Fetch(); });
    fetcher.WaitForRecording();
    const CpuTicks before = ReadCpuTicks();
    const auto start = SteadyClock::now();
    r.sessions = scene->Run();
    r.seconds = Since(start);
    r.held = scene->held();
    const PacedResult fetched = fetcher.Stop(pace.tail);
    r.window_s = Since(start);
    const CpuTicks after = ReadCpuTicks();
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK)) * r.window_s;
    r.other_cores =
        std::max(0.0, static_cast<double>((after.busy - before.busy) -
                                          (after.self - before.self)) /
                          ticks);
    r.steal_cores = static_cast<double>(after.steal - before.steal) / ticks;
    if (fetched.wrong > 0) {
      Die(absl::StrCat(kind.name, ": ", fetched.wrong, " of ", fetched.fetches,
                       " fetches missed their Session"));
    }
    r.fetches = fetched.fetches;
    r.p50_us = fetched.latency.PercentileUs(0.50);
    r.p99_us = fetched.latency.PercentileUs(0.99);
    r.p999_us = fetched.latency.PercentileUs(0.999);
    r.max_us = fetched.latency.MaxUs();
    r.over_1ms = fetched.latency.CountAbove(1'000'000);
    r.over_5ms = fetched.latency.CountAbove(5'000'000);
  }
  if (absl::Status s = scene->Check(r.sessions); !s.ok()) Die(s.ToString());
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The median of every figure of `runs`, field by field.
json Medians(const std::vector<json>& runs) {
  json out = json::object();
  if (runs.empty()) return out;
  for (const auto& [key, value] : runs[0].items()) {
    std::vector<double> v;
    for (const json& run : runs) v.push_back(run.at(key).get<double>());
    out[key] = Median(std::move(v));
  }
  return out;
}

// The 1, 5 and 15 minute load averages, for the record.
std::vector<double> LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::vector<double> load(3, 0.0);
  in >> load[0] >> load[1] >> load[2];
  return load;
}

void PrintRow(const std::string& name, const json& m, const json* unsliced) {
  std::printf(
      "%-15s %8.3f %8.2f %8.0f %8.2f %8.2f %9.2f %9.2f %6.0f %6.0f %6.2f",
      name.c_str(), m["seconds"].get<double>(),
      m["sessions_per_s"].get<double>() / 1e6, m["fetches"].get<double>(),
      m["p50_us"].get<double>(), m["p99_us"].get<double>(),
      m["p999_us"].get<double>(), m["max_us"].get<double>(),
      m["over_1ms"].get<double>(), m["over_5ms"].get<double>(),
      m["other_cores"].get<double>());
  if (unsliced != nullptr) {
    std::printf(" | %8.3f %9.2f %9.2f %6.2f",
                (*unsliced)["seconds"].get<double>(),
                (*unsliced)["p999_us"].get<double>(),
                (*unsliced)["max_us"].get<double>(),
                m["throughput_vs_unsliced"].get<double>());
  }
  std::printf("\n");
  std::fflush(stdout);
}

void WriteJson(const std::string& path, const json& doc) {
  if (path.empty()) return;
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) Die("cannot write " + path);
}

int Main(int argc, char** argv) {
  tools::ParseFlagsOrExit(
      argc, argv, "sessionwheel-storm", kUsage,
      {&FLAGS_sessions, &FLAGS_shards, &FLAGS_rate, &FLAGS_storms, &FLAGS_out,
       &FLAGS_repetitions, &FLAGS_unsliced_too, &FLAGS_bulk_slice,
       &FLAGS_warmup_ms, &FLAGS_tail_ms, &FLAGS_idle_seconds,
       &FLAGS_no_listener});
  Config config;
  config.sessions = absl::GetFlag(FLAGS_sessions);
  if (config.sessions < 10 || config.sessions > 100'000'000) {
    tools::UsageError("--sessions must be from 10 to 100000000");
  }
  config.shards = static_cast<int>(absl::GetFlag(FLAGS_shards));
  const int64_t bulk_slice = absl::GetFlag(FLAGS_bulk_slice);
  if (bulk_slice < 1 || bulk_slice > kUnsliced) {
    tools::UsageError("--bulk-slice must be from 1 to 2147483647");
  }
  config.bulk_slice = static_cast<int>(bulk_slice);
  config.listener = !absl::GetFlag(FLAGS_no_listener);
  config.idle = absl::Seconds(absl::GetFlag(FLAGS_idle_seconds));
  Pace pace;
  pace.rate = absl::GetFlag(FLAGS_rate);
  if (!(pace.rate >= 1 && pace.rate <= 1e6)) {
    tools::UsageError("--rate must be from 1 to 1000000");
  }
  pace.warmup = absl::Milliseconds(absl::GetFlag(FLAGS_warmup_ms));
  pace.tail = absl::Milliseconds(absl::GetFlag(FLAGS_tail_ms));
  const int64_t repetitions = absl::GetFlag(FLAGS_repetitions);
  if (repetitions < 1 || repetitions > 1000) {
    tools::UsageError("--repetitions must be from 1 to 1000");
  }
  const bool unsliced_too = absl::GetFlag(FLAGS_unsliced_too);

  std::vector<const StormKind*> storms;
  const std::string list = absl::GetFlag(FLAGS_storms);
  for (const std::string& name :
       std::vector<std::string>(absl::StrSplit(list, ',', absl::SkipEmpty()))) {
    const StormKind* found = nullptr;
    for (const StormKind& kind : kStorms) {
      if (name == kind.name || name == "all") {
        storms.push_back(&kind);
        found = &kind;
      }
    }
    if (found == nullptr) {
      tools::UsageError(absl::StrCat("unknown storm '", name, "'"));
    }
  }
  if (storms.empty()) tools::UsageError("--storms names no storm");

  json doc;
  doc["context"] = {{"program", "sessionwheel-storm"},
                    {"date", absl::FormatTime(absl::RFC3339_sec, absl::Now(),
                                              absl::UTCTimeZone())},
                    {"command", absl::StrJoin(argv, argv + argc, " ")},
                    {"cpus", std::thread::hardware_concurrency()},
                    {"load_average_before", LoadAverage()},
                    {"sessions", config.sessions},
                    {"shards", config.shards},
                    {"rate", pace.rate},
                    {"repetitions", repetitions},
                    {"bulk_slice", config.bulk_slice},
                    {"unsliced_too", unsliced_too},
                    {"warmup_ms", absl::ToDoubleMilliseconds(pace.warmup)},
                    {"tail_ms", absl::ToDoubleMilliseconds(pace.tail)},
                    {"listener", config.listener}};
  doc["storms"] = json::array();

  std::printf(
      "%-15s %8s %8s %8s %8s %8s %9s %9s %6s %6s %6s%s\n", "storm", "seconds",
      "M/s", "fetches", "p50_us", "p99_us", "p99.9_us", "max_us", ">1ms",
      ">5ms", "others",
      unsliced_too ? " | unsliced: seconds  p99.9_us    max_us  ratio" : "");
  for (const StormKind* kind : storms) {
    std::vector<json> runs, unsliced_runs;
    std::vector<double> ratios;
    for (int64_t rep = 0; rep < repetitions; ++rep) {
      // Alternate which goes first, so a drift of the machine is shared.
      std::vector<bool> order = {true};
      if (unsliced_too) {
        order = rep % 2 == 0 ? std::vector<bool>{true, false}
                             : std::vector<bool>{false, true};
      }
      double sliced_seconds = 0, unsliced_seconds = 0;
      for (const bool sliced : order) {
        Config c = config;
        if (!sliced) c.bulk_slice = kUnsliced;
        const RunFigures r = Measure(*kind, c, pace);
        std::fprintf(stderr,
                     "%s run %lld/%lld%s: %.3f s, %lld fetches, p99.9 %.1f "
                     "us, max %.1f us, others %.2f cores\n",
                     kind->name, static_cast<long long>(rep + 1),
                     static_cast<long long>(repetitions),
                     sliced ? "" : " unsliced", r.seconds,
                     static_cast<long long>(r.fetches), r.p999_us, r.max_us,
                     r.other_cores);
        (sliced ? runs : unsliced_runs).push_back(ToJson(r));
        (sliced ? sliced_seconds : unsliced_seconds) = r.seconds;
      }
      if (unsliced_too && sliced_seconds > 0) {
        ratios.push_back(unsliced_seconds / sliced_seconds);
      }
    }
    json storm = {{"storm", kind->name},
                  {"system", "sessionwheel"},
                  {"description", kind->what},
                  {"median", Medians(runs)},
                  {"runs", runs}};
    json& median = storm["median"];
    if (unsliced_too) {
      median["throughput_vs_unsliced"] = Median(ratios);
      storm["unsliced_median"] = Medians(unsliced_runs);
      storm["unsliced_runs"] = unsliced_runs;
    }
    const bool idle = std::string_view(kind->name) == "idle";
    storm["targets"] = {
        {"p999_le_1ms", median["p999_us"].get<double>() <= 1000},
        {"max_le_5ms", median["max_us"].get<double>() <= 5000}};
    if (unsliced_too && !idle) {
      storm["targets"]["throughput_ge_0.8_unsliced"] =
          median["throughput_vs_unsliced"].get<double>() >= 0.8;
    }
    PrintRow(kind->name, median,
             unsliced_too ? &storm["unsliced_median"] : nullptr);
    doc["storms"].push_back(std::move(storm));
    doc["context"]["load_average_after"] = LoadAverage();
    WriteJson(absl::GetFlag(FLAGS_out), doc);  // After each storm: kept.
  }
  return 0;
}

}  // namespace
}  // namespace sessionwheel::bench

int main(int argc, char** argv) {
  return sessionwheel::bench::Main(argc, argv);
}
