// Tests of the small public pieces: the clocks, the Proxy error payload, the
// wire names of the enums and the value types' equality.

#include "sessionwheel/clock.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"
#include "sessionwheel/errors.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

// Counts jumps and records what the clock said during each one.
class RecordingObserver : public ClockObserver {
 public:
  explicit RecordingObserver(const Clock* clock) : clock_(clock) {}
  void OnClockJump() override {
    // Reading the clock from the callback must not deadlock.
    seen.push_back(clock_->Now());
  }
  std::vector<absl::Time> seen;

 private:
  const Clock* clock_;
};

TEST(ClockTest, ManualClockStartsAtTheGivenTime) {
  ManualClock clock(kStart);
  EXPECT_EQ(clock.Now(), kStart);
  EXPECT_EQ(ManualClock().Now(), absl::UnixEpoch());
}

TEST(ClockTest, AdvanceMovesForward) {
  ManualClock clock(kStart);
  clock.Advance(absl::Seconds(61));
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(61));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(clock.Now(), kStart + absl::Seconds(61) + absl::Milliseconds(1));
}

TEST(ClockTest, NegativeAdvanceIsIgnored) {
  ManualClock clock(kStart);
  clock.Advance(absl::Seconds(-5));
  EXPECT_EQ(clock.Now(), kStart);
}

TEST(ClockTest, SetMayGoBackwards) {
  ManualClock clock(kStart);
  clock.Set(kStart - absl::Hours(1));
  EXPECT_EQ(clock.Now(), kStart - absl::Hours(1));
  clock.Set(kStart + absl::Hours(1));
  EXPECT_EQ(clock.Now(), kStart + absl::Hours(1));
}

TEST(ClockTest, ObserversHearAdvanceAndSet) {
  ManualClock clock(kStart);
  RecordingObserver a(&clock);
  RecordingObserver b(&clock);
  clock.AddObserver(&a);
  clock.AddObserver(&b);

  clock.Advance(absl::Seconds(10));
  clock.Set(kStart);
  ASSERT_EQ(a.seen.size(), 2u);
  EXPECT_EQ(a.seen[0], kStart + absl::Seconds(10));
  EXPECT_EQ(a.seen[1], kStart);
  EXPECT_EQ(b.seen, a.seen);

  clock.RemoveObserver(&a);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(a.seen.size(), 2u);
  EXPECT_EQ(b.seen.size(), 3u);
  clock.RemoveObserver(&b);
}

TEST(ClockTest, NoNotificationWhenTimeDoesNotChange) {
  ManualClock clock(kStart);
  RecordingObserver observer(&clock);
  clock.AddObserver(&observer);
  clock.Advance(absl::Seconds(-1));
  clock.Advance(absl::ZeroDuration());
  clock.Set(kStart);
  EXPECT_TRUE(observer.seen.empty());
  clock.RemoveObserver(&observer);
}

// RemoveObserver waits for a notification in flight: once it returns, the
// observer is not running and is never called again.
TEST(ClockTest, RemoveObserverWaitsForTheCallInFlight) {
  class BlockingObserver : public ClockObserver {
   public:
    void OnClockJump() override {
      calls.fetch_add(1);
      entered.store(true);
      while (!release.load()) std::this_thread::yield();
      // Still inside the call: RemoveObserver must not have returned yet.
      if (removed.load()) returned_early.store(true);
    }
    std::atomic<int> calls{0};
    std::atomic<bool> entered{false};
    std::atomic<bool> release{false};
    std::atomic<bool> removed{false};
    std::atomic<bool> returned_early{false};
  };

  ManualClock clock(kStart);
  BlockingObserver observer;
  clock.AddObserver(&observer);
  std::thread mover([&] { clock.Advance(absl::Seconds(1)); });
  while (!observer.entered.load()) std::this_thread::yield();

  std::atomic<bool> removing{false};
  std::thread remover([&] {
    removing.store(true);
    clock.RemoveObserver(&observer);
    observer.removed.store(true);
  });
  while (!removing.load()) std::this_thread::yield();
  // Give a wrong RemoveObserver every chance to return before the release.
  for (int i = 0; i < 10000 && !observer.removed.load(); ++i) {
    std::this_thread::yield();
  }
  observer.release.store(true);
  mover.join();
  remover.join();

  EXPECT_FALSE(observer.returned_early.load());
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(observer.calls.load(), 1);
}

