// shmarray::mpi: one physical copy of an array per node for MPI jobs. Every rank of a node reads
// and writes the same memory through the same views as shared_array; broadcast_from(root) sends
// one rank's data to every node's copy through the node leaders. Optional: needs MPI (CMake
// target shmarray::mpi); <shmarray/shmarray.hpp> does not include it.
//
// Design: the node leader (lowest rank of the node) creates an ordinary shmarray named segment
// (shared_array<T>::allocate through a manager), sends its name to the node's other ranks, which
// attach by name. The alternative, an MPI-3 shared window (MPI_Win_allocate_shared), measured the
// same speed, but this way the node's copy stays a shmarray segment: `shmarray ls` lists it,
// np.load('/dev/shm/<name>', mmap_mode='r+') opens it, the manager's tracker process unlinks it
// if the leader dies (SIGKILL included; a dead non-leader makes mpirun end the job, the leader
// with it), /dev/shm too small is errc::no_space rather than OpenMPI aborting the job or, with
// MPI_ERRORS_RETURN, leaving the other ranks hanging, and the destructor is local (MPI_Win_free
// is collective: a destructor run by an exception on some ranks only would deadlock). The data
// starts 64-byte aligned and attach validates dtype and shape. The costs: one tracker process per
// leader (1.7 MiB of Pss), the pages reserved at creation (fallocate: a full /dev/shm fails then,
// not with a SIGBUS later), and names that must be unique per node (a given name gets ".node<i>"
// when several layout nodes share one machine's /dev/shm).
//
// Collective safety: every collective step ends with an agreement (an MPI_Allreduce of the ranks'
// status), so when any rank fails, every rank throws the same shmarray::error (the errc and
// message of the lowest failing rank) and nobody is left waiting; what was created is removed.
//
// Memory ordering: ranks of a node see each other's plain stores after a collective call that
// puts a full fence on both sides of an MPI_Barrier (broadcast_from, node_barrier). This is what
// MPI-3 shared windows do too (MPI_Win_sync + barrier); MPI itself promises nothing about memory
// it did not allocate, so the fences are ours.
//
// Mapping to mpi4py: win = MPI.Win.Allocate_shared(nbytes if node_rank == 0 else 0, itemsize,
// comm=node_comm); buf, _ = win.Shared_query(0); a = np.ndarray(buffer=buf, shape=...) is
// node_shared_array<T>::allocate(layout, shape) + view<Rank>(); the leaders' Bcast is
// broadcast_from(root).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/message.hpp"
#include "detail/mpi_collective.hpp"
#include "error.hpp"
#include "manager.hpp"
#include "mdspan.hpp"
#include "npy.hpp"
#include "shared_array.hpp"

namespace shmarray {
namespace mpi {

/// A half-open range of indices [begin, end): the part of some work one rank does.
struct index_range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const noexcept { return end - begin; }
  bool empty() const noexcept { return begin == end; }
};

/// Part `part` of `parts` balanced blocks of [0, n): sizes differ by at most one, in order.
constexpr index_range block(std::size_t n, std::size_t parts, std::size_t part) noexcept {
  const std::size_t q = n / parts, r = n % parts;
  const std::size_t b = part * q + (part < r ? part : r);
  return {b, b + q + (part < r ? 1 : 0)};
}

/// The node layout of a communicator: the ranks of each node, and a communicator of the node
/// leaders (the lowest rank of each node). Construction is collective on comm; the layout frees
/// its communicators when destroyed (destroy it on every rank, before MPI_Finalize). Move-only.
class node_layout {
 public:
  /// Nodes as MPI sees them (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)). For tests only, the
  /// environment variable SHMARRAY_MPI_RANKS_PER_NODE=k (the same on every rank) splits each node
  /// further into emulated nodes of k consecutive ranks.
  explicit node_layout(MPI_Comm comm) : comm_(comm) {
    MPI_Comm shared = MPI_COMM_NULL;
    detail::mpi_check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
    detail::mpi_check(
        MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &shared),
        "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
    const char* k = std::getenv("SHMARRAY_MPI_RANKS_PER_NODE");
    const int per_node = k ? std::atoi(k) : 0;
    if (per_node > 0) {
      int shared_rank = 0;
      detail::mpi_check(MPI_Comm_rank(shared, &shared_rank), "MPI_Comm_rank");
      MPI_Comm node = MPI_COMM_NULL;
      const int rc = MPI_Comm_split(shared, shared_rank / per_node, shared_rank, &node);
      MPI_Comm_free(&shared);
      detail::mpi_check(rc, "MPI_Comm_split (emulated nodes)");
      shared = node;
    }
    node_ = shared;
    finish_();
  }

