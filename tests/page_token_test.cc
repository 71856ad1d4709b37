#include "engine/core/page_token.h"

#include <string>

#include "engine/util/sid.h"
#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

using Direction = PageCursor::Direction;

constexpr Sid128 kService{0x1111111111111111, 0x2222222222222222};
constexpr Sid128 kOtherService{0x1111111111111111, 0x2222222222222223};
constexpr Sid128 kServicesList{};  // the Services list has a zero scope
constexpr Sid128 kBoundary{0x0123456789abcdef, 0xfedcba9876543210};

PageCursor Cursor(Direction d, Sid128 sid = kBoundary, uint64_t seq = 77) {
  PageCursor c;
  c.direction = d;
  c.sid = sid;
  c.seq = seq;
  return c;
}

TEST(PageTokenTest, Shape) {
  const std::string after =
      EncodePageToken(Cursor(Direction::kAfter), kService);
  const std::string before =
      EncodePageToken(Cursor(Direction::kBefore), kService);
  ASSERT_EQ(after.size(), 58u);
  ASSERT_EQ(before.size(), 58u);
  EXPECT_EQ(kPageTokenLength, 58u);
  EXPECT_EQ(after.substr(0, 2), "PA");
  EXPECT_EQ(before.substr(0, 2), "PB");
  EXPECT_EQ(after.substr(2, 32), FormatSid("", kBoundary));
  EXPECT_EQ(after.substr(34, 16), "000000000000004d");  // seq 77
  for (size_t i = 2; i < after.size(); ++i) {
    EXPECT_TRUE((after[i] >= '0' && after[i] <= '9') ||
                (after[i] >= 'a' && after[i] <= 'f'))
        << "position " << i;
  }
}

// Tokens handed out stay valid across versions, so the encoding is pinned.
TEST(PageTokenTest, KnownTokens) {
  EXPECT_EQ(EncodePageToken(Cursor(Direction::kAfter), kService),
            "PA0123456789abcdeffedcba9876543210000000000000004d6af185b4");
  EXPECT_EQ(EncodePageToken(Cursor(Direction::kBefore), kServicesList),
            "PB0123456789abcdeffedcba9876543210000000000000004deb28b380");
}

TEST(PageTokenTest, RoundTripsAfter) {
  const PageCursor cursor = Cursor(Direction::kAfter);
  const std::optional<PageCursor> back =
      DecodePageToken(EncodePageToken(cursor, kService), kService);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->direction, Direction::kAfter);
  EXPECT_EQ(back->sid, kBoundary);
  EXPECT_EQ(back->seq, 77u);
}

TEST(PageTokenTest, RoundTripsBefore) {
  const PageCursor cursor = Cursor(Direction::kBefore);
  const std::optional<PageCursor> back =
      DecodePageToken(EncodePageToken(cursor, kService), kService);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->direction, Direction::kBefore);
  EXPECT_EQ(back->sid, kBoundary);
  EXPECT_EQ(back->seq, 77u);
}

TEST(PageTokenTest, RoundTripsManyCursorsAndScopes) {
  SidGenerator gen(17);
  for (int i = 0; i < 2000; ++i) {
    const Sid128 scope = i % 5 == 0 ? Sid128{} : gen.Next();
    const Sid128 sid = gen.Next();
    const PageCursor cursor =
        Cursor(i % 2 == 0 ? Direction::kAfter : Direction::kBefore, sid,
               gen.Next().lo);
    const std::optional<PageCursor> back =
        DecodePageToken(EncodePageToken(cursor, scope), scope);
    ASSERT_TRUE(back.has_value()) << i;
    EXPECT_EQ(*back, cursor);
  }
}

TEST(PageTokenTest, RoundTripsExtremes) {
  for (const Sid128 sid : {Sid128{}, Sid128{UINT64_MAX, UINT64_MAX}}) {
    for (const uint64_t seq : {uint64_t{0}, UINT64_MAX}) {
      for (const Direction d : {Direction::kAfter, Direction::kBefore}) {
        const PageCursor cursor = Cursor(d, sid, seq);
        EXPECT_EQ(DecodePageToken(EncodePageToken(cursor, kServicesList),
                                  kServicesList),
                  cursor);
      }
    }
  }
}

