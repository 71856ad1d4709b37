// Tests of Services in the store: create with a minted or caller-chosen SID,
// the unique_name and default_ttl rules, fetch, list, update, and delete with
// all of a Service's Sessions.
//
// Every test runs on a ManualClock set to 2026-01-01T00:00:00Z and a seeded
// store; times are compared exactly.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;
using testing_util::IsInvalidParameter;
using testing_util::IsProxyError;
using testing_util::IsSessionNotFound;
using testing_util::IsSid;
using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::kTwoByteChar;
using testing_util::Repeat;
using testing_util::SameSession;
using testing_util::StoreTest;

AssertionResult SameService(const Service& actual, const Service& expected) {
  if (actual == expected) return AssertionSuccess();
  auto describe = [](const Service& s) {
    return absl::StrCat(
        "{sid=", s.sid.ToString(), " unique_name=\"", s.unique_name,
        "\" default_ttl=", s.default_ttl,
        " created=", absl::FormatTime(s.date_created, absl::UTCTimeZone()),
        " updated=", absl::FormatTime(s.date_updated, absl::UTCTimeZone()),
        "}");
  };
  return AssertionFailure()
         << "got " << describe(actual) << "\nexpected " << describe(expected);
}

// The SID spelt `text`, which must parse.
Sid MustParse(std::string_view text) {
  std::optional<Sid> sid = Sid::Parse(text);
  EXPECT_TRUE(sid.has_value()) << text;
  return sid.value_or(Sid());
}

std::string UpperHex(std::string sid) {
  for (size_t i = 2; i < sid.size(); ++i) {
    if (sid[i] >= 'a' && sid[i] <= 'f') sid[i] = sid[i] - 'a' + 'A';
  }
  return sid;
}

class StoreServiceTest : public StoreTest {
 protected:
  absl::StatusOr<Service> CreateServiceWithSid(const Sid& sid,
                                               const std::string& name) {
    CreateServiceParams params;
    params.sid = sid;
    params.unique_name = name;
    return store_->CreateService(params);
  }
};

// Create ---------------------------------------------------------------------

TEST_F(StoreServiceTest, CreateMintsALowerCaseSidAndFillsTheFields) {
  At(absl::Seconds(3));
  absl::StatusOr<Service> service = CreateService("rides", 120);
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_TRUE(IsSid("KS", service->sid));
  EXPECT_NE(service->sid, ks_);
  EXPECT_EQ(store_->account_sid().ToString(), kAccountSid);
  EXPECT_EQ(service->unique_name, "rides");
  EXPECT_EQ(service->default_ttl, 120);
  EXPECT_EQ(service->date_created, kT0 + absl::Seconds(3));
  EXPECT_EQ(service->date_updated, kT0 + absl::Seconds(3));
  EXPECT_EQ(main_.default_ttl, 0);  // The default.
}

TEST_F(StoreServiceTest, CreateKeepsTheCallersSid) {
  const Sid sid = MustParse("KS0123456789abcdef0123456789abcdef");
  absl::StatusOr<Service> service = CreateServiceWithSid(sid, "configured");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(service->sid, sid);
  absl::StatusOr<Service> fetched = store_->FetchService(sid);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_TRUE(SameService(*fetched, *service));
}

TEST_F(StoreServiceTest, CreateAcceptsUpperCaseHexAndWritesLowerCase) {
  const std::string lower = "KS0123456789abcdef0123456789abcdef";
  absl::StatusOr<Service> service =
      CreateServiceWithSid(MustParse(UpperHex(lower)), "configured");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_EQ(service->sid.ToString(), lower);
  absl::StatusOr<Service> by_lower = store_->FetchService(MustParse(lower));
  ASSERT_TRUE(by_lower.ok()) << by_lower.status();
  EXPECT_EQ(by_lower->sid.ToString(), lower);
  absl::StatusOr<Service> by_upper =
      store_->FetchService(MustParse(UpperHex(lower)));
  ASSERT_TRUE(by_upper.ok()) << by_upper.status();
  EXPECT_EQ(by_upper->sid.ToString(), lower);
  // Sessions created under the upper-case spelling belong to the Service.
  absl::StatusOr<Session> session =
      store_->CreateSession(MustParse(UpperHex(lower)), CreateSessionParams());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->service_sid.ToString(), lower);
}

