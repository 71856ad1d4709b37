// Model-based test of SessionStore.
//
// A seeded random sequence of operations and clock moves runs against the
// store and against a small reference model written straight from
// docs/semantics.md. The model is deliberately naive: a std::map of plain
// Sessions per Service, and expiry computed lazily by settling every Session
// against the clock before each operation. After every step the two must
// agree on the operation's outcome (OK, or the same Proxy error code) and on
// every field of every Session; Sessions the model no longer holds must be
// NotFound in the store.
//
// Participants and message Interactions are in the model too: a Session's
// Participants (with their soft deletes) are compared on every fetch, and
// its Interactions, newest first, on every full check.
//
// Where the contract leaves the order of two checks open (for example a bad
// `Reason` on an ended Session), the model accepts either code; everywhere
// else it demands exactly one.
//
// A failure prints the seed, the step, the operation and the last few
// operations before it. To replay one seed, say 17:
//   model_test --gtest_filter='Seeds/ModelTest.*/17'

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
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

using testing_util::kStart;

#if defined(SESSIONWHEEL_TSAN)
constexpr int kSeeds = 10;
#else
constexpr int kSeeds = 50;
#endif
constexpr int kSteps = 2000;

constexpr absl::Duration kRetention = absl::Minutes(10);

// Names from a small pool, so creates collide often. One is shaped like a
// Session SID: a fetch tries it as a SID first, then as a name.
const char* const kNamePool[] = {"alpha", "bravo", "charlie", "delta", "echo"};
const char kSidShapedName[] = "KC00000000000000000000000000000001";
const std::string& LongValidName() {
  static const std::string* name = new std::string(191, 'n');
  return *name;
}

// Every valid name a step may use; the full check fetches each of them.
std::vector<std::string> AllValidNames() {
  std::vector<std::string> names(std::begin(kNamePool), std::end(kNamePool));
  names.push_back(LongValidName());
  names.push_back(kSidShapedName);
  return names;
}

std::string T(absl::Time t) {
  return absl::StrCat("t+", absl::ToInt64Milliseconds(t - kStart), "ms");
}
std::string T(const std::optional<absl::Time>& t) { return t ? T(*t) : "null"; }
std::string S(const std::optional<std::string>& s) {
  if (!s) return "null";
  if (s->size() > 40) {
    return absl::StrCat("\"", s->substr(0, 8), "...(", s->size(), " chars)\"");
  }
  return absl::StrCat("\"", *s, "\"");
}
std::string S(const Sid& sid) {
  return sid.is_null() ? "(null SID)" : sid.ToString();
}
std::string S(const std::optional<int64_t>& v) {
  return v ? absl::StrCat(*v) : "absent";
}
std::string S(const std::optional<SessionStatus>& v) {
  return v ? std::string(StatusName(*v)) : "absent";
}
std::string S(const std::optional<SessionMode>& v) {
  return v ? std::string(ModeName(*v)) : "absent";
}
std::string Codes(const std::set<int>& codes) {
  std::string out;
  for (int c : codes) absl::StrAppend(&out, out.empty() ? "" : "|", c);
  return out.empty() ? "OK" : out;
}

// The canonical code the store pairs with each Proxy code (errors.h, store.h).
absl::StatusCode CanonicalFor(int proxy_code) {
  switch (proxy_code) {
    case kErrorNotFound:
      return absl::StatusCode::kNotFound;
    case kErrorSessionNameTaken:
    case kErrorParticipantInSession:
      return absl::StatusCode::kAlreadyExists;
    case kErrorSessionClosed:
    case kErrorInvalidTransition:
    case kErrorNoParticipant:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInvalidArgument;
  }
}

