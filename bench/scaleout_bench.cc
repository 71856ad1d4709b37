// sessionwheel-scaleout-bench: the Redis scale-out's figures
// (docs/scale-out.md, docs/performance.md "Scale-out"), against a
// redis-server it starts on loopback and always stops:
//
//   - write throughput (Session creates) of the durable store alone, of one
//     host under AckMode kLocal and kStream, and of three hosts (in this
//     process) under kStream, at the same number of writer threads;
//   - a standby's replication lag under that write load: from a create's
//     acknowledgement to the moment the standby's follower reads it, p50,
//     p99 and max;
//   - failover time: an owner host process (this program, re-executed) is
//     killed with SIGKILL, and the time until a standby in this process
//     serves its first write, and serves every partition, is measured.
//
// Usage: sessionwheel-scaleout-bench [--seconds=3] [--threads=4]
//   [--partitions=8] [--lease-ms=1000] [--failovers=5]

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "engine/scaleout/partition_log.h"
#include "engine/scaleout/redis_client.h"
#include "sessionwheel/scaleout.h"
#include "sessionwheel/store.h"
#include "tests/redis_server.h"
#include "tools/flags.h"

ABSL_FLAG(int, seconds, 3, "seconds each throughput run lasts");
ABSL_FLAG(int, threads, 4, "writer threads in every run");
ABSL_FLAG(int, partitions, 8, "partitions of the deployment");
ABSL_FLAG(int, lease_ms, 1000, "the lease, in milliseconds");
ABSL_FLAG(int, failovers, 5, "owner kills to time");

