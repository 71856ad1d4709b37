// A std::mutex with the annotations clang's -Wthread-safety checks, and
// waits on a std::condition_variable.
// (include/sessionwheel/internal/mutex.h wraps a pthread mutex, which no
// standard condition variable can wait on.)
//
// Example:
//
//   CvMutex mu_;
//   std::condition_variable cv_;
//   bool ready_ ABSL_GUARDED_BY(mu_) = false;
//
//   CvMutexLock l(&mu_);
//   while (!ready_) mu_.Wait(&cv_);

#ifndef SESSIONWHEEL_ENGINE_UTIL_CV_MUTEX_H_
#define SESSIONWHEEL_ENGINE_UTIL_CV_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace sessionwheel::internal {

class ABSL_LOCKABLE CvMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  // Waits on `cv` with the mutex held, as std::condition_variable::wait.
  void Wait(std::condition_variable* cv) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv->wait(lock);
    lock.release();  // Still held: the caller's to release.
  }

  // Waits on `cv` until notified or `deadline` passes.
  void WaitUntil(std::condition_variable* cv,
                 std::chrono::steady_clock::time_point deadline)
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

}  // namespace sessionwheel::internal

#endif  // SESSIONWHEEL_ENGINE_UTIL_CV_MUTEX_H_
