// The demo's command line: Abseil flags, their ranges, and --help.

#ifndef SESSIONWHEEL_BENCH_DEMO_FLAGS_H_
#define SESSIONWHEEL_BENCH_DEMO_FLAGS_H_

#include <cstdint>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "sessionwheel/store.h"
#include "tools/flags.h"

ABSL_FLAG(int64_t, sessions, 1000000, "Sessions to load, 1 to 50000000");
ABSL_FLAG(int64_t, threads, 2, "worker threads, 1 to 64");
ABSL_FLAG(int64_t, ttl_spread, 6,
          "TTLs are whole seconds from 2 to 2+S, S from 0 to 3600; "
          "date_expiry Sessions spread the same way");
ABSL_FLAG(double, duration, 30,
          "stop after this many seconds even if Sessions remain, 0.1 to "
          "86400");
ABSL_FLAG(int64_t, seed, 1, "seed of the workload and of the SIDs");
ABSL_FLAG(std::string, data_dir, "",
          "keep the store durable in this directory (docs/durability.md): "
          "a second run recovers the first's Sessions, reports them and "
          "starts its Services afresh; empty: in memory only");
ABSL_FLAG(std::string, sync, "interval",
          "with --data-dir, when the journal reaches the disk: every_write, "
          "interval (synced each second) or os");

namespace demo {

// The flags are listed after this text by tools::ParseFlagsOrExit.
inline constexpr char kUsage[] = R"(Usage: sessionwheel-demo [FLAGS]

Loads Proxy Sessions into a SessionStore, lets worker threads interact with,
fetch, close and delete them while the store's background thread expires
them on the system clock, and prints throughput, expiry lateness and memory.
Progress goes to stderr, the summary to stdout. --help prints this text.
)";

struct Flags {
  int64_t sessions = 1000000;
  int64_t threads = 2;
  int64_t ttl_spread = 6;
  double duration = 30;
  uint64_t seed = 1;
  std::string data_dir;
  sessionwheel::SyncPolicy sync = sessionwheel::SyncPolicy::kInterval;
};

inline int64_t InRange(const std::string& flag, int64_t value, int64_t lo,
                       int64_t hi) {
  if (value < lo || value > hi) {
    sessionwheel::tools::UsageError(
        flag + " must be a whole number from " + std::to_string(lo) + " to " +
        std::to_string(hi) + ", not '" + std::to_string(value) + "'");
  }
  return value;
}

// Parses the command line; prints usage and exits on --help (0) or an error
// (2).
inline Flags ParseFlags(int argc, char** argv) {
  sessionwheel::tools::ParseFlagsOrExit(
      argc, argv, "sessionwheel-demo", kUsage,
      {&FLAGS_sessions, &FLAGS_threads, &FLAGS_ttl_spread, &FLAGS_duration,
       &FLAGS_seed, &FLAGS_data_dir, &FLAGS_sync});
  Flags flags;
  flags.sessions =
      InRange("--sessions", absl::GetFlag(FLAGS_sessions), 1, 50000000);
  flags.threads = InRange("--threads", absl::GetFlag(FLAGS_threads), 1, 64);
  flags.ttl_spread =
      InRange("--ttl-spread", absl::GetFlag(FLAGS_ttl_spread), 0, 3600);
  flags.seed = static_cast<uint64_t>(
      InRange("--seed", absl::GetFlag(FLAGS_seed), 0, INT64_MAX));
  flags.duration = absl::GetFlag(FLAGS_duration);
  flags.data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string sync = absl::GetFlag(FLAGS_sync);
  if (sync == "every_write") {
    flags.sync = sessionwheel::SyncPolicy::kEveryWrite;
  } else if (sync == "interval") {
    flags.sync = sessionwheel::SyncPolicy::kInterval;
  } else if (sync == "os") {
    flags.sync = sessionwheel::SyncPolicy::kOs;
  } else {
    sessionwheel::tools::UsageError(
        "--sync must be every_write, interval or os, not '" + sync + "'");
  }
  if (!(flags.duration >= 0.1) || !(flags.duration <= 86400)) {
    sessionwheel::tools::UsageError(
        "--duration must be a number of seconds from 0.1 to 86400, not '" +
        absl::StrCat(flags.duration) + "'");
  }
  return flags;
}

}  // namespace demo

#endif  // SESSIONWHEEL_BENCH_DEMO_FLAGS_H_
