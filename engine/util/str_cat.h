// Cat(): string concatenation that takes std::string_view.
//
// Debian's Abseil 20220623 keeps absl::string_view distinct from
// std::string_view, so absl::StrCat refuses the std::string_view the public
// API speaks. This covers the engine's only need: joining strings.

#ifndef SESSIONWHEEL_ENGINE_UTIL_STR_CAT_H_
#define SESSIONWHEEL_ENGINE_UTIL_STR_CAT_H_

#include <string>
#include <string_view>

namespace sessionwheel::internal {

template <typename... Parts>
std::string Cat(const Parts&... parts) {
  std::string out;
  out.reserve((std::string_view(parts).size() + ... + 0));
  (out.append(std::string_view(parts)), ...);
  return out;
}

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_UTIL_STR_CAT_H_
