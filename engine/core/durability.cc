#include "engine/core/durability.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "engine/core/shard.h"
#include "engine/persist/crc32c.h"
#include "engine/persist/file_io.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

constexpr std::string_view kIdentityFile = "IDENTITY";
constexpr std::string_view kLockFile = "LOCK";
constexpr std::string_view kIdentityMagic("SWHLIDNT", 8);
constexpr uint32_t kIdentityVersion = 1;
constexpr size_t kIdentityBytes = 8 + 4 + 8 + 16 + 8 + 4;
constexpr std::string_view kCheckpointPrefix = "checkpoint-";
constexpr std::string_view kCheckpointSuffix = ".snap";
constexpr size_t kHeaderBytes = 16;

uint64_t GetU64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) {
    v |= uint64_t{static_cast<uint8_t>(bytes[i])} << (8 * i);
  }
  return v;
}

Sid128 GetSid(std::string_view bytes) {
  return Sid128{GetU64(bytes), GetU64(bytes.substr(8))};
}

std::string_view ViewOf(absl::string_view s) { return {s.data(), s.size()}; }

std::string PathIn(const std::string& dir, std::string_view name) {
  return Cat(dir, "/", name);
}

std::string CheckpointName(uint64_t lsn) {
  return absl::StrFormat("%s%016x%s", kCheckpointPrefix, lsn,
                         kCheckpointSuffix);
}

// The position a checkpoint file's name carries, or nullopt for any other
// name (a temporary file of WriteFileAtomically included).
std::optional<uint64_t> CheckpointLsn(std::string_view name) {
  if (name.size() != kCheckpointPrefix.size() + 16 + kCheckpointSuffix.size() ||
      name.substr(0, kCheckpointPrefix.size()) != kCheckpointPrefix ||
      name.substr(name.size() - kCheckpointSuffix.size()) !=
          kCheckpointSuffix) {
    return std::nullopt;
  }
  uint64_t lsn = 0;
  const std::string_view hex = name.substr(kCheckpointPrefix.size(), 16);
  if (!absl::SimpleHexAtoi(absl::string_view(hex.data(), hex.size()), &lsn)) {
    return std::nullopt;
  }
  return lsn;
}

// The checkpoints in `dir`, by position, oldest first.
absl::StatusOr<std::vector<uint64_t>> ListCheckpoints(const std::string& dir) {
  std::vector<uint64_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (std::optional<uint64_t> lsn =
            CheckpointLsn(entry.path().filename().string())) {
      found.push_back(*lsn);
    }
  }
  if (error) {
    return absl::ErrnoToStatus(error.value(), Cat("list ", dir));
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string EncodeIdentity(const Durability::Identity& identity) {
  std::string out(kIdentityMagic);
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>(kIdentityVersion >> (8 * i)));
  }
  AppendU64(identity.seed, &out);
  AppendU64(identity.account.hi, &out);
  AppendU64(identity.account.lo, &out);
  AppendU64(identity.opened, &out);
  const uint32_t crc = Crc32c(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  return out;
}

absl::StatusOr<Durability::Identity> DecodeIdentity(std::string_view bytes,
                                                    const std::string& path) {
  auto crc_at = [&bytes](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      v |= uint32_t{static_cast<uint8_t>(bytes[at + i])} << (8 * i);
    }
    return v;
  };
  if (bytes.size() != kIdentityBytes ||
      bytes.substr(0, kIdentityMagic.size()) != kIdentityMagic ||
      crc_at(kIdentityBytes - 4) !=
          Crc32c(bytes.substr(0, kIdentityBytes - 4))) {
    return absl::DataLossError(Cat(path, ": damaged store identity"));
  }
  if (crc_at(8) != kIdentityVersion) {
    return absl::FailedPreconditionError(Cat(path, ": identity version ",
                                             std::to_string(crc_at(8)),
                                             " is not supported"));
  }
  Durability::Identity identity;
  identity.seed = GetU64(bytes.substr(12));
  identity.account = GetSid(bytes.substr(20));
  identity.opened = GetU64(bytes.substr(36));
  return identity;
}

JournalSync ToJournalSync(SyncPolicy policy) {
  switch (policy) {
    case SyncPolicy::kEveryWrite:
      return JournalSync::kEveryWrite;
    case SyncPolicy::kInterval:
      return JournalSync::kInterval;
    case SyncPolicy::kOs:
      return JournalSync::kOs;
  }
  return JournalSync::kInterval;
}

