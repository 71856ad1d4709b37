// Tests of CreationOrder (engine/core/creation_order.h): positions that hold
// until a compaction reports every move, holes dropped at the end, and
// seeking a sequence number across holes, checked against a sorted model.

#include "engine/core/creation_order.h"

#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

// What the shard keeps beside the order: each handle's seq and position.
struct Owner {
  CreationOrder order;
  std::map<uint32_t, uint64_t> seq;       // Live handle -> seq.
  std::map<uint32_t, uint32_t> position;  // Live handle -> position.
  int moves = 0;

  void Append(uint32_t handle, uint64_t s) {
    seq[handle] = s;
    position[handle] = order.Append(handle);
  }
  void Remove(uint32_t handle) {
    order.Remove(position.at(handle), [this](uint32_t moved, uint32_t pos) {
      position.at(moved) = pos;
      ++moves;
    });
    seq.erase(handle);
    position.erase(handle);
  }
  uint64_t SeqOf(uint32_t handle) const { return seq.at(handle); }
  // The live handles walked from the oldest.
  std::vector<uint32_t> Walk() const {
    std::vector<uint32_t> out;
    for (uint32_t p = 0; p < order.end(); ++p) {
      if (order.at(p) != CreationOrder::kHole) out.push_back(order.at(p));
    }
    return out;
  }
};

TEST(CreationOrderTest, AppendsInOrderAndRemovesLeaveHoles) {
  Owner o;
  for (uint32_t h = 0; h < 5; ++h) o.Append(h, 10 + h);
  EXPECT_EQ(o.order.size(), 5u);
  o.Remove(1);
  o.Remove(3);
  EXPECT_EQ(o.order.size(), 3u);
  EXPECT_EQ(o.order.end(), 5u);  // Too few holes to squeeze out.
  EXPECT_EQ(o.order.at(1), CreationOrder::kHole);
  EXPECT_EQ(o.Walk(), (std::vector<uint32_t>{0, 2, 4}));
  EXPECT_EQ(o.moves, 0);
}

TEST(CreationOrderTest, HolesAtTheEndAreDroppedAtOnce) {
  Owner o;
  for (uint32_t h = 0; h < 4; ++h) o.Append(h, h + 1);
  o.Remove(2);
  o.Remove(3);  // The last: it and the hole before it go.
  EXPECT_EQ(o.order.end(), 2u);
  EXPECT_EQ(o.order.Last(), 1u);
  o.Remove(1);
  o.Remove(0);
  EXPECT_TRUE(o.order.empty());
  EXPECT_EQ(o.order.end(), 0u);
  EXPECT_EQ(o.order.Last(), CreationOrder::kHole);
}

TEST(CreationOrderTest, CompactionMovesLiveCellsAndReportsEachMove) {
  Owner o;
  const uint32_t n = 4 * CreationOrder::kMinCompaction;
  for (uint32_t h = 0; h < n; ++h) o.Append(h, h + 1);
  const uint64_t before = o.order.generation();
  // Remove all but every fourth, never the last, until holes outnumber the
  // live cells and a compaction runs.
  for (uint32_t h = 0; h + 1 < n; ++h) {
    if (h % 4 != 0) o.Remove(h);
  }
  EXPECT_GT(o.order.generation(), before);
  EXPECT_GT(o.moves, 0);
  EXPECT_LE(o.order.end(), 2 * o.order.size());
  // Every live handle is where its owner was told, in creation order.
  for (const auto& [handle, pos] : o.position) {
    EXPECT_EQ(o.order.at(pos), handle);
  }
  std::vector<uint32_t> walk = o.Walk();
  for (size_t i = 1; i < walk.size(); ++i) {
    EXPECT_LT(o.SeqOf(walk[i - 1]), o.SeqOf(walk[i]));
  }
}

TEST(CreationOrderTest, FirstAfterMatchesASortedModelAcrossHoles) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    Owner o;
    uint64_t next_seq = 1;
    uint32_t next_handle = 0;
    const int ops = 1 + static_cast<int>(rng() % 400);
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
    auto seq_of = [&o](uint32_t h) { return o.SeqOf(h); };
    for (uint64_t s = 0; s <= next_seq + 1; ++s) {
      const uint32_t p = o.order.FirstAfter(s, seq_of);
      ASSERT_LE(p, o.order.end());
      for (uint32_t q = 0; q < o.order.end(); ++q) {
        const uint32_t h = o.order.at(q);
        if (h == CreationOrder::kHole) continue;
        // Live cells before p are at or below s; from p on, above it.
        ASSERT_EQ(q < p, o.SeqOf(h) <= s)
            << "round " << round << " seq " << s << " position " << q;
      }
    }
  }
}

}  // namespace
}  // namespace sessionwheel::internal
