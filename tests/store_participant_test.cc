// Tests of a Session's Participants and Interactions in the store
// (engine/core/shard_history.cc): create, fetch, list, soft delete; a
// message Interaction that counts as the Session's interaction; the limits;
// paging; and that both come back whole from a snapshot, from a durable
// store's journal and checkpoint, and on a follower.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/events.h"
#include "sessionwheel/store.h"
#include "tests/test_util.h"

namespace sessionwheel {
namespace {

using testing_util::IsInvalidParameter;
using testing_util::IsProxyError;
using testing_util::kT0;
using testing_util::Repeat;

class ParticipantTest : public testing_util::StoreTest {
 protected:
  void ConfigureStore(StoreOptions& options) override {
    options.max_interactions = max_interactions_;
    options.max_interactions_per_session = max_per_session_;
  }

  Participant Add(const Session& s, const std::string& identifier,
                  const std::string& friendly_name = "") {
    ParticipantParams p;
    p.identifier = identifier;
    p.friendly_name = friendly_name;
    absl::StatusOr<Participant> added =
        store_->CreateParticipant(ks_, s.sid, p);
    EXPECT_TRUE(added.ok()) << added.status();
    return added.ok() ? *added : Participant();
  }

  absl::StatusOr<Participant> TryAdd(const Session& s,
                                     const std::string& identifier) {
    ParticipantParams p;
    p.identifier = identifier;
    return store_->CreateParticipant(ks_, s.sid, p);
  }

  Interaction Send(const Session& s, const Participant& p,
                   const std::string& body) {
    absl::StatusOr<Interaction> sent =
        store_->RecordMessageInteraction(ks_, s.sid, p.sid, body);
    EXPECT_TRUE(sent.ok()) << sent.status();
    return sent.ok() ? *sent : Interaction();
  }

