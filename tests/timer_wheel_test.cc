#include "engine/core/timer_wheel.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return b > kMax - a ? kMax : a + b;
}
uint64_t SaturatingSub(uint64_t a, uint64_t b) { return b > a ? 0 : a - b; }

std::vector<TimerEntry*> Drain(TimerWheel& wheel) {
  std::vector<TimerEntry*> popped;
  while (TimerEntry* e = wheel.PopDue()) popped.push_back(e);
  return popped;
}

// Advances to `deadline - 1`, expects nothing due, then to `deadline` and
// expects exactly `e`.
void ExpectFiresExactlyAt(TimerWheel& wheel, TimerEntry* e, uint64_t deadline) {
  wheel.Advance(deadline - 1);
  EXPECT_EQ(wheel.PopDue(), nullptr) << "early at " << deadline - 1;
  wheel.Advance(deadline);
  EXPECT_EQ(wheel.PopDue(), e) << "missed " << deadline;
  EXPECT_EQ(wheel.PopDue(), nullptr);
}

TEST(TimerWheelTest, NewWheelIsEmpty) {
  TimerWheel wheel(42);
  EXPECT_EQ(wheel.now(), 42u);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_FALSE(wheel.HasDue());
  EXPECT_EQ(wheel.PopDue(), nullptr);
  EXPECT_EQ(wheel.NextEventTick(), std::nullopt);
}

TEST(TimerWheelTest, ScheduleAtNowIsDueImmediately) {
  TimerWheel wheel(1000);
  TimerEntry e;
  wheel.Schedule(&e, 1000);
  EXPECT_TRUE(e.scheduled());
  EXPECT_EQ(e.level, TimerEntry::kDueList);
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(wheel.NextEventTick(), 1000u);
  EXPECT_EQ(wheel.PopDue(), &e);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, ScheduleInThePastIsDueImmediately) {
  TimerWheel wheel(1000);
  TimerEntry a, b;
  wheel.Schedule(&a, 999);
  wheel.Schedule(&b, 1);
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&a, &b}));
  EXPECT_EQ(wheel.now(), 1000u);
}

TEST(TimerWheelTest, ScheduleAtZeroIsDueImmediately) {
  TimerWheel fresh(0);
  TimerEntry a;
  fresh.Schedule(&a, 0);
  EXPECT_EQ(fresh.PopDue(), &a);

  TimerWheel late(kMax);
  TimerEntry b;
  late.Schedule(&b, 0);
  EXPECT_EQ(late.PopDue(), &b);
}

TEST(TimerWheelTest, FiresExactlyAtDeadlineNotOneTickEarlier) {
  TimerWheel wheel(0);
  TimerEntry e;
  wheel.Schedule(&e, 10);
  for (uint64_t t = 1; t < 10; ++t) {
    wheel.Advance(t);
    ASSERT_EQ(wheel.PopDue(), nullptr) << "early at " << t;
  }
  wheel.Advance(10);
  EXPECT_EQ(wheel.PopDue(), &e);
  EXPECT_FALSE(e.scheduled());
}

TEST(TimerWheelTest, OneTickAheadIsNotDueUntilThatTick) {
  for (uint64_t start :
       {uint64_t{0}, uint64_t{62}, uint64_t{63}, uint64_t{4095}, kMax - 1}) {
    TimerWheel wheel(start);
    TimerEntry e;
    wheel.Schedule(&e, start + 1);
    EXPECT_FALSE(wheel.HasDue()) << start;
    EXPECT_EQ(wheel.PopDue(), nullptr) << start;
    EXPECT_EQ(wheel.NextEventTick(), start + 1);
    wheel.Advance(start + 1);
    EXPECT_EQ(wheel.PopDue(), &e) << start;
  }
}

TEST(TimerWheelTest, AdvancePastDeadlineMakesItDue) {
  TimerWheel wheel(0);
  TimerEntry e;
  wheel.Schedule(&e, 5000);
  wheel.Advance(1'000'000);
  EXPECT_EQ(wheel.now(), 1'000'000u);
  EXPECT_EQ(wheel.PopDue(), &e);
  EXPECT_EQ(e.deadline, 5000u);
}

TEST(TimerWheelTest, AdvanceBackwardsOrToNowDoesNothing) {
  TimerWheel wheel(500);
  TimerEntry e;
  wheel.Schedule(&e, 600);
  wheel.Advance(500);
  wheel.Advance(100);
  wheel.Advance(0);
  EXPECT_EQ(wheel.now(), 500u);
  EXPECT_EQ(wheel.PopDue(), nullptr);
  EXPECT_EQ(wheel.size(), 1u);
  ExpectFiresExactlyAt(wheel, &e, 600);
}

TEST(TimerWheelTest, PopDueLeavesEntryUnscheduledWithItsDeadline) {
  TimerWheel wheel(0);
  TimerEntry a, b;
  wheel.Schedule(&a, 7);
  wheel.Schedule(&b, 7);
  wheel.Advance(7);
  TimerEntry* e = wheel.PopDue();
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->scheduled());
  EXPECT_EQ(e->level, TimerEntry::kNotScheduled);
  EXPECT_EQ(e->deadline, 7u);
  EXPECT_EQ(wheel.size(), 1u);
}

