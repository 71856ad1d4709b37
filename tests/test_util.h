// Helpers shared by the tests: the fixed instants and account the tests start
// from, gtest predicates for SIDs and Proxy errors, a readable dump of a
// Session, the SESSIONWHEEL_TSAN switch, and StoreTest, a fixture that opens
// a seeded store on a ManualClock at kT0 with one Service.
//
// Include it as "tests/test_util.h"; everything is in
// sessionwheel::testing_util.

#ifndef SESSIONWHEEL_TESTS_TEST_UTIL_H_
#define SESSIONWHEEL_TESTS_TEST_UTIL_H_

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"

// SESSIONWHEEL_TSAN is defined when the build runs under ThreadSanitizer
// (clang's __has_feature, GCC's __SANITIZE_THREAD__), so tests can run
// smaller counts there.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SESSIONWHEEL_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define SESSIONWHEEL_TSAN 1
#endif

namespace sessionwheel::testing_util {

// The store tests start at 2026-01-01T00:00:00Z.
inline const absl::Time kT0 = absl::FromCivil(
    absl::CivilSecond(2026, 1, 1, 0, 0, 0), absl::UTCTimeZone());

// The event, model and stress tests start here.
inline const absl::Time kStart = absl::FromUnixSeconds(1700000000);

inline constexpr char kAccountSid[] = "AC0123456789abcdef0123456789abcdef";

// A one-shot signal between threads (std::mutex, so TSan sees it). Wait's
// only time limit is a guard that turns a hang into a failure.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // True once open; false if a minute passed first.
  bool Wait() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, std::chrono::seconds(60), [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// "é" is two bytes of UTF-8 but one character.
inline constexpr char kTwoByteChar[] = "\xc3\xa9";

// `piece` written `times` times.
inline std::string Repeat(std::string_view piece, int times) {
  std::string out;
  out.reserve(piece.size() * static_cast<size_t>(times));
  for (int i = 0; i < times; ++i) out.append(piece);
  return out;
}

// `sid` is `prefix` followed by 32 lower-case hex digits.
inline ::testing::AssertionResult IsSid(std::string_view prefix,
                                        std::string_view sid) {
  if (sid.size() != 34 || sid.substr(0, 2) != prefix) {
    return ::testing::AssertionFailure()
           << "\"" << sid << "\" is not " << prefix << " + 32 hex digits";
  }
  for (char c : sid.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return ::testing::AssertionFailure()
             << "\"" << sid << "\" has a character that is not lower-case hex";
    }
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult IsSid(std::string_view prefix,
                                        const Sid& sid) {
  return IsSid(prefix, sid.ToString());
}

// The Proxy error code of `status` as text, or "none".
inline std::string ProxyCodeText(const absl::Status& status) {
  std::optional<int> code = ProxyErrorCode(status);
  return code ? std::to_string(*code) : "none";
}

// `status` has the canonical `code` and the Proxy error code `proxy_code`.
inline ::testing::AssertionResult IsProxyError(const absl::Status& status,
                                               absl::StatusCode code,
                                               int proxy_code) {
  if (status.code() == code && ProxyErrorCode(status) == proxy_code) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected " << absl::StatusCodeToString(code) << " with Proxy code "
         << proxy_code << ", got " << status << " with Proxy code "
         << ProxyCodeText(status);
}

template <typename T>
::testing::AssertionResult IsProxyError(const absl::StatusOr<T>& result,
                                        absl::StatusCode code, int proxy_code) {
  return IsProxyError(result.status(), code, proxy_code);
}

// InvalidArgument/80701 that names `param` as the invalid parameter, with
// the message "<param>: <why>". (The fake words it as the REST API does:
// proxy_fake_test.)
inline ::testing::AssertionResult IsInvalidParameter(const absl::Status& status,
                                                     std::string_view param) {
  ::testing::AssertionResult result = IsProxyError(
      status, absl::StatusCode::kInvalidArgument, kErrorInvalidParameter);
  if (!result) return result;
  const std::optional<std::string> name = InvalidParameterName(status);
  if (name != param) {
    return ::testing::AssertionFailure()
           << "expected parameter \"" << param << "\", got "
           << (name ? absl::StrCat("\"", *name, "\"") : "none") << " in "
           << status;
  }
  const std::string prefix = absl::StrCat(std::string(param), ": ");
  if (!absl::StartsWith(status.message(), prefix) ||
      status.message().size() == prefix.size()) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\" is not \"" << prefix
           << "<why>\"";
  }
  return ::testing::AssertionSuccess();
}

template <typename T>
::testing::AssertionResult IsInvalidParameter(const absl::StatusOr<T>& result,
                                              std::string_view param) {
  return IsInvalidParameter(result.status(), param);
}

// NotFound/20404 with the store's message for Session `id` (its SID's text
// or a unique_name) of Service `ks`. (The fake words it as the REST path:
// proxy_fake_test.)
inline ::testing::AssertionResult IsSessionNotFound(const absl::Status& status,
                                                    const Sid& ks,
                                                    std::string_view id) {
  ::testing::AssertionResult result =
      IsProxyError(status, absl::StatusCode::kNotFound, kErrorNotFound);
  if (!result) return result;
  std::string expected = absl::StrCat("Session ", std::string(id),
                                      " not found in Service ", ks.ToString());
  if (status.message() != expected) {
    return ::testing::AssertionFailure()
           << "message \"" << status.message() << "\", expected \"" << expected
           << "\"";
  }
  return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult IsSessionNotFound(const absl::Status& status,
                                                    const Sid& ks,
                                                    const Sid& id) {
  return IsSessionNotFound(status, ks, id.ToString());
}

template <typename T, typename Id>
::testing::AssertionResult IsSessionNotFound(const absl::StatusOr<T>& result,
                                             const Sid& ks, const Id& id) {
  return IsSessionNotFound(result.status(), ks, id);
}

// An optional field as text: quoted, or "null".
inline std::string OptText(const std::optional<std::string>& s) {
  return s ? absl::StrCat("\"", *s, "\"") : "null";
}
inline std::string OptText(const std::optional<absl::Time>& t) {
  return t ? absl::FormatTime(*t, absl::UTCTimeZone()) : "null";
}

// Every field of `s` on one line.
inline std::string Describe(const Session& s) {
  return absl::StrCat(
      "{sid=", s.sid.ToString(), " service=", s.service_sid.ToString(),
      " unique_name=", OptText(s.unique_name),
      " status=", std::string(StatusName(s.status)),
      " closed_reason=", OptText(s.closed_reason), " ttl=", s.ttl,
      " mode=", std::string(ModeName(s.mode)),
      " created=", absl::FormatTime(s.date_created, absl::UTCTimeZone()),
      " updated=", absl::FormatTime(s.date_updated, absl::UTCTimeZone()),
      " started=", absl::FormatTime(s.date_started, absl::UTCTimeZone()),
      " ended=", OptText(s.date_ended),
      " last_interaction=", OptText(s.date_last_interaction),
      " expiry=", OptText(s.date_expiry),
      " participants=", s.participants.size(), "}");
}

// The answers of one SessionStore::FetchSessionsByName call for `names`:
// `out` and `statuses` by position, `call` the call's own status.
struct NameBatch {
  absl::Status call;
  std::vector<Session> out;
  std::vector<absl::Status> statuses;
};
inline NameBatch FetchByNames(SessionStore& store, const Sid& ks,
                              const std::vector<std::string_view>& names) {
  NameBatch batch;
  batch.out.resize(names.size());
  batch.statuses.resize(names.size());
  batch.call = store.FetchSessionsByName(ks, names, absl::MakeSpan(batch.out),
                                         absl::MakeSpan(batch.statuses));
  return batch;
}

// The two Sessions are equal; a failure shows both in full.
inline ::testing::AssertionResult SameSession(const Session& actual,
                                              const Session& expected) {
  if (actual == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << Describe(actual) << "\nexpected " << Describe(expected);
}

// A store seeded with kSeed and owned by kAccountSid, on a ManualClock set to
// kT0, holding one Service named "main" (main_, whose SID is ks_). A fixture
// that needs other store options overrides ConfigureStore.
class StoreTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kSeed = 20260101;

  void SetUp() override {
    StoreOptions options;
    options.clock = &clock_;
    options.seed = kSeed;
    options.account_sid = kAccountSid;
    ConfigureStore(options);
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    absl::StatusOr<Service> main = CreateService("main");
    ASSERT_TRUE(main.ok()) << main.status();
    main_ = *main;
    ks_ = main_.sid;
  }

  // Adjusts the options before the store opens; clock, seed and account are
  // already set.
  virtual void ConfigureStore(StoreOptions& /*options*/) {}

  absl::StatusOr<Service> CreateService(const std::string& name,
                                        int64_t default_ttl = 0) {
    CreateServiceParams params;
    params.unique_name = name;
    params.default_ttl = default_ttl;
    return store_->CreateService(params);
  }

  // Creates a Service that must be created; returns its SID.
  Sid NewService(const std::string& name, int64_t default_ttl = 0) {
    absl::StatusOr<Service> service = CreateService(name, default_ttl);
    EXPECT_TRUE(service.ok()) << service.status();
    return service.ok() ? service->sid : Sid();
  }

  // Creates a Session in the fixture's Service; a failure fails the test.
  Session Create(const CreateSessionParams& params = CreateSessionParams()) {
    return Create(ks_, params);
  }

  // Creates a Session in Service `ks`; a failure fails the test.
  Session Create(const Sid& ks,
                 const CreateSessionParams& params = CreateSessionParams()) {
    absl::StatusOr<Session> session = store_->CreateSession(ks, params);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *session : Session();
  }

  absl::StatusOr<Session> Fetch(std::string_view sid_or_name) {
    return store_->FetchSession(ks_, sid_or_name);
  }
  absl::StatusOr<Session> Fetch(const Sid& sid) {
    return store_->FetchSession(ks_, sid);
  }

  // Fetches a Session of the fixture's Service that must exist.
  template <typename Id>
  Session MustFetch(const Id& sid_or_name) {
    absl::StatusOr<Session> session = Fetch(sid_or_name);
    EXPECT_TRUE(session.ok()) << session.status();
    return session.ok() ? *session : Session();
  }

  // Sets the clock to kT0 + offset.
  void At(absl::Duration offset) { clock_.Set(kT0 + offset); }

  void ExpectInvariants() {
    absl::Status status = store_->CheckInvariants();
    EXPECT_TRUE(status.ok()) << status;
  }

  ManualClock clock_{kT0};  // Declared first: outlives the store.
  std::unique_ptr<SessionStore> store_;
  Service main_;
  Sid ks_;
};

}  // namespace sessionwheel::testing_util

#endif  // SESSIONWHEEL_TESTS_TEST_UTIL_H_
