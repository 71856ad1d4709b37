// ProxyFake: a stateful, in-process fake of the Twilio Proxy Session API.
//
// A test talks to it exactly as its code talks to the real service: the same
// methods, paths, form-encoded bodies, JSON, status codes and error codes,
// without a network. Behind it is a real SessionStore on a ManualClock, so
// state persists between requests and a test can jump an hour ahead and see
// Sessions expire. Safe for concurrent use without external locking.
//
// Example:
//
//   sessionwheel::ProxyFake fake;  // clock at the system time, SIDs seeded
//   auto svc = fake.Handle("POST", "/v1/Services", "UniqueName=rides");
//   std::string ks = nlohmann::json::parse(svc.body)["sid"];
//   auto s = fake.Handle("POST", "/v1/Services/" + ks + "/Sessions",
//                        "UniqueName=Order%20%231234&Ttl=3600");
//   assert(s.status == 201);
//   fake.Advance(absl::Hours(1));  // runs the expiry that came due
//   auto got = fake.Handle("GET", "/v1/Services/" + ks +
//                                 "/Sessions/Order%20%231234");
//   // got.body: {"status": "closed", "closed_reason": "ttl", ...}

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_PROXY_FAKE_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_PROXY_FAKE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/store.h"

namespace sessionwheel {

struct ProxyFakeOptions {
  // Prefix of every `url`, `links` and page URL in answers, and accepted in
  // front of a target, so an SDK pointed at it pages through the fake.
  std::string base_url = "https://proxy.twilio.com";

  // The account that owns everything ("AC" + 32 hex digits); empty means one
  // is minted from `seed`. A malformed one makes every request answer 500
  // with code 20500 and the reason, so the mistake cannot go unnoticed.
  std::string account_sid;

  // Seed for every SID the fake mints: the same requests give the same SIDs.
  uint64_t seed = 1;

  // Where the fake's ManualClock starts. Unset: the system time at creation.
  // Outside 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z (the dates an
  // answer can write) every request answers 500 with code 20500 and the
  // reason, as for a malformed `account_sid`.
  std::optional<absl::Time> start_time;

  // If true, a request naming an unknown but well-formed Service SID creates
  // that Service first (unique_name = its SID), so a test can use the KS…
  // SID of its real configuration without setting it up. Off, as in the
  // real API: an unknown Service is 20404.
  bool auto_create_services = false;

  // How long ended Sessions stay before they are purged (the real API's 90
  // days by default). Lower it to watch purges in a test;
  // absl::InfiniteDuration() never purges. A negative value means 0, and a
  // finite one over 100 years means never.
  absl::Duration closed_retention = absl::Hours(24 * 90);

  // Limits of the fake's own store (StoreOptions): a create past one is
  // answered 429 with code 20429, and nothing is evicted. A fake over a
  // caller's store keeps that store's limits. A negative value makes every
  // request answer 500 with code 20500 and the reason.
  //
  // Unlike the store's, the defaults are bounded, so that no sequence of
  // requests makes a test fake grow past a known size: at most 1,000
  // Services, 100,000 Sessions and 4,000 Interactions, under 800 MiB with
  // every field at its longest (docs/testing-with-the-fake.md, "Memory",
  // has the measurement).
  // A test that needs more asks for it, up to kNoLimit.
  int64_t max_sessions = 100000;                // Ended Sessions included.
  int64_t max_sessions_per_service = kNoLimit;  // max_sessions bounds it.
  // Services, auto-created ones included.
  int64_t max_services = 1000;
  // Interactions (messages sent to Participants, up to 1,600 characters
  // each) in the whole fake and in one Session: a message past either is
  // 429 with code 20429.
  int64_t max_interactions = 4000;
  int64_t max_interactions_per_session = 1000;

  // Bounds on one request, so a broken or hostile client cannot make the
  // fake do unbounded work. Past one, the request is refused before the
  // store sees it: a body over `max_body_bytes` is 413 with code 20413,
  // unread; a body or query string of more than `max_params` fields is 413
  // with code 20413; a field whose decoded name or value is over
  // `max_param_bytes` is 400 with code 80701 naming it. The largest valid
  // request is under 48 KiB (every field at its bound in four-byte
  // characters, every byte percent-encoded; an SDK sends far less), so the
  // defaults refuse nothing valid.
  size_t max_body_bytes = 64 * 1024;
  size_t max_params = 256;
  size_t max_param_bytes = 16 * 1024;
};

// One HTTP answer.
struct Response {
  int status = 0;
  std::string body;  // JSON; empty for 204 No Content.
};

class ProxyFake {
 public:
  // A fake that owns its store and its ManualClock.
  explicit ProxyFake(ProxyFakeOptions options = ProxyFakeOptions());

  // A fake in front of the caller's `store` (not owned; it must outlive the
  // fake). If `clock` is the store's ManualClock, Advance() and SetTime()
  // move it; if null, they fail with FailedPrecondition.
  ProxyFake(SessionStore* store, ManualClock* clock,
            ProxyFakeOptions options = ProxyFakeOptions());

  ~ProxyFake();
  ProxyFake(const ProxyFake&) = delete;
  ProxyFake& operator=(const ProxyFake&) = delete;

  // Answers one request. `method` is GET, POST or DELETE (any case).
  // `target` is the path and query ("/v1/Services/KS…/Sessions?PageSize=20")
  // or a full URL under `base_url`. `form_body` is
  // application/x-www-form-urlencoded as the Twilio SDKs send it (`+` and
  // `%XX`, `Participants` repeated, each a JSON object). Never throws
  // (unless a listener the caller added to the store throws); every
  // failure is an error answer with a Twilio-shaped body:
  // {"code", "message", "more_info", "status"}.
  Response Handle(std::string_view method, std::string_view target,
                  std::string_view form_body = "");

  // Moves the clock forward by `delta` and runs the expiries and purges that
  // came due. Errors: FailedPrecondition without a ManualClock;
  // InvalidArgument for a negative `delta`; OutOfRange if it would take the
  // clock past 9999-12-31T23:59:59Z (absl::InfiniteDuration() included),
  // the clock left where it was.
  absl::Status Advance(absl::Duration delta);

  // Sets the clock to `t` (which may be earlier) and runs what came due.
  // Errors: FailedPrecondition without a ManualClock; OutOfRange for a `t`
  // outside 0000-01-01T00:00:00Z to 9999-12-31T23:59:59Z, the years the
  // answers write (as `sessionwheel-fake`'s `now` and `advance`), the clock
  // left where it was.
  absl::Status SetTime(absl::Time t);

  // The fake's current time.
  absl::Time Now() const;

  // The store behind the fake, for assertions a request cannot make.
  SessionStore& store();

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_PROXY_FAKE_H_
