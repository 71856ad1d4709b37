// Durability: a store kept in a data directory, as the latest checkpoint
// plus a write-ahead journal of every acknowledged change after it.
//
// The directory (StoreOptions::data_dir) holds
//
//   LOCK                        flock()ed while a store has it open
//   IDENTITY                    the store's seed and account, written once
//   checkpoint-<LSN>.snap       the whole store, in the snapshot format, as
//                               of journal position LSN (the newest wins)
//   journal-<LSN>.log           journal segments (engine/persist/journal.h)
//
// Every change a caller is told succeeded is a journal record first: the
// shard appends it under its own lock, so a Session's records are in the
// order its changes were applied, and the store waits for the record to be
// as durable as the sync policy asks before it returns
// (ThreadJournalLsn(), Durability::Acknowledge()). A record carries the
// whole state after the change (a Session's image, a Service's image, or
// the SIDs of what was deleted), so applying it twice changes nothing.
// Expiries and purges are not journaled: they follow from the state and the
// clock, and recovery derives them as OpenSnapshot does.
//
// Checkpoints are fuzzy: the journal rolls to a new segment at position P,
// then the shards are copied one at a time while changes go on. Every change
// before P is in the copy; changes after P may or may not be, and replaying
// the journal from P over the copy ends in the state the store had, because
// each record sets what it names to its state after the change. That holds
// only if the journal keeps every change the copy holds: under kInterval
// and kOs a change copied may still be in the journal's buffer, and a crash
// that lost it would leave the checkpoint with a later change and without
// an earlier one (on a Session copied before it). So the journal is flushed
// after the copy and before the checkpoint file takes its name. Then the
// segments before P and older checkpoints are removed.
//
// Recovery: the newest checkpoint is loaded (a damaged one is DataLoss: the
// journal before it is gone), the journal from its position is applied, the
// SID generator and the creation counter continue past everything seen, and
// a new segment is opened for writing. Due expiries and purges are then
// applied as after OpenSnapshot: no listener exists yet, so none is heard.
//
// docs/durability.md is the host engineer's guide: what each sync policy
// loses in a crash and what it costs.

#ifndef SESSIONWHEEL_ENGINE_CORE_DURABILITY_H_
#define SESSIONWHEEL_ENGINE_CORE_DURABILITY_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/persist/journal.h"
#include "engine/persist/snapshot.h"
#include "engine/util/sid.h"
#include "sessionwheel/store.h"

namespace sessionwheel::internal {

// What a journal record holds. The numbers are the records' type bytes:
// never renumber them.
enum class RecordType : uint8_t {
  kServicePut = 1,     // ChangeHeader, then a ServiceImage.
  kServiceDelete = 2,  // ChangeHeader, then the Service's SID.
  kSessionPut = 3,     // ChangeHeader, then a SessionImage.
  kSessionDelete = 4,  // ChangeHeader, then the Service's and Session's SIDs.
  // The Session's SID, then the interaction's time (8 bytes, Unix ms),
  // and no ChangeHeader: an interaction mints no SID and creates nothing.
  // The state after an interaction in 41 bytes with the record's header,
  // where a kSessionPut takes 154: in progress, not ended, and its last
  // interaction, date_updated and TTL base all at that time; nothing else
  // changes (docs/durability.md).
  kSessionInteraction = 5,
  // ChangeHeader, the Session's SID, then an InteractionImage: a message
  // to a Participant, which is also the Session's interaction at the
  // Interaction's time (as kSessionInteraction).
  kMessageInteraction = 6,
  // ChangeHeader, the Session's SID, then the Interaction's.
  kInteractionDelete = 7,
};

// What starts every record but an interaction's: the SID generator's count
// and the next creation number when it was written, so recovery continues
// past every SID and number it has seen, seeded or not.
struct ChangeHeader {
  uint64_t sids_minted = 0;
  uint64_t next_seq = 0;
};
void AppendChangeHeader(const ChangeHeader& header, std::string* out);
// Little-endian, as every number in a record.
void AppendU64(uint64_t v, std::string* out);
void AppendSidBytes(const Sid128& sid, std::string* out);

// The journal position of the last change this thread journaled, or 0. A
// shard sets it under its lock; the store reads it after the shard call
// returns and waits for it (Durability::Acknowledge), outside every lock.
uint64_t& ThreadJournalLsn();

// What recovery and checkpoints need of a store; the store implements it.
class DurableStore {
 public:
  virtual ~DurableStore() = default;
  // Loads a checkpoint into the new, empty store, reading `reader` to its
  // end; on an error the store is to be thrown away.
  virtual absl::Status RestoreSnapshot(SnapshotReader& reader) = 0;
  // Applies one journal record's change, as it was applied before the
  // crash; a record for something that is gone is skipped (a later record
  // removed it). Limits never refuse it.
  virtual absl::Status ApplyServicePut(const ServiceImage& image) = 0;
  virtual void ApplyServiceDelete(const Sid128& service) = 0;
  virtual absl::Status ApplySessionPut(const SessionImage& image) = 0;
  virtual void ApplySessionInteraction(const Sid128& session,
                                       int64_t at_ms) = 0;
  virtual void ApplySessionDelete(const Sid128& service,
                                  const Sid128& session) = 0;
  virtual void ApplyMessage(const Sid128& session,
                            const InteractionImage& image) = 0;
  virtual void ApplyInteractionDelete(const Sid128& session,
                                      const Sid128& interaction) = 0;
  // Continues the SID generator and the creation counter past these.
  virtual void ContinuePast(const ChangeHeader& seen) = 0;
  // Writes the whole store to a checkpoint file while it keeps serving (a
  // slice at a time), calls `before_commit` once the copy is complete and
  // before the file takes its name, and returns the file's size. An error
  // from `before_commit` is returned and leaves no file.
  virtual absl::StatusOr<uint64_t> WriteCheckpointFile(
      const std::string& path,
      absl::FunctionRef<absl::Status()> before_commit) = 0;
};

// Applies one journal record to `store` and raises *seen past its header:
// recovery's step, and a follower's (SessionStore::ApplyChange). Errors:
// the store's; DataLoss for a record that does not parse.
absl::Status ApplyJournalRecord(DurableStore& store,
                                const JournalRecord& record,
                                ChangeHeader* seen);

class Durability {
 public:
  // What the directory keeps about the store for its whole life.
  struct Identity {
    uint64_t seed = 0;
    Sid128 account;
    // How many times the directory was opened before this time.
    uint64_t opened = 0;
  };