  int64_t max_interactions_ = kNoLimit;
  int64_t max_per_session_ = kNoLimit;
};

TEST_F(ParticipantTest, CreateFetchAndListInCreationOrder) {
  CreateSessionParams params;
  params.participants.push_back({"+15550000001", "Alice", "+15559990001"});
  const Session s = Create(params);
  At(absl::Seconds(5));
  const Participant bob = Add(s, "+15550000002", "Bob");
  EXPECT_TRUE(testing_util::IsSid("KP", bob.sid));
  EXPECT_EQ(bob.identifier, "+15550000002");
  EXPECT_EQ(bob.friendly_name, "Bob");
  EXPECT_EQ(bob.date_created, kT0 + absl::Seconds(5));
  EXPECT_EQ(bob.date_updated, bob.date_created);
  EXPECT_FALSE(bob.date_deleted.has_value());

  absl::StatusOr<Participant> fetched =
      store_->FetchParticipant(ks_, s.sid, bob.sid);
  ASSERT_TRUE(fetched.ok()) << fetched.status();
  EXPECT_EQ(fetched->sid, bob.sid);

  absl::StatusOr<ParticipantPage> page =
      store_->ListParticipants(ks_, s.sid, ListParams());
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->participants.size(), 2u);
  // The one given at create comes first, dated with the Session.
  EXPECT_EQ(page->participants[0].identifier, "+15550000001");
  EXPECT_EQ(page->participants[0].date_created, kT0);
  EXPECT_EQ(page->participants[1].sid, bob.sid);
  // The Session itself shows both too.
  EXPECT_EQ(MustFetch(s.sid).participants.size(), 2u);
  ExpectInvariants();
}

TEST_F(ParticipantTest, ListPagesBothWays) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  const Participant b = Add(s, "b");
  ListParams one;
  one.page_size = 1;
  absl::StatusOr<ParticipantPage> first =
      store_->ListParticipants(ks_, s.sid, one);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->participants.size(), 1u);
  EXPECT_EQ(first->participants[0].sid, a.sid);
  EXPECT_TRUE(first->previous_page_token.empty());
  ASSERT_FALSE(first->next_page_token.empty());
  one.page_token = first->next_page_token;
  absl::StatusOr<ParticipantPage> second =
      store_->ListParticipants(ks_, s.sid, one);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->participants.size(), 1u);
  EXPECT_EQ(second->participants[0].sid, b.sid);
  EXPECT_TRUE(second->next_page_token.empty());
  ASSERT_FALSE(second->previous_page_token.empty());
  one.page_token = second->previous_page_token;
  absl::StatusOr<ParticipantPage> back =
      store_->ListParticipants(ks_, s.sid, one);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->participants.size(), 1u);
  EXPECT_EQ(back->participants[0].sid, a.sid);
  // A token of one Session's list is foreign to another's, and to the
  // same Session's Interactions.
  const Session other = Create();
  one.page_token = first->next_page_token;
  EXPECT_TRUE(IsProxyError(store_->ListParticipants(ks_, other.sid, one),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
  EXPECT_TRUE(IsProxyError(store_->ListInteractions(ks_, s.sid, one),
                           absl::StatusCode::kInvalidArgument,
                           kErrorInvalidPageToken));
}

TEST_F(ParticipantTest, RefusesBadFields) {
  const Session s = Create();
  EXPECT_TRUE(IsInvalidParameter(TryAdd(s, "").status(), "Identifier"));
  EXPECT_TRUE(
      IsInvalidParameter(TryAdd(s, Repeat("x", 192)).status(), "Identifier"));
  EXPECT_TRUE(IsInvalidParameter(TryAdd(s, "\xff").status(), "Identifier"));
  EXPECT_TRUE(TryAdd(s, Repeat(testing_util::kTwoByteChar, 191)).ok());
  ParticipantParams p;
  p.identifier = "x";
  p.friendly_name = Repeat("f", 256);
  EXPECT_TRUE(IsInvalidParameter(
      store_->CreateParticipant(ks_, s.sid, p).status(), "FriendlyName"));
  p.friendly_name = "";
  p.proxy_identifier = Repeat("p", 192);
  EXPECT_TRUE(IsInvalidParameter(
      store_->CreateParticipant(ks_, s.sid, p).status(), "ProxyIdentifier"));
}

TEST_F(ParticipantTest, AtMostTwoAndNoIdentifierTwice) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  EXPECT_TRUE(IsProxyError(TryAdd(s, "a"), absl::StatusCode::kAlreadyExists,
                           kErrorParticipantInSession));
  Add(s, "b");
  EXPECT_TRUE(IsProxyError(TryAdd(s, "c"), absl::StatusCode::kInvalidArgument,
                           kErrorTooManyParticipants));
  // A deleted Participant keeps its place and its identifier.
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, a.sid).ok());
  EXPECT_TRUE(IsProxyError(TryAdd(s, "c"), absl::StatusCode::kInvalidArgument,
                           kErrorTooManyParticipants));
  const Session t = Create();
  const Participant ta = Add(t, "a");
  ASSERT_TRUE(store_->DeleteParticipant(ks_, t.sid, ta.sid).ok());
  EXPECT_TRUE(IsProxyError(TryAdd(t, "a"), absl::StatusCode::kAlreadyExists,
                           kErrorParticipantInSession));
}

// Participants given at create keep the same rule: one identifier twice in
// a Session is 80103 (after the count and the fields), and the create makes
// nothing. An empty identifier names no one, so two of them are no clash.
TEST_F(ParticipantTest, AtCreateTheSameIdentifierTwiceIs80103) {
  CreateSessionParams params;
  params.unique_name = "twice";
  params.participants = {{"a", "A", ""}, {"a", "B", ""}};
  EXPECT_TRUE(IsProxyError(store_->CreateSession(ks_, params),
                           absl::StatusCode::kAlreadyExists,
                           kErrorParticipantInSession));
  EXPECT_EQ(store_->Stats().sessions, 0);
  // A field past its bound is named first.
  params.participants[1].friendly_name = Repeat("f", 256);
  EXPECT_TRUE(
      IsInvalidParameter(store_->CreateSession(ks_, params), "Participants"));
  params.participants = {{"", "A", ""}, {"", "B", ""}};
  EXPECT_TRUE(store_->CreateSession(ks_, params).ok());
}

TEST_F(ParticipantTest, SoftDeleteKeepsItListedAndFetchable) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  At(absl::Seconds(9));
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, a.sid).ok());
  absl::StatusOr<Participant> gone =
      store_->FetchParticipant(ks_, s.sid, a.sid);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->date_deleted, kT0 + absl::Seconds(9));
  EXPECT_EQ(gone->date_updated, kT0 + absl::Seconds(9));
  EXPECT_EQ(gone->date_created, kT0);
  // Again: nothing changes.
  At(absl::Seconds(20));
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, a.sid).ok());
  EXPECT_EQ(store_->FetchParticipant(ks_, s.sid, a.sid)->date_deleted,
            kT0 + absl::Seconds(9));
  EXPECT_EQ(
      store_->ListParticipants(ks_, s.sid, ListParams())->participants.size(),
      1u);
}

