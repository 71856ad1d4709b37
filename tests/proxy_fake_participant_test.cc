// Tests of the fake's Participant and Interaction routes through Handle(),
// as a client of the real Proxy API sees them: every route with its status
// and the exact keys of its JSON (twilio-oai's proxy.v1.service.session.
// participant, .interaction and .participant.message_interaction), paging
// with the list envelope, the links of a Session and of a Participant that
// lead to them, every error code these routes answer, 405 for a wrong
// method, and the Interaction limits (429).
//
// The fake's clock starts at 2030-01-01T00:00:00Z, with a fixed seed and
// account; time moves only by Advance.

#include <set>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/errors.h"
#include "sessionwheel/proxy_fake.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using ::nlohmann::json;
using testing_util::kAccountSid;
using testing_util::Repeat;

const absl::Time kT0 = absl::FromCivil(absl::CivilSecond(2030, 1, 1, 0, 0, 0),
                                       absl::UTCTimeZone());
constexpr char kBase[] = "https://proxy.twilio.com";

template <typename... Pieces>
std::string Cat(const Pieces&... pieces) {
  std::ostringstream out;
  (out << ... << pieces);
  return out.str();
}

std::string Iso(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::set<std::string> KeysOf(const json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

const std::set<std::string>& ParticipantKeys() {
  static const std::set<std::string> keys = {"sid",
                                             "session_sid",
                                             "service_sid",
                                             "account_sid",
                                             "friendly_name",
                                             "identifier",
                                             "proxy_identifier",
                                             "proxy_identifier_sid",
                                             "date_deleted",
                                             "date_created",
                                             "date_updated",
                                             "url",
                                             "links"};
  return keys;
}

const std::set<std::string>& InteractionKeys() {
  static const std::set<std::string> keys = {"sid",
                                             "session_sid",
                                             "service_sid",
                                             "account_sid",
                                             "data",
                                             "type",
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
                                             "url"};
  return keys;
}

ProxyFakeOptions Options() {
  ProxyFakeOptions options;
  options.start_time = kT0;
  options.seed = 20300101;
  options.account_sid = kAccountSid;
  return options;
}

class FakeParticipantTest : public ::testing::Test {
 protected:
  explicit FakeParticipantTest(ProxyFakeOptions options = Options())
      : fake_(std::move(options)) {}

  void SetUp() override {
    ks_ = Must(201, "POST", "/v1/Services", "UniqueName=rides")["sid"];
    session_ = Cat("/v1/Services/", ks_, "/Sessions/",
                   Must(201, "POST", Cat("/v1/Services/", ks_, "/Sessions"),
                        "Ttl=60")["sid"]
                       .get<std::string>());
  }

  Response Call(std::string_view method, const std::string& target,
                std::string_view body = "") {
    return fake_.Handle(method, target, body);
  }

  // A request that must answer `status`; its JSON.
  json Must(int status, std::string_view method, const std::string& target,
            std::string_view body = "") {
    Response r = Call(method, target, body);
    EXPECT_EQ(r.status, status)
        << method << " " << target << " -> " << r.body.substr(0, 300);
    if (r.body.empty()) return json::object();
    return json::parse(r.body, nullptr, false);
  }

  // A request that must fail with HTTP `http` and Proxy `code`.
  void ExpectError(int http, int code, std::string_view method,
                   const std::string& target, std::string_view body = "") {
    Response r = Call(method, target, body);
    EXPECT_EQ(r.status, http) << method << " " << target << " -> " << r.body;
    json j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j.value("code", 0), code) << r.body;
    EXPECT_EQ(j.value("status", 0), http) << r.body;
  }

  std::string Participants() const { return session_ + "/Participants"; }
  std::string Interactions() const { return session_ + "/Interactions"; }

  json AddParticipant(std::string_view body) {
    return Must(201, "POST", Participants(), body);
  }
  std::string Messages(const json& participant) const {
    return Cat(Participants(), "/", participant["sid"].get<std::string>(),
               "/MessageInteractions");
  }

  ProxyFake fake_;
  std::string ks_;
  std::string session_;  // "/v1/Services/KS…/Sessions/KC…", Ttl 60.
};

TEST_F(FakeParticipantTest, CreateAnswers201WithEveryParticipantField) {
  json p = AddParticipant(
      "Identifier=%2B15550000001&FriendlyName=Alice&ProxyIdentifier=%"
      "2B1555999");
  EXPECT_EQ(KeysOf(p), ParticipantKeys()) << p.dump();
  EXPECT_TRUE(testing_util::IsSid("KP", p["sid"].get<std::string>()));
  EXPECT_EQ(p["identifier"], "+15550000001");
  EXPECT_EQ(p["friendly_name"], "Alice");
  EXPECT_EQ(p["proxy_identifier"], "+1555999");
  EXPECT_TRUE(p["proxy_identifier_sid"].is_null());
  EXPECT_TRUE(p["date_deleted"].is_null());
  EXPECT_EQ(p["date_created"], Iso(kT0));
  EXPECT_EQ(p["date_updated"], Iso(kT0));
  EXPECT_EQ(p["account_sid"], kAccountSid);
  EXPECT_EQ(p["service_sid"], ks_);
  const std::string url =
      Cat(kBase, Participants(), "/", p["sid"].get<std::string>());
  EXPECT_EQ(p["url"], url);
  EXPECT_EQ(p["links"]["message_interactions"], url + "/MessageInteractions");
  // Fetched, it is the same.
  EXPECT_EQ(Must(200, "GET", p["url"].get<std::string>()), p);
  // Only an identifier: the others are null.
  json q = AddParticipant("Identifier=bob");
  EXPECT_TRUE(q["friendly_name"].is_null());
  EXPECT_TRUE(q["proxy_identifier"].is_null());
}

TEST_F(FakeParticipantTest, TheSessionsLinksLeadToItsLists) {
  json s = Must(200, "GET", session_);
  json list = Must(200, "GET", s["links"]["participants"].get<std::string>());
  EXPECT_EQ(list["meta"]["key"], "participants");
  EXPECT_TRUE(list["participants"].empty());
  json interactions =
      Must(200, "GET", s["links"]["interactions"].get<std::string>());
  EXPECT_EQ(interactions["meta"]["key"], "interactions");
  EXPECT_TRUE(interactions["interactions"].empty());
}

TEST_F(FakeParticipantTest, ListHoldsThoseGivenAtCreateFirstAndPages) {
  json s = Must(201, "POST", Cat("/v1/Services/", ks_, "/Sessions"),
                "Participants=%7B%22Identifier%22%3A%22a%22%7D");
  const std::string path = Cat("/v1/Services/", ks_, "/Sessions/",
                               s["sid"].get<std::string>(), "/Participants");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(5)).ok());
  Must(201, "POST", path, "Identifier=b");
  json page = Must(200, "GET", path + "?PageSize=1");
  ASSERT_EQ(page["participants"].size(), 1u);
  EXPECT_EQ(page["participants"][0]["identifier"], "a");
  EXPECT_EQ(page["participants"][0]["date_created"], Iso(kT0));
  EXPECT_EQ(page["meta"]["page_size"], 1);
  EXPECT_TRUE(page["meta"]["previous_page_url"].is_null());
  ASSERT_TRUE(page["meta"]["next_page_url"].is_string());
  json next =
      Must(200, "GET", page["meta"]["next_page_url"].get<std::string>());
  ASSERT_EQ(next["participants"].size(), 1u);
  EXPECT_EQ(next["participants"][0]["identifier"], "b");
  EXPECT_EQ(next["participants"][0]["date_created"],
            Iso(kT0 + absl::Seconds(5)));
  EXPECT_EQ(next["meta"]["page"], 1);
  EXPECT_TRUE(next["meta"]["next_page_url"].is_null());
  json back =
      Must(200, "GET", next["meta"]["previous_page_url"].get<std::string>());
  EXPECT_EQ(back["participants"][0]["identifier"], "a");
}