TEST(TimerWheelTest, SizeCountsEntriesOnLevelsAndOnTheDueList) {
  TimerWheel wheel(100);
  TimerEntry a, b, c;
  wheel.Schedule(&a, 50);       // due list
  wheel.Schedule(&b, 101);      // level 0
  wheel.Schedule(&c, 1 << 20);  // a coarse level
  EXPECT_EQ(wheel.size(), 3u);
  wheel.Schedule(&b, 102);  // a reschedule is not a new entry
  EXPECT_EQ(wheel.size(), 3u);
  wheel.Cancel(&c);
  EXPECT_EQ(wheel.size(), 2u);
  wheel.PopDue();
  EXPECT_EQ(wheel.size(), 1u);
}

TEST(TimerWheelTest, CancelBeforeDueNeverFires) {
  TimerWheel wheel(0);
  TimerEntry a, b;
  wheel.Schedule(&a, 100);
  wheel.Schedule(&b, 100);
  wheel.Cancel(&a);
  EXPECT_FALSE(a.scheduled());
  EXPECT_EQ(wheel.size(), 1u);
  wheel.Advance(1000);
  EXPECT_EQ(Drain(wheel), std::vector<TimerEntry*>{&b});
}

TEST(TimerWheelTest, CancelWhileOnDueList) {
  TimerWheel wheel(0);
  TimerEntry a, b, c;
  wheel.Schedule(&a, 5);
  wheel.Schedule(&b, 6);
  wheel.Schedule(&c, 7);
  wheel.Advance(10);
  wheel.Cancel(&b);  // the middle of the due list
  wheel.Cancel(&c);  // its tail
  EXPECT_EQ(wheel.size(), 1u);
  EXPECT_EQ(Drain(wheel), std::vector<TimerEntry*>{&a});
  // The list is still sound after losing its tail.
  wheel.Schedule(&c, 0);
  EXPECT_EQ(Drain(wheel), std::vector<TimerEntry*>{&c});
}

TEST(TimerWheelTest, CancelUnscheduledEntryIsNoOp) {
  TimerWheel wheel(0);
  TimerEntry a, b;
  wheel.Schedule(&b, 3);
  wheel.Cancel(&a);
  wheel.Cancel(&b);
  wheel.Cancel(&b);
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_EQ(wheel.NextEventTick(), std::nullopt);
}

TEST(TimerWheelTest, RescheduleLater) {
  TimerWheel wheel(0);
  TimerEntry e;
  wheel.Schedule(&e, 100);
  wheel.Schedule(&e, 100'000);
  EXPECT_EQ(wheel.size(), 1u);
  wheel.Advance(100);
  EXPECT_EQ(wheel.PopDue(), nullptr);
  ExpectFiresExactlyAt(wheel, &e, 100'000);
}

TEST(TimerWheelTest, RescheduleEarlier) {
  TimerWheel wheel(0);
  TimerEntry e;
  wheel.Schedule(&e, 100'000);
  wheel.Schedule(&e, 100);
  ExpectFiresExactlyAt(wheel, &e, 100);
  wheel.Advance(200'000);
  EXPECT_EQ(wheel.PopDue(), nullptr);
}

TEST(TimerWheelTest, RescheduleIntoSameSlotKeepsItsPlace) {
  TimerWheel wheel(0);
  TimerEntry a, b, c;
  // 100 and 120 share level 1, slot 1 (ticks 64..127).
  wheel.Schedule(&a, 100);
  wheel.Schedule(&b, 100);
  wheel.Schedule(&c, 100);
  ASSERT_EQ(b.level, 1);
  ASSERT_EQ(b.slot, 1);
  const uint32_t indexes[] = {a.index, b.index, c.index};
  ASSERT_NE(indexes[0], indexes[1]);
  ASSERT_NE(indexes[1], indexes[2]);

  // Nothing moves: neither b nor the entries around it.
  wheel.Schedule(&b, 120);
  EXPECT_EQ(b.deadline, 120u);
  EXPECT_EQ(b.level, 1);
  EXPECT_EQ(b.slot, 1);
  EXPECT_EQ(a.index, indexes[0]);
  EXPECT_EQ(b.index, indexes[1]);
  EXPECT_EQ(c.index, indexes[2]);

  wheel.Advance(100);
  const std::vector<TimerEntry*> due = Drain(wheel);
  EXPECT_EQ(std::set<TimerEntry*>(due.begin(), due.end()),
            (std::set<TimerEntry*>{&a, &c}));
  ExpectFiresExactlyAt(wheel, &b, 120);
}

TEST(TimerWheelTest, RescheduleWithinDueListKeepsItsPlace) {
  TimerWheel wheel(100);
  TimerEntry a, b;
  wheel.Schedule(&a, 10);
  wheel.Schedule(&b, 20);
  wheel.Schedule(&a, 30);  // still due: stays first
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&a, &b}));
  EXPECT_EQ(a.deadline, 30u);
}

TEST(TimerWheelTest, RescheduleFromDueListIntoTheFuture) {
  TimerWheel wheel(100);
  TimerEntry e;
  wheel.Schedule(&e, 50);
  wheel.Schedule(&e, 110);
  EXPECT_FALSE(wheel.HasDue());
  EXPECT_EQ(wheel.size(), 1u);
  ExpectFiresExactlyAt(wheel, &e, 110);
}

// A level-0 slot that comes due while the due list is empty becomes the due
// list whole (its entries still name the slot). These check that such
// entries behave exactly like any other due entry.

TEST(TimerWheelTest, HandedOverSlotCancelsAndReschedulesLikeTheDueList) {
  TimerWheel wheel(0);
  TimerEntry a, b, c, d;
  for (TimerEntry* e : {&a, &b, &c, &d}) wheel.Schedule(e, 5);
  wheel.Advance(5);  // Slot 5 of level 0 is handed over.
  ASSERT_EQ(wheel.size(), 4u);
  wheel.Cancel(&b);
  wheel.Schedule(&c, 3);   // Still due: keeps its place.
  wheel.Schedule(&d, 40);  // Off the due list, back on the wheel.
  EXPECT_EQ(wheel.size(), 3u);
  EXPECT_FALSE(b.scheduled());
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&a, &c}));
  ExpectFiresExactlyAt(wheel, &d, 40);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, HandedOverSlotSurvivesItsSlotNumberComingRound) {
  // Entries due at tick 5 are left on the due list while now moves a whole
  // level-0 span on, where slot 5 is used again (tick 69). Cancelling must
  // find each entry where it is: the old ones on the due list, the new ones
  // in the slot's array.
  TimerWheel wheel(0);
  TimerEntry a, b, c, later, gone;
  for (TimerEntry* e : {&a, &b, &c}) wheel.Schedule(e, 5);
  wheel.Advance(5);
  wheel.Advance(64);  // Not drained: a, b, c are still due.
  wheel.Schedule(&later, 69);
  wheel.Schedule(&gone, 69);
  EXPECT_EQ(later.level, 0);
  EXPECT_EQ(later.slot, 5);
  wheel.Cancel(&gone);  // From slot 5's new array, not from the due list.
  wheel.Cancel(&b);
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&a, &c}));
  ExpectFiresExactlyAt(wheel, &later, 69);
}