  /// Nodes given by the caller: `node` is this rank's group, a communicator of ranks of comm that
  /// all share memory (a split of MPI_COMM_TYPE_SHARED, e.g. by NUMA domain). It is duplicated.
  /// Throws errc::invalid_argument on every rank if some group spans machines or holds a rank
  /// outside comm.
  node_layout(MPI_Comm comm, MPI_Comm node) : comm_(comm) {
    detail::mpi_check(MPI_Comm_rank(comm, &rank_), "MPI_Comm_rank");
    detail::mpi_check(MPI_Comm_dup(node, &node_), "MPI_Comm_dup");
    detail::rank_status st = detail::capture([&] {
      MPI_Group in_comm = MPI_GROUP_NULL, in_node = MPI_GROUP_NULL;
      MPI_Comm_group(comm, &in_comm);
      MPI_Comm_group(node_, &in_node);
      int n = 0;
      MPI_Group_size(in_node, &n);
      std::vector<int> ranks(static_cast<std::size_t>(n)), there(ranks.size());
      for (int i = 0; i < n; ++i) ranks[static_cast<std::size_t>(i)] = i;
      MPI_Group_translate_ranks(in_node, n, ranks.data(), in_comm, there.data());
      MPI_Group_free(&in_comm);
      MPI_Group_free(&in_node);
      if (std::count(there.begin(), there.end(), MPI_UNDEFINED) != 0)
        throw error(errc::invalid_argument, "its group holds ranks that are not in comm");
    });
    MPI_Comm machine = MPI_COMM_NULL;  // collective on node_, so outside the capture
    detail::mpi_check(MPI_Comm_split_type(node_, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &machine),
                      "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
    int machine_size = 0, group_size = 0;
    MPI_Comm_size(machine, &machine_size);
    MPI_Comm_size(node_, &group_size);
    MPI_Comm_free(&machine);
    if (!st.failed && machine_size != group_size)
      st = {true, errc::invalid_argument,
            detail::msg("its group of ", group_size, " ranks spans machines (only ", machine_size,
                        " share memory with it)")};
    try {
      detail::agree(comm, st, [](int r) {
        return detail::msg("node_layout: the node communicator of rank ", r, " is not one node");
      });
    } catch (...) {
      MPI_Comm_free(&node_);
      throw;
    }
    finish_();
  }

  node_layout(node_layout&& o) noexcept { swap(o); }
  node_layout& operator=(node_layout&& o) noexcept {
    node_layout(std::move(o)).swap(*this);
    return *this;
  }
  node_layout(const node_layout&) = delete;
  node_layout& operator=(const node_layout&) = delete;
  ~node_layout() {
    int finalized = 1;
    MPI_Finalized(&finalized);
    if (finalized) return;
    if (node_ != MPI_COMM_NULL) MPI_Comm_free(&node_);
    if (leaders_ != MPI_COMM_NULL) MPI_Comm_free(&leaders_);
  }
  void swap(node_layout& o) noexcept {
    std::swap(comm_, o.comm_);
    std::swap(node_, o.node_);
    std::swap(leaders_, o.leaders_);
    std::swap(rank_, o.rank_);
    std::swap(size_, o.size_);
    std::swap(node_rank_, o.node_rank_);
    std::swap(node_size_, o.node_size_);
    std::swap(node_index_, o.node_index_);
    std::swap(node_count_, o.node_count_);
    std::swap(subdivided_, o.subdivided_);
    node_of_.swap(o.node_of_);
  }

  /// The communicator the layout describes (not owned).
  MPI_Comm comm() const noexcept { return comm_; }
  /// The ranks of this rank's node.
  MPI_Comm node() const noexcept { return node_; }
  /// The node leaders, ordered by rank in comm; MPI_COMM_NULL on the other ranks.
  MPI_Comm leaders() const noexcept { return leaders_; }
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  int node_rank() const noexcept { return node_rank_; }
  int node_size() const noexcept { return node_size_; }
  /// The node's index, 0 .. node_count() - 1, in the order of the leaders' ranks.
  int node_index() const noexcept { return node_index_; }
  int node_count() const noexcept { return node_count_; }
  /// The node index of any rank of comm.
  int node_of(int rank) const { return node_of_.at(static_cast<std::size_t>(rank)); }
  bool is_leader() const noexcept { return node_rank_ == 0; }
  /// True when several nodes of the layout are on one machine (emulated, or the caller's groups):
  /// they share that machine's /dev/shm.
  bool subdivided() const noexcept { return subdivided_; }

  /// This rank's block of [0, n) when the ranks of its node split n items (each node does all n).
  index_range node_block(std::size_t n) const noexcept {
    return block(n, static_cast<std::size_t>(node_size_), static_cast<std::size_t>(node_rank_));
  }
  /// This rank's block of [0, n) when all ranks of comm split n items (each item done once).
  index_range comm_block(std::size_t n) const noexcept {
    return block(n, static_cast<std::size_t>(size_), static_cast<std::size_t>(rank_));
  }

 private:
  // Collective on comm_, once node_ is set: sizes, leaders, node indices.
  void finish_() {
    using detail::mpi_check;
    mpi_check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
    mpi_check(MPI_Comm_rank(node_, &node_rank_), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(node_, &node_size_), "MPI_Comm_size");
    mpi_check(MPI_Comm_split(comm_, node_rank_ == 0 ? 0 : MPI_UNDEFINED, rank_, &leaders_),
              "MPI_Comm_split (leaders)");
    if (leaders_ != MPI_COMM_NULL) {
      MPI_Comm_rank(leaders_, &node_index_);
      MPI_Comm_size(leaders_, &node_count_);
    }
    int mine[2] = {node_index_, node_count_};
    mpi_check(MPI_Bcast(mine, 2, MPI_INT, 0, node_), "MPI_Bcast");
    node_index_ = mine[0];
    node_count_ = mine[1];
    node_of_.resize(static_cast<std::size_t>(size_));
    mpi_check(MPI_Allgather(&node_index_, 1, MPI_INT, node_of_.data(), 1, MPI_INT, comm_),
              "MPI_Allgather");
    // Subdivided: the machine holds more ranks than this node (on any rank).
    MPI_Comm machine = MPI_COMM_NULL;
    mpi_check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine),
              "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED)");
    int machine_size = 0;
    MPI_Comm_size(machine, &machine_size);
    MPI_Comm_free(&machine);
    int mine_sub = machine_size > node_size_ ? 1 : 0, any = 0;
    mpi_check(MPI_Allreduce(&mine_sub, &any, 1, MPI_INT, MPI_MAX, comm_), "MPI_Allreduce");
    subdivided_ = any != 0;
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Comm node_ = MPI_COMM_NULL;
  MPI_Comm leaders_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, node_rank_ = 0, node_size_ = 1, node_index_ = 0, node_count_ = 1;
  bool subdivided_ = false;
  std::vector<int> node_of_;
};

/// How a node-shared array is made. Read on the node leaders, except `attach` (the other ranks)
/// and `bcast_chunk`, which every rank must pass alike (checked).
struct node_options {
  /// The leader's segment: name ("" = generated; a given name gets ".node<i>" when the layout is
  /// subdivided()), mode, fortran_order (views are then layout_left).
  create_options create{};
  /// How the other ranks of the node attach (ready_timeout, ...).
  attach_options attach{};
  /// The manager that tracks the leader's segment; nullptr: the array's own manager.
  manager* mgr = nullptr;
  /// Crash cleanup (a tracker process) for the array's own manager.
  bool crash_cleanup = true;
  /// The largest MPI_Bcast among leaders, in bytes (0: 1 GiB; at most INT_MAX).
  std::size_t bcast_chunk = detail::default_bcast_chunk;
};

/// An array of T with one copy per node of a node_layout, every rank of the node mapping it.
/// Move-only; closing or destroying it is local (never collective). The layout must outlive it.
template <class T>
class node_shared_array {
  static_assert(!std::is_const_v<T>, "node_shared_array<T>: T must not be const");

