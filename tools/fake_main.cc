// sessionwheel-fake: the Proxy fake behind a pipe, for tests in any language.
//
// Reads one command a line on stdin and answers each with exactly one JSON
// line on stdout, flushed at once, so a test can write a line and read a line:
//
//   METHOD TARGET [FORM-BODY]   {"status": <http>, "body": <JSON or null>}
//   now [DATE-TIME]             {"now": "YYYY-MM-DDTHH:MM:SSZ"}
//   advance N(ms|s|m|h)         {"now": "YYYY-MM-DDTHH:MM:SSZ"}
//
// Blank lines and lines starting with '#' get no answer. A line the tool
// cannot read gets a 400 answer with error code 80701, and a line longer than
// any request the fake takes a 413 answer with code 20413 (it is read to its
// end but not kept); the tool carries on. docs/testing-with-the-fake.md is
// the full protocol.
//
// Example:
//
//   $ printf 'now 2030-01-01T00:00:00Z\nPOST /v1/Services UniqueName=rides\n' |
//       sessionwheel-fake --seed 7
//   {"now":"2030-01-01T00:00:00Z"}
//   {"status":201,"body":{"sid":"KS...","unique_name":"rides",...}}

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "engine/util/iso_time.h"
#include "engine/util/str_cat.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/proxy_fake.h"
#include "tools/flags.h"

ABSL_FLAG(std::string, base, sessionwheel::ProxyFakeOptions().base_url,
          "base of every url in answers");
ABSL_FLAG(int64_t, seed, 1, "seed of the minted SIDs");
ABSL_FLAG(bool, auto_services, false,
          "create an unknown KS... Service on first use");
ABSL_FLAG(
    int64_t, retention,
    absl::ToInt64Seconds(sessionwheel::ProxyFakeOptions().closed_retention),
    "seconds ended Sessions stay before they are purged; 7776000 is 90 days");
namespace sessionwheel {
namespace {

// A limit of ProxyFakeOptions as a flag's value, and back: kNoLimit is
// "none".
tools::Limit LimitFlag(int64_t max) {
  return max == kNoLimit ? tools::Limit{} : tools::Limit{max};
}
int64_t LimitOption(const tools::Limit& flag) {
  return flag.max.value_or(kNoLimit);
}

}  // namespace
}  // namespace sessionwheel

// The limits default to ProxyFakeOptions', which bound the fake's memory
// (docs/testing-with-the-fake.md, "Memory").
ABSL_FLAG(
    sessionwheel::tools::Limit, max_sessions,
    sessionwheel::LimitFlag(sessionwheel::ProxyFakeOptions().max_sessions),
    "the most Sessions held, ended ones included, 429 past it; none "
    "for no limit");
ABSL_FLAG(sessionwheel::tools::Limit, max_sessions_per_service,
          sessionwheel::LimitFlag(
              sessionwheel::ProxyFakeOptions().max_sessions_per_service),
          "the most Sessions one Service holds, 429 past it; none for no "
          "limit");
ABSL_FLAG(
    sessionwheel::tools::Limit, max_services,
    sessionwheel::LimitFlag(sessionwheel::ProxyFakeOptions().max_services),
    "the most Services held, 429 past it; none for no limit");
ABSL_FLAG(
    sessionwheel::tools::Limit, max_interactions,
    sessionwheel::LimitFlag(sessionwheel::ProxyFakeOptions().max_interactions),
    "the most Interactions (messages to Participants) held, 429 past "
    "it; none for no limit");
ABSL_FLAG(sessionwheel::tools::Limit, max_interactions_per_session,
          sessionwheel::LimitFlag(
              sessionwheel::ProxyFakeOptions().max_interactions_per_session),
          "the most Interactions one Session holds, 429 past it; none for no "
          "limit");

