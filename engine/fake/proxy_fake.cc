// ProxyFake: REST semantics of the Proxy Session API over a SessionStore.
//
// A request is taken apart in three steps: the target into a route (which
// resource, which SIDs), the form or query into typed parameters (80701 for
// one that does not parse), and the store's answer into JSON. Every refusal
// of the store carries its Proxy error code in the store's own words; this
// file maps codes to HTTP statuses and words a refusal as the API does where
// the store's words differ (a 20404 names the request's path, an 80701 reads
// "'<Param>' is invalid. <why>").

#include "sessionwheel/proxy_fake.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/fake/form.h"
#include "engine/fake/json_proxy.h"
#include "engine/util/iso_time.h"
#include "engine/util/sid.h"
#include "engine/util/str_cat.h"
#include "sessionwheel/errors.h"

namespace sessionwheel {
namespace {

using internal::Cat;
using internal::Dump;
using internal::Form;
using internal::Json;

constexpr int kMethodNotAllowed = 20004;
// Twilio's codes are 20000 + the HTTP status for refusals of the request as
// such (20404, 20429, 20500); no code is documented for an oversized one.
constexpr int kPayloadTooLarge = 20413;
// The fake's clock stays within the years an answer writes with four digits,
// as the tool's does (tools/fake_main.cc).
constexpr absl::Time kEarliest = absl::FromUnixSeconds(-62167219200);
constexpr absl::Time kLatest = absl::FromUnixSeconds(253402300799);

absl::Status ClockOutOfRange(absl::Time t) {
  return absl::OutOfRangeError(
      Cat("the fake's clock stays within 0000-01-01T00:00:00Z and "
          "9999-12-31T23:59:59Z; asked for ",
          absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone())));
}

// Targets longer than this name nothing; they are refused unread.
constexpr size_t kMaxTargetBytes = 8192;
constexpr size_t kMaxEchoedBytes = 256;
// The most Participants a Session create takes (the API's rule; the store
// checks it too).
constexpr size_t kMaxParticipants = 2;
// What the fake passes the store for `PageToken=` (present, empty): no page
// ever gives it (a token is 58 characters and starts with "P"), so the
// store refuses it with 21481 in its own order of checks.
constexpr char kEmptyPageToken[] = "-";

// A refusal in the making: a Proxy code and its message.
struct Failure {
  int code;
  std::string message;
};

int HttpStatusFor(int code) {
  switch (code) {
    case kErrorNotFound:
      return 404;
    case kMethodNotAllowed:
      return 405;
    case kPayloadTooLarge:
      return 413;
    case kErrorTooManyRequests:
      return 429;
    default:
      return 400;
  }
}

Response ErrorResponse(int code, std::string_view message) {
  const int http = HttpStatusFor(code);
  return Response{http, Dump(internal::ErrorToJson(code, message, http))};
}

std::string InvalidMessage(std::string_view param, std::string_view why) {
  return Cat("'", param, "' is invalid. ", why);
}

Failure Invalid(std::string_view param, std::string_view why) {
  return Failure{kErrorInvalidParameter, InvalidMessage(param, why)};
}

// The store's refusal with its code; an 80701, which the store words as
// "<Param>: <why>" with the name as data, in the API's words.
Response ErrorResponse(const absl::Status& status) {
  std::optional<int> code = ProxyErrorCode(status);
  if (code.has_value()) {
    const absl::string_view absl_message = status.message();
    std::string_view message(absl_message.data(), absl_message.size());
    const std::optional<std::string> param = InvalidParameterName(status);
    if (*code == kErrorInvalidParameter && param.has_value()) {
      const std::string prefix = Cat(*param, ": ");
      if (message.substr(0, prefix.size()) == prefix) {
        message.remove_prefix(prefix.size());
      }
      return ErrorResponse(*code, InvalidMessage(*param, message));
    }
    return ErrorResponse(*code, message);
  }
  // A refusal without a Proxy code is the engine's own (a bad option);
  // answer it as the API answers a failure on its side.
  return Response{
      500, Dump(internal::ErrorToJson(20500, "Internal server error", 500))};
}

// The store's refusal as the API words it: a 20404 names the REST
// `resource` that was not found; every other refusal is worded as by
// `ErrorResponse`.
Response StoreErrorResponse(const absl::Status& status,
                            std::string_view resource);

Response NotFoundResponse(std::string_view path) {
  std::string shown(path.substr(0, kMaxEchoedBytes));
  return ErrorResponse(kErrorNotFound,
                       Cat("The requested resource ", shown, " was not found"));
}

Response StoreErrorResponse(const absl::Status& status,
                            std::string_view resource) {
  if (ProxyErrorCode(status) == kErrorNotFound) {
    return NotFoundResponse(resource);
  }
  return ErrorResponse(status);
}

// The Service a path segment names; the null SID, which the store never
// finds, when it is no "KS" SID.
Sid ServiceSid(std::string_view ks) {
  return Sid::Parse("KS", ks).value_or(Sid());
}

Response MalformedSessionSid(std::string_view id) {
  return ErrorResponse(kErrorMalformedSessionSid,
                       Cat("Invalid Session SID '", id, "'."));
}

Response MethodNotAllowed() {
  return ErrorResponse(kMethodNotAllowed, "Method not allowed");
}

Response Json200(int status, const Json& json) {
  return Response{status, Dump(json)};
}

// Parses a whole decimal integer ("-1" included; "1.5", " 1", "" not). One
// too large for int64_t reads as the nearest int64_t, so the range check
// that follows says it is out of range rather than not an integer.
std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ptr != end) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    return text.front() == '-' ? std::numeric_limits<int64_t>::min()
                               : std::numeric_limits<int64_t>::max();
  }
  if (ec != std::errc()) return std::nullopt;
  return value;
}

