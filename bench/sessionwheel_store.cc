// sessionwheel under test: the engine through its public API, as a host uses
// it. One Service, Sessions created with a unique_name and a ttl, answers
// filled into the caller's Session.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

class SessionwheelStore final : public ExpiryStoreUnderTest {
 public:
  explicit SessionwheelStore(const StoreConfig& config) {
    StoreOptions options;  // The defaults: 16 shards, a 10 ms tick.
    // Like the baselines, keep ended Sessions until deleted: with the default
    // 90-day retention each expiry would also schedule a purge, work the
    // baselines do not do.
    options.closed_retention =
        config.free_on_expiry ? absl::ZeroDuration() : absl::InfiniteDuration();
    options.clock = config.clock;
    options.seed = config.seed;
    options.background_expiry = config.background_expiry;
    store_ = Must(SessionStore::Open(options));
    if (config.listener != nullptr) store_->AddListener(config.listener);
    CreateServiceParams service;
    service.unique_name = "bench";
    service_sid_ = Must(store_->CreateService(service)).sid;
  }

  bool Create(std::string_view unique_name, int64_t ttl,
              Session* out) override {
    CreateSessionParams params;
    params.unique_name.emplace(unique_name);
    params.ttl = ttl;
    return store_->CreateSession(service_sid_, params, out).ok();
  }

  bool FetchBySid(const Sid& sid, Session* out) override {
    return store_->FetchSession(service_sid_, sid, out).ok();
  }

  bool FetchBySidBatch(absl::Span<const Sid> sids,
                       absl::Span<Session> out) override {
    statuses_.resize(sids.size());
    if (!store_
             ->FetchSessions(service_sid_, sids, out, absl::MakeSpan(statuses_))
             .ok()) {
      return false;
    }
    for (const absl::Status& s : statuses_) {
      if (!s.ok()) return false;
    }
    return true;
  }

  bool FetchByName(std::string_view unique_name, Session* out) override {
    return store_->FetchSession(service_sid_, unique_name, out).ok();
  }

  bool FetchByNameBatch(absl::Span<const std::string_view> names,
                        absl::Span<Session> out) override {
    statuses_.resize(names.size());
    if (!store_
             ->FetchSessionsByName(service_sid_, names, out,
                                   absl::MakeSpan(statuses_))
             .ok()) {
      return false;
    }
    for (const absl::Status& s : statuses_) {
      if (!s.ok()) return false;
    }
    return true;
  }

  bool UpdateTtl(const Sid& sid, int64_t ttl, Session* out) override {
    UpdateSessionParams params;
    params.ttl = ttl;
    return store_->UpdateSession(service_sid_, sid, params, out).ok();
  }

  bool RecordInteraction(const Sid& sid) override {
    return store_->RecordInteraction(service_sid_, sid).ok();
  }

  // Counts closes only: nothing is ever purged here (see the constructor).
  int64_t Advance() override { return store_->Advance(); }

 private:
  std::unique_ptr<SessionStore> store_;
  std::vector<absl::Status> statuses_;  // The batches', reused.
  Sid service_sid_;
};

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenSessionwheel(
    const StoreConfig& config) {
  return std::make_unique<SessionwheelStore>(config);
}

}  // namespace sessionwheel::bench
