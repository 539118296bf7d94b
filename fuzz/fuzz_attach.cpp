// libFuzzer target: attach on arbitrary segment bytes. Each input becomes the whole content of a
// real shared memory segment (one per fuzzer process, reused across inputs: ftruncate + pwrite),
// and shared_array<T>::attach for several T must either throw a clean shmarray::error of a kind
// that fits a broken segment, or return an array whose shape and size agree with the segment:
// data_offset + nbytes <= segment size, prod(shape) == size(). Every byte of the returned array is
// read, so a view reaching past the mapping is a crash here (ASan / SIGSEGV / SIGBUS).
// The segment is /dev/shm/$SHMARRAY_FUZZ_SEGMENT (default "shmarray-fuzz-<pid>"), unlinked at exit.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <shmarray/shared_array.hpp>
#include <string>
#include <type_traits>

namespace {
struct pair16 {  // a struct element type: |V16, told apart by the trailer's type hash
  std::uint64_t a, b;
};

std::string g_name;
int g_fd = -1;

void remove_segment() {
  if (!g_name.empty()) ::shm_unlink(g_name.c_str());
}

[[noreturn]] void fail(const char* why, const char* detail = "") {
  std::fprintf(stderr, "fuzz_attach: invariant broken: %s %s\n", why, detail);
  remove_segment();
  std::abort();
}

void open_segment() {
  const char* env = std::getenv("SHMARRAY_FUZZ_SEGMENT");
  g_name = env && *env ? env : "shmarray-fuzz-" + std::to_string(::getpid());
  ::shm_unlink(g_name.c_str());  // a leftover from an earlier run of this name
  g_fd = ::shm_open(g_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (g_fd < 0) {
    std::perror("fuzz_attach: shm_open");
    std::abort();
  }
  std::atexit(remove_segment);
}

template <class T>
bool try_attach(std::size_t seg_size, const std::uint8_t* data, std::size_t size) {
  shmarray::attach_options o;
  o.ready_timeout = std::chrono::milliseconds(0);
  try {
    auto a = shmarray::shared_array<T>::attach(g_name, o);
    using V = std::remove_cv_t<T>;
    if (a.segment_size() != seg_size) fail("segment_size differs from the real size");
    std::size_t n = 1;
    for (auto d : a.shape()) n *= d;
    if (n != a.size()) fail("prod(shape) != size()");
    if (a.nbytes() != a.size() * sizeof(V)) fail("nbytes != size * sizeof(T)");
    // The header as the input holds it must parse to the same thing, and the data must fit.
    auto h = shmarray::npy::parse_header(data, size, "fuzz input");
    if (h.shape != a.shape()) fail("shape differs from the header's");
    if (h.fortran_order != a.fortran_order()) fail("order differs from the header's");
    if (h.data_offset > seg_size || a.nbytes() > seg_size - h.data_offset)
      fail("data_offset + nbytes beyond the segment");
    // Read every byte of the array through the view the library gives (as bytes: a bool array may
    // hold values other than 0/1, which is the data's business, not a memory error).
    const auto* p = reinterpret_cast<const volatile unsigned char*>(a.data());
    unsigned sum = 0;
    for (std::size_t i = 0; i < a.nbytes(); ++i) sum += p[i];
    (void)sum;
    if (a.owner()) fail("a client handle claims ownership");
    return true;
  } catch (const shmarray::error& e) {
    switch (e.kind()) {
      case shmarray::errc::bad_format:
      case shmarray::errc::not_ready:
      case shmarray::errc::type_mismatch: return false;
      default: fail("unexpected error kind:", e.what());
    }
  }
}

template <class... T>
struct types {};
using all_types = types<double, const float, std::uint8_t, std::int16_t, std::int64_t,
                        std::complex<double>, bool, pair16>;

// Attaches as every T whose descr the header names (and always as double, the mismatch path).
template <class... T>
void attach_matching(types<T...>, const std::string& descr, std::size_t size,
                     const std::uint8_t* data) {
  auto one = [&](auto tag) {
    using U = typename decltype(tag)::type;
    if (std::is_same_v<U, double> ||
        shmarray::npy::same_descr(descr, shmarray::npy::descr<std::remove_cv_t<U>>()))
      try_attach<U>(size, data, size);
  };
  (one(std::common_type<T>{}), ...);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (g_fd < 0) open_segment();
  if (::ftruncate(g_fd, 0) != 0 || ::ftruncate(g_fd, static_cast<off_t>(size)) != 0)
    fail("ftruncate failed");
  std::size_t done = 0;
  while (done < size) {
    ssize_t w = ::pwrite(g_fd, data + done, size - done, static_cast<off_t>(done));
    if (w <= 0) fail("pwrite failed");
    done += static_cast<std::size_t>(w);
  }
  // Exceptions are slow under ASan: parse once here to pick the element types worth attaching as,
  // instead of collecting eight type_mismatch errors per input.
  std::string descr;
  bool parsed = false;
  try {
    descr = shmarray::npy::parse_header(data, size, "fuzz input").descr;
    parsed = true;
  } catch (const shmarray::error&) {
  }
  if (!parsed) {
    // No valid header: attach must refuse, whatever T.
    if (try_attach<double>(size, data, size)) fail("attach accepted bytes parse_header refuses");
    return 0;
  }
  attach_matching(all_types{}, descr, size, data);
  return 0;
}