TEST(PageTokenTest, ServicesListScopeRoundTrips) {
  const PageCursor cursor = Cursor(Direction::kAfter);
  EXPECT_EQ(
      DecodePageToken(EncodePageToken(cursor, kServicesList), kServicesList),
      cursor);
}

TEST(PageTokenTest, ForeignScopeRefused) {
  for (const Direction d : {Direction::kAfter, Direction::kBefore}) {
    const std::string token = EncodePageToken(Cursor(d), kService);
    EXPECT_FALSE(DecodePageToken(token, kOtherService).has_value());
    EXPECT_FALSE(DecodePageToken(token, kServicesList).has_value());
    const std::string services_token =
        EncodePageToken(Cursor(d), kServicesList);
    EXPECT_FALSE(DecodePageToken(services_token, kService).has_value());
  }
}

TEST(PageTokenTest, ForeignScopeRefusedForManyScopes) {
  SidGenerator gen(23);
  const std::string token =
      EncodePageToken(Cursor(Direction::kAfter), kService);
  for (int i = 0; i < 10000; ++i) {
    EXPECT_FALSE(DecodePageToken(token, gen.Next()).has_value()) << i;
  }
}

TEST(PageTokenTest, EverySingleCharacterAlterationRefused) {
  const std::string alphabet =
      std::string("0123456789abcdefABCDEFPpgxzZ -_+/=") + std::string(1, '\0') +
      "\x80\xff";
  for (const Direction d : {Direction::kAfter, Direction::kBefore}) {
    const std::string good = EncodePageToken(Cursor(d), kService);
    ASSERT_TRUE(DecodePageToken(good, kService).has_value());
    int tried = 0;
    for (size_t i = 0; i < good.size(); ++i) {
      for (const char c : alphabet) {
        if (c == good[i]) continue;
        std::string bad = good;
        bad[i] = c;
        ++tried;
        EXPECT_FALSE(DecodePageToken(bad, kService).has_value())
            << "position " << i << " changed to 0x" << std::hex
            << (static_cast<int>(c) & 0xff) << ": " << bad;
      }
    }
    EXPECT_GT(tried, 58 * 30);
  }
}

TEST(PageTokenTest, DirectionSwapRefused) {
  std::string token = EncodePageToken(Cursor(Direction::kAfter), kService);
  token[1] = 'B';
  EXPECT_FALSE(DecodePageToken(token, kService).has_value());
}

TEST(PageTokenTest, WrongLengthRefused) {
  const std::string good = EncodePageToken(Cursor(Direction::kAfter), kService);
  EXPECT_FALSE(DecodePageToken("", kService).has_value());
  EXPECT_FALSE(DecodePageToken("PA", kService).has_value());
  EXPECT_FALSE(DecodePageToken(good.substr(0, 57), kService).has_value());
  EXPECT_FALSE(DecodePageToken(good + "0", kService).has_value());
  EXPECT_FALSE(DecodePageToken(good + good, kService).has_value());
  EXPECT_FALSE(DecodePageToken(" " + good, kService).has_value());
  // The Twilio style "PA" + a bare SID is not one of ours.
  EXPECT_FALSE(
      DecodePageToken("PA" + FormatSid("KC", kBoundary), kService).has_value());
}

TEST(PageTokenTest, WrongPrefixRefused) {
  std::string token = EncodePageToken(Cursor(Direction::kAfter), kService);
  for (const char* prefix : {"pa", "Pa", "pA", "PC", "PP", "XA", "AP"}) {
    token.replace(0, 2, prefix);
    EXPECT_FALSE(DecodePageToken(token, kService).has_value()) << prefix;
  }
}

TEST(PageTokenTest, UpperCaseHexRefused) {
  std::string token = EncodePageToken(Cursor(Direction::kAfter), kService);
  for (size_t i = 2; i < token.size(); ++i) {
    if (token[i] >= 'a' && token[i] <= 'f') token[i] = token[i] - 'a' + 'A';
  }
  EXPECT_FALSE(DecodePageToken(token, kService).has_value());
}

}  // namespace
}  // namespace sessionwheel::internal
