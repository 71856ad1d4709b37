// JournalWriter: the buffer, the I/O rounds that write it out, group commit,
// segment rolls and the background thread. ReadJournal and RecoverJournal
// are in journal_recovery.cc.

#include "engine/persist/journal.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

using Clock = std::chrono::steady_clock;

// The background thread writes the buffer out this often, or sooner once it
// holds kWriteSoonBytes: a process crash loses at most this much time, and
// each write(2) carries many records.
constexpr std::chrono::milliseconds kWritePeriod(2);
constexpr size_t kWriteSoonBytes = size_t{1} << 20;
// Past this, Append waits for the background thread (kInterval, kOs), so a
// disk that cannot keep up slows the appenders instead of exhausting memory.
constexpr size_t kMaxBufferedBytes = size_t{64} << 20;
// A buffer that grew past this in a burst is freed after its write, so a
// burst does not pin its memory for the writer's lifetime.
constexpr size_t kKeptBufferBytes = size_t{4} << 20;

// std::mutex with the annotations clang's -Wthread-safety checks, and waits
// on a std::condition_variable. (include/sessionwheel/internal/mutex.h wraps
// a pthread mutex, which no standard condition variable can wait on.)
class ABSL_LOCKABLE CvMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  void Wait(std::condition_variable* cv) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv->wait(lock);
    lock.release();  // Still held: the caller's to release.
  }

  void WaitUntil(std::condition_variable* cv, Clock::time_point deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv->wait_until(lock, deadline);
    lock.release();
  }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE CvMutexLock {
 public:
  explicit CvMutexLock(CvMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~CvMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  CvMutexLock(const CvMutexLock&) = delete;
  CvMutexLock& operator=(const CvMutexLock&) = delete;

 private:
  CvMutex* const mu_;
};

std::string SegmentPath(const std::string& dir, uint64_t first_lsn) {
  return Cat(dir, "/", SegmentFileName(first_lsn));
}

// Writes a new segment's header and makes it durable before any record
// follows it, so a header can be torn only in a segment that holds no
// record (docs/journal.md, the crash cases).
absl::Status WriteSegmentHeader(AppendFile* file, uint64_t first_lsn) {
  absl::Status s = file->Append(EncodeSegmentHeader(first_lsn));
  if (s.ok()) s = file->Sync();
  return s;
}

class Writer final : public JournalWriter {
 public:
  Writer(const JournalOptions& options, JournalFiles* files, uint64_t next_lsn,
         std::vector<uint64_t> segments, std::unique_ptr<AppendFile> file)
      : dir_(options.dir),
        sync_(options.sync),
        sync_interval_(options.sync_interval_ms),
        segment_limit_(options.segment_bytes),
        files_(files),
        next_lsn_(next_lsn),
        durable_lsn_(next_lsn),
        segment_bytes_(kSegmentHeaderBytes),
        segments_(std::move(segments)),
        file_(std::move(file)) {
    if (sync_ != JournalSync::kEveryWrite)
      thread_ = std::thread([this] { Run(); });
  }

  ~Writer() override {
    {
      CvMutexLock l(&mu_);
      stop_ = true;
    }
    wake_thread_.notify_all();
    if (thread_.joinable()) thread_.join();
    {
      CvMutexLock l(&mu_);
      while (io_busy_) mu_.Wait(&io_done_);
      if (status_.ok()) IoRound(/*sync=*/true);
    }
    if (file_ != nullptr) file_->Close().IgnoreError();
  }

  uint64_t Append(uint8_t type, std::string_view payload) override {
    return AppendWith(type,
                      [payload](std::string* out) { out->append(payload); });
  }

  uint64_t AppendWith(
      uint8_t type,
      absl::FunctionRef<void(std::string*)> write_payload) override {
    CvMutexLock l(&mu_);
    while (buffer_.size() >= kMaxBufferedBytes && status_.ok() &&
           sync_ != JournalSync::kEveryWrite) {
      write_soon_ = true;
      wake_thread_.notify_one();
      mu_.Wait(&io_done_);
    }
    const uint64_t lsn = next_lsn_++;
    if (!status_.ok()) return lsn;  // Nothing is written after a failure.
    // Rolled here, before the record that would be the first of the next
    // segment, so that a full segment with no record after it stays the
    // current one and no empty segment is ever created.
    if (segment_bytes_ >= segment_limit_ && segment_records_ > 0) {
      StartSegmentLocked(lsn);
    }
    const size_t start = buffer_.size();
    buffer_.resize(start + kRecordHeaderBytes);
    write_payload(&buffer_);
    const size_t payload_bytes = buffer_.size() - start - kRecordHeaderBytes;
    if (payload_bytes > kMaxJournalPayloadBytes) {
      buffer_.resize(start);
      Fail(absl::InvalidArgumentError(
          Cat("journal ", dir_, ": the record of LSN ", std::to_string(lsn),
              " has a payload of ", std::to_string(payload_bytes),
              " bytes, over the limit of ",
              std::to_string(kMaxJournalPayloadBytes))));
      return lsn;
    }
    EncodeRecordHeader(static_cast<uint32_t>(payload_bytes), type, lsn,
                       &buffer_[start]);
    const size_t record_bytes = buffer_.size() - start;
    segment_bytes_ += record_bytes;
    ++segment_records_;
    bytes_appended_ += record_bytes;
    if (buffer_.size() >= kWriteSoonBytes && !write_soon_ &&
        sync_ != JournalSync::kEveryWrite) {
      // Once per buffer, so that appenders make no system call otherwise.
      write_soon_ = true;
      wake_thread_.notify_one();
    }
    return lsn;
  }

  absl::Status WaitDurable(uint64_t lsn) override {
    CvMutexLock l(&mu_);
    if (lsn >= next_lsn_) {
      return absl::InvalidArgumentError(
          Cat("journal ", dir_, ": LSN ", std::to_string(lsn),
              " is not appended yet (the next is ", std::to_string(next_lsn_),
              ")"));
    }
    if (sync_ != JournalSync::kEveryWrite) return status_;
    // Group commit: a leader writes and syncs everything buffered without
    // the lock; the threads that wait meanwhile are covered by its sync or
    // the next leader's, so N waiting threads cost far fewer than N syncs.
    for (;;) {
      if (!status_.ok()) return status_;
      if (durable_lsn_ > lsn) return absl::OkStatus();
      if (io_busy_) {
        mu_.Wait(&io_done_);
      } else {
        IoRound(/*sync=*/true);
      }
    }
  }

  absl::Status Flush() override {
    CvMutexLock l(&mu_);
    return FlushLocked();
  }

  absl::StatusOr<uint64_t> Roll() override {
    CvMutexLock l(&mu_);
    if (!status_.ok()) return status_;
    const uint64_t first_lsn = next_lsn_;
    if (segment_records_ > 0) StartSegmentLocked(first_lsn);
    absl::Status flushed = FlushLocked();
    if (!flushed.ok()) return flushed;
    return first_lsn;
  }

  absl::Status RemoveSegmentsBefore(uint64_t lsn) override {
    std::vector<uint64_t> doomed;
    {
      CvMutexLock l(&mu_);
      // A segment is wholly before `lsn` when the next one starts at or
      // before it. The newest (the one being written) is never removed.
      size_t n = 0;
      while (n + 1 < segments_.size() && segments_[n + 1] <= lsn) ++n;
      doomed.assign(segments_.begin(), segments_.begin() + n);
      segments_.erase(segments_.begin(), segments_.begin() + n);
    }
    // Oldest first, so a crash midway leaves the rest contiguous.
    for (size_t i = 0; i < doomed.size(); ++i) {
      absl::Status s = files_->Remove(SegmentPath(dir_, doomed[i]));
      if (!s.ok()) {
        CvMutexLock l(&mu_);
        segments_.insert(segments_.begin(), doomed.begin() + i, doomed.end());
        return s;
      }
    }
    return absl::OkStatus();
  }

  uint64_t next_lsn() const override {
    CvMutexLock l(&mu_);
    return next_lsn_;
  }

  uint64_t bytes_appended() const override {
    CvMutexLock l(&mu_);
    return bytes_appended_;
  }

  absl::Status status() const override {
    CvMutexLock l(&mu_);
    return status_;
  }

 private:
  // A point in the buffer where a new segment begins.
  struct RollMark {
    size_t offset;
    uint64_t first_lsn;
  };

  // Ends the newest segment after what is buffered: the next record goes to
  // a new segment starting at `first_lsn`.
  void StartSegmentLocked(uint64_t first_lsn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    rolls_.push_back(RollMark{buffer_.size(), first_lsn});
    ++rolls_requested_;
    segment_bytes_ = kSegmentHeaderBytes;
    segment_records_ = 0;
  }

  absl::Status FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t target = next_lsn_;
    const uint64_t rolls = rolls_requested_;
    for (;;) {
      if (!status_.ok()) return status_;
      if (durable_lsn_ >= target && rolls_done_ >= rolls) {
        return absl::OkStatus();
      }
      if (io_busy_) {
        mu_.Wait(&io_done_);
      } else {
        IoRound(/*sync=*/true);
      }
    }
  }

  // The first error fails the journal for good.
  void Fail(const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!status_.ok()) return;
    status_ = absl::Status(
        error.code(),
        Cat("journal failed; no record from LSN ", std::to_string(durable_lsn_),
            " on is acknowledged: ", std::string(error.message())));
  }

  // Takes everything buffered, writes it (rolling segments where marked)
  // and, if `sync`, fdatasyncs, all without the lock; then publishes the
  // result. One round at a time (io_busy_); it owns the I/O members while
  // it runs. Called with the lock held and io_busy_ false; returns with it
  // held.
  void IoRound(bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    io_busy_ = true;
    io_buffer_.swap(buffer_);
    io_rolls_.swap(rolls_);
    const uint64_t end_lsn = next_lsn_;
    const uint64_t rolls_taken = rolls_requested_;
    write_soon_ = false;
    mu_.Unlock();
    absl::Status s = WriteTaken(sync);
    mu_.Lock();
    if (s.ok()) {
      if (sync) {
        durable_lsn_ = end_lsn;
      } else if (!io_rolls_.empty()) {
        // A segment is synced when it is closed.
        durable_lsn_ = std::max(durable_lsn_, io_rolls_.back().first_lsn);
      }
      rolls_done_ = rolls_taken;
      segments_.insert(segments_.end(), io_created_.begin(), io_created_.end());
    } else {
      Fail(s);
    }
    if (io_buffer_.capacity() > kKeptBufferBytes) {
      std::string().swap(io_buffer_);
    } else {
      io_buffer_.clear();
    }
    io_rolls_.clear();
    io_created_.clear();
    io_busy_ = false;
    io_done_.notify_all();
  }

  // The I/O of a round: no lock held, the I/O members owned.
  absl::Status WriteTaken(bool sync) {
    SealRecords(io_buffer_.data(), io_buffer_.size());
    const std::string_view taken = io_buffer_;
    size_t at = 0;
    for (const RollMark& mark : io_rolls_) {
      absl::Status s = WriteToFile(taken.substr(at, mark.offset - at));
      if (!s.ok()) return s;
      at = mark.offset;
      // Whole on disk before the next segment exists, so damage in a
      // segment that is not the last is never a crash's doing.
      if (file_dirty_) {
        s = file_->Sync();
        if (!s.ok()) return s;
        file_dirty_ = false;
      }
      s = file_->Close();
      file_.reset();
      if (!s.ok()) return s;
      absl::StatusOr<std::unique_ptr<AppendFile>> next =
          files_->Create(SegmentPath(dir_, mark.first_lsn));
      if (!next.ok()) return next.status();
      file_ = *std::move(next);
      io_created_.push_back(mark.first_lsn);
      s = WriteSegmentHeader(file_.get(), mark.first_lsn);
      if (!s.ok()) return s;
    }
    absl::Status s = WriteToFile(taken.substr(at));
    if (s.ok() && sync && file_dirty_) {
      s = file_->Sync();
      if (s.ok()) file_dirty_ = false;
    }
    return s;
  }

  absl::Status WriteToFile(std::string_view bytes) {
    if (bytes.empty()) return absl::OkStatus();
    file_dirty_ = true;
    return file_->Append(bytes);
  }

  // The background thread of kInterval and kOs: writes the buffer every
  // kWritePeriod, or as soon as an appender says it passed kWriteSoonBytes,
  // and for kInterval syncs every sync_interval_.
  void Run() {
    CvMutexLock l(&mu_);
    Clock::time_point next_sync = Clock::now() + sync_interval_;
    while (!stop_) {
      if (!status_.ok()) {
        mu_.Wait(&wake_thread_);  // Nothing more to write, ever.
        continue;
      }
      Clock::time_point deadline = Clock::now() + kWritePeriod;
      if (sync_ == JournalSync::kInterval) {
        deadline = std::min(deadline, next_sync);
      }
      while (!stop_ && !write_soon_ && Clock::now() < deadline) {
        mu_.WaitUntil(&wake_thread_, deadline);
      }
      if (stop_) break;
      if (io_busy_) {  // A Flush or Roll is writing; look again after it.
        mu_.Wait(&io_done_);
        continue;
      }
      const Clock::time_point now = Clock::now();
      const bool sync_due = sync_ == JournalSync::kInterval && now >= next_sync;
      if (sync_due) next_sync = now + sync_interval_;
      if (sync_due || !buffer_.empty() || !rolls_.empty()) IoRound(sync_due);
    }
  }

  // Constant after construction.
  const std::string dir_;
  const JournalSync sync_;
  const std::chrono::milliseconds sync_interval_;
  const uint64_t segment_limit_;
  JournalFiles* const files_;

  mutable CvMutex mu_;
  std::condition_variable io_done_;      // An I/O round ended.
  std::condition_variable wake_thread_;  // write_soon_ or stop_ was set.

  // Protected by mu_.
  std::string buffer_ ABSL_GUARDED_BY(mu_);           // Records not yet taken.
  std::vector<RollMark> rolls_ ABSL_GUARDED_BY(mu_);  // In buffer_.
  uint64_t next_lsn_ ABSL_GUARDED_BY(mu_);
  uint64_t durable_lsn_ ABSL_GUARDED_BY(mu_);  // Every LSN below is synced.
  // The newest segment's bytes and records, buffered ones included.
  uint64_t segment_bytes_ ABSL_GUARDED_BY(mu_);
  uint64_t segment_records_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rolls_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rolls_done_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_appended_ ABSL_GUARDED_BY(mu_) = 0;
  // The first LSNs of the segment files, oldest first; the last is the one
  // being written.
  std::vector<uint64_t> segments_ ABSL_GUARDED_BY(mu_);
  bool io_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool write_soon_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);

  // Owned by the thread running an I/O round (io_busy_ says which), read
  // and written only by it; the destructor's final round owns them last.
  std::unique_ptr<AppendFile> file_;
  bool file_dirty_ = false;  // Bytes appended to file_ since its last sync.
  std::string io_buffer_;
  std::vector<RollMark> io_rolls_;
  std::vector<uint64_t> io_created_;

  std::thread thread_;  // Last: started once everything else exists.
};

}  // namespace