TEST_F(ParticipantTest, UnknownOnesAreNotFound) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  const Session other = Create();
  const Sid kp_elsewhere = a.sid;
  EXPECT_TRUE(IsProxyError(store_->FetchParticipant(ks_, other.sid, a.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(
      IsProxyError(store_->DeleteParticipant(ks_, other.sid, kp_elsewhere),
                   absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->FetchParticipant(ks_, s.sid, s.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->ListParticipants(ks_, a.sid, ListParams()),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  // An ended Session takes no new Participant.
  ASSERT_TRUE(store_->CloseSession(ks_, s.sid, "done").ok());
  EXPECT_TRUE(IsProxyError(TryAdd(s, "b"),
                           absl::StatusCode::kFailedPrecondition,
                           kErrorSessionClosed));
  // Deleting the Session takes its Participants.
  ASSERT_TRUE(store_->DeleteSession(ks_, s.sid).ok());
  EXPECT_TRUE(IsProxyError(store_->FetchParticipant(ks_, s.sid, a.sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
}

TEST_F(ParticipantTest, MessageCountsAsTheSessionsInteraction) {
  CreateSessionParams params;
  params.ttl = 60;
  const Session s = Create(params);
  const Participant a = Add(s, "a");
  At(absl::Seconds(50));
  const Interaction i = Send(s, a, "hello");
  EXPECT_TRUE(testing_util::IsSid("KI", i.sid));
  EXPECT_EQ(i.session_sid, s.sid);
  EXPECT_EQ(i.service_sid, ks_);
  EXPECT_EQ(i.outbound_participant_sid, a.sid);
  EXPECT_EQ(i.body, "hello");
  EXPECT_EQ(i.date_created, kT0 + absl::Seconds(50));
  const Session after = MustFetch(s.sid);
  EXPECT_EQ(after.status, SessionStatus::kInProgress);
  EXPECT_EQ(after.date_last_interaction, kT0 + absl::Seconds(50));
  EXPECT_EQ(after.date_updated, kT0 + absl::Seconds(50));
  // The TTL window restarted: still live at 100 s, closed at 110 s.
  At(absl::Seconds(100));
  EXPECT_EQ(MustFetch(s.sid).status, SessionStatus::kInProgress);
  At(absl::Seconds(110));
  EXPECT_EQ(MustFetch(s.sid).status, SessionStatus::kClosed);
  // An ended Session takes no message.
  EXPECT_TRUE(
      IsProxyError(store_->RecordMessageInteraction(ks_, s.sid, a.sid, "late"),
                   absl::StatusCode::kFailedPrecondition, kErrorSessionClosed));
  EXPECT_EQ(store_->Stats().interactions, 1);
}

TEST_F(ParticipantTest, MessageRefusals) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  EXPECT_TRUE(IsInvalidParameter(
      store_->RecordMessageInteraction(ks_, s.sid, a.sid, "").status(),
      "Body"));
  EXPECT_TRUE(IsInvalidParameter(
      store_->RecordMessageInteraction(ks_, s.sid, a.sid, Repeat("m", 1601))
          .status(),
      "Body"));
  EXPECT_TRUE(
      store_->RecordMessageInteraction(ks_, s.sid, a.sid, Repeat("m", 1600))
          .ok());
  EXPECT_TRUE(
      IsProxyError(store_->RecordMessageInteraction(ks_, s.sid, s.sid, "x"),
                   absl::StatusCode::kNotFound, kErrorNotFound));
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, a.sid).ok());
  EXPECT_TRUE(
      IsProxyError(store_->RecordMessageInteraction(ks_, s.sid, a.sid, "x"),
                   absl::StatusCode::kFailedPrecondition, kErrorNoParticipant));
}

TEST_F(ParticipantTest, InteractionsListNewestFirstFetchAndDelete) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  std::vector<Interaction> sent;
  for (int i = 0; i < 5; ++i) {
    At(absl::Seconds(i));
    sent.push_back(Send(s, a, "m" + std::to_string(i)));
  }
  ListParams two;
  two.page_size = 2;
  std::vector<std::string> seen;
  for (;;) {
    absl::StatusOr<InteractionPage> page =
        store_->ListInteractions(ks_, s.sid, two);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const Interaction& i : page->interactions) seen.push_back(i.body);
    if (page->next_page_token.empty()) break;
    // Deleting the boundary between pages loses nothing else.
    if (seen.size() == 2) {
      ASSERT_TRUE(store_->DeleteInteraction(ks_, s.sid, sent[3].sid).ok());
    }
    two.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"m4", "m3", "m2", "m1", "m0"}));
  EXPECT_TRUE(IsProxyError(store_->FetchInteraction(ks_, s.sid, sent[3].sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  EXPECT_TRUE(IsProxyError(store_->DeleteInteraction(ks_, s.sid, sent[3].sid),
                           absl::StatusCode::kNotFound, kErrorNotFound));
  absl::StatusOr<Interaction> got =
      store_->FetchInteraction(ks_, s.sid, sent[1].sid);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, sent[1]);
  EXPECT_EQ(store_->Stats().interactions, 4);
  // At most 100 a page, whatever the page size asked.
  ListParams big;
  big.page_size = 1000;
  for (int i = 0; i < 100; ++i) Send(s, a, "x");
  EXPECT_EQ(store_->ListInteractions(ks_, s.sid, big)->interactions.size(),
            100u);
  ASSERT_TRUE(store_->DeleteSession(ks_, s.sid).ok());
  EXPECT_EQ(store_->Stats().interactions, 0);
  ExpectInvariants();
}

class Recorder : public SessionListener {
 public:
  void OnEvent(const SessionEvent& event) noexcept override {
    types.push_back(event.type);
  }
  std::vector<EventType> types;
};

TEST_F(ParticipantTest, OnlyAMessageEmitsAnEvent) {
  const Session s = Create();
  auto recorder = std::make_shared<Recorder>();
  store_->AddListener(recorder);
  const Participant a = Add(s, "a");
  const Interaction i = Send(s, a, "hi");
  ASSERT_TRUE(store_->DeleteInteraction(ks_, s.sid, i.sid).ok());
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, a.sid).ok());
  EXPECT_EQ(recorder->types, std::vector<EventType>{EventType::kInteraction});
}

class InteractionLimitTest : public ParticipantTest {
 protected:
  void SetUp() override {
    max_interactions_ = 3;
    max_per_session_ = 2;
    ParticipantTest::SetUp();
  }
};

TEST_F(InteractionLimitTest, PerSessionAndPerStore) {
  const Session s = Create();
  const Participant a = Add(s, "a");
  Send(s, a, "1");
  const Interaction two = Send(s, a, "2");
  EXPECT_TRUE(IsProxyError(
      store_->RecordMessageInteraction(ks_, s.sid, a.sid, "3"),
      absl::StatusCode::kResourceExhausted, kErrorTooManyRequests));
  const Session t = Create();
  const Participant b = Add(t, "b");
  Send(t, b, "3");
  EXPECT_TRUE(IsProxyError(
      store_->RecordMessageInteraction(ks_, t.sid, b.sid, "4"),
      absl::StatusCode::kResourceExhausted, kErrorTooManyRequests));
  // A delete frees a place in both.
  ASSERT_TRUE(store_->DeleteInteraction(ks_, s.sid, two.sid).ok());
  EXPECT_TRUE(store_->RecordMessageInteraction(ks_, t.sid, b.sid, "4").ok());
  // A Session's delete frees its Interactions' places.
  ASSERT_TRUE(store_->DeleteSession(ks_, t.sid).ok());
  EXPECT_TRUE(store_->RecordMessageInteraction(ks_, s.sid, a.sid, "5").ok());
}

// What a store holds of `s`, for comparing a store with its copy.
struct History {
  std::vector<Participant> participants;
  std::vector<Interaction> interactions;
};

History HistoryOf(SessionStore& store, const Sid& ks, const Sid& kc) {
  History h;
  ListParams all;
  all.page_size = 100;
  absl::StatusOr<ParticipantPage> p = store.ListParticipants(ks, kc, all);
  EXPECT_TRUE(p.ok()) << p.status();
  if (p.ok()) h.participants = p->participants;
  absl::StatusOr<InteractionPage> i = store.ListInteractions(ks, kc, all);
  EXPECT_TRUE(i.ok()) << i.status();
  if (i.ok()) h.interactions = i->interactions;
  return h;
}

void ExpectSameHistory(const History& a, const History& b) {
  ASSERT_EQ(a.participants.size(), b.participants.size());
  for (size_t i = 0; i < a.participants.size(); ++i) {
    EXPECT_EQ(a.participants[i].sid, b.participants[i].sid);
    EXPECT_EQ(a.participants[i].identifier, b.participants[i].identifier);
    EXPECT_EQ(a.participants[i].date_created, b.participants[i].date_created);
    EXPECT_EQ(a.participants[i].date_deleted, b.participants[i].date_deleted);
  }
  EXPECT_EQ(a.interactions, b.interactions);
}

TEST_F(ParticipantTest, ASnapshotKeepsThemWhole) {
  CreateSessionParams params;
  params.participants.push_back({"a", "A", ""});
  const Session s = Create(params);
  const Participant b = Add(s, "b");
  At(absl::Seconds(3));
  Send(s, b, "one");
  const Interaction two = Send(s, b, "two");
  Send(s, b, "three");
  ASSERT_TRUE(store_->DeleteInteraction(ks_, s.sid, two.sid).ok());
  ASSERT_TRUE(store_->DeleteParticipant(ks_, s.sid, b.sid).ok());
  const std::string path = ::testing::TempDir() + "participant_test.snap";
  ASSERT_TRUE(store_->WriteSnapshot(path).ok());
  StoreOptions options;
  options.clock = &clock_;
  absl::StatusOr<std::unique_ptr<SessionStore>> copy =
      SessionStore::OpenSnapshot(path, options);
  ASSERT_TRUE(copy.ok()) << copy.status();
  ExpectSameHistory(HistoryOf(**copy, ks_, s.sid),
                    HistoryOf(*store_, ks_, s.sid));
  EXPECT_EQ((*copy)->Stats().interactions, 2);
  // New Interactions go on after the restored ones, newest first.
  absl::StatusOr<Participant> a_copy = (*copy)->FetchParticipant(
      ks_, s.sid, HistoryOf(*store_, ks_, s.sid).participants[0].sid);
  ASSERT_TRUE(a_copy.ok());
  ASSERT_TRUE(
      (*copy)->RecordMessageInteraction(ks_, s.sid, a_copy->sid, "four").ok());
  EXPECT_EQ(HistoryOf(**copy, ks_, s.sid).interactions.front().body, "four");
  EXPECT_TRUE((*copy)->CheckInvariants().ok());
  std::remove(path.c_str());
}

TEST(ParticipantDurabilityTest, JournalAndCheckpointBringThemBack) {
  std::string dir = ::testing::TempDir() + "participant_durable.XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ManualClock clock(kT0);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 7;
  options.data_dir = dir;
  options.sync = SyncPolicy::kEveryWrite;
  History before;
  Sid ks;
  Sid kc;
  {
    auto store = SessionStore::Open(options).value();
    CreateServiceParams svc;
    svc.unique_name = "main";
    ks = store->CreateService(svc)->sid;
    CreateSessionParams params;
    params.ttl = 100;
    params.participants.push_back({"a", "", ""});
    kc = store->CreateSession(ks, params)->sid;
    ASSERT_TRUE(store->Checkpoint().ok());
    // After the checkpoint: only the journal has these.
    ParticipantParams b;
    b.identifier = "b";
    const Participant pb = store->CreateParticipant(ks, kc, b).value();
    clock.Advance(absl::Seconds(30));
    store->RecordMessageInteraction(ks, kc, pb.sid, "hi").value();
    const Interaction gone =
        store->RecordMessageInteraction(ks, kc, pb.sid, "bye").value();
    ASSERT_TRUE(store->DeleteInteraction(ks, kc, gone.sid).ok());
    ASSERT_TRUE(store->DeleteParticipant(ks, kc, pb.sid).ok());
    before = HistoryOf(*store, ks, kc);
  }
  auto store = SessionStore::Open(options).value();
  ExpectSameHistory(HistoryOf(*store, ks, kc), before);
  const Session s = store->FetchSession(ks, kc).value();
  EXPECT_EQ(s.status, SessionStatus::kInProgress);
  EXPECT_EQ(s.date_last_interaction, kT0 + absl::Seconds(30));
  EXPECT_EQ(store->Stats().interactions, 1);
  // And once more from a checkpoint that holds them.
  ASSERT_TRUE(store->Checkpoint().ok());
  store.reset();
  store = SessionStore::Open(options).value();
  ExpectSameHistory(HistoryOf(*store, ks, kc), before);
  EXPECT_TRUE(store->CheckInvariants().ok());
}

TEST(ParticipantDurabilityTest, AFollowerAppliesTheLeadersChanges) {
  std::string dir = ::testing::TempDir() + "participant_follower.XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  ManualClock clock(kT0);
  StoreOptions options;
  options.clock = &clock;
  options.seed = 8;
  options.data_dir = dir;
  options.sync = SyncPolicy::kEveryWrite;  // The feed has every change.
  auto leader = SessionStore::Open(options).value();
  StoreOptions follower_options;
  follower_options.clock = &clock;
  follower_options.follower = true;
  follower_options.account_sid = leader->account_sid().ToString();
  auto follower = SessionStore::Open(follower_options).value();
  CreateServiceParams svc;
  svc.unique_name = "main";
  const Sid ks = leader->CreateService(svc)->sid;
  const Sid kc = leader->CreateSession(ks, CreateSessionParams())->sid;
  ParticipantParams a;
  a.identifier = "a";
  const Participant pa = leader->CreateParticipant(ks, kc, a).value();
  clock.Advance(absl::Seconds(4));
  leader->RecordMessageInteraction(ks, kc, pa.sid, "one").value();
  const Interaction two =
      leader->RecordMessageInteraction(ks, kc, pa.sid, "two").value();
  ASSERT_TRUE(leader->DeleteInteraction(ks, kc, two.sid).ok());
  ASSERT_TRUE(leader->DeleteParticipant(ks, kc, pa.sid).ok());
  absl::StatusOr<uint64_t> next = leader->ReadChanges(
      1, [&](const Change& change) { return follower->ApplyChange(change); });
  ASSERT_TRUE(next.ok()) << next.status();
  ExpectSameHistory(HistoryOf(*follower, ks, kc), HistoryOf(*leader, ks, kc));
  EXPECT_EQ(follower->FetchSession(ks, kc)->date_last_interaction,
            kT0 + absl::Seconds(4));
  // Applying them twice changes nothing.
  ASSERT_TRUE(leader
                  ->ReadChanges(1,
                                [&](const Change& change) {
                                  return follower->ApplyChange(change);
                                })
                  .ok());
  ExpectSameHistory(HistoryOf(*follower, ks, kc), HistoryOf(*leader, ks, kc));
  EXPECT_EQ(follower->Stats().interactions, 1);
  EXPECT_TRUE(follower->CheckInvariants().ok());
  // A follower's own changes are refused.
  EXPECT_EQ(
      follower->RecordMessageInteraction(ks, kc, pa.sid, "x").status().code(),
      absl::StatusCode::kFailedPrecondition);
}

// A Session with a unique_name too long to sit in its record keeps it in
// the same side block as its Participants and Interactions: removing it
// must read the name before the block goes (a delete, a purge, a Service
// delete).
TEST_F(ParticipantTest, RemovingALongNamedSessionWithHistory) {
  for (int how = 0; how < 3; ++how) {
    const Sid ks = how == 2 ? NewService("other") : ks_;
    CreateSessionParams params;
    params.unique_name = Repeat("n", 100) + std::to_string(how);
    params.ttl = 10;
    params.participants.push_back({"a", "", ""});
    const Session s = store_->CreateSession(ks, params).value();
    ASSERT_TRUE(
        store_->RecordMessageInteraction(ks, s.sid, s.participants[0].sid, "hi")
            .ok());
    if (how == 0) {
      ASSERT_TRUE(store_->DeleteSession(ks, s.sid).ok());
    } else if (how == 1) {
      clock_.Advance(absl::Hours(24 * 91));
      store_->Advance();
    } else {
      ASSERT_TRUE(store_->DeleteService(ks).ok());
    }
    EXPECT_EQ(store_->Stats().interactions, 0) << how;
    // The name is free again.
    if (how < 2) {
      EXPECT_TRUE(store_->CreateSession(ks, params).ok()) << how;
    }
    ExpectInvariants();
  }
}

}  // namespace
}  // namespace sessionwheel
