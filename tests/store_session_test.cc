// Tests of a Session's life in the store: create, fetch, update by the
// transition table of docs/semantics.md ("Update and status"), delete, and the
// engine-only operations (RecordInteraction, CloseSession, FailSession).
//
// Every test runs on a ManualClock set to 2026-01-01T00:00:00Z and a seeded
// store; time moves only by clock_.Set/Advance, and times are compared
// exactly.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
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

using testing_util::FetchByNames;
using testing_util::IsInvalidParameter;
using testing_util::IsProxyError;
using testing_util::IsSessionNotFound;
using testing_util::IsSid;
using testing_util::kAccountSid;
using testing_util::kT0;
using testing_util::kTwoByteChar;
using testing_util::NameBatch;
using testing_util::Repeat;
using testing_util::SameSession;
using testing_util::StoreTest;

class StoreSessionTest : public StoreTest {
 protected:
  Session CreateNamed(const std::string& name) {
    CreateSessionParams params;
    params.unique_name = name;
    return Create(params);
  }

  Session CreateWithStatus(SessionStatus status) {
    CreateSessionParams params;
    params.status = status;
    return Create(params);
  }

  // Expects a batch's answers for `keys` (SIDs or names) to be what
  // FetchSession answers for each now: the same status and, when found,
  // the same Session.
  template <typename Key>
  void ExpectEachAsFetchSession(const std::vector<Key>& keys,
                                const std::vector<absl::Status>& statuses,
                                const std::vector<Session>& batch) {
    for (size_t i = 0; i < keys.size(); ++i) {
      Session one;
      const absl::Status single = store_->FetchSession(ks_, keys[i], &one);
      EXPECT_EQ(statuses[i], single) << "at " << i;
      if (single.ok()) {
        EXPECT_TRUE(SameSession(batch[i], one)) << "at " << i;
      }
    }
  }

  absl::StatusOr<Session> Update(const Sid& sid,
                                 const UpdateSessionParams& params) {
    return store_->UpdateSession(ks_, sid, params);
  }

  absl::StatusOr<Session> UpdateStatus(const Sid& sid, SessionStatus status) {
    UpdateSessionParams params;
    params.status = status;
    return Update(sid, params);
  }

  // Returns a Session of the fixture's Service in `status`, reached through
  // the API: interaction for in-progress, create for unknown, an update for
  // closed and FailSession for failed.
  Session InStatus(SessionStatus status) {
    if (status == SessionStatus::kUnknown) return CreateWithStatus(status);
    Session session = Create();
    absl::Status moved;
    switch (status) {
      case SessionStatus::kOpen:
      case SessionStatus::kUnknown:
        break;
      case SessionStatus::kInProgress:
        moved = store_->RecordInteraction(ks_, session.sid);
        break;
      case SessionStatus::kClosed:
        moved = UpdateStatus(session.sid, SessionStatus::kClosed).status();
        break;
      case SessionStatus::kFailed:
        moved = store_->FailSession(ks_, session.sid, "carrier-error");
        break;
    }
    EXPECT_TRUE(moved.ok()) << moved;
    if (!moved.ok()) return session;
    Session now = MustFetch(session.sid);
    EXPECT_EQ(now.status, status);
    return now;
  }
};

// Create ---------------------------------------------------------------------

TEST_F(StoreSessionTest, CreateWithNoParametersAppliesTheDefaults) {
  At(absl::Milliseconds(1500));
  absl::StatusOr<Session> created = store_->CreateSession(ks_, {});
  ASSERT_TRUE(created.ok()) << created.status();
  const absl::Time now = kT0 + absl::Milliseconds(1500);
  EXPECT_TRUE(IsSid("KC", created->sid));
  EXPECT_EQ(created->service_sid, ks_);
  EXPECT_EQ(store_->account_sid().ToString(), kAccountSid);
  EXPECT_EQ(created->unique_name, std::nullopt);
  EXPECT_EQ(created->status, SessionStatus::kOpen);
  EXPECT_EQ(created->closed_reason, std::nullopt);
  EXPECT_EQ(created->ttl, 0);
  EXPECT_EQ(created->mode, SessionMode::kVoiceAndMessage);
  EXPECT_EQ(created->date_created, now);
  EXPECT_EQ(created->date_updated, now);
  EXPECT_EQ(created->date_started, now);
  EXPECT_EQ(created->date_started, created->date_created);
  EXPECT_EQ(created->date_ended, std::nullopt);
  EXPECT_EQ(created->date_last_interaction, std::nullopt);
  EXPECT_EQ(created->date_expiry, std::nullopt);
  EXPECT_TRUE(created->participants.empty());
  EXPECT_TRUE(SameSession(MustFetch(created->sid), *created));
}

TEST_F(StoreSessionTest, CreateWithoutTtlTakesTheServiceDefaultTtl) {
  ks_ = NewService("with-default", 300);
  Session session = Create();
  EXPECT_EQ(session.ttl, 300);

  // The default is a real TTL: the Session closes 300 s after create.
  At(absl::Seconds(300));
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kClosed);
  EXPECT_EQ(fetched.closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(fetched.date_ended, kT0 + absl::Seconds(300));
}

TEST_F(StoreSessionTest, CreateWithExplicitTtlZeroMeansNoTtl) {
  ks_ = NewService("with-default", 300);
  CreateSessionParams params;
  params.ttl = 0;
  Session session = Create(params);
  EXPECT_EQ(session.ttl, 0);

  At(absl::Hours(24 * 30));
  EXPECT_EQ(store_->Advance(), 0);
  Session fetched = MustFetch(session.sid);
  EXPECT_EQ(fetched.status, SessionStatus::kOpen);
  EXPECT_EQ(fetched.date_ended, std::nullopt);
}

TEST_F(StoreSessionTest, CreateWithExplicitTtlOverridesTheServiceDefault) {
  ks_ = NewService("with-default", 300);
  CreateSessionParams params;
  params.ttl = 45;
  EXPECT_EQ(Create(params).ttl, 45);
}

TEST_F(StoreSessionTest, CreateKeepsEachMode) {
  for (SessionMode mode : {SessionMode::kMessageOnly, SessionMode::kVoiceOnly,
                           SessionMode::kVoiceAndMessage}) {
    SCOPED_TRACE(ModeName(mode));
    CreateSessionParams params;
    params.mode = mode;
    Session session = Create(params);
    EXPECT_EQ(session.mode, mode);
    EXPECT_EQ(MustFetch(session.sid).mode, mode);
  }
}

TEST_F(StoreSessionTest, CreateWithStatusOpenInProgressOrUnknownKeepsIt) {
  for (SessionStatus status : {SessionStatus::kOpen, SessionStatus::kInProgress,
                               SessionStatus::kUnknown}) {
    SCOPED_TRACE(StatusName(status));
    Session session = CreateWithStatus(status);
    EXPECT_EQ(session.status, status);
    EXPECT_EQ(session.date_ended, std::nullopt);
    EXPECT_EQ(session.closed_reason, std::nullopt);
    EXPECT_EQ(MustFetch(session.sid).status, status);
  }
}

TEST_F(StoreSessionTest,
       CreateWithStatusClosedRecordsDateEndedNowAndReasonApi) {
  At(absl::Seconds(7));
  Session session = CreateWithStatus(SessionStatus::kClosed);
  EXPECT_EQ(session.status, SessionStatus::kClosed);
  EXPECT_EQ(session.date_ended, kT0 + absl::Seconds(7));
  EXPECT_EQ(session.closed_reason, std::string(kReasonApi));
  EXPECT_EQ(session.date_created, kT0 + absl::Seconds(7));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

TEST_F(StoreSessionTest,
       CreateWithStatusFailedRecordsDateEndedNowAndReasonApi) {
  At(absl::Seconds(7));
  Session session = CreateWithStatus(SessionStatus::kFailed);
  EXPECT_EQ(session.status, SessionStatus::kFailed);
  EXPECT_EQ(session.date_ended, kT0 + absl::Seconds(7));
  EXPECT_EQ(session.closed_reason, std::string(kReasonApi));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

TEST_F(StoreSessionTest, CreateWithDateExpiryAndTtlStoresBoth) {
  CreateSessionParams params;
  params.ttl = 60;
  params.date_expiry = kT0 + absl::Hours(2);
  Session session = Create(params);
  EXPECT_EQ(session.ttl, 60);
  EXPECT_EQ(session.date_expiry, kT0 + absl::Hours(2));
}

TEST_F(StoreSessionTest, CreateWithTakenUniqueNameIs80603) {
  Session first = CreateNamed("ride-42");
  EXPECT_EQ(first.unique_name, std::string("ride-42"));
  CreateSessionParams params;
  params.unique_name = "ride-42";
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, params),
                           absl::StatusCode::kAlreadyExists,
                           kErrorSessionNameTaken));
}