// Malformed text never becomes a Service SID (Sid::Parse refuses it), and a
// SID of another kind is refused by the store.
TEST_F(StoreServiceTest, CreateWithSidOfAnotherKindIs80701) {
  for (const std::string& text :
       {std::string("KSxyz"), std::string("KS"),
        std::string("ks0123456789abcdef0123456789abcdef"),
        std::string("KC0123456789abcdef0123456789abcdef"),
        std::string("KS0123456789abcdef0123456789abcdeg"),
        std::string("KS0123456789abcdef0123456789abcdef0")}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(Sid::Parse("KS", text), std::nullopt);
  }
  const uint64_t hi = 0x0123456789abcdef;
  const uint64_t lo = 0x0123456789abcdef;
  for (const Sid& sid :
       {Sid(), Sid("ks", hi, lo), Sid("KC", hi, lo), Sid("KP", hi, lo),
        Sid("AC", hi, lo), Sid("KC", ks_.hi(), ks_.lo())}) {
    SCOPED_TRACE(sid);
    EXPECT_TRUE(
        IsInvalidParameter(CreateServiceWithSid(sid, "configured"), "Sid"));
  }
  EXPECT_EQ(store_->Stats().services, 1);
}

TEST_F(StoreServiceTest, CreateWithTakenSidIsRefused) {
  const std::string text = "KS0123456789abcdef0123456789abcdef";
  const Sid sid = MustParse(text);
  ASSERT_TRUE(CreateServiceWithSid(sid, "first").ok());
  const absl::StatusOr<Service> second = CreateServiceWithSid(sid, "second");
  EXPECT_TRUE(IsProxyError(second, absl::StatusCode::kAlreadyExists,
                           kErrorInvalidParameter));
  // An 80701 still, so it names the parameter in the store's own words.
  EXPECT_EQ(InvalidParameterName(second.status()), "Sid");
  EXPECT_EQ(second.status().message(), "Sid: A Service with this SID exists.");
  // The same SID spelt in upper case is the same SID.
  EXPECT_TRUE(
      IsProxyError(CreateServiceWithSid(MustParse(UpperHex(text)), "third"),
                   absl::StatusCode::kAlreadyExists, kErrorInvalidParameter));
  // A minted SID cannot be taken either.
  EXPECT_TRUE(IsProxyError(CreateServiceWithSid(ks_, "fourth"),
                           absl::StatusCode::kAlreadyExists,
                           kErrorInvalidParameter));
  absl::StatusOr<Service> fetched = store_->FetchService(sid);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->unique_name, "first");
  // The refused names were not taken.
  EXPECT_TRUE(CreateService("second").ok());
  EXPECT_EQ(store_->Stats().services, 3);
}

TEST_F(StoreServiceTest, CreateWithoutUniqueNameIs80701) {
  EXPECT_TRUE(IsInvalidParameter(CreateService(""), "UniqueName"));
  EXPECT_EQ(store_->Stats().services, 1);
}

TEST_F(StoreServiceTest, UniqueNameOf191CharactersIsAccepted) {
  absl::StatusOr<Service> ascii = CreateService(std::string(191, 's'));
  ASSERT_TRUE(ascii.ok()) << ascii.status();
  EXPECT_EQ(ascii->unique_name, std::string(191, 's'));
  // Characters, not bytes: 191 two-byte characters are 382 bytes.
  absl::StatusOr<Service> wide = CreateService(Repeat(kTwoByteChar, 191));
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ(wide->unique_name, Repeat(kTwoByteChar, 191));
}

TEST_F(StoreServiceTest, UniqueNameOf192CharactersIs80701) {
  EXPECT_TRUE(
      IsInvalidParameter(CreateService(std::string(192, 's')), "UniqueName"));
  EXPECT_TRUE(IsInvalidParameter(CreateService(Repeat(kTwoByteChar, 192)),
                                 "UniqueName"));
}

