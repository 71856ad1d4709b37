// Uses an installed sessionwheel through its public headers only: a Session
// with a 60 s TTL must be closed by expiry 61 s later, and its SID, kept as
// text the way a host might, parses back to the same Sid.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"

namespace {

int Fail(const char* what) {
  std::fprintf(stderr, "package_consumer: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  sessionwheel::ManualClock clock(start);
  sessionwheel::StoreOptions options;
  options.clock = &clock;
  options.seed = 1;
  auto store = sessionwheel::SessionStore::Open(options);
  if (!store.ok()) return Fail("Open failed");

  sessionwheel::CreateServiceParams service_params;
  service_params.unique_name = "consumer";
  auto service = (*store)->CreateService(service_params);
  if (!service.ok()) return Fail("CreateService failed");

  sessionwheel::CreateSessionParams session_params;
  session_params.ttl = 60;
  auto session = (*store)->CreateSession(service->sid, session_params);
  if (!session.ok()) return Fail("CreateSession failed");

  clock.Advance(absl::Seconds(61));
  (*store)->Advance();

  const std::string text = session->sid.ToString();
  const std::optional<sessionwheel::Sid> sid =
      sessionwheel::Sid::Parse("KC", text);
  if (!sid || *sid != session->sid) return Fail("the SID does not parse back");

  auto fetched = (*store)->FetchSession(service->sid, *sid);
  if (!fetched.ok()) return Fail("FetchSession failed");
  if (fetched->status != sessionwheel::SessionStatus::kClosed) {
    return Fail("the Session is not closed");
  }
  if (fetched->closed_reason != std::string(sessionwheel::kReasonTtl)) {
    return Fail("closed_reason is not \"ttl\"");
  }
  if (fetched->date_ended != start + absl::Seconds(60)) {
    return Fail("date_ended is not the expiry instant");
  }
  std::printf("package_consumer: ok, %s closed by ttl\n",
              fetched->sid.ToString().c_str());
  return 0;
}