TEST_F(StoreSessionTest, UniqueNameIsFreeAgainAfterDelete) {
  Session first = CreateNamed("ride-42");
  ASSERT_TRUE(store_->DeleteSession(ks_, first.sid).ok());
  Session second = CreateNamed("ride-42");
  EXPECT_NE(second.sid, first.sid);
  EXPECT_EQ(MustFetch("ride-42").sid, second.sid);
  ExpectInvariants();
}

TEST_F(StoreSessionTest, ClosedSessionKeepsItsUniqueName) {
  Session first = CreateNamed("ride-42");
  ASSERT_TRUE(UpdateStatus(first.sid, SessionStatus::kClosed).ok());
  CreateSessionParams params;
  params.unique_name = "ride-42";
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, params),
                           absl::StatusCode::kAlreadyExists,
                           kErrorSessionNameTaken));
  EXPECT_EQ(MustFetch("ride-42").sid, first.sid);
}

TEST_F(StoreSessionTest, SameUniqueNameIsAllowedInTwoServices) {
  Session in_main = CreateNamed("ride-42");
  Sid other = NewService("other");
  CreateSessionParams params;
  params.unique_name = "ride-42";
  absl::StatusOr<Session> in_other = store_->CreateSession(other, params);
  ASSERT_TRUE(in_other.ok()) << in_other.status();
  EXPECT_NE(in_other->sid, in_main.sid);
  EXPECT_EQ(MustFetch("ride-42").sid, in_main.sid);
  absl::StatusOr<Session> fetched = store_->FetchSession(other, "ride-42");
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->sid, in_other->sid);
  ExpectInvariants();
}

TEST_F(StoreSessionTest, CreateWithDateExpiryNotAfterNowIs80701) {
  At(absl::Seconds(10));
  CreateSessionParams params;
  params.date_expiry = kT0 + absl::Seconds(10);  // Equal to now.
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "DateExpiry"));
  params.date_expiry = kT0;  // In the past.
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "DateExpiry"));
  params.date_expiry = kT0 + absl::Seconds(10) + absl::Milliseconds(1);
  EXPECT_TRUE(store_->CreateSession(ks_, params).ok());
  EXPECT_EQ(store_->Stats().sessions, 1);
}

TEST_F(StoreSessionTest, CreateWithNegativeTtlIs80701) {
  CreateSessionParams params;
  params.ttl = -1;
  EXPECT_TRUE(IsInvalidParameter(store_->CreateSession(ks_, params), "Ttl"));
  EXPECT_EQ(store_->Stats().sessions, 0);
}

TEST_F(StoreSessionTest, CreateWithUniqueNameOf191CharactersIsAccepted) {
  Session ascii = CreateNamed(std::string(191, 'n'));
  EXPECT_EQ(ascii.unique_name, std::string(191, 'n'));
  // 191 characters of two bytes each: the limit counts characters.
  Session wide = CreateNamed(Repeat(kTwoByteChar, 191));
  EXPECT_EQ(wide.unique_name, Repeat(kTwoByteChar, 191));
  EXPECT_EQ(MustFetch(Repeat(kTwoByteChar, 191)).sid, wide.sid);
}

TEST_F(StoreSessionTest, CreateWithUniqueNameOf192CharactersIs80701) {
  CreateSessionParams params;
  params.unique_name = std::string(192, 'n');
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "UniqueName"));
  params.unique_name = Repeat(kTwoByteChar, 192);
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "UniqueName"));
}

TEST_F(StoreSessionTest, CreateWithUniqueNameNotUtf8Is80701) {
  for (std::string bad :
       {std::string("ride\xff"), std::string("\xc3"), std::string("a\xc3(b"),
        std::string("\xed\xa0\x80"), std::string("\xc0\xaf")}) {
    CreateSessionParams params;
    params.unique_name = bad;
    EXPECT_TRUE(
        IsInvalidParameter(store_->CreateSession(ks_, params), "UniqueName"));
  }
  EXPECT_EQ(store_->Stats().sessions, 0);
}

TEST_F(StoreSessionTest, CreateWithEmptyUniqueNameIs80701) {
  CreateSessionParams params;
  params.unique_name = "";
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "UniqueName"));
}

TEST_F(StoreSessionTest, CreateWithUnknownModeOrStatusValueIs80701) {
  // The enums have a fixed underlying type, so a host can hand the store a
  // value with no wire string; it is refused naming the parameter
  // (docs/semantics.md, "Expiry", unknown enum values).
  CreateSessionParams bad_mode;
  bad_mode.mode = static_cast<SessionMode>(42);
  EXPECT_TRUE(IsInvalidParameter(store_->CreateSession(ks_, bad_mode), "Mode"));
  CreateSessionParams bad_status;
  bad_status.status = static_cast<SessionStatus>(42);
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, bad_status), "Status"));
  EXPECT_EQ(store_->Stats().sessions, 0);
}

TEST_F(StoreSessionTest, CreateWithThreeParticipantsIs80609) {
  CreateSessionParams params;
  for (int i = 0; i < 3; ++i) {
    params.participants.push_back(
        {absl::StrCat("+1555000000", i), absl::StrCat("p", i), ""});
  }
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, params),
                           absl::StatusCode::kInvalidArgument,
                           kErrorTooManyParticipants));
  EXPECT_EQ(store_->Stats().sessions, 0);
}

TEST_F(StoreSessionTest, CreateWithTwoParticipantsMintsParticipantSids) {
  CreateSessionParams params;
  params.participants.push_back({"+15550000001", "Alice", "+15559990000"});
  params.participants.push_back({"+15550000002", "Bob", ""});
  Session session = Create(params);
  ASSERT_EQ(session.participants.size(), 2u);
  EXPECT_TRUE(IsSid("KP", session.participants[0].sid));
  EXPECT_TRUE(IsSid("KP", session.participants[1].sid));
  EXPECT_NE(session.participants[0].sid, session.participants[1].sid);
  EXPECT_EQ(session.participants[0].identifier, "+15550000001");
  EXPECT_EQ(session.participants[0].friendly_name, "Alice");
  EXPECT_EQ(session.participants[0].proxy_identifier, "+15559990000");
  EXPECT_EQ(session.participants[1].identifier, "+15550000002");
  EXPECT_EQ(session.participants[1].friendly_name, "Bob");
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

// A Participant's fields are bounded in characters, as Twilio's Participant
// resource bounds them (191 for an identifier, 255 for a friendly name; a
// proxy identifier as an identifier), and must be valid UTF-8: the store
// keeps them, so a caller cannot make it keep more.
TEST_F(StoreSessionTest, ParticipantFieldsAreBoundedInCharacters) {
  constexpr char kFourByteChar[] = "\xf0\x9f\x98\x80";
  struct Case {
    std::string ParticipantParams::*field;
    const char* name;
    int most;
  };
  for (const Case& c :
       {Case{&ParticipantParams::identifier, "Identifier", 191},
        Case{&ParticipantParams::friendly_name, "FriendlyName", 255},
        Case{&ParticipantParams::proxy_identifier, "ProxyIdentifier", 191}}) {
    SCOPED_TRACE(c.name);
    const int64_t held = store_->Stats().sessions;
    CreateSessionParams fits;
    fits.participants.resize(2);
    fits.participants[1].*c.field = Repeat(kFourByteChar, c.most);
    Session session = Create(fits);
    ASSERT_EQ(session.participants.size(), 2u);
    const Participant& kept = session.participants[1];
    const ParticipantParams& given = fits.participants[1];
    EXPECT_EQ(kept.identifier, given.identifier);
    EXPECT_EQ(kept.friendly_name, given.friendly_name);
    EXPECT_EQ(kept.proxy_identifier, given.proxy_identifier);

    CreateSessionParams over;
    over.unique_name = absl::StrCat("over-", c.name);
    over.participants.resize(2);
    over.participants[1].*c.field = Repeat("x", c.most + 1);
    absl::StatusOr<Session> refused = store_->CreateSession(ks_, over);
    ASSERT_TRUE(IsInvalidParameter(refused, "Participants"));
    EXPECT_EQ(refused.status().message(),
              absl::StrCat("Participants: Its ", c.name, " must be ", c.most,
                           " characters or fewer."));

    over.participants[1].*c.field = "\xff";
    refused = store_->CreateSession(ks_, over);
    ASSERT_TRUE(IsInvalidParameter(refused, "Participants"));
    EXPECT_EQ(
        refused.status().message(),
        absl::StrCat("Participants: Its ", c.name, " must be valid UTF-8."));
    // Nothing was kept: one Session more, and the name is free.
    EXPECT_EQ(store_->Stats().sessions, held + 1);
    EXPECT_TRUE(IsSessionNotFound(store_->FetchSession(ks_, *over.unique_name),
                                  ks_, *over.unique_name));
  }
}

// The Participants' fields are checked after their number and before the
// UniqueName (docs/semantics.md, "Order of checks").
TEST_F(StoreSessionTest, ParticipantFieldsAreCheckedAfterTheirNumber) {
  CreateSessionParams params;
  params.unique_name = Repeat("n", 192);
  params.participants = {{Repeat("1", 192), "", ""}};
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "Participants"));
  params.participants.resize(3);
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, params),
                           absl::StatusCode::kInvalidArgument,
                           kErrorTooManyParticipants));
}