TEST_F(StoreServiceTest, UniqueNameNotUtf8Is80701) {
  for (const std::string& name :
       {std::string("rides\xff"), std::string("\xc3"), std::string("a\xc3(b"),
        std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    EXPECT_TRUE(IsInvalidParameter(CreateService(name), "UniqueName"));
  }
  EXPECT_EQ(store_->Stats().services, 1);
}

TEST_F(StoreServiceTest, TakenUniqueNameIs80602) {
  EXPECT_TRUE(IsProxyError(CreateService("main"),
                           absl::StatusCode::kAlreadyExists,
                           kErrorServiceNameTaken));
  EXPECT_TRUE(
      IsProxyError(CreateServiceWithSid(
                       MustParse("KS0123456789abcdef0123456789abcdef"), "main"),
                   absl::StatusCode::kAlreadyExists, kErrorServiceNameTaken));
  EXPECT_EQ(store_->Stats().services, 1);
}

TEST_F(StoreServiceTest, NegativeDefaultTtlIs80701) {
  EXPECT_TRUE(IsInvalidParameter(CreateService("rides", -1), "DefaultTtl"));
  EXPECT_EQ(store_->Stats().services, 1);
}

// A Session without Ttl takes the Service's default_ttl unchecked, so the
// default has the bound of a Ttl: found by proxy_fake_fuzz, where
// DefaultTtl=9223372036854775807 overflowed base + ttl * 1000.
TEST_F(StoreServiceTest, DefaultTtlOverTheTtlBoundIs80701) {
  EXPECT_TRUE(
      IsInvalidParameter(CreateService("rides", 253402300800), "DefaultTtl"));
  EXPECT_TRUE(IsInvalidParameter(
      CreateService("rides", std::numeric_limits<int64_t>::max()),
      "DefaultTtl"));
  UpdateServiceParams huge;
  huge.default_ttl = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(
      IsInvalidParameter(store_->UpdateService(main_.sid, huge), "DefaultTtl"));
  EXPECT_EQ(store_->FetchService(main_.sid)->default_ttl, 0);
}

TEST_F(StoreServiceTest, LargestDefaultTtlGivesSessionsThatTtl) {
  absl::StatusOr<Service> service = CreateService("rides", 253402300799);
  ASSERT_TRUE(service.ok()) << service.status();
  absl::StatusOr<Session> session =
      store_->CreateSession(service->sid, CreateSessionParams());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->ttl, 253402300799);
  EXPECT_TRUE(store_->CheckInvariants().ok());
}

// Fetch ----------------------------------------------------------------------

TEST_F(StoreServiceTest, FetchBySidReturnsTheService) {
  absl::StatusOr<Service> fetched = store_->FetchService(ks_);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_TRUE(SameService(*fetched, main_));
}

TEST_F(StoreServiceTest, FetchByUniqueNameIsNotSupported) {
  // A Service is fetched by SID only (docs/semantics.md): the API takes no
  // name, and a name is no SID.
  static_assert(!std::is_invocable_v<decltype(&SessionStore::FetchService),
                                     SessionStore&, std::string_view>);
  static_assert(!std::is_invocable_v<decltype(&SessionStore::FetchService),
                                     SessionStore&, const char*>);
  EXPECT_EQ(Sid::Parse("main"), std::nullopt);
  EXPECT_EQ(Sid::Parse(main_.unique_name), std::nullopt);
}

TEST_F(StoreServiceTest, FetchOfSidOfAnotherKindOrUnknownSidIs20404) {
  const uint64_t hi = 0x0123456789abcdef;
  const uint64_t lo = 0x0123456789abcdef;
  for (const Sid& sid :
       {Sid(), Sid("KC", hi, lo), Sid("ks", ks_.hi(), ks_.lo()),
        Sid("KC", ks_.hi(), ks_.lo()), Sid("KS", hi, lo)}) {
    SCOPED_TRACE(sid);
    EXPECT_TRUE(IsProxyError(store_->FetchService(sid),
                             absl::StatusCode::kNotFound, kErrorNotFound));
  }
  EXPECT_EQ(store_->FetchService(Sid("KS", hi, lo)).status().message(),
            "Service KS0123456789abcdef0123456789abcdef not found");
}

// List
// -------------------------------------------------------------------------

