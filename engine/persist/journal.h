// The write-ahead journal: opaque records, each with a log sequence number
// (LSN), appended to segment files in a directory, made durable by a sync
// policy, and read back in LSN order to recover a store or to feed changes.
//
// The store encodes its changes into the payloads; to this layer they are
// bytes with a one-byte `type`. LSNs are consecutive: every record's is the
// previous one's plus one, across segments, so a reader can tell a lost
// record from the end of the journal. docs/journal.md has the file format,
// the recovery rules and the crash cases.
//
// Example:
//
//   JournalOptions options;
//   options.dir = "/var/lib/rides/journal";  // must exist
//   options.sync = JournalSync::kEveryWrite;
//   // Recover: replay what survived, cut a torn tail, learn the next LSN.
//   absl::StatusOr<uint64_t> next = RecoverJournal(
//       options, checkpoint_lsn, JournalRecovery::kTolerateTornTail,
//       [&](const JournalRecord& r) { return Apply(r.type, r.payload); });
//   absl::StatusOr<std::unique_ptr<JournalWriter>> journal =
//       JournalWriter::Open(options, *next);
//   ...
//   uint64_t lsn;
//   {
//     MutexLock l(&shard_mu);  // the caller's own lock: Append never blocks
//     lsn = (*journal)->Append(kCreateSession, image_bytes, shard_index);
//   }
//   absl::Status durable = (*journal)->WaitDurable(lsn);  // group commit

#ifndef SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_H_
#define SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/persist/journal_files.h"
#include "engine/persist/journal_format.h"

namespace sessionwheel::internal {

// When an appended record reaches the disk.
enum class JournalSync {
  // WaitDurable(lsn) returns once the record is written and fdatasync'd.
  // Threads waiting together share one fdatasync (group commit). Safest;
  // each wait costs a sync's latency. No background thread.
  kEveryWrite,
  // A background thread writes the records within a few milliseconds and
  // fdatasyncs every sync_interval_ms: a power cut loses at most about that
  // much; a crash of the process alone loses only the last milliseconds.
  kInterval,
  // As kInterval, but the thread never syncs: the OS writes back when it
  // likes (Linux: within ~30 s). Survives a process crash, not a power cut.
  // (Under every policy a segment is synced as it is closed, and Flush and
  // Roll sync.)
  kOs,
};

// What a reader does with damage it finds.
enum class JournalRecovery {
  // A record that is incomplete or fails its CRC at the very end of the last
  // segment, with nothing valid after it, is a write the crash cut short:
  // reading stops before it. Any other damage is DataLoss.
  kTolerateTornTail,
  // Reading stops at the first damaged record or missing LSN anywhere, and
  // returns what came before: the store as it was at that point. For disks
  // that may lose or reorder writes a sync promised (caches without power
  // loss protection).
  kPointInTime,
};

struct JournalOptions {
  // The directory of the segment files. It must exist; it may hold other
  // files, which the journal ignores.
  std::string dir;
  // Safety against the cost per write; see JournalSync.
  JournalSync sync = JournalSync::kInterval;
  // kInterval's period: longer syncs less often and loses more to a power
  // cut. Must be positive for kInterval.
  int64_t sync_interval_ms = 1000;
  // A segment is closed and a new one begun once it passes this size (at a
  // record boundary). Larger: fewer files; smaller: finer removal after a
  // checkpoint, and less to read per file.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // The file system; null means PosixJournalFiles(). Tests inject faults.
  JournalFiles* files = nullptr;
  // How many appenders can append at once without meeting: each lane has
  // a buffer and a lock of its own, and only the LSN counter is shared. A
  // store gives each shard a lane, so shards journal as independently as
  // they change. Records still reach the files in LSN order: each write
  // round merges the lanes.
  size_t lanes = 1;
};

// Calls `fn` for every whole record with an LSN at or after `from_lsn`, in
// LSN order across the segments of options.dir, and returns the next LSN:
// one past the last good record, and never below from_lsn (from_lsn when
// there is none). `record.payload` is valid only during the call. Reads each
// segment whole into memory (at most segment_bytes plus one record); skips,
// without reading them, the segments wholly before from_lsn. Never modifies
// a file, so a change feed may read while a writer appends (it then sees a
// record being written as a torn tail, and stops before it).
//
// Errors: `fn`'s own error, which stops the reading; OutOfRange when the
// oldest segment begins after from_lsn (those records were removed, or never
// written); DataLoss, naming the file and the offset, for damage that `mode`
// does not tolerate (see JournalRecovery and docs/journal.md): a bad record
// that is not the torn tail, an LSN out of sequence, a bad segment header;
// FailedPrecondition for a segment of a newer format version; a file
// system error as JournalFiles reports it (NotFound when the directory is
// missing, or when a writer removes a segment under a reader: retry).
absl::StatusOr<uint64_t> ReadJournal(
    const JournalOptions& options, uint64_t from_lsn, JournalRecovery mode,
    absl::FunctionRef<absl::Status(const JournalRecord&)> fn);

// ReadJournal, then repairs what it stopped at so that a JournalWriter can
// be opened at the returned LSN: truncates the segment where reading
// stopped to its last good record; removes a last segment left with no
// record (a torn header, or a torn first record); and in kPointInTime
// renames every later segment to `<name>.corrupt`, which readers ignore and
// an operator may inspect. Nothing is changed when reading fails. Call it
// with no writer open on the directory.
//
// Errors: as ReadJournal, plus the file system's from the repair.
absl::StatusOr<uint64_t> RecoverJournal(
    const JournalOptions& options, uint64_t from_lsn, JournalRecovery mode,
    absl::FunctionRef<absl::Status(const JournalRecord&)> fn);

// Appends records to the journal. Safe for concurrent use without external
// locking: any number of threads may append, wait, flush and roll at once.
//
// Appends go to the in-memory buffer of the caller's lane, under that
// lane's own short lock, and take their LSN from a shared atomic counter.
// The bytes reach the file when a thread runs a write round (the background
// thread of kInterval and kOs, a WaitDurable of kEveryWrite, Flush, Roll,
// the destructor): it reads the counter, takes every lane's buffer, merges
// the records below what it read in LSN order (those after wait for the
// next round), and does the I/O without any lock, so appenders never wait
// for the disk but in one case: when a lane falls its share of 64 MiB
// behind under kInterval or kOs, Append waits for the background thread to
// catch up, so memory stays bounded.
//
// The first write or sync error fails the journal for good: every later
// WaitDurable, Flush and Roll returns that error, nothing is acknowledged
// durable after it, and no further byte is written (a record half written
// may remain at the end of the file; recovery cuts it). The error keeps the
// failing call's code and message, so the errno and the file's path: with
// PosixJournalFiles, ResourceExhausted for ENOSPC, Unknown for EIO.
class JournalWriter {
 public:
  // Starts a new segment file, `journal-<next_lsn>.log`, whose first record
  // will be `next_lsn`; records before it are in older segments or in a
  // checkpoint. Pass what RecoverJournal returned.
  //
  // Errors: InvalidArgument for options out of range (an empty dir, a zero
  // segment_bytes, kInterval with a sync_interval_ms below 1);
  // FailedPrecondition when options.dir already holds a segment starting at
  // or after next_lsn (run RecoverJournal first); the file system's error
  // when the directory cannot be listed or the file created.
  static absl::StatusOr<std::unique_ptr<JournalWriter>> Open(
      const JournalOptions& options, uint64_t next_lsn);

