// Fuzzes the whole ProxyFake (include/sessionwheel/proxy_fake.h) with
// sequences of requests and clock moves decoded from the input.
//
// The first byte picks the closed retention (90 days, an hour, zero or never)
// so purges happen within the bounded clock moves, and the store's number of
// shards (1, 4 or 16). The fake runs over that store. Each step is then a
// request, an Advance (0 to 90 days) or a SetTime (a day before the start to
// a year after it, so the clock may go back). Requests use GET, POST, DELETE,
// other case and other methods; targets of every route shape (Participants,
// MessageInteractions and Interactions under a Session too), also as full
// URLs and the fake's own page URLs, naming the SIDs and names the fake has
// answered with, upper-cased SIDs, unknown and malformed SIDs and junk; query
// strings and form bodies with the real parameter names, typical, boundary
// and junk values, sometimes not percent-encoded.
//
// After every request:
// - the status is one the fake may answer for that method and route, the
//   body is empty exactly for 204 and JSON otherwise;
// - an error is {code, message, more_info, status} with status equal to the
//   HTTP status and a code that belongs to it (20404 for 404, 20004 for 405);
// - a success has the shape of its resource (docs/semantics.md): every
//   Session and Service field with its type, SIDs with their prefix in
//   lower-case hex, times as YYYY-MM-DDTHH:MM:SSZ, url and links; lists with
//   `meta`;
// - a Session is consistent: ended exactly when date_ended and closed_reason
//   are set, ended by expiry at its date_expiry, never stale (an open Session
//   is before its expiry), not read past its retention, and under the Service
//   its path named; while the clock has only moved forward, its dates are in
//   order and lists are newest first.
// After every step, store().CheckInvariants() is OK. SW_FUZZ_VERBOSE=1 in
// the environment prints each request, answer and clock move.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "engine/fake/form.h"
#include "engine/util/iso_time.h"
#include "engine/util/sid.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/clock.h"
#include "sessionwheel/proxy_fake.h"
#include "sessionwheel/store.h"
#include "tests/fuzz/fuzz_input.h"

namespace sessionwheel::fuzz {
namespace {

using internal::EncodeFormValue;
using internal::FormatIsoTime;
using nlohmann::json;

constexpr char kBase[] = "https://proxy.twilio.com";
constexpr char kMoreInfo[] = "https://www.twilio.com/docs/errors/";
const absl::Time kStart = absl::FromCivil(
    absl::CivilSecond(2030, 1, 1, 0, 0, 0), absl::UTCTimeZone());
// Enough to reach every state; more only slows each run.
constexpr int kMaxSteps = 200;
// How many SIDs, names and page URLs to remember for later requests.
constexpr size_t kMaxRemembered = 16;

// The resource a request's target names, as the request was built.
enum class Route {
  kServices,
  kService,
  kSessions,
  kSession,
  kParticipants,
  kParticipant,
  kMessageInteractions,
  kInteractions,
  kInteraction,
  kNone,  // No route: must be 404.
  kAny,   // Raw junk: any answer of a valid shape.
};

struct Request {
  std::string method;
  std::string target;
  std::string body;
  Route route = Route::kAny;
  // The lower-case Service SID the path names, if it names a known one.
  std::optional<std::string> service_sid;
};

std::string Describe(const Request& r, const Response& response) {
  return r.method + " " + r.target + " body '" + r.body + "' -> " +
         std::to_string(response.status) + " " + response.body;
}

// A SID with its hex digits upper-cased: the fake reads SIDs in any case.
std::string UpperHex(std::string sid) {
  for (size_t i = 2; i < sid.size(); ++i) {
    if (sid[i] >= 'a' && sid[i] <= 'f') sid[i] = static_cast<char>(sid[i] - 32);
  }
  return sid;
}

void Remember(std::vector<std::string>* list, std::string value) {
  if (list->size() == kMaxRemembered) list->erase(list->begin());
  list->push_back(std::move(value));
}

// The value of `key` in the query of `url`, or "".
std::string QueryValue(std::string_view url, std::string_view key) {
  const size_t q = url.find('?');
  if (q == std::string_view::npos) return "";
  for (const internal::FormField& f : internal::DecodeForm(url.substr(q + 1))) {
    if (f.key == key) return f.value;
  }
  return "";
}

// Shape checks -------------------------------------------------------------

void CheckKeys(const json& j, std::initializer_list<const char*> keys,
               const std::string& context) {
  SW_FUZZ_CHECK(j.is_object() && j.size() == keys.size(),
                "wrong number of keys: " + context);
  for (const char* key : keys) {
    SW_FUZZ_CHECK(j.contains(key),
                  std::string("missing ") + key + ": " + context);
  }
}

// A SID with `prefix` and 32 lower-case hex digits.
std::string CheckSid(const json& v, std::string_view prefix,
                     const std::string& context) {
  SW_FUZZ_CHECK(v.is_string(), "a SID is not a string: " + context);
  const std::string sid = v.get<std::string>();
  const std::optional<internal::Sid128> parsed =
      internal::ParseSid(prefix, sid);
  SW_FUZZ_CHECK(
      parsed.has_value() && internal::FormatSid(prefix, *parsed) == sid,
      "malformed SID " + sid + ": " + context);
  return sid;
}

// A time in the output form, YYYY-MM-DDTHH:MM:SSZ.
absl::Time CheckTime(const json& v, const std::string& context) {
  SW_FUZZ_CHECK(v.is_string(), "a time is not a string: " + context);
  const std::string text = v.get<std::string>();
  const absl::StatusOr<absl::Time> t = internal::ParseIsoTime(text);
  SW_FUZZ_CHECK(t.ok() && FormatIsoTime(*t) == text,
                "a time not in the output form: " + context);
  return *t;
}

std::optional<absl::Time> CheckOptionalTime(const json& v,
                                            const std::string& context) {
  if (v.is_null()) return std::nullopt;
  return CheckTime(v, context);
}

void CheckOneOf(const json& v, std::initializer_list<const char*> values,
                const std::string& context) {
  SW_FUZZ_CHECK(v.is_string(), "an enum is not a string: " + context);
  for (const char* value : values) {
    if (v.get<std::string>() == value) return;
  }
  SW_FUZZ_CHECK(false, "an unknown enum value: " + context);
}

void CheckError(const json& j, int http, const std::string& context) {
  CheckKeys(j, {"code", "message", "more_info", "status"}, context);
  SW_FUZZ_CHECK(
      j["code"].is_number_integer() && j["status"].is_number_integer(),
      "code or status not an integer: " + context);
  SW_FUZZ_CHECK(j["status"].get<int>() == http,
                "error status differs from HTTP status: " + context);
  const int code = j["code"].get<int>();
  SW_FUZZ_CHECK(
      j["message"].is_string() && !j["message"].get<std::string>().empty(),
      "error without a message: " + context);
  SW_FUZZ_CHECK(j["more_info"] == kMoreInfo + std::to_string(code),
                "wrong more_info: " + context);
  switch (http) {
    case 404:
      SW_FUZZ_CHECK(code == 20404, "404 without 20404: " + context);
      break;
    case 405:
      SW_FUZZ_CHECK(code == 20004, "405 without 20004: " + context);
      break;
    default:
      for (int known : {21481, 80103, 80409, 80602, 80603, 80607, 80608, 80609,
                        80614, 80701}) {
        if (code == known) return;
      }
      SW_FUZZ_CHECK(false, "400 with an unknown code: " + context);
  }
}

// Fuzzes one ProxyFake: builds requests and checks every answer.
class FakeFuzzer {
 public:
  FakeFuzzer(absl::Duration closed_retention, int shards)
      : clock_(kStart),
        store_(OpenStore(&clock_, closed_retention, shards)),
        fake_(store_.get(), &clock_, Options()),
        retention_(closed_retention) {}

