// A process-shared, robust mutex that lives in shared memory: a pthread mutex with
// PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST (error-checking, so a relock by its holder is an
// error, not a hang), plus who holds it. When a holder dies -- SIGKILL included -- the kernel
// releases the mutex and the next locker gets it, told that the holder died (`recovered`).
#pragma once

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "../error.hpp"
#include "message.hpp"
#include "posix.hpp"  // self_start_time

#if defined(__SANITIZE_THREAD__)
#define SHMARRAY_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMARRAY_TSAN 1
#endif
#endif

namespace shmarray {
namespace detail {

/// Two cache lines: the mutex, then who holds it (written by the holder only, while it holds it).
struct robust_mutex_storage {
  alignas(64) pthread_mutex_t mutex;
  alignas(64) std::uint64_t holder_pid;  // 0 when free (or its holder died before clearing it)
  std::uint64_t holder_start;            // the holder's start time (with the pid: who it was)
  std::uint32_t holder_tid;              // the holding thread
  std::uint32_t recovered;               // 1: the current holder took it from a dead holder
  std::uint64_t recoveries;              // how many times the lock was taken from a dead holder
};
static_assert(sizeof(pthread_mutex_t) <= 64, "a pthread mutex fits one cache line");
static_assert(sizeof(robust_mutex_storage) == 128, "the robust mutex is two cache lines");

/// What `shmarray info` shows about a lock, read without touching it.
struct lock_state {
  bool held = false;        // the mutex word names a holding thread
  bool owner_died = false;  // the last holder died holding it: the next locker will be told
  std::uint32_t tid = 0;    // the holding thread (from the mutex word)
  std::uint64_t pid = 0;    // the holding process (0 if it has not recorded itself yet)
  std::uint64_t start = 0;  // its start time
  std::uint64_t recoveries = 0;
};

class robust_mutex {
 public:
  /// Initialises the mutex at `s` (fresh, zeroed memory no other process uses yet).
  static void init(robust_mutex_storage* s, std::string_view name) {
    std::memset(static_cast<void*>(s), 0, sizeof *s);
    pthread_mutexattr_t a;
    int rc = ::pthread_mutexattr_init(&a);
    if (rc == 0) rc = ::pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    if (rc == 0) rc = ::pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    if (rc == 0) rc = ::pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    if (rc == 0) rc = ::pthread_mutex_init(&s->mutex, &a);
    ::pthread_mutexattr_destroy(&a);
    if (rc != 0)
      throw_error(errc::system_error,
                  msg("create '", name,
                      "': cannot make its robust process-shared mutex: ", std::strerror(rc)),
                  rc);
  }

  /// Blocks until this thread holds the lock. A holder that died is no obstacle: the lock is
  /// then taken over and `s->recovered` says so. Throws invalid_argument if this thread holds it
  /// already, system_error if foreign code left it unrecoverable.
  static void lock(robust_mutex_storage* s, std::string_view name) {
    taken(s, ::pthread_mutex_lock(&s->mutex), "lock", name);
  }
  /// true when the lock was free (or its holder dead) and is now this thread's.
  static bool try_lock(robust_mutex_storage* s, std::string_view name) {
    return taken(s, ::pthread_mutex_trylock(&s->mutex), "try_lock", name);
  }
  /// Waits at most until `deadline` (steady_clock = CLOCK_MONOTONIC).
  static bool try_lock_until(robust_mutex_storage* s, std::chrono::steady_clock::time_point t,
                             std::string_view name) {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    if (ns < 0) ns = 0;
    timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
#ifdef SHMARRAY_TSAN
    // clang 14's TSan does not intercept pthread_mutex_clocklock (it would then report every
    // unlock after it); the same wait on CLOCK_REALTIME, which it does intercept.
    timespec rt{}, mono{};
    ::clock_gettime(CLOCK_REALTIME, &rt);
    ::clock_gettime(CLOCK_MONOTONIC, &mono);
    const long long left = ns - (static_cast<long long>(mono.tv_sec) * 1000000000LL + mono.tv_nsec);
    const long long until =
        static_cast<long long>(rt.tv_sec) * 1000000000LL + rt.tv_nsec + (left > 0 ? left : 0);
    ts = {static_cast<time_t>(until / 1000000000), static_cast<long>(until % 1000000000)};
    return taken(s, ::pthread_mutex_timedlock(&s->mutex, &ts), "try_lock_for", name);
#else
    return taken(s, ::pthread_mutex_clocklock(&s->mutex, CLOCK_MONOTONIC, &ts), "try_lock_for",
                 name);
#endif
  }
  /// Releases the lock. Throws invalid_argument when this thread does not hold it.
  static void unlock(robust_mutex_storage* s, std::string_view name) {
    // Checked before touching anything: a wrong unlock must not erase the real holder's record.
    const std::uint32_t word =
        __atomic_load_n(reinterpret_cast<const std::uint32_t*>(&s->mutex), __ATOMIC_RELAXED);
    const std::uint32_t me = self().tid;
    if (me == 0 || (word & 0x3fffffffu) != me)
      throw_error(errc::invalid_argument,
                  msg("unlock '", name, "': this thread does not hold the lock"), EPERM);
    s->holder_pid = 0;
    s->holder_tid = 0;
    const int rc = ::pthread_mutex_unlock(&s->mutex);
    if (rc != 0)
      throw_error(
          errc::invalid_argument,
          msg("unlock '", name, "': this thread does not hold the lock (", std::strerror(rc), ")"),
          rc);
  }

