// ISO 8601 / RFC 3339 times as the Proxy API reads and writes them.
//
// Inputs are parsed strictly by hand rather than with absl::ParseTime, whose
// format strings accept leading spaces, short fields and out-of-range values
// that the API refuses. Outputs are always whole seconds in UTC with a "Z".
//
// Example:
//
//   absl::StatusOr<absl::Time> t = ParseIsoTime("2024-02-29T12:00:00+05:30");
//   FormatIsoTime(*t);  // "2024-02-29T06:30:00Z"

#ifndef SESSIONWHEEL_ENGINE_UTIL_ISO_TIME_H_
#define SESSIONWHEEL_ENGINE_UTIL_ISO_TIME_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sessionwheel::internal {

// Parses RFC 3339 / ISO 8601 date-times as the Proxy API accepts them:
// "YYYY-MM-DDTHH:MM:SS" followed by optional fractional seconds ("." and any
// number of digits) and then "Z" or an offset "+HH:MM"/"-HH:MM" (also +HHMM,
// and lower-case "t"/"z"); or a bare date "YYYY-MM-DD" meaning midnight UTC.
//
// Strict: years 0000-9999, month 01-12, day valid for the month (Gregorian
// leap years), hour 00-23, minute 00-59, second 00-59 (60 only as below),
// offset hours 00-23 and minutes 00-59; every field has exactly its digits;
// no spaces, no trailing garbage, no missing zone.
//
// The result is a whole second: the API writes whole seconds, so a fraction
// is dropped (truncated toward the past) and what an answer shows is the
// instant the engine uses. A leap second is accepted only where one can be,
// 23:59:60 UTC (after the offset is applied), and reads as the next second,
// 00:00:00 of the next day, so a deadline is never earlier than the instant
// it names; any other second 60 is refused.
//
// Returns InvalidArgument with a short human reason on failure.
absl::StatusOr<absl::Time> ParseIsoTime(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SSZ" in UTC, dropping sub-second digits (floor
// toward the past, also for pre-1970 times). Meant for years 0000-9999; other
// years print with as many digits as they need (and a '-' if negative).
std::string FormatIsoTime(absl::Time t);

// Appends the same text to *out.
void AppendIsoTime(std::string* out, absl::Time t);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_UTIL_ISO_TIME_H_
