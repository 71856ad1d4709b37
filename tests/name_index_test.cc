// Tests of NameIndex (engine/core/name_index.h): every entry found while a
// resize moves entries between its tables, a bounded number of hashes and
// moves in every call (so no call rehashes a table whole), the memory of a
// purged table given back, and nothing lost through grow, shrink and erase
// interleaved at random, checked against a std::set.

#include "engine/core/name_index.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

// A key of another type, to look entries up by, as the shard looks handles
// up by NameKey.
struct Probe {
  uint32_t value;
};

// Hashes values and probes alike, counting every call: a table that
// rehashes hashes each of its entries again.
struct CountingHash {
  using is_transparent = void;
  int64_t* calls;
  size_t operator()(uint32_t v) const {
    ++*calls;
    return absl::Hash<uint32_t>()(v);
  }
  size_t operator()(Probe p) const { return (*this)(p.value); }
  void Prefetch(uint32_t) const {}
};

struct SameValue {
  using is_transparent = void;
  static uint32_t Of(uint32_t v) { return v; }
  static uint32_t Of(Probe p) { return p.value; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return Of(a) == Of(b);
  }
};

using Index = NameIndex<uint32_t, CountingHash, SameValue>;
constexpr size_t kSteps = Index::kStepsPerOp;

// Hashes of one insert into an absl table: with assertions on, absl looks
// the inserted value up again to check it.
#ifdef NDEBUG
constexpr int64_t kHashesPerInsert = 1;
#else
constexpr int64_t kHashesPerInsert = 2;
#endif
// Hashes of one move: a prefetch of its slot in the new table, and the
// insert there.
constexpr int64_t kHashesPerMove = 1 + kHashesPerInsert;
// The most a call may hash: two lookups (one a table), its own insert and
// kSteps moves.
constexpr int64_t kMaxHashesPerCall =
    2 + kHashesPerInsert + kSteps * kHashesPerMove;

class NameIndexTest : public ::testing::Test {
 protected:
  // Hashes the last call made, with the moves it reported: both bounded.
  void ExpectBounded(const char* call) {
    EXPECT_LE(index_.moved_by_last_call(), kSteps) << call;
    EXPECT_LE(hashes_ - hashes_before_, kMaxHashesPerCall)
        << call << " hashed more than its lookups, insert and moves";
  }
  bool Insert(uint32_t v) {
    hashes_before_ = hashes_;
    const bool inserted = index_.Insert(v);
    ExpectBounded("Insert");
    return inserted;
  }
  bool Erase(uint32_t v) {
    hashes_before_ = hashes_;
    const bool erased = index_.Erase(v);
    ExpectBounded("Erase");
    return erased;
  }
  bool Found(uint32_t v) const {
    const uint32_t* found = index_.Find(Probe{v});
    return found != nullptr && *found == v;
  }
  // Steps until no resize is under way, and frees the drained tables as
  // the shard does.
  void StepToTheEnd() {
    while (index_.Step(1000)) {
      TakeRetired();
    }
    TakeRetired();
  }
  void TakeRetired() {
    absl::flat_hash_set<uint32_t, CountingHash, SameValue> retired(
        0, CountingHash{&hashes_}, SameValue{});
    index_.TakeRetired(&retired);
  }

  int64_t hashes_ = 0;
  int64_t hashes_before_ = 0;
  Index index_{CountingHash{&hashes_}, SameValue{}};
};

TEST_F(NameIndexTest, EveryEntryIsFoundWhileTheTableGrows) {
  constexpr uint32_t kN = 3000;
  int resizing_checks = 0;
  for (uint32_t v = 0; v < kN; ++v) {
    ASSERT_TRUE(Insert(v));
    if (!index_.resizing()) continue;
    ++resizing_checks;
    for (uint32_t w = 0; w <= v; ++w) ASSERT_TRUE(Found(w)) << w << " of " << v;
    EXPECT_FALSE(Found(v + 1));
  }
  // The test saw entries in both tables, over several growths.
  EXPECT_GT(resizing_checks, 100);
  EXPECT_EQ(index_.size(), kN);
}

