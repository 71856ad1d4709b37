// A hierarchical timer wheel: the schedule behind every expiry and purge.
//
// The wheel knows ticks and pointers to entries, nothing else. A tick is an
// unsigned 64-bit count whose length the owner chooses; the current tick is
// passed to Advance() and never read from a clock here, so tests move time by
// hand. The entry lives inside the caller's object and records where the
// wheel keeps its pointer, so Cancel and reschedule are O(1).
//
// Example:
//
//   struct Session { TimerEntry timer; ... };
//   TimerWheel wheel(/*now=*/0);
//   wheel.Schedule(&session.timer, 500);        // due at tick 500
//   wheel.Advance(499);                         // nothing is due yet
//   wheel.Advance(500);                         // now it is
//   while (TimerEntry* e = wheel.PopDue()) {    // collect, then process:
//     ...                                       // may Schedule/Cancel anything
//   }
//
// Design
//
// A tick is read as 6-bit groups, group 0 being the lowest. Level L has one
// slot for each value of group L. An entry whose deadline d is later than now
// sits at the level of the highest group in which d and now differ, in the
// slot named by d's value in that group:
//
//   level = (index of the highest set bit of d ^ now) / kSlotBits
//   slot  = (d >> (level * kSlotBits)) & kSlotMask
//
// So level L holds deadlines that agree with now in every group above L and
// are later in group L: less than 2^(6(L+1)) ticks ahead, in slots 2^(6L)
// ticks wide. Ten levels of 6 bits and a top level of 4 cover all 64 bits:
// every deadline has a place and there is no overflow list. Deadlines at or
// before now go straight to the due list.
//
// With a tick of 10 ms:
//
//   Level Slots  Slot width             Holds deadlines ahead by less than
//     0    64    1 tick    10 ms         2^6  ticks   640 ms
//     1    64    2^6       640 ms        2^12         41 s
//     2    64    2^12      41 s          2^18         44 min
//     3    64    2^18      44 min        2^24         1.9 days
//     4    64    2^24      1.9 days      2^30         124 days
//     5    64    2^30      124 days      2^36         22 years
//     6    64    2^36      22 years      2^42         1,394 years
//     7    64    2^42      1,394 years   2^48         89,000 years
//     8    64    2^48      89,000 years  2^54         5.7 million years
//     9    64    2^54      5.7 M years   2^60         365 million years
//    10    16    2^60      365 M years   2^64         5.8 billion years
//
// Unlike the kernel's wheel, slot width is not lateness: nothing fires early
// or late. When now reaches the first tick of an occupied slot at level
// L >= 1, the slot cascades: each entry is placed again relative to the new
// now, which drops it to a finer level (it now agrees with now in group L) or,
// if its deadline is now, onto the due list. A level-0 slot holds one
// deadline, so reaching it makes all its entries due. An entry is touched at
// most once per level below the one it was scheduled on, and becomes due at
// exactly its tick.
//
// Advance jumps; it does not tick. Because of the XOR placement, every
// occupied slot at level L lies after now's value in group L, all within
// now's current span at level L + 1, and the first one starts at
//
//   (now with groups 0..L cleared) | (first occupied slot) << (L * kSlotBits)
//
// The first occupied slot is the count of trailing zeros of the level's 64-bit
// occupancy bitmap. The lowest non-empty level always has the earliest such
// tick (higher levels' slots begin only after that span ends), so finding the
// next event is a scan of at most 11 words, and Advance(target) steps from
// event to event while the next is <= target, cascading one slot per step.
// Its cost follows the occupied slots and entries it touches, never the
// ticks it skips: a jump of 2^63 ticks with one entry pending is at most 11
// steps.
//
// Buckets. A slot is an array of entry pointers, not a list threaded through
// the entries: the entries are scattered over the heap, and walking a list
// costs a cache miss per entry that cannot be hidden, since the next address
// is known only once the miss is served. An array names the entries ahead,
// so a cascade prefetches the entry a few places ahead of the one it places,
// and the misses overlap. Each entry records its level, slot and index in the
// slot's array, so Cancel is a swap-remove: the last pointer moves into the
// hole and that entry's index is updated. A reschedule that stays in its slot
// only changes the deadline. A cascade takes the slot's whole array and frees
// it when done, and an array that cancels leave mostly empty shrinks, so a
// burst leaves no capacity behind: the wheel keeps 8 to 16 bytes per entry
// (32 at worst, after cancels), besides the 16-byte entry itself and 17 KB of
// empty arrays.
//
// When a level-0 slot comes due and the due list is empty, as it is whenever
// the owner pops everything after each Advance, the slot's array becomes the
// due list as it stands: its entries are all due, already in order, and
// already record their index. They keep naming their old slot until they
// are popped or now() moves on (OnDueList), so clearing a million entries
// due in one tick costs no pass over them before the owner's own.
//
// Due entries wait on a FIFO due list, an array read from a head index and
// handed out one at a time by PopDue(), so code processing them may schedule
// or cancel anything, including the entry just popped and entries still on
// the due list (a cancelled cell is set to null and skipped). PopDue
// prefetches the entry a few places ahead together with the first 128 bytes
// of the object around it, so the caller's own fields arrive with it.
//
// Thread safety: none. The owner holds its lock around every call.

