// Slab: objects of one type in fixed chunks, addressed by 32-bit handles.
//
// A shard keeps its Session records here rather than one heap block each:
// allocating and freeing is a pop or push on a free list (no malloc, no
// allocator header per record), a record never moves (a chunk is never
// reallocated while it holds one, so the wheel and the indexes may point
// into them), and a handle names a record in 4 bytes. A Session's SID
// carries its handle (shard.h), so finding a record by SID is one array
// access and a check.
//
// Handle h lives in chunk h >> kChunkBits at h & (kChunkSize - 1). Each
// chunk keeps its own count of live objects, a bitmap of them, and a list of
// its free cells threaded through the free cells themselves (cells never used
// since the chunk was made are past a bump index instead, so making a
// chunk threads nothing). The chunks with free cells are on a list,
// the one most recently freed into first, and a free cell comes back last in,
// first out: a churning store touches the same warm records. (Not a cell that
// AllocateAt placed past the bump index: freed, it waits for the bump scan.)
//
// Memory comes back (issue 11). A chunk whose last object is freed becomes
// the spare, kept so that a store hovering at a chunk boundary does not
// release and make a chunk in turn; the spare it replaces, if any, is
// released: its handles stay the slab's, to be made again when Allocate
// runs out of cells in made chunks or AllocateAt names one of them, and its
// memory is retired. Retired memory is what the next chunk made takes, or
// what the owner frees with TakeRetired(), outside its lock: freeing a
// chunk (512 KiB of 128-byte records) may cost a munmap, or glibc's trim of
// the top of its heap (measured: up to 80 ms after a mass free), which no
// lock should wait for. So after a mass expiry a slab keeps one chunk, and
// ReleaseSpare() retires that too.
// An emptied chunk costs at most one release and one remake every
// kChunkSize operations: releasing needs a second chunk emptied while a
// spare exists, remaking needs every made chunk full.
//
// Example:
//
//   Slab<Record> slab;
//   uint32_t h = slab.Allocate();   // a default-constructed Record
//   slab.Get(h)->field = 1;
//   slab.Free(h);                   // destroyed; h may come back next
//
// Not thread-safe: the shard's lock guards it, but for PrefetchUnlocked(),
// which any thread may call at any time (see there).

#ifndef SESSIONWHEEL_ENGINE_CORE_SLAB_H_
#define SESSIONWHEEL_ENGINE_CORE_SLAB_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace sessionwheel::internal {

template <typename T>
class Slab {
  // An object whose size is a multiple of a cache line starts on one, so
  // that it spans as few lines as it can (a 128-byte Session record: two).
  static constexpr size_t kCellAlign =
      sizeof(T) % 64 == 0 && alignof(T) <= 64 ? 64 : alignof(T);
  struct alignas(kCellAlign) Cell {
    unsigned char bytes[sizeof(T)];
  };
  static_assert(sizeof(Cell) == sizeof(T));

 public:
  // 4096 a chunk. Each shard's last chunk is part full, which is what the
  // chunk size costs: at 1M Sessions over 16 shards, 4096 a chunk measured
  // 166.5 bytes a Session, 1024 161.2. But with chunks of 1024 or 2048 the
  // expiry of 1M kept Sessions took 14.5 ms against 11.4 (binaries
  // alternating; docs/performance.md, "Memory"), so 4096. A chunk is
  // released and made at most once every kChunkSize operations.
  static constexpr int kChunkBits = 12;
  static constexpr uint32_t kChunkSize = uint32_t{1} << kChunkBits;

  // `returned_bytes`, if set, counts the bytes of every chunk released
  // (the store frees and trims once enough has come back).
  explicit Slab(std::atomic<uint64_t>* returned_bytes = nullptr)
      : returned_bytes_(returned_bytes) {}
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  ~Slab() {
    ForEach([this](uint32_t h, T*) { Slot(h)->~T(); });
  }

  // The bytes of one chunk's cells.
  static constexpr size_t kChunkBytes = sizeof(Cell) * kChunkSize;

  // A new default-constructed T; returns its handle.
  uint32_t Allocate() {
    if (open_.head == kNone) {
      Make(released_.head != kNone ? released_.head : AddChunk());
    }
    const uint32_t c = open_.head;
    Chunk& chunk = chunks_[c];
    uint32_t i = chunk.free_head;
    if (i != kNoCell) {
      Unthread(chunk, i);
    } else {
      i = FirstClearBit(chunk, chunk.bump);
      chunk.bump = i + 1;
    }
    const uint32_t h = (c << kChunkBits) | i;
    Construct(h);
    return h;
  }

