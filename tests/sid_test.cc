#include "engine/util/sid.h"

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash_testing.h"
#include "gtest/gtest.h"
#include "sessionwheel/sid.h"

namespace sessionwheel::internal {
namespace {

using std::string_literals::operator""s;

constexpr Sid128 kSample{0x0123456789abcdef, 0xfedcba9876543210};
constexpr char kSampleText[] = "KC0123456789abcdeffedcba9876543210";

TEST(Sid128Test, DefaultIsZero) {
  Sid128 sid;
  EXPECT_TRUE(sid.is_zero());
  EXPECT_EQ(sid.hi, 0u);
  EXPECT_EQ(sid.lo, 0u);
  EXPECT_FALSE((Sid128{0, 1}).is_zero());
  EXPECT_FALSE((Sid128{1, 0}).is_zero());
}

TEST(Sid128Test, EqualityAndOrderByHiThenLo) {
  const Sid128 a{1, 9};
  const Sid128 b{2, 0};
  const Sid128 c{2, 1};
  EXPECT_TRUE(a == (Sid128{1, 9}));
  EXPECT_FALSE(a != (Sid128{1, 9}));
  EXPECT_TRUE(a != b);
  EXPECT_TRUE(a < b);
  EXPECT_TRUE(b < c);
  EXPECT_FALSE(c < b);
  EXPECT_FALSE(a < a);
}

TEST(Sid128Test, OrderMatchesTextOrder) {
  SidGenerator gen(7);
  for (int i = 0; i < 1000; ++i) {
    const Sid128 x = gen.Next();
    const Sid128 y = gen.Next();
    EXPECT_EQ(x < y, FormatSid("KC", x) < FormatSid("KC", y));
  }
}

TEST(Sid128Test, UsableAsAbslHashKey) {
  absl::flat_hash_set<Sid128> set;
  set.insert(Sid128{1, 2});
  set.insert(Sid128{1, 2});
  set.insert(Sid128{2, 1});
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(Sid128{2, 1}));
  EXPECT_FALSE(set.contains(Sid128{2, 2}));
}

TEST(FormatSidTest, PrefixThenLowerCaseHexHiThenLo) {
  EXPECT_EQ(FormatSid("KC", kSample), kSampleText);
}

TEST(FormatSidTest, KeepsLeadingZeros) {
  EXPECT_EQ(FormatSid("KS", Sid128{}), "KS" + std::string(32, '0'));
  EXPECT_EQ(FormatSid("AC", Sid128{0, 1}), "AC" + std::string(31, '0') + "1");
  EXPECT_EQ(FormatSid("KP", Sid128{UINT64_MAX, UINT64_MAX}),
            "KP" + std::string(32, 'f'));
}

TEST(AppendSidTest, AppendsToExistingText) {
  std::string out = "/Sessions/";
  AppendSid(&out, "KC", kSample);
  EXPECT_EQ(out, "/Sessions/"s + kSampleText);
  AppendSid(&out, "", Sid128{});
  EXPECT_EQ(out, "/Sessions/"s + kSampleText + std::string(32, '0'));
}

TEST(ParseSidTest, RoundTrips) {
  SidGenerator gen(1);
  for (int i = 0; i < 1000; ++i) {
    const Sid128 sid = gen.Next();
    const std::optional<Sid128> back = ParseSid("KC", FormatSid("KC", sid));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, sid);
  }
}

TEST(ParseSidTest, ParsesKnownText) {
  const std::optional<Sid128> sid = ParseSid("KC", kSampleText);
  ASSERT_TRUE(sid.has_value());
  EXPECT_EQ(*sid, kSample);
}

TEST(ParseSidTest, AcceptsUpperCaseHex) {
  const std::optional<Sid128> sid =
      ParseSid("KC", "KC0123456789ABCDEFFEDCBA9876543210");
  ASSERT_TRUE(sid.has_value());
  EXPECT_EQ(*sid, kSample);
  EXPECT_EQ(ParseSid("KC", "KC0123456789AbCdEfFeDcBa9876543210"), kSample);
}

TEST(ParseSidTest, EmptyPrefixParsesBareHex) {
  EXPECT_EQ(ParseSid("", "0123456789abcdeffedcba9876543210"), kSample);
}

TEST(ParseSidTest, RejectsEmpty) {
  EXPECT_FALSE(ParseSid("KC", "").has_value());
  EXPECT_FALSE(ParseSid("", "").has_value());
}