  /// The lock's state from the mutex word and the holder fields, without taking it. The word is
  /// the kernel's robust-futex word (glibc keeps it first in pthread_mutex_t): the holder's TID,
  /// FUTEX_OWNER_DIED once the kernel released it for a dead holder, FUTEX_WAITERS.
  static lock_state state(const robust_mutex_storage* s) noexcept {
    lock_state st;
    std::uint32_t word =
        __atomic_load_n(reinterpret_cast<const std::uint32_t*>(&s->mutex), __ATOMIC_ACQUIRE);
    st.tid = word & 0x3fffffffu;  // FUTEX_TID_MASK
    st.held = st.tid != 0;
    st.owner_died = (word & 0x40000000u) != 0;  // FUTEX_OWNER_DIED
    st.pid = __atomic_load_n(&s->holder_pid, __ATOMIC_RELAXED);
    st.start = __atomic_load_n(&s->holder_start, __ATOMIC_RELAXED);
    st.recoveries = __atomic_load_n(&s->recoveries, __ATOMIC_RELAXED);
    return st;
  }

 private:
  // Turns a pthread result into "held / not held", repairing the mutex after a dead holder.
  static bool taken(robust_mutex_storage* s, int rc, const char* op, std::string_view name) {
    if (rc == EBUSY || rc == ETIMEDOUT) return false;
    if (rc == EOWNERDEAD) {
      ::pthread_mutex_consistent(&s->mutex);
      s->recovered = 1;
      ++s->recoveries;
    } else if (rc == 0) {
      s->recovered = 0;
    } else if (rc == EDEADLK) {
      throw_error(errc::invalid_argument,
                  msg(op, " '", name, "': this thread holds the lock already"), rc);
    } else {
      throw_error(errc::system_error,
                  msg(op, " '", name, "': ", std::strerror(rc),
                      rc == ENOTRECOVERABLE
                          ? " (a holder died and the next one released the lock without "
                            "pthread_mutex_consistent; only code outside shmarray does that)"
                          : ""),
                  rc);
    }
    // Who holds it: the thread id is in the mutex word now; pid and start time are cached per
    // thread (no system call per lock), and refreshed when the tid changes.
    const std::uint32_t tid =
        __atomic_load_n(reinterpret_cast<const std::uint32_t*>(&s->mutex), __ATOMIC_RELAXED) &
        0x3fffffffu;
    holder& me = self();
    if (me.tid != tid) me = {tid, static_cast<std::uint64_t>(::getpid()), self_start_time()};
    s->holder_pid = me.pid;
    s->holder_tid = tid;
    s->holder_start = me.start;
    return true;
  }

  // This thread as a holder; tid 0 until it first takes a lock. A forked child starts afresh
  // (its thread has another tid), so unlock() can compare without a gettid system call.
  struct holder {
    std::uint32_t tid = 0;
    std::uint64_t pid = 0, start = 0;
  };
  static holder& self() noexcept {
    static thread_local holder h;
    static const int registered = ::pthread_atfork(nullptr, nullptr, [] { self() = holder{}; });
    (void)registered;
    return h;
  }
};

}  // namespace detail
}  // namespace shmarray
