#include "engine/timer_wheel.h"

#include <cassert>

namespace sessionwheel::internal {
namespace {

static_assert(TimerWheel::kLevels == 11, "10 levels of 6 bits and one of 4");
static_assert(TimerWheel::kLevels < TimerEntry::kDueList,
              "a level must not collide with the list markers");

int HighestBit(uint64_t x) { return 63 - __builtin_clzll(x); }  // x != 0
int LowestBit(uint64_t x) { return __builtin_ctzll(x); }        // x != 0

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
    e->next = nullptr;
    e->prev = due_tail_;
    (due_tail_ != nullptr ? due_tail_->next : due_head_) = e;
    due_tail_ = e;
    return;
  }
  TimerEntry*& head = slots_[place.level][place.slot];
  e->prev = nullptr;
  e->next = head;
  if (head != nullptr) head->prev = e;
  head = e;
  occupied_[place.level] |= uint64_t{1} << place.slot;
}

void TimerWheel::Unlink(TimerEntry* e) {
  const bool due = e->level == TimerEntry::kDueList;
  TimerEntry*& head = due ? due_head_ : slots_[e->level][e->slot];
  (e->prev != nullptr ? e->prev->next : head) = e->next;
  if (e->next != nullptr) {
    e->next->prev = e->prev;
  } else if (due) {
    due_tail_ = e->prev;
  }
  if (!due && head == nullptr) {
    occupied_[e->level] &= ~(uint64_t{1} << e->slot);
  }
  e->next = nullptr;
  e->prev = nullptr;
  e->level = TimerEntry::kNotScheduled;
}

void TimerWheel::Schedule(TimerEntry* e, uint64_t deadline) {
  const Place place = PlaceFor(deadline);
  if (e->scheduled()) {
    if (e->level == place.level && e->slot == place.slot) {
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

void TimerWheel::Cascade(int level, int slot) {
  TimerEntry* e = slots_[level][slot];
  slots_[level][slot] = nullptr;
  occupied_[level] &= ~(uint64_t{1} << slot);
  while (e != nullptr) {
    TimerEntry* next = e->next;
    const Place place = PlaceFor(e->deadline);
    assert(place.level == TimerEntry::kDueList || place.level < level);
    Link(e, place);
    e = next;
  }
}

void TimerWheel::Advance(uint64_t now) {
  // Step from event to event. Only the lowest non-empty level can hold the
  // next one (see the file comment), and a cascade only moves entries to
  // lower levels or the due list, so each step handles exactly one slot.
  for (;;) {
    const int level = LowestOccupiedLevel();
    if (level == kLevels) break;
    const int slot = LowestBit(occupied_[level]);
    const uint64_t tick = SlotStart(level, slot);
    if (tick > now) break;
    now_ = tick;
    Cascade(level, slot);
  }
  if (now > now_) now_ = now;
}

TimerEntry* TimerWheel::PopDue() {
  TimerEntry* e = due_head_;
  if (e == nullptr) return nullptr;
  Unlink(e);
  --size_;
  return e;
}

std::optional<uint64_t> TimerWheel::NextEventTick() const {
  if (due_head_ != nullptr) return now_;
  const int level = LowestOccupiedLevel();
  if (level == kLevels) return std::nullopt;
  return SlotStart(level, LowestBit(occupied_[level]));
}

}  // namespace sessionwheel::internal
