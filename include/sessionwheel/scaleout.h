// Scale-out on Redis: partitions of Sessions owned by hosts through leases,
// replicated to standbys through a Redis Stream per partition.
//
// A ScaleOutHost runs on every instance of a host service. The Sessions of a
// deployment are split into `partitions` partitions by their Service (so
// every rule that spans Sessions, unique names and lists, stays inside one
// partition). A host owns a partition while it holds the partition's lease
// in Redis; the lease carries an epoch that only grows (a fencing token).
// The owner keeps the partition in a durable store of its own and appends
// every record of that store's change feed to the partition's stream, in a
// Lua script that refuses a stale epoch, so a host that lost its lease can
// never write. Other hosts follow the stream into follower stores, and take
// over a partition whose lease lapsed. Expiry belongs to the owner: only it
// runs the wheel and reports expiries, and a new owner reports once those
// that fell due while no one owned the partition. docs/scale-out.md is the
// host engineer's guide: the design, each AckMode's loss window, how to
// forward requests.
//
// This library is optional (target sessionwheel_scaleout, needs hiredis):
// the store itself keeps no network code. ScaleOutHost is safe for
// concurrent use without external locking.
//
// Example:
//
//   sessionwheel::ScaleOutOptions options;
//   options.redis_port = 6379;
//   options.partitions = 64;                    // fixed for the deployment
//   options.host_id = "10.0.0.7:8080";          // what OwnerOf() answers
//   options.data_dir = "/var/lib/rides/parts";
//   options.account_sid = "AC...";              // fixed for the deployment
//   auto host = sessionwheel::ScaleOutHost::Start(options).value();
//   int p = host->PartitionOf(service_sid);
//   absl::Status s = host->Write(p, [&](sessionwheel::SessionStore& store) {
//     return store.CreateSession(service_sid, params, &session);
//   });
//   if (absl::IsFailedPrecondition(s)) {        // not ours: forward
//     std::string owner = host->OwnerOf(p).value_or("");
//   }

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SCALEOUT_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SCALEOUT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "sessionwheel/events.h"
#include "sessionwheel/sid.h"
#include "sessionwheel/store.h"

namespace sessionwheel {

// When ScaleOutHost::Write acknowledges a change (docs/scale-out.md says
// what each loses when the owner, or Redis, fails).
enum class AckMode {
  // Once the owner's own journal has it (StoreOptions::sync says how
  // durable). The stream receives it within milliseconds: a failover loses
  // the changes of those milliseconds.
  kLocal,
  // Once the change is also in the partition's stream in Redis: a failover
  // loses nothing acknowledged while Redis keeps its data.
  kStream,
  // As kStream, and Redis's WAIT has seen `wait_replicas` Redis replicas
  // take it: a failover of Redis itself loses nothing acknowledged either.
  kWait,
};

struct ScaleOutOptions {
  // The Redis server (or one master of a Cluster).
  std::string redis_host = "127.0.0.1";
  int redis_port = 6379;
  // Every key starts with it: "<prefix>:{p<N>}:lease" and so on; the braces
  // keep a partition's keys in one Cluster slot.
  std::string key_prefix = "sw";

  // P, fixed for the life of a deployment: every host must agree on it.
  int partitions = 16;

  // This host's name in the leases, what OwnerOf() answers to the others
  // (e.g. its address for forwarding). Required; unique per live host.
  std::string host_id;

  // Where this host keeps the durable store of each partition it owns (a
  // directory per partition and epoch, created and removed as needed).
  // Required.
  std::string data_dir;

  // The account of every partition's store, AC + 32 hex digits; fixed for
  // the deployment. Required.
  std::string account_sid;
  // Mixed into each partition store's seed; fixed for the deployment.
  uint64_t deployment_seed = 0;

  // How long a lease lasts without renewal: an owner that dies is replaced
  // after about this long. Renewed every third of it; a host that has not
  // renewed it within `lease - lease/5` stops serving the partition. At
  // least 100 ms.
  absl::Duration lease = absl::Seconds(3);

  AckMode ack = AckMode::kStream;
  // For AckMode::kWait: how many Redis replicas must have the change, and
  // how long to wait for them before the write fails with Unavailable (at
  // least 1 ms: Redis's WAIT counts whole milliseconds, and 0 is for ever).
  int wait_replicas = 1;
  absl::Duration wait_timeout = absl::Milliseconds(200);

  // The owner uploads a checkpoint of a partition to Redis, and trims the
  // stream behind it, once this many records were appended since the last.
  // Lower keeps the stream and the owner's journal short (each shipping
  // round reads the journal's current segment from its start, so its cost
  // grows with this) at the price of more checkpoints, each the whole
  // partition; changes wait while one starts (docs/scale-out.md).
  int64_t checkpoint_every = 10000;

  // If true, this host follows every partition it does not own (a standby:
  // it takes over with no replay but the stream's tail). If false, it
  // builds a partition from Redis only when it takes it.
  bool standby = true;