 public:
  using element_type = T;

  node_shared_array() = default;
  node_shared_array(node_shared_array&& o) noexcept { take_(o); }
  node_shared_array& operator=(node_shared_array&& o) noexcept {
    if (this != &o) {
      close();
      take_(o);
    }
    return *this;
  }
  node_shared_array(const node_shared_array&) = delete;
  node_shared_array& operator=(const node_shared_array&) = delete;
  ~node_shared_array() { close(); }

  /// Collective on layout.comm(): a zero-filled array of `shape`, one copy per node. Every rank
  /// must pass the same shape (and bcast_chunk, fortran_order). If anything fails on any rank (a
  /// bad or differing shape, no space on one node, an attach), every rank throws the same
  /// shmarray::error and nothing is left behind.
  static node_shared_array allocate(const node_layout& layout, shape_type shape,
                                    const node_options& o = {}) {
    const MPI_Comm comm = layout.comm();
    auto where = [&layout](int r) {
      return detail::msg("node_shared_array::allocate: rank ", r, " of ", layout.size(), " (node ",
                         layout.node_of(r), " of ", layout.node_count(), ")");
    };
    detail::agree(comm, same_on_every_rank_(layout, shape, o), where);

    node_shared_array a;
    a.layout_ = &layout;
    a.chunk_ = o.bcast_chunk;
    detail::rank_status st;
    if (layout.is_leader()) {
      st = detail::capture([&] {
        a.mgr_ = o.mgr;
        if (!a.mgr_) {
          a.own_mgr_ = std::make_unique<manager>(manager_options{o.crash_cleanup});
          a.mgr_ = a.own_mgr_.get();
        }
        create_options c = o.create;
        if (!c.name.empty() && layout.subdivided())
          c.name += ".node" + std::to_string(layout.node_index());
        a.arr_ = shared_array<T>::allocate(*a.mgr_, shape, c);
      });
    }
    try {
      detail::agree(comm, st, where);
      std::string name = a.arr_.name();
      detail::bcast_string(name, 0, layout.node());
      if (!layout.is_leader())
        st = detail::capture([&] { a.arr_ = shared_array<T>::attach(name, shape, o.attach); });
      detail::agree(comm, st, where);
    } catch (...) {
      a.remove_();
      throw;
    }
    return a;
  }

