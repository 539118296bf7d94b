// shmarray::process_pool: C++'s missing multiprocessing.Pool. map()/for_each() fork worker
// processes that see every mapping the parent has (every shared_array, at no cost), hand tasks out
// through a shared atomic counter, return results through anonymous shared memory, report progress,
// and turn a task's exception or a worker's death into an shmarray::error in the parent -- with
// every worker reaped and nothing leaked.
#pragma once

#include <cxxabi.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <new>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "detail/huge_pages.hpp"
#include "detail/layout.hpp"
#include "detail/message.hpp"
#include "detail/posix.hpp"
#include "detail/progress.hpp"
#include "detail/tracker.hpp"
#include "error.hpp"

namespace shmarray {

/// Called in the parent as tasks finish: (tasks done, tasks in all). Starts with (0, n), ends with
/// (n, n) on success. `progress_bar` is a ready-made one.
using progress_fn = std::function<void(std::size_t done, std::size_t total)>;

/// What process_pool throws when a task failed: an shmarray::error with errc::worker_failed, plus
/// the task index and how the worker ended.
class worker_error : public error {
 public:
  static constexpr std::size_t no_task = static_cast<std::size_t>(-1);
  worker_error(const std::string& what, std::size_t task, int signal, int exit_code)
      : error(errc::worker_failed, what), task_(task), signal_(signal), exit_code_(exit_code) {}
  /// The index of the failed task (no_task when the worker died between tasks).
  std::size_t task() const noexcept { return task_; }
  /// The signal that killed the worker, 0 if it exited.
  int signal() const noexcept { return signal_; }
  /// The worker's exit code when it exited (a task that threw: 70), -1 if killed.
  int exit_code() const noexcept { return exit_code_; }

 private:
  std::size_t task_;
  int signal_;
  int exit_code_;
};

namespace detail {

/// "SIGSEGV" for SIGSEGV, "signal 42" for what has no name here.
inline std::string signal_name(int sig) {
  switch (sig) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGUSR1: return "SIGUSR1";
    case SIGSEGV: return "SIGSEGV";
    case SIGUSR2: return "SIGUSR2";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGSYS: return "SIGSYS";
    default: return msg("signal ", sig);
  }
}

/// The number of CPUs this process may run on (its affinity mask, so containers count right).
inline unsigned cpu_count() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<unsigned>(n);
  }
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

/// The control block every worker of one map() call shares with the parent (MAP_SHARED).
struct pool_control {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                "process_pool needs address-free 64-bit atomics");
  std::atomic<std::uint64_t> next{0};    // the next task to hand out
  std::atomic<std::uint64_t> done{0};    // tasks finished
  std::atomic<std::uint32_t> stop{0};    // set: take no more tasks
  std::atomic<std::uint32_t> failed{0};  // 0 -> 1 by the first worker whose task threw
  std::uint64_t failed_task = 0;
  char message[1024] = {};  // what() of that exception, with its type
};

inline constexpr std::uint64_t idle_task = ~std::uint64_t{0};
/// The exit code of a worker whose task threw (EX_SOFTWARE).
inline constexpr int exit_task_threw = 70;

/// One anonymous shared mapping (on huge pages from 2 MiB), unmapped on scope exit.
class shared_block {
 public:
  explicit shared_block(std::size_t size) : size_(size) {
    // Results of 2 MiB and more go on huge pages where the kernel gives them: the workers that
    // write them then take one page fault per 2 MiB instead of one per 4 KiB.
    void* p = map_shared_anonymous(size_, true);
    if (p == MAP_FAILED)
      throw_error(errc_from_errno(errno),
                  msg("process_pool: cannot map ", size_,
                      " bytes of shared memory for the results: ", std::strerror(errno)),
                  errno);
    base_ = p;
  }
  shared_block(const shared_block&) = delete;
  shared_block& operator=(const shared_block&) = delete;
  ~shared_block() { ::munmap(base_, size_); }
  unsigned char* base() const noexcept { return static_cast<unsigned char*>(base_); }

 private:
  void* base_ = nullptr;
  std::size_t size_;
};

/// A task as the worker sees it: run task i, write its result (if any) to `out`.
using task_call = void (*)(void* ctx, std::size_t i, void* out);

