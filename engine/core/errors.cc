#include "sessionwheel/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace sessionwheel {
namespace {

// Debian's Abseil keeps absl::string_view distinct from std::string_view.
absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

absl::Status ProxyError(absl::StatusCode code, int proxy_code,
                        std::string_view message) {
  absl::Status status(code, ToAbsl(message));
  status.SetPayload(ToAbsl(kProxyErrorPayload),
                    absl::Cord(std::to_string(proxy_code)));
  return status;
}

std::optional<int> ProxyErrorCode(const absl::Status& status) {
  // Debian's Abseil has its own optional, distinct from std::optional.
  absl::optional<absl::Cord> payload =
      status.GetPayload(ToAbsl(kProxyErrorPayload));
  int code = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &code)) {
    return std::nullopt;
  }
  return code;
}

absl::Status InvalidParameter(std::string_view param, std::string_view why,
                              absl::StatusCode code) {
  std::string message;
  message.reserve(param.size() + why.size() + 2);
  message.append(param).append(": ").append(why);
  absl::Status status = ProxyError(code, kErrorInvalidParameter, message);
  status.SetPayload(ToAbsl(kInvalidParameterPayload),
                    absl::Cord(ToAbsl(param)));
  return status;
}

std::optional<std::string> InvalidParameterName(const absl::Status& status) {
  absl::optional<absl::Cord> payload =
      status.GetPayload(ToAbsl(kInvalidParameterPayload));
  if (!payload) return std::nullopt;
  return std::string(*payload);
}

}  // namespace sessionwheel
