#include "engine/scaleout/partition_log.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sessionwheel::internal {
namespace {

// KEYS: lease, epoch. ARGV: host, lease ms. The lease is set only if absent
// (NX PX) and the epoch raised with it, in one step.
const RedisScript kAcquire{R"lua(
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
local value = ARGV[1] .. '|' .. epoch
if not redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then
  return 0
end
redis.call('SET', KEYS[2], epoch)
return epoch
)lua"};

// KEYS: lease. ARGV: "host|epoch", lease ms.
const RedisScript kRenew{R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua"};

// KEYS: lease. ARGV: "host|epoch".
const RedisScript kRelease{R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
)lua"};

// KEYS: epoch, log, head, reported. ARGV: epoch, watermark ('' for none),
// then lsn, type, payload for each record.
const RedisScript kAppend{R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is not current')
end
local head = tonumber(redis.call('GET', KEYS[3]) or '0')
for i = 3, #ARGV, 3 do
  local lsn = tonumber(ARGV[i])
  if lsn > head then
    if lsn ~= head + 1 then
      return redis.error_reply('GAP record ' .. lsn .. ' after ' .. head)
    end
    redis.call('XADD', KEYS[2], lsn .. '-0', 't', ARGV[i + 1], 'd', ARGV[i + 2])
    head = lsn
  end
end
redis.call('SET', KEYS[3], head)
if ARGV[2] ~= '' then
  local old = tonumber(redis.call('GET', KEYS[4]) or '0')
  if tonumber(ARGV[2]) > old then redis.call('SET', KEYS[4], ARGV[2]) end
end
return head
)lua"};

// KEYS: epoch, ckpt, log. ARGV: epoch, lsn, bytes.
const RedisScript kPutCheckpoint{R"lua(
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED epoch ' .. ARGV[1] .. ' is not current')
end
redis.call('HSET', KEYS[2], 'lsn', ARGV[2], 'data', ARGV[3])
redis.call('XTRIM', KEYS[3], 'MINID', ARGV[2] .. '-0')
return 1
)lua"};

std::string Ms(absl::Duration d) {
  return std::to_string(absl::ToInt64Milliseconds(d));
}

// The script's error as the status the callers expect.
absl::Status ScriptError(const absl::Status& s) {
  if (absl::IsFailedPrecondition(s)) {
    if (absl::StartsWith(s.message(), "FENCED")) {
      return absl::AbortedError(s.message());
    }
    if (absl::StartsWith(s.message(), "GAP")) {
      return absl::DataLossError(s.message());
    }
  }
  return s;
}

absl::StatusOr<uint64_t> ParseU64(const RedisReply& r) {
  if (r.kind == RedisReply::Kind::kInteger)
    return static_cast<uint64_t>(r.integer);
  uint64_t v = 0;
  if (r.kind == RedisReply::Kind::kString && absl::SimpleAtoi(r.str, &v)) {
    return v;
  }
  return absl::DataLossError("redis: expected a number");
}

// Appends the entries of an XRANGE-shaped array to *out.
absl::Status ParseEntries(const RedisReply& entries,
                          std::vector<LogRecord>* out) {
  for (const RedisReply& e : entries.elements) {
    if (e.elements.size() != 2) return absl::DataLossError("bad stream entry");
    LogRecord record;
    const std::string& id = e.elements[0].str;
    if (!absl::SimpleAtoi(id.substr(0, id.find('-')), &record.lsn)) {
      return absl::DataLossError(absl::StrCat("bad stream id ", id));
    }
    const std::vector<RedisReply>& fields = e.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "t") {
        record.type =
            static_cast<uint8_t>(std::atoi(fields[i + 1].str.c_str()));
      } else if (fields[i].str == "d") {
        record.payload = fields[i + 1].str;
      }
    }
    out->push_back(std::move(record));
  }
  return absl::OkStatus();
}

}  // namespace

PartitionLog::PartitionLog(const std::string& prefix, int partition)
    : partition_(partition),
      lease_(absl::StrCat(prefix, ":{p", partition, "}:lease")),
      epoch_(absl::StrCat(prefix, ":{p", partition, "}:epoch")),
      log_(absl::StrCat(prefix, ":{p", partition, "}:log")),
      head_(absl::StrCat(prefix, ":{p", partition, "}:head")),
      ckpt_(absl::StrCat(prefix, ":{p", partition, "}:ckpt")),
      reported_(absl::StrCat(prefix, ":{p", partition, "}:reported")) {}

absl::StatusOr<uint64_t> PartitionLog::Acquire(RedisClient& redis,
                                               const std::string& host,
                                               absl::Duration lease) const {
  absl::StatusOr<RedisReply> r =
      redis.Eval(kAcquire, {lease_, epoch_}, {host, Ms(lease)});
  if (!r.ok()) return r.status();
  return ParseU64(*r);
}

