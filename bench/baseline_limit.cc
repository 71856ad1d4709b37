// Baseline (d), "limit": how fast this hardware lets a store of Sessions go
// when it drops everything a real store needs besides the work itself. It is
// the reference the others are read against, not a store to use.
//
// Single-threaded: no locks at all, so it must only ever be called from one
// thread, and it runs no expiry thread (benchmarks.cc skips it in the
// two-thread workloads and in lateness_system). Otherwise it answers as the
// other baselines do (baseline_common.h): a Session closes at base + ttl with
// reason "ttl", any call that touches a due Session closes it first, close
// events go to the config's listener, and ended Sessions are kept, unless
// StoreConfig::free_on_expiry frees them as they close (as the engine does
// with a closed_retention of 0), their SIDs and names with them.
//
// The design, each part the cheapest this hardware offers:
//
//   records   one std::vector of fixed-size 80-byte Records, addressed by
//             32-bit handles (their index), with a free list of handles.
//             The unique_name (up to kMaxName bytes) lives inside the record;
//             ended_ms is updated_ms, since only closing sets both.
//   SIDs      a Sid "KC" whose hi holds the handle in its top 32 bits and
//             32 random bits below, and whose lo is 64 random bits, those 96
//             kept in the record; so a fetch by SID shifts the handle out,
//             loads that one record and compares the random bits: one memory
//             access plus a check, no table. The random bits make SIDs
//             unguessable and tell a reused slot's old SIDs from its new one.
//   names     an absl::flat_hash_set of handles, hashed and compared through
//             the records' names (heterogeneous lookup by absl::string_view):
//             4 bytes a slot; a lookup prefetches the control bytes and the
//             slot together, so it waits for two misses, not three.
//   expiry    a hierarchical timer wheel of handles with a 1 ms tick, so no
//             Session closes later than its exact millisecond (lateness 0,
//             as with the heaps):
//
//               level  slots  tick        range
//               0      64     1 ms        64 ms
//               1      64     64 ms       4.1 s
//               2      64     4.1 s       4.4 min
//               3      64     4.4 min     4.7 h
//               ...    64     x 64        ...
//               10     64     2^60 ms     the rest of int64
//
//             A deadline goes to the lowest level whose window (64 of that
//             level's ticks from now) holds it, in the slot given by a shift
//             and a mask of the deadline. Slots are arrays of handles; a
//             Record keeps its slot and its index there, so cancelling is a
//             swap with the slot's last handle, and a reschedule to the same
//             slot does nothing. Reaching a level-0 slot makes all of it due
//             (it holds exactly that millisecond), handed over whole; a
//             higher slot's handles are due or cascade to a lower level.
//   answers   a flat copy of the record into the caller's Session, reusing
//             its buffers, in one function (Answer), the only code here that
//             knows a Session's fields.
//   events    close events queued during a call, the name copied into one
//             text arena (reason "ttl" is a constant), and delivered at the
//             call's end: the other baselines' CloseEvents, less its locks.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/baseline_common.h"
#include "bench/store_under_test.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/events.h"
#include "sessionwheel/session.h"
#include "sessionwheel/sid.h"

namespace sessionwheel::bench {
namespace {

constexpr uint32_t kNoHandle = ~uint32_t{0};

// The longest unique_name this store takes: the benchmarks' names are 16.
constexpr size_t kMaxName = 24;

// A Session, fixed-size, in the slab. 80 bytes.
struct Record {
  static constexpr uint8_t kInUse = 1;       // Not on the free list.
  static constexpr uint8_t kInteracted = 2;  // base_ms is the last interaction.

  // The SID's random part: its lo, and the low half of its hi.
  uint64_t sid_lo = 0;
  uint32_t sid_hi_low = 0;
  // Where the wheel keeps it: a slot (kNoHandle: not scheduled) and the
  // index in that slot's array.
  uint32_t wheel_slot = kNoHandle;
  uint32_t wheel_index = 0;
  SessionStatus status = SessionStatus::kOpen;
  uint8_t flags = 0;
  uint8_t name_size = 0;
  char name[kMaxName];
  int64_t created_ms = 0;
  int64_t updated_ms = 0;  // Also the end, once closed.
  int64_t base_ms = 0;     // The ttl window's start: create or interaction.
  int64_t ttl = 0;         // Seconds; 0 means none.

