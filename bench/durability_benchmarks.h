// The durability workloads of sessionwheel-bench (issue 10): what a data
// directory costs by sync policy, against the in-memory store and against
// the disk's own sync latency, measured in the same run; recovery; and
// checkpoints. durability_benchmarks.cc describes each.

#ifndef SESSIONWHEEL_BENCH_DURABILITY_BENCHMARKS_H_
#define SESSIONWHEEL_BENCH_DURABILITY_BENCHMARKS_H_

namespace sessionwheel::bench {

// Registers the durable_*, disk_sync workloads with Google Benchmark.
void RegisterDurabilityBenchmarks();

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_DURABILITY_BENCHMARKS_H_
