// CreationOrder: a Service's Sessions in one shard, oldest first, as slab
// handles in blocks of 1024 cells, with holes.
//
// A list pages through a Service's Sessions in creation order, from a
// cursor. A shard creates its Sessions one at a time under its lock, with
// store-wide increasing sequence numbers, so appending each new handle keeps
// the cells in sequence order: no tree, no key stored twice. Each record
// remembers its position, so removing one is O(1): its cell becomes a hole.
//
// The cells are in blocks of kBlockSize, linked oldest to newest, each
// holding a run of the order between `begin` and `end` (its first and last
// cells live). A position is a block's id and a cell: ids are reused, so
// positions stay below 2^32 however many Sessions come and go. A block whose
// last Session goes is freed at once, nothing moved: a mass expiry, which
// removes the oldest first, empties and frees whole blocks. Holes elsewhere
// are squeezed out a block at a time: two neighbouring blocks that hold at
// most half a block between them are merged into one, and a last block that
// fills its cells while at most half full is packed before it takes more.
// Each moved handle is reported to the owner, moved(handle, new_position).
//
// Work per call is bounded by a constant: Append and Remove move at most
// kBlockSize / 2 handles (each a callback, a cache miss in the record),
// Insert (recovery only) at most 2 * kBlockSize; a block freed or split
// also shifts one entry in a directory of 16 bytes a block. As every pair of
// neighbouring blocks holds more than half a block, the cells are at most
// four times the live Sessions plus one block (16 bytes a Session at
// worst, about 4 for the usual oldest-first removals), and an empty order
// holds no memory at all.
//
// Seeking a sequence number is a binary search over the directory (each
// block's lowest sequence number, sorted) and then within one block, reading
// the sequence number of the record at each probe (the owner's `seq_of`)
// and stepping over holes to the next live cell.
//
// A walker holding a position must seek again when generation() changes:
// it does whenever a handle moves or a block is freed (its id may name
// another block next).
//
// Thread safety: none; the shard's lock guards it.

#ifndef SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_
#define SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace sessionwheel::internal {

class CreationOrder {
 public:
  // An empty cell, and the answer "no position".
  static constexpr uint32_t kHole = UINT32_MAX;
  static constexpr uint32_t kNoPosition = UINT32_MAX;
  static constexpr int kBlockBits = 10;
  static constexpr uint32_t kBlockSize = uint32_t{1} << kBlockBits;
  // Two neighbours holding this many Sessions or fewer are merged.
  static constexpr uint32_t kMergeCells = kBlockSize / 2;

  CreationOrder() = default;
  CreationOrder(const CreationOrder&) = delete;
  CreationOrder& operator=(const CreationOrder&) = delete;

  // Live Sessions.
  size_t size() const { return live_; }
  bool empty() const { return live_ == 0; }
  // Blocks held (for tests and figures).
  size_t blocks() const { return dir_.size() - dir_front_; }
  // Bumped whenever a handle moves or a block is freed: a walker holding a
  // position must seek again.
  uint64_t generation() const { return generation_; }

  // The handle at a position, or kHole (also for a position no block holds).
  uint32_t at(uint32_t pos) const {
    const uint32_t id = pos >> kBlockBits;
    if (id >= blocks_.size() || blocks_[id] == nullptr) return kHole;
    const Block& b = *blocks_[id];
    const uint32_t cell = pos & kCellMask;
    return cell >= b.begin && cell < b.end ? b.cells[cell] : kHole;
  }

  // The oldest and newest live positions, or kNoPosition if empty.
  uint32_t First() const {
    return head_ == kNone ? kNoPosition
                          : Position(head_, blocks_[head_]->begin);
  }
  uint32_t Last() const {
    return tail_ == kNone ? kNoPosition
                          : Position(tail_, blocks_[tail_]->end - 1);
  }

  // The live position after (before) `pos`, or kNoPosition. `pos` is a
  // position this order gave since generation() last changed; it may be a
  // hole now. At most a block's cells are read.
  uint32_t Next(uint32_t pos) const {
    const uint32_t id = pos >> kBlockBits;
    const Block& b = *blocks_[id];
    for (uint32_t c = std::max<uint32_t>((pos & kCellMask) + 1, b.begin);
         c < b.end; ++c) {
      if (b.cells[c] != kHole) return Position(id, c);
    }
    return b.next == kNone ? kNoPosition
                           : Position(b.next, blocks_[b.next]->begin);
  }
  uint32_t Prev(uint32_t pos) const {
    const uint32_t id = pos >> kBlockBits;
    const Block& b = *blocks_[id];
    for (uint32_t c = std::min<uint32_t>(pos & kCellMask, b.end);
         c > b.begin;) {
      if (b.cells[--c] != kHole) return Position(id, c);
    }
    return b.prev == kNone ? kNoPosition
                           : Position(b.prev, blocks_[b.prev]->end - 1);
  }

