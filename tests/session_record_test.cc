// Tests of SessionRecord's compact fields (engine/core/shard.h): the packed
// times and the 4-byte TTL read back exactly at the edges of their range,
// and a value past them, kept whole in the extras, reads back too, also
// after it is replaced by one that fits.

#include <cstdint>
#include <limits>

#include "engine/core/shard.h"
#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

constexpr int64_t kLimit = PackedTime::kLimit;  // 2^47.

// The times a record packs, with a setter and a getter each.
struct PackedAccessors {
  const char* name;
  void (SessionRecord::*set)(int64_t);
  int64_t (SessionRecord::*get)() const;
};
constexpr PackedAccessors kPacked[] = {
    {"created", &SessionRecord::set_created_ms, &SessionRecord::created_ms},
    {"last_interaction", &SessionRecord::set_last_interaction_ms,
     &SessionRecord::last_interaction_ms},
    {"date_expiry", &SessionRecord::set_date_expiry_ms,
     &SessionRecord::date_expiry_ms},
};

TEST(SessionRecordTest, IsTwoCacheLines) {
  EXPECT_EQ(sizeof(SessionRecord), 128u);
}

TEST(SessionRecordTest, ANewRecordHasNullTimesNoTtlAndNoName) {
  SessionRecord rec;
  for (const PackedAccessors& a : kPacked) {
    EXPECT_EQ((rec.*a.get)(), kNoTime) << a.name;
  }
  EXPECT_EQ(rec.ended_ms(), kNoTime);
  EXPECT_EQ(rec.ttl(), 0);
  EXPECT_FALSE(rec.has_name());
  EXPECT_EQ(rec.extras, nullptr);
}

TEST(SessionRecordTest, PackedTimesReadBackAtEveryEdge) {
  // Inside the 6 bytes: both ends, zero, and the two values next to the
  // markers; outside: the markers' own values, 2^47, and int64_t's ends
  // (but kNoTime, which is null).
  const int64_t values[] = {0,
                            1,
                            -1,
                            kLimit - 1,
                            -kLimit + 2,
                            253402300799999,  // 9999-12-31T23:59:59.999Z
                            kLimit,
                            -kLimit,
                            -kLimit + 1,
                            std::numeric_limits<int64_t>::max(),
                            std::numeric_limits<int64_t>::min() + 1,
                            kNoTime};
  for (const PackedAccessors& a : kPacked) {
    SessionRecord rec;
    for (int64_t v : values) {
      (rec.*a.set)(v);
      EXPECT_EQ((rec.*a.get)(), v) << a.name << " " << v;
      // Its neighbours keep theirs.
      for (const PackedAccessors& other : kPacked) {
        if (&other != &a) {
          EXPECT_EQ((rec.*other.get)(), kNoTime) << other.name;
        }
      }
    }
  }
}

TEST(SessionRecordTest, OnlyValuesPastTheRangeTakeTheExtras) {
  SessionRecord rec;
  rec.set_date_expiry_ms(kLimit - 1);
  rec.set_ttl(std::numeric_limits<uint32_t>::max() - 1);
  EXPECT_EQ(rec.extras, nullptr);
  rec.set_date_expiry_ms(kLimit);
  EXPECT_NE(rec.extras, nullptr);
  // Small again: the record's own bytes, whatever the extras still hold.
  rec.set_date_expiry_ms(5);
  EXPECT_EQ(rec.date_expiry_ms(), 5);
}

TEST(SessionRecordTest, TheTtlReadsBackAtEveryEdge) {
  SessionRecord rec;
  const int64_t values[] = {0,
                            1,
                            std::numeric_limits<uint32_t>::max() - 1,
                            std::numeric_limits<uint32_t>::max(),
                            int64_t{1} << 33,
                            253402300799,  // The largest TTL CheckTtl takes.
                            60};
  for (int64_t v : values) {
    rec.set_ttl(v);
    EXPECT_EQ(rec.ttl(), v) << v;
  }
}

TEST(SessionRecordTest, ANameIsInlineUpToItsBytesAndLongerInTheExtras) {
  SessionRecord inline_name;
  const std::string fits(SessionRecord::kInlineNameBytes, 'a');
  inline_name.SetName(fits);
  EXPECT_TRUE(inline_name.has_name());
  EXPECT_EQ(inline_name.unique_name(), fits);
  EXPECT_EQ(inline_name.extras, nullptr);

  SessionRecord long_name;
  const std::string longer(SessionRecord::kInlineNameBytes + 1, 'b');
  long_name.SetName(longer);
  EXPECT_TRUE(long_name.has_name());
  EXPECT_EQ(long_name.unique_name(), longer);
  ASSERT_NE(long_name.extras, nullptr);
}

}  // namespace
}  // namespace sessionwheel::internal
