// shared_array factories against what one would write by hand with POSIX calls, in one binary so
// the ratios come from one run: attach, allocate, allocate + first write, copy, and safe factories
// against their _unsafe twins. Sizes: 8 MiB, 256 MiB and SHMARRAY_BENCH_LARGE_MIB (unset: none);
// SHMARRAY_BENCH_SMOKE=1 runs 64 KiB only (CI proves it runs, never times it).
// benchmarks/ratios.py turns a --benchmark_format=json run into the ratios the Performance issue
// asks for. Benchmarks named proto/... prototype changes to segment::create (see performance.md).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <shmarray/shmarray.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;
using array = shmarray::shared_array<double>;

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

/// Unique names for raw POSIX segments: pid + counter.
std::string raw_name() {
  static std::atomic<unsigned> counter{0};
  return "/shmarray-bench-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

/// A raw POSIX segment: shm_open(O_EXCL) + ftruncate (or posix_fallocate) + mmap. Unmaps and
/// unlinks in its destructor (outside the timed region of every benchmark).
struct raw_segment {
  std::string name;
  void* p = nullptr;
  std::size_t n = 0;

  raw_segment(std::size_t bytes, bool reserve) : name(raw_name()), n(bytes) {
    int fd = ::shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) throw std::runtime_error("shm_open failed");
    int r = reserve ? ::posix_fallocate(fd, 0, static_cast<off_t>(n))
                    : ::ftruncate(fd, static_cast<off_t>(n));
    if (r != 0) {
      ::close(fd);
      ::shm_unlink(name.c_str());
      throw std::runtime_error("ftruncate/posix_fallocate failed");
    }
    p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
      ::shm_unlink(name.c_str());
      throw std::runtime_error("mmap failed");
    }
  }
  raw_segment(const raw_segment&) = delete;
  raw_segment& operator=(const raw_segment&) = delete;
  ~raw_segment() {
    ::munmap(p, n);
    ::shm_unlink(name.c_str());
  }
};

std::vector<double> make_source(std::size_t bytes) {
  std::vector<double> v(bytes / sizeof(double));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(i);
  return v;
}

/// One shmarray segment per size, made once and shared by every attach benchmark.
std::map<std::size_t, array>& attach_targets() {
  static std::map<std::size_t, array> m;
  return m;
}
const array& attach_target(std::size_t bytes) {
  auto& m = attach_targets();
  auto it = m.find(bytes);
  if (it == m.end()) it = m.emplace(bytes, array::allocate({bytes / sizeof(double)})).first;
  return it->second;
}

// ---- attach ---------------------------------------------------------------------------------

// Raw C attaches. `bare`: shm_open+fstat+mmap+close, the baseline. The others are the floor of
// the checks: raw C making the system calls an attach cannot do without, and nothing else (no
// parsing, no allocation). `header` adds a pread of the header (the data offset: what
// attach_unsafe needs); `checked` also geteuid (the owner check) and a pread of the trailer at the
// end (its cross-check), what a checked attach needs. attach/shmarray over attach/raw_checked is
// then what the library itself adds.
enum class raw_attach { bare, header, checked };

void BM_Raw_Attach(benchmark::State& st, std::size_t bytes, raw_attach kind) {
  const std::string name = "/" + attach_target(bytes).name();
  for (auto _ : st) {
    auto t0 = clk::now();
    int fd = ::shm_open(name.c_str(), kind == raw_attach::bare ? O_RDWR : O_RDWR | O_NONBLOCK, 0);
    struct stat sb {};
    ::fstat(fd, &sb);
    const auto size = static_cast<std::size_t>(sb.st_size);
    if (kind == raw_attach::checked && sb.st_uid != ::geteuid()) st.SkipWithError("not ours");
    if (kind != raw_attach::bare) {
      unsigned char head[512];
      benchmark::DoNotOptimize(::pread(fd, head, std::min(size, sizeof head), 0));
    }
    if (kind == raw_attach::checked) {
      unsigned char tail[64];
      benchmark::DoNotOptimize(::pread(fd, tail, sizeof tail, static_cast<off_t>(size - 64)));
    }
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    benchmark::DoNotOptimize(p);
    st.SetIterationTime(seconds_since(t0));
    ::munmap(p, size);
  }
}

