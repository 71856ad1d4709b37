#include "tools/flags.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace sessionwheel::tools {
namespace {

std::string g_program;
std::vector<const absl::CommandLineFlag*> g_flags;

absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

// The name users type: "--max-sessions" for the flag max_sessions.
std::string DashName(const absl::CommandLineFlag& flag) {
  return absl::StrCat("--", absl::StrReplaceAll(flag.Name(), {{"_", "-"}}));
}

std::string Usage() {
  std::string text = absl::StrCat(absl::ProgramUsageMessage(), "\nFlags:\n");
  for (const absl::CommandLineFlag* flag : g_flags) {
    const std::string default_value =
        flag->IsOfType<std::string>()
            ? absl::StrCat("\"", flag->DefaultValue(), "\"")
            : flag->DefaultValue();
    absl::StrAppend(&text, "  ", DashName(*flag), " (", flag->Help(),
                    "); default: ", default_value, ";\n");
  }
  return text;
}

// What a value of the flag's type looks like, for an error.
std::string Expected(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<Limit>()) return "a whole number, 0 or more, or none";
  if (flag.IsOfType<int64_t>() || flag.IsOfType<uint64_t>() ||
      flag.IsOfType<int32_t>()) {
    return "a whole number";
  }
  if (flag.IsOfType<double>()) return "a number";
  return "a valid value";
}

const absl::CommandLineFlag* Find(std::string_view name) {
  const std::string normal = absl::StrReplaceAll(ToAbsl(name), {{"-", "_"}});
  for (const absl::CommandLineFlag* flag : g_flags) {
    if (flag->Name() == normal) return flag;
  }
  return nullptr;
}

}  // namespace

bool AbslParseFlag(absl::string_view text, Limit* limit, std::string* error) {
  if (text == "none") {
    limit->max = std::nullopt;
    return true;
  }
  int64_t max = 0;
  // SimpleAtoi takes a sign and blanks; a limit is digits alone.
  if (text.empty() ||
      text.find_first_not_of("0123456789") != absl::string_view::npos ||
      !absl::SimpleAtoi(text, &max)) {
    *error = "a whole number, 0 or more, or none";
    return false;
  }
  limit->max = max;
  return true;
}

std::string AbslUnparseFlag(const Limit& limit) {
  return limit.max.has_value() ? absl::StrCat(*limit.max) : "none";
}

void UsageError(std::string_view why) {
  std::cerr << g_program << ": " << why << "\n\n" << Usage();
  std::exit(2);
}

void ParseFlagsOrExit(int argc, char** argv, std::string_view program,
                      std::string_view usage,
                      std::initializer_list<ToolFlag> flags) {
  g_program = std::string(program);
  absl::SetProgramUsageMessage(ToAbsl(usage));
  for (const ToolFlag& flag : flags) g_flags.push_back(&flag.handle());

  // --help wins wherever it is, even next to a bad flag.
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << Usage();
      std::exit(0);
    }
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      UsageError(absl::StrCat("unexpected argument '", ToAbsl(arg), "'"));
    }
    const size_t eq = arg.find('=');
    const std::string_view name =
        arg.substr(2, eq == arg.npos ? arg.npos : eq - 2);
    const absl::CommandLineFlag* flag = Find(name);
    if (flag == nullptr) {
      UsageError(absl::StrCat("unknown flag --", ToAbsl(name)));
    }
    const std::string dash_name = DashName(*flag);
    std::string value;
    if (flag->IsOfType<bool>()) {
      if (eq != arg.npos)
        UsageError(absl::StrCat(dash_name, " takes no value"));
      value = "true";
    } else if (eq != arg.npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      UsageError(absl::StrCat(dash_name, " needs a value"));
    }
    std::string error;
    // The handle is const only to keep readers from setting it; this is the
    // command line, which does.
    if (!absl::FindCommandLineFlag(flag->Name())->ParseFrom(value, &error)) {
      UsageError(absl::StrCat(dash_name, " needs ", Expected(*flag), ", not '",
                              value, "'"));
    }
  }
}

}  // namespace sessionwheel::tools