  absl::string_view unique_name() const { return {name, name_size}; }
  bool live() const {
    return status == SessionStatus::kOpen ||
           status == SessionStatus::kInProgress;
  }
  // The instant a live Session expires, or kNoTime.
  int64_t ExpiryInstant() const {
    return live() && ttl > 0 ? base_ms + ttl * 1000 : kNoTime;
  }
};

// Handles by deadline (Unix ms): the wheel of the file comment. It knows a
// Record only by wheel_slot, wheel_index and ExpiryInstant().
class HandleWheel {
 public:
  HandleWheel(std::vector<Record>* records, int64_t now)
      : records_(*records), now_(static_cast<uint64_t>(now)) {}

  // Puts `h` at `deadline`, inserting or moving it. A deadline at or before
  // the wheel's time is due at the next millisecond advanced through.
  void Schedule(uint32_t h, int64_t deadline) {
    const uint32_t slot = SlotFor(deadline);
    if (records_[h].wheel_slot == slot) return;
    Cancel(h);
    Push(slot, h);
  }

  // Takes `h` out, if it is in.
  void Cancel(uint32_t h) {
    Record& rec = records_[h];
    if (rec.wheel_slot == kNoHandle) return;
    std::vector<uint32_t>& slot = slots_[rec.wheel_slot];
    const uint32_t last = slot.back();
    slot[rec.wheel_index] = last;
    records_[last].wheel_index = rec.wheel_index;
    slot.pop_back();
    rec.wheel_slot = kNoHandle;
  }

  // Moves the wheel's time to `now` and appends every handle due at or
  // before it to `due`, taken out of the wheel (their wheel_slot is left for
  // the caller to clear: it writes those records anyway).
  void Advance(int64_t now, std::vector<uint32_t>* due) {
    const uint64_t to = static_cast<uint64_t>(now);
    if (to <= now_) return;
    const uint64_t from = now_;
    now_ = to;  // Cascaded handles are placed against the new time.
    for (int level = 0; level < kLevels; ++level) {
      const int shift = level * kBitsPerLevel;
      const uint64_t old_tick = from >> shift;
      const uint64_t new_tick = to >> shift;
      if (old_tick == new_tick) break;  // And so on every higher level.
      const uint64_t steps = std::min<uint64_t>(new_tick - old_tick, kSlots);
      for (uint64_t k = 1; k <= steps; ++k) {
        std::vector<uint32_t>& slot =
            slots_[level * kSlots + ((old_tick + k) & kMask)];
        if (level == 0) {
          due->insert(due->end(), slot.begin(), slot.end());
          slot.clear();
        } else {
          Cascade(&slot, now, due);
        }
      }
    }
  }

 private:
  static constexpr int kBitsPerLevel = 6;
  static constexpr uint64_t kSlots = uint64_t{1} << kBitsPerLevel;
  static constexpr uint64_t kMask = kSlots - 1;
  static constexpr int kLevels = 11;  // 66 bits: any int64 deadline fits.
  static constexpr size_t kPrefetchAhead = 8;

  // The lowest level whose 64-tick window from now holds `deadline`, and
  // its slot there.
  uint32_t SlotFor(int64_t deadline) const {
    const uint64_t at = std::max(static_cast<uint64_t>(deadline), now_ + 1);
    int level = 0;
    while (((at >> (level * kBitsPerLevel)) -
            (now_ >> (level * kBitsPerLevel))) >= kSlots) {
      ++level;
    }
    return level * kSlots + ((at >> (level * kBitsPerLevel)) & kMask);
  }

  void Push(uint32_t slot, uint32_t h) {
    records_[h].wheel_slot = slot;
    records_[h].wheel_index = static_cast<uint32_t>(slots_[slot].size());
    slots_[slot].push_back(h);
  }

  // Empties a higher-level slot that time has reached: each handle is due
  // or goes down to the level that now holds its deadline.
  void Cascade(std::vector<uint32_t>* slot, int64_t now,
               std::vector<uint32_t>* due) {
    scratch_.swap(*slot);
    for (size_t i = 0; i < scratch_.size(); ++i) {
      if (i + kPrefetchAhead < scratch_.size()) {
        __builtin_prefetch(&records_[scratch_[i + kPrefetchAhead]]);
      }
      const uint32_t h = scratch_[i];
      const int64_t deadline = records_[h].ExpiryInstant();
      if (deadline <= now) {
        due->push_back(h);
      } else {
        Push(SlotFor(deadline), h);
      }
    }
    scratch_.clear();
  }

