// .npy files on disk: read a header (bounded, whatever the file claims, and refused past NumPy's
// max_header_size unless raised) and stream the data in chunks, byte-swapped into this host's
// order when the file holds the other one ('>f8' on x86-64), and write an array as a file, also in
// chunks. Used by shared_array::load/save and the shmarray tool; neither ever holds a second
// full-size copy of the data.
#pragma once

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "detail/message.hpp"
#include "detail/posix.hpp"
#include "error.hpp"
#include "npy.hpp"
#include "record.hpp"

namespace shmarray {
namespace npy {

// element_size(descr), the bytes per element of any dtype a file can carry (structures too), is
// in record.hpp.

/// An open .npy file positioned at its data. Not copyable; closes its fd.
class file_reader {
 public:
  /// Opens `path` and parses its header, reading no more of it than the file holds and refusing,
  /// as np.load does, one longer than `max_header_size` (the message names `limit_option` as the
  /// way to raise it). Checks that the dtype is one the file layer carries (element_size) and that
  /// the file holds all the data the header announces. Throws not_found, permission_denied,
  /// bad_format.
  explicit file_reader(const std::string& path,
                       std::size_t max_header_size = default_max_header_size,
                       std::string_view limit_option = "file_reader's max_header_size")
      : path_(path),
        fd_(shmarray::detail::retry([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); })) {
    if (!fd_) fail_os("open");
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) fail_os("fstat");
    if (!S_ISREG(st.st_mode)) fail(errc::bad_format, "not a regular file");
    size_ = static_cast<std::size_t>(st.st_size);
    // The start of the file first (NumPy's headers are 64-256 bytes); the rest of a longer header
    // only when the limit allows it, so a file that claims a 4 GiB header costs nothing. A throw
    // from here on closes the file: fd_ is a member, destroyed even when the constructor throws.
    read_header(max_header_size, limit_option);
    const std::size_t item = element_size(hdr_.descr);
    if (item == 0)
      fail(errc::bad_format,
           shmarray::detail::msg("dtype '", hdr_.descr,
                                 "' is not supported (numbers, bool, complex, raw bytes 'V'/'S', "
                                 "'U' strings, datetimes and structures of these are; object "
                                 "arrays and empty structures are not)"));
    std::size_t nbytes = 0;
    const std::size_t have = size_ > hdr_.data_offset ? size_ - hdr_.data_offset : 0;
    if (!checked_bytes(hdr_.shape, item, nbytes))
      fail(errc::bad_format, shmarray::detail::msg("the header's shape ", shape_string(hdr_.shape),
                                                   " of '", hdr_.descr, "' overflows size_t"));
    if (hdr_.data_offset > size_ || nbytes > have)
      fail(errc::bad_format,
           shmarray::detail::msg("truncated: the header's shape ", shape_string(hdr_.shape),
                                 " of '", hdr_.descr, "' needs ", nbytes,
                                 " bytes of data, the file has ", have));
    item_ = item;
    nbytes_ = nbytes;
    swap_unit_ = swap_unit(hdr_.descr);
    data_descr_ = hdr_.descr;
    if (swap_unit_) data_descr_[0] = detail::native_order;
  }
  file_reader(const file_reader&) = delete;
  file_reader& operator=(const file_reader&) = delete;

  /// The header as the file has it (its descr in NumPy's canonical spelling: '>f8', '<i4').
  const header& hdr() const noexcept { return hdr_; }
  /// The descr of what read_data() delivers: hdr().descr in this host's byte order ('>f8' ->
  /// '<f8' on x86-64; unchanged for '|' types and for files in this host's order).
  const std::string& data_descr() const noexcept { return data_descr_; }
  /// True when read_data() byte-swaps: the file holds multi-byte data in the other byte order.
  bool swaps_bytes() const noexcept { return swap_unit_ != 0; }
  /// prod(shape) * element_size(descr).
  std::size_t data_bytes() const noexcept { return nbytes_; }
  std::size_t item_size() const noexcept { return item_; }
  const std::string& path() const noexcept { return path_; }

