// sessionwheel-redis-storm: the storm benchmark's fetcher (bench/storm.cc)
// against Redis, the anchor for its figures. One run, on a redis-server
// already listening on 127.0.0.1:--port (redis_storm.py starts one and
// repeats the runs):
//
//   drain  --keys keys set with PXAT t, all at one instant t a few seconds
//          ahead (as redis_peer.py's drain), beside --keys/10 keys with no
//          expiry; from t, the fetcher GETs random keys of those ten times
//          fewer at --rate while Redis's own expiry frees the others; the
//          storm lasts until DBSIZE (polled every --poll-ms on a second
//          connection) is down to the keys that stay
//   idle   the keys with no expiry alone, fetched for --idle-seconds
//
// The fetcher is the same code as the storm benchmark's (PacedFetcher: a
// fixed schedule, latency from each GET's intended start, so a stall is
// charged to every GET due during it), one GET at a time over one
// connection (no pipelining). Prints the run as one JSON object, with the
// fields of sessionwheel-storm's runs. Exits 1 on a GET that misses its
// key or a Redis error.

#include <hiredis/hiredis.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/paced_fetcher.h"
#include "nlohmann/json.hpp"
#include "tools/flags.h"

ABSL_FLAG(int64_t, port, 0, "the redis-server's port on 127.0.0.1");
ABSL_FLAG(std::string, storm, "drain", "drain or idle");
ABSL_FLAG(int64_t, keys, 1000000, "keys the drain frees");
ABSL_FLAG(double, rate, 20000, "GETs a second");
ABSL_FLAG(double, warmup_ms, 200,
          "the fetcher runs at least this long before recording");
ABSL_FLAG(double, tail_ms, 20, "the fetcher records this long past a storm");
ABSL_FLAG(double, poll_ms, 10, "how often the drain's end is looked for");
ABSL_FLAG(double, idle_seconds, 1, "how long the idle storm lasts");

namespace sessionwheel::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(Usage: sessionwheel-redis-storm --port PORT [FLAGS]

One run of the storm benchmark's fetcher against a redis-server on
127.0.0.1:PORT during a drain of keys set with PXAT at one instant (or with
no storm), printed as JSON. bench/peers/redis_storm.py starts the server and
runs it. --help prints this text.
)";

// Keys are sent this many to a round trip while loading.
constexpr int64_t kLoadBatch = 10000;

[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "sessionwheel-redis-storm: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::exit(1);
}

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Connection = std::unique_ptr<redisContext, ContextDeleter>;

Connection Connect(int port) {
  Connection c(redisConnect("127.0.0.1", port));
  if (c == nullptr || c->err) {
    Die(absl::StrCat("cannot connect to 127.0.0.1:", port, ": ",
                     c ? c->errstr : "out of memory"));
  }
  return c;
}

Reply Call(redisContext* c, const char* format, ...) {
  va_list args;
  va_start(args, format);
  Reply r(static_cast<redisReply*>(redisvCommand(c, format, args)));
  va_end(args);
  if (r == nullptr) Die(absl::StrCat("redis: ", c->errstr));
  if (r->type == REDIS_REPLY_ERROR) Die(absl::StrCat("redis: ", r->str));
  return r;
}

int64_t DbSize(redisContext* c) { return Call(c, "DBSIZE")->integer; }

// The splitmix64 finalizer: keys that look random and never collide.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A key as a Session SID looks ("KC" or "KF", 32 hex digits) and a value of
// about a Session's size (its name, status, ttl, creation time), as
// redis_peer.py loads them.
std::string Key(const char* prefix, uint64_t i) {
  return absl::StrFormat("%s%016x%016x", prefix, Mix(2 * i + 1),
                         Mix(2 * i + 2));
}
std::string Value(uint64_t i) {
  return absl::StrFormat("%016x|open|3600|1798761600000", Mix(i + 7));
}

// SETs keys [0, count) of `prefix`, with PXAT `at_ms` unless 0, pipelined.
void Load(redisContext* c, const char* prefix, int64_t count, int64_t at_ms) {
  for (int64_t from = 0; from < count; from += kLoadBatch) {
    const int64_t to = std::min(count, from + kLoadBatch);
    for (int64_t i = from; i < to; ++i) {
      const std::string key = Key(prefix, i);
      const std::string value = Value(i);
      const int sent =
          at_ms == 0
              ? redisAppendCommand(c, "SET %b %b", key.data(), key.size(),
                                   value.data(), value.size())
              : redisAppendCommand(c, "SET %b %b PXAT %lld", key.data(),
                                   key.size(), value.data(), value.size(),
                                   static_cast<long long>(at_ms));
      if (sent != REDIS_OK) Die(absl::StrCat("redis: ", c->errstr));
    }
    for (int64_t i = from; i < to; ++i) {
      void* raw = nullptr;
      if (redisGetReply(c, &raw) != REDIS_OK) {
        Die(absl::StrCat("redis: ", c->errstr));
      }
      Reply r(static_cast<redisReply*>(raw));
      if (r->type == REDIS_REPLY_ERROR) Die(absl::StrCat("redis: ", r->str));
    }
  }
}

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