JournalOptions MakeJournalOptions(const StoreOptions& options,
                                  JournalFiles* files) {
  JournalOptions out;
  out.dir = options.data_dir;
  out.sync = ToJournalSync(options.sync);
  out.sync_interval_ms =
      std::max<int64_t>(1, absl::ToInt64Milliseconds(options.sync_interval));
  out.files = files;
  // A lane for each shard and one for the Service registry
  // (StoreImpl::ServiceLane).
  out.lanes = static_cast<size_t>(std::max(1, options.shards)) + 1;
  return out;
}

}  // namespace

void AppendU64(uint64_t v, std::string* out) {
  // One append, not eight push_backs: every change writes at least three.
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(v >> (8 * i));
  out->append(bytes, sizeof(bytes));
}

void AppendChangeHeader(const ChangeHeader& header, std::string* out) {
  AppendU64(header.sids_minted, out);
  AppendU64(header.next_seq, out);
}

void AppendSidBytes(const Sid128& sid, std::string* out) {
  AppendU64(sid.hi, out);
  AppendU64(sid.lo, out);
}

uint64_t& ThreadJournalLsn() {
  thread_local uint64_t lsn = 0;
  return lsn;
}

Durability::Durability(const StoreOptions& options, JournalFiles* files)
    : dir_(options.data_dir),
      journal_options_(MakeJournalOptions(options, files)),
      recovery_(options.recovery == RecoveryMode::kPointInTime
                    ? JournalRecovery::kPointInTime
                    : JournalRecovery::kTolerateTornTail),
      checkpoint_min_bytes_(static_cast<uint64_t>(
          std::max<int64_t>(0, options.checkpoint_min_bytes))),
      checkpoint_growth_percent_(
          std::max(0, options.checkpoint_growth_percent)) {}

Durability::~Durability() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(thread_mu_);
      stop_ = true;
    }
    thread_cv_.notify_one();
    thread_.join();
  }
  journal_.reset();                    // Writes and syncs what is buffered.
  if (lock_fd_ >= 0) close(lock_fd_);  // Releases the flock.
}

absl::StatusOr<std::unique_ptr<Durability>> Durability::Open(
    const StoreOptions& options, JournalFiles* files) {
  std::unique_ptr<Durability> d(new Durability(options, files));
  const std::string& dir = d->dir_;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, Cat("mkdir ", dir));
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    return absl::ErrnoToStatus(errno, Cat("stat ", dir));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        Cat("StoreOptions::data_dir ", dir, " is not a directory"));
  }
  const std::string lock_path = PathIn(dir, kLockFile);
  d->lock_fd_ = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (d->lock_fd_ < 0) {
    return absl::ErrnoToStatus(errno, Cat("open ", lock_path));
  }
  if (flock(d->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          Cat(dir, " is in use by another store"));
    }
    return absl::ErrnoToStatus(errno, Cat("flock ", lock_path));
  }

  const std::string identity_path = PathIn(dir, kIdentityFile);
  absl::StatusOr<std::string> bytes = ReadFile(identity_path);
  if (bytes.ok()) {
    absl::StatusOr<Identity> identity = DecodeIdentity(*bytes, identity_path);
    if (!identity.ok()) return identity.status();
    d->identity_ = *identity;
    ++d->identity_.opened;
    if (options.seed.has_value() && *options.seed != identity->seed) {
      return absl::FailedPreconditionError(
          Cat(dir, " belongs to a store with another seed"));
    }
    if (!options.account_sid.empty() &&
        ParseSid("AC", options.account_sid) != identity->account) {
      return absl::FailedPreconditionError(
          Cat(dir, " belongs to account ", FormatSid("AC", identity->account),
              ", not ", options.account_sid));
    }
    // Counted before the store mints anything, so no two openings ever
    // mint under one key.
    if (absl::Status s =
            WriteFileAtomically(identity_path, EncodeIdentity(d->identity_));
        !s.ok()) {
      return s;
    }
  } else if (absl::IsNotFound(bytes.status())) {
    // A new directory: the store's identity is fixed now, for its life.
    Identity identity;
    identity.seed = options.seed.value_or(SidGenerator::RandomSeed());
    if (options.account_sid.empty()) {
      identity.account = SidGenerator(identity.seed ^ 0xac0c0u).Next();
    } else {
      std::optional<Sid128> account = ParseSid("AC", options.account_sid);
      if (!account) {
        return absl::InvalidArgumentError(
            "StoreOptions::account_sid must be AC + 32 hex digits");
      }
      identity.account = *account;
    }
    if (absl::Status s =
            WriteFileAtomically(identity_path, EncodeIdentity(identity));
        !s.ok()) {
      return s;
    }
    d->identity_ = identity;
  } else {
    return bytes.status();
  }
  return d;
}