  /// Reads the data (data_bytes() bytes) straight into dst in chunks, no second buffer, in this
  /// host's byte order: the data of a file in the other order ('>f8' on x86-64) is byte-swapped
  /// on the way in, element by element (each half of a complex, each UCS-4 character), so dst
  /// holds data_descr() values equal to NumPy's. Throws bad_format if the file shrank since it was
  /// opened.
  void read_data(void* dst) {
    if (swap_unit_ == 0) return read_exact(static_cast<char*>(dst), nbytes_, hdr_.data_offset);
    auto* p = static_cast<char*>(dst);
    constexpr std::size_t step = std::size_t{1} << 24;  // a multiple of every swap unit
    for (std::size_t done = 0; done < nbytes_;) {
      const std::size_t n = nbytes_ - done < step ? nbytes_ - done : step;
      read_exact(p + done, n, hdr_.data_offset + done);
      swap_bytes(p + done, n, swap_unit_);
      done += n;
    }
  }
  /// Copies the data bytes as stored into the file `out_fd` at `out_off` with sendfile, page cache
  /// to page cache, no page faults (shared memory on 4 KiB pages: 1.06-1.13x faulting the pages
  /// in and reading into them, here); so for this host's byte order it is read_data. `dst` is the
  /// same memory, mapped: what sendfile does not copy (it fails, or the kernel refuses it) is
  /// read into it. Throws as read_data, bad_format if the file shrank.
  void send_data_as_stored(int out_fd, std::size_t out_off, void* dst) {
    std::size_t done = 0;
    if (::lseek(out_fd, static_cast<off_t>(out_off), SEEK_SET) >= 0) {
      off_t in = static_cast<off_t>(hdr_.data_offset);
      while (done < nbytes_) {
        const ssize_t r = shmarray::detail::retry(
            [&] { return ::sendfile(out_fd, fd_.get(), &in, nbytes_ - done); });
        if (r <= 0) break;  // the end of the file (read_exact says truncated) or no sendfile here
        done += static_cast<std::size_t>(r);
      }
    }
    if (done < nbytes_)
      read_exact(static_cast<char*>(dst) + done, nbytes_ - done, hdr_.data_offset + done);
  }
  /// Reads the data bytes exactly as the file stores them (hdr().descr's byte order).
  void read_data_as_stored(void* dst) {
    read_exact(static_cast<char*>(dst), nbytes_, hdr_.data_offset);
  }

 private:
  // Reads the header (all of it only when max_header_size allows) and parses it into hdr_.
  void read_header(std::size_t max_header_size, std::string_view limit_option) {
    std::string buf(size_ < 4096 ? size_ : 4096, '\0');
    read_exact(buf.data(), buf.size(), 0);
    const auto* b = reinterpret_cast<const unsigned char*>(buf.data());
    if (buf.size() >= 12 && std::memcmp(b, magic, magic_size) == 0 && b[6] >= 1 && b[6] <= 3 &&
        !header_exceeds(b, max_header_size)) {
      const std::size_t end = data_offset_of(b);
      if (end > buf.size()) {
        const std::size_t have = buf.size();
        buf.resize(end < size_ ? end : size_);
        read_exact(buf.data() + have, buf.size() - have, have);
      }
    }
    hdr_ =
        parse_header(buf.data(), buf.size(), source("load", path_, limit_option), max_header_size);
  }
  void read_exact(char* dst, std::size_t n, std::size_t at) {
    if (shmarray::detail::pread_full(fd_.get(), dst, n, at) == n) return;
    if (errno != 0) fail_os("read");
    fail(errc::bad_format, "truncated: the file ends early");
  }
  [[noreturn]] void fail(errc e, const std::string& why, int native = 0) {
    shmarray::detail::throw_error(e, shmarray::detail::msg("load '", path_, "': ", why), native);
  }
  [[noreturn]] void fail_os(const char* call) {
    int e = errno;
    fail(shmarray::detail::errc_from_errno(e), shmarray::detail::msg(call, ": ", std::strerror(e)),
         e);
  }

