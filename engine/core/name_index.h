// NameIndex: a hash set that grows and shrinks a few entries at a time, so
// that no single call rehashes it whole. The shard's name index is one, of
// slab handles found by (Service, unique_name).
//
// An absl::flat_hash_set grows inside the insert that fills it to 7/8,
// rehashing every element there and then; the name index's hash reads each
// element's record through the slab, so at 458k names a shard (7.3M
// Sessions over 16 shards) that one create held the shard lock for about
// 50 ms. It rehashes in place the same way when erases have left it full of
// tombstones, and it never shrinks. As Redis's dict.c does, NameIndex keeps
// two tables while it resizes:
//
//   live_  where inserts go; reserved at its final size when the resize
//          begins, so it never grows while the old one drains;
//   old_   the table being drained: each Insert and Erase moves up to
//          kStepsPerOp of its entries to live_, in its own slot order (a
//          cursor), and Step(n) moves n more when the owner is idle.
//
// A lookup probes live_, then old_ while a resize is under way. An entry is
// in exactly one of them; old_ only loses entries.
//
// When a resize begins. absl does not say when it will rehash, only that a
// table reserved for n entries takes n inserts without one; a table's
// `fills_` counts the entries put in it since it was allocated, an upper
// bound on the slots its inserts and erases have used up (an erase may leave
// a tombstone, an insert may reuse one). A resize begins:
//
//   - on an Insert, when live_ has had budget_ fills (7/8 of its capacity,
//     rounded down, one below absl's own limit), whatever its size: a growth
//     if it is full, else a rebuild that sheds the tombstones absl would have
//     cleared with a full rehash in place;
//   - on an Erase, when fewer than 1 slot in kShrinkRatio holds an entry and
//     the table is larger than kMinShrinkCapacity: a shrink. Redis shrinks
//     at the same 10%.
//
// Either way the new table is reserved for twice the entries there are, so
// it starts at most 7/16 full: a grow starts at 7/8 and a shrink at 1/10,
// and neither threshold is near where the other leaves the table, so they
// do not alternate. A table purged to nothing ends with at most
// kMinShrinkCapacity slots.
//
// The bound. The resize begins with n entries in old_ and live_ reserved for
// 2n, so live_ may take at least 2n - 1 fills (its budget). It takes the n
// moved entries and one insert per call that moves kStepsPerOp: at most
// n + n / kStepsPerOp + 1 fills before old_ is empty, within the budget for
// kStepsPerOp >= 2, so neither table ever rehashes while the other holds
// entries, and every Insert or Erase does at most:
//
//   - two lookups (one a table) and one insert or erase;
//   - kStepsPerOp moves, each one hash of the moved entry (for the name
//     index, a read of its record) and one insert into a table that does
//     not grow. The moves of a call go as one batch: the loads of the
//     batch's records (Hash::Prefetch), then of their new slots, are all
//     started before the first is needed, so their cache misses overlap;
//   - when it begins a resize, one allocation of the new table and the
//     clearing of its control bytes (one byte a slot: 1 MiB at 2^20 slots,
//     about 0.5 ms here, most of it the first touch of its pages), and the
//     cursor's first scan for a full slot.
//
// The cursor also scans old_'s empty control bytes, 16 at a time: over a
// whole resize one pass over the table, spread over its calls.
//
// Why 8 a call. A growth's resize lasts 1/kStepsPerOp of the inserts until
// the next growth; the calls in it pay the moves and a second probe. Fewer
// a call spreads the moves thinner but keeps two tables (and the second
// probe) for longer; more makes each of those calls dearer. Growing one
// Service to 10M Sessions (docs/performance.md, "Pauses"), 4, 8 and 16 a
// call gave creates a p99 of 2.3, 2.4 and 2.8 us and rates within a few
// percent of each other, 16 the fastest; 8 keeps the p99 near 4's at
// nearly 16's rate.
//
// Memory: sizeof(T) + 1 bytes a slot in each table. During a growth from C
// to 2C + 1 slots both are held, 3C slots for about 7/8 C entries, until the
// old one drains; absl's own resize holds the same two for the length of
// its rehash. No storage per entry besides absl's.
//
// Thread safety: none; the shard's lock guards it.

#ifndef SESSIONWHEEL_ENGINE_CORE_NAME_INDEX_H_
#define SESSIONWHEEL_ENGINE_CORE_NAME_INDEX_H_

#include <array>
#include <cstddef>
#include <utility>

#include "absl/container/flat_hash_set.h"

namespace sessionwheel::internal {

// `Hash` and `Eq` are transparent: Find and Prefetch take any key they
// accept, as absl's heterogeneous lookup does. `Hash` also has
// `void Prefetch(const T&) const`, which starts loading what hashing a T
// reads (for the name index, the record), for the moves of a resize.
template <typename T, typename Hash, typename Eq>
class NameIndex {
 public:
  // Entries an Insert or Erase moves while a resize is under way.
  static constexpr size_t kStepsPerOp = 8;
  // A table shrinks when fewer than 1 slot in this many holds an entry...
  static constexpr size_t kShrinkRatio = 10;
  // ... and it has more slots than this (640 bytes of uint32_t: not worth a
  // resize).
  static constexpr size_t kMinShrinkCapacity = 127;

  static_assert(kStepsPerOp >= 2, "the bound above needs two moves a call");

  NameIndex(const Hash& hash, const Eq& eq)
      : live_(0, hash, eq), old_(0, hash, eq), retired_(0, hash, eq) {}
  NameIndex(const NameIndex&) = delete;
  NameIndex& operator=(const NameIndex&) = delete;

