// One shard of a SessionStore: one lock, one SID table, one name index, one
// timer wheel, one event queue.
//
// A Session lives in the shard picked by the top byte of its SID. A Session
// with a unique_name is minted with that byte taken from a stable hash of
// (Service SID, name), so the name index of a shard holds exactly the names
// of its own Sessions: reserving a name, inserting the Session and freeing
// the name on delete all happen under one lock.
//
// The shard mints its Sessions' SIDs: below the shard byte, the next 56
// bits hide the record's slab handle (HandleCodec), and the low 64 bits
// come from the store's generator, unique for the store's life. A fetch by
// SID reads the handle back and checks the record at it: one memory
// access, no hash table.
//
// Every Service is replicated into every shard (`ShardService`), so a
// Session operation never takes a lock outside its shard. Service writes are
// rare and visit the shards one lock at a time (see store.cc).
//
// Events are queued under the lock as fixed-size copies (`QueuedEvent`, the
// name and reason bytes in one arena string), and delivered after it is
// released, by whichever thread finds no delivery in progress
// (`DeliverEvents`), so a Session's events keep their order and no listener
// runs under a lock. The queue and the arena keep their capacity, so a
// steady stream of events allocates nothing.

#ifndef SESSIONWHEEL_ENGINE_CORE_SHARD_H_
#define SESSIONWHEEL_ENGINE_CORE_SHARD_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/core/creation_order.h"
#include "engine/core/name_index.h"
#include "engine/core/page_token.h"
#include "engine/core/slab.h"
#include "engine/core/timer_wheel.h"
#include "engine/util/sid.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/internal/mutex.h"
#include "sessionwheel/session.h"
#include "sessionwheel/store.h"

namespace sessionwheel::internal {

// Times inside the engine are Unix milliseconds; kNoTime stands for null.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

// The instants the API can write: 0000-01-01T00:00:00.000Z to
// 9999-12-31T23:59:59.999Z.
inline constexpr int64_t kEarliestMs = -62167219200000;
inline constexpr int64_t kLatestMs = 253402300799999;

// A clock reading in milliseconds, held to [kEarliestMs, kLatestMs]: the
// store takes any Clock and cannot refuse a reading, so one outside the
// dates the API writes (absl::InfiniteFuture() included) reads as the
// nearest end. Then no time the store holds is kNoTime, and every sum it
// makes (a time plus a TTL of at most 253402300799 s, or a retention of at
// most 100 years) stays far inside int64_t (docs/semantics.md, "Time").
inline int64_t ClockMs(absl::Time now) {
  const int64_t ms = absl::ToUnixMillis(now);
  return ms < kEarliestMs ? kEarliestMs : ms > kLatestMs ? kLatestMs : ms;
}

// Why an ended Session ended: the engine's own reasons need no string.
enum class EndReason : uint8_t { kNone, kApi, kTtl, kDateExpiry, kHost };

struct ShardService;
struct SessionImage;              // engine/persist/snapshot.h
struct InteractionImage;          // engine/persist/snapshot.h
class SnapshotRules;              // engine/persist/snapshot.h
class JournalWriter;              // engine/persist/journal.h
enum class RecordType : uint8_t;  // engine/core/durability.h

// A count of Sessions held against a limit (StoreOptions::max_sessions and
// max_sessions_per_service). Places are taken under one shard's lock but
// counted across all shards, so the count is atomic, and a place is taken
// by compare-and-swap: a create never takes the count past the limit, even
// for a moment. Only a restore may (Force).
class SessionQuota {
 public:
  explicit SessionQuota(int64_t max) : max_(max) {}
  SessionQuota(const SessionQuota&) = delete;
  SessionQuota& operator=(const SessionQuota&) = delete;

  // Takes a place; false if the limit is reached. Without a limit nothing is
  // counted: every create and delete on every core would otherwise write one
  // shared cache line.
  bool TryTake() {
    if (max_ == kNoLimit) return true;
    int64_t held = held_.load(std::memory_order_relaxed);
    do {
      if (held >= max_) return false;
    } while (!held_.compare_exchange_weak(held, held + 1,
                                          std::memory_order_relaxed));
    return true;
  }
  // Takes a place even past the limit: a restore or a recovery loads a
  // store's own files whole, and creates are refused until the count is
  // below the limit.
  void Force() {
    if (max_ != kNoLimit) held_.fetch_add(1, std::memory_order_relaxed);
  }
  void Release(int64_t n = 1) {
    if (max_ != kNoLimit) held_.fetch_sub(n, std::memory_order_relaxed);
  }
  void Force(int64_t n) {
    if (max_ != kNoLimit) held_.fetch_add(n, std::memory_order_relaxed);
  }
  int64_t max() const { return max_; }

