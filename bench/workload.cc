#include "bench/workload.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <malloc.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <random>
#include <system_error>

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

// A field of /proc/self/status in bytes ("VmRSS:   1234 kB"), or 0.
int64_t StatusBytes(std::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, field.size(), field) == 0 &&
        line.size() > field.size() && line[field.size()] == ':') {
      return std::strtoll(line.c_str() + field.size() + 1, nullptr, 10) * 1024;
    }
  }
  return 0;
}

// Where scratch directories go: $TMPDIR, or the benchmark binary's own
// directory.
std::string ScratchRoot() {
  const char* tmp = std::getenv("TMPDIR");
  if (tmp != nullptr && *tmp != '\0') return tmp;
  std::error_code error;
  const std::filesystem::path exe =
      std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string(".") : exe.parent_path().string();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "sessionwheel-bench: %s\n", what.c_str());
  std::abort();
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

int64_t ResidentBytes() { return StatusBytes("VmRSS"); }

int64_t PeakResidentBytes() { return StatusBytes("VmHWM"); }

bool ResetPeakResidentBytes() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";  // Resets VmHWM to VmRSS (Linux 4.0 and later).
  clear_refs.flush();
  return clear_refs.good();
}

ScratchDir::ScratchDir() {
  std::string templ = ScratchRoot() + "/sw-bench-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    Die("cannot create a scratch directory " + templ + ": " +
        std::error_code(errno, std::generic_category()).message());
  }
  path_ = templ;
  struct statfs fs;
  static std::once_flag warned;
  if (statfs(path_.c_str(), &fs) == 0 &&
      (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC)) {
    std::call_once(warned, [this] {
      std::fprintf(stderr,
                   "sessionwheel-bench: WARNING: %s is in memory (tmpfs): "
                   "the durable workloads measure no disk there; set TMPDIR "
                   "to a directory on a disk\n",
                   path_.c_str());
    });
  }
}

ScratchDir::~ScratchDir() {
  std::error_code error;
  std::filesystem::remove_all(path_, error);
  if (error) {
    std::fprintf(stderr, "sessionwheel-bench: cannot remove %s: %s\n",
                 path_.c_str(), error.message().c_str());
  }
}

int64_t ScratchDir::FileBytes() const {
  int64_t bytes = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(path_)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

void ScratchDir::Sync() const {
  const int fd = open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || syncfs(fd) != 0) Die("syncfs " + path_);
  close(fd);
}

void ScratchDir::DropFromPageCache() const {
  Sync();
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(path_)) {
    if (!entry.is_regular_file()) continue;
    const int fd = open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Die("open " + entry.path().string());
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
  }
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
