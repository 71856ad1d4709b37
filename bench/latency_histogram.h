// A latency histogram for the benchmarks: durations in nanoseconds counted
// in log-linear buckets, so that percentiles of millions of samples cost a
// fixed 15 KiB and no allocation while recording.

#ifndef SESSIONWHEEL_BENCH_LATENCY_HISTOGRAM_H_
#define SESSIONWHEEL_BENCH_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace sessionwheel::bench {

// Durations in nanoseconds counted in buckets about 3% wide (32 to each
// power of two; below 32 ns one bucket a nanosecond), with the exact count
// and maximum: percentiles of millions of samples, recorded without
// allocating or storing them, so recording adds nothing to the heap a
// workload measures. Not thread-safe: one recording thread, read after it.
//
// Example:
//
//   LatencyHistogram latency;
//   latency.Record(1200);               // 1.2 us
//   latency.PercentileUs(0.999);        // the p99.9, in microseconds
//   latency.CountAbove(1'000'000);      // samples over 1 ms
class LatencyHistogram {
 public:
  static constexpr int kSubBits = 5;  // 2^5 buckets per power of two.

  // Counts one duration; a negative one counts as 0.
  void Record(int64_t ns);

  int64_t count() const { return count_; }

  // The upper edge of the bucket holding the sample at quantile `q` (0 to
  // 1), capped at the maximum, in microseconds; 0 with no samples. The
  // sample is the (q * count, rounded)-th smallest, at least the first, as
  // HdrHistogram ranks: of 1000 samples the p99.9 is the 999th, not the
  // largest.
  double PercentileUs(double q) const;

  double MaxUs() const { return static_cast<double>(max_ns_) / 1e3; }

  // How many samples were longer than `ns`, to the bucket: those in buckets
  // wholly above it (a sample in the bucket holding `ns` is not counted).
  int64_t CountAbove(int64_t ns) const;

  // The bucket holding `ns`, and one past the largest value it holds: the
  // layout, for tests.
  static int BucketOf(int64_t ns);
  static int64_t BucketEnd(int bucket);

 private:
  // A value has at most 63 bits: groups for leading bits 5 to 62, and the
  // first group of one bucket a nanosecond.
  static constexpr int kBuckets = (63 - kSubBits + 1) << kSubBits;
  std::array<int64_t, kBuckets> counts_{};
  int64_t count_ = 0;
  int64_t max_ns_ = 0;
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_LATENCY_HISTOGRAM_H_