TEST_F(FakeParticipantTest, DeleteIsSoftAnd204) {
  json p = AddParticipant("Identifier=a");
  const std::string url = p["url"].get<std::string>();
  ASSERT_TRUE(fake_.Advance(absl::Seconds(7)).ok());
  Response r = Call("DELETE", url);
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  json gone = Must(200, "GET", url);
  EXPECT_EQ(gone["date_deleted"], Iso(kT0 + absl::Seconds(7)));
  EXPECT_EQ(gone["date_updated"], Iso(kT0 + absl::Seconds(7)));
  EXPECT_EQ(Must(200, "GET", Participants())["participants"].size(), 1u);
  // Its identifier is not taken again; it keeps its place.
  ExpectError(400, kErrorParticipantInSession, "POST", Participants(),
              "Identifier=a");
  AddParticipant("Identifier=b");
  ExpectError(400, kErrorTooManyParticipants, "POST", Participants(),
              "Identifier=c");
  // A message to it is refused.
  ExpectError(400, kErrorNoParticipant, "POST", Messages(p), "Body=hi");
}

TEST_F(FakeParticipantTest, CreateErrors) {
  ExpectError(400, kErrorInvalidParameter, "POST", Participants(), "");
  ExpectError(400, kErrorInvalidParameter, "POST", Participants(),
              Cat("Identifier=", Repeat("x", 192)));
  ExpectError(400, kErrorInvalidParameter, "POST", Participants(),
              Cat("Identifier=a&FriendlyName=", Repeat("f", 256)));
  ExpectError(400, kErrorInvalidParameter, "POST", Participants(),
              Cat("Identifier=a&ProxyIdentifier=", Repeat("p", 192)));
  Response named = Call("POST", Participants(), "");
  EXPECT_EQ(json::parse(named.body)["message"],
            "'Identifier' is invalid. It is required.");
  AddParticipant("Identifier=a");
  ExpectError(400, kErrorParticipantInSession, "POST", Participants(),
              "Identifier=a");
  AddParticipant("Identifier=b");
  ExpectError(400, kErrorTooManyParticipants, "POST", Participants(),
              "Identifier=c");
  // The table's words (docs/semantics.md, "Errors"), which say why a
  // Session that shows one Participant may be full.
  EXPECT_EQ(
      json::parse(Call("POST", Participants(), "Identifier=c").body)["message"],
      "A Session can have at most 2 Participants (deleted ones count).");
  // An ended Session.
  Must(200, "POST", session_, "Status=closed");
  ExpectError(400, kErrorSessionClosed, "POST", Participants(), "Identifier=z");
}

