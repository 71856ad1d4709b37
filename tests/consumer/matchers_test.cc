// Uses the installed sessionwheel/testing.h as a host's test would: each
// matcher on a real refusal of the store.

#include <memory>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/store.h"
#include "sessionwheel/testing.h"

namespace {

using ::sessionwheel::testing::IsOk;
using ::sessionwheel::testing::IsOkAndHolds;
using ::sessionwheel::testing::IsProxyError;
using ::sessionwheel::testing::StatusIs;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(InstalledMatchers, MatchTheStoresAnswers) {
  sessionwheel::StoreOptions options;
  options.seed = 1;
  auto store = sessionwheel::SessionStore::Open(options);
  ASSERT_THAT(store, IsOk());

  sessionwheel::CreateServiceParams params;
  params.unique_name = "consumer";
  const auto service = (*store)->CreateService(params);
  EXPECT_THAT(service, IsOkAndHolds(Field(&sessionwheel::Service::unique_name,
                                          "consumer")));
  ASSERT_THAT(service, IsOk());

  const auto missing = (*store)->FetchSession(service->sid, "ride-1");
  EXPECT_THAT(missing, Not(IsOk()));
  EXPECT_THAT(missing, IsProxyError(sessionwheel::kErrorNotFound));
  EXPECT_THAT(missing.status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("ride-1")));
  EXPECT_THAT((*store)->CreateService(params),
              IsProxyError(absl::StatusCode::kAlreadyExists,
                           sessionwheel::kErrorServiceNameTaken));
}

}  // namespace
