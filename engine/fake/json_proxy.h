// The Proxy API's JSON: Sessions, Services, list envelopes and error bodies,
// shaped exactly as the real service answers (docs/semantics.md, "Sessions:
// fields and JSON" and "Errors").

#ifndef SESSIONWHEEL_ENGINE_FAKE_JSON_PROXY_H_
#define SESSIONWHEEL_ENGINE_FAKE_JSON_PROXY_H_

#include <optional>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "sessionwheel/session.h"

namespace sessionwheel::internal {

// Keys keep the order they are written in, as in the API's own examples.
using Json = nlohmann::ordered_json;

// `base_url` is the fake's base, e.g. "https://proxy.twilio.com".
// `account` is the store's (SessionStore::account_sid()).
Json SessionToJson(const Session& session, const Sid& account,
                   std::string_view base_url);
Json ServiceToJson(const Service& service, const Sid& account,
                   std::string_view base_url);
// A Participant of the Session `session` of Service `service`.
Json ParticipantToJson(const Participant& participant, const Sid& service,
                       const Sid& session, const Sid& account,
                       std::string_view base_url);
// An Interaction, as the Interactions list and fetch answer it.
Json InteractionToJson(const Interaction& interaction, const Sid& account,
                       std::string_view base_url);
// The same Interaction as POST …/MessageInteractions answers it: the
// MessageInteraction resource, with `participant_sid` and its own url.
Json MessageInteractionToJson(const Interaction& interaction,
                              const Sid& account, std::string_view base_url);

// {"code", "message", "more_info", "status"}.
Json ErrorToJson(int code, std::string_view message, int http_status);

// The `meta` object of a list answer.
struct PageMeta {
  int page = 0;
  int page_size = 0;
  std::string first_page_url;
  std::optional<std::string> previous_page_url;
  std::string url;
  std::optional<std::string> next_page_url;
  std::string key;  // "sessions" or "services".
};
Json PageMetaToJson(const PageMeta& meta);

// Serialises compactly. Text that is not valid UTF-8 (a name echoed in an
// error message, say) is replaced by U+FFFD rather than throwing.
std::string Dump(const Json& json);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_FAKE_JSON_PROXY_H_
