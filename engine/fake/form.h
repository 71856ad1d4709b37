// Form decoding: application/x-www-form-urlencoded bodies and query strings.
//
// The Twilio SDKs send every create and update as a form body, and list
// requests carry their paging in the query string. Both decode here, as
// Python's urllib.parse.parse_qsl(keep_blank_values=True) decodes them, into
// fields in the order they appeared; `Form` then answers lookups by key.
//
// Example:
//
//   Form form(DecodeForm("UniqueName=Order+%231234&Ttl=3600"));
//   std::optional<std::string_view> name = form.Last("UniqueName");
//   // *name == "Order #1234"
//   std::vector<std::string_view> people = form.All("Participants");

#ifndef SESSIONWHEEL_ENGINE_FAKE_FORM_H_
#define SESSIONWHEEL_ENGINE_FAKE_FORM_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionwheel::internal {

// One field of a form or query string, decoded, in the order it appeared.
struct FormField {
  std::string key;
  std::string value;
};

// Decodes application/x-www-form-urlencoded text (a POST body, or a query
// string without its '?'): fields split on '&', key and value split on the
// first '=' (a field without '=' has an empty value), '+' means a space, %XX
// is the byte 0xXX (either case of hex). An invalid escape ('%' not followed
// by two hex digits) is kept literally, as Python's urllib and most servers do.
// Empty fields ("a=1&&b=2", a trailing '&') are skipped. Keys and values may
// hold any bytes, NUL included; checking UTF-8 is the caller's job.
std::vector<FormField> DecodeForm(std::string_view text);

// Percent-decodes a path segment: %XX as above, '+' stays '+'.
std::string DecodePathSegment(std::string_view segment);

// Encodes a query or form value: A-Z a-z 0-9 - _ . ~ stay, every other byte
// becomes %XX with upper-case hex (a space becomes %20). Used to build page
// URLs and by tests to build bodies.
std::string EncodeFormValue(std::string_view value);

// Random access to decoded fields. Keys are case-sensitive, as Twilio's
// parameter names are (`UniqueName`, `Ttl`).
class Form {
 public:
  explicit Form(std::vector<FormField> fields);

  // The value of the last field named `key`, or nullopt: a repeated
  // single-valued parameter takes its last value.
  std::optional<std::string_view> Last(std::string_view key) const;

  // Every value of `key`, in order (for Participants).
  std::vector<std::string_view> All(std::string_view key) const;

  bool Has(std::string_view key) const;

  const std::vector<FormField>& fields() const;

 private:
  std::vector<FormField> fields_;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_FAKE_FORM_H_
