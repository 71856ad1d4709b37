// Tests of CreationOrder (engine/core/creation_order.h): positions that hold
// until a merge or a pack reports every move, emptied blocks freed without a
// move, seeking a sequence number across holes and blocks, work per call
// bounded, and memory that follows the live count, all checked against a
// sorted model.

#include "engine/core/creation_order.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

constexpr uint32_t kBlock = CreationOrder::kBlockSize;
constexpr uint32_t kNo = CreationOrder::kNoPosition;

// What the shard keeps beside the order: each handle's seq and position.
struct Owner {
  CreationOrder order;
  std::map<uint32_t, uint64_t> seq;       // Live handle -> seq.
  std::map<uint32_t, uint32_t> position;  // Live handle -> position.
  int moves = 0;
  int moves_in_call = 0;
  int most_moves_in_a_call = 0;

  auto Moved() {
    return [this](uint32_t moved, uint32_t pos) {
      position.at(moved) = pos;
      ++moves;
      most_moves_in_a_call = std::max(most_moves_in_a_call, ++moves_in_call);
    };
  }
  auto SeqOf() const {
    return [this](uint32_t handle) { return seq.at(handle); };
  }

  void Append(uint32_t handle, uint64_t s) {
    moves_in_call = 0;
    seq[handle] = s;
    position[handle] = 0;
    position[handle] = order.Append(handle, s, Moved());
  }
  void Insert(uint32_t handle, uint64_t s) {
    moves_in_call = 0;
    seq[handle] = s;
    position[handle] = 0;
    position[handle] = order.Insert(handle, s, SeqOf(), Moved());
  }
  void Remove(uint32_t handle) {
    moves_in_call = 0;
    order.Remove(position.at(handle), Moved());
    seq.erase(handle);
    position.erase(handle);
  }
  // The live handles walked from the oldest, and from the newest.
  std::vector<uint32_t> Walk() const {
    std::vector<uint32_t> out;
    for (uint32_t p = order.First(); p != kNo; p = order.Next(p)) {
      out.push_back(order.at(p));
    }
    return out;
  }
  std::vector<uint32_t> WalkBack() const {
    std::vector<uint32_t> out;
    for (uint32_t p = order.Last(); p != kNo; p = order.Prev(p)) {
      out.push_back(order.at(p));
    }
    return out;
  }
  // The live handles by seq, as the order should hold them.
  std::vector<uint32_t> Model() const {
    std::vector<std::pair<uint64_t, uint32_t>> by_seq;
    for (const auto& [handle, s] : seq) by_seq.emplace_back(s, handle);
    std::sort(by_seq.begin(), by_seq.end());
    std::vector<uint32_t> out;
    for (const auto& [s, handle] : by_seq) out.push_back(handle);
    return out;
  }
  // Every position the owner holds, the walks both ways, the count.
  void Check() const {
    for (const auto& [handle, pos] : position) {
      ASSERT_EQ(order.at(pos), handle) << "position " << pos;
    }
    const std::vector<uint32_t> model = Model();
    ASSERT_EQ(Walk(), model);
    std::vector<uint32_t> back = WalkBack();
    std::reverse(back.begin(), back.end());
    ASSERT_EQ(back, model);
    ASSERT_EQ(order.size(), model.size());
  }
};

TEST(CreationOrderTest, AppendsInOrderAndRemovesLeaveHoles) {
  Owner o;
  for (uint32_t h = 0; h < 5; ++h) o.Append(h, 10 + h);
  EXPECT_EQ(o.order.size(), 5u);
  const uint32_t one = o.position.at(1);
  o.Remove(1);
  o.Remove(3);
  EXPECT_EQ(o.order.size(), 3u);
  EXPECT_EQ(o.order.at(one), CreationOrder::kHole);
  EXPECT_EQ(o.Walk(), (std::vector<uint32_t>{0, 2, 4}));
  EXPECT_EQ(o.WalkBack(), (std::vector<uint32_t>{4, 2, 0}));
  EXPECT_EQ(o.order.Next(one), o.position.at(2));  // From a hole.
  EXPECT_EQ(o.order.Prev(one), o.position.at(0));
  EXPECT_EQ(o.moves, 0);
}

