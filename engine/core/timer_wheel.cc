#include "engine/core/timer_wheel.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <limits>

namespace sessionwheel::internal {
namespace {

static_assert(TimerWheel::kLevels == 11, "10 levels of 6 bits and one of 4");
static_assert(TimerWheel::kLevels < TimerEntry::kDueList,
              "a level must not collide with the list markers");
static_assert(sizeof(TimerEntry) == 16, "an entry fits a quarter cache line");

// How many entries ahead to prefetch: enough to keep a memory latency's worth
// of misses in flight. Measured on the store, 4 is 10% slower than 16, and 8
// to 64 are all within noise of it.
constexpr size_t kCascadePrefetch = 16;
constexpr size_t kPopPrefetch = 16;
// A bucket at least this large shrinks once cancels leave it a quarter full.
constexpr size_t kMinShrinkCapacity = 64;
// The due list keeps up to this much capacity once empty, for the next tick.
constexpr size_t kKeepDueCapacity = 1024;
// The due list is compacted only once it has this many dead cells.
constexpr size_t kMinDueCompact = 64;

int HighestBit(uint64_t x) { return 63 - __builtin_clzll(x); }  // x != 0
int LowestBit(uint64_t x) { return __builtin_ctzll(x); }        // x != 0

// Asks for an entry's cache line ahead of the write to it.
void PrefetchEntry(const TimerEntry* e) { __builtin_prefetch(e, 1); }

// Asks for the first 128 bytes of the object holding `e` (the owner's fields
// next to the entry are read as soon as it is popped): the lines of p,
// p + 63 and p + 127, two of them when the object starts on a line. The
// store's SessionRecord is 128 bytes on a line: what an expiry needs is in
// the first, its Service and SID in the second, which a drain reads too
// (asking for the first line only measured 5% slower at 1M).
void PrefetchObject(const TimerEntry* e) {
  if (e == nullptr) return;  // A cancelled cell of the due list.
  // Addresses as integers: the bytes past the entry are the owner's object.
  const uintptr_t p = reinterpret_cast<uintptr_t>(e);
  __builtin_prefetch(reinterpret_cast<const void*>(p), 1);
  __builtin_prefetch(reinterpret_cast<const void*>(p + 63), 1);
  __builtin_prefetch(reinterpret_cast<const void*>(p + 127), 1);
}

uint32_t IndexOf(size_t position) {
  assert(position < std::numeric_limits<uint32_t>::max());
  return static_cast<uint32_t>(position);
}

}  // namespace

TimerWheel::Place TimerWheel::PlaceFor(uint64_t deadline) const {
  if (deadline <= now_) return {TimerEntry::kDueList, 0};
  const int level = HighestBit(deadline ^ now_) / kSlotBits;
  const int shift = level * kSlotBits;
  // The XOR placement keeps every occupied slot after now_'s own.
  assert(((deadline >> shift) & kSlotMask) > ((now_ >> shift) & kSlotMask));
  return {static_cast<uint8_t>(level),
          static_cast<uint8_t>((deadline >> shift) & kSlotMask)};
}

int TimerWheel::LowestOccupiedLevel() const {
  int level = 0;
  while (level < kLevels && occupied_[level] == 0) ++level;
  return level;
}

uint64_t TimerWheel::SlotStart(int level, int slot) const {
  // now_ with groups 0..level cleared, then group `level` set to `slot`.
  const int span_bits = (level + 1) * kSlotBits;
  const uint64_t span_start =
      span_bits >= 64 ? 0 : now_ >> span_bits << span_bits;
  return span_start | static_cast<uint64_t>(slot) << (level * kSlotBits);
}

void TimerWheel::Link(TimerEntry* e, Place place) {
  e->level = place.level;
  e->slot = place.slot;
  if (place.level == TimerEntry::kDueList) {
    const size_t dead = due_.size() - due_count_;
    if (dead >= kMinDueCompact && dead >= due_count_) CompactDue();
    e->index = IndexOf(due_.size());
    due_.push_back(e);
    ++due_count_;
    return;
  }
  Bucket& bucket = slots_[place.level][place.slot];
  e->index = IndexOf(bucket.size());
  bucket.push_back(e);
  occupied_[place.level] |= uint64_t{1} << place.slot;
}

void TimerWheel::Unlink(TimerEntry* e) {
  if (OnDueList(e)) {
    assert(e->index >= due_head_ && due_[e->index] == e);
    due_[e->index] = nullptr;  // PopDue skips it; FIFO order is kept.
    if (--due_count_ == 0) ResetDue();
  } else {
    Bucket& bucket = slots_[e->level][e->slot];
    assert(bucket[e->index] == e);
    TimerEntry* last = bucket.back();
    bucket[e->index] = last;
    last->index = e->index;
    bucket.pop_back();
    if (bucket.empty()) {
      occupied_[e->level] &= ~(uint64_t{1} << e->slot);
      Bucket().swap(bucket);
    } else if (bucket.capacity() >= kMinShrinkCapacity &&
               bucket.size() * 4 <= bucket.capacity()) {
      // Twice the size: room to grow again without reallocating at once.
      Bucket smaller;
      smaller.reserve(bucket.size() * 2);
      smaller.assign(bucket.begin(), bucket.end());
      bucket.swap(smaller);
    }
  }
  e->level = TimerEntry::kNotScheduled;
}

void TimerWheel::ResetDue() {
  assert(due_count_ == 0);
  handed_slot_ = kNoSlot;
  if (due_.capacity() > kKeepDueCapacity) {
    Bucket().swap(due_);
  } else {
    due_.clear();
  }
  due_head_ = 0;
}

void TimerWheel::CompactDue() {
  size_t live = 0;
  for (size_t i = due_head_; i < due_.size(); ++i) {
    if (TimerEntry* e = due_[i]) {
      e->index = IndexOf(live);
      due_[live++] = e;
    }
  }
  assert(live == due_count_);
  due_.resize(live);
  due_head_ = 0;
}

void TimerWheel::Schedule(TimerEntry* e, uint64_t deadline) {
  const Place place = PlaceFor(deadline);
  if (e->scheduled()) {
    const bool stays_due = place.level == TimerEntry::kDueList && OnDueList(e);
    if (stays_due || (e->level == place.level && e->slot == place.slot)) {
      e->deadline = deadline;
      return;
    }
    Unlink(e);
  } else {
    ++size_;
  }
  e->deadline = deadline;
  Link(e, place);
}

void TimerWheel::Cancel(TimerEntry* e) {
  if (!e->scheduled()) return;
  Unlink(e);
  --size_;
}

bool TimerWheel::Cascade(int level, int slot, size_t* budget) {
  Bucket& bucket = slots_[level][slot];
  const bool resumed = cascading_level_ != kNoSlot;
  if (level == 0 && due_count_ == 0 && !resumed) {
    // A level-0 slot holds a single deadline, now_: every entry is due, in
    // the array's order, at the index it already records. The array becomes
    // the due list as it is, and no entry is touched (OnDueList).
    assert(handed_slot_ == kNoSlot);
    due_.swap(bucket);
    occupied_[level] &= ~(uint64_t{1} << slot);
    due_head_ = 0;
    due_count_ = due_.size();
    handed_slot_ = slot;
    // PopDue asks for the object kPopPrefetch places ahead; the first ones
    // are asked for here, or a short list (a busy tick's few Sessions a
    // shard) would meet every one of them as a miss in turn.
    for (size_t i = 0; i < due_count_ && i < kPopPrefetch; ++i) {
      PrefetchObject(due_[i]);
    }
    *budget -= std::min<size_t>(*budget, 1);
    return true;
  }
  const size_t n = bucket.size();
  if (n <= *budget && !resumed) {
    // Take the whole array: entries only move to lower levels, never back
    // here, and its memory is freed when done.
    Bucket entries;
    entries.swap(bucket);
    occupied_[level] &= ~(uint64_t{1} << slot);
    if (level == 0 && due_.empty()) due_.reserve(n);  // All become due.
    for (size_t i = 0; i < n && i < kCascadePrefetch; ++i) {
      PrefetchEntry(entries[i]);
    }
    for (size_t i = 0; i < n; ++i) {
      if (i + kCascadePrefetch < n) {
        PrefetchEntry(entries[i + kCascadePrefetch]);
      }
      TimerEntry* e = entries[i];
      const Place place = PlaceFor(e->deadline);
      assert(place.level == TimerEntry::kDueList || place.level < level);
      Link(e, place);
    }
    *budget -= std::min(*budget, std::max<size_t>(n, 1));
    return true;
  }
  // Part of the array, from its end, so the entries left keep the indices
  // they record (a Cancel meanwhile swap-removes as usual). Nothing can be
  // linked here meanwhile: every deadline in this slot's span now lands
  // lower.
  cascading_level_ = level;
  cascading_slot_ = slot;
  const size_t k = std::min(n, *budget);
  for (size_t i = 1; i <= k && i <= kCascadePrefetch; ++i) {
    PrefetchEntry(bucket[n - i]);
  }
  for (size_t i = 0; i < k; ++i) {
    const size_t ahead = i + 1 + kCascadePrefetch;
    if (ahead <= k) PrefetchEntry(bucket[n - ahead]);
    TimerEntry* e = bucket.back();
    bucket.pop_back();
    const Place place = PlaceFor(e->deadline);
    assert(place.level == TimerEntry::kDueList || place.level < level);
    Link(e, place);
  }
  *budget -= k;
  if (!bucket.empty()) return false;
  occupied_[level] &= ~(uint64_t{1} << slot);
  Bucket().swap(bucket);
  cascading_level_ = kNoSlot;
  return true;
}

void TimerWheel::SettleHandedSlot() {
  if (handed_slot_ == kNoSlot) return;
  for (size_t i = due_head_; i < due_.size(); ++i) {
    if (TimerEntry* e = due_[i]) {
      e->level = TimerEntry::kDueList;
      e->slot = 0;
    }
  }
  handed_slot_ = kNoSlot;
}

bool TimerWheel::Advance(uint64_t now, size_t* budget) {
  // A slot part-way through its cascade first: until it is empty, now_ must
  // stay at its first tick.
  if (cascading_level_ != kNoSlot &&
      !Cascade(cascading_level_, cascading_slot_, budget)) {
    return false;
  }
  // Step from event to event. Only the lowest non-empty level can hold the
  // next one (see the file comment), and a cascade only moves entries to
  // lower levels or the due list, so each step handles exactly one slot.
  for (;;) {
    const int level = LowestOccupiedLevel();
    if (level == kLevels) break;
    const int slot = LowestBit(occupied_[level]);
    const uint64_t tick = SlotStart(level, slot);
    if (tick > now) break;
    if (*budget == 0 || !MoveNowWithin(tick, budget)) return false;
    if (!Cascade(level, slot, budget)) return false;
  }
  return now <= now_ || MoveNowWithin(now, budget);
}

bool TimerWheel::MoveNowWithin(uint64_t tick, size_t* budget) {
  if (tick != now_ && handed_slot_ != kNoSlot) {
    // Its entries must be marked before its number can be used again: one
    // write per cell left, which the owner makes fewer by popping first.
    const size_t cells = due_.size() - due_head_;
    if (cells > *budget) return false;
    *budget -= cells;
  }
  MoveNow(tick);
  return true;
}

void TimerWheel::MoveNow(uint64_t tick) {
  // Once now_ moves on, the handed-over slot's number can be occupied again.
  // The store pops every due entry before it advances, so this is rare.
  if (tick != now_) SettleHandedSlot();
  now_ = tick;
}

TimerEntry* TimerWheel::PopDue() {
  while (due_count_ != 0) {
    if (due_head_ + kPopPrefetch < due_.size()) {
      PrefetchObject(due_[due_head_ + kPopPrefetch]);
    }
    TimerEntry* e = due_[due_head_++];
    if (e == nullptr) continue;  // Cancelled while due.
    e->level = TimerEntry::kNotScheduled;
    --size_;
    if (--due_count_ == 0) ResetDue();
    return e;
  }
  return nullptr;
}

std::optional<uint64_t> TimerWheel::NextEventTick() const {
  if (due_count_ != 0 || cascading_level_ != kNoSlot) return now_;
  const int level = LowestOccupiedLevel();
  if (level == kLevels) return std::nullopt;
  return SlotStart(level, LowestBit(occupied_[level]));
}

}  // namespace sessionwheel::internal
