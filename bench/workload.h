// The pieces the benchmarks are built from: the size of a run, the keys they
// look up, the allocator's count of bytes in use, a listener that measures
// how late close events arrive, scratch directories on the real disk for
// the durable workloads, and (latency_histogram.h) a latency histogram.

#ifndef SESSIONWHEEL_BENCH_WORKLOAD_H_
#define SESSIONWHEEL_BENCH_WORKLOAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"

namespace sessionwheel::bench {

// The number of live Sessions the workloads run at: $SW_BENCH_SESSIONS, or
// 1,000,000. CI sets a tiny value to run every benchmark once, quickly.
int64_t SessionCount();

// Where every manual clock starts: 2027-01-01T00:00:00Z.
inline absl::Time Start() { return absl::FromUnixSeconds(1798761600); }

// Live Sessions get ttls from 1 to 2 hours: none expires during a run.
inline int64_t LiveTtl(uint64_t i) {
  return 3600 + static_cast<int64_t>((i * 0x9e3779b97f4a7c15ULL) >> 52) % 3600;
}

// Fixed-width keys (SIDs, names) packed in one buffer, so that walking them
// costs the benchmark loop next to nothing and every cache miss is the
// store's.
class KeyList {
 public:
  KeyList() = default;
  explicit KeyList(size_t width) : width_(width) {}

  void Add(std::string_view key);  // `key` must be `width` long.
  size_t size() const { return width_ == 0 ? 0 : data_.size() / width_; }
  std::string_view operator[](size_t i) const {
    return {data_.data() + i * width_, width_};
  }

  // The same keys in a random order (fixed by `seed`).
  KeyList Shuffled(uint64_t seed) const;

 private:
  size_t width_ = 0;
  std::string data_;
};

// The n-th unique_name of every workload: 16 hex digits of a bijective mix
// of n, so names are distinct, random-looking and 16 characters long.
std::string UniqueName(uint64_t n);

// The first `n` unique names, built once and shared (grown on demand).
const KeyList& UniqueNames(size_t n);

// Bytes the allocator has handed out and not yet taken back (glibc
// mallinfo2: small chunks plus mmapped ones). Counts the main arena only:
// call it from the thread that allocates.
int64_t HeapBytesInUse();

// The process's resident memory now and its peak since the last
// ResetPeakResidentBytes() (Linux /proc/self/status VmRSS and VmHWM); 0 where
// the file cannot be read.
int64_t ResidentBytes();
int64_t PeakResidentBytes();
// Sets the peak to the current resident memory (/proc/self/clear_refs);
// false where the kernel does not allow it.
bool ResetPeakResidentBytes();

// A directory of its own for one durable workload, created empty and removed
// with everything in it when the object is destroyed. It lives under $TMPDIR
// if set, else beside the benchmark binary (the build directory): never
// /tmp by default, which is tmpfs on many systems, where fdatasync costs
// nothing and a durable benchmark would measure nothing. A warning goes to
// stderr, once, when the directory is on tmpfs or ramfs anyway.
class ScratchDir {
 public:
  ScratchDir();  // Aborts if the directory cannot be created.
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }

  // The bytes of the regular files in it.
  int64_t FileBytes() const;

  // Writes back what is dirty in the directory's file system (syncfs), so
  // the write-back of an untimed setup does not land in a timed part.
  void Sync() const;

  // Syncs, then asks the kernel to drop the files' pages from its cache
  // (POSIX_FADV_DONTNEED), so the next read comes from the disk, as after a
  // reboot. No privilege needed.
  void DropFromPageCache() const;

 private:
  std::string path_;
};

// Close-event lateness: event arrival time on `clock` minus the expiry
// instant, for up to `capacity` kClosed events. Other events are ignored.
// Safe to call from any number of threads.
class LatenessRecorder : public SessionListener {
 public:
  LatenessRecorder(const Clock* clock, size_t capacity);

  void OnEvent(const SessionEvent& event) noexcept override;

  // How many close events have arrived and been recorded.
  size_t closed() const { return recorded_.load(std::memory_order_acquire); }

  struct Summary {
    double p50_ms = 0;
    double p99_ms = 0;
    double max_ms = 0;
  };
  // Percentiles of what has arrived. Call once the events have stopped.
  Summary Summarize() const;

 private:
  const Clock* const clock_;
  std::vector<double> samples_ms_;  // Slot i is written by claim i.
  std::atomic<size_t> claimed_{0};
  std::atomic<size_t> recorded_{0};  // Counts writes done, to publish them.
};

}  // namespace sessionwheel::bench

#endif  // SESSIONWHEEL_BENCH_WORKLOAD_H_