// The parameters of one request, parsed: each optional is set only when the
// parameter was sent; the first one that does not parse is the failure. A
// form past the fake's limits is a failure from the start, and reads as
// empty, so nothing more is parsed.
class Params {
 public:
  Params(std::string_view text, const ProxyFakeOptions& limits)
      : form_(internal::DecodeForm(text)) {
    const std::vector<internal::FormField>& fields = form_.fields();
    if (fields.size() > limits.max_params) {
      Fail(Failure{
          kPayloadTooLarge,
          Cat("Too many parameters: ", std::to_string(fields.size()),
              "; the limit is ", std::to_string(limits.max_params), ".")});
    }
    for (const internal::FormField& f : fields) {
      if (f.key.size() > limits.max_param_bytes ||
          f.value.size() > limits.max_param_bytes) {
        Fail(Invalid(std::string_view(f.key).substr(0, kMaxEchoedBytes),
                     Cat("It is longer than ",
                         std::to_string(limits.max_param_bytes), " bytes.")));
        break;
      }
    }
    if (failure_.has_value()) form_ = Form({});
  }

  std::optional<std::string> String(std::string_view key) const {
    std::optional<std::string_view> v = form_.Last(key);
    if (!v.has_value()) return std::nullopt;
    return std::string(*v);
  }

  std::optional<int64_t> Integer(std::string_view key) {
    std::optional<std::string_view> v = form_.Last(key);
    if (!v.has_value()) return std::nullopt;
    std::optional<int64_t> n = ParseInteger(*v);
    if (!n.has_value()) Fail(Invalid(key, "It must be an integer."));
    return n;
  }

  std::optional<absl::Time> Time(std::string_view key) {
    std::optional<std::string_view> v = form_.Last(key);
    if (!v.has_value()) return std::nullopt;
    absl::StatusOr<absl::Time> t = internal::ParseIsoTime(*v);
    if (!t.ok()) {
      Fail(Invalid(key, "It must be an ISO 8601 date-time."));
      return std::nullopt;
    }
    return *t;
  }

  std::optional<SessionStatus> Status() {
    std::optional<std::string_view> v = form_.Last("Status");
    if (!v.has_value()) return std::nullopt;
    std::optional<SessionStatus> s = ParseStatus(*v);
    if (!s.has_value()) {
      Fail(Invalid("Status",
                   "It must be one of open, in-progress, closed, failed, "
                   "unknown."));
    }
    return s;
  }

  std::optional<SessionMode> Mode() {
    std::optional<std::string_view> v = form_.Last("Mode");
    if (!v.has_value()) return std::nullopt;
    std::optional<SessionMode> m = ParseMode(*v);
    if (!m.has_value()) {
      Fail(Invalid("Mode",
                   "It must be one of message-only, voice-only, "
                   "voice-and-message."));
    }
    return m;
  }

  // Each Participants value is a JSON object such as
  // {"Identifier": "+15555550100", "FriendlyName": "Alice"}. More than
  // kMaxParticipants are not read: that many empty ones go to the store,
  // whose 80609 comes after the Service and before what each holds
  // (docs/semantics.md, "Order of checks").
  std::vector<ParticipantParams> Participants() {
    const std::vector<std::string_view> values = form_.All("Participants");
    if (values.size() > kMaxParticipants) {
      return std::vector<ParticipantParams>(values.size());
    }
    std::vector<ParticipantParams> out;
    for (std::string_view text : values) {
      Json j = Json::parse(text.begin(), text.end(), nullptr,
                           /*allow_exceptions=*/false);
      if (!j.is_object()) {
        Fail(Invalid("Participants", "Each must be a JSON object."));
        return out;
      }
      ParticipantParams p;
      if (!Field(j, "Identifier", &p.identifier) ||
          !Field(j, "FriendlyName", &p.friendly_name) ||
          !Field(j, "ProxyIdentifier", &p.proxy_identifier)) {
        Fail(Invalid("Participants", "Its fields must be strings."));
        return out;
      }
      out.push_back(std::move(p));
    }
    return out;
  }