/// Records the exception in flight into the control block (first one wins).
inline void record_failure(pool_control* c, std::size_t task) noexcept {
  std::uint32_t expected = 0;
  if (!c->failed.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  c->failed_task = task;
  std::string type = "an exception that is not a std::exception";
  std::string what;
  try {
    if (const std::type_info* t = abi::__cxa_current_exception_type()) {
      int status = 0;
      char* d = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
      type = status == 0 && d ? d : t->name();
      std::free(d);
    }
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
  } catch (...) {
  }
  std::string m = what.empty() ? type : msg(type, ": ", what);
  std::size_t n = std::min(m.size(), sizeof c->message - 1);
  std::memcpy(c->message, m.data(), n);
  c->message[n] = '\0';
}

/// A worker process's life. Never returns.
[[noreturn]] inline void worker_main(pool_control* c, std::atomic<std::uint64_t>* current,
                                     unsigned char* results, std::size_t result_size, std::size_t n,
                                     task_call call, void* ctx, int notify_fd,
                                     pid_t parent) noexcept {
  // A task that crashes must kill its worker with the signal, not run the parent's handlers.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT, SIGCHLD})
    ::signal(sig, SIG_DFL);
  // The parent's map() call blocks until its workers end, so the forking thread outlives them:
  // PR_SET_PDEATHSIG is exact here. It stops orphans if the parent is killed.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (::getppid() != parent) ::_exit(1);
  for (;;) {
    if (c->stop.load(std::memory_order_relaxed)) break;
    const std::uint64_t i = c->next.fetch_add(1, std::memory_order_relaxed);
    if (i >= n) break;
    current->store(i, std::memory_order_relaxed);
    try {
      call(ctx, static_cast<std::size_t>(i), results + i * result_size);
    } catch (...) {
      record_failure(c, static_cast<std::size_t>(i));
      c->stop.store(1, std::memory_order_relaxed);
      std::fflush(nullptr);
      ::_exit(exit_task_threw);
    }
    current->store(idle_task, std::memory_order_release);
    c->done.fetch_add(1, std::memory_order_release);
    if (notify_fd >= 0) {
      char b = 0;
      retry([&] { return ::write(notify_fd, &b, 1); });
    }
  }
  std::fflush(nullptr);  // the worker's own output; the parent flushed its buffers before fork
  ::_exit(0);
}

/// The workers of one call: reaped (SIGKILLed first if still running) on scope exit, whatever
/// happened, so no zombie and no descriptor outlives the call.
struct worker_set {
  std::vector<pid_t> pids;
  std::vector<unique_fd> pidfds;  // closed after the destructor's body has reaped the workers
  std::vector<char> reaped;
  unique_fd notify_rd;
  worker_set() = default;
  worker_set(const worker_set&) = delete;
  worker_set& operator=(const worker_set&) = delete;
  ~worker_set() {
    kill_all();
    for (std::size_t w = 0; w < pids.size(); ++w)
      if (!reaped[w]) retry([&] { return ::waitpid(pids[w], nullptr, 0); });
  }
  void kill_all() noexcept {
    for (std::size_t w = 0; w < pids.size(); ++w)
      if (!reaped[w]) ::kill(pids[w], SIGKILL);
  }
};

}  // namespace detail

/// Runs tasks in forked worker processes. The pool holds only its configuration: each map() or
/// for_each() call forks its workers (at most one per task), which see the parent's memory as it
/// is at that moment, and reaps them before it returns or throws.
///
/// Workers are processes, not threads: what a task writes to ordinary memory stays in its worker.
/// Results come back through map()'s return value, or through shared_array memory. Workers leave
/// with _exit (no destructors, no second flush of stdio buffers), and never unlink the parent's
/// segments. As with any fork of a multithreaded program, a task should not rely on locks other
/// threads of the parent held at the time of the call.
class process_pool {
 public:
  /// `workers` processes per call; 0 means one per CPU this process may run on.
  explicit process_pool(unsigned workers = 0) : workers_(workers ? workers : detail::cpu_count()) {}

  unsigned workers() const noexcept { return workers_; }

