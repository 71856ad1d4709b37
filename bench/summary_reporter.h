// A console reporter that adds a summary after Google Benchmark's own table:
// each workload a row, the stores side by side, and sessionwheel's standing
// against the best baseline on the same workload and against the
// no-concurrency limit ("limit", a reference rather than a baseline).
//
// Benchmarks are named "<workload>/<store>" (see store_under_test.h), so the
// reporter needs no other knowledge of them. The one exception,
// memory_latency, runs without a store: its ns_per_load is printed last, on
// a line of its own. The durability workloads (durable_*, disk_sync), whose
// second part is a sync policy rather than a store, get tables of their own:
// the rates by policy with each row's ratio counters (vs_memory, vs_disk),
// then the one-shot rows with their counters. With --benchmark_repetitions
// it summarises the median of the repetitions; otherwise the single run.
//
// Example:
//
//   SummaryReporter reporter;
//   reporter.AddRatio("fetch_sid/threads:2", "fetch_sid/threads:1");
//   benchmark::RunSpecifiedBenchmarks(&reporter);
//   return reporter.errors() == 0 ? 0 : 1;

#ifndef SESSIONWHEEL_BENCH_SUMMARY_REPORTER_H_
#define SESSIONWHEEL_BENCH_SUMMARY_REPORTER_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"

namespace sessionwheel::bench {

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  // Colours only when stdout is a terminal, so CI logs stay plain.
  SummaryReporter();

  // Also prints, per store, the ratio of the two workloads' ops/s.
  void AddRatio(std::string numerator, std::string denominator);

  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

  // How many benchmarks stopped with an error (State::SkipWithError).
  int errors() const { return static_cast<int>(errors_.size()); }

 private:
  // One store's result on one workload: the run's time and counters.
  struct Result {
    double ms = 0;             // Real (or manual) time per iteration.
    bool manual_time = false;  // Timed by hand: a one-shot workload.
    std::map<std::string, double> counters;
  };
  using Row = std::map<std::string, Result>;  // By store name.

  enum class Better { kHigher, kLower };

  // Prints one table: the rows having `counter`, or for "" the time of the
  // workloads timed by hand, with sessionwheel against the best baseline.
  void PrintTable(const char* title, const std::string& counter, Better better);
  void PrintLateness();
  void PrintRatios();
  void PrintMemoryLatency();
  void PrintDurability();

  std::vector<std::string> workloads_;  // In the order they first ran.
  std::vector<std::string> stores_;     // Likewise.
  std::map<std::string, Row> rows_;     // By workload.
  std::vector<std::pair<std::string, std::string>> ratios_;
  std::vector<std::string> errors_;
  // The durability workloads, kept apart: by workload, then by policy.
  std::vector<std::string> durable_workloads_;
  std::vector<std::string> policies_;
  std::map<std::string, Row> durable_rows_;
  double memory_latency_ns_ = 0;  // memory_latency's ns_per_load; 0 if not run.
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_SUMMARY_REPORTER_H_