 private:
  const int64_t max_;
  std::atomic<int64_t> held_{0};
};

// A time of a Session in 6 bytes: Unix milliseconds within 2^47 of 1970
// (the years -2488 to 6429), or one of two markers: null (kNoTime), or
// "wide", a time outside that range (a date_expiry in the year 9000, a
// manual clock set millennia ahead) whose value the record keeps in its
// extras. The three times an expiry never writes (created, last
// interaction, date_expiry) are kept so: 18 bytes instead of 24
// (docs/performance.md, "Memory").
//
// Little-endian bytes, read with one 8-byte load: a record keeps its packed
// times in one array followed by at least 2 more bytes (the TTL's), so that
// the load never leaves it (SessionRecord::packed_). Packed, the times an
// expiry writes (updated, ended) and the TTL base it reads cost a kept
// expiry about 4 ns a Session in decoding and range checks, so those stay
// int64_t (measured in docs/performance.md, "Memory").
struct PackedTime {
  static constexpr size_t kBytes = 6;
  static constexpr int64_t kLimit = int64_t{1} << 47;
  static constexpr int64_t kNull = -kLimit;
  static constexpr int64_t kWide = -kLimit + 1;

  // Whether `ms` is a time kept in 6 bytes: neither null nor wide. One
  // compare: kWide < ms < kLimit.
  static bool InRange(int64_t ms) {
    return static_cast<uint64_t>(ms) - static_cast<uint64_t>(kWide + 1) <
           static_cast<uint64_t>(kLimit - kWide - 1);
  }
  // The time at `p`: kNoTime, a time, or kWide. Reads 8 bytes.
  static int64_t Load(const unsigned char* p) {
    uint64_t bits;
    std::memcpy(&bits, p, sizeof bits);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    const int64_t v = static_cast<int64_t>(bits << 16) >> 16;
    if (ABSL_PREDICT_TRUE(v > kWide)) return v;
    return v == kNull ? kNoTime : kWide;
  }
  // Writes `ms` at `p` if it fits, else kWide (the caller keeps the value).
  static void Store(unsigned char* p, int64_t ms) {
    int64_t v = ms;
    if (ABSL_PREDICT_FALSE(!InRange(ms))) v = ms == kNoTime ? kNull : kWide;
    auto bits = static_cast<uint64_t>(v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    bits = __builtin_bswap64(bits);
#endif
    std::memcpy(p, &bits, kBytes);  // The low 6 bytes, in either order.
  }
};

// Which of a record's packed times (SessionRecord::packed_).
enum class PackedField : uint8_t { kCreated, kLastInteraction, kDateExpiry };
inline constexpr int kPackedFields = 3;

// A message sent to a Participant of the Session (shard_history.cc).
struct InteractionRecord {
  Sid128 sid;          // "KI" body.
  Sid128 participant;  // "KP" body: the outbound Participant.
  uint64_t seq = 0;    // Its place among the Session's Interactions.
  int64_t created_ms = 0;
  std::string body;
};

// Where a page of a Session's Participants or Interactions starts and ends
// in their list order, and the boundary keys (seq, SID) of the
// neighbouring pages, for the store's page tokens (shard_history.cc).
struct HistoryPaging {
  size_t begin = 0;
  size_t end = 0;
  std::optional<std::pair<uint64_t, Sid128>> next;
  std::optional<std::pair<uint64_t, Sid128>> previous;
};

// A Session as stored, in its shard's slab (engine/core/slab.h): 128
// bytes, two cache lines. The TimerEntry base makes it its own wheel entry;
// the slab never moves it.
//
// What an expiry reads and writes comes first: with the TimerEntry (whose
// tail padding holds the status and mode: its default member initializers
// make it a non-POD, whose padding a derived class may use) these fields
// fill the first 64 bytes, so the wheel's drain touches one cache line of
// each record for them. The times it writes are int64_t; the others are
// PackedTime, the TTL 4 bytes: a value that does not fit those is "wide", kept
// in the extras, and read back through the same accessors. The second line
// holds the SID, the Service, the extras and the name.
//
// A unique_name of up to kInlineNameBytes bytes lives inside the record,
// so a fetch by name compares bytes on lines it has already loaded; a
// longer one lives in the extras.
struct SessionRecord : TimerEntry {
  static constexpr size_t kInlineNameBytes = 20;
  // The ttl field's marker for a TTL kept in the extras.
  static constexpr uint32_t kWideTtl = std::numeric_limits<uint32_t>::max();

  SessionStatus status = SessionStatus::kOpen;
  SessionMode mode = SessionMode::kVoiceAndMessage;