  void Run(FuzzInput& in) {
    for (int step = 0; step < kMaxSteps && !in.empty(); ++step) {
      switch (in.Byte() % 10) {
        case 0:
          Advance(in);
          if (verbose_) std::fprintf(stderr, "now %s\n", Now().c_str());
          break;
        case 1:
          SetTime(in);
          if (verbose_) std::fprintf(stderr, "now %s\n", Now().c_str());
          break;
        default: {
          const Request request = MakeRequest(in);
          const Response response =
              fake_.Handle(request.method, request.target, request.body);
          if (verbose_) {
            std::fprintf(stderr, "%s\n", Describe(request, response).c_str());
          }
          Check(request, response);
        }
      }
      const absl::Status invariants = fake_.store().CheckInvariants();
      SW_FUZZ_CHECK(invariants.ok(), invariants.ToString());
    }
  }

 private:
  // The fake's own store has 16 shards, and building and freeing their
  // wheels under ASan dominates a short run: fewer shards, many more runs.
  static std::unique_ptr<SessionStore> OpenStore(
      ManualClock* clock, absl::Duration closed_retention, int shards) {
    StoreOptions options;
    options.clock = clock;
    options.shards = shards;
    options.seed = 7;
    options.closed_retention = closed_retention;
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options);
    SW_FUZZ_CHECK(store.ok(), store.status().ToString());
    return *std::move(store);
  }

  static ProxyFakeOptions Options() {
    ProxyFakeOptions options;
    options.base_url = kBase;
    return options;
  }

  std::string Now() { return absl::FormatTime(fake_.Now()); }

  // Clock moves ------------------------------------------------------------

  void Advance(FuzzInput& in) {
    static const absl::Duration kSteps[] = {
        absl::ZeroDuration(),    absl::Milliseconds(1), absl::Milliseconds(10),
        absl::Milliseconds(999), absl::Seconds(1),      absl::Seconds(59),
        absl::Hours(1),          absl::Hours(24),       absl::Hours(24 * 90)};
    const uint8_t choice = in.Byte();
    const absl::Duration delta = choice < 200
                                     ? kSteps[choice % std::size(kSteps)]
                                     : absl::Milliseconds(in.Integer(3));
    // Past a year ahead the clock stays put, so a run stays short.
    if (fake_.Now() - kStart > absl::Hours(24 * 366)) return;
    SW_FUZZ_CHECK(fake_.Advance(delta).ok(), "Advance refused");
  }

