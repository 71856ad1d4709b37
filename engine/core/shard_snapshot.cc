// A shard's half of snapshots: copying its records out under its lock, and
// putting them back into a new store. The file format is engine/snapshot.cc.

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "engine/core/shard.h"
#include "engine/persist/snapshot.h"

namespace sessionwheel::internal {
namespace {

SessionImage ImageOf(const SessionRecord& rec) {
  SessionImage image;
  static_cast<SessionState&>(image) = rec;
  if (rec.has_name) image.unique_name = std::string(rec.unique_name());
  image.service = rec.service->sid;
  if (rec.extras != nullptr) {
    if (rec.end_reason == EndReason::kHost) {
      image.host_reason = rec.extras->host_reason;
    }
    image.participants = rec.extras->participants;
  }
  return image;
}

SessionRecord::Ptr RecordOf(const SessionImage& image, ShardService* service) {
  SessionRecord::Ptr rec =
      SessionRecord::New(image.has_name ? std::string_view(image.unique_name)
                                        : std::string_view());
  assert(rec->name_size == image.name_size);
  static_cast<SessionState&>(*rec) = image;
  rec->service = service;
  if (!image.host_reason.empty() || !image.participants.empty()) {
    rec->MutableExtras().host_reason = image.host_reason;
    rec->extras->participants = image.participants;
  }
  return rec;
}

}  // namespace

void Shard::CaptureSessions(std::vector<SessionImage>* out) {
  MutexLock l(&mu_);
  out->reserve(out->size() + sessions_.size());
  for (const auto& rec : sessions_) out->push_back(ImageOf(*rec));
}

absl::Status Shard::RestoreSessions(
    const std::vector<const SessionImage*>& images) {
  MutexLock l(&mu_);
  const int64_t now = NowMs();
  sessions_.reserve(sessions_.size() + images.size());
  for (const SessionImage* image : images) {
    auto svc = services_.find(image->service);
    if (svc == services_.end()) {
      return absl::InternalError("restored Session of an unknown Service");
    }
    // A restored store's limits hold from the start: a snapshot with more
    // Sessions than they allow is refused, never trimmed.
    if (absl::Status s = TakePlaceLocked(*svc->second); !s.ok()) return s;
    SessionRecord::Ptr owned = RecordOf(*image, svc->second.get());
    SessionRecord* rec = owned.get();
    sessions_.insert(std::move(owned));
    if (rec->has_name) {
      names_.insert(rec);
      ++stats_.named;
    }
    rec->service->by_seq.emplace(rec->seq, rec);
    ++stats_.by_status[static_cast<int>(rec->status)];
    // The running store's own rules close or purge what came due while the
    // snapshot sat on disk; no listener exists yet to hear of it.
    if (SettleLocked(rec, now)) RescheduleLocked(rec);
  }
  return absl::OkStatus();
}

}  // namespace sessionwheel::internal