absl::StatusOr<bool> PartitionLog::Renew(RedisClient& redis,
                                         const std::string& host,
                                         uint64_t epoch,
                                         absl::Duration lease) const {
  absl::StatusOr<RedisReply> r =
      redis.Eval(kRenew, {lease_}, {absl::StrCat(host, "|", epoch), Ms(lease)});
  if (!r.ok()) return r.status();
  return r->integer == 1;
}

absl::Status PartitionLog::Release(RedisClient& redis, const std::string& host,
                                   uint64_t epoch) const {
  return redis.Eval(kRelease, {lease_}, {absl::StrCat(host, "|", epoch)})
      .status();
}

absl::StatusOr<std::optional<std::pair<std::string, uint64_t>>>
PartitionLog::Holder(RedisClient& redis) const {
  absl::StatusOr<RedisReply> r = redis.Command({"GET", lease_});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return std::nullopt;
  const size_t bar = r->str.rfind('|');
  uint64_t epoch = 0;
  if (bar == std::string::npos ||
      !absl::SimpleAtoi(r->str.substr(bar + 1), &epoch)) {
    return absl::DataLossError(absl::StrCat("bad lease value in ", lease_));
  }
  return std::make_pair(r->str.substr(0, bar), epoch);
}

absl::StatusOr<uint64_t> PartitionLog::Append(
    RedisClient& redis, uint64_t epoch, std::optional<int64_t> watermark_ms,
    const std::vector<LogRecord>& records) const {
  std::vector<std::string> args;
  args.reserve(2 + 3 * records.size());
  args.push_back(std::to_string(epoch));
  args.push_back(watermark_ms ? std::to_string(*watermark_ms) : "");
  for (const LogRecord& r : records) {
    args.push_back(std::to_string(r.lsn));
    args.push_back(std::to_string(r.type));
    args.push_back(r.payload);
  }
  absl::StatusOr<RedisReply> r =
      redis.Eval(kAppend, {epoch_, log_, head_, reported_}, args);
  if (!r.ok()) return ScriptError(r.status());
  return ParseU64(*r);
}

absl::Status PartitionLog::PutCheckpoint(RedisClient& redis, uint64_t epoch,
                                         uint64_t lsn,
                                         const std::string& bytes) const {
  absl::StatusOr<RedisReply> r =
      redis.Eval(kPutCheckpoint, {epoch_, ckpt_, log_},
                 {std::to_string(epoch), std::to_string(lsn), bytes});
  return r.ok() ? absl::OkStatus() : ScriptError(r.status());
}

absl::StatusOr<std::optional<PartitionLog::Checkpoint>>
PartitionLog::GetCheckpoint(RedisClient& redis) const {
  absl::StatusOr<RedisReply> r = redis.Command({"HMGET", ckpt_, "lsn", "data"});
  if (!r.ok()) return r.status();
  if (r->elements.size() != 2 || r->elements[0].is_nil()) return std::nullopt;
  Checkpoint c;
  absl::StatusOr<uint64_t> lsn = ParseU64(r->elements[0]);
  if (!lsn.ok()) return lsn.status();
  c.lsn = *lsn;
  c.bytes = std::move(r->elements[1].str);
  return c;
}

absl::StatusOr<std::vector<LogRecord>> PartitionLog::Read(
    RedisClient& redis, uint64_t from_lsn, int count,
    absl::Duration block) const {
  std::vector<LogRecord> out;
  if (block <= absl::ZeroDuration()) {
    absl::StatusOr<RedisReply> r =
        redis.Command({"XRANGE", log_, absl::StrCat(from_lsn, "-0"), "+",
                       "COUNT", std::to_string(count)});
    if (!r.ok()) return r.status();
    if (absl::Status s = ParseEntries(*r, &out); !s.ok()) return s;
    return out;
  }
  // XREAD returns entries after the ID given: the one before from_lsn.
  const std::string after =
      from_lsn <= 1 ? "0-0" : absl::StrCat(from_lsn - 1, "-0");
  absl::StatusOr<RedisReply> r =
      redis.Command({"XREAD", "COUNT", std::to_string(count), "BLOCK",
                     Ms(block), "STREAMS", log_, after});
  if (!r.ok()) return r.status();
  if (r->is_nil() || r->elements.empty()) return out;
  const RedisReply& stream = r->elements[0];
  if (stream.elements.size() != 2)
    return absl::DataLossError("bad XREAD reply");
  if (absl::Status s = ParseEntries(stream.elements[1], &out); !s.ok())
    return s;
  return out;
}

absl::StatusOr<uint64_t> PartitionLog::Head(RedisClient& redis) const {
  absl::StatusOr<RedisReply> r = redis.Command({"GET", head_});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return 0;
  return ParseU64(*r);
}

absl::StatusOr<std::optional<int64_t>> PartitionLog::Reported(
    RedisClient& redis) const {
  absl::StatusOr<RedisReply> r = redis.Command({"GET", reported_});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return std::nullopt;
  int64_t v = 0;
  if (!absl::SimpleAtoi(r->str, &v))
    return absl::DataLossError("bad watermark");
  return v;
}

}  // namespace sessionwheel::internal
