#include "engine/scaleout/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace sessionwheel::internal {
namespace {

constexpr int kSlots = 16384;

RedisReply Copy(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(Copy(*r.element[i]));
      }
      break;
    default:
      break;  // Nil.
  }
  return out;
}

// The key a command is routed by, or null for one without a key.
const std::string* KeyOf(const std::vector<std::string>& args) {
  if (args.size() < 2) return nullptr;
  const std::string name = absl::AsciiStrToUpper(args[0]);
  if (name == "WAIT" || name == "PING" || name == "INFO" || name == "SCRIPT" ||
      name == "CLUSTER") {
    return nullptr;
  }
  if (name == "EVALSHA" || name == "EVAL") {
    return args.size() > 3 && args[2] != "0" ? &args[3] : nullptr;
  }
  if (name == "XREAD") {
    for (size_t i = 1; i + 1 < args.size(); ++i) {
      if (absl::AsciiStrToUpper(args[i]) == "STREAMS") return &args[i + 1];
    }
    return nullptr;
  }
  return &args[1];
}

// "MOVED 3999 127.0.0.1:6381" (or ASK): the slot and the node.
bool ParseRedirect(std::string_view message, int* slot, std::string* host,
                   int* port) {
  const size_t a = message.find(' ');
  const size_t b = message.find(' ', a + 1);
  const size_t colon = message.rfind(':');
  if (a == std::string_view::npos || b == std::string_view::npos ||
      colon == std::string_view::npos || colon < b) {
    return false;
  }
  *host = std::string(message.substr(b + 1, colon - b - 1));
  return absl::SimpleAtoi(std::string(message.substr(a + 1, b - a - 1)),
                          slot) &&
         absl::SimpleAtoi(std::string(message.substr(colon + 1)), port);
}

}  // namespace

int RedisClient::Slot(std::string_view key) {
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  uint16_t crc = 0;  // CRC16-XMODEM, as Redis Cluster specifies.
  for (unsigned char c : key) {
    crc ^= static_cast<uint16_t>(c) << 8;
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc % kSlots;
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(
    const std::string& host, int port, absl::Duration timeout) {
  std::unique_ptr<RedisClient> client(new RedisClient(timeout));
  client->slot_node_.assign(kSlots, 0);
  client->NodeAt(host, port);
  if (absl::Status s = client->Reconnect(*client->nodes_[0], timeout);
      !s.ok()) {
    return s;
  }
  // Learn every node now, so a refresh has others to ask if this one dies.
  absl::StatusOr<RedisReply> slots =
      client->Run(*client->nodes_[0], {"CLUSTER", "SLOTS"}, false);
  if (slots.ok()) {
    client->TakeSlots(*slots, 0);
  } else if (absl::StrContains(slots.status().message(),
                               "cluster support disabled")) {
    client->topology_ = Topology::kSingle;
  }  // Otherwise (loading, a timeout) it is learned later, from MOVED.
  return client;
}

RedisClient::~RedisClient() {
  for (auto& node : nodes_) {
    if (node->context != nullptr) redisFree(node->context);
  }
}

int RedisClient::NodeAt(const std::string& host, int port) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i]->host == host && nodes_[i]->port == port) {
      return static_cast<int>(i);
    }
  }
  auto node = std::make_unique<Node>();
  node->host = host;
  node->port = port;
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size() - 1);
}

absl::Status RedisClient::Reconnect(Node& node,
                                    absl::Duration connect_timeout) {
  if (node.context != nullptr) redisFree(node.context);
  node.sha1.clear();
  node.context = redisConnectWithTimeout(node.host.c_str(), node.port,
                                         absl::ToTimeval(connect_timeout));
  if (node.context == nullptr || node.context->err != 0) {
    std::string why =
        node.context == nullptr ? "out of memory" : node.context->errstr;
    if (node.context != nullptr) redisFree(node.context);
    node.context = nullptr;
    return absl::UnavailableError(
        absl::StrCat("redis ", node.host, ":", node.port, ": ", why));
  }
  redisSetTimeout(node.context, absl::ToTimeval(timeout_));
  return absl::OkStatus();
}

