// Tests of ProxyFake through Handle(), as a client of the real Proxy API sees
// it: every route with its status code and the exact keys of its JSON, every
// error code of docs/semantics.md ("Errors") with its Twilio-shaped body, 405
// for a wrong method, keyset paging that survives creates and deletes between
// pages, expiry, re-open and purge on the fake's clock, form decoding, hostile
// requests that must get an error answer and leave the fake working, and the
// limits on Sessions and Services (429, bounded by default) and on requests
// (413, 80701).
//
// Every test runs a fake whose clock starts at 2030-01-01T00:00:00Z, with a
// fixed seed and account; time moves only by Advance/SetTime, and times are
// compared exactly.

#include "sessionwheel/proxy_fake.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/clock.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using ::nlohmann::json;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
using testing_util::kAccountSid;
using testing_util::kTwoByteChar;
using testing_util::Repeat;

// Every fake starts at 2030-01-01T00:00:00Z (not testing_util::kT0).
const absl::Time kT0 = absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0),
                                       absl::UTCTimeZone());
constexpr char kBase[] = "https://proxy.twilio.com";
constexpr uint64_t kSeed = 20300101;

// Concatenates strings, string_views and numbers (Debian's Abseil keeps
// absl::string_view apart from std::string_view, so absl::StrCat will not).
template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::ostringstream out;
  (out << ... << pieces);
  return out.str();
}

// The output form of a time: "YYYY-MM-DDTHH:MM:SSZ".
std::string Iso(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// Percent-encodes a form value or path segment the way the SDKs do: only
// A-Z a-z 0-9 - _ . ~ stay as they are.
std::string Enc(std::string_view value) {
  std::string out;
  for (char c : value) {
    const unsigned char b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
        (b >= '0' && b <= '9') || b == '-' || b == '_' || b == '.' ||
        b == '~') {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "%%%02X", b);
    }
  }
  return out;
}

std::set<std::string> KeysOf(const json& j) {
  std::set<std::string> keys;
  if (!j.is_object()) return keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

std::set<std::string> SessionKeys() {
  return {"sid",
          "service_sid",
          "account_sid",
          "unique_name",
          "status",
          "closed_reason",
          "ttl",
          "mode",
          "date_created",
          "date_updated",
          "date_started",
          "date_ended",
          "date_last_interaction",
          "date_expiry",
          "url",
          "links"};
}

std::set<std::string> ServiceKeys() {
  return {"sid",
          "account_sid",
          "unique_name",
          "default_ttl",
          "chat_instance_sid",
          "callback_url",
          "geo_match_level",
          "number_selection_behavior",
          "intercept_callback_url",
          "out_of_session_callback_url",
          "date_created",
          "date_updated",
          "url",
          "links"};
}

std::set<std::string> ErrorKeys() {
  return {"code", "message", "more_info", "status"};
}

std::set<std::string> MetaKeys() {
  return {"page",
          "page_size",
          "first_page_url",
          "previous_page_url",
          "url",
          "next_page_url",
          "key"};
}

// The body of `r` as JSON; a failure (and an empty object) if it is not JSON.
json Parse(const Response& r) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "body is not JSON (HTTP " << r.status
                  << "): " << r.body.substr(0, 200);
    return json::object();
  }
  return j;
}

std::string Brief(const Response& r) {
  return Cat("HTTP ", r.status, " ", r.body.substr(0, 300));
}

AssertionResult IsSid(std::string_view prefix, const json& value) {
  if (!value.is_string()) {
    return AssertionFailure() << value.dump() << " is not a string";
  }
  const std::string sid = value.get<std::string>();
  if (sid.size() != 34 || sid.compare(0, 2, prefix) != 0) {
    return AssertionFailure()
           << "\"" << sid << "\" is not " << prefix << " + 32 hex digits";
  }
  for (char c : sid.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return AssertionFailure() << "\"" << sid << "\" is not lower-case hex";
    }
  }
  return AssertionSuccess();
}

// A string "YYYY-MM-DDTHH:MM:SSZ".
AssertionResult IsIsoDate(const json& value) {
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (!value.is_string()) {
    return AssertionFailure() << value.dump() << " is not a date string";
  }
  const std::string s = value.get<std::string>();
  bool ok = s.size() == sizeof(kShape) - 1;
  for (size_t i = 0; ok && i < s.size(); ++i) {
    ok = kShape[i] == 'd' ? (s[i] >= '0' && s[i] <= '9') : s[i] == kShape[i];
  }
  if (!ok) return AssertionFailure() << "\"" << s << "\" is not a date";
  return AssertionSuccess();
}

// A Session object with exactly the fields of docs/semantics.md ("Sessions:
// fields and JSON"), each of the right type, its url and links under `base`.
AssertionResult IsSessionJson(const json& j, std::string_view base = kBase) {
  if (KeysOf(j) != SessionKeys()) {
    return AssertionFailure() << "not a Session's key set: " << j.dump();
  }
  for (const auto& [key, prefix] :
       std::vector<std::pair<std::string, std::string>>{
           {"sid", "KC"}, {"service_sid", "KS"}, {"account_sid", "AC"}}) {
    AssertionResult sid = IsSid(prefix, j[key]);
    if (!sid) return sid << " (" << key << ")";
  }
  for (const char* key : {"date_created", "date_updated", "date_started"}) {
    AssertionResult date = IsIsoDate(j[key]);
    if (!date) return date << " (" << key << ")";
  }
  for (const char* key :
       {"date_ended", "date_last_interaction", "date_expiry"}) {
    if (j[key].is_null()) continue;
    AssertionResult date = IsIsoDate(j[key]);
    if (!date) return date << " (" << key << ")";
  }
  if (!j["unique_name"].is_null() && !j["unique_name"].is_string()) {
    return AssertionFailure() << "unique_name: " << j["unique_name"].dump();
  }
  if (!j["closed_reason"].is_null() && !j["closed_reason"].is_string()) {
    return AssertionFailure() << "closed_reason: " << j["closed_reason"].dump();
  }
  if (!j["ttl"].is_number_integer()) {
    return AssertionFailure() << "ttl: " << j["ttl"].dump();
  }
  if (!j["status"].is_string() || !j["mode"].is_string()) {
    return AssertionFailure() << "status/mode not strings: " << j.dump();
  }
  const std::string url =
      Cat(base, "/v1/Services/", j["service_sid"].get<std::string>(),
          "/Sessions/", j["sid"].get<std::string>());
  if (j["url"] != url) {
    return AssertionFailure() << "url " << j["url"].dump() << ", want " << url;
  }
  const json want_links = {{"interactions", url + "/Interactions"},
                           {"participants", url + "/Participants"}};
  if (j["links"] != want_links) {
    return AssertionFailure()
           << "links " << j["links"].dump() << ", want " << want_links.dump();
  }
  return AssertionSuccess();
}

// An error answer: HTTP `http` and exactly {code, message, more_info,
// status} with this code.
AssertionResult IsError(const Response& r, int http, int code) {
  if (r.status != http) {
    return AssertionFailure()
           << "want HTTP " << http << " code " << code << ", got " << Brief(r);
  }
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return AssertionFailure() << "error body is not JSON: " << Brief(r);
  }
  if (KeysOf(j) != ErrorKeys()) {
    return AssertionFailure() << "error body keys are not exactly code, "
                                 "message, more_info, status: "
                              << r.body;
  }
  if (j["code"] != code || !j["code"].is_number_integer()) {
    return AssertionFailure() << "want code " << code << ", got " << r.body;
  }
  if (j["status"] != http || !j["status"].is_number_integer()) {
    return AssertionFailure()
           << "body status is not " << http << ": " << r.body;
  }
  if (!j["message"].is_string() || j["message"].get<std::string>().empty()) {
    return AssertionFailure()
           << "message is not a non-empty string: " << r.body;
  }
  if (j["more_info"] != Cat("https://www.twilio.com/docs/errors/", code)) {
    return AssertionFailure() << "more_info is wrong: " << r.body;
  }
  return AssertionSuccess();
}

// 400/80701 whose message starts "'<param>' is invalid.".
AssertionResult IsInvalidParameter(const Response& r, std::string_view param) {
  AssertionResult error = IsError(r, 400, 80701);
  if (!error) return error;
  const std::string message = json::parse(r.body)["message"];
  const std::string prefix = Cat("'", param, "' is invalid.");
  if (!absl::StartsWith(message, prefix)) {
    return AssertionFailure() << "message \"" << message
                              << "\" does not start with \"" << prefix << "\"";
  }
  return AssertionSuccess();
}

// Any 4xx with a well-formed Twilio error body whose more_info names its
// code and whose status is the HTTP status.
AssertionResult IsClientError(const Response& r) {
  if (r.status < 400 || r.status > 499) {
    return AssertionFailure() << "want a 4xx, got " << Brief(r);
  }
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || !j["code"].is_number_integer()) {
    return AssertionFailure() << "not an error body: " << Brief(r);
  }
  return IsError(r, r.status, j["code"].get<int>());
}

ProxyFakeOptions FixedOptions() {
  ProxyFakeOptions options;
  options.account_sid = kAccountSid;
  options.seed = kSeed;
  options.start_time = kT0;
  return options;
}

std::string ServicePath(std::string_view ks) {
  return Cat("/v1/Services/", ks);
}

std::string SessionsPath(std::string_view ks) {
  return Cat("/v1/Services/", ks, "/Sessions");
}

// `id` is put in the path as given: encode it first if it needs it.
std::string SessionPath(std::string_view ks, std::string_view id) {
  return Cat("/v1/Services/", ks, "/Sessions/", id);
}

// Creates a Service on `fake` and returns its SID ("" and a failure if not).
std::string CreateService(ProxyFake& fake, std::string_view body) {
  Response r = fake.Handle("POST", "/v1/Services", body);
  EXPECT_EQ(r.status, 201) << Brief(r);
  json j = Parse(r);
  return j.value("sid", std::string());
}

// Creates a Session on `fake` and returns its JSON (a failure if not 201).
// The Service a "KS…" SID from an answer names, for calls on the store.
Sid ServiceSidOf(std::string_view ks) {
  std::optional<Sid> sid = Sid::Parse("KS", ks);
  EXPECT_TRUE(sid.has_value()) << ks;
  return sid.value_or(Sid());
}

json CreateSession(ProxyFake& fake, std::string_view ks,
                   std::string_view body = "") {
  Response r = fake.Handle("POST", SessionsPath(ks), body);
  EXPECT_EQ(r.status, 201) << body.substr(0, 200) << " -> " << Brief(r);
  return Parse(r);
}

class ProxyFakeTest : public ::testing::Test {
 protected:
  ProxyFakeTest() : fake_(FixedOptions()) {}

  void SetUp() override {
    ks_ = CreateService(fake_, "UniqueName=rides");
    ASSERT_FALSE(ks_.empty());
  }

  Response Call(std::string_view method, std::string_view target,
                std::string_view body = "") {
    return fake_.Handle(method, target, body);
  }

  // GET that must answer 200; returns the JSON.
  json Get(std::string_view target) {
    Response r = Call("GET", target);
    EXPECT_EQ(r.status, 200) << target.substr(0, 200) << " -> " << Brief(r);
    return Parse(r);
  }

  json NewSession(std::string_view body = "") {
    return CreateSession(fake_, ks_, body);
  }

  std::string NewSessionSid(std::string_view body = "") {
    return NewSession(body).value("sid", std::string());
  }

  // POST to one Session of ks_.
  Response Update(std::string_view sid, std::string_view body) {
    return Call("POST", SessionPath(ks_, sid), body);
  }

  ProxyFake fake_;
  std::string ks_;  // The Service "rides", created in SetUp.
};

// Services ------------------------------------------------------------------

TEST_F(ProxyFakeTest, CreateServiceAnswers201WithEveryServiceField) {
  Response r =
      Call("POST", "/v1/Services", "UniqueName=dispatch&DefaultTtl=600");
  ASSERT_EQ(r.status, 201) << Brief(r);
  json j = Parse(r);
  EXPECT_EQ(KeysOf(j), ServiceKeys()) << r.body;
  EXPECT_TRUE(IsSid("KS", j["sid"]));
  EXPECT_EQ(j["account_sid"], kAccountSid);
  EXPECT_EQ(j["unique_name"], "dispatch");
  EXPECT_EQ(j["default_ttl"], 600);
  EXPECT_EQ(j["date_created"], Iso(kT0));
  EXPECT_EQ(j["date_updated"], Iso(kT0));
  const std::string url = Cat(kBase, "/v1/Services/", j.value("sid", ""));
  EXPECT_EQ(j["url"], url);
  ASSERT_TRUE(j["links"].is_object());
  EXPECT_EQ(j["links"]["sessions"], url + "/Sessions");
}

TEST_F(ProxyFakeTest, CreateServiceWithoutDefaultTtlHasDefaultTtlZero) {
  Response r = Call("POST", "/v1/Services", "UniqueName=plain");
  ASSERT_EQ(r.status, 201) << Brief(r);
  EXPECT_EQ(Parse(r)["default_ttl"], 0);
}

TEST_F(ProxyFakeTest, CreateServiceWithoutUniqueNameIs80701) {
  EXPECT_TRUE(
      IsInvalidParameter(Call("POST", "/v1/Services", ""), "UniqueName"));
  EXPECT_TRUE(IsInvalidParameter(Call("POST", "/v1/Services", "DefaultTtl=5"),
                                 "UniqueName"));
  EXPECT_TRUE(IsInvalidParameter(Call("POST", "/v1/Services", "UniqueName="),
                                 "UniqueName"));
}

TEST_F(ProxyFakeTest, CreateServiceWithBadDefaultTtlIs80701) {
  for (const char* ttl : {"abc", "1.5", "-1", ""}) {
    SCOPED_TRACE(ttl);
    EXPECT_TRUE(IsInvalidParameter(
        Call("POST", "/v1/Services",
             Cat("UniqueName=svc-", Enc(ttl), "&DefaultTtl=", ttl)),
        "DefaultTtl"));
  }
}

TEST_F(ProxyFakeTest, FetchServiceAnswers200WithTheSameFieldsAsCreate) {
  Response created = Call("POST", "/v1/Services", "UniqueName=dispatch");
  ASSERT_EQ(created.status, 201);
  json want = Parse(created);
  json got = Get(ServicePath(want.value("sid", "")));
  EXPECT_EQ(got, want);
}