TEST(TimerWheelTest, DueEntriesFromSeveralLevelZeroSlotsKeepDeadlineOrder) {
  // One Advance across two level-0 slots: the first is handed over, the
  // second appended behind it.
  TimerWheel wheel(0);
  TimerEntry a, b, c;
  wheel.Schedule(&a, 5);
  wheel.Schedule(&b, 5);
  wheel.Schedule(&c, 7);
  wheel.Advance(9);
  wheel.Cancel(&a);
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&b, &c}));
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, FarFutureDeadlinesNeitherFireEarlyNorGetLost) {
  TimerWheel wheel(0);
  TimerEntry half, half_plus_one, almost_max, max;
  wheel.Schedule(&max, kMax);
  wheel.Schedule(&almost_max, kMax - 1);
  wheel.Schedule(&half_plus_one, kMax / 2 + 1);
  wheel.Schedule(&half, kMax / 2);
  EXPECT_LE(*wheel.NextEventTick(), kMax / 2);

  ExpectFiresExactlyAt(wheel, &half, kMax / 2);
  ExpectFiresExactlyAt(wheel, &half_plus_one, kMax / 2 + 1);
  ExpectFiresExactlyAt(wheel, &almost_max, kMax - 1);
  wheel.Advance(kMax);
  EXPECT_EQ(wheel.PopDue(), &max);
  EXPECT_EQ(wheel.now(), kMax);
  EXPECT_EQ(wheel.size(), 0u);
}

TEST(TimerWheelTest, WheelStartingNearTheEndOfTime) {
  TimerWheel wheel(kMax - 100);
  TimerEntry a, b;
  wheel.Schedule(&a, kMax - 37);
  wheel.Schedule(&b, kMax);
  ExpectFiresExactlyAt(wheel, &a, kMax - 37);
  ExpectFiresExactlyAt(wheel, &b, kMax);
}

TEST(TimerWheelTest, AdvanceAcrossHugeGapGivesExactResults) {
  TimerWheel wheel(3);
  std::vector<TimerEntry> entries(5);
  const uint64_t deadlines[] = {uint64_t{1} << 40, (uint64_t{1} << 62) + 12345,
                                kMax / 3, kMax - 64, kMax};
  for (int i = 0; i < 5; ++i) wheel.Schedule(&entries[i], deadlines[i]);

  wheel.Advance((uint64_t{1} << 62) + 12345);
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&entries[0], &entries[1]}));
  wheel.Advance(kMax - 1);
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&entries[2], &entries[3]}));
  wheel.Advance(kMax);
  EXPECT_EQ(Drain(wheel), std::vector<TimerEntry*>{&entries[4]});
}

// The cost of Advance follows the slots it visits, not the ticks it skips:
// following NextEventTick reaches a deadline 2^62 ticks away in at most one
// step per level.
TEST(TimerWheelTest, AdvanceJumpsAtMostOneStepPerLevel) {
  TimerWheel wheel(0);
  TimerEntry e, later;
  const uint64_t deadline = (uint64_t{1} << 62) + 12345;
  wheel.Schedule(&e, deadline);
  wheel.Schedule(&later, kMax);
  int steps = 0;
  while (!wheel.HasDue()) {
    const std::optional<uint64_t> next = wheel.NextEventTick();
    ASSERT_TRUE(next.has_value());
    ASSERT_GT(*next, wheel.now());
    ASSERT_LE(*next, deadline);
    wheel.Advance(*next);
    ASSERT_LE(++steps, TimerWheel::kLevels);
  }
  EXPECT_EQ(wheel.now(), deadline);
  EXPECT_EQ(wheel.PopDue(), &e);
}

