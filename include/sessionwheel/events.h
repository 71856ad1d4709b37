// What a SessionStore tells its listeners.
//
// A listener sees every change to every Session: created, updated, an
// interaction, ended (closed or failed, with the reason), deleted and purged.
// Events are delivered with no engine lock held and, for any one Session, in
// the order the changes happened. A listener may call back into the store.
//
// Example:
//
//   class PrintClosed : public sessionwheel::SessionListener {
//    public:
//     void OnEvent(const sessionwheel::SessionEvent& e) override {
//       if (e.type == sessionwheel::EventType::kClosed)
//         std::cout << e.session.sid << " " << *e.session.closed_reason <<
//         "\n";
//     }
//   };
//   store->AddListener(std::make_shared<PrintClosed>());

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_

#include <string_view>

#include "absl/time/time.h"
#include "sessionwheel/session.h"

namespace sessionwheel {

enum class EventType {
  kCreated,      // CreateSession succeeded.
  kUpdated,      // UpdateSession succeeded without ending the Session.
  kInteraction,  // RecordInteraction succeeded.
  kClosed,       // The Session ended: closed (by the API, a host or expiry)
                 // or failed. `session.closed_reason` says why.
  kDeleted,      // DeleteSession, or its Service was deleted.
  kPurged,       // Removed `closed_retention` after it ended.
};

// "created", "updated", "interaction", "closed", "deleted", "purged".
std::string_view EventTypeName(EventType type);

struct SessionEvent {
  EventType type;
  // The Session just after the change; for kDeleted and kPurged, as it was
  // just before it was removed.
  Session session;
  // When the change took effect. For an expiry this is the expiry instant,
  // which may be up to one tick before the event is delivered.
  absl::Time time;
};

// Receives events. Must be safe to call from any thread: events for
// different Sessions may arrive concurrently from different threads.
//
// Contract: OnEvent should return promptly. It may call any method of the
// store (its events are then delivered after the current one returns). A
// slow listener delays the events queued behind it on the same shard but
// never blocks a store operation that is not itself delivering events.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  virtual void OnEvent(const SessionEvent& event) = 0;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