TEST(ParseSidTest, RejectsWrongLength) {
  const std::string good = kSampleText;
  EXPECT_FALSE(ParseSid("KC", good.substr(0, 33)).has_value());  // 31 hex
  EXPECT_FALSE(ParseSid("KC", good + "0").has_value());          // 33 hex
  EXPECT_FALSE(ParseSid("KC", "KC").has_value());
  EXPECT_FALSE(ParseSid("KC", good + good).has_value());
}

TEST(ParseSidTest, RejectsWrongPrefix) {
  std::string text = kSampleText;
  text[1] = 'S';
  EXPECT_FALSE(ParseSid("KC", text).has_value());  // "KS..."
  EXPECT_TRUE(ParseSid("KS", text).has_value());
  EXPECT_FALSE(ParseSid("KC", "kc0123456789abcdeffedcba9876543210"));
  EXPECT_FALSE(ParseSid("KC", "Kc0123456789abcdeffedcba9876543210"));
}

TEST(ParseSidTest, RejectsMissingPrefix) {
  // 34 hex digits: right length, but no prefix.
  EXPECT_FALSE(ParseSid("KC", "000123456789abcdeffedcba9876543210"));
  // 32 hex digits: the body alone.
  EXPECT_FALSE(ParseSid("KC", "0123456789abcdeffedcba9876543210"));
}

TEST(ParseSidTest, RejectsNonHexAtEveryPosition) {
  const std::string good = kSampleText;
  for (size_t i = 2; i < good.size(); ++i) {
    for (const char c : {'g', 'G', 'z', ' ', '-', '+', 'x', '\xff'}) {
      std::string bad = good;
      bad[i] = c;
      EXPECT_FALSE(ParseSid("KC", bad).has_value()) << "position " << i;
    }
  }
}