  void SetTime(FuzzInput& in) {
    const int64_t span_s = 367 * 24 * 3600;
    const int64_t seconds = static_cast<int64_t>(in.Integer(4) % span_s);
    const int64_t millis = in.Byte() * 4;
    const absl::Time t = kStart - absl::Hours(24) + absl::Seconds(seconds) +
                         absl::Milliseconds(millis);
    if (t < fake_.Now()) monotonic_ = false;
    SW_FUZZ_CHECK(fake_.SetTime(t).ok(), "SetTime refused");
  }

  // Requests -------------------------------------------------------------

  Request MakeRequest(FuzzInput& in) {
    static const char* const kMethods[] = {
        "GET", "POST", "DELETE", "GET", "POST", "get", "Delete", "PUT", ""};
    Request r;
    r.method = in.Pick(kMethods);
    MakeTarget(in, &r);
    if (in.Byte() % 4 != 0) r.body = MakeForm(in, /*query=*/false);
    return r;
  }

  // Every read of the input is a statement of its own: the operands of one
  // expression are read in an order each compiler picks.
  void MakeTarget(FuzzInput& in, Request* r) {
    std::string path;
    switch (in.Byte() % 9) {
      case 0:
        path = "/v1/Services";
        r->route = Route::kServices;
        break;
      case 1:
        path = "/v1/Services/" + ServiceId(in, r);
        r->route = Route::kService;
        break;
      case 2:
      case 3:
        path = "/v1/Services/" + ServiceId(in, r) + "/Sessions";
        r->route = Route::kSessions;
        break;
      case 4:
      case 5: {
        const std::string ks = ServiceId(in, r);
        path = "/v1/Services/" + ks + "/Sessions/" + SessionId(in);
        r->route = Route::kSession;
        SessionChild(in, r, &path);
        break;
      }
      case 6:
        if (!page_urls_.empty()) {
          r->target = page_urls_[in.Index(page_urls_.size())];
          r->route = Route::kAny;
          return;
        }
        path = "/v1/Services";
        r->route = Route::kServices;
        break;
      case 7: {
        static const char* const kNoRoutes[] = {
            "",
            "/",
            "v1/Services",
            "/v2/Services",
            "/v1/Services/",
            "//v1/Services",
            "/v1/services",
            "/v1/Services/KS/Sessions/KC/Participants/KP/Other",
            "/v1/Services/x/Session",
            "/v1/Services/Sessions/x/y/z",
            "/v1/Services/x/Sessions/",
            "/v1%2FServices"};
        path = in.Pick(kNoRoutes);
        r->route = Route::kNone;
        break;
      }
      default:
        r->target = std::string(in.Bytes());
        r->route = Route::kAny;
        return;
    }
    r->target = (in.Byte() % 4 == 0 ? kBase : "") + path;
    if (r->route == Route::kServices || r->route == Route::kSessions ||
        r->route == Route::kParticipants || r->route == Route::kInteractions) {
      if (in.Byte() % 2 == 0) r->target += "?" + MakeForm(in, /*query=*/true);
    }
  }

  // Sometimes a route under the Session: its Participants, one of them, its
  // messages, its Interactions or one of them.
  void SessionChild(FuzzInput& in, Request* r, std::string* path) {
    const uint8_t sub = in.Byte() % 8;
    switch (sub) {
      case 3:
        *path += "/Participants";
        r->route = Route::kParticipants;
        break;
      case 4:
      case 5: {
        const std::string kp =
            PathId(in, "KP", participants_, {}, /*minted=*/nullptr);
        *path += "/Participants/" + kp;
        r->route = Route::kParticipant;
        if (sub == 5) {
          *path += "/MessageInteractions";
          r->route = Route::kMessageInteractions;
        }
        break;
      }
      case 6:
        *path += "/Interactions";
        r->route = Route::kInteractions;
        break;
      case 7: {
        const std::string ki =
            PathId(in, "KI", interactions_, {}, /*minted=*/nullptr);
        *path += "/Interactions/" + ki;
        r->route = Route::kInteraction;
        break;
      }
      default:
        break;
    }
  }

  // A Service path segment, percent-encoded. Sets r->service_sid when it
  // names a Service the fake minted.
  std::string ServiceId(FuzzInput& in, Request* r) {
    return PathId(in, "KS", services_, service_names_, &r->service_sid);
  }

  // A Session path segment, percent-encoded: a SID or a name.
  std::string SessionId(FuzzInput& in) {
    return PathId(in, "KC", sessions_, session_names_, nullptr);
  }

  // A segment naming a resource with SID `prefix`: one of `sids` the fake
  // answered with (as is or upper-cased; then stored in *minted if given),
  // one of `names`, an unknown or a malformed SID, or junk.
  static std::string PathId(FuzzInput& in, const char* prefix,
                            const std::vector<std::string>& sids,
                            const std::vector<std::string>& names,
                            std::optional<std::string>* minted) {
    const uint8_t choice = in.Byte() % 8;
    if (choice < 3 && !sids.empty()) {
      const std::string& sid = sids[in.Index(sids.size())];
      if (minted != nullptr) *minted = sid;
      return choice == 2 ? UpperHex(sid) : sid;
    }
    switch (choice) {
      case 3:
        return names.empty() ? "rides"
                             : EncodeFormValue(names[in.Index(names.size())]);
      case 4:
        return internal::FormatSid(
            prefix, internal::Sid128{in.Integer(8), in.Integer(8)});
      case 5:
        return std::string(prefix) + "123";
      default:
        return EncodeFormValue(in.Bytes());
    }
  }