void BM_Attach(benchmark::State& st, std::size_t bytes, bool safe) {
  const std::string name = attach_target(bytes).name();
  const shmarray::shape_type shape{bytes / sizeof(double)};
  for (auto _ : st) {
    auto t0 = clk::now();
    array a = safe ? array::attach(name) : array::attach_unsafe(name, shape);
    benchmark::DoNotOptimize(a.data());
    st.SetIterationTime(seconds_since(t0));
  }
}

// ---- allocate -------------------------------------------------------------------------------

void BM_Raw_Allocate(benchmark::State& st, std::size_t bytes, bool reserve) {
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, reserve);
    benchmark::DoNotOptimize(s.p);
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_Allocate(benchmark::State& st, std::size_t bytes, bool safe) {
  const shmarray::shape_type shape{bytes / sizeof(double)};
  for (auto _ : st) {
    auto t0 = clk::now();
    array a = safe ? array::allocate(shape) : array::allocate_unsafe(shape);
    benchmark::DoNotOptimize(a.data());
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// Allocate, then write every element once (what a producer does next).
void BM_Raw_AllocateWrite(benchmark::State& st, std::size_t bytes) {
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, false);
    std::memset(s.p, 1, bytes);
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_AllocateWrite(benchmark::State& st, std::size_t bytes) {
  const shmarray::shape_type shape{bytes / sizeof(double)};
  for (auto _ : st) {
    auto t0 = clk::now();
    array a = array::allocate(shape);
    std::memset(a.data(), 1, a.nbytes());
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// Prototype for segment::create: posix_fallocate + mmap, then populate the page tables from every
// core, so the first writes take no page faults.
void BM_Proto_AllocateWrite(benchmark::State& st, std::size_t bytes, bool reserve) {
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, reserve);
    shmarray::detail::populate_pages(s.p, bytes, 0);
    std::memset(s.p, 1, bytes);
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// ---- copy -----------------------------------------------------------------------------------

// The plain C sequence: shm_open + ftruncate + mmap + memcpy.
void BM_Raw_Copy(benchmark::State& st, std::size_t bytes) {
  const std::vector<double> src = make_source(bytes);
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, false);
    std::memcpy(s.p, src.data(), bytes);
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_Copy(benchmark::State& st, std::size_t bytes, bool safe, unsigned threads,
             shmarray::huge_pages hp) {
  const std::vector<double> src = make_source(bytes);
  shmarray::create_options o;
  o.copy_threads = threads;
  o.huge_pages = hp;
  for (auto _ : st) {
    auto t0 = clk::now();
    array a = safe ? array::copy(src, o) : array::copy_unsafe(src, o);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// Prototype: no posix_fallocate; ftruncate + mmap + copy_bytes (threads populate: the kernel
// allocates and zeroes the pages in parallel instead of in one posix_fallocate call).
void BM_Proto_Copy(benchmark::State& st, std::size_t bytes, bool reserve) {
  const std::vector<double> src = make_source(bytes);
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, reserve);
    shmarray::detail::copy_bytes(s.p, src.data(), bytes, 0);
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// ---- load -----------------------------------------------------------------------------------

/// One .npy file per size in /tmp (in the page cache: what is measured is the copy into shared
/// memory, not the disk), removed at exit.
struct npy_files {
  std::map<std::size_t, std::string> paths;
  ~npy_files() {
    for (auto& kv : paths) ::unlink(kv.second.c_str());
  }
  const std::string& get(std::size_t bytes) {
    auto it = paths.find(bytes);
    if (it != paths.end()) return it->second;
    const std::string path =
        "/tmp/shmarray-bench-" + std::to_string(::getpid()) + "-" + std::to_string(bytes) + ".npy";
    array::copy(make_source(bytes)).save(path);
    return paths.emplace(bytes, path).first->second;
  }
};
npy_files& bench_files() {
  static npy_files f;
  return f;
}

// load with huge_pages::off: the 4 KiB path, which sends the file into the segment (sendfile).
void BM_Load(benchmark::State& st, std::size_t bytes) {
  const std::string& path = bench_files().get(bytes);
  shmarray::create_options o;
  o.huge_pages = shmarray::huge_pages::off;
  for (auto _ : st) {
    auto t0 = clk::now();
    array a = array::load(path, o);
    benchmark::DoNotOptimize(a.data());
    st.SetIterationTime(seconds_since(t0));
  }
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

// What load did on 4 KiB pages before it used sendfile, in raw C: a reserved segment, its pages
// populated (in threads, as copy_bytes), then pread of the data into the mapping.
void BM_Proto_Load(benchmark::State& st, std::size_t bytes) {
  const std::string& path = bench_files().get(bytes);
  const std::size_t data_offset = shmarray::npy::file_reader(path).hdr().data_offset;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("open failed");
  for (auto _ : st) {
    auto t0 = clk::now();
    raw_segment s(bytes, true);
    shmarray::detail::populate_pages(s.p, bytes, 0);
    if (shmarray::detail::pread_full(fd, s.p, bytes, data_offset) != bytes) {
      ::close(fd);
      throw std::runtime_error("pread failed");
    }
    benchmark::ClobberMemory();
    st.SetIterationTime(seconds_since(t0));
  }
  ::close(fd);
  st.SetBytesProcessed(st.iterations() * static_cast<std::int64_t>(bytes));
}

std::string size_label(std::size_t bytes) {
  if (bytes < (std::size_t{1} << 20)) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes >> 20) + "MiB";
}

template <class F, class... A>
void add(const std::string& name, std::size_t bytes, F f, A... a) {
  benchmark::RegisterBenchmark((name + "/" + size_label(bytes)).c_str(),
                               [=](benchmark::State& st) {
                                 try {
                                   f(st, bytes, a...);
                                 } catch (const std::exception& e) {
                                   st.SkipWithError(e.what());
                                 }
                               })
      ->UseManualTime()
      ->Unit(bytes >= (std::size_t{64} << 20) ? benchmark::kMillisecond : benchmark::kMicrosecond);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> sizes;
  const char* smoke = std::getenv("SHMARRAY_BENCH_SMOKE");
  if (smoke && *smoke && std::strcmp(smoke, "0") != 0) {
    sizes = {std::size_t{64} << 10};
  } else {
    sizes = {std::size_t{8} << 20, std::size_t{256} << 20};
    if (const char* large = std::getenv("SHMARRAY_BENCH_LARGE_MIB")) {
      std::size_t mib = std::strtoull(large, nullptr, 10);
      if (mib > 0) sizes.push_back(mib << 20);
    }
  }
  for (std::size_t b : sizes) {
    add("attach/raw", b, BM_Raw_Attach, raw_attach::bare);
    add("attach/shmarray", b, BM_Attach, true);
    add("attach/shmarray_unsafe", b, BM_Attach, false);
    add("attach/raw_checked", b, BM_Raw_Attach, raw_attach::checked);
    add("attach/raw_header", b, BM_Raw_Attach, raw_attach::header);
    add("allocate/raw_ftruncate", b, BM_Raw_Allocate, false);
    add("allocate/raw_fallocate", b, BM_Raw_Allocate, true);
    add("allocate/shmarray", b, BM_Allocate, true);
    add("allocate/shmarray_unsafe", b, BM_Allocate, false);
    add("allocate_write/raw", b, BM_Raw_AllocateWrite);
    add("allocate_write/shmarray", b, BM_AllocateWrite);
    add("allocate_write/proto_fallocate_populate", b, BM_Proto_AllocateWrite, true);
    add("allocate_write/proto_ftruncate_populate", b, BM_Proto_AllocateWrite, false);
    add("copy/raw", b, BM_Raw_Copy);
    add("copy/shmarray", b, BM_Copy, true, 0u, shmarray::huge_pages::prefer);
    add("copy/shmarray_unsafe", b, BM_Copy, false, 0u, shmarray::huge_pages::prefer);
    add("copy/shmarray_1thread", b, BM_Copy, true, 1u, shmarray::huge_pages::prefer);
    add("copy/shmarray_4k", b, BM_Copy, true, 0u, shmarray::huge_pages::off);
    add("copy/proto_fallocate", b, BM_Proto_Copy, true);
    add("copy/proto_ftruncate", b, BM_Proto_Copy, false);
    add("load/shmarray_4k", b, BM_Load);
    add("load/proto_pread", b, BM_Proto_Load);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  attach_targets().clear();  // unlinks the attach targets
  return 0;
}
