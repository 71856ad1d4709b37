// A test written against the Proxy fake: a Session with a TTL is seen closed
// through GET once the fake's clock has moved past it. No network, no sleep.
// (docs/testing-with-the-fake.md shows this file verbatim.)

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "sessionwheel/proxy_fake.h"

namespace {

using nlohmann::json;
using sessionwheel::ProxyFake;
using sessionwheel::Response;

// The answer's JSON body, parsed without exceptions; an empty object if it is
// not a JSON object, so the checks below fail instead of throwing.
json Body(const Response& response) {
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  return body.is_object() ? body : json::object();
}

// The "sid" of an answer, or "" if it has none.
std::string Sid(const Response& response) {
  const json sid = Body(response)["sid"];
  return sid.is_string() ? sid.get<std::string>() : "";
}

TEST(FakeExample, SessionClosesWhenItsTtlPasses) {
  sessionwheel::ProxyFakeOptions options;
  options.start_time = absl::FromUnixSeconds(1893456000);  // 2030-01-01
  ProxyFake fake(options);

  const Response service =
      fake.Handle("POST", "/v1/Services", "UniqueName=rides");
  ASSERT_EQ(service.status, 201) << service.body;
  const std::string sessions = "/v1/Services/" + Sid(service) + "/Sessions";

  // Form-encoded as the SDKs send it: the unique name is "Order #1234".
  const Response created =
      fake.Handle("POST", sessions, "UniqueName=Order+%231234&Ttl=3600");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Body(created)["status"], "open");

  ASSERT_TRUE(fake.Advance(absl::Hours(1)).ok());  // runs the expiry due

  // Fetched by its unique name, URL-encoded in the path.
  const Response got = fake.Handle("GET", sessions + "/Order%20%231234");
  ASSERT_EQ(got.status, 200) << got.body;
  json session = Body(got);
  EXPECT_EQ(session["sid"], Sid(created));
  EXPECT_EQ(session["status"], "closed");
  EXPECT_EQ(session["closed_reason"], "ttl");
  EXPECT_EQ(session["date_ended"], "2030-01-01T01:00:00Z");
}

}  // namespace
