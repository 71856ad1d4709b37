// Fuzzes the form decoder (engine/fake/form.h) with the whole input as a form
// body or query string. Beyond not crashing, it checks:
//
// - decoding is deterministic;
// - each field comes from one non-empty '&'-separated piece of the text, in
//   order, and is no longer than that piece;
// - re-encoding every field with EncodeFormValue and joining them with '&' and
//   '=' decodes to the same fields (so DecodeForm inverts the encoder the page
//   URLs and tests use), and EncodeFormValue writes only unreserved bytes and
//   upper-case %XX escapes;
// - Form's lookups agree with the field list (Last, All, Has);
// - every Participants value that parses as JSON, as the fake parses it,
//   serialises with Dump and parses back to the same value.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fake/form.h"
#include "engine/fake/json_proxy.h"
#include "tests/fuzz/fuzz_input.h"

namespace sessionwheel::fuzz {
namespace {

using internal::DecodeForm;
using internal::EncodeFormValue;
using internal::Form;
using internal::FormField;
using internal::Json;

bool SameFields(const std::vector<FormField>& a,
                const std::vector<FormField>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].key != b[i].key || a[i].value != b[i].value) return false;
  }
  return true;
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
}

bool IsUpperHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// EncodeFormValue's output: unreserved bytes and %XX, nothing else.
void CheckEncoding(std::string_view raw, const std::string& encoded) {
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (IsUnreserved(encoded[i])) continue;
    SW_FUZZ_CHECK(encoded[i] == '%' && i + 2 < encoded.size() &&
                      IsUpperHex(encoded[i + 1]) && IsUpperHex(encoded[i + 2]),
                  "EncodeFormValue wrote a bad escape: " + encoded);
    i += 2;
  }
  SW_FUZZ_CHECK(internal::DecodePathSegment(encoded) == raw,
                "DecodePathSegment does not invert EncodeFormValue");
}

// The non-empty '&'-separated pieces of `text`.
std::vector<std::string_view> Pieces(std::string_view text) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (;;) {
    const size_t amp = text.find('&', start);
    const std::string_view piece = text.substr(start, amp - start);
    if (!piece.empty()) pieces.push_back(piece);
    if (amp == std::string_view::npos) return pieces;
    start = amp + 1;
  }
}

void CheckLookups(const std::vector<FormField>& fields) {
  const Form form(fields);
  for (const FormField& field : fields) {
    std::vector<std::string_view> all;
    for (const FormField& other : fields) {
      if (other.key == field.key) all.push_back(other.value);
    }
    SW_FUZZ_CHECK(form.All(field.key) == all, "All() misses a value");
    SW_FUZZ_CHECK(form.Has(field.key), "Has() misses a key");
    SW_FUZZ_CHECK(form.Last(field.key) == all.back(),
                  "Last() is not the last value");
  }
}

// A Participants value, parsed as ProxyFake parses it, survives Dump.
void CheckParticipant(std::string_view text) {
  const Json parsed = Json::parse(text.begin(), text.end(), nullptr,
                                  /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return;
  const std::string dumped = internal::Dump(parsed);
  const Json again = Json::parse(dumped, nullptr, /*allow_exceptions=*/false);
  SW_FUZZ_CHECK(again == parsed,
                "Participants JSON changed in Dump: " + dumped);
}

void FuzzForm(std::string_view text) {
  const std::vector<FormField> fields = DecodeForm(text);
  SW_FUZZ_CHECK(SameFields(DecodeForm(text), fields),
                "decoding is not deterministic");

  const std::vector<std::string_view> pieces = Pieces(text);
  SW_FUZZ_CHECK(fields.size() == pieces.size(),
                "fields and non-empty pieces differ in number");
  std::string reencoded;
  for (size_t i = 0; i < fields.size(); ++i) {
    const FormField& field = fields[i];
    SW_FUZZ_CHECK(field.key.size() + field.value.size() <= pieces[i].size(),
                  "a field decoded longer than its text");
    const std::string key = EncodeFormValue(field.key);
    const std::string value = EncodeFormValue(field.value);
    CheckEncoding(field.key, key);
    CheckEncoding(field.value, value);
    if (i > 0) reencoded += '&';
    reencoded += key + "=" + value;
    if (field.key == "Participants") CheckParticipant(field.value);
  }
  SW_FUZZ_CHECK(SameFields(DecodeForm(reencoded), fields),
                "re-encoded fields decode differently: " + reencoded);
  CheckLookups(fields);
}

}  // namespace
}  // namespace sessionwheel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessionwheel::fuzz::FuzzInput in(data, size);
  sessionwheel::fuzz::FuzzForm(in.Rest());
  return 0;
}
