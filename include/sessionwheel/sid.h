// Sid: a Twilio resource identifier as a value, "KC" + 32 hex digits.
//
// A SID is a two-letter resource prefix ("KS" a Service, "KC" a Session,
// "KP" a Participant, "AC" an account) and 128 bits. `Sid` holds both in 24
// bytes with no heap: it is trivially copyable, compares and hashes (Abseil)
// as a value, and turns into text only when asked. Every call of the store
// that names a Service or a Session takes one, so a host that keeps SIDs as
// `Sid` never formats or parses text on its hot paths.
//
// Example:
//
//   std::optional<sessionwheel::Sid> kc =
//       sessionwheel::Sid::Parse("KC0123456789abcdef0123456789abcdef");
//   if (kc && kc->prefix() == "KC") std::cout << *kc << "\n";  // the text
//   std::string text = kc->ToString();  // lower-case hex, always

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SID_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SID_H_

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sessionwheel {

class Sid {
 public:
  // Characters in a SID's text: two of prefix, 32 hex digits.
  static constexpr size_t kTextSize = 34;

  // The null SID: no prefix, zero bits. No resource has it.
  constexpr Sid() = default;
  // A SID from its parts; `prefix` must be two characters.
  constexpr Sid(std::string_view prefix, uint64_t hi, uint64_t lo)
      : prefix_{prefix[0], prefix[1]}, hi_(hi), lo_(lo) {}

  // Parses two upper-case ASCII letters and 32 hex digits of either case;
  // nullopt for anything else.
  static std::optional<Sid> Parse(std::string_view text);
  // As Parse, and the prefix must be `prefix`.
  static std::optional<Sid> Parse(std::string_view prefix,
                                  std::string_view text);

  // The text: prefix and 32 lower-case hex digits ("" for the null SID).
  std::string ToString() const;
  // Appends the text to *out.
  void AppendTo(std::string* out) const;
  // Writes the kTextSize characters of the text at `out` (no terminator).
  void Write(char* out) const;

  std::string_view prefix() const { return {prefix_, is_null() ? 0u : 2u}; }
  uint64_t hi() const { return hi_; }  // The first 16 hex digits.
  uint64_t lo() const { return lo_; }  // The last 16.
  bool is_null() const { return prefix_[0] == '\0'; }

  friend bool operator==(const Sid& a, const Sid& b) {
    return a.hi_ == b.hi_ && a.lo_ == b.lo_ && a.prefix_[0] == b.prefix_[0] &&
           a.prefix_[1] == b.prefix_[1];
  }
  friend bool operator!=(const Sid& a, const Sid& b) { return !(a == b); }
  // Orders as the text does.
  friend bool operator<(const Sid& a, const Sid& b) {
    if (a.prefix_[0] != b.prefix_[0]) return a.prefix_[0] < b.prefix_[0];
    if (a.prefix_[1] != b.prefix_[1]) return a.prefix_[1] < b.prefix_[1];
    return a.hi_ != b.hi_ ? a.hi_ < b.hi_ : a.lo_ < b.lo_;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Sid& s) {
    return H::combine(std::move(h), s.hi_, s.lo_, s.prefix_[0], s.prefix_[1]);
  }
  // Prints the text (gtest shows SIDs readably).
  friend std::ostream& operator<<(std::ostream& os, const Sid& sid);

 private:
  char prefix_[2] = {'\0', '\0'};
  uint64_t hi_ = 0;
  uint64_t lo_ = 0;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SID_H_
