// The MPI plumbing behind <shmarray/mpi.hpp>: mpi.h without its deprecated C++ bindings, MPI
// return codes turned into shmarray::error, the "all ranks succeed or all ranks throw the same
// error" agreement, and an MPI_Bcast of any number of bytes (int counts, so in pieces).
#pragma once

// mpicxx's mpi.h pulls in the deprecated MPI C++ bindings, which warn under -Wextra.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <atomic>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "../error.hpp"
#include "message.hpp"

namespace shmarray {
namespace detail {

/// Throws errc::system_error naming the MPI call unless rc is MPI_SUCCESS. (Communicators keep
/// MPI's default handler, MPI_ERRORS_ARE_FATAL, unless the application changes it.)
inline void mpi_check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw error(errc::system_error,
              msg(call, " failed: ", std::string_view(text, static_cast<std::size_t>(len))));
}

/// What one rank has to say about a collective step: nothing (ok) or the error it ran into.
struct rank_status {
  bool failed = false;
  errc kind = errc::system_error;
  std::string message;
};

/// Runs f; an exception it throws becomes the status instead of leaving the rank (which would
/// leave the other ranks waiting in the next collective call).
template <class F>
rank_status capture(F&& f) noexcept {
  rank_status s;
  try {
    std::forward<F>(f)();
  } catch (const error& e) {
    // The bare message: what() adds ": " + the errc's text, which the error thrown on every rank
    // adds again.
    s = {true, e.kind(), std::string(e.reason())};
  } catch (const std::bad_alloc&) {
    s = {true, errc::no_space, "out of memory (std::bad_alloc)"};
  } catch (const std::exception& e) {
    s = {true, errc::system_error, e.what()};
  }
  return s;
}

/// Collective on comm: returns when no rank failed; otherwise every rank throws the same
/// shmarray::error, with the errc and message of the lowest failing rank, prefixed by `where`
/// (which names that rank: where(rank) -> "rank 2 of 4 (node 1 of 2)").
template <class Where>
void agree(MPI_Comm comm, const rank_status& mine, Where&& where) {
  int rank = 0, size = 0;
  mpi_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  mpi_check(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  int candidate = mine.failed ? rank : size, first = size;
  mpi_check(MPI_Allreduce(&candidate, &first, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  if (first == size) return;
  int head[2] = {static_cast<int>(mine.kind), static_cast<int>(mine.message.size())};
  mpi_check(MPI_Bcast(head, 2, MPI_INT, first, comm), "MPI_Bcast");
  std::string text =
      rank == first ? mine.message : std::string(static_cast<std::size_t>(head[1]), ' ');
  mpi_check(MPI_Bcast(text.data(), head[1], MPI_CHAR, first, comm), "MPI_Bcast");
  throw error(static_cast<errc>(head[0]), msg(where(first), ": ", text));
}

/// Collective on comm: the string s of rank `root` (any length) on every rank.
inline void bcast_string(std::string& s, int root, MPI_Comm comm) {
  unsigned long long n = s.size();
  mpi_check(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, comm), "MPI_Bcast");
  s.resize(static_cast<std::size_t>(n));
  mpi_check(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, comm), "MPI_Bcast");
}

/// The default piece of a large broadcast: 1 GiB (MPI counts are int, at most 2^31 - 1).
inline constexpr std::size_t default_bcast_chunk = std::size_t{1} << 30;

/// The size of the next piece of a broadcast with `remaining` bytes left, in pieces of at most
/// `chunk` bytes (0: the default; more than INT_MAX: INT_MAX). Never 0 while remaining > 0.
constexpr int bcast_piece(std::size_t remaining, std::size_t chunk) noexcept {
  if (chunk == 0) chunk = default_bcast_chunk;
  if (chunk > static_cast<std::size_t>(INT_MAX)) chunk = static_cast<std::size_t>(INT_MAX);
  return static_cast<int>(remaining < chunk ? remaining : chunk);
}

/// Collective on comm: MPI_Bcast of `bytes` bytes at data from `root`, in pieces (bcast_piece),
/// so that any size works, 2^31 elements and more included. Every rank must pass the same bytes
/// and chunk.
inline void bcast_bytes(void* data, std::size_t bytes, int root, MPI_Comm comm, std::size_t chunk) {
  auto* p = static_cast<unsigned char*>(data);
  for (std::size_t off = 0; off < bytes;) {
    const int n = bcast_piece(bytes - off, chunk);
    mpi_check(MPI_Bcast(p + off, n, MPI_BYTE, root, comm), "MPI_Bcast");
    off += static_cast<std::size_t>(n);
  }
}

/// Collective on comm: every rank's stores to shared memory before the call are visible to every
/// rank of comm after it. (A full fence on each side of the barrier: MPI orders its own messages,
/// not plain stores to memory that it does not know about.)
inline void fenced_barrier(MPI_Comm comm) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  mpi_check(MPI_Barrier(comm), "MPI_Barrier");
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace detail
}  // namespace shmarray