TEST_F(ProxyFakeTest, FetchUnknownOrMalformedServiceIs20404) {
  EXPECT_TRUE(
      IsError(Call("GET", ServicePath("KS" + Repeat("0", 32))), 404, 20404));
  EXPECT_TRUE(
      IsError(Call("GET", ServicePath("KS" + Repeat("ab", 16))), 404, 20404));
  EXPECT_TRUE(IsError(Call("GET", ServicePath("KSnothex")), 404, 20404));
}

TEST_F(ProxyFakeTest, ListServicesAnswersServicesKeyWithMeta) {
  std::string second = CreateService(fake_, "UniqueName=second");
  json j = Get("/v1/Services");
  EXPECT_EQ(KeysOf(j), (std::set<std::string>{"services", "meta"}));
  ASSERT_TRUE(j["services"].is_array());
  ASSERT_EQ(j["services"].size(), 2u);
  // Newest first.
  EXPECT_EQ(j["services"][0]["sid"], second);
  EXPECT_EQ(j["services"][1]["sid"], ks_);
  for (const json& s : j["services"]) EXPECT_EQ(KeysOf(s), ServiceKeys());
  EXPECT_EQ(KeysOf(j["meta"]), MetaKeys());
  EXPECT_EQ(j["meta"]["key"], "services");
  EXPECT_EQ(j["meta"]["page"], 0);
  EXPECT_EQ(j["meta"]["page_size"], 50);
  EXPECT_EQ(j["meta"]["first_page_url"],
            Cat(kBase, "/v1/Services?PageSize=50&Page=0"));
  EXPECT_EQ(j["meta"]["url"], Cat(kBase, "/v1/Services?PageSize=50&Page=0"));
  EXPECT_TRUE(j["meta"]["previous_page_url"].is_null());
  EXPECT_TRUE(j["meta"]["next_page_url"].is_null());
}

TEST_F(ProxyFakeTest, ListServicesPagesThroughNextPageUrl) {
  std::set<std::string> want = {ks_};
  for (int i = 0; i < 4; ++i) {
    want.insert(CreateService(fake_, Cat("UniqueName=svc", i)));
  }
  std::set<std::string> seen;
  std::string target = "/v1/Services?PageSize=2";
  for (int page = 0; page < 10; ++page) {
    json j = Get(target);
    EXPECT_EQ(j["meta"]["page"], page);
    for (const json& s : j["services"]) {
      EXPECT_TRUE(seen.insert(s.value("sid", "")).second) << s.dump();
    }
    if (j["meta"]["next_page_url"].is_null()) break;
    target = j["meta"]["next_page_url"].get<std::string>();
  }
  EXPECT_EQ(seen, want);
}

TEST_F(ProxyFakeTest, UpdateServiceChangesUniqueNameAndDefaultTtl) {
  ASSERT_TRUE(fake_.Advance(absl::Seconds(5)).ok());
  Response r =
      Call("POST", ServicePath(ks_), "UniqueName=renamed&DefaultTtl=30");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_EQ(KeysOf(j), ServiceKeys());
  EXPECT_EQ(j["sid"], ks_);
  EXPECT_EQ(j["unique_name"], "renamed");
  EXPECT_EQ(j["default_ttl"], 30);
  EXPECT_EQ(j["date_created"], Iso(kT0));
  EXPECT_EQ(j["date_updated"], Iso(kT0 + absl::Seconds(5)));
  EXPECT_EQ(Get(ServicePath(ks_)), j);
  // The new default applies to Sessions created afterwards.
  EXPECT_EQ(NewSession()["ttl"], 30);
}

TEST_F(ProxyFakeTest, UpdateServiceWithBadParametersIs80701) {
  EXPECT_TRUE(IsInvalidParameter(Call("POST", ServicePath(ks_), "DefaultTtl=x"),
                                 "DefaultTtl"));
  EXPECT_TRUE(IsInvalidParameter(
      Call("POST", ServicePath(ks_), "UniqueName=" + Repeat("n", 192)),
      "UniqueName"));
}

TEST_F(ProxyFakeTest, DeleteServiceAnswers204AndDropsItsSessions) {
  std::string kc = NewSessionSid("UniqueName=doomed");
  Response r = Call("DELETE", ServicePath(ks_));
  EXPECT_EQ(r.status, 204) << Brief(r);
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(IsError(Call("GET", ServicePath(ks_)), 404, 20404));
  EXPECT_TRUE(IsError(Call("GET", SessionPath(ks_, kc)), 404, 20404));
  EXPECT_TRUE(IsError(Call("DELETE", ServicePath(ks_)), 404, 20404));
  // Its name is free again.
  EXPECT_EQ(Call("POST", "/v1/Services", "UniqueName=rides").status, 201);
}

// Sessions ------------------------------------------------------------------

TEST_F(ProxyFakeTest, CreateSessionAnswers201WithEverySessionField) {
  Response r = Call("POST", SessionsPath(ks_));
  ASSERT_EQ(r.status, 201) << Brief(r);
  json j = Parse(r);
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["service_sid"], ks_);
  EXPECT_EQ(j["account_sid"], kAccountSid);
  EXPECT_TRUE(j["unique_name"].is_null());
  EXPECT_EQ(j["status"], "open");
  EXPECT_TRUE(j["closed_reason"].is_null());
  EXPECT_EQ(j["ttl"], 0);
  EXPECT_EQ(j["mode"], "voice-and-message");
  EXPECT_EQ(j["date_created"], Iso(kT0));
  EXPECT_EQ(j["date_updated"], Iso(kT0));
  EXPECT_EQ(j["date_started"], Iso(kT0));
  EXPECT_TRUE(j["date_ended"].is_null());
  EXPECT_TRUE(j["date_last_interaction"].is_null());
  EXPECT_TRUE(j["date_expiry"].is_null());
}

TEST_F(ProxyFakeTest, CreateSessionKeepsEveryParameterGiven) {
  const std::string alice =
      R"({"Identifier":"+15555550100","FriendlyName":"Alice"})";
  const std::string bob =
      R"({"Identifier":"+15555550101","FriendlyName":"Bob"})";
  json j = NewSession(Cat("UniqueName=Order+%231234&Ttl=3600&Mode=message-only",
                          "&DateExpiry=2030-01-02T00%3A00%3A00Z&Participants=",
                          Enc(alice), "&Participants=", Enc(bob)));
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["unique_name"], "Order #1234");
  EXPECT_EQ(j["ttl"], 3600);
  EXPECT_EQ(j["mode"], "message-only");
  EXPECT_EQ(j["date_expiry"], "2030-01-02T00:00:00Z");
  EXPECT_EQ(j["status"], "open");
}

TEST_F(ProxyFakeTest, CreateSessionAcceptsEveryModeAndOpenStatuses) {
  for (const char* mode : {"message-only", "voice-only", "voice-and-message"}) {
    EXPECT_EQ(NewSession(Cat("Mode=", mode))["mode"], mode);
  }
  for (const char* status : {"open", "in-progress", "unknown"}) {
    json j = NewSession(Cat("Status=", status));
    EXPECT_EQ(j["status"], status);
    EXPECT_TRUE(j["date_ended"].is_null());
    EXPECT_TRUE(j["closed_reason"].is_null());
  }
}

TEST_F(ProxyFakeTest, CreateSessionWithoutTtlTakesTheServiceDefaultTtl) {
  std::string ks = CreateService(fake_, "UniqueName=timed&DefaultTtl=120");
  EXPECT_EQ(CreateSession(fake_, ks)["ttl"], 120);
  EXPECT_EQ(CreateSession(fake_, ks, "Ttl=0")["ttl"], 0);
  EXPECT_EQ(CreateSession(fake_, ks, "Ttl=7")["ttl"], 7);
}

TEST_F(ProxyFakeTest, CreateSessionWithStatusClosedOrFailedEndsItNow) {
  for (const char* status : {"closed", "failed"}) {
    json j = NewSession(Cat("Status=", status));
    EXPECT_TRUE(IsSessionJson(j));
    EXPECT_EQ(j["status"], status);
    EXPECT_EQ(j["closed_reason"], "api");
    EXPECT_EQ(j["date_ended"], Iso(kT0));
  }
}

TEST_F(ProxyFakeTest, DateExpiryInputsAreNormalisedToUtcSeconds) {
  // An offset, fractional seconds and a bare date.
  EXPECT_EQ(
      NewSession("DateExpiry=2030-01-01T02%3A00%3A00%2B01%3A00")["date_expiry"],
      "2030-01-01T01:00:00Z");
  EXPECT_EQ(NewSession("DateExpiry=2030-01-01T00%3A00%3A01.5Z")["date_expiry"],
            "2030-01-01T00:00:01Z");
  EXPECT_EQ(NewSession("DateExpiry=2030-01-02")["date_expiry"],
            "2030-01-02T00:00:00Z");
}

TEST_F(ProxyFakeTest, FetchSessionBySidOrUniqueNameAnswers200) {
  json created = NewSession("UniqueName=Order+%231234&Ttl=60");
  const std::string kc = created.value("sid", "");
  EXPECT_EQ(Get(SessionPath(ks_, kc)), created);
  EXPECT_EQ(Get(SessionPath(ks_, "Order%20%231234")), created);
}

TEST_F(ProxyFakeTest, FetchSessionSidIsCaseInsensitiveAndAnswersLowerCase) {
  const std::string kc = NewSessionSid();
  std::string upper = kc;
  for (size_t i = 2; i < upper.size(); ++i) {
    if (upper[i] >= 'a' && upper[i] <= 'f') upper[i] = upper[i] - 'a' + 'A';
  }
  EXPECT_EQ(Get(SessionPath(ks_, upper))["sid"], kc);
}

TEST_F(ProxyFakeTest, FetchMissingSessionIs20404NamingTheResource) {
  const std::string kc = "KC" + Repeat("0", 32);
  Response r = Call("GET", SessionPath(ks_, kc));
  ASSERT_TRUE(IsError(r, 404, 20404));
  EXPECT_EQ(Parse(r)["message"], Cat("The requested resource /Services/", ks_,
                                     "/Sessions/", kc, " was not found"));
  // A string that is not a SID is looked up by unique_name.
  EXPECT_TRUE(IsError(Call("GET", SessionPath(ks_, "nobody")), 404, 20404));
  EXPECT_TRUE(IsError(Call("GET", SessionPath(ks_, "KCnothex")), 404, 20404));
}

TEST_F(ProxyFakeTest, FetchSessionUnderAnotherServiceIs20404) {
  const std::string kc = NewSessionSid("UniqueName=mine");
  std::string other = CreateService(fake_, "UniqueName=other");
  EXPECT_TRUE(IsError(Call("GET", SessionPath(other, kc)), 404, 20404));
  EXPECT_TRUE(IsError(Call("GET", SessionPath(other, "mine")), 404, 20404));
  EXPECT_TRUE(
      IsError(Call("POST", SessionPath(other, kc), "Ttl=5"), 404, 20404));
  EXPECT_TRUE(IsError(Call("DELETE", SessionPath(other, kc)), 404, 20404));
  EXPECT_EQ(Get(SessionPath(ks_, kc))["sid"], kc);
}

TEST_F(ProxyFakeTest, SessionsOfAnUnknownServiceAre20404) {
  const std::string unknown = "KS" + Repeat("12", 16);
  EXPECT_TRUE(IsError(Call("GET", SessionsPath(unknown)), 404, 20404));
  EXPECT_TRUE(IsError(Call("POST", SessionsPath(unknown)), 404, 20404));
  EXPECT_TRUE(IsError(Call("GET", SessionPath(unknown, "KC" + Repeat("1", 32))),
                      404, 20404));
}

TEST_F(ProxyFakeTest, ListSessionsAnswersTheEnvelopeNewestFirst) {
  std::vector<std::string> sids;
  for (int i = 0; i < 3; ++i) {
    sids.push_back(NewSessionSid(Cat("UniqueName=s", i)));
    ASSERT_TRUE(fake_.Advance(absl::Seconds(1)).ok());
  }
  json j = Get(SessionsPath(ks_));
  EXPECT_EQ(KeysOf(j), (std::set<std::string>{"sessions", "meta"}));
  ASSERT_TRUE(j["sessions"].is_array());
  ASSERT_EQ(j["sessions"].size(), 3u);
  EXPECT_EQ(j["sessions"][0]["sid"], sids[2]);
  EXPECT_EQ(j["sessions"][1]["sid"], sids[1]);
  EXPECT_EQ(j["sessions"][2]["sid"], sids[0]);
  for (const json& s : j["sessions"]) EXPECT_TRUE(IsSessionJson(s));
  const std::string page0 =
      Cat(kBase, SessionsPath(ks_), "?PageSize=50&Page=0");
  const json& meta = j["meta"];
  EXPECT_EQ(KeysOf(meta), MetaKeys());
  EXPECT_EQ(meta["page"], 0);
  EXPECT_EQ(meta["page_size"], 50);
  EXPECT_EQ(meta["first_page_url"], page0);
  EXPECT_EQ(meta["url"], page0);
  EXPECT_TRUE(meta["previous_page_url"].is_null());
  EXPECT_TRUE(meta["next_page_url"].is_null());
  EXPECT_EQ(meta["key"], "sessions");
}

TEST_F(ProxyFakeTest, ListOfAnEmptyServiceHasNoSessions) {
  json j = Get(SessionsPath(ks_));
  EXPECT_EQ(j["sessions"], json::array());
  EXPECT_TRUE(j["meta"]["next_page_url"].is_null());
}

TEST_F(ProxyFakeTest, UpdateSessionTtlAnswers200AndSetsDateUpdated) {
  const std::string kc = NewSessionSid("Ttl=600");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(10)).ok());
  Response r = Update(kc, "Ttl=1200");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["ttl"], 1200);
  EXPECT_EQ(j["status"], "open");
  EXPECT_EQ(j["date_created"], Iso(kT0));
  EXPECT_EQ(j["date_updated"], Iso(kT0 + absl::Seconds(10)));
  EXPECT_EQ(Get(SessionPath(ks_, kc)), j);
}

TEST_F(ProxyFakeTest, UpdateSessionDateExpiryAnswersItInUtc) {
  const std::string kc = NewSessionSid();
  Response r = Update(kc, "DateExpiry=2030-01-01T02%3A00%3A00%2B01%3A00");
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["date_expiry"], "2030-01-01T01:00:00Z");
}

