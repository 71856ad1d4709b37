// Whole-file I/O for what goes to disk: a file replaced atomically, so a
// crash at any moment leaves either the old content or the new, whole; and
// a file read in one piece.
//
// Example:
//
//   absl::Status written = WriteFileAtomically("/var/lib/app/s.snap", bytes);
//   ...
//   absl::StatusOr<std::string> read = ReadFile("/var/lib/app/s.snap");

#ifndef SESSIONWHEEL_ENGINE_PERSIST_FILE_IO_H_
#define SESSIONWHEEL_ENGINE_PERSIST_FILE_IO_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sessionwheel::internal {

// Replaces the file at `path` with `bytes`, atomically. A symbolic link at
// `path` (or a chain of them) is followed to its final target, and that
// target is replaced, so the link stays a link. The bytes go to a
// temporary file beside the target, TemporaryPath(target, getpid(), n)
// (mode 0600), which is fsynced and renamed over the target; then the
// directory is fsynced. First, the target's temporary files that no write
// will rename any more are removed: those whose pid names no live process
// (a writer killed before its rename), and those of this process's pid
// that none of its writes has in flight. On an error before the rename the
// temporary file is removed and the target is untouched. Errors:
// FailedPrecondition when the target exists and is not a regular file (a
// directory, a FIFO, a device); otherwise the failing call's errno as a
// status (NotFound for a missing directory, PermissionDenied...), naming
// the call and the file.
absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view bytes);

// WriteFileAtomically in pieces, for a file too large to build in memory
// (a snapshot of millions of Sessions): Create() cleans and opens the
// temporary file, Append() and WriteAt() fill it, Commit() fsyncs it and
// renames it over the target, then fsyncs the directory. Destroyed without
// a successful Commit(), it removes the temporary file and leaves the
// target untouched. Errors as WriteFileAtomically's.
class AtomicFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<AtomicFileWriter>> Create(
      const std::string& path);
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  ~AtomicFileWriter();

  // Starts the writeback of every kWritebackBytes as they are appended
  // (sync_file_range), so that a large file reaches the disk as it is
  // written rather than all at Commit's fsync: RocksDB's bytes_per_sync.
  absl::Status Append(std::string_view bytes);
  static constexpr uint64_t kWritebackBytes = uint64_t{8} << 20;
  // Overwrites bytes already appended, for fields known only at the end.
  absl::Status WriteAt(uint64_t offset, std::string_view bytes);
  absl::Status Commit();
  // The bytes appended so far.
  uint64_t size() const { return size_; }

 private:
  AtomicFileWriter() = default;

  std::string target_;
  std::string temp_;
  std::string temp_name_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t started_ = 0;  // Bytes whose writeback Append has started.
  bool committed_ = false;
};

// The temporary file WriteFileAtomically writes for the regular file
// `target` (no link), as the process `pid`'s `n`th write: in the target's
// directory, ".<up to 24 bytes of its name>.<hash of its name>.<pid>.<n>.tmp"
// in fixed-width hex, at most 64 bytes whatever the target's name, so it
// fits NAME_MAX when the target's name does.
std::string TemporaryPath(const std::string& target, uint64_t pid, uint64_t n);

// The whole content of the regular file at `path` (links followed), at
// most the size fstat reports, so no content can make it read or allocate
// more. Anything else (a directory, a FIFO, /dev/zero) is refused before
// any read, and a FIFO is never waited on. Errors: FailedPrecondition for
// a file that is not a regular file; otherwise as WriteFileAtomically.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// A regular file read a piece at a time, for one too large to read whole
// (a checkpoint of millions of Sessions). It is opened and refused as
// ReadFile opens and refuses a file, and, as there, the size fstat reports
// then bounds every read, whatever the file does afterwards.
class FileReader {
 public:
  // Errors as ReadFile's.
  static absl::StatusOr<std::unique_ptr<FileReader>> Open(
      const std::string& path);
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader();

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Reads up to `n` bytes at `offset` into `out`; fewer only where size()
  // or the file (should it have shrunk) ends. Errors: the read's errno.
  absl::StatusOr<size_t> ReadAt(uint64_t offset, size_t n, char* out);

 private:
  FileReader(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}

  const std::string path_;
  const int fd_;
  const uint64_t size_;
};

// The POSIX pieces the persist room's file code shares (here and
// journal_files.cc).
// The failing call's errno as a status naming the call and the file.
absl::Status ErrnoError(int error, std::string_view call,
                        std::string_view file);
// The directory holding `path` ("." for a bare name), whose fsync makes a
// create, an unlink or a rename of `path` survive a power cut.
std::string DirName(const std::string& path);
// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, std::string_view bytes, const std::string& file);
// fsyncs the directory `dir`.
absl::Status SyncDirectory(const std::string& dir);

// Test seam: WriteFileAtomically calls `hook` with the temporary file's path
// after that file is written and synced and before the rename, so a test can
// simulate a crash there (a forked child that _exit()s). Null removes it.
using BeforeRenameHook = void (*)(const std::string& temp_path);
void SetBeforeRenameHookForTesting(BeforeRenameHook hook);

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_FILE_IO_H_