TEST(CreationOrderTest, TheEndsFollowRemovalsAndAnEmptyOrderHoldsNothing) {
  Owner o;
  for (uint32_t h = 0; h < 4; ++h) o.Append(h, h + 1);
  o.Remove(2);
  o.Remove(3);  // The last: Last() steps back over the hole before it.
  EXPECT_EQ(o.order.Last(), o.position.at(1));
  EXPECT_EQ(o.order.Next(o.position.at(1)), kNo);
  o.Remove(0);
  EXPECT_EQ(o.order.First(), o.position.at(1));
  EXPECT_EQ(o.order.Prev(o.position.at(1)), kNo);
  o.Remove(1);
  EXPECT_TRUE(o.order.empty());
  EXPECT_EQ(o.order.blocks(), 0u);
  EXPECT_EQ(o.order.First(), kNo);
  EXPECT_EQ(o.order.Last(), kNo);
  o.Append(9, 10);  // Usable again.
  EXPECT_EQ(o.Walk(), (std::vector<uint32_t>{9}));
}

TEST(CreationOrderTest, RemovingOldestFirstFreesWholeBlocksMovingNothing) {
  Owner o;
  const uint32_t n = 10 * kBlock + 7;
  for (uint32_t h = 0; h < n; ++h) o.Append(h, h + 1);
  EXPECT_EQ(o.order.blocks(), 11u);
  const uint64_t before = o.order.generation();
  for (uint32_t h = 0; h < 4 * kBlock; ++h) o.Remove(h);
  EXPECT_EQ(o.order.blocks(), 7u);
  EXPECT_EQ(o.moves, 0);
  EXPECT_GT(o.order.generation(), before);  // Blocks went: walkers seek.
  o.Check();
  // Only at the very end does the draining block meet the short last one
  // and merge with it.
  for (uint32_t h = 4 * kBlock; h < n; ++h) o.Remove(h);
  EXPECT_LE(o.moves, static_cast<int>(kBlock / 2));
  EXPECT_EQ(o.order.blocks(), 0u);
}

TEST(CreationOrderTest, SparseNeighboursMergeAndReportEachMove) {
  Owner o;
  const uint32_t n = 4 * kBlock;
  for (uint32_t h = 0; h < n; ++h) o.Append(h, h + 1);
  const uint64_t before = o.order.generation();
  // Remove all but every fourth, never the last, until neighbours hold half
  // a block between them and merge.
  for (uint32_t h = 0; h + 1 < n; ++h) {
    if (h % 4 != 0) o.Remove(h);
  }
  EXPECT_GT(o.order.generation(), before);
  EXPECT_GT(o.moves, 0);
  EXPECT_LE(o.most_moves_in_a_call, static_cast<int>(kBlock / 2));
  // 256 + 256 merged, then 256 and 257 (the last kept): three blocks.
  EXPECT_EQ(o.order.blocks(), 3u);
  o.Check();
}

TEST(CreationOrderTest, AFullLastBlockMostlyHolesIsPackedBeforeItGrows) {
  Owner o;
  for (uint32_t h = 0; h < kBlock; ++h) o.Append(h, h + 1);
  for (uint32_t h = 0; h + 1 < kBlock; h += 2) o.Remove(h);  // Half go.
  o.Append(kBlock, kBlock + 1);
  EXPECT_EQ(o.order.blocks(), 1u);
  EXPECT_EQ(o.moves, static_cast<int>(kBlock / 2));  // Each from an odd cell.
  o.Check();
}

TEST(CreationOrderTest, FirstAfterAndLastBeforeMatchASortedModel) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    Owner o;
    uint64_t next_seq = 1;
    uint32_t next_handle = 0;
    // Small rounds within a block, and larger ones across many.
    const int ops = 1 + static_cast<int>(rng() % (round % 4 == 0 ? 8000 : 400));
    for (int i = 0; i < ops; ++i) {
      if (o.seq.empty() || rng() % 3 != 0) {
        next_seq += 1 + rng() % 3;  // Store-wide: gaps between a shard's.
        o.Append(next_handle++, next_seq);
      } else {
        auto it = o.seq.begin();
        std::advance(it, rng() % o.seq.size());
        o.Remove(it->first);
      }
    }
    o.Check();
    std::vector<uint64_t> seqs;  // Sorted, as the model's walk.
    for (uint32_t h : o.Model()) seqs.push_back(o.seq.at(h));
    const std::vector<uint32_t> model = o.Model();
    const uint64_t step = round % 4 == 0 ? 7 : 1;
    for (uint64_t s = 0; s <= next_seq + 1; s += step) {
      const uint32_t after = o.order.FirstAfter(s, o.SeqOf());
      const uint32_t before = o.order.LastBefore(s, o.SeqOf());
      const size_t above = static_cast<size_t>(
          std::upper_bound(seqs.begin(), seqs.end(), s) - seqs.begin());
      const size_t below = static_cast<size_t>(
          std::lower_bound(seqs.begin(), seqs.end(), s) - seqs.begin());
      ASSERT_EQ(after,
                above == model.size() ? kNo : o.position.at(model[above]))
          << "round " << round << " seq " << s;
      ASSERT_EQ(before, below == 0 ? kNo : o.position.at(model[below - 1]))
          << "round " << round << " seq " << s;
    }
  }
}

