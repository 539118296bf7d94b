// The shmarray command-line tool: list, inspect, remove and garbage-collect shmarray segments, and
// copy them to and from .npy files. See docs/tool.md for the manual and the exit codes. What a
// segment is comes from the library (shmarray::inspect, detail/layout.hpp); the tool adds its
// command line, tables, JSON and the formatting of elements.
#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <complex>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <shmarray/detail/factory.hpp>
#include <shmarray/detail/layout.hpp>
#include <shmarray/detail/type_hash.hpp>
#include <shmarray/error.hpp>
#include <shmarray/npy_file.hpp>
#include <shmarray/segment.hpp>
#include <shmarray/version.hpp>
#include <string>
#include <vector>

#include "format.hpp"
#include "probe.hpp"

namespace shmtool {
namespace {

// Exit codes (documented in docs/tool.md; scripts rely on them).
enum exit_code : int {
  ok = 0,
  usage = 1,          // bad command line, invalid name
  not_found = 2,      // no such segment or file
  bad_format = 3,     // not a shmarray segment / not an .npy file / corrupt / not published
  permission = 4,     // permission denied
  other = 5,          // any other failure (no space, I/O error, ...)
  already_exists = 6  // load --name: the name is taken
};

int exit_code_of(errc e) {
  switch (e) {
    case errc::invalid_argument: return usage;
    case errc::not_found: return not_found;
    case errc::bad_format:
    case errc::not_ready:
    case errc::type_mismatch:
    case errc::shape_mismatch:
    case errc::layout_mismatch: return bad_format;
    case errc::permission_denied: return permission;
    case errc::already_exists: return already_exists;
    default: return other;
  }
}

struct usage_error {
  std::string message;
};

/// A usage error of `cmd` ("" for the tool itself), pointing at its help.
[[noreturn]] void fail_usage(const std::string& cmd, const std::string& m) {
  const std::string c = cmd.empty() ? "" : " " + cmd;
  throw usage_error{"shmarray" + c + ": " + m + " (see 'shmarray" + c + " --help')"};
}

// ---- Command lines
// -------------------------------------------------------------------------------

struct option_spec {
  const char* long_name;  // "--json"
  char short_name;        // 'n' or 0
  bool takes_value;
};

struct parsed {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;  // long name -> value ("" for flags)
  bool help = false;

