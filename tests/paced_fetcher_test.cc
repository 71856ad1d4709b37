// The paced fetcher's schedule (bench/paced_fetcher.h) on a clock moved by
// hand: a stall is charged to every fetch that should have started during
// it, as wrk2 corrects for coordinated omission.

#include "bench/paced_fetcher.h"

#include <atomic>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::bench {
namespace {

// Time moves only when a wait or a fetch moves it.
class HandClock : public PaceClock {
 public:
  int64_t NowNs() override { return now_; }
  void WaitUntilNs(int64_t ns) override {
    if (ns > now_) now_ = ns;
  }
  void Spend(int64_t ns) { now_ += ns; }

 private:
  int64_t now_ = 0;
};

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kUs = 1'000;

// 1000 fetches a second, 10 us each, except slot 5's, which stalls 10 ms:
// slots 6 to 14 were due during the stall and are charged their wait (9.01
// down to 1.09 ms), so ten fetches take over 1 ms where a closed loop would
// count one.
TEST(PacedFetcherTest, AStallIsChargedToEveryFetchScheduledDuringIt) {
  HandClock clock;
  std::atomic<int64_t> stop{100 * kMs};
  int64_t calls = 0;
  std::vector<int64_t> started;
  PacedResult r = RunPaced(
      1000, 0, 0, stop,
      [&] {
        started.push_back(clock.NowNs());
        clock.Spend(calls++ == 5 ? 10 * kMs : 10 * kUs);
        return true;
      },
      clock);
  EXPECT_EQ(r.fetches, 100);
  EXPECT_EQ(r.wrong, 0);
  EXPECT_EQ(r.latency.MaxUs(), 10'000);  // Slot 5's own.
  EXPECT_EQ(r.latency.CountAbove(kMs), 10);
  // Behind, it sends at once: slot 6 starts as slot 5 ends.
  EXPECT_EQ(started[6], 15 * kMs);
  // Caught up by slot 16, which starts on time.
  EXPECT_EQ(started[16], 16 * kMs);
}

TEST(PacedFetcherTest, KeepsTheScheduleWithoutDrift) {
  HandClock clock;
  std::atomic<int64_t> stop{1'000'000'000};
  std::vector<int64_t> started;
  PacedResult r = RunPaced(
      3000, 7, 7, stop,
      [&] {
        started.push_back(clock.NowNs());
        return true;
      },
      clock);
  ASSERT_EQ(r.fetches, 3000);
  // Slot i at 7 + i / 3000 s, rounded to the nanosecond, never accumulated.
  EXPECT_EQ(started[1], 7 + 333'333);
  EXPECT_EQ(started[2], 7 + 666'667);
  EXPECT_EQ(started[2999], 7 + 999'666'667);
}

TEST(PacedFetcherTest, WarmUpSlotsAndWrongAnswersAreCountedApart) {
  HandClock clock;
  std::atomic<int64_t> stop{20 * kMs};
  int64_t calls = 0;
  PacedResult r = RunPaced(
      1000, 0, 5 * kMs, stop,
      [&] {
        clock.Spend(kUs);
        return calls++ % 2 == 0;
      },
      clock);
  EXPECT_EQ(calls, 20);
  EXPECT_EQ(r.fetches, 15);  // Slots 5 to 19.
  EXPECT_EQ(r.wrong, 8);     // The odd ones, 5 to 19.
}

}  // namespace
}  // namespace sessionwheel::bench
