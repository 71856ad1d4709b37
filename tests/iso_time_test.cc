#include "engine/util/iso_time.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s),
                         absl::UTCTimeZone());
}

// Parses `text`, which must be valid.
absl::Time Parse(const std::string& text) {
  absl::StatusOr<absl::Time> t = ParseIsoTime(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return t.ok() ? *t : absl::InfinitePast();
}

void ExpectInvalid(const std::string& text) {
  absl::StatusOr<absl::Time> t = ParseIsoTime(text);
  EXPECT_FALSE(t.ok()) << "accepted \"" << text << "\" as " << *t;
  if (!t.ok()) {
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_FALSE(t.status().message().empty());
  }
}

TEST(ParseIsoTimeTest, Utc) {
  EXPECT_EQ(Parse("2024-03-15T10:20:30Z"), Utc(2024, 3, 15, 10, 20, 30));
  EXPECT_EQ(Parse("1970-01-01T00:00:00Z"), absl::UnixEpoch());
}

TEST(ParseIsoTimeTest, LowerCaseTAndZ) {
  EXPECT_EQ(Parse("2024-03-15t10:20:30z"), Utc(2024, 3, 15, 10, 20, 30));
  EXPECT_EQ(Parse("2024-03-15t10:20:30Z"), Utc(2024, 3, 15, 10, 20, 30));
}

TEST(ParseIsoTimeTest, PositiveOffsetIsEarlierInUtc) {
  EXPECT_EQ(Parse("2024-03-15T10:20:30+05:30"), Utc(2024, 3, 15, 4, 50, 30));
  EXPECT_EQ(Parse("2024-03-15T10:20:30+0530"), Utc(2024, 3, 15, 4, 50, 30));
}

TEST(ParseIsoTimeTest, NegativeOffsetIsLaterInUtc) {
  EXPECT_EQ(Parse("2024-03-15T22:00:00-03:00"), Utc(2024, 3, 16, 1, 0, 0));
  EXPECT_EQ(Parse("2024-03-15T22:00:00-0300"), Utc(2024, 3, 16, 1, 0, 0));
}

TEST(ParseIsoTimeTest, ZeroOffsetsAreUtc) {
  EXPECT_EQ(Parse("2024-03-15T10:20:30+00:00"), Utc(2024, 3, 15, 10, 20, 30));
  EXPECT_EQ(Parse("2024-03-15T10:20:30-00:00"), Utc(2024, 3, 15, 10, 20, 30));
}

TEST(ParseIsoTimeTest, OffsetCrossesYear) {
  EXPECT_EQ(Parse("2025-01-01T00:30:00+01:00"), Utc(2024, 12, 31, 23, 30, 0));
  EXPECT_EQ(Parse("2024-12-31T23:59:59-23:59"), Utc(2025, 1, 1, 23, 58, 59));
}

TEST(ParseIsoTimeTest, FractionalSecondsAreTruncatedToTheSecond) {
  const absl::Time base = Utc(2024, 3, 15, 10, 20, 30);
  EXPECT_EQ(Parse("2024-03-15T10:20:30.5Z"), base);
  EXPECT_EQ(Parse("2024-03-15T10:20:30.999Z"), base);
  EXPECT_EQ(Parse("2024-03-15T10:20:30.000000001Z"), base);
  EXPECT_EQ(Parse("2024-03-15T10:20:30.0Z"), base);
  EXPECT_EQ(Parse("2024-03-15T10:20:30.25+01:00"), base - absl::Hours(1));
  // RFC 3339 sets no limit on the digits.
  EXPECT_EQ(Parse("2024-03-15T10:20:30.1234567891Z"), base);
  EXPECT_EQ(Parse("2024-03-15T10:20:30." + std::string(40, '9') + "Z"), base);
  // Before 1970 too: toward the past, not toward zero.
  EXPECT_EQ(Parse("1969-12-31T23:59:59.5Z"), Utc(1969, 12, 31, 23, 59, 59));
}

TEST(ParseIsoTimeTest, BareDateIsMidnightUtc) {
  EXPECT_EQ(Parse("2024-03-15"), Utc(2024, 3, 15));
  EXPECT_EQ(Parse("1969-07-20"), Utc(1969, 7, 20));
}

TEST(ParseIsoTimeTest, YearRange) {
  EXPECT_EQ(Parse("0000-01-01T00:00:00Z"), Utc(0, 1, 1));
  EXPECT_EQ(Parse("9999-12-31T23:59:59Z"), Utc(9999, 12, 31, 23, 59, 59));
  ExpectInvalid("10000-01-01T00:00:00Z");
  ExpectInvalid("-0001-01-01T00:00:00Z");
  ExpectInvalid("+2024-01-01T00:00:00Z");
  ExpectInvalid("999-01-01T00:00:00Z");
}

TEST(ParseIsoTimeTest, LeapDay) {
  EXPECT_EQ(Parse("2024-02-29"), Utc(2024, 2, 29));
  EXPECT_EQ(Parse("2000-02-29T12:00:00Z"), Utc(2000, 2, 29, 12));
  ExpectInvalid("2023-02-29");
  ExpectInvalid("2023-02-29T12:00:00Z");
  ExpectInvalid("1900-02-29T12:00:00Z");  // divisible by 100, not by 400
  ExpectInvalid("2024-02-30");
}

TEST(ParseIsoTimeTest, DayValidForEachMonth) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int m = 1; m <= 12; ++m) {
    const std::string last = absl::StrFormat("2023-%02d-%02d", m, kDays[m - 1]);
    const std::string past =
        absl::StrFormat("2023-%02d-%02d", m, kDays[m - 1] + 1);
    EXPECT_EQ(Parse(last), Utc(2023, m, kDays[m - 1]));
    ExpectInvalid(past);
  }
}