TEST_F(ProxyFakeTest, UpdateSessionStatusClosedEndsItWithReasonApi) {
  const std::string kc = NewSessionSid("Ttl=600");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(3)).ok());
  Response r = Update(kc, "Status=closed");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_EQ(j["status"], "closed");
  EXPECT_EQ(j["closed_reason"], "api");
  EXPECT_EQ(j["date_ended"], Iso(kT0 + absl::Seconds(3)));
  EXPECT_EQ(Get(SessionPath(ks_, kc)), j);
}

TEST_F(ProxyFakeTest, UpdateSessionInStatusUnknownToClosedSucceeds) {
  const std::string kc = NewSessionSid("Status=unknown");
  Response r = Update(kc, "Status=closed");
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["status"], "closed");
}

TEST_F(ProxyFakeTest, UpdateSessionWithNoParametersSetsDateUpdated) {
  const std::string kc = NewSessionSid();
  ASSERT_TRUE(fake_.Advance(absl::Seconds(1)).ok());
  Response r = Update(kc, "");
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["date_updated"], Iso(kT0 + absl::Seconds(1)));
}

TEST_F(ProxyFakeTest, DeleteSessionAnswers204WithEmptyBody) {
  const std::string kc = NewSessionSid();
  Response r = Call("DELETE", SessionPath(ks_, kc));
  EXPECT_EQ(r.status, 204) << Brief(r);
  EXPECT_EQ(r.body, "");
  EXPECT_TRUE(IsError(Call("GET", SessionPath(ks_, kc)), 404, 20404));
  EXPECT_TRUE(IsError(Call("DELETE", SessionPath(ks_, kc)), 404, 20404));
  EXPECT_EQ(Get(SessionsPath(ks_))["sessions"], json::array());
}

// Routes, methods and the base URL ------------------------------------------

TEST_F(ProxyFakeTest, UnknownRoutesAre20404) {
  const std::string kc = NewSessionSid();
  for (const std::string& target :
       {std::string("/"), std::string("/v1"), std::string("/v2/Services"),
        std::string("/v1/Sessions"), Cat(ServicePath(ks_), "/Foo"),
        // A Session's Participants and Interactions are routes now
        // (proxy_fake_participant_test); what is past them is not.
        Cat(SessionPath(ks_, kc), "/Calls"),
        Cat(SessionPath(ks_, kc),
            "/Participants/KP00000000000000000000000000000000/Calls"),
        Cat(SessionPath(ks_, kc),
            "/Interactions/KI00000000000000000000000000000000/x"),
        Cat(SessionPath(ks_, kc), "/a/b")}) {
    SCOPED_TRACE(target);
    EXPECT_TRUE(IsError(Call("GET", target), 404, 20404));
    EXPECT_TRUE(IsError(Call("POST", target, "Ttl=1"), 404, 20404));
  }
}

TEST_F(ProxyFakeTest, WrongMethodOnAKnownRouteIs405With20004) {
  const std::string kc = NewSessionSid();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"PUT", "/v1/Services"},           {"DELETE", "/v1/Services"},
      {"PATCH", ServicePath(ks_)},       {"PUT", ServicePath(ks_)},
      {"PUT", SessionsPath(ks_)},        {"DELETE", SessionsPath(ks_)},
      {"PATCH", SessionPath(ks_, kc)},   {"PUT", SessionPath(ks_, kc)},
      {"OPTIONS", SessionPath(ks_, kc)},
  };
  for (const auto& [method, target] : cases) {
    SCOPED_TRACE(method + " " + target);
    EXPECT_TRUE(IsError(Call(method, target, "Ttl=5"), 405, 20004));
  }
  // Nothing was changed.
  EXPECT_EQ(Get(SessionPath(ks_, kc))["ttl"], 0);
  EXPECT_EQ(Get(SessionsPath(ks_))["sessions"].size(), 1u);
}

TEST_F(ProxyFakeTest, MethodNamesAreCaseInsensitive) {
  Response created = Call("post", SessionsPath(ks_), "UniqueName=lower");
  ASSERT_EQ(created.status, 201) << Brief(created);
  const std::string kc = Parse(created).value("sid", "");
  EXPECT_EQ(Call("get", SessionPath(ks_, kc)).status, 200);
  EXPECT_EQ(Call("Get", SessionsPath(ks_)).status, 200);
  EXPECT_EQ(Call("pOsT", SessionPath(ks_, kc), "Ttl=9").status, 200);
  EXPECT_EQ(Call("Delete", SessionPath(ks_, kc)).status, 204);
}

TEST_F(ProxyFakeTest, FullUrlUnderTheBaseUrlIsAcceptedAsTarget) {
  Response created =
      Call("POST", Cat(kBase, SessionsPath(ks_)), "UniqueName=full");
  ASSERT_EQ(created.status, 201) << Brief(created);
  json j = Parse(created);
  EXPECT_EQ(Get(j.value("url", "")), j);
  EXPECT_EQ(
      Get(Cat(kBase, SessionsPath(ks_), "?PageSize=5"))["meta"]["page_size"],
      5);
  EXPECT_EQ(Call("DELETE", j.value("url", "")).status, 204);
}

TEST(ProxyFakeOptionsTest, BaseUrlOptionPrefixesEveryUrlAndIsAccepted) {
  ProxyFakeOptions options = FixedOptions();
  options.base_url = "http://127.0.0.1:8080";
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=local");
  json s = CreateSession(fake, ks);
  EXPECT_TRUE(IsSessionJson(s, options.base_url));
  for (int i = 0; i < 2; ++i) CreateSession(fake, ks);
  Response r = fake.Handle(
      "GET", Cat(options.base_url, SessionsPath(ks), "?PageSize=2"));
  ASSERT_EQ(r.status, 200) << Brief(r);
  json page = Parse(r);
  EXPECT_EQ(page["meta"]["first_page_url"],
            Cat(options.base_url, SessionsPath(ks), "?PageSize=2&Page=0"));
  ASSERT_TRUE(page["meta"]["next_page_url"].is_string());
  const std::string next = page["meta"]["next_page_url"];
  EXPECT_TRUE(absl::StartsWith(next, options.base_url + "/v1/")) << next;
  Response r2 = fake.Handle("GET", next);
  ASSERT_EQ(r2.status, 200) << Brief(r2);
  EXPECT_EQ(Parse(r2)["sessions"].size(), 1u);
  // The SDKs send the Proxy hosts whatever the base: they still reach the
  // fake, and the answers name the base.
  Response sdk = fake.Handle("GET", Cat(kBase, SessionsPath(ks)));
  ASSERT_EQ(sdk.status, 200) << Brief(sdk);
  EXPECT_TRUE(
      absl::StartsWith(Parse(sdk)["meta"]["first_page_url"].get<std::string>(),
                       options.base_url))
      << sdk.body;
  // Another host is no route.
  EXPECT_TRUE(IsClientError(
      fake.Handle("GET", Cat("http://127.0.0.1:9999", SessionsPath(ks)))));
}

TEST(ProxyFakeOptionsTest, AutoCreateServicesCreatesAnUnknownWellFormedSid) {
  ProxyFakeOptions options = FixedOptions();
  options.auto_create_services = true;
  ProxyFake fake(options);
  const std::string ks = "KS" + Repeat("0123456789abcdef", 2);
  Response r = fake.Handle("POST", SessionsPath(ks), "UniqueName=first-use");
  ASSERT_EQ(r.status, 201) << Brief(r);
  EXPECT_EQ(Parse(r)["service_sid"], ks);
  Response svc = fake.Handle("GET", ServicePath(ks));
  ASSERT_EQ(svc.status, 200) << Brief(svc);
  json j = Parse(svc);
  EXPECT_EQ(j["sid"], ks);
  EXPECT_EQ(j["unique_name"], ks);
  // A list naming another unknown Service creates it too.
  const std::string ks2 = "KS" + Repeat("fedcba9876543210", 2);
  Response list = fake.Handle("GET", SessionsPath(ks2));
  ASSERT_EQ(list.status, 200) << Brief(list);
  EXPECT_EQ(Parse(list)["sessions"], json::array());
  // A malformed SID names no Service.
  EXPECT_TRUE(
      IsError(fake.Handle("POST", SessionsPath("KSnothex")), 404, 20404));
}

// The Service is made just before the store call that needs it, after the
// fake's own checks: a request the fake refuses, or one that no Service
// could make succeed, leaves the store without it.
TEST(ProxyFakeOptionsTest, ARefusedRequestMakesNoAutoCreatedService) {
  ProxyFakeOptions options = FixedOptions();
  options.auto_create_services = true;
  ProxyFake fake(options);
  const std::string ks = "KS" + Repeat("0123456789abcdef", 2);
  const std::string kc = "KC" + Repeat("0123456789abcdef", 2);
  std::string many;
  for (int i = 0; i < 257; ++i) many += "a=1&";
  struct Refused {
    const char* method;
    std::string target;
    std::string body;
    int http;
    int code;
  };
  const std::vector<Refused> refused = {
      {"DELETE", SessionsPath(ks), "", 405, 20004},
      {"PUT", ServicePath(ks), "", 405, 20004},
      {"POST", SessionsPath(ks), Repeat("x", 70 * 1024), 413, 20413},
      {"POST", SessionsPath(ks), many, 413, 20413},
      {"POST", SessionsPath(ks), Cat("UniqueName=", Repeat("x", 17000)), 400,
       80701},
      {"POST", SessionsPath(ks), "Ttl=abc", 400, 80701},
      {"POST", ServicePath(ks), "DefaultTtl=abc", 400, 80701},
      {"GET", SessionsPath(ks) + "?PageSize=abc", "", 400, 80701},
      {"POST", SessionPath(ks, "not-a-sid"), "Ttl=5", 400, 80409},
      {"DELETE", SessionPath(ks, "not-a-sid"), "", 400, 80409},
      {"DELETE", ServicePath(ks), "", 404, 20404},
      {"GET", SessionPath(ks, kc), "", 404, 20404},
      {"POST", SessionPath(ks, kc), "Ttl=5", 404, 20404},
      {"DELETE", SessionPath(ks, kc), "", 404, 20404},
      {"GET", SessionPath(ks, kc) + "/Participants", "", 404, 20404},
  };
  for (const Refused& r : refused) {
    SCOPED_TRACE(
        Cat(r.method, " ", r.target.substr(0, 100), " ", r.body.substr(0, 40)));
    EXPECT_TRUE(
        IsError(fake.Handle(r.method, r.target, r.body), r.http, r.code));
    EXPECT_TRUE(
        absl::IsNotFound(fake.store().FetchService(ServiceSidOf(ks)).status()));
  }
  // A request the Service lets succeed still makes it.
  Response got = fake.Handle("GET", ServicePath(ks));
  ASSERT_EQ(got.status, 200) << Brief(got);
  EXPECT_TRUE(fake.store().FetchService(ServiceSidOf(ks)).ok());
}

// A refused create mints no SID: with the same seed, a fake that was
// refused creates (each code a create can hear) mints the same next SIDs as
// one that was not.
TEST(ProxyFakeOptionsTest, ARefusedSessionCreateMintsNoSid) {
  ProxyFakeOptions options = FixedOptions();
  options.max_sessions_per_service = 1;
  ProxyFake a(options);
  ProxyFake b(options);
  std::string other;
  for (ProxyFake* fake : {&a, &b}) {
    const std::string ks = CreateService(*fake, "UniqueName=full");
    other = CreateService(*fake, "UniqueName=other");
    CreateSession(*fake, ks, "UniqueName=taken");
    if (fake != &a) continue;
    const std::string unknown = "KS" + Repeat("0123456789abcdef", 2);
    EXPECT_TRUE(IsError(a.Handle("POST", SessionsPath(ks), "UniqueName=taken"),
                        400, 80603));
    EXPECT_TRUE(IsError(a.Handle("POST", SessionsPath(ks)), 429, 20429));
    EXPECT_TRUE(
        IsError(a.Handle("POST", SessionsPath(ks), "DateExpiry=2000-01-01"),
                400, 80701));
    EXPECT_TRUE(
        IsError(a.Handle("POST", SessionsPath(ks), "Ttl=-1"), 400, 80701));
    EXPECT_TRUE(IsError(a.Handle("POST", SessionsPath(unknown)), 404, 20404));
  }
  const std::string p = Enc(R"({"Identifier":"+15555550100"})");
  const json from_a = CreateSession(a, other, Cat("Participants=", p));
  const json from_b = CreateSession(b, other, Cat("Participants=", p));
  EXPECT_EQ(from_a["sid"], from_b["sid"]);
  const std::string participants = from_a["links"]["participants"];
  EXPECT_EQ(Parse(a.Handle("GET", participants))["participants"][0]["sid"],
            Parse(b.Handle("GET", participants))["participants"][0]["sid"]);
}

TEST(ProxyFakeOptionsTest, WithoutAutoCreateAnUnknownServiceIs20404) {
  ProxyFake fake(FixedOptions());
  const std::string ks = "KS" + Repeat("0123456789abcdef", 2);
  EXPECT_TRUE(IsError(fake.Handle("POST", SessionsPath(ks)), 404, 20404));
  EXPECT_TRUE(IsError(fake.Handle("GET", ServicePath(ks)), 404, 20404));
}

TEST(ProxyFakeOptionsTest, SameSeedAndRequestsGiveSameSids) {
  ProxyFake a(FixedOptions());
  ProxyFake b(FixedOptions());
  const std::string ks_a = CreateService(a, "UniqueName=x");
  const std::string ks_b = CreateService(b, "UniqueName=x");
  EXPECT_EQ(ks_a, ks_b);
  EXPECT_EQ(CreateSession(a, ks_a)["sid"], CreateSession(b, ks_b)["sid"]);
}

TEST(ProxyFakeOptionsTest, InfiniteClosedRetentionNeverPurges) {
  ProxyFakeOptions options = FixedOptions();
  options.closed_retention = absl::InfiniteDuration();
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=rides");
  const std::string kc =
      CreateSession(fake, ks, "UniqueName=kept&Status=closed").value("sid", "");
  ASSERT_TRUE(fake.Advance(absl::Hours(24 * 365 * 200)).ok());
  Response r = fake.Handle("GET", SessionPath(ks, kc));
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["status"], "closed");
  EXPECT_TRUE(IsError(fake.Handle("POST", SessionsPath(ks), "UniqueName=kept"),
                      400, 80603));
}