TEST_F(StoreSessionTest, CreateUnderUnknownServiceIs20404) {
  EXPECT_TRUE(IsProxyError(store_->CreateSession(Sid("KS", 0, 0), {}),
                           absl::StatusCode::kNotFound, kErrorNotFound));
}

TEST_F(StoreSessionTest, SeededStoresMintTheSameSids) {
  ManualClock clock(kT0);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 20260101;
  options.account_sid = kAccountSid;
  std::vector<Sid> sids[2];
  for (auto& run : sids) {
    auto store = SessionStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    CreateServiceParams service;
    service.unique_name = "main";
    auto ks = (*store)->CreateService(service);
    ASSERT_TRUE(ks.ok()) << ks.status();
    run.push_back(ks->sid);
    for (int i = 0; i < 3; ++i) {
      auto s = (*store)->CreateSession(ks->sid, {});
      ASSERT_TRUE(s.ok()) << s.status();
      run.push_back(s->sid);
    }
  }
  EXPECT_EQ(sids[0], sids[1]);
}

// Fetch ----------------------------------------------------------------------

TEST_F(StoreSessionTest, FetchBySidReturnsTheSession) {
  Session created = CreateNamed("ride-42");
  EXPECT_TRUE(SameSession(MustFetch(created.sid), created));
}

TEST_F(StoreSessionTest, FetchByUniqueNameReturnsTheSession) {
  Session created = CreateNamed("ride-42");
  EXPECT_TRUE(SameSession(MustFetch("ride-42"), created));
}

TEST_F(StoreSessionTest, FetchAcceptsUpperCaseHexSid) {
  Session created = Create();
  std::string upper = created.sid.ToString();
  for (size_t i = 2; i < upper.size(); ++i) {
    if (upper[i] >= 'a' && upper[i] <= 'f') upper[i] = upper[i] - 'a' + 'A';
  }
  EXPECT_TRUE(SameSession(MustFetch(upper), created));
}

TEST_F(StoreSessionTest, FetchLooksUpSidBeforeName) {
  Session first = Create();
  // A second Session named after the first one's SID, and a third named with
  // a SID no Session has: the SID wins, else the name is found.
  Session second = CreateNamed(first.sid.ToString());
  const std::string sid_shaped = "KC0123456789abcdef0123456789abcdef";
  Session third = CreateNamed(sid_shaped);
  EXPECT_EQ(MustFetch(first.sid.ToString()).sid, first.sid);
  EXPECT_EQ(MustFetch(sid_shaped).sid, third.sid);
  EXPECT_NE(second.sid, first.sid);
}

TEST_F(StoreSessionTest, FetchUnknownSidIs20404WithTheResourceInTheMessage) {
  const std::string text = "KC0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(IsSessionNotFound(Fetch(text), ks_, text));
  const Sid sid = Sid::Parse(text).value();
  EXPECT_TRUE(IsSessionNotFound(Fetch(sid), ks_, text));
}

TEST_F(StoreSessionTest, FetchUnknownNameIs20404WithTheResourceInTheMessage) {
  EXPECT_TRUE(IsSessionNotFound(Fetch("no-such-ride"), ks_, "no-such-ride"));
}

TEST_F(StoreSessionTest, FetchUnderAnotherServiceIs20404) {
  Session created = CreateNamed("ride-42");
  Sid other = NewService("other");
  EXPECT_TRUE(IsSessionNotFound(store_->FetchSession(other, created.sid), other,
                                created.sid));
  EXPECT_TRUE(IsSessionNotFound(store_->FetchSession(other, "ride-42"), other,
                                "ride-42"));
}

