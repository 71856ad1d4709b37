#include "engine/fake/form.h"

#include <utility>

#include "absl/strings/str_format.h"

namespace sessionwheel::internal {
namespace {

// The value of hex digit `c`, or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; '+' becomes a space only if `plus_is_space`.
std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
      continue;
    }
    if (c == '%' && in.size() - i > 2) {
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(c);  // an invalid escape stays as written
  }
  return out;
}

}  // namespace

std::vector<FormField> DecodeForm(std::string_view text) {
  std::vector<FormField> fields;
  while (!text.empty()) {
    // Split on the raw '&' and '=' before decoding, so %26 and %3D stay data.
    const size_t amp = text.find('&');
    const std::string_view field = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view()
                                         : text.substr(amp + 1);
    if (field.empty()) continue;
    const size_t eq = field.find('=');
    FormField decoded;
    decoded.key = PercentDecode(field.substr(0, eq), /*plus_is_space=*/true);
    if (eq != std::string_view::npos) {
      decoded.value =
          PercentDecode(field.substr(eq + 1), /*plus_is_space=*/true);
    }
    fields.push_back(std::move(decoded));
  }
  return fields;
}

std::string DecodePathSegment(std::string_view segment) {
  return PercentDecode(segment, /*plus_is_space=*/false);
}

std::string EncodeFormValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
        (b >= '0' && b <= '9') || b == '-' || b == '_' || b == '.' ||
        b == '~') {
      out.push_back(c);
    } else {
      // Upper-case digits, as RFC 3986 asks; absl::Hex writes lower case.
      absl::StrAppendFormat(&out, "%%%02X", b);
    }
  }
  return out;
}

Form::Form(std::vector<FormField> fields) : fields_(std::move(fields)) {}

std::optional<std::string_view> Form::Last(std::string_view key) const {
  for (auto it = fields_.rbegin(); it != fields_.rend(); ++it) {
    if (it->key == key) return std::string_view(it->value);
  }
  return std::nullopt;
}

std::vector<std::string_view> Form::All(std::string_view key) const {
  std::vector<std::string_view> values;
  for (const FormField& field : fields_) {
    if (field.key == key) values.push_back(field.value);
  }
  return values;
}

bool Form::Has(std::string_view key) const { return Last(key).has_value(); }

const std::vector<FormField>& Form::fields() const { return fields_; }

}  // namespace sessionwheel::internal