  const std::optional<Failure>& failure() const { return failure_; }

 private:
  static bool Field(const Json& j, const char* key, std::string* out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    *out = it->get<std::string>();
    return true;
  }

  void Fail(Failure f) {
    if (!failure_.has_value()) failure_ = std::move(f);
  }

  Form form_;
  std::optional<Failure> failure_;
};

// The resource a path names.
struct Route {
  enum Kind {
    kServices,
    kService,
    kSessions,
    kSession,
    kParticipants,
    kParticipant,
    kMessageInteractions,
    kInteractions,
    kInteraction,
  } kind;
  std::string service;  // Percent-decoded, like every segment.
  std::string session;  // Decoded: a SID or a unique_name.
  std::string child;    // The Participant's or Interaction's SID, decoded.
};

// "/v1/Services[/KS…[/Sessions[/id]]]", nothing else.
std::optional<Route> ParseRoute(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return std::nullopt;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  // Split on the raw '/', then decode: "%2F" inside a name stays a name.
  std::vector<std::string> decoded;
  for (std::string_view p : parts) {
    if (p.empty()) return std::nullopt;
    decoded.push_back(internal::DecodePathSegment(p));
  }
  if (decoded.size() < 2 || decoded[0] != "v1" || decoded[1] != "Services") {
    return std::nullopt;
  }
  switch (parts.size()) {
    case 2:
      return Route{Route::kServices, "", "", ""};
    case 3:
      return Route{Route::kService, decoded[2], "", ""};
    case 4:
      if (decoded[3] != "Sessions") return std::nullopt;
      return Route{Route::kSessions, decoded[2], "", ""};
    case 5:
      if (decoded[3] != "Sessions") return std::nullopt;
      return Route{Route::kSession, decoded[2], decoded[4], ""};
    default:
      break;
  }
  // Under a Session: its Participants and Interactions.
  if (decoded[3] != "Sessions") return std::nullopt;
  const std::string& what = decoded[5];
  switch (parts.size()) {
    case 6:
      if (what == "Participants") {
        return Route{Route::kParticipants, decoded[2], decoded[4], ""};
      }
      if (what == "Interactions") {
        return Route{Route::kInteractions, decoded[2], decoded[4], ""};
      }
      return std::nullopt;
    case 7:
      if (what == "Participants") {
        return Route{Route::kParticipant, decoded[2], decoded[4], decoded[6]};
      }
      if (what == "Interactions") {
        return Route{Route::kInteraction, decoded[2], decoded[4], decoded[6]};
      }
      return std::nullopt;
    case 8:
      if (what != "Participants" || decoded[7] != "MessageInteractions") {
        return std::nullopt;
      }
      return Route{Route::kMessageInteractions, decoded[2], decoded[4],
                   decoded[6]};
    default:
      return std::nullopt;
  }
}

// True for a host of the Proxy API as the SDKs build it from their region
// and edge settings: proxy.twilio.com, proxy.<region>.twilio.com and
// proxy.<edge>.<region>.twilio.com, in any case.
bool IsProxyHost(std::string_view host) {
  constexpr std::string_view kFirst = "proxy.";
  constexpr std::string_view kLast = "twilio.com";
  if (host.size() < kFirst.size() + kLast.size()) return false;
  std::string lower(host);
  for (char& c : lower) c = static_cast<char>(std::tolower(c));
  std::string_view rest(lower);
  if (rest.substr(0, kFirst.size()) != kFirst ||
      rest.substr(rest.size() - kLast.size()) != kLast) {
    return false;
  }
  rest = rest.substr(kFirst.size(), rest.size() - kFirst.size() - kLast.size());
  // Now "", "<region>." or "<edge>.<region>.".
  int labels = 0;
  while (!rest.empty()) {
    const size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string_view::npos || ++labels > 2) return false;
    for (char c : rest.substr(0, dot)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
    rest.remove_prefix(dot + 1);
  }
  return true;
}