TEST_F(FakeParticipantTest, NotFoundAnswersNameThePath) {
  const std::string unknown_kp =
      Participants() + "/KP00000000000000000000000000000000";
  Response r = Call("GET", unknown_kp);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(
      json::parse(r.body)["message"],
      Cat("The requested resource ", unknown_kp.substr(3), " was not found"));
  ExpectError(404, kErrorNotFound, "DELETE", unknown_kp);
  ExpectError(404, kErrorNotFound, "GET", Participants() + "/not-a-sid");
  ExpectError(404, kErrorNotFound, "POST", unknown_kp + "/MessageInteractions",
              "Body=x");
  const std::string unknown_session =
      Cat("/v1/Services/", ks_, "/Sessions/KC00000000000000000000000000000000");
  ExpectError(404, kErrorNotFound, "GET", unknown_session + "/Participants");
  ExpectError(404, kErrorNotFound, "POST", unknown_session + "/Participants",
              "Identifier=a");
  ExpectError(404, kErrorNotFound, "GET", unknown_session + "/Interactions");
  ExpectError(404, kErrorNotFound, "GET",
              Interactions() + "/KI00000000000000000000000000000000");
  ExpectError(404, kErrorNotFound, "DELETE",
              Interactions() + "/KI00000000000000000000000000000000");
  // A Session named by its unique_name: these routes take its SID alone.
  Must(201, "POST", Cat("/v1/Services/", ks_, "/Sessions"), "UniqueName=n");
  ExpectError(404, kErrorNotFound, "GET",
              Cat("/v1/Services/", ks_, "/Sessions/n/Participants"));
  // Unknown paths under a Session.
  ExpectError(404, kErrorNotFound, "GET", session_ + "/Other");
  ExpectError(404, kErrorNotFound, "GET",
              Participants() + "/KP00000000000000000000000000000000/Other");
}

TEST_F(FakeParticipantTest, WrongMethodsAre405) {
  json p = AddParticipant("Identifier=a");
  json i = Must(201, "POST", Messages(p), "Body=hi");
  ExpectError(405, 20004, "DELETE", Participants());
  ExpectError(405, 20004, "POST", p["url"].get<std::string>());
  ExpectError(405, 20004, "GET", Messages(p));
  ExpectError(405, 20004, "POST", Interactions());
  ExpectError(405, 20004, "POST",
              Cat(Interactions(), "/", i["sid"].get<std::string>()));
}

TEST_F(FakeParticipantTest,
       MessageInteractionAnswers201AndCountsAsInteraction) {
  json p = AddParticipant("Identifier=a");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(50)).ok());
  json i = Must(201, "POST", Messages(p), "Body=hello+there");
  std::set<std::string> keys = InteractionKeys();
  keys.insert("participant_sid");
  EXPECT_EQ(KeysOf(i), keys) << i.dump();
  EXPECT_TRUE(testing_util::IsSid("KI", i["sid"].get<std::string>()));
  EXPECT_EQ(i["data"], "{\"body\":\"hello there\"}");
  EXPECT_EQ(i["type"], "message");
  EXPECT_EQ(i["participant_sid"], p["sid"]);
  EXPECT_EQ(i["outbound_participant_sid"], p["sid"]);
  EXPECT_TRUE(i["inbound_participant_sid"].is_null());
  EXPECT_TRUE(i["inbound_resource_status"].is_null());
  EXPECT_EQ(i["outbound_resource_status"], "sent");
  EXPECT_EQ(i["outbound_resource_type"], "Message");
  EXPECT_EQ(i["date_created"], Iso(kT0 + absl::Seconds(50)));
  EXPECT_EQ(i["url"],
            Cat(kBase, Messages(p), "/", i["sid"].get<std::string>()));
  json s = Must(200, "GET", session_);
  EXPECT_EQ(s["status"], "in-progress");
  EXPECT_EQ(s["date_last_interaction"], Iso(kT0 + absl::Seconds(50)));
  // The TTL of 60 s runs from the message now.
  ASSERT_TRUE(fake_.Advance(absl::Seconds(50)).ok());
  EXPECT_EQ(Must(200, "GET", session_)["status"], "in-progress");
  ASSERT_TRUE(fake_.Advance(absl::Seconds(10)).ok());
  json closed = Must(200, "GET", session_);
  EXPECT_EQ(closed["status"], "closed");
  EXPECT_EQ(closed["closed_reason"], "ttl");
  ExpectError(400, kErrorSessionClosed, "POST", Messages(p), "Body=late");
}