  // A form body, or a list's query string if `query`.
  std::string MakeForm(FuzzInput& in, bool query) {
    static const char* const kBodyKeys[] = {
        "UniqueName", "Ttl",          "DateExpiry",   "Status",
        "Mode",       "Participants", "DefaultTtl",   "UniqueName",
        "Ttl",        "Status",       "PageSize",     "junk",
        "Identifier", "Identifier",   "FriendlyName", "ProxyIdentifier",
        "Body",       "Body"};
    static const char* const kQueryKeys[] = {
        "PageSize", "Page", "PageToken", "PageSize", "PageToken", "junk"};
    if (in.Byte() % 16 == 0) return std::string(in.Bytes());  // Raw junk.
    std::string form;
    const int fields = 1 + in.Byte() % 4;
    for (int i = 0; i < fields; ++i) {
      const std::string key = query ? in.Pick(kQueryKeys) : in.Pick(kBodyKeys);
      const std::string value = Value(in, key);
      if (i > 0) form += '&';
      // Mostly encoded as an SDK does; sometimes as written.
      form += key + "=" + (in.Byte() % 8 == 0 ? value : EncodeFormValue(value));
    }
    return form;
  }

  std::string Value(FuzzInput& in, const std::string& key) {
    static const char* const kNames[] = {"rides",
                                         "ride-42",
                                         "Order #1234",
                                         "caf\xc3\xa9",
                                         "\xff\xfe",
                                         "",
                                         "KC00000000000000000000000000000000"};
    static const char* const kIntegers[] = {"0",
                                            "1",
                                            "59",
                                            "60",
                                            "3600",
                                            "86400",
                                            "-1",
                                            "1.5",
                                            " 1",
                                            "",
                                            "253402300799",
                                            "253402300800",
                                            "9223372036854775807",
                                            "-9223372036854775808",
                                            "99999999999999999999",
                                            "0x10"};
    static const char* const kStatuses[] = {
        "open", "in-progress", "closed", "failed", "unknown", "Open", ""};
    static const char* const kModes[] = {"message-only", "voice-only",
                                         "voice-and-message", "both"};
    static const char* const kParticipants[] = {
        R"({"Identifier":"+15555550100","FriendlyName":"Alice"})",
        R"({"Identifier":"+15555550101","ProxyIdentifier":"+15555550199"})",
        R"({})",
        R"({"FriendlyName":null})",
        R"({"Identifier":1})",
        R"([])",
        R"("x")",
        "not json"};
    static const char* const kPageSizes[] = {"1",    "2", "3",  "50",    "1000",
                                             "1001", "0", "-1", "100001"};
    static const char* const kPages[] = {"0", "1", "2", "-1", "1000000001"};
    if (in.Byte() % 16 == 0) return std::string(in.Bytes());  // Junk.
    if (key == "UniqueName") return Name(in, kNames);
    if (key == "Ttl" || key == "DefaultTtl") {
      return in.Bool() ? in.Pick(kIntegers)
                       : std::to_string(in.Integer(in.Byte() % 9));
    }
    if (key == "DateExpiry") return Date(in);
    if (key == "Status") return in.Pick(kStatuses);
    if (key == "Mode") return in.Pick(kModes);
    if (key == "Participants") return in.Pick(kParticipants);
    if (key == "PageSize") return in.Pick(kPageSizes);
    if (key == "Page") return in.Pick(kPages);
    if (key == "PageToken") return Token(in);
    if (key == "Identifier" || key == "FriendlyName" ||
        key == "ProxyIdentifier") {
      static const char* const kIdentifiers[] = {
          "+15555550100", "+15555550101", "a", "", "caf\xc3\xa9", "\xff"};
      if (in.Byte() % 8 == 0) return std::string(192, 'i');
      return in.Pick(kIdentifiers);
    }
    if (key == "Body") {
      static const char* const kBodies[] = {"hello", "", "caf\xc3\xa9", "\xff"};
      const uint8_t b = in.Byte() % 8;
      if (b == 0) return std::string(1600, 'm');
      if (b == 1) return std::string(1601, 'm');
      return in.Pick(kBodies);
    }
    return "x";
  }

  template <size_t N>
  std::string Name(FuzzInput& in, const char* const (&names)[N]) {
    switch (in.Byte() % 6) {
      case 0:
        return std::string(191, 'a');
      case 1:
        return std::string(192, 'a');
      case 2: {  // 191 two-byte characters: 382 bytes, still allowed.
        std::string name;
        for (int i = 0; i < 191; ++i) name += "\xc3\xa9";
        return name;
      }
      case 3:
        if (!session_names_.empty()) {
          return session_names_[in.Index(session_names_.size())];
        }
        [[fallthrough]];
      case 4:
        if (!sessions_.empty()) return sessions_[in.Index(sessions_.size())];
        [[fallthrough]];
      default:
        return in.Pick(names);
    }
  }