TEST_F(StoreSessionTest, FetchUnderUnknownServiceIs20404) {
  Session created = Create();
  EXPECT_TRUE(IsProxyError(store_->FetchSession(Sid("KS", 0, 0), created.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  // A SID of another kind as the Service: the Session's own, and one with the
  // Service's bits but another prefix.
  EXPECT_TRUE(IsProxyError(store_->FetchSession(created.sid, created.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(
      store_->FetchSession(Sid("KC", ks_.hi(), ks_.lo()), created.sid),
      absl::StatusCode::kNotFound, kErrorNotFound));
}

// A batch answers each SID as FetchSession would, in order: live ones,
// one deleted, one never minted, one of another Service, and one whose TTL
// ran out, which the batch closes as a single fetch does. More SIDs than
// the batch reads ahead, so its window slides.
TEST_F(StoreSessionTest, FetchSessionsAnswersEachAsFetchSessionDoes) {
  const Sid other_service = NewService("other");
  std::vector<Sid> sids;
  for (int i = 0; i < 40; ++i) sids.push_back(Create().sid);
  ASSERT_TRUE(store_->DeleteSession(ks_, sids[3]).ok());
  sids.push_back(Sid("KC", 1, 2));
  sids.push_back(Create(other_service, CreateSessionParams()).sid);
  CreateSessionParams short_lived;
  short_lived.ttl = 5;
  sids.push_back(Create(short_lived).sid);
  sids.push_back(sids[0]);  // Twice in one batch.
  At(absl::Seconds(5));

  std::vector<Session> batch(sids.size());
  std::vector<absl::Status> statuses(sids.size());
  ASSERT_TRUE(store_
                  ->FetchSessions(ks_, sids, absl::MakeSpan(batch),
                                  absl::MakeSpan(statuses))
                  .ok());
  ExpectEachAsFetchSession(sids, statuses, batch);
  EXPECT_TRUE(
      IsProxyError(statuses[3], absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(
      IsProxyError(statuses[40], absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(
      IsProxyError(statuses[41], absl::StatusCode::kNotFound, kErrorNotFound));
  // A Session not found leaves its place alone.
  EXPECT_TRUE(SameSession(batch[40], Session()));
  EXPECT_EQ(batch[42].status, SessionStatus::kClosed);
  EXPECT_EQ(batch[42].closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(batch[0].sid, sids[0]);
  EXPECT_EQ(batch[43].sid, sids[0]);
  ExpectInvariants();
}

// The same for names: live ones over every shard, more a shard than the
// batch reads ahead; one deleted, one never held, one of another Service,
// a SID's text, a name that reads as a SID no Session has, one whose TTL
// ran out (the batch closes it as a single fetch does), and one named
// twice. (More than one hold of a shard's lock: the one-shard test below.)
TEST_F(StoreSessionTest, FetchSessionsByNameAnswersEachAsFetchSessionDoes) {
  const Sid other_service = NewService("other");
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("name-" + std::to_string(i));
    CreateNamed(keys.back());
  }
  const Session deleted = CreateNamed("deleted");
  ASSERT_TRUE(store_->DeleteSession(ks_, deleted.sid).ok());
  keys.push_back("deleted");  // 300
  keys.push_back("never");    // 301
  CreateSessionParams elsewhere;
  elsewhere.unique_name = "elsewhere";
  Create(other_service, elsewhere);
  keys.push_back("elsewhere");              // 302
  keys.push_back(Create().sid.ToString());  // 303
  CreateSessionParams short_lived;
  short_lived.unique_name = "short";
  short_lived.ttl = 5;
  Create(short_lived);
  keys.push_back("short");   // 304
  keys.push_back("name-7");  // 305
  const std::string sid_like = Sid("KC", 7, 7).ToString();
  CreateNamed(sid_like);
  keys.push_back(sid_like);  // 306
  At(absl::Seconds(5));

  const std::vector<std::string_view> names(keys.begin(), keys.end());
  const NameBatch fetched = FetchByNames(*store_, ks_, names);
  ASSERT_TRUE(fetched.call.ok()) << fetched.call;
  ExpectEachAsFetchSession(names, fetched.statuses, fetched.out);
  for (size_t i : {300, 301, 302}) {
    EXPECT_TRUE(IsProxyError(fetched.statuses[i], absl::StatusCode::kNotFound,
                             kErrorNotFound))
        << "at " << i;
  }
  EXPECT_TRUE(SameSession(fetched.out[301], Session()));  // Left alone.
  EXPECT_EQ(fetched.out[0].unique_name, "name-0");
  EXPECT_EQ(fetched.out[299].unique_name, "name-299");
  EXPECT_EQ(fetched.out[303].sid.ToString(), keys[303]);
  EXPECT_EQ(fetched.out[304].status, SessionStatus::kClosed);
  EXPECT_EQ(fetched.out[304].closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(fetched.out[305].sid, fetched.out[7].sid);
  ASSERT_TRUE(fetched.statuses[306].ok()) << fetched.statuses[306];
  EXPECT_EQ(fetched.out[306].unique_name, sid_like);
  ExpectInvariants();
}

TEST_F(StoreSessionTest, FetchSessionsByNameUnderAnUnknownServiceIs20404) {
  CreateNamed("a");
  const std::vector<std::string_view> names = {"a", "b"};
  for (const Sid& service : {Sid("KS", 0, 0), Sid("KC", ks_.hi(), ks_.lo())}) {
    const NameBatch fetched = FetchByNames(*store_, service, names);
    ASSERT_TRUE(fetched.call.ok()) << fetched.call;
    for (size_t i = 0; i < names.size(); ++i) {
      const absl::Status& status = fetched.statuses[i];
      EXPECT_EQ(status, store_->FetchSession(service, names[i]).status());
      EXPECT_TRUE(
          IsProxyError(status, absl::StatusCode::kNotFound, kErrorNotFound));
    }
  }
}

// Both batch calls refuse buffers of another size than their keys, and
// fetch nothing then; an empty batch is a batch.
TEST_F(StoreSessionTest, BatchFetchesRefuseBuffersOfAnotherSize) {
  const std::vector<Sid> sids = {CreateNamed("a").sid, CreateNamed("b").sid};
  const std::vector<std::string_view> names = {"a", "b"};
  std::vector<Session> one(1), two(2);
  std::vector<absl::Status> statuses(2, absl::UnknownError("untouched"));
  std::vector<absl::Status> three(3);
  for (const bool by_name : {false, true}) {
    auto fetch = [&](absl::Span<Session> out, absl::Span<absl::Status> st) {
      return (by_name ? store_->FetchSessionsByName(ks_, names, out, st)
                      : store_->FetchSessions(ks_, sids, out, st))
          .code();
    };
    EXPECT_EQ(fetch(absl::MakeSpan(one), absl::MakeSpan(statuses)),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(statuses[0].code(), absl::StatusCode::kUnknown);
    EXPECT_EQ(fetch(absl::MakeSpan(two), absl::MakeSpan(three)),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(store_->FetchSessions(ks_, {}, {}, {}).ok());
  EXPECT_TRUE(store_->FetchSessionsByName(ks_, {}, {}, {}).ok());
}

// One shard, so that a batch's names are all one shard's, and no
// retention, so that a due Session is freed by the read that finds it due:
// a name given twice in one batch is then not found the second time, as a
// second single fetch would not find it, and the second read does not
// look at the freed record.
class FreeOnExpiryStoreTest : public StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.shards = 1;
    options.closed_retention = absl::ZeroDuration();
  }
};

// More names than one hold of the shard's lock answers, with a due one
// given twice on both sides of the first hold's end.
TEST_F(FreeOnExpiryStoreTest, FetchSessionsByNameAcrossHoldsOfTheLock) {
  std::vector<std::string> keys;
  CreateSessionParams params;
  for (int i = 0; i < 200; ++i) {
    keys.push_back("name-" + std::to_string(i));
    params.unique_name = keys.back();
    params.ttl = i == 62 ? 5 : 0;
    ASSERT_TRUE(store_->CreateSession(ks_, params).ok());
  }
  keys[66] = keys[62];
  At(absl::Seconds(5));
  const std::vector<std::string_view> names(keys.begin(), keys.end());
  const NameBatch fetched = FetchByNames(*store_, ks_, names);
  ASSERT_TRUE(fetched.call.ok()) << fetched.call;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i == 62 || i == 66) {
      EXPECT_TRUE(IsProxyError(fetched.statuses[i], absl::StatusCode::kNotFound,
                               kErrorNotFound))
          << "at " << i;
      continue;
    }
    ASSERT_TRUE(fetched.statuses[i].ok())
        << "at " << i << ": " << fetched.statuses[i];
    Session one;
    ASSERT_TRUE(store_->FetchSession(ks_, names[i], &one).ok());
    EXPECT_TRUE(SameSession(fetched.out[i], one)) << "at " << i;
  }
  ExpectInvariants();
}

TEST_F(FreeOnExpiryStoreTest, FetchSessionsByNameNamingAFreedSessionTwice) {
  CreateSessionParams params;
  params.unique_name = "due";
  params.ttl = 5;
  ASSERT_TRUE(store_->CreateSession(ks_, params).ok());
  params.unique_name = "kept";
  params.ttl = 0;
  const absl::StatusOr<Session> kept = store_->CreateSession(ks_, params);
  ASSERT_TRUE(kept.ok());
  At(absl::Seconds(5));
  const std::vector<std::string_view> names = {"due", "kept", "due"};
  const NameBatch fetched = FetchByNames(*store_, ks_, names);
  ASSERT_TRUE(fetched.call.ok()) << fetched.call;
  EXPECT_TRUE(IsProxyError(fetched.statuses[0], absl::StatusCode::kNotFound,
                           kErrorNotFound));
  EXPECT_TRUE(fetched.statuses[1].ok());
  EXPECT_EQ(fetched.out[1].sid, kept->sid);
  EXPECT_TRUE(IsProxyError(fetched.statuses[2], absl::StatusCode::kNotFound,
                           kErrorNotFound));
  EXPECT_TRUE(SameSession(fetched.out[2], Session()));
  ExpectInvariants();
}

TEST_F(StoreSessionTest, ReturnedSessionIsASnapshot) {
  Session created = Create();
  At(absl::Seconds(5));
  ASSERT_TRUE(UpdateStatus(created.sid, SessionStatus::kClosed).ok());
  EXPECT_EQ(created.status, SessionStatus::kOpen);
  EXPECT_EQ(created.date_updated, kT0);
}

// Update: the transition table of docs/semantics.md, "Update and status"
// -------------------------------

struct TransitionCase {
  SessionStatus from;
  SessionStatus to;
  int expected;  // 0 when the update succeeds, else the Proxy error code.
};

std::string StatusWord(SessionStatus status) {
  switch (status) {
    case SessionStatus::kOpen:
      return "Open";
    case SessionStatus::kInProgress:
      return "InProgress";
    case SessionStatus::kClosed:
      return "Closed";
    case SessionStatus::kFailed:
      return "Failed";
    case SessionStatus::kUnknown:
      return "Unknown";
  }
  return "Bad";
}

std::string TransitionName(
    const ::testing::TestParamInfo<TransitionCase>& info) {
  const TransitionCase& c = info.param;
  return absl::StrCat(
      StatusWord(c.from), "To", StatusWord(c.to),
      c.expected == 0 ? std::string("Ok") : absl::StrCat("Is", c.expected));
}

class UpdateTransitionTest
    : public StoreSessionTest,
      public ::testing::WithParamInterface<TransitionCase> {};

TEST_P(UpdateTransitionTest, FollowsTheTable) {
  const TransitionCase& c = GetParam();
  Session before = InStatus(c.from);
  ASSERT_EQ(before.status, c.from);

  At(absl::Seconds(30));
  absl::StatusOr<Session> updated = UpdateStatus(before.sid, c.to);
  const absl::Time now = kT0 + absl::Seconds(30);
  if (c.expected != 0) {
    EXPECT_TRUE(IsProxyError(updated, absl::StatusCode::kFailedPrecondition,
                             c.expected));
    EXPECT_TRUE(SameSession(MustFetch(before.sid), before));
    return;
  }
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->status, c.to);
  EXPECT_EQ(updated->date_updated, now);
  if (c.to == SessionStatus::kClosed) {
    EXPECT_EQ(updated->closed_reason, std::string(kReasonApi));
    EXPECT_EQ(updated->date_ended, now);
  } else {  // A re-open.
    EXPECT_EQ(updated->closed_reason, std::nullopt);
    EXPECT_EQ(updated->date_ended, std::nullopt);
  }
  EXPECT_TRUE(SameSession(MustFetch(before.sid), *updated));
  ExpectInvariants();
}

constexpr SessionStatus kOpen = SessionStatus::kOpen;
constexpr SessionStatus kInProgress = SessionStatus::kInProgress;
constexpr SessionStatus kClosed = SessionStatus::kClosed;
constexpr SessionStatus kFailed = SessionStatus::kFailed;
constexpr SessionStatus kUnknown = SessionStatus::kUnknown;

// Closed and failed Sessions are refused with 80607 before the table is
// consulted, except failed -> in-progress (a re-open a failed Session cannot
// make), which is 80608 (docs/semantics.md, "Order of checks").
INSTANTIATE_TEST_SUITE_P(
    Section5, UpdateTransitionTest,
    ::testing::Values(
        TransitionCase{kOpen, kInProgress, kErrorInvalidTransition},
        TransitionCase{kOpen, kClosed, 0},
        TransitionCase{kOpen, kOpen, kErrorInvalidTransition},
        TransitionCase{kOpen, kFailed, kErrorInvalidTransition},
        TransitionCase{kOpen, kUnknown, kErrorInvalidTransition},
        TransitionCase{kInProgress, kInProgress, kErrorInvalidTransition},
        TransitionCase{kInProgress, kClosed, 0},
        TransitionCase{kInProgress, kOpen, kErrorInvalidTransition},
        TransitionCase{kInProgress, kFailed, kErrorInvalidTransition},
        TransitionCase{kInProgress, kUnknown, kErrorInvalidTransition},
        TransitionCase{kUnknown, kInProgress, kErrorInvalidTransition},
        TransitionCase{kUnknown, kClosed, 0},
        TransitionCase{kUnknown, kOpen, kErrorInvalidTransition},
        TransitionCase{kUnknown, kFailed, kErrorInvalidTransition},
        TransitionCase{kUnknown, kUnknown, kErrorInvalidTransition},
        TransitionCase{kClosed, kInProgress, 0},
        TransitionCase{kClosed, kClosed, kErrorSessionClosed},
        TransitionCase{kClosed, kOpen, kErrorSessionClosed},
        TransitionCase{kClosed, kFailed, kErrorSessionClosed},
        TransitionCase{kClosed, kUnknown, kErrorSessionClosed},
        TransitionCase{kFailed, kInProgress, kErrorInvalidTransition},
        TransitionCase{kFailed, kClosed, kErrorSessionClosed},
        TransitionCase{kFailed, kOpen, kErrorSessionClosed},
        TransitionCase{kFailed, kFailed, kErrorSessionClosed},
        TransitionCase{kFailed, kUnknown, kErrorSessionClosed}),
    TransitionName);

TEST_F(StoreSessionTest, SessionCreatedFailedCannotBeReopened) {
  Session failed = CreateWithStatus(SessionStatus::kFailed);
  EXPECT_TRUE(IsProxyError(UpdateStatus(failed.sid, SessionStatus::kInProgress),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorInvalidTransition));
  EXPECT_TRUE(IsProxyError(UpdateStatus(failed.sid, SessionStatus::kClosed),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
}

TEST_F(StoreSessionTest, SessionCreatedClosedCanBeReopened) {
  Session closed = CreateWithStatus(SessionStatus::kClosed);
  At(absl::Seconds(3));
  absl::StatusOr<Session> reopened =
      UpdateStatus(closed.sid, SessionStatus::kInProgress);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->status, SessionStatus::kInProgress);
  EXPECT_EQ(reopened->date_ended, std::nullopt);
}

TEST_F(StoreSessionTest, UpdateOfClosedSessionOtherThanReopenIs80607) {
  CreateSessionParams create;
  create.ttl = 100;
  Session session = Create(create);
  ASSERT_TRUE(UpdateStatus(session.sid, SessionStatus::kClosed).ok());
  Session closed = MustFetch(session.sid);
  At(absl::Seconds(5));

  UpdateSessionParams ttl;
  ttl.ttl = 10;
  EXPECT_TRUE(IsProxyError(Update(session.sid, ttl),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  UpdateSessionParams expiry;
  expiry.date_expiry = kT0 + absl::Hours(1);
  EXPECT_TRUE(IsProxyError(Update(session.sid, expiry),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  EXPECT_TRUE(IsProxyError(Update(session.sid, UpdateSessionParams()),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  // 80607 comes before the parameter checks too.
  UpdateSessionParams bad_ttl;
  bad_ttl.ttl = -5;
  EXPECT_TRUE(IsProxyError(Update(session.sid, bad_ttl),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), closed));
}

TEST_F(StoreSessionTest, UpdateOfFailedSessionIs80607) {
  Session failed = InStatus(SessionStatus::kFailed);
  UpdateSessionParams ttl;
  ttl.ttl = 10;
  EXPECT_TRUE(IsProxyError(Update(failed.sid, ttl),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  EXPECT_TRUE(IsProxyError(Update(failed.sid, UpdateSessionParams()),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
}

TEST_F(StoreSessionTest, ReopenClearsEndAndRestartsTheTtlWindowFromNow) {
  CreateSessionParams create;
  create.ttl = 100;
  Session session = Create(create);
  At(absl::Seconds(10));
  ASSERT_TRUE(UpdateStatus(session.sid, SessionStatus::kClosed).ok());

  At(absl::Seconds(50));
  absl::StatusOr<Session> reopened =
      UpdateStatus(session.sid, SessionStatus::kInProgress);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->status, SessionStatus::kInProgress);
  EXPECT_EQ(reopened->date_ended, std::nullopt);
  EXPECT_EQ(reopened->closed_reason, std::nullopt);
  EXPECT_EQ(reopened->date_updated, kT0 + absl::Seconds(50));
  EXPECT_EQ(reopened->ttl, 100);
  EXPECT_EQ(reopened->date_created, kT0);
  EXPECT_EQ(reopened->date_started, kT0);

  // The window runs from the re-open (50 s), not from create (0 s).
  At(absl::Seconds(150) - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(150));
  Session expired = MustFetch(session.sid);
  EXPECT_EQ(expired.status, SessionStatus::kClosed);
  EXPECT_EQ(expired.closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(expired.date_ended, kT0 + absl::Seconds(150));
  ExpectInvariants();
}

TEST_F(StoreSessionTest,
       ReopenAfterDateExpiryPassedWithoutNewDateExpiryIs80701) {
  CreateSessionParams create;
  create.date_expiry = kT0 + absl::Seconds(60);
  Session session = Create(create);
  At(absl::Seconds(100));
  Session closed = MustFetch(session.sid);
  ASSERT_EQ(closed.status, SessionStatus::kClosed);
  ASSERT_EQ(closed.closed_reason, std::string(kReasonDateExpiry));

  EXPECT_TRUE(IsInvalidParameter(
      UpdateStatus(session.sid, SessionStatus::kInProgress), "DateExpiry"));
  // A new DateExpiry that is not in the future does not help.
  UpdateSessionParams past;
  past.status = SessionStatus::kInProgress;
  past.date_expiry = kT0 + absl::Seconds(100);
  EXPECT_TRUE(IsInvalidParameter(Update(session.sid, past), "DateExpiry"));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), closed));
}

TEST_F(StoreSessionTest,
       ReopenAfterDateExpiryPassedWithNewFutureDateExpiryIsOk) {
  CreateSessionParams create;
  create.date_expiry = kT0 + absl::Seconds(60);
  Session session = Create(create);
  At(absl::Seconds(100));
  UpdateSessionParams params;
  params.status = SessionStatus::kInProgress;
  params.date_expiry = kT0 + absl::Seconds(200);
  absl::StatusOr<Session> reopened = Update(session.sid, params);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->status, SessionStatus::kInProgress);
  EXPECT_EQ(reopened->date_expiry, kT0 + absl::Seconds(200));
  EXPECT_EQ(reopened->date_ended, std::nullopt);
  EXPECT_EQ(reopened->closed_reason, std::nullopt);

  At(absl::Seconds(200) - absl::Milliseconds(1));
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(200));
  Session expired = MustFetch(session.sid);
  EXPECT_EQ(expired.status, SessionStatus::kClosed);
  EXPECT_EQ(expired.closed_reason, std::string(kReasonDateExpiry));
  EXPECT_EQ(expired.date_ended, kT0 + absl::Seconds(200));
  ExpectInvariants();
}

TEST_F(StoreSessionTest, ReopenWithStoredDateExpiryStillAheadNeedsNoNewOne) {
  CreateSessionParams create;
  create.date_expiry = kT0 + absl::Hours(1);
  Session session = Create(create);
  ASSERT_TRUE(UpdateStatus(session.sid, SessionStatus::kClosed).ok());
  At(absl::Seconds(20));
  absl::StatusOr<Session> reopened =
      UpdateStatus(session.sid, SessionStatus::kInProgress);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->date_expiry, kT0 + absl::Hours(1));
}

// The boundary: a date_expiry equal to now has passed (an expiry is due at
// its instant), so a re-open at that very instant needs a new one.
TEST_F(StoreSessionTest, ReopenAtExactlyTheStoredDateExpiryNeedsANewOne) {
  CreateSessionParams create;
  create.date_expiry = kT0 + absl::Seconds(60);
  Session session = Create(create);
  ASSERT_TRUE(UpdateStatus(session.sid, SessionStatus::kClosed).ok());
  At(absl::Seconds(60) - absl::Milliseconds(1));
  UpdateSessionParams reopen;
  reopen.status = SessionStatus::kInProgress;
  absl::StatusOr<Session> early = Update(session.sid, reopen);
  ASSERT_TRUE(early.ok()) << early.status();
  ASSERT_TRUE(UpdateStatus(session.sid, SessionStatus::kClosed).ok());

  At(absl::Seconds(60));
  EXPECT_TRUE(IsInvalidParameter(Update(session.sid, reopen), "DateExpiry"));
}

TEST_F(StoreSessionTest, UpdateTtlAppliesFromTheCurrentBaseNotFromNow) {
  CreateSessionParams create;
  create.ttl = 100;
  Session session = Create(create);
  At(absl::Seconds(10));
  ASSERT_TRUE(store_->RecordInteraction(ks_, session.sid).ok());  // base = 10
  At(absl::Seconds(50));
  UpdateSessionParams params;
  params.ttl = 200;
  absl::StatusOr<Session> updated = Update(session.sid, params);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->ttl, 200);
  EXPECT_EQ(updated->status, SessionStatus::kInProgress);

  // 10 + 200 = 210, not 50 + 200.
  At(absl::Seconds(210) - absl::Milliseconds(1));
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(210));
  Session expired = MustFetch(session.sid);
  EXPECT_EQ(expired.status, SessionStatus::kClosed);
  EXPECT_EQ(expired.date_ended, kT0 + absl::Seconds(210));
  EXPECT_EQ(expired.closed_reason, std::string(kReasonTtl));
  ExpectInvariants();
}

TEST_F(StoreSessionTest, UpdateDateExpirySetsIt) {
  Session session = Create();
  At(absl::Seconds(5));
  UpdateSessionParams params;
  params.date_expiry = kT0 + absl::Minutes(5);
  absl::StatusOr<Session> updated = Update(session.sid, params);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->date_expiry, kT0 + absl::Minutes(5));
  EXPECT_EQ(updated->status, SessionStatus::kOpen);
}

TEST_F(StoreSessionTest, UpdateSetsDateUpdatedEveryTime) {
  Session session = Create();
  At(absl::Seconds(5));
  absl::StatusOr<Session> empty = Update(session.sid, UpdateSessionParams());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->date_updated, kT0 + absl::Seconds(5));
  EXPECT_EQ(empty->date_created, kT0);
  EXPECT_EQ(MustFetch(session.sid).date_updated, kT0 + absl::Seconds(5));

  At(absl::Seconds(7));
  UpdateSessionParams ttl;
  ttl.ttl = 3600;
  absl::StatusOr<Session> with_ttl = Update(session.sid, ttl);
  ASSERT_TRUE(with_ttl.ok()) << with_ttl.status();
  EXPECT_EQ(with_ttl->date_updated, kT0 + absl::Seconds(7));

  At(absl::Seconds(9));
  absl::StatusOr<Session> closed =
      UpdateStatus(session.sid, SessionStatus::kClosed);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->date_updated, kT0 + absl::Seconds(9));

  At(absl::Seconds(11));
  absl::StatusOr<Session> reopened =
      UpdateStatus(session.sid, SessionStatus::kInProgress);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->date_updated, kT0 + absl::Seconds(11));
}

TEST_F(StoreSessionTest, UpdateWithDateExpiryNotAfterNowIs80701) {
  Session session = Create();
  At(absl::Seconds(10));
  UpdateSessionParams params;
  params.date_expiry = kT0 + absl::Seconds(10);
  EXPECT_TRUE(IsInvalidParameter(Update(session.sid, params), "DateExpiry"));
  params.date_expiry = kT0 + absl::Seconds(9);
  EXPECT_TRUE(IsInvalidParameter(Update(session.sid, params), "DateExpiry"));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

TEST_F(StoreSessionTest, UpdateWithNegativeTtlIs80701) {
  Session session = Create();
  UpdateSessionParams params;
  params.ttl = -1;
  EXPECT_TRUE(IsInvalidParameter(Update(session.sid, params), "Ttl"));
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

TEST_F(StoreSessionTest, UpdateOfUnknownSessionIs20404) {
  const Sid sid = Sid::Parse("KC0123456789abcdef0123456789abcdef").value();
  EXPECT_TRUE(IsSessionNotFound(Update(sid, UpdateSessionParams()), ks_, sid));
}

// Delete
// -----------------------------------------------------------------------

TEST_F(StoreSessionTest, DeleteRemovesTheSession) {
  Session session = CreateNamed("ride-42");
  EXPECT_TRUE(store_->DeleteSession(ks_, session.sid).ok());
  EXPECT_TRUE(IsSessionNotFound(Fetch(session.sid), ks_, session.sid));
  EXPECT_TRUE(IsSessionNotFound(Fetch("ride-42"), ks_, "ride-42"));
  EXPECT_EQ(store_->Stats().sessions, 0);
  EXPECT_EQ(store_->Stats().named, 0);
  ExpectInvariants();
}

// A Session's SID carries where its record is kept, and a deleted Session's
// place is reused: the old SID must still find nothing, and never the
// Session that took its place.
TEST_F(StoreSessionTest, ADeletedSessionsSidNeverFindsItsSuccessor) {
  std::vector<Sid> gone;
  Session live;
  for (int i = 0; i < 200; ++i) {
    live = Create();
    for (const Sid& old : gone) {
      ASSERT_NE(old, live.sid);
      ASSERT_TRUE(IsSessionNotFound(Fetch(old), ks_, old)) << old;
      ASSERT_TRUE(IsSessionNotFound(store_->RecordInteraction(ks_, old), ks_,
                                    old.ToString()));
    }
    ASSERT_TRUE(store_->DeleteSession(ks_, live.sid).ok());
    gone.push_back(live.sid);
    if (gone.size() > 8) gone.erase(gone.begin());
  }
  live = Create();
  EXPECT_TRUE(SameSession(MustFetch(live.sid), live));
  EXPECT_EQ(store_->Stats().sessions, 1);
  ExpectInvariants();
}

TEST_F(StoreSessionTest, DeleteTwiceIs20404) {
  Session session = Create();
  ASSERT_TRUE(store_->DeleteSession(ks_, session.sid).ok());
  EXPECT_TRUE(IsSessionNotFound(store_->DeleteSession(ks_, session.sid), ks_,
                                session.sid));
}

TEST_F(StoreSessionTest, DeleteOfEndedSessionsWorks) {
  Session closed = InStatus(SessionStatus::kClosed);
  Session failed = InStatus(SessionStatus::kFailed);
  EXPECT_TRUE(store_->DeleteSession(ks_, closed.sid).ok());
  EXPECT_TRUE(store_->DeleteSession(ks_, failed.sid).ok());
  EXPECT_EQ(store_->Stats().sessions, 0);
}

// A malformed SID cannot reach the typed API (the fake refuses its text with
// 80409: proxy_fake_test); a SID of another kind is a Session that is not
// there, even with the bits of one that is.
TEST_F(StoreSessionTest,
       SidOfAnotherKindIsNotFoundOnUpdateDeleteInteractionCloseFail) {
  CreateSessionParams params;
  params.unique_name = "ride-42";
  params.participants.push_back({"+15550000001", "Alice", "+15559990000"});
  Session named = Create(params);
  ASSERT_EQ(named.participants.size(), 1u);
  const uint64_t hi = named.sid.hi();
  const uint64_t lo = named.sid.lo();
  const std::vector<Sid> other_kinds = {
      Sid(),                      // The null SID.
      Sid("kc", hi, lo),          // The prefix is case-sensitive.
      Sid("KS", hi, lo),          // A Service SID...
      ks_,                        // ...and the Service's own.
      Sid("KP", hi, lo),          // A Participant SID...
      named.participants[0].sid,  // ...and the Participant's own.
      Sid("AC", hi, lo),          // An account SID...
      store_->account_sid(),      // ...and the store's own.
  };
  for (const Sid& sid : other_kinds) {
    SCOPED_TRACE(sid);
    EXPECT_TRUE(
        IsSessionNotFound(Update(sid, UpdateSessionParams()), ks_, sid));
    EXPECT_TRUE(IsSessionNotFound(store_->DeleteSession(ks_, sid), ks_, sid));
    EXPECT_TRUE(
        IsSessionNotFound(store_->RecordInteraction(ks_, sid), ks_, sid));
    EXPECT_TRUE(
        IsSessionNotFound(store_->CloseSession(ks_, sid, "done"), ks_, sid));
    EXPECT_TRUE(
        IsSessionNotFound(store_->FailSession(ks_, sid, "broken"), ks_, sid));
  }
  EXPECT_TRUE(SameSession(MustFetch(named.sid), named));
  ExpectInvariants();
}

// RecordInteraction
// ------------------------------------------------------------

TEST_F(StoreSessionTest, InteractionMovesOpenToInProgressAndStampsTimes) {
  Session session = Create();
  At(absl::Seconds(12));
  absl::Status status = store_->RecordInteraction(ks_, session.sid);
  ASSERT_TRUE(status.ok()) << status;
  Session touched = MustFetch(session.sid);
  EXPECT_EQ(touched.status, SessionStatus::kInProgress);
  EXPECT_EQ(touched.date_last_interaction, kT0 + absl::Seconds(12));
  EXPECT_EQ(touched.date_updated, kT0 + absl::Seconds(12));
  EXPECT_EQ(touched.date_created, kT0);
  // Nothing else changed.
  Session expected = session;
  expected.status = SessionStatus::kInProgress;
  expected.date_last_interaction = kT0 + absl::Seconds(12);
  expected.date_updated = kT0 + absl::Seconds(12);
  EXPECT_TRUE(SameSession(touched, expected));

  At(absl::Seconds(20));
  status = store_->RecordInteraction(ks_, session.sid);
  ASSERT_TRUE(status.ok()) << status;
  Session again = MustFetch(session.sid);
  EXPECT_EQ(again.status, SessionStatus::kInProgress);
  EXPECT_EQ(again.date_last_interaction, kT0 + absl::Seconds(20));
}

// A record keeps its times in 6 bytes each (years -2488 to 6429) and its
// TTL in 4; what does not fit is kept in full beside it. Every field still
// reads back to the millisecond, and the TTL still expires at its instant.
TEST_F(StoreSessionTest, TimesAndTtlsPastTheRecordsCompactRangeAreKeptExactly) {
  const absl::Time year_7000 =
      absl::FromCivil(absl::CivilSecond(7000, 6, 1, 12, 0, 0),
                      absl::UTCTimeZone()) +
      absl::Milliseconds(320);
  clock_.Set(year_7000);
  CreateSessionParams params;
  params.ttl = (int64_t{1} << 32) + 5;  // Seconds: past 4 bytes.
  const Session created = Create(params);
  EXPECT_EQ(created.ttl, (int64_t{1} << 32) + 5);
  EXPECT_EQ(created.date_created, year_7000);

  clock_.Advance(absl::Milliseconds(10));
  ASSERT_TRUE(store_->RecordInteraction(ks_, created.sid).ok());
  Session touched = MustFetch(created.sid);
  EXPECT_EQ(touched.date_created, year_7000);
  EXPECT_EQ(touched.date_last_interaction, year_7000 + absl::Milliseconds(10));
  EXPECT_EQ(touched.date_updated, year_7000 + absl::Milliseconds(10));
  EXPECT_EQ(touched.ttl, (int64_t{1} << 32) + 5);

  // The TTL runs from the interaction, a wide base plus a wide TTL; the
  // instants are on 10 ms tick boundaries, where Advance() delivers.
  const absl::Time instant = year_7000 + absl::Milliseconds(10) +
                             absl::Seconds((int64_t{1} << 32) + 5);
  clock_.Set(instant - absl::Milliseconds(1));
  EXPECT_EQ(store_->Advance(), 0);
  EXPECT_EQ(MustFetch(created.sid).status, SessionStatus::kInProgress);
  clock_.Set(instant);
  EXPECT_EQ(store_->Advance(), 1);
  Session closed = MustFetch(created.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.closed_reason, std::string(kReasonTtl));
  EXPECT_EQ(closed.date_ended, instant);
  EXPECT_EQ(closed.date_updated, instant);
  EXPECT_EQ(closed.date_created, year_7000);

  // Wide values made small again are read from the record, not the
  // extras: the TTL, the last interaction, date_expiry.
  const absl::Time year_9000 = absl::FromCivil(
      absl::CivilSecond(9000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  UpdateSessionParams reopen;
  reopen.status = SessionStatus::kInProgress;
  reopen.ttl = 60;
  reopen.date_expiry = year_9000;
  clock_.Set(kT0);
  ASSERT_TRUE(Update(created.sid, reopen).ok());
  Session reopened = MustFetch(created.sid);
  EXPECT_EQ(reopened.ttl, 60);
  EXPECT_EQ(reopened.date_expiry, year_9000);
  EXPECT_EQ(reopened.date_updated, kT0);
  EXPECT_EQ(reopened.date_ended, std::nullopt);
  EXPECT_EQ(reopened.date_created, year_7000);

  At(absl::Seconds(1));
  ASSERT_TRUE(store_->RecordInteraction(ks_, created.sid).ok());
  UpdateSessionParams nearer;
  nearer.date_expiry = kT0 + absl::Hours(1);
  ASSERT_TRUE(Update(created.sid, nearer).ok());
  Session small = MustFetch(created.sid);
  EXPECT_EQ(small.date_last_interaction, kT0 + absl::Seconds(1));
  EXPECT_EQ(small.date_expiry, kT0 + absl::Hours(1));
  EXPECT_EQ(small.date_created, year_7000);
  ExpectInvariants();
}

TEST_F(StoreSessionTest, InteractionLeavesUnknownAlone) {
  Session session = CreateWithStatus(SessionStatus::kUnknown);
  At(absl::Seconds(3));
  absl::Status status = store_->RecordInteraction(ks_, session.sid);
  ASSERT_TRUE(status.ok()) << status;
  Session touched = MustFetch(session.sid);
  EXPECT_EQ(touched.status, SessionStatus::kUnknown);
  EXPECT_EQ(touched.date_last_interaction, kT0 + absl::Seconds(3));
}

TEST_F(StoreSessionTest, InteractionRestartsTheTtlWindow) {
  CreateSessionParams create;
  create.ttl = 60;
  Session session = Create(create);
  At(absl::Seconds(40));
  ASSERT_TRUE(store_->RecordInteraction(ks_, session.sid).ok());
  At(absl::Seconds(100) - absl::Milliseconds(1));
  EXPECT_EQ(MustFetch(session.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(100));
  Session expired = MustFetch(session.sid);
  EXPECT_EQ(expired.status, SessionStatus::kClosed);
  EXPECT_EQ(expired.date_ended, kT0 + absl::Seconds(100));
  EXPECT_EQ(expired.date_last_interaction, kT0 + absl::Seconds(40));
}

TEST_F(StoreSessionTest, InteractionOnEndedSessionIs80607) {
  Session closed = InStatus(SessionStatus::kClosed);
  Session failed = InStatus(SessionStatus::kFailed);
  EXPECT_TRUE(IsProxyError(store_->RecordInteraction(ks_, closed.sid),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  EXPECT_TRUE(IsProxyError(store_->RecordInteraction(ks_, failed.sid),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  EXPECT_TRUE(SameSession(MustFetch(closed.sid), closed));
  EXPECT_TRUE(SameSession(MustFetch(failed.sid), failed));
}

TEST_F(StoreSessionTest, InteractionOnUnknownSidIs20404) {
  const Sid sid = Sid::Parse("KC0123456789abcdef0123456789abcdef").value();
  EXPECT_TRUE(IsSessionNotFound(store_->RecordInteraction(ks_, sid), ks_, sid));
}

// CloseSession and FailSession
// -------------------------------------------------

TEST_F(StoreSessionTest, CloseSessionStoresTheHostReason) {
  Session session = Create();
  At(absl::Seconds(8));
  absl::Status status =
      store_->CloseSession(ks_, session.sid, "driver-cancelled");
  ASSERT_TRUE(status.ok()) << status;
  Session closed = MustFetch(session.sid);
  EXPECT_EQ(closed.status, SessionStatus::kClosed);
  EXPECT_EQ(closed.closed_reason, std::string("driver-cancelled"));
  EXPECT_EQ(closed.date_ended, kT0 + absl::Seconds(8));
  EXPECT_EQ(closed.date_updated, kT0 + absl::Seconds(8));
  // Nothing else changed.
  Session expected = session;
  expected.status = SessionStatus::kClosed;
  expected.closed_reason = "driver-cancelled";
  expected.date_ended = kT0 + absl::Seconds(8);
  expected.date_updated = kT0 + absl::Seconds(8);
  EXPECT_TRUE(SameSession(closed, expected));
}

TEST_F(StoreSessionTest, FailSessionStoresTheHostReason) {
  Session session = Create();
  At(absl::Seconds(8));
  absl::Status status =
      store_->FailSession(ks_, session.sid, "number-unreachable");
  ASSERT_TRUE(status.ok()) << status;
  Session failed = MustFetch(session.sid);
  EXPECT_EQ(failed.status, SessionStatus::kFailed);
  EXPECT_EQ(failed.closed_reason, std::string("number-unreachable"));
  EXPECT_EQ(failed.date_ended, kT0 + absl::Seconds(8));
  // Nothing else changed.
  Session expected = session;
  expected.status = SessionStatus::kFailed;
  expected.closed_reason = "number-unreachable";
  expected.date_ended = kT0 + absl::Seconds(8);
  expected.date_updated = kT0 + absl::Seconds(8);
  EXPECT_TRUE(SameSession(failed, expected));
}

TEST_F(StoreSessionTest, CloseAndFailEndInProgressAndUnknownSessions) {
  Session in_progress = InStatus(SessionStatus::kInProgress);
  Session unknown = InStatus(SessionStatus::kUnknown);
  absl::Status closed = store_->CloseSession(ks_, in_progress.sid, "done");
  ASSERT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(MustFetch(in_progress.sid).status, SessionStatus::kClosed);
  absl::Status failed = store_->FailSession(ks_, unknown.sid, "x");
  ASSERT_TRUE(failed.ok()) << failed;
  EXPECT_EQ(MustFetch(unknown.sid).status, SessionStatus::kFailed);
}

TEST_F(StoreSessionTest, ReasonOf255CharactersIsAccepted) {
  Session a = Create();
  Session b = Create();
  absl::Status closed = store_->CloseSession(ks_, a.sid, std::string(255, 'r'));
  ASSERT_TRUE(closed.ok()) << closed;
  EXPECT_EQ(MustFetch(a.sid).closed_reason, std::string(255, 'r'));
  absl::Status failed =
      store_->FailSession(ks_, b.sid, Repeat(kTwoByteChar, 255));
  ASSERT_TRUE(failed.ok()) << failed;
  EXPECT_EQ(MustFetch(b.sid).closed_reason, Repeat(kTwoByteChar, 255));
}

TEST_F(StoreSessionTest, ReasonOf256CharactersEmptyOrNotUtf8Is80701) {
  Session session = Create();
  for (const std::string& reason :
       {std::string(256, 'r'), Repeat(kTwoByteChar, 256), std::string(),
        std::string("bad\xff")}) {
    EXPECT_TRUE(IsInvalidParameter(
        store_->CloseSession(ks_, session.sid, reason), "Reason"));
    EXPECT_TRUE(IsInvalidParameter(
        store_->FailSession(ks_, session.sid, reason), "Reason"));
  }
  EXPECT_TRUE(SameSession(MustFetch(session.sid), session));
}

TEST_F(StoreSessionTest, CloseOrFailOfEndedSessionIs80607) {
  Session closed = InStatus(SessionStatus::kClosed);
  Session failed = InStatus(SessionStatus::kFailed);
  for (const Session& ended : {closed, failed}) {
    SCOPED_TRACE(StatusName(ended.status));
    EXPECT_TRUE(IsProxyError(store_->CloseSession(ks_, ended.sid, "again"),
                             absl::StatusCode::kFailedPrecondition,
                             kErrorSessionClosed));
    EXPECT_TRUE(IsProxyError(store_->FailSession(ks_, ended.sid, "again"),
                             absl::StatusCode::kFailedPrecondition,
                             kErrorSessionClosed));
    EXPECT_TRUE(SameSession(MustFetch(ended.sid), ended));
  }
}

TEST_F(StoreSessionTest, CloseOfUnknownSidIs20404) {
  const Sid sid = Sid::Parse("KC0123456789abcdef0123456789abcdef").value();
  EXPECT_TRUE(
      IsSessionNotFound(store_->CloseSession(ks_, sid, "done"), ks_, sid));
  EXPECT_TRUE(
      IsSessionNotFound(store_->FailSession(ks_, sid, "done"), ks_, sid));
}

TEST_F(StoreSessionTest, HostClosedSessionCanBeReopened) {
  Session session = Create();
  ASSERT_TRUE(store_->CloseSession(ks_, session.sid, "paused").ok());
  At(absl::Seconds(4));
  absl::StatusOr<Session> reopened =
      UpdateStatus(session.sid, SessionStatus::kInProgress);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(reopened->closed_reason, std::nullopt);
  EXPECT_EQ(reopened->date_ended, std::nullopt);
  ExpectInvariants();
}

// StoreOptions::sid_tag: every SID the store mints ends in the tag.
class TaggedSidStoreTest : public StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.sid_tag = 0x002a;
  }
};

TEST_F(TaggedSidStoreTest, EveryMintedSidEndsInTheTag) {
  EXPECT_TRUE(absl::EndsWith(ks_.ToString(), "002a")) << ks_.ToString();
  CreateSessionParams params;
  params.participants.push_back({"+15550001111", "", ""});
  for (const char* name : {"", "named"}) {
    if (*name != '\0') params.unique_name = name;
    absl::StatusOr<Session> s = store_->CreateSession(ks_, params);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_TRUE(absl::EndsWith(s->sid.ToString(), "002a")) << s->sid.ToString();
    ASSERT_EQ(s->participants.size(), 1u);
    EXPECT_TRUE(absl::EndsWith(s->participants[0].sid.ToString(), "002a"));
    // A tagged SID is found as any other.
    EXPECT_EQ(*store_->FetchSession(ks_, s->sid), *s);
  }
  ExpectInvariants();
}

}  // namespace
}  // namespace sessionwheel
