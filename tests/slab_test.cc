// Tests of Slab (engine/core/slab.h): handles, reuse, placement at a
// chosen handle for restores, iteration, that every object is constructed
// and destroyed exactly once, and that emptied chunks go back to the
// allocator (one spare kept) and come back on demand; checked at the end
// against a model under random operations.

#include "engine/core/slab.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

// Counts live objects, so a test sees every constructor and destructor.
struct Counted {
  static inline int live = 0;
  Counted() { ++live; }
  ~Counted() { --live; }
  uint64_t value = 0;
};

// An object the size of two cache lines starts on a line, so that it spans
// two and no more (the Session record, engine/core/shard.h).
TEST(SlabTest, ObjectsOfWholeCacheLinesStartOnALine) {
  struct TwoLines {
    char bytes[128];
  };
  Slab<TwoLines> lines;
  Slab<Counted> words;
  for (int i = 0; i < 5000; ++i) {
    const uint32_t h = lines.Allocate();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(lines.Get(h)) % 64, 0u) << h;
  }
  // Other sizes keep their own alignment: no padding to a line.
  const uint32_t a = words.Allocate();
  const uint32_t b = words.Allocate();
  EXPECT_EQ(reinterpret_cast<const char*>(words.Get(b)) -
                reinterpret_cast<const char*>(words.Get(a)),
            static_cast<std::ptrdiff_t>(sizeof(Counted)));
}

TEST(SlabTest, AllocatesDistinctHandlesFromZero) {
  Slab<Counted> slab;
  std::set<uint32_t> handles;
  for (int i = 0; i < 10000; ++i) {
    const uint32_t h = slab.Allocate();
    EXPECT_TRUE(handles.insert(h).second) << h;
    slab.Get(h)->value = h;
  }
  EXPECT_EQ(*handles.begin(), 0u);
  EXPECT_EQ(*handles.rbegin(), 9999u);
  EXPECT_EQ(slab.size(), 10000u);
  // Objects never move: each still holds what was written at its handle,
  // across the chunks the slab grew by.
  for (uint32_t h : handles) EXPECT_EQ(slab.Get(h)->value, h);
}

TEST(SlabTest, FreedHandlesComeBackLastFreedFirst) {
  Slab<Counted> slab;
  for (int i = 0; i < 8; ++i) slab.Allocate();
  slab.Free(2);
  slab.Free(5);
  EXPECT_FALSE(slab.IsLive(2));
  EXPECT_FALSE(slab.IsLive(5));
  EXPECT_EQ(slab.Allocate(), 5u);
  EXPECT_EQ(slab.Allocate(), 2u);
  EXPECT_EQ(slab.Allocate(), 8u);
  EXPECT_EQ(slab.size(), 9u);
}

TEST(SlabTest, AFreedObjectIsDestroyedAndANewOneConstructed) {
  Counted::live = 0;
  {
    Slab<Counted> slab;
    const uint32_t h = slab.Allocate();
    slab.Get(h)->value = 42;
    EXPECT_EQ(Counted::live, 1);
    slab.Free(h);
    EXPECT_EQ(Counted::live, 0);
    EXPECT_EQ(slab.Allocate(), h);
    EXPECT_EQ(slab.Get(h)->value, 0u);  // Constructed afresh.
    for (int i = 0; i < 5000; ++i) slab.Allocate();
    EXPECT_EQ(Counted::live, 5001);
  }
  EXPECT_EQ(Counted::live, 0);  // The slab destroys what is left.
}

constexpr uint32_t kChunk = Slab<Counted>::kChunkSize;