  std::string Date(FuzzInput& in) {
    static const absl::Duration kAhead[] = {
        absl::Seconds(1), absl::Seconds(59),    absl::Hours(1),
        absl::Hours(24),  absl::Hours(24 * 90), absl::ZeroDuration(),
        -absl::Seconds(1)};
    static const char* const kFixed[] = {"9999-12-31T23:59:59Z",
                                         "10000-01-01T00:00:00Z",
                                         "2030-01-02",
                                         "2030-01-01T00:00:01.5+00:00",
                                         "2030-01-01T05:30:02+05:30",
                                         "2030-02-30T00:00:00Z",
                                         "2030-01-01 00:00:01Z"};
    if (in.Byte() % 4 == 0) return in.Pick(kFixed);
    return FormatIsoTime(fake_.Now() + in.Pick(kAhead));
  }

  std::string Token(FuzzInput& in) {
    if (page_urls_.empty() || in.Byte() % 4 == 0) return "PA";
    std::string token =
        QueryValue(page_urls_[in.Index(page_urls_.size())], "PageToken");
    if (!token.empty() && in.Byte() % 4 == 0) {
      token[in.Index(token.size())] ^= 1;  // One character changed.
    }
    return token;
  }

  // Checks of answers ------------------------------------------------------

  void Check(const Request& r, const Response& response) {
    const std::string context = Describe(r, response);
    const int http = response.status;
    SW_FUZZ_CHECK(http == 200 || http == 201 || http == 204 || http == 400 ||
                      http == 404 || http == 405,
                  "unexpected HTTP status: " + context);
    const std::string method = Upper(r.method);
    if (http == 204) {
      SW_FUZZ_CHECK(response.body.empty(), "204 with a body: " + context);
      SW_FUZZ_CHECK(method == "DELETE", "204 for a non-DELETE: " + context);
      SW_FUZZ_CHECK(r.route == Route::kService || r.route == Route::kSession ||
                        r.route == Route::kParticipant ||
                        r.route == Route::kInteraction ||
                        r.route == Route::kAny,
                    "204 for a route without DELETE: " + context);
      return;
    }
    const json j = json::parse(response.body, nullptr,
                               /*allow_exceptions=*/false);
    SW_FUZZ_CHECK(!j.is_discarded(), "body is not JSON: " + context);
    if (http >= 400) {
      CheckError(j, http, context);
      if (r.route == Route::kNone) {
        SW_FUZZ_CHECK(http == 404, "no route but not 404: " + context);
      }
      return;
    }
    SW_FUZZ_CHECK(r.route != Route::kNone, "no route but success: " + context);
    SW_FUZZ_CHECK(method == "GET" || method == "POST",
                  "success for method " + r.method + ": " + context);
    SW_FUZZ_CHECK(http == 200 || method == "POST", "201 for GET: " + context);
    CheckSuccess(r, method, http, j, context);
  }

  static std::string Upper(std::string s) {
    for (char& c : s) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return s;
  }

  void CheckSuccess(const Request& r, const std::string& method, int http,
                    const json& j, const std::string& context) {
    Route route = r.route;
    if (route == Route::kAny) {  // Known by the answer's shape.
      if (j.contains("participants")) {
        route = Route::kParticipants;
      } else if (j.contains("interactions")) {
        route = Route::kInteractions;
      } else if (j.contains("identifier")) {
        route = http == 201 ? Route::kParticipants : Route::kParticipant;
      } else if (j.contains("type")) {
        route = http == 201 ? Route::kMessageInteractions : Route::kInteraction;
      } else if (j.contains("sessions")) {
        route = Route::kSessions;
      } else if (j.contains("services")) {
        route = Route::kServices;
      } else if (j.contains("service_sid")) {
        route = http == 201 ? Route::kSessions : Route::kSession;
      } else {
        route = http == 201 ? Route::kServices : Route::kService;
      }
    }
    const bool create = http == 201;
    const bool list =
        method == "GET" &&
        (route == Route::kServices || route == Route::kSessions ||
         route == Route::kParticipants || route == Route::kInteractions);
    SW_FUZZ_CHECK(
        create == (method == "POST" &&
                   (route == Route::kServices || route == Route::kSessions ||
                    route == Route::kParticipants ||
                    route == Route::kMessageInteractions)),
        "201 exactly for a create: " + context);
    if (route == Route::kParticipants || route == Route::kParticipant) {
      if (list) {
        CheckList(j, "participants", context);
      } else {
        CheckParticipant(j, context);
      }
      return;
    }
    if (route == Route::kInteractions || route == Route::kInteraction ||
        route == Route::kMessageInteractions) {
      if (list) {
        CheckList(j, "interactions", context);
      } else {
        CheckInteraction(j, route == Route::kMessageInteractions, context);
      }
      return;
    }
    if (route == Route::kServices || route == Route::kService) {
      if (list) {
        CheckList(j, "services", context);
      } else {
        CheckService(j, context);
      }
      if (route == Route::kService && r.service_sid.has_value()) {
        SW_FUZZ_CHECK(j["sid"] == *r.service_sid,
                      "another Service than named: " + context);
      }
      return;
    }
    if (list) {
      CheckList(j, "sessions", context);
    } else {
      // An update's answer is what the update did (docs/semantics.md).
      CheckSession(j, context, /*answers_update=*/method == "POST" && !create);
    }
    const json& sessions = list ? j["sessions"] : json::array({j});
    for (const json& s : sessions) {
      if (r.service_sid.has_value()) {
        SW_FUZZ_CHECK(s["service_sid"] == *r.service_sid,
                      "a Session of another Service: " + context);
      }
    }
  }