void RedisClient::SetTimeout(absl::Duration timeout) {
  timeout_ = timeout;
  for (auto& node : nodes_) {
    if (node->context != nullptr) {
      redisSetTimeout(node->context, absl::ToTimeval(timeout));
    }
  }
}

absl::StatusOr<RedisReply> RedisClient::Run(
    Node& node, const std::vector<std::string>& args, bool asking,
    absl::Time deadline) {
  absl::Duration timeout = timeout_;
  if (deadline != absl::InfiniteFuture()) {
    timeout = std::min(timeout_, deadline - absl::Now());
    if (timeout <= absl::ZeroDuration()) {
      return absl::UnavailableError(absl::StrCat(
          "redis ", node.host, ":", node.port, ": the call's time is up"));
    }
  }
  if (node.context == nullptr) {
    if (absl::Status s = Reconnect(node, timeout); !s.ok()) return s;
  }
  const bool shortened = timeout < timeout_;
  if (shortened) redisSetTimeout(node.context, absl::ToTimeval(timeout));
  absl::StatusOr<RedisReply> reply = RedisReply();
  if (asking) reply = Send(node, {"ASKING"});
  if (reply.ok()) reply = Send(node, args);
  if (shortened && node.context != nullptr) {
    redisSetTimeout(node.context, absl::ToTimeval(timeout_));
  }
  return reply;
}

absl::StatusOr<RedisReply> RedisClient::Send(
    Node& node, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(node.context, static_cast<int>(args.size()),
                               argv.data(), lens.data());
  if (raw == nullptr) {
    // The connection is broken (or timed out mid-reply): drop it, so the
    // next command starts clean rather than read this one's late reply.
    std::string why = node.context->errstr;
    redisFree(node.context);
    node.context = nullptr;
    node.sha1.clear();
    return absl::UnavailableError(
        absl::StrCat("redis ", node.host, ":", node.port, ": ", why));
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(raw), freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(std::string(reply->str, reply->len));
  }
  return Copy(*reply);
}

RedisClient::Retry RedisClient::StartCall(int slot) {
  Retry retry;
  retry.slot = slot;
  retry.deadline = absl::Now() + timeout_;
  if (slot >= 0 && refresh_due_ >= 0) {
    // The last refresh ran out of time: this call finishes it first, and
    // spends its one retry (and its time) on that.
    const int failed = std::exchange(refresh_due_, -1);
    retry.used = true;
    if (!RefreshSlots(failed, retry.deadline)) refresh_due_ = failed;
  }
  return retry;
}

absl::StatusOr<RedisReply> RedisClient::Routed(
    int& node, const std::vector<std::string>& args, Retry& retry) {
  bool asking = false;
  for (int hop = 0; hop < 5; ++hop) {
    // After a retry, what is left of the call's time bounds every attempt.
    absl::StatusOr<RedisReply> reply =
        Run(*nodes_[node], args, asking,
            retry.used ? retry.deadline : absl::InfiniteFuture());
    asking = false;
    if (!reply.ok() && Failover(node, reply.status(), retry)) continue;
    if (reply.ok() || !absl::IsFailedPrecondition(reply.status())) {
      last_node_ = node;
      return reply;
    }
    const std::string message(reply.status().message());
    const bool moved = absl::StartsWith(message, "MOVED ");
    if (!moved && !absl::StartsWith(message, "ASK ")) {
      last_node_ = node;
      return reply;
    }
    int slot = 0, port = 0;
    std::string host;
    if (!ParseRedirect(message, &slot, &host, &port) || slot < 0 ||
        slot >= kSlots) {
      return reply;
    }
    node = NodeAt(host, port);
    topology_ = Topology::kCluster;
    if (moved) {
      slot_node_[slot] = node;
    } else {
      asking = true;
    }
  }
  return absl::UnavailableError("redis: too many redirections");
}

bool RedisClient::Failover(int& node, const absl::Status& failure,
                           Retry& retry) {
  if (retry.used || retry.slot < 0 || !absl::IsUnavailable(failure) ||
      topology_ == Topology::kSingle) {
    return false;
  }
  retry.used = true;
  const int failed = node;
  if (!RefreshSlots(failed, retry.deadline)) {
    refresh_due_ = failed;  // No node answered in time: the next call asks.
    return false;
  }
  // Before its replica is promoted, the others still name the dead node.
  if (slot_node_[retry.slot] == failed) return false;
  // The slot's master is another node now, so `failed` no longer is: a
  // command it ran before it died is on the new master only if it was
  // replicated, the window Redis's asynchronous replication leaves anyway.
  node = slot_node_[retry.slot];
  return true;
}