// The path and query of a target: a target is a path, or a full URL under
// `base_url` or on any Proxy host (IsProxyHost). A URL on another host is
// left whole, so it names no route.
std::string_view StripHost(std::string_view target, std::string_view base) {
  if (!base.empty() && target.substr(0, base.size()) == base) {
    return target.substr(base.size());
  }
  for (std::string_view scheme : {"https://", "http://"}) {
    if (target.substr(0, scheme.size()) != scheme) continue;
    const std::string_view rest = target.substr(scheme.size());
    const size_t end = std::min(rest.find('/'), rest.find('?'));
    const std::string_view host = rest.substr(0, end);
    if (!IsProxyHost(host)) return target;
    return end == std::string_view::npos ? std::string_view("/")
                                         : rest.substr(end);
  }
  return target;
}

std::string UpperCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(c));
  return out;
}

// Reads PageSize, Page and PageToken from a list's query string.
struct ListQuery {
  ListParams params;
  int page = 0;
  // A parameter that does not parse: answered before the store is asked.
  std::optional<Failure> failure;
  // A `Page` out of range: answered only if the store's own checks (the
  // Service or Session, PageSize, PageToken) pass, as it comes after them
  // (docs/semantics.md, "Order of checks").
  std::optional<Failure> page_failure;
};

ListQuery ParseListQuery(std::string_view query,
                         const ProxyFakeOptions& limits) {
  ListQuery out;
  Params p(query, limits);
  std::optional<int64_t> size = p.Integer("PageSize");
  std::optional<int64_t> page = p.Integer("Page");
  if (p.failure().has_value()) {
    out.failure = p.failure();
    return out;
  }
  if (size.has_value()) {
    // Out of range is the store's refusal; keep it inside int first.
    out.params.page_size =
        *size < 0 || *size > 100000 ? 0 : static_cast<int>(*size);
  }
  if (page.has_value()) {
    if (*page < 0 || *page > 1000000000) {
      out.page_failure = Invalid("Page", "It must be an integer >= 0.");
    } else {
      out.page = static_cast<int>(*page);
    }
  }
  // Present and empty is no token the API ever gave: refused by the store,
  // not read as the first page.
  std::optional<std::string> token = p.String("PageToken");
  if (token.has_value() && token->empty()) token = kEmptyPageToken;
  out.params.page_token = std::move(token).value_or("");
  return out;
}

}  // namespace

struct ProxyFake::Rep {
  ProxyFakeOptions options;
  std::unique_ptr<ManualClock> owned_clock;
  std::unique_ptr<SessionStore> owned_store;
  SessionStore* store = nullptr;
  ManualClock* clock = nullptr;
  std::string config_error;  // Why the options were refused, if they were.

  Response Dispatch(std::string_view method, std::string_view target,
                    std::string_view body);
  Response Services(const std::string& method, std::string_view query,
                    std::string_view body);
  Response OneService(const std::string& method, const std::string& ks,
                      std::string_view body);
  Response Sessions(const std::string& method, const std::string& ks,
                    std::string_view query, std::string_view body);
  Response OneSession(const std::string& method, const std::string& ks,
                      const std::string& id, std::string_view body);
  // Participants and Interactions, under a Session named by its SID.
  Response Participants(const std::string& method, const Route& route,
                        std::string_view query, std::string_view body);
  Response OneParticipant(const std::string& method, const Route& route);
  Response MessageInteractions(const std::string& method, const Route& route,
                               std::string_view body);
  Response Interactions(const std::string& method, const Route& route,
                        std::string_view query);
  Response OneInteraction(const std::string& method, const Route& route);

  // The list meta for `path` (no query), page `page` of size `size`.
  internal::PageMeta Meta(std::string_view path, std::string_view key, int page,
                          int size, const std::string& token,
                          const std::string& previous,
                          const std::string& next) const;
  std::string PageUrl(std::string_view path, int page, int size,
                      std::string_view token) const;
  // With auto_create_services, creates the Service `ks` names if it is a KS
  // SID no Service has. Called just before the store call that needs the
  // Service, after the fake's own checks, so a request the fake refuses
  // makes nothing; only a request that a new Service can let succeed calls
  // it (not a delete, nor one naming a Session, which a new Service has
  // none of). Answers the 429 of the store's limit on Services
  // (max_services); any other refusal leaves the request to answer for
  // itself.
  std::optional<Response> AutoCreateService(const std::string& ks);
};

