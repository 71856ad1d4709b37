#include "bench/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace sessionwheel::bench {

// Values below 2^kSubBits have a bucket each; above, 2^kSubBits buckets per
// power of two: the exponent picks the group, the kSubBits bits below the
// leading one the bucket in it.
int LatencyHistogram::BucketOf(int64_t ns) {
  const uint64_t v = static_cast<uint64_t>(std::max<int64_t>(ns, 0));
  if (v < (uint64_t{1} << kSubBits)) return static_cast<int>(v);
  const int exponent = 63 - __builtin_clzll(v);
  const uint64_t mantissa =
      (v >> (exponent - kSubBits)) & ((1 << kSubBits) - 1);
  return ((exponent - kSubBits + 1) << kSubBits) + static_cast<int>(mantissa);
}

int64_t LatencyHistogram::BucketEnd(int bucket) {
  if (bucket < (1 << kSubBits)) return bucket + 1;
  const int shift = (bucket >> kSubBits) - 1;
  const uint64_t mantissa = bucket & ((1 << kSubBits) - 1);
  const uint64_t end = ((uint64_t{1} << kSubBits) + mantissa + 1) << shift;
  // The last bucket ends past INT64_MAX: it holds everything to the top.
  return end > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                : static_cast<int64_t>(end);
}

void LatencyHistogram::Record(int64_t ns) {
  ns = std::max<int64_t>(ns, 0);
  ++counts_[BucketOf(ns)];
  ++count_;
  max_ns_ = std::max(max_ns_, ns);
}

double LatencyHistogram::PercentileUs(double q) const {
  if (count_ == 0) return 0;
  const int64_t rank = std::clamp<int64_t>(
      std::llround(q * static_cast<double>(count_)), 1, count_);
  int64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      const int64_t end = std::min(BucketEnd(static_cast<int>(b)), max_ns_);
      return static_cast<double>(end) / 1e3;
    }
  }
  return MaxUs();
}

int64_t LatencyHistogram::CountAbove(int64_t ns) const {
  int64_t above = 0;
  for (size_t b = static_cast<size_t>(BucketOf(ns)) + 1; b < counts_.size();
       ++b) {
    above += counts_[b];
  }
  return above;
}

}  // namespace sessionwheel::bench
