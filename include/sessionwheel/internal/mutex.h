// An annotated std::mutex, for sessionwheel's own use.
//
// Why not absl::Mutex: Debian's Abseil 20220623 runs deadlock detection on
// every lock (about 3x slower here) and, being an uninstrumented shared
// library, is invisible to ThreadSanitizer. std::mutex is seen by TSan; the
// annotations below let clang's -Wthread-safety check every GUARDED_BY.
//
// Example:
//
//   sessionwheel::internal::Mutex mu_;
//   int count_ ABSL_GUARDED_BY(mu_);
//   ...
//   sessionwheel::internal::MutexLock l(&mu_);
//   ++count_;

#ifndef SESSIONWHEEL_INCLUDE_SESSIONWHEEL_INTERNAL_MUTEX_H_
#define SESSIONWHEEL_INCLUDE_SESSIONWHEEL_INTERNAL_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace sessionwheel::internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // For code the analysis cannot follow (a lock taken in a loop).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // The wrapped mutex, for std::condition_variable waits only.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_INCLUDE_SESSIONWHEEL_INTERNAL_MUTEX_H_
