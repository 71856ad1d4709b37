// Comparing two stores' content through the public API: every Service,
// every Session of each (in list order, field by field, found by SID and by
// name) and the counts. For the tests that rebuild a store (snapshots,
// recovery from a data directory) and check it holds what the original held.
//
// Include it as "tests/store_compare.h"; everything is in
// sessionwheel::testing_util.

#ifndef SESSIONWHEEL_TESTS_STORE_COMPARE_H_
#define SESSIONWHEEL_TESTS_STORE_COMPARE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel::testing_util {

// Every Session of the Service, newest first, walking the pages.
inline std::vector<Session> AllSessions(SessionStore& store, const Sid& ks) {
  std::vector<Session> out;
  ListParams params;
  params.page_size = 1000;
  for (;;) {
    absl::StatusOr<SessionPage> page = store.ListSessions(ks, params);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    out.insert(out.end(), page->sessions.begin(), page->sessions.end());
    if (page->next_page_token.empty()) return out;
    params.page_token = page->next_page_token;
  }
}

// Every Service, newest first.
inline std::vector<Service> AllServices(SessionStore& store) {
  std::vector<Service> out;
  ListParams params;
  params.page_size = 1000;
  for (;;) {
    absl::StatusOr<ServicePage> page = store.ListServices(params);
    EXPECT_TRUE(page.ok()) << page.status();
    if (!page.ok()) return out;
    out.insert(out.end(), page->services.begin(), page->services.end());
    if (page->next_page_token.empty()) return out;
    params.page_token = page->next_page_token;
  }
}

// `restored` has the same counts as `original`, and passes its invariant
// checks.
inline void ExpectSameCounts(SessionStore& original, SessionStore& restored) {
  const StoreStats a = original.Stats();
  const StoreStats b = restored.Stats();
  EXPECT_EQ(b.services, a.services);
  EXPECT_EQ(b.sessions, a.sessions);
  EXPECT_EQ(b.open, a.open);
  EXPECT_EQ(b.in_progress, a.in_progress);
  EXPECT_EQ(b.closed, a.closed);
  EXPECT_EQ(b.failed, a.failed);
  EXPECT_EQ(b.unknown, a.unknown);
  EXPECT_EQ(b.named, a.named);
  absl::Status invariants = restored.CheckInvariants();
  EXPECT_TRUE(invariants.ok()) << invariants;
}

// `restored` has the same Services, in the same order, and the same counts
// as `original`, and passes its invariant checks.
inline void ExpectSameServicesAndCounts(SessionStore& original,
                                        SessionStore& restored) {
  EXPECT_EQ(AllServices(restored), AllServices(original));
  ExpectSameCounts(original, restored);
}

// `restored` finds the Session `sid` of `ks`, and by its name if it has one,
// exactly as `original` does. Returns whether `original` holds it.
inline bool ExpectSameSession(SessionStore& original, SessionStore& restored,
                              const Sid& ks, const Sid& sid) {
  absl::StatusOr<Session> want = original.FetchSession(ks, sid);
  absl::StatusOr<Session> got = restored.FetchSession(ks, sid);
  EXPECT_EQ(got.status(), want.status());
  if (!want.ok() || !got.ok()) return want.ok();
  EXPECT_TRUE(SameSession(*got, *want));
  if (want->unique_name.has_value()) {
    absl::StatusOr<Session> by_name =
        restored.FetchSession(ks, *want->unique_name);
    EXPECT_TRUE(by_name.ok()) << by_name.status();
    if (by_name.ok()) {
      EXPECT_EQ(by_name->sid, sid);
    }
  }
  return true;
}

// `restored` holds what `original` holds: ExpectSameServicesAndCounts, and
// each Service's Sessions listed in the same order, equal field by field and
// each found by SID and name. Lists visit every shard per page, so this is
// for small stores. Returns how many Sessions it compared.
inline int64_t ExpectSameContent(SessionStore& original,
                                 SessionStore& restored) {
  ExpectSameServicesAndCounts(original, restored);
  int64_t compared = 0;
  for (const Service& service : AllServices(original)) {
    const std::vector<Session> want = AllSessions(original, service.sid);
    const std::vector<Session> got = AllSessions(restored, service.sid);
    EXPECT_EQ(got.size(), want.size()) << service.unique_name;
    for (size_t i = 0; i < want.size() && i < got.size(); ++i) {
      EXPECT_TRUE(SameSession(got[i], want[i])) << "at position " << i;
      ExpectSameSession(original, restored, service.sid, want[i].sid);
    }
    compared += static_cast<int64_t>(want.size());
  }
  return compared;
}

}  // namespace sessionwheel::testing_util

#endif  // SESSIONWHEEL_TESTS_STORE_COMPARE_H_
