// UTF-8 validation and length, for `unique_name` checks.
//
// The Proxy API limits unique names to 191 characters of valid UTF-8, counted
// in code points, not bytes. Validation follows the
// Unicode Standard's table of well-formed byte sequences (Table 3-7), so it
// refuses exactly what a strict decoder refuses.
//
// Example:
//
//   if (!IsValidUtf8(name) || Utf8Length(name) > 191) { ...refuse... }

#ifndef SESSIONWHEEL_ENGINE_UTIL_UTF8_H_
#define SESSIONWHEEL_ENGINE_UTIL_UTF8_H_

#include <cstddef>
#include <string_view>

namespace sessionwheel::internal {

// True if `s` is well-formed UTF-8 (rejects overlong forms, surrogates
// U+D800..DFFF, code points > U+10FFFF, truncated sequences, stray
// continuation bytes and the bytes C0, C1, F5..FF). NUL is a valid code point.
bool IsValidUtf8(std::string_view s);

// Number of code points in `s`, which must be valid UTF-8 (counts lead bytes).
size_t Utf8Length(std::string_view s);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_UTIL_UTF8_H_