TEST(ParseIsoTimeTest, InvalidMonth) {
  ExpectInvalid("2024-00-10T00:00:00Z");
  ExpectInvalid("2024-13-10T00:00:00Z");
  ExpectInvalid("2024-13-10");
}

TEST(ParseIsoTimeTest, InvalidDay) {
  ExpectInvalid("2024-01-00T00:00:00Z");
  ExpectInvalid("2024-01-32T00:00:00Z");
  ExpectInvalid("2024-04-31T00:00:00Z");
}

TEST(ParseIsoTimeTest, InvalidTimeOfDay) {
  ExpectInvalid("2024-01-10T24:00:00Z");
  ExpectInvalid("2024-01-10T23:60:00Z");
  ExpectInvalid("2024-01-10T23:59:61Z");
  ExpectInvalid("2024-01-10T99:00:00Z");
}

TEST(ParseIsoTimeTest, LeapSecondReadsAsTheNextSecond) {
  EXPECT_EQ(Parse("2016-12-31T23:59:60Z"), Utc(2017, 1, 1));
  // The fraction of a leap second is dropped, never carried past :00.
  EXPECT_EQ(Parse("2016-12-31T23:59:60.999Z"), Utc(2017, 1, 1));
  // 23:59:60 UTC written in another zone.
  EXPECT_EQ(Parse("2017-01-01T05:29:60+05:30"), Utc(2017, 1, 1));
  EXPECT_EQ(Parse("2016-12-31T18:59:60-05:00"), Utc(2017, 1, 1));
  // Agrees with absl::ParseTime.
  absl::Time absl_time;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2016-12-31T23:59:60Z",
                              &absl_time, &err))
      << err;
  EXPECT_EQ(Parse("2016-12-31T23:59:60Z"), absl_time);
}

TEST(ParseIsoTimeTest, SecondSixtyOutsideALeapSecondIsRefused) {
  // A leap second is inserted only after 23:59:59 UTC.
  ExpectInvalid("2024-01-10T12:34:60Z");
  ExpectInvalid("2016-12-31T23:58:60Z");
  ExpectInvalid("2016-12-31T22:59:60Z");
  ExpectInvalid("2016-12-31T23:59:60+01:00");  // 22:59:60 UTC
  ExpectInvalid("2017-01-01T05:30:60+05:30");  // 00:00:60 UTC
}

TEST(ParseIsoTimeTest, InvalidOffset) {
  ExpectInvalid("2024-01-10T10:00:00+24:00");
  ExpectInvalid("2024-01-10T10:00:00+05:60");
  ExpectInvalid("2024-01-10T10:00:00+5:30");
  ExpectInvalid("2024-01-10T10:00:00+05");
  ExpectInvalid("2024-01-10T10:00:00+05:3");
  ExpectInvalid("2024-01-10T10:00:00+053");
  ExpectInvalid("2024-01-10T10:00:00+05-30");
  ExpectInvalid("2024-01-10T10:00:00 +05:30");
}

TEST(ParseIsoTimeTest, MissingZone) {
  ExpectInvalid("2024-01-10T10:00:00");
  ExpectInvalid("2024-01-10T10:00:00.5");
}

TEST(ParseIsoTimeTest, BadFraction) {
  ExpectInvalid("2024-01-10T10:00:00.Z");
  ExpectInvalid("2024-01-10T10:00:00,5Z");
  ExpectInvalid("2024-01-10T10:00:00.5.5Z");
}