TEST_F(FakeParticipantTest, MessageBodyErrors) {
  json p = AddParticipant("Identifier=a");
  ExpectError(400, kErrorInvalidParameter, "POST", Messages(p), "");
  ExpectError(400, kErrorInvalidParameter, "POST", Messages(p),
              Cat("Body=", Repeat("m", 1601)));
  Must(201, "POST", Messages(p), Cat("Body=", Repeat("m", 1600)));
}

TEST_F(FakeParticipantTest, InteractionsListFetchAndDelete) {
  json p = AddParticipant("Identifier=a");
  for (int i = 0; i < 3; ++i) {
    Must(201, "POST", Messages(p), Cat("Body=m", i));
  }
  json list = Must(200, "GET", Interactions() + "?PageSize=2");
  ASSERT_EQ(list["interactions"].size(), 2u);
  EXPECT_EQ(list["interactions"][0]["data"], "{\"body\":\"m2\"}");
  EXPECT_EQ(KeysOf(list["interactions"][0]), InteractionKeys());
  EXPECT_EQ(list["meta"]["key"], "interactions");
  json rest =
      Must(200, "GET", list["meta"]["next_page_url"].get<std::string>());
  ASSERT_EQ(rest["interactions"].size(), 1u);
  EXPECT_EQ(rest["interactions"][0]["data"], "{\"body\":\"m0\"}");
  const std::string url = list["interactions"][1]["url"].get<std::string>();
  EXPECT_EQ(Must(200, "GET", url), list["interactions"][1]);
  Response del = Call("DELETE", url);
  EXPECT_EQ(del.status, 204);
  ExpectError(404, kErrorNotFound, "GET", url);
  EXPECT_EQ(Must(200, "GET", Interactions())["interactions"].size(), 2u);
  // A page holds at most 100, and its meta says so.
  EXPECT_EQ(
      Must(200, "GET", Interactions() + "?PageSize=500")["meta"]["page_size"],
      100);
  ExpectError(400, kErrorInvalidPageToken, "GET",
              Interactions() + "?PageToken=PAbad");
  ExpectError(400, kErrorInvalidParameter, "GET",
              Interactions() + "?PageSize=0");
}

class FakeInteractionLimitTest : public FakeParticipantTest {
 protected:
  static ProxyFakeOptions Limited() {
    ProxyFakeOptions options = Options();
    options.max_interactions = 3;
    options.max_interactions_per_session = 2;
    return options;
  }
  FakeInteractionLimitTest() : FakeParticipantTest(Limited()) {}
};

TEST_F(FakeInteractionLimitTest, MessagesPastALimitAre429) {
  json p = AddParticipant("Identifier=a");
  Must(201, "POST", Messages(p), "Body=1");
  Must(201, "POST", Messages(p), "Body=2");
  ExpectError(429, kErrorTooManyRequests, "POST", Messages(p), "Body=3");
  json other = Must(201, "POST", Cat("/v1/Services/", ks_, "/Sessions"));
  const std::string path =
      Cat("/v1/Services/", ks_, "/Sessions/", other["sid"].get<std::string>(),
          "/Participants");
  json q = Must(201, "POST", path, "Identifier=b");
  const std::string messages =
      Cat(path, "/", q["sid"].get<std::string>(), "/MessageInteractions");
  Must(201, "POST", messages, "Body=3");
  ExpectError(429, kErrorTooManyRequests, "POST", messages, "Body=4");
}

TEST(FakeInteractionOptionsTest, DefaultsAreBounded) {
  ProxyFakeOptions options;
  EXPECT_EQ(options.max_interactions, 4000);
  EXPECT_EQ(options.max_interactions_per_session, 1000);
  ProxyFakeOptions bad = Options();
  bad.max_interactions = -1;
  ProxyFake fake(bad);
  EXPECT_EQ(fake.Handle("GET", "/v1/Services").status, 500);
}

}  // namespace
}  // namespace sessionwheel
