// .npy files on disk: read a header (bounded, whatever the file claims) and stream the data in
// chunks, and write an array as a file. Used by shared_array::load/save and the shmarray tool.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "error.hpp"
#include "npy.hpp"

namespace shmarray {
namespace npy {

/// An open .npy file positioned at its data. Move-only; closes its fd.
class file_reader {
 public:
  /// Opens `path` and parses its header (reading at most what the file holds). Throws not_found,
  /// permission_denied, bad_format.
  explicit file_reader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail_os("open");
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail_os("fstat");
    if (!S_ISREG(st.st_mode)) fail(errc::bad_format, "not a regular file");
    size_ = static_cast<std::size_t>(st.st_size);
    // The header is at most 12 + 2^32 bytes in theory; NumPy's are small. Read what is there, up
    // to 1 MiB, and let the parser check the claimed length against it.
    std::size_t want = size_ < (std::size_t{1} << 20) ? size_ : (std::size_t{1} << 20);
    std::string buf(want, '\0');
    read_exact(buf.data(), want, 0);
    hdr_ = parse_header(buf.data(), buf.size(), "file '" + path_ + "'");
    std::size_t nbytes = 0;
    std::size_t item = itemsize(hdr_.descr);
    if (item == 0 || !checked_bytes(hdr_.shape, item, nbytes) || hdr_.data_offset > size_ ||
        nbytes > size_ - hdr_.data_offset)
      fail(errc::bad_format,
           "the header's shape " + shape_string(hdr_.shape) + " of '" + hdr_.descr + "' needs " +
               std::to_string(nbytes) + " bytes of data, the file has " +
               std::to_string(size_ > hdr_.data_offset ? size_ - hdr_.data_offset : 0));
    nbytes_ = nbytes;
  }
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;
  ~file_reader() {
    if (fd_ >= 0) ::close(fd_);
  }

  const header& hdr() const noexcept { return hdr_; }
  std::size_t data_bytes() const noexcept { return nbytes_; }
  const std::string& path() const noexcept { return path_; }

  /// Reads the data (data_bytes() bytes) straight into dst, in chunks: no second buffer.
  void read_data(void* dst) { read_exact(static_cast<char*>(dst), nbytes_, hdr_.data_offset); }

 private:
  void read_exact(char* dst, std::size_t n, std::size_t at) {
    while (n > 0) {
      std::size_t chunk = n < (std::size_t{1} << 24) ? n : (std::size_t{1} << 24);
      ssize_t r = ::pread(fd_, dst, chunk, static_cast<off_t>(at));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail_os("read");
      if (r == 0) fail(errc::bad_format, "the file ends early (truncated)");
      dst += r;
      at += static_cast<std::size_t>(r);
      n -= static_cast<std::size_t>(r);
    }
  }
  [[noreturn]] void fail(errc e, const std::string& why, int native = 0) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    shmarray::detail::throw_error(e, "load '" + path_ + "': " + why, native);
  }
  [[noreturn]] void fail_os(const char* call) {
    int e = errno;
    fail(shmarray::detail::errc_from_errno(e), std::string(call) + ": " + std::strerror(e), e);
  }

  std::string path_;
  int fd_ = -1;
  std::size_t size_ = 0;
  std::size_t nbytes_ = 0;
  header hdr_;
};

/// Writes an .npy file (format 1.0/2.0, 64-byte aligned data). Replaces `path` atomically: the
/// data goes to a temporary file in the same directory that is renamed over it when complete.
inline void write_file(const std::string& path, std::string_view descr_, bool fortran_order,
                       const shape_type& shape, const void* data, std::size_t nbytes) {
  const std::string tmp = path + ".tmp-shmarray-" + std::to_string(::getpid());
  auto fail = [&](const char* call, int e) {
    ::unlink(tmp.c_str());
    shmarray::detail::throw_error(shmarray::detail::errc_from_errno(e),
                                  "save '" + path + "': " + call + ": " + std::strerror(e), e);
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open", errno);
  std::string h = write_header(descr_, fortran_order, shape);
  auto write_all = [&](const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::write(fd, p, n);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        int e = errno;
        ::close(fd);
        fail("write", e);
      }
      p += r;
      n -= static_cast<std::size_t>(r);
    }
  };
  write_all(h.data(), h.size());
  write_all(static_cast<const char*>(data), nbytes);
  if (::close(fd) != 0) fail("close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
}

}  // namespace npy
}  // namespace shmarray
