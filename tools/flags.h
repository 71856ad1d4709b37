// The command-line programs' flags: Abseil flags, read under the tools' rules.
//
// Each program defines its flags with ABSL_FLAG (names with '_') and hands
// them to ParseFlagsOrExit, which accepts each as --name-with-dashes (the
// spelling the tools have always had) or --name_with_underscores, as
// --flag=value or --flag value; a bool flag takes no value. Abseil parses
// and holds every value; absl::GetFlag reads it.
//
// It walks argv itself rather than calling absl::ParseCommandLine because
// Abseil 20220623's parser exits 1 after --help and after any error, knows no
// dashes in names, and prints no usage with an error; the tools exit 0 after
// --help and 2 after a bad command line, with the usage on stderr.
//
// Example:
//
//   ABSL_FLAG(int64_t, seed, 1, "seed of the minted SIDs");
//   ABSL_FLAG(sessionwheel::tools::Limit, max_sessions, {100000},
//             "the most Sessions held");
//
//   int main(int argc, char** argv) {
//     using sessionwheel::tools::ParseFlagsOrExit;
//     ParseFlagsOrExit(argc, argv, "my-tool", kUsage,
//                      {&FLAGS_seed, &FLAGS_max_sessions});
//     if (absl::GetFlag(FLAGS_seed) < 0) {
//       sessionwheel::tools::UsageError("--seed must be 0 or more");
//     }
//     // A whole number >= 0, or nullopt for --max-sessions=none.
//     std::optional<int64_t> max = absl::GetFlag(FLAGS_max_sessions).max;
//   }

#ifndef SESSIONWHEEL_TOOLS_FLAGS_H_
#define SESSIONWHEEL_TOOLS_FLAGS_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/strings/string_view.h"

namespace sessionwheel::tools {

// The value of a limit flag: a whole number, 0 or more, or `none` for no
// limit at all. ABSL_FLAG(tools::Limit, ...) reads and prints it so.
struct Limit {
  std::optional<int64_t> max;  // nullopt: none.
};
bool AbslParseFlag(absl::string_view text, Limit* limit, std::string* error);
std::string AbslUnparseFlag(const Limit& limit);

// A flag of the program, for ParseFlagsOrExit.
class ToolFlag {
 public:
  template <typename T>
  ToolFlag(const absl::Flag<T>* flag)  // NOLINT: implicit, for a braced list
      : handle_(&absl::GetFlagReflectionHandle(*flag)) {}
  const absl::CommandLineFlag& handle() const { return *handle_; }

 private:
  const absl::CommandLineFlag* handle_;
};

// Reads argv into `flags`. On --help (or -h) prints `usage` and a line per
// flag (its help and default) to stdout and exits 0. On an unknown flag, a
// missing or bad value, or an argument that is not a flag, prints
// "<program>: <why>" and the usage to stderr and exits 2.
void ParseFlagsOrExit(int argc, char** argv, std::string_view program,
                      std::string_view usage,
                      std::initializer_list<ToolFlag> flags);

// Prints "<program>: <why>" and the usage to stderr, exits 2: for a value the
// flag's type takes but the program does not (out of range). Call after
// ParseFlagsOrExit, which records the program and the usage.
[[noreturn]] void UsageError(std::string_view why);

}  // namespace sessionwheel::tools

#endif  // SESSIONWHEEL_TOOLS_FLAGS_H_
