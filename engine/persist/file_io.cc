#include "engine/persist/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>

#include "engine/util/str_cat.h"

namespace sessionwheel::internal {
namespace {

absl::Status ErrnoError(int error, std::string_view call,
                        std::string_view file) {
  return absl::ErrnoToStatus(error, Cat(call, " ", file));
}

// The directory holding `path`, for the fsync that makes a rename durable.
std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status WriteAll(int fd, std::string_view bytes, const std::string& file) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "write", file);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", dir);
  absl::Status s;
  if (fsync(fd) != 0) s = ErrnoError(errno, "fsync", dir);
  close(fd);
  return s;
}

std::atomic<BeforeRenameHook> g_before_rename{nullptr};

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view bytes) {
  // Unique per process and call, so concurrent writers never share a file.
  static std::atomic<uint64_t> next_temp{0};
  const std::string temp =
      Cat(path, ".tmp.", std::to_string(getpid()), ".",
          std::to_string(next_temp.fetch_add(1, std::memory_order_relaxed)));
  const int fd =
      open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(errno, "open", temp);
  absl::Status s = WriteAll(fd, bytes, temp);
  if (s.ok() && fsync(fd) != 0) s = ErrnoError(errno, "fsync", temp);
  if (close(fd) != 0 && s.ok()) s = ErrnoError(errno, "close", temp);
  if (s.ok()) {
    if (BeforeRenameHook hook = g_before_rename.load()) hook(temp);
    if (rename(temp.c_str(), path.c_str()) != 0) {
      s = ErrnoError(errno, "rename", temp);
    }
  }
  if (!s.ok()) {
    unlink(temp.c_str());
    return s;
  }
  return SyncDirectory(DirName(path));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "open", path);
  std::string out;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return ErrnoError(error, "read", path);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

void SetBeforeRenameHookForTesting(BeforeRenameHook hook) {
  g_before_rename.store(hook);
}

}  // namespace sessionwheel::internal