TEST_F(StoreServiceTest, ListServicesPagesNewestFirst) {
  std::vector<Sid> newest_first = {ks_};
  for (int i = 1; i <= 4; ++i) {
    At(absl::Seconds(i));
    newest_first.insert(newest_first.begin(),
                        NewService(absl::StrCat("svc-", i)));
  }

  ListParams params;
  params.page_size = 2;
  std::vector<std::vector<Sid>> pages;
  std::vector<std::string> previous_tokens;
  for (int guard = 0; guard < 10; ++guard) {
    absl::StatusOr<ServicePage> page = store_->ListServices(params);
    ASSERT_TRUE(page.ok()) << page.status();
    std::vector<Sid> sids;
    for (const Service& s : page->services) sids.push_back(s.sid);
    if (sids.empty()) break;
    pages.push_back(sids);
    previous_tokens.push_back(page->previous_page_token);
    if (page->next_page_token.empty()) break;
    params.page_token = page->next_page_token;
  }
  ASSERT_EQ(pages.size(), 3u);
  EXPECT_TRUE(previous_tokens[0].empty());
  std::vector<Sid> walked;
  for (const auto& page : pages) {
    EXPECT_LE(page.size(), 2u);
    walked.insert(walked.end(), page.begin(), page.end());
  }
  EXPECT_EQ(walked, newest_first);

  // Walk back from the last page.
  ListParams back;
  back.page_size = 2;
  back.page_token = previous_tokens[2];
  absl::StatusOr<ServicePage> second = store_->ListServices(back);
  ASSERT_TRUE(second.ok()) << second.status();
  std::vector<Sid> second_sids;
  for (const Service& s : second->services) second_sids.push_back(s.sid);
  EXPECT_EQ(second_sids, pages[1]);
}

TEST_F(StoreServiceTest, ListServicesRefusesBadPageSizeAndToken) {
  ListParams params;
  params.page_size = 0;
  EXPECT_TRUE(IsInvalidParameter(store_->ListServices(params), "PageSize"));
  params.page_size = 1001;
  EXPECT_TRUE(IsInvalidParameter(store_->ListServices(params), "PageSize"));
  params.page_size = 1000;
  EXPECT_TRUE(store_->ListServices(params).ok());
  params.page_size = 50;
  params.page_token = "not-a-token";
  EXPECT_TRUE(IsProxyError(store_->ListServices(params),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
}

TEST_F(StoreServiceTest, ListServicesLeavesOutDeletedServices) {
  Sid other = NewService("other");
  ASSERT_TRUE(store_->DeleteService(ks_).ok());
  absl::StatusOr<ServicePage> page = store_->ListServices(ListParams());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->services.size(), 1u);
  EXPECT_EQ(page->services[0].sid, other);
  EXPECT_TRUE(page->next_page_token.empty());
}

// Update
// -----------------------------------------------------------------------

TEST_F(StoreServiceTest, UpdateChangesNameAndDefaultTtl) {
  At(absl::Seconds(30));
  UpdateServiceParams params;
  params.unique_name = "renamed";
  params.default_ttl = 600;
  absl::StatusOr<Service> updated = store_->UpdateService(ks_, params);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->sid, ks_);
  EXPECT_EQ(updated->unique_name, "renamed");
  EXPECT_EQ(updated->default_ttl, 600);
  EXPECT_EQ(updated->date_created, kT0);
  EXPECT_EQ(updated->date_updated, kT0 + absl::Seconds(30));
  absl::StatusOr<Service> fetched = store_->FetchService(ks_);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_TRUE(SameService(*fetched, *updated));
  // The old name is free, the new one is taken.
  EXPECT_TRUE(CreateService("main").ok());
  EXPECT_TRUE(IsProxyError(CreateService("renamed"),
                           absl::StatusCode::kAlreadyExists,
                           kErrorServiceNameTaken));
}

TEST_F(StoreServiceTest, UpdateOnlyDefaultTtlKeepsTheName) {
  UpdateServiceParams params;
  params.default_ttl = 60;
  absl::StatusOr<Service> updated = store_->UpdateService(ks_, params);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->unique_name, "main");
  EXPECT_EQ(updated->default_ttl, 60);
}

