// What a SessionStore tells its listeners.
//
// A listener sees every change to every Session: created, updated, an
// interaction, ended (closed or failed, with the reason), deleted and purged.
// Events are delivered with no engine lock held and, for any one Session, in
// the order the changes happened. A listener may call back into the store;
// SessionListener's comment is the whole contract.
//
// An event is compact: the Session's SIDs, status and dates by value, its
// unique_name and closed_reason as views that are valid only during
// OnEvent. Nothing is allocated per event: a listener that counts or routes
// events pays for what it reads, and one that keeps a name copies it.
//
// Example:
//
//   class PrintClosed : public sessionwheel::SessionListener {
//    public:
//     void OnEvent(const sessionwheel::SessionEvent& e) noexcept override {
//       if (e.type == sessionwheel::EventType::kClosed)
//         std::cout << e.sid << " " << e.closed_reason << "\n";  // "ttl"
//     }
//   };
//   store->AddListener(std::make_shared<PrintClosed>());

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/time/time.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel {

enum class EventType : uint8_t {
  kCreated,      // CreateSession succeeded.
  kUpdated,      // UpdateSession succeeded without ending the Session.
  kInteraction,  // RecordInteraction succeeded.
  kClosed,       // The Session ended: closed (by the API, a host or expiry)
                 // or failed. `closed_reason` says why.
  kDeleted,      // DeleteSession, or its Service was deleted.
  kPurged,       // Removed `closed_retention` after it ended.
};

// "created", "updated", "interaction", "closed", "deleted", "purged".
std::string_view EventTypeName(EventType type);

// One change to one Session, as the Session was just after it (for
// kDeleted and kPurged, just before it was removed). The fields mirror
// `Session`'s, less its participants.
struct SessionEvent {
  EventType type = EventType::kCreated;
  SessionStatus status = SessionStatus::kOpen;
  SessionMode mode = SessionMode::kVoiceAndMessage;
  bool has_unique_name = false;
  // When the change took effect. For an expiry this is the expiry instant,
  // which may be up to one tick before the event is delivered.
  absl::Time time;
  Sid sid;          // "KC…"
  Sid service_sid;  // "KS…"
  int64_t ttl = 0;
  // Valid only during OnEvent. Empty when the Session has no unique_name
  // (`has_unique_name` false) and, for closed_reason, while it has not ended.
  std::string_view unique_name;
  std::string_view closed_reason;
  absl::Time date_created;
  absl::Time date_updated;
  std::optional<absl::Time> date_ended;
  std::optional<absl::Time> date_last_interaction;
  std::optional<absl::Time> date_expiry;
};

// Receives events. Must be safe to call from any thread: events for
// different Sessions may arrive concurrently from different threads.
//
// The contract between a listener and the store:
//
// - Who calls. Each shard's events are delivered, in order, by one thread
//   at a time: the thread whose call queued them or, if another thread is
//   already delivering that shard's events, that thread. With
//   `background_expiry`, expiry events come from the store's own thread.
//   No engine lock is held during OnEvent.
// - Calling back. OnEvent may call any method of the store, on any Session,
//   the one it hears about included, and AddListener. Events caused by
//   those calls are delivered on the same thread after OnEvent returns,
//   never recursively. A listener added from inside OnEvent hears the
//   events after the current one.
// - Blocking. OnEvent should return promptly. A listener that blocks holds
//   up only the thread delivering: other threads' operations, on the same
//   Session included, go on and their events queue behind it (in memory,
//   unbounded) until it returns.
// - Never throwing. OnEvent is noexcept, as folly's timeout callbacks are:
//   an exception escaping it ends the process (std::terminate). A listener
//   that can fail catches inside and decides there what a failure means;
//   the store never has to choose between redelivering an event and
//   losing it.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  virtual void OnEvent(const SessionEvent& event) noexcept = 0;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
