// Trace: a line on stderr about a partition's ownership changing (a
// take-over that failed, a lease lost, a round Redis refused), only when
// the environment sets SW_SCALEOUT_TRACE: for debugging failover tests.

#ifndef SESSIONWHEEL_ENGINE_SCALEOUT_TRACE_H_
#define SESSIONWHEEL_ENGINE_SCALEOUT_TRACE_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"

namespace sessionwheel::internal {

inline void Trace(const std::string& host, int partition, const char* what,
                  const absl::Status& status) {
  static const bool enabled = std::getenv("SW_SCALEOUT_TRACE") != nullptr;
  if (!enabled) return;
  std::fprintf(stderr, "scaleout %s p%d %s: %s\n", host.c_str(), partition,
               what, status.ToString().c_str());
}

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_TRACE_H_
