// RedisClient: one blocking connection to Redis (hiredis), with replies
// copied into plain values and every failure an absl::Status. Not safe for
// concurrent use: each thread that talks to Redis has its own.

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

  // Runs `script` with `keys` and `args`.
  absl::StatusOr<RedisReply> Eval(const RedisScript& script,
                                  const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args);

  // Sets the timeout of later commands (XREAD BLOCK needs more than it
  // blocks for).
  void SetTimeout(absl::Duration timeout);

 private:
  RedisClient(std::string host, int port, absl::Duration timeout)
      : host_(std::move(host)), port_(port), timeout_(timeout) {}
  absl::Status Reconnect();

  const std::string host_;
  const int port_;
  absl::Duration timeout_;
  redisContext* context_ = nullptr;
  // SCRIPT LOAD's answers, by script text.
  std::map<std::string, std::string, std::less<>> sha1_;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_SCALEOUT_REDIS_CLIENT_H_
