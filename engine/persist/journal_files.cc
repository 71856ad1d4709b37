#include "engine/persist/journal_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/persist/file_io.h"
#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

absl::Status SyncDirectoryOf(const std::string& path) {
  return SyncDirectory(DirName(path));
}

class PosixAppendFile : public AppendFile {
 public:
  PosixAppendFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixAppendFile() override {
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Append(std::string_view bytes) override {
    return WriteAll(fd_, bytes, path_);
  }

  absl::Status Sync() override {
    if (fdatasync(fd_) != 0) return ErrnoError(errno, "fdatasync", path_);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    const int fd = fd_;
    fd_ = -1;
    // No retry on EINTR: Linux has released the descriptor either way.
    if (close(fd) != 0) return ErrnoError(errno, "close", path_);
    return absl::OkStatus();
  }

 private:
  int fd_;
  const std::string path_;
};

class PosixFiles : public JournalFiles {
 public:
  absl::StatusOr<std::unique_ptr<AppendFile>> Create(
      const std::string& path) override {
    const int fd = open(
        path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoError(errno, "open", path);
    auto file = std::make_unique<PosixAppendFile>(fd, path);
    absl::Status synced = SyncDirectoryOf(path);
    if (!synced.ok()) return synced;
    return file;
  }

  absl::StatusOr<std::string> ReadAll(const std::string& path) override {
    return ReadFile(path);
  }

  absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoError(errno, "opendir", dir);
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* entry = readdir(d);
      if (entry == nullptr) break;
      const std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    const int error = errno;
    closedir(d);
    if (error != 0) return ErrnoError(error, "readdir", dir);
    return names;
  }

  absl::Status Truncate(const std::string& path, uint64_t size) override {
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(errno, "open", path);
    absl::Status s;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
      s = ErrnoError(errno, "ftruncate", path);
    } else if (fsync(fd) != 0) {
      s = ErrnoError(errno, "fsync", path);
    }
    close(fd);
    return s;
  }

  absl::Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoError(errno, "unlink", path);
    return SyncDirectoryOf(path);
  }

  absl::Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoError(errno, "rename", from);
    }
    return SyncDirectoryOf(to);
  }
};

}  // namespace

JournalFiles* PosixJournalFiles() {
  static PosixFiles* const files = new PosixFiles();
  return files;
}

}  // namespace sessionwheel::internal
