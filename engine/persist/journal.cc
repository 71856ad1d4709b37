// JournalWriter: the buffer, the I/O rounds that write it out, group commit,
// segment rolls and the background thread. ReadJournal and RecoverJournal
// are in journal_recovery.cc.

#include "engine/persist/journal.h"

#include <algorithm>
#include <atomic>
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
#include "engine/util/cv_mutex.h"
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
        lane_count_(std::max<size_t>(1, options.lanes)),
        lane_soon_bytes_(
            std::max(kMinLaneSoonBytes, kWriteSoonBytes / lane_count_)),
        lane_max_bytes_(
            std::max(kMinLaneMaxBytes, kMaxBufferedBytes / lane_count_)),
        lanes_(new Lane[lane_count_]),
        next_lsn_(next_lsn),
        durable_lsn_(next_lsn),
        segments_(std::move(segments)),
        file_(std::move(file)),
        write_lsn_(next_lsn),
        segment_bytes_(kSegmentHeaderBytes),
        taken_(lane_count_) {
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

  uint64_t AppendWith(
      size_t lane_index, uint8_t type,
      absl::FunctionRef<void(std::string*)> write_payload) override {
    Lane& lane = lanes_[lane_index % lane_count_];
    CvMutexLock l(&lane.mu);
    while (lane.buffer.size() >= lane_max_bytes_ &&
           sync_ != JournalSync::kEveryWrite &&
           !failed_.load(std::memory_order_relaxed)) {
      WriteSoon();
      lane.waiting = true;
      lane.mu.Wait(&lane.drained);
    }
    // Taken under the lane's lock, so that a write round that reads the
    // counter and then takes every lane's lock finds every record below
    // what it read (IoRound).
    const uint64_t lsn = next_lsn_.fetch_add(1, std::memory_order_relaxed);
    // Nothing is written after a failure.
    if (failed_.load(std::memory_order_relaxed)) return lsn;
    const size_t start = lane.buffer.size();
    lane.buffer.resize(start + kRecordHeaderBytes);
    write_payload(&lane.buffer);
    const size_t payload_bytes =
        lane.buffer.size() - start - kRecordHeaderBytes;
    if (payload_bytes > kMaxJournalPayloadBytes) {
      lane.buffer.resize(start);
      CvMutexLock failing(&mu_);
      Fail(absl::InvalidArgumentError(
          Cat("journal ", dir_, ": the record of LSN ", std::to_string(lsn),
              " has a payload of ", std::to_string(payload_bytes),
              " bytes, over the limit of ",
              std::to_string(kMaxJournalPayloadBytes))));
      return lsn;
    }
    EncodeRecordHeader(static_cast<uint32_t>(payload_bytes), type, lsn,
                       &lane.buffer[start]);
    lane.appended += lane.buffer.size() - start;
    // The lines the lane's next record will fill, fetched for writing now:
    // the journal's thread read them last (a round's swap gives the lane
    // back the buffer that thread merged), and a store that must first
    // take a line from the other core stalls the caller's own stores
    // behind it. A prefetch never faults, past the buffer's end or not.
    const char* next = lane.buffer.data() + lane.buffer.size();
    for (int line = 0; line < kPrefetchLines; ++line) {
      __builtin_prefetch(next + 64 * line, /*rw=*/1);
    }
    if (lane.buffer.size() >= lane_soon_bytes_ && !lane.soon &&
        sync_ != JournalSync::kEveryWrite) {
      // Once per buffer, so that appenders make no system call otherwise.
      lane.soon = true;
      WriteSoon();
    }
    return lsn;
  }

  absl::Status WaitDurable(uint64_t lsn) override {
    if (lsn >= next_lsn_.load(std::memory_order_relaxed)) {
      return absl::InvalidArgumentError(
          Cat("journal ", dir_, ": LSN ", std::to_string(lsn),
              " is not appended yet (the next is ",
              std::to_string(next_lsn_.load(std::memory_order_relaxed)), ")"));
    }
    if (sync_ != JournalSync::kEveryWrite &&
        !failed_.load(std::memory_order_acquire)) {
      return absl::OkStatus();  // The common case takes no shared lock.
    }
    CvMutexLock l(&mu_);
    if (sync_ != JournalSync::kEveryWrite) return status_;
    // Group commit: a leader writes and syncs everything appended without
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
    return FlushLocked(/*roll=*/false);
  }

  absl::StatusOr<uint64_t> Roll() override {
    CvMutexLock l(&mu_);
    if (!status_.ok()) return status_;
    // Every LSN below `first_lsn` is taken, so the next write round holds
    // them all and begins the new segment right after them.
    const uint64_t first_lsn = next_lsn_.load(std::memory_order_relaxed);
    if (roll_marks_.empty() || roll_marks_.back() != first_lsn) {
      roll_marks_.push_back(first_lsn);
    }
    absl::Status flushed = FlushLocked(/*roll=*/true);
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
    return next_lsn_.load(std::memory_order_relaxed);
  }

  uint64_t bytes_appended() const override {
    uint64_t total = 0;
    for (size_t i = 0; i < lane_count_; ++i) {
      CvMutexLock l(&lanes_[i].mu);
      total += lanes_[i].appended;
    }
    return total;
  }

  uint64_t bytes_taken() const override {
    return bytes_taken_.load(std::memory_order_relaxed);
  }

  absl::Status status() const override {
    // Read before every change (Durability::health): no shared lock then.
    if (!failed_.load(std::memory_order_acquire)) return absl::OkStatus();
    CvMutexLock l(&mu_);
    return status_;
  }

 private:
  // The background thread writes a lane out once it holds this share of
  // kWriteSoonBytes, and an appender waits once it holds this share of
  // kMaxBufferedBytes; never less than these, however many lanes.
  static constexpr size_t kMinLaneSoonBytes = size_t{64} << 10;
  static constexpr size_t kMinLaneMaxBytes = size_t{1} << 20;
  // A record of a create is 154 bytes: its next one, prefetched.
  static constexpr int kPrefetchLines = 4;

  // One appender's buffer. Each lane is used by callers that already
  // exclude one another (a shard under its own lock), so its lock is
  // uncontended but for a write round taking the buffer away every few
  // milliseconds; on a cache line of its own, so lanes share nothing.
  struct alignas(64) Lane {
    mutable CvMutex mu;
    std::condition_variable drained;  // A write round took the buffer.
    // Records in LSN order, not yet taken by a write round.
    std::string buffer ABSL_GUARDED_BY(mu);
    uint64_t appended ABSL_GUARDED_BY(mu) = 0;  // For bytes_appended().
    bool soon ABSL_GUARDED_BY(mu) = false;      // WriteSoon() was called.
    bool waiting ABSL_GUARDED_BY(mu) = false;   // An appender waits to drain.
  };

  // A point in the merged bytes where a new segment begins.
  struct RollMark {
    size_t offset;
    uint64_t first_lsn;
  };

  // Asks the background thread to write now. Called with a lane's lock
  // held: a lane's lock comes before mu_, never after.
  void WriteSoon() {
    CvMutexLock l(&mu_);
    if (write_soon_) return;
    write_soon_ = true;
    wake_thread_.notify_one();
  }

  // Returns once everything appended before the call is written and
  // synced, and, if `roll`, every roll asked for so far is done.
  absl::Status FlushLocked(bool roll) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const uint64_t target = next_lsn_.load(std::memory_order_relaxed);
    const uint64_t rolls = roll ? rolls_asked_ + roll_marks_.size() : 0;
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
    failed_.store(true, std::memory_order_release);
  }

  // Takes every record below the next LSN from the lanes, merges them in
  // LSN order, writes them (rolling segments where asked or full) and, if
  // `sync`, fdatasyncs, all without mu_; then publishes the result. One
  // round at a time (io_busy_); it owns the I/O members while it runs.
  // Called with mu_ held and io_busy_ false; returns with it held.
  void IoRound(bool sync) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    io_busy_ = true;
    // Every LSN below `end` was taken under some lane's lock before this
    // read; taking each lane's lock below finds its record there.
    const uint64_t end = next_lsn_.load(std::memory_order_relaxed);
    io_marks_.swap(roll_marks_);
    const uint64_t rolls_taken = rolls_asked_ + io_marks_.size();
    rolls_asked_ = rolls_taken;
    write_soon_ = false;
    mu_.Unlock();
    TakeLanes();
    absl::Status s = Merge(end);
    if (s.ok()) s = WriteMerged(sync);
    mu_.Lock();
    if (s.ok()) {
      if (sync) {
        durable_lsn_ = end;
      } else if (!io_rolls_.empty()) {
        // A segment is synced when it is closed.
        durable_lsn_ = std::max(durable_lsn_, io_rolls_.back().first_lsn);
      }
      rolls_done_ = rolls_taken;
      segments_.insert(segments_.end(), io_created_.begin(), io_created_.end());
      bytes_taken_.fetch_add(io_buffer_.size(), std::memory_order_relaxed);
    } else {
      Fail(s);
    }
    if (io_buffer_.capacity() > kKeptBufferBytes) {
      std::string().swap(io_buffer_);
    } else {
      io_buffer_.clear();
    }
    io_marks_.clear();
    io_rolls_.clear();
    io_created_.clear();
    io_busy_ = false;
    io_done_.notify_all();
  }

  // Moves every lane's buffer behind what earlier rounds left in taken_
  // (records at or past their `end`), leaving the lane an empty buffer.
  void TakeLanes() {
    for (size_t i = 0; i < lane_count_; ++i) {
      Lane& lane = lanes_[i];
      Taken& taken = taken_[i];
      bool wake = false;
      {
        CvMutexLock l(&lane.mu);
        if (taken.bytes.empty()) {
          taken.bytes.swap(lane.buffer);  // The lane gets the spare's capacity.
        } else {
          taken.bytes.append(lane.buffer);
          lane.buffer.clear();
        }
        lane.soon = false;
        wake = lane.waiting;
        lane.waiting = false;
      }
      if (wake) lane.drained.notify_all();
    }
  }

  // Appends to io_buffer_, in LSN order, every taken record below `end`,
  // and to io_rolls_ where a segment must begin before one: where a Roll()
  // asked (io_marks_) or where the segment passed segment_limit_.
  absl::Status Merge(uint64_t end) {
    // One pass over each lane places its records below `end` by LSN (they
    // are dense from write_lsn_), so putting them in order costs a lookup
    // a record, not a look at every lane's next.
    const uint64_t first = write_lsn_;
    by_lsn_.assign(end - first, std::string_view());
    for (Taken& taken : taken_) {
      const std::string_view bytes = taken.bytes;
      while (taken.at < bytes.size()) {
        const std::optional<RecordHeader> header =
            PeekRecordHeader(bytes.substr(taken.at));
        if (header->lsn >= end) break;  // Waits for the next round.
        const size_t size = kRecordHeaderBytes + header->payload_bytes;
        by_lsn_[header->lsn - first] = bytes.substr(taken.at, size);
        taken.at += size;
      }
    }
    size_t mark = 0;
    for (const std::string_view record : by_lsn_) {
      if (record.empty()) {
        // An LSN used up by a refused record: the journal has failed, and
        // nothing from here on is written.
        return absl::InternalError(Cat("journal ", dir_, ": no record of LSN ",
                                       std::to_string(write_lsn_)));
      }
      RollBefore(write_lsn_, /*record_follows=*/true, &mark);
      io_buffer_.append(record);
      segment_bytes_ += record.size();
      ++segment_records_;
      ++write_lsn_;
    }
    RollBefore(write_lsn_, /*record_follows=*/false, &mark);
    for (Taken& taken : taken_) {
      if (taken.at == taken.bytes.size()) {
        taken.bytes.clear();
      } else {
        taken.bytes.erase(0, taken.at);  // Records at or past `end`.
      }
      taken.at = 0;
    }
    return absl::OkStatus();
  }

  // Marks a new segment before the record of `lsn` when a Roll() asked for
  // one there or the current segment is full, unless the current segment
  // holds no record: no empty segment is ever created, and a full one with
  // no record after it stays the current one.
  void RollBefore(uint64_t lsn, bool record_follows, size_t* mark) {
    bool asked = false;
    while (*mark < io_marks_.size() && io_marks_[*mark] <= lsn) {
      asked = true;
      ++*mark;
    }
    if (segment_records_ == 0) return;
    if (asked || (record_follows && segment_bytes_ >= segment_limit_)) {
      io_rolls_.push_back(RollMark{io_buffer_.size(), lsn});
      segment_bytes_ = kSegmentHeaderBytes;
      segment_records_ = 0;
    }
  }

  // A lane's records taken by write rounds and not yet written.
  struct Taken {
    std::string bytes;
    size_t at = 0;  // During Merge: the end of the records it took.
  };

  // The I/O of a round: no lock held, the I/O members owned.
  absl::Status WriteMerged(bool sync) {
    SealRecords(io_buffer_.data(), io_buffer_.size());
    const std::string_view merged = io_buffer_;
    size_t at = 0;
    for (const RollMark& mark : io_rolls_) {
      absl::Status s = WriteToFile(merged.substr(at, mark.offset - at));
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
    absl::Status s = WriteToFile(merged.substr(at));
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

  // The background thread of kInterval and kOs: writes the lanes out every
  // kWritePeriod, or as soon as an appender says one passed its share of
  // kWriteSoonBytes, and for kInterval syncs every sync_interval_.
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
      // A round with nothing to take costs a lock of each lane: cheap
      // every kWritePeriod.
      IoRound(sync_due);
    }
  }

  // Constant after construction.
  const std::string dir_;
  const JournalSync sync_;
  const std::chrono::milliseconds sync_interval_;
  const uint64_t segment_limit_;
  JournalFiles* const files_;
  const size_t lane_count_;
  const size_t lane_soon_bytes_;
  const size_t lane_max_bytes_;
  const std::unique_ptr<Lane[]> lanes_;

  // The next LSN to hand out: taken by appenders under their lane's lock.
  alignas(64) std::atomic<uint64_t> next_lsn_;
  // Set with status_, read without mu_ by appenders and WaitDurable.
  alignas(64) std::atomic<bool> failed_{false};
  std::atomic<uint64_t> bytes_taken_{0};

  mutable CvMutex mu_;
  std::condition_variable io_done_;      // An I/O round ended.
  std::condition_variable wake_thread_;  // write_soon_ or stop_ was set.

  // Protected by mu_.
  uint64_t durable_lsn_ ABSL_GUARDED_BY(mu_);  // Every LSN below is synced.
  // The LSNs where a Roll() asked for a new segment, not yet taken by a
  // round; how many rolls rounds have taken, and finished.
  std::vector<uint64_t> roll_marks_ ABSL_GUARDED_BY(mu_);
  uint64_t rolls_asked_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t rolls_done_ ABSL_GUARDED_BY(mu_) = 0;
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
  uint64_t write_lsn_;       // The next LSN to write.
  // The newest segment's bytes and records, written or merged.
  uint64_t segment_bytes_;
  uint64_t segment_records_ = 0;
  std::vector<Taken> taken_;  // By lane.
  // During Merge: the round's records, by LSN from write_lsn_ on, in taken_.
  std::vector<std::string_view> by_lsn_;
  std::string io_buffer_;  // The round's records, merged.
  std::vector<uint64_t> io_marks_;
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