  bool has(const std::string& o) const {
    for (const auto& kv : options)
      if (kv.first == o) return true;
    return false;
  }
  std::string value(const std::string& o, const std::string& def) const {
    std::string v = def;
    for (const auto& kv : options)
      if (kv.first == o) v = kv.second;  // the last one wins
    return v;
  }
  /// Throws a usage error unless there are `n` positional arguments (`what` names them).
  void expect(const std::string& cmd, std::size_t n, const std::string& what) const {
    if (positional.size() < n) fail_usage(cmd, "missing " + what);
    if (positional.size() > n) fail_usage(cmd, "too many arguments; expected " + what);
  }
};

parsed parse(const std::string& cmd, const std::vector<std::string>& args,
             const std::vector<option_spec>& specs) {
  parsed p;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      p.positional.insert(p.positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (a == "-h" || a == "--help") {
      p.help = true;
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {
      p.positional.push_back(a);
      continue;
    }
    const auto eq = a[1] == '-' ? a.find('=') : std::string::npos;
    const std::string key = a.substr(0, eq);
    const option_spec* spec = nullptr;
    for (const auto& s : specs)
      if (key == s.long_name || (a.size() == 2 && a[1] == s.short_name)) spec = &s;
    if (!spec) fail_usage(cmd, "unknown option '" + printable(a) + "'");
    const std::string name = spec->long_name;
    if (spec->takes_value && eq == std::string::npos) {
      if (i + 1 >= args.size()) fail_usage(cmd, "option " + name + " needs a value");
      p.options.emplace_back(name, args[++i]);
    } else if (!spec->takes_value && eq != std::string::npos) {
      fail_usage(cmd, "option " + name + " takes no value");
    } else {
      p.options.emplace_back(name, eq == std::string::npos ? "" : a.substr(eq + 1));
    }
  }
  return p;
}

unsigned long parse_number(const std::string& cmd, const std::string& opt, const std::string& v,
                           int base, unsigned long max) {
  char* end = nullptr;
  errno = 0;
  unsigned long n = v.empty() || v[0] == '-' ? 0 : std::strtoul(v.c_str(), &end, base);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || n > max)
    fail_usage(cmd, opt + " '" + printable(v) + "' is not " +
                        (base == 8 ? "an octal mode (e.g. 0640)" : "a count"));
  return n;
}

/// --max-header-size: the longest .npy header (in characters) the command reads; NumPy's
/// max_header_size, 10000, by default.
std::size_t max_header_size_of(const std::string& cmd, const parsed& a) {
  if (!a.has("--max-header-size")) return sa::npy::default_max_header_size;
  return parse_number(cmd, "--max-header-size", a.value("--max-header-size", ""), 10,
                      std::numeric_limits<unsigned long>::max());
}

bool matches(const std::vector<std::string>& patterns, const std::string& name) {
  if (patterns.empty()) return true;
  for (const auto& p : patterns)
    if (::fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

std::string mode_string(mode_t m) {
  char b[8];
  std::snprintf(b, sizeof b, "%04o", static_cast<unsigned>(m & 07777));
  return b;
}

std::string size_text(const probe& p) {
  return sa::detail::human_bytes(static_cast<std::uint64_t>(p.st.st_size), true);
}

/// Where element `k` (in C index order) lies in memory, counted in elements.
std::size_t memory_index(const sa::npy::header& h, std::size_t k) {
  if (!h.fortran_order) return k;
  std::size_t off = 0, stride = h.count();  // k < count(): no dimension is 0
  for (std::size_t r = h.shape.size(); r-- > 0; k /= h.shape[r]) {
    stride /= h.shape[r];  // the elements of dimensions 0..r-1
    off += k % h.shape[r] * stride;
  }
  return off;
}

/// The record dtype of a structured descr, else an empty one.
sa::npy::dtype record_of(const probe& p) {
  return sa::npy::is_structured(p.header.descr) ? sa::npy::parse_dtype(p.header.descr, p.name)
                                                : sa::npy::dtype{};
}

/// The first `count` elements of a probed segment, each formatted.
std::vector<std::string> first_elements(const probe& p, std::size_t count, bool json) {
  std::vector<std::string> out;
  const std::size_t n = p.header.count(), size = p.layout.elem_size;
  const dtype_view v = view_of(p.header.descr, size);
  const sa::npy::dtype record = record_of(p);
  std::vector<unsigned char> buf(size);
  for (std::size_t k = 0; k < n && k < count; ++k) {
    if (p.read(p.header.data_offset + memory_index(p.header, k) * size, buf.data(), size) != size)
      throw_error(errc::bad_format, "'" + p.name + "': the segment shrank");
    out.push_back(sa::npy::is_structured(p.header.descr) ? format_record(record, buf.data(), json)
                                                         : format_element(v, buf.data(), json));
  }
  return out;
}

/// What ls and info say of every file: size, owner, mode, age.
void file_fields(report& r, const probe& p) {
  const auto size = static_cast<std::uint64_t>(p.st.st_size);
  const std::string user = user_name(p.st.st_uid), mode = mode_string(p.st.st_mode);
  r.add("size", json_number(size), "size:", msg(size, " bytes (", size_text(p), ')'));
  r.add("uid", json_number(p.st.st_uid),
        "owner:", msg(owner_string(p.st.st_uid), " (uid ", p.st.st_uid, "), mode ", mode));
  r.add("user", user.empty() ? "null" : json_string(user));
  r.add("mode", json_string(mode)).add("age_seconds", json_number(p.age), "age:", short_age(p.age));
}

/// Throws unless `p` holds an array: a shmarray segment (published or not) or a plain .npy file.
void require_array(const std::string& op, const probe& p) {
  const std::string what = op + " '" + printable(p.name) + "': ";
  if (p.kind == kind::unreadable) throw_error(errc::permission_denied, what + p.problem);
  if (p.kind == kind::foreign || p.kind == kind::empty)
    throw_error(errc::bad_format, what + (p.header_too_long ? "" : "not a shmarray segment: ") +
                                      printable(p.problem));
}

// ---- Commands
// ------------------------------------------------------------------------------------

struct output {
  std::string out;
  int code = ok;
  /// Reports `e` (one line on stderr); the first error sets the exit code.
  void error(const sa::error& e) {
    std::string m(e.reason());
    std::replace(m.begin(), m.end(), '\n', ' ');
    std::fprintf(stderr, "shmarray: %s\n", m.c_str());
    if (code == ok) code = exit_code_of(e.kind());
  }
};

void cmd_ls(const parsed& a, output& o) {
  const std::string dir = shm_dir();
  const bool all = a.has("--all"), json = a.has("--json");
  std::vector<probe> found;
  for (const auto& n : list_dir(dir)) {
    if (!matches(a.positional, n)) continue;
    try {
      probe p = probe_file("ls", dir, n, false);
      p.close();
      if (all || p.is_shmarray()) found.push_back(std::move(p));
    } catch (const sa::error& e) {
      if (e.kind() != errc::not_found) throw;  // removed while we listed: skip it
    }
  }
  if (json) {
    std::vector<std::string> segments;
    for (const auto& p : found) {
      report r(true);
      r.add("name", json_string(p.name)).add("kind", json_string(sa::to_string(p.kind)));
      r.add("published", json_bool(p.kind == kind::shmarray || p.kind == kind::npy));
      file_fields(r, p);
      if (p.has_header && p.layout.elem_size)
        r.add("dtype", json_string(p.header.descr))
            .add("shape", json_shape(p.header.shape))
            .add("fortran_order", json_bool(p.header.fortran_order))
            .num("data_bytes", p.layout.data_bytes);
      if (p.has_trailer())
        r.num("creator_pid", p.trailer().creator_pid)
            .add("creator", json_string(sa::to_string(p.creator)));
      if (!p.problem.empty()) r.add("problem", json_string(p.problem));
      segments.push_back(r.str());
    }
    report all_json(true);
    o.out += all_json.add("shm_dir", json_string(dir)).add("segments", json_list(segments)).str();
    o.out += "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "STATE", "DTYPE", "SHAPE", "ORDER", "SIZE", "OWNER", "CREATOR", "AGE"});
  for (const auto& p : found) {
    std::vector<std::string> r{printable(p.name),
                               p.kind == kind::shmarray ? "ready" : sa::to_string(p.kind)};
    if (p.has_header && p.layout.elem_size && p.kind != kind::foreign)
      r.insert(r.end(),
               {sa::npy::is_structured(p.header.descr) ? record_summary(record_of(p))
                                                       : printable(p.header.descr),
                sa::npy::shape_string(p.header.shape), p.header.fortran_order ? "F" : "C"});
    else
      r.insert(r.end(), {"-", "-", "-"});
    r.insert(r.end(),
             {size_text(p), owner_string(p.st.st_uid),
              p.has_trailer() ? msg(p.trailer().creator_pid, ' ', sa::to_string(p.creator)) : "-",
              short_age(p.age)});
    rows.push_back(std::move(r));
  }
  if (found.empty())
    o.out += (all ? "no files in " : "no shmarray segments in ") + dir + "\n";
  else
    o.out += table(rows);
}

/// What info says about a segment's lock: held or free, and whether its holder still runs (by
/// pid and start time, like the creator), as JSON members and one line. Read from a copy of the
/// sync block, never by locking.
void lock_fields(report& r, const sa::detail::sync_block& b) {
  const sa::detail::lock_state st = sa::detail::robust_mutex::state(&b.lock);
  liveness holder = liveness::unknown;  // `unknown` when no holder is recorded
  if (st.pid != 0) {
    sa::detail::trailer who{};
    who.creator_pid = st.pid;
    who.creator_start = st.start;
    holder = sa::detail::creator_of(who);
  }
  std::string text =
      st.held ? msg("held (by pid ", st.pid, ", thread ", st.tid, ": ", sa::to_string(holder), ')')
      : st.owner_died
          ? msg("free; its last holder (pid ", st.pid, ") died holding it: the next locker is told")
          : "free";
  if (st.recoveries)
    text +=
        msg("; taken from a dead holder ", st.recoveries, " time", st.recoveries == 1 ? "" : "s");
  r.open("lock", "  lock:", text).add("held", json_bool(st.held)).num("holder_pid", st.pid);
  r.num("holder_tid", st.tid).add("holder", json_string(sa::to_string(holder)));
  r.add("owner_died", json_bool(st.owner_died)).num("recoveries", st.recoveries).close();
}

void cmd_info(const parsed& a, output& o) {
  a.expect("info", 1, "NAME");
  const std::string& name = a.positional[0];
  sa::detail::validate_name("info", name);
  const std::size_t count = parse_number("info", "--count", a.value("--count", "10"), 10, 1000000);
  probe p = probe_file("info", shm_dir(), name, true, {}, max_header_size_of("info", a));
  require_array("info", p);
  const bool json = a.has("--json");
  const auto elems = first_elements(p, count, json);
  const std::size_t n = p.header.count();
  const sa::npy::header& h = p.header;
  const sa::detail::trailer& t = p.trailer();
  const std::string version = msg(h.major, '.', h.minor);
  report r(json);
  r.add("name", json_string(p.name), "name:", printable(p.name));
  r.add("path", json_string(p.path), "path:", printable(p.path));
  r.add("kind", json_string(sa::to_string(p.kind)), "state:",
        p.kind == kind::shmarray      ? "ready (published)"
        : p.kind == kind::unpublished ? "unpublished (byte 0 is 0: being written, or its "
                                        "creator died while writing)"
                                      : "npy file without shmarray trailer");
  r.add("published", json_bool(p.byte0 == sa::detail::published_byte));
  file_fields(r, p);
  const long long huge =
      sa::detail::huge_bytes_of_file(p.native_handle(), static_cast<std::size_t>(p.st.st_size));
  r.add("huge_page_bytes", huge < 0 ? "null" : json_number(huge), "huge pages:",
        huge < 0
            ? "unknown"
            : msg(huge, " bytes (", sa::detail::human_bytes(static_cast<std::uint64_t>(huge), true),
                  ") of ", size_text(p), " on 2 MiB pages"));

  const sa::npy::dtype record = record_of(p);
  const bool structured = sa::npy::is_structured(h.descr);
  const std::string dt(view_of(h.descr, p.layout.elem_size).name);
  r.open("header", "header:", "NPY format " + version).add("format_version", json_string(version));
  r.add("descr", json_string(h.descr), "  descr:",
        msg('\'', printable(h.descr), '\'',
            structured   ? msg(" (structured: ", record.fields.size(), " fields)")
            : dt.empty() ? std::string()
                         : " (" + dt + ")",
            ", ", p.layout.elem_size, " bytes per element"));
  std::vector<std::pair<std::string, std::string>> fields;
  if (structured) record_rows(record, "", 0, fields);
  for (auto& f : fields) r.add({}, {}, "  field " + f.first + ":", std::move(f.second));
  r.add("shape", json_shape(h.shape),
        "  shape:", msg(sa::npy::shape_string(h.shape), ", ", n, " element", n == 1 ? "" : "s"));
  r.add("fortran_order", json_bool(h.fortran_order),
        "  order:", h.fortran_order ? "Fortran (column-major)" : "C (row-major)");
  r.num("data_offset", h.data_offset, "  data offset:").num("item_size", p.layout.elem_size);
  if (structured) r.add("fields", record_fields_json(record));
  r.num("data_bytes", p.layout.data_bytes, "  data bytes:").close();

  if (p.has_trailer()) {
    char hash[24], flags[16];
    std::snprintf(hash, sizeof hash, "0x%016llx", static_cast<unsigned long long>(t.type_hash));
    std::snprintf(flags, sizeof flags, "0x%x", t.flags);
    const std::string magic(t.magic, sizeof t.magic), live = sa::to_string(p.creator);
    r.open("trailer", "trailer:", msg("at offset ", p.layout.trailer_at))
        .num("offset", p.layout.trailer_at)
        .add("magic", json_string(magic), "  magic:", msg(magic, ", version ", t.version))
        .num("version", t.version);
    r.add(
        "flags", json_number(t.flags), "  flags:",
        msg(flags,
            t.flags & sa::detail::trailer_flag_detached ? " (detached: made by shmarray load)" : "",
            t.flags & sa::detail::trailer_flag_huge ? " (huge: attach maps it 2 MiB-aligned)"
                                                    : ""));
    r.add("creator_pid", json_number(t.creator_pid), "  creator:",
          msg("pid ", t.creator_pid, ", started at tick ", t.creator_start, ": ", live));
    r.num("creator_start", t.creator_start).add("creator", json_string(live));
    r.num("elem_size", t.elem_size, "  elem size:")
        .add("type_hash", json_string(hash), "  type hash:", hash);
    r.num("data_offset", t.data_offset, "  data offset:");
    r.num("data_bytes", t.data_bytes, "  data bytes:").close();
  } else {
    r.add("trailer", "null", "trailer:", "none");
  }
  if (p.has_sync) {
    const bool updating = sa::detail::sync_ops::updating(&p.sync);
    const auto gen = sa::detail::sync_ops::generation(&p.sync);
    r.open("sync", "sync:", msg("at offset ", p.sync_at)).num("offset", p.sync_at);
    r.add("generation", json_number(gen), "  generation:",
          msg(gen, updating ? " (an update is in progress, or its writer died in it)" : ""));
    r.add("updating", json_bool(updating));
    lock_fields(r, p.sync);
    r.close();
  } else {
    r.add("sync", "null", p.has_trailer() ? "sync:" : "",
          msg("none (trailer version ", t.version, ": no generation counter or lock)"));
  }
  std::string text = json_list(elems);  // the same list, Python's repr of each
  if (elems.size() < n) text.insert(text.size() - 1, elems.empty() ? "..." : ", ...");
  if (n > 1 || !h.shape.empty())
    text += elems.size() < n ? msg(" (first ", elems.size(), " of ", n, ", C index order)")
                             : " (C index order)";
  r.num("count", n).add("elements", json_list(elems), "elements:", text);
  o.out += r.str() + (json ? "\n" : "");
}

void cmd_rm(const parsed& a, output& o) {
  if (a.positional.empty()) fail_usage("rm", "missing NAME");
  const std::string dir = shm_dir();
  for (const auto& name : a.positional) {
    try {
      sa::detail::validate_name("rm", name);
      probe p = probe_file("rm", dir, name, false);
      p.close();
      const std::string what = "rm '" + printable(name) + "': ";
      if (!p.is_shmarray() && !a.has("--force")) {
        if (p.kind == kind::unreadable)
          throw_error(errc::permission_denied,
                      what +
                          "permission denied: cannot read it to check that it is "
                          "a shmarray segment (--force removes it unchecked)");
        throw_error(errc::bad_format,
                    what + "refusing: not a shmarray segment (" +
                        printable(p.problem.empty() ? sa::to_string(p.kind) : p.problem) +
                        "); --force removes it anyway");
      }
      remove_checked(p);
    } catch (const sa::error& e) {
      o.error(e);
    }
  }
}

void cmd_gc(const parsed& a, output& o) {
  const bool dry = a.has("--dry-run"), all_users = a.has("--all-users");
  if (all_users && ::geteuid() != 0)
    throw_error(errc::permission_denied,
                "gc --all-users: only root may remove other users' segments");
  const std::string dir = shm_dir(), verb = dry ? "would remove " : "removed ";
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (const auto& n : list_dir(dir)) {
    if (!matches(a.positional, n)) continue;
    try {
      probe p = probe_file("gc", dir, n, false);
      p.close();
      if (!p.is_shmarray() || (!all_users && p.st.st_uid != ::geteuid())) continue;
      if (p.creator != liveness::dead) continue;
      if (!dry) remove_checked(p);
      o.out += msg(verb, printable(n), " (creator pid ", p.trailer().creator_pid, " is gone, ",
                   size_text(p), p.kind == kind::unpublished ? ", unpublished" : "", ")\n");
      ++count;
      bytes += static_cast<std::uint64_t>(p.st.st_size);
    } catch (const sa::error& e) {
      if (e.kind() == errc::not_found) continue;  // gone meanwhile
      o.error(e);
    }
  }
  o.out += msg(verb, count, " segment", count == 1 ? "" : "s", ", ",
               sa::detail::human_bytes(bytes, true), '\n');
}

/// save: streams the array of a published segment (or plain .npy file) to an .npy file through a
/// 1 MiB buffer (no second full-size copy), replacing the file atomically.
void cmd_save(const parsed& a, output&) {
  const std::size_t given = a.positional.size();
  a.expect("save", 2, given == 0 ? "NAME and FILE.npy" : given == 1 ? "FILE.npy" : "NAME FILE.npy");
  sa::detail::validate_name("save", a.positional[0]);
  probe p = probe_file("save", shm_dir(), a.positional[0], true, std::chrono::milliseconds(1000),
                       max_header_size_of("save", a));
  const std::string what = "save '" + printable(p.name) + "': ";
  if (p.kind == kind::unpublished)
    throw_error(errc::not_ready,
                what +
                    "the segment is not published (byte 0 is still 0): its creator "
                    "is still writing it, or died while writing it");
  require_array("save", p);
  const std::size_t bytes = p.layout.data_bytes;
  sa::npy::file_writer w(a.positional[1], p.header.descr, p.header.fortran_order, p.header.shape);
  std::vector<char> buf(std::min<std::size_t>(bytes, std::size_t{1} << 20));
  for (std::size_t done = 0; done < bytes;) {
    const std::size_t n = std::min(buf.size(), bytes - done);
    if (p.read(p.header.data_offset + done, buf.data(), n) != n) {
      const int e = errno;
      if (e) throw_errno(what.substr(0, what.size() - 2), e);
      throw_error(errc::bad_format, what + "the segment shrank");
    }
    w.write(buf.data(), n);
    done += n;
  }
  w.commit();
}

/// The hash shared_array<T> records for the C++ type whose descr means `descr` on this host, so a
/// loaded segment is the one shared_array<T>::load makes; 0 when there is none (|V, S, U, a
/// structure, '>' on a little-endian host, ...: see docs/tool.md).
template <class... T>
std::uint64_t numpy_type_hash(std::string_view descr) {
  std::uint64_t h = 0;
  ((h = h == 0 && sa::npy::same_descr(descr, sa::npy::descr<T>()) ? sa::detail::type_hash<T>() : h),
   ...);
  return h;
}

/// load: streams an .npy file into a new segment through the library's one creation path
/// (plan_layout -> create_segment -> write_layout -> fill -> publish), for any dtype the file
/// holds, bytes as stored ('>i4' stays '>i4'; the descr in NumPy's canonical spelling), and
/// leaves it in place: the trailer's detached flag tells gc the tool's exit is no crash. On any
/// failure the new segment is removed.
void cmd_load(const parsed& a, output& o) {
  namespace d = sa::detail;
  a.expect("load", 1, "FILE.npy");
  if (a.has("--name") && a.value("--name", "").empty())
    fail_usage("load", "--name needs a non-empty NAME");
  const auto mode =
      static_cast<unsigned>(parse_number("load", "--mode", a.value("--mode", "0600"), 8, 07777));
  const std::string& file = a.positional[0];
  sa::npy::file_reader r(file, max_header_size_of("load", a), "--max-header-size");
  const std::string descr = r.hdr().descr;
  const d::layout_plan plan =
      d::plan_layout("load", file, descr, r.hdr().fortran_order, r.hdr().shape, r.item_size());
  sa::create_options co;
  co.name = a.value("--name", "");
  co.mode = mode;
  co.huge_pages = sa::huge_pages::prefer;
  d::validate_create("load", co);
  const std::string dir = shm_dir();
  const d::unique_fd dir_fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) d::throw_os("load", dir, "open", errno);
  d::segment seg;
  std::shared_ptr<d::manager_state> no_manager;
  d::create_segment(seg, no_manager, nullptr, "load", co, plan, true, dir_fd.get());
  const std::uint64_t hash =
      numpy_type_hash<bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                      std::uint32_t, std::int64_t, std::uint64_t, float, double,
                      std::complex<float>, std::complex<double>>(descr);
  auto* base = static_cast<unsigned char*>(seg.base());
  d::write_layout(base, plan, false, r.item_size(), hash,
                  d::trailer_flag_detached | (seg.huge() ? d::trailer_flag_huge : 0u), seg.name());
  if (seg.fd() >= 0)  // 4 KiB pages: sendfile
    r.send_data_as_stored(seg.fd(), plan.data_offset(), base + plan.data_offset());
  else
    r.read_data_as_stored(base + plan.data_offset());
  seg.drop_fd();
  seg.publish(d::published_byte);
  seg.disown();  // the segment outlives the tool
  o.out += seg.name() + "\n";
}

// ---- Help and dispatch
// ---------------------------------------------------------------------------

const char* const main_help =
    "Usage: shmarray COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Inspect and manage shmarray shared memory segments (the files in /dev/shm).\n"
    "\n"
    "Commands:\n"
    "  ls [PATTERN...]          list segments: dtype, shape, size, owner, creator, age\n"
    "  info NAME                header, trailer and first elements of one segment\n"
    "  rm NAME...               remove segments (refuses other files unless --force)\n"
    "  gc [PATTERN...]          remove segments whose creator process is gone\n"
    "  save NAME FILE.npy       write a segment's array to an .npy file\n"
    "  load FILE.npy            copy an .npy file into a new segment; prints its name\n"
    "  help [COMMAND]           this text, or a command's\n"
    "\n"
    "Run 'shmarray COMMAND --help' for a command's options. Exit codes: 0 ok, 1 usage,\n"
    "2 not found, 3 not a shmarray segment or bad file, 4 permission denied, 5 other error,\n"
    "6 name already exists. SHMARRAY_SHM_DIR overrides the directory (default /dev/shm).\n";

#define SHMTOOL_MAX_HEADER_HELP                                                       \
  "      --max-header-size N  accept an .npy header of up to N characters (default\n" \
  "                     10000, NumPy's max_header_size: np.load refuses longer ones)\n"

struct command {
  const char* name;
  void (*run)(const parsed&, output&);
  std::vector<option_spec> options;
  const char* help;
};

const std::vector<command>& commands() {
  static const std::vector<command> all = {
      {"ls",
       cmd_ls,
       {{"--all", 'a', false}, {"--json", 0, false}},
       "Usage: shmarray ls [--all] [--json] [PATTERN...]\n"
       "\n"
       "List the shmarray segments in /dev/shm (or only those whose names match a shell PATTERN):\n"
       "name, state, dtype, shape, order, size, owner, creator pid and whether it still runs, "
       "age.\n"
       "\n"
       "States: ready (published), unpublished (byte 0 still 0: being written, or its creator\n"
       "died while writing). Creator: alive, dead (that process is gone; the pid may have been\n"
       "reused, the start time tells), unknown, detached (made by 'shmarray load'; kept by gc).\n"
       "\n"
       "  -a, --all    also list other files: npy (an .npy file without shmarray trailer),\n"
       "               foreign, empty, unreadable\n"
       "      --json   one JSON object: {\"shm_dir\": ..., \"segments\": [...]}\n"},
      {"info",
       cmd_info,
       {{"--json", 0, false}, {"--count", 'n', true}, {"--max-header-size", 0, true}},
       "Usage: shmarray info [--json] [-n COUNT] [--max-header-size N] NAME\n"
       "\n"
       "Show one segment: its file (size, owner, mode, age, huge pages), the .npy header (descr,\n"
       "fields, shape, order, format version, data offset), the shmarray trailer (every field,\n"
       "creator liveness), the sync block (generation, lock) and the first COUNT elements in C\n"
       "index order (like numpy's a.flat).\n"
       "\n"
       "  -n, --count COUNT  elements to show (default 10)\n"
       "      --json         one JSON object\n" SHMTOOL_MAX_HEADER_HELP},
      {"rm",
       cmd_rm,
       {{"--force", 'f', false}},
       "Usage: shmarray rm [--force] NAME...\n"
       "\n"
       "Remove shmarray segments. A name that is not a shmarray segment (a foreign file, a plain\n"
       "npy file, an unreadable one) is refused unless --force. Processes that have a segment\n"
       "mapped keep their mapping; the memory is freed when the last one unmaps it. Every name\n"
       "is tried; the exit code is that of the first failure.\n"
       "\n"
       "  -f, --force  remove the file even if it is not a shmarray segment\n"},
      {"gc",
       cmd_gc,
       {{"--dry-run", 'n', false}, {"--all-users", 0, false}},
       "Usage: shmarray gc [--dry-run] [--all-users] [PATTERN...]\n"
       "\n"
       "Remove the segments whose creator is dead: the pid recorded in the trailer no longer\n"
       "runs, or runs with another start time (a reused pid). Only your own segments, unless\n"
       "root passes --all-users. Segments made by 'shmarray load' (detached) and those whose\n"
       "creator cannot be checked are kept. With PATTERNs, only matching names are considered.\n"
       "Caution: pids are per pid namespace; do not gc a /dev/shm shared with other containers.\n"
       "\n"
       "  -n, --dry-run  show what would be removed, remove nothing\n"
       "      --all-users  (root only) also other users' segments\n"},
      {"save",
       cmd_save,
       {{"--max-header-size", 0, true}},
       "Usage: shmarray save [--max-header-size N] NAME FILE.npy\n"
       "\n"
       "Write the array of segment NAME to FILE.npy (replaced atomically; read by numpy.load).\n"
       "The data is streamed: no second copy in memory. Waits up to a second for a segment that\n"
       "is being published. Writers running meanwhile may leave a mix of old and new values.\n"
       "\n" SHMTOOL_MAX_HEADER_HELP},
      {"load",
       cmd_load,
       {{"--name", 0, true}, {"--mode", 0, true}, {"--max-header-size", 0, true}},
       "Usage: shmarray load [--name NAME] [--mode OCTAL] [--max-header-size N] FILE.npy\n"
       "\n"
       "Copy FILE.npy (NumPy format 1.0, 2.0 or 3.0, C or Fortran order, any dtype whose data\n"
       "is plain bytes: numbers, bool, complex, strings, datetimes, raw bytes, structures) into\n"
       "a new segment and print its name. The segment stays after the tool exits: remove it\n"
       "with 'shmarray rm NAME'. C++ attaches it with shared_array<T>::attach(NAME), Python\n"
       "with numpy.load('/dev/shm/NAME', mmap_mode='r+'). The bytes are copied as stored: a\n"
       "big-endian file makes a big-endian segment.\n"
       "\n"
       "      --name NAME    the segment's name (default: generated, shmarray-<16 hex digits>)\n"
       "      --mode OCTAL   its permissions (default 0600)\n" SHMTOOL_MAX_HEADER_HELP},
  };
  return all;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) fail_usage("", "missing COMMAND");
  const std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "--version" || cmd == "-V") {
    std::printf("shmarray %d.%d.%d\n", SHMARRAY_VERSION_MAJOR, SHMARRAY_VERSION_MINOR,
                SHMARRAY_VERSION_PATCH);
    return ok;
  }
  const bool help = cmd == "-h" || cmd == "--help" || cmd == "help";
  const std::string& wanted = cmd == "help" && !args.empty() ? args[0] : cmd;
  for (const auto& c : commands()) {
    if (wanted != c.name) continue;
    if (help) {
      std::fputs(c.help, stdout);
      return ok;
    }
    const parsed p = parse(cmd, args, c.options);
    if (p.help) {
      std::fputs(c.help, stdout);
      return ok;
    }
    output o;
    try {
      c.run(p, o);
    } catch (const sa::error& e) {
      o.error(e);
    }
    std::fwrite(o.out.data(), 1, o.out.size(), stdout);
    return o.code;
  }
  if (help && wanted == cmd) {
    std::fputs(main_help, stdout);
    return ok;
  }
  fail_usage("", "unknown command '" + printable(wanted) + "'");
}

}  // namespace
}  // namespace shmtool

int main(int argc, char** argv) {
  int code;
  try {
    code = shmtool::run(argc, argv);
  } catch (const shmtool::usage_error& e) {
    std::fprintf(stderr, "%s\n", e.message.c_str());
    code = shmtool::usage;
  } catch (const shmarray::error& e) {
    std::fprintf(stderr, "shmarray: %s\n", std::string(e.reason()).c_str());
    code = shmtool::exit_code_of(e.kind());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "shmarray: out of memory\n");
    code = shmtool::other;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmarray: %s\n", e.what());
    code = shmtool::other;
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "shmarray: cannot write the output: %s\n", std::strerror(errno));
    if (code == shmtool::ok) code = shmtool::other;
  }
  return code;
}
