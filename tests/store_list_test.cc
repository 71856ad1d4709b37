// Tests of ListSessions: newest-first order, page sizes, keyset paging with
// next and previous tokens that survive creates and deletes during a walk,
// refused tokens, and the expiry a list applies itself.
//
// Every test runs on a ManualClock set to 2026-01-01T00:00:00Z and a seeded
// store; times are compared exactly.

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::IsInvalidParameter;
using testing_util::IsProxyError;
using testing_util::kT0;
using testing_util::SameSession;
using testing_util::StoreTest;

class StoreListTest : public StoreTest {
 protected:
  // Creates `n` Sessions in the fixture's Service and returns their SIDs
  // newest first. Every other one is created in the same millisecond as the
  // one before, so the creation order, not the clock, decides.
  std::vector<Sid> CreateMany(int n) {
    std::vector<Sid> newest_first;
    for (int i = 0; i < n; ++i) {
      if (i % 2 == 0) clock_.Advance(absl::Milliseconds(1));
      newest_first.insert(newest_first.begin(), Create(ks_).sid);
    }
    return newest_first;
  }

  absl::StatusOr<SessionPage> List(int page_size,
                                   const std::string& token = "") {
    ListParams params;
    params.page_size = page_size;
    params.page_token = token;
    return store_->ListSessions(ks_, params);
  }

  static std::vector<Sid> Sids(const SessionPage& page) {
    std::vector<Sid> sids;
    for (const Session& s : page.sessions) sids.push_back(s.sid);
    return sids;
  }

  // Follows next tokens from the first page. Returns every page seen.
  std::vector<SessionPage> WalkForward(int page_size) {
    std::vector<SessionPage> pages;
    std::string token;
    for (int guard = 0; guard < 10000; ++guard) {
      absl::StatusOr<SessionPage> page = List(page_size, token);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->sessions.size(), static_cast<size_t>(page_size));
      pages.push_back(*page);
      if (page->next_page_token.empty()) break;
      token = page->next_page_token;
    }
    return pages;
  }

  static std::vector<Sid> Flatten(const std::vector<SessionPage>& ps) {
    std::vector<Sid> sids;
    for (const SessionPage& p : ps) {
      for (const Session& s : p.sessions) sids.push_back(s.sid);
    }
    return sids;
  }
};

TEST_F(StoreListTest, EmptyServiceListsNothing) {
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->sessions.empty());
  EXPECT_TRUE(page->next_page_token.empty());
  EXPECT_TRUE(page->previous_page_token.empty());
}

TEST_F(StoreListTest, ListsNewestFirst) {
  std::vector<Sid> newest_first = CreateMany(7);
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sids(*page), newest_first);
  EXPECT_TRUE(page->next_page_token.empty());
  EXPECT_TRUE(page->previous_page_token.empty());
}

TEST_F(StoreListTest, SessionsCreatedInTheSameMillisecondKeepCreationOrder) {
  std::vector<Sid> newest_first;
  for (int i = 0; i < 20; ++i) {
    newest_first.insert(newest_first.begin(), Create(ks_).sid);
  }
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sids(*page), newest_first);
}

TEST_F(StoreListTest, ListedSessionsAreTheFullSessions) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  params.ttl = 300;
  params.mode = SessionMode::kVoiceOnly;
  Session created = Create(ks_, params);
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sessions.size(), 1u);
  EXPECT_TRUE(SameSession(page->sessions[0], created));
}

TEST_F(StoreListTest, DefaultPageSizeIs50) {
  std::vector<Sid> newest_first = CreateMany(60);
  absl::StatusOr<SessionPage> first = store_->ListSessions(ks_, ListParams());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->sessions.size(), 50u);
  EXPECT_EQ(Sids(*first),
            std::vector<Sid>(newest_first.begin(), newest_first.begin() + 50));
  ASSERT_FALSE(first->next_page_token.empty());
  ListParams next;
  next.page_token = first->next_page_token;
  absl::StatusOr<SessionPage> second = store_->ListSessions(ks_, next);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(Sids(*second),
            std::vector<Sid>(newest_first.begin() + 50, newest_first.end()));
  EXPECT_TRUE(second->next_page_token.empty());
}

