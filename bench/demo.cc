// sessionwheel-demo: a million Proxy Sessions, expired in real time.
//
// The demo loads N Sessions (1,000,000 by default) into a SessionStore that
// runs its own expiry thread on the system clock, then lets them live out
// their lives: worker threads record interactions (each one restarting a
// Session's TTL window), fetch Sessions, and close or delete a few, each at
// the moment the Session's plan says (demo_workload.h). A listener counts the
// events and measures how late each expiry arrives (demo_listener.h). A
// progress line shows the store draining; once every Session has expired or
// been deleted, and every ended one has been purged, a summary prints the
// throughput of each operation, the expiry rate and lateness, and the memory
// each Session takes.
//
//   ./dev.sh demo                                  # about 20 s
//   build/release/bench/sessionwheel-demo --sessions 100000 --threads 4

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "demo_flags.h"
#include "demo_listener.h"
#include "demo_workload.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"

namespace demo {
namespace {

constexpr absl::Duration kTick = absl::Milliseconds(10);
constexpr absl::Duration kClosedRetention = absl::Seconds(3);
// A worker waiting for its next action sleeps this much past it, so actions a
// few milliseconds apart run in one wakeup rather than one each.
constexpr absl::Duration kBatch = absl::Milliseconds(2);

// Reporting helpers ---------------------------------------------------------

// 1234567 -> "1,234,567".
std::string Commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

// (2, "thread") -> "2 threads".
std::string Count(int64_t n, const std::string& noun) {
  return Commas(n) + " " + noun + (n == 1 ? "" : "s");
}

// Bytes the allocator has handed out and not had back: small chunks from its
// arenas plus large blocks mapped on their own (a big hash table's array).
int64_t HeapInUse() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
}

volatile std::sig_atomic_t g_interrupted = 0;

void OnInterrupt(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);  // A second Ctrl-C ends the demo at once.
}

// Calls of one kind by one worker, and the time spent inside them.
struct OpCount {
  int64_t calls = 0;
  int64_t ok = 0;
  std::chrono::nanoseconds busy{0};
};
using OpCounts = std::array<OpCount, kNumOps>;

// The simulation ------------------------------------------------------------

class Simulation {
 public:
  explicit Simulation(const Flags& flags)
      : flags_(flags),
        plans_(static_cast<size_t>(flags.sessions)),
        queues_(static_cast<size_t>(flags.threads)),
        counts_(static_cast<size_t>(flags.threads)) {}

  int Run() {
    Plan();
    OpenStore();
    std::printf(
        "sessionwheel demo: %s in %d Services, %s\n"
        "TTL 2-%lld s (10%% with a date_expiry instead), tick %lld ms, closed "
        "retention %lld s, seed %llu\n",
        Count(flags_.sessions, "Session").c_str(), kServices,
        Count(flags_.threads, "worker thread").c_str(),
        static_cast<long long>(2 + flags_.ttl_spread),
        static_cast<long long>(absl::ToInt64Milliseconds(kTick)),
        static_cast<long long>(absl::ToInt64Seconds(kClosedRetention)),
        static_cast<unsigned long long>(flags_.seed));
    std::fflush(stdout);

    // Everything allocated from here to the end of the load is the store's.
    const int64_t heap_before = HeapInUse();
    start_ = absl::Now();
    std::vector<std::thread> workers;
    for (int w = 0; w < flags_.threads; ++w) {
      workers.emplace_back([this, w, heap_before] { Work(w, heap_before); });
    }
    const bool finished = ShowProgress();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers) t.join();
    const absl::Duration elapsed = absl::Now() - start_;
    const sessionwheel::StoreStats left = store_->Stats();
    store_.reset();  // Joins the store's expiry thread.