  /// Collective on layout().comm(): the contents of the copy that rank `root` sees (its writes
  /// included) reach every node's copy; on return every rank reads them. Chunked MPI_Bcast among
  /// the leaders; on one node only a barrier. Every rank must pass the same root (checked).
  void broadcast_from(int root) {
    require_open_("broadcast_from");
    const node_layout& l = *layout_;
    int mine[2] = {root, -root}, most[2] = {0, 0};
    detail::mpi_check(MPI_Allreduce(mine, most, 2, MPI_INT, MPI_MAX, l.comm()), "MPI_Allreduce");
    if (most[0] != -most[1])
      throw error(errc::invalid_argument,
                  detail::msg("broadcast_from('", name(), "'): the ranks passed different roots (",
                              -most[1], " to ", most[0], ")"));
    if (root < 0 || root >= l.size())
      throw error(errc::invalid_argument,
                  detail::msg("broadcast_from('", name(), "'): root ", root,
                              " is not a rank of the communicator (size ", l.size(), ")"));
    detail::fenced_barrier(l.node());  // the root's writes are in its node's copy
    if (l.node_count() > 1) {
      if (l.is_leader())
        detail::bcast_bytes(arr_.data(), arr_.nbytes(), l.node_of(root), l.leaders(), chunk_);
      detail::fenced_barrier(l.node());  // the leader has written the node's copy
    }
  }

  /// Collective on the node: this rank's writes to the node's copy are seen by the node's other
  /// ranks after every rank of the node has called it.
  void node_barrier() {
    require_open_("node_barrier");
    detail::fenced_barrier(layout_->node());
  }

  /// An mdspan over this node's copy, as shared_array<T>::view: layout_right for C order,
  /// layout_left for Fortran order, layout_stride for both.
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<T, dextents<std::size_t, Rank>, Layout> view() {
    return arr_.template view<Rank, Layout>();
  }
  template <std::size_t Rank, class Layout = layout_right>
  mdspan<const T, dextents<std::size_t, Rank>, Layout> view() const {
    return arr_.template view<Rank, Layout>();
  }