TEST_F(StoreListTest, PageSizeOutOfRangeIs80701) {
  CreateMany(3);
  EXPECT_TRUE(IsInvalidParameter(List(0), "PageSize"));
  EXPECT_TRUE(IsInvalidParameter(List(-1), "PageSize"));
  EXPECT_TRUE(IsInvalidParameter(List(1001), "PageSize"));
}

TEST_F(StoreListTest, PageSizeOneAndOneThousandAreAccepted) {
  std::vector<Sid> newest_first = CreateMany(3);
  absl::StatusOr<SessionPage> one = List(1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(Sids(*one), std::vector<Sid>{newest_first[0]});
  EXPECT_FALSE(one->next_page_token.empty());
  absl::StatusOr<SessionPage> thousand = List(1000);
  ASSERT_TRUE(thousand.ok()) << thousand.status();
  EXPECT_EQ(Sids(*thousand), newest_first);
}

TEST_F(StoreListTest, WalkingNextTokensSeesEverySessionOnce) {
  std::vector<Sid> newest_first = CreateMany(10);
  for (int page_size : {1, 3, 4, 10, 11}) {
    SCOPED_TRACE(page_size);
    std::vector<SessionPage> pages = WalkForward(page_size);
    std::vector<Sid> walked = Flatten(pages);
    EXPECT_EQ(walked, newest_first);
    std::set<Sid> unique(walked.begin(), walked.end());
    EXPECT_EQ(unique.size(), walked.size());
    ASSERT_FALSE(pages.empty());
    EXPECT_TRUE(pages.front().previous_page_token.empty());
  }
}

TEST_F(StoreListTest, LastPageHasNoNextToken) {
  CreateMany(7);
  std::vector<SessionPage> pages = WalkForward(3);
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_EQ(pages[2].sessions.size(), 1u);
  EXPECT_TRUE(pages[2].next_page_token.empty());
}

TEST_F(StoreListTest, PreviousTokensWalkBack) {
  std::vector<Sid> newest_first = CreateMany(10);
  std::vector<SessionPage> forward = WalkForward(3);
  ASSERT_EQ(forward.size(), 4u);  // 3 + 3 + 3 + 1.

  // From the last page, each previous token gives the page before it.
  std::string token = forward.back().previous_page_token;
  for (int i = static_cast<int>(forward.size()) - 2; i >= 0; --i) {
    SCOPED_TRACE(i);
    ASSERT_FALSE(token.empty());
    absl::StatusOr<SessionPage> page = List(3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(Sids(*page), Sids(forward[i]));
    // And its next token leads forward again.
    ASSERT_FALSE(page->next_page_token.empty());
    absl::StatusOr<SessionPage> again = List(3, page->next_page_token);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(Sids(*again), Sids(forward[i + 1]));
    token = page->previous_page_token;
  }
  EXPECT_TRUE(token.empty());  // Nothing is newer than the first page.
}

TEST_F(StoreListTest, MalformedTokenIs21481) {
  CreateMany(5);
  absl::StatusOr<SessionPage> first = List(2);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string good = first->next_page_token;
  ASSERT_FALSE(good.empty());
  std::string truncated = good.substr(0, good.size() - 1);
  std::string extended = good + "0";
  std::string wrong_prefix = "PX" + good.substr(2);
  for (const std::string& token :
       {std::string("garbage"), std::string("PA"), std::string("PB"),
        std::string("PAKC0123456789abcdef0123456789abcdef"), truncated,
        extended, wrong_prefix, first->sessions[1].sid.ToString()}) {
    SCOPED_TRACE(token);
    EXPECT_TRUE(IsProxyError(List(2, token), absl::StatusCode::kInvalidArgument,
                             kErrorInvalidPageToken));
  }
  EXPECT_TRUE(List(2, good).ok());
}

TEST_F(StoreListTest, TokenFromAnotherServicesListIs21481) {
  CreateMany(5);
  Sid other = NewService("other");
  for (int i = 0; i < 5; ++i) Create(other);
  ListParams params;
  params.page_size = 2;
  absl::StatusOr<SessionPage> theirs = store_->ListSessions(other, params);
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_FALSE(theirs->next_page_token.empty());
  EXPECT_TRUE(IsProxyError(List(2, theirs->next_page_token),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
  // A previous token of theirs too.
  params.page_token = theirs->next_page_token;
  absl::StatusOr<SessionPage> second = store_->ListSessions(other, params);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_FALSE(second->previous_page_token.empty());
  EXPECT_TRUE(IsProxyError(List(2, second->previous_page_token),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
}

TEST_F(StoreListTest, TokenFromServiceListIs21481ForSessions) {
  for (int i = 0; i < 3; ++i) NewService(absl::StrCat("svc-", i));
  ListParams params;
  params.page_size = 1;
  absl::StatusOr<ServicePage> services = store_->ListServices(params);
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_FALSE(services->next_page_token.empty());
  CreateMany(3);
  EXPECT_TRUE(IsProxyError(List(1, services->next_page_token),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
}

TEST_F(StoreListTest, SessionsCreatedDuringTheWalkDoNotAppearInLaterPages) {
  std::vector<Sid> originals = CreateMany(10);
  absl::StatusOr<SessionPage> page = List(3);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<Sid> walked = Sids(*page);
  std::set<Sid> created_meanwhile;
  for (int guard = 0; guard < 100 && !page->next_page_token.empty(); ++guard) {
    for (int i = 0; i < 2; ++i) created_meanwhile.insert(Create(ks_).sid);
    page = List(3, page->next_page_token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Session& s : page->sessions) {
      EXPECT_EQ(created_meanwhile.count(s.sid), 0u) << s.sid;
      walked.push_back(s.sid);
    }
  }
  EXPECT_EQ(walked, originals);
  ExpectInvariants();
}

TEST_F(StoreListTest, DeletingTheBoundarySessionDoesNotBreakTheWalk) {
  std::vector<Sid> originals = CreateMany(10);
  absl::StatusOr<SessionPage> page = List(3);
  ASSERT_TRUE(page.ok()) << page.status();
  std::vector<Sid> walked = Sids(*page);
  std::set<Sid> deleted;
  for (int guard = 0; guard < 100 && !page->next_page_token.empty(); ++guard) {
    // The last Session of the page is the one the next token points after.
    const Sid boundary = page->sessions.back().sid;
    ASSERT_TRUE(store_->DeleteSession(ks_, boundary).ok());
    deleted.insert(boundary);
    page = List(3, page->next_page_token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Session& s : page->sessions) walked.push_back(s.sid);
  }
  // Every Session that existed for the whole walk was seen exactly once, in
  // order; the deleted ones were seen before they went.
  EXPECT_EQ(walked, originals);

  // Walking back over a deleted boundary works too.
  std::vector<Sid> remaining;
  for (const Sid& sid : originals) {
    if (deleted.count(sid) == 0) remaining.push_back(sid);
  }
  std::vector<SessionPage> pages = WalkForward(2);
  ASSERT_GE(pages.size(), 2u);
  EXPECT_EQ(Flatten(pages), remaining);
  const std::string back_token = pages[1].previous_page_token;
  ASSERT_FALSE(back_token.empty());
  ASSERT_TRUE(store_->DeleteSession(ks_, pages[1].sessions.front().sid).ok());
  absl::StatusOr<SessionPage> back = List(2, back_token);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Sids(*back), Sids(pages[0]));
  ExpectInvariants();
}

TEST_F(StoreListTest, DeletingSessionsAheadOfTheWalkLeavesOutOnlyThem) {
  std::vector<Sid> originals = CreateMany(9);
  absl::StatusOr<SessionPage> page = List(3);
  ASSERT_TRUE(page.ok()) << page.status();
  // Delete the newest of the next page and one on the last page.
  ASSERT_TRUE(store_->DeleteSession(ks_, originals[3]).ok());
  ASSERT_TRUE(store_->DeleteSession(ks_, originals[8]).ok());
  std::vector<Sid> walked = Sids(*page);
  while (!page->next_page_token.empty()) {
    page = List(3, page->next_page_token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Session& s : page->sessions) walked.push_back(s.sid);
  }
  std::vector<Sid> expected = originals;
  expected.erase(expected.begin() + 8);
  expected.erase(expected.begin() + 3);
  EXPECT_EQ(walked, expected);
}

TEST_F(StoreListTest, ListingAppliesDueExpiry) {
  CreateSessionParams params;
  params.ttl = 60;
  Session expiring = Create(ks_, params);
  Session lasting = Create(ks_);
  clock_.Set(kT0 + absl::Seconds(60));
  // No Advance(): the list shows the Session closed all the same.
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->sessions.size(), 2u);
  EXPECT_EQ(page->sessions[0].sid, lasting.sid);
  EXPECT_EQ(page->sessions[0].status, SessionStatus::kOpen);
  const Session& closed = page->sessions[1];
  EXPECT_EQ(closed.sid, expiring.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(60));
  EXPECT_EQ(closed.date_updated, kT0 + absl::Seconds(60));
  ExpectInvariants();
}

TEST_F(StoreListTest, ListingLeavesOutDuePurges) {
  CreateSessionParams params;
  params.ttl = 60;
  Session expiring = Create(ks_, params);
  Session lasting = Create(ks_);
  // Past the default 90-day retention, with no Advance().
  clock_.Set(kT0 + absl::Seconds(60) + absl::Hours(24 * 90));
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sids(*page), std::vector<Sid>{lasting.sid});
  (void)expiring;
}

TEST_F(StoreListTest, ListOnlyShowsTheServicesOwnSessions) {
  std::vector<Sid> mine = CreateMany(3);
  Sid other = NewService("other");
  for (int i = 0; i < 4; ++i) Create(other);
  absl::StatusOr<SessionPage> page = List(50);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(Sids(*page), mine);
}

TEST_F(StoreListTest, UnknownServiceIs20404) {
  CreateMany(2);
  ListParams params;
  EXPECT_TRUE(IsProxyError(
      store_->ListSessions(
          Sid::Parse("KS0123456789abcdef0123456789abcdef").value(), params),
      absl::StatusCode::kNotFound, kErrorNotFound));
  // A SID of another kind, even with the Service's bits, lists nothing.
  for (const Sid& sid : {Sid(), Sid("KC", ks_.hi(), ks_.lo())}) {
    SCOPED_TRACE(sid);
    EXPECT_TRUE(IsProxyError(store_->ListSessions(sid, params),
                             absl::StatusCode::kNotFound, kErrorNotFound));
  }
}

TEST_F(StoreListTest, DeletedServiceIs20404) {
  CreateMany(2);
  ASSERT_TRUE(store_->DeleteService(ks_).ok());
  EXPECT_TRUE(
      IsProxyError(List(50), absl::StatusCode::kNotFound, kErrorNotFound));
}

// Lists ask each shard for its share of a page first and again only when it
// may hold more of the page (store.cc, NearestKeys). Here most of the newest
// Sessions sit in two shards, so those must be asked again, page after
// page, in both directions, at every shard count.
class StoreListShardsTest : public StoreListTest,
                            public ::testing::WithParamInterface<int> {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.shards = GetParam();
  }
};

TEST_P(StoreListShardsTest, SkewedShardsStillListEverySessionInOrder) {
  const uint64_t mask = static_cast<uint64_t>(GetParam() - 1);
  std::vector<Sid> newest_first = CreateMany(3000);
  // Keep every Session of shards 0 and 1 and one in ten of the rest.
  std::vector<Sid> kept;
  for (size_t i = 0; i < newest_first.size(); ++i) {
    const Sid& sid = newest_first[i];
    if (((sid.hi() >> 56) & mask) <= 1 || i % 10 == 0) {
      kept.push_back(sid);
    } else {
      ASSERT_TRUE(store_->DeleteSession(ks_, sid).ok());
    }
  }
  for (int page_size : {1, 7, 50, 1000}) {
    SCOPED_TRACE(page_size);
    std::vector<SessionPage> pages = WalkForward(page_size);
    EXPECT_EQ(Flatten(pages), kept);
    // And back from the last page to the first.
    std::vector<Sid> backward;
    std::string token = pages.back().previous_page_token;
    for (int guard = 0; !token.empty() && guard < 10000; ++guard) {
      absl::StatusOr<SessionPage> page = List(page_size, token);
      ASSERT_TRUE(page.ok()) << page.status();
      backward.insert(backward.begin(), page->sessions.size(), Sid());
      for (size_t i = 0; i < page->sessions.size(); ++i) {
        backward[i] = page->sessions[i].sid;
      }
      token = page->previous_page_token;
    }
    const std::vector<Sid>& last = Sids(pages.back());
    backward.insert(backward.end(), last.begin(), last.end());
    EXPECT_EQ(backward, kept);
  }
}

// A list purges what it passes whose retention has run out. A shard keeps
// a Service's creation order as an array with holes, squeezed out when they
// outnumber the live cells (engine/core/creation_order.h), which moves the
// cells under a walk in progress: the walk must find its place again, and
// so must a token whose Session is gone.
TEST_P(StoreListShardsTest, PurgesDuringAWalkDoNotLoseItsPlace) {
  const Sid other = NewService("other");
  // In each Service, 1000 Sessions; every tenth lasts, the rest expire.
  std::vector<Sid> lasting_main;
  std::vector<Sid> lasting_other;
  std::set<Sid> all_lasting;
  for (int i = 0; i < 1000; ++i) {
    if (i % 2 == 0) clock_.Advance(absl::Milliseconds(1));
    CreateSessionParams params;
    if (i % 10 != 0) params.ttl = 60;
    const Sid a = Create(ks_, params).sid;
    const Sid b = Create(other, params).sid;
    if (i % 10 == 0) {
      lasting_main.insert(lasting_main.begin(), a);
      lasting_other.insert(lasting_other.begin(), b);
      all_lasting.insert(b);
    }
  }
  // Tokens taken before anything is due.
  ListParams params;
  params.page_size = 7;
  std::vector<SessionPage> before;
  for (int guard = 0; guard < 1000; ++guard) {
    absl::StatusOr<SessionPage> page = store_->ListSessions(other, params);
    ASSERT_TRUE(page.ok()) << page.status();
    before.push_back(*page);
    if (page->next_page_token.empty()) break;
    params.page_token = page->next_page_token;
  }
  // Past the TTLs and the retention: each list purges what it passes.
  clock_.Advance(absl::Seconds(60) + absl::Hours(24 * 90));
  EXPECT_EQ(Flatten(WalkForward(7)), lasting_main);
  ExpectInvariants();

  // Back from the last page's old token, whose Session is gone: every
  // lasting Session newer than it, newest first.
  std::vector<Sid> expected;
  for (size_t p = 0; p + 1 < before.size(); ++p) {
    for (const Session& s : before[p].sessions) {
      if (all_lasting.count(s.sid) != 0) expected.push_back(s.sid);
    }
  }
  std::vector<Sid> backward;
  params.page_token = before.back().previous_page_token;
  for (int guard = 0; !params.page_token.empty() && guard < 1000; ++guard) {
    absl::StatusOr<SessionPage> page = store_->ListSessions(other, params);
    ASSERT_TRUE(page.ok()) << page.status();
    const std::vector<Sid> sids = Sids(*page);
    backward.insert(backward.begin(), sids.begin(), sids.end());
    params.page_token = page->previous_page_token;
  }
  EXPECT_EQ(backward, expected);
  ExpectInvariants();
  EXPECT_EQ(expected.size() + 1, lasting_other.size());  // Not all, nor none.
}

INSTANTIATE_TEST_SUITE_P(Shards, StoreListShardsTest,
                         ::testing::Values(1, 2, 16, 256));

}  // namespace
}  // namespace sessionwheel