  size_t size() const { return live_.size() + old_.size(); }
  // Slots allocated in both tables and a retired one not yet taken, at
  // sizeof(T) + 1 bytes each.
  size_t capacity() const {
    return live_.capacity() + old_.capacity() + retired_.capacity();
  }
  // True while entries are being moved from one table to the other.
  bool resizing() const { return resizing_; }
  // Entries moved by the last Insert, Erase or Step: for tests.
  size_t moved_by_last_call() const { return moved_; }

  // A drained table, not yet freed: freeing a large block can make glibc
  // trim its heap, which may take milliseconds, so the owner takes it with
  // TakeRetired() and frees it once its lock is released. Each resize
  // retires one; one not taken by the end of the next resize is freed
  // there. Moves the table to `*out`, meant to be empty, and returns its
  // bytes; returns 0 and leaves `*out` alone if there is none.
  size_t TakeRetired(absl::flat_hash_set<T, Hash, Eq>* out) {
    if (retired_.capacity() == 0) return 0;
    *out = std::move(retired_);
    retired_ = Set(0, live_.hash_function(), live_.key_eq());
    return out->capacity() * (sizeof(T) + 1);
  }

  // Starts loading the memory a Find of `key` will read.
  template <typename K>
  void Prefetch(const K& key) const {
    live_.prefetch(key);
    if (resizing_) old_.prefetch(key);
  }

  // The entry equal to `key`, or null. Valid until the next Insert, Erase
  // or Step.
  template <typename K>
  const T* Find(const K& key) const {
    auto it = live_.find(key);
    if (it != live_.end()) return &*it;
    if (!resizing_) return nullptr;
    it = old_.find(key);
    return it == old_.end() ? nullptr : &*it;
  }

  // Adds `value` unless an equal entry is there; returns whether it added.
  bool Insert(const T& value) {
    moved_ = 0;
    if (!resizing_ && fills_ >= budget_) {
      if (live_.contains(value)) return false;
      BeginResize(live_.size() + 1);
    } else if (resizing_ && old_.contains(value)) {
      Step(kStepsPerOp);
      return false;
    }
    const bool inserted = live_.insert(value).second;
    fills_ += inserted;
    if (resizing_) Step(kStepsPerOp);
    return inserted;
  }

  // Removes the entry equal to `value`; returns whether there was one.
  bool Erase(const T& value) {
    moved_ = 0;
    bool erased = live_.erase(value) != 0;
    if (!erased && resizing_) {
      auto it = old_.find(value);
      if (it != old_.end()) {
        if (it == cursor_) ++cursor_;
        old_.erase(it);
        erased = true;
      }
    }
    if (!resizing_ && ShouldShrink()) BeginResize(live_.size());
    if (resizing_) Step(kStepsPerOp);
    return erased;
  }

  // Moves up to `n` entries of a resize under way; returns whether one is
  // still under way. For an owner with idle time, so that a resize finishes
  // (and a shrink gives its memory back) without further inserts or erases.
  bool Step(size_t n) {
    moved_ = 0;
    const Hash hash = live_.hash_function();
    while (moved_ < n && cursor_ != old_.end()) {
      // A batch at a time, so that the cache misses of its entries' keys,
      // then of their slots in live_, overlap instead of following each
      // other.
      std::array<T, kStepsPerOp> batch;
      size_t m = 0;
      for (; m < batch.size() && moved_ + m < n && cursor_ != old_.end(); ++m) {
        batch[m] = *cursor_;
        old_.erase(cursor_++);
        hash.Prefetch(batch[m]);
      }
      for (size_t i = 0; i < m; ++i) live_.prefetch(batch[i]);
      for (size_t i = 0; i < m; ++i) live_.insert(batch[i]);
      fills_ += m;
      moved_ += m;
    }
    if (resizing_ && cursor_ == old_.end()) EndResize();
    return resizing_;
  }

 private:
  using Set = absl::flat_hash_set<T, Hash, Eq>;

  // Moves live_ to old_ and reserves live_ for twice the `entries` it is to
  // hold. The caller steps.
  void BeginResize(size_t entries) {
    old_ = std::move(live_);
    live_ = Set(0, old_.hash_function(), old_.key_eq());
    live_.reserve(2 * entries);
    // 7/8 of the capacity, rounded down: at most absl's limit less one.
    budget_ = live_.capacity() / 8 * 7 + live_.capacity() % 8 * 7 / 8;
    fills_ = 0;
    cursor_ = old_.begin();
    resizing_ = true;
  }

  // Retires the drained table (TakeRetired); a shrink may follow at once,
  // if erases while it drained left the new table as empty as the old one
  // was.
  void EndResize() {
    retired_ = std::move(old_);
    old_ = Set(0, live_.hash_function(), live_.key_eq());
    cursor_ = old_.end();
    resizing_ = false;
    if (ShouldShrink()) BeginResize(live_.size());
  }

  bool ShouldShrink() const {
    return live_.capacity() > kMinShrinkCapacity &&
           live_.size() * kShrinkRatio < live_.capacity();
  }

  Set live_;
  Set old_;
  Set retired_;  // Drained, for the owner to free (TakeRetired).
  // The next entry of old_ to move; old_.end() when not resizing.
  typename Set::iterator cursor_ = old_.end();
  bool resizing_ = false;
  // Entries put into live_ since it was allocated, and how many it may take
  // before absl could rehash it.
  size_t fills_ = 0;
  size_t budget_ = 0;
  size_t moved_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_NAME_INDEX_H_