TEST(ParseSidTest, EveryByteAtEveryPositionAgreesWithAPlainParser) {
  // The parser works eight bytes at a time; a byte-by-byte reference decides
  // each of the 256 values at each of the 32 digit positions.
  const auto plain_digit = [](unsigned char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  const std::string good = kSampleText;
  for (size_t i = 2; i < good.size(); ++i) {
    for (int c = 0; c < 256; ++c) {
      std::string text = good;
      text[i] = static_cast<char>(c);
      const std::optional<Sid128> parsed = ParseSid("KC", text);
      const int digit = plain_digit(static_cast<unsigned char>(c));
      ASSERT_EQ(parsed.has_value(), digit >= 0)
          << "position " << i << " byte " << c;
      if (digit < 0) continue;
      // The digit lands in its nibble: hi holds digits 0..15, lo 16..31.
      const size_t d = i - 2;
      const uint64_t word = d < 16 ? parsed->hi : parsed->lo;
      const int shift = 4 * (15 - static_cast<int>(d % 16));
      ASSERT_EQ((word >> shift) & 0xf, static_cast<uint64_t>(digit))
          << "position " << i << " byte " << c;
    }
  }
}

TEST(ParseSidTest, RejectsEmbeddedNul) {
  std::string bad = kSampleText;
  bad[10] = '\0';
  EXPECT_EQ(bad.size(), 34u);
  EXPECT_FALSE(ParseSid("KC", bad).has_value());
  std::string prefix_nul = kSampleText;
  prefix_nul[1] = '\0';
  EXPECT_FALSE(ParseSid("KC", prefix_nul).has_value());
}

TEST(ParseSidTest, RejectsSurroundingSpace) {
  EXPECT_FALSE(ParseSid("KC", " "s + kSampleText).has_value());
  EXPECT_FALSE(ParseSid("KC", kSampleText + " "s).has_value());
}

// A draw given back is drawn again, so a caller that had no use for it
// leaves the sequence as it was; one drawn past stays taken.
TEST(SidGeneratorTest, GiveBackOfTheLastDrawRepeatsIt) {
  SidGenerator gen(7);
  SidGenerator same(7);
  uint64_t draw;
  const Sid128 first = gen.Next(&draw);
  EXPECT_EQ(draw, 0u);
  gen.GiveBack(draw);
  EXPECT_EQ(gen.minted(), 0u);
  EXPECT_EQ(gen.Next(), first);
  EXPECT_EQ(same.Next(), first);
  uint64_t older;
  const Sid128 taken = gen.Next(&older);
  const Sid128 next = gen.Next();
  gen.GiveBack(older);  // Not the last draw: nothing happens.
  EXPECT_EQ(gen.minted(), 3u);
  EXPECT_EQ(same.Next(), taken);
  EXPECT_EQ(same.Next(), next);
  EXPECT_EQ(gen.Next(), same.Next());
}

TEST(ShardByteTest, IsTopByteOfHi) {
  EXPECT_EQ(ShardByte(kSample), 0x01);
  EXPECT_EQ(ShardByte(Sid128{0xab00000000000000, 0}), 0xab);
  // The first two hex digits after the prefix.
  const Sid128 sid = *ParseSid("KC", "KCe70000000000000000000000000000ff");
  EXPECT_EQ(ShardByte(sid), 0xe7);
}

TEST(ShardByteTest, WithShardByteReplacesOnlyThatByte) {
  const Sid128 sid = WithShardByte(kSample, 0xfe);
  EXPECT_EQ(ShardByte(sid), 0xfe);
  EXPECT_EQ(sid.hi, 0xfe23456789abcdef);
  EXPECT_EQ(sid.lo, kSample.lo);
  EXPECT_EQ(WithShardByte(sid, 0x01), kSample);
  EXPECT_EQ(WithShardByte(Sid128{UINT64_MAX, 0}, 0).hi, 0x00ffffffffffffff);
}

TEST(Mix64Test, IsTheSplitMix64Finalizer) {
  EXPECT_EQ(Mix64(0), 0u);
  // The first output of splitmix64 seeded with 0.
  EXPECT_EQ(Mix64(0x9e3779b97f4a7c15), 0xe220a8397b1dcdaf);
}

// These values are part of the file format: unique-name routing and page
// tokens depend on them. If this test fails, StableHash changed; change it
// back rather than the expected values.
TEST(StableHashTest, KnownAnswers) {
  EXPECT_EQ(StableHash(""), 0x568a9b0b1a2c05ecULL);
  EXPECT_EQ(StableHash("a"), 0x9db84adbc690a59eULL);
  EXPECT_EQ(StableHash("abc"), 0xb035c79641b5372aULL);
  EXPECT_EQ(StableHash("12345678"), 0x6e1aa1e37e7eabbcULL);
  EXPECT_EQ(StableHash("123456789"), 0x02e992c956ebdd03ULL);
  EXPECT_EQ(StableHash("my-unique-name"), 0x885638e1be9d54f0ULL);
  EXPECT_EQ(StableHash("The quick brown fox jumps over the lazy dog"),
            0x3933c47484523d4bULL);
  EXPECT_EQ(StableHash("a\0"s), 0x9d92a465bceb56a4ULL);
  EXPECT_EQ(StableHash("abc", 1), 0xd8ed4f7ee2073a35ULL);
  EXPECT_EQ(StableHash("my-unique-name", 0xdeadbeef), 0x20312b826ff24302ULL);
}

TEST(StableHashTest, DefaultSeedIsZero) {
  EXPECT_EQ(StableHash("abc"), StableHash("abc", 0));
  EXPECT_NE(StableHash("abc", 0), StableHash("abc", 1));
}

TEST(StableHashTest, TrailingNulAndLengthMatter) {
  EXPECT_NE(StableHash(""), StableHash("\0"s));
  EXPECT_NE(StableHash("a"), StableHash("a\0"s));
  EXPECT_NE(StableHash("12345678"), StableHash("12345678\0"s));
  EXPECT_NE(StableHash(std::string(8, '\0')),
            StableHash(std::string(16, '\0')));
}

TEST(StableHashTest, DistinctForManyShortNames) {
  absl::flat_hash_set<uint64_t> seen;
  for (int i = 0; i < 100000; ++i) {
    seen.insert(StableHash("name-" + std::to_string(i)));
  }
  EXPECT_EQ(seen.size(), 100000u);
}

// Flipping any one input bit flips about half of the output bits.
TEST(StableHashTest, Avalanche) {
  SidGenerator gen(3);
  int64_t flipped = 0;
  int64_t trials = 0;
  for (size_t len : {1, 7, 8, 9, 16, 31, 64}) {
    for (int sample = 0; sample < 8; ++sample) {
      std::string input(len, '\0');
      for (char& c : input) c = static_cast<char>(gen.Next().lo);
      const uint64_t base = StableHash(input);
      for (size_t bit = 0; bit < 8 * len; ++bit) {
        std::string changed = input;
        changed[bit / 8] =
            static_cast<char>(changed[bit / 8] ^ (1 << (bit % 8)));
        const uint64_t diff = base ^ StableHash(changed);
        ASSERT_NE(diff, 0u);
        flipped += static_cast<int64_t>(std::bitset<64>(diff).count());
        ++trials;
      }
    }
  }
  const double mean = static_cast<double>(flipped) / trials;
  EXPECT_GT(mean, 31.0);
  EXPECT_LT(mean, 33.0);
}

TEST(SidGeneratorTest, SameSeedSameSequence) {
  SidGenerator a(12345);
  SidGenerator b(12345);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(a.Next(), b.Next()) << i;
}

// A seeded store mints the same SIDs in every version; benchmarks and
// scenario tests may rely on that.
TEST(SidGeneratorTest, KnownSequenceForSeed) {
  SidGenerator gen(42);
  EXPECT_EQ(FormatSid("KC", gen.Next()), "KC213b75b32dd0e70cb29ed950786f5ae3");
  EXPECT_EQ(FormatSid("KC", gen.Next()), "KC19c360deeeff2ad1c69f3558819af2c8");
  EXPECT_EQ(FormatSid("KC", gen.Next()), "KC29440f3065f497b3a2e690b03cb0661c");
  SidGenerator zero(0);
  EXPECT_EQ(FormatSid("KC", zero.Next()), "KC5b232ea28e2eae7e48218226ff3cd4bf");
}

TEST(SidGeneratorTest, DistinctSeedsGiveDifferentSequences) {
  for (uint64_t seed = 0; seed < 64; ++seed) {
    SidGenerator a(seed);
    SidGenerator b(seed + 1);
    absl::flat_hash_set<Sid128> from_a;
    for (int i = 0; i < 100; ++i) from_a.insert(a.Next());
    for (int i = 0; i < 100; ++i) {
      EXPECT_FALSE(from_a.contains(b.Next())) << "seed " << seed;
    }
  }
}

TEST(SidGeneratorTest, DistinctOverOneMillionDraws) {
  SidGenerator gen(99);
  absl::flat_hash_set<Sid128> seen;
  seen.reserve(1000000);
  for (int i = 0; i < 1000000; ++i) {
    const Sid128 sid = gen.Next();
    ASSERT_FALSE(sid.is_zero());
    ASSERT_TRUE(seen.insert(sid).second) << "repeat at draw " << i;
  }
}

TEST(SidGeneratorTest, ATaggedGeneratorEndsEverySidInItsTagAndRepeatsNone) {
  for (uint16_t tag : {uint16_t{0}, uint16_t{7}, uint16_t{0xffff}}) {
    SidGenerator gen(99, tag);
    absl::flat_hash_set<Sid128> seen;
    for (int i = 0; i < 200000; ++i) {
      const Sid128 sid = gen.Next();
      ASSERT_FALSE(sid.is_zero());
      ASSERT_EQ(sid.lo & 0xffff, tag) << "draw " << i;
      ASSERT_TRUE(seen.insert(sid).second) << "repeat at draw " << i;
    }
    // The rest of the SID still varies: not the untagged sequence either.
    SidGenerator untagged(99);
    EXPECT_NE(SidGenerator(99, tag).Next(), untagged.Next());
  }
}

TEST(SidGeneratorTest, ConcurrentMintingGivesDistinctSids) {
  constexpr int kPerThread = 100000;
  SidGenerator gen(5);
  std::vector<Sid128> first;
  std::vector<Sid128> second;
  first.reserve(kPerThread);
  second.reserve(kPerThread);
  std::thread t1([&] {
    for (int i = 0; i < kPerThread; ++i) first.push_back(gen.Next());
  });
  std::thread t2([&] {
    for (int i = 0; i < kPerThread; ++i) second.push_back(gen.Next());
  });
  t1.join();
  t2.join();
  absl::flat_hash_set<Sid128> seen(first.begin(), first.end());
  seen.insert(second.begin(), second.end());
  EXPECT_EQ(seen.size(), 2u * kPerThread);

  // Together the threads drew exactly the first 200k of the sequence.
  SidGenerator replay(5);
  for (int i = 0; i < 2 * kPerThread; ++i) {
    ASSERT_TRUE(seen.contains(replay.Next())) << i;
  }
}

// Shards are picked from the top byte, so it must be spread evenly.
TEST(SidGeneratorTest, ShardBytesAreEven) {
  SidGenerator gen(11);
  std::array<int, 256> counts{};
  constexpr int kDraws = 256 * 1000;
  for (int i = 0; i < kDraws; ++i) ++counts[ShardByte(gen.Next())];
  for (int b = 0; b < 256; ++b) {
    EXPECT_GT(counts[b], 850) << "byte " << b;
    EXPECT_LT(counts[b], 1150) << "byte " << b;
  }
}

TEST(SidGeneratorTest, RandomSeedsDiffer) {
  // Equal by chance with probability 2^-64.
  EXPECT_NE(SidGenerator::RandomSeed(), SidGenerator::RandomSeed());
}

}  // namespace
}  // namespace sessionwheel::internal

