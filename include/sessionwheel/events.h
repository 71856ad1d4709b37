// What a SessionStore tells its listeners.
//
// A listener sees every change to every Session: created, updated, an
// interaction, ended (closed or failed, with the reason), deleted and purged;
// or only the types it names in Hears(). An event of a type no listener
// hears costs nothing.
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
//     sessionwheel::EventTypes Hears() const override {
//       return {sessionwheel::EventType::kClosed};
//     }
//     void OnEvent(const sessionwheel::SessionEvent& e) noexcept override {
//       std::cout << e.sid << " " << e.closed_reason << "\n";  // "ttl"
//     }
//   };
//   store->AddListener(std::make_shared<PrintClosed>());

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_

#include <cstdint>
#include <initializer_list>
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

// A set of event types: those a listener hears (SessionListener::Hears).
//
//   EventTypes{EventType::kClosed}                       // only closes
//   EventTypes{EventType::kClosed, EventType::kPurged}   // closes and purges
//   EventTypes::All()                                    // everything
class EventTypes {
 public:
  // No type at all.
  constexpr EventTypes() = default;
  constexpr EventTypes(std::initializer_list<EventType> types) {
    for (EventType t : types) bits_ |= Bit(t);
  }
  // Every type. (A new EventType goes here too; EventTypesTest checks.)
  static constexpr EventTypes All() {
    return {EventType::kCreated, EventType::kUpdated, EventType::kInteraction,
            EventType::kClosed,  EventType::kDeleted, EventType::kPurged};
  }

  constexpr bool contains(EventType type) const {
    return (bits_ & Bit(type)) != 0;
  }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr EventTypes operator|(EventTypes other) const {
    EventTypes both;
    both.bits_ = bits_ | other.bits_;
    return both;
  }
  friend constexpr bool operator==(EventTypes a, EventTypes b) {
    return a.bits_ == b.bits_;
  }
  friend constexpr bool operator!=(EventTypes a, EventTypes b) {
    return !(a == b);
  }

  // The set as one bit a type (bit n: the EventType of value n), for a
  // store that keeps it in an atomic; FromBits ignores bits of no type.
  constexpr uint8_t bits() const { return bits_; }
  static constexpr EventTypes FromBits(uint8_t bits) {
    EventTypes set;
    set.bits_ = bits & All().bits_;
    return set;
  }

 private:
  static constexpr uint8_t Bit(EventType type) {
    return static_cast<uint8_t>(1u << static_cast<unsigned>(type));
  }
  uint8_t bits_ = 0;
};
static_assert(static_cast<unsigned>(EventType::kPurged) < 8,
              "EventTypes keeps a bit for each EventType in one byte");

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
//
// - Hearing less. Hears() names the types this listener is called for; the
//   store asks once, when the listener is added. An event no listener hears
//   is never built: a Session closed and freed by an expiry
//   (`closed_retention` 0) makes a kClosed and a kPurged event, and a store
//   whose listeners hear only kClosed queues one event for it, not two (as
//   Redis's `notify-keyspace-events` lets a client hear only some classes
//   of event). kClosed is every end: a listener of expiries alone reads
//   `closed_reason` ("ttl", "date_expiry"). A listener whose Hears() is
//   empty is never called.
class SessionListener {
 public:
  virtual ~SessionListener() = default;
  virtual void OnEvent(const SessionEvent& event) noexcept = 0;
  // The types of event OnEvent is called for. Default: every type.
  virtual EventTypes Hears() const { return EventTypes::All(); }
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_EVENTS_H_
