// The demo's command line: flags, their ranges, and --help.

#ifndef SESSIONWHEEL_BENCH_DEMO_FLAGS_H_
#define SESSIONWHEEL_BENCH_DEMO_FLAGS_H_

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <string>
#include <string_view>

namespace demo {

inline constexpr char kUsage[] = R"(Usage: sessionwheel-demo [FLAGS]

Loads Proxy Sessions into a SessionStore, lets worker threads interact with,
fetch, close and delete them while the store's background thread expires
them on the system clock, and prints throughput, expiry lateness and memory.
Progress goes to stderr, the summary to stdout.

  --sessions N        Sessions to load, 1 to 50000000 (default 1000000)
  --threads T         worker threads, 1 to 64 (default 2)
  --ttl-spread S      TTLs are whole seconds from 2 to 2+S, S from 0 to 3600
                      (default 6); date_expiry Sessions spread the same way
  --duration SECONDS  stop after this long even if Sessions remain,
                      0.1 to 86400 (default 30)
  --seed S            seed of the workload and of the SIDs (default 1)
  --help              this text
)";

struct Flags {
  int64_t sessions = 1000000;
  int64_t threads = 2;
  int64_t ttl_spread = 6;
  double duration = 30;
  uint64_t seed = 1;
};

inline constexpr std::string_view kFlagNames[] = {
    "--sessions", "--threads", "--ttl-spread", "--duration", "--seed"};

[[noreturn]] inline void Usage(const std::string& error) {
  std::fprintf(stderr, "sessionwheel-demo: %s\n\n%s", error.c_str(), kUsage);
  std::exit(2);
}

inline int64_t ParseInt(const std::string& flag, const std::string& text,
                        int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    Usage(flag + " must be a whole number from " + std::to_string(lo) + " to " +
          std::to_string(hi) + ", not '" + text + "'");
  }
  return v;
}

// Parses the command line; prints usage and exits on --help (0) or an error
// (2).
inline Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    // "--flag=value" or "--flag value".
    const size_t eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    if (std::find(std::begin(kFlagNames), std::end(kFlagNames), flag) ==
        std::end(kFlagNames)) {
      Usage(flag.rfind("--", 0) == 0 ? "unknown flag " + flag
                                     : "unexpected argument '" + arg + "'");
    }
    if (eq == std::string::npos && i + 1 == argc)
      Usage(flag + " needs a value");
    const std::string value =
        eq != std::string::npos ? arg.substr(eq + 1) : argv[++i];

    if (flag == "--sessions") {
      flags.sessions = ParseInt(flag, value, 1, 50000000);
    } else if (flag == "--threads") {
      flags.threads = ParseInt(flag, value, 1, 64);
    } else if (flag == "--ttl-spread") {
      flags.ttl_spread = ParseInt(flag, value, 0, 3600);
    } else if (flag == "--seed") {
      flags.seed = static_cast<uint64_t>(
          ParseInt(flag, value, 0, std::numeric_limits<int64_t>::max()));
    } else if (flag == "--duration") {
      char* end = nullptr;
      flags.duration = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(flags.duration >= 0.1) ||
          !(flags.duration <= 86400)) {
        Usage(
            "--duration must be a number of seconds from 0.1 to 86400, not '" +
            value + "'");
      }
    }
  }
  return flags;
}

}  // namespace demo

#endif  // SESSIONWHEEL_BENCH_DEMO_FLAGS_H_