ProxyFake::ProxyFake(ProxyFakeOptions options) : rep_(std::make_unique<Rep>()) {
  rep_->owned_clock =
      std::make_unique<ManualClock>(options.start_time.value_or(absl::Now()));
  StoreOptions store;
  store.clock = rep_->owned_clock.get();
  store.seed = options.seed;
  store.account_sid = options.account_sid;
  // The fake takes any retention a test may write; the store's range is
  // 0 to 100 years or infinite.
  store.closed_retention =
      std::max(options.closed_retention, absl::ZeroDuration());
  if (store.closed_retention > absl::Hours(24 * 365 * 100)) {
    store.closed_retention = absl::InfiniteDuration();
  }
  store.max_sessions = options.max_sessions;
  store.max_sessions_per_service = options.max_sessions_per_service;
  store.max_services = options.max_services;
  store.max_interactions = options.max_interactions;
  store.max_interactions_per_session = options.max_interactions_per_session;
  absl::StatusOr<std::unique_ptr<SessionStore>> opened =
      SessionStore::Open(store);
  if (opened.ok() && options.start_time.has_value() &&
      (*options.start_time < kEarliest || *options.start_time > kLatest)) {
    opened = absl::InvalidArgumentError(
        Cat("start_time: ",
            std::string(ClockOutOfRange(*options.start_time).message())));
  }
  if (!opened.ok()) {
    // A malformed account SID or a negative limit gets here. A test
    // writer's mistake must not pass unnoticed, nor crash the test: every
    // request is answered 500 with the reason, from a default store.
    rep_->config_error = std::string(opened.status().message());
    StoreOptions fallback;
    fallback.clock = store.clock;
    fallback.seed = store.seed;
    opened = SessionStore::Open(fallback);
  }
  rep_->owned_store = *std::move(opened);
  rep_->store = rep_->owned_store.get();
  rep_->clock = rep_->owned_clock.get();
  rep_->options = std::move(options);
}

ProxyFake::ProxyFake(SessionStore* store, ManualClock* clock,
                     ProxyFakeOptions options)
    : rep_(std::make_unique<Rep>()) {
  rep_->store = store;
  rep_->clock = clock;
  rep_->options = std::move(options);
}

ProxyFake::~ProxyFake() = default;

SessionStore& ProxyFake::store() { return *rep_->store; }

absl::Time ProxyFake::Now() const {
  return rep_->clock != nullptr ? rep_->clock->Now() : absl::Now();
}

absl::Status ProxyFake::Advance(absl::Duration delta) {
  if (rep_->clock == nullptr) {
    return absl::FailedPreconditionError("the fake has no ManualClock");
  }
  if (delta < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cannot advance by a negative duration");
  }
  const absl::Time to = rep_->clock->Now() + delta;
  if (to > kLatest) return ClockOutOfRange(to);
  rep_->clock->Advance(delta);
  rep_->store->Advance();
  return absl::OkStatus();
}

absl::Status ProxyFake::SetTime(absl::Time t) {
  if (rep_->clock == nullptr) {
    return absl::FailedPreconditionError("the fake has no ManualClock");
  }
  if (t < kEarliest || t > kLatest) return ClockOutOfRange(t);
  rep_->clock->Set(t);
  rep_->store->Advance();
  return absl::OkStatus();
}

Response ProxyFake::Handle(std::string_view method, std::string_view target,
                           std::string_view form_body) {
  if (!rep_->config_error.empty()) {
    return Response{
        500, Dump(internal::ErrorToJson(
                 20500, Cat("ProxyFakeOptions refused: ", rep_->config_error),
                 500))};
  }
  return rep_->Dispatch(method, target, form_body);
}

Response ProxyFake::Rep::Dispatch(std::string_view method_in,
                                  std::string_view target,
                                  std::string_view body) {
  if (target.size() > kMaxTargetBytes) return NotFoundResponse(target);
  if (body.size() > options.max_body_bytes) {
    return ErrorResponse(
        kPayloadTooLarge,
        Cat("Request body too large: ", std::to_string(body.size()),
            " bytes; the limit is ", std::to_string(options.max_body_bytes),
            "."));
  }
  target = StripHost(target, options.base_url);
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  std::optional<Route> route = ParseRoute(path);
  if (!route.has_value()) return NotFoundResponse(path);
  const std::string method = UpperCase(method_in);
  if (method != "GET" && method != "POST" && method != "DELETE") {
    return MethodNotAllowed();
  }
  switch (route->kind) {
    case Route::kServices:
      return Services(method, query, body);
    case Route::kService:
      return OneService(method, route->service, body);
    case Route::kSessions:
      return Sessions(method, route->service, query, body);
    case Route::kSession:
      return OneSession(method, route->service, route->session, body);
    case Route::kParticipants:
      return Participants(method, *route, query, body);
    case Route::kParticipant:
      return OneParticipant(method, *route);
    case Route::kMessageInteractions:
      return MessageInteractions(method, *route, body);
    case Route::kInteractions:
      return Interactions(method, *route, query);
    case Route::kInteraction:
      return OneInteraction(method, *route);
  }
  return NotFoundResponse(path);
}