 private:
  int64_t base_ms_ =
      0;  // The TTL base: latest of create, re-open, interaction.
  int64_t ended_ms_ = kNoTime;
  int64_t updated_ms_ = 0;
  // The packed times (by PackedField), then the TTL: seconds, or kWideTtl.
  // One array, so that the last time's 8-byte load stays in it.
  static constexpr size_t kTtlAt = kPackedFields * PackedTime::kBytes;
  unsigned char packed_[kTtlAt + sizeof(uint32_t)];
  static_assert((kPackedFields - 1) * PackedTime::kBytes + sizeof(uint64_t) <=
                    sizeof packed_,
                "PackedTime::Load reads 8 bytes from the last packed time");

 public:
  EndReason end_reason = EndReason::kNone;

 private:
  // 0: no unique_name (an empty one is refused); up to kInlineNameBytes:
  // the length of the name in inline_name; kLongName: in the extras.
  static constexpr uint8_t kLongName = 0xFF;
  uint8_t name_len_ = 0;

 public:
  Sid128 sid;
  uint64_t seq = 0;  // Store-wide creation order.
  ShardService* service = nullptr;
  // What few Sessions have lives apart, so the common record stays small.
  struct Extras {
    std::string host_reason;  // Set only when end_reason == kHost.
    // In creation order, deleted ones too: at most 2 (shard_history.cc).
    std::vector<Participant> participants;
    std::string long_name;  // A unique_name past kInlineNameBytes.
    // Oldest first (ascending seq); at most max_interactions_per_session.
    std::vector<InteractionRecord> interactions;
    uint64_t next_interaction_seq = 0;
    // Packed times and a TTL too large for the record, by PackedField; the
    // TTL last. Null until one is.
    std::unique_ptr<std::array<int64_t, kPackedFields + 1>> wide;
  };
  std::unique_ptr<Extras> extras;  // Null until needed.
  // Its cell in its Service's CreationOrder. Where the slab keeps the
  // record is not kept here: its SID carries that (Shard::HandleOfLocked).
  uint32_t order_pos = 0;
  char inline_name[kInlineNameBytes];

  // Every time null but the three a create always sets, no TTL.
  SessionRecord() {
    for (int i = 0; i < kPackedFields; ++i) {
      PackedTime::Store(PackedAt(static_cast<PackedField>(i)), kNoTime);
    }
    set_ttl(0);
  }

  // Unix milliseconds, or kNoTime.
  int64_t base_ms() const { return base_ms_; }
  int64_t ended_ms() const { return ended_ms_; }
  int64_t updated_ms() const { return updated_ms_; }
  int64_t created_ms() const { return Packed(PackedField::kCreated); }
  int64_t last_interaction_ms() const {
    return Packed(PackedField::kLastInteraction);
  }
  int64_t date_expiry_ms() const { return Packed(PackedField::kDateExpiry); }
  void set_base_ms(int64_t ms) { base_ms_ = ms; }
  void set_ended_ms(int64_t ms) { ended_ms_ = ms; }
  void set_updated_ms(int64_t ms) { updated_ms_ = ms; }
  void set_created_ms(int64_t ms) { SetPacked(PackedField::kCreated, ms); }
  void set_last_interaction_ms(int64_t ms) {
    SetPacked(PackedField::kLastInteraction, ms);
  }
  void set_date_expiry_ms(int64_t ms) {
    SetPacked(PackedField::kDateExpiry, ms);
  }

  // Seconds; 0: none.
  int64_t ttl() const {
    uint32_t ttl;
    std::memcpy(&ttl, packed_ + kTtlAt, sizeof ttl);
    if (ABSL_PREDICT_TRUE(ttl != kWideTtl)) return ttl;
    return (*extras->wide)[kPackedFields];
  }
  void set_ttl(int64_t seconds) {
    uint32_t ttl = kWideTtl;
    if (seconds >= 0 && seconds < kWideTtl) {
      ttl = static_cast<uint32_t>(seconds);
    } else {
      Wide()[kPackedFields] = seconds;
    }
    std::memcpy(packed_ + kTtlAt, &ttl, sizeof ttl);
  }

  // Sets the unique_name once, at create or restore: the name index hashes
  // it, so it never changes while indexed. `name` is not empty.
  void SetName(std::string_view name);
  bool has_name() const { return name_len_ != 0; }
  std::string_view unique_name() const {
    if (name_len_ != kLongName) return {inline_name, name_len_};
    return extras->long_name;
  }

  Extras& MutableExtras() {
    if (extras == nullptr) extras = std::make_unique<Extras>();
    return *extras;
  }