  void CheckList(const json& j, const char* key, const std::string& context) {
    CheckKeys(j, {key, "meta"}, context);
    const json& meta = j["meta"];
    CheckKeys(meta,
              {"page", "page_size", "first_page_url", "previous_page_url",
               "url", "next_page_url", "key"},
              context);
    SW_FUZZ_CHECK(meta["key"] == key, "meta.key differs: " + context);
    SW_FUZZ_CHECK(
        meta["page"].is_number_integer() && meta["page"].get<int64_t>() >= 0,
        "bad meta.page: " + context);
    SW_FUZZ_CHECK(meta["page_size"].is_number_integer() &&
                      meta["page_size"].get<int64_t>() >= 1 &&
                      meta["page_size"].get<int64_t>() <= 1000,
                  "bad meta.page_size: " + context);
    for (const char* url : {"first_page_url", "url"}) {
      SW_FUZZ_CHECK(meta[url].is_string(),
                    "a page URL not a string: " + context);
    }
    for (const char* url : {"previous_page_url", "next_page_url"}) {
      SW_FUZZ_CHECK(meta[url].is_null() || meta[url].is_string(),
                    "a page URL neither null nor a string: " + context);
      if (meta[url].is_string()) {
        Remember(&page_urls_, meta[url].get<std::string>());
      }
    }
    const json& items = j[key];
    SW_FUZZ_CHECK(
        items.is_array() && items.size() <= meta["page_size"].get<size_t>(),
        "more items than page_size: " + context);
    std::optional<absl::Time> newer;
    const std::string kind = key;
    for (const json& item : items) {
      if (kind == "participants") {
        // Creation order, oldest first.
        CheckParticipant(item, context);
        const absl::Time created = CheckTime(item["date_created"], context);
        if (monotonic_ && newer.has_value()) {
          SW_FUZZ_CHECK(created >= *newer, "not oldest first: " + context);
        }
        newer = created;
        continue;
      }
      if (kind == "interactions") {
        CheckInteraction(item, /*message_interaction=*/false, context);
      } else if (kind == "services") {
        CheckService(item, context);
      } else {
        CheckSession(item, context, /*answers_update=*/false);
        SW_FUZZ_CHECK(item["service_sid"] == items[0]["service_sid"],
                      "a list mixes Services: " + context);
      }
      const absl::Time created = CheckTime(item["date_created"], context);
      if (monotonic_ && newer.has_value()) {
        SW_FUZZ_CHECK(created <= *newer, "not newest first: " + context);
      }
      newer = created;
    }
  }

  void CheckParticipant(const json& j, const std::string& context) {
    CheckKeys(
        j,
        {"sid", "session_sid", "service_sid", "account_sid", "friendly_name",
         "identifier", "proxy_identifier", "proxy_identifier_sid",
         "date_deleted", "date_created", "date_updated", "url", "links"},
        context);
    const std::string sid = CheckSid(j["sid"], "KP", context);
    const std::string kc = CheckSid(j["session_sid"], "KC", context);
    const std::string ks = CheckSid(j["service_sid"], "KS", context);
    CheckSid(j["account_sid"], "AC", context);
    SW_FUZZ_CHECK(j["identifier"].is_string() &&
                      !j["identifier"].get<std::string>().empty(),
                  "bad identifier: " + context);
    SW_FUZZ_CHECK(j["proxy_identifier_sid"].is_null(),
                  "a proxy_identifier_sid: " + context);
    const absl::Time created = CheckTime(j["date_created"], context);
    const absl::Time updated = CheckTime(j["date_updated"], context);
    const std::optional<absl::Time> deleted =
        CheckOptionalTime(j["date_deleted"], context);
    if (monotonic_) {
      SW_FUZZ_CHECK(created <= updated && updated <= fake_.Now(),
                    "Participant dates out of order: " + context);
    }
    if (deleted.has_value()) {
      SW_FUZZ_CHECK(*deleted == updated, "deleted but not then: " + context);
    }
    const std::string url = std::string(kBase) + "/v1/Services/" + ks +
                            "/Sessions/" + kc + "/Participants/" + sid;
    SW_FUZZ_CHECK(j["url"] == url, "wrong url: " + context);
    SW_FUZZ_CHECK(j["links"] == json({{"message_interactions",
                                       url + "/MessageInteractions"}}),
                  "wrong links: " + context);
    Remember(&participants_, sid);
  }