std::optional<Response> ProxyFake::Rep::AutoCreateService(
    const std::string& ks) {
  if (!options.auto_create_services) return std::nullopt;
  std::optional<Sid> sid = Sid::Parse("KS", ks);
  if (!sid.has_value()) return std::nullopt;
  if (store->FetchService(*sid).ok()) return std::nullopt;
  CreateServiceParams params;
  params.sid = *sid;
  params.unique_name = ks;
  absl::StatusOr<Service> created = store->CreateService(params);
  // Another thread may have created it first: that is as good.
  if (absl::IsResourceExhausted(created.status())) {
    return ErrorResponse(created.status());
  }
  return std::nullopt;
}

std::string ProxyFake::Rep::PageUrl(std::string_view path, int page, int size,
                                    std::string_view token) const {
  std::string url =
      Cat(options.base_url, path, "?PageSize=", std::to_string(size),
          "&Page=", std::to_string(page));
  if (!token.empty()) url += Cat("&PageToken=", token);
  return url;
}

internal::PageMeta ProxyFake::Rep::Meta(std::string_view path,
                                        std::string_view key, int page,
                                        int size, const std::string& token,
                                        const std::string& previous,
                                        const std::string& next) const {
  internal::PageMeta meta;
  meta.page = page;
  meta.page_size = size;
  meta.key = std::string(key);
  meta.first_page_url = PageUrl(path, 0, size, "");
  meta.url = PageUrl(path, page, size, token);
  if (!previous.empty()) {
    meta.previous_page_url =
        PageUrl(path, page > 0 ? page - 1 : 0, size, previous);
  }
  if (!next.empty()) meta.next_page_url = PageUrl(path, page + 1, size, next);
  return meta;
}

Response ProxyFake::Rep::Services(const std::string& method,
                                  std::string_view query,
                                  std::string_view body) {
  if (method == "GET") {
    ListQuery q = ParseListQuery(query, options);
    if (q.failure) return ErrorResponse(q.failure->code, q.failure->message);
    absl::StatusOr<ServicePage> page = store->ListServices(q.params);
    if (!page.ok()) return ErrorResponse(page.status());
    if (q.page_failure) {
      return ErrorResponse(q.page_failure->code, q.page_failure->message);
    }
    Json j;
    j["services"] = Json::array();
    for (const Service& s : page->services) {
      j["services"].push_back(
          internal::ServiceToJson(s, store->account_sid(), options.base_url));
    }
    j["meta"] = internal::PageMetaToJson(Meta(
        "/v1/Services", "services", q.page, q.params.page_size,
        q.params.page_token, page->previous_page_token, page->next_page_token));
    return Json200(200, j);
  }
  if (method != "POST") return MethodNotAllowed();
  Params p(body, options);
  CreateServiceParams params;
  params.unique_name = p.String("UniqueName").value_or("");
  params.default_ttl = p.Integer("DefaultTtl").value_or(0);
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  absl::StatusOr<Service> s = store->CreateService(params);
  if (!s.ok()) return ErrorResponse(s.status());
  return Json200(
      201, internal::ServiceToJson(*s, store->account_sid(), options.base_url));
}

Response ProxyFake::Rep::OneService(const std::string& method,
                                    const std::string& ks,
                                    std::string_view body) {
  const std::string resource = Cat("/Services/", ks);
  const Sid service = ServiceSid(ks);
  if (method == "GET") {
    if (std::optional<Response> refused = AutoCreateService(ks)) {
      return *refused;
    }
    absl::StatusOr<Service> s = store->FetchService(service);
    if (!s.ok()) return StoreErrorResponse(s.status(), resource);
    return Json200(200, internal::ServiceToJson(*s, store->account_sid(),
                                                options.base_url));
  }
  if (method == "DELETE") {
    absl::Status s = store->DeleteService(service);
    if (!s.ok()) return StoreErrorResponse(s, resource);
    return Response{204, ""};
  }
  Params p(body, options);
  UpdateServiceParams params;
  params.unique_name = p.String("UniqueName");
  params.default_ttl = p.Integer("DefaultTtl");
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  if (std::optional<Response> refused = AutoCreateService(ks)) return *refused;
  absl::StatusOr<Service> s = store->UpdateService(service, params);
  if (!s.ok()) return StoreErrorResponse(s.status(), resource);
  return Json200(
      200, internal::ServiceToJson(*s, store->account_sid(), options.base_url));
}