 private:
  unsigned char* PackedAt(PackedField field) {
    return packed_ + static_cast<size_t>(field) * PackedTime::kBytes;
  }
  const unsigned char* PackedAt(PackedField field) const {
    return packed_ + static_cast<size_t>(field) * PackedTime::kBytes;
  }
  int64_t Packed(PackedField field) const {
    const int64_t v = PackedTime::Load(PackedAt(field));
    if (ABSL_PREDICT_TRUE(v != PackedTime::kWide)) return v;
    return (*extras->wide)[static_cast<int>(field)];
  }
  void SetPacked(PackedField field, int64_t ms) {
    PackedTime::Store(PackedAt(field), ms);
    if (ABSL_PREDICT_FALSE(!PackedTime::InRange(ms)) && ms != kNoTime) {
      Wide()[static_cast<int>(field)] = ms;
    }
  }
  std::array<int64_t, kPackedFields + 1>& Wide() {
    Extras& e = MutableExtras();
    if (e.wide == nullptr) {
      e.wide = std::make_unique<std::array<int64_t, kPackedFields + 1>>();
    }
    return *e.wide;
  }
};
static_assert(sizeof(SessionRecord) == 128,
              "a record is two cache lines (docs/performance.md, Memory)");

// A Service as one shard sees it.
struct ShardService {
  Sid128 sid;
  int64_t default_ttl = 0;
  CreationOrder order;  // This shard's Sessions of the Service.
  // Deleted: out of the shard's table, its Sessions on their way out in
  // slices (Shard::RemoveDetached). Calls no longer find them.
  bool dying = false;
  // The Service's Sessions in every shard; each replica shares it, and the
  // last one to go frees it.
  std::shared_ptr<SessionQuota> quota;
};

// Key of the name index: a name is unique within its Service.
struct NameKey {
  Sid128 service;
  absl::string_view name;
  friend bool operator==(const NameKey& a, const NameKey& b) {
    return a.service == b.service && a.name == b.name;
  }
  template <typename H>
  friend H AbslHashValue(H h, const NameKey& k) {
    return H::combine(std::move(h), k.service, k.name);
  }
};

// The name index holds the slab handles of named records, 4 bytes a slot,
// and is searched by NameKey: its hash and equality read the record a
// handle names, through the shard's slab.
struct RecordByName {
  using is_transparent = void;
  const Slab<SessionRecord>* records = nullptr;

  size_t operator()(const NameKey& k) const { return absl::Hash<NameKey>()(k); }
  size_t operator()(uint32_t handle) const { return (*this)(Key(handle)); }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return Key(a) == Key(b);
  }
  static const NameKey& Key(const NameKey& k) { return k; }
  static NameKey Key(const SessionRecord* r);
  NameKey Key(uint32_t handle) const { return Key(records->Get(handle)); }
  // Starts loading the record, for a resize that moves handles in batches.
  void Prefetch(uint32_t handle) const;
};

// Wakes the store's background thread when a shard schedules something
// earlier than the thread planned to wake for.
class WakeupSink {
 public:
  virtual ~WakeupSink() = default;
  virtual void ScheduledAt(uint64_t tick) = 0;
};

// The listeners, an append-only list that readers walk without a lock.
// Deliver() calls the listeners there were when it started, so a listener
// added from inside OnEvent hears the next event, not the current one.
class ListenerList {
 public:
  ListenerList() = default;
  ListenerList(const ListenerList&) = delete;
  ListenerList& operator=(const ListenerList&) = delete;
  ~ListenerList();

  // Adds `listener` for the types its Hears() names, asked once, here.
  void Add(std::shared_ptr<SessionListener> listener);
  // Whether some listener hears `type`: a shard queues only such events.
  bool Hears(EventType type) const {
    return EventTypes::FromBits(heard_.load(std::memory_order_acquire))
        .contains(type);
  }
  // Calls every listener that hears `event.type` with it.
  void Deliver(const SessionEvent& event) const;

