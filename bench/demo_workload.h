// The demo's workload: what happens to each Session, decided before it runs.
//
// Every Session gets a plan drawn from the seed and its index alone, so a
// run is the same whatever the number of threads:
//
//   - it belongs to one of 4 Services; 90% have a 16-character unique_name;
//   - 90% have a `ttl` of 2 to 2+spread whole seconds; 10% have instead a
//     `date_expiry` 2 to 2+spread seconds after creation;
//   - 30% see one or two interactions, each 20-50% of the way into the
//     current window, so each one extends a TTL Session;
//   - 3% are closed by the host and 2% deleted, partway through the window;
//   - half are fetched once, by unique_name when they have one.
//
// The rest is left to expire. Times are in milliseconds after creation.

#ifndef SESSIONWHEEL_BENCH_DEMO_WORKLOAD_H_
#define SESSIONWHEEL_BENCH_DEMO_WORKLOAD_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "sessionwheel/sid.h"

namespace demo {

inline constexpr int kServices = 4;
inline constexpr const char* kServiceNames[kServices] = {
    "rides", "meals", "help-desk", "rentals"};
// Session names are a prefix and 11 digits: 16 characters.
inline constexpr const char* kNamePrefixes[kServices] = {"ride", "meal", "help",
                                                         "rent"};
// The closed_reason the host gives when it closes a Session.
inline constexpr char kHostReason[] = "host-resolved";

// One Session: its parameters, and its SID once created.
struct SessionPlan {
  sessionwheel::Sid sid;       // Set at create.
  int32_t date_expiry_ms = 0;  // Used when ttl is 0.
  uint16_t ttl = 0;            // Seconds; 0 means date_expiry.
  uint8_t service = 0;
  bool named = false;
};

enum class Op : uint8_t { kCreate, kInteraction, kFetch, kClose, kDelete };
inline constexpr int kNumOps = 5;
inline constexpr const char* kOpNames[kNumOps] = {"create", "interaction",
                                                  "fetch", "close", "delete"};

// A call a worker makes on a Session: `offset_ms` after its creation.
struct Action {
  int32_t offset_ms = 0;
  uint32_t session = 0;
  Op op = Op::kFetch;
};

// At most two interactions, one close or delete, one fetch.
inline constexpr int kMaxActions = 4;

inline std::string SessionName(int service, uint32_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%s-%011u", kNamePrefixes[service], index);
  return name;
}

// splitmix64: a fast stream of well-mixed 64-bit values.
class Rng {
 public:
  explicit Rng(uint64_t state) : state_(state) {}

  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  uint64_t Next() { return Mix(state_ += 0x9e3779b97f4a7c15); }
  double Uniform(double lo, double hi) {  // In [lo, hi).
    return lo + (hi - lo) * static_cast<double>(Next() >> 11) * 0x1.0p-53;
  }
  bool Chance(double p) { return Uniform(0, 1) < p; }
  int64_t Int(int64_t lo, int64_t hi) {  // In [lo, hi].
    return lo +
           static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

// Draws Session `index`'s plan into `*s` and its actions into `actions`;
// returns how many actions there are.
inline int DrawPlan(uint64_t seed, uint32_t index, int ttl_spread,
                    SessionPlan* s, Action actions[kMaxActions]) {
  Rng rng(Rng::Mix(seed) ^ Rng::Mix(index + 1));
  s->service = static_cast<uint8_t>(index % kServices);
  s->named = rng.Chance(0.9);
  if (rng.Chance(0.1)) {
    s->date_expiry_ms =
        static_cast<int32_t>(rng.Uniform(2, 2 + ttl_spread) * 1000);
  } else {
    s->ttl = static_cast<uint16_t>(rng.Int(2, 2 + ttl_spread));
  }

  int n = 0;
  auto add = [&](double offset_ms, Op op) {
    actions[n++] = {static_cast<int32_t>(offset_ms), index, op};
  };
  double touched = 0;  // The last interaction (or the creation).
  auto expiry = [&] {
    return s->ttl > 0 ? touched + s->ttl * 1000.0 : s->date_expiry_ms;
  };
  if (rng.Chance(0.3)) {
    const int interactions = rng.Chance(0.5) ? 2 : 1;
    for (int k = 0; k < interactions; ++k) {
      touched += (expiry() - touched) * rng.Uniform(0.2, 0.5);
      add(touched, Op::kInteraction);
    }
  }
  const double fate = rng.Uniform(0, 1);
  if (fate < 0.05) {
    add(touched + (expiry() - touched) * rng.Uniform(0.1, 0.9),
        fate < 0.03 ? Op::kClose : Op::kDelete);
  }
  if (rng.Chance(0.5)) add(rng.Uniform(0, expiry()), Op::kFetch);
  return n;
}

}  // namespace demo

#endif  // SESSIONWHEEL_BENCH_DEMO_WORKLOAD_H_
