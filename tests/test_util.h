// Helpers shared by the tests: the fixed instants and account the tests start
// from, a gtest predicate for SIDs, matchers for the store's two most common
// refusals (built on the public sessionwheel/testing.h, which it includes), a
// readable dump of a Session, the SESSIONWHEEL_TSAN switch, and StoreTest, a
// fixture that opens a seeded store on a ManualClock at kT0 with one Service.
//
// Include it as "tests/test_util.h"; everything is in
// sessionwheel::testing_util.

#ifndef SESSIONWHEEL_TESTS_TEST_UTIL_H_
#define SESSIONWHEEL_TESTS_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"
#include "sessionwheel/testing.h"

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

// A status (or StatusOr) that is InvalidArgument/80701 with a message that
// starts "'<param>' is invalid.".
inline auto IsInvalidParameter(std::string_view param) {
  return ::testing::AllOf(
      ::sessionwheel::testing::IsProxyError(absl::StatusCode::kInvalidArgument,
                                            kErrorInvalidParameter),
      ::sessionwheel::testing::StatusIs(
          absl::StatusCode::kInvalidArgument,
          ::testing::StartsWith(
              absl::StrCat("'", std::string(param), "' is invalid."))));
}

// A status (or StatusOr) that is NotFound/20404 with the SPEC's message for
// /Services/{ks}/Sessions/{id}.
inline auto IsSessionNotFound(std::string_view ks, std::string_view id) {
  return ::testing::AllOf(
      ::sessionwheel::testing::IsProxyError(absl::StatusCode::kNotFound,
                                            kErrorNotFound),
      ::sessionwheel::testing::StatusIs(
          absl::StatusCode::kNotFound,
          absl::StrCat("The requested resource /Services/", std::string(ks),
                       "/Sessions/", std::string(id), " was not found")));
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
      "{sid=", s.sid, " service=", s.service_sid, " account=", s.account_sid,
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
    ASSERT_THAT(store, ::sessionwheel::testing::IsOk());
    store_ = *std::move(store);
    absl::StatusOr<Service> main = CreateService("main");
    ASSERT_THAT(main, ::sessionwheel::testing::IsOk());
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
  std::string NewService(const std::string& name, int64_t default_ttl = 0) {
    absl::StatusOr<Service> service = CreateService(name, default_ttl);
    EXPECT_THAT(service, ::sessionwheel::testing::IsOk());
    return service.ok() ? service->sid : std::string();
  }

  // Creates a Session in the fixture's Service; a failure fails the test.
  Session Create(const CreateSessionParams& params = CreateSessionParams()) {
    return Create(ks_, params);
  }

  // Creates a Session in Service `ks`; a failure fails the test.
  Session Create(const std::string& ks,
                 const CreateSessionParams& params = CreateSessionParams()) {
    absl::StatusOr<Session> session = store_->CreateSession(ks, params);
    EXPECT_THAT(session, ::sessionwheel::testing::IsOk());
    return session.ok() ? *session : Session();
  }

  absl::StatusOr<Session> Fetch(std::string_view sid_or_name) {
    return store_->FetchSession(ks_, sid_or_name);
  }

  // Fetches a Session of the fixture's Service that must exist.
  Session MustFetch(std::string_view sid_or_name) {
    absl::StatusOr<Session> session = Fetch(sid_or_name);
    EXPECT_THAT(session, ::sessionwheel::testing::IsOk());
    return session.ok() ? *session : Session();
  }

  // Sets the clock to kT0 + offset.
  void At(absl::Duration offset) { clock_.Set(kT0 + offset); }

  void ExpectInvariants() {
    absl::Status status = store_->CheckInvariants();
    EXPECT_THAT(status, ::sessionwheel::testing::IsOk());
  }

  ManualClock clock_{kT0};  // Declared first: outlives the store.
  std::unique_ptr<SessionStore> store_;
  Service main_;
  std::string ks_;
};

}  // namespace sessionwheel::testing_util

#endif  // SESSIONWHEEL_TESTS_TEST_UTIL_H_
