// The journal's file operations behind an interface: the writer and the
// reader call nothing else, so a test can count syncs, make a sync wait, or
// fail a write with ENOSPC or a sync with EIO at exactly the byte it wants.
//
// Example:
//
//   JournalFiles* files = PosixJournalFiles();
//   absl::StatusOr<std::unique_ptr<AppendFile>> file =
//       files->Create("/var/lib/app/journal/journal-0000000000000001.log");
//   absl::Status s = (*file)->Append(bytes);
//   if (s.ok()) s = (*file)->Sync();

#ifndef SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FILES_H_
#define SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FILES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sessionwheel::internal {

// A file open for appending. Used by one thread at a time.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Appends `bytes` at the end. An error may leave some of them written.
  virtual absl::Status Append(std::string_view bytes) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual absl::Status Sync() = 0;
  // Closes the file; later calls fail. The destructor closes it too,
  // ignoring errors.
  virtual absl::Status Close() = 0;
};

// The file system as the journal uses it. Safe for concurrent use (the
// writer removes old segments while it appends to the current one). Every
// error names the call and the path, with the code ErrnoToStatus gives the
// errno (NotFound, AlreadyExists, ResourceExhausted for ENOSPC, Unknown
// for EIO...).
class JournalFiles {
 public:
  virtual ~JournalFiles() = default;
  // Creates the empty file `path`, which must not exist (O_CREAT | O_EXCL,
  // mode 0600: payloads hold phone numbers), and syncs its directory so the
  // file survives a crash.
  virtual absl::StatusOr<std::unique_ptr<AppendFile>> Create(
      const std::string& path) = 0;
  // The whole content of `path`.
  virtual absl::StatusOr<std::string> ReadAll(const std::string& path) = 0;
  // The names (not paths) of the entries of directory `dir`, in no order.
  virtual absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir) = 0;
  // Cuts `path` to `size` bytes and syncs it.
  virtual absl::Status Truncate(const std::string& path, uint64_t size) = 0;
  // Removes `path` and syncs its directory.
  virtual absl::Status Remove(const std::string& path) = 0;
  // Renames `from` to `to` (replacing `to`) and syncs the directory.
  virtual absl::Status Rename(const std::string& from,
                              const std::string& to) = 0;
};

// The real file system: POSIX open, write, fdatasync, ftruncate, unlink,
// rename. Never null; lives for the whole program.
JournalFiles* PosixJournalFiles();

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_PERSIST_JOURNAL_FILES_H_
