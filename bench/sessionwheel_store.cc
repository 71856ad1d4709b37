// sessionwheel under test: the engine through its public API, as a host uses
// it. One Service, Sessions created with a unique_name and a ttl, every call
// answered with the Session the API returns.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "bench/store_under_test.h"
#include "sessionwheel/store.h"

namespace sessionwheel::bench {
namespace {

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "sessionwheel-bench: %s\n",
                 v.status().ToString().c_str());
    std::abort();
  }
  return *std::move(v);
}

std::optional<Session> OrNothing(absl::StatusOr<Session> s) {
  if (!s.ok()) return std::nullopt;
  return *std::move(s);
}

class SessionwheelStore final : public ExpiryStoreUnderTest {
 public:
  explicit SessionwheelStore(const StoreConfig& config) {
    StoreOptions options;  // The defaults: 16 shards, a 10 ms tick.
    // Like the baselines, keep ended Sessions until deleted: with the default
    // 90-day retention each expiry would also schedule a purge, work the
    // baselines do not do.
    options.closed_retention = absl::InfiniteDuration();
    options.clock = config.clock;
    options.seed = config.seed;
    options.background_expiry = config.background_expiry;
    store_ = Must(SessionStore::Open(options));
    if (config.listener != nullptr) store_->AddListener(config.listener);
    CreateServiceParams service;
    service.unique_name = "bench";
    service_sid_ = Must(store_->CreateService(service)).sid;
  }

  std::optional<Session> Create(std::string_view unique_name,
                                int64_t ttl) override {
    CreateSessionParams params;
    params.unique_name.emplace(unique_name);
    params.ttl = ttl;
    return OrNothing(store_->CreateSession(service_sid_, params));
  }

  std::optional<Session> FetchBySid(std::string_view sid) override {
    return OrNothing(store_->FetchSession(service_sid_, sid));
  }

  std::optional<Session> FetchByName(std::string_view unique_name) override {
    return OrNothing(store_->FetchSession(service_sid_, unique_name));
  }

  std::optional<Session> UpdateTtl(std::string_view sid, int64_t ttl) override {
    UpdateSessionParams params;
    params.ttl = ttl;
    return OrNothing(store_->UpdateSession(service_sid_, sid, params));
  }

  std::optional<Session> RecordInteraction(std::string_view sid) override {
    return OrNothing(store_->RecordInteraction(service_sid_, sid));
  }

  // Counts closes only: nothing is ever purged here (see the constructor).
  int64_t Advance() override { return store_->Advance(); }

 private:
  std::unique_ptr<SessionStore> store_;
  std::string service_sid_;
};

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenSessionwheel(
    const StoreConfig& config) {
  return std::make_unique<SessionwheelStore>(config);
}

}  // namespace sessionwheel::bench