bool RedisClient::RefreshSlots(int failed, absl::Time deadline) {
  std::vector<int> order;
  for (int live : {1, 0}) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (static_cast<int>(i) != failed &&
          (nodes_[i]->context != nullptr) == (live == 1)) {
        order.push_back(static_cast<int>(i));
      }
    }
  }
  for (int i : order) {
    absl::StatusOr<RedisReply> slots =
        Run(*nodes_[i], {"CLUSTER", "SLOTS"}, false, deadline);
    if (slots.ok() && TakeSlots(*slots, i)) return true;
    if (absl::Now() >= deadline) break;
  }
  return false;
}

// CLUSTER SLOTS: [[first, last, [host, port, id, ...] (the master),
// replicas alike...], ...].
bool RedisClient::TakeSlots(const RedisReply& slots, int asked) {
  using Kind = RedisReply::Kind;
  bool taken = false;
  for (const RedisReply& range : slots.elements) {
    const std::vector<RedisReply>& e = range.elements;
    if (e.size() < 3 || e[0].kind != Kind::kInteger ||
        e[1].kind != Kind::kInteger || e[0].integer < 0 ||
        e[1].integer >= kSlots || e[0].integer > e[1].integer) {
      continue;
    }
    int master = -1;
    for (size_t n = 2; n < e.size(); ++n) {
      const std::vector<RedisReply>& address = e[n].elements;
      if (address.size() < 2 || address[0].kind != Kind::kString ||
          address[1].kind != Kind::kInteger || address[0].str == "?") {
        continue;  // "?": an endpoint the node does not know.
      }
      // An empty host is the asked node's own.
      const std::string& host =
          address[0].str.empty() ? nodes_[asked]->host : address[0].str;
      const int at = NodeAt(host, static_cast<int>(address[1].integer));
      if (n == 2) master = at;
    }
    if (master < 0) continue;
    std::fill(slot_node_.begin() + e[0].integer,
              slot_node_.begin() + e[1].integer + 1, master);
    taken = true;
  }
  if (taken) topology_ = Topology::kCluster;
  return taken;
}

absl::StatusOr<RedisReply> RedisClient::Command(
    const std::vector<std::string>& args) {
  const std::string* key = KeyOf(args);
  const int slot = key != nullptr ? Slot(*key) : -1;
  Retry retry = StartCall(slot);
  int node = slot >= 0 ? slot_node_[slot] : last_node_;
  return Routed(node, args, retry);
}

absl::StatusOr<RedisReply> RedisClient::Eval(
    const RedisScript& script, const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  const int slot = keys.empty() ? -1 : Slot(keys[0]);
  Retry retry = StartCall(slot);
  int node = slot >= 0 ? slot_node_[slot] : last_node_;
  for (int attempt = 0; attempt < 4; ++attempt) {
    Node& on = *nodes_[node];
    auto known = on.sha1.find(script.text);
    if (known == on.sha1.end()) {
      absl::StatusOr<RedisReply> sha =
          Run(on, {"SCRIPT", "LOAD", script.text}, false,
              retry.used ? retry.deadline : absl::InfiniteFuture());
      if (!sha.ok() && Failover(node, sha.status(), retry)) continue;
      if (!sha.ok()) return sha.status();
      known = on.sha1.emplace(script.text, sha->str).first;
    }
    std::vector<std::string> argv = {"EVALSHA", known->second,
                                     std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<RedisReply> reply = Routed(node, argv, retry);
    if (!reply.ok() && absl::StartsWith(reply.status().message(), "NOSCRIPT")) {
      // Unknown on the node that answered (a restart, or a redirection):
      // load it there and run it again.
      nodes_[node]->sha1.erase(script.text);
      continue;
    }
    return reply;
  }
  return absl::UnavailableError("redis: could not run a script");
}

}  // namespace sessionwheel::internal
