// Fuzzes the timer wheel (engine/core/timer_wheel.h) against a reference model,
// with the semantics of the property test in tests/timer_wheel_test.cc. The
// input picks the wheel's start (zero, small, anywhere, near the end of
// time) and then a sequence of operations on 64 entries: schedule and
// reschedule (to zero, the past, now, the next ticks, level boundaries, far
// and end-of-time deadlines), cancel, advance (backwards, small, to the next
// event, to the earliest deadline, huge), pop one due entry, drain. Pops may
// interleave with every other operation, as an owner's drain loop may.
//
// The model keeps the due list in order and the other entries in a sorted
// set. After every operation the wheel must agree with it: size(), HasDue(),
// each entry's scheduled(), and NextEventTick() (now() while something is
// due, else between now() and the earliest deadline). Each pop must return
// the model's next due entry, with its deadline, unscheduled. The due list is
// first in, first out; the entries one Advance makes due follow in deadline
// order, entries with equal deadlines in any order. Every read of the input
// is a statement of its own, so each compiler decodes an input alike.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/timer_wheel.h"
#include "tests/fuzz/fuzz_input.h"

namespace sessionwheel::fuzz {
namespace {

using internal::TimerEntry;
using internal::TimerWheel;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr int kEntries = 64;

uint64_t SaturatingAdd(uint64_t a, uint64_t b) {
  return b > kMax - a ? kMax : a + b;
}
uint64_t SaturatingSub(uint64_t a, uint64_t b) { return b > a ? 0 : a - b; }

class WheelModel {
 public:
  explicit WheelModel(uint64_t start) : wheel_(start), now_(start) {}

  void Schedule(int i, uint64_t deadline) {
    wheel_.Schedule(&entries_[i], deadline);
    const auto due = FindDue(i);
    if (due != due_.end() && deadline <= now_) {
      deadline_of_[i] = deadline;  // Keeps its place on the due list.
      return;
    }
    Forget(i);
    deadline_of_[i] = deadline;
    if (deadline <= now_) {
      due_.push_back({i, /*batch=*/0, deadline});
    } else {
      pending_.insert({deadline, i});
    }
  }

  void Cancel(int i) {
    wheel_.Cancel(&entries_[i]);
    Forget(i);
  }

  // Advances and moves what came due to the due list in deadline order, as
  // one batch: its entries with one deadline may pop in any order.
  void Advance(uint64_t target) {
    wheel_.Advance(target);
    if (target > now_) now_ = target;
    SW_FUZZ_CHECK(wheel_.now() == now_, "now() is not the latest target");
    ++batch_;
    while (!pending_.empty() && pending_.begin()->first <= now_) {
      const auto [deadline, i] = *pending_.begin();
      pending_.erase(pending_.begin());
      due_.push_back({i, batch_, deadline});
    }
  }

  // Pops one entry; returns false if the due list was empty.
  bool Pop() {
    TimerEntry* e = wheel_.PopDue();
    if (due_.empty()) {
      SW_FUZZ_CHECK(e == nullptr, "popped an entry that is not due");
      return false;
    }
    SW_FUZZ_CHECK(e != nullptr, "an entry due at " +
                                    std::to_string(due_.front().made_due_at) +
                                    " was not popped by now " +
                                    std::to_string(now_));
    const int i = static_cast<int>(e - entries_);
    SW_FUZZ_CHECK(i >= 0 && i < kEntries, "popped a foreign pointer");
    // The front of the due list, or an entry of its equal-deadline group.
    const Due& front = due_.front();
    auto popped = due_.begin();
    while (popped != due_.end() && popped->index != i &&
           SameGroup(*popped, front)) {
      ++popped;
    }
    SW_FUZZ_CHECK(popped != due_.end() && popped->index == i &&
                      (popped == due_.begin() || SameGroup(*popped, front)),
                  "popped entry " + std::to_string(i) + " out of order");
    SW_FUZZ_CHECK(!e->scheduled(), "a popped entry is still scheduled");
    SW_FUZZ_CHECK(e->deadline == *deadline_of_[i],
                  "a popped entry lost its deadline");
    SW_FUZZ_CHECK(e->deadline <= now_, "fired early");
    due_.erase(popped);
    deadline_of_[i].reset();
    return true;
  }

  void CheckAgreement() const {
    SW_FUZZ_CHECK(wheel_.size() == due_.size() + pending_.size(),
                  "size() " + std::to_string(wheel_.size()) + " but model " +
                      std::to_string(due_.size() + pending_.size()));
    SW_FUZZ_CHECK(wheel_.HasDue() == !due_.empty(), "HasDue() disagrees");
    for (int i = 0; i < kEntries; ++i) {
      SW_FUZZ_CHECK(entries_[i].scheduled() == deadline_of_[i].has_value(),
                    "scheduled() of entry " + std::to_string(i) + " disagrees");
    }
    const std::optional<uint64_t> next = wheel_.NextEventTick();
    if (!due_.empty()) {
      SW_FUZZ_CHECK(next == now_, "NextEventTick() is not now while due");
    } else if (pending_.empty()) {
      SW_FUZZ_CHECK(!next.has_value(), "NextEventTick() of an empty wheel");
    } else {
      SW_FUZZ_CHECK(
          next.has_value() && *next > now_ && *next <= pending_.begin()->first,
          "NextEventTick() outside (now, earliest deadline]");
    }
  }

