#include "engine/persist/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "engine/util/sid.h"
#include "engine/util/str_cat.h"
#include "sessionwheel/internal/mutex.h"

namespace sessionwheel::internal {
namespace {

// A temporary file's name is ".<stem>.<hash>.<pid>.<n>.tmp": at most
// kStemBytes of the target's name (for a reader of the directory), a hash
// of the whole name (so each target's files are told apart), the writer's
// pid (so a dead writer's files are known) and a per-process count, all
// fixed-width hex. However long the target's name, the temporary one fits.
constexpr size_t kStemBytes = 24;
constexpr size_t kHashDigits = 8;
constexpr size_t kPidDigits = 8;
constexpr size_t kCountDigits = 16;
constexpr std::string_view kTempSuffix = ".tmp";
constexpr size_t kMaxTempName = 1 + kStemBytes + 1 + kHashDigits + 1 +
                                kPidDigits + 1 + kCountDigits +
                                kTempSuffix.size();
static_assert(kMaxTempName <= NAME_MAX);

// Linux's own limit on the symbolic links one path resolution follows.
constexpr int kMaxSymlinks = 40;

// `path` up to and including its last slash: "" for a bare name.
std::string_view DirPrefix(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos
             ? std::string_view()
             : std::string_view(path).substr(0, slash + 1);
}

std::string_view BaseName(const std::string& path) {
  return std::string_view(path).substr(DirPrefix(path).size());
}

// The low `digits` hex digits of `v`.
std::string Hex(uint64_t v, size_t digits) {
  char text[16];
  WriteHex64(text, v);
  return std::string(text + 16 - digits, digits);
}

// What a temporary file name of the target named `base` starts with, up to
// its pid.
std::string TempPrefix(std::string_view base) {
  size_t stem = std::min(base.size(), kStemBytes);
  // Cut before a UTF-8 continuation byte, never through a character.
  while (stem > 0 && stem < base.size() &&
         (static_cast<uint8_t>(base[stem]) & 0xc0) == 0x80) {
    --stem;
  }
  return Cat(".", base.substr(0, stem), ".", Hex(StableHash(base), kHashDigits),
             ".");
}

std::string TempName(std::string_view base, uint64_t pid, uint64_t n) {
  return Cat(TempPrefix(base), Hex(pid, kPidDigits), ".", Hex(n, kCountDigits),
             kTempSuffix);
}

// The pid in `name` if it is a temporary file name of the target whose
// prefix is `prefix`.
std::optional<uint64_t> TempPid(std::string_view name,
                                std::string_view prefix) {
  if (name.size() !=
          prefix.size() + kPidDigits + 1 + kCountDigits + kTempSuffix.size() ||
      name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - kTempSuffix.size()) != kTempSuffix ||
      name[prefix.size() + kPidDigits] != '.') {
    return std::nullopt;
  }
  uint64_t pid = 0;
  for (size_t i = 0; i < kPidDigits + 1 + kCountDigits; ++i) {
    const char c = name[prefix.size() + i];
    if (i == kPidDigits) continue;
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    if (i < kPidDigits) pid = pid << 4 | static_cast<uint64_t>(digit);
  }
  return pid;
}

// A file kind in words, for a refusal.
const char* KindOf(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// FailedPrecondition, not InvalidArgument: the path is a fine name and the
// same call succeeds once a regular file is there; it is the state of the
// file system that is wrong, as for rmdir on a non-directory (Abseil's
// example of FailedPrecondition), and as the errno EISDIR is mapped.
absl::Status NotARegularFile(std::string_view file, mode_t mode) {
  return absl::FailedPreconditionError(
      Cat(file, " is ", KindOf(mode), ", not a regular file"));
}

// The file `path` names once every symbolic link on it is followed: the
// one to replace, so that a link stays a link and its target gets the new
// content. A name that does not exist (yet) is its own target, as is a
// dangling link's target. Errors: ELOOP past kMaxSymlinks links; a target
// that exists but is not a regular file (FailedPrecondition).
absl::StatusOr<std::string> FinalTarget(const std::string& path) {
  std::string target = path;
  for (int links = 0;; ++links) {
    struct stat st;
    if (lstat(target.c_str(), &st) != 0) {
      if (errno == ENOENT) return target;  // Created by the rename.
      return ErrnoError(errno, "lstat", target);
    }
    if (!S_ISLNK(st.st_mode)) {
      if (!S_ISREG(st.st_mode)) return NotARegularFile(target, st.st_mode);
      return target;
    }
    if (links == kMaxSymlinks) return ErrnoError(ELOOP, "readlink", path);
    char link[PATH_MAX];
    const ssize_t n = readlink(target.c_str(), link, sizeof(link));
    if (n < 0) return ErrnoError(errno, "readlink", target);
    if (static_cast<size_t>(n) == sizeof(link)) {
      return ErrnoError(ENAMETOOLONG, "readlink", target);
    }
    const std::string_view next(link, static_cast<size_t>(n));
    // A relative link is relative to the directory that holds it.
    target = next.substr(0, 1) == "/" ? std::string(next)
                                      : Cat(DirPrefix(target), next);
  }
}

// The temporary files this process's writes have in flight. Their pid is
// alive (it is ours), so without this a write could not tell them from the
// files of an earlier process that had the same pid, as a restarted
// container's main process often has, and those would never be removed.
class InFlight {
 public:
  void Add(const std::string& name) {
    MutexLock l(&mu_);
    names_.insert(name);
  }
  void Remove(const std::string& name) {
    MutexLock l(&mu_);
    names_.erase(name);
  }
  bool Contains(const std::string& name) {
    MutexLock l(&mu_);
    return names_.contains(name);
  }

 private:
  Mutex mu_;
  absl::flat_hash_set<std::string> names_ ABSL_GUARDED_BY(mu_);
};

InFlight& TemporariesInFlight() {
  static InFlight* const in_flight = new InFlight;
  return *in_flight;
}

bool ProcessExists(uint64_t pid) {
  // kill(0) and kill(-n) signal groups: never a pid of a temporary name.
  if (pid == 0 || pid > static_cast<uint64_t>(INT_MAX)) return false;
  // EPERM: it exists, under another user.
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// Removes the temporary files of the target named `base` in `dir` that no
// write will rename any more: those of a process that no longer exists, and
// those of this process that none of its writes has in flight. A writer of
// another process that is alive keeps its file. Best effort: what cannot be
// listed or removed is left, and the write goes on, since the caller asked
// for the write, not for the cleaning.
void RemoveStaleTemporaries(const std::string& dir, std::string_view base) {
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return;
  const std::string prefix = TempPrefix(base);
  const uint64_t self = static_cast<uint64_t>(getpid());
  while (const dirent* entry = readdir(listing)) {
    const std::string name = entry->d_name;
    const std::optional<uint64_t> pid = TempPid(name, prefix);
    if (!pid) continue;
    const bool stale = *pid == self ? !TemporariesInFlight().Contains(name)
                                    : !ProcessExists(*pid);
    // Never through a link or into a directory that looks like one.
    struct stat st;
    if (stale &&
        fstatat(dirfd(listing), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISREG(st.st_mode)) {
      unlinkat(dirfd(listing), name.c_str(), 0);
    }
  }
  closedir(listing);
}

std::atomic<BeforeRenameHook> g_before_rename{nullptr};

}  // namespace

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

std::string TemporaryPath(const std::string& target, uint64_t pid, uint64_t n) {
  return Cat(DirPrefix(target), TempName(BaseName(target), pid, n));
}

absl::StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(
    const std::string& path) {
  absl::StatusOr<std::string> target = FinalTarget(path);
  if (!target.ok()) return target.status();
  // Unique per process and call, so concurrent writers never share a file.
  static std::atomic<uint64_t> next_temp{0};
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter);
  w->target_ = *target;
  w->temp_ = TemporaryPath(*target, static_cast<uint64_t>(getpid()),
                           next_temp.fetch_add(1, std::memory_order_relaxed));
  // In flight before the cleaning, and until renamed or removed, so that no
  // other write of this process takes it for a dead one's.
  w->temp_name_ = std::string(BaseName(w->temp_));
  TemporariesInFlight().Add(w->temp_name_);
  RemoveStaleTemporaries(DirName(*target), BaseName(*target));
  w->fd_ =
      open(w->temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (w->fd_ < 0) return ErrnoError(errno, "open", w->temp_);
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) close(fd_);
  if (!committed_) unlink(temp_.c_str());
  TemporariesInFlight().Remove(temp_name_);
}

absl::Status AtomicFileWriter::Append(std::string_view bytes) {
  if (absl::Status s = WriteAll(fd_, bytes, temp_); !s.ok()) return s;
  size_ += bytes.size();
  if (size_ - started_ >= kWritebackBytes) {
    // Starts the writeback of what was written since the last call, and
    // does not wait for it (an error shows at Commit's fsync).
    sync_file_range(fd_, static_cast<off_t>(started_),
                    static_cast<off_t>(size_ - started_),
                    SYNC_FILE_RANGE_WRITE);
    started_ = size_;
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::WriteAt(uint64_t offset,
                                       std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n =
        pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "pwrite", temp_);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  absl::Status s;
  if (fsync(fd_) != 0) s = ErrnoError(errno, "fsync", temp_);
  if (close(fd_) != 0 && s.ok()) s = ErrnoError(errno, "close", temp_);
  fd_ = -1;
  if (!s.ok()) return s;
  if (BeforeRenameHook hook = g_before_rename.load()) hook(temp_);
  if (rename(temp_.c_str(), target_.c_str()) != 0) {
    return ErrnoError(errno, "rename", temp_);
  }
  committed_ = true;
  return SyncDirectory(DirName(target_));
}

absl::Status WriteFileAtomically(const std::string& path,
                                 std::string_view bytes) {
  absl::StatusOr<std::unique_ptr<AtomicFileWriter>> file =
      AtomicFileWriter::Create(path);
  if (!file.ok()) return file.status();
  if (absl::Status s = (*file)->Append(bytes); !s.ok()) return s;
  return (*file)->Commit();
}

namespace {

// Opens the regular file at `path` for reading, with its size then. Refused
// before it is opened: opening some devices does something (a tape rewinds,
// a watchdog arms), and reading /dev/zero never ends.
absl::Status OpenRegularFile(const std::string& path, int* fd_out,
                             uint64_t* size_out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return NotARegularFile(path, st.st_mode);
  // O_NONBLOCK: should the name be swapped for a FIFO meanwhile, the open
  // returns at once instead of waiting for a writer; fstat then refuses it.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoError(errno, "open", path);
  absl::Status s;
  if (fstat(fd, &st) != 0) {
    s = ErrnoError(errno, "fstat", path);
  } else if (!S_ISREG(st.st_mode)) {
    s = NotARegularFile(path, st.st_mode);
  } else if (const int flags = fcntl(fd, F_GETFL);
             flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    s = ErrnoError(errno, "fcntl", path);
  }
  if (!s.ok()) {
    close(fd);
    return s;
  }
  *fd_out = fd;
  *size_out = static_cast<uint64_t>(st.st_size);
  return absl::OkStatus();
}

// Reads up to `n` bytes at `offset`, retrying short reads and EINTR; fewer
// only at the end of the file.
absl::StatusOr<size_t> ReadUpTo(int fd, uint64_t offset, size_t n, char* out,
                                const std::string& path) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r =
        pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError(errno, "read", path);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = -1;
  uint64_t size = 0;
  if (absl::Status s = OpenRegularFile(path, &fd, &size); !s.ok()) return s;
  // The size fstat reports bounds what is read and allocated, whatever the
  // bytes say: the decoder checks every count and length against them. A
  // file that grew since is read up to that size; one that shrank, to its
  // end (and then fails the decoder's checks).
  std::string out(static_cast<size_t>(size), '\0');
  absl::StatusOr<size_t> got = ReadUpTo(fd, 0, out.size(), out.data(), path);
  close(fd);
  if (!got.ok()) return got.status();
  out.resize(*got);
  return out;
}

absl::StatusOr<std::unique_ptr<FileReader>> FileReader::Open(
    const std::string& path) {
  int fd = -1;
  uint64_t size = 0;
  if (absl::Status s = OpenRegularFile(path, &fd, &size); !s.ok()) return s;
  return std::unique_ptr<FileReader>(new FileReader(path, fd, size));
}

FileReader::~FileReader() { close(fd_); }

absl::StatusOr<size_t> FileReader::ReadAt(uint64_t offset, size_t n,
                                          char* out) {
  if (offset >= size_) return 0;
  return ReadUpTo(fd_, offset,
                  static_cast<size_t>(std::min<uint64_t>(n, size_ - offset)),
                  out, path_);
}

void SetBeforeRenameHookForTesting(BeforeRenameHook hook) {
  g_before_rename.store(hook);
}

}  // namespace sessionwheel::internal
