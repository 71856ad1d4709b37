// Tests of Slab (engine/core/slab.h): handles, reuse, placement at a
// chosen handle for restores, iteration, and that every object is
// constructed and destroyed exactly once.

#include "engine/core/slab.h"

#include <cstdint>
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
  EXPECT_EQ(*handles.rbegin(), 7000u + 1);  // 0..7000 less two, then 7001.
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

}  // namespace
}  // namespace sessionwheel::internal