TEST(SlabTest, AllocateAtPlacesAtTheHandleWithinItsBound) {
  Slab<Counted> slab;
  EXPECT_TRUE(slab.AllocateAt(7000, 10000));
  EXPECT_TRUE(slab.IsLive(7000));
  EXPECT_FALSE(slab.AllocateAt(7000, 10000));   // Taken.
  EXPECT_FALSE(slab.AllocateAt(10001, 10000));  // Past the bound.
  EXPECT_TRUE(slab.AllocateAt(3, 10000));       // Below, in the gap.
  EXPECT_EQ(slab.size(), 2u);
  // The gap's handles are free; the placed ones are never handed out again.
  std::set<uint32_t> handles;
  for (int i = 0; i < 7000; ++i) {
    const uint32_t h = slab.Allocate();
    EXPECT_NE(h, 3u);
    EXPECT_NE(h, 7000u);
    EXPECT_TRUE(handles.insert(h).second);
  }
  // The 7002 fit in the chunks up to the placed one's: the slab uses the
  // gap before it grows.
  EXPECT_LT(*handles.rbegin(), (7000 / kChunk + 1) * kChunk);
  EXPECT_EQ(slab.size(), 7002u);
}

TEST(SlabTest, ForEachVisitsTheLiveObjectsInHandleOrder) {
  Slab<Counted> slab;
  for (int i = 0; i < 6; ++i) slab.Allocate();
  slab.Free(1);
  slab.Free(4);
  std::vector<uint32_t> seen;
  slab.ForEach([&](uint32_t h, Counted* c) {
    EXPECT_EQ(c, slab.Get(h));
    seen.push_back(h);
  });
  EXPECT_EQ(seen, (std::vector<uint32_t>{0, 2, 3, 5}));
}

TEST(SlabTest, AnEmptiedChunkIsKeptAsTheSpareAndTheOneBeforeReleased) {
  std::atomic<uint64_t> returned{0};
  Slab<Counted> slab(&returned);
  for (uint32_t i = 0; i < 4 * kChunk; ++i) slab.Allocate();
  EXPECT_EQ(slab.chunks_held(), 4u);
  for (uint32_t h = 0; h < kChunk; ++h) slab.Free(h);  // Chunk 0 empties.
  EXPECT_EQ(slab.chunks_held(), 4u);                   // The spare.
  EXPECT_EQ(returned.load(), 0u);
  for (uint32_t h = 2 * kChunk; h < 3 * kChunk; ++h) slab.Free(h);
  EXPECT_EQ(slab.chunks_held(), 3u);     // Chunk 0 went; chunk 2 is the spare.
  EXPECT_EQ(slab.chunks_retired(), 1u);  // Its memory, for the owner to free.
  EXPECT_EQ(returned.load(), Slab<Counted>::kChunkBytes);
  slab.ReleaseSpare();
  EXPECT_EQ(slab.chunks_held(), 2u);
  EXPECT_EQ(returned.load(), 2 * Slab<Counted>::kChunkBytes);
  slab.ReleaseSpare();  // None left: nothing to do.
  EXPECT_EQ(slab.chunks_held(), 2u);
  std::vector<Slab<Counted>::RetiredChunk> retired;
  slab.TakeRetired(&retired);
  EXPECT_EQ(retired.size(), 2u);
  EXPECT_EQ(slab.chunks_retired(), 0u);
  retired.clear();  // Freed by the owner, outside its lock.
  EXPECT_EQ(slab.size(), 2u * kChunk);
  EXPECT_EQ(slab.end(), 4 * kChunk);
  // The survivors never moved and kept what was written.
  for (uint32_t h = kChunk; h < 2 * kChunk; ++h) {
    ASSERT_TRUE(slab.IsLive(h));
    slab.Get(h)->value = h;
  }
  for (uint32_t h = 0; h < kChunk; ++h) slab.Free(kChunk + h);
  for (uint32_t h = 3 * kChunk; h < 4 * kChunk; ++h) slab.Free(h);
  EXPECT_EQ(slab.size(), 0u);
  EXPECT_EQ(slab.chunks_held(), 1u);  // Only the spare.
}