TEST(ClockTest, SystemClockReadsTheWallClock) {
  Clock* clock = SystemClock();
  ASSERT_NE(clock, nullptr);
  EXPECT_EQ(clock, SystemClock());
  EXPECT_GT(clock->Now(), absl::UnixEpoch());
  // The default observer hooks exist and do nothing.
  RecordingObserver observer(clock);
  clock->AddObserver(&observer);
  clock->RemoveObserver(&observer);
  EXPECT_TRUE(observer.seen.empty());
}

TEST(ErrorsTest, ProxyErrorRoundTrip) {
  absl::Status s =
      ProxyError(absl::StatusCode::kNotFound, kErrorNotFound, "no such thing");
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_EQ(s.message(), "no such thing");
  EXPECT_EQ(ProxyErrorCode(s), kErrorNotFound);

  absl::Status taken = ProxyError(absl::StatusCode::kAlreadyExists,
                                  kErrorSessionNameTaken, "taken");
  EXPECT_TRUE(absl::IsAlreadyExists(taken));
  EXPECT_EQ(ProxyErrorCode(taken), 80603);
}

TEST(ErrorsTest, PayloadIsTheDecimalCode) {
  absl::Status s = ProxyError(absl::StatusCode::kFailedPrecondition,
                              kErrorInvalidTransition, "no");
  absl::optional<absl::Cord> payload = s.GetPayload(
      absl::string_view(kProxyErrorPayload.data(), kProxyErrorPayload.size()));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(std::string(*payload), "80608");
}