absl::Status Durability::Recover(DurableStore& store) {
  store_ = &store;
  absl::StatusOr<std::vector<uint64_t>> checkpoints = ListCheckpoints(dir_);
  if (!checkpoints.ok()) return checkpoints.status();
  uint64_t from = 1;
  ChangeHeader seen;
  if (!checkpoints->empty()) {
    from = checkpoints->back();
    const std::string path = PathIn(dir_, CheckpointName(from));
    // The journal before it was removed when it was written: there is
    // nothing older to fall back to, and an error fails the Open.
    absl::StatusOr<std::unique_ptr<SnapshotReader>> reader =
        SnapshotReader::OpenFile(path, SnapshotRulesOfTheStore());
    if (!reader.ok()) return reader.status();
    last_checkpoint_bytes_.store((*reader)->size(), std::memory_order_relaxed);
    if ((*reader)->account() != identity_.account) {
      return (*reader)->Refuse(
          absl::DataLossError("a checkpoint of another account"));
    }
    seen.sids_minted = (*reader)->sids_minted();
    seen.next_seq = (*reader)->next_seq();
    if (absl::Status s = store.RestoreSnapshot(**reader); !s.ok()) return s;
  }
  if (absl::Status s = Replay(store, from, &seen); !s.ok()) return s;
  store.ContinuePast(seen);
  return absl::OkStatus();
}

absl::Status ApplyJournalRecord(DurableStore& store,
                                const JournalRecord& record,
                                ChangeHeader* seen) {
  const SnapshotRules& rules = SnapshotRulesOfTheStore();
  auto damaged = [&record](std::string_view what) {
    return absl::DataLossError(
        Cat("journal record ", std::to_string(record.lsn), " ", what));
  };
  std::string_view payload = record.payload;
  if (static_cast<RecordType>(record.type) == RecordType::kSessionInteraction) {
    if (payload.size() != 24) return damaged("has the wrong length");
    store.ApplySessionInteraction(
        GetSid(payload), static_cast<int64_t>(GetU64(payload.substr(16))));
    return absl::OkStatus();
  }
  if (payload.size() < kHeaderBytes) return damaged("is too short");
  seen->sids_minted = std::max(seen->sids_minted, GetU64(payload));
  seen->next_seq = std::max(seen->next_seq, GetU64(payload.substr(8)));
  payload.remove_prefix(kHeaderBytes);
  switch (static_cast<RecordType>(record.type)) {
    case RecordType::kServicePut: {
      ServiceImage service;
      if (absl::Status s = ParseServiceImage(payload, rules, &service);
          !s.ok()) {
        return damaged(ViewOf(s.message()));
      }
      return store.ApplyServicePut(service);
    }
    case RecordType::kServiceDelete:
      if (payload.size() != 16) return damaged("has the wrong length");
      store.ApplyServiceDelete(GetSid(payload));
      return absl::OkStatus();
    case RecordType::kSessionPut: {
      SessionImage session;
      if (absl::Status s = ParseSessionImage(payload, rules, &session);
          !s.ok()) {
        return damaged(ViewOf(s.message()));
      }
      return store.ApplySessionPut(session);
    }
    case RecordType::kSessionInteraction:
      break;  // Above: it has no change header.
    case RecordType::kSessionDelete:
      if (payload.size() != 32) return damaged("has the wrong length");
      store.ApplySessionDelete(GetSid(payload), GetSid(payload.substr(16)));
      return absl::OkStatus();
    case RecordType::kMessageInteraction: {
      if (payload.size() < 16) return damaged("is too short");
      InteractionImage interaction;
      if (absl::Status s =
              ParseInteractionImage(payload.substr(16), &interaction);
          !s.ok()) {
        return damaged(ViewOf(s.message()));
      }
      store.ApplyMessage(GetSid(payload), interaction);
      return absl::OkStatus();
    }
    case RecordType::kInteractionDelete:
      if (payload.size() != 32) return damaged("has the wrong length");
      store.ApplyInteractionDelete(GetSid(payload), GetSid(payload.substr(16)));
      return absl::OkStatus();
  }
  return damaged(Cat("has an unknown type ", std::to_string(record.type)));
}

absl::StatusOr<uint64_t> Durability::ReadChanges(
    uint64_t from_lsn,
    absl::FunctionRef<absl::Status(const JournalRecord&)> fn) const {
  // A record being written reads as a torn tail: the feed stops before it.
  return ReadJournal(journal_options_, from_lsn,
                     JournalRecovery::kTolerateTornTail, fn);
}

