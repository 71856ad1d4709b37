#include "engine/fake/json_proxy.h"

#include "engine/util/iso_time.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

Json Date(const std::optional<absl::Time>& t) {
  if (!t.has_value()) return nullptr;
  return FormatIsoTime(*t);
}

Json OptionalString(const std::optional<std::string>& s) {
  if (!s.has_value()) return nullptr;
  return *s;
}

}  // namespace

Json SessionToJson(const Session& s, const Sid& account,
                   std::string_view base_url) {
  const std::string sid = s.sid.ToString();
  const std::string service_sid = s.service_sid.ToString();
  const std::string url =
      Cat(base_url, "/v1/Services/", service_sid, "/Sessions/", sid);
  Json j;
  j["sid"] = sid;
  j["service_sid"] = service_sid;
  j["account_sid"] = account.ToString();
  j["unique_name"] = OptionalString(s.unique_name);
  j["status"] = std::string(StatusName(s.status));
  j["closed_reason"] = OptionalString(s.closed_reason);
  j["ttl"] = s.ttl;
  j["mode"] = std::string(ModeName(s.mode));
  j["date_created"] = FormatIsoTime(s.date_created);
  j["date_updated"] = FormatIsoTime(s.date_updated);
  j["date_started"] = FormatIsoTime(s.date_started);
  j["date_ended"] = Date(s.date_ended);
  j["date_last_interaction"] = Date(s.date_last_interaction);
  j["date_expiry"] = Date(s.date_expiry);
  j["url"] = url;
  j["links"] = {{"interactions", Cat(url, "/Interactions")},
                {"participants", Cat(url, "/Participants")}};
  return j;
}

Json ServiceToJson(const Service& s, const Sid& account,
                   std::string_view base_url) {
  const std::string sid = s.sid.ToString();
  const std::string url = Cat(base_url, "/v1/Services/", sid);
  Json j;
  j["sid"] = sid;
  j["account_sid"] = account.ToString();
  j["unique_name"] = s.unique_name;
  j["default_ttl"] = s.default_ttl;
  // Fields of the real Service that the engine does not model keep the
  // values a new Service has on the real API.
  j["chat_instance_sid"] = nullptr;
  j["callback_url"] = nullptr;
  j["geo_match_level"] = "country";
  j["number_selection_behavior"] = "prefer-sticky";
  j["intercept_callback_url"] = nullptr;
  j["out_of_session_callback_url"] = nullptr;
  j["date_created"] = FormatIsoTime(s.date_created);
  j["date_updated"] = FormatIsoTime(s.date_updated);
  j["url"] = url;
  j["links"] = {{"sessions", Cat(url, "/Sessions")},
                {"phone_numbers", Cat(url, "/PhoneNumbers")},
                {"short_codes", Cat(url, "/ShortCodes")}};
  return j;
}

Json ParticipantToJson(const Participant& p, const Sid& service,
                       const Sid& session, const Sid& account,
                       std::string_view base_url) {
  const std::string sid = p.sid.ToString();
  const std::string url =
      Cat(base_url, "/v1/Services/", service.ToString(), "/Sessions/",
          session.ToString(), "/Participants/", sid);
  Json j;
  j["sid"] = sid;
  j["session_sid"] = session.ToString();
  j["service_sid"] = service.ToString();
  j["account_sid"] = account.ToString();
  j["friendly_name"] =
      p.friendly_name.empty() ? Json(nullptr) : Json(p.friendly_name);
  j["identifier"] = p.identifier;
  j["proxy_identifier"] =
      p.proxy_identifier.empty() ? Json(nullptr) : Json(p.proxy_identifier);
  // The fake keeps no number pool: no Proxy Identifier resource is named.
  j["proxy_identifier_sid"] = nullptr;
  j["date_deleted"] = Date(p.date_deleted);
  j["date_created"] = FormatIsoTime(p.date_created);
  j["date_updated"] = FormatIsoTime(p.date_updated);
  j["url"] = url;
  j["links"] = {{"message_interactions", Cat(url, "/MessageInteractions")}};
  return j;
}

namespace {

// The fields both Interaction shapes share, in the API's order, all but
// `url`; `participant_sid` only in a MessageInteraction.
void InteractionFields(const Interaction& i, const Sid& account,
                       bool message_interaction, Json* j) {
  (*j)["sid"] = i.sid.ToString();
  (*j)["session_sid"] = i.session_sid.ToString();
  (*j)["service_sid"] = i.service_sid.ToString();
  (*j)["account_sid"] = account.ToString();
  (*j)["data"] = Dump(Json{{"body", i.body}});
  (*j)["type"] = "message";
  if (message_interaction) {
    (*j)["participant_sid"] = i.outbound_participant_sid.ToString();
  }
  // A message sent from the API has no inbound side.
  (*j)["inbound_participant_sid"] = nullptr;
  (*j)["inbound_resource_sid"] = nullptr;
  (*j)["inbound_resource_status"] = nullptr;
  (*j)["inbound_resource_type"] = nullptr;
  (*j)["inbound_resource_url"] = nullptr;
  (*j)["outbound_participant_sid"] = i.outbound_participant_sid.ToString();
  // The fake sends nothing, so there is no Message resource to name; its
  // status is what the real service reports once it has handed it on.
  (*j)["outbound_resource_sid"] = nullptr;
  (*j)["outbound_resource_status"] = "sent";
  (*j)["outbound_resource_type"] = "Message";
  (*j)["outbound_resource_url"] = nullptr;
  (*j)["date_created"] = FormatIsoTime(i.date_created);
  (*j)["date_updated"] = FormatIsoTime(i.date_updated);
}

}  // namespace

Json InteractionToJson(const Interaction& i, const Sid& account,
                       std::string_view base_url) {
  Json j;
  InteractionFields(i, account, /*message_interaction=*/false, &j);
  j["url"] =
      Cat(base_url, "/v1/Services/", i.service_sid.ToString(), "/Sessions/",
          i.session_sid.ToString(), "/Interactions/", i.sid.ToString());
  return j;
}

Json MessageInteractionToJson(const Interaction& i, const Sid& account,
                              std::string_view base_url) {
  Json j;
  InteractionFields(i, account, /*message_interaction=*/true, &j);
  j["url"] = Cat(base_url, "/v1/Services/", i.service_sid.ToString(),
                 "/Sessions/", i.session_sid.ToString(), "/Participants/",
                 i.outbound_participant_sid.ToString(), "/MessageInteractions/",
                 i.sid.ToString());
  return j;
}

Json ErrorToJson(int code, std::string_view message, int http_status) {
  Json j;
  j["code"] = code;
  j["message"] = std::string(message);
  j["more_info"] =
      Cat("https://www.twilio.com/docs/errors/", std::to_string(code));
  j["status"] = http_status;
  return j;
}

Json PageMetaToJson(const PageMeta& m) {
  Json j;
  j["page"] = m.page;
  j["page_size"] = m.page_size;
  j["first_page_url"] = m.first_page_url;
  j["previous_page_url"] = OptionalString(m.previous_page_url);
  j["url"] = m.url;
  j["next_page_url"] = OptionalString(m.next_page_url);
  j["key"] = m.key;
  return j;
}

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sessionwheel::internal
