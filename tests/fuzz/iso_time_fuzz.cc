// Fuzzes ISO 8601 parsing and formatting (engine/util/iso_time.h). The whole
// input is parsed as a date-time; when the parse succeeds it checks:
//
// - the instant lies within a day of years 0000-9999 (the fields are range
//   checked; only an offset or a leap second can carry it over the edge);
// - inside those years, FormatIsoTime gives text that parses back to the same
//   instant floored to the second, and formatting that is a fixed point;
// - a full date-time means what absl::ParseTime(RFC3339_full) says it means,
//   floored to the second (the parse drops fractions);
// - a second 60 parses only as 23:59:60 UTC, read as the next day's 00:00:00.
//
// Separately, the first 12 bytes pick an instant in years 0000-9999 that must
// survive format-then-parse, floored to the second.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/util/iso_time.h"
#include "tests/fuzz/fuzz_input.h"

namespace sessionwheel::fuzz {
namespace {

using internal::FormatIsoTime;
using internal::ParseIsoTime;

const absl::Time kYear0 =
    absl::FromCivil(absl::CivilSecond(0, 1, 1, 0, 0, 0), absl::UTCTimeZone());
const absl::Time kYear10000 = absl::FromCivil(
    absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());

// FormatIsoTime, then ParseIsoTime: the instant floored to the second.
void CheckFormatRoundTrip(absl::Time t) {
  const std::string text = FormatIsoTime(t);
  const absl::StatusOr<absl::Time> back = ParseIsoTime(text);
  SW_FUZZ_CHECK(back.ok(), "formatted text does not parse: " + text);
  SW_FUZZ_CHECK(*back == absl::Floor(t - kYear0, absl::Seconds(1)) + kYear0,
                "format-parse moved the instant: " + text);
  SW_FUZZ_CHECK(FormatIsoTime(*back) == text, "formatting is no fixed point");
}

void CheckParse(std::string_view text) {
  const absl::StatusOr<absl::Time> parsed = ParseIsoTime(text);
  if (!parsed.ok()) {
    SW_FUZZ_CHECK(!parsed.status().message().empty(), "refusal without why");
    return;
  }
  const absl::Time t = *parsed;
  SW_FUZZ_CHECK(
      t >= kYear0 - absl::Hours(24) && t < kYear10000 + absl::Hours(24),
      "parsed outside years 0000-9999 by more than a day: " +
          std::string(text));
  if (t >= kYear0 && t < kYear10000) CheckFormatRoundTrip(t);

  if (text.size() > 19 && text.substr(17, 2) == "60") {
    const absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
    SW_FUZZ_CHECK(
        cs.hour() == 0 && cs.minute() == 0 && cs.second() == 0,
        "a second 60 read as other than midnight UTC: " + std::string(text));
  }
  if (text.size() > 10) {  // Not a bare date: absl reads the same grammar.
    absl::Time reference;
    std::string error;
    const bool ok = absl::ParseTime(absl::RFC3339_full, std::string(text),
                                    &reference, &error);
    SW_FUZZ_CHECK(
        ok, "absl::ParseTime refuses " + std::string(text) + ": " + error);
    SW_FUZZ_CHECK(
        absl::Floor(reference - kYear0, absl::Seconds(1)) + kYear0 == t,
        "absl::ParseTime reads another instant: " + std::string(text) +
            " absl says " + FormatIsoTime(reference));
  }
}

// An instant in years 0000-9999 with nanoseconds, from 12 input bytes.
absl::Time InstantFrom(FuzzInput& in) {
  const int64_t span = absl::ToInt64Seconds(kYear10000 - kYear0);
  const int64_t seconds = static_cast<int64_t>(in.Integer(8) % span);
  const int64_t nanos = static_cast<int64_t>(in.Integer(4) % 1'000'000'000);
  return kYear0 + absl::Seconds(seconds) + absl::Nanoseconds(nanos);
}

}  // namespace
}  // namespace sessionwheel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessionwheel::fuzz::FuzzInput whole(data, size);
  sessionwheel::fuzz::CheckParse(whole.Rest());
  sessionwheel::fuzz::FuzzInput prefix(data, size);
  sessionwheel::fuzz::CheckFormatRoundTrip(
      sessionwheel::fuzz::InstantFrom(prefix));
  return 0;
}