TEST_F(StoreServiceTest, UpdateRefusesTakenNameAndBadValues) {
  Sid other = NewService("other");
  UpdateServiceParams taken;
  taken.unique_name = "main";
  EXPECT_TRUE(IsProxyError(store_->UpdateService(other, taken),
                           absl::StatusCode::kAlreadyExists,
                           kErrorServiceNameTaken));
  UpdateServiceParams negative;
  negative.default_ttl = -5;
  EXPECT_TRUE(
      IsInvalidParameter(store_->UpdateService(other, negative), "DefaultTtl"));
  UpdateServiceParams empty_name;
  empty_name.unique_name = "";
  EXPECT_TRUE(IsInvalidParameter(store_->UpdateService(other, empty_name),
                                 "UniqueName"));
  UpdateServiceParams long_name;
  long_name.unique_name = std::string(192, 'x');
  EXPECT_TRUE(IsInvalidParameter(store_->UpdateService(other, long_name),
                                 "UniqueName"));
  absl::StatusOr<Service> fetched = store_->FetchService(other);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->unique_name, "other");
  EXPECT_EQ(fetched->default_ttl, 0);
}

TEST_F(StoreServiceTest, UpdateOfUnknownServiceIs20404) {
  UpdateServiceParams params;
  params.default_ttl = 5;
  EXPECT_TRUE(
      IsProxyError(store_->UpdateService(
                       MustParse("KS0123456789abcdef0123456789abcdef"), params),
                   absl::StatusCode::kNotFound, kErrorNotFound));
}

TEST_F(StoreServiceTest, NewDefaultTtlAppliesOnlyToSessionsCreatedAfterwards) {
  Session before = Create(ks_);
  EXPECT_EQ(before.ttl, 0);
  UpdateServiceParams params;
  params.default_ttl = 60;
  ASSERT_TRUE(store_->UpdateService(ks_, params).ok());
  Session after = Create(ks_);
  EXPECT_EQ(after.ttl, 60);

  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);
  absl::StatusOr<Session> old = store_->FetchSession(ks_, before.sid);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->ttl, 0);
  EXPECT_EQ(old->status, SessionStatus::kOpen);
  absl::StatusOr<Session> fresh = store_->FetchSession(ks_, after.sid);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->status, SessionStatus::kClosed);
  EXPECT_EQ(fresh->closed_reason, std::string(kReasonTtl));
  ExpectInvariants();
}

// Delete
// -----------------------------------------------------------------------

TEST_F(StoreServiceTest, DeleteRemovesTheServiceAndItsSessions) {
  CreateSessionParams named;
  named.unique_name = "ride-42";
  named.ttl = 60;
  Session a = Create(ks_, named);
  Session b = Create(ks_);
  Sid other = NewService("other");
  Session kept = Create(other, named);

  EXPECT_TRUE(store_->DeleteService(ks_).ok());
  EXPECT_TRUE(IsProxyError(store_->FetchService(ks_),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->FetchSession(ks_, a.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->FetchSession(ks_, "ride-42"),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->FetchSession(ks_, b.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->DeleteService(ks_),
                           absl::StatusCode::kNotFound, kErrorNotFound));

  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.services, 1);
  EXPECT_EQ(stats.sessions, 1);
  EXPECT_EQ(stats.named, 1);
  absl::StatusOr<Session> still = store_->FetchSession(other, "ride-42");
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->sid, kept.sid);

  // The deleted Session's expiry no longer fires.
  At(absl::Seconds(60));
  EXPECT_EQ(store_->Advance(), 1);  // Only `kept`, which has ttl 60 too.
  ExpectInvariants();
}