TEST(ProxyFakeOptionsTest, NegativeClosedRetentionPurgesAtOnceAsZero) {
  ProxyFakeOptions options = FixedOptions();
  options.closed_retention = absl::Seconds(-1);
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=rides");
  const std::string kc =
      CreateSession(fake, ks, "UniqueName=gone&Status=closed").value("sid", "");
  EXPECT_TRUE(IsError(fake.Handle("GET", SessionPath(ks, kc)), 404, 20404));
  CreateSession(fake, ks, "UniqueName=gone");
}

TEST(ProxyFakeOptionsTest, EmptyAccountSidIsMinted) {
  ProxyFakeOptions options = FixedOptions();
  options.account_sid.clear();
  ProxyFake fake(options);
  Response r = fake.Handle("POST", "/v1/Services", "UniqueName=x");
  ASSERT_EQ(r.status, 201) << Brief(r);
  EXPECT_TRUE(IsSid("AC", Parse(r)["account_sid"]));
}

TEST(ProxyFakeOptionsTest, MalformedAccountSidAnswersEveryRequest500) {
  ProxyFakeOptions options = FixedOptions();
  options.account_sid = "ACbad";
  ProxyFake fake(options);
  for (int i = 0; i < 2; ++i) {
    Response r = fake.Handle("POST", "/v1/Services", "UniqueName=x");
    EXPECT_EQ(r.status, 500) << Brief(r);
    json body = Parse(r);
    EXPECT_EQ(body["code"], 20500);
    EXPECT_NE(body["message"].get<std::string>().find("account_sid"),
              std::string::npos);
  }
}

// A refusal of the store that carries no Proxy code is the engine's own, not
// the request's: the fake answers it as the API answers a failure on its
// side. A follower store refuses every change so, with no Proxy code.
TEST(ProxyFakeOptionsTest, AStoreRefusalWithoutAProxyCodeIs500With20500) {
  ManualClock clock(kT0);
  StoreOptions store_options;
  store_options.clock = &clock;
  store_options.seed = kSeed;
  store_options.follower = true;
  auto store = SessionStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  ProxyFake fake(store->get(), &clock, FixedOptions());
  Response r = fake.Handle("POST", "/v1/Services", "UniqueName=x");
  ASSERT_TRUE(IsError(r, 500, 20500)) << Brief(r);
  EXPECT_EQ(Parse(r)["message"], "Internal server error");
  // Reads are answered as usual.
  EXPECT_EQ(fake.Handle("GET", "/v1/Services").status, 200);
}

TEST(ProxyFakeClockTest, NowStartsAtStartTimeAndAdvanceMovesIt) {
  ProxyFake fake(FixedOptions());
  EXPECT_EQ(fake.Now(), kT0);
  ASSERT_TRUE(fake.Advance(absl::Minutes(2)).ok());
  EXPECT_EQ(fake.Now(), kT0 + absl::Minutes(2));
  ASSERT_TRUE(fake.SetTime(kT0 - absl::Hours(1)).ok());
  EXPECT_EQ(fake.Now(), kT0 - absl::Hours(1));
}

TEST(ProxyFakeClockTest, AdvanceRefusesANegativeDelta) {
  ProxyFake fake(FixedOptions());
  EXPECT_EQ(fake.Advance(absl::Seconds(-1)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fake.Now(), kT0);
}

TEST(ProxyFakeClockTest, FakeOverAStoreWithoutManualClockRefusesClockMoves) {
  ManualClock clock(kT0);
  StoreOptions store_options;
  store_options.clock = &clock;
  store_options.seed = kSeed;
  auto store = SessionStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  ProxyFake fake(store->get(), nullptr, FixedOptions());
  EXPECT_EQ(fake.Advance(absl::Seconds(1)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fake.SetTime(kT0).code(), absl::StatusCode::kFailedPrecondition);
  // Requests still work against the caller's store.
  Response r = fake.Handle("POST", "/v1/Services", "UniqueName=wrapped");
  ASSERT_EQ(r.status, 201) << Brief(r);
  const std::optional<Sid> ks = Sid::Parse("KS", Parse(r).value("sid", ""));
  ASSERT_TRUE(ks.has_value()) << Brief(r);
  EXPECT_TRUE((*store)->FetchService(*ks).ok());
}

TEST(ProxyFakeClockTest, FakeOverAStoreAndItsManualClockMovesThatClock) {
  ManualClock clock(kT0);
  StoreOptions store_options;
  store_options.clock = &clock;
  store_options.seed = kSeed;
  auto store = SessionStore::Open(store_options);
  ASSERT_TRUE(store.ok()) << store.status();
  ProxyFake fake(store->get(), &clock, FixedOptions());
  const std::string ks = CreateService(fake, "UniqueName=wrapped");
  const std::string kc = CreateSession(fake, ks, "Ttl=10").value("sid", "");
  ASSERT_TRUE(fake.Advance(absl::Seconds(10)).ok());
  EXPECT_EQ(clock.Now(), kT0 + absl::Seconds(10));
  Response r = fake.Handle("GET", SessionPath(ks, kc));
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["status"], "closed");
}

// The fake's clock stays within the years an answer can write, as the
// tool's does (tools/fake_main.cc): a move past them is refused and leaves
// the clock where it was.
TEST(ProxyFakeClockTest, TheClockStaysWithinYears0000To9999) {
  ProxyFake fake(FixedOptions());
  const std::string ks = CreateService(fake, "UniqueName=rides");
  const absl::Time earliest = absl::FromUnixSeconds(-62167219200);
  const absl::Time latest = absl::FromUnixSeconds(253402300799);
  EXPECT_EQ(fake.Advance(absl::InfiniteDuration()).code(),
            absl::StatusCode::kOutOfRange);
  for (const absl::Time t :
       {absl::InfiniteFuture(), latest + absl::Seconds(1),
        earliest - absl::Seconds(1), absl::InfinitePast()}) {
    EXPECT_EQ(fake.SetTime(t).code(), absl::StatusCode::kOutOfRange);
  }
  EXPECT_EQ(fake.Now(), kT0);
  ASSERT_TRUE(fake.SetTime(latest - absl::Seconds(10)).ok());
  EXPECT_EQ(fake.Advance(absl::Seconds(11)).code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(fake.Advance(absl::Seconds(10)).ok());
  EXPECT_EQ(fake.Now(), latest);
  // At either end a create's arithmetic holds (ASan/UBSan check it).
  for (const char* body : {"Ttl=60", "Ttl=253402300799", "Status=closed"}) {
    EXPECT_EQ(CreateSession(fake, ks, body)["date_created"], Iso(latest));
  }
  ASSERT_TRUE(fake.SetTime(earliest).ok());
  EXPECT_EQ(CreateSession(fake, ks, "Ttl=60")["date_created"],
            "0000-01-01T00:00:00Z");
}

TEST(ProxyFakeClockTest, AStartTimeOutsideTheYearsAnswersEveryRequest500) {
  for (const absl::Time t : {absl::InfiniteFuture(), absl::InfinitePast()}) {
    ProxyFakeOptions options = FixedOptions();
    options.start_time = t;
    ProxyFake fake(options);
    Response r = fake.Handle("POST", "/v1/Services", "UniqueName=x");
    ASSERT_TRUE(IsError(r, 500, 20500)) << Brief(r);
    EXPECT_TRUE(
        absl::StrContains(Parse(r)["message"].get<std::string>(), "start_time"))
        << Brief(r);
  }
}

// Error codes (docs/semantics.md, "Errors") -------------------------------

TEST_F(ProxyFakeTest, ServiceUniqueNameTakenIs80602) {
  EXPECT_TRUE(
      IsError(Call("POST", "/v1/Services", "UniqueName=rides"), 400, 80602));
  const std::string other = CreateService(fake_, "UniqueName=other");
  EXPECT_TRUE(IsError(Call("POST", ServicePath(other), "UniqueName=rides"), 400,
                      80602));
}

TEST_F(ProxyFakeTest, SessionUniqueNameTakenIs80603) {
  NewSession("UniqueName=Order+%231234");
  EXPECT_TRUE(
      IsError(Call("POST", SessionsPath(ks_), "UniqueName=Order%20%231234"),
              400, 80603));
  // Another Service has its own names.
  const std::string other = CreateService(fake_, "UniqueName=other");
  CreateSession(fake_, other, "UniqueName=Order+%231234");
}

TEST_F(ProxyFakeTest, ClosedSessionKeepsItsUniqueName) {
  const std::string kc = NewSessionSid("UniqueName=kept");
  ASSERT_EQ(Update(kc, "Status=closed").status, 200);
  EXPECT_TRUE(
      IsError(Call("POST", SessionsPath(ks_), "UniqueName=kept"), 400, 80603));
  EXPECT_EQ(Get(SessionPath(ks_, "kept"))["sid"], kc);
}

TEST_F(ProxyFakeTest, UpdateOfAClosedSessionOtherThanReopenIs80607) {
  const std::string closed = NewSessionSid();
  ASSERT_EQ(Update(closed, "Status=closed").status, 200);
  for (const char* body :
       {"Ttl=60", "DateExpiry=2030-02-01T00%3A00%3A00Z", "Status=closed"}) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsError(Update(closed, body), 400, 80607));
  }
  const std::string failed = NewSessionSid("Status=failed");
  EXPECT_TRUE(IsError(Update(failed, "Ttl=60"), 400, 80607));
  EXPECT_EQ(Get(SessionPath(ks_, closed))["ttl"], 0);
}

TEST_F(ProxyFakeTest, StatusChangeOutsideTheTableIs80608) {
  const std::string open = NewSessionSid();
  for (const char* status : {"in-progress", "open", "failed", "unknown"}) {
    SCOPED_TRACE(status);
    EXPECT_TRUE(IsError(Update(open, Cat("Status=", status)), 400, 80608));
  }
  EXPECT_EQ(Get(SessionPath(ks_, open))["status"], "open");
  const std::string in_progress = NewSessionSid("Status=in-progress");
  EXPECT_TRUE(IsError(Update(in_progress, "Status=in-progress"), 400, 80608));
  EXPECT_TRUE(IsError(Update(in_progress, "Status=open"), 400, 80608));
  // A failed Session cannot be re-opened.
  const std::string failed = NewSessionSid("Status=failed");
  EXPECT_TRUE(IsError(Update(failed, "Status=in-progress"), 400, 80608));
}

TEST_F(ProxyFakeTest, MoreThanTwoParticipantsIs80609) {
  const std::string p =
      Enc(R"({"Identifier":"+15555550100","FriendlyName":"Alice"})");
  const std::string q =
      Enc(R"({"Identifier":"+15555550101","FriendlyName":"Bob"})");
  const std::string r3 =
      Enc(R"({"Identifier":"+15555550102","FriendlyName":"Carol"})");
  Response crowd = Call("POST", SessionsPath(ks_),
                        Cat("UniqueName=crowd&Participants=", p,
                            "&Participants=", q, "&Participants=", r3));
  EXPECT_TRUE(IsError(crowd, 400, 80609));
  EXPECT_EQ(Parse(crowd)["message"],
            "A Session can have at most 2 Participants.");
  // Nothing was created: the name is still free.
  NewSession(Cat("UniqueName=crowd&Participants=", p, "&Participants=", q));
  NewSession(Cat("Participants=", p));
  // The count comes before what each Participant holds (docs/semantics.md,
  // "Order of checks"), and the unknown Service before the count.
  const std::string unknown = "KS" + Repeat("0123456789abcdef", 2);
  for (const std::string& bad :
       {Enc("not json"), Enc("[1]"), Enc(R"({"Identifier":5})"),
        Enc(Cat(R"({"Identifier":")", Repeat("x", 192), R"("})"))}) {
    SCOPED_TRACE(bad);
    const std::string three =
        Cat("Participants=", p, "&Participants=", bad, "&Participants=", q);
    EXPECT_TRUE(IsError(Call("POST", SessionsPath(ks_), three), 400, 80609));
    EXPECT_TRUE(
        IsError(Call("POST", SessionsPath(unknown), three), 404, 20404));
  }
}

// The Participant rules hold for the Participants given at create as for
// those added later: one identifier twice in a Session is 80103, and nothing
// is created.
TEST_F(ProxyFakeTest, TheSameIdentifierTwiceAtCreateIs80103) {
  const std::string p =
      Enc(R"({"Identifier":"+15555550100","FriendlyName":"Alice"})");
  const std::string q =
      Enc(R"({"Identifier":"+15555550100","FriendlyName":"Bob"})");
  Response r =
      Call("POST", SessionsPath(ks_),
           Cat("UniqueName=twice&Participants=", p, "&Participants=", q));
  ASSERT_TRUE(IsError(r, 400, 80103)) << Brief(r);
  EXPECT_EQ(Parse(r)["message"],
            "Participant identifier '+15555550100' is already in this "
            "Session.");
  EXPECT_EQ(fake_.store().Stats().sessions, 0);
  NewSession("UniqueName=twice");
  // Two with no Identifier name no one twice.
  const std::string nameless = Enc(R"({"FriendlyName":"Anon"})");
  NewSession(Cat("Participants=", nameless, "&Participants=", nameless));
}

TEST_F(ProxyFakeTest, AnOutOfRangeTtlSaysItIsOutOfRange) {
  // Too large for any integer type, or just past the largest date: both are
  // integers, so the answer says out of range, not "must be an integer".
  for (const char* ttl : {"9999999999999999999999999",
                          "-9999999999999999999999999", "253402300800"}) {
    SCOPED_TRACE(ttl);
    for (const Response& r :
         {Call("POST", SessionsPath(ks_), Cat("Ttl=", ttl)),
          Call("POST", "/v1/Services",
               Cat("UniqueName=svc-", ttl, "&DefaultTtl=", ttl))}) {
      ASSERT_TRUE(IsError(r, 400, 80701)) << Brief(r);
      const std::string message = Parse(r)["message"];
      EXPECT_NE(message.find("from 0 to 253402300799"), std::string::npos)
          << message;
      EXPECT_EQ(message.find("must be an integer"), std::string::npos)
          << message;
    }
  }
}

