// An annotated mutex, for sessionwheel's own use.
//
// Why not absl::Mutex: Debian's Abseil 20220623 runs deadlock detection on
// every lock (about 3x slower here) and, being an uninstrumented shared
// library, is invisible to ThreadSanitizer. A pthread mutex is seen by TSan
// and, made adaptive, spins briefly before sleeping (see the constructor);
// the annotations let clang's -Wthread-safety check every GUARDED_BY.
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

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>

#include "absl/base/thread_annotations.h"

namespace sessionwheel::internal {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
#if defined(__GLIBC__)
    // Critical sections here are well under a microsecond: spinning a little
    // before sleeping beats a futex sleep and wake on every collision.
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&mu_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~Mutex() { pthread_mutex_destroy(&mu_); }
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    if (pthread_mutex_trylock(&mu_) == 0) return;
    // Contended: counted, for LetWaitersIn().
    waiters_.fetch_add(1, std::memory_order_relaxed);
    pthread_mutex_lock(&mu_);
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { pthread_mutex_unlock(&mu_); }
  // For code the analysis cannot follow (a lock taken in a loop).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // For bulk work that takes the lock slice after slice: called between two
  // slices, with the lock free, it waits (yielding the CPU, at most
  // `max_wait`) until the threads that were waiting for the lock have had
  // it. Without this the bulk thread, back within a microsecond, wins every
  // race against a waiter that a futex wake-up needs tens of microseconds
  // to bring back, and a fetch could wait out the whole job.
  void LetWaitersIn(std::chrono::microseconds max_wait)
      ABSL_LOCKS_EXCLUDED(this) {
    if (waiters_.load(std::memory_order_relaxed) == 0) return;
    const auto deadline = std::chrono::steady_clock::now() + max_wait;
    while (waiters_.load(std::memory_order_relaxed) != 0 &&
           std::chrono::steady_clock::now() < deadline) {
      sched_yield();
    }
  }

 private:
  pthread_mutex_t mu_;
  std::atomic<int> waiters_{0};  // Threads blocked in Lock().
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