  void CheckInteraction(const json& j, bool message_interaction,
                        const std::string& context) {
    if (message_interaction) {
      CheckKeys(j,
                {"sid",
                 "session_sid",
                 "service_sid",
                 "account_sid",
                 "data",
                 "type",
                 "participant_sid",
                 "inbound_participant_sid",
                 "inbound_resource_sid",
                 "inbound_resource_status",
                 "inbound_resource_type",
                 "inbound_resource_url",
                 "outbound_participant_sid",
                 "outbound_resource_sid",
                 "outbound_resource_status",
                 "outbound_resource_type",
                 "outbound_resource_url",
                 "date_created",
                 "date_updated",
                 "url"},
                context);
      SW_FUZZ_CHECK(j["participant_sid"] == j["outbound_participant_sid"],
                    "participant_sid is not the outbound one: " + context);
    } else {
      CheckKeys(j,
                {"sid", "session_sid", "service_sid", "account_sid", "data",
                 "type", "inbound_participant_sid", "inbound_resource_sid",
                 "inbound_resource_status", "inbound_resource_type",
                 "inbound_resource_url", "outbound_participant_sid",
                 "outbound_resource_sid", "outbound_resource_status",
                 "outbound_resource_type", "outbound_resource_url",
                 "date_created", "date_updated", "url"},
                context);
    }
    const std::string sid = CheckSid(j["sid"], "KI", context);
    const std::string kc = CheckSid(j["session_sid"], "KC", context);
    const std::string ks = CheckSid(j["service_sid"], "KS", context);
    const std::string kp =
        CheckSid(j["outbound_participant_sid"], "KP", context);
    SW_FUZZ_CHECK(j["type"] == "message", "not a message: " + context);
    SW_FUZZ_CHECK(j["inbound_participant_sid"].is_null(),
                  "an inbound side: " + context);
    SW_FUZZ_CHECK(j["data"].is_string(), "data not a string: " + context);
    const json data = json::parse(j["data"].get<std::string>(), nullptr,
                                  /*allow_exceptions=*/false);
    SW_FUZZ_CHECK(data.is_object() && data.size() == 1 &&
                      data["body"].is_string() &&
                      !data["body"].get<std::string>().empty(),
                  "data is not {\"body\": ...}: " + context);
    const absl::Time created = CheckTime(j["date_created"], context);
    SW_FUZZ_CHECK(CheckTime(j["date_updated"], context) == created,
                  "an Interaction updated: " + context);
    const std::string session =
        std::string(kBase) + "/v1/Services/" + ks + "/Sessions/" + kc;
    SW_FUZZ_CHECK(
        j["url"] == (message_interaction ? session + "/Participants/" + kp +
                                               "/MessageInteractions/" + sid
                                         : session + "/Interactions/" + sid),
        "wrong url: " + context);
    Remember(&interactions_, sid);
  }

  void CheckService(const json& j, const std::string& context) {
    CheckKeys(j,
              {"sid", "account_sid", "unique_name", "default_ttl",
               "chat_instance_sid", "callback_url", "geo_match_level",
               "number_selection_behavior", "intercept_callback_url",
               "out_of_session_callback_url", "date_created", "date_updated",
               "url", "links"},
              context);
    const std::string sid = CheckSid(j["sid"], "KS", context);
    CheckSid(j["account_sid"], "AC", context);
    SW_FUZZ_CHECK(j["unique_name"].is_string(), "bad unique_name: " + context);
    SW_FUZZ_CHECK(j["default_ttl"].is_number_integer() &&
                      j["default_ttl"].get<int64_t>() >= 0,
                  "bad default_ttl: " + context);
    const absl::Time created = CheckTime(j["date_created"], context);
    const absl::Time updated = CheckTime(j["date_updated"], context);
    if (monotonic_) {
      SW_FUZZ_CHECK(created <= updated, "updated before created: " + context);
    }
    const std::string url = std::string(kBase) + "/v1/Services/" + sid;
    SW_FUZZ_CHECK(j["url"] == url, "wrong url: " + context);
    SW_FUZZ_CHECK(j["links"] == json({{"sessions", url + "/Sessions"},
                                      {"phone_numbers", url + "/PhoneNumbers"},
                                      {"short_codes", url + "/ShortCodes"}}),
                  "wrong links: " + context);
    Remember(&services_, sid);
    Remember(&service_names_, j["unique_name"].get<std::string>());
  }