TEST(SlabTest, AReleasedChunkIsMadeAgainBeforeTheSlabGrows) {
  Slab<Counted> slab;
  for (uint32_t i = 0; i < 3 * kChunk; ++i) slab.Allocate();
  std::vector<Counted*> survivors;
  for (uint32_t h = 2 * kChunk; h < 3 * kChunk; ++h) {
    slab.Get(h)->value = h;
    survivors.push_back(slab.Get(h));
  }
  for (uint32_t h = 0; h < 2 * kChunk; ++h) slab.Free(h);
  slab.ReleaseSpare();
  EXPECT_EQ(slab.chunks_held(), 1u);
  // Two chunks' worth again: the released handles come back, nothing past.
  std::set<uint32_t> handles;
  for (uint32_t i = 0; i < 2 * kChunk; ++i) {
    const uint32_t h = slab.Allocate();
    EXPECT_LT(h, 2 * kChunk);
    EXPECT_TRUE(handles.insert(h).second) << h;
  }
  EXPECT_EQ(slab.chunks_held(), 3u);
  EXPECT_EQ(slab.end(), 3 * kChunk);
  EXPECT_EQ(slab.Allocate(), 3 * kChunk);  // Now it grows.
  for (uint32_t i = 0; i < kChunk; ++i) {
    EXPECT_EQ(slab.Get(2 * kChunk + i), survivors[i]);
    EXPECT_EQ(survivors[i]->value, 2 * kChunk + i);
  }
}

TEST(SlabTest, AChunkMadeAgainTakesRetiredMemoryFirst) {
  Slab<Counted> slab;
  for (uint32_t i = 0; i < 2 * kChunk; ++i) slab.Allocate();
  Counted* first = slab.Get(0);
  for (uint32_t h = 0; h < kChunk; ++h) slab.Free(h);
  slab.ReleaseSpare();  // Chunk 0 retired.
  EXPECT_EQ(slab.chunks_retired(), 1u);
  for (uint32_t h = kChunk; h < 2 * kChunk; ++h) slab.Free(h);  // The spare.
  EXPECT_EQ(slab.Allocate(), 2 * kChunk - 1);  // The spare, last freed first.
  EXPECT_EQ(slab.chunks_retired(), 1u);
  EXPECT_TRUE(slab.AllocateAt(1, kChunk));  // Chunk 0 again, in its memory.
  EXPECT_EQ(slab.chunks_retired(), 0u);
  EXPECT_EQ(slab.Get(1), first + 1);
}

TEST(SlabTest, AllocateAtMakesAReleasedChunkAgain) {
  Slab<Counted> slab;
  for (uint32_t i = 0; i < 2 * kChunk; ++i) slab.Allocate();
  for (uint32_t h = 0; h < kChunk; ++h) slab.Free(h);
  for (uint32_t h = kChunk; h < 2 * kChunk - 1; ++h) slab.Free(h);
  slab.ReleaseSpare();
  EXPECT_EQ(slab.chunks_held(), 1u);  // Chunk 0 went, chunk 1 holds one.
  slab.PrefetchUnlocked(5, sizeof(Counted));  // A released chunk: skipped.
  EXPECT_TRUE(slab.AllocateAt(5, 10 * kChunk));
  EXPECT_EQ(slab.chunks_held(), 2u);
  EXPECT_TRUE(slab.IsLive(5));
  EXPECT_EQ(slab.Get(5)->value, 0u);
  slab.Get(5)->value = 55;
  slab.PrefetchUnlocked(5, sizeof(Counted));
  // Past every chunk: the chunks between are added without memory.
  EXPECT_TRUE(slab.AllocateAt(7 * kChunk + 3, 10 * kChunk));
  EXPECT_EQ(slab.chunks_held(), 3u);
  EXPECT_EQ(slab.end(), 7 * kChunk + 4);
  EXPECT_FALSE(slab.IsLive(5 * kChunk));
  slab.PrefetchUnlocked(5 * kChunk, sizeof(Counted));
  EXPECT_EQ(slab.Get(5)->value, 55u);
  EXPECT_EQ(slab.size(), 3u);
}

