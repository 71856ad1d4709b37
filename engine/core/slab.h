// Slab: objects of one type in fixed chunks, addressed by 32-bit handles.
//
// A shard keeps its Session records here rather than one heap block each:
// allocating and freeing is a push or pop on a free list (no malloc, no
// allocator header per record), a record never moves (chunks are never
// reallocated, so the wheel and the indexes may point into them), and a
// handle names a record in 4 bytes. A Session's SID carries its handle
// (shard.h), so finding a record by SID is one array access and a check.
//
// Handle h lives in chunk h >> kChunkBits at h & (kChunkSize - 1). Freed
// handles are reused last-in first-out, so a churning store touches the
// same warm records.
//
// Example:
//
//   Slab<Record> slab;
//   uint32_t h = slab.Allocate();   // a default-constructed Record
//   slab.Get(h)->field = 1;
//   slab.Free(h);                   // destroyed; h may come back next
//
// Not thread-safe: the shard's lock guards it, but for PrefetchUnlocked(),
// which any thread may call at any time: it reads a directory of chunks
// that only grows, through atomics, and touches no object.

#ifndef SESSIONWHEEL_ENGINE_CORE_SLAB_H_
#define SESSIONWHEEL_ENGINE_CORE_SLAB_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace sessionwheel::internal {

template <typename T>
class Slab {
 public:
  static constexpr int kChunkBits = 12;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;

  Slab() = default;
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  ~Slab() {
    ForEach([this](uint32_t h, T*) { Destroy(h); });
  }

  // A new default-constructed T; returns its handle.
  uint32_t Allocate() {
    // Entries for handles that AllocateAt took meanwhile are skipped here,
    // rather than searched for there.
    while (!free_.empty() && live_[free_.back()]) free_.pop_back();
    if (free_.empty()) Grow(static_cast<uint32_t>(live_.size()) + 1);
    const uint32_t h = free_.back();
    free_.pop_back();
    Construct(h);
    return h;
  }

  // Constructs a T at `handle`, for a restore that puts a record back where
  // its SID says. False if `handle` is live or past `max_handle`.
  bool AllocateAt(uint32_t handle, uint32_t max_handle) {
    if (handle > max_handle || IsLive(handle)) return false;
    if (handle >= live_.size()) Grow(handle + 1);
    Construct(handle);  // Its free-list entry is now stale: see Allocate.
    return true;
  }

  void Free(uint32_t handle) {
    assert(IsLive(handle));
    Destroy(handle);
    free_.push_back(handle);
  }

  // Asks for the first cache lines of the object at `handle`, if the slab
  // has reached that far, without the lock: a caller starts the miss before
  // it takes the lock that serialises its access. The object may be freed
  // or reused meanwhile; a prefetch does not care.
  void PrefetchUnlocked(uint32_t handle, size_t bytes) const {
    const Directory* dir = directory_.load(std::memory_order_acquire);
    const size_t chunk = handle >> kChunkBits;
    if (dir == nullptr || chunk >= dir->capacity) return;
    const Cell* cells = dir->chunks[chunk].load(std::memory_order_acquire);
    if (cells == nullptr) return;
    const char* p =
        reinterpret_cast<const char*>(&cells[handle & (kChunkSize - 1)]);
    for (size_t offset = 0; offset < bytes; offset += 64) {
      __builtin_prefetch(p + offset);
    }
  }

  bool IsLive(uint32_t handle) const {
    return handle < live_.size() && live_[handle];
  }

  // The object at a live handle.
  T* Get(uint32_t handle) { return Slot(handle); }
  const T* Get(uint32_t handle) const { return Slot(handle); }

  size_t size() const { return count_; }
  // One past the highest handle ever handed out: live handles are below it.
  uint32_t end() const { return static_cast<uint32_t>(live_.size()); }

  // Calls fn(handle, T*) for every live object, in handle order.
  template <typename Fn>
  void ForEach(Fn fn) {
    for (uint32_t h = 0; h < live_.size(); ++h) {
      if (live_[h]) fn(h, Slot(h));
    }
  }

 private:
  struct alignas(T) Cell {
    unsigned char bytes[sizeof(T)];
  };

  T* Slot(uint32_t handle) const {
    Cell& cell = chunks_[handle >> kChunkBits][handle & (kChunkSize - 1)];
    return std::launder(reinterpret_cast<T*>(cell.bytes));
  }

  // Grows to `n` handles, the new ones free (the lowest handed out first).
  void Grow(uint32_t n) {
    while (chunks_.size() * kChunkSize < n) {
      chunks_.push_back(std::make_unique<Cell[]>(kChunkSize));
      Publish(chunks_.size() - 1);
    }
    const uint32_t old = static_cast<uint32_t>(live_.size());
    live_.resize(n, false);
    for (uint32_t h = n; h-- > old;) free_.push_back(h);
  }

  // The chunks as PrefetchUnlocked reads them: a directory that is only
  // ever replaced by a larger copy (the old ones stay until the slab goes,
  // as a reader may still hold one), its slots set once.
  struct Directory {
    explicit Directory(size_t n)
        : capacity(n), chunks(std::make_unique<std::atomic<Cell*>[]>(n)) {}
    const size_t capacity;
    const std::unique_ptr<std::atomic<Cell*>[]> chunks;
  };

  // Makes chunks_[i] visible to PrefetchUnlocked.
  void Publish(size_t i) {
    Directory* dir = directory_.load(std::memory_order_relaxed);
    if (dir == nullptr || i >= dir->capacity) {
      auto bigger = std::make_unique<Directory>(
          dir == nullptr ? size_t{64} : 2 * dir->capacity);
      for (size_t c = 0; c < i; ++c) {
        bigger->chunks[c].store(chunks_[c].get(), std::memory_order_relaxed);
      }
      dir = bigger.get();
      directories_.push_back(std::move(bigger));
    }
    dir->chunks[i].store(chunks_[i].get(), std::memory_order_release);
    directory_.store(dir, std::memory_order_release);
  }

  void Construct(uint32_t h) {
    new (Slot(h)) T();
    live_[h] = true;
    ++count_;
  }

  void Destroy(uint32_t h) {
    Slot(h)->~T();
    live_[h] = false;
    --count_;
  }

  std::vector<std::unique_ptr<Cell[]>> chunks_;
  std::vector<std::unique_ptr<Directory>> directories_;  // The newest last.
  std::atomic<Directory*> directory_{nullptr};
  std::vector<bool> live_;
  // Free handles, the next at the back. May also hold handles that
  // AllocateAt has taken since: Allocate skips those.
  std::vector<uint32_t> free_;
  size_t count_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_SLAB_H_