TEST_F(ProxyFakeTest, DateExpiryTakesAnyFractionAndALeapSecondOnlyAt235960) {
  // Any number of fractional digits, dropped: the answer shows the instant
  // the Session expires at.
  EXPECT_EQ(NewSession("DateExpiry=2030-01-01T00%3A00%3A01." + Repeat("9", 30) +
                       "Z")["date_expiry"],
            "2030-01-01T00:00:01Z");
  // 23:59:60 UTC reads as the next second.
  EXPECT_EQ(NewSession("DateExpiry=2030-12-31T23%3A59%3A60Z")["date_expiry"],
            "2031-01-01T00:00:00Z");
  // Any other second 60 is no time at all.
  EXPECT_TRUE(IsInvalidParameter(
      Call("POST", SessionsPath(ks_), "DateExpiry=2030-06-01T12%3A34%3A60Z"),
      "DateExpiry"));
}

TEST_F(ProxyFakeTest, InvalidSessionCreateParametersAre80701NamingTheParam) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Ttl=abc", "Ttl"},
      {"Ttl=1.5", "Ttl"},
      {"Ttl=", "Ttl"},
      {"Ttl=-1", "Ttl"},
      {"Ttl=99999999999999999999999", "Ttl"},
      {"DateExpiry=tomorrow", "DateExpiry"},
      {"DateExpiry=2030-13-01T00%3A00%3A00Z", "DateExpiry"},
      {"DateExpiry=", "DateExpiry"},
      // Not after now: now itself, and the past.
      {"DateExpiry=2030-01-01T00%3A00%3A00Z", "DateExpiry"},
      {"DateExpiry=2029-12-31", "DateExpiry"},
      {"Mode=chat", "Mode"},
      {"Mode=", "Mode"},
      {"Status=bogus", "Status"},
      {"Status=", "Status"},
      // Wire strings are case-sensitive.
      {"Status=OPEN", "Status"},
      {"Mode=Voice-Only", "Mode"},
      // A leading space ('+' decodes to one) is not a whole integer.
      {"Ttl=+5", "Ttl"},
      {"Ttl=%205", "Ttl"},
      {"UniqueName=" + Repeat("n", 192), "UniqueName"},
      {"UniqueName=%FF", "UniqueName"},
      {"UniqueName=", "UniqueName"},
      {"Participants=notjson", "Participants"},
      {"Participants=%5B1%2C2%5D", "Participants"},
      {"Participants=%22text%22", "Participants"},
      {"Participants=" + Enc(R"({"Identifier":5})"), "Participants"},
      {"Participants=", "Participants"},
  };
  for (const auto& [body, param] : cases) {
    SCOPED_TRACE(body.substr(0, 60));
    EXPECT_TRUE(
        IsInvalidParameter(Call("POST", SessionsPath(ks_), body), param));
  }
  EXPECT_EQ(Get(SessionsPath(ks_))["sessions"], json::array());
}

TEST_F(ProxyFakeTest, InvalidSessionUpdateParametersAre80701NamingTheParam) {
  const std::string kc = NewSessionSid("Ttl=100");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Ttl=abc", "Ttl"},
      {"Ttl=1.5", "Ttl"},
      {"Ttl=", "Ttl"},
      {"Ttl=-1", "Ttl"},
      {"DateExpiry=not-a-date", "DateExpiry"},
      {"DateExpiry=2030-01-01T00%3A00%3A00Z", "DateExpiry"},
      {"Status=bogus", "Status"},
  };
  for (const auto& [body, param] : cases) {
    SCOPED_TRACE(body);
    EXPECT_TRUE(IsInvalidParameter(Update(kc, body), param));
  }
  EXPECT_EQ(Get(SessionPath(ks_, kc))["ttl"], 100);
}

TEST_F(ProxyFakeTest, PageSizeOutOfRangeOrNotAnIntegerIs80701) {
  for (const char* size :
       {"0", "1001", "-1", "abc", "", "2.5", "99999999999999999999999"}) {
    SCOPED_TRACE(size);
    EXPECT_TRUE(IsInvalidParameter(
        Call("GET", Cat(SessionsPath(ks_), "?PageSize=", size)), "PageSize"));
  }
  EXPECT_TRUE(
      IsInvalidParameter(Call("GET", "/v1/Services?PageSize=0"), "PageSize"));
}

TEST_F(ProxyFakeTest, PageNotAWholeNonNegativeIntegerIs80701) {
  for (const char* page : {"abc", "-1", "1.5", ""}) {
    SCOPED_TRACE(page);
    EXPECT_TRUE(IsInvalidParameter(
        Call("GET", Cat(SessionsPath(ks_), "?PageSize=5&Page=", page)),
        "Page"));
  }
}

TEST_F(ProxyFakeTest, TargetsOver8KiBAre20404AndUpTo8KiBAreRead) {
  const std::string prefix = SessionsPath(ks_) + "?Pad=";
  const std::string at_limit = prefix + Repeat("a", 8192 - prefix.size());
  ASSERT_EQ(at_limit.size(), 8192u);
  EXPECT_EQ(Call("GET", at_limit).status, 200);
  EXPECT_TRUE(IsError(Call("GET", at_limit + "a"), 404, 20404));
  // The answer does not echo the whole target back.
  EXPECT_LT(Call("GET", prefix + Repeat("a", 100 * 1024)).body.size(), 2048u);
}

TEST_F(ProxyFakeTest, EveryProxyHostOfEveryRegionAndEdgeReachesTheFake) {
  const std::string kc = NewSessionSid();
  const std::string path = SessionPath(ks_, kc);
  // As the SDKs build them from region and edge (and TWILIO_REGION/EDGE).
  for (const char* host :
       {"https://proxy.twilio.com", "https://proxy.au1.twilio.com",
        "https://proxy.sydney.au1.twilio.com",
        "https://proxy.dublin.ie1.twilio.com", "https://proxy.us1.twilio.com",
        "https://PROXY.Ashburn.US1.Twilio.Com", "http://proxy.twilio.com"}) {
    SCOPED_TRACE(host);
    Response r = Call("GET", Cat(host, path));
    ASSERT_EQ(r.status, 200) << Brief(r);
    EXPECT_EQ(Parse(r)["sid"], kc);
  }
  // Other Twilio hosts and look-alikes name nothing here.
  for (const char* host :
       {"https://api.twilio.com", "https://proxy.a.b.c.twilio.com",
        "https://proxy..twilio.com", "https://proxy.au1.twilio.com.example",
        "https://proxy.au_1.twilio.com", "https://xproxy.twilio.com"}) {
    SCOPED_TRACE(host);
    EXPECT_TRUE(IsError(Call("GET", Cat(host, path)), 404, 20404));
  }
}

TEST_F(ProxyFakeTest, PageSizeBoundsOneAndThousandAreAccepted) {
  NewSession();
  NewSession();
  json one = Get(SessionsPath(ks_) + "?PageSize=1");
  EXPECT_EQ(one["sessions"].size(), 1u);
  EXPECT_EQ(one["meta"]["page_size"], 1);
  EXPECT_TRUE(one["meta"]["next_page_url"].is_string());
  json thousand = Get(SessionsPath(ks_) + "?PageSize=1000");
  EXPECT_EQ(thousand["sessions"].size(), 2u);
  EXPECT_EQ(thousand["meta"]["page_size"], 1000);
}

TEST_F(ProxyFakeTest, AnEmptyPageTokenIs21481NotTheFirstPage) {
  NewSession();
  EXPECT_TRUE(
      IsError(Call("GET", SessionsPath(ks_) + "?PageToken="), 400, 21481));
  EXPECT_TRUE(
      IsError(Call("GET", "/v1/Services?PageSize=5&PageToken="), 400, 21481));
  // Absent is the first page.
  EXPECT_EQ(Call("GET", SessionsPath(ks_) + "?PageSize=5").status, 200);
  // The store's order holds (docs/semantics.md, "Order of checks"): the
  // Service, then PageSize, then the token; then Page, which only the fake
  // reads.
  const std::string unknown = "KS" + Repeat("0123456789abcdef", 2);
  EXPECT_TRUE(
      IsError(Call("GET", SessionsPath(unknown) + "?PageToken="), 404, 20404));
  EXPECT_TRUE(IsInvalidParameter(
      Call("GET", SessionsPath(ks_) + "?PageSize=0&PageToken="), "PageSize"));
  EXPECT_TRUE(IsInvalidParameter(
      Call("GET", "/v1/Services?PageSize=0&PageToken="), "PageSize"));
  EXPECT_TRUE(
      IsError(Call("GET", SessionsPath(unknown) + "?Page=-1"), 404, 20404));
  EXPECT_TRUE(IsInvalidParameter(
      Call("GET", SessionsPath(ks_) + "?PageSize=0&Page=-1"), "PageSize"));
  EXPECT_TRUE(IsError(Call("GET", SessionsPath(ks_) + "?Page=-1&PageToken="),
                      400, 21481));
  EXPECT_TRUE(
      IsInvalidParameter(Call("GET", SessionsPath(ks_) + "?Page=-1"), "Page"));
}

TEST_F(ProxyFakeTest, InvalidPageTokenIs21481) {
  for (int i = 0; i < 3; ++i) NewSession();
  for (const char* token : {"garbage", "PA", "PAKCnothex", "PB0", "%FF%FE"}) {
    SCOPED_TRACE(token);
    EXPECT_TRUE(IsError(
        Call("GET", Cat(SessionsPath(ks_), "?PageSize=1&PageToken=", token)),
        400, 21481));
  }
  // A token from another Service's list is foreign.
  json page = Get(SessionsPath(ks_) + "?PageSize=1");
  ASSERT_TRUE(page["meta"]["next_page_url"].is_string());
  const std::string next = page["meta"]["next_page_url"];
  const size_t query = next.find('?');
  ASSERT_NE(query, std::string::npos);
  const std::string other = CreateService(fake_, "UniqueName=other");
  CreateSession(fake_, other);
  EXPECT_TRUE(IsError(Call("GET", SessionsPath(other) + next.substr(query)),
                      400, 21481));
}

TEST_F(ProxyFakeTest, MalformedSessionSidOnUpdateOrDeleteIs80409) {
  NewSession("UniqueName=by-name");
  for (const std::string& id :
       {std::string("KCnothex"), "KC" + Repeat("a", 31), "KC" + Repeat("a", 33),
        std::string("by-name"), "KS" + Repeat("a", 32)}) {
    SCOPED_TRACE(id);
    EXPECT_TRUE(IsError(Update(id, "Ttl=5"), 400, 80409));
    EXPECT_TRUE(IsError(Call("DELETE", SessionPath(ks_, id)), 400, 80409));
  }
  // The named Session is untouched; GET by name still finds it.
  json j = Get(SessionPath(ks_, "by-name"));
  EXPECT_EQ(j["ttl"], 0);
}

// The fake parses an update's parameters before it reads the SID in its
// path, so a parameter that does not parse is the answer even there.
TEST_F(ProxyFakeTest, UnparseableUpdateParameterWinsOverAMalformedSid) {
  EXPECT_TRUE(IsInvalidParameter(Update("KCnothex", "Ttl=abc"), "Ttl"));
  EXPECT_TRUE(IsError(Update("KCnothex", "Ttl=5"), 400, 80409));
}

TEST_F(ProxyFakeTest, WellFormedAbsentSidOnUpdateOrDeleteIs20404) {
  const std::string kc = "KC" + Repeat("9", 32);
  EXPECT_TRUE(IsError(Update(kc, "Ttl=5"), 404, 20404));
  EXPECT_TRUE(IsError(Call("DELETE", SessionPath(ks_, kc)), 404, 20404));
}

// Pagination ----------------------------------------------------------------

TEST_F(ProxyFakeTest, PageUrlsHaveSizePageAndTokenAndRoundTrip) {
  for (int i = 0; i < 5; ++i) NewSession();
  const std::string list_url = Cat(kBase, SessionsPath(ks_));
  json p0 = Get(SessionsPath(ks_) + "?PageSize=2");
  EXPECT_EQ(p0["meta"]["page"], 0);
  EXPECT_EQ(p0["meta"]["first_page_url"], list_url + "?PageSize=2&Page=0");
  EXPECT_EQ(p0["meta"]["url"], list_url + "?PageSize=2&Page=0");
  EXPECT_TRUE(p0["meta"]["previous_page_url"].is_null());
  ASSERT_TRUE(p0["meta"]["next_page_url"].is_string());
  const std::string next1 = p0["meta"]["next_page_url"];
  EXPECT_TRUE(
      absl::StartsWith(next1, list_url + "?PageSize=2&Page=1&PageToken="))
      << next1;

  json p1 = Get(next1);
  EXPECT_EQ(p1["meta"]["page"], 1);
  EXPECT_EQ(p1["meta"]["page_size"], 2);
  EXPECT_EQ(p1["meta"]["url"], next1);
  EXPECT_EQ(p1["meta"]["first_page_url"], list_url + "?PageSize=2&Page=0");
  ASSERT_TRUE(p1["meta"]["previous_page_url"].is_string());
  EXPECT_TRUE(
      absl::StartsWith(p1["meta"]["previous_page_url"].get<std::string>(),
                       list_url + "?PageSize=2&Page=0"))
      << p1["meta"]["previous_page_url"];
  ASSERT_TRUE(p1["meta"]["next_page_url"].is_string());
  const std::string next2 = p1["meta"]["next_page_url"];
  EXPECT_TRUE(
      absl::StartsWith(next2, list_url + "?PageSize=2&Page=2&PageToken="))
      << next2;

  json p2 = Get(next2);
  EXPECT_EQ(p2["meta"]["page"], 2);
  EXPECT_EQ(p2["sessions"].size(), 1u);
  EXPECT_TRUE(p2["meta"]["next_page_url"].is_null());
  EXPECT_TRUE(p2["meta"]["previous_page_url"].is_string());
  // The same page URLs also work as paths without the base.
  EXPECT_EQ(Get(next1.substr(std::string(kBase).size()))["sessions"],
            p1["sessions"]);
}

TEST_F(ProxyFakeTest, PreviousPageUrlWalksBackOverTheSamePages) {
  for (int i = 0; i < 230; ++i) NewSession();
  std::vector<std::vector<std::string>> pages;
  std::string target = SessionsPath(ks_) + "?PageSize=50";
  json page;
  for (int n = 0; n < 20; ++n) {
    page = Get(target);
    EXPECT_EQ(page["meta"]["page"], n);
    std::vector<std::string> sids;
    for (const json& s : page["sessions"]) sids.push_back(s.value("sid", ""));
    pages.push_back(sids);
    if (page["meta"]["next_page_url"].is_null()) break;
    target = page["meta"]["next_page_url"].get<std::string>();
  }
  ASSERT_EQ(pages.size(), 5u);
  EXPECT_EQ(pages.back().size(), 30u);
  for (int n = static_cast<int>(pages.size()) - 2; n >= 0; --n) {
    SCOPED_TRACE(n);
    ASSERT_TRUE(page["meta"]["previous_page_url"].is_string())
        << page["meta"].dump();
    page = Get(page["meta"]["previous_page_url"].get<std::string>());
    EXPECT_EQ(page["meta"]["page"], n);
    std::vector<std::string> sids;
    for (const json& s : page["sessions"]) sids.push_back(s.value("sid", ""));
    EXPECT_EQ(sids, pages[n]);
  }
  EXPECT_TRUE(page["meta"]["previous_page_url"].is_null()) << page["meta"];
}