TEST(ParseIsoTimeTest, TrailingGarbage) {
  ExpectInvalid("2024-01-10T10:00:00Zx");
  ExpectInvalid("2024-01-10T10:00:00ZZ");
  ExpectInvalid("2024-01-10T10:00:00+05:30x");
  ExpectInvalid("2024-01-10T10:00:00+05:30:00");
  ExpectInvalid("2024-01-10x");
  ExpectInvalid("2024-01-10T");
  ExpectInvalid(std::string("2024-01-10T10:00:00Z\0", 21));
}

TEST(ParseIsoTimeTest, Spaces) {
  ExpectInvalid(" 2024-01-10T10:00:00Z");
  ExpectInvalid("2024-01-10T10:00:00Z ");
  ExpectInvalid("2024-01-10 10:00:00Z");
  ExpectInvalid(" 2024-01-10");
  ExpectInvalid("2024-01-10 ");
}

TEST(ParseIsoTimeTest, WrongShape) {
  ExpectInvalid("");
  ExpectInvalid("2024");
  ExpectInvalid("2024-01");
  ExpectInvalid("2024-1-10");
  ExpectInvalid("2024-01-1");
  ExpectInvalid("2024/01/10");
  ExpectInvalid("20240110");
  ExpectInvalid("20240110T100000Z");
  ExpectInvalid("2024-01-10T10:00Z");
  ExpectInvalid("2024-01-10T1:00:00Z");
  ExpectInvalid("2024-01-10T10:0a:00Z");
  ExpectInvalid("2024-01-10X10:00:00Z");
  ExpectInvalid("1700000000");
  ExpectInvalid("now");
}

TEST(ParseIsoTimeTest, EmptyHasReason) {
  absl::StatusOr<absl::Time> t = ParseIsoTime("");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("empty"), std::string::npos);
}

TEST(FormatIsoTimeTest, WholeSecondsUtc) {
  EXPECT_EQ(FormatIsoTime(Utc(2024, 3, 15, 10, 20, 30)),
            "2024-03-15T10:20:30Z");
  EXPECT_EQ(FormatIsoTime(absl::UnixEpoch()), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoTime(Utc(5, 1, 2, 3, 4, 5)), "0005-01-02T03:04:05Z");
}

TEST(FormatIsoTimeTest, FloorsSubSeconds) {
  const absl::Time t = Utc(2024, 3, 15, 10, 20, 30);
  EXPECT_EQ(FormatIsoTime(t + absl::Nanoseconds(999999999)),
            "2024-03-15T10:20:30Z");
  EXPECT_EQ(FormatIsoTime(t + absl::Milliseconds(500)), "2024-03-15T10:20:30Z");
  EXPECT_EQ(FormatIsoTime(t - absl::Nanoseconds(1)), "2024-03-15T10:20:29Z");
}

TEST(FormatIsoTimeTest, FloorsBefore1970) {
  EXPECT_EQ(FormatIsoTime(absl::UnixEpoch() - absl::Milliseconds(500)),
            "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatIsoTime(absl::UnixEpoch() - absl::Nanoseconds(1)),
            "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatIsoTime(Utc(1969, 7, 20, 20, 17, 40) + absl::Milliseconds(1)),
            "1969-07-20T20:17:40Z");
  EXPECT_EQ(FormatIsoTime(Utc(1969, 7, 20, 20, 17, 40) - absl::Milliseconds(1)),
            "1969-07-20T20:17:39Z");
}

TEST(AppendIsoTimeTest, Appends) {
  std::string out = "date_created=";
  AppendIsoTime(&out, absl::UnixEpoch());
  EXPECT_EQ(out, "date_created=1970-01-01T00:00:00Z");
}

TEST(IsoTimeTest, FormatThenParseRoundTrips) {
  for (int64_t s :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{951782400},
        int64_t{1700000000}, int64_t{-2208988800}, int64_t{253402300799}}) {
    const absl::Time t = absl::FromUnixSeconds(s);
    EXPECT_EQ(Parse(FormatIsoTime(t)), t) << s;
  }
}

TEST(IsoTimeTest, ParseThenFormatNormalisesToUtc) {
  EXPECT_EQ(FormatIsoTime(Parse("2024-02-29T12:00:00.75+05:30")),
            "2024-02-29T06:30:00Z");
  EXPECT_EQ(FormatIsoTime(Parse("2024-02-29")), "2024-02-29T00:00:00Z");
}

}  // namespace
}  // namespace sessionwheel::internal
