#include "engine/fake/form.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sessionwheel::internal {
namespace {

using std::string_literals::operator""s;
using Pairs = std::vector<std::pair<std::string, std::string>>;

// DecodeForm's answer as key/value pairs, for one-line comparisons.
Pairs Decode(std::string_view text) {
  Pairs out;
  for (FormField& f : DecodeForm(text)) {
    out.emplace_back(std::move(f.key), std::move(f.value));
  }
  return out;
}

// The value of the only field of `text`.
std::string OnlyValue(std::string_view text) {
  std::vector<FormField> fields = DecodeForm(text);
  EXPECT_EQ(fields.size(), 1u) << text;
  return fields.empty() ? std::string() : fields[0].value;
}

TEST(DecodeFormTest, EmptyTextHasNoFields) {
  EXPECT_TRUE(DecodeForm("").empty());
}

TEST(DecodeFormTest, SplitsFieldsInOrder) {
  EXPECT_EQ(
      Decode("UniqueName=rides&Ttl=3600&Mode=voice-only"),
      (Pairs{
          {"UniqueName", "rides"}, {"Ttl", "3600"}, {"Mode", "voice-only"}}));
}

TEST(DecodeFormTest, PlusAndPercent20BothDecodeToSpace) {
  EXPECT_EQ(OnlyValue("a=Order+%231234"), "Order #1234");
  EXPECT_EQ(OnlyValue("a=Order%20%231234"), "Order #1234");
  EXPECT_EQ(Decode("my+key=x"), (Pairs{{"my key", "x"}}));
}

TEST(DecodeFormTest, Percent2BDecodesToPlus) {
  EXPECT_EQ(OnlyValue("To=%2B15551234567"), "+15551234567");
}

TEST(DecodeFormTest, AcceptsUpperAndLowerCaseHex) {
  EXPECT_EQ(OnlyValue("a=%2f%2F%aB%Ab"), "//\xab\xab");
}

TEST(DecodeFormTest, InvalidEscapesAreKeptLiterally) {
  EXPECT_EQ(OnlyValue("a=%"), "%");
  EXPECT_EQ(OnlyValue("a=%4"), "%4");
  EXPECT_EQ(OnlyValue("a=%GZ"), "%GZ");
  EXPECT_EQ(OnlyValue("a=100%"), "100%");
  EXPECT_EQ(OnlyValue("a=%4G%41"), "%4GA");
  EXPECT_EQ(OnlyValue("a=%%41"), "%A");
  EXPECT_EQ(Decode("%=1&b=%"), (Pairs{{"%", "1"}, {"b", "%"}}));
}

TEST(DecodeFormTest, Percent00YieldsEmbeddedNul) {
  const std::string value = OnlyValue("a=x%00y");
  EXPECT_EQ(value, "x\0y"s);
  EXPECT_EQ(value.size(), 3u);
}

TEST(DecodeFormTest, DecodesUtf8Bytes) {
  EXPECT_EQ(OnlyValue("UniqueName=caf%C3%A9"), "caf\xc3\xa9");
}

TEST(DecodeFormTest, KeyWithoutEqualsHasEmptyValue) {
  EXPECT_EQ(Decode("flag"), (Pairs{{"flag", ""}}));
  EXPECT_EQ(Decode("a=1&flag&b=2"),
            (Pairs{{"a", "1"}, {"flag", ""}, {"b", "2"}}));
}

TEST(DecodeFormTest, KeyWithEqualsAndNothingAfterHasEmptyValue) {
  EXPECT_EQ(Decode("a="), (Pairs{{"a", ""}}));
}

TEST(DecodeFormTest, EqualsFirstGivesEmptyKey) {
  EXPECT_EQ(Decode("=v"), (Pairs{{"", "v"}}));
  EXPECT_EQ(Decode("="), (Pairs{{"", ""}}));
}

TEST(DecodeFormTest, EmptyFieldsAreSkipped) {
  EXPECT_EQ(Decode("a=1&&b=2"), (Pairs{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(Decode("a=1&"), (Pairs{{"a", "1"}}));
  EXPECT_EQ(Decode("&a=1"), (Pairs{{"a", "1"}}));
  EXPECT_TRUE(DecodeForm("&&&").empty());
}

TEST(DecodeFormTest, SplitsOnFirstEqualsOnly) {
  EXPECT_EQ(Decode("a=b=c"), (Pairs{{"a", "b=c"}}));
}

TEST(DecodeFormTest, EscapedSeparatorsAreData) {
  EXPECT_EQ(Decode("a%3Db=c%26d%3De"), (Pairs{{"a=b", "c&d=e"}}));
}

TEST(DecodeFormTest, RepeatedKeysAreKeptInOrder) {
  EXPECT_EQ(Decode("x=1&y=2&x=3"), (Pairs{{"x", "1"}, {"y", "2"}, {"x", "3"}}));
}

TEST(DecodeFormTest, UrlEncodedJsonParticipantDecodesToExactText) {
  // What twilio-python sends: the JSON object of a participant, urlencoded
  // with quote_plus.
  const std::string json =
      R"({"Identifier": "+15551234567", "FriendlyName": "Alice & Bob"})";
  const std::string body =
      "Participants=%7B%22Identifier%22%3A+%22%2B15551234567%22%2C+"
      "%22FriendlyName%22%3A+%22Alice+%26+Bob%22%7D";
  EXPECT_EQ(OnlyValue(body), json);
  EXPECT_EQ(OnlyValue("Participants=" + EncodeFormValue(json)), json);
}

TEST(DecodeFormTest, DecodesOneMebibyteBody) {
  // 1 MiB of "k=v+%41&" fields, then one big value.
  std::string body;
  const std::string field = "k=v+%41&";
  while (body.size() < (1u << 20)) body += field;
  const size_t field_count = body.size() / field.size();
  body += "big=" + std::string(1u << 20, 'x');

  std::vector<FormField> fields = DecodeForm(body);
  ASSERT_EQ(fields.size(), field_count + 1);
  EXPECT_EQ(fields.front().key, "k");
  EXPECT_EQ(fields.front().value, "v A");
  EXPECT_EQ(fields[field_count - 1].value, "v A");
  EXPECT_EQ(fields.back().key, "big");
  EXPECT_EQ(fields.back().value.size(), 1u << 20);
}

TEST(EncodeFormValueTest, UnreservedBytesStay) {
  const std::string unreserved =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
  EXPECT_EQ(EncodeFormValue(unreserved), unreserved);
}

TEST(EncodeFormValueTest, OtherBytesBecomeUpperCasePercentEscapes) {
  EXPECT_EQ(EncodeFormValue("Order #1234"), "Order%20%231234");
  EXPECT_EQ(EncodeFormValue("+1&a=b/c"), "%2B1%26a%3Db%2Fc");
  EXPECT_EQ(EncodeFormValue("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(EncodeFormValue("\0\xff"s), "%00%FF");
  EXPECT_EQ(EncodeFormValue(""), "");
}

TEST(EncodeFormValueTest, EveryByteRoundTripsThroughDecodeForm) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(OnlyValue("v=" + EncodeFormValue(all)), all);
  std::vector<FormField> fields =
      DecodeForm(EncodeFormValue(all) + "=" + EncodeFormValue(all));
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].key, all);
  EXPECT_EQ(fields[0].value, all);
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    EXPECT_EQ(OnlyValue("v=" + EncodeFormValue(one)), one) << "byte " << b;
  }
}

TEST(DecodePathSegmentTest, KeepsPlusAndDecodesPercent20) {
  EXPECT_EQ(DecodePathSegment("Order+%231234"), "Order+#1234");
  EXPECT_EQ(DecodePathSegment("Order%20%231234"), "Order #1234");
  EXPECT_EQ(DecodePathSegment("%2B1"), "+1");
}

TEST(DecodePathSegmentTest, KeepsInvalidEscapesAndDecodesNul) {
  EXPECT_EQ(DecodePathSegment("100%"), "100%");
  EXPECT_EQ(DecodePathSegment("%GZ%4"), "%GZ%4");
  EXPECT_EQ(DecodePathSegment("a%00b"), "a\0b"s);
  EXPECT_EQ(DecodePathSegment("caf%c3%a9"), "caf\xc3\xa9");
}

TEST(FormTest, LastReturnsLastValueOfRepeatedKey) {
  Form form(DecodeForm("Ttl=60&Mode=voice-only&Ttl=3600"));
  EXPECT_EQ(form.Last("Ttl"), std::optional<std::string_view>("3600"));
  EXPECT_EQ(form.Last("Mode"), std::optional<std::string_view>("voice-only"));
}

TEST(FormTest, LastOfMissingKeyIsNullopt) {
  Form form(DecodeForm("Ttl=60"));
  EXPECT_EQ(form.Last("UniqueName"), std::nullopt);
  EXPECT_FALSE(form.Has("UniqueName"));
}

TEST(FormTest, AllReturnsEveryValueInOrder) {
  Form form(DecodeForm("Participants=a&Ttl=1&Participants=b&Participants="));
  EXPECT_EQ(form.All("Participants"),
            (std::vector<std::string_view>{"a", "b", ""}));
  EXPECT_TRUE(form.All("Missing").empty());
}

TEST(FormTest, HasSeesKeysWithEmptyValues) {
  Form form(DecodeForm("UniqueName=&flag"));
  EXPECT_TRUE(form.Has("UniqueName"));
  EXPECT_TRUE(form.Has("flag"));
  EXPECT_EQ(form.Last("UniqueName"), std::optional<std::string_view>(""));
}

TEST(FormTest, KeysAreCaseSensitive) {
  Form form(DecodeForm("ttl=60&UniqueName=x"));
  EXPECT_FALSE(form.Has("Ttl"));
  EXPECT_TRUE(form.Has("ttl"));
  EXPECT_FALSE(form.Has("uniquename"));
}

TEST(FormTest, FieldsKeepsDecodedOrder) {
  Form form(DecodeForm("b=2&a=1&b=3"));
  ASSERT_EQ(form.fields().size(), 3u);
  EXPECT_EQ(form.fields()[0].key, "b");
  EXPECT_EQ(form.fields()[1].key, "a");
  EXPECT_EQ(form.fields()[2].value, "3");
}

TEST(FormTest, KeysAndValuesMayHoldNul) {
  Form form(DecodeForm("a%00b=c%00d"));
  EXPECT_EQ(form.Last("a\0b"s), std::optional<std::string_view>("c\0d"s));
  EXPECT_FALSE(form.Has("a"));
}

}  // namespace
}  // namespace sessionwheel::internal
