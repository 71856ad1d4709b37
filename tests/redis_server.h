// A redis-server of the test's own, on 127.0.0.1 at a free port, in a
// temporary directory, stopped (SIGTERM) when the object goes, and killed
// with the test however it ends. Nothing else is contacted.

#ifndef SESSIONWHEEL_TESTS_REDIS_SERVER_H_
#define SESSIONWHEEL_TESTS_REDIS_SERVER_H_

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "engine/scaleout/redis_client.h"

namespace sessionwheel::testing_util {

// A port nobody listens on now (the kernel's pick for port 0), below
// `below` (a Cluster node also listens on its port + 10000).
inline int FreePort(int below = 65536) {
  for (;;) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    if (ntohs(addr.sin_port) < below) return ntohs(addr.sin_port);
  }
}

class RedisServer {
 public:
  // Starts it with `extra` arguments (e.g. {"--appendonly", "yes"}) in
  // `dir`, created if missing. ok() says whether it answered PING.
  explicit RedisServer(std::string dir, std::vector<std::string> extra = {},
                       int port = 0)
      : dir_(std::move(dir)),
        extra_(std::move(extra)),
        port_(port != 0 ? port : FreePort()) {
    std::filesystem::create_directories(dir_);
    Start();
  }
  ~RedisServer() { Stop(); }

  int port() const { return port_; }
  bool ok() const { return pid_ > 0 && answered_; }

  // Stops the server (SIGTERM: with appendonly it flushes its file).
  void Stop() {
    if (pid_ <= 0) return;
    // redis-server exits on SIGTERM once its file is flushed; ctest's
    // timeout bounds a server that would not.
    kill(pid_, SIGTERM);
    kill(pid_, SIGCONT);  // If paused.
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Kills the server (SIGKILL): a crash, nothing flushed.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Pauses the server (SIGSTOP): connections are still accepted by the
  // kernel, but nothing answers.
  void Pause() {
    if (pid_ > 0) kill(pid_, SIGSTOP);
  }

  // Starts it again on the same port and directory.
  void Start() {
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--dir",
                                     dir_,
                                     "--logfile",
                                     dir_ + "/redis.log",
                                     "--supervised",
                                     "systemd"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    const int notify = OpenNotifySocket();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlives the test.
      setenv("NOTIFY_SOCKET", notify_path().c_str(), 1);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("redis-server", argv.data());
      _exit(127);
    }
    answered_ = WaitUntilReady(notify) && Pings();
    close(notify);
  }

 private:
  // A datagram socket redis-server tells when it is ready (sd_notify's
  // protocol: --supervised systemd and $NOTIFY_SOCKET), so a start waits
  // for that word, not in a polling loop. Bounded: 5 s without a word.
  int OpenNotifySocket() {
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = notify_path();
    unlink(path.c_str());
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    timeval timeout{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return fd;
  }

  std::string notify_path() const { return dir_ + "/notify.sock"; }

  static bool WaitUntilReady(int fd) {
    char buf[512];
    for (;;) {
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) return false;  // Timed out: the server never came up.
      if (std::string_view(buf, n).find("READY=1") != std::string_view::npos) {
        return true;
      }
    }
  }

  bool Pings() const {
    auto client =
        internal::RedisClient::Connect("127.0.0.1", port_, absl::Seconds(1));
    if (!client.ok()) return false;
    auto pong = (*client)->Command({"PING"});
    return pong.ok() && pong->str == "PONG";
  }

  const std::string dir_;
  const std::vector<std::string> extra_;
  const int port_;
  pid_t pid_ = -1;
  bool answered_ = false;
};