  /// Runs f(i) for every i < n_tasks and returns the results in task order. R must be trivially
  /// copyable: results travel through shared memory. If a task throws, or a worker is killed by a
  /// signal, the other workers are stopped and map throws worker_error (errc::worker_failed)
  /// naming the task index and the exception's type and message, or the signal.
  template <class R, class F>
  std::vector<R> map(std::size_t n_tasks, F&& f, const progress_fn& progress = {}) {
    static_assert(std::is_trivially_copyable_v<R>,
                  "process_pool::map<R>: R must be trivially copyable (results come back through "
                  "shared memory)");
    static_assert(std::is_invocable_v<F&, std::size_t>,
                  "process_pool::map: f must take a task index");
    using Fn = std::remove_reference_t<F>;
    auto call = [](void* ctx, std::size_t i, void* out) {
      R r = (*static_cast<Fn*>(ctx))(i);
      std::memcpy(out, &r, sizeof(R));
    };
    std::vector<R> results;
    if (n_tasks == 0) return results;
    run_(n_tasks, sizeof(R), alignof(R), call, const_cast<void*>(static_cast<const void*>(&f)),
         progress, [&](const unsigned char* p) {
           const R* first = reinterpret_cast<const R*>(p);
           results.assign(first, first + n_tasks);
         });
    return results;
  }

  /// Runs f(i) for every i < n_tasks, for its effects (on shared_array memory). Failures as map.
  template <class F>
  void for_each(std::size_t n_tasks, F&& f, const progress_fn& progress = {}) {
    static_assert(std::is_invocable_v<F&, std::size_t>,
                  "process_pool::for_each: f must take a task index");
    using Fn = std::remove_reference_t<F>;
    auto call = [](void* ctx, std::size_t i, void*) { (*static_cast<Fn*>(ctx))(i); };
    if (n_tasks == 0) return;
    run_(n_tasks, 0, 1, call, const_cast<void*>(static_cast<const void*>(&f)), progress,
         [](const unsigned char*) {});
  }