Response ProxyFake::Rep::Sessions(const std::string& method,
                                  const std::string& ks, std::string_view query,
                                  std::string_view body) {
  const std::string path = Cat("/v1/Services/", ks, "/Sessions");
  const std::string_view resource = std::string_view(path).substr(3);
  const Sid service = ServiceSid(ks);
  if (method == "GET") {
    ListQuery q = ParseListQuery(query, options);
    if (q.failure) return ErrorResponse(q.failure->code, q.failure->message);
    if (std::optional<Response> refused = AutoCreateService(ks)) {
      return *refused;
    }
    absl::StatusOr<SessionPage> page = store->ListSessions(service, q.params);
    if (!page.ok()) return StoreErrorResponse(page.status(), resource);
    if (q.page_failure) {
      return ErrorResponse(q.page_failure->code, q.page_failure->message);
    }
    Json j;
    j["sessions"] = Json::array();
    for (const Session& s : page->sessions) {
      j["sessions"].push_back(
          internal::SessionToJson(s, store->account_sid(), options.base_url));
    }
    j["meta"] = internal::PageMetaToJson(
        Meta(path, "sessions", q.page, q.params.page_size, q.params.page_token,
             page->previous_page_token, page->next_page_token));
    return Json200(200, j);
  }
  if (method != "POST") return MethodNotAllowed();
  Params p(body, options);
  CreateSessionParams params;
  params.unique_name = p.String("UniqueName");
  params.date_expiry = p.Time("DateExpiry");
  params.ttl = p.Integer("Ttl");
  params.mode = p.Mode();
  params.status = p.Status();
  params.participants = p.Participants();
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  if (std::optional<Response> refused = AutoCreateService(ks)) return *refused;
  Session s;
  if (absl::Status st = store->CreateSession(service, params, &s); !st.ok()) {
    return StoreErrorResponse(st, resource);
  }
  return Json200(
      201, internal::SessionToJson(s, store->account_sid(), options.base_url));
}

Response ProxyFake::Rep::OneSession(const std::string& method,
                                    const std::string& ks,
                                    const std::string& id,
                                    std::string_view body) {
  const std::string resource = Cat("/Services/", ks, "/Sessions/", id);
  const Sid service = ServiceSid(ks);
  Session s;
  if (method == "GET") {
    if (absl::Status st = store->FetchSession(service, id, &s); !st.ok()) {
      return StoreErrorResponse(st, resource);
    }
    return Json200(200, internal::SessionToJson(s, store->account_sid(),
                                                options.base_url));
  }
  // Update and delete name the Session by SID alone.
  const std::optional<Sid> kc = Sid::Parse("KC", id);
  if (method == "DELETE") {
    if (!kc.has_value()) return MalformedSessionSid(id);
    absl::Status st = store->DeleteSession(service, *kc);
    if (!st.ok()) return StoreErrorResponse(st, resource);
    return Response{204, ""};
  }
  Params p(body, options);
  UpdateSessionParams params;
  params.date_expiry = p.Time("DateExpiry");
  params.ttl = p.Integer("Ttl");
  params.status = p.Status();
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  if (!kc.has_value()) return MalformedSessionSid(id);
  if (absl::Status st = store->UpdateSession(service, *kc, params, &s);
      !st.ok()) {
    return StoreErrorResponse(st, resource);
  }
  return Json200(
      200, internal::SessionToJson(s, store->account_sid(), options.base_url));
}

namespace {

// The path of a Session's child resource, and the REST resource a 20404
// names (the path without "/v1").
std::string SessionPath(const Route& r) {
  return Cat("/v1/Services/", r.service, "/Sessions/", r.session);
}

}  // namespace

Response ProxyFake::Rep::Participants(const std::string& method,
                                      const Route& route,
                                      std::string_view query,
                                      std::string_view body) {
  const std::string path = Cat(SessionPath(route), "/Participants");
  const std::string_view resource = std::string_view(path).substr(3);
  const Sid service = ServiceSid(route.service);
  const Sid session = Sid::Parse("KC", route.session).value_or(Sid());
  if (method == "GET") {
    ListQuery q = ParseListQuery(query, options);
    if (q.failure) return ErrorResponse(q.failure->code, q.failure->message);
    absl::StatusOr<ParticipantPage> page =
        store->ListParticipants(service, session, q.params);
    if (!page.ok()) return StoreErrorResponse(page.status(), resource);
    if (q.page_failure) {
      return ErrorResponse(q.page_failure->code, q.page_failure->message);
    }
    Json j;
    j["participants"] = Json::array();
    for (const Participant& p : page->participants) {
      j["participants"].push_back(internal::ParticipantToJson(
          p, service, session, store->account_sid(), options.base_url));
    }
    j["meta"] = internal::PageMetaToJson(Meta(
        path, "participants", q.page, q.params.page_size, q.params.page_token,
        page->previous_page_token, page->next_page_token));
    return Json200(200, j);
  }
  if (method != "POST") return MethodNotAllowed();
  Params p(body, options);
  ParticipantParams params;
  params.identifier = p.String("Identifier").value_or("");
  params.friendly_name = p.String("FriendlyName").value_or("");
  params.proxy_identifier = p.String("ProxyIdentifier").value_or("");
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  absl::StatusOr<Participant> created =
      store->CreateParticipant(service, session, params);
  if (!created.ok()) return StoreErrorResponse(created.status(), resource);
  return Json200(
      201, internal::ParticipantToJson(*created, service, session,
                                       store->account_sid(), options.base_url));
}

