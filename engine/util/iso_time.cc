#include "engine/util/iso_time.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace sessionwheel::internal {
namespace {

absl::Status Invalid(std::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid date-time: %s", reason));
}

// Reads exactly `n` decimal digits at text[*pos] into *value and advances.
bool ReadDigits(std::string_view text, size_t* pos, int n, int* value) {
  if (text.size() - *pos < static_cast<size_t>(n)) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *value = v;
  *pos += n;
  return true;
}

// Reads the single character `c` at text[*pos] and advances.
bool ReadChar(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

bool IsLeapYear(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

}  // namespace

absl::StatusOr<absl::Time> ParseIsoTime(std::string_view text) {
  if (text.empty()) return Invalid("empty");
  size_t pos = 0;
  int year, month, day;
  if (!ReadDigits(text, &pos, 4, &year) || !ReadChar(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &month) || !ReadChar(text, &pos, '-') ||
      !ReadDigits(text, &pos, 2, &day)) {
    return Invalid("expected YYYY-MM-DD");
  }
  if (month < 1 || month > 12) return Invalid("month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) {
    return Invalid("day out of range for the month");
  }
  if (pos == text.size()) {
    return absl::FromCivil(absl::CivilDay(year, month, day),
                           absl::UTCTimeZone());
  }

  if (text[pos] != 'T' && text[pos] != 't') {
    return Invalid("expected 'T' after the date");
  }
  ++pos;
  int hour, minute, second;
  if (!ReadDigits(text, &pos, 2, &hour) || !ReadChar(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &minute) || !ReadChar(text, &pos, ':') ||
      !ReadDigits(text, &pos, 2, &second)) {
    return Invalid("expected HH:MM:SS after 'T'");
  }
  if (hour > 23) return Invalid("hour out of range");
  if (minute > 59) return Invalid("minute out of range");
  if (second > 60) return Invalid("second out of range");

  // RFC 3339 allows any number of fractional digits; the API names whole
  // seconds, so they are read and dropped (truncated toward the past).
  if (pos < text.size() && text[pos] == '.') {
    const size_t first = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == first) return Invalid("expected digits after '.'");
  }

  if (pos >= text.size()) return Invalid("missing zone ('Z' or an offset)");
  int offset_seconds = 0;
  const char zone = text[pos++];
  if (zone == 'Z' || zone == 'z') {
    // UTC.
  } else if (zone == '+' || zone == '-') {
    int off_hour, off_minute;
    if (!ReadDigits(text, &pos, 2, &off_hour)) {
      return Invalid("expected an offset +HH:MM");
    }
    ReadChar(text, &pos, ':');  // optional: +HH:MM or +HHMM
    if (!ReadDigits(text, &pos, 2, &off_minute)) {
      return Invalid("expected an offset +HH:MM");
    }
    if (off_hour > 23 || off_minute > 59) return Invalid("offset out of range");
    offset_seconds = (off_hour * 60 + off_minute) * 60;
    if (zone == '-') offset_seconds = -offset_seconds;
  } else {
    return Invalid("expected 'Z' or an offset");
  }
  if (pos != text.size()) return Invalid("trailing characters");

  const absl::Time utc =
      absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, 0),
                      absl::UTCTimeZone()) -
      absl::Seconds(offset_seconds);
  if (second == 60) {
    // A leap second is inserted only after 23:59:59 UTC; it reads as the
    // next second, 00:00:00 of the next day, so a deadline is never earlier
    // than the instant it names.
    const absl::CivilSecond cs = absl::ToCivilSecond(utc, absl::UTCTimeZone());
    if (cs.hour() != 23 || cs.minute() != 59) {
      return Invalid("second 60 outside a leap second (23:59:60 UTC)");
    }
  }
  return utc + absl::Seconds(second);
}

std::string FormatIsoTime(absl::Time t) {
  std::string out;
  AppendIsoTime(&out, t);
  return out;
}

void AppendIsoTime(std::string* out, absl::Time t) {
  // ToCivilSecond floors, so 1969-12-31T23:59:59.5Z stays in that second.
  const absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  absl::StrAppendFormat(out, "%04d-%02d-%02dT%02d:%02d:%02dZ", cs.year(),
                        cs.month(), cs.day(), cs.hour(), cs.minute(),
                        cs.second());
}

}  // namespace sessionwheel::internal