TEST_F(NameIndexTest, EveryEntryIsFoundWhileTheTableShrinks) {
  constexpr uint32_t kN = 20000;
  for (uint32_t v = 0; v < kN; ++v) ASSERT_TRUE(Insert(v));
  StepToTheEnd();
  int resizing_checks = 0;
  for (uint32_t v = 0; v < kN; ++v) {
    ASSERT_TRUE(Erase(v));
    EXPECT_FALSE(Found(v));
    if (!index_.resizing() || v % 7 != 0) continue;
    ++resizing_checks;
    for (uint32_t w = v + 1; w < kN; ++w) ASSERT_TRUE(Found(w)) << w;
  }
  EXPECT_GT(resizing_checks, 10);
  EXPECT_EQ(index_.size(), 0u);
}

TEST_F(NameIndexTest, AnEntryIsAddedOnceWhicheverTableHoldsIt) {
  constexpr uint32_t kN = 5000;
  for (uint32_t v = 0; v < kN; ++v) {
    ASSERT_TRUE(Insert(v));
    // The earliest entries sit in the old table while a resize is under way.
    EXPECT_FALSE(Insert(v / 2)) << v;
    EXPECT_FALSE(Insert(v)) << v;
  }
  EXPECT_EQ(index_.size(), kN);
  EXPECT_FALSE(Erase(kN));
  EXPECT_EQ(index_.size(), kN);
}

// A plain absl::flat_hash_set rehashes every entry in the insert that fills
// it: thousands of hashes in one call, which ExpectBounded catches.
TEST_F(NameIndexTest, NoCallHashesMoreThanItsMovesWhileGrowingFromEmpty) {
  constexpr uint32_t kN = 200000;
  size_t resizes = 0;
  bool was_resizing = false;
  for (uint32_t v = 0; v < kN; ++v) {
    ASSERT_TRUE(Insert(v));
    resizes += index_.resizing() && !was_resizing;
    was_resizing = index_.resizing();
  }
  EXPECT_GE(index_.capacity(), kN);
  EXPECT_GE(resizes, 10u);
  for (uint32_t v = 0; v < kN; ++v) ASSERT_TRUE(Erase(v));
}

// Inserts and erases at a steady size leave tombstones, which absl clears
// with a rehash of the whole table in place; the index rebuilds instead, a
// few entries a call.
TEST_F(NameIndexTest, NoCallHashesMoreThanItsMovesUnderChurn) {
  constexpr uint32_t kLive = 20000;
  std::mt19937 rng(7);
  std::vector<uint32_t> live;
  uint32_t next = 0;
  for (; next < kLive; ++next) {
    ASSERT_TRUE(Insert(next));
    live.push_back(next);
  }
  size_t resizes = 0;
  bool was_resizing = index_.resizing();
  for (int i = 0; i < 400000; ++i) {
    const size_t at = rng() % live.size();
    ASSERT_TRUE(Erase(live[at]));
    live[at] = next;
    ASSERT_TRUE(Insert(next++));
    resizes += index_.resizing() && !was_resizing;
    was_resizing = index_.resizing();
  }
  EXPECT_GE(resizes, 5u);
  EXPECT_EQ(index_.size(), kLive);
  for (uint32_t v : live) ASSERT_TRUE(Found(v));
}

TEST_F(NameIndexTest, StepMovesAtMostWhatItIsAsked) {
  constexpr uint32_t kN = 50000;
  for (uint32_t v = 0; v < kN; ++v) {
    ASSERT_TRUE(Insert(v));
    if (index_.resizing()) {
      hashes_before_ = hashes_;
      index_.Step(3);
      EXPECT_LE(index_.moved_by_last_call(), 3u);
      EXPECT_LE(hashes_ - hashes_before_, 3 * kHashesPerMove);
    }
  }
  StepToTheEnd();
  EXPECT_FALSE(index_.resizing());
  EXPECT_EQ(index_.moved_by_last_call(), 0u);
  EXPECT_FALSE(index_.Step(100));
}

TEST_F(NameIndexTest, AMassEraseGivesTheMemoryBack) {
  constexpr uint32_t kN = 500000;
  for (uint32_t v = 0; v < kN; ++v) ASSERT_TRUE(Insert(v));
  StepToTheEnd();
  const size_t full = index_.capacity();
  EXPECT_GE(full, kN);
  // Down to 1%: the table shrinks as it goes, by the erases' own moves.
  for (uint32_t v = 0; v < kN - kN / 100; ++v) ASSERT_TRUE(Erase(v));
  StepToTheEnd();
  EXPECT_LE(index_.capacity(), Index::kShrinkRatio * index_.size());
  EXPECT_LT(index_.capacity(), full / 16);
  for (uint32_t v = kN - kN / 100; v < kN; ++v) ASSERT_TRUE(Found(v));
  // Down to nothing: both tables are freed but for the smallest.
  for (uint32_t v = kN - kN / 100; v < kN; ++v) ASSERT_TRUE(Erase(v));
  StepToTheEnd();
  EXPECT_LE(index_.capacity(), Index::kMinShrinkCapacity);
}