  std::vector<Record>& records_;
  uint64_t now_;  // Every handle in the wheel is due after this instant.
  std::vector<uint32_t> slots_[kLevels * kSlots];
  std::vector<uint32_t> scratch_;
};

// Hashing and comparing handles by their records' names, and names directly,
// so the name index holds 4-byte handles yet is looked up by name.
struct NameHash {
  using is_transparent = void;
  const std::vector<Record>* records;
  size_t operator()(absl::string_view name) const {
    return absl::Hash<absl::string_view>{}(name);
  }
  size_t operator()(uint32_t h) const {
    return (*this)((*records)[h].unique_name());
  }
};

struct NameEq {
  using is_transparent = void;
  const std::vector<Record>* records;
  bool operator()(uint32_t a, uint32_t b) const { return a == b; }
  bool operator()(uint32_t h, absl::string_view name) const {
    return (*records)[h].unique_name() == name;
  }
  bool operator()(absl::string_view name, uint32_t h) const {
    return (*this)(h, name);
  }
};

// A Session SID's hi: the handle above 32 random bits.
constexpr int kHandleShift = 32;

class LimitStore final : public ExpiryStoreUnderTest {
 public:
  explicit LimitStore(const StoreConfig& config)
      : clock_(config.clock),
        free_on_expiry_(config.free_on_expiry),
        listener_(config.listener),
        rng_(config.seed),
        names_(0, NameHash{&records_}, NameEq{&records_}),
        wheel_(&records_, NowMs(*clock_)) {
    rng_();  // The account's draw, as the other baselines make it.
    const uint64_t hi = rng_();
    service_sid_ = Sid("KS", hi, rng_());
  }

  bool Create(std::string_view unique_name, int64_t ttl,
              Session* out) override {
    DeliverAtExit deliver(this);
    const absl::string_view name(unique_name.data(), unique_name.size());
    if (name.size() > kMaxName) return false;
    const int64_t now = NowMs(*clock_);
    // A held name stays held, unless its Session is due and free_on_expiry
    // frees it as it closes.
    names_.prefetch(name);
    auto held = names_.find(name);
    if (held != names_.end() && Settle(*held, now)) return false;
    const uint32_t h = Allocate();
    Record& rec = records_[h];
    do {
      rec.sid_lo = rng_();
      rec.sid_hi_low = static_cast<uint32_t>(rng_());
    } while (rec.sid_lo == 0 && rec.sid_hi_low == 0);
    rec.status = SessionStatus::kOpen;
    rec.flags = Record::kInUse;
    rec.name_size = static_cast<uint8_t>(name.size());
    std::memcpy(rec.name, name.data(), name.size());
    rec.created_ms = rec.updated_ms = rec.base_ms = now;
    rec.ttl = ttl;
    names_.insert(h);
    Schedule(h);
    Answer(h, out);
    return true;
  }

  bool FetchBySid(const Sid& sid, Session* out) override {
    DeliverAtExit deliver(this);
    const uint32_t h = Find(sid);
    if (h == kNoHandle || !Settle(h, NowMs(*clock_))) return false;
    Answer(h, out);
    return true;
  }

  bool FetchByName(std::string_view unique_name, Session* out) override {
    DeliverAtExit deliver(this);
    const absl::string_view name(unique_name.data(), unique_name.size());
    names_.prefetch(name);  // Its control bytes and slot, both at once.
    auto it = names_.find(name);
    if (it == names_.end()) return false;
    const uint32_t h = *it;
    if (!Settle(h, NowMs(*clock_))) return false;
    Answer(h, out);
    return true;
  }

  bool UpdateTtl(const Sid& sid, int64_t ttl, Session* out) override {
    DeliverAtExit deliver(this);
    const int64_t now = NowMs(*clock_);
    const uint32_t h = FindLive(sid, now);
    if (h == kNoHandle) return false;
    Record& rec = records_[h];
    rec.ttl = ttl;
    rec.updated_ms = now;
    Schedule(h);
    if (!Settle(h, now)) return false;  // The new ttl was spent.
    Answer(h, out);
    return true;
  }

