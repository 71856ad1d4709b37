#include "sessionwheel/events.h"

namespace sessionwheel {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kCreated:
      return "created";
    case EventType::kUpdated:
      return "updated";
    case EventType::kInteraction:
      return "interaction";
    case EventType::kClosed:
      return "closed";
    case EventType::kDeleted:
      return "deleted";
    case EventType::kPurged:
      return "purged";
  }
  return "unknown";  // Not reached for a valid enumerator.
}

}  // namespace sessionwheel
