// The public matchers of sessionwheel/testing.h: each matches, mismatches,
// and explains a mismatch with the status, on absl::Status and StatusOr.

#include "sessionwheel/testing.h"

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"

namespace sessionwheel {
namespace {

using ::sessionwheel::testing::IsOk;
using ::sessionwheel::testing::IsOkAndHolds;
using ::sessionwheel::testing::IsProxyError;
using ::sessionwheel::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Gt;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// What `matcher` says about `value` when it does not match.
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  ::testing::StringMatchResultListener listener;
  EXPECT_FALSE(::testing::ExplainMatchResult(matcher, value, &listener));
  return listener.str();
}

absl::Status NotFound() {
  return ProxyError(absl::StatusCode::kNotFound, kErrorNotFound,
                    "The requested resource /Services/KS1 was not found");
}

TEST(IsOkTest, MatchesOkStatusAndStatusOr) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(7), IsOk());
}

TEST(IsOkTest, MismatchShowsTheStatus) {
  EXPECT_THAT(NotFound(), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(NotFound()), Not(IsOk()));
  const std::string why = Explain(IsOk(), NotFound());
  EXPECT_THAT(why, HasSubstr("whose status is NOT_FOUND: The requested "
                             "resource /Services/KS1 was not found"));
  EXPECT_THAT(why, HasSubstr("(Proxy error code 20404)"));
  EXPECT_THAT(Explain(IsOk(), absl::StatusOr<int>(absl::InternalError("x"))),
              HasSubstr("whose status is INTERNAL: x (Proxy error code none)"));
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(IsOk(), true),
            "is not OK");
}

TEST(StatusIsTest, MatchesTheCanonicalCode) {
  EXPECT_THAT(NotFound(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::StatusOr<int>(NotFound()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::StatusOr<int>(1), StatusIs(absl::StatusCode::kOk));
}

TEST(StatusIsTest, MismatchShowsTheStatus) {
  EXPECT_THAT(NotFound(), Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(absl::StatusOr<int>(2),
              Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(Explain(StatusIs(absl::StatusCode::kAlreadyExists), NotFound()),
              StartsWith("whose status is NOT_FOUND: The requested"));
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(
                StatusIs(absl::StatusCode::kNotFound)),
            "has status code NOT_FOUND and a message that is anything");
}

TEST(StatusIsTest, MatchesTheMessage) {
  EXPECT_THAT(NotFound(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not found")));
  EXPECT_THAT(absl::InvalidArgumentError("bad"),
              StatusIs(absl::StatusCode::kInvalidArgument, "bad"));
  EXPECT_THAT(NotFound(), Not(StatusIs(absl::StatusCode::kNotFound,
                                       HasSubstr("was found"))));
  EXPECT_THAT(Explain(StatusIs(absl::StatusCode::kNotFound, "other"),
                      absl::StatusOr<int>(NotFound())),
              HasSubstr("whose status is NOT_FOUND: The requested"));
}

TEST(IsProxyErrorTest, MatchesTheProxyCode) {
  EXPECT_THAT(NotFound(), IsProxyError(kErrorNotFound));
  EXPECT_THAT(absl::StatusOr<int>(NotFound()), IsProxyError(kErrorNotFound));
  EXPECT_THAT(NotFound(),
              IsProxyError(absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_THAT(
      InvalidParameter("Ttl", "Must be a whole number."),
      IsProxyError(absl::StatusCode::kInvalidArgument, kErrorInvalidParameter));
}

TEST(IsProxyErrorTest, MismatchShowsTheStatus) {
  EXPECT_THAT(NotFound(), Not(IsProxyError(kErrorSessionClosed)));
  // The right Proxy code under the wrong canonical code is a mismatch.
  EXPECT_THAT(NotFound(), Not(IsProxyError(absl::StatusCode::kInvalidArgument,
                                           kErrorNotFound)));
  // OK, and an error that carries no Proxy code, never match.
  EXPECT_THAT(absl::OkStatus(), Not(IsProxyError(kErrorNotFound)));
  EXPECT_THAT(absl::StatusOr<int>(3), Not(IsProxyError(kErrorNotFound)));
  EXPECT_THAT(absl::NotFoundError("plain"), Not(IsProxyError(kErrorNotFound)));

  const std::string why = Explain(IsProxyError(kErrorSessionClosed),
                                  absl::StatusOr<int>(NotFound()));
  EXPECT_THAT(why, AllOf(HasSubstr("whose status is NOT_FOUND"),
                         HasSubstr("(Proxy error code 20404)")));
  EXPECT_THAT(Explain(IsProxyError(kErrorNotFound), absl::OkStatus()),
              "whose status is OK (Proxy error code none)");
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(IsProxyError(80607)),
            "is with Proxy error code 80607");
  EXPECT_EQ(::testing::DescribeMatcher<absl::Status>(
                IsProxyError(absl::StatusCode::kNotFound, 20404), true),
            "is not NOT_FOUND with Proxy error code 20404");
}

TEST(IsOkAndHoldsTest, MatchesTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(5), IsOkAndHolds(5));
  EXPECT_THAT(absl::StatusOr<int>(5), IsOkAndHolds(Gt(4)));
  EXPECT_THAT(absl::StatusOr<std::string>("KS1"),
              IsOkAndHolds(StartsWith("KS")));
}

TEST(IsOkAndHoldsTest, MismatchExplainsTheStatusOrTheValue) {
  EXPECT_THAT(absl::StatusOr<int>(5), Not(IsOkAndHolds(6)));
  EXPECT_THAT(absl::StatusOr<int>(NotFound()), Not(IsOkAndHolds(Gt(0))));
  EXPECT_THAT(Explain(IsOkAndHolds(Gt(0)), absl::StatusOr<int>(NotFound())),
              HasSubstr("whose status is NOT_FOUND"));
  EXPECT_THAT(Explain(IsOkAndHolds(6), absl::StatusOr<int>(5)),
              StartsWith("whose value is 5"));
  EXPECT_EQ(::testing::DescribeMatcher<absl::StatusOr<int>>(IsOkAndHolds(6)),
            "is OK and has a value that is equal to 6");
}

}  // namespace
}  // namespace sessionwheel