  std::string path_;
  shmarray::detail::unique_fd fd_;
  std::size_t size_ = 0;
  std::size_t item_ = 0;
  std::size_t nbytes_ = 0;
  std::size_t swap_unit_ = 0;
  header hdr_;
  std::string data_descr_;
};

/// Writes an .npy file (format 1.0/2.0, 64-byte aligned data) piece by piece. The bytes go to a
/// temporary file next to `path` (created with O_EXCL, mode 0666 minus the umask, as np.save does);
/// commit() renames it over `path`, so readers see the old file or the whole new one. Destroying
/// an uncommitted writer removes the temporary file. Not copyable.
class file_writer {
 public:
  /// Opens the temporary file and writes the header. Throws invalid_argument for a descr the file
  /// layer cannot carry, or the OS error (not_found, permission_denied, no_space, ...).
  file_writer(const std::string& path, std::string_view descr_, bool fortran_order,
              const shape_type& shape)
      : path_(path) {
    const std::size_t item = element_size(descr_);
    if (item == 0 || !checked_bytes(shape, item, expected_))
      shmarray::detail::throw_error(
          errc::invalid_argument,
          shmarray::detail::msg("save '", path, "': cannot write dtype '", descr_, "' with shape ",
                                shape_string(shape)));
    static std::atomic<unsigned> counter{0};
    tmp_ = path + ".shmarray-tmp-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1));
    fd_.reset(shmarray::detail::retry(
        [&] { return ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666); }));
    if (!fd_) fail("open", errno);
    const std::string h = write_header(descr_, fortran_order, shape);
    write_all(h.data(), h.size());
  }
  file_writer(const file_writer&) = delete;
  file_writer& operator=(const file_writer&) = delete;
  ~file_writer() { discard(); }

  /// Appends n bytes of element data.
  void write(const void* data, std::size_t n) {
    if (!fd_)
      shmarray::detail::throw_error(
          errc::closed, shmarray::detail::msg("save '", path_, "': the writer is closed"));
    if (n > expected_ - written_)
      shmarray::detail::throw_error(
          errc::invalid_argument,
          shmarray::detail::msg("save '", path_, "': more data than the shape holds"));
    write_all(static_cast<const char*>(data), n);
    written_ += n;
  }
  /// Closes the file and renames it over `path`. Throws invalid_argument if less data than the
  /// shape needs was written, or the OS error.
  void commit() {
    if (!fd_)
      shmarray::detail::throw_error(
          errc::closed, shmarray::detail::msg("save '", path_, "': the writer is closed"));
    if (written_ != expected_)
      shmarray::detail::throw_error(
          errc::invalid_argument,
          shmarray::detail::msg("save '", path_, "': ", written_,
                                " bytes of data written, the shape needs ", expected_));
    if (::close(fd_.release()) != 0) fail("close", errno);
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("rename", errno);
    tmp_.clear();
  }
  /// Drops the temporary file (what the destructor does to an uncommitted writer). Never throws.
  void discard() noexcept {
    fd_.reset();
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
  }

 private:
  // The file is written front to back: the header at 0, then the data.
  void write_all(const char* p, std::size_t n) {
    if (!shmarray::detail::pwrite_full(fd_.get(), p, n, offset_)) fail("write", errno);
    offset_ += n;
  }
  [[noreturn]] void fail(const char* call, int e) {
    discard();
    shmarray::detail::throw_error(
        shmarray::detail::errc_from_errno(e),
        shmarray::detail::msg("save '", path_, "': ", call, ": ", std::strerror(e)), e);
  }

  std::string path_;
  std::string tmp_;
  shmarray::detail::unique_fd fd_;
  std::size_t offset_ = 0;  // where write_all writes next
  std::size_t expected_ = 0;
  std::size_t written_ = 0;
};

/// Writes a whole array as an .npy file, replacing `path` atomically (see file_writer).
inline void write_file(const std::string& path, std::string_view descr_, bool fortran_order,
                       const shape_type& shape, const void* data, std::size_t nbytes) {
  file_writer w(path, descr_, fortran_order, shape);
  w.write(data, nbytes);
  w.commit();
}

}  // namespace npy
}  // namespace shmarray
