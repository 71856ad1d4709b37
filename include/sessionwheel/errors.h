// How a refusal by the store carries its Proxy API error code.
//
// Every error the store returns is an `absl::Status` with the closest
// canonical code (NotFound, AlreadyExists, InvalidArgument,
// FailedPrecondition, ResourceExhausted) and, as a payload, the numeric Proxy
// error code the real service would answer with. The fake (and any host) reads
// it back with `ProxyErrorCode`. The messages are the store's own words; how
// the Proxy API words a refusal is the fake's business. An invalid parameter
// (80701) also carries the parameter's name, read with
// `InvalidParameterName`.
//
// Example:
//
//   absl::StatusOr<Session> s = store->FetchSession(ks, "no-such-name");
//   if (absl::IsNotFound(s.status())) {
//     assert(ProxyErrorCode(s.status()) == kErrorNotFound);  // 20404
//   }
//
//   absl::Status bad = InvalidParameter("Ttl", "It must not be negative.");
//   // bad.message() is "Ttl: It must not be negative."
//   assert(InvalidParameterName(bad) == "Ttl");

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_ERRORS_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_ERRORS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sessionwheel {

// The Proxy API error codes the store produces. docs/semantics.md ("Errors")
// has each with its HTTP status, when, and the test that provokes it.
inline constexpr int kErrorParticipantInSession = 80103;
inline constexpr int kErrorNotFound = 20404;
inline constexpr int kErrorTooManyRequests = 20429;  // A Session limit.
inline constexpr int kErrorInvalidPageToken = 21481;
inline constexpr int kErrorMalformedSessionSid = 80409;
inline constexpr int kErrorServiceNameTaken = 80602;
inline constexpr int kErrorSessionNameTaken = 80603;
inline constexpr int kErrorSessionClosed = 80607;
inline constexpr int kErrorInvalidTransition = 80608;
inline constexpr int kErrorTooManyParticipants = 80609;
// A message to a deleted Participant (docs/semantics.md, "Interactions").
inline constexpr int kErrorNoParticipant = 80614;
inline constexpr int kErrorInvalidParameter = 80701;

// The payload type URL under which the code is stored.
inline constexpr std::string_view kProxyErrorPayload =
    "type.sessionwheel.dev/proxy-error-code";

// The payload type URL under which an 80701 stores the parameter's name.
inline constexpr std::string_view kInvalidParameterPayload =
    "type.sessionwheel.dev/invalid-parameter";

// Returns a status with `code`, `message` and the Proxy `proxy_code` attached.
absl::Status ProxyError(absl::StatusCode code, int proxy_code,
                        std::string_view message);

// Returns the Proxy error code carried by `status`, or nullopt for OK or a
// status that carries none.
std::optional<int> ProxyErrorCode(const absl::Status& status);

// Returns a status with code 80701 saying that parameter `param` is invalid
// and `why`: the message is exactly "<param>: <why>" and `param` is carried
// as data, read back with `InvalidParameterName`. The canonical code is
// `code`: InvalidArgument, or AlreadyExists for a well-formed value that is
// taken. (The fake answers it in the API's words, "'<param>' is invalid.
// <why>".)
absl::Status InvalidParameter(
    std::string_view param, std::string_view why,
    absl::StatusCode code = absl::StatusCode::kInvalidArgument);

// Returns the name of the invalid parameter carried by `status` (one made by
// `InvalidParameter`), or nullopt for OK or a status that carries none.
std::optional<std::string> InvalidParameterName(const absl::Status& status);

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_ERRORS_H_
