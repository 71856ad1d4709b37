// What a SessionStore tells its listeners.
//
// A listener sees every change to every Session: created, updated, an
// interaction, ended (closed or failed, with the reason), deleted and purged.
// Events are delivered with no engine lock held and, for any one Session, in
// the order the changes happened. A listener may call back into the store;
// SessionListener's comment is the whole contract (blocking, exceptions).
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
// - Throwing. The store never throws, but it lets a listener's exception
//   through: the change that caused the event has been made and the store
//   stays whole. The other listeners still hear that event; then the
//   exception propagates out of the store call that was delivering (a
//   CreateSession, an Advance, ...) in place of its result.
//   Events not yet delivered stay queued, in order, and are delivered,
//   each exactly once, by the next call that delivers that shard's events
//   (any call on a Session there, or Advance()). On the background expiry
//   thread the exception is caught and dropped, and delivery goes on.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  virtual void OnEvent(const SessionEvent& event) = 0;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
