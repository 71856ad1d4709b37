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
// StoreConfig::free_on_close frees them at once (as the engine does with a
// closed_retention of 0).
//
// The design, each part the cheapest this hardware offers:
//
//   records   one std::vector of fixed-size 80-byte Records, addressed by
//             32-bit handles (their index), with a free list of handles.
//             The unique_name (up to kMaxName bytes) lives inside the record;
//             ended_ms is updated_ms, since only closing sets both.
//   SIDs      "KC" + 8 hex digits of the handle + 24 of random bits kept in
//             the record, so a fetch by SID parses the handle, loads that one
//             record and compares the random bits: one memory access plus a
//             check, no table. The random bits make SIDs unguessable and
//             tell a reused slot's old SIDs from its new one.
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
//   answers   a flat copy of the record into the harness's Session, in one
//             function (Answer), the only code here that knows its fields.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/baseline_common.h"
#include "bench/store_under_test.h"
#include "sessionwheel/clock.h"
#include "sessionwheel/session.h"

namespace sessionwheel::bench {
namespace {

constexpr uint32_t kNoHandle = ~uint32_t{0};

// The longest unique_name this store takes: the benchmarks' names are 16.
constexpr size_t kMaxName = 24;

// A Session, fixed-size, in the slab. 80 bytes.
struct Record {
  static constexpr uint8_t kInUse = 1;       // Not on the free list.
  static constexpr uint8_t kInteracted = 2;  // base_ms is the last interaction.

  // The SID's random part: 64 + 32 bits.
  uint64_t sid_high = 0;
  uint32_t sid_low = 0;
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

// A lower-case hex digit's value, or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The `digits` hex digits at `p` as a number; false if one is not hex.
bool ParseHex(const char* p, int digits, uint64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < digits; ++i) {
    const int d = HexValue(p[i]);
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

// Writes `v` as `digits` lower-case hex digits at `p`.
void FormatHex(uint64_t v, int digits, char* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i, v >>= 4) p[i] = kHex[v & 0xf];
}

// A SID: "KC", the handle (8 digits), sid_high (16), sid_low (8).
constexpr size_t kSidSize = 34;

class LimitStore final : public ExpiryStoreUnderTest {
 public:
  explicit LimitStore(const StoreConfig& config)
      : clock_(config.clock),
        free_on_close_(config.free_on_close),
        events_(config.listener),
        rng_(config.seed),
        names_(0, NameHash{&records_}, NameEq{&records_}),
        wheel_(&records_, NowMs(*clock_)) {
    account_sid_ = MintOtherSid("AC");
    service_sid_ = MintOtherSid("KS");
  }

  std::optional<Session> Create(std::string_view unique_name,
                                int64_t ttl) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    const absl::string_view name(unique_name.data(), unique_name.size());
    if (name.size() > kMaxName) return std::nullopt;
    const int64_t now = NowMs(*clock_);
    // A held name stays held, unless its Session is due and free_on_close
    // frees it as it closes.
    names_.prefetch(name);
    auto held = names_.find(name);
    if (held != names_.end() && Settle(*held, now)) return std::nullopt;
    const uint32_t h = Allocate();
    Record& rec = records_[h];
    do {
      rec.sid_high = rng_();
      rec.sid_low = static_cast<uint32_t>(rng_());
    } while (rec.sid_high == 0 && rec.sid_low == 0);
    rec.status = SessionStatus::kOpen;
    rec.flags = Record::kInUse;
    rec.name_size = static_cast<uint8_t>(name.size());
    std::memcpy(rec.name, name.data(), name.size());
    rec.created_ms = rec.updated_ms = rec.base_ms = now;
    rec.ttl = ttl;
    names_.insert(h);
    Schedule(h);
    return Answer(h);
  }

  std::optional<Session> FetchBySid(std::string_view sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    const uint32_t h = Find(sid);
    if (h == kNoHandle || !Settle(h, NowMs(*clock_))) return std::nullopt;
    return Answer(h);
  }

  std::optional<Session> FetchByName(std::string_view unique_name) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    const absl::string_view name(unique_name.data(), unique_name.size());
    names_.prefetch(name);  // Its control bytes and slot, both at once.
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    const uint32_t h = *it;
    if (!Settle(h, NowMs(*clock_))) return std::nullopt;
    return Answer(h);
  }

