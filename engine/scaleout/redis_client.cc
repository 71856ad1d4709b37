#include "engine/scaleout/redis_client.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sessionwheel::internal {
namespace {

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

}  // namespace

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Connect(
    const std::string& host, int port, absl::Duration timeout) {
  std::unique_ptr<RedisClient> client(new RedisClient(host, port, timeout));
  if (absl::Status s = client->Reconnect(); !s.ok()) return s;
  return client;
}

RedisClient::~RedisClient() {
  if (context_ != nullptr) redisFree(context_);
}

absl::Status RedisClient::Reconnect() {
  if (context_ != nullptr) redisFree(context_);
  sha1_.clear();
  context_ =
      redisConnectWithTimeout(host_.c_str(), port_, absl::ToTimeval(timeout_));
  if (context_ == nullptr || context_->err != 0) {
    std::string why = context_ == nullptr ? "out of memory" : context_->errstr;
    if (context_ != nullptr) redisFree(context_);
    context_ = nullptr;
    return absl::UnavailableError(
        absl::StrCat("redis ", host_, ":", port_, ": ", why));
  }
  redisSetTimeout(context_, absl::ToTimeval(timeout_));
  return absl::OkStatus();
}

void RedisClient::SetTimeout(absl::Duration timeout) {
  timeout_ = timeout;
  if (context_ != nullptr) redisSetTimeout(context_, absl::ToTimeval(timeout));
}

absl::StatusOr<RedisReply> RedisClient::Command(
    const std::vector<std::string>& args) {
  if (context_ == nullptr) {
    if (absl::Status s = Reconnect(); !s.ok()) return s;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* raw = redisCommandArgv(context_, static_cast<int>(args.size()),
                               argv.data(), lens.data());
  if (raw == nullptr) {
    // The connection is broken (or timed out mid-reply): drop it, so the
    // next command starts clean rather than read this one's late reply.
    std::string why = context_->errstr;
    redisFree(context_);
    context_ = nullptr;
    sha1_.clear();
    return absl::UnavailableError(
        absl::StrCat("redis ", host_, ":", port_, ": ", why));
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(
      static_cast<redisReply*>(raw), freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    return absl::FailedPreconditionError(std::string(reply->str, reply->len));
  }
  return Copy(*reply);
}

absl::StatusOr<RedisReply> RedisClient::Eval(
    const RedisScript& script, const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto known = sha1_.find(script.text);
    if (known == sha1_.end()) {
      absl::StatusOr<RedisReply> sha = Command({"SCRIPT", "LOAD", script.text});
      if (!sha.ok()) return sha.status();
      known = sha1_.emplace(script.text, sha->str).first;
    }
    std::vector<std::string> argv = {"EVALSHA", known->second,
                                     std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<RedisReply> reply = Command(argv);
    if (!reply.ok() && absl::StartsWith(reply.status().message(), "NOSCRIPT")) {
      sha1_.erase(script.text);
      continue;
    }
    return reply;
  }
  return absl::UnavailableError("redis forgot a script twice in a row");
}

}  // namespace sessionwheel::internal