namespace sessionwheel {
namespace {

using internal::Cat;

// Keeps the fake's field order when its answers are re-emitted.
using Json = nlohmann::ordered_json;

// The flags are listed after this text by tools::ParseFlagsOrExit.
constexpr char kUsage[] =
    "usage: sessionwheel-fake [--base URL] [--seed N] [--auto-services]\n"
    "                         [--retention SECONDS] [--max-sessions N|none]\n"
    "                         [--max-sessions-per-service N|none]\n"
    "                         [--max-services N|none]\n"
    "                         [--max-interactions N|none]\n"
    "                         [--max-interactions-per-session N|none]\n"
    "                         [--help]\n"
    "\n"
    "Serves the Proxy Session API fake over stdin/stdout, one command a line:\n"
    "  METHOD TARGET [FORM-BODY]  a request, e.g.\n"
    "                             POST /v1/Services/KS.../Sessions Ttl=3600\n"
    "  now [DATE-TIME]            set the clock (ISO 8601), or just show it\n"
    "  advance N(ms|s|m|h)        move the clock forward, e.g. advance 90s\n"
    "Each command is answered with one JSON line. Blank lines and lines\n"
    "starting with '#' are ignored. The clock starts at the system time.\n"
    "The limits have bounded defaults, so that the fake's memory is bounded\n"
    "too; a value of none lifts one, e.g. --max-sessions none.\n";

constexpr std::string_view kSpaces = " \t\r";

// A command line may be this much longer than the fake's largest body: room
// for the method, a target (the fake reads at most 8 KiB of it) and blanks.
constexpr size_t kLineOverhead = 16 * 1024;

// The clock stays within the years the answers write with four digits:
// 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
constexpr absl::Time kEarliest = absl::FromUnixSeconds(-62167219200);
constexpr absl::Time kLatest = absl::FromUnixSeconds(253402300799);

std::string Dump(const Json& json) {
  // Replaces invalid UTF-8 rather than throwing.
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// An answer of the tool's own, shaped as the fake's error answers.
Json ErrorAnswer(int http, int code, std::string_view message) {
  Json body = Json::object();
  body["code"] = code;
  body["message"] = std::string(message);
  body["more_info"] =
      Cat("https://www.twilio.com/docs/errors/", std::to_string(code));
  body["status"] = http;
  Json answer = Json::object();
  answer["status"] = http;
  answer["body"] = std::move(body);
  return answer;
}

// The answer to a line the tool cannot read: a 400 with the body the fake
// gives for an invalid parameter, naming the part of the line at fault.
Json BadLine(std::string_view part, std::string_view why) {
  return ErrorAnswer(400, 80701, Cat("'", part, "' is invalid. ", why));
}

// How reading a line ended.
enum class LineRead { kLine, kTooLong, kEnd };

// Reads the next line of `in` into *line, without its '\n' (the last line
// may lack one). Keeps at most `max` bytes: the rest of a longer line is
// read and dropped, and the answer is kTooLong, so no line of input can
// take more memory than that.
LineRead ReadLine(std::istream& in, size_t max, std::string* line) {
  line->clear();
  bool too_long = false;
  std::streambuf* buffer = in.rdbuf();
  for (;;) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) {
      if (line->empty() && !too_long) return LineRead::kEnd;
      break;
    }
    if (c == '\n') break;
    if (line->size() < max) {
      line->push_back(static_cast<char>(c));
    } else {
      too_long = true;
    }
  }
  return too_long ? LineRead::kTooLong : LineRead::kLine;
}

Json ClockAnswer(const ProxyFake& fake) {
  Json answer = Json::object();
  answer["now"] = internal::FormatIsoTime(fake.Now());
  return answer;
}

// Splits off the first word; the rest starts after the blanks that follow it.
std::pair<std::string_view, std::string_view> SplitWord(std::string_view s) {
  const size_t end = std::min(s.find_first_of(kSpaces), s.size());
  const size_t rest = std::min(s.find_first_not_of(kSpaces, end), s.size());
  return {s.substr(0, end), s.substr(rest)};
}

// Reads a decimal integer of 1 to 18 digits (so it fits in int64_t).
std::optional<int64_t> ParseCount(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// Reads "N" followed by a unit: ms, s, m or h ("90s", "1500ms", "2h").
std::optional<absl::Duration> ParseDuration(std::string_view text) {
  const size_t unit_at =
      std::min(text.find_first_not_of("0123456789"), text.size());
  const std::optional<int64_t> n = ParseCount(text.substr(0, unit_at));
  if (!n) return std::nullopt;
  const std::string_view unit = text.substr(unit_at);
  if (unit == "ms") return absl::Milliseconds(*n);
  if (unit == "s") return absl::Seconds(*n);
  if (unit == "m") return absl::Minutes(*n);
  if (unit == "h") return absl::Hours(*n);
  return std::nullopt;
}

Json SetClock(ProxyFake& fake, std::string_view text) {
  const absl::StatusOr<absl::Time> t = internal::ParseIsoTime(text);
  if (!t.ok()) {
    return BadLine("now", Cat(std::string(t.status().message()),
                              "; expected e.g. 2030-01-01T00:00:00Z."));
  }
  if (*t < kEarliest || *t > kLatest) {
    return BadLine("now", "The clock stays within years 0000 to 9999 UTC.");
  }
  const absl::Status set = fake.SetTime(*t);
  if (!set.ok()) return BadLine("now", std::string(set.message()));
  return ClockAnswer(fake);
}

Json AdvanceClock(ProxyFake& fake, std::string_view text) {
  const std::optional<absl::Duration> delta = ParseDuration(text);
  if (!delta) {
    return BadLine("advance",
                   "Expected a whole number and a unit, ms, s, m or h, such "
                   "as 90s.");
  }
  if (fake.Now() + *delta > kLatest) {
    return BadLine("advance", "The clock stays within years 0000 to 9999 UTC.");
  }
  const absl::Status advanced = fake.Advance(*delta);
  if (!advanced.ok()) {
    return BadLine("advance", std::string(advanced.message()));
  }
  return ClockAnswer(fake);
}

// Wraps the fake's answer: its JSON body re-emitted compact, null if empty.
Json Envelope(const Response& response) {
  Json answer = Json::object();
  answer["status"] = response.status;
  if (response.body.empty()) {
    answer["body"] = nullptr;
    return answer;
  }
  Json body = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  // Not JSON would be a bug of the fake: pass it on as a string, not lose it.
  answer["body"] = body.is_discarded() ? Json(response.body) : std::move(body);
  return answer;
}

bool IsMethod(std::string_view word) {
  for (char c : word) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return !word.empty();
}

// Answers one command line that is neither blank nor a comment.
Json Execute(ProxyFake& fake, std::string_view line) {
  const auto [word, rest] = SplitWord(line);
  if (word == "now") {
    return rest.empty() ? ClockAnswer(fake) : SetClock(fake, rest);
  }
  if (word == "advance") return AdvanceClock(fake, rest);
  if (!IsMethod(word)) {
    return BadLine("Method",
                   "A command is METHOD TARGET [FORM-BODY], now [DATE-TIME] "
                   "or advance N(ms|s|m|h); a METHOD is letters, e.g. GET.");
  }
  const auto [target, form_body] = SplitWord(rest);
  if (target.empty()) {
    return BadLine("Target",
                   "A request is METHOD TARGET [FORM-BODY], e.g. "
                   "GET /v1/Services.");
  }
  return Envelope(fake.Handle(word, target, form_body));
}

// Reads the flags into *options; exits 2, having said why, for a value out
// of range.
void ReadFlags(ProxyFakeOptions* options) {
  const int64_t seed = absl::GetFlag(FLAGS_seed);
  const int64_t retention = absl::GetFlag(FLAGS_retention);
  for (const auto& [flag, value] :
       {std::pair<const char*, int64_t>{"--seed", seed},
        {"--retention", retention}}) {
    if (value < 0) {
      tools::UsageError(Cat(flag, " needs a whole number, 0 or more, not ",
                            std::to_string(value)));
    }
  }
  options->base_url = absl::GetFlag(FLAGS_base);
  options->seed = static_cast<uint64_t>(seed);
  options->auto_create_services = absl::GetFlag(FLAGS_auto_services);
  options->closed_retention = absl::Seconds(retention);
  // The limits' parser has refused anything but a whole number or none.
  options->max_sessions = LimitOption(absl::GetFlag(FLAGS_max_sessions));
  options->max_sessions_per_service =
      LimitOption(absl::GetFlag(FLAGS_max_sessions_per_service));
  options->max_services = LimitOption(absl::GetFlag(FLAGS_max_services));
  options->max_interactions =
      LimitOption(absl::GetFlag(FLAGS_max_interactions));
  options->max_interactions_per_session =
      LimitOption(absl::GetFlag(FLAGS_max_interactions_per_session));
}

int Main(int argc, char** argv) {
  tools::ParseFlagsOrExit(
      argc, argv, "sessionwheel-fake", kUsage,
      {&FLAGS_base, &FLAGS_seed, &FLAGS_auto_services, &FLAGS_retention,
       &FLAGS_max_sessions, &FLAGS_max_sessions_per_service,
       &FLAGS_max_services, &FLAGS_max_interactions,
       &FLAGS_max_interactions_per_session});
  ProxyFakeOptions options;  // start_time unset: the system time
  ReadFlags(&options);
  ProxyFake fake(options);

  const size_t max_line = options.max_body_bytes + kLineOverhead;
  std::string line;
  for (;;) {
    const LineRead read = ReadLine(std::cin, max_line, &line);
    if (read == LineRead::kEnd) break;
    if (read == LineRead::kTooLong) {
      std::cout << Dump(ErrorAnswer(
                       413, 20413,
                       Cat("Line too long: over ", std::to_string(max_line),
                           " bytes; it was skipped.")))
                << std::endl;
      if (!std::cout) return 1;
      continue;
    }
    std::string_view command = line;
    command.remove_prefix(
        std::min(command.find_first_not_of(kSpaces), command.size()));
    command.remove_suffix(command.size() -
                          (command.find_last_not_of(kSpaces) + 1));
    if (command.empty() || command.front() == '#') continue;
    std::cout << Dump(Execute(fake, command)) << std::endl;  // flushes
    if (!std::cout) return 1;  // the reader has gone (with SIGPIPE ignored)
  }
  return 0;
}

}  // namespace
}  // namespace sessionwheel

int main(int argc, char** argv) { return sessionwheel::Main(argc, argv); }
