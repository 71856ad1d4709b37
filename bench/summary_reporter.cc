#include "bench/summary_reporter.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace sessionwheel::bench {
namespace {

constexpr char kEngine[] = "sessionwheel";
// The no-concurrency limit: a reference, not a baseline to beat, so it stays
// out of "vs best" and gets a column of its own.
constexpr char kLimit[] = "limit";
constexpr int kColumn = 14;

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string Format(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// 12.3M, 845.2k, 999.
std::string Rate(double v) {
  if (v >= 1e6) return Format("%.2fM", v / 1e6);
  if (v >= 1e3) return Format("%.1fk", v / 1e3);
  return Format("%.0f", v);
}

// Three significant digits or so, never in exponent form.
std::string Plain(double v) {
  if (v >= 100) return Format("%.0f", v);
  if (v >= 10) return Format("%.1f", v);
  return Format("%.2f", v);
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : std::string(width - s.size(), ' ') + s;
}

// The durability workloads: their second part is a sync policy (or another
// variant), not a store.
bool IsDurable(const std::string& workload) {
  return workload.rfind("durable_", 0) == 0 ||
         workload.rfind("disk_sync", 0) == 0;
}

// The columns of the durability rate table, in this order when present.
constexpr const char* kPolicies[] = {"memory", "os", "interval", "every_write",
                                     "defaults"};

}  // namespace

SummaryReporter::SummaryReporter()
    : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

void SummaryReporter::AddRatio(std::string numerator, std::string denominator) {
  ratios_.emplace_back(std::move(numerator), std::move(denominator));
}

void SummaryReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const Run& run : runs) {
    if (run.error_occurred) {
      errors_.push_back(run.benchmark_name() + ": " + run.error_message);
      continue;
    }
    // The median of repetitions, or the one run when there are none.
    const bool median =
        run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    const bool single =
        run.run_type == Run::RT_Iteration && run.repetitions <= 1;
    if (!median && !single) continue;

    const std::string& name = run.run_name.function_name;
    if (name == "memory_latency") {
      memory_latency_ns_ = run.counters.at("ns_per_load").value;
      continue;
    }
    const size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    std::string workload = name.substr(0, slash);
    const std::string store = name.substr(slash + 1);
    if (!run.run_name.args.empty()) workload += "/" + run.run_name.args;
    if (!run.run_name.threads.empty()) workload += "/" + run.run_name.threads;

    const bool durable = IsDurable(workload);
    std::vector<std::string>& workloads =
        durable ? durable_workloads_ : workloads_;
    std::vector<std::string>& stores = durable ? policies_ : stores_;
    if (!Contains(workloads, workload)) workloads.push_back(workload);
    if (!Contains(stores, store)) stores.push_back(store);
    Result& r = (durable ? durable_rows_ : rows_)[workload][store];
    r.manual_time = run.run_name.time_type == "manual_time";
    r.ms = run.GetAdjustedRealTime() * 1e3 /
           benchmark::GetTimeUnitMultiplier(run.time_unit);
    for (const auto& [counter, value] : run.counters) {
      r.counters[counter] = value.value;
    }
  }
}

void SummaryReporter::Finalize() {
  ConsoleReporter::Finalize();
  std::ostream& out = GetOutputStream();
  out << "\nSummary ("
      << (rows_.empty() ? "no results" : "median or single run")
      << "). The last columns are sessionwheel against the best baseline\n"
      << "and against the no-concurrency limit: above 1x, sessionwheel is "
         "ahead.\n";
  PrintTable("ops/s (items per second)", "items_per_second", Better::kHigher);
  PrintTable("bytes per live session (allocator, after create)",
             "bytes_per_session", Better::kLower);
  PrintTable("ms per timed run (one-shot workloads)", "", Better::kLower);
  PrintLateness();
  PrintRatios();
  PrintMemoryLatency();
  PrintDurability();
  if (!errors_.empty()) {
    out << "\n" << errors_.size() << " benchmark(s) stopped with an error:\n";
    for (const std::string& e : errors_) out << "  " << e << "\n";
  }
  out.flush();
}

void SummaryReporter::PrintTable(const char* title, const std::string& counter,
                                 Better better) {
  std::vector<std::string> rows;
  for (const std::string& w : workloads_) {
    for (const auto& [store, r] : rows_[w]) {
      const bool has =
          counter.empty() ? r.manual_time : r.counters.count(counter) != 0;
      if (has && !Contains(rows, w)) rows.push_back(w);
    }
  }
  if (rows.empty()) return;
  size_t width = 10;
  for (const std::string& w : rows) width = std::max(width, w.size() + 2);

  std::ostream& out = GetOutputStream();
  out << "\n" << title << "\n" << std::string(width, ' ');
  for (const std::string& s : stores_) out << Pad(s, kColumn);
  out << Pad("vs best", kColumn - 4) << Pad("vs limit", kColumn - 4) << "\n";
  for (const std::string& w : rows) {
    const Row& row = rows_[w];
    auto value = [&](const Result& r) {
      return counter.empty() ? r.ms : r.counters.at(counter);
    };
    out << w << std::string(width - w.size(), ' ');
    double best = 0;
    bool have_best = false;
    for (const std::string& s : stores_) {
      auto it = row.find(s);
      if (it == row.end() ||
          (!counter.empty() && it->second.counters.count(counter) == 0)) {
        out << Pad("-", kColumn);
        continue;
      }
      const double v = value(it->second);
      out << Pad(counter == "items_per_second" ? Rate(v) : Plain(v), kColumn);
      if (s == kEngine || s == kLimit) continue;
      if (!have_best || (better == Better::kHigher ? v > best : v < best)) {
        best = v;
      }
      have_best = true;
    }
    // sessionwheel against `other`: above 1x, sessionwheel is ahead.
    auto engine = row.find(kEngine);
    auto ratio = [&](bool have_other, double other) -> std::string {
      if (!have_other || engine == row.end()) return "-";
      const double e = value(engine->second);
      if (e <= 0 || other <= 0) return "-";
      return Format("%.2fx", better == Better::kHigher ? e / other : other / e);
    };
    auto limit = row.find(kLimit);
    const bool have_limit =
        limit != row.end() &&
        (counter.empty() || limit->second.counters.count(counter) != 0);
    out << Pad(ratio(have_best, best), kColumn - 4)
        << Pad(ratio(have_limit, have_limit ? value(limit->second) : 0),
               kColumn - 4)
        << "\n";
  }
}