  bool RecordInteraction(const Sid& sid) override {
    DeliverAtExit deliver(this);
    const int64_t now = NowMs(*clock_);
    const uint32_t h = FindLive(sid, now);
    if (h == kNoHandle) return false;
    Record& rec = records_[h];
    rec.status = SessionStatus::kInProgress;
    rec.flags |= Record::kInteracted;
    rec.updated_ms = rec.base_ms = now;
    Schedule(h);
    return true;
  }

  int64_t Advance() override {
    DeliverAtExit deliver(this);
    due_.clear();
    wheel_.Advance(NowMs(*clock_), &due_);
    for (size_t i = 0; i < due_.size(); ++i) {
      if (i + kPrefetchAhead < due_.size()) {
        __builtin_prefetch(&records_[due_[i + kPrefetchAhead]], 1);
      }
      records_[due_[i]].wheel_slot = kNoHandle;
      Close(due_[i]);
    }
    return static_cast<int64_t>(due_.size());
  }

 private:
  static constexpr size_t kPrefetchAhead = 8;

  // A close event waiting for the end of the call; its unique_name is
  // empty until then, kept as a place in the text arena.
  struct QueuedClose {
    SessionEvent event;
    size_t name_offset;
    size_t name_size;
  };

  // Delivers the call's close events at the end of its scope.
  class DeliverAtExit {
   public:
    explicit DeliverAtExit(LimitStore* store) : store_(store) {}
    DeliverAtExit(const DeliverAtExit&) = delete;
    DeliverAtExit& operator=(const DeliverAtExit&) = delete;
    ~DeliverAtExit() { store_->Deliver(); }

   private:
    LimitStore* const store_;
  };

  uint32_t Allocate() {
    if (!free_.empty()) {
      const uint32_t h = free_.back();
      free_.pop_back();
      return h;
    }
    if (records_.size() >= kNoHandle) {
      std::fprintf(stderr, "sessionwheel-bench: limit is full\n");
      std::abort();
    }
    records_.emplace_back();
    return static_cast<uint32_t>(records_.size() - 1);
  }

  // The handle whose SID is `sid`, or kNoHandle. The record's load starts
  // as soon as the handle is known and overlaps the prefix check.
  uint32_t Find(const Sid& sid) const {
    const uint64_t h = sid.hi() >> kHandleShift;
    if (h >= records_.size()) return kNoHandle;
    const Record& rec = records_[h];
    __builtin_prefetch(&rec);
    if (sid.prefix() != "KC") return kNoHandle;
    if ((rec.flags & Record::kInUse) == 0 || rec.sid_lo != sid.lo() ||
        rec.sid_hi_low != static_cast<uint32_t>(sid.hi())) {
      return kNoHandle;
    }
    return static_cast<uint32_t>(h);
  }

  // The live Session with this SID after settling it, or kNoHandle.
  uint32_t FindLive(const Sid& sid, int64_t now) {
    const uint32_t h = Find(sid);
    if (h == kNoHandle || !Settle(h, now)) return kNoHandle;
    return records_[h].live() ? h : kNoHandle;
  }

  // Closes `h` if its expiry instant has passed. False if that freed it.
  bool Settle(uint32_t h, int64_t now) {
    const int64_t instant = records_[h].ExpiryInstant();
    if (instant == kNoTime || instant > now) return true;
    wheel_.Cancel(h);
    return Close(h);
  }

  // Closes the live, unscheduled `h` at its expiry instant, queues its close
  // event, and frees it with free_on_expiry. False if it was freed.
  bool Close(uint32_t h) {
    Record& rec = records_[h];
    const int64_t instant = rec.ExpiryInstant();
    rec.status = SessionStatus::kClosed;
    rec.updated_ms = instant;
    if (listener_ != nullptr) QueueClose(h);
    if (!free_on_expiry_) return true;
    names_.erase(h);
    rec.flags = 0;
    free_.push_back(h);
    return false;
  }

  // Queues the close event of the just-closed `h`, as the engine reports it.
  void QueueClose(uint32_t h) {
    const Record& rec = records_[h];
    QueuedClose& q = pending_.emplace_back();
    SessionEvent& e = q.event;
    e.type = EventType::kClosed;
    e.status = rec.status;
    e.mode = SessionMode::kVoiceAndMessage;
    e.has_unique_name = true;
    e.time = absl::FromUnixMillis(rec.updated_ms);
    e.sid = SidOf(h);
    e.service_sid = service_sid_;
    e.ttl = rec.ttl;
    e.closed_reason = kReasonTtl;  // A constant: it outlives the call.
    e.date_created = absl::FromUnixMillis(rec.created_ms);
    e.date_updated = e.time;
    e.date_ended = e.time;
    if (rec.flags & Record::kInteracted) {
      e.date_last_interaction = absl::FromUnixMillis(rec.base_ms);
    }
    q.name_offset = text_.size();
    q.name_size = rec.name_size;
    text_.append(rec.name, rec.name_size);
  }