TEST_F(StoreServiceTest, DeletedServicesNameCanBeReused) {
  CreateSessionParams named;
  named.unique_name = "ride-42";
  Session old = Create(ks_, named);
  ASSERT_TRUE(store_->DeleteService(ks_).ok());

  absl::StatusOr<Service> reborn = CreateService("main");
  ASSERT_TRUE(reborn.ok()) << reborn.status();
  EXPECT_NE(reborn->sid, ks_);
  // The new Service starts empty and its Sessions may use the old names.
  EXPECT_TRUE(IsProxyError(store_->FetchSession(reborn->sid, old.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  Session fresh = Create(reborn->sid, named);
  EXPECT_NE(fresh.sid, old.sid);
  ExpectInvariants();
}

TEST_F(StoreServiceTest, DeletedServicesSidCanBeTakenAgain) {
  ASSERT_TRUE(store_->DeleteService(ks_).ok());
  absl::StatusOr<Service> again = CreateServiceWithSid(ks_, "main-again");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->sid, ks_);
}

// A Service delete in slices
// ---------------------------------------------------------

// A Service's Sessions go StoreOptions::bulk_slice at a time, with no lock
// held between slices: a listener hearing the first kDeleted events can
// use the store, other Services included, while the rest still wait; the
// deleted Service's Sessions are already out of sight; nothing is heard
// twice or lost.
class SlicedServiceDeleteTest : public StoreTest {
 protected:
  static constexpr int kSlice = 2;
  void ConfigureStore(StoreOptions& options) override {
    options.shards = 1;  // All in one shard: many slices.
    options.bulk_slice = kSlice;
  }
};

class MidDeleteListener : public SessionListener {
 public:
  MidDeleteListener(SessionStore* store, Sid doomed, Sid other,
                    std::vector<Sid> doomed_sessions)
      : store_(store),
        doomed_(doomed),
        other_(other),
        doomed_sessions_(std::move(doomed_sessions)) {}

  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kDeleted) return;
    deleted_.push_back(e.sid);
    held_when_heard_.push_back(store_->Stats().sessions);
    // Between slices: the registry and the shard are free.
    if (store_->CreateSession(other_, CreateSessionParams(), nullptr).ok()) {
      ++created_;
    }
    if (store_->ListServices(ListParams()).ok()) ++listed_;
    for (const Sid& sid : doomed_sessions_) {
      if (store_->FetchSession(doomed_, sid).ok()) ++seen_doomed_;
    }
  }

  std::vector<Sid> deleted_;
  std::vector<int64_t> held_when_heard_;
  int created_ = 0;
  int listed_ = 0;
  int seen_doomed_ = 0;

 private:
  SessionStore* const store_;
  const Sid doomed_;
  const Sid other_;
  const std::vector<Sid> doomed_sessions_;
};

TEST_F(SlicedServiceDeleteTest, SessionsGoInSlicesWhileTheStoreServesOthers) {
  constexpr int kSessions = 20;
  std::vector<Sid> doomed;
  for (int i = 0; i < kSessions; ++i) {
    CreateSessionParams params;
    if (i % 2 == 0) params.unique_name = absl::StrCat("ride-", i);
    params.ttl = 60;
    doomed.push_back(Create(ks_, params).sid);
  }
  Sid other = NewService("other");
  auto listener =
      std::make_shared<MidDeleteListener>(store_.get(), ks_, other, doomed);
  store_->AddListener(listener);

  ASSERT_TRUE(store_->DeleteService(ks_).ok());

  // Each Session heard once.
  std::vector<Sid> heard = listener->deleted_;
  std::sort(heard.begin(), heard.end());
  std::sort(doomed.begin(), doomed.end());
  EXPECT_EQ(heard, doomed);
  // Heard a slice at a time: the first events while all but one slice
  // were still held, and each later slice at most kSlice fewer. Every
  // event's callback also created one Session in `other`.
  ASSERT_EQ(listener->held_when_heard_.size(), static_cast<size_t>(kSessions));
  for (int i = 0; i < kSessions; ++i) {
    const int slice = i / kSlice;
    EXPECT_EQ(listener->held_when_heard_[i],
              kSessions - kSlice * (slice + 1) + i)
        << "event " << i;
  }
  EXPECT_EQ(listener->created_, kSessions);
  EXPECT_EQ(listener->listed_, kSessions);
  EXPECT_EQ(listener->seen_doomed_, 0);
  EXPECT_EQ(store_->Stats().sessions, kSessions);  // Those in `other`.
  // The deleted Sessions' expiry never fires.
  At(absl::Seconds(61));
  EXPECT_EQ(store_->Advance(), 0);
  ExpectInvariants();
}