void SummaryReporter::PrintLateness() {
  std::vector<std::string> rows;
  for (const std::string& w : workloads_) {
    for (const auto& [store, r] : rows_[w]) {
      if (r.counters.count("p50_ms") != 0 && !Contains(rows, w)) {
        rows.push_back(w);
      }
    }
  }
  if (rows.empty()) return;
  std::ostream& out = GetOutputStream();
  out << "\nclose-event lateness, ms: p50 / p99 / max\n";
  for (const std::string& w : rows) {
    out << w << "\n";
    for (const std::string& s : stores_) {
      auto it = rows_[w].find(s);
      if (it == rows_[w].end()) continue;
      const auto& c = it->second.counters;
      out << "  " << s << std::string(kColumn - s.size(), ' ')
          << Plain(c.at("p50_ms")) << " / " << Plain(c.at("p99_ms")) << " / "
          << Plain(c.at("max_ms")) << "\n";
    }
  }
}

void SummaryReporter::PrintRatios() {
  std::ostream& out = GetOutputStream();
  bool header = false;
  for (const auto& [num, den] : ratios_) {
    if (rows_.count(num) == 0 || rows_.count(den) == 0) continue;
    if (!header) {
      out << "\nops/s ratios, per store\n";
      header = true;
    }
    out << num << " / " << den << "\n";
    for (const std::string& s : stores_) {
      auto n = rows_[num].find(s);
      auto d = rows_[den].find(s);
      if (n == rows_[num].end() || d == rows_[den].end()) continue;
      const double a = n->second.counters["items_per_second"];
      const double b = d->second.counters["items_per_second"];
      if (b <= 0) continue;
      out << "  " << s << std::string(kColumn - s.size(), ' ')
          << Format("%.2f", a / b) << "\n";
    }
  }
}

void SummaryReporter::PrintMemoryLatency() {
  if (memory_latency_ns_ <= 0) return;
  GetOutputStream() << "\nmemory latency (dependent load): "
                    << Plain(memory_latency_ns_) << " ns\n";
}

void SummaryReporter::PrintDurability() {
  if (durable_workloads_.empty()) return;
  std::ostream& out = GetOutputStream();
  std::vector<std::string> columns;
  for (const char* p : kPolicies) {
    if (Contains(policies_, p)) columns.push_back(p);
  }
  // Rate rows: those run under a sync policy.
  std::vector<std::string> rates;
  std::vector<std::string> others;
  for (const std::string& w : durable_workloads_) {
    bool by_policy = false;
    for (const std::string& c : columns) by_policy |= durable_rows_[w].count(c);
    (by_policy ? rates : others).push_back(w);
  }
  if (!rates.empty()) {
    size_t width = 10;
    for (const std::string& w : rates) width = std::max(width, w.size() + 2);
    out << "\ndurability: ops/s by sync policy; then each row's ratio, "
           "measured in the\nsame iteration: vs the in-memory store (/mem) "
           "or vs the disk's syncs (/disk)\n"
        << std::string(width, ' ');
    for (const std::string& c : columns) out << Pad(c, kColumn);
    std::vector<std::pair<std::string, std::string>> ratio_columns;
    for (const std::string& c : columns) {
      for (const char* counter : {"vs_memory", "vs_disk"}) {
        for (const std::string& w : rates) {
          auto it = durable_rows_[w].find(c);
          if (it != durable_rows_[w].end() &&
              it->second.counters.count(counter) != 0) {
            ratio_columns.emplace_back(c, counter);
            break;
          }
        }
      }
    }
    for (const auto& [c, counter] : ratio_columns) {
      out << Pad(c + (std::string(counter) == "vs_disk" ? "/disk" : "/mem"),
                 kColumn + 3);
    }
    out << "\n";
    for (const std::string& w : rates) {
      const Row& row = durable_rows_[w];
      out << w << std::string(width - w.size(), ' ');
      for (const std::string& c : columns) {
        auto it = row.find(c);
        out << Pad(it == row.end()
                       ? "-"
                       : Rate(it->second.counters.count("items_per_second")
                                  ? it->second.counters.at("items_per_second")
                                  : 0),
                   kColumn);
      }
      for (const auto& [c, counter] : ratio_columns) {
        auto it = row.find(c);
        out << Pad(it == row.end() || it->second.counters.count(counter) == 0
                       ? "-"
                       : Format("%.2fx", it->second.counters.at(counter)),
                   kColumn + 3);
      }
      out << "\n";
    }
  }
  // Everything else: each run's time and counters.
  if (others.empty()) return;
  out << "\ndurability, one-shot: ms per timed run, and counters\n";
  for (const std::string& w : others) {
    for (const auto& [variant, r] : durable_rows_[w]) {
      out << w << "/" << variant << ": " << Plain(r.ms) << " ms";
      for (const auto& [counter, value] : r.counters) {
        if (counter == "items_per_second") continue;
        out << ", " << counter << " " << Plain(value);
      }
      out << "\n";
    }
  }
}

}  // namespace sessionwheel::bench
