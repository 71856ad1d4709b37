// CreationOrder: a Service's Sessions in one shard, oldest first, as an
// array of slab handles with holes.
//
// A list pages through a Service's Sessions in creation order, from a
// cursor. A shard creates its Sessions one at a time under its lock, with
// store-wide increasing sequence numbers, so appending each new handle keeps
// the array in sequence order: no tree, no key stored twice. Each record
// remembers its position, so removing one is O(1): its cell becomes a hole.
// Holes are squeezed out once they outnumber the live cells (and at least
// kMinCompaction of them exist), which moves live handles down and tells the
// owner each one's new position: amortised O(1) a removal, and at most
// twice the live count in cells. Holes at the end are dropped at once.
//
// 4 bytes a Session in the array (plus the vector's spare capacity) and 4 in
// the record, where a B-tree from sequence number to record took about 20.
//
// Seeking a sequence number is a binary search that reads the sequence
// number of the record at each probe (the owner's `seq_of`), stepping over
// holes to the next live cell.
//
// Thread safety: none; the shard's lock guards it.

#ifndef SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_
#define SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sessionwheel::internal {

class CreationOrder {
 public:
  static constexpr uint32_t kHole = UINT32_MAX;
  // Fewer holes than this are never squeezed out: not worth a pass.
  static constexpr size_t kMinCompaction = 64;

  CreationOrder() = default;
  CreationOrder(const CreationOrder&) = delete;
  CreationOrder& operator=(const CreationOrder&) = delete;

  // Live Sessions.
  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  // Cells, live or holes: positions run from 0 to end() - 1.
  uint32_t end() const { return static_cast<uint32_t>(cells_.size()); }
  // The handle at a position, or kHole.
  uint32_t at(uint32_t pos) const { return cells_[pos]; }
  // Bumped whenever positions move (a compaction): a walker holding a
  // position must seek again.
  uint64_t generation() const { return generation_; }

  // Appends the newest Session; returns its position.
  uint32_t Append(uint32_t handle) {
    assert(handle != kHole);
    cells_.push_back(handle);
    ++live_;
    return end() - 1;
  }

  // Puts a Session in its place by sequence number, for a recovery that
  // meets an older Session after newer ones; returns its position. Cells
  // after it move up one, each reported as moved(handle, new_position):
  // O(n), where Append is O(1).
  template <typename SeqOf, typename Moved>
  uint32_t Insert(uint32_t handle, uint64_t seq, SeqOf seq_of, Moved moved) {
    uint32_t pos = FirstAfter(seq, seq_of);
    if (pos == end()) return Append(handle);
    cells_.insert(cells_.begin() + pos, handle);
    ++live_;
    for (uint32_t p = pos + 1; p < end(); ++p) {
      if (cells_[p] != kHole) moved(cells_[p], p);
    }
    ++generation_;
    return pos;
  }

  // Puts the cells back in sequence order, holes dropped, after a restore
  // appended Sessions older than the last (a snapshot of a store with other
  // shards hands a shard its Sessions in several batches); reports every
  // live Session's new position as moved(handle, position). O(n log n).
  template <typename SeqOf, typename Moved>
  void Sort(SeqOf seq_of, Moved moved) {
    cells_.erase(std::remove(cells_.begin(), cells_.end(), kHole),
                 cells_.end());
    std::sort(cells_.begin(), cells_.end(),
              [&](uint32_t a, uint32_t b) { return seq_of(a) < seq_of(b); });
    for (uint32_t p = 0; p < end(); ++p) moved(cells_[p], p);
    ++generation_;
  }

  // Removes the Session at `pos`. If that squeezes the holes out, calls
  // moved(handle, new_position) for every live Session that moved.
  template <typename Moved>
  void Remove(uint32_t pos, Moved moved) {
    assert(pos < cells_.size() && cells_[pos] != kHole);
    cells_[pos] = kHole;
    --live_;
    while (!cells_.empty() && cells_.back() == kHole) cells_.pop_back();
    const size_t holes = cells_.size() - live_;
    if (holes >= kMinCompaction && holes > live_) Compact(moved);
    ShrinkIfSparse();
  }

  // The last live position, or kHole if empty.
  uint32_t Last() const { return empty() ? kHole : end() - 1; }

  // The first position p such that every live cell before p has a sequence
  // number <= seq and every live cell from p on has one > seq (end() if
  // none): where a walk towards newer Sessions past `seq` starts, and one
  // towards older Sessions before `seq + 1` stops. seq_of(handle) reads a
  // live Session's sequence number.
  template <typename SeqOf>
  uint32_t FirstAfter(uint64_t seq, SeqOf seq_of) const {
    uint32_t lo = 0;
    uint32_t hi = end();
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      uint32_t live = mid;
      while (live < hi && cells_[live] == kHole) ++live;
      if (live == hi || seq_of(cells_[live]) > seq) {
        hi = mid;  // Nothing live in [mid, live) to place before it.
      } else {
        lo = live + 1;
      }
    }
    return lo;
  }

  // Gives back spare capacity once the array is far below it (after a mass
  // removal), so memory returns rather than waiting for the next growth.
  void ShrinkIfSparse() {
    if (cells_.capacity() > 1024 && cells_.size() < cells_.capacity() / 4) {
      cells_.shrink_to_fit();
    }
  }

 private:
  template <typename Moved>
  void Compact(Moved moved) {
    uint32_t to = 0;
    for (uint32_t from = 0; from < cells_.size(); ++from) {
      const uint32_t handle = cells_[from];
      if (handle == kHole) continue;
      if (to != from) {
        cells_[to] = handle;
        moved(handle, to);
      }
      ++to;
    }
    cells_.resize(to);
    ++generation_;
  }

  std::vector<uint32_t> cells_;
  size_t live_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_
