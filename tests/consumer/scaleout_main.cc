// Uses an installed sessionwheel::scaleout (the package's optional component
// `scaleout`) through its public header only, with no Redis: the partition
// map is the documented FNV-1a of the Service SID's text, and a host with
// bad options is refused before it connects.

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "sessionwheel/scaleout.h"
#include "sessionwheel/sid.h"

namespace {

int Fail(const char* what) {
  std::fprintf(stderr, "package_consumer scaleout: %s\n", what);
  return 1;
}

// The map as docs/scale-out.md gives it: 64-bit FNV-1a of the 34 characters.
int Fnv1aPartition(const std::string& text, int partitions) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<int>(h % static_cast<uint64_t>(partitions));
}

}  // namespace

int main() {
  const std::string text = "KS" + std::string(32, '7');
  const std::optional<sessionwheel::Sid> ks = sessionwheel::Sid::Parse(text);
  if (!ks.has_value()) return Fail("a well-formed KS SID does not parse");
  for (int partitions : {1, 8, 64, 65536}) {
    if (sessionwheel::PartitionOfService(*ks, partitions) !=
        Fnv1aPartition(text, partitions)) {
      return Fail("PartitionOfService is not the documented FNV-1a map");
    }
  }
  sessionwheel::ScaleOutOptions options;
  options.partitions = 0;
  if (!absl::IsInvalidArgument(
          sessionwheel::ScaleOutHost::Start(options).status())) {
    return Fail("0 partitions is not refused");
  }
  std::puts("package_consumer scaleout: ok");
  return 0;
}