  // Constructs a T at `handle`, for a restore that puts a record back where
  // its SID says. False if `handle` is live or past `max_handle`.
  bool AllocateAt(uint32_t handle, uint32_t max_handle) {
    if (handle > max_handle || IsLive(handle)) return false;
    const uint32_t c = handle >> kChunkBits;
    while (chunks_.size() <= c) AddChunk();  // Released: no memory yet.
    Chunk& chunk = chunks_[c];
    if (chunk.cells == nullptr) Make(c);
    const uint32_t i = handle & (kChunkSize - 1);
    // A free cell below the bump index is threaded; past it, Allocate's
    // scan from the bump index skips it once it is live.
    if (i < chunk.bump) Unthread(chunk, i);
    Construct(handle);
    return true;
  }

  void Free(uint32_t handle) {
    assert(IsLive(handle));
    const uint32_t c = handle >> kChunkBits;
    Chunk& chunk = chunks_[c];
    Slot(handle)->~T();
    chunk.live[(handle >> 6) & (kWords - 1)] &= ~(uint64_t{1} << (handle & 63));
    --count_;
    // A cell past the bump index (placed there by AllocateAt) is found by
    // the bump scan again: only the cells below it are threaded.
    const uint32_t i = handle & (kChunkSize - 1);
    if (i < chunk.bump) Thread(chunk, i);
    // Last in, first out: the chunk freed into is the next allocated from.
    if (open_.head != c) {
      if (chunk.count < kChunkSize) Unlink(&open_, c);
      Link(&open_, c);
    }
    --chunk.count;
    if (chunk.count == 0) {
      if (spare_ != kNone) Release(spare_);
      spare_ = c;
    }
  }

  // Releases the spare chunk, if there is one: after a mass removal, when
  // the next create may be far off.
  void ReleaseSpare() {
    if (spare_ != kNone) Release(spare_);
  }

  // The memory of released chunks, which the caller frees (by letting it
  // go) once it has let go of the lock that guards the slab.
  using RetiredChunk = std::unique_ptr<Cell[]>;
  void TakeRetired(std::vector<RetiredChunk>* out) {
    for (RetiredChunk& cells : retired_) out->push_back(std::move(cells));
    retired_.clear();
  }