absl::StatusOr<std::pair<std::string, uint64_t>> Durability::LatestCheckpoint()
    const {
  absl::StatusOr<std::vector<uint64_t>> checkpoints = ListCheckpoints(dir_);
  if (!checkpoints.ok()) return checkpoints.status();
  if (checkpoints->empty()) {
    return absl::NotFoundError(Cat(dir_, " holds no checkpoint yet"));
  }
  return std::make_pair(PathIn(dir_, CheckpointName(checkpoints->back())),
                        checkpoints->back());
}

absl::Status Durability::Replay(DurableStore& store, uint64_t from_lsn,
                                ChangeHeader* seen) {
  auto apply = [&](const JournalRecord& record) {
    return ApplyJournalRecord(store, record, seen);
  };
  absl::StatusOr<uint64_t> next =
      RecoverJournal(journal_options_, from_lsn, recovery_, apply);
  if (!next.ok()) return next.status();
  absl::StatusOr<std::unique_ptr<JournalWriter>> writer =
      JournalWriter::Open(journal_options_, *next);
  if (!writer.ok()) return writer.status();
  journal_ = *std::move(writer);
  journal_at_checkpoint_.store(journal_->bytes_taken(),
                               std::memory_order_relaxed);
  thread_ = std::thread([this] { RunCheckpoints(); });
  return absl::OkStatus();
}

absl::Status Durability::health() const {
  return journal_ == nullptr ? absl::OkStatus() : journal_->status();
}

absl::Status Durability::Acknowledge() {
  uint64_t& lsn = ThreadJournalLsn();
  const uint64_t wait_for = lsn;
  lsn = 0;
  absl::Status s = journal_->WaitDurable(wait_for);
  if (s.ok()) MaybeStartCheckpoint();
  return s;
}

void Durability::MaybeStartCheckpoint() {
  const uint64_t taken = journal_->bytes_taken();
  const uint64_t at_checkpoint =
      journal_at_checkpoint_.load(std::memory_order_relaxed);
  // A checkpoint that began after `taken` was read: it is not due.
  if (taken < at_checkpoint) return;
  const uint64_t grown = taken - at_checkpoint;
  if (grown < checkpoint_min_bytes_) return;
  const uint64_t ratio_bytes =
      last_checkpoint_bytes_.load(std::memory_order_relaxed) *
      static_cast<uint64_t>(checkpoint_growth_percent_) / 100;
  if (grown < ratio_bytes) return;
  if (pending_.exchange(true, std::memory_order_acq_rel)) return;
  {
    std::lock_guard<std::mutex> l(thread_mu_);
    wanted_ = true;
  }
  thread_cv_.notify_one();
}

void Durability::RunCheckpoints() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(thread_mu_);
      thread_cv_.wait(l, [this] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
    }
    // A failed automatic checkpoint leaves the journal longer; the next
    // change asks again.
    (void)Checkpoint();
    pending_.store(false, std::memory_order_release);
  }
}

absl::Status Durability::Checkpoint() {
  std::lock_guard<std::mutex> l(checkpoint_mu_);
  if (absl::Status s = journal_->status(); !s.ok()) return s;
  journal_at_checkpoint_.store(journal_->bytes_taken(),
                               std::memory_order_relaxed);
  // Every change before `from` is in the copy below: a Session change was
  // applied before its record took its LSN, and a Service change's record
  // and its application both happen under the registry lock, which the
  // copy of the registry takes. Replaying from `from` brings the rest.
  absl::StatusOr<uint64_t> from = journal_->Roll();
  if (!from.ok()) return from.status();
  const std::string path = PathIn(dir_, CheckpointName(*from));
  // The copy may hold changes made after the roll whose records are still
  // buffered (kInterval, kOs). They are made durable before the file takes
  // its name: otherwise a crash could lose an earlier change the copy lacks
  // (its Session was copied first) while the copy keeps a later one.
  absl::StatusOr<uint64_t> size =
      store_->WriteCheckpointFile(path, [this] { return journal_->Flush(); });
  if (!size.ok()) return size.status();
  last_checkpoint_bytes_.store(*size, std::memory_order_relaxed);
  absl::StatusOr<std::vector<uint64_t>> checkpoints = ListCheckpoints(dir_);
  if (!checkpoints.ok()) return checkpoints.status();
  for (uint64_t lsn : *checkpoints) {
    if (lsn >= *from) continue;
    std::error_code error;
    std::filesystem::remove(PathIn(dir_, CheckpointName(lsn)), error);
  }
  return journal_->RemoveSegmentsBefore(*from);
}

}  // namespace sessionwheel::internal