  // `answers_update`: `j` is the answer to an update, which shows the
  // Session as the update left it even if that makes it overdue for purge.
  void CheckSession(const json& j, const std::string& context,
                    bool answers_update) {
    CheckKeys(j,
              {"sid", "service_sid", "account_sid", "unique_name", "status",
               "closed_reason", "ttl", "mode", "date_created", "date_updated",
               "date_started", "date_ended", "date_last_interaction",
               "date_expiry", "url", "links"},
              context);
    const std::string sid = CheckSid(j["sid"], "KC", context);
    const std::string ks = CheckSid(j["service_sid"], "KS", context);
    CheckSid(j["account_sid"], "AC", context);
    SW_FUZZ_CHECK(j["unique_name"].is_null() || j["unique_name"].is_string(),
                  "bad unique_name: " + context);
    CheckOneOf(j["status"],
               {"open", "in-progress", "closed", "failed", "unknown"}, context);
    CheckOneOf(j["mode"], {"message-only", "voice-only", "voice-and-message"},
               context);
    SW_FUZZ_CHECK(j["ttl"].is_number_integer() && j["ttl"].get<int64_t>() >= 0,
                  "bad ttl: " + context);
    const json& reason = j["closed_reason"];
    SW_FUZZ_CHECK(reason.is_null() || reason.is_string(),
                  "bad closed_reason: " + context);
    const absl::Time created = CheckTime(j["date_created"], context);
    const absl::Time updated = CheckTime(j["date_updated"], context);
    const absl::Time started = CheckTime(j["date_started"], context);
    const std::optional<absl::Time> ended =
        CheckOptionalTime(j["date_ended"], context);
    CheckOptionalTime(j["date_last_interaction"], context);
    const std::optional<absl::Time> expiry =
        CheckOptionalTime(j["date_expiry"], context);
    const std::string url =
        std::string(kBase) + "/v1/Services/" + ks + "/Sessions/" + sid;
    SW_FUZZ_CHECK(j["url"] == url, "wrong url: " + context);
    SW_FUZZ_CHECK(j["links"] == json({{"interactions", url + "/Interactions"},
                                      {"participants", url + "/Participants"}}),
                  "wrong links: " + context);

    // Consistency (docs/semantics.md, "Sessions: fields and JSON" and
    // "Expiry"). Output times are floored to the second, so an instant
    // shown as T lies in [T, T + 1s).
    const absl::Time now = fake_.Now();
    const std::string status = j["status"].get<std::string>();
    const bool is_ended = status == "closed" || status == "failed";
    const bool live = status == "open" || status == "in-progress";
    SW_FUZZ_CHECK(
        is_ended == ended.has_value() && is_ended == reason.is_string(),
        "ended, date_ended and closed_reason disagree: " + context);
    SW_FUZZ_CHECK(started == created,
                  "date_started is not date_created: " + context);
    if (reason == "date_expiry") {
      SW_FUZZ_CHECK(expiry.has_value() && ended == expiry,
                    "expired by date but not at date_expiry: " + context);
    }
    if (reason == "ttl") {
      SW_FUZZ_CHECK(!expiry.has_value() && j["ttl"].get<int64_t>() > 0,
                    "expired by ttl without one: " + context);
    }
    if (live && expiry.has_value()) {
      SW_FUZZ_CHECK(now < *expiry + absl::Seconds(1),
                    "stale: open at or after its date_expiry: " + context);
    }
    if (is_ended && !answers_update) {
      SW_FUZZ_CHECK(now < *ended + absl::Seconds(1) + retention_,
                    "kept past its closed retention: " + context);
    }
    if (monotonic_) {
      SW_FUZZ_CHECK(created <= updated && updated <= now,
                    "dates out of order: " + context);
      const int64_t ttl = j["ttl"].get<int64_t>();
      if (live && !expiry.has_value() && ttl > 0) {
        // The TTL window starts at a change, and every change sets
        // date_updated: the Session expires by then + ttl.
        SW_FUZZ_CHECK(now < updated + absl::Seconds(1) + absl::Seconds(ttl),
                      "stale: open after its ttl ran out: " + context);
      }
    }
    Remember(&sessions_, sid);
    if (j["unique_name"].is_string()) {
      Remember(&session_names_, j["unique_name"].get<std::string>());
    }
  }

  // SW_FUZZ_VERBOSE=1 prints every request, answer and clock move, to see
  // what a failing input does.
  const bool verbose_ = std::getenv("SW_FUZZ_VERBOSE") != nullptr;
  ManualClock clock_;
  std::unique_ptr<SessionStore> store_;
  ProxyFake fake_;
  const absl::Duration retention_;
  // False once SetTime has moved the clock back: dates need not be in order.
  bool monotonic_ = true;
  // What the fake has answered with, for later requests to name.
  std::vector<std::string> services_;
  std::vector<std::string> service_names_;
  std::vector<std::string> sessions_;
  std::vector<std::string> session_names_;
  std::vector<std::string> page_urls_;
  std::vector<std::string> participants_;
  std::vector<std::string> interactions_;
};

absl::Duration RetentionFrom(uint8_t choice) {
  switch (choice % 4) {
    case 0:
      return absl::Hours(24 * 90);
    case 1:
      return absl::Hours(1);
    case 2:
      return absl::ZeroDuration();
    default:
      return absl::InfiniteDuration();
  }
}

// Mostly 4 shards; 1 and the default 16 a quarter of the time each.
int ShardsFrom(uint8_t choice) {
  static constexpr int kShards[] = {4, 1, 4, 16};
  return kShards[(choice >> 2) % 4];
}

}  // namespace
}  // namespace sessionwheel::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sessionwheel::fuzz::FuzzInput in(data, size);
  const uint8_t setup = in.Byte();
  sessionwheel::fuzz::FakeFuzzer fuzzer(
      sessionwheel::fuzz::RetentionFrom(setup),
      sessionwheel::fuzz::ShardsFrom(setup));
  fuzzer.Run(in);
  return 0;
}