// Between pages the test creates Sessions, deletes some not yet seen
// (including the very next one) and some already seen (including the page's
// last, the boundary its token points after). Every Session that exists for
// the whole walk must be seen exactly once, none twice, and none after it
// was deleted.
TEST_F(ProxyFakeTest, PaginationAcrossCreatesAndDeletesSeesEachSurvivorOnce) {
  constexpr int kInitial = 2500;
  constexpr int kPageSize = 100;
  std::vector<std::string> initial;  // Oldest first.
  for (int i = 0; i < kInitial; ++i) {
    initial.push_back(NewSessionSid());
    ASSERT_FALSE(initial.back().empty());
  }
  std::set<std::string> deleted;
  std::set<std::string> deleted_unseen;
  std::set<std::string> created_during_walk;
  std::set<std::string> seen;
  std::mt19937 rng(12345);
  auto delete_session = [&](const std::string& kc) {
    Response r = Call("DELETE", SessionPath(ks_, kc));
    EXPECT_EQ(r.status, 204) << Brief(r);
    deleted.insert(kc);
  };

  std::string target =
      SessionsPath(ks_) + "?PageSize=" + std::to_string(kPageSize);
  int pages = 0;
  while (true) {
    Response r = Call("GET", target);
    ASSERT_EQ(r.status, 200) << "page " << pages << ": " << Brief(r);
    json j = Parse(r);
    EXPECT_EQ(j["meta"]["page"], pages);
    EXPECT_EQ(j["meta"]["page_size"], kPageSize);
    EXPECT_LE(j["sessions"].size(), static_cast<size_t>(kPageSize));
    std::string last;
    for (const json& s : j["sessions"]) {
      const std::string kc = s.value("sid", "");
      EXPECT_TRUE(seen.insert(kc).second) << kc << " seen twice";
      EXPECT_EQ(deleted.count(kc), 0u) << kc << " seen after its delete";
      EXPECT_EQ(created_during_walk.count(kc), 0u)
          << kc << " is newer than the walk's boundary";
      last = kc;
    }
    ++pages;
    ASSERT_LT(pages, 200) << "the walk does not end";
    if (j["meta"]["next_page_url"].is_null()) break;
    target = j["meta"]["next_page_url"].get<std::string>();
    ASSERT_TRUE(absl::StartsWith(target, kBase)) << target;

    // Changes between pages.
    for (int i = 0; i < 3; ++i) created_during_walk.insert(NewSessionSid());
    std::vector<std::string> unseen;  // Newest first: the walk's order.
    for (auto it = initial.rbegin(); it != initial.rend(); ++it) {
      if (!seen.count(*it) && !deleted.count(*it)) unseen.push_back(*it);
    }
    if (!unseen.empty()) {
      delete_session(unseen.front());  // The very next one the walk would show.
      deleted_unseen.insert(unseen.front());
    }
    if (unseen.size() > 2) {
      std::uniform_int_distribution<size_t> pick(1, unseen.size() - 1);
      const std::string& kc = unseen[pick(rng)];
      delete_session(kc);
      deleted_unseen.insert(kc);
    }
    if (!last.empty() && !deleted.count(last))
      delete_session(last);  // The boundary.
    std::vector<std::string> seen_alive;
    for (const std::string& kc : seen) {
      if (!deleted.count(kc)) seen_alive.push_back(kc);
    }
    if (!seen_alive.empty()) {
      std::uniform_int_distribution<size_t> pick(0, seen_alive.size() - 1);
      delete_session(seen_alive[pick(rng)]);
    }
  }

  int survivors = 0;
  std::vector<std::string> missed;
  for (const std::string& kc : initial) {
    if (deleted_unseen.count(kc)) continue;
    ++survivors;
    if (!seen.count(kc)) missed.push_back(kc);
  }
  EXPECT_TRUE(missed.empty())
      << missed.size() << " of " << survivors
      << " Sessions that existed for the whole walk were never seen; first "
      << (missed.empty() ? "" : missed.front());
  EXPECT_GT(deleted_unseen.size(), 40u);
  EXPECT_GE(pages, 20);
}

// Expiry, re-open, delete and purge -----------------------------------------

TEST_F(ProxyFakeTest, TtlExpiryIsSeenThroughGetAfterAdvance) {
  const std::string kc = NewSessionSid("UniqueName=ride&Ttl=3600");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(3599)).ok());
  EXPECT_EQ(Get(SessionPath(ks_, kc))["status"], "open");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(1)).ok());
  json j = Get(SessionPath(ks_, kc));
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["status"], "closed");
  EXPECT_EQ(j["closed_reason"], "ttl");
  EXPECT_EQ(j["date_ended"], Iso(kT0 + absl::Hours(1)));
  EXPECT_EQ(j["date_updated"], Iso(kT0 + absl::Hours(1)));
  EXPECT_EQ(Get(SessionPath(ks_, "ride")), j);
  EXPECT_EQ(Get(SessionsPath(ks_))["sessions"][0], j);
}

TEST_F(ProxyFakeTest, DateExpiryIsSeenThroughGetWithReasonDateExpiry) {
  const std::string kc =
      NewSessionSid("DateExpiry=2030-01-01T00%3A30%3A00Z&Ttl=7200");
  ASSERT_TRUE(fake_.Advance(absl::Minutes(29)).ok());
  EXPECT_EQ(Get(SessionPath(ks_, kc))["status"], "open");
  ASSERT_TRUE(fake_.Advance(absl::Minutes(2)).ok());
  json j = Get(SessionPath(ks_, kc));
  EXPECT_EQ(j["status"], "closed");
  EXPECT_EQ(j["closed_reason"], "date_expiry");
  EXPECT_EQ(j["date_ended"], "2030-01-01T00:30:00Z");
}

// Not only reads: Advance itself closes what came due (listeners hear it).
TEST_F(ProxyFakeTest, AdvanceRunsTheExpiriesThatCameDueWithoutARead) {
  NewSession("Ttl=60");
  NewSession("Ttl=120");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(60)).ok());
  EXPECT_EQ(fake_.store().Stats().expired, 1);
  ASSERT_TRUE(fake_.SetTime(kT0 + absl::Seconds(120)).ok());
  EXPECT_EQ(fake_.store().Stats().expired, 2);
  EXPECT_EQ(fake_.store().Stats().closed, 2);
}

TEST_F(ProxyFakeTest, SetTimeRunsTheExpiriesThatCameDue) {
  const std::string kc = NewSessionSid("Ttl=60");
  ASSERT_TRUE(fake_.SetTime(kT0 + absl::Hours(2)).ok());
  json j = Get(SessionPath(ks_, kc));
  EXPECT_EQ(j["status"], "closed");
  EXPECT_EQ(j["date_ended"], Iso(kT0 + absl::Seconds(60)));
}

TEST_F(ProxyFakeTest, UpdateThatMakesASessionOverdueClosesItAtOnce) {
  const std::string kc = NewSessionSid();
  ASSERT_TRUE(fake_.Advance(absl::Seconds(100)).ok());
  Response r = Update(kc, "Ttl=30");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_EQ(j["status"], "closed");
  EXPECT_EQ(j["closed_reason"], "ttl");
  EXPECT_EQ(j["date_ended"], Iso(kT0 + absl::Seconds(30)));
  // The update's own time: date_updated never moves back to the expiry.
  EXPECT_EQ(j["date_updated"], Iso(kT0 + absl::Seconds(100)));
  EXPECT_EQ(Get(SessionPath(ks_, kc)), j);
}

TEST_F(ProxyFakeTest, ReopenOfAClosedSessionAnswersInProgressAndClearsEnd) {
  const std::string kc = NewSessionSid("Ttl=60");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(60)).ok());
  ASSERT_EQ(Get(SessionPath(ks_, kc))["status"], "closed");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(40)).ok());
  Response r = Update(kc, "Status=in-progress");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["status"], "in-progress");
  EXPECT_TRUE(j["date_ended"].is_null());
  EXPECT_TRUE(j["closed_reason"].is_null());
  EXPECT_EQ(j["date_updated"], Iso(kT0 + absl::Seconds(100)));
  EXPECT_EQ(Get(SessionPath(ks_, kc)), j);
  // The TTL window restarts at the re-open.
  ASSERT_TRUE(fake_.Advance(absl::Seconds(59)).ok());
  EXPECT_EQ(Get(SessionPath(ks_, kc))["status"], "in-progress");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(1)).ok());
  json again = Get(SessionPath(ks_, kc));
  EXPECT_EQ(again["status"], "closed");
  EXPECT_EQ(again["closed_reason"], "ttl");
  EXPECT_EQ(again["date_ended"], Iso(kT0 + absl::Seconds(160)));
}

TEST_F(ProxyFakeTest, ReopenOfAnApiClosedSessionSucceeds) {
  const std::string kc = NewSessionSid("Status=closed");
  Response r = Update(kc, "Status=in-progress");
  ASSERT_EQ(r.status, 200) << Brief(r);
  EXPECT_EQ(Parse(r)["status"], "in-progress");
  EXPECT_TRUE(Parse(r)["date_ended"].is_null());
}

TEST_F(ProxyFakeTest, ReopenAfterDateExpiryPassedNeedsANewDateExpiry) {
  const std::string kc = NewSessionSid("DateExpiry=2030-01-01T01%3A00%3A00Z");
  ASSERT_TRUE(fake_.Advance(absl::Hours(1)).ok());
  ASSERT_EQ(Get(SessionPath(ks_, kc))["closed_reason"], "date_expiry");
  EXPECT_TRUE(
      IsInvalidParameter(Update(kc, "Status=in-progress"), "DateExpiry"));
  EXPECT_EQ(Get(SessionPath(ks_, kc))["status"], "closed");
  Response r =
      Update(kc, "Status=in-progress&DateExpiry=2030-01-01T03%3A00%3A00Z");
  ASSERT_EQ(r.status, 200) << Brief(r);
  json j = Parse(r);
  EXPECT_EQ(j["status"], "in-progress");
  EXPECT_EQ(j["date_expiry"], "2030-01-01T03:00:00Z");
  EXPECT_TRUE(j["date_ended"].is_null());
}

TEST_F(ProxyFakeTest, DeleteFreesTheUniqueName) {
  const std::string kc = NewSessionSid("UniqueName=reused");
  EXPECT_TRUE(IsError(Call("POST", SessionsPath(ks_), "UniqueName=reused"), 400,
                      80603));
  ASSERT_EQ(Call("DELETE", SessionPath(ks_, kc)).status, 204);
  Response r = Call("POST", SessionsPath(ks_), "UniqueName=reused");
  ASSERT_EQ(r.status, 201) << Brief(r);
  EXPECT_NE(Parse(r)["sid"], kc);
  EXPECT_EQ(Get(SessionPath(ks_, "reused"))["sid"], Parse(r)["sid"]);
}

TEST(ProxyFakePurgeTest, PurgeAfterClosedRetentionFreesTheUniqueName) {
  ProxyFakeOptions options = FixedOptions();
  options.closed_retention = absl::Hours(1);
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=rides");
  const std::string kc =
      CreateSession(fake, ks, "UniqueName=ride-7&Ttl=60").value("sid", "");
  ASSERT_TRUE(fake.Advance(absl::Seconds(60)).ok());
  EXPECT_TRUE(IsError(
      fake.Handle("POST", SessionsPath(ks), "UniqueName=ride-7"), 400, 80603));
  ASSERT_TRUE(fake.Advance(absl::Hours(1) - absl::Seconds(1)).ok());
  Response kept = fake.Handle("GET", SessionPath(ks, "ride-7"));
  ASSERT_EQ(kept.status, 200) << Brief(kept);
  EXPECT_EQ(Parse(kept)["status"], "closed");
  ASSERT_TRUE(fake.Advance(absl::Seconds(1)).ok());
  EXPECT_TRUE(IsError(fake.Handle("GET", SessionPath(ks, kc)), 404, 20404));
  EXPECT_TRUE(
      IsError(fake.Handle("GET", SessionPath(ks, "ride-7")), 404, 20404));
  Response again = fake.Handle("POST", SessionsPath(ks), "UniqueName=ride-7");
  ASSERT_EQ(again.status, 201) << Brief(again);
  EXPECT_NE(Parse(again)["sid"], kc);
}

TEST(ProxyFakePurgeTest, ApiClosedSessionIsPurgedAfterRetention) {
  ProxyFakeOptions options = FixedOptions();
  options.closed_retention = absl::Minutes(5);
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=rides");
  const std::string kc =
      CreateSession(fake, ks, "UniqueName=gone&Status=closed").value("sid", "");
  ASSERT_TRUE(fake.Advance(absl::Minutes(5)).ok());
  EXPECT_TRUE(IsError(fake.Handle("GET", SessionPath(ks, kc)), 404, 20404));
  CreateSession(fake, ks, "UniqueName=gone");
}

// Form decoding -------------------------------------------------------------

TEST_F(ProxyFakeTest, PlusAndPercent20DecodeToSpaces) {
  EXPECT_EQ(NewSession("UniqueName=a+b+c")["unique_name"], "a b c");
  EXPECT_EQ(NewSession("UniqueName=d%20e")["unique_name"], "d e");
  EXPECT_EQ(NewSession("UniqueName=%2B1")["unique_name"], "+1");
}

TEST_F(ProxyFakeTest, PercentEscapesDecodeEitherCaseOfHex) {
  EXPECT_EQ(NewSession("UniqueName=caf%C3%A9")["unique_name"], "caf\xc3\xa9");
  EXPECT_EQ(NewSession("UniqueName=%c3%a9t%c3%A9")["unique_name"],
            "\xc3\xa9t\xc3\xa9");
  EXPECT_EQ(NewSession("UniqueName=a%26b%3Dc")["unique_name"], "a&b=c");
}

