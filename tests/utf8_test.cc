#include "engine/util/utf8.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

using std::string_literals::operator""s;

// Encodes one code point without any checks, so tests can build
// surrogates and out-of-range values on purpose.
std::string Encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
  return out;
}

TEST(IsValidUtf8Test, Empty) { EXPECT_TRUE(IsValidUtf8("")); }

TEST(IsValidUtf8Test, Ascii) {
  EXPECT_TRUE(IsValidUtf8("hello, world"));
  EXPECT_TRUE(IsValidUtf8("\x01\x7f"));
  EXPECT_TRUE(IsValidUtf8("a\0b"s));  // NUL is a code point
}

TEST(IsValidUtf8Test, TwoByte) {
  EXPECT_TRUE(IsValidUtf8("\xc2\x80"));     // U+0080, the lowest
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9"));  // café
  EXPECT_TRUE(IsValidUtf8("\xdf\xbf"));     // U+07FF, the highest
}

TEST(IsValidUtf8Test, ThreeByte) {
  EXPECT_TRUE(IsValidUtf8("\xe0\xa0\x80"));              // U+0800, the lowest
  EXPECT_TRUE(IsValidUtf8("\xe2\x82\xac"));              // €
  EXPECT_TRUE(IsValidUtf8("\xe6\x97\xa5\xe6\x9c\xac"));  // 日本
  EXPECT_TRUE(IsValidUtf8("\xed\x9f\xbf"));  // U+D7FF, just below surrogates
  EXPECT_TRUE(IsValidUtf8("\xee\x80\x80"));  // U+E000, just above
  EXPECT_TRUE(IsValidUtf8("\xef\xbf\xbf"));  // U+FFFF
}

TEST(IsValidUtf8Test, FourByte) {
  EXPECT_TRUE(IsValidUtf8("\xf0\x90\x80\x80"));  // U+10000, the lowest
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // 😀
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf"));  // U+10FFFF, the highest
}

TEST(IsValidUtf8Test, EveryScalarValueEncodesValidly) {
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    ASSERT_EQ(IsValidUtf8(Encode(cp)), !surrogate) << std::hex << cp;
  }
}

TEST(IsValidUtf8Test, RejectsOverlong) {
  EXPECT_FALSE(IsValidUtf8("\xc0\x80"));          // U+0000 in 2 bytes
  EXPECT_FALSE(IsValidUtf8("\xc1\xbf"));          // U+007F in 2 bytes
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // '/' in 2 bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\x80"));      // U+0000 in 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xe0\x9f\xbf"));      // U+07FF in 3 bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x80\x80\x80"));  // U+0000 in 4 bytes
  EXPECT_FALSE(IsValidUtf8("\xf0\x8f\xbf\xbf"));  // U+FFFF in 4 bytes
}

TEST(IsValidUtf8Test, RejectsSurrogates) {
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));              // U+D800
  EXPECT_FALSE(IsValidUtf8("\xed\xbf\xbf"));              // U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\xbd\xed\xb8\x80"));  // CESU-8 pair
}

TEST(IsValidUtf8Test, RejectsAboveMaxCodePoint) {
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // U+110000
  EXPECT_FALSE(IsValidUtf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("\xf7\xbf\xbf\xbf"));
  EXPECT_FALSE(IsValidUtf8("\xf8\x88\x80\x80\x80"));      // old 5-byte form
  EXPECT_FALSE(IsValidUtf8("\xfc\x84\x80\x80\x80\x80"));  // old 6-byte form
}

TEST(IsValidUtf8Test, RejectsInvalidBytes) {
  EXPECT_FALSE(IsValidUtf8("\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("a\xffz"));
}

TEST(IsValidUtf8Test, RejectsStrayContinuation) {
  EXPECT_FALSE(IsValidUtf8("\x80"));
  EXPECT_FALSE(IsValidUtf8("\xbf"));
  EXPECT_FALSE(IsValidUtf8("a\x80z"));
  EXPECT_FALSE(IsValidUtf8("\xc3\xa9\xa9"));  // é plus one too many
}

TEST(IsValidUtf8Test, RejectsTruncated) {
  EXPECT_FALSE(IsValidUtf8("\xc3"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xe2"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f"));
  EXPECT_FALSE(IsValidUtf8("\xf0"));
  EXPECT_FALSE(IsValidUtf8("abc\xe2\x82"));
}

TEST(IsValidUtf8Test, RejectsInterruptedSequence) {
  EXPECT_FALSE(IsValidUtf8("\xc3z"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82z"));
  EXPECT_FALSE(IsValidUtf8("\xf0\x9f\x98z"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82\xc3\xa9"));  // a new lead too early
  EXPECT_FALSE(IsValidUtf8("\xe2\0\xac"s));
}

TEST(IsValidUtf8Test, EveryTruncationOfAValidStringIsCaught) {
  const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  ASSERT_TRUE(IsValidUtf8(s));
  // Valid exactly at code point boundaries.
  for (size_t n = 0; n <= s.size(); ++n) {
    const bool boundary = n == 0 || n == 1 || n == 3 || n == 6 || n == 10;
    EXPECT_EQ(IsValidUtf8(s.substr(0, n)), boundary) << n;
  }
}

TEST(Utf8LengthTest, CountsCodePoints) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("a\0b"s), 3u);
  EXPECT_EQ(Utf8Length("caf\xc3\xa9"), 4u);
  EXPECT_EQ(Utf8Length("\xe6\x97\xa5\xe6\x9c\xac"), 2u);
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1u);
  EXPECT_EQ(Utf8Length("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), 4u);
}

TEST(Utf8LengthTest, LimitIsInCharactersNotBytes) {
  std::string name;
  for (int i = 0; i < 191; ++i) name += "\xf0\x9f\x98\x80";
  EXPECT_EQ(name.size(), 764u);
  EXPECT_TRUE(IsValidUtf8(name));
  EXPECT_EQ(Utf8Length(name), 191u);
}

}  // namespace
}  // namespace sessionwheel::internal
