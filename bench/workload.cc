#include "bench/workload.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sessionwheel::bench {
namespace {

constexpr int64_t kDefaultSessions = 1'000'000;

// The splitmix64 finalizer: a bijection, so distinct inputs stay distinct.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

int64_t SessionCount() {
  static const int64_t count = [] {
    const char* env = std::getenv("SW_BENCH_SESSIONS");
    if (env == nullptr || *env == '\0') return kDefaultSessions;
    char* end = nullptr;
    const long long n = std::strtoll(env, &end, 10);
    if (*end != '\0' || n < 1) {
      std::fprintf(stderr,
                   "sessionwheel-bench: SW_BENCH_SESSIONS=%s is not a "
                   "positive integer; using %lld\n",
                   env, static_cast<long long>(kDefaultSessions));
      return kDefaultSessions;
    }
    return static_cast<int64_t>(n);
  }();
  return count;
}

void KeyList::Add(std::string_view key) { data_.append(key); }

KeyList KeyList::Shuffled(uint64_t seed) const {
  std::vector<size_t> order(size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  KeyList out(width_);
  out.data_.reserve(data_.size());
  for (size_t i : order) out.Add((*this)[i]);
  return out;
}

std::string UniqueName(uint64_t n) {
  return absl::StrCat(absl::Hex(Mix64(n + 1), absl::kZeroPad16));
}

const KeyList& UniqueNames(size_t n) {
  static std::mutex mu;
  static KeyList names(16);
  std::lock_guard<std::mutex> l(mu);
  for (size_t i = names.size(); i < n; ++i) names.Add(UniqueName(i));
  return names;
}

int64_t HeapBytesInUse() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

LatenessRecorder::LatenessRecorder(const Clock* clock, size_t capacity)
    : clock_(clock), samples_ms_(capacity) {}

void LatenessRecorder::OnEvent(const SessionEvent& event) noexcept {
  if (event.type != EventType::kClosed) return;
  const double late_ms = absl::ToDoubleMilliseconds(clock_->Now() - event.time);
  const size_t i = claimed_.fetch_add(1, std::memory_order_relaxed);
  if (i < samples_ms_.size()) samples_ms_[i] = late_ms;
  recorded_.fetch_add(1, std::memory_order_release);
}

LatenessRecorder::Summary LatenessRecorder::Summarize() const {
  std::vector<double> sorted(
      samples_ms_.begin(),
      samples_ms_.begin() + std::min(closed(), samples_ms_.size()));
  Summary s;
  if (sorted.empty()) return s;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) {
    return sorted[std::min(sorted.size() - 1,
                           static_cast<size_t>(q * sorted.size()))];
  };
  s.p50_ms = at(0.50);
  s.p99_ms = at(0.99);
  s.max_ms = sorted.back();
  return s;
}

}  // namespace sessionwheel::bench