TEST_F(ProxyFakeTest, InvalidEscapesAreKeptLiterally) {
  EXPECT_EQ(NewSession("UniqueName=100%25+sure%zz")["unique_name"],
            "100% sure%zz");
  EXPECT_EQ(NewSession("UniqueName=tail%4")["unique_name"], "tail%4");
  EXPECT_EQ(NewSession("UniqueName=lone%")["unique_name"], "lone%");
  EXPECT_EQ(NewSession("UniqueName=%g1x")["unique_name"], "%g1x");
}

TEST_F(ProxyFakeTest, UniqueNameLengthIsCountedInCharacters) {
  // 191 two-byte characters (382 bytes) fit; 192 do not.
  const std::string two191 = Repeat(kTwoByteChar, 191);
  EXPECT_EQ(NewSession("UniqueName=" + Enc(two191))["unique_name"], two191);
  EXPECT_TRUE(
      IsInvalidParameter(Call("POST", SessionsPath(ks_),
                              "UniqueName=" + Enc(Repeat(kTwoByteChar, 192))),
                         "UniqueName"));
  // Four-byte characters too.
  const std::string four191 = Repeat("\xf0\x9f\x9a\x95", 191);
  EXPECT_EQ(NewSession("UniqueName=" + Enc(four191))["unique_name"], four191);
  // And plain ASCII at the limit.
  EXPECT_EQ(NewSession("UniqueName=" + Repeat("a", 191))["unique_name"],
            Repeat("a", 191));
  // The name is fetchable by its encoded form.
  EXPECT_EQ(Get(SessionPath(ks_, Enc(two191)))["unique_name"], two191);
}

TEST_F(ProxyFakeTest, InvalidUtf8UniqueNameIs80701) {
  for (const char* name :
       {"%FF", "a%C3", "%C0%AF", "%ED%A0%80", "%F8%88%80%80%80"}) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(IsInvalidParameter(
        Call("POST", SessionsPath(ks_), Cat("UniqueName=", name)),
        "UniqueName"));
  }
}

TEST_F(ProxyFakeTest, RepeatedSingleValuedKeysTakeTheLastValue) {
  json j = NewSession("Ttl=10&UniqueName=first&Ttl=20&UniqueName=second");
  EXPECT_EQ(j["ttl"], 20);
  EXPECT_EQ(j["unique_name"], "second");
  // The last one decides even when an earlier one is invalid.
  EXPECT_EQ(NewSession("Mode=chat&Mode=voice-only")["mode"], "voice-only");
  EXPECT_TRUE(IsInvalidParameter(
      Call("POST", SessionsPath(ks_), "Ttl=5&Ttl=abc"), "Ttl"));
}

TEST_F(ProxyFakeTest, EmptyValuesArePresentAndInvalid) {
  EXPECT_TRUE(
      IsInvalidParameter(Call("POST", SessionsPath(ks_), "Ttl="), "Ttl"));
  EXPECT_TRUE(IsInvalidParameter(Call("POST", SessionsPath(ks_), "UniqueName="),
                                 "UniqueName"));
  // A key without '=' has an empty value.
  EXPECT_TRUE(
      IsInvalidParameter(Call("POST", SessionsPath(ks_), "Ttl"), "Ttl"));
  // Empty fields between '&' are nothing at all.
  EXPECT_EQ(NewSession("&&Ttl=5&&")["ttl"], 5);
}

TEST_F(ProxyFakeTest, UnknownParametersAreIgnored) {
  json j = NewSession("FriendlyName=x&ttl=abc&Foo=%FF&UniqueName=known&Ttl=8");
  EXPECT_TRUE(IsSessionJson(j));
  EXPECT_EQ(j["unique_name"], "known");
  EXPECT_EQ(j["ttl"], 8);
  EXPECT_EQ(NewSession("Whatever=1")["status"], "open");
}

TEST_F(ProxyFakeTest, PercentEncodedKeysAreDecoded) {
  EXPECT_EQ(NewSession("Unique%4Eame=encoded-key")["unique_name"],
            "encoded-key");
}

TEST_F(ProxyFakeTest, PathSegmentsAreDecodedAfterSplittingAndKeepPlus) {
  NewSession("UniqueName=a%2Fb");
  EXPECT_EQ(Get(SessionPath(ks_, "a%2Fb"))["unique_name"], "a/b");
  NewSession("UniqueName=x%2By");
  EXPECT_EQ(Get(SessionPath(ks_, "x+y"))["unique_name"], "x+y");
  EXPECT_EQ(Get(SessionPath(ks_, "x%2By"))["unique_name"], "x+y");
  NewSession("UniqueName=p+q");
  EXPECT_EQ(Get(SessionPath(ks_, "p%20q"))["unique_name"], "p q");
  EXPECT_TRUE(IsError(Call("GET", SessionPath(ks_, "p+r")), 404, 20404));
}

TEST_F(ProxyFakeTest, QueryStringParametersAreDecodedToo) {
  for (int i = 0; i < 3; ++i) NewSession();
  EXPECT_EQ(Get(SessionsPath(ks_) + "?Page%53ize=%32")["sessions"].size(), 2u);
  EXPECT_EQ(
      Get(SessionsPath(ks_) + "?PageSize=9&PageSize=1")["sessions"].size(), 1u);
}

TEST_F(ProxyFakeTest, ServiceSidPathSegmentIsPercentDecodedToo) {
  // docs/semantics.md: path segments are percent-decoded.
  std::string encoded = "%4B%53" + ks_.substr(2);
  EXPECT_EQ(Get(ServicePath(encoded))["sid"], ks_);
  EXPECT_EQ(Get(SessionsPath(encoded))["sessions"], json::array());
}

// Concurrency ---------------------------------------------------------------

TEST_F(ProxyFakeTest, ConcurrentRequestsFromManyThreadsAllSucceed) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int n = 0; n < kPerThread; ++n) {
        const std::string name = Cat("t", t, "-", n);
        Response c = fake_.Handle("POST", SessionsPath(ks_),
                                  "UniqueName=" + name + "&Ttl=60");
        Response g = fake_.Handle("GET", SessionPath(ks_, name));
        Response l = fake_.Handle("GET", SessionsPath(ks_) + "?PageSize=7");
        if (c.status != 201 || g.status != 200 || l.status != 200) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << t;
  json all = Get(SessionsPath(ks_) + "?PageSize=1000");
  std::set<std::string> sids;
  for (const json& s : all["sessions"]) sids.insert(s.value("sid", ""));
  EXPECT_EQ(sids.size(), static_cast<size_t>(kThreads * kPerThread));
}

TEST_F(ProxyFakeTest, ConcurrentCreatesOfOneUniqueNameGiveExactlyOneSession) {
  constexpr int kThreads = 8;
  std::vector<Response> answers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &answers] {
      answers[t] =
          fake_.Handle("POST", SessionsPath(ks_), "UniqueName=contested");
    });
  }
  for (std::thread& th : threads) th.join();
  int created = 0;
  for (const Response& r : answers) {
    if (r.status == 201) {
      ++created;
    } else {
      EXPECT_TRUE(IsError(r, 400, 80603));
    }
  }
  EXPECT_EQ(created, 1);
}

TEST(ProxyFakeOptionsTest, ConcurrentAutoCreateOfOneServiceSucceedsForAll) {
  ProxyFakeOptions options = FixedOptions();
  options.auto_create_services = true;
  ProxyFake fake(options);
  const std::string ks = "KS" + Repeat("5", 32);
  constexpr int kThreads = 8;
  std::vector<Response> answers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&fake, &ks, &answers, t] {
      answers[t] = fake.Handle("POST", SessionsPath(ks));
    });
  }
  for (std::thread& th : threads) th.join();
  for (const Response& r : answers) EXPECT_EQ(r.status, 201) << Brief(r);
}

// Hostile requests ----------------------------------------------------------

TEST_F(ProxyFakeTest, HostileRequestsGetAnErrorAndTheFakeKeepsWorking) {
  const std::string sessions = SessionsPath(ks_);
  const std::string nul(1, '\0');
  struct Case {
    std::string method;
    std::string target;
    std::string body;
  };
  std::vector<Case> cases = {
      {"GET", "/v1/Services/" + Repeat("a", 100 * 1024), ""},
      {"GET", sessions + "/" + Repeat("a", 100 * 1024), ""},
      {"POST", sessions + "/" + Repeat("a", 100 * 1024), "Ttl=5"},
      {"GET", Repeat("/a", 50 * 1024), ""},
      {"GET", Repeat("/", 100 * 1024), ""},
      {"GET", "/v1/Services/../Services", ""},
      {"GET", sessions + "/../../../Services", ""},
      {"GET", "/v1/./Services", ""},
      {"GET", "/v1/Services/%2e%2e/Sessions", ""},
      {"GET", "/v1/Services/%2E%2E/Services", ""},
      {"POST", "/v1/Services/%2e%2e/Sessions", "UniqueName=x"},
      {"GET", "/v1/Services" + nul, ""},
      {"GET", "/v1/Services/" + ks_ + nul + "/Sessions", ""},
      {"GET", nul + "/v1/Services", ""},
      {"POST", sessions + nul, "UniqueName=nul-target"},
      {"POST", sessions, "Ttl=1" + nul + "0"},
      {"POST", sessions, "Status=open" + nul},
      {"POST", sessions, "UniqueName=ok&Mode=" + nul},
      {"GET", "v1/Services", ""},
      {"GET", "v1/Services/" + ks_ + "/Sessions", ""},
      {"GET", "", ""},
      {"POST", "", "UniqueName=empty-target"},
      {"GET", "https://evil.example.com/v1/Services", ""},
      {"GET", "https://evil.example.com" + sessions, ""},
      {"GET", "https://proxy.twilio.com.evil.example" + sessions, ""},
      {"GET", "https://proxy.twilio.com@evil.example" + sessions, ""},
      {"GET", "//evil.example.com" + sessions, ""},
      {"GET", "https://proxy.twilio.com", ""},
      {"GET", "/v1/Services/%", ""},
      {"GET", "/v1/Services/%FF%FE", ""},
      {"GET", "/v1/Services/\xff\xfe", ""},
      {"GET", sessions + "/%FF", ""},
      {"GET", sessions + "/\xc3", ""},
      {"DELETE", sessions + "/%FF%C0", ""},
      {"POST", sessions + "/\xff", "Ttl=5"},
      {"GET", "/v1/Nope/\xff\xfe" + nul, ""},
      {"GET", sessions + "?PageSize=%ZZ", ""},
      {"GET", sessions + "?PageSize=1" + nul, ""},
      {"GET", sessions + "?&&&==&PageSize=&", ""},
      {"GET", sessions + "?PageSize=%", ""},
      {"GET", sessions + "?PageToken=%00%FF%FE", ""},
      {"GET", sessions + "?PageToken=" + Repeat("PA", 50 * 1024), ""},
      {"GET", sessions + "?PageSize=99999999999999999999999999", ""},
      {"GET", sessions + "?PageSize=2147483648", ""},
      {"GET", sessions + "?PageSize=1001", ""},
      {"GET", sessions + "?PageSize=" + Repeat("9", 1024 * 1024), ""},
      {"POST", sessions, "UniqueName=" + Repeat("a", 1024 * 1024)},
      {"POST", sessions, Repeat("Participants=%7B%7D&", 50 * 1024)},
      {"POST", sessions,
       "Participants=" + Repeat("%5B", 100 * 1024)},  // Deeply nested JSON.
      {"POST", "/v1/Services", "UniqueName=" + Repeat("%FF", 300 * 1024)},
      {"", "/v1/Services", ""},
      {"GET" + nul, "/v1/Services", ""},
      {"G ET", "/v1/Services", ""},
      {"\xff\xfe", sessions, ""},
      {Repeat("X", 100 * 1024), sessions, ""},
  };
  int created = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(Cat(c.method.substr(0, 20), " ", c.target.substr(0, 80), " [",
                     c.target.size(), " bytes] body ", c.body.substr(0, 40),
                     " [", c.body.size(), " bytes]"));
    EXPECT_TRUE(IsClientError(Call(c.method, c.target, c.body)));
    // The fake still answers an ordinary request.
    EXPECT_EQ(Call("GET", ServicePath(ks_)).status, 200);
    Response r = Call("POST", sessions, Cat("UniqueName=after-", created++));
    EXPECT_EQ(r.status, 201) << Brief(r);
  }
  // Only the ordinary creates made Sessions.
  json all = Get(sessions + "?PageSize=1000");
  EXPECT_EQ(all["sessions"].size(), static_cast<size_t>(created));
}

// Limits ----------------------------------------------------------------------
//
// Each refusal leaves the store as it was: the tests compare Stats() and
// the refused Session's name before and after.

// The fake's message for `r`, or "" if it has none.
std::string Message(const Response& r) {
  return Parse(r).value("message", std::string());
}

TEST(ProxyFakeLimitsTest, CreatePastTheServiceLimitIs429AndEvictsNothing) {
  ProxyFakeOptions options = FixedOptions();
  options.max_sessions_per_service = 2;
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=full");
  const std::string first = CreateSession(fake, ks, "UniqueName=a")["sid"];
  CreateSession(fake, ks, "UniqueName=b");
  Response refused = fake.Handle("POST", SessionsPath(ks), "UniqueName=c");
  ASSERT_TRUE(IsError(refused, 429, 20429));
  EXPECT_EQ(refused.body,
            "{\"code\":20429,\"message\":\"Too Many Requests: the Service "
            "holds its maximum of 2 Sessions.\",\"more_info\":"
            "\"https://www.twilio.com/docs/errors/20429\",\"status\":429}");
  EXPECT_EQ(fake.store().Stats().sessions, 2);
  EXPECT_EQ(fake.Handle("GET", SessionPath(ks, "a")).status, 200);
  EXPECT_EQ(fake.Handle("GET", SessionPath(ks, "c")).status, 404);
  // A delete frees the place.
  ASSERT_EQ(fake.Handle("DELETE", SessionPath(ks, first)).status, 204);
  CreateSession(fake, ks, "UniqueName=c");
}

TEST(ProxyFakeLimitsTest, CreatePastTheStoreLimitIs429) {
  ProxyFakeOptions options = FixedOptions();
  options.max_sessions = 2;
  ProxyFake fake(options);
  const std::string one = CreateService(fake, "UniqueName=one");
  const std::string two = CreateService(fake, "UniqueName=two");
  CreateSession(fake, one);
  CreateSession(fake, two);
  Response refused = fake.Handle("POST", SessionsPath(two));
  ASSERT_TRUE(IsError(refused, 429, 20429));
  EXPECT_EQ(Message(refused),
            "Too Many Requests: the store holds its maximum of 2 Sessions.");
  EXPECT_EQ(fake.store().Stats().sessions, 2);
}