  // Opens `options.data_dir`: creates it if missing, locks it, and reads
  // its identity, or writes one (from options.seed and account_sid, or new)
  // if the directory is new. `files` null: the real file system.
  // Errors: FailedPrecondition if another store has the directory open or
  // if options.seed or account_sid disagree with the identity; DataLoss for
  // a damaged identity; the errno of a failed call otherwise.
  static absl::StatusOr<std::unique_ptr<Durability>> Open(
      const StoreOptions& options, JournalFiles* files = nullptr);
  ~Durability();

  const Identity& identity() const { return identity_; }

  // What the store mixes into the key it mints SIDs under: 0 the first
  // time the directory is opened, so a new seeded store mints as one in
  // memory does, and new for each later time. The journal's records say how
  // many SIDs were minted, but not those minted for changes a crash lost
  // (under kInterval, changes acknowledged before their sync): minting on
  // under the same key would hand those SIDs out again.
  uint64_t MintSalt() const { return identity_.opened * 0x9e3779b97f4a7c15ULL; }

  // Loads the newest checkpoint and the journal after it into `store` (new
  // and empty, opened with identity()'s seed and account), then opens the
  // journal for writing and starts automatic checkpoints. `store` must
  // outlive this object.
  absl::Status Recover(DurableStore& store);

  // The journal the shards append to; null before Recover().
  JournalWriter* journal() const { return journal_.get(); }

  // Waits until this thread's last journaled change is as durable as the
  // sync policy asks. Errors: once a journal write or sync has failed, that
  // error, for this and every later change (the store refuses changes
  // rather than acknowledge one it could not make durable).
  absl::Status Acknowledge();

  // The journal's error, if a write or sync failed: changes are refused.
  absl::Status health() const;

  // Writes a checkpoint now, then removes what it makes obsolete.
  absl::Status Checkpoint();

  // Writes and syncs the journal (SessionStore::FlushJournal).
  absl::Status FlushJournal() {
    return journal_ == nullptr ? absl::OkStatus() : journal_->Flush();
  }

  // The change feed (SessionStore::ReadChanges).
  absl::StatusOr<uint64_t> ReadChanges(
      uint64_t from_lsn,
      absl::FunctionRef<absl::Status(const JournalRecord&)> fn) const;

  // The newest checkpoint's path and position; NotFound if none.
  absl::StatusOr<std::pair<std::string, uint64_t>> LatestCheckpoint() const;

 private:
  Durability(const StoreOptions& options, JournalFiles* files);

  absl::Status Replay(DurableStore& store, uint64_t from_lsn,
                      ChangeHeader* seen);
  // Starts a checkpoint on the background thread if the journal has grown
  // past the thresholds.
  void MaybeStartCheckpoint();
  void RunCheckpoints();

  const std::string dir_;
  const JournalOptions journal_options_;
  const JournalRecovery recovery_;
  const uint64_t checkpoint_min_bytes_;
  const int checkpoint_growth_percent_;
  Identity identity_;
  int lock_fd_ = -1;
  DurableStore* store_ = nullptr;
  std::unique_ptr<JournalWriter> journal_;

  // Checkpoints, one at a time.
  std::mutex checkpoint_mu_;
  std::atomic<uint64_t> last_checkpoint_bytes_{0};  // Its file's size.
  // The journal's bytes_taken() when the last checkpoint began.
  std::atomic<uint64_t> journal_at_checkpoint_{0};

  // The automatic checkpoint thread.
  std::mutex thread_mu_;
  std::condition_variable thread_cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::atomic<bool> pending_{false};
  std::thread thread_;
};

// Opens a durable store (StoreOptions::data_dir set) whose files go
// through `files` (null: the real file system), so tests can fail writes.
// SessionStore::Open() calls it with null.
absl::StatusOr<std::unique_ptr<SessionStore>> OpenDurableStore(
    const StoreOptions& options, JournalFiles* files);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_CORE_DURABILITY_H_