TEST(SlabTest, AFreedCellPastTheBumpIndexIsHandedOutInTurn) {
  Slab<Counted> slab;
  EXPECT_TRUE(slab.AllocateAt(10, kChunk));  // Chunk 0, nothing used yet.
  slab.Free(10);
  std::vector<uint32_t> handles;
  for (int i = 0; i < 12; ++i) handles.push_back(slab.Allocate());
  EXPECT_EQ(handles,
            (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

// Random allocations, placements, frees and spare releases, checked after
// every step against a map of what should be live and what each holds.
TEST(SlabTest, MatchesAModelUnderRandomOperations) {
  std::mt19937_64 rng(11);
  Counted::live = 0;
  for (int round = 0; round < 10; ++round) {
    std::atomic<uint64_t> returned{0};
    Slab<Counted> slab(&returned);
    std::map<uint32_t, uint64_t> model;  // Live handle -> value.
    std::vector<Counted*> address(8 * kChunk, nullptr);
    uint64_t next_value = 1;
    uint32_t last_freed = UINT32_MAX;
    std::set<uint32_t> placed;  // By AllocateAt: may wait for the bump scan.
    const uint32_t bound = 6 * kChunk;
    // Phases that grow, then drain, so that chunks empty and come back.
    for (int step = 0; step < 60000; ++step) {
      const bool draining = (step / 7500) % 2 == 1;
      const uint64_t dice = rng() % 100;
      if (!model.empty() && dice < (draining ? 80u : 35u)) {
        auto it = model.begin();
        std::advance(it, rng() % std::min<size_t>(model.size(), 64));
        if (rng() % 2 == 0) {
          it = model.lower_bound(static_cast<uint32_t>(rng() % bound));
          if (it == model.end()) it = model.begin();
        }
        const uint32_t h = it->first;
        ASSERT_EQ(slab.Get(h), address[h]);
        ASSERT_EQ(slab.Get(h)->value, it->second);
        slab.Free(h);
        model.erase(it);
        address[h] = nullptr;
        last_freed = placed.erase(h) == 0 ? h : UINT32_MAX;
        continue;
      }
      uint32_t h;
      if (dice < 90) {
        h = slab.Allocate();
        // The cell just freed comes back first (if Allocate handed it out).
        if (last_freed != UINT32_MAX) {
          ASSERT_EQ(h, last_freed);
        }
      } else if (dice < 99) {
        h = static_cast<uint32_t>(rng() % bound);
        ASSERT_EQ(slab.AllocateAt(h, bound), !model.count(h)) << h;
        if (model.count(h)) continue;
        placed.insert(h);
      } else {
        slab.ReleaseSpare();
        last_freed = UINT32_MAX;
        continue;
      }
      last_freed = UINT32_MAX;
      ASSERT_FALSE(model.count(h)) << h;
      ASSERT_LT(h, address.size());
      ASSERT_EQ(slab.Get(h)->value, 0u);
      slab.Get(h)->value = next_value;
      model[h] = next_value++;
      address[h] = slab.Get(h);
    }
    // Everything the model holds, nothing else, where it always was.
    ASSERT_EQ(slab.size(), model.size());
    ASSERT_EQ(Counted::live, static_cast<int>(model.size()));
    std::vector<uint32_t> seen;
    slab.ForEach([&](uint32_t h, Counted* c) {
      EXPECT_EQ(c, address[h]);
      EXPECT_EQ(c->value, model.at(h));
      seen.push_back(h);
    });
    std::vector<uint32_t> expected;
    for (const auto& [h, value] : model) expected.push_back(h);
    EXPECT_EQ(seen, expected);
    for (uint32_t h = 0; h < bound; ++h) {
      ASSERT_EQ(slab.IsLive(h), model.count(h) == 1) << h;
    }
    // Held: the chunks with a live object, and at most one spare.
    std::set<uint32_t> occupied;
    for (const auto& [h, value] : model) occupied.insert(h / kChunk);
    EXPECT_LE(slab.chunks_held(), occupied.size() + 1);
    EXPECT_GE(slab.chunks_held(), occupied.size());
    if (!model.empty()) {
      EXPECT_GT(slab.end(), model.rbegin()->first);
    }
    EXPECT_GT(returned.load(), 0u) << "round " << round;
  }
  EXPECT_EQ(Counted::live, 0);
}

}  // namespace
}  // namespace sessionwheel::internal