// A drained table is not freed inside the call that drains it (a large
// free can make glibc trim its heap): it waits for TakeRetired, whose caller
// frees it after its lock; a second call has nothing.
TEST_F(NameIndexTest, ADrainedTableWaitsForTakeRetired) {
  uint32_t v = 0;
  while (!index_.resizing()) ASSERT_TRUE(Insert(v++));
  while (index_.Step(1)) {
  }
  const size_t held = index_.capacity();
  absl::flat_hash_set<uint32_t, CountingHash, SameValue> retired(
      0, CountingHash{&hashes_}, SameValue{});
  const size_t bytes = index_.TakeRetired(&retired);
  EXPECT_GT(retired.capacity(), 0u);
  EXPECT_EQ(bytes, retired.capacity() * (sizeof(uint32_t) + 1));
  EXPECT_EQ(index_.capacity(), held - retired.capacity());
  EXPECT_TRUE(retired.empty());  // Drained: nothing of it is needed.
  EXPECT_EQ(index_.TakeRetired(&retired), 0u);
  for (uint32_t w = 0; w < v; ++w) ASSERT_TRUE(Found(w));
}

// A shrink that begins on the last erase of a purge finishes on Step alone.
TEST_F(NameIndexTest, AShrinkFinishesWithoutFurtherInsertsOrErases) {
  constexpr uint32_t kN = 100000;
  for (uint32_t v = 0; v < kN; ++v) ASSERT_TRUE(Insert(v));
  StepToTheEnd();
  const size_t full = index_.capacity();
  uint32_t v = 0;
  while (!index_.resizing()) ASSERT_TRUE(Erase(v++));
  EXPECT_LT(index_.size() * Index::kShrinkRatio, full);
  EXPECT_GT(index_.capacity(), full);  // Both tables, for now.
  StepToTheEnd();
  EXPECT_LT(index_.capacity(), full / 2);
  for (uint32_t w = v; w < kN; ++w) ASSERT_TRUE(Found(w));
}

// Waves of inserts and erases at random, so that grows, rebuilds and
// shrinks start and finish in the middle of each other's calls, with Steps
// and lookups of present and absent values between.
TEST_F(NameIndexTest, NothingIsLostThroughInterleavedGrowShrinkAndErase) {
  std::mt19937 rng(11);
  std::set<uint32_t> model;
  constexpr uint32_t kRange = 60000;
  size_t grown_to = 0;
  for (int wave = 0; wave < 12; ++wave) {
    // Even waves mostly insert, odd ones mostly erase.
    const unsigned insert_percent = wave % 2 == 0 ? 85 : 10;
    const int ops = 20000 + static_cast<int>(rng() % 40000);
    for (int i = 0; i < ops; ++i) {
      const uint32_t v = rng() % kRange;
      const unsigned dice = rng() % 100;
      if (dice < insert_percent) {
        ASSERT_EQ(Insert(v), model.insert(v).second) << v;
      } else if (dice < 98) {
        ASSERT_EQ(Erase(v), model.erase(v) == 1) << v;
      } else {
        index_.Step(rng() % 64);
      }
      ASSERT_EQ(Found(v), model.count(v) == 1) << v;
      ASSERT_EQ(index_.size(), model.size());
    }
    grown_to = std::max(grown_to, model.size());
    for (uint32_t w = 0; w < kRange; ++w) {
      ASSERT_EQ(Found(w), model.count(w) == 1) << "wave " << wave << ": " << w;
    }
  }
  EXPECT_GT(grown_to, kRange / 2);
  while (!model.empty()) {
    ASSERT_TRUE(Erase(*model.begin()));
    model.erase(model.begin());
  }
  StepToTheEnd();
  EXPECT_EQ(index_.size(), 0u);
  EXPECT_LE(index_.capacity(), Index::kMinShrinkCapacity);
}

TEST_F(NameIndexTest, PrefetchIsHarmlessInEveryState) {
  for (uint32_t v = 0; v < 1000; ++v) {
    index_.Prefetch(Probe{v});
    ASSERT_TRUE(Insert(v));
    index_.Prefetch(Probe{v + 1});
    EXPECT_TRUE(Found(v));
  }
}

}  // namespace
}  // namespace sessionwheel::internal