#ifndef SESSIONWHEEL_ENGINE_CORE_TIMER_WHEEL_H_
#define SESSIONWHEEL_ENGINE_CORE_TIMER_WHEEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace sessionwheel::internal {

// The wheel's bookkeeping, embedded in the caller's object. The wheel owns the
// fields while the entry is scheduled; an owner must Cancel() its entry before
// it is destroyed or moved, and must not copy a scheduled entry.
struct TimerEntry {
  static constexpr uint8_t kNotScheduled = 0xFF;
  static constexpr uint8_t kDueList = 0xFE;

  // The tick at which the entry becomes due. Valid while scheduled; after
  // PopDue() it still holds the deadline the entry was popped for.
  uint64_t deadline = 0;
  // Where the wheel keeps the pointer to this entry: its position in the
  // array of its slot or of the due list.
  uint32_t index = 0;
  // Which array: a level (0..kLevels-1) and slot, kDueList (slot 0), or
  // kNotScheduled. A level-0 slot that comes due is handed to the due list
  // whole, and its entries keep naming it until the next Advance (see
  // TimerWheel::OnDueList): so the wheel never touches them on the way.
  uint8_t level = kNotScheduled;
  uint8_t slot = 0;

  bool scheduled() const { return level != kNotScheduled; }
};

// A hierarchical timer wheel over 64-bit ticks. See the file comment.
class TimerWheel {
 public:
  static constexpr int kSlotBits = 6;
  static constexpr int kSlots = 1 << kSlotBits;
  static constexpr uint64_t kSlotMask = kSlots - 1;
  static constexpr int kLevels = (64 + kSlotBits - 1) / kSlotBits;

  explicit TimerWheel(uint64_t now = 0) : now_(now) {}
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // The current tick: every entry with deadline <= now() is on the due list
  // (or has been popped from it).
  uint64_t now() const { return now_; }

  // The number of entries scheduled, on a level or on the due list.
  size_t size() const { return size_; }

  // Whether PopDue() would return an entry.
  bool HasDue() const { return due_count_ != 0; }

  // Schedules `e` to become due at tick `deadline`, rescheduling it if it is
  // already scheduled. A deadline <= now() puts it on the due list at once. A
  // reschedule that lands in the list and slot `e` is already on only updates
  // `e->deadline`: it keeps its place.
  void Schedule(TimerEntry* e, uint64_t deadline);

  // Removes `e` from the wheel if it is scheduled (on a level or on the due
  // list); does nothing otherwise.
  void Cancel(TimerEntry* e);

  // Moves time forward to `now`, putting every entry whose deadline is <= `now`
  // on the due list, each only once its deadline is reached. A `now` <= now()
  // does nothing. Entries made due by Advance come off the due list in
  // deadline order, after any that were already on it.
  void Advance(uint64_t now) {
    size_t unlimited = SIZE_MAX;
    Advance(now, &unlimited);
  }

  // Advance(now) in bounded steps, for an owner that must not hold its lock
  // long: places or hands over at most *budget entries (a step that finds
  // nothing to move counts as one) and subtracts what it did. Returns true
  // once every entry due by `now` is on the due list. False when the budget
  // ran out first, possibly part-way through a slot's cascade: the wheel is
  // consistent (any call may come next) but now() is the slot's first tick
  // until a later Advance finishes that slot, which it does before anything
  // else. Moving past a level-0 slot handed over as the due list costs a
  // write per entry still on it: an owner that pops between calls keeps
  // that within the budget too. A slot cascaded in several steps hands its
  // entries down from the last to the first, so entries due in the same tick
  // may come off the due list in another order than an unbounded Advance gives.
  bool Advance(uint64_t now, size_t* budget);