  // Asks for the first cache lines of the object at `handle`, if its chunk
  // is there, without the lock: a caller starts the miss before it takes
  // the lock that serialises its access. The object may be freed or reused
  // meanwhile; a prefetch does not care.
  //
  // Its chunk may also be released meanwhile, its memory reused by another
  // chunk, or freed and perhaps given back to the system: the directory
  // slot is cleared when the chunk is released, before the memory can go
  // anywhere, but a reader may have loaded the address just before. It then
  // prefetches an address that may belong to another chunk, to something
  // else or to nothing at all. That is harmless: a prefetch is a
  // hint that never faults (x86 PREFETCHh, ARM PRFM, __builtin_prefetch's
  // contract) and changes nothing but the cache. The address is carried as
  // an integer, so no pointer to freed memory is ever formed, let alone
  // dereferenced.
  void PrefetchUnlocked(uint32_t handle, size_t bytes) const {
    const Directory* dir = directory_.load(std::memory_order_acquire);
    const size_t chunk = handle >> kChunkBits;
    if (dir == nullptr || chunk >= dir->capacity) return;
    const uintptr_t cells = dir->chunks[chunk].load(std::memory_order_acquire);
    if (cells == 0) return;
    const uintptr_t p = cells + (handle & (kChunkSize - 1)) * sizeof(Cell);
    for (size_t offset = 0; offset < bytes; offset += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(p + offset));
    }
  }

  bool IsLive(uint32_t handle) const {
    const uint32_t c = handle >> kChunkBits;
    return c < chunks_.size() &&
           (chunks_[c].live[(handle >> 6) & (kWords - 1)] >> (handle & 63) &
            1) != 0;
  }

  // The object at a live handle.
  T* Get(uint32_t handle) { return Slot(handle); }
  const T* Get(uint32_t handle) const { return Slot(handle); }

  size_t size() const { return count_; }
  // One past the highest handle ever handed out: live handles are below it.
  uint32_t end() const { return end_; }
  // Made chunks, whose memory holds objects or may (for tests and figures);
  // and released chunks' memory not yet taken or reused.
  size_t chunks_held() const { return held_; }
  size_t chunks_retired() const { return retired_.size(); }

  // Calls fn(handle, T*) for every live object, in handle order.
  template <typename Fn>
  void ForEach(Fn fn) {
    for (uint32_t c = 0; c < chunks_.size(); ++c) {
      const Chunk& chunk = chunks_[c];
      if (chunk.count == 0) continue;
      for (uint32_t w = 0; w < kWords; ++w) {
        for (uint64_t bits = chunk.live[w]; bits != 0; bits &= bits - 1) {
          const uint32_t h = (c << kChunkBits) | (w << 6) |
                             static_cast<uint32_t>(__builtin_ctzll(bits));
          fn(h, Slot(h));
        }
      }
    }
  }

 private:
  // A free cell on its chunk's list holds these in its first bytes.
  struct FreeLinks {
    uint16_t prev;
    uint16_t next;
  };
  static_assert(sizeof(Cell) >= sizeof(FreeLinks));
  static_assert(kChunkSize <= UINT16_MAX);

  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint16_t kNoCell = UINT16_MAX;
  static constexpr uint32_t kWords = kChunkSize / 64;

  // A list of chunks, linked through Chunk::prev and next.
  struct ChunkList {
    uint32_t head = kNone;
  };

  struct Chunk {
    std::unique_ptr<Cell[]> cells;  // Null while released.
    uint64_t live[kWords] = {};
    uint32_t count = 0;  // Live objects.
    // Free cells below the bump index, most recently freed first; cells
    // from it on have not been used since the chunk was made.
    uint32_t free_head = kNoCell;
    uint32_t bump = 0;
    // On open_ while made and not full, on released_ while released, on
    // neither while full.
    uint32_t prev = kNone;
    uint32_t next = kNone;
  };

  T* Slot(uint32_t handle) const {
    Cell& cell = chunks_[handle >> kChunkBits].cells[handle & (kChunkSize - 1)];
    return std::launder(reinterpret_cast<T*>(cell.bytes));
  }

  void Construct(uint32_t h) {
    const uint32_t c = h >> kChunkBits;
    Chunk& chunk = chunks_[c];
    new (Slot(h)) T();
    chunk.live[(h >> 6) & (kWords - 1)] |= uint64_t{1} << (h & 63);
    ++count_;
    if (++chunk.count == kChunkSize) Unlink(&open_, c);
    if (spare_ == c) spare_ = kNone;
    if (h >= end_) end_ = h + 1;
  }

  // The first cell at or after `from` whose live bit is clear: the chunk is
  // not full and every free cell below the bump index is threaded, so when
  // none is, one lies past it. At most kWords words are read.
  static uint32_t FirstClearBit(const Chunk& chunk, uint32_t from) {
    uint32_t w = from >> 6;
    uint64_t free = ~chunk.live[w] & (~uint64_t{0} << (from & 63));
    while (free == 0) free = ~chunk.live[++w];
    return (w << 6) | static_cast<uint32_t>(__builtin_ctzll(free));
  }

  FreeLinks LinksAt(const Chunk& chunk, uint32_t i) const {
    FreeLinks links;
    std::memcpy(&links, chunk.cells[i].bytes, sizeof(links));
    return links;
  }
  void SetLinks(Chunk& chunk, uint32_t i, FreeLinks links) {
    std::memcpy(chunk.cells[i].bytes, &links, sizeof(links));
  }

  // Puts free cell i, below the bump index, first on its chunk's free list.
  void Thread(Chunk& chunk, uint32_t i) {
    const uint16_t old = static_cast<uint16_t>(chunk.free_head);
    SetLinks(chunk, i, FreeLinks{kNoCell, old});
    if (old != kNoCell) {
      FreeLinks next = LinksAt(chunk, old);
      next.prev = static_cast<uint16_t>(i);
      SetLinks(chunk, old, next);
    }
    chunk.free_head = i;
  }

  // Takes free cell i off its chunk's free list.
  void Unthread(Chunk& chunk, uint32_t i) {
    const FreeLinks links = LinksAt(chunk, i);
    if (links.prev != kNoCell) {
      FreeLinks prev = LinksAt(chunk, links.prev);
      prev.next = links.next;
      SetLinks(chunk, links.prev, prev);
    } else {
      chunk.free_head = links.next;
    }
    if (links.next != kNoCell) {
      FreeLinks next = LinksAt(chunk, links.next);
      next.prev = links.prev;
      SetLinks(chunk, links.next, next);
    }
  }

  void Link(ChunkList* list, uint32_t c) {
    Chunk& chunk = chunks_[c];
    chunk.prev = kNone;
    chunk.next = list->head;
    if (list->head != kNone) chunks_[list->head].prev = c;
    list->head = c;
  }

  void Unlink(ChunkList* list, uint32_t c) {
    Chunk& chunk = chunks_[c];
    if (chunk.prev != kNone) {
      chunks_[chunk.prev].next = chunk.next;
    } else {
      list->head = chunk.next;
    }
    if (chunk.next != kNone) chunks_[chunk.next].prev = chunk.prev;
    chunk.prev = chunk.next = kNone;
  }

  // Appends a released chunk; returns its index.
  uint32_t AddChunk() {
    const uint32_t c = static_cast<uint32_t>(chunks_.size());
    chunks_.emplace_back();
    Link(&released_, c);
    return c;
  }

  // Gives released chunk c its memory back; every cell is free and unused.
  void Make(uint32_t c) {
    Chunk& chunk = chunks_[c];
    assert(chunk.cells == nullptr && chunk.count == 0);
    Unlink(&released_, c);
    if (!retired_.empty()) {
      chunk.cells = std::move(retired_.back());
      retired_.pop_back();
    } else {
      // Zeroed, so its pages are faulted in together and in order: expiring
      // 1M kept Sessions measured 3% slower over chunks whose pages came
      // one record at a time, interleaved with the other tables' (the
      // bump index would have let it wait).
      chunk.cells.reset(new Cell[kChunkSize]());
    }
    chunk.free_head = kNoCell;
    chunk.bump = 0;
    Link(&open_, c);
    ++held_;
    Publish(c);
  }

  // Gives empty chunk c's memory to the allocator.
  void Release(uint32_t c) {
    Chunk& chunk = chunks_[c];
    assert(chunk.cells != nullptr && chunk.count == 0);
    Unlink(&open_, c);
    Link(&released_, c);
    if (spare_ == c) spare_ = kNone;
    Publish(c, /*released=*/true);  // Before the memory may go.
    retired_.push_back(std::move(chunk.cells));
    --held_;
    if (returned_bytes_ != nullptr) {
      returned_bytes_->fetch_add(kChunkBytes, std::memory_order_relaxed);
    }
  }

  // The chunks as PrefetchUnlocked reads them: a directory that is only
  // ever replaced by a larger copy (the old ones stay until the slab goes,
  // as a reader may still hold one), each slot the address of a chunk's
  // cells or 0 while it is released.
  struct Directory {
    explicit Directory(size_t n)
        : capacity(n), chunks(std::make_unique<std::atomic<uintptr_t>[]>(n)) {}
    const size_t capacity;
    const std::unique_ptr<std::atomic<uintptr_t>[]> chunks;
  };

  static uintptr_t Address(const Chunk& chunk) {
    return reinterpret_cast<uintptr_t>(chunk.cells.get());
  }

  // Makes chunk c's cells, or their absence, visible to PrefetchUnlocked.
  void Publish(size_t c, bool released = false) {
    Directory* dir = directory_.load(std::memory_order_relaxed);
    if (dir == nullptr || c >= dir->capacity) {
      size_t capacity = dir == nullptr ? size_t{64} : 2 * dir->capacity;
      while (capacity <= c) capacity *= 2;
      auto bigger = std::make_unique<Directory>(capacity);
      for (size_t i = 0; i < chunks_.size(); ++i) {
        bigger->chunks[i].store(Address(chunks_[i]), std::memory_order_relaxed);
      }
      dir = bigger.get();
      directories_.push_back(std::move(bigger));
    }
    dir->chunks[c].store(released ? 0 : Address(chunks_[c]),
                         std::memory_order_release);
    directory_.store(dir, std::memory_order_release);
  }

  std::atomic<uint64_t>* const returned_bytes_;
  std::vector<Chunk> chunks_;
  std::vector<std::unique_ptr<Directory>> directories_;  // The newest last.
  std::atomic<Directory*> directory_{nullptr};
  ChunkList open_;          // Made chunks with a free cell.
  ChunkList released_;      // Chunks without memory.
  uint32_t spare_ = kNone;  // A made chunk with no live object, kept.
  std::vector<RetiredChunk> retired_;  // Released chunks' memory.
  size_t count_ = 0;
  size_t held_ = 0;
  uint32_t end_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_SLAB_H_