  // The most partitions this host owns at once; 0 means a fair share,
  // ceil(partitions / live hosts), recounted as hosts come and go.
  int max_owned = 0;

  // For each partition's store: clock, shards, tick, retention, limits and
  // sync policy. data_dir, follower, seed, account_sid and
  // background_expiry are set by the host. With AckMode kStream or kWait,
  // `sync` must be SyncPolicy::kEveryWrite (a change's record must be in
  // the journal's file when its call returns, for the feed to see it).
  StoreOptions store;

  // Hears the events of the partitions this host owns, from each
  // partition's shipping thread, after the shipping round that follows
  // them. An expiry (kClosed with closed_reason "ttl" or "date_expiry") is
  // heard at most once across all hosts: by the owner that decided it or,
  // for one that fell due while no host owned the partition, by the next
  // owner; one is lost only if its owner dies between a round's append and
  // its delivery (docs/scale-out.md, "Expiry belongs to the owner").
  // It may call Read on any partition, and Write under AckMode kLocal;
  // under kStream or kWait a Write from it is refused with
  // FailedPrecondition, unchanged (it would wait for a shipping round,
  // which waits for the listener).
  std::shared_ptr<SessionListener> listener;
};

// The partition of a Service: the 64-bit FNV-1a hash of its SID's 34
// characters of text, modulo `partitions`. Stable across hosts, runs and
// languages; docs/scale-out.md gives it in Python. -1, which names no
// partition, for `partitions` below 1.
int PartitionOfService(const Sid& service, int partitions);

// The partition of a Session, from its SID alone: the owner of a partition
// mints every SID with the partition in its last four hex digits
// (StoreOptions::sid_tag), so a Session's SID (and a Participant's, an
// Interaction's) names its partition wherever it travels. nullopt when
// those digits are not below `partitions`. A SID that no scale-out owner
// minted (a caller-chosen Service SID, one from another store) names no
// partition, and may still read as one: map Services with
// PartitionOfService.
std::optional<int> PartitionOfSession(const Sid& session, int partitions);

// A host's part of a scaled-out deployment. Safe for concurrent use without
// external locking.
class ScaleOutHost {
 public:
  // Connects to Redis, registers the host, and starts taking leases of
  // partitions without an owner (up to its share) and following the rest.
  // Errors: InvalidArgument for bad options; Unavailable if Redis does not
  // answer.
  static absl::StatusOr<std::unique_ptr<ScaleOutHost>> Start(
      const ScaleOutOptions& options);

  ScaleOutHost() = default;
  ScaleOutHost(const ScaleOutHost&) = delete;
  ScaleOutHost& operator=(const ScaleOutHost&) = delete;
  // Ships what is left of each owned partition's feed, releases its leases
  // (so standbys take over at once) and stops.
  virtual ~ScaleOutHost() = default;

  // The partition of a Service (PartitionOfService with this deployment's
  // P). A Session belongs to its Service's partition: every Session call
  // names its Service first.
  virtual int PartitionOf(const Sid& service) const = 0;

  // The host_id of the host that holds the partition's lease now, as Redis
  // says. Errors: NotFound when no host holds it (a failover under way:
  // retry); InvalidArgument for a partition out of range; Unavailable when
  // Redis does not answer.
  virtual absl::StatusOr<std::string> OwnerOf(int partition) = 0;

  // The partitions this host owns now, ascending.
  virtual std::vector<int> Owned() = 0;

  // Runs a change `op` on the partition's store if this host owns it, then
  // waits as the AckMode asks; returns op's status. Errors:
  // FailedPrecondition (message "not the owner of partition N") when this
  // host does not own it: forward to OwnerOf(); FailedPrecondition too,
  // with nothing changed, when called from the listener under kStream or
  // kWait (ScaleOutOptions::listener); Unavailable when the lease was lost
  // or Redis refused the append or did not answer: the change is not
  // acknowledged and may or may not survive.
  virtual absl::Status Write(
      int partition, absl::FunctionRef<absl::Status(SessionStore&)> op) = 0;

  // Runs a read `op` on the partition's store if this host owns it. Errors:
  // FailedPrecondition when it does not.
  virtual absl::Status Read(
      int partition, absl::FunctionRef<absl::Status(SessionStore&)> op) = 0;

  // Runs `op` on this host's follower of a partition it does not own (a
  // read that may lag the owner by the replication lag). Errors:
  // FailedPrecondition when the host follows no such partition.
  virtual absl::Status ReadStandby(
      int partition, absl::FunctionRef<absl::Status(SessionStore&)> op) = 0;
};

// Builds, from Redis alone, a follower store of a partition as the stream
// has it now: the latest checkpoint in Redis and the stream after it. For
// audits, tests and tools. Errors: Unavailable if Redis does not answer;
// DataLoss for a checkpoint or record that does not load.
absl::StatusOr<std::shared_ptr<SessionStore>> ReadPartitionFromRedis(
    const ScaleOutOptions& options, int partition);

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_SCALEOUT_H_
