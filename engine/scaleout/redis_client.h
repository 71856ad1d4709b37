// RedisClient: blocking connections to Redis (hiredis), with replies
// copied into plain values and every failure an absl::Status. Not safe for
// concurrent use: each thread that talks to Redis has its own.
//
// It works with a single server and with a Redis Cluster: it starts from
// the node it is given, sends each command to the node that its key's slot
// (the CRC16 of the key's {hash tag}) was last seen on, and follows MOVED
// (remembering the slot's new node) and ASK redirections, with one
// connection per node. A command without a key (WAIT) goes to the node of
// the previous command.
//
// On a Cluster it also learns the slot map (CLUSTER SLOTS) from the node it
// is given, and every node the map names, masters and replicas. When a
// slot's node cannot be reached (a master died; no MOVED will come from
// it), it asks the other nodes it knows for the map again, and if the map
// names another master for the slot (its replica, promoted) it runs the
// command there, once, within the call's timeout. A single server (CLUSTER
// SLOTS refused: cluster support disabled) is never asked for a map.

#ifndef SESSIONWHEEL_ENGINE_SCALEOUT_REDIS_CLIENT_H_
#define SESSIONWHEEL_ENGINE_SCALEOUT_REDIS_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct redisContext;

namespace sessionwheel::internal {

// A reply, as Redis gave it. An error reply is a Status, never a Reply.
struct RedisReply {
  enum class Kind { kNil, kInteger, kString, kArray };
  Kind kind = Kind::kNil;
  int64_t integer = 0;
  std::string str;  // kString (bulk and status replies alike).
  std::vector<RedisReply> elements;

  bool is_nil() const { return kind == Kind::kNil; }
};

// A Lua script, run with EVALSHA under the SHA1 that SCRIPT LOAD gave the
// connection, loaded again when the server forgot it (NOSCRIPT: a restart,
// a failover to a replica).
struct RedisScript {
  std::string text;
};

class RedisClient {
 public:
  // Connects with `timeout` for the connection and for every command, and
  // asks the node for the Cluster's slot map (a single server refuses).
  // Errors: Unavailable.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(
      const std::string& host, int port, absl::Duration timeout);
  ~RedisClient();

  // Runs one command. Errors: Unavailable for a broken connection (the
  // client reconnects on the next command; on a Cluster it first tries the
  // slot's master as another node names it, see above); FailedPrecondition
  // carrying Redis's message for an error reply.
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);

  // The Cluster slot of `key`: CRC16 (XMODEM) of its hash tag, mod 16384.
  static int Slot(std::string_view key);

  // Runs `script` with `keys` and `args`.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // Sets the timeout of later commands (XREAD BLOCK needs more than it
  // blocks for).
  void SetTimeout(absl::Duration timeout);

 private:
  struct Node {
    std::string host;
    int port = 0;
    redisContext* context = nullptr;
    // SCRIPT LOAD's answers on this node, by script text.
    std::map<std::string, std::string, std::less<>> sha1;
  };

  // What the node given to Connect turned out to be.
  enum class Topology { kUnknown, kSingle, kCluster };

  // One call's allowance for finding its slot's new master after the
  // slot's node did not answer: one retry, started before `deadline` (the
  // call's start plus the timeout).
  struct Retry {
    int slot = -1;  // -1: the command has no key, so no retry.
    absl::Time deadline;
    bool used = false;
  };

  explicit RedisClient(absl::Duration timeout) : timeout_(timeout) {}
  // A call on `slot` (-1: none) starts: its allowance, after any refresh
  // a previous call left due.
  Retry StartCall(int slot);
  int NodeAt(const std::string& host, int port);
  absl::Status Reconnect(Node& node, absl::Duration connect_timeout);
  // One attempt on one node; with a finite `deadline`, it gives the
  // attempt no more than the time left before it.
  absl::StatusOr<RedisReply> Run(Node& node,
                                 const std::vector<std::string>& args,
                                 bool asking,
                                 absl::Time deadline = absl::InfiniteFuture());
  // Sends `args` over `node`'s connection, as it is.
  absl::StatusOr<RedisReply> Send(Node& node,
                                  const std::vector<std::string>& args);
  // Sends `args` to `node`, following redirections, and once to the slot's
  // new master if `node` does not answer; `node` ends as the node that
  // answered.
  absl::StatusOr<RedisReply> Routed(int& node,
                                    const std::vector<std::string>& args,
                                    Retry& retry);
  // After `node` failed with `failure`: whether to retry on the slot's new
  // master, which `node` then names (from a fresh slot map).
  bool Failover(int& node, const absl::Status& failure, Retry& retry);
  // Asks the known nodes but `failed`, live connections first, for the slot
  // map until one gives it, by `deadline`. Says whether one did.
  bool RefreshSlots(int failed, absl::Time deadline);
  // Takes CLUSTER SLOTS's answer from node `asked`; false if it holds none.
  bool TakeSlots(const RedisReply& slots, int asked);

  absl::Duration timeout_;
  std::vector<std::unique_ptr<Node>> nodes_;  // [0]: the one given.
  std::vector<int> slot_node_;                // Index into nodes_.
  int last_node_ = 0;
  Topology topology_ = Topology::kUnknown;
  // A node that failed when no other gave the slot map in time: the next
  // call asks the others first. -1: none due.
  int refresh_due_ = -1;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_REDIS_CLIENT_H_