int Main(int argc, char** argv) {
  tools::ParseFlagsOrExit(
      argc, argv, "sessionwheel-redis-storm", kUsage,
      {&FLAGS_port, &FLAGS_storm, &FLAGS_keys, &FLAGS_rate, &FLAGS_warmup_ms,
       &FLAGS_tail_ms, &FLAGS_poll_ms, &FLAGS_idle_seconds});
  const int port = static_cast<int>(absl::GetFlag(FLAGS_port));
  if (port < 1 || port > 65535) tools::UsageError("--port is needed");
  const std::string storm = absl::GetFlag(FLAGS_storm);
  if (storm != "drain" && storm != "idle") {
    tools::UsageError("--storm must be drain or idle");
  }
  const bool drain = storm == "drain";
  const int64_t keys = absl::GetFlag(FLAGS_keys);
  if (keys < 10) tools::UsageError("--keys must be 10 or more");
  const int64_t kept = keys / 10;
  const double rate = absl::GetFlag(FLAGS_rate);
  if (!(rate >= 1 && rate <= 1e6)) {
    tools::UsageError("--rate must be from 1 to 1000000");
  }
  const absl::Duration warmup =
      absl::Milliseconds(absl::GetFlag(FLAGS_warmup_ms));
  const absl::Duration tail = absl::Milliseconds(absl::GetFlag(FLAGS_tail_ms));
  const absl::Duration poll = absl::Milliseconds(absl::GetFlag(FLAGS_poll_ms));

  Connection control = Connect(port);
  Connection fetch = Connect(port);
  std::vector<std::string> kept_keys;
  kept_keys.reserve(kept);
  for (int64_t i = 0; i < kept; ++i) kept_keys.push_back(Key("KF", i));

  // Loads everything; for a drain, with its instant far enough ahead that
  // the load and the warm-up end before it (doubling the margin until so).
  absl::Time at = absl::Now();
  absl::Duration margin = absl::Seconds(2) + keys * absl::Microseconds(5);
  for (int attempt = 0;; ++attempt) {
    if (attempt == 4) Die("could not load the keys before their instant");
    Call(control.get(), "FLUSHALL");
    Load(control.get(), "KF", kept, 0);
    if (!drain) break;
    at = absl::Now() + margin;
    Load(control.get(), "KC", keys, absl::ToUnixMillis(at));
    if (DbSize(control.get()) == kept + keys && absl::Now() + warmup < at) {
      break;
    }
    margin *= 2;
  }
  const int64_t held = DbSize(control.get());

  uint64_t rng =
      static_cast<uint64_t>(SteadyClock::now().time_since_epoch().count());
  PacedFetcher fetcher(
      rate, drain ? std::max(warmup, at - absl::Now()) : warmup, [&] {
        const std::string& key = kept_keys[Mix(++rng) % kept_keys.size()];
        Reply r(static_cast<redisReply*>(
            redisCommand(fetch.get(), "GET %b", key.data(), key.size())));
        if (r == nullptr) Die(absl::StrCat("redis: ", fetch->errstr));
        return r->type == REDIS_REPLY_STRING;
      });
  fetcher.WaitForRecording();
  const auto start = SteadyClock::now();
  if (drain) {
    while (DbSize(control.get()) > kept) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(poll));
    }
  } else {
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(
        absl::Seconds(absl::GetFlag(FLAGS_idle_seconds))));
  }
  const double seconds = Since(start);
  const PacedResult r = fetcher.Stop(tail);
  const double window = Since(start);
  if (r.wrong > 0) Die(absl::StrCat(r.wrong, " GETs missed their key"));

  const int64_t freed = drain ? keys : 0;
  const nlohmann::json run = {
      {"seconds", seconds},
      {"sessions", freed},
      {"held", held},
      {"sessions_per_s", seconds > 0 ? freed / seconds : 0.0},
      {"fetches", r.fetches},
      {"window_s", window},
      {"p50_us", r.latency.PercentileUs(0.50)},
      {"p99_us", r.latency.PercentileUs(0.99)},
      {"p999_us", r.latency.PercentileUs(0.999)},
      {"max_us", r.latency.MaxUs()},
      {"over_1ms", r.latency.CountAbove(1'000'000)},
      {"over_5ms", r.latency.CountAbove(5'000'000)}};
  std::printf("%s\n", run.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace sessionwheel::bench

int main(int argc, char** argv) {
  return sessionwheel::bench::Main(argc, argv);
}