  T* data() noexcept { return arr_.data(); }
  const T* data() const noexcept { return arr_.data(); }
  std::size_t size() const noexcept { return arr_.size(); }
  std::size_t nbytes() const noexcept { return arr_.nbytes(); }
  const shape_type& shape() const noexcept { return arr_.shape(); }
  bool fortran_order() const noexcept { return arr_.fortran_order(); }
  /// The node's segment (in this node's /dev/shm), the same on every rank of the node.
  const std::string& name() const noexcept { return arr_.name(); }
  bool is_open() const noexcept { return arr_.is_open(); }
  /// The node's copy as a shared_array (an owner on the leader, a client elsewhere): save(), ...
  shared_array<T>& array() noexcept { return arr_; }
  const shared_array<T>& array() const noexcept { return arr_; }
  const node_layout& layout() const noexcept { return *layout_; }
  /// On the leader, the manager that unlinks the segment (its tracker_pid() does the crash
  /// cleanup); nullptr on the other ranks.
  manager* segment_manager() const noexcept { return mgr_; }

  /// Local: unmaps this rank's view. On the leader the segment's name is also removed (the other
  /// ranks keep their mappings; nobody can attach any more). Idempotent, never throws.
  void close() noexcept { remove_(); }

 private:
  void require_open_(const char* op) const {
    if (!layout_ || !arr_.is_open())
      throw error(errc::closed,
                  detail::msg(op, ": the node_shared_array is closed (or moved from)"));
  }

  void take_(node_shared_array& o) noexcept {
    layout_ = std::exchange(o.layout_, nullptr);
    own_mgr_ = std::move(o.own_mgr_);
    mgr_ = std::exchange(o.mgr_, nullptr);
    arr_ = std::move(o.arr_);
    chunk_ = o.chunk_;
  }

  // Closes the handle: on the leader (the owner, in the process that made it) shared_array's
  // close() unlinks the segment at once and its manager forgets it; elsewhere it only unmaps.
  void remove_() noexcept {
    arr_.close();
    own_mgr_.reset();
    mgr_ = nullptr;
    layout_ = nullptr;
  }

  // Every rank compares its arguments with rank 0's: shape, order and chunk must agree, and the
  // shape must be one an array can have.
  static detail::rank_status same_on_every_rank_(const node_layout& l, const shape_type& shape,
                                                 const node_options& o) {
    std::vector<unsigned long long> sig = {o.bcast_chunk, o.create.fortran_order ? 1ull : 0ull};
    sig.insert(sig.end(), shape.begin(), shape.end());
    std::vector<unsigned long long> root = sig;
    unsigned long long n = root.size();
    detail::mpi_check(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, l.comm()), "MPI_Bcast");
    root.resize(static_cast<std::size_t>(n));
    detail::mpi_check(
        MPI_Bcast(root.data(), static_cast<int>(n), MPI_UNSIGNED_LONG_LONG, 0, l.comm()),
        "MPI_Bcast");
    return detail::capture([&] {
      auto text = [](const std::vector<unsigned long long>& s) {
        shape_type sh(s.begin() + 2, s.end());
        return detail::msg("shape ", npy::shape_string(sh), s[1] ? " (Fortran order)" : "",
                           ", bcast_chunk ", s[0]);
      };
      if (sig != root)
        throw error(errc::invalid_argument, detail::msg("the ranks disagree: this rank passed ",
                                                        text(sig), ", rank 0 ", text(root)));
      std::size_t bytes = 0;
      if (shape.size() > npy::max_rank || !npy::checked_bytes(shape, sizeof(T), bytes))
        throw error(
            errc::invalid_argument,
            detail::msg(
                "shape ", npy::shape_string(shape), " of ", sizeof(T), "-byte elements ",
                shape.size() > npy::max_rank ? "has more than 32 dimensions" : "overflows size_t"));
    });
  }

  const node_layout* layout_ = nullptr;
  std::unique_ptr<manager> own_mgr_;  // declared before arr_: outlives it
  manager* mgr_ = nullptr;
  shared_array<T> arr_;
  std::size_t chunk_ = detail::default_bcast_chunk;
};

}  // namespace mpi
}  // namespace shmarray