TEST(ProxyFakeLimitsTest, AServicePastTheServiceLimitIs429) {
  ProxyFakeOptions options = FixedOptions();
  options.max_services = 2;
  ProxyFake fake(options);
  const std::string one = CreateService(fake, "UniqueName=one");
  CreateService(fake, "UniqueName=two");
  Response refused = fake.Handle("POST", "/v1/Services", "UniqueName=three");
  ASSERT_TRUE(IsError(refused, 429, 20429)) << Brief(refused);
  EXPECT_EQ(refused.body,
            "{\"code\":20429,\"message\":\"Too Many Requests: the store "
            "holds its maximum of 2 Services.\",\"more_info\":"
            "\"https://www.twilio.com/docs/errors/20429\",\"status\":429}");
  EXPECT_EQ(fake.store().Stats().services, 2);
  // A delete frees the place.
  ASSERT_EQ(fake.Handle("DELETE", "/v1/Services/" + one).status, 204);
  CreateService(fake, "UniqueName=three");
}

// A Service auto_create_services would make past the limit is the same
// 429, not a 20404 for a Service that was never made.
TEST(ProxyFakeLimitsTest, AnAutoCreatedServicePastTheLimitIs429) {
  ProxyFakeOptions options = FixedOptions();
  options.max_services = 1;
  options.auto_create_services = true;
  ProxyFake fake(options);
  const std::string first = "KS" + std::string(31, '0') + "1";
  const std::string second = "KS" + std::string(31, '0') + "2";
  EXPECT_EQ(fake.Handle("POST", SessionsPath(first)).status, 201);
  Response refused = fake.Handle("POST", SessionsPath(second));
  ASSERT_TRUE(IsError(refused, 429, 20429)) << Brief(refused);
  EXPECT_EQ(Message(refused),
            "Too Many Requests: the store holds its maximum of 1 Services.");
  EXPECT_EQ(fake.store().Stats().services, 1);
  EXPECT_EQ(fake.store().Stats().sessions, 1);
}

TEST(ProxyFakeLimitsTest, ANegativeLimitAnswersEveryRequest500) {
  ProxyFakeOptions options = FixedOptions();
  options.max_sessions = -1;
  ProxyFake fake(options);
  Response r = fake.Handle("GET", "/v1/Services");
  ASSERT_TRUE(IsError(r, 500, 20500)) << Brief(r);
  EXPECT_TRUE(absl::StrContains(Message(r), "max_sessions")) << Brief(r);
}

// Percent-encodes every byte, as no SDK does: the longest spelling of a form
// value.
std::string EncodeEveryByte(std::string_view value) {
  std::string out;
  for (char c : value) {
    absl::StrAppendFormat(&out, "%%%02X", static_cast<unsigned char>(c));
  }
  return out;
}

TEST(ProxyFakeLimitsTest, TheDefaultsTakeTheLargestValidCreate) {
  ProxyFake fake(FixedOptions());
  const std::string ks = CreateService(fake, "UniqueName=big");
  // Every field at its longest, in four-byte characters: a name of 191,
  // and two participants whose fields are JSON escapes (12 bytes a
  // character, as \ud83d\ude00), every byte percent-encoded. Their
  // identifiers differ in the last character, as two in a Session must.
  const std::string name = Repeat("\xf0\x9f\x98\x80", 191);
  auto escaped = [](int chars) { return Repeat("\\ud83d\\ude00", chars); };
  auto person = [&](std::string_view last) {
    return Cat("{\"Identifier\": \"", escaped(190), last,
               "\", \"FriendlyName\": \"", escaped(255),
               "\", \"ProxyIdentifier\": \"", escaped(191), "\"}");
  };
  const std::string body = Cat(
      "UniqueName=", EncodeEveryByte(name), "&Ttl=3600&Mode=voice-and-message",
      "&Participants=", EncodeEveryByte(person("\\ud83d\\ude00")),
      "&Participants=", EncodeEveryByte(person("\\ud83d\\ude01")));
  // 47.5 KiB; the percent-encoded participants decode to 7.7 KiB each,
  // under the 16 KiB a value.
  ASSERT_GT(body.size(), 47u * 1024);
  ASSERT_LE(body.size(), ProxyFakeOptions().max_body_bytes);
  json created = CreateSession(fake, ks, body);
  EXPECT_EQ(created["unique_name"], name);
  Session kept;
  ASSERT_TRUE(fake.store()
                  .FetchSession(ServiceSidOf(ks),
                                created["sid"].get<std::string>(), &kept)
                  .ok());
  ASSERT_EQ(kept.participants.size(), 2u);
  EXPECT_EQ(kept.participants[1].friendly_name,
            Repeat("\xf0\x9f\x98\x80", 255));
}

// A Participant field over its bound (docs/semantics.md, "Create") is the
// store's 80701, worded as the API words it; nothing is created.
TEST(ProxyFakeLimitsTest, AParticipantFieldTooLongIs80701) {
  ProxyFake fake(FixedOptions());
  const std::string ks = CreateService(fake, "UniqueName=people");
  const std::string person =
      Cat("{\"Identifier\": \"+15555550100\", \"FriendlyName\": \"",
          Repeat("a", 256), "\"}");
  Response r = fake.Handle("POST", SessionsPath(ks),
                           Cat("UniqueName=long&Participants=", Enc(person)));
  ASSERT_TRUE(IsInvalidParameter(r, "Participants")) << Brief(r);
  EXPECT_EQ(r.body,
            "{\"code\":80701,\"message\":\"'Participants' is invalid. Its "
            "FriendlyName must be 255 characters or fewer.\",\"more_info\":"
            "\"https://www.twilio.com/docs/errors/80701\",\"status\":400}");
  EXPECT_EQ(fake.store().Stats().sessions, 0);
  EXPECT_EQ(fake.Handle("GET", SessionPath(ks, "long")).status, 404);
}

// The defaults bound what a fake holds (docs/testing-with-the-fake.md,
// "Memory"): 1,000 Services and 100,000 Sessions; the next create of each
// is 429. The Sessions are made through the store, which is quicker than
// 100,000 requests and takes the same places.
TEST(ProxyFakeLimitsTest, TheDefaultLimitsAreBounded) {
  const ProxyFakeOptions defaults;
  EXPECT_EQ(defaults.max_services, 1000);
  EXPECT_EQ(defaults.max_sessions, 100000);
  EXPECT_EQ(defaults.max_sessions_per_service, kNoLimit);

  ProxyFake fake(FixedOptions());
  std::string ks;
  for (int i = 0; i < 1000; ++i) {
    ks = CreateService(fake, Cat("UniqueName=s", i));
  }
  Response refused = fake.Handle("POST", "/v1/Services", "UniqueName=more");
  ASSERT_TRUE(IsError(refused, 429, 20429)) << Brief(refused);
  EXPECT_EQ(Message(refused),
            "Too Many Requests: the store holds its maximum of 1000 Services.");

  const Sid service = ServiceSidOf(ks);
  Session session;
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(fake.store().CreateSession(service, {}, &session).ok()) << i;
  }
  refused = fake.Handle("POST", SessionsPath(ks));
  ASSERT_TRUE(IsError(refused, 429, 20429)) << Brief(refused);
  EXPECT_EQ(
      Message(refused),
      "Too Many Requests: the store holds its maximum of 100000 Sessions.");
}

TEST(ProxyFakeLimitsTest, ABodyOverMaxBodyBytesIs413Unread) {
  ProxyFakeOptions options = FixedOptions();
  options.max_body_bytes = 100;
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=small");
  const std::string exact = Cat("UniqueName=fits&Pad=", Repeat("x", 80));
  ASSERT_EQ(exact.size(), 100u);
  CreateSession(fake, ks, exact);
  const std::string over = Cat("UniqueName=over&Pad=", Repeat("x", 81));
  for (const char* method : {"POST", "GET", "DELETE"}) {
    Response r = fake.Handle(method, SessionsPath(ks), over);
    ASSERT_TRUE(IsError(r, 413, 20413)) << method;
    EXPECT_EQ(Message(r),
              "Request body too large: 101 bytes; the limit is 100.");
  }
  EXPECT_EQ(fake.store().Stats().sessions, 1);
  EXPECT_EQ(fake.Handle("GET", SessionPath(ks, "over")).status, 404);
}

TEST(ProxyFakeLimitsTest, MoreThanMaxParamsIs413InABodyOrAQuery) {
  ProxyFakeOptions options = FixedOptions();
  options.max_params = 4;
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=few");
  CreateSession(fake, ks, "UniqueName=four&Ttl=1&Mode=voice-only&X=1");
  Response r = fake.Handle("POST", SessionsPath(ks),
                           "UniqueName=five&Ttl=1&Mode=voice-only&X=1&Y=2");
  ASSERT_TRUE(IsError(r, 413, 20413));
  EXPECT_EQ(Message(r), "Too many parameters: 5; the limit is 4.");
  EXPECT_EQ(fake.store().Stats().sessions, 1);
  EXPECT_TRUE(IsError(
      fake.Handle("GET", SessionsPath(ks) + "?PageSize=1&a&b&c&PageSize=2"),
      413, 20413));
  EXPECT_EQ(fake.Handle("GET", SessionsPath(ks) + "?PageSize=1&a&b&c").status,
            200);
}

TEST(ProxyFakeLimitsTest, AParameterOverMaxParamBytesIs80701NamingIt) {
  ProxyFakeOptions options = FixedOptions();
  options.max_param_bytes = 10;
  ProxyFake fake(options);
  const std::string ks = CreateService(fake, "UniqueName=short");
  // The limit is on the decoded value: ten escapes are ten bytes.
  json fits = CreateSession(fake, ks, Cat("UniqueName=", Repeat("%41", 10)));
  EXPECT_EQ(fits["unique_name"], "AAAAAAAAAA");
  Response r = fake.Handle("POST", SessionsPath(ks), "UniqueName=AAAAAAAAAAA");
  ASSERT_TRUE(IsInvalidParameter(r, "UniqueName"));
  EXPECT_EQ(Message(r), "'UniqueName' is invalid. It is longer than 10 bytes.");
  // Unknown parameters and names are held to it too; an over-long name is
  // echoed in part.
  EXPECT_TRUE(IsInvalidParameter(
      fake.Handle("POST", SessionsPath(ks), "Ignored=12345678901"), "Ignored"));
  EXPECT_TRUE(IsInvalidParameter(
      fake.Handle("POST", SessionsPath(ks), Cat(Repeat("k", 1000), "=1")),
      Repeat("k", 256)));
  EXPECT_EQ(fake.store().Stats().sessions, 1);
}

// The store says which parameter is invalid and why ("PageSize: <why>", the
// name as data); the fake answers in the API's words.
TEST_F(ProxyFakeTest, TheStores80701IsWordedAsTheApiWordsIt) {
  ListParams params;
  params.page_size = 0;
  const absl::Status core = fake_.store().ListServices(params).status();
  ASSERT_TRUE(testing_util::IsInvalidParameter(core, "PageSize"));
  EXPECT_EQ(core.message(), "PageSize: It must be between 1 and 1000.");
  Response r = Call("GET", "/v1/Services?PageSize=0");
  ASSERT_TRUE(IsInvalidParameter(r, "PageSize")) << Brief(r);
  EXPECT_EQ(Message(r),
            "'PageSize' is invalid. It must be between 1 and 1000.");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"Ttl=-1",
       "'Ttl' is invalid. It must be a whole number of seconds from 0 to "
       "253402300799."},
      {"DateExpiry=2000-01-01T00%3A00%3A00Z",
       "'DateExpiry' is invalid. It must be in the future."},
      {Cat("UniqueName=", Repeat("n", 192)),
       "'UniqueName' is invalid. It must be 191 characters or fewer."},
  };
  for (const auto& [body, message] : cases) {
    SCOPED_TRACE(body.substr(0, 40));
    Response created = Call("POST", SessionsPath(ks_), body);
    ASSERT_TRUE(IsError(created, 400, 80701)) << Brief(created);
    EXPECT_EQ(Message(created), message);
  }
  Response service =
      Call("POST", "/v1/Services", Cat("UniqueName=", Repeat("s", 192)));
  ASSERT_TRUE(IsError(service, 400, 80701)) << Brief(service);
  EXPECT_EQ(Message(service),
            "'UniqueName' is invalid. It must be 191 characters or fewer.");
}

TEST_F(ProxyFakeTest, DeeplyNestedJsonInParticipantsIs80701) {
  // Within the default 16 KiB a value: 8000 levels of arrays, and 2700
  // levels of objects inside a field. The JSON parser is not recursive,
  // so neither can exhaust the stack; both are refused as not a
  // participant.
  const std::string arrays = Cat(Repeat("[", 8000), Repeat("]", 8000));
  std::string objects = Cat(Repeat("{\"a\":", 2700), "1", Repeat("}", 2700));
  objects = Cat("{\"Identifier\":", objects, "}");
  ASSERT_LE(objects.size(), 16u * 1024);
  for (const std::string& value : {arrays, objects}) {
    Response r = Call("POST", SessionsPath(ks_),
                      Cat("UniqueName=nested&Participants=", Enc(value)));
    EXPECT_TRUE(IsInvalidParameter(r, "Participants")) << Brief(r);
  }
  EXPECT_EQ(Call("GET", SessionPath(ks_, "nested")).status, 404);
  EXPECT_EQ(fake_.store().Stats().sessions, 0);
}

TEST_F(ProxyFakeTest, HostileBodiesPastTheDefaultLimitsAreRefusedUnparsed) {
  const std::string sessions = SessionsPath(ks_);
  // Past 64 KiB: refused before decoding.
  EXPECT_TRUE(
      IsError(Call("POST", sessions, Repeat("%41", 1024 * 1024)), 413, 20413));
  // Under 64 KiB, but thousands of Participants: refused after decoding,
  // before any is parsed as JSON.
  EXPECT_TRUE(
      IsError(Call("POST", sessions, Repeat("Participants=%7B%7D&", 3000)), 413,
              20413));
  EXPECT_EQ(fake_.store().Stats().sessions, 0);
}

}  // namespace
}  // namespace sessionwheel