TEST(TimerWheelTest, NextEventTickNeverAfterEarliestDeadline) {
  const uint64_t starts[] = {0, 63, 64, 4095, 1'234'567, kMax / 2};
  const uint64_t deltas[] = {1,        2,       63,       64,
                             65,       4095,    4096,     4097,
                             262'143,  262'144, 1u << 30, uint64_t{1} << 50,
                             kMax / 4, kMax / 2};
  for (uint64_t start : starts) {
    for (uint64_t delta : deltas) {
      if (delta > kMax - start) continue;
      TimerWheel wheel(start);
      TimerEntry e;
      wheel.Schedule(&e, start + delta);
      const std::optional<uint64_t> next = wheel.NextEventTick();
      ASSERT_TRUE(next.has_value());
      EXPECT_GT(*next, start) << start << " + " << delta;
      EXPECT_LE(*next, start + delta) << start << " + " << delta;
      wheel.Cancel(&e);
      EXPECT_EQ(wheel.NextEventTick(), std::nullopt);
    }
  }
}

TEST(TimerWheelTest, NextEventTickIsNowWhileEntriesAreDue) {
  TimerWheel wheel(0);
  TimerEntry a, b;
  wheel.Schedule(&a, 50);
  wheel.Schedule(&b, 1 << 20);
  wheel.Advance(60);
  EXPECT_EQ(wheel.NextEventTick(), 60u);
  wheel.PopDue();
  const std::optional<uint64_t> next = wheel.NextEventTick();
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, 60u);
  EXPECT_LE(*next, uint64_t{1} << 20);
}