 private:
  struct Node {
    std::shared_ptr<SessionListener> listener;
    EventTypes hears;
    std::atomic<Node*> next{nullptr};
  };
  Mutex mu_;  // Serialises writers only.
  std::atomic<Node*> head_{nullptr};
  // Written under mu_, read without it: the last node a reader visits.
  std::atomic<Node*> tail_{nullptr};
  // The types some listener hears (EventTypes::bits), only ever growing.
  std::atomic<uint8_t> heard_{0};
};

// What every shard shares. Constant after construction, except the atomics.
struct ShardContext {
  Clock* clock = nullptr;
  int64_t origin_ms = 0;  // Tick 0 of every wheel.
  int64_t tick_ms = 10;
  int64_t retention_ms = 0;  // kNoTime: ended Sessions are never purged.
  // The most Sessions bulk work touches per lock hold (StoreOptions).
  size_t bulk_slice = 1024;
  SidGenerator* sids = nullptr;
  std::atomic<uint64_t>* next_seq = nullptr;
  // Puts a record's handle into its Session SID and reads it back.
  const HandleCodec* handles = nullptr;
  SessionQuota* quota = nullptr;  // Every Session in the store.
  // Every Interaction in the store, and the most one Session holds.
  SessionQuota* interaction_quota = nullptr;
  int64_t max_interactions_per_session = kNoLimit;
  const ListenerList* listeners = nullptr;
  WakeupSink* wakeup = nullptr;  // Null when there is no background thread.
  // Bytes of records the shards' slabs gave back to the allocator since the
  // store last trimmed the heap (StoreOptions::trim_after_purge).
  std::atomic<uint64_t>* returned_bytes = nullptr;
  // Where changes are journaled (engine/core/durability.h); null for a
  // store in memory only, and while a durable store recovers. Set before
  // the store is handed out.
  JournalWriter* journal = nullptr;
};

// An event waiting for delivery: the record's fields as they are kept, a
// fixed-size copy, 112 bytes. The name and a host's reason are in the
// shard's text arena at the offsets below. The SessionEvent a listener sees
// is built from it after the lock is released (Shard::DrainEvents).
struct QueuedEvent {
  EventType type = EventType::kCreated;
  SessionStatus status = SessionStatus::kOpen;
  SessionMode mode = SessionMode::kVoiceAndMessage;
  EndReason end_reason = EndReason::kNone;
  bool has_name = false;
  int64_t time_ms = 0;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t ended_ms = kNoTime;
  int64_t last_interaction_ms = kNoTime;
  int64_t date_expiry_ms = kNoTime;
  int64_t ttl = 0;
  Sid128 sid;
  Sid128 service;
  uint32_t name_offset = 0;
  uint32_t name_size = 0;
  uint32_t reason_offset = 0;  // kHost only; else the reason is static.
  uint32_t reason_size = 0;
};

// Per-shard counters, summed by SessionStore::Stats().
struct ShardStats {
  std::array<int64_t, 5> by_status{};  // Indexed by SessionStatus.
  int64_t named = 0;
  int64_t interactions = 0;
  int64_t expired = 0;
  int64_t purged = 0;
};

class Shard {
 public:
  // `journal_lane`: the lane of context->journal this shard appends to,
  // its own, so shards journal without meeting (JournalOptions::lanes).
  Shard(const ShardContext* context, size_t journal_lane);
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  // Session operations. Each takes the lock, applies any due expiry of the
  // Session it touches, queues its events, and releases the lock; the caller
  // then calls DeliverEvents(), but for the fetches, which deliver
  // themselves only if they queued an event (an expiry they applied), so
  // that a reader never becomes the deliverer of another thread's bulk
  // work. Parameters are validated here, under the
  // lock, so errors come in one documented order (docs/semantics.md). An
  // answer, when `out` is not null, is filled in place under the lock.
  // A Session that is absent is a bare NotFound (no Proxy code): the store
  // says what was not found.
  // Creates a Session whose SID is minted here from `fresh`, a SID of the
  // store's generator whose top byte routed the call to this shard: the
  // shard byte and the low 64 bits stay, the handle goes in between. A
  // bare AlreadyExists if that SID is already held (the store mints again).
  absl::Status Create(const Sid128& service, const Sid128& fresh,
                      const CreateSessionParams& params, Session* out);
  absl::Status FetchBySid(const Sid128& service, const Sid128& sid,
                          Session* out);
  // Starts loading the record `sid` carries, for a caller that will fetch
  // it a few calls from now (SessionStore::FetchSessions). Takes no lock.
  void Prefetch(const Sid128& sid) const { PrefetchUnlocked(sid); }
  absl::Status FetchByName(const Sid128& service, std::string_view name,
                           Session* out);
  // Answers names[i] for each i in `which` (names whose index is this
  // shard's) as FetchByName would, into out[i] and statuses[i] (OK, or a
  // bare NotFound the store words). Holds the lock for at most
  // kNamesPerHold names at a time, and within a hold asks for each name's
  // index slots kNameSlotsAhead names ahead of reading them and for its
  // record kNameRecordAhead ahead, so that the two misses of a name, and
  // those of neighbouring names, overlap
  // (SessionStore::FetchSessionsByName).
  void FetchManyByName(const Sid128& service,
                       absl::Span<const std::string_view> names,
                       absl::Span<const uint32_t> which,
                       absl::Span<Session> out,
                       absl::Span<absl::Status> statuses);
  static constexpr size_t kNamesPerHold = 64;
  static constexpr size_t kNameSlotsAhead = 16;
  static constexpr size_t kNameRecordAhead = 8;
  absl::Status Update(const Sid128& service, const Sid128& sid,
                      const UpdateSessionParams& params, Session* out);
  absl::Status Delete(const Sid128& service, const Sid128& sid);
  absl::Status RecordInteraction(const Sid128& service, const Sid128& sid);
  absl::Status End(const Sid128& service, const Sid128& sid,
                   SessionStatus status, std::string_view reason);