namespace sessionwheel {
namespace {

using Steady = std::chrono::steady_clock;
constexpr char kAccount[] = "AC0123456789abcdef0123456789abcdef";

const char kUsage[] =
    "Usage: sessionwheel-scaleout-bench [flags]\n"
    "Write throughput, replication lag and failover time of the Redis\n"
    "scale-out, against a redis-server of its own on loopback.\n";

double Ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

Sid ServiceIn(int p, int partitions) {
  for (uint64_t lo = 1;; ++lo) {
    Sid sid("KS", 0xbe9c000000000000ULL, lo);
    if (PartitionOfService(sid, partitions) == p) return sid;
  }
}

struct Env {
  int port;
  std::string dir;
  int partitions;
  absl::Duration lease;
};

ScaleOutOptions Options(const Env& env, const std::string& prefix,
                        const std::string& host, AckMode ack) {
  ScaleOutOptions o;
  o.redis_port = env.port;
  o.key_prefix = prefix;
  o.partitions = env.partitions;
  o.host_id = host;
  o.data_dir = env.dir + "/" + prefix + "-" + host;
  o.account_sid = kAccount;
  o.lease = env.lease;
  o.ack = ack;
  o.store.sync = SyncPolicy::kEveryWrite;
  o.max_owned = env.partitions;
  return o;
}

// Polls `done` for up to 30 s.
bool WaitFor(const std::function<bool()>& done) {
  const auto deadline = Steady::now() + std::chrono::seconds(30);
  while (!done()) {
    if (Steady::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Runs `threads` writers for `seconds`, each calling write(thread, k) in a
// loop; returns completed writes a second.
double Rate(int threads, int seconds,
            const std::function<bool(int, uint64_t)>& write) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> workers;
  const auto start = Steady::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      uint64_t n = 0;
      for (uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        if (write(t, k)) ++n;
      }
      done += n;
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  return done.load() / (Ms(Steady::now() - start) / 1000.0);
}

bool Create(SessionStore& store, const Sid& ks) {
  CreateSessionParams params;
  Session out;
  return store.CreateSession(ks, params, &out).ok();
}

// Creates each partition's Service through `host`, which owns it.
void MakeServices(ScaleOutHost& host, int partitions) {
  for (int p = 0; p < partitions; ++p) {
    CreateServiceParams s;
    s.sid = ServiceIn(p, partitions);
    s.unique_name = "bench-" + std::to_string(p);
    host.Write(p,
               [&](SessionStore& st) { return st.CreateService(s).status(); })
        .IgnoreError();
  }
}

double HostRate(const Env& env, std::vector<ScaleOutHost*> hosts, int threads,
                int seconds) {
  return Rate(threads, seconds, [&](int t, uint64_t k) {
    ScaleOutHost& h = *hosts[t % hosts.size()];
    std::vector<int> owned = h.Owned();
    if (owned.empty()) return false;
    const int p = owned[k % owned.size()];
    const Sid ks = ServiceIn(p, env.partitions);
    return h
        .Write(p,
               [&](SessionStore& st) {
                 return Create(st, ks) ? absl::OkStatus()
                                       : absl::InternalError("create failed");
               })
        .ok();
  });
}

void Throughput(const Env& env, int threads, int seconds) {
  // The durable store alone, as one host would run it without Redis.
  StoreOptions so;
  so.data_dir = env.dir + "/alone";
  so.sync = SyncPolicy::kEveryWrite;
  so.account_sid = kAccount;
  auto alone = *SessionStore::Open(so);
  CreateServiceParams svc;
  svc.unique_name = "alone";
  const Sid ks = alone->CreateService(svc)->sid;
  const double base =
      Rate(threads, seconds, [&](int, uint64_t) { return Create(*alone, ks); });
  alone.reset();
  std::printf("durable store alone (kEveryWrite):   %9.0f creates/s\n", base);

  const struct {
    AckMode ack;
    const char* name;
  } modes[] = {{AckMode::kLocal, "kLocal"}, {AckMode::kStream, "kStream"}};
  for (const auto& mode : modes) {
    const std::string prefix = std::string("t1") + mode.name;
    auto host = *ScaleOutHost::Start(Options(env, prefix, "a", mode.ack));
    WaitFor([&] { return host->Owned().size() == size_t(env.partitions); });
    MakeServices(*host, env.partitions);
    const double r = HostRate(env, {host.get()}, threads, seconds);
    std::printf("one host, AckMode::%-8s          %9.0f creates/s (%.2fx)\n",
                mode.name, r, r / base);
  }

  // Three hosts sharing the partitions fairly, in this process.
  std::vector<std::unique_ptr<ScaleOutHost>> three;
  for (const char* id : {"a", "b", "c"}) {
    ScaleOutOptions o = Options(env, "t3", id, AckMode::kStream);
    o.max_owned = 0;
    three.push_back(*ScaleOutHost::Start(o));
  }
  WaitFor([&] {
    size_t owned = 0;
    for (auto& h : three) {
      if (h->Owned().empty()) return false;
      owned += h->Owned().size();
    }
    return owned == size_t(env.partitions);
  });
  for (auto& h : three) MakeServices(*h, env.partitions);
  const double r3 = HostRate(
      env, {three[0].get(), three[1].get(), three[2].get()}, threads, seconds);
  std::printf("three hosts, AckMode::kStream:       %9.0f creates/s (%.2fx)\n",
              r3, r3 / base);
}

void Lag(const Env& env, int threads, int seconds) {
  auto owner = *ScaleOutHost::Start(Options(env, "lag", "a", AckMode::kStream));
  WaitFor([&] { return owner->Owned().size() == size_t(env.partitions); });
  MakeServices(*owner, env.partitions);
  auto standby =
      *ScaleOutHost::Start(Options(env, "lag", "b", AckMode::kStream));
  const Sid probe_ks = ServiceIn(0, env.partitions);
  WaitFor([&] {
    return standby
        ->ReadStandby(0,
                      [&](SessionStore& st) {
                        return st.FetchService(probe_ks).status();
                      })
        .ok();
  });
  std::atomic<bool> stop{false};
  std::vector<double> lags, from_call;
  std::thread probe([&] {
    for (int k = 0; !stop.load(); ++k) {
      CreateSessionParams params;
      params.unique_name = "probe-" + std::to_string(k);
      Session made;
      const auto called = Steady::now();
      if (!owner
               ->Write(0,
                       [&](SessionStore& st) {
                         return st.CreateSession(probe_ks, params, &made);
                       })
               .ok()) {
        continue;
      }
      const auto acked = Steady::now();
      while (!standby
                  ->ReadStandby(
                      0,
                      [&](SessionStore& st) {
                        return st.FetchSession(probe_ks, made.sid).status();
                      })
                  .ok()) {
        std::this_thread::yield();
      }
      lags.push_back(Ms(Steady::now() - acked));
      from_call.push_back(Ms(Steady::now() - called));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const double rate = HostRate(env, {owner.get()}, threads, seconds);
  stop = true;
  probe.join();
  std::sort(lags.begin(), lags.end());
  std::sort(from_call.begin(), from_call.end());
  auto at = [](const std::vector<double>& v, double q) {
    return v[size_t(q * (v.size() - 1))];
  };
  std::printf(
      "standby lag at %.0f creates/s, after the acknowledgement: p50 %.2f ms, "
      "p99 %.2f ms, max %.2f ms; after the call began: p50 %.2f ms, p99 "
      "%.2f ms, max %.2f ms (%zu probes)\n",
      rate, at(lags, 0.5), at(lags, 0.99), lags.back(), at(from_call, 0.5),
      at(from_call, 0.99), from_call.back(), lags.size());
}

[[noreturn]] void RunChild(int port, const std::string& dir,
                           const std::string& prefix, int partitions,
                           int lease_ms) {
  Env env{port, dir, partitions, absl::Milliseconds(lease_ms)};
  auto host =
      ScaleOutHost::Start(Options(env, prefix, "owner", AckMode::kStream));
  if (!host.ok()) _exit(2);
  for (;;) pause();
}

void Failover(const Env& env, const char* self, int failovers) {
  std::vector<double> first, all;
  for (int i = 0; i < failovers; ++i) {
    const std::string prefix = "f" + std::to_string(i);
    const pid_t child = fork();
    if (child == 0) {
      execl(self, self, "--host-child", std::to_string(env.port).c_str(),
            env.dir.c_str(), prefix.c_str(),
            std::to_string(env.partitions).c_str(),
            std::to_string(absl::ToInt64Milliseconds(env.lease)).c_str(),
            nullptr);
      _exit(127);
    }
    // The standby starts once the owner holds every lease.
    auto redis = *internal::RedisClient::Connect("127.0.0.1", env.port,
                                                 absl::Seconds(1));
    WaitFor([&] {
      for (int p = 0; p < env.partitions; ++p) {
        auto holder = internal::PartitionLog(prefix, p).Holder(*redis);
        if (!holder.ok() || !holder->has_value() ||
            (*holder)->first != "owner") {
          return false;
        }
      }
      return true;
    });
    auto standby =
        *ScaleOutHost::Start(Options(env, prefix, "standby", AckMode::kStream));
    // Let the standby's followers start, then kill the owner.
    WaitFor([&] {
      for (int p = 0; p < env.partitions; ++p) {
        if (!standby
                 ->ReadStandby(p,
                               [](SessionStore&) { return absl::OkStatus(); })
                 .ok()) {
          return false;
        }
      }
      return true;
    });
    const auto killed = Steady::now();
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    std::vector<bool> served(env.partitions, false);
    int left = env.partitions;
    double first_ms = -1;
    while (left > 0 && Ms(Steady::now() - killed) < 30000) {
      for (int p = 0; p < env.partitions; ++p) {
        if (served[p]) continue;
        if (standby->Write(p, [](SessionStore&) { return absl::OkStatus(); })
                .ok()) {
          served[p] = true;
          --left;
          if (first_ms < 0) first_ms = Ms(Steady::now() - killed);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    first.push_back(first_ms);
    all.push_back(Ms(Steady::now() - killed));
  }
  std::sort(first.begin(), first.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "failover (lease %lld ms), kill to first served write: median %.0f ms, "
      "max %.0f ms; to every partition served: median %.0f ms, max %.0f ms "
      "(%d kills)\n",
      static_cast<long long>(absl::ToInt64Milliseconds(env.lease)),
      first[first.size() / 2], first.back(), all[all.size() / 2], all.back(),
      failovers);
}

}  // namespace
}  // namespace sessionwheel

int main(int argc, char** argv) {
  using namespace sessionwheel;  // NOLINT
  if (argc == 7 && std::string(argv[1]) == "--host-child") {
    RunChild(std::atoi(argv[2]), argv[3], argv[4], std::atoi(argv[5]),
             std::atoi(argv[6]));
  }
  tools::ParseFlagsOrExit(argc, argv, "sessionwheel-scaleout-bench", kUsage,
                          {&FLAGS_seconds, &FLAGS_threads, &FLAGS_partitions,
                           &FLAGS_lease_ms, &FLAGS_failovers});
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("sw_scaleout_bench_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    testing_util::RedisServer redis(dir + "/redis");
    if (!redis.ok()) {
      std::fprintf(stderr, "redis-server did not start\n");
      return 1;
    }
    Env env{redis.port(), dir, absl::GetFlag(FLAGS_partitions),
            absl::Milliseconds(absl::GetFlag(FLAGS_lease_ms))};
    const int threads = absl::GetFlag(FLAGS_threads);
    const int seconds = absl::GetFlag(FLAGS_seconds);
    Throughput(env, threads, seconds);
    Lag(env, threads, seconds);
    Failover(env, argv[0], absl::GetFlag(FLAGS_failovers));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