// "KC" + 32 hex digits of either case, written lower-case; nullopt otherwise.
std::optional<std::string> CanonicalSessionSid(std::string_view text) {
  if (text.size() != 34 || text.substr(0, 2) != "KC") return std::nullopt;
  std::string out = "KC";
  for (char c : text.substr(2)) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out.push_back(
        static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// The reference model -------------------------------------------------------

struct ModelSession {
  std::string sid;
  std::optional<std::string> unique_name;
  SessionStatus status = SessionStatus::kOpen;
  std::optional<std::string> closed_reason;
  int64_t ttl = 0;
  SessionMode mode = SessionMode::kVoiceAndMessage;
  absl::Time date_created;
  absl::Time date_updated;
  absl::Time date_started;
  std::optional<absl::Time> date_ended;
  std::optional<absl::Time> date_last_interaction;
  std::optional<absl::Time> date_expiry;
  struct ModelParticipant {
    std::string sid;  // "" until the store names it (given at create).
    std::string identifier;
    bool deleted = false;
  };
  std::vector<ModelParticipant> participants;
  struct ModelInteraction {
    std::string sid;
    std::string participant;
    std::string body;
  };
  std::vector<ModelInteraction> interactions;  // Oldest first.
  // The TTL window's start: the latest of create, re-open and interaction.
  absl::Time base;
  // Creation order, for List.
  int64_t seq = 0;
};

struct ModelService {
  Sid sid;
  int64_t default_ttl = 0;
  std::map<std::string, ModelSession> sessions;  // By SID.
};

struct Model {
  std::vector<ModelService> services;
  absl::Duration retention;
  int64_t next_seq = 0;
  int64_t expired = 0;
  // Expiries the store may fairly not have counted: a Session deleted while
  // closed by expiry (the store may delete it without applying the expiry
  // first), or expired and purged in one go.
  int64_t expired_slack = 0;
  int64_t purged = 0;
  // Sessions the model no longer holds: (service index, SID).
  std::vector<std::pair<int, std::string>> gone;

  // docs/semantics.md, "Expiry": date_expiry when set, else base + ttl
  // when ttl > 0; only for open and in-progress Sessions.
  static std::optional<absl::Time> ExpiryInstant(const ModelSession& s) {
    if (s.status != SessionStatus::kOpen &&
        s.status != SessionStatus::kInProgress) {
      return std::nullopt;
    }
    if (s.date_expiry) return *s.date_expiry;
    if (s.ttl > 0) return s.base + absl::Seconds(s.ttl);
    return std::nullopt;
  }

  std::optional<absl::Time> PurgeInstant(const ModelSession& s) const {
    if (!IsEnded(s.status)) return std::nullopt;
    return *s.date_ended + retention;
  }

  // Applies a due expiry (semantics.md "What an expiry writes").
  bool ExpireIfDue(ModelSession& s, absl::Time now) {
    std::optional<absl::Time> at = ExpiryInstant(s);
    if (!at || *at > now) return false;
    s.closed_reason =
        std::string(s.date_expiry ? kReasonDateExpiry : kReasonTtl);
    s.status = SessionStatus::kClosed;
    s.date_ended = *at;
    // No time moves back: an update that made it overdue keeps its time.
    s.date_updated = std::max(s.date_updated, *at);
    ++expired;
    return true;
  }

  bool PurgeDue(const ModelSession& s, absl::Time now) const {
    std::optional<absl::Time> at = PurgeInstant(s);
    return at && *at <= now;
  }

  // Brings every Session up to `now`: expire, then purge.
  void Settle(absl::Time now) {
    for (int i = 0; i < static_cast<int>(services.size()); ++i) {
      auto& sessions = services[i].sessions;
      for (auto it = sessions.begin(); it != sessions.end();) {
        bool expired_now = ExpireIfDue(it->second, now);
        if (PurgeDue(it->second, now)) {
          if (expired_now) ++expired_slack;
          ++purged;
          gone.emplace_back(i, it->first);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  ModelSession* FindBySid(int svc, std::string_view text) {
    std::optional<std::string> sid = CanonicalSessionSid(text);
    if (!sid) return nullptr;
    auto& sessions = services[svc].sessions;
    auto it = sessions.find(*sid);
    return it == sessions.end() ? nullptr : &it->second;
  }

  ModelSession* FindByName(int svc, std::string_view name) {
    for (auto& [sid, s] : services[svc].sessions) {
      if (s.unique_name && *s.unique_name == name) return &s;
    }
    return nullptr;
  }

  // semantics.md: a SID-shaped string is looked up as a SID first, then as
  // a name.
  ModelSession* Fetch(int svc, std::string_view sid_or_name) {
    if (ModelSession* s = FindBySid(svc, sid_or_name)) return s;
    return FindByName(svc, sid_or_name);
  }

  // The Service's Sessions, newest first.
  std::vector<const ModelSession*> List(int svc) const {
    std::vector<const ModelSession*> out;
    for (const auto& [sid, s] : services[svc].sessions) out.push_back(&s);
    std::sort(out.begin(), out.end(),
              [](const ModelSession* a, const ModelSession* b) {
                return a->seq > b->seq;
              });
    return out;
  }

  std::optional<absl::Time> EarliestPending() const {
    std::optional<absl::Time> earliest;
    for (const auto& svc : services) {
      for (const auto& [sid, s] : svc.sessions) {
        std::optional<absl::Time> at = ExpiryInstant(s);
        if (!at) at = PurgeInstant(s);
        if (at && (!earliest || *at < *earliest)) earliest = at;
      }
    }
    return earliest;
  }
};

// Returns "" when `got` matches `want`, else a list of the differences.
std::string Diff(const Session& got, const ModelSession& want,
                 const Sid& service_sid) {
  std::string d;
  auto field = [&d](const char* name, const std::string& g,
                    const std::string& w) {
    if (g != w) absl::StrAppend(&d, "\n  ", name, ": store ", g, ", model ", w);
  };
  field("sid", got.sid.ToString(), want.sid);
  field("service_sid", got.service_sid.ToString(), service_sid.ToString());
  field("unique_name", S(got.unique_name), S(want.unique_name));
  field("status", std::string(StatusName(got.status)),
        std::string(StatusName(want.status)));
  field("closed_reason", S(got.closed_reason), S(want.closed_reason));
  field("ttl", absl::StrCat(got.ttl), absl::StrCat(want.ttl));
  field("mode", std::string(ModeName(got.mode)),
        std::string(ModeName(want.mode)));
  field("date_created", T(got.date_created), T(want.date_created));
  field("date_updated", T(got.date_updated), T(want.date_updated));
  field("date_started", T(got.date_started), T(want.date_started));
  field("date_ended", T(got.date_ended), T(want.date_ended));
  field("date_last_interaction", T(got.date_last_interaction),
        T(want.date_last_interaction));
  field("date_expiry", T(got.date_expiry), T(want.date_expiry));
  std::string got_parts, want_parts;
  for (const Participant& p : got.participants) {
    absl::StrAppend(&got_parts, p.identifier,
                    testing_util::IsSid("KP", p.sid)
                        ? ""
                        : "(bad sid " + p.sid.ToString() + ")",
                    p.date_deleted ? "(deleted)" : "", ";");
  }
  for (const auto& p : want.participants) {
    absl::StrAppend(&want_parts, p.identifier, p.deleted ? "(deleted)" : "",
                    ";");
  }
  field("participants", got_parts, want_parts);
  return d;
}

// The test ------------------------------------------------------------------

class ModelTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    seed_ = GetParam();
    rng_.seed(0x5e55'1011ULL * (seed_ + 1));
    StoreOptions options;
    options.clock = &clock_;
    options.seed = static_cast<uint64_t>(seed_);
    options.closed_retention = kRetention;
    // Vary the layout across seeds; every tick divides a second, so tick
    // boundaries are the same whether counted from the epoch or from kStart.
    static constexpr int kShards[] = {16, 1, 4, 256};
    static const absl::Duration kTicks[] = {
        absl::Milliseconds(10), absl::Milliseconds(1), absl::Milliseconds(250),
        absl::Seconds(1)};
    options.shards = kShards[seed_ % 4];
    options.tick = kTicks[(seed_ / 4) % 4];
    tick_ = options.tick;
    // Bulk work in slices as small as one Session, as well as the default:
    // slicing must lose and reorder nothing the model can see.
    static constexpr int kSlices[] = {1, 1024, 3};
    options.bulk_slice = kSlices[seed_ % 3];
    absl::StatusOr<std::unique_ptr<SessionStore>> store =
        SessionStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    model_.retention = kRetention;
    for (int i = 0; i < 2; ++i) {
      CreateServiceParams p;
      p.unique_name = absl::StrCat("service-", i);
      p.default_ttl = i == 0 ? 0 : 90;
      absl::StatusOr<Service> svc = store_->CreateService(p);
      ASSERT_TRUE(svc.ok()) << svc.status();
      model_.services.push_back({svc->sid, p.default_ttl, {}});
    }
    ASSERT_TRUE(testing_util::IsSid("AC", store_->account_sid()));
    high_water_ = clock_.Now();
  }

  // Random choices.
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(0, 99) < percent; }

  absl::Time Now() const { return clock_.Now(); }

  // Service `svc`, or for -1 a never-minted Service SID and for -2 one of
  // another kind (a Service's bits under the Session prefix).
  Sid ServiceSid(int svc) {
    if (svc >= 0) return model_.services[svc].sid;
    if (svc == -1) return Sid("KS", ~uint64_t{0}, ~uint64_t{0});
    const Sid& real = model_.services[0].sid;
    return Sid("KC", real.hi(), real.lo());
  }

  // The SID of a Session the model holds, read back from its text.
  static Sid SessionSid(const std::string& text) {
    std::optional<Sid> sid = Sid::Parse("KC", text);
    EXPECT_TRUE(sid.has_value()) << "model SID " << text;
    return sid.value_or(Sid());
  }

  // A Session SID's text for a fetch on Service `svc`: mostly one the model
  // holds, sometimes in upper-case hex, a gone one, one of the other
  // Service, a never-minted one, or a malformed string.
  std::string PickSidText(int svc) {
    int r = static_cast<int>(Uniform(0, 99));
    int home = svc < 0 ? 0 : svc;
    const auto& sessions = model_.services[home].sessions;
    const auto& other = model_.services[1 - home].sessions;
    if (r < 72 && !sessions.empty()) {
      auto it =
          std::next(sessions.begin(),
                    Uniform(0, static_cast<int64_t>(sessions.size()) - 1));
      std::string sid = it->first;
      if (Chance(10)) {
        for (size_t i = 2; i < sid.size(); ++i) {
          sid[i] = static_cast<char>(
              std::toupper(static_cast<unsigned char>(sid[i])));
        }
      }
      return sid;
    }
    if (r < 82 && !model_.gone.empty()) {
      return model_
          .gone[Uniform(0, static_cast<int64_t>(model_.gone.size()) - 1)]
          .second;
    }
    if (r < 89 && !other.empty()) {
      return std::next(other.begin(),
                       Uniform(0, static_cast<int64_t>(other.size()) - 1))
          ->first;
    }
    if (r < 94) {
      static const char* const kMalformed[] = {
          "",
          "KC",
          "KC123",
          "kc0123456789abcdef0123456789abcdef",
          "KC0123456789abcdef0123456789abcde",
          "KC0123456789abcdef0123456789abcdef0",
          "KCzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
          "KS0123456789abcdef0123456789abcdef"};
      return kMalformed[Uniform(0, 7)];
    }
    std::string sid = "KC";
    for (int i = 0; i < 32; ++i)
      sid.push_back("0123456789abcdef"[Uniform(0, 15)]);
    return sid;
  }

  // A Session SID for an operation on Service `svc`: as PickSidText, parsed
  // (so upper-case hex names the same Session). Malformed text has no Sid;
  // in its place comes a SID of another kind: the bits of a Session the
  // model holds (or of a Service) under another prefix, or the null SID.
  Sid PickSid(int svc) {
    const std::string text = PickSidText(svc);
    if (std::optional<Sid> sid = Sid::Parse(text)) return *sid;
    int home = svc < 0 ? 0 : svc;
    const auto& sessions = model_.services[home].sessions;
    Sid bits = model_.services[home].sid;
    if (!sessions.empty() && Chance(75)) {
      bits = SessionSid(
          std::next(sessions.begin(),
                    Uniform(0, static_cast<int64_t>(sessions.size()) - 1))
              ->first);
    }
    const int kind = static_cast<int>(Uniform(0, 3));
    if (kind == 3) return Sid();
    static const char* const kOtherKinds[] = {"KS", "KP", "AC"};
    return Sid(kOtherKinds[kind], bits.hi(), bits.lo());
  }

  struct NameChoice {
    std::string name;
    bool valid;
  };
  NameChoice PickName() {
    int r = static_cast<int>(Uniform(0, 99));
    if (r < 85) return {kNamePool[Uniform(0, 4)], true};
    if (r < 89) return {LongValidName(), true};
    if (r < 92) return {kSidShapedName, true};
    if (r < 95) return {"", false};
    if (r < 98) return {std::string(192, 'x'), false};
    return {"bad\xff\xfe", false};
  }

  int64_t PickTtlValue() {
    static constexpr int64_t kSmall[] = {1, 2, 5, 10, 30, 60, 120, 300, 900};
    int r = static_cast<int>(Uniform(0, 99));
    if (r < 30) return 0;
    if (r < 35) return -Uniform(1, 10);
    if (r < 38) return 86400;
    return kSmall[Uniform(0, 8)];
  }

  absl::Time PickDateExpiry(absl::Time now) {
    int r = static_cast<int>(Uniform(0, 99));
    if (r < 20) return now - absl::Milliseconds(Uniform(1, 60'000));
    if (r < 32) return now;
    if (r < 55) return now + absl::Milliseconds(Uniform(1, 2'000));
    return now + absl::Milliseconds(Uniform(2'000, 20 * 60'000));
  }

  std::string PickReason(bool* valid) {
    int r = static_cast<int>(Uniform(0, 99));
    *valid = true;
    if (r < 88) return absl::StrCat("host-", Uniform(0, 99));
    if (r < 91) return std::string(255, 'r');
    *valid = false;
    if (r < 94) return "";
    if (r < 97) return std::string(256, 'r');
    return "bad\xc3";
  }

  // Checks an outcome against the expected codes (empty: OK). Returns true
  // when it matched.
  bool CheckOutcome(const absl::Status& got, const std::set<int>& want) {
    if (want.empty()) {
      EXPECT_TRUE(got.ok()) << "expected OK, store said " << got;
      return got.ok();
    }
    if (got.ok()) {
      ADD_FAILURE() << "expected error " << Codes(want) << ", store said OK";
      return false;
    }
    std::optional<int> code = ProxyErrorCode(got);
    if (!code || want.count(*code) == 0) {
      ADD_FAILURE() << "expected error " << Codes(want) << ", store said "
                    << got << " (proxy code "
                    << (code ? absl::StrCat(*code) : "none") << ")";
      return false;
    }
    EXPECT_EQ(got.code(), CanonicalFor(*code)) << got;
    return true;
  }

  void ExpectSame(const Session& got, const ModelSession& want, int svc) {
    EXPECT_EQ(Diff(got, want, model_.services[svc].sid), "")
        << "session " << want.sid;
  }

  // Clock moves -----------------------------------------------------------

  void SetClock(absl::Time t) {
    clock_.Set(t);
    high_water_ = std::max(high_water_, t);
  }

  void MoveClock() {
    int r = static_cast<int>(Uniform(0, 99));
    absl::Time now = Now();
    std::optional<absl::Time> pending = model_.EarliestPending();
    std::string what;
    if (r < 12 && pending && *pending > now) {
      // Exactly onto the next expiry or purge instant, or just before it:
      // never early, never stale.
      absl::Time t = Chance(70) ? *pending : *pending - absl::Milliseconds(1);
      SetClock(t);
      what = absl::StrCat("clock to ", t == *pending ? "" : "1ms before ",
                          "next pending instant");
    } else if (r < 20) {
      what = "clock +0";
    } else if (r < 40) {
      int64_t ms = Uniform(1, 999);
      SetClock(now + absl::Milliseconds(ms));
      what = absl::StrCat("clock +", ms, "ms");
    } else if (r < 65) {
      int64_t ms = Uniform(1'000, 60'000);
      SetClock(now + absl::Milliseconds(ms));
      what = absl::StrCat("clock +", ms, "ms");
    } else if (r < 85) {
      int64_t ms = Uniform(60'000, 10 * 60'000);
      SetClock(now + absl::Milliseconds(ms));
      what = absl::StrCat("clock +", ms, "ms");
    } else if (r < 97) {
      int64_t ms = Uniform(10 * 60'000, 30 * 60'000);
      SetClock(now + absl::Milliseconds(ms));
      what = absl::StrCat("clock +", ms, "ms (past retention)");
    } else {
      // Back in time: nothing expires early, nothing is lost.
      int64_t ms = Uniform(1, 5'000);
      SetClock(now - absl::Milliseconds(ms));
      what = absl::StrCat("clock -", ms, "ms");
    }
    if (Chance(50)) {
      store_->Advance();
      absl::StrAppend(&what, " + Advance()");
    }
    Log(absl::StrCat(what, " -> ", T(Now())));
  }

  // Operations ------------------------------------------------------------

  void OpCreate(int svc) {
    absl::Time now = Now();
    CreateSessionParams p;
    bool name_valid = true;
    if (Chance(55)) {
      NameChoice n = PickName();
      p.unique_name = n.name;
      name_valid = n.valid;
    }
    if (Chance(60)) p.ttl = PickTtlValue();
    if (Chance(30)) p.date_expiry = PickDateExpiry(now);
    if (Chance(30)) p.status = static_cast<SessionStatus>(Uniform(0, 4));
    if (Chance(50)) p.mode = static_cast<SessionMode>(Uniform(0, 2));
    int r = static_cast<int>(Uniform(0, 99));
    int participants = r < 85   ? 0
                       : r < 95 ? static_cast<int>(Uniform(1, 2))
                                : 3;
    for (int i = 0; i < participants; ++i) {
      p.participants.push_back({absl::StrCat("+1555000", i, Uniform(0, 9)),
                                absl::StrCat("friend-", i), "+15559990000"});
    }
    Log(absl::StrCat(
        "create svc=", svc, " name=", S(p.unique_name), " ttl=", S(p.ttl),
        " date_expiry=", p.date_expiry ? T(*p.date_expiry) : "absent",
        " status=", S(p.status), " mode=", S(p.mode),
        " participants=", participants));

    std::set<int> want;
    if (svc < 0) {
      want = {kErrorNotFound};
    } else {
      if (!name_valid) want.insert(kErrorInvalidParameter);
      if (p.ttl && *p.ttl < 0) want.insert(kErrorInvalidParameter);
      if (p.date_expiry && *p.date_expiry <= now) {
        want.insert(kErrorInvalidParameter);
      }
      if (participants > 2) want.insert(kErrorTooManyParticipants);
      if (p.unique_name && name_valid &&
          model_.FindByName(svc, *p.unique_name)) {
        want.insert(kErrorSessionNameTaken);
      }
    }
    absl::StatusOr<Session> got =
        Chance(50) ? store_->CreateSession(ServiceSid(svc), p)
                   : Filled([&](Session* out) {
                       return store_->CreateSession(ServiceSid(svc), p, out);
                     });
    if (!CheckOutcome(got.status(), want) || !want.empty()) return;

    ModelSession s;
    s.sid = got->sid.ToString();
    EXPECT_TRUE(testing_util::IsSid("KC", got->sid));
    EXPECT_TRUE(CanonicalSessionSid(s.sid) == s.sid) << "bad SID " << s.sid;
    for (const auto& service : model_.services) {
      EXPECT_EQ(service.sessions.count(s.sid), 0u) << "SID reused: " << s.sid;
    }
    s.unique_name = p.unique_name;
    s.status = p.status.value_or(SessionStatus::kOpen);
    if (IsEnded(s.status)) {
      s.date_ended = now;
      s.closed_reason = std::string(kReasonApi);
    }
    s.ttl = p.ttl.value_or(model_.services[svc].default_ttl);
    s.mode = p.mode.value_or(SessionMode::kVoiceAndMessage);
    s.date_created = s.date_updated = s.date_started = now;
    s.date_expiry = p.date_expiry;
    for (const auto& part : p.participants) {
      s.participants.push_back({"", part.identifier, false});
    }
    for (size_t i = 0;
         i < got->participants.size() && i < s.participants.size(); ++i) {
      s.participants[i].sid = got->participants[i].sid.ToString();
    }
    s.base = now;
    s.seq = model_.next_seq++;
    Log(absl::StrCat("  -> ", s.sid));
    ExpectSame(*got, s, svc);
    model_.services[svc].sessions.emplace(s.sid, std::move(s));
  }

  void OpFetch(int svc, bool by_name) {
    std::string key;
    if (by_name) {
      std::vector<std::string> names = AllValidNames();
      names.push_back("zulu");
      key = names[Uniform(0, static_cast<int64_t>(names.size()) - 1)];
    } else {
      key = PickSidText(svc);
    }
    Log(absl::StrCat("fetch svc=", svc, " key=", S(key)));
    ModelSession* s = svc < 0 ? nullptr : model_.Fetch(svc, key);
    absl::StatusOr<Session> got =
        Chance(50) ? store_->FetchSession(ServiceSid(svc), key)
                   : Filled([&](Session* out) {
                       return store_->FetchSession(ServiceSid(svc),
                                                   std::string_view(key), out);
                     });
    if (!CheckOutcome(got.status(),
                      s ? std::set<int>{} : std::set<int>{kErrorNotFound})) {
      return;
    }
    if (s) ExpectSame(*got, *s, svc);

    // Text that is a SID of any kind is fetched as a Sid too: by SID only,
    // never by name (a Session named like a SID is not found this way).
    std::optional<Sid> sid = Sid::Parse(key);
    if (!sid) return;
    Log(absl::StrCat("fetch svc=", svc, " sid=", S(*sid)));
    s = svc < 0 ? nullptr : model_.FindBySid(svc, sid->ToString());
    got = Chance(50)
              ? store_->FetchSession(ServiceSid(svc), *sid)
              : Filled([&](Session* out) {
                  return store_->FetchSession(ServiceSid(svc), *sid, out);
                });
    if (!CheckOutcome(got.status(),
                      s ? std::set<int>{} : std::set<int>{kErrorNotFound})) {
      return;
    }
    if (s) ExpectSame(*got, *s, svc);
  }

  // The codes for an operation that takes a SID only (semantics.md):
  // unknown Service, a SID of another kind, no such Session: all NotFound.
  // Returns the Session when all pass.
  ModelSession* Locate(int svc, const Sid& sid, std::set<int>* want) {
    ModelSession* s = svc < 0 ? nullptr : model_.FindBySid(svc, sid.ToString());
    if (!s) want->insert(kErrorNotFound);
    return s;
  }

  // Runs `call` with the Session reused across steps as its `out`, as a
  // host that keeps one Session would, and returns what it filled. On an
  // error `out` must be left alone.
  template <typename Call>
  absl::StatusOr<Session> Filled(Call call) {
    const Session before = reused_;
    absl::Status status = call(&reused_);
    if (!status.ok()) {
      EXPECT_TRUE(testing_util::SameSession(reused_, before))
          << "an error (" << status << ") changed *out";
      return status;
    }
    return reused_;
  }

  // After an operation that answers with a status only: the Session as
  // fetched right after it (by either overload) matches the model.
  void ExpectFetched(int svc, const Sid& sid, const ModelSession& want) {
    absl::StatusOr<Session> got =
        Chance(50) ? store_->FetchSession(ServiceSid(svc), sid)
                   : Filled([&](Session* out) {
                       return store_->FetchSession(ServiceSid(svc), sid, out);
                     });
    EXPECT_TRUE(got.ok()) << "fetch right after: " << got.status();
    if (got.ok()) ExpectSame(*got, want, svc);
  }

  void OpUpdate(int svc) {
    absl::Time now = Now();
    Sid sid = PickSid(svc);
    UpdateSessionParams p;
    if (Chance(40)) p.ttl = PickTtlValue();
    if (Chance(25)) p.date_expiry = PickDateExpiry(now);
    if (Chance(55)) {
      int r = static_cast<int>(Uniform(0, 9));
      p.status = r < 4   ? SessionStatus::kClosed
                 : r < 8 ? SessionStatus::kInProgress
                         : static_cast<SessionStatus>(
                               std::vector<int>{0, 3, 4}[Uniform(0, 2)]);
    }
    Log(absl::StrCat(
        "update svc=", svc, " sid=", S(sid), " ttl=", S(p.ttl), " date_expiry=",
        p.date_expiry ? T(*p.date_expiry) : "absent", " status=", S(p.status)));

    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    bool reopen = false;
    if (s) {
      Log(absl::StrCat("  (model: ", std::string(StatusName(s->status)), ")"));
      bool ended = IsEnded(s->status);
      reopen = ended && p.status == SessionStatus::kInProgress;
      if (ended && !reopen) {
        want.insert(kErrorSessionClosed);
      } else if (s->status == SessionStatus::kFailed) {
        want.insert(kErrorInvalidTransition);  // A failed Session stays failed.
      } else if (!ended && p.status && *p.status != SessionStatus::kClosed) {
        want.insert(kErrorInvalidTransition);
      } else {
        if (p.ttl && *p.ttl < 0) want.insert(kErrorInvalidParameter);
        if (p.date_expiry && *p.date_expiry <= now) {
          want.insert(kErrorInvalidParameter);
        }
        if (reopen && !p.date_expiry && s->date_expiry &&
            *s->date_expiry <= now) {
          want.insert(kErrorInvalidParameter);
        }
      }
    }
    absl::StatusOr<Session> got =
        Chance(50)
            ? store_->UpdateSession(ServiceSid(svc), sid, p)
            : Filled([&](Session* out) {
                return store_->UpdateSession(ServiceSid(svc), sid, p, out);
              });
    if (!CheckOutcome(got.status(), want) || !want.empty()) return;

    if (p.ttl) s->ttl = *p.ttl;
    if (p.date_expiry) s->date_expiry = p.date_expiry;
    if (p.status == SessionStatus::kClosed) {
      s->status = SessionStatus::kClosed;
      s->closed_reason = std::string(kReasonApi);
      s->date_ended = now;
    }
    if (reopen) {
      s->status = SessionStatus::kInProgress;
      s->closed_reason.reset();
      s->date_ended.reset();
      s->base = now;
    }
    s->date_updated = now;
    // An update may leave the Session overdue: it expires at once.
    bool expired_now = model_.ExpireIfDue(*s, now);
    ExpectSame(*got, *s, svc);
    if (model_.PurgeDue(*s, now)) {
      // Overdue by more than the retention too: gone at once.
      if (expired_now) ++model_.expired_slack;
      ++model_.purged;
      model_.gone.emplace_back(svc, s->sid);
      model_.services[svc].sessions.erase(s->sid);
    }
  }

  void OpDelete(int svc) {
    Sid sid = PickSid(svc);
    Log(absl::StrCat("delete svc=", svc, " sid=", S(sid)));
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    absl::Status got = store_->DeleteSession(ServiceSid(svc), sid);
    if (!CheckOutcome(got, want) || !want.empty()) return;
    if (s->status == SessionStatus::kClosed && s->closed_reason &&
        (*s->closed_reason == kReasonTtl ||
         *s->closed_reason == kReasonDateExpiry)) {
      ++model_.expired_slack;
    }
    model_.gone.emplace_back(svc, s->sid);
    model_.services[svc].sessions.erase(s->sid);
  }

  // Deletes Service 1 with its Sessions (in slices, as bulk_slice says) and
  // creates it again under its name: a new SID, none of the old Sessions.
  void OpDeleteService() {
    ModelService& svc = model_.services[1];
    Log(absl::StrCat("delete service 1 sid=", svc.sid.ToString()));
    absl::Status got = store_->DeleteService(svc.sid);
    ASSERT_TRUE(got.ok()) << got;
    for (const auto& [sid, s] : svc.sessions) {
      // Deleted without the store settling it first, maybe.
      if (s.status == SessionStatus::kClosed && s.closed_reason &&
          (*s.closed_reason == kReasonTtl ||
           *s.closed_reason == kReasonDateExpiry)) {
        ++model_.expired_slack;
      }
      model_.gone.emplace_back(1, sid);
    }
    svc.sessions.clear();
    CreateServiceParams p;
    p.unique_name = "service-1";
    p.default_ttl = svc.default_ttl;
    absl::StatusOr<Service> again = store_->CreateService(p);
    ASSERT_TRUE(again.ok()) << again.status();
    svc.sid = again->sid;
    ++service_deletes_;
  }

  void OpInteraction(int svc) {
    absl::Time now = Now();
    Sid sid = PickSid(svc);
    Log(absl::StrCat("interaction svc=", svc, " sid=", S(sid)));
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    if (s && IsEnded(s->status)) want.insert(kErrorSessionClosed);
    absl::Status got = store_->RecordInteraction(ServiceSid(svc), sid);
    if (!CheckOutcome(got, want) || !want.empty()) return;
    s->date_last_interaction = now;
    s->date_updated = now;
    s->base = now;
    if (s->status == SessionStatus::kOpen) {
      s->status = SessionStatus::kInProgress;
    }
    ExpectFetched(svc, sid, *s);
  }

  // A Participant of `s` (a random one) or an unknown SID.
  Sid PickParticipant(const ModelSession* s) {
    if (s != nullptr && !s->participants.empty() && Chance(85)) {
      const auto& p = s->participants[Uniform(
          0, static_cast<int64_t>(s->participants.size()) - 1)];
      return Sid::Parse("KP", p.sid).value_or(Sid());
    }
    return Sid("KP", 0x1234, static_cast<uint64_t>(Uniform(0, 3)));
  }

  static ModelSession::ModelParticipant* FindParticipant(ModelSession* s,
                                                         const Sid& kp) {
    if (s == nullptr) return nullptr;
    for (auto& p : s->participants) {
      if (p.sid == kp.ToString()) return &p;
    }
    return nullptr;
  }

  void OpAddParticipant(int svc) {
    Sid sid = PickSid(svc);
    static const char* const kIdentifiers[] = {"+15550001", "+15550002",
                                               "+15550003", ""};
    ParticipantParams p;
    p.identifier = kIdentifiers[Uniform(0, 3)];
    p.friendly_name = Chance(50) ? "friend" : "";
    Log(absl::StrCat("add participant svc=", svc, " sid=", S(sid),
                     " identifier=", S(p.identifier)));
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    if (s != nullptr) {
      bool taken = false;
      for (const auto& q : s->participants)
        taken |= q.identifier == p.identifier;
      if (p.identifier.empty()) {
        want.insert(kErrorInvalidParameter);
      } else if (IsEnded(s->status)) {
        want.insert(kErrorSessionClosed);
      } else if (taken) {
        want.insert(kErrorParticipantInSession);
      } else if (s->participants.size() >= 2) {
        want.insert(kErrorTooManyParticipants);
      }
    }
    absl::StatusOr<Participant> got =
        store_->CreateParticipant(ServiceSid(svc), sid, p);
    if (!CheckOutcome(got.status(), want) || !want.empty()) return;
    EXPECT_TRUE(testing_util::IsSid("KP", got->sid));
    EXPECT_EQ(got->date_created, Now());
    s->participants.push_back({got->sid.ToString(), p.identifier, false});
    ++participants_added_;
    ExpectFetched(svc, sid, *s);
  }

  void OpDeleteParticipant(int svc) {
    Sid sid = PickSid(svc);
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    const Sid kp = PickParticipant(s);
    Log(absl::StrCat("delete participant svc=", svc, " sid=", S(sid),
                     " participant=", S(kp)));
    ModelSession::ModelParticipant* p = FindParticipant(s, kp);
    if (s != nullptr && p == nullptr) want.insert(kErrorNotFound);
    absl::Status got = store_->DeleteParticipant(ServiceSid(svc), sid, kp);
    if (!CheckOutcome(got, want) || !want.empty()) return;
    p->deleted = true;
    ExpectFetched(svc, sid, *s);
  }

  // Mostly a live Session of `svc` with a Participant not deleted, which
  // takes messages; else any pick.
  Sid PickSidForMessage(int svc) {
    if (svc >= 0 && Chance(70)) {
      std::vector<const std::string*> ready;
      for (const auto& [sid, s] : model_.services[svc].sessions) {
        if (IsEnded(s.status)) continue;
        for (const auto& p : s.participants) {
          if (!p.deleted) {
            ready.push_back(&sid);
            break;
          }
        }
      }
      if (!ready.empty()) {
        return SessionSid(
            *ready[Uniform(0, static_cast<int64_t>(ready.size()) - 1)]);
      }
    }
    return PickSid(svc);
  }

  void OpMessage(int svc) {
    absl::Time now = Now();
    Sid sid = PickSidForMessage(svc);
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    const Sid kp = PickParticipant(s);
    const std::string body =
        Chance(95) ? absl::StrCat("m", Uniform(0, 99)) : "";
    Log(absl::StrCat("message svc=", svc, " sid=", S(sid),
                     " participant=", S(kp), " body=", S(body)));
    ModelSession::ModelParticipant* p = FindParticipant(s, kp);
    if (s != nullptr) {
      if (p == nullptr) {
        want.insert(kErrorNotFound);
      } else if (body.empty()) {
        want.insert(kErrorInvalidParameter);
      } else if (IsEnded(s->status)) {
        want.insert(kErrorSessionClosed);
      } else if (p->deleted) {
        want.insert(kErrorNoParticipant);
      }
    }
    absl::StatusOr<Interaction> got =
        store_->RecordMessageInteraction(ServiceSid(svc), sid, kp, body);
    if (!CheckOutcome(got.status(), want) || !want.empty()) return;
    EXPECT_EQ(got->outbound_participant_sid, kp);
    EXPECT_EQ(got->body, body);
    s->interactions.push_back({got->sid.ToString(), kp.ToString(), body});
    ++messages_;
    s->date_last_interaction = now;
    s->date_updated = now;
    s->base = now;
    if (s->status == SessionStatus::kOpen) {
      s->status = SessionStatus::kInProgress;
    }
    ExpectFetched(svc, sid, *s);
  }

  void OpDeleteInteraction(int svc) {
    Sid sid = PickSid(svc);
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    Sid ki("KI", 0x1234, 1);
    size_t at = 0;
    if (s != nullptr && !s->interactions.empty() && Chance(85)) {
      at = static_cast<size_t>(
          Uniform(0, static_cast<int64_t>(s->interactions.size()) - 1));
      ki = Sid::Parse("KI", s->interactions[at].sid).value_or(Sid());
    } else if (s != nullptr) {
      want.insert(kErrorNotFound);
    }
    Log(absl::StrCat("delete interaction svc=", svc, " sid=", S(sid),
                     " interaction=", S(ki)));
    absl::Status got = store_->DeleteInteraction(ServiceSid(svc), sid, ki);
    if (!CheckOutcome(got, want) || !want.empty()) return;
    s->interactions.erase(s->interactions.begin() +
                          static_cast<std::ptrdiff_t>(at));
  }

  // The Session's Interactions, newest first, in pages of 2.
  void ExpectInteractions(int svc, const ModelSession& s) {
    std::vector<std::string> got;
    ListParams lp;
    lp.page_size = 2;
    for (int pages = 0; pages < 1000; ++pages) {
      absl::StatusOr<InteractionPage> page =
          store_->ListInteractions(ServiceSid(svc), SessionSid(s.sid), lp);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) return;
      for (const Interaction& i : page->interactions) {
        got.push_back(absl::StrCat(i.sid.ToString(), "/", i.body));
      }
      if (page->next_page_token.empty()) break;
      lp.page_token = page->next_page_token;
    }
    std::vector<std::string> want;
    for (auto it = s.interactions.rbegin(); it != s.interactions.rend(); ++it) {
      want.push_back(absl::StrCat(it->sid, "/", it->body));
    }
    EXPECT_EQ(got, want) << "interactions of " << s.sid;
  }

  void OpEnd(int svc, bool fail) {
    absl::Time now = Now();
    Sid sid = PickSid(svc);
    bool reason_valid;
    std::string reason = PickReason(&reason_valid);
    Log(absl::StrCat(fail ? "fail" : "close", " svc=", svc, " sid=", S(sid),
                     " reason=", S(reason)));
    std::set<int> want;
    ModelSession* s = Locate(svc, sid, &want);
    if (s && IsEnded(s->status)) want.insert(kErrorSessionClosed);
    // The order of the Reason check against the others is not pinned down.
    if (!reason_valid) want.insert(kErrorInvalidParameter);
    absl::Status got = fail
                           ? store_->FailSession(ServiceSid(svc), sid, reason)
                           : store_->CloseSession(ServiceSid(svc), sid, reason);
    if (!CheckOutcome(got, want) || !want.empty()) return;
    s->status = fail ? SessionStatus::kFailed : SessionStatus::kClosed;
    s->closed_reason = reason;
    s->date_ended = now;
    s->date_updated = now;
    ExpectFetched(svc, sid, *s);
  }

  // Expected page: the first `size` Sessions older than `before_seq`.
  std::vector<const ModelSession*> ExpectedPage(int svc, int64_t before_seq,
                                                int size) {
    std::vector<const ModelSession*> out;
    for (const ModelSession* s : model_.List(svc)) {
      if (s->seq < before_seq && static_cast<int>(out.size()) < size) {
        out.push_back(s);
      }
    }
    return out;
  }

  void OpList(int svc) {
    static constexpr int kSizes[] = {1, 2, 3, 5, 10, 50, 1000};
    ListParams lp;
    lp.page_size = kSizes[Uniform(0, 6)];
    int r = static_cast<int>(Uniform(0, 99));
    if (svc < 0) {
      Log(absl::StrCat("list svc=", svc));
      CheckOutcome(store_->ListSessions(ServiceSid(svc), lp).status(),
                   {kErrorNotFound});
      return;
    }
    if (r < 5) {
      lp.page_size = Chance(50) ? 0 : 1001;
      Log(absl::StrCat("list svc=", svc, " page_size=", lp.page_size));
      CheckOutcome(store_->ListSessions(ServiceSid(svc), lp).status(),
                   {kErrorInvalidParameter});
      return;
    }
    if (r < 10) {
      static const char* const kBad[] = {
          "PAgarbage", "PA", "PB", "garbage",
          "PAKC00000000000000000000000000000000"};
      lp.page_token = kBad[Uniform(0, 4)];
      Log(absl::StrCat("list svc=", svc, " token=", S(lp.page_token)));
      CheckOutcome(store_->ListSessions(ServiceSid(svc), lp).status(),
                   {kErrorInvalidPageToken});
      return;
    }
    if (r < 15) {
      // A token from the other Service's list is foreign here.
      ListParams other;
      other.page_size = 1;
      absl::StatusOr<SessionPage> page =
          store_->ListSessions(ServiceSid(1 - svc), other);
      if (!CheckOutcome(page.status(), {})) return;
      if (!page->next_page_token.empty()) {
        lp.page_token = page->next_page_token;
        Log(absl::StrCat("list svc=", svc, " foreign token"));
        CheckOutcome(store_->ListSessions(ServiceSid(svc), lp).status(),
                     {kErrorInvalidPageToken});
        return;
      }
    }
    bool mutate = Chance(25);
    Log(absl::StrCat("list svc=", svc, " page_size=", lp.page_size,
                     mutate ? " (delete boundary + create during walk)" : ""));
    int64_t before = std::numeric_limits<int64_t>::max();
    std::string prev_token;
    std::optional<int64_t> last_page_first_seq;
    for (int page_no = 0;; ++page_no) {
      SCOPED_TRACE(absl::StrCat("page ", page_no));
      if (page_no > 5000) {
        ADD_FAILURE() << "list walk does not end";
        return;
      }
      absl::StatusOr<SessionPage> page =
          store_->ListSessions(ServiceSid(svc), lp);
      if (!CheckOutcome(page.status(), {})) return;
      std::vector<const ModelSession*> want =
          ExpectedPage(svc, before, lp.page_size);
      EXPECT_EQ(page->sessions.size(), want.size());
      if (page->sessions.size() != want.size()) return;
      for (size_t i = 0; i < want.size(); ++i) {
        ExpectSame(page->sessions[i], *want[i], svc);
      }
      if (page_no == 0) {
        EXPECT_EQ(page->previous_page_token, "")
            << "first page has a previous page";
      }
      bool more =
          !want.empty() && !ExpectedPage(svc, want.back()->seq, 1).empty();
      EXPECT_EQ(!page->next_page_token.empty(), more)
          << "next_page_token=" << S(page->next_page_token);
      if (want.empty() || page->next_page_token.empty()) {
        if (!want.empty()) last_page_first_seq = want.front()->seq;
        prev_token = page->previous_page_token;
        if (page_no == 0) last_page_first_seq.reset();
        break;
      }
      before = want.back()->seq;
      lp.page_token = page->next_page_token;
      if (mutate && page_no == 0) {
        // The boundary Session goes away and a newer one arrives; the walk
        // must go on from the same place.
        const std::string boundary = want.back()->sid;
        ASSERT_TRUE(
            store_->DeleteSession(ServiceSid(svc), SessionSid(boundary)).ok());
        model_.gone.emplace_back(svc, boundary);
        ModelSession& b = model_.services[svc].sessions.at(boundary);
        if (b.status == SessionStatus::kClosed && b.closed_reason &&
            (*b.closed_reason == kReasonTtl ||
             *b.closed_reason == kReasonDateExpiry)) {
          ++model_.expired_slack;
        }
        model_.services[svc].sessions.erase(boundary);
        CreateSessionParams cp;
        cp.ttl = 0;
        absl::StatusOr<Session> created =
            store_->CreateSession(ServiceSid(svc), cp);
        ASSERT_TRUE(created.ok()) << created.status();
        ModelSession s;
        s.sid = created->sid.ToString();
        s.date_created = s.date_updated = s.date_started = s.base = Now();
        s.seq = model_.next_seq++;
        ExpectSame(*created, s, svc);
        model_.services[svc].sessions.emplace(s.sid, std::move(s));
      }
    }
    // One step back from the last page: the page_size Sessions just newer
    // than its first one, listed newest first.
    if (last_page_first_seq && !prev_token.empty()) {
      std::vector<const ModelSession*> newer;
      for (const ModelSession* s : model_.List(svc)) {
        if (s->seq > *last_page_first_seq) newer.push_back(s);
      }
      if (static_cast<int>(newer.size()) >= lp.page_size) {
        newer.erase(newer.begin(), newer.end() - lp.page_size);
        lp.page_token = prev_token;
        absl::StatusOr<SessionPage> page =
            store_->ListSessions(ServiceSid(svc), lp);
        if (!CheckOutcome(page.status(), {})) return;
        EXPECT_EQ(page->sessions.size(), newer.size()) << "previous page";
        if (page->sessions.size() != newer.size()) return;
        for (size_t i = 0; i < newer.size(); ++i) {
          ExpectSame(page->sessions[i], *newer[i], svc);
        }
      }
    }
  }

  // Checks ----------------------------------------------------------------

  // Every Session the model holds equals the store's, fetched by its Sid
  // and by its text; gone ones are NotFound both ways; each name finds its
  // holder.
  void FullCheck(bool all_gone) {
    for (int svc = 0; svc < 2; ++svc) {
      for (const auto& [sid, s] : model_.services[svc].sessions) {
        absl::StatusOr<Session> got =
            store_->FetchSession(ServiceSid(svc), SessionSid(sid));
        EXPECT_TRUE(got.ok())
            << "session " << sid << " (model: " << StatusName(s.status)
            << "): " << got.status();
        if (!got.ok()) return;
        ExpectSame(*got, s, svc);
        got = store_->FetchSession(ServiceSid(svc), std::string_view(sid));
        EXPECT_TRUE(got.ok())
            << "session " << sid << " by its text ("
            << "model: " << StatusName(s.status) << "): " << got.status();
        if (!got.ok()) return;
        ExpectSame(*got, s, svc);
        if (!s.interactions.empty()) ExpectInteractions(svc, s);
      }
      for (const std::string& name : AllValidNames()) {
        ModelSession* s = model_.Fetch(svc, name);
        absl::StatusOr<Session> got =
            store_->FetchSession(ServiceSid(svc), name);
        EXPECT_EQ(got.ok(), s != nullptr)
            << "fetch by name " << S(name) << ": " << got.status();
        if (got.ok() && s) ExpectSame(*got, *s, svc);
      }
    }
    size_t from =
        all_gone || model_.gone.size() < 8 ? 0 : model_.gone.size() - 8;
    for (size_t i = from; i < model_.gone.size(); ++i) {
      const auto& [svc, sid] = model_.gone[i];
      absl::StatusOr<Session> got =
          store_->FetchSession(ServiceSid(svc), SessionSid(sid));
      EXPECT_TRUE(absl::IsNotFound(got.status()))
          << "gone session " << sid << " still there: "
          << (got.ok() ? std::string(StatusName(got->status))
                       : got.status().ToString());
      got = store_->FetchSession(ServiceSid(svc), std::string_view(sid));
      EXPECT_TRUE(absl::IsNotFound(got.status()))
          << "gone session " << sid << " still there by its text: "
          << (got.ok() ? std::string(StatusName(got->status))
                       : got.status().ToString());
    }
  }

  // Runs the wheel at a tick boundary at the clock's high-water mark, then
  // compares Stats() and NextWakeup() with the model.
  void StatsCheck() {
    if (Now() < high_water_) return;  // The wheel may be ahead of the clock.
    absl::Duration since = Now() - kStart;
    absl::Duration rem = since - absl::Floor(since, tick_);
    if (rem != absl::ZeroDuration()) SetClock(Now() + (tick_ - rem));
    absl::Time now = Now();
    model_.Settle(now);
    store_->Advance();
    Log(absl::StrCat("stats check at ", T(now)));
    StoreStats want;
    want.services = 2;
    for (const auto& svc : model_.services) {
      for (const auto& [sid, s] : svc.sessions) {
        ++want.sessions;
        if (s.unique_name) ++want.named;
        switch (s.status) {
          case SessionStatus::kOpen:
            ++want.open;
            break;
          case SessionStatus::kInProgress:
            ++want.in_progress;
            break;
          case SessionStatus::kClosed:
            ++want.closed;
            break;
          case SessionStatus::kFailed:
            ++want.failed;
            break;
          case SessionStatus::kUnknown:
            ++want.unknown;
            break;
        }
      }
    }
    StoreStats got = store_->Stats();
    EXPECT_EQ(got.services, want.services);
    EXPECT_EQ(got.sessions, want.sessions);
    EXPECT_EQ(got.open, want.open);
    EXPECT_EQ(got.in_progress, want.in_progress);
    EXPECT_EQ(got.closed, want.closed);
    EXPECT_EQ(got.failed, want.failed);
    EXPECT_EQ(got.unknown, want.unknown);
    EXPECT_EQ(got.named, want.named);
    EXPECT_EQ(got.purged, model_.purged);
    EXPECT_LE(got.expired, model_.expired);
    EXPECT_GE(got.expired, model_.expired - model_.expired_slack);

    std::optional<absl::Time> pending = model_.EarliestPending();
    std::optional<absl::Time> wake = store_->NextWakeup();
    if (pending) {
      EXPECT_TRUE(wake.has_value())
          << "NextWakeup is null; model's earliest pending " << T(*pending);
      if (wake) {
        EXPECT_LE(*wake, *pending + tick_)
            << "NextWakeup " << T(*wake) << ", earliest pending "
            << T(*pending);
      }
    } else {
      EXPECT_FALSE(wake.has_value())
          << "NextWakeup " << T(wake) << " with nothing pending";
    }
  }

  void Log(std::string line) {
    history_.push_back(std::move(line));
    if (history_.size() > 16) history_.pop_front();
  }

  std::string History() const {
    std::string out;
    for (const std::string& line : history_)
      absl::StrAppend(&out, "\n  ", line);
    return out;
  }

  void Step(int step) {
    SCOPED_TRACE(absl::StrCat("seed=", seed_, " step=", step));
    if (Chance(35)) MoveClock();
    model_.Settle(Now());
    if (step % 20 == 0) StatsCheck();
    if (step % 50 == 0) {
      absl::Status inv = store_->CheckInvariants();
      EXPECT_TRUE(inv.ok()) << inv;
    }

    int r = static_cast<int>(Uniform(0, 99));
    int svc = r < 1 ? -1 - static_cast<int>(Uniform(0, 1)) : r < 12 ? 1 : 0;
    int op = static_cast<int>(Uniform(0, 99));
    if (op < 24) {
      OpCreate(svc);
    } else if (op < 34) {
      OpFetch(svc, /*by_name=*/false);
    } else if (op < 40) {
      OpFetch(svc, /*by_name=*/true);
    } else if (op < 55) {
      OpUpdate(svc);
    } else if (op < 63) {
      OpDelete(svc);
    } else if (op < 74) {
      OpInteraction(svc);
    } else if (op < 81) {
      OpEnd(svc, /*fail=*/false);
    } else if (op < 85) {
      OpEnd(svc, /*fail=*/true);
    } else if (op < 89) {
      OpList(svc);
    } else if (op < 92) {
      Log("Advance()");
      store_->Advance();
    } else if (op == 92) {
      OpDeleteService();
    } else if (op < 95) {
      OpAddParticipant(svc);
    } else if (op < 98) {
      OpMessage(svc);
    } else if (op == 98) {
      OpDeleteParticipant(svc);
    } else {
      OpDeleteInteraction(svc);
    }
    if (HasFailure()) return;
    SCOPED_TRACE("in the check after the last operation");
    FullCheck(/*all_gone=*/step % 25 == 0);
  }

  int seed_ = 0;
  std::mt19937_64 rng_;
  ManualClock clock_{kStart};
  absl::Duration tick_;
  absl::Time high_water_;
  std::unique_ptr<SessionStore> store_;
  Model model_;
  std::deque<std::string> history_;
  // The `out` of every call made through Filled, as a host reuses one.
  Session reused_;
  int service_deletes_ = 0;
  int participants_added_ = 0;
  int messages_ = 0;
};

TEST_P(ModelTest, RandomOperationsAgreeWithModel) {
  for (int step = 0; step < kSteps; ++step) {
    Step(step);
    if (HasFailure()) {
      ADD_FAILURE() << "seed=" << seed_ << " failed at step " << step
                    << "; the last operations, oldest first:" << History();
      return;
    }
  }
  SCOPED_TRACE(absl::StrCat("seed=", seed_, " after the last step"));
  // Past the high-water mark, so the wheel cannot be ahead of the clock.
  SetClock(std::max(Now(), high_water_) + absl::Seconds(1));
  StatsCheck();
  absl::Status inv = store_->CheckInvariants();
  EXPECT_TRUE(inv.ok()) << inv;
  // The run exercised what it should.
  EXPECT_GT(model_.expired, 0);
  EXPECT_GT(model_.purged, 0);
  EXPECT_GT(service_deletes_, 0);
  EXPECT_GT(participants_added_, 0);
  EXPECT_GT(messages_, 0);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest, ::testing::Range(0, kSeeds));

}  // namespace
}  // namespace sessionwheel
