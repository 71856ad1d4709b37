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
  // Connects with `timeout` for the connection and for every command.
  // Errors: Unavailable.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Connect(
      const std::string& host, int port, absl::Duration timeout);
  ~RedisClient();

  // Runs one command. Errors: Unavailable for a broken connection (the
  // client reconnects on the next command); FailedPrecondition carrying
  // Redis's message for an error reply.
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

  explicit RedisClient(absl::Duration timeout) : timeout_(timeout) {}
  int NodeAt(const std::string& host, int port);
  absl::Status Reconnect(Node& node);
  // One attempt on one node.
  absl::StatusOr<RedisReply> Run(Node& node,
                                 const std::vector<std::string>& args,
                                 bool asking);
  // Sends `args` to `node`, following redirections; `node` ends as the
  // node that answered.
  absl::StatusOr<RedisReply> Routed(int& node,
                                    const std::vector<std::string>& args);

  absl::Duration timeout_;
  std::vector<std::unique_ptr<Node>> nodes_;  // [0]: the one given.
  std::vector<int> slot_node_;                // Index into nodes_.
  int last_node_ = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_REDIS_CLIENT_H_