Response ProxyFake::Rep::OneParticipant(const std::string& method,
                                        const Route& route) {
  const std::string path =
      Cat(SessionPath(route), "/Participants/", route.child);
  const std::string_view resource = std::string_view(path).substr(3);
  const Sid service = ServiceSid(route.service);
  const Sid session = Sid::Parse("KC", route.session).value_or(Sid());
  const Sid participant = Sid::Parse("KP", route.child).value_or(Sid());
  if (method == "GET") {
    absl::StatusOr<Participant> p =
        store->FetchParticipant(service, session, participant);
    if (!p.ok()) return StoreErrorResponse(p.status(), resource);
    return Json200(
        200, internal::ParticipantToJson(
                 *p, service, session, store->account_sid(), options.base_url));
  }
  if (method != "DELETE") return MethodNotAllowed();
  absl::Status st = store->DeleteParticipant(service, session, participant);
  if (!st.ok()) return StoreErrorResponse(st, resource);
  return Response{204, ""};
}

Response ProxyFake::Rep::MessageInteractions(const std::string& method,
                                             const Route& route,
                                             std::string_view body) {
  const std::string path = Cat(SessionPath(route), "/Participants/",
                               route.child, "/MessageInteractions");
  const std::string_view resource = std::string_view(path).substr(3);
  if (method != "POST") return MethodNotAllowed();
  const Sid service = ServiceSid(route.service);
  const Sid session = Sid::Parse("KC", route.session).value_or(Sid());
  const Sid participant = Sid::Parse("KP", route.child).value_or(Sid());
  Params p(body, options);
  const std::string text = p.String("Body").value_or("");
  if (p.failure())
    return ErrorResponse(p.failure()->code, p.failure()->message);
  absl::StatusOr<Interaction> created =
      store->RecordMessageInteraction(service, session, participant, text);
  if (!created.ok()) return StoreErrorResponse(created.status(), resource);
  return Json200(201, internal::MessageInteractionToJson(
                          *created, store->account_sid(), options.base_url));
}

Response ProxyFake::Rep::Interactions(const std::string& method,
                                      const Route& route,
                                      std::string_view query) {
  const std::string path = Cat(SessionPath(route), "/Interactions");
  const std::string_view resource = std::string_view(path).substr(3);
  if (method != "GET") return MethodNotAllowed();
  const Sid service = ServiceSid(route.service);
  const Sid session = Sid::Parse("KC", route.session).value_or(Sid());
  ListQuery q = ParseListQuery(query, options);
  if (q.failure) return ErrorResponse(q.failure->code, q.failure->message);
  absl::StatusOr<InteractionPage> page =
      store->ListInteractions(service, session, q.params);
  if (!page.ok()) return StoreErrorResponse(page.status(), resource);
  if (q.page_failure) {
    return ErrorResponse(q.page_failure->code, q.page_failure->message);
  }
  // A page holds at most 100, and says so.
  const int size = std::min(q.params.page_size, 100);
  Json j;
  j["interactions"] = Json::array();
  for (const Interaction& i : page->interactions) {
    j["interactions"].push_back(
        internal::InteractionToJson(i, store->account_sid(), options.base_url));
  }
  j["meta"] = internal::PageMetaToJson(
      Meta(path, "interactions", q.page, size, q.params.page_token,
           page->previous_page_token, page->next_page_token));
  return Json200(200, j);
}

Response ProxyFake::Rep::OneInteraction(const std::string& method,
                                        const Route& route) {
  const std::string path =
      Cat(SessionPath(route), "/Interactions/", route.child);
  const std::string_view resource = std::string_view(path).substr(3);
  const Sid service = ServiceSid(route.service);
  const Sid session = Sid::Parse("KC", route.session).value_or(Sid());
  const Sid interaction = Sid::Parse("KI", route.child).value_or(Sid());
  if (method == "GET") {
    absl::StatusOr<Interaction> i =
        store->FetchInteraction(service, session, interaction);
    if (!i.ok()) return StoreErrorResponse(i.status(), resource);
    return Json200(200, internal::InteractionToJson(*i, store->account_sid(),
                                                    options.base_url));
  }
  if (method != "DELETE") return MethodNotAllowed();
  absl::Status st = store->DeleteInteraction(service, session, interaction);
  if (!st.ok()) return StoreErrorResponse(st, resource);
  return Response{204, ""};
}

}  // namespace sessionwheel