// The public Sid -------------------------------------------------------------

namespace sessionwheel {
namespace {

using internal::FormatSid;
using internal::Sid128;
using internal::SidGenerator;

constexpr char kText[] = "KC0123456789abcdeffedcba9876543210";
constexpr uint64_t kHi = 0x0123456789abcdef;
constexpr uint64_t kLo = 0xfedcba9876543210;

// Hosts copy SIDs around freely and keep them in their own structs.
static_assert(std::is_trivially_copyable_v<Sid>);
static_assert(sizeof(Sid) == 24);

TEST(SidTest, DefaultIsTheNullSid) {
  const Sid sid;
  EXPECT_TRUE(sid.is_null());
  EXPECT_EQ(sid.prefix(), "");
  EXPECT_EQ(sid.hi(), 0u);
  EXPECT_EQ(sid.lo(), 0u);
  EXPECT_EQ(sid.ToString(), "");
  std::string out = "kept";
  sid.AppendTo(&out);
  EXPECT_EQ(out, "kept");
  EXPECT_FALSE(Sid("KC", 0, 0).is_null());
  EXPECT_NE(Sid(), Sid("KC", 0, 0));
}

TEST(SidTest, ParsesWithoutAPrefixArgument) {
  const std::optional<Sid> sid = Sid::Parse(kText);
  ASSERT_TRUE(sid.has_value());
  EXPECT_EQ(sid->prefix(), "KC");
  EXPECT_EQ(sid->hi(), kHi);
  EXPECT_EQ(sid->lo(), kLo);
  EXPECT_FALSE(sid->is_null());
  EXPECT_EQ(*sid, Sid("KC", kHi, kLo));
  // Any two upper-case letters are a prefix.
  for (const char* prefix : {"KS", "KP", "AC", "ZZ", "AA"}) {
    const std::string text = prefix + std::string(kText + 2);
    const std::optional<Sid> other = Sid::Parse(text);
    ASSERT_TRUE(other.has_value()) << text;
    EXPECT_EQ(other->prefix(), prefix);
    EXPECT_EQ(other->ToString(), text);
  }
}

TEST(SidTest, ParsesWithAPrefixArgument) {
  const std::optional<Sid> sid = Sid::Parse("KC", kText);
  ASSERT_TRUE(sid.has_value());
  EXPECT_EQ(*sid, Sid("KC", kHi, kLo));
  EXPECT_EQ(Sid::Parse("KS", kText), std::nullopt);
  EXPECT_EQ(Sid::Parse("KS", "KS" + std::string(kText + 2)),
            Sid("KS", kHi, kLo));
  // The prefix argument is two characters, or nothing parses.
  EXPECT_EQ(Sid::Parse("", kText), std::nullopt);
  EXPECT_EQ(Sid::Parse("K", kText), std::nullopt);
  EXPECT_EQ(Sid::Parse("KCX", kText), std::nullopt);
}

TEST(SidTest, AcceptsUpperCaseHexAndPrintsLowerCase) {
  const std::optional<Sid> upper =
      Sid::Parse("KC0123456789ABCDEFFEDCBA9876543210");
  ASSERT_TRUE(upper.has_value());
  EXPECT_EQ(*upper, Sid("KC", kHi, kLo));
  EXPECT_EQ(upper->ToString(), kText);
  const std::optional<Sid> mixed =
      Sid::Parse("KC", "KC0123456789AbCdEfFeDcBa9876543210");
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(mixed->ToString(), kText);
}

TEST(SidTest, RefusesAWrongPrefix) {
  const std::string body = kText + 2;
  for (const std::string& text :
       {"kc" + body, "Kc" + body, "kC" + body, "K1" + body, "1C" + body,
        "K-" + body, "K " + body, "00" + body, std::string("K\0", 2) + body,
        "\xc3\x89" + body}) {
    EXPECT_EQ(Sid::Parse(text), std::nullopt) << text;
    EXPECT_EQ(Sid::Parse("KC", text), std::nullopt) << text;
  }
  // The right length with no prefix: 34 hex digits.
  EXPECT_EQ(Sid::Parse("00" + body), std::nullopt);
  EXPECT_EQ(Sid::Parse("KC", "00" + body), std::nullopt);
}

// Parse(prefix, text) is Parse(text) restricted to one prefix: a prefix
// argument that is not two upper-case letters does not make text with it a
// SID (else it would make a Sid whose prefix is no prefix, or, with a NUL,
// one that is_null() with bits set).
TEST(SidTest, PrefixArgumentThatIsNoPrefixParsesNothing) {
  const std::string body = kText + 2;
  for (const std::string& prefix :
       {std::string("kc"), std::string("Kc"), std::string("12"),
        std::string("K-"), std::string("\0C", 2), std::string("\0\0", 2)}) {
    EXPECT_EQ(Sid::Parse(prefix, prefix + body), std::nullopt)
        << "prefix \"" << prefix << "\"";
  }
}

TEST(SidTest, RefusesAWrongLength) {
  const std::string good = kText;
  for (const std::string& text :
       {std::string(), std::string("K"), std::string("KC"), good.substr(0, 33),
        good + "0", good + good, good.substr(2), " " + good, good + " "}) {
    EXPECT_EQ(Sid::Parse(text), std::nullopt) << '"' << text << '"';
    EXPECT_EQ(Sid::Parse("KC", text), std::nullopt) << '"' << text << '"';
  }
}

TEST(SidTest, RefusesWrongCharactersAtEveryPosition) {
  const std::string good = kText;
  for (size_t i = 2; i < good.size(); ++i) {
    for (const char c : {'g', 'G', 'z', ' ', '-', '+', 'x', '\0', '\xff'}) {
      std::string bad = good;
      bad[i] = c;
      EXPECT_EQ(Sid::Parse(bad), std::nullopt) << "position " << i;
      EXPECT_EQ(Sid::Parse("KC", bad), std::nullopt) << "position " << i;
    }
  }
}

TEST(SidTest, ToStringAppendToWriteAndStreamGiveTheText) {
  const Sid sid("KC", kHi, kLo);
  EXPECT_EQ(sid.ToString(), kText);
  EXPECT_EQ(sid.ToString().size(), Sid::kTextSize);

  std::string out = "/Sessions/";
  sid.AppendTo(&out);
  EXPECT_EQ(out, std::string("/Sessions/") + kText);
  sid.AppendTo(&out);
  EXPECT_EQ(out, std::string("/Sessions/") + kText + kText);

  char buffer[Sid::kTextSize + 1];
  buffer[Sid::kTextSize] = '#';
  sid.Write(buffer);
  EXPECT_EQ(std::string_view(buffer, Sid::kTextSize), kText);
  EXPECT_EQ(buffer[Sid::kTextSize], '#');  // No terminator written.

  std::ostringstream stream;
  stream << "[" << sid << "]";
  EXPECT_EQ(stream.str(), std::string("[") + kText + "]");
  EXPECT_EQ(::testing::PrintToString(sid), kText);

  // Leading zeros are kept.
  EXPECT_EQ(Sid("KS", 0, 1).ToString(), "KS" + std::string(31, '0') + "1");
  EXPECT_EQ(Sid("AC", UINT64_MAX, UINT64_MAX).ToString(),
            "AC" + std::string(32, 'f'));
}

TEST(SidTest, RoundTripsAndAgreesWithTheEngineFormat) {
  SidGenerator gen(17);
  for (int i = 0; i < 1000; ++i) {
    const Sid128 body = gen.Next();
    const Sid sid("KP", body.hi, body.lo);
    const std::string text = sid.ToString();
    EXPECT_EQ(text, FormatSid("KP", body));
    EXPECT_EQ(Sid::Parse(text), sid);
    EXPECT_EQ(Sid::Parse("KP", text), sid);
  }
}

TEST(SidTest, EqualityTakesPrefixAndBothHalves) {
  const Sid sid("KC", kHi, kLo);
  EXPECT_EQ(sid, Sid("KC", kHi, kLo));
  EXPECT_FALSE(sid != Sid("KC", kHi, kLo));
  EXPECT_NE(sid, Sid("KS", kHi, kLo));
  EXPECT_NE(sid, Sid("CK", kHi, kLo));
  EXPECT_NE(sid, Sid("KC", kHi ^ 1, kLo));
  EXPECT_NE(sid, Sid("KC", kHi, kLo ^ 1));
}

TEST(SidTest, OrdersAsTheText) {
  static const char* const kPrefixes[] = {"AC", "KC", "KP", "KS"};
  SidGenerator gen(23);
  std::vector<Sid> sids = {Sid(),           Sid("KC", 0, 0),
                           Sid("KC", 0, 1), Sid("KC", 1, 0),
                           Sid("KS", 0, 0), Sid("KC", UINT64_MAX, UINT64_MAX)};
  for (int i = 0; i < 200; ++i) {
    const Sid128 body = gen.Next();
    sids.emplace_back(kPrefixes[i % 4], body.hi, body.lo);
    // Neighbours that differ only in the low half or only in the prefix.
    sids.emplace_back(kPrefixes[i % 4], body.hi, body.lo + 1);
    sids.emplace_back(kPrefixes[(i + 1) % 4], body.hi, body.lo);
  }
  for (const Sid& a : sids) {
    for (const Sid& b : sids) {
      ASSERT_EQ(a < b, a.ToString() < b.ToString()) << a << " " << b;
    }
  }
}

TEST(SidTest, UsableInAbslHashContainers) {
  const Sid kc("KC", kHi, kLo);
  const Sid ks("KS", kHi, kLo);  // The same bits, another kind.
  absl::flat_hash_set<Sid> set = {kc, *Sid::Parse(kText), ks, Sid()};
  EXPECT_EQ(set.size(), 3u);
  EXPECT_TRUE(set.contains(kc));
  EXPECT_TRUE(set.contains(ks));
  EXPECT_TRUE(set.contains(Sid()));
  EXPECT_FALSE(set.contains(Sid("KP", kHi, kLo)));
  EXPECT_FALSE(set.contains(Sid("KC", kHi, kLo + 1)));

  SidGenerator gen(29);
  absl::flat_hash_set<Sid> many;
  for (int i = 0; i < 10000; ++i) {
    const Sid128 body = gen.Next();
    ASSERT_TRUE(many.insert(Sid("KC", body.hi, body.lo)).second);
  }
  EXPECT_EQ(many.size(), 10000u);

  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(
      {Sid(), kc, ks, Sid("KC", kHi, 0), Sid("KC", 0, kLo), Sid("AC", 0, 0)}));
}

// HandleCodec hides a slab handle in a Session SID's 56 bits below the
// shard byte (engine/core/shard.h).
TEST(HandleCodecTest, DecodesEveryHandleItEncodesWhateverTheSaltAndTopByte) {
  const internal::HandleCodec codec(7);
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100000; ++i) {
    const uint32_t handle = static_cast<uint32_t>(rng());
    const uint64_t bits = codec.Encode(handle, rng());
    ASSERT_EQ(bits & ~internal::HandleCodec::kMask, 0u);
    ASSERT_EQ(codec.Decode(bits), handle);
    ASSERT_EQ(codec.Decode(bits | uint64_t{0xab} << 56), handle);
  }
  for (uint32_t handle : {0u, 1u, 0xffffffffu}) {
    EXPECT_EQ(codec.Decode(codec.Encode(handle, 0)), handle);
  }
}

TEST(HandleCodecTest, IsABijectionThatDependsOnItsKey) {
  const internal::HandleCodec a(7), b(8);
  absl::flat_hash_set<uint64_t> seen;
  int same = 0;
  for (uint32_t handle = 0; handle < 20000; ++handle) {
    // Handles in a row, with the same salt, look unrelated, and never
    // collide.
    EXPECT_TRUE(seen.insert(a.Encode(handle, 12345)).second) << handle;
    same += a.Encode(handle, 12345) == b.Encode(handle, 12345);
  }
  EXPECT_EQ(same, 0);
  // Another key reads another handle from the same bits.
  EXPECT_NE(b.Decode(a.Encode(42, 9)), 42u);
}

}  // namespace
}  // namespace sessionwheel
