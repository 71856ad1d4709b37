#include "sessionwheel/session.h"

#include <algorithm>
#include <array>

namespace sessionwheel {
namespace {

// Indexed by the enumerator's value, so the name and the parse share one
// table.
constexpr std::array<std::string_view, 5> kStatusNames = {
    "open", "in-progress", "closed", "failed", "unknown"};
constexpr std::array<std::string_view, 3> kModeNames = {
    "message-only", "voice-only", "voice-and-message"};
static_assert(static_cast<size_t>(SessionStatus::kUnknown) == 4);
static_assert(static_cast<size_t>(SessionMode::kVoiceAndMessage) == 2);

// "" for a value outside the enum (a cast from a bad integer).
template <size_t N>
std::string_view NameAt(const std::array<std::string_view, N>& names,
                        size_t i) {
  return i < N ? names[i] : std::string_view();
}

template <typename Enum, size_t N>
std::optional<Enum> ParseName(const std::array<std::string_view, N>& names,
                              std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

bool SameParticipant(const Participant& a, const Participant& b) {
  return a.sid == b.sid && a.identifier == b.identifier &&
         a.friendly_name == b.friendly_name &&
         a.proxy_identifier == b.proxy_identifier &&
         a.date_created == b.date_created && a.date_updated == b.date_updated &&
         a.date_deleted == b.date_deleted;
}

}  // namespace

std::string_view StatusName(SessionStatus status) {
  return NameAt(kStatusNames, static_cast<size_t>(status));
}

std::optional<SessionStatus> ParseStatus(std::string_view name) {
  return ParseName<SessionStatus>(kStatusNames, name);
}

std::string_view ModeName(SessionMode mode) {
  return NameAt(kModeNames, static_cast<size_t>(mode));
}

std::optional<SessionMode> ParseMode(std::string_view name) {
  return ParseName<SessionMode>(kModeNames, name);
}

bool operator==(const Session& a, const Session& b) {
  return a.sid == b.sid && a.service_sid == b.service_sid &&
         a.unique_name == b.unique_name && a.status == b.status &&
         a.closed_reason == b.closed_reason && a.ttl == b.ttl &&
         a.mode == b.mode && a.date_created == b.date_created &&
         a.date_updated == b.date_updated && a.date_started == b.date_started &&
         a.date_ended == b.date_ended &&
         a.date_last_interaction == b.date_last_interaction &&
         a.date_expiry == b.date_expiry &&
         std::equal(a.participants.begin(), a.participants.end(),
                    b.participants.begin(), b.participants.end(),
                    SameParticipant);
}

bool operator==(const Interaction& a, const Interaction& b) {
  return a.sid == b.sid && a.session_sid == b.session_sid &&
         a.service_sid == b.service_sid &&
         a.outbound_participant_sid == b.outbound_participant_sid &&
         a.body == b.body && a.date_created == b.date_created &&
         a.date_updated == b.date_updated;
}

bool operator==(const Service& a, const Service& b) {
  return a.sid == b.sid && a.unique_name == b.unique_name &&
         a.default_ttl == b.default_ttl && a.date_created == b.date_created &&
         a.date_updated == b.date_updated;
}

}  // namespace sessionwheel
