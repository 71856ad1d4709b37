// sessionwheel-demo: a small tour of the store on a manual clock.
//
// It creates a Service and a few Sessions with different lifetimes, moves the
// clock forward step by step, and prints every event the store delivers:
// interactions restarting a TTL window, an absolute date_expiry, a host
// closing a Session, expiries, and the purge that frees a unique_name.
// (The load simulation of docs/performance.md replaces it later.)

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/store.h"

namespace {

using sessionwheel::SessionEvent;

std::string Clock(absl::Time t) {
  return absl::FormatTime("%H:%M:%S", t, absl::UTCTimeZone());
}

// Prints each event as it arrives: the store calls it with no lock held.
class PrintingListener : public sessionwheel::SessionListener {
 public:
  void OnEvent(const SessionEvent& e) override {
    const auto& s = e.session;
    std::printf("  %s  %-11s %-12s status=%-11s reason=%s\n",
                Clock(e.time).c_str(),
                std::string(EventTypeName(e.type)).c_str(),
                s.unique_name.value_or("(unnamed)").c_str(),
                std::string(StatusName(s.status)).c_str(),
                s.closed_reason.value_or("-").c_str());
  }
};

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "demo: %s\n", v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

}  // namespace

int main() {
  sessionwheel::ManualClock clock(absl::FromUnixSeconds(1798761600));  // 2027
  sessionwheel::StoreOptions options;
  options.clock = &clock;
  options.seed = 42;  // The same SIDs on every run.
  options.closed_retention = absl::Minutes(10);
  auto store = Must(sessionwheel::SessionStore::Open(options));
  store->AddListener(std::make_shared<PrintingListener>());

  sessionwheel::CreateServiceParams service;
  service.unique_name = "ride-sharing";
  service.default_ttl = 120;
  const std::string ks = Must(store->CreateService(service)).sid;
  std::printf("Service %s (default_ttl 120 s)\n\n", ks.c_str());

  std::printf("Creating Sessions:\n");
  sessionwheel::CreateSessionParams ride;
  ride.unique_name = "ride-1001";  // Inherits the 120 s TTL.
  const std::string ride_sid = Must(store->CreateSession(ks, ride)).sid;
  sessionwheel::CreateSessionParams order;
  order.unique_name = "order-7";
  order.ttl = 0;
  order.date_expiry = clock.Now() + absl::Minutes(3);
  Must(store->CreateSession(ks, order));
  sessionwheel::CreateSessionParams support;
  support.unique_name = "support-12";
  support.ttl = 3600;
  const std::string support_sid = Must(store->CreateSession(ks, support)).sid;

  std::printf("\nMoving the clock a minute at a time for 14 minutes:\n");
  for (int minute = 1; minute <= 14; ++minute) {
    clock.Advance(absl::Minutes(1));
    if (minute == 1) Must(store->RecordInteraction(ks, ride_sid));
    if (minute == 2) {
      Must(store->CloseSession(ks, support_sid, "agent-resolved"));
    }
    store->Advance();  // Runs due expiries and purges; events print.
  }

  std::printf(
      "\nRe-creating \"ride-1001\" now that its purge freed the name:\n");
  const bool reused = store->CreateSession(ks, ride).ok();
  std::printf("  %s\n\n", reused ? "created" : "refused: name still taken");
  const sessionwheel::StoreStats stats = store->Stats();
  std::printf("Store: %lld Sessions, %lld expired, %lld purged\n",
              static_cast<long long>(stats.sessions),
              static_cast<long long>(stats.expired),
              static_cast<long long>(stats.purged));
  return 0;
}
