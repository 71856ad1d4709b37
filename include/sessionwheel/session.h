// The values a SessionStore takes and gives: Services, Sessions, their enums
// with the wire strings of the Proxy API, and the parameters of each call.
//
// These are plain copies. A `Session` filled by the store is a snapshot:
// later changes to the stored Session do not reach it. A caller that keeps
// one `Session` and hands it to every fetch reuses its strings' buffers, so
// a steady-state fetch allocates nothing (leveldb's `Get(..., std::string*)`).
// The account a Session or Service belongs to is the store's
// (`SessionStore::account_sid()`), the same for all of them.
//
// Example:
//
//   sessionwheel::CreateSessionParams params;
//   params.unique_name = "Order #1234";
//   params.ttl = 3600;
//   sessionwheel::Session s;  // reused across calls
//   if (store->CreateSession(service_sid, params, &s).ok())
//     std::cout << s.sid << " " << StatusName(s.status) << "\n";

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SESSION_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "sessionwheel/sid.h"

namespace sessionwheel {

enum class SessionStatus : uint8_t {
  kOpen,
  kInProgress,
  kClosed,
  kFailed,
  kUnknown,
};

enum class SessionMode : uint8_t {
  kMessageOnly,
  kVoiceOnly,
  kVoiceAndMessage,
};

// The wire strings: "open", "in-progress", "closed", "failed", "unknown".
std::string_view StatusName(SessionStatus status);
// Parses a wire string exactly (case-sensitive, as the API is).
std::optional<SessionStatus> ParseStatus(std::string_view name);

// The wire strings: "message-only", "voice-only", "voice-and-message".
std::string_view ModeName(SessionMode mode);
std::optional<SessionMode> ParseMode(std::string_view name);

// True for `closed` and `failed`: the Session has ended.
inline bool IsEnded(SessionStatus status) {
  return status == SessionStatus::kClosed || status == SessionStatus::kFailed;
}

// The `closed_reason` values the engine itself writes.
inline constexpr std::string_view kReasonApi = "api";
inline constexpr std::string_view kReasonTtl = "ttl";
inline constexpr std::string_view kReasonDateExpiry = "date_expiry";

// A Participant of a Session: given at create or added later
// (SessionStore::CreateParticipant). The engine keeps them with the Session
// and drops them with it; it does not interpret the strings. A deleted one
// stays, with `date_deleted` set (a soft delete, as in the Proxy API).
struct Participant {
  Sid sid;  // "KP…", minted by the store.
  std::string identifier;
  std::string friendly_name;
  std::string proxy_identifier;
  absl::Time date_created;  // The Session's create time for one given there.
  absl::Time date_updated;
  std::optional<absl::Time> date_deleted;
};

// An Interaction of a Session: today only a message sent to a Participant
// (SessionStore::RecordMessageInteraction). Its participant is the
// outbound one; an Interaction the store records has no inbound side.
struct Interaction {
  Sid sid;                       // "KI…", minted by the store.
  Sid session_sid;               // "KC…"
  Sid service_sid;               // "KS…"
  Sid outbound_participant_sid;  // "KP…": who the message was sent to.
  std::string body;              // The message, as sent.
  absl::Time date_created;
  absl::Time date_updated;

  friend bool operator==(const Interaction& a, const Interaction& b);
};

struct Session {
  Sid sid;          // "KC…"
  Sid service_sid;  // "KS…"
  std::optional<std::string> unique_name;
  SessionStatus status = SessionStatus::kOpen;
  std::optional<std::string> closed_reason;
  int64_t ttl = 0;  // Seconds; 0 means no TTL.
  SessionMode mode = SessionMode::kVoiceAndMessage;
  absl::Time date_created;
  absl::Time date_updated;
  absl::Time date_started;  // Always the create time.
  std::optional<absl::Time> date_ended;
  std::optional<absl::Time> date_last_interaction;
  std::optional<absl::Time> date_expiry;
  std::vector<Participant> participants;

  friend bool operator==(const Session& a, const Session& b);
  friend bool operator!=(const Session& a, const Session& b) {
    return !(a == b);
  }
};

struct Service {
  Sid sid;  // "KS…"
  std::string unique_name;
  int64_t default_ttl = 0;  // Seconds; 0 means no TTL.
  absl::Time date_created;
  absl::Time date_updated;

  friend bool operator==(const Service& a, const Service& b);
};

struct ParticipantParams {
  std::string identifier;
  std::string friendly_name;
  std::string proxy_identifier;
};

struct CreateServiceParams {
  // A caller-chosen "KS…" SID; minted when absent.
  std::optional<Sid> sid;
  // Required: 1 to 191 characters of UTF-8, unique among Services.
  std::string unique_name;
  // Seconds, 0 to 253402300799 (as a Session's ttl); 0 means Sessions get no
  // TTL unless they ask for one.
  int64_t default_ttl = 0;
};

struct UpdateServiceParams {
  std::optional<std::string> unique_name;
  std::optional<int64_t> default_ttl;
};

// Every field is optional, as in the Proxy API.
struct CreateSessionParams {
  std::optional<std::string> unique_name;
  std::optional<absl::Time> date_expiry;
  // Absent: the Service's default_ttl. An explicit 0 means no TTL.
  std::optional<int64_t> ttl;
  std::optional<SessionMode> mode;
  std::optional<SessionStatus> status;
  std::vector<ParticipantParams> participants;  // At most 2.
};

struct UpdateSessionParams {
  std::optional<absl::Time> date_expiry;
  std::optional<int64_t> ttl;
  std::optional<SessionStatus> status;
};

struct ListParams {
  int page_size = 50;  // 1 to 1000.
  // Empty for the first page; otherwise a token from a previous page.
  std::string page_token;
};

struct SessionPage {
  std::vector<Session> sessions;  // Newest first.
  // Tokens for the neighbouring pages; empty where there is none.
  std::string next_page_token;
  std::string previous_page_token;
};

// A Session's Participants in creation order, deleted ones included.
struct ParticipantPage {
  std::vector<Participant> participants;
  std::string next_page_token;
  std::string previous_page_token;
};

// A Session's Interactions, newest first.
struct InteractionPage {
  std::vector<Interaction> interactions;
  std::string next_page_token;
  std::string previous_page_token;
};

struct ServicePage {
  std::vector<Service> services;  // Newest first.
  std::string next_page_token;
  std::string previous_page_token;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SESSION_H_