// Random appends, removals in random and oldest-first runs, and recovery's
// inserts: after every step the owner's positions are right, and per call
// at most the stated number of handles moved; the cells stay within four
// times the live Sessions plus a block.
TEST(CreationOrderTest, MatchesAModelWithBoundedMovesAndMemory) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 6; ++round) {
    Owner o;
    uint64_t next_seq = 1000000;
    uint32_t next_handle = 0;
    std::set<uint64_t> used;  // Numbers taken, live or not.
    for (int step = 0; step < 30000; ++step) {
      const uint64_t dice = rng() % 100;
      const bool draining = (step / 3000) % 2 == 1;
      if (!o.seq.empty() && dice < (draining ? 70u : 30u)) {
        auto it = o.seq.begin();  // Oldest handle first, or a random one.
        if (rng() % 3 != 0) std::advance(it, rng() % o.seq.size());
        o.Remove(it->first);
        ASSERT_LE(o.moves_in_call, static_cast<int>(kBlock / 2));
      } else if (dice < 95 || o.seq.empty()) {
        next_seq += 1 + rng() % 4;
        used.insert(next_seq);
        o.Append(next_handle++, next_seq);
        ASSERT_LE(o.moves_in_call, static_cast<int>(kBlock / 2));
      } else {
        // Recovery: a Session older than some, between two live ones.
        uint64_t s = next_seq - rng() % (next_seq - 999000);
        while (!used.insert(s).second) --s;
        o.Insert(next_handle++, s);
        ASSERT_LE(o.moves_in_call, static_cast<int>(2 * kBlock));
      }
      if (step % 211 == 0) {
        o.Check();
        ASSERT_LE(o.order.blocks() * kBlock, 4 * o.order.size() + kBlock)
            << "round " << round << " step " << step;
      }
    }
    o.Check();
    // Sort, as a restore does, reports every Session and keeps the order.
    o.moves = 0;
    o.order.Sort(o.SeqOf(), o.Moved());
    EXPECT_EQ(o.moves, static_cast<int>(o.seq.size()));
    o.Check();
  }
}

TEST(CreationOrderTest, InsertIntoAFullBlockSplitsIt) {
  Owner o;
  for (uint32_t h = 0; h < kBlock; ++h) o.Append(h, 2 * (h + 1));
  EXPECT_EQ(o.order.blocks(), 1u);
  o.Insert(kBlock, 3);  // Between the first two.
  EXPECT_EQ(o.order.blocks(), 2u);
  EXPECT_LE(o.most_moves_in_a_call, static_cast<int>(kBlock));
  o.Check();
  o.Insert(kBlock + 1, 1);  // Before them all.
  o.Check();
  EXPECT_EQ(o.Walk().front(), kBlock + 1);
}

TEST(CreationOrderTest, ChurnReusesBlocksSoPositionsStaySmall) {
  Owner o;
  uint64_t next_seq = 1;
  uint32_t next_handle = 0;
  // A thousand live, two hundred thousand created and removed oldest first:
  // positions would run past 200,000 if they were never reused.
  for (int i = 0; i < 200000; ++i) {
    o.Append(next_handle++, next_seq++);
    if (o.seq.size() > 1000) o.Remove(o.seq.begin()->first);
  }
  for (const auto& [handle, pos] : o.position) {
    EXPECT_LT(pos, 4 * kBlock) << handle;
  }
  EXPECT_EQ(o.moves, 0);
  o.Check();
}

}  // namespace
}  // namespace sessionwheel::internal