  // Participants and Interactions (engine/core/shard_history.cc), under
  // the Session's lock, with the Session settled first; a bare NotFound
  // when the Session, or the Participant or Interaction in it, is absent.
  absl::Status CreateParticipant(const Sid128& service, const Sid128& sid,
                                 const ParticipantParams& params,
                                 Participant* out);
  absl::Status FetchParticipant(const Sid128& service, const Sid128& sid,
                                const Sid128& participant, Participant* out);
  absl::Status DeleteParticipant(const Sid128& service, const Sid128& sid,
                                 const Sid128& participant);
  // A page of `size` in creation order, from `cursor`.
  absl::Status ListParticipants(const Sid128& service, const Sid128& sid,
                                const std::optional<PageCursor>& cursor,
                                size_t size, ParticipantPage* out,
                                HistoryPaging* paging);
  absl::Status RecordMessage(const Sid128& service, const Sid128& sid,
                             const Sid128& participant, std::string_view body,
                             Interaction* out);
  absl::Status FetchInteraction(const Sid128& service, const Sid128& sid,
                                const Sid128& interaction, Interaction* out);
  absl::Status DeleteInteraction(const Sid128& service, const Sid128& sid,
                                 const Sid128& interaction);
  // A page of `size`, newest first, from `cursor`.
  absl::Status ListInteractions(const Sid128& service, const Sid128& sid,
                                const std::optional<PageCursor>& cursor,
                                size_t size, InteractionPage* out,
                                HistoryPaging* paging);

  // The keys of up to `limit` Sessions of `service` in this shard, past
  // `cursor` in its direction (no cursor: from the newest), nearest to the
  // cursor first. Due expiries are applied on the way. The store merges the
  // shards' keys and fetches only the Sessions of the page.
  struct Listed {
    uint64_t seq;
    Sid128 sid;
  };
  void List(const Sid128& service, const std::optional<PageCursor>& cursor,
            size_t limit, std::vector<Listed>* out);

  // Runs the wheel to the clock's now; returns Sessions closed or purged.
  // Works in slices of at most context's bulk_slice Sessions, each either
  // moved down the wheel or settled, the lock released and their events
  // delivered between slices: so a mass expiry or a clock jump neither
  // holds the lock nor queues events for all of them at once. What a
  // slice's budget leaves moves a resize of the name index on, one name a
  // unit, so that it finishes (and a shrink frees the old table) while the
  // store is idle.
  int64_t Advance();
  // How far ahead on the due list a freeing Advance prefetches names.
  static constexpr size_t kNameLookahead = 4;
  // The earliest tick at which Advance() may have work.
  std::optional<uint64_t> NextEventTick();

  // Service replication, called by the store with this shard's lock held.
  void AddServiceLocked(const Sid128& sid, int64_t default_ttl,
                        std::shared_ptr<SessionQuota> quota)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetDefaultTtlLocked(const Sid128& sid, int64_t default_ttl)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes the Service here in O(1): out of the table, so no call finds it
  // or its Sessions again; its Sessions stay until RemoveDetached().
  void DetachServiceLocked(const Sid128& sid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the Sessions of detached Services (kDeleted each), at most
  // context's bulk_slice per lock hold, delivering events between slices.
  // Returns once none is left.
  void RemoveDetached() ABSL_LOCKS_EXCLUDED(mu_);

  // Delivers queued events unless another thread is already doing so. Called
  // from inside a listener, it leaves them to this thread's outer delivery.
  void DeliverEvents();

  // Frees the memory of the slab's released chunks, and of its spare (an
  // emptied chunk it keeps for the next creates), after the lock is let
  // go: for after a mass removal.
  void FreeRetiredMemory();

  ShardStats Stats();
  absl::Status CheckInvariants();

  // Snapshots (engine/core/shard_snapshot.cc). Copies the Sessions at the
  // next handles from *cursor on, at most out->size() of them, into *out
  // (reusing its images) under one hold of the lock, without settling any
  // (a due expiry is applied by the store that loads them); advances
  // *cursor and returns how many it copied. Done when *cursor reaches
  // kCursorDone. A Session created behind the cursor meanwhile is missed
  // and one deleted ahead of it is not copied: each Session copied is whole,
  // as it was at its slice's moment.
  size_t CaptureSlice(uint32_t* cursor, std::vector<SessionImage>* out);
  static constexpr uint32_t kCursorDone = UINT32_MAX;
  // Sessions a slice copies: a lock hold of well under a millisecond.
  static constexpr size_t kCaptureSlice = 1024;
  // Puts Sessions back, as a snapshot holds them, into a shard of a store
  // being loaded that holds their Services: `images`, in any order, are all
  // of this shard's or, from a snapshot of a store with other shards, some
  // of them, the rest in later calls. Finds what SnapshotReader leaves to
  // the store: two Sessions with one SID, and two of a Service with one
  // unique_name, of which the newer (by creation order) is kept. `dropped`
  // holds the SIDs of those left out so far, one set for the whole load.
  // Schedules each Session but settles none: the store calls SettleAll()
  // after the last. Errors: DataLoss for a SID twice; Internal for a
  // Session of an unknown Service.
  absl::Status RestoreSessions(std::vector<SessionImage>* images,
                               absl::flat_hash_set<Sid128>* dropped);

  // Replay of a durable store's journal (engine/core/durability.h): sets a
  // Session to the state a record holds, creating it if absent, without
  // settling anything or emitting events. A record of a Service this shard
  // does not hold is skipped (a later record deleted it). Another Session
  // holding the name must have been purged before the record was written:
  // it is removed. Limits never refuse a Session here.
  absl::Status ApplySessionImage(const SessionImage& image);
  // Sets a Session to the state an interaction at `at_ms` left it in, if
  // this shard holds it; nothing otherwise. Whatever ended it since in the
  // state replay started from (a fuzzy checkpoint) is undone: a later
  // record, or the settling after the replay, ends it again as it was.
  void ApplySessionInteraction(const Sid128& sid, int64_t at_ms);
  // Removes a Session if this shard holds it; nothing otherwise.
  void ApplySessionDelete(const Sid128& service, const Sid128& sid);
  // A message interaction replayed: as ApplySessionInteraction at the
  // Interaction's time, and the Interaction kept unless the Session holds
  // it already. Nothing if the shard does not hold the Session.
  void ApplyMessage(const Sid128& sid, const InteractionImage& image);
  // Removes the Interaction if this shard's Session holds it.
  void ApplyInteractionDelete(const Sid128& sid, const Sid128& interaction);
  // After a replay or a restore: closes each Session whose expiry instant
  // has passed, with date_ended = that instant, and purges each whose
  // retention has run out, as a read would. Neither settles anything
  // itself: a later record may still change the Session, or a later
  // Session of the snapshot supersede it.
  void SettleAll();

  Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }

 private:
  int64_t NowMs() const;
  // When an ended Session is purged; kNoTime if it is live or never purged.
  int64_t PurgeInstant(const SessionRecord& rec) const;
  uint64_t TickAtOrAfter(int64_t ms) const;
  uint64_t TickAtOrBefore(int64_t ms) const;

  // Starts the cache miss of the record a SID carries, before the caller
  // takes the lock (Slab::PrefetchUnlocked): the lock's fence would
  // otherwise keep the miss from starting until the lock is held.
  void PrefetchUnlocked(const Sid128& sid) const ABSL_NO_THREAD_SAFETY_ANALYSIS;
  // The record with this SID, or null: the slab at the handle the SID
  // carries, else the foreign SIDs (restored ones that carry no handle of
  // this store).
  SessionRecord* LookUpLocked(const Sid128& sid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Where the slab keeps a live record: the handle its SID carries, unless
  // it is foreign (in foreign_), which `foreign`, if given, tells.
  uint32_t HandleOfLocked(const SessionRecord* rec, bool* foreign = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // CreationOrder's callbacks over this shard's records, for calls made
  // with the lock held: a handle's creation number, and a record whose
  // cell in its Service's order moved to `pos`.
  auto SeqOfLocked() {
    return [this](uint32_t handle) {
      mu_.AssertHeld();
      return records_.Get(handle)->seq;
    };
  }
  auto MovedInOrderLocked() {
    return [this](uint32_t moved, uint32_t pos) {
      mu_.AssertHeld();
      records_.Get(moved)->order_pos = pos;
    };
  }
  // Puts a new record, whose seq is set, last in its Service's order.
  void AppendToOrderLocked(SessionRecord* rec, uint32_t handle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Journals a Session's state after a change, or its removal, if the store
  // keeps a journal; the position goes to ThreadJournalLsn()
  // (engine/core/shard_snapshot.cc).
  void JournalPutLocked(const SessionRecord& rec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JournalDeleteLocked(const Sid128& service, const Sid128& sid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // As JournalPutLocked after an interaction at `at_ms`, in its compact
  // record (RecordType::kSessionInteraction, which has no change header).
  void JournalInteractionLocked(const SessionRecord& rec, int64_t at_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Journals a message interaction (RecordType::kMessageInteraction) and
  // an Interaction's delete (kInteractionDelete).
  void JournalMessageLocked(const SessionRecord& rec,
                            const InteractionRecord& interaction)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void JournalInteractionDeleteLocked(const SessionRecord& rec,
                                      const Sid128& interaction)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets the record to the state an interaction at `at_ms` leaves it in,
  // without events: replay's step (shard_snapshot.cc).
  void ApplyInteractionLocked(SessionRecord* rec, int64_t at_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts a Session's Interactions going from `before` to `after` in the
  // stats and, forced past any limit, the store's quota (restore, replay).
  void CountInteractionsLocked(int64_t before, int64_t after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An interaction now on a live Session: date_last_interaction, the TTL
  // base, open to in-progress, the kInteraction event, the wheel.
  void InteractLocked(SessionRecord* rec, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends to this shard's lane a record of `type`: the change header,
  // then what `write_body` appends. The store must keep a journal.
  void JournalLocked(RecordType type,
                     absl::FunctionRef<void(std::string*)> write_body)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts a record restored from a snapshot at the handle its SID carries if
  // that is free (and not absurdly far), else anywhere, as a foreign SID.
  SessionRecord* PlaceRestoredLocked(const Sid128& sid, uint32_t max_handle)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The Session's record if it belongs to `service`, after applying any due
  // expiry or purge; null if absent.
  SessionRecord* FindLocked(const Sid128& service, const Sid128& sid,
                            int64_t now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a due expiry and/or purge. Returns false if the record is gone.
  bool SettleLocked(SessionRecord* rec, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireLocked(SessionRecord* rec, int64_t instant)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndLocked(SessionRecord* rec, SessionStatus status, EndReason reason,
                 std::string_view host_reason, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts the record on the wheel for its next expiry or purge, or takes it
  // off if it has none.
  void RescheduleLocked(SessionRecord* rec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a place for a new Session of `service` in the store's and the
  // Service's quota, or returns ResourceExhausted/20429 naming the full one.
  absl::Status TakePlaceLocked(const ShardService& service)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the record from every index and frees it and its places,
  // queueing `type`.
  void RemoveLocked(SessionRecord* rec, EventType type, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Delivers this shard's queue if no other thread is delivering it.
  void DrainEvents();
  // Runs `read` under the lock, then delivers the events it queued (an
  // expiry it applied), if any, as FetchBySid does.
  absl::Status Read(absl::FunctionRef<absl::Status()> read)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SetStatusLocked(SessionRecord* rec, SessionStatus status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EmitLocked(EventType type, const SessionRecord& rec, int64_t time_ms)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies the record into *out, reusing out's buffers.
  void FillLocked(const SessionRecord& rec, Session* out) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction
  const ShardContext* const context_;
  const size_t journal_lane_;

  // Protected by mu_
  Mutex mu_;
  // The records. A Session SID carries its record's handle, so there is no
  // table by SID: only the few restored SIDs that do not are in foreign_.
  Slab<SessionRecord> records_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Sid128, uint32_t> foreign_ ABSL_GUARDED_BY(mu_);
  // A set, not a map: the key lives in the record, so a slot is one handle.
  // It grows and shrinks a few handles a call (name_index.h); Advance moves
  // a resize on between slices.
  NameIndex<uint32_t, RecordByName, RecordByName> names_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Sid128, std::unique_ptr<ShardService>> services_
      ABSL_GUARDED_BY(mu_);
  // Detached Services whose Sessions are still here (ShardService::dying).
  std::vector<std::unique_ptr<ShardService>> dying_ ABSL_GUARDED_BY(mu_);
  TimerWheel wheel_ ABSL_GUARDED_BY(mu_);
  ShardStats stats_ ABSL_GUARDED_BY(mu_);
  // The event queue: an event's views are offsets into pending_text_ until
  // it is delivered (QueuedEvent).
  std::vector<QueuedEvent> pending_ ABSL_GUARDED_BY(mu_);
  std::string pending_text_ ABSL_GUARDED_BY(mu_);
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  // Whether pending_ holds an event: written under mu_, read without it
  // by DeliverEvents, so that a call finding nothing queued on this shard
  // takes no lock.
  std::atomic<bool> queued_{false};
  // The deliverer's buffers, swapped with the queue's so that both keep
  // their capacity. Touched only by the thread that set delivering_.
  std::vector<QueuedEvent> batch_;
  std::string batch_text_;
  // The image a journaled change is encoded from, reused so that a steady
  // stream of changes allocates nothing.
  std::unique_ptr<SessionImage> journal_image_ ABSL_GUARDED_BY(mu_);
};

// The store's name rules, for DecodeSnapshot (engine/core/shard_snapshot.cc).
const SnapshotRules& SnapshotRulesOfTheStore();

// The shard byte a named Session's SID carries (see the file comment).
uint8_t NameShardByte(const Sid128& service, std::string_view name);

// Checks a Session's `Ttl` or a Service's `DefaultTtl` (the `param` named in
// the error): 0 to 253402300799 seconds, so that any base + ttl stays within
// the dates the API can express. Errors: InvalidArgument/80701.
absl::Status CheckTtl(std::string_view param, int64_t seconds);

// Checks a Service or Session unique_name: 1 to 191 characters of UTF-8.
// Errors: InvalidArgument/80701 naming `UniqueName`.
absl::Status CheckUniqueName(std::string_view name);

// A Participant whose identifier a Participant of the Session already has
// (docs/semantics.md, "Participants and Interactions"): AlreadyExists/80103.
absl::Status IdentifierInSessionError(std::string_view identifier);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_SHARD_H_