 private:
  template <class Collect>
  void run_(std::size_t n, std::size_t result_size, std::size_t result_align,
            detail::task_call call, void* ctx, const progress_fn& progress, Collect&& collect) {
    const std::size_t nw = std::min<std::size_t>(workers_, n);
    std::size_t results_bytes = 0;
    if (__builtin_mul_overflow(n, result_size, &results_bytes))
      detail::throw_error(errc::invalid_argument,
                          detail::msg("process_pool::map: ", n, " results do not fit memory"));
    const std::size_t cur_at = detail::align_up(sizeof(detail::pool_control), 64);
    const std::size_t res_at = detail::align_up(cur_at + nw * sizeof(std::atomic<std::uint64_t>),
                                                std::max<std::size_t>(result_align, 64));
    detail::shared_block block(res_at + std::max<std::size_t>(results_bytes, 1));
    auto* ctl = new (block.base()) detail::pool_control();
    auto* current = reinterpret_cast<std::atomic<std::uint64_t>*>(block.base() + cur_at);
    for (std::size_t w = 0; w < nw; ++w)
      new (current + w) std::atomic<std::uint64_t>(detail::idle_task);
    unsigned char* results = block.base() + res_at;

    detail::worker_set ws;
    // The workers' end of the progress pipe; the parent closes its copy once they are forked.
    detail::unique_fd notify_wr;
    if (progress) {
      int notify[2] = {-1, -1};
      if (::pipe2(notify, O_CLOEXEC) != 0)
        detail::throw_error(errc::system_error,
                            detail::msg("process_pool: pipe failed: ", std::strerror(errno)),
                            errno);
      ws.notify_rd.reset(notify[0]);
      notify_wr.reset(notify[1]);
      ::fcntl(notify[0], F_SETFL, O_NONBLOCK);
    }
    ws.pids.reserve(nw);
    ws.reaped.reserve(nw);
    const pid_t parent = ::getpid();
    std::fflush(nullptr);  // or every worker would inherit, and could flush, the same buffers
    for (std::size_t w = 0; w < nw; ++w) {
      pid_t pid = ::fork();
      if (pid == 0) {  // worker_main never returns: no destructor runs in the worker
        ws.notify_rd.reset();
        detail::worker_main(ctl, current + w, results, result_size, n, call, ctx, notify_wr.get(),
                            parent);
      }
      if (pid < 0) {
        int e = errno;
        detail::throw_error(errc::system_error,
                            detail::msg("process_pool: fork of worker ", w + 1, " of ", nw,
                                        " failed: ", std::strerror(e)),
                            e);  // ws kills and reaps the workers already started
      }
      ws.pids.push_back(pid);
      ws.reaped.push_back(0);
    }
    notify_wr.reset();
    bool have_pidfds = true;
    ws.pidfds.reserve(nw);
    for (pid_t pid : ws.pids) {
      ws.pidfds.emplace_back(detail::pidfd_open(pid));
      if (!ws.pidfds.back()) have_pidfds = false;
    }

    std::size_t alive = nw, reported = 0;
    if (progress) progress(0, n);
    std::string failure;
    std::size_t fail_task = worker_error::no_task;
    int fail_signal = 0, fail_code = -1;
    std::vector<pollfd> fds;
    while (alive > 0) {
      fds.clear();
      if (ws.notify_rd) fds.push_back({ws.notify_rd.get(), POLLIN, 0});
      for (std::size_t w = 0; w < nw; ++w)
        if (!ws.reaped[w] && ws.pidfds[w]) fds.push_back({ws.pidfds[w].get(), POLLIN, 0});
      int r = ::poll(fds.data(), fds.size(), have_pidfds ? -1 : 20);
      // Not retried: after EINTR (a SIGCHLD, say) the loop checks progress and the workers now.
      if (r < 0 && errno != EINTR)
        detail::throw_error(errc::system_error,
                            detail::msg("process_pool: poll failed: ", std::strerror(errno)),
                            errno);
      if (ws.notify_rd && !fds.empty() && fds[0].fd == ws.notify_rd.get() && fds[0].revents) {
        char buf[4096];
        const ssize_t got =
            detail::retry([&] { return ::read(ws.notify_rd.get(), buf, sizeof buf); });
        if (got == 0) ws.notify_rd.reset();  // every worker has closed its end
      }
      if (progress && failure.empty()) {
        std::size_t d = static_cast<std::size_t>(ctl->done.load(std::memory_order_acquire));
        if (d != reported) {
          reported = d;
          progress(d, n);
        }
      }
      for (std::size_t w = 0; w < nw; ++w) {
        if (ws.reaped[w]) continue;
        int status = 0;
        const pid_t got = detail::retry([&] { return ::waitpid(ws.pids[w], &status, WNOHANG); });
        if (got == 0) continue;
        ws.reaped[w] = 1;
        --alive;
        ws.pidfds[w].reset();
        if (!failure.empty()) continue;  // already failing: the rest are being stopped
        const std::uint64_t task = current[w].load(std::memory_order_acquire);
        const bool exited = got > 0 && WIFEXITED(status);
        const int code = exited ? WEXITSTATUS(status) : -1;
        const int sig = got > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        if (exited && code == 0 && task == detail::idle_task) continue;  // a clean finish
        if (got < 0 && task == detail::idle_task) continue;  // reaped elsewhere (SIGCHLD ignored)
        const std::string who = detail::msg("worker process ", ws.pids[w]);
        if (ctl->failed.load(std::memory_order_acquire)) {
          fail_task = static_cast<std::size_t>(ctl->failed_task);
          failure = detail::msg("task ", fail_task, " threw ", ctl->message);
          fail_code = detail::exit_task_threw;
        } else {
          fail_task =
              task == detail::idle_task ? worker_error::no_task : static_cast<std::size_t>(task);
          std::string which = task == detail::idle_task ? std::string("between tasks, ")
                                                        : detail::msg("task ", task, ": ");
          if (sig) {
            const char* desc = ::strsignal(sig);
            failure = detail::msg(which, "its ", who, " was killed by ", detail::signal_name(sig),
                                  " (", desc ? desc : "", ")");
            fail_signal = sig;
          } else if (exited) {
            failure =
                detail::msg(which, "its ", who, " exited with code ", code,
                            code == 0 ? " before finishing it (did the task call exit()?)" : "");
            fail_code = code;
          } else {
            failure = detail::msg(which, "its ", who, " ended and its status is unknown");
          }
        }
        ctl->stop.store(1, std::memory_order_relaxed);
        ws.kill_all();
      }
    }
    if (!failure.empty())
      throw worker_error(
          detail::msg("process_pool: ", failure, " (the other workers were stopped)"), fail_task,
          fail_signal, fail_code);
    const std::size_t d = static_cast<std::size_t>(ctl->done.load(std::memory_order_acquire));
    if (d != n)
      throw worker_error(detail::msg("process_pool: only ", d, " of ", n, " tasks finished"),
                         worker_error::no_task, 0, -1);
    if (progress && reported != n) progress(n, n);
    collect(results);
  }

  unsigned workers_;
};

}  // namespace shmarray