TEST(TimerWheelTest, EntriesMadeDueByAdvanceComeOutInDeadlineOrder) {
  TimerWheel wheel(0);
  std::vector<TimerEntry> entries(6);
  const uint64_t deadlines[] = {5000, 3, 70, 4096, 64, 63};
  for (int i = 0; i < 6; ++i) wheel.Schedule(&entries[i], deadlines[i]);
  wheel.Advance(10'000);
  std::vector<uint64_t> popped;
  for (TimerEntry* e : Drain(wheel)) popped.push_back(e->deadline);
  EXPECT_EQ(popped, (std::vector<uint64_t>{3, 63, 64, 70, 4096, 5000}));
}

TEST(TimerWheelTest, PoppedEntryMayBeRescheduledWhileDraining) {
  TimerWheel wheel(0);
  TimerEntry a, b;
  wheel.Schedule(&a, 10);
  wheel.Schedule(&b, 10);
  wheel.Advance(10);
  int popped = 0;
  while (TimerEntry* e = wheel.PopDue()) {
    ++popped;
    wheel.Schedule(e, e->deadline + 10);  // a periodic timer
  }
  EXPECT_EQ(popped, 2);
  EXPECT_EQ(wheel.size(), 2u);
  wheel.Advance(19);
  EXPECT_EQ(wheel.PopDue(), nullptr);
  wheel.Advance(20);
  EXPECT_EQ(Drain(wheel).size(), 2u);
}

TEST(TimerWheelTest, DrainingMayCancelAndScheduleOtherEntries) {
  TimerWheel wheel(0);
  TimerEntry a, b, c, d;
  wheel.Schedule(&a, 1);
  wheel.Schedule(&b, 2);
  wheel.Schedule(&c, 3);
  wheel.Advance(5);
  ASSERT_EQ(wheel.PopDue(), &a);
  wheel.Cancel(&b);        // still on the due list: never popped
  wheel.Schedule(&c, 50);  // still on the due list: moved to the future
  wheel.Schedule(&d, 4);   // already past: popped in this same drain
  EXPECT_EQ(Drain(wheel), std::vector<TimerEntry*>{&d});
  EXPECT_EQ(wheel.size(), 1u);
  ExpectFiresExactlyAt(wheel, &c, 50);
}

// A slot is an array: Cancel moves its last entry into the hole. Cancels and
// moves out of the first, middle and last positions of one big slot, many of
// them (so the slot shrinks), must leave every other entry firing exactly once
// at its deadline.
TEST(TimerWheelTest, CancelFromAnywhereInABigSlot) {
  constexpr int kCount = 2000;
  TimerWheel wheel(0);
  std::vector<TimerEntry> entries(kCount);
  // Level 2, slot 1: ticks 4096..8191, several deadlines per level-0 slot.
  auto deadline_of = [](int i) { return uint64_t{4096} + (i * 7) % 4096; };
  for (int i = 0; i < kCount; ++i) wheel.Schedule(&entries[i], deadline_of(i));
  ASSERT_EQ(entries[0].level, 2);
  ASSERT_EQ(entries[kCount - 1].level, 2);
  ASSERT_EQ(entries[0].slot, entries[kCount - 1].slot);

  std::vector<bool> live(kCount, true);
  auto entry_at = [&](uint32_t index) -> int {
    for (int i = 0; i < kCount; ++i) {
      if (live[i] && entries[i].level == 2 && entries[i].index == index) {
        return i;
      }
    }
    return -1;
  };
  auto cancel = [&](int i) {
    wheel.Cancel(&entries[i]);
    live[i] = false;
    EXPECT_FALSE(entries[i].scheduled());
  };
  // The last, the first, and one from the middle, by position in the slot.
  cancel(entry_at(kCount - 1));
  cancel(entry_at(0));
  cancel(entry_at(kCount / 2));
  // Three of every four, from the back, so the slot shrinks on the way.
  for (int i = kCount - 1; i >= 0; --i) {
    if (live[i] && i % 4 != 0) cancel(i);
  }
  // Some survivors move out of the slot, to an earlier and a later level.
  std::vector<uint64_t> deadlines(kCount);
  for (int i = 0; i < kCount; ++i) deadlines[i] = deadline_of(i);
  for (int i = 0; i < kCount; i += 40) {
    if (!live[i]) continue;
    deadlines[i] = i % 80 == 0 ? 10 + i : (uint64_t{1} << 20) + i;
    wheel.Schedule(&entries[i], deadlines[i]);
  }
  // What is left in the slot is a dense permutation of positions.
  std::set<uint32_t> positions;
  size_t in_slot = 0;
  for (int i = 0; i < kCount; ++i) {
    if (live[i] && entries[i].level == 2 &&
        entries[i].slot == entries[kCount - 1].slot) {
      positions.insert(entries[i].index);
      ++in_slot;
    }
  }
  EXPECT_EQ(positions.size(), in_slot);
  EXPECT_EQ(in_slot == 0 ? 0u : *positions.rbegin() + 1, in_slot);

  size_t expected = 0;
  for (int i = 0; i < kCount; ++i) expected += live[i];
  EXPECT_EQ(wheel.size(), expected);
  std::vector<int> fired(kCount, 0);
  while (std::optional<uint64_t> next = wheel.NextEventTick()) {
    wheel.Advance(*next);
    for (TimerEntry* e : Drain(wheel)) {
      const int i = static_cast<int>(e - entries.data());
      ASSERT_TRUE(live[i]) << "cancelled entry " << i << " fired";
      ASSERT_EQ(e->deadline, wheel.now()) << i;
      ASSERT_EQ(e->deadline, deadlines[i]) << i;
      ++fired[i];
    }
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(fired[i], live[i] ? 1 : 0) << i;
  }
  EXPECT_EQ(wheel.size(), 0u);
}

// The due list is an array from which Cancel nulls cells: cancelling entries
// still on it while draining, including the next, the last and all of them,
// keeps the rest in order and HasDue() exact.
TEST(TimerWheelTest, CancelDueEntriesWhileDraining) {
  constexpr int kCount = 3000;  // more than the due list keeps when empty
  TimerWheel wheel(0);
  std::vector<TimerEntry> entries(kCount);
  for (int i = 0; i < kCount; ++i) wheel.Schedule(&entries[i], 1 + i);
  wheel.Advance(kCount);
  ASSERT_EQ(wheel.size(), static_cast<size_t>(kCount));

  std::vector<bool> cancelled(kCount, false);
  auto cancel = [&](int i) {
    wheel.Cancel(&entries[i]);
    cancelled[i] = true;
  };
  cancel(kCount - 1);  // the tail, before draining starts
  std::vector<int> popped;
  int last_live = kCount - 2;
  while (TimerEntry* e = wheel.PopDue()) {
    const int i = static_cast<int>(e - entries.data());
    ASSERT_FALSE(cancelled[i]) << i;
    ASSERT_FALSE(e->scheduled());
    popped.push_back(i);
    if (i + 1 < kCount && i % 3 == 0) cancel(i + 1);  // the next one
    if (i % 5 == 0) {                                 // the current tail
      while (cancelled[last_live]) --last_live;
      if (last_live > i) cancel(last_live);
    }
    if (popped.size() == kCount / 2) {  // everything still due
      for (int k = i + 1; k < kCount; ++k) {
        if (!cancelled[k]) cancel(k);
      }
      EXPECT_FALSE(wheel.HasDue());
      EXPECT_EQ(wheel.NextEventTick(), std::nullopt);
    }
  }
  ASSERT_EQ(popped.size(), static_cast<size_t>(kCount / 2));
  for (size_t k = 1; k < popped.size(); ++k) {
    EXPECT_LT(popped[k - 1], popped[k]) << "out of order at " << k;
  }
  EXPECT_EQ(wheel.size(), 0u);
  EXPECT_FALSE(wheel.HasDue());

  // The emptied list takes new entries in order.
  wheel.Schedule(&entries[7], 3);
  wheel.Schedule(&entries[3], wheel.now());
  EXPECT_TRUE(wheel.HasDue());
  EXPECT_EQ(Drain(wheel), (std::vector<TimerEntry*>{&entries[7], &entries[3]}));
}

// The due list reclaims cells that Cancel left behind while some entry stays
// on it, and stays first-in first-out throughout: the wheel against a list.
TEST(TimerWheelTest, DueListStaysFifoThroughCancelsAndReschedules) {
  constexpr int kEntries = 300;
  std::mt19937_64 rng(7);
  TimerWheel wheel(1'000'000);
  std::vector<TimerEntry> entries(kEntries);
  std::vector<int> model;  // the due list, first to pop first
  auto position = [&](int i) {
    return std::find(model.begin(), model.end(), i);
  };
  for (int op = 0; op < 200'000; ++op) {
    const int i = static_cast<int>(rng() % kEntries);
    const int kind = static_cast<int>(rng() % 100);
    if (kind < 40) {
      // Due now, or in the past: a reschedule within the list keeps its place.
      wheel.Schedule(&entries[i], wheel.now() - rng() % 3);
      if (position(i) == model.end()) model.push_back(i);
    } else if (kind < 75) {
      wheel.Cancel(&entries[i]);
      if (auto it = position(i); it != model.end()) model.erase(it);
    } else if (kind < 80) {
      wheel.Schedule(&entries[i], wheel.now() + 1 + rng() % 100);  // off it
      if (auto it = position(i); it != model.end()) model.erase(it);
      wheel.Cancel(&entries[i]);
    } else {
      TimerEntry* e = wheel.PopDue();
      if (model.empty()) {
        ASSERT_EQ(e, nullptr) << "op " << op;
      } else {
        ASSERT_EQ(e, &entries[model.front()]) << "op " << op;
        model.erase(model.begin());
      }
    }
    ASSERT_EQ(wheel.size(), model.size()) << "op " << op;
    ASSERT_EQ(wheel.HasDue(), !model.empty()) << "op " << op;
  }
  std::vector<TimerEntry*> expected;
  for (int i : model) expected.push_back(&entries[i]);
  EXPECT_EQ(Drain(wheel), expected);
}

// Deadlines on either side of each level's slot and span boundaries, from
// starts that are and are not aligned to them.
TEST(TimerWheelTest, FiresExactlyAtCascadeBoundaries) {
  const uint64_t starts[] = {0,           1,
                             62,          63,
                             64,          65,
                             4095,        4096,
                             4097,        262'143,
                             123'456'789, (uint64_t{1} << 36) - 1,
                             kMax / 2,    kMax - (uint64_t{1} << 20)};
  std::vector<uint64_t> deltas = {1, 2, kMax / 2, uint64_t{1} << 63};
  for (int bits = 6; bits < 64; bits += TimerWheel::kSlotBits) {
    const uint64_t boundary = uint64_t{1} << bits;
    for (uint64_t delta :
         {boundary - 1, boundary, boundary + 1, boundary + 63, 3 * boundary}) {
      deltas.push_back(delta);
    }
  }
  for (uint64_t start : starts) {
    for (uint64_t delta : deltas) {
      if (delta > kMax - start) continue;
      const uint64_t deadline = start + delta;
      SCOPED_TRACE(testing::Message()
                   << "start " << start << " deadline " << deadline);
      {
        TimerWheel wheel(start);
        TimerEntry e;
        wheel.Schedule(&e, deadline);
        ExpectFiresExactlyAt(wheel, &e, deadline);
      }
      {
        // The same, stopping at every event on the way.
        TimerWheel wheel(start);
        TimerEntry e;
        wheel.Schedule(&e, deadline);
        while (std::optional<uint64_t> next = wheel.NextEventTick()) {
          ASSERT_LE(*next, deadline);
          if (*next == deadline) break;
          wheel.Advance(*next);
          ASSERT_EQ(wheel.PopDue(), nullptr) << "early at " << *next;
        }
        wheel.Advance(deadline);
        EXPECT_EQ(wheel.PopDue(), &e);
      }
    }
  }
}

// One entry per tick across several level-1 and level-2 boundaries, advanced
// one tick at a time: each tick makes exactly its own entry due.
TEST(TimerWheelTest, TickByTickEachDeadlineFiresAtItsTick) {
  for (uint64_t start :
       {uint64_t{0}, uint64_t{4000}, uint64_t{262'144 - 3000}, kMax - 9000}) {
    constexpr int kCount = 9000;
    TimerWheel wheel(start);
    std::vector<TimerEntry> entries(kCount);
    for (int i = 0; i < kCount; ++i) wheel.Schedule(&entries[i], start + i + 1);
    for (int i = 0; i < kCount; ++i) {
      wheel.Advance(start + i + 1);
      ASSERT_EQ(wheel.PopDue(), &entries[i]) << "start " << start << " i " << i;
      ASSERT_EQ(wheel.PopDue(), nullptr);
    }
    EXPECT_EQ(wheel.size(), 0u);
  }
}

// ---------------------------------------------------------------------------
// Property test: the wheel against a sorted reference model.
//
// Each seed runs episodes of random operations on a fresh wheel that starts
// somewhere in the 64-bit range: schedules (zero, past, now, near, far and
// end-of-time deadlines, landing on boundaries too), cancels, reschedules and
// advances (no-op, small, to the next event, to just before and exactly at the
// earliest deadline, large, huge), some of them from inside the drain loop.
// After every Advance and drain, exactly the entries with deadline <= now must
// have been popped: none early, none missed.

class TimerWheelModelTest : public testing::TestWithParam<uint64_t> {};

TEST_P(TimerWheelModelTest, MatchesSortedReferenceModel) {
  constexpr int kEpisodes = 10;
  constexpr int kOperationsPerEpisode = 2'500;
  constexpr int kEntries = 200;
  std::mt19937_64 rng(GetParam());
  auto chance = [&rng](int percent) {
    return static_cast<int>(rng() % 100) < percent;
  };
  // A magnitude spread over all scales: 2^0 .. 2^64.
  auto any_magnitude = [&rng] { return rng() >> (rng() % 64); };
  int popped_total = 0;

  for (int episode = 0; episode < kEpisodes; ++episode) {
    uint64_t start = 0;
    switch (rng() % 4) {
      case 0:
        start = 0;
        break;
      case 1:
        start = rng() % 100'000;
        break;
      case 2:
        start = rng();
        break;
      default:
        start = kMax - rng() % (uint64_t{1} << 40);
    }
    SCOPED_TRACE(testing::Message()
                 << "episode " << episode << " start " << start);
    TimerWheel wheel(start);
    std::vector<TimerEntry> entries(kEntries);
    std::set<std::pair<uint64_t, int>> pending;  // (deadline, entry index)
    std::vector<std::optional<uint64_t>> deadline_of(kEntries);

    auto random_deadline = [&] {
      const uint64_t now = wheel.now();
      switch (rng() % 10) {
        case 0:
          return uint64_t{0};
        case 1:
          return SaturatingSub(now, rng() % 1000);  // past, or now
        case 2:
          return now;
        case 3:
          return SaturatingAdd(now, 1 + rng() % (chance(50) ? 2 : 64));
        case 4:
          return SaturatingAdd(now, rng() % 5000);
        case 5:
          return SaturatingAdd(now, rng() % (uint64_t{1} << 24));
        case 6:
          return SaturatingAdd(now, any_magnitude());
        case 7:
          return kMax - rng() % 1000;  // the end of time
        default: {  // on or next to the next multiple of 2^bits
          const int bits = static_cast<int>(rng() % 64);
          const uint64_t boundary =
              SaturatingAdd(now >> bits << bits, uint64_t{1} << bits);
          return SaturatingSub(SaturatingAdd(boundary, rng() % 2), rng() % 2);
        }
      }
    };
    auto random_target = [&] {
      const uint64_t now = wheel.now();
      const uint64_t earliest = pending.empty() ? now : pending.begin()->first;
      switch (rng() % 20) {
        case 0:
        case 1:
          return SaturatingSub(now, rng() % 10);  // no-op
        case 2:
        case 3:
        case 4:
          return SaturatingAdd(now, rng() % 4);
        case 5:
        case 6:
        case 7:
          return SaturatingAdd(now, rng() % 100);
        case 8:
        case 9:
          return SaturatingAdd(now, rng() % 10'000);
        case 10:
        case 11:
          return wheel.NextEventTick().value_or(now);
        case 12:
        case 13:
        case 14:  // just before or exactly at the earliest deadline, if near
          if (earliest - now > (uint64_t{1} << 24)) return now;
          return SaturatingSub(earliest, rng() % 2);
        case 15:
        case 16:
        case 17:
          return SaturatingAdd(now, 1 + rng() % 64);
        case 18:
          return SaturatingAdd(now, rng() >> (16 + rng() % 48));  // large
        default:
          if (chance(80)) return now;
          return chance(50) ? earliest : SaturatingAdd(now, any_magnitude());
      }
    };
    auto schedule = [&](int i, uint64_t deadline) {
      if (deadline_of[i]) pending.erase({*deadline_of[i], i});
      wheel.Schedule(&entries[i], deadline);
      deadline_of[i] = deadline;
      pending.insert({deadline, i});
    };
    auto cancel = [&](int i) {
      if (deadline_of[i]) pending.erase({*deadline_of[i], i});
      deadline_of[i].reset();
      wheel.Cancel(&entries[i]);
    };
    auto random_entry = [&rng] { return static_cast<int>(rng() % kEntries); };

    for (int op = 0; op < kOperationsPerEpisode; ++op) {
      const int kind = static_cast<int>(rng() % 100);
      if (kind < 35) {
        schedule(random_entry(), random_deadline());
      } else if (kind < 45) {
        // Move a scheduled entry, either way, by up to half its distance
        // from now: often within its level, sometimes within its slot.
        int i = random_entry();
        for (int k = 0; k < kEntries && !deadline_of[i]; ++k) {
          i = (i + 1) % kEntries;
        }
        if (deadline_of[i]) {
          const uint64_t old = *deadline_of[i];
          const uint64_t reach =
              (SaturatingSub(old, wheel.now()) >> (1 + rng() % 8)) + 1;
          const uint64_t delta = rng() % reach;
          schedule(i, chance(50) ? SaturatingAdd(old, delta)
                                 : SaturatingSub(old, delta));
        }
      } else if (kind < 60) {
        cancel(random_entry());
      } else {
        wheel.Advance(random_target());
        const uint64_t now = wheel.now();
        // Drain, sometimes changing the wheel from inside the loop.
        while (TimerEntry* e = wheel.PopDue()) {
          const int p = static_cast<int>(e - entries.data());
          ASSERT_TRUE(deadline_of[p].has_value()) << "popped unscheduled " << p;
          ASSERT_EQ(e->deadline, *deadline_of[p]);
          ASSERT_LE(e->deadline, now) << "fired early";
          ASSERT_FALSE(e->scheduled());
          pending.erase({*deadline_of[p], p});
          deadline_of[p].reset();
          ++popped_total;
          if (chance(10)) schedule(p, SaturatingAdd(now, 1 + rng() % 5000));
          if (chance(2)) schedule(p, now);  // due again, in this same drain
          if (chance(5)) cancel(random_entry());
          if (chance(5)) schedule(random_entry(), random_deadline());
        }
        if (!pending.empty()) {
          ASSERT_GT(pending.begin()->first, now) << "missed an entry";
        }
        const std::optional<uint64_t> next = wheel.NextEventTick();
        if (pending.empty()) {
          ASSERT_EQ(next, std::nullopt);
        } else {
          ASSERT_TRUE(next.has_value());
          ASSERT_GE(*next, now);
          ASSERT_LE(*next, pending.begin()->first);
        }
      }
      ASSERT_EQ(wheel.size(), pending.size()) << "op " << op;
    }
  }
  EXPECT_GT(popped_total, kEpisodes * kOperationsPerEpisode / 10);
}

INSTANTIATE_TEST_SUITE_P(Seeds, TimerWheelModelTest,
                         testing::Values(1, 2, 3, 4, 5, 6));

// Advance with a budget: bounded steps
// ----------------------------------------------------------------

// Each budgeted Advance moves at most its budget of entries to another
// place, yet a run of them makes due exactly what one unbounded Advance
// would: each entry once, in deadline order, none early. Cancels and
// reschedules land between the steps, part-way through cascades.
TEST(TimerWheelTest, BudgetedAdvanceMovesAtMostItsBudgetAndLosesNothing) {
  constexpr size_t kBudget = 7;
  std::mt19937_64 rng(11);
  TimerWheel wheel(0);
  std::vector<TimerEntry> entries(2000);
  std::map<TimerEntry*, uint64_t> pending;  // The model: entry -> deadline.
  auto schedule = [&](TimerEntry* e) {
    // Far deadlines sit high up and cascade through several levels; many
    // share a tick.
    const int bits = static_cast<int>(rng() % 31);
    const uint64_t deadline = wheel.now() + 1 + (rng() >> (63 - bits)) / 4 * 4;
    wheel.Schedule(e, deadline);
    pending[e] = deadline;
  };
  for (TimerEntry& e : entries) schedule(&e);
  uint64_t target = 0;
  size_t calls = 0;
  for (int round = 0; round < 40; ++round) {
    target += rng() % (uint64_t{1} << 26);
    uint64_t last_popped = 0;
    for (bool done = false; !done; ++calls) {
      std::vector<std::pair<uint8_t, uint8_t>> before;
      for (const TimerEntry& e : entries) before.emplace_back(e.level, e.slot);
      size_t budget = kBudget;
      done = wheel.Advance(target, &budget);
      size_t moved = 0;
      for (size_t i = 0; i < entries.size(); ++i) {
        moved += before[i] != std::make_pair(entries[i].level, entries[i].slot);
      }
      ASSERT_LE(moved, kBudget) << "call " << calls;
      while (TimerEntry* e = wheel.PopDue()) {
        ASSERT_EQ(pending.count(e), 1u);
        ASSERT_LE(pending[e], wheel.now());  // Never early...
        ASSERT_GE(pending[e], last_popped);  // ...and in deadline order.
        last_popped = pending[e];
        pending.erase(e);
        if (rng() % 2 == 0) schedule(e);  // Back on the wheel, later.
      }
      // Now and then a cancel or a reschedule in the middle of it all.
      TimerEntry* e = &entries[rng() % entries.size()];
      if (rng() % 3 == 0) {
        wheel.Cancel(e);
        pending.erase(e);
      } else if (rng() % 3 == 0) {
        schedule(e);
      }
    }
    EXPECT_EQ(wheel.now(), target);
    EXPECT_FALSE(wheel.Cascading());
    for (const auto& [e, deadline] : pending) {
      ASSERT_GT(deadline, target) << "left behind";
      ASSERT_TRUE(e->scheduled());
    }
    EXPECT_EQ(wheel.size(), pending.size());
  }
  // Many calls, so the budget did bite.
  EXPECT_GT(calls, 2 * entries.size() / kBudget);
}

// A slot part-way through its cascade is finished first by the next
// Advance, whatever `now` it is given, and until then NextEventTick says
// there is work now.
TEST(TimerWheelTest, APartlyCascadedSlotIsFinishedFirst) {
  TimerWheel wheel(0);
  std::vector<TimerEntry> entries(100);
  const uint64_t deadline = 5 * 4096 + 17;  // Level 2.
  for (TimerEntry& e : entries) wheel.Schedule(&e, deadline);
  size_t budget = 10;
  EXPECT_FALSE(wheel.Advance(deadline, &budget));
  EXPECT_EQ(budget, 0u);
  EXPECT_TRUE(wheel.Cascading());
  EXPECT_EQ(wheel.NextEventTick(), wheel.now());
  // An Advance to an earlier tick still finishes the cascade.
  budget = 1000;
  EXPECT_TRUE(wheel.Advance(0, &budget));
  EXPECT_FALSE(wheel.Cascading());
  EXPECT_EQ(wheel.PopDue(), nullptr);
  wheel.Advance(deadline);
  EXPECT_EQ(Drain(wheel).size(), entries.size());
}

}  // namespace
}  // namespace sessionwheel::internal