    if (finished) {
      std::printf(
          "\nDone in %.1f s: every Session expired or was deleted, "
          "and every ended one was purged.\n",
          absl::ToDoubleSeconds(elapsed));
    } else {
      std::printf("\nStopped after %.1f s (%s) with %s still held.\n",
                  absl::ToDoubleSeconds(elapsed),
                  g_interrupted ? "interrupted" : "the --duration cap",
                  Count(left.sessions, "Session").c_str());
    }
    PrintSummary();
    return g_interrupted ? 130 : 0;  // 130: the shell's code for Ctrl-C.
  }

 private:
  // A worker's actions waiting for their time: a min-heap on `at`.
  struct Pending {
    absl::Time at;
    Action action;
    bool operator>(const Pending& other) const { return at > other.at; }
  };
  using Queue = std::vector<Pending>;

  // Sizes each worker's queue for the actions it will run, so that loading
  // allocates nothing but the store's memory. Session i belongs to worker
  // i % threads, which creates it and runs its actions.
  void Plan() {
    SessionPlan plan;  // Scratch: Create() draws each plan again.
    Action drawn[kMaxActions];
    std::vector<size_t> per_worker(queues_.size());
    for (uint32_t i = 0; i < plans_.size(); ++i) {
      per_worker[i % queues_.size()] += DrawPlan(
          flags_.seed, i, static_cast<int>(flags_.ttl_spread), &plan, drawn);
    }
    for (size_t w = 0; w < queues_.size(); ++w) {
      queues_[w].reserve(per_worker[w]);
    }
  }

  void OpenStore() {
    sessionwheel::StoreOptions options;
    options.clock = nullptr;  // The system clock: the demo runs in real time.
    options.tick = kTick;
    options.closed_retention = kClosedRetention;
    options.background_expiry = true;
    options.seed = flags_.seed;
    options.data_dir = flags_.data_dir;
    options.sync = flags_.sync;
    const absl::Time opening = absl::Now();
    store_ = Must(sessionwheel::SessionStore::Open(options));
    if (!flags_.data_dir.empty()) StartAfresh(absl::Now() - opening);
    store_->AddListener(listener_);
    for (int s = 0; s < kServices; ++s) {
      sessionwheel::CreateServiceParams service;
      service.unique_name = kServiceNames[s];
      service_sids_[s] = Must(store_->CreateService(service)).sid;
    }
  }

  // A durable store opened on an earlier run's directory: says what came
  // back, then deletes its Services, so this run's names are free.
  void StartAfresh(absl::Duration recovery) {
    const sessionwheel::StoreStats stats = store_->Stats();
    if (stats.services == 0) return;  // A new directory.
    std::printf("recovered %s in %s Services from %s in %s\n",
                Count(stats.sessions, "Session").c_str(),
                std::to_string(stats.services).c_str(), flags_.data_dir.c_str(),
                absl::FormatDuration(recovery).c_str());
    sessionwheel::ListParams all;
    all.page_size = 1000;
    for (const sessionwheel::Service& service :
         Must(store_->ListServices(all)).services) {
      Must(store_->DeleteService(service.sid));
    }
  }

  template <typename T>
  static T Must(absl::StatusOr<T> v) {
    if (!v.ok()) {
      std::fprintf(stderr, "sessionwheel-demo: %s\n",
                   v.status().ToString().c_str());
      std::_Exit(1);  // Other threads may be running: no destructors.
    }
    return *std::move(v);
  }
  static void Must(const absl::Status& s) {
    if (!s.ok()) Must(absl::StatusOr<bool>(s));
  }

  // One worker: creates its share of the Sessions, running the actions that
  // come due meanwhile; waits for the others (so the heap can be measured
  // with only the store in it); then runs the rest of its actions in time
  // order, sleeping until each is due.
  void Work(int w, int64_t heap_before) {
    Queue& queue = queues_[w];
    OpCounts& counts = counts_[w];
    for (size_t i = w; i < plans_.size() && !stop_; i += flags_.threads) {
      Create(static_cast<uint32_t>(i), queue, counts);
      RunDue(queue, counts);
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (++loaded_ == flags_.threads && !stop_) {
        load_time_ = absl::Now() - start_;
        heap_per_session_ = static_cast<double>(HeapInUse() - heap_before) /
                            static_cast<double>(store_->Stats().sessions);
        load_done_ = true;
        wake_.notify_all();
      }
      wake_.wait(lock, [this] { return load_done_ || stop_.load(); });
      if (!load_done_) return;  // Stopped while loading.
    }
    while (!queue.empty() && !stop_) {
      if (queue.front().at > absl::Now()) {
        std::unique_lock<std::mutex> lock(mu_);
        if (wake_.wait_until(lock,
                             absl::ToChronoTime(queue.front().at + kBatch),
                             [this] { return stop_.load(); })) {
          return;
        }
      }
      RunDue(queue, counts);
    }
    workers_done_.fetch_add(1);
  }

  void RunDue(Queue& queue, OpCounts& counts) {
    const absl::Time now = absl::Now();
    while (!queue.empty() && queue.front().at <= now && !stop_) {
      std::pop_heap(queue.begin(), queue.end(), std::greater<>());
      const Action a = queue.back().action;
      queue.pop_back();
      Perform(a, counts[static_cast<int>(a.op)]);
    }
  }

  void Create(uint32_t i, Queue& queue, OpCounts& counts) {
    SessionPlan& s = plans_[i];
    Action actions[kMaxActions];
    const int n = DrawPlan(flags_.seed, i, static_cast<int>(flags_.ttl_spread),
                           &s, actions);
    sessionwheel::CreateSessionParams params;
    if (s.named) params.unique_name = SessionName(s.service, i);
    params.ttl = s.ttl;
    if (s.ttl == 0) {
      params.date_expiry = absl::Now() + absl::Milliseconds(s.date_expiry_ms);
    }
    OpCount& count = counts[static_cast<int>(Op::kCreate)];
    const auto begin = std::chrono::steady_clock::now();
    sessionwheel::Session session;
    Must(store_->CreateSession(service_sids_[s.service], params, &session));
    count.busy += std::chrono::steady_clock::now() - begin;
    ++count.calls;
    ++count.ok;
    s.sid = session.sid;
    for (int k = 0; k < n; ++k) {
      queue.push_back(
          {session.date_created + absl::Milliseconds(actions[k].offset_ms),
           actions[k]});
      std::push_heap(queue.begin(), queue.end(), std::greater<>());
    }
  }

  void Perform(const Action& a, OpCount& count) {
    const SessionPlan& s = plans_[a.session];
    const sessionwheel::Sid& ks = service_sids_[s.service];
    const sessionwheel::Sid& kc = s.sid;
    // This worker's fetch answers, buffers reused as a host would.
    thread_local sessionwheel::Session fetched;
    const std::string name =
        a.op == Op::kFetch && s.named ? SessionName(s.service, a.session) : "";
    const auto begin = std::chrono::steady_clock::now();
    bool ok = false;
    switch (a.op) {
      case Op::kInteraction:
        ok = store_->RecordInteraction(ks, kc).ok();
        break;
      case Op::kFetch:
        // By unique_name when it has one, as a host looking up a ride would.
        ok = (s.named ? store_->FetchSession(ks, name, &fetched)
                      : store_->FetchSession(ks, kc, &fetched))
                 .ok();
        break;
      case Op::kClose:
        ok = store_->CloseSession(ks, kc, kHostReason).ok();
        break;
      case Op::kDelete:
        ok = store_->DeleteSession(ks, kc).ok();
        break;
      case Op::kCreate:
        break;
    }
    count.busy += std::chrono::steady_clock::now() - begin;
    ++count.calls;
    count.ok += ok;
  }

  // Prints a progress line to stderr 4 times a second on a terminal, once a
  // second otherwise, until every Session is gone, the --duration cap or
  // Ctrl-C. Returns true in the first case.
  bool ShowProgress() {
    const bool tty = isatty(fileno(stderr));
    const absl::Duration kSample = absl::Milliseconds(250);
    int64_t expired_at[4] = {};  // Expiries at each of the last 4 samples.
    const absl::Time end = start_ + absl::Seconds(flags_.duration);
    bool finished = false;
    for (int n = 1;; ++n) {
      absl::SleepFor(std::min(start_ + n * kSample, end) - absl::Now());
      const absl::Duration elapsed = absl::Now() - start_;
      const sessionwheel::StoreStats stats = store_->Stats();
      const int64_t expired = listener_->Expired();
      const int64_t previous = expired_at[(n + 3) % 4];        // 0.25 s ago.
      const int64_t per_second = expired - expired_at[n % 4];  // 1 s ago.
      expired_at[n % 4] = expired;
      peak_expiries_ = std::max(peak_expiries_, per_second);
      if (expired > 0 && first_expiry_ == absl::InfiniteDuration()) {
        first_expiry_ = elapsed - kSample;  // The first came since then.
      }
      if (expired > previous) last_expiry_ = elapsed;

      finished = workers_done_.load() == flags_.threads && stats.sessions == 0;
      const bool stop = finished || g_interrupted || absl::Now() >= end;
      if (tty || n % 4 == 0 || stop) {
        std::fprintf(stderr,
                     "%s%6.1f s  live %11s  closed %11s  purged %11s  "
                     "expiries/s %9s%s",
                     tty ? "\r" : "", absl::ToDoubleSeconds(elapsed),
                     Commas(stats.open + stats.in_progress).c_str(),
                     Commas(listener_->Closed()).c_str(),
                     Commas(CountingListener::Get(listener_->purged)).c_str(),
                     Commas(per_second).c_str(), tty ? "" : "\n");
      }
      if (stop) break;
    }
    if (tty) std::fputc('\n', stderr);
    return finished;
  }

  void PrintSummary() {
    OpCounts total;
    for (const OpCounts& c : counts_) {
      for (int op = 0; op < kNumOps; ++op) {
        total[op].calls += c[op].calls;
        total[op].ok += c[op].ok;
        total[op].busy += c[op].busy;
      }
    }
    if (load_done_) {
      const double seconds = std::max(1e-9, absl::ToDoubleSeconds(load_time_));
      std::printf(
          "Loaded %s in %.3f s with %s: %s creates/s.\n",
          Count(total[0].calls, "Session").c_str(), seconds,
          Count(flags_.threads, "thread").c_str(),
          Commas(static_cast<int64_t>(total[0].calls / seconds)).c_str());
      if (heap_per_session_ > 0) {
        std::printf(
            "Memory: %.0f bytes per Session (the heap's growth while loading, "
            "from mallinfo2).\n\n",
            heap_per_session_);
      } else {  // Another allocator, e.g. a sanitizer's.
        std::printf("Memory: not measured (mallinfo2 saw no growth).\n\n");
      }
    }

    std::printf("%-12s %13s %13s %13s\n", "operation", "calls", "succeeded",
                "ops/s");
    for (int op = 0; op < kNumOps; ++op) {
      const double seconds =
          std::chrono::duration<double>(total[op].busy).count();
      std::printf(
          "%-12s %13s %13s %13s\n", kOpNames[op],
          Commas(total[op].calls).c_str(), Commas(total[op].ok).c_str(),
          seconds > 0
              ? Commas(static_cast<int64_t>(total[op].calls / seconds)).c_str()
              : "-");
    }
    std::printf(
        "ops/s: calls per second of time spent inside the call (one thread's "
        "rate).\nA call fails when its Session has already ended or is "
        "gone.\n\n");

    const CountingListener& l = *listener_;
    const int64_t expired = l.Expired();
    const double span = absl::ToDoubleSeconds(last_expiry_ - first_expiry_);
    std::printf("expiries    %s (ttl %s, date_expiry %s)",
                Commas(expired).c_str(),
                Commas(CountingListener::Get(l.closed_ttl)).c_str(),
                Commas(CountingListener::Get(l.closed_date_expiry)).c_str());
    if (span > 0) {
      std::printf(" over %.1f s: %s/s on average, %s/s at peak", span,
                  Commas(static_cast<int64_t>(expired / span)).c_str(),
                  Commas(peak_expiries_).c_str());
    }
    if (l.lateness.Count() == 0) {
      std::printf("\nlateness    -  (no expiries)\n");
    } else {
      std::printf(
          "\nlateness    p50 %.1f ms, p99 %.1f ms, max %.1f ms  (delivery time "
          "- expiry instant; tick %lld ms)\n",
          l.lateness.QuantileMs(0.5), l.lateness.QuantileMs(0.99),
          l.lateness.MaxMs(),
          static_cast<long long>(absl::ToInt64Milliseconds(kTick)));
    }
    std::printf(
        "events      created %s, interaction %s, closed %s (by host "
        "%s), deleted %s, purged %s\n",
        Commas(CountingListener::Get(l.created)).c_str(),
        Commas(CountingListener::Get(l.interaction)).c_str(),
        Commas(l.Closed()).c_str(),
        Commas(CountingListener::Get(l.closed_host)).c_str(),
        Commas(CountingListener::Get(l.deleted)).c_str(),
        Commas(CountingListener::Get(l.purged)).c_str());
  }

  const Flags flags_;
  std::vector<SessionPlan> plans_;
  std::vector<Queue> queues_;     // One per worker.
  std::vector<OpCounts> counts_;  // One per worker.
  std::shared_ptr<CountingListener> listener_ =
      std::make_shared<CountingListener>();
  std::unique_ptr<sessionwheel::SessionStore> store_;
  sessionwheel::Sid service_sids_[kServices];

  absl::Time start_;

  // Workers wait on wake_: for the others to load, then for their next action.
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};  // Set under mu_, so waiters see it.
  int loaded_ = 0;                 // Guarded by mu_.
  bool load_done_ = false;         // Guarded by mu_.
  std::atomic<int> workers_done_{0};

  // Set by the last worker to finish loading, read after the workers joined.
  absl::Duration load_time_;
  double heap_per_session_ = 0;

  // The progress loop's expiry measurements.
  int64_t peak_expiries_ = 0;
  absl::Duration first_expiry_ = absl::InfiniteDuration();
  absl::Duration last_expiry_;
};

}  // namespace
}  // namespace demo

int main(int argc, char** argv) {
  const demo::Flags flags = demo::ParseFlags(argc, argv);
  std::signal(SIGINT, demo::OnInterrupt);
  demo::Simulation simulation(flags);
  return simulation.Run();
}