// A caller may take a deleted Service's SID again while its Sessions are
// still going: their names are free at once in the new Service.
class RebornListener : public SessionListener {
 public:
  RebornListener(SessionStore* store, Sid sid) : store_(store), sid_(sid) {}
  void OnEvent(const SessionEvent& e) noexcept override {
    if (e.type != EventType::kDeleted || reborn_.has_value()) return;
    CreateServiceParams service;
    service.sid = sid_;
    service.unique_name = "reborn";
    reborn_ = store_->CreateService(service).status();
    CreateSessionParams named;
    named.unique_name = "ride-0";  // The first created: the last to go.
    absl::StatusOr<Session> s = store_->CreateSession(sid_, named);
    session_ = s.status();
    if (s.ok()) sid_of_session_ = s->sid;
  }
  std::optional<absl::Status> reborn_;
  absl::Status session_;
  Sid sid_of_session_;

 private:
  SessionStore* const store_;
  const Sid sid_;
};

TEST_F(SlicedServiceDeleteTest, ADeletedServicesSidAndNamesAreFreeMidDelete) {
  for (int i = 0; i < 10; ++i) {
    CreateSessionParams params;
    params.unique_name = absl::StrCat("ride-", i);
    Create(ks_, params);
  }
  auto listener = std::make_shared<RebornListener>(store_.get(), ks_);
  store_->AddListener(listener);
  ASSERT_TRUE(store_->DeleteService(ks_).ok());
  ASSERT_TRUE(listener->reborn_.has_value());
  EXPECT_TRUE(listener->reborn_->ok()) << *listener->reborn_;
  EXPECT_TRUE(listener->session_.ok()) << listener->session_;
  absl::StatusOr<Session> held = store_->FetchSession(ks_, "ride-0");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->sid, listener->sid_of_session_);
  EXPECT_EQ(store_->Stats().sessions, 1);
  ExpectInvariants();
}

TEST_F(StoreServiceTest, DeleteOfUnknownServiceIs20404) {
  EXPECT_TRUE(IsProxyError(
      store_->DeleteService(MustParse("KS0123456789abcdef0123456789abcdef")),
      absl::StatusCode::kNotFound, kErrorNotFound));
  // A SID of another kind, even with the Service's bits, deletes nothing.
  for (const Sid& sid : {Sid(), Sid("KC", ks_.hi(), ks_.lo())}) {
    SCOPED_TRACE(sid);
    EXPECT_TRUE(IsProxyError(store_->DeleteService(sid),
                             absl::StatusCode::kNotFound, kErrorNotFound));
  }
  EXPECT_TRUE(store_->FetchService(ks_).ok());
  EXPECT_EQ(store_->Stats().services, 1);
}

// Sessions belong to one Service
// -------------------------------------------------

TEST_F(StoreServiceTest, SessionsOfAnotherServiceAreNotFoundUnderThisOne) {
  Sid other = NewService("other");
  CreateSessionParams named;
  named.unique_name = "ride-42";
  Session theirs = Create(other, named);

  const auto kNotFound = absl::StatusCode::kNotFound;
  EXPECT_TRUE(IsSessionNotFound(store_->FetchSession(ks_, theirs.sid), ks_,
                                theirs.sid));
  EXPECT_TRUE(
      IsSessionNotFound(store_->FetchSession(ks_, "ride-42"), ks_, "ride-42"));
  UpdateSessionParams close;
  close.status = SessionStatus::kClosed;
  EXPECT_TRUE(IsProxyError(store_->UpdateSession(ks_, theirs.sid, close),
                           kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->RecordInteraction(ks_, theirs.sid),
                           kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->CloseSession(ks_, theirs.sid, "x"),
                           kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->FailSession(ks_, theirs.sid, "x"), kNotFound,
                           kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->DeleteSession(ks_, theirs.sid), kNotFound,
                           kErrorNotFound));
  absl::StatusOr<SessionPage> page = store_->ListSessions(ks_, ListParams());
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->sessions.empty());

  absl::StatusOr<Session> untouched = store_->FetchSession(other, theirs.sid);
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  EXPECT_TRUE(SameSession(*untouched, theirs));
  ExpectInvariants();
}

}  // namespace
}  // namespace sessionwheel