  // Writes and syncs what is buffered (errors ignored) and stops the
  // background thread. No call may be running or start.
  virtual ~JournalWriter() = default;

  // Appends a record to `lane` (taken modulo options.lanes) and returns its
  // LSN, one past the LSN any Append returned before. Cheap enough to call
  // under the caller's own lock: a copy into a reused buffer under the
  // lane's lock, no system call and, in the steady state, no allocation;
  // it never calls back. Callers that exclude one another already should
  // share a lane; others should not. A payload over kMaxJournalPayloadBytes
  // is a caller's bug: it fails the journal with InvalidArgument (the LSN
  // is used up). Once the journal has failed, records are dropped.
  uint64_t Append(uint8_t type, std::string_view payload, size_t lane = 0) {
    return AppendWith(lane, type,
                      [payload](std::string* out) { out->append(payload); });
  }

  // As Append, with the payload written by `write_payload`, which appends
  // it to the string it is given (and must do nothing else to it), so the
  // caller encodes straight into the lane's buffer with no temporary. It
  // runs under the lane's lock: it must not call the writer.
  virtual uint64_t AppendWith(
      size_t lane, uint8_t type,
      absl::FunctionRef<void(std::string*)> write_payload) = 0;

  // kEveryWrite: returns once record `lsn` (and every one before it) is
  // written and fdatasync'd. The first waiting thread writes everything
  // buffered and syncs once; those that arrive meanwhile wait, and the next
  // of them does the same for all of them. kInterval, kOs: returns at once.
  //
  // Errors: the journal's error once it has failed, under every policy;
  // InvalidArgument for an LSN not yet appended.
  virtual absl::Status WaitDurable(uint64_t lsn) = 0;

  // Writes and syncs everything appended before the call, whatever the
  // policy. Errors: the journal's error.
  virtual absl::Status Flush() = 0;

  // Ends the current segment after what is appended so far and begins a new
  // one, then flushes both; returns the new segment's first LSN, so that a
  // checkpoint of everything before it may later let RemoveSegmentsBefore
  // delete the old ones. A current segment holding no record is kept, and
  // its first LSN returned. Errors: the journal's error.
  virtual absl::StatusOr<uint64_t> Roll() = 0;

  // Removes, oldest first, every segment all of whose records have an LSN
  // below `lsn`; never the segment being written. Does not fail the
  // journal. Errors: the file system's; the segments not yet removed stay
  // and a later call retries them.
  virtual absl::Status RemoveSegmentsBefore(uint64_t lsn) = 0;

  // The LSN the next Append will return.
  virtual uint64_t next_lsn() const = 0;

  // The bytes of the records appended since Open, their headers included
  // (not the segment headers). Takes every lane's lock.
  virtual uint64_t bytes_appended() const = 0;

  // The bytes of the records write rounds have taken from the lanes since
  // Open: bytes_appended() as of the last round, a few milliseconds behind
  // (under kEveryWrite, as of the last WaitDurable). One atomic load: the
  // trigger for an automatic checkpoint, read after every change.
  virtual uint64_t bytes_taken() const = 0;

  // OK, or the error that failed the journal. Takes no lock until it fails.
  virtual absl::Status status() const = 0;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_H_
