// SessionStore: Proxy Sessions kept in memory, expired by a timer wheel.
//
// A SessionStore holds Services and their Sessions, finds a Session by SID or
// unique_name, applies the Proxy API's rules for creating, updating and
// ending Sessions, and closes each Session when its `ttl` or `date_expiry`
// passes. It is safe for concurrent use without external locking: every
// method may be called from any number of threads, and each Session's
// changes are linearizable. There is no global lock on the Session paths;
// the store is split into shards, each with its own lock, tables and wheel.
//
// Expiry runs when the host calls `Advance()`, or on a background thread
// the store owns (`StoreOptions::background_expiry`). Either way, a read never
// returns a stale Session: a read at or after a Session's expiry instant
// applies that expiry itself.
//
// Example:
//
//   sessionwheel::StoreOptions options;
//   options.background_expiry = true;
//   auto store = sessionwheel::SessionStore::Open(options).value();
//   store->AddListener(my_listener);  // hears "closed" with reason "ttl"
//   sessionwheel::CreateServiceParams service;
//   service.unique_name = "rides";
//   sessionwheel::Sid ks = store->CreateService(service)->sid;
//   sessionwheel::CreateSessionParams params;
//   params.unique_name = "ride-42";
//   params.ttl = 60;
//   sessionwheel::Session session;  // filled in place, buffers reused
//   if (!store->CreateSession(ks, params, &session).ok()) return;
//   store->RecordInteraction(ks, session.sid);  // another 60 s from now
//   store->FetchSession(ks, "ride-42", &session);  // by SID or unique_name
//   store->WriteSnapshot("/var/lib/rides/sessions.snap");  // and back with
//   // SessionStore::OpenSnapshot("/var/lib/rides/sessions.snap", options)
//
// Durable: with `options.data_dir = "/var/lib/rides"`, Open() recovers
// every change acknowledged before the process stopped (docs/durability.md).

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_STORE_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_STORE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel {

// The value of a limit that does not limit.
inline constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

// When a durable store's journal reaches the disk (StoreOptions::sync).
// docs/durability.md says what each loses in a crash and what it costs.
enum class SyncPolicy {
  // A change returns once its record is on the disk (fdatasync): nothing
  // acknowledged is ever lost. Concurrent writers share one sync.
  kEveryWrite,
  // Records are written to the operating system within milliseconds and
  // synced every `sync_interval`: a killed process loses the changes of
  // those last milliseconds, a machine that stops loses at most the last
  // interval. Redis's `appendfsync everysec`.
  kInterval,
  // Records are written to the operating system within milliseconds and
  // never synced by the store: the OS decides when they reach the disk.
  kOs,
};

// What recovery does with a damaged journal (StoreOptions::recovery).
enum class RecoveryMode {
  // A record cut short or damaged at the very end of the journal, as a
  // crash in mid-write leaves it, is dropped; damage anywhere else fails
  // Open with DataLoss, so a host notices a bad disk.
  kTolerateTornTail,
  // Recovery stops at the first damaged record and opens the store as it
  // was just before it; what follows is discarded.
  kPointInTime,
};

struct StoreOptions {
  // Where time comes from. Not owned; must outlive the store. Null means
  // SystemClock(). Tests pass a ManualClock.
  Clock* clock = nullptr;

  // Number of shards, a power of two from 1 to 256. More shards mean less
  // contention between threads and a little more memory per store.
  int shards = 16;

  // The wheel's resolution: expiry events arrive at most one tick (plus
  // processing) after the expiry instant. A smaller tick means less lateness
  // and more wakeups of the background thread. At least 1 ms.
  absl::Duration tick = absl::Milliseconds(10);

  // How long an ended (closed or failed) Session is kept before it is purged,
  // freeing its unique_name. The default is the Proxy API's 90 days; at most
  // 100 years, or absl::InfiniteDuration() to keep ended Sessions until
  // deleted.
  absl::Duration closed_retention = absl::Hours(24 * 90);

  // Seed for the SIDs the store mints. Set it for reproducible runs (tests,
  // benchmarks); unset, SIDs come from the system's random device.
  std::optional<uint64_t> seed;

  // When set, every SID the store mints (Services, Sessions, Participants,
  // Interactions) ends in these 16 bits, its last four hex digits, so a
  // host tells from a SID alone which of its stores minted it (the
  // scale-out puts the partition there: PartitionOfSession). The 112 bits
  // before them stay distinct for the store's first 2^48 SIDs. Fixed for
  // the life of a deployment, as a data directory's seed is.
  std::optional<uint16_t> sid_tag;

  // The account that owns everything in the store ("AC" + 32 hex digits).
  // Empty means one is minted (from `seed` when set).
  std::string account_sid;

  // The most Sessions that bulk work (mass expiry, purges, a clock jump, a
  // Service delete) touches per lock hold; the lock is released and the
  // events delivered between slices, so no call waits long behind it
  // (docs/design.md, "Bounded pauses"). At 1024 a hold lasts well under
  // 1 ms; smaller means shorter pauses and more lock round trips. At least 1.
  int bulk_slice = 1024;

  // If true, the store runs expiry on a thread of its own that sleeps until
  // the next due slot, a change or a clock jump, and stops when the store is
  // destroyed. If false, expiry runs only when the host calls Advance() (and
  // on reads, which never return a stale Session).
  bool background_expiry = false;

  // Once removals (a mass expiry, purge or delete) have freed 64 MiB of
  // Session records, the next Advance() gives that memory back to the
  // allocator, outside every store lock, and if this is true then calls
  // glibc's malloc_trim(0) so that the pages return to the system: about
  // 0.1 ms a MiB on the thread that runs Advance() (docs/performance.md,
  // "Memory that comes back"). False leaves glibc's free pages to the
  // host: resident memory stays near its peak until it trims. No effect
  // without glibc.
  bool trim_after_purge = true;

  // The most Sessions the store holds at once, and the most any one Service
  // holds. Every Session held counts, ended ones too: they keep their memory
  // and unique_name until deleted or purged. A create past a limit is
  // refused with ResourceExhausted/20429 and nothing is evicted; a delete, a
  // purge or a Service delete frees places. OpenSnapshot loads a snapshot
  // whole even past a limit, and creates wait until there is room. A limit
  // bounds the memory a runaway or hostile client can take, at the cost of
  // refusing creates when full. From 0 (every create refused) to kNoLimit.
  int64_t max_sessions = kNoLimit;
  int64_t max_sessions_per_service = kNoLimit;
  // The most Services the store holds at once (each keeps a few KiB): a
  // create past it is refused with ResourceExhausted/20429, a Service
  // delete frees a place. Recovery, a follower's changes and OpenSnapshot
  // load every Service even past it; creates wait for room. From 0 to
  // kNoLimit.
  int64_t max_services = kNoLimit;
  // The most Interactions the store keeps at once, and the most one Session
  // keeps (each holds its message body, up to 1,600 characters). A message
  // past a limit is refused with ResourceExhausted/20429 and nothing is
  // evicted; deleting Interactions or their Session frees places. Restores
  // load past them, as for Sessions. From 0 to kNoLimit.
  int64_t max_interactions = kNoLimit;
  int64_t max_interactions_per_session = kNoLimit;

  // Durability (docs/durability.md). Empty: the store lives in memory only
  // and is gone with the process. Otherwise a directory (created if
  // missing) where the store keeps a checkpoint and a journal of every
  // change after it: Open() recovers what was acknowledged there, and every
  // Service and Session change is in the journal before its call returns.
  // A directory belongs to one store: its seed and account are fixed when
  // it is created, and one process at a time may open it.
  std::string data_dir;
  SyncPolicy sync = SyncPolicy::kInterval;
  absl::Duration sync_interval = absl::Seconds(1);
  RecoveryMode recovery = RecoveryMode::kTolerateTornTail;
  // A checkpoint is written automatically once the journal since the last
  // one is at least `checkpoint_min_bytes` and at least
  // `checkpoint_growth_percent` percent of that checkpoint's size (Redis's
  // auto-aof-rewrite-min-size and -percentage); and on Checkpoint().
  int64_t checkpoint_min_bytes = int64_t{64} << 20;
  int checkpoint_growth_percent = 100;

  // A follower takes its changes only from another store's change feed
  // (SessionStore::ApplyChange); its own change calls are refused with
  // FailedPrecondition. Reads, lists and expiry work as in any store, so a
  // follower on the same clock reads exactly what its leader reads. In
  // memory only: `data_dir` must be empty. Its listeners hear what it does
  // itself (expiries, purges) and the Sessions an applied change removes
  // (kDeleted, or kPurged for one a restored name displaced), not the
  // creates, updates and interactions it applies.
  bool follower = false;
};

// One change of a durable store, from its change feed (ReadChanges): the
// journal's record, whole and self-contained (the state after the change),
// so applying it twice changes nothing. Hosts ship it as bytes: `type` and
// `payload` are the record's (docs/journal.md, docs/durability.md).
struct Change {
  uint64_t lsn = 0;  // Consecutive: each change's is the previous one's + 1.
  uint8_t type = 0;
  std::string_view payload;  // Valid only during the call that receives it.
};

// Counts of what the store holds. Each shard is counted under its own lock;
// with writers running, the totals are a sum of per-shard moments.
struct StoreStats {
  int64_t services = 0;
  int64_t sessions = 0;  // All Sessions held, ended ones included.
  int64_t open = 0;
  int64_t in_progress = 0;
  int64_t closed = 0;
  int64_t failed = 0;
  int64_t unknown = 0;
  int64_t named = 0;         // Sessions holding a unique_name.
  int64_t interactions = 0;  // Interactions held.
  int64_t expired = 0;  // Sessions closed by expiry since the store opened.
  int64_t purged = 0;   // Sessions purged since the store opened.
};

class SessionStore {
 public:
  // Opens an empty store. Errors: InvalidArgument for options out of range.
  static absl::StatusOr<std::unique_ptr<SessionStore>> Open(
      const StoreOptions& options = StoreOptions());

  // Opens a store holding the Services and Sessions of the snapshot at
  // `path` (see WriteSnapshot), with `options` for everything else: any
  // shard count, tick or retention will do. The store takes the snapshot's
  // account SID. Sessions whose expiry instant is at or before the clock's
  // now are closed as the running store closes them (closed_reason "ttl" or
  // "date_expiry", date_ended = the instant), and ended Sessions past
  // `closed_retention` are purged; both count in Stats(), and emit no events
  // (no listener exists yet). `options`' limits never refuse a snapshot:
  // every Session is loaded, even past max_sessions or
  // max_sessions_per_service (a store's own snapshot can hold more than its
  // limits, since shards are copied at different moments), and creates are
  // refused with ResourceExhausted/20429 until deletes and purges bring the
  // count below the limit. The whole file is checked before the store is
  // built, so on any error there is no store and nothing was half-loaded.
  // Only a regular file is read (links followed); anything else is refused
  // before a byte is read, and a FIFO is never waited on. Errors: the errno
  // of a failed read as a status (NotFound for a missing file);
  // FailedPrecondition for a path that is not a regular file (a directory,
  // a FIFO, a device such as /dev/zero) or a format version this build does
  // not read; InvalidArgument for options out of range, an
  // `options.account_sid` other than the snapshot's, or a file that is not
  // a snapshot (wrong magic); DataLoss for a truncated, corrupted (checksum
  // mismatch) or inconsistent snapshot. Every message about the file names
  // `path`.
  static absl::StatusOr<std::unique_ptr<SessionStore>> OpenSnapshot(
      const std::string& path, const StoreOptions& options = StoreOptions());

  SessionStore() = default;
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;
  // Stops the background thread, if any. No listener is called after the
  // destructor returns; Sessions still held are dropped without events.
  virtual ~SessionStore() = default;

  // The account every Service and Session of the store belongs to.
  virtual Sid account_sid() const = 0;

  // Services -----------------------------------------------------------------

  // Creates a Service. Errors: InvalidArgument/80701 for a `sid` that is not
  // a "KS" SID, a missing or over-long `unique_name`, a `default_ttl` out of
  // 0..253402300799; AlreadyExists/80602 when the unique_name is taken;
  // AlreadyExists/80701 when the SID is taken.
  virtual absl::StatusOr<Service> CreateService(
      const CreateServiceParams& params) = 0;

  // Returns the Service with this SID. Errors: NotFound/20404.
  virtual absl::StatusOr<Service> FetchService(const Sid& sid) = 0;

  // Lists Services, newest first, in keyset pages. Errors: InvalidArgument
  // with 80701 for a page size out of 1..1000, 21481 for a bad token.
  virtual absl::StatusOr<ServicePage> ListServices(
      const ListParams& params) = 0;

  // Changes a Service's unique_name and/or default_ttl. A new default_ttl
  // applies to Sessions created afterwards. Errors as CreateService, and
  // NotFound/20404.
  virtual absl::StatusOr<Service> UpdateService(
      const Sid& sid, const UpdateServiceParams& params) = 0;

  // Deletes a Service and all its Sessions (each reported as kDeleted).
  // Errors: NotFound/20404.
  virtual absl::Status DeleteService(const Sid& sid) = 0;

  // Sessions -----------------------------------------------------------------
  // Every Session method names the Service first; a Session of another
  // Service, or a SID of another kind, is NotFound/20404. Methods that
  // answer with the Session fill a caller-owned `*out`, reusing its
  // buffers, when `out` is not null; it is left alone on an error. The
  // overloads without `out` return a new Session instead.

  // Creates a Session. Errors: NotFound/20404 for an unknown Service;
  // InvalidArgument/80701 for a bad parameter (a `date_expiry` not after now,
  // a negative `ttl`, a `unique_name` over 191 characters or not UTF-8);
  // InvalidArgument/80609 for more than 2 participants;
  // AlreadyExists/80103 for two participants with the same non-empty
  // identifier; AlreadyExists/80603 when the unique_name is held in the
  // Service;
  // ResourceExhausted/20429 when the store or the Service holds its
  // `max_sessions` or `max_sessions_per_service`.
  virtual absl::Status CreateSession(const Sid& service,
                                     const CreateSessionParams& params,
                                     Session* out) = 0;
  absl::StatusOr<Session> CreateSession(const Sid& service,
                                        const CreateSessionParams& params);

  // Finds the Session with this SID. Errors: NotFound/20404.
  virtual absl::Status FetchSession(const Sid& service, const Sid& sid,
                                    Session* out) = 0;
  absl::StatusOr<Session> FetchSession(const Sid& service, const Sid& sid);

  // Finds the Sessions `sids` name, each as FetchSession(service, sid, out)
  // would: `statuses[i]` is the answer for `sids[i]` (OK, or NotFound/20404)
  // and `out[i]` its Session when OK (left alone otherwise). Each is read
  // under its own shard's lock in turn, not all at one instant. The batch
  // starts each record's memory load a few Sessions ahead of reading it,
  // so at a million Sessions it answers two to three times as many a
  // second as single calls (docs/performance.md, "Fetching many").
  // Errors: InvalidArgument when `out` or `statuses` has another size than
  // `sids` (nothing is fetched).
  virtual absl::Status FetchSessions(const Sid& service,
                                     absl::Span<const Sid> sids,
                                     absl::Span<Session> out,
                                     absl::Span<absl::Status> statuses) = 0;

  // Answers each of `names` as FetchSession(service, names[i], out) would
  // (a SID's text is tried as that SID first, then as a name):
  // `statuses[i]` is OK or NotFound/20404, and `out[i]` is filled when OK
  // and left alone otherwise. The names are not read at one instant nor in
  // the order given, and the events of Sessions the batch closes are
  // delivered after each group it reads, not after each name. Many names a
  // call cost far less each than single calls: at a million Sessions, 64 a
  // call answer about twice as many a second (docs/performance.md,
  // "Fetching many"). Errors: InvalidArgument when `out` or `statuses` has
  // another size than `names`, or for more than 2^32 - 1 names (nothing
  // is fetched).
  virtual absl::Status FetchSessionsByName(
      const Sid& service, absl::Span<const std::string_view> names,
      absl::Span<Session> out, absl::Span<absl::Status> statuses) = 0;

  // Finds the Session whose SID (as text) or unique_name is `sid_or_name`.
  // Errors: NotFound/20404.
  virtual absl::Status FetchSession(const Sid& service,
                                    std::string_view sid_or_name,
                                    Session* out) = 0;
  absl::StatusOr<Session> FetchSession(const Sid& service,
                                       std::string_view sid_or_name);

  // Lists the Service's Sessions newest first (creation order) in keyset
  // pages: a Session that exists for the whole walk appears exactly once.
  // Errors: NotFound/20404; InvalidArgument/80701 for a page size out of
  // 1..1000; InvalidArgument/21481 for a malformed or foreign token.
  virtual absl::StatusOr<SessionPage> ListSessions(
      const Sid& service, const ListParams& params) = 0;

  // Applies the Proxy API's update: `ttl`, `date_expiry`, and `status` by the
  // transition table (closed to in-progress re-opens). Errors:
  // NotFound/20404; FailedPrecondition/80607 for an ended Session other than
  // a re-open; FailedPrecondition/80608 for a transition not in the table;
  // InvalidArgument/80701 for a bad parameter, or a re-open whose
  // date_expiry has passed without a new one.
  virtual absl::Status UpdateSession(const Sid& service, const Sid& sid,
                                     const UpdateSessionParams& params,
                                     Session* out) = 0;
  absl::StatusOr<Session> UpdateSession(const Sid& service, const Sid& sid,
                                        const UpdateSessionParams& params);

  // Deletes the Session and its participants and frees its unique_name.
  // Errors: NotFound/20404.
  virtual absl::Status DeleteSession(const Sid& service, const Sid& sid) = 0;

  // Records an interaction now: sets date_last_interaction, restarts the TTL
  // window and moves `open` to `in-progress`. Errors: as DeleteSession, and
  // FailedPrecondition/80607 for an ended Session.
  virtual absl::Status RecordInteraction(const Sid& service,
                                         const Sid& sid) = 0;

  // Ends the Session as `closed` with the host's `reason` (1 to 255
  // characters of UTF-8). Errors: as RecordInteraction, and
  // InvalidArgument/80701 for a bad reason.
  virtual absl::Status CloseSession(const Sid& service, const Sid& sid,
                                    std::string_view reason) = 0;

  // Ends the Session as `failed` with the host's `reason`. Errors: as
  // CloseSession.
  virtual absl::Status FailSession(const Sid& service, const Sid& sid,
                                   std::string_view reason) = 0;

  // Participants (docs/semantics.md, "Participants") ---------------------
  // Each names the Service and the Session first, as Session methods do; an
  // unknown Service or Session, or a Participant of another Session, is
  // NotFound/20404.

  // Adds a Participant to the Session. Errors: InvalidArgument/80701 for an
  // empty `identifier` or a field over its bound (Identifier and
  // ProxyIdentifier 191 characters, FriendlyName 255, all UTF-8);
  // FailedPrecondition/80607 for an ended Session; InvalidArgument/80609
  // when the Session has its 2 (deleted ones count: they stay in it);
  // AlreadyExists/80103 when a Participant of the Session, deleted or not,
  // has the identifier.
  virtual absl::StatusOr<Participant> CreateParticipant(
      const Sid& service, const Sid& session,
      const ParticipantParams& params) = 0;

  // Returns the Participant, deleted or not. Errors: NotFound/20404.
  virtual absl::StatusOr<Participant> FetchParticipant(
      const Sid& service, const Sid& session, const Sid& participant) = 0;

  // Lists the Session's Participants in creation order (those given at
  // create first), deleted ones included. Errors: as ListSessions.
  virtual absl::StatusOr<ParticipantPage> ListParticipants(
      const Sid& service, const Sid& session, const ListParams& params) = 0;

  // Deletes the Participant softly: it stays, with date_deleted (and
  // date_updated) now, and its identifier is not taken again in the
  // Session. Deleting it again changes nothing. Errors: NotFound/20404.
  virtual absl::Status DeleteParticipant(const Sid& service, const Sid& session,
                                         const Sid& participant) = 0;

  // Interactions (docs/semantics.md, "Interactions") ----------------------

  // Records a message sent to `participant` (the outbound Participant) and
  // counts it as the Session's interaction, exactly as RecordInteraction:
  // date_last_interaction set, the TTL window restarted, `open` to
  // `in-progress`, an kInteraction event. Errors: NotFound/20404;
  // InvalidArgument/80701 for a `body` empty, not UTF-8 or over 1,600
  // characters; FailedPrecondition/80607 for an ended Session;
  // FailedPrecondition/80614 for a deleted Participant;
  // ResourceExhausted/20429 past max_interactions or
  // max_interactions_per_session.
  virtual absl::StatusOr<Interaction> RecordMessageInteraction(
      const Sid& service, const Sid& session, const Sid& participant,
      std::string_view body) = 0;

  // Returns the Interaction. Errors: NotFound/20404.
  virtual absl::StatusOr<Interaction> FetchInteraction(
      const Sid& service, const Sid& session, const Sid& interaction) = 0;

  // Lists the Session's Interactions newest first. Errors: as ListSessions,
  // but a page holds at most 100 (a larger page size is served as 100, as
  // the Proxy API does).
  virtual absl::StatusOr<InteractionPage> ListInteractions(
      const Sid& service, const Sid& session, const ListParams& params) = 0;

  // Deletes the Interaction's record for good; the Session's
  // date_last_interaction stays. Errors: NotFound/20404.
  virtual absl::Status DeleteInteraction(const Sid& service, const Sid& session,
                                         const Sid& interaction) = 0;

  // Expiry and events
  // ----------------------------------------------------------

  // Runs every expiry and purge due at the clock's current time and delivers
  // their events. Returns how many Sessions it closed or purged.
  virtual int64_t Advance() = 0;

  // Returns the earliest time at which Advance() may have work, or nullopt if
  // no Session is waiting on the clock. It is never later than one tick after
  // the earliest pending expiry or purge, and may be earlier: the wheel also
  // wakes to re-sort a coarse slot into finer ones. A host driving Advance()
  // itself sleeps until NextWakeup(), calls Advance(), and asks again.
  virtual std::optional<absl::Time> NextWakeup() = 0;

  // Adds a listener for every later event of the types its Hears() names
  // (asked once, here). Listeners cannot be removed; the store keeps a
  // reference until it is destroyed.
  virtual void AddListener(std::shared_ptr<SessionListener> listener) = 0;

  // Introspection
  // --------------------------------------------------------------

  virtual StoreStats Stats() = 0;

  // Checks the store's internal invariants, taking every shard lock in turn:
  // every index agrees with the tables, names are unique per Service, each
  // live Session with an expiry is on the wheel. O(Sessions); for tests and
  // fuzzers. Returns Internal with the first broken invariant.
  virtual absl::Status CheckInvariants() = 0;

  // Snapshots
  // ------------------------------------------------------------------

  // Writes every Service and Session, with its expiry state, to the file at
  // `path`, replacing it atomically (a temporary file in the same directory,
  // fsync, rename, fsync of the directory): a crash leaves the previous file
  // whole. A symbolic link is followed: its final target is replaced and
  // the link stays a link. The store keeps serving meanwhile: the Sessions
  // are copied a slice of at most 1024 at a time, under their shard's lock,
  // and encoded and written with no lock held, so a call waits at most for
  // one slice's copy (or the Service registry's), and memory holds one
  // slice and a 1 MiB buffer whatever the store's size. Every Session is
  // saved whole, as it was between two calls; different Sessions may be
  // copied at different moments (docs/snapshots.md). Counters (Stats().expired,
  // purged), listeners and undelivered events are not saved. Errors:
  // FailedPrecondition when `path` (or its link's target) exists and is not
  // a regular file; otherwise the failing system call's errno as a status,
  // naming the call and the file (NotFound for a missing directory,
  // PermissionDenied...).
  virtual absl::Status WriteSnapshot(const std::string& path) = 0;

  // Durability (StoreOptions::data_dir)
  // ------------------------------------------------

  // Writes a checkpoint of a durable store now, then removes the journal it
  // covers and older checkpoints; the store keeps serving meanwhile. Done
  // automatically as the journal grows (StoreOptions::checkpoint_min_bytes).
  // Errors: FailedPrecondition for a store without a data_dir; the errno of
  // a failed write, naming the file.
  virtual absl::Status Checkpoint() = 0;

  // Writes and syncs every change journaled so far, whatever the sync
  // policy: when it returns, every change whose call returned before it is
  // durable and in the change feed (ReadChanges). For a point of
  // durability under kInterval or kOs: before a planned stop, or before
  // shipping the feed and then taking a checkpoint, which removes the
  // journal before its position. Costs one write and one fdatasync.
  // Errors: FailedPrecondition for a store without a data_dir; the
  // journal's error once a write or sync has failed.
  virtual absl::Status FlushJournal() = 0;

  // The change feed of a durable store: calls `fn` with every change from
  // `from_lsn` on, in order, as far as the journal has written them
  // (within milliseconds of their calls under every sync policy), and
  // returns the LSN after the last one given. Changes before the latest
  // checkpoint are gone: a follower starts from that checkpoint
  // (LatestCheckpoint) and reads from its LSN. Errors: `fn`'s, which stops
  // the feed; FailedPrecondition for a store without a data_dir;
  // OutOfRange for a `from_lsn` before the oldest change kept; DataLoss for
  // a damaged journal.
  virtual absl::StatusOr<uint64_t> ReadChanges(
      uint64_t from_lsn, absl::FunctionRef<absl::Status(const Change&)> fn) = 0;

  // Where a follower of this durable store starts: the newest checkpoint
  // file (open it with OpenSnapshot and StoreOptions::follower) and the LSN
  // to read changes from after it. Errors: FailedPrecondition for a store
  // without a data_dir; NotFound if it has written no checkpoint yet (read
  // from LSN 1 into an empty follower).
  struct CheckpointPosition {
    std::string path;
    uint64_t lsn = 0;
  };
  virtual absl::StatusOr<CheckpointPosition> LatestCheckpoint() = 0;

  // Applies a change of another store's feed to this follower, as that
  // store's recovery would apply it. Errors: FailedPrecondition for a store
  // that is not a follower; DataLoss for a change that is not a valid
  // record.
  virtual absl::Status ApplyChange(const Change& change) = 0;
};

}  // namespace sessionwheel

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_STORE_H_