  // Delivers the queued close events, unless this call came from a listener
  // already being delivered to: that delivery takes the new events after the
  // current one, never recursively (as the engine's contract says). The
  // batch and arena keep their capacity, so a steady stream allocates
  // nothing.
  void Deliver() {
    if (delivering_ || pending_.empty()) return;
    delivering_ = true;
    while (!pending_.empty()) {
      batch_.swap(pending_);
      batch_text_.swap(text_);
      for (QueuedClose& q : batch_) {
        q.event.unique_name = {batch_text_.data() + q.name_offset, q.name_size};
        listener_->OnEvent(q.event);
      }
      batch_.clear();
      batch_text_.clear();
    }
    delivering_ = false;
  }

  // Puts `h` at its expiry instant in the wheel, or takes it out.
  void Schedule(uint32_t h) {
    const int64_t at = records_[h].ExpiryInstant();
    if (at == kNoTime) {
      wheel_.Cancel(h);
    } else {
      wheel_.Schedule(h, at);
    }
  }

  Sid SidOf(uint32_t h) const {
    const Record& rec = records_[h];
    return Sid("KC", uint64_t{h} << kHandleShift | rec.sid_hi_low, rec.sid_lo);
  }

  // Fills *out from `h`, reusing its buffers: the one place that knows a
  // Session's fields.
  void Answer(uint32_t h, Session* out) const {
    const Record& rec = records_[h];
    out->sid = SidOf(h);
    out->service_sid = service_sid_;
    if (out->unique_name.has_value()) {
      out->unique_name->assign(rec.name, rec.name_size);
    } else {
      out->unique_name.emplace(rec.name, rec.name_size);
    }
    out->status = rec.status;
    out->ttl = rec.ttl;
    out->mode = SessionMode::kVoiceAndMessage;
    out->date_created = absl::FromUnixMillis(rec.created_ms);
    out->date_updated = absl::FromUnixMillis(rec.updated_ms);
    out->date_started = out->date_created;
    if (rec.status == SessionStatus::kClosed) {
      if (out->closed_reason.has_value()) {
        out->closed_reason->assign(kReasonTtl.data(), kReasonTtl.size());
      } else {
        out->closed_reason.emplace(kReasonTtl);
      }
      out->date_ended = out->date_updated;
    } else {
      out->closed_reason.reset();
      out->date_ended.reset();
    }
    if (rec.flags & Record::kInteracted) {
      out->date_last_interaction = absl::FromUnixMillis(rec.base_ms);
    } else {
      out->date_last_interaction.reset();
    }
    out->date_expiry.reset();
    out->participants.clear();
  }

  // Constant after construction
  Clock* const clock_;
  const bool free_on_expiry_;
  const std::shared_ptr<SessionListener> listener_;  // Null for none.
  Sid service_sid_;

  std::mt19937_64 rng_;
  std::vector<Record> records_;
  std::vector<uint32_t> free_;
  absl::flat_hash_set<uint32_t, NameHash, NameEq> names_;
  HandleWheel wheel_;
  std::vector<uint32_t> due_;  // Advance's, kept to reuse its capacity.

  // Close events of the current call, and those being delivered.
  std::vector<QueuedClose> pending_;
  std::string text_;
  std::vector<QueuedClose> batch_;
  std::string batch_text_;
  bool delivering_ = false;
};

static_assert(sizeof(Record) == 80, "a Record is meant to be 80 bytes");

}  // namespace

std::unique_ptr<ExpiryStoreUnderTest> OpenLimitBaseline(
    const StoreConfig& config) {
  if (config.background_expiry) {
    std::fprintf(stderr,
                 "sessionwheel-bench: limit is single-threaded and runs no "
                 "expiry thread\n");
    std::abort();
  }
  return std::make_unique<LimitStore>(config);
}

}  // namespace sessionwheel::bench
