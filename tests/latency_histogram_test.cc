// The benchmarks' latency histogram (bench/latency_histogram.h): its bucket
// layout, percentiles by HdrHistogram's rank, the maximum and the count
// over a bound.

#include "bench/latency_histogram.h"

#include <algorithm>
#include <cstdint>

#include "gtest/gtest.h"

namespace sessionwheel::bench {
namespace {

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.PercentileUs(0.5), 0);
  EXPECT_EQ(h.MaxUs(), 0);
  EXPECT_EQ(h.CountAbove(0), 0);
}

TEST(LatencyHistogramTest, SmallValuesHaveABucketEach) {
  for (int64_t ns = 0; ns < 32; ++ns) {
    EXPECT_EQ(LatencyHistogram::BucketOf(ns), ns);
    EXPECT_EQ(LatencyHistogram::BucketEnd(static_cast<int>(ns)), ns + 1);
  }
}

// Every value lies in its bucket, the buckets tile the line with no gap,
// and each is at most 1/32 of its start wide; the last, 1887, ends at the
// largest int64.
TEST(LatencyHistogramTest, BucketsTileTheLineAboutThreePercentWide) {
  constexpr int kLast = 59 * 32 - 1;
  int64_t previous_end = 0;
  for (int b = 0; b < kLast; ++b) {
    const int64_t end = LatencyHistogram::BucketEnd(b);
    ASSERT_EQ(LatencyHistogram::BucketOf(previous_end), b) << previous_end;
    ASSERT_EQ(LatencyHistogram::BucketOf(end - 1), b) << end - 1;
    ASSERT_LE(end - previous_end, std::max<int64_t>(1, previous_end / 32));
    previous_end = end;
  }
  EXPECT_EQ(LatencyHistogram::BucketOf(previous_end), kLast);
  EXPECT_EQ(LatencyHistogram::BucketOf(INT64_MAX), kLast);
  EXPECT_EQ(LatencyHistogram::BucketEnd(kLast), INT64_MAX);
}

TEST(LatencyHistogramTest, NegativeCountsAsZero) {
  LatencyHistogram h;
  h.Record(-5);
  EXPECT_EQ(h.count(), 1);
  EXPECT_EQ(h.PercentileUs(1.0), 0);
  EXPECT_EQ(h.CountAbove(0), 0);
}

// 1000 samples of 1 to 1000 us: p50 is the 500th, p99.9 the 999th (not the
// largest), each reported as its bucket's upper edge, within 1/32 above it.
TEST(LatencyHistogramTest, PercentilesTakeTheRankedSampleBucketsUpperEdge) {
  LatencyHistogram h;
  for (int64_t us = 1000; us >= 1; --us) h.Record(us * 1000);
  EXPECT_EQ(h.count(), 1000);
  auto expect_near_above = [&](double q, double us) {
    const double got = h.PercentileUs(q);
    EXPECT_GE(got, us) << q;
    EXPECT_LE(got, us * (1 + 1.0 / 32)) << q;
  };
  expect_near_above(0.5, 500);
  expect_near_above(0.99, 990);
  expect_near_above(0.999, 999);
  EXPECT_LT(h.PercentileUs(0.999), 1000);  // 999's bucket ends below 1000.
  EXPECT_EQ(h.PercentileUs(1.0), 1000);    // Capped at the maximum.
  EXPECT_EQ(h.PercentileUs(0.0), h.PercentileUs(0.001));  // The first.
  EXPECT_EQ(h.MaxUs(), 1000);
}

TEST(LatencyHistogramTest, PercentileIsCappedAtTheMaximum) {
  LatencyHistogram h;
  h.Record(1'000'001);  // Its bucket ends above it.
  EXPECT_EQ(h.PercentileUs(0.5), 1000.001);
  EXPECT_EQ(h.MaxUs(), 1000.001);
}

// Counts the samples in buckets wholly above the bound: one just past the
// bound shares its bucket and is not counted.
TEST(LatencyHistogramTest, CountAboveCountsBucketsWhollyAbove) {
  LatencyHistogram h;
  h.Record(999'000);
  h.Record(1'000'000);
  h.Record(1'000'500);  // Same bucket as 1 ms.
  h.Record(1'100'000);
  h.Record(5'000'000);
  EXPECT_EQ(h.CountAbove(1'000'000), 2);
  EXPECT_EQ(h.CountAbove(0), 5);
  EXPECT_EQ(h.CountAbove(5'000'000), 0);
}

}  // namespace
}  // namespace sessionwheel::bench