  std::optional<Session> UpdateTtl(std::string_view sid, int64_t ttl) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    const int64_t now = NowMs(*clock_);
    const uint32_t h = FindLive(sid, now);
    if (h == kNoHandle) return std::nullopt;
    Record& rec = records_[h];
    rec.ttl = ttl;
    rec.updated_ms = now;
    Schedule(h);
    if (!Settle(h, now)) return std::nullopt;  // The new ttl was spent.
    return Answer(h);
  }

  std::optional<Session> RecordInteraction(std::string_view sid) override {
    CloseEvents::DeliverAtExit deliver(&events_);
    const int64_t now = NowMs(*clock_);
    const uint32_t h = FindLive(sid, now);
    if (h == kNoHandle) return std::nullopt;
    Record& rec = records_[h];
    rec.status = SessionStatus::kInProgress;
    rec.flags |= Record::kInteracted;
    rec.updated_ms = rec.base_ms = now;
    Schedule(h);
    return Answer(h);
  }

  int64_t Advance() override {
    CloseEvents::DeliverAtExit deliver(&events_);
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
  // as soon as the handle is parsed and overlaps the rest of the parsing.
  uint32_t Find(std::string_view sid) const {
    uint64_t h, high, low;
    if (sid.size() != kSidSize || sid[0] != 'K' || sid[1] != 'C' ||
        !ParseHex(sid.data() + 2, 8, &h) || h >= records_.size()) {
      return kNoHandle;
    }
    const Record& rec = records_[h];
    __builtin_prefetch(&rec);
    if (!ParseHex(sid.data() + 10, 16, &high) ||
        !ParseHex(sid.data() + 26, 8, &low)) {
      return kNoHandle;
    }
    if ((rec.flags & Record::kInUse) == 0 || rec.sid_high != high ||
        rec.sid_low != low) {
      return kNoHandle;
    }
    return static_cast<uint32_t>(h);
  }

  // The live Session with this SID after settling it, or kNoHandle.
  uint32_t FindLive(std::string_view sid, int64_t now) {
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

  // Closes the live, unscheduled `h` at its expiry instant, tells the
  // listener, and frees it with free_on_close. False if it was freed.
  bool Close(uint32_t h) {
    Record& rec = records_[h];
    const int64_t instant = rec.ExpiryInstant();
    rec.status = SessionStatus::kClosed;
    rec.updated_ms = instant;
    if (events_.enabled()) events_.Add(Answer(h), instant);
    if (!free_on_close_) return true;
    names_.erase(h);
    rec.flags = 0;
    free_.push_back(h);
    return false;
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

  std::string MintOtherSid(const char* prefix) {
    std::string sid(kSidSize, '0');
    sid[0] = prefix[0];
    sid[1] = prefix[1];
    FormatHex(rng_(), 16, &sid[2]);
    FormatHex(rng_(), 16, &sid[18]);
    return sid;
  }

  // The Session a call answers with: the one place that knows its fields.
  Session Answer(uint32_t h) const {
    const Record& rec = records_[h];
    Session s;
    s.sid.resize(kSidSize);
    s.sid[0] = 'K';
    s.sid[1] = 'C';
    FormatHex(h, 8, &s.sid[2]);
    FormatHex(rec.sid_high, 16, &s.sid[10]);
    FormatHex(rec.sid_low, 8, &s.sid[26]);
    s.service_sid = service_sid_;
    s.account_sid = account_sid_;
    s.unique_name.emplace(rec.name, rec.name_size);
    s.status = rec.status;
    s.ttl = rec.ttl;
    s.mode = SessionMode::kVoiceAndMessage;
    s.date_created = absl::FromUnixMillis(rec.created_ms);
    s.date_updated = absl::FromUnixMillis(rec.updated_ms);
    s.date_started = s.date_created;
    if (rec.status == SessionStatus::kClosed) {
      s.closed_reason.emplace(kReasonTtl);
      s.date_ended = s.date_updated;
    }
    if (rec.flags & Record::kInteracted) {
      s.date_last_interaction = absl::FromUnixMillis(rec.base_ms);
    }
    return s;
  }

  // Constant after construction
  Clock* const clock_;
  const bool free_on_close_;
  std::string account_sid_;
  std::string service_sid_;

  CloseEvents events_;
  std::mt19937_64 rng_;
  std::vector<Record> records_;
  std::vector<uint32_t> free_;
  absl::flat_hash_set<uint32_t, NameHash, NameEq> names_;
  HandleWheel wheel_;
  std::vector<uint32_t> due_;  // Advance's, kept to reuse its capacity.
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