  uint64_t now() const { return now_; }
  std::optional<uint64_t> earliest() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.begin()->first;
  }
  std::optional<uint64_t> deadline_of(int i) const { return deadline_of_[i]; }
  std::optional<uint64_t> next_event() const { return wheel_.NextEventTick(); }

 private:
  // An entry on the due list. Batch 0: scheduled as due, in FIFO order;
  // otherwise made due by the Advance of that number at `made_due_at`.
  struct Due {
    int index;
    uint64_t batch;
    uint64_t made_due_at;
  };

  // Whether `a` and `b` came due in one Advance at one deadline.
  static bool SameGroup(const Due& a, const Due& b) {
    return a.batch != 0 && a.batch == b.batch && a.made_due_at == b.made_due_at;
  }

  std::vector<Due>::iterator FindDue(int i) {
    auto it = due_.begin();
    while (it != due_.end() && it->index != i) ++it;
    return it;
  }

  void Forget(int i) {
    if (!deadline_of_[i].has_value()) return;
    if (auto it = FindDue(i); it != due_.end()) {
      due_.erase(it);
    } else {
      pending_.erase({*deadline_of_[i], i});
    }
    deadline_of_[i].reset();
  }

  TimerWheel wheel_;
  TimerEntry entries_[kEntries];
  uint64_t now_;
  uint64_t batch_ = 0;
  std::vector<Due> due_;
  std::set<std::pair<uint64_t, int>> pending_;  // (deadline, entry)
  std::optional<uint64_t> deadline_of_[kEntries];
};

uint64_t StartFrom(FuzzInput& in) {
  switch (in.Byte() % 4) {
    case 0:
      return 0;
    case 1:
      return in.Integer(3);
    case 2:
      return in.Integer(8);
    default:
      return kMax - in.Integer(5);
  }
}

uint64_t DeadlineFrom(FuzzInput& in, uint64_t now) {
  switch (in.Byte() % 9) {
    case 0:
      return 0;
    case 1:
      return SaturatingSub(now, in.Integer(2));  // the past, or now
    case 2:
      return now;
    case 3:
      return SaturatingAdd(now, 1 + in.Byte() % 64);
    case 4:
      return SaturatingAdd(now, in.Integer(3));
    case 5: {  // A magnitude spread over all scales.
      const uint64_t bits = in.Integer(8);
      return SaturatingAdd(now, bits >> in.Byte() % 64);
    }
    case 6:
      return kMax - in.Integer(2);  // the end of time
    case 7:
      return in.Integer(8);  // anywhere
    default: {               // on or next to the next multiple of 2^bits
      const int bits = in.Byte() % 64;
      const uint64_t boundary =
          SaturatingAdd(now >> bits << bits, uint64_t{1} << bits);
      const uint64_t after = in.Byte() % 2;
      return SaturatingSub(SaturatingAdd(boundary, after), in.Byte() % 2);
    }
  }
}

uint64_t TargetFrom(FuzzInput& in, const WheelModel& model) {
  const uint64_t now = model.now();
  switch (in.Byte() % 7) {
    case 0:
      return SaturatingSub(now, in.Byte());  // backwards: a no-op
    case 1:
      return SaturatingAdd(now, in.Byte());
    case 2:
      return SaturatingAdd(now, in.Integer(3));
    case 3:
      return model.next_event().value_or(now);
    case 4:  // just before or exactly at the earliest deadline
      return SaturatingSub(model.earliest().value_or(now), in.Byte() % 2);
    case 5: {
      const uint64_t bits = in.Integer(8);
      return SaturatingAdd(now, bits >> in.Byte() % 64);
    }
    default:
      return in.Integer(8);
  }
}

void FuzzWheel(FuzzInput& in) {
  WheelModel model(StartFrom(in));
  while (!in.empty()) {
    const int i = static_cast<int>(in.Index(kEntries));
    switch (in.Byte() % 8) {
      case 0:
      case 1:
        model.Schedule(i, DeadlineFrom(in, model.now()));
        break;
      case 2: {  // Move a scheduled entry by up to half its distance.
        const std::optional<uint64_t> old = model.deadline_of(i);
        if (!old.has_value()) break;
        const uint64_t delta =
            SaturatingSub(*old, model.now()) >> (1 + in.Byte() % 16);
        model.Schedule(i, in.Bool() ? SaturatingAdd(*old, delta)
                                    : SaturatingSub(*old, delta));
        break;
      }
      case 3:
        model.Cancel(i);
        break;
      case 4:
      case 5:
        model.Advance(TargetFrom(in, model));
        break;
      case 6:
        model.Pop();
        break;
      default:
        while (model.Pop()) {
        }
    }
    model.CheckAgreement();
  }
}

}  // namespace
}  // namespace sessionwheel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessionwheel::fuzz::FuzzInput in(data, size);
  sessionwheel::fuzz::FuzzWheel(in);
  return 0;
}