  // The oldest live position whose sequence number is above `seq`, or
  // kNoPosition: where a walk towards newer Sessions past `seq` starts.
  // seq_of(handle) reads a live Session's sequence number.
  template <typename SeqOf>
  uint32_t FirstAfter(uint64_t seq, SeqOf seq_of) const {
    if (head_ == kNone) return kNoPosition;
    // The last block whose lowest number is at most seq: every block before
    // it holds only lower numbers, every one after only higher.
    auto it = std::upper_bound(
        dir_.begin() + dir_front_, dir_.end(), seq,
        [](uint64_t s, const DirEntry& e) { return s < e.first_seq; });
    if (it == dir_.begin() + dir_front_) return First();
    const uint32_t id = std::prev(it)->id;
    const Block& b = *blocks_[id];
    // The first cell c such that every live cell before it is at or below
    // seq and every live cell from it on is above.
    uint32_t lo = b.begin;
    uint32_t hi = b.end;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      uint32_t live = mid;
      while (live < hi && b.cells[live] == kHole) ++live;
      if (live == hi || seq_of(b.cells[live]) > seq) {
        hi = mid;  // Nothing live in [mid, live) to place before it.
      } else {
        lo = live + 1;
      }
    }
    if (lo < b.end && b.cells[lo] != kHole) return Position(id, lo);
    assert(lo > b.begin);  // cells[begin] is live.
    return Next(Position(id, lo - 1));
  }

  // The newest live position whose sequence number is below `seq`, or
  // kNoPosition: where a walk towards older Sessions before `seq` starts.
  template <typename SeqOf>
  uint32_t LastBefore(uint64_t seq, SeqOf seq_of) const {
    if (seq == 0) return kNoPosition;
    const uint32_t after = FirstAfter(seq - 1, seq_of);
    return after == kNoPosition ? Last() : Prev(after);
  }

  // Appends the newest Session, numbered `seq`; returns its position. If
  // the last block is full of cells but at most half live, it is packed
  // first, each moved handle reported as moved(handle, new_position).
  template <typename Moved>
  uint32_t Append(uint32_t handle, uint64_t seq, Moved moved) {
    assert(handle != kHole);
    if (tail_ != kNone && blocks_[tail_]->end == kBlockSize) {
      if (blocks_[tail_]->count <= kMergeCells) {
        Pack(tail_, moved);
      } else {
        AddBlockAfter(tail_, seq);
      }
    }
    if (tail_ == kNone) AddBlockAfter(kNone, seq);
    Block& b = *blocks_[tail_];
    b.cells[b.end] = handle;
    ++b.count;
    ++live_;
    return Position(tail_, b.end++);
  }

  // Puts a Session in its place by sequence number, for a recovery that
  // meets an older Session after newer ones; returns its position. Cells
  // of its block shift to make room, each reported as moved(handle,
  // new_position); a full block is packed or split first.
  template <typename SeqOf, typename Moved>
  uint32_t Insert(uint32_t handle, uint64_t seq, SeqOf seq_of, Moved moved) {
    const uint32_t before = FirstAfter(seq, seq_of);
    if (before == kNoPosition) return Append(handle, seq, moved);
    ++generation_;
    const uint32_t id = before >> kBlockBits;
    Block& b = *blocks_[id];
    uint32_t c = before & kCellMask;
    if (c > b.begin && b.cells[c - 1] == kHole) {
      --c;  // A hole where it belongs.
    } else if (c == b.begin && b.begin > 0) {
      c = --b.begin;
    } else if (b.end < kBlockSize) {
      for (uint32_t from = b.end++; from-- > c;) {
        b.cells[from + 1] = b.cells[from];
        if (b.cells[from] != kHole)
          moved(b.cells[from], Position(id, from + 1));
      }
    } else if (b.begin > 0) {
      --c;
      for (uint32_t from = --b.begin + 1; from <= c; ++from) {
        b.cells[from - 1] = b.cells[from];
        if (b.cells[from] != kHole)
          moved(b.cells[from], Position(id, from - 1));
      }
    } else {
      // Cells from first to last: make room, then place it.
      if (b.count < kBlockSize) {
        Pack(id, moved);
      } else {
        Split(id, seq_of, moved);
      }
      return Insert(handle, seq, seq_of, moved);
    }
    b.cells[c] = handle;
    ++b.count;
    ++live_;
    if (seq < b.first_seq) SetFirstSeq(id, seq);  // It went first.
    return Position(id, c);
  }

  // Puts the cells back in sequence order, holes dropped, after a restore
  // appended Sessions older than the last (a snapshot of a store with other
  // shards hands a shard its Sessions in several batches); reports every
  // live Session's new position as moved(handle, position). O(n log n):
  // for a restore, never a running store.
  template <typename SeqOf, typename Moved>
  void Sort(SeqOf seq_of, Moved moved) {
    std::vector<uint32_t> handles;
    handles.reserve(live_);
    for (uint32_t p = First(); p != kNoPosition; p = Next(p)) {
      handles.push_back(at(p));
    }
    std::sort(handles.begin(), handles.end(),
              [&](uint32_t a, uint32_t b) { return seq_of(a) < seq_of(b); });
    Clear();
    auto none = [](uint32_t, uint32_t) {};
    for (uint32_t h : handles) moved(h, Append(h, seq_of(h), none));
    ++generation_;
  }

  // Removes the Session at `pos`. Frees its block if that was the block's
  // last; else, if its block and a neighbour now hold at most kMergeCells,
  // merges them and calls moved(handle, new_position) for every live
  // Session that moved.
  template <typename Moved>
  void Remove(uint32_t pos, Moved moved) {
    assert(at(pos) != kHole);
    const uint32_t id = pos >> kBlockBits;
    const uint32_t c = pos & kCellMask;
    Block& b = *blocks_[id];
    b.cells[c] = kHole;
    --b.count;
    --live_;
    if (b.count == 0) {
      FreeBlock(id);
      return;
    }
    if (c == b.begin) {
      while (b.cells[b.begin] == kHole) ++b.begin;
    }
    if (c + 1 == b.end) {
      while (b.cells[b.end - 1] == kHole) --b.end;
    }
    if (b.count > kMergeCells) return;
    if (b.prev != kNone && blocks_[b.prev]->count + b.count <= kMergeCells) {
      Merge(b.prev, id, moved);
    } else if (b.next != kNone &&
               blocks_[b.next]->count + b.count <= kMergeCells) {
      Merge(id, b.next, moved);
    }
  }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kCellMask = kBlockSize - 1;
  // Block ids stay below this, so that no position is kNoPosition.
  static constexpr uint32_t kMaxBlocks = (uint32_t{1} << (32 - kBlockBits)) - 1;

  struct Block {
    // At most the sequence number of every Session in the block, above
    // every one in the blocks before: its key in dir_.
    uint64_t first_seq = 0;
    uint32_t prev = kNone;  // Block ids, towards older and newer.
    uint32_t next = kNone;
    // Live cells, and the run [begin, end) they lie in: cells[begin] and
    // cells[end - 1] are live. Cells outside the run are never read.
    uint32_t count = 0;
    uint32_t begin = 0;
    uint32_t end = 0;
    uint32_t cells[kBlockSize];  // Left uninitialised until used.
  };

  struct DirEntry {
    uint64_t first_seq;
    uint32_t id;
  };

  static uint32_t Position(uint32_t id, uint32_t cell) {
    return (id << kBlockBits) | cell;
  }

  // Where block `id` is in dir_ (at or after dir_front_).
  size_t DirIndex(uint32_t id) const {
    const uint64_t key = blocks_[id]->first_seq;
    auto it = std::lower_bound(
        dir_.begin() + dir_front_, dir_.end(), key,
        [](const DirEntry& e, uint64_t s) { return e.first_seq < s; });
    assert(it != dir_.end() && it->id == id);
    return static_cast<size_t>(it - dir_.begin());
  }

  void SetFirstSeq(uint32_t id, uint64_t seq) {
    dir_[DirIndex(id)].first_seq = seq;
    blocks_[id]->first_seq = seq;
  }

  // A new empty block after `after` (first if kNone), whose Sessions are
  // numbered `first_seq` and up.
  uint32_t AddBlockAfter(uint32_t after, uint64_t first_seq) {
    const size_t index = after == kNone   ? dir_front_
                         : after == tail_ ? dir_.size()
                                          : DirIndex(after) + 1;
    uint32_t id;
    if (!free_ids_.empty()) {
      id = free_ids_.back();
      free_ids_.pop_back();
    } else {
      id = static_cast<uint32_t>(blocks_.size());
      assert(id < kMaxBlocks);
      blocks_.emplace_back();
    }
    blocks_[id].reset(new Block);  // Cells not value-initialised.
    Block& b = *blocks_[id];
    b.first_seq = first_seq;
    b.prev = after;
    b.next = after == kNone ? head_ : blocks_[after]->next;
    if (b.next != kNone) {
      blocks_[b.next]->prev = id;
    } else {
      tail_ = id;
    }
    if (after != kNone) {
      blocks_[after]->next = id;
    } else {
      head_ = id;
    }
    if (index == dir_front_ && dir_front_ > 0) {
      dir_[--dir_front_] = DirEntry{first_seq, id};
    } else {
      dir_.insert(dir_.begin() + index, DirEntry{first_seq, id});
    }
    return id;
  }

  void FreeBlock(uint32_t id) {
    Block& b = *blocks_[id];
    const size_t index = DirIndex(id);
    if (index == dir_front_) {
      ++dir_front_;
      // Dropped from the front without shifting, until they are half.
      if (dir_front_ >= 64 && 2 * dir_front_ >= dir_.size()) {
        dir_.erase(dir_.begin(), dir_.begin() + dir_front_);
        dir_front_ = 0;
      }
    } else {
      dir_.erase(dir_.begin() + index);
    }
    if (b.prev != kNone) {
      blocks_[b.prev]->next = b.next;
    } else {
      head_ = b.next;
    }
    if (b.next != kNone) {
      blocks_[b.next]->prev = b.prev;
    } else {
      tail_ = b.prev;
    }
    blocks_[id].reset();
    free_ids_.push_back(id);
    ++generation_;
    if (head_ == kNone) {
      Clear();
    } else if (dir_.capacity() > 64 && dir_.size() < dir_.capacity() / 4) {
      dir_.shrink_to_fit();
    }
  }

  // Frees every block and gives back every array's memory.
  void Clear() {
    blocks_ = std::vector<std::unique_ptr<Block>>();
    free_ids_ = std::vector<uint32_t>();
    dir_ = std::vector<DirEntry>();
    dir_front_ = 0;
    head_ = tail_ = kNone;
    live_ = 0;
    ++generation_;
  }

  // Moves block id's live cells to its front.
  template <typename Moved>
  void Pack(uint32_t id, Moved moved) {
    Block& b = *blocks_[id];
    uint32_t to = 0;
    for (uint32_t from = b.begin; from < b.end; ++from) {
      const uint32_t handle = b.cells[from];
      if (handle == kHole) continue;
      if (to != from) {
        b.cells[to] = handle;
        moved(handle, Position(id, to));
      }
      ++to;
    }
    b.begin = 0;
    b.end = to;
    ++generation_;
  }

  // Moves block `later`'s live cells into `earlier`, its predecessor,
  // after earlier's own, and frees `later`.
  template <typename Moved>
  void Merge(uint32_t earlier, uint32_t later, Moved moved) {
    Pack(earlier, moved);
    Block& a = *blocks_[earlier];
    const Block& b = *blocks_[later];
    for (uint32_t from = b.begin; from < b.end; ++from) {
      const uint32_t handle = b.cells[from];
      if (handle == kHole) continue;
      a.cells[a.end] = handle;
      moved(handle, Position(earlier, a.end++));
    }
    a.count += b.count;
    FreeBlock(later);
  }

  // Moves the newer half of full block `id` into a new block after it.
  template <typename SeqOf, typename Moved>
  void Split(uint32_t id, SeqOf seq_of, Moved moved) {
    const uint32_t half = kBlockSize / 2;
    const uint32_t added = AddBlockAfter(id, seq_of(blocks_[id]->cells[half]));
    Block& a = *blocks_[id];
    Block& b = *blocks_[added];
    for (uint32_t from = half; from < kBlockSize; ++from) {
      b.cells[from - half] = a.cells[from];
      moved(a.cells[from], Position(added, from - half));
    }
    a.end = half;
    a.count = half;
    b.end = half;
    b.count = half;
    ++generation_;
  }

  // Blocks by id; null for an id on free_ids_.
  std::vector<std::unique_ptr<Block>> blocks_;
  std::vector<uint32_t> free_ids_;
  // Each block's first_seq and id, oldest first, from dir_front_ on.
  std::vector<DirEntry> dir_;
  size_t dir_front_ = 0;
  uint32_t head_ = kNone;  // The oldest block.
  uint32_t tail_ = kNone;  // The newest: Append's.
  size_t live_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_CREATION_ORDER_H_
