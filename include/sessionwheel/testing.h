// gMock matchers for the statuses the store returns, for a host's tests.
//
// Each matcher takes an `absl::Status` or any `absl::StatusOr<T>` (whose
// status it reads), except IsOkAndHolds, which needs a value. A mismatch
// explains itself with the whole status, Proxy error code included:
//
//   IsOk()                       the status is OK
//   StatusIs(code)               the canonical code is `code`
//   StatusIs(code, m)            ... and the message matches matcher `m`
//   IsProxyError(proxy_code)     the Proxy error code (errors.h) is
//                                `proxy_code`, e.g. 20404
//   IsProxyError(code, proxy_code)  both the canonical and the Proxy code
//   IsOkAndHolds(m)              a StatusOr that is OK, whose value matches `m`
//
// Header-only; link GTest::gmock and sessionwheel::sessionwheel.
//
// Example:
//
//   using ::sessionwheel::testing::IsOkAndHolds;
//   using ::sessionwheel::testing::IsProxyError;
//
//   EXPECT_THAT(store->FetchSession(ks, "no-such-name"),
//               IsProxyError(absl::StatusCode::kNotFound, kErrorNotFound));
//   EXPECT_THAT(store->CreateSession(ks, params),
//               IsOkAndHolds(Field(&Session::ttl, 3600)));

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_TESTING_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_TESTING_H_

#include <optional>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "sessionwheel/errors.h"

namespace sessionwheel::testing {
namespace matchers_internal {

inline const absl::Status& GetStatus(const absl::Status& status) {
  return status;
}

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// "20404", or "none" for a status that carries no Proxy error code.
inline std::string ProxyCodeText(const absl::Status& status) {
  const std::optional<int> code = ProxyErrorCode(status);
  return code ? std::to_string(*code) : "none";
}

// The explanation every mismatch starts with: the status in full.
inline void ExplainStatus(const absl::Status& status,
                          ::testing::MatchResultListener* listener) {
  *listener << "whose status is " << status << " (Proxy error code "
            << ProxyCodeText(status) << ")";
}

class IsOkMatcher {
 public:
  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    if (!status.ok()) ExplainStatus(status, listener);
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code,
                  ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    ::testing::StringMatchResultListener message_listener;
    const bool matches = status.code() == code_ &&
                         message_.MatchAndExplain(std::string(status.message()),
                                                  &message_listener);
    if (!matches) ExplainStatus(status, listener);
    if (!message_listener.str().empty()) {
      *listener << ", whose message " << message_listener.str();
    }
    return matches;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_)
        << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has a status code other than " << absl::StatusCodeToString(code_)
        << " or a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

class IsProxyErrorMatcher {
 public:
  IsProxyErrorMatcher(std::optional<absl::StatusCode> code, int proxy_code)
      : code_(code), proxy_code_(proxy_code) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& actual,
                       ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(actual);
    const bool matches = (!code_ || status.code() == *code_) &&
                         ProxyErrorCode(status) == proxy_code_;
    if (!matches) ExplainStatus(status, listener);
    return matches;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "is ";
    Describe(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "is not ";
    Describe(os);
  }

 private:
  void Describe(std::ostream* os) const {
    if (code_) *os << absl::StatusCodeToString(*code_) << " ";
    *os << "with Proxy error code " << proxy_code_;
  }

  std::optional<absl::StatusCode> code_;
  int proxy_code_;
};

template <typename StatusOrType>
class IsOkAndHoldsMatcherImpl
    : public ::testing::MatcherInterface<const StatusOrType&> {
 public:
  using Value = typename StatusOrType::value_type;

  template <typename InnerMatcher>
  explicit IsOkAndHoldsMatcherImpl(InnerMatcher&& inner)
      : inner_(::testing::SafeMatcherCast<const Value&>(
            std::forward<InnerMatcher>(inner))) {}

  bool MatchAndExplain(
      const StatusOrType& actual,
      ::testing::MatchResultListener* listener) const override {
    if (!actual.ok()) {
      ExplainStatus(actual.status(), listener);
      return false;
    }
    ::testing::StringMatchResultListener value_listener;
    const bool matches = inner_.MatchAndExplain(*actual, &value_listener);
    *listener << "whose value is " << ::testing::PrintToString(*actual);
    if (!value_listener.str().empty())
      *listener << ", " << value_listener.str();
    return matches;
  }
  void DescribeTo(std::ostream* os) const override {
    *os << "is OK and has a value that ";
    inner_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const override {
    *os << "is not OK or has a value that ";
    inner_.DescribeNegationTo(os);
  }

 private:
  ::testing::Matcher<const Value&> inner_;
};

// Becomes a Matcher of whichever StatusOr<T> it is applied to.
template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename StatusOrType>
  operator ::testing::Matcher<StatusOrType>() const {  // NOLINT: implicit
    using Bare = std::remove_cv_t<std::remove_reference_t<StatusOrType>>;
    return ::testing::Matcher<StatusOrType>(
        new IsOkAndHoldsMatcherImpl<Bare>(inner_));
  }

 private:
  InnerMatcher inner_;
};

}  // namespace matchers_internal

// Matches an OK absl::Status or absl::StatusOr<T>.
inline ::testing::PolymorphicMatcher<matchers_internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(matchers_internal::IsOkMatcher());
}

// Matches a status whose canonical code is `code` (any message).
inline ::testing::PolymorphicMatcher<matchers_internal::StatusIsMatcher>
StatusIs(absl::StatusCode code) {
  return ::testing::MakePolymorphicMatcher(
      matchers_internal::StatusIsMatcher(code, ::testing::_));
}

// Matches a status whose canonical code is `code` and whose message matches
// `message`: a string (equality) or a matcher of std::string, such as
// HasSubstr("was not found").
template <typename MessageMatcher>
::testing::PolymorphicMatcher<matchers_internal::StatusIsMatcher> StatusIs(
    absl::StatusCode code, MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(matchers_internal::StatusIsMatcher(
      code, ::testing::MatcherCast<const std::string&>(
                std::forward<MessageMatcher>(message))));
}

// Matches a status that carries the Proxy error code `proxy_code` (see
// errors.h), whatever its canonical code. OK carries none, so never matches.
inline ::testing::PolymorphicMatcher<matchers_internal::IsProxyErrorMatcher>
IsProxyError(int proxy_code) {
  return ::testing::MakePolymorphicMatcher(
      matchers_internal::IsProxyErrorMatcher(std::nullopt, proxy_code));
}

// Matches a status with the canonical `code` and the Proxy error code
// `proxy_code`: the pair every refusal of the store comes with.
inline ::testing::PolymorphicMatcher<matchers_internal::IsProxyErrorMatcher>
IsProxyError(absl::StatusCode code, int proxy_code) {
  return ::testing::MakePolymorphicMatcher(
      matchers_internal::IsProxyErrorMatcher(code, proxy_code));
}

// Matches an OK absl::StatusOr<T> whose value matches `inner`: a value
// (equality) or a matcher of T.
template <typename InnerMatcher>
matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>> IsOkAndHolds(
    InnerMatcher&& inner) {
  return matchers_internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>(
      std::forward<InnerMatcher>(inner));
}

}  // namespace sessionwheel::testing

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_TESTING_H_