absl::StatusOr<std::unique_ptr<JournalWriter>> JournalWriter::Open(
    const JournalOptions& options, uint64_t next_lsn) {
  if (options.dir.empty()) {
    return absl::InvalidArgumentError("journal: options.dir is empty");
  }
  if (options.segment_bytes == 0) {
    return absl::InvalidArgumentError("journal: options.segment_bytes is 0");
  }
  if (options.sync == JournalSync::kInterval && options.sync_interval_ms < 1) {
    return absl::InvalidArgumentError(
        Cat("journal: options.sync_interval_ms is ",
            std::to_string(options.sync_interval_ms), ", below 1"));
  }
  JournalFiles* files =
      options.files != nullptr ? options.files : PosixJournalFiles();
  absl::StatusOr<std::vector<std::string>> names = files->List(options.dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> segments;
  for (const std::string& name : *names) {
    std::optional<uint64_t> first = ParseSegmentFileName(name);
    if (!first.has_value()) continue;
    if (*first >= next_lsn) {
      return absl::FailedPreconditionError(
          Cat("journal ", options.dir, ": ", name, " holds LSNs at or after ",
              std::to_string(next_lsn),
              ", the writer's first; recover the journal first"));
    }
    segments.push_back(*first);
  }
  std::sort(segments.begin(), segments.end());
  const std::string path = SegmentPath(options.dir, next_lsn);
  absl::StatusOr<std::unique_ptr<AppendFile>> file = files->Create(path);
  if (!file.ok()) return file.status();
  absl::Status s = WriteSegmentHeader(file->get(), next_lsn);
  if (!s.ok()) {
    // A file left with a partial header would make the next Open fail.
    file->reset();
    files->Remove(path).IgnoreError();
    return s;
  }
  segments.push_back(next_lsn);
  return std::unique_ptr<JournalWriter>(new Writer(
      options, files, next_lsn, std::move(segments), *std::move(file)));
}

}  // namespace sessionwheel::internal
