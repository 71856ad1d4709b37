// Journal file layers for durable-store tests: the real file system
// (internal::PosixJournalFiles) with one fault or one pause a test controls.
//
//   FailingFiles files;                  // appends fail while `failing`
//   HeldCreateFiles held;                // the next segment's creation waits
//   auto store = internal::OpenDurableStore(options, &files);
//
// Include it as "tests/journal_files_testing.h"; everything is in
// sessionwheel::testing_util.

#ifndef SESSIONWHEEL_TESTS_JOURNAL_FILES_TESTING_H_
#define SESSIONWHEEL_TESTS_JOURNAL_FILES_TESTING_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/persist/journal_files.h"

namespace sessionwheel::testing_util {

// The real file system, every call passed on: the base of the layers below,
// which override what they change.
class PosixFiles : public internal::JournalFiles {
 public:
  absl::StatusOr<std::unique_ptr<internal::AppendFile>> Create(
      const std::string& path) override {
    return posix_->Create(path);
  }
  absl::StatusOr<std::string> ReadAll(const std::string& path) override {
    return posix_->ReadAll(path);
  }
  absl::StatusOr<std::vector<std::string>> List(
      const std::string& dir) override {
    return posix_->List(dir);
  }
  absl::Status Truncate(const std::string& path, uint64_t size) override {
    return posix_->Truncate(path, size);
  }
  absl::Status Remove(const std::string& path) override {
    return posix_->Remove(path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return posix_->Rename(from, to);
  }

 private:
  internal::JournalFiles* const posix_ = internal::PosixJournalFiles();
};

// Appends fail while `failing` is set, as a full disk fails them.
class FailingFiles : public PosixFiles {
 public:
  absl::StatusOr<std::unique_ptr<internal::AppendFile>> Create(
      const std::string& path) override {
    absl::StatusOr<std::unique_ptr<internal::AppendFile>> real =
        PosixFiles::Create(path);
    if (!real.ok()) return real.status();
    return std::make_unique<File>(*std::move(real), this);
  }

  std::atomic<bool> failing{false};

 private:
  class File : public internal::AppendFile {
   public:
    File(std::unique_ptr<internal::AppendFile> real, const FailingFiles* owner)
        : real_(std::move(real)), owner_(owner) {}
    absl::Status Append(std::string_view bytes) override {
      if (owner_->failing.load()) {
        return absl::ResourceExhaustedError("write: No space left on device");
      }
      return real_->Append(bytes);
    }
    absl::Status Sync() override { return real_->Sync(); }
    absl::Status Close() override { return real_->Close(); }

   private:
    std::unique_ptr<internal::AppendFile> real_;
    const FailingFiles* owner_;
  };
};

// The next segment the journal creates after HoldNextCreate() waits until
// Release(): a checkpoint's roll has fixed its position by then and waits
// there. A layer that changes the held file overrides CreateHeld.
class HeldCreateFiles : public PosixFiles {
 public:
  void HoldNextCreate() {
    std::lock_guard<std::mutex> l(mu_);
    hold_ = true;
  }
  void WaitUntilHeld() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [this] { return held_; });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    hold_ = false;
    cv_.notify_all();
  }

  absl::StatusOr<std::unique_ptr<internal::AppendFile>> Create(
      const std::string& path) override {
    {
      std::unique_lock<std::mutex> l(mu_);
      if (!hold_) return PosixFiles::Create(path);
      held_ = true;
      cv_.notify_all();
      cv_.wait(l, [this] { return !hold_; });
    }
    return CreateHeld(path);
  }

 protected:
  // The held segment, created once released.
  virtual absl::StatusOr<std::unique_ptr<internal::AppendFile>> CreateHeld(
      const std::string& path) {
    return PosixFiles::Create(path);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  bool held_ = false;
};

}  // namespace sessionwheel::testing_util

#endif  // SESSIONWHEEL_TESTS_JOURNAL_FILES_TESTING_H_