// Three masters of a Redis Cluster on loopback, each with `replicas`
// replicas, made with Redis's own `redis-cli --cluster create`, each node
// in a directory of its own under `dir`; stopped when the object goes.
// ok() says whether the cluster reached cluster_state:ok on every node
// and every replica is linked to its master. With replicas, a node is deemed
// failed after 1 s (not 5 s), so a replica is promoted within a few seconds of
// its master's death.
class RedisCluster {
 public:
  explicit RedisCluster(const std::string& dir, int replicas = 0) {
    const int count = 3 * (1 + replicas);
    std::vector<std::string> addresses;
    for (int i = 0; i < count; ++i) {
      const int port = FreePort(55000);
      std::vector<std::string> config = {
          "--cluster-enabled",      "yes",
          "--cluster-config-file",  "nodes.conf",
          "--cluster-node-timeout", replicas > 0 ? "1000" : "5000",
          "--appendonly",           "yes"};
      if (replicas > 0) {
        // Any replica may be promoted, however long ago it last heard
        // from its master.
        config.insert(config.end(), {"--cluster-replica-validity-factor", "0"});
      }
      nodes_.push_back(std::make_unique<RedisServer>(
          dir + "/node" + std::to_string(i), config, port));
      if (!nodes_.back()->ok()) return;
      addresses.push_back("127.0.0.1:" + std::to_string(port));
    }
    std::vector<std::string> args = {"redis-cli", "--cluster", "create"};
    args.insert(args.end(), addresses.begin(), addresses.end());
    args.insert(args.end(), {"--cluster-replicas", std::to_string(replicas),
                             "--cluster-yes"});
    const pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const std::string log = dir + "/create.log";
      freopen(log.c_str(), "w", stdout);
      execvp("redis-cli", argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return;
    // Bounded: up to 10 s for every node to see every slot served and
    // every replica to have its master's data.
    for (int i = 0; i < 1000 && !ok_; ++i) {
      ok_ = true;
      for (int n = 0; n < count; ++n) {
        auto info = Ask(n, {"CLUSTER", "INFO"});
        ok_ = ok_ && info.ok() &&
              info->str.find("cluster_state:ok") != std::string::npos;
        if (replicas > 0) {
          auto sync = Ask(n, {"INFO", "replication"});
          ok_ = ok_ && sync.ok() &&
                (sync->str.find("role:master") != std::string::npos ||
                 sync->str.find("master_link_status:up") != std::string::npos);
        }
      }
      if (!ok_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  bool ok() const { return ok_; }
  int size() const { return static_cast<int>(nodes_.size()); }
  int port(int i) const { return nodes_[i]->port(); }
  // Kills node i (SIGKILL): its replica, if any, is promoted.
  void Kill(int i) { nodes_[i]->Kill(); }
  // Pauses node i (SIGSTOP): its replica, if any, is promoted.
  void Pause(int i) { nodes_[i]->Pause(); }

  // The index of the node that node `asked` says serves `slot` (from its
  // CLUSTER SLOTS), or -1 if it does not answer or names none.
  int MasterOf(int slot, int asked) const {
    auto slots = Ask(asked, {"CLUSTER", "SLOTS"});
    if (!slots.ok()) return -1;
    for (const internal::RedisReply& range : slots->elements) {
      if (range.elements.size() < 3 || slot < range.elements[0].integer ||
          slot > range.elements[1].integer) {
        continue;
      }
      const int port = static_cast<int>(range.elements[2].elements[1].integer);
      for (int i = 0; i < size(); ++i) {
        if (nodes_[i]->port() == port) return i;
      }
    }
    return -1;
  }

  // Node i's answer to `args`, over a connection of its own.
  absl::StatusOr<internal::RedisReply> Ask(
      int i, const std::vector<std::string>& args) const {
    auto client = internal::RedisClient::Connect("127.0.0.1", port(i),
                                                 absl::Milliseconds(200));
    if (!client.ok()) return client.status();
    return (*client)->Command(args);
  }

 private:
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  bool ok_ = false;
};

}  // namespace sessionwheel::testing_util

#endif  // SESSIONWHEEL_TESTS_REDIS_SERVER_H_