  // Whether a slot is part-way through its cascade (Advance ran out of
  // budget): the next Advance, whatever its `now`, has work.
  bool Cascading() const { return cascading_level_ != kNoSlot; }

  // Removes and returns the first entry on the due list, or nullptr if it is
  // empty. The entry is left unscheduled with its deadline kept; the caller
  // may Schedule it again.
  TimerEntry* PopDue();

  // The entry `ahead` places behind the next PopDue() would return, or null
  // (past the end, or a cell left by Cancel). For prefetching: it may still
  // be cancelled before it is popped.
  TimerEntry* PeekDue(size_t ahead) const {
    const size_t i = due_head_ + ahead;
    return i < due_.size() ? due_[i] : nullptr;
  }

  // The earliest tick at which Advance() has work: now() if the due list is
  // not empty or a slot is part-way through its cascade, else the start of the
  // next occupied slot (an entry becoming due, or a coarse slot cascading).
  // Never later than the earliest pending deadline, possibly earlier.
  // std::nullopt when nothing is scheduled.
  std::optional<uint64_t> NextEventTick() const;

 private:
  using Bucket = std::vector<TimerEntry*>;

  // Where an entry with a given deadline belongs, relative to now_.
  struct Place {
    uint8_t level;
    uint8_t slot;
  };

  Place PlaceFor(uint64_t deadline) const;
  // The lowest level with an occupied slot, or kLevels if there is none. Its
  // first occupied slot is the next event (see the file comment).
  int LowestOccupiedLevel() const;
  // The first tick of `slot` at `level` within now_'s current span.
  uint64_t SlotStart(int level, int slot) const;
  // Appends `e` to the array for `place`; does not touch size_.
  void Link(TimerEntry* e, Place place);
  // Takes `e` out of its array and marks it unscheduled; does not touch size_.
  void Unlink(TimerEntry* e);
  // Places the entries of a slot again, relative to now_, at most *budget of
  // them (subtracted). True once the slot is empty; false leaves it as
  // cascading_level_/cascading_slot_.
  bool Cascade(int level, int slot, size_t* budget);
  // Whether `e` (scheduled) is on the due list: marked so, or still naming
  // the level-0 slot whose array became the due list.
  bool OnDueList(const TimerEntry* e) const {
    return e->level == TimerEntry::kDueList ||
           (e->level == 0 && e->slot == handed_slot_);
  }
  // Marks the entries of a handed-over level-0 slot as on the due list, so
  // that slot's number can be used again.
  void SettleHandedSlot();
  // Sets now_, first settling a handed-over slot if now_ changes.
  void MoveNow(uint64_t tick);
  // MoveNow within a budget: false, with nothing done, if settling the
  // handed-over slot would cost more than *budget (the owner pops first).
  bool MoveNowWithin(uint64_t tick, size_t* budget);
  // Empties the due list once no live entry is left on it.
  void ResetDue();
  // Drops the dead cells of the due list (popped, or nulled by Cancel) once
  // they outnumber the live ones, renumbering the live ones.
  void CompactDue();

  uint64_t now_;
  size_t size_ = 0;
  // Bit s of occupied_[L] is set iff slots_[L][s] is not empty.
  uint64_t occupied_[kLevels] = {};
  Bucket slots_[kLevels][kSlots];
  // The due list is due_[due_head_..]: due_count_ entries and null cells left
  // by Cancel. Cells before due_head_ have been popped.
  Bucket due_;
  size_t due_head_ = 0;
  size_t due_count_ = 0;
  // The level-0 slot whose array became the due list and whose entries still
  // name it, or kNoSlot. It cannot be occupied again before now_ moves on:
  // new level-0 deadlines land in later slots.
  static constexpr int kNoSlot = -1;
  int handed_slot_ = kNoSlot;
  // The slot part-way through its cascade (Cascading()), or kNoSlot. Its
  // entries stay in its array, still at the indices they record.
  int cascading_level_ = kNoSlot;
  int cascading_slot_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_TIMER_WHEEL_H_