TEST(ErrorsTest, NoCodeWithoutPayload) {
  EXPECT_EQ(ProxyErrorCode(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(ProxyErrorCode(absl::InternalError("plain")), std::nullopt);
}

// The store's own words, with the parameter's name as data; the REST wording
// is the fake's (proxy_fake_test).
TEST(ErrorsTest, InvalidParameterNamesTheParameter) {
  absl::Status s = InvalidParameter("Ttl", "Must be a non-negative integer.");
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_EQ(s.message(), "Ttl: Must be a non-negative integer.");
  EXPECT_EQ(ProxyErrorCode(s), kErrorInvalidParameter);
  EXPECT_EQ(InvalidParameterName(s), "Ttl");
  absl::optional<absl::Cord> payload = s.GetPayload(absl::string_view(
      kInvalidParameterPayload.data(), kInvalidParameterPayload.size()));
  ASSERT_TRUE(payload.has_value());
  EXPECT_EQ(std::string(*payload), "Ttl");
}

TEST(ErrorsTest, InvalidParameterTakesAnotherCanonicalCode) {
  absl::Status s =
      InvalidParameter("Sid", "It is taken.", absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(absl::IsAlreadyExists(s));
  EXPECT_EQ(s.message(), "Sid: It is taken.");
  EXPECT_EQ(ProxyErrorCode(s), kErrorInvalidParameter);
  EXPECT_EQ(InvalidParameterName(s), "Sid");
}

TEST(ErrorsTest, NoParameterNameWithoutPayload) {
  EXPECT_EQ(InvalidParameterName(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(InvalidParameterName(absl::InvalidArgumentError("Ttl: bad")),
            std::nullopt);
  // An 80701 made without InvalidParameter names nothing.
  EXPECT_EQ(InvalidParameterName(ProxyError(absl::StatusCode::kInvalidArgument,
                                            kErrorInvalidParameter, "Ttl: x")),
            std::nullopt);
  EXPECT_EQ(InvalidParameterName(ProxyError(absl::StatusCode::kNotFound,
                                            kErrorNotFound, "gone")),
            std::nullopt);
}

TEST(EnumsTest, StatusNamesRoundTrip) {
  const std::vector<std::pair<SessionStatus, std::string>> all = {
      {SessionStatus::kOpen, "open"},
      {SessionStatus::kInProgress, "in-progress"},
      {SessionStatus::kClosed, "closed"},
      {SessionStatus::kFailed, "failed"},
      {SessionStatus::kUnknown, "unknown"},
  };
  for (const auto& [status, name] : all) {
    EXPECT_EQ(StatusName(status), name);
    EXPECT_EQ(ParseStatus(name), status) << name;
  }
}

TEST(EnumsTest, ParseStatusIsExact) {
  for (const char* bad :
       {"Open", "in_progress", "", "OPEN", " open", "closed ", "inprogress"}) {
    EXPECT_EQ(ParseStatus(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(EnumsTest, ModeNamesRoundTrip) {
  const std::vector<std::pair<SessionMode, std::string>> all = {
      {SessionMode::kMessageOnly, "message-only"},
      {SessionMode::kVoiceOnly, "voice-only"},
      {SessionMode::kVoiceAndMessage, "voice-and-message"},
  };
  for (const auto& [mode, name] : all) {
    EXPECT_EQ(ModeName(mode), name);
    EXPECT_EQ(ParseMode(name), mode) << name;
  }
}

TEST(EnumsTest, ParseModeIsExact) {
  for (const char* bad :
       {"Message-Only", "message_only", "", "voice", "voice-and-message "}) {
    EXPECT_EQ(ParseMode(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(EnumsTest, EventTypeNames) {
  EXPECT_EQ(EventTypeName(EventType::kCreated), "created");
  EXPECT_EQ(EventTypeName(EventType::kUpdated), "updated");
  EXPECT_EQ(EventTypeName(EventType::kInteraction), "interaction");
  EXPECT_EQ(EventTypeName(EventType::kClosed), "closed");
  EXPECT_EQ(EventTypeName(EventType::kDeleted), "deleted");
  EXPECT_EQ(EventTypeName(EventType::kPurged), "purged");
}

TEST(ValuesTest, SessionEqualityComparesEveryField) {
  Session a;
  a.sid = Sid("KC", 0, 1);
  a.unique_name = "ride-42";
  a.date_expiry = kStart;
  a.participants.push_back({Sid("KP", 0, 1), "+15550001", "Alice", "+15559999",
                            kStart, kStart, std::nullopt});
  Session b = a;
  EXPECT_EQ(a, b);

  b.participants[0].proxy_identifier = "+15558888";
  EXPECT_NE(a, b);
  b = a;
  b.participants[0].date_deleted = kStart;
  EXPECT_NE(a, b);
  b = a;
  b.participants[0].date_updated = kStart + absl::Seconds(1);
  EXPECT_NE(a, b);
  b = a;
  b.participants.push_back({});
  EXPECT_NE(a, b);
  b = a;
  b.date_expiry.reset();
  EXPECT_NE(a, b);
  b = a;
  b.closed_reason = "ttl";
  EXPECT_NE(a, b);
  b = a;
  b.mode = SessionMode::kVoiceOnly;
  EXPECT_NE(a, b);
}

TEST(ValuesTest, InteractionEqualityComparesEveryField) {
  Interaction a;
  a.sid = Sid("KI", 0, 1);
  a.session_sid = Sid("KC", 0, 2);
  a.service_sid = Sid("KS", 0, 3);
  a.outbound_participant_sid = Sid("KP", 0, 4);
  a.body = "hi";
  a.date_created = a.date_updated = kStart;
  Interaction b = a;
  EXPECT_EQ(a, b);
  b.body = "ho";
  EXPECT_FALSE(a == b);
  b = a;
  b.outbound_participant_sid = Sid("KP", 0, 5);
  EXPECT_FALSE(a == b);
  b = a;
  b.date_updated = kStart + absl::Seconds(1);
  EXPECT_FALSE(a == b);
}

TEST(ValuesTest, ServiceEqualityComparesEveryField) {
  Service a;
  a.sid = Sid("KS", 0, 1);
  a.unique_name = "rides";
  Service b = a;
  EXPECT_TRUE(a == b);
  b.default_ttl = 60;
  EXPECT_FALSE(a == b);
  b = a;
  b.date_updated = kStart;
  EXPECT_FALSE(a == b);
}

}  // namespace
}  // namespace sessionwheel
