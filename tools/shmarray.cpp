// The shmarray command-line tool: list, inspect, remove and garbage-collect shmarray segments, and
// copy them to and from .npy files. See docs/tool.md for the manual and the exit codes.
#include <fnmatch.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <new>
#include <shmarray/error.hpp>
#include <shmarray/version.hpp>
#include <string>
#include <vector>

#include "format.hpp"
#include "probe.hpp"
#include "transfer.hpp"

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

/// e.what() without the ": <category message>" std::system_error appends: our messages say it all.
std::string message_of(const sa::error& e) {
  return std::string(e.reason());
}

int exit_code_of(sa::errc e) {
  switch (e) {
    case sa::errc::invalid_argument: return usage;
    case sa::errc::not_found: return not_found;
    case sa::errc::bad_format:
    case sa::errc::not_ready:
    case sa::errc::type_mismatch:
    case sa::errc::shape_mismatch:
    case sa::errc::layout_mismatch: return bad_format;
    case sa::errc::permission_denied: return permission;
    case sa::errc::already_exists: return already_exists;
    default: return other;
  }
}

struct usage_error {
  std::string message;
};

// ---- Help
// ----------------------------------------------------------------------------------------

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

struct command_help {
  const char* name;
  const char* text;
};

const command_help helps[] = {
    {"ls",
     "Usage: shmarray ls [--all] [--json] [PATTERN...]\n"
     "\n"
     "List the shmarray segments in /dev/shm (or only those whose names match a shell PATTERN):\n"
     "name, state, dtype, shape, order, size, owner, creator pid and whether it still runs, age.\n"
     "\n"
     "States: ready (published), unpublished (byte 0 still 0: being written, or its creator\n"
     "died while writing). Creator: alive, dead (that process is gone; the pid may have been\n"
     "reused, the start time tells), unknown, detached (made by 'shmarray load'; kept by gc).\n"
     "\n"
     "  -a, --all    also list other files: npy (an .npy file without shmarray trailer),\n"
     "               foreign, empty, unreadable\n"
     "      --json   one JSON object: {\"shm_dir\": ..., \"segments\": [...]}\n"},
    {"info",
     "Usage: shmarray info [--json] [-n COUNT] NAME\n"
     "\n"
     "Show one segment: its file (size, owner, mode, age), the .npy header (descr, shape,\n"
     "order, format version, data offset), the shmarray trailer (every field, creator liveness)\n"
     "and the first COUNT elements in C index order (like numpy's a.flat).\n"
     "\n"
     "  -n, --count COUNT  elements to show (default 10)\n"
     "      --json         one JSON object\n"
     "      --max-header-size N  accept an .npy header of up to N characters (default\n"
     "                     10000, NumPy's max_header_size: np.load refuses longer ones)\n"},
    {"rm",
     "Usage: shmarray rm [--force] NAME...\n"
     "\n"
     "Remove shmarray segments. A name that is not a shmarray segment (a foreign file, a plain\n"
     "npy file, an unreadable one) is refused unless --force. Processes that have a segment\n"
     "mapped keep their mapping; the memory is freed when the last one unmaps it. Every name\n"
     "is tried; the exit code is that of the first failure.\n"
     "\n"
     "  -f, --force  remove the file even if it is not a shmarray segment\n"},
    {"gc",
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
     "Usage: shmarray save [--max-header-size N] NAME FILE.npy\n"
     "\n"
     "Write the array of segment NAME to FILE.npy (replaced atomically; read by numpy.load).\n"
     "The data is streamed: no second copy in memory. Waits up to a second for a segment that\n"
     "is being published. Writers running meanwhile may leave a mix of old and new values.\n"
     "\n"
     "  --max-header-size N  accept an .npy header of up to N characters (default 10000,\n"
     "                       NumPy's max_header_size)\n"},
    {"load",
     "Usage: shmarray load [--name NAME] [--mode OCTAL] [--max-header-size N] FILE.npy\n"
     "\n"
     "Copy FILE.npy (NumPy format 1.0, 2.0 or 3.0, C or Fortran order, any numeric, bool,\n"
     "complex or raw-bytes dtype) into a new segment and print its name. The segment stays\n"
     "after the tool exits: remove it with 'shmarray rm NAME'. C++ attaches it with\n"
     "shared_array<T>::attach(NAME), Python with numpy.load('/dev/shm/NAME', mmap_mode='r+').\n"
     "\n"
     "  --name NAME   the segment's name (default: generated, shmarray-<16 hex digits>)\n"
     "  --mode OCTAL  its permissions (default 0600)\n"
     "  --max-header-size N  accept an .npy header of up to N characters (default 10000,\n"
     "                NumPy's max_header_size: np.load refuses longer ones)\n"
     "The bytes are copied as stored: a big-endian file makes a big-endian segment.\n"},
};

const char* help_of(const std::string& cmd) {
  for (const auto& h : helps)
    if (cmd == h.name) return h.text;
  return nullptr;
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
};

parsed parse(const std::string& cmd, const std::vector<std::string>& args,
             const std::vector<option_spec>& specs) {
  parsed p;
  auto fail = [&](const std::string& m) {
    throw usage_error{"shmarray " + cmd + ": " + m + " (see 'shmarray " + cmd + " --help')"};
  };
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
    std::string key = a, val;
    bool inline_val = false;
    const option_spec* spec = nullptr;
    if (a[1] == '-') {
      auto eq = a.find('=');
      if (eq != std::string::npos) {
        key = a.substr(0, eq);
        val = a.substr(eq + 1);
        inline_val = true;
      }
      for (const auto& s : specs)
        if (key == s.long_name) spec = &s;
    } else if (a.size() == 2) {
      for (const auto& s : specs)
        if (s.short_name == a[1]) spec = &s;
    }
    if (!spec) fail("unknown option '" + printable(a) + "'");
    if (spec->takes_value) {
      if (!inline_val) {
        if (i + 1 >= args.size()) fail("option " + std::string(spec->long_name) + " needs a value");
        val = args[++i];
      }
    } else if (inline_val) {
      fail("option " + std::string(spec->long_name) + " takes no value");
    }
    p.options.emplace_back(spec->long_name, val);
  }
  return p;
}

unsigned long parse_number(const std::string& cmd, const std::string& opt, const std::string& v,
                           int base, unsigned long max) {
  char* end = nullptr;
  errno = 0;
  unsigned long n = v.empty() || v[0] == '-' ? 0 : std::strtoul(v.c_str(), &end, base);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0 || n > max)
    throw usage_error{"shmarray " + cmd + ": " + opt + " '" + printable(v) + "' is not " +
                      (base == 8 ? "an octal mode (e.g. 0640)" : "a count") + " (see 'shmarray " +
                      cmd + " --help')"};
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

std::string owner_string(uid_t uid) {
  std::string n = user_name(uid);
  return n.empty() ? std::to_string(uid) : n;
}

/// Where element `k` (in C index order) lies in memory, counted in elements.
std::size_t memory_index(const sa::npy::header& h, std::size_t k) {
  if (!h.fortran_order || h.shape.size() <= 1) return k;
  std::size_t off = 0, stride = 1;
  std::vector<std::size_t> idx(h.shape.size());
  for (std::size_t r = h.shape.size(); r-- > 0;) {
    idx[r] = k % h.shape[r];
    k /= h.shape[r];
  }
  for (std::size_t r = 0; r < h.shape.size(); ++r) {
    off += idx[r] * stride;
    stride *= h.shape[r];
  }
  return off;
}

/// The first `count` elements of a probed segment, each formatted.
std::vector<std::string> first_elements(const probe& p, std::size_t count, bool json) {
  std::vector<std::string> out;
  const std::size_t n = p.header.count();
  const dtype_view v = view_of(p.header.descr, p.layout.elem_size);
  const bool structured = sa::npy::is_structured(p.header.descr);
  const sa::npy::dtype record =
      structured ? sa::npy::parse_dtype(p.header.descr, p.name) : sa::npy::dtype{};
  std::vector<unsigned char> buf(p.layout.elem_size);
  for (std::size_t k = 0; k < n && k < count; ++k) {
    std::size_t at = p.header.data_offset + memory_index(p.header, k) * p.layout.elem_size;
    if (p.read(at, buf.data(), p.layout.elem_size) != p.layout.elem_size)
      sa::detail::throw_error(sa::errc::bad_format, "'" + p.name + "': the segment shrank");
    out.push_back(structured ? format_record(record, buf.data(), json)
                             : format_element(v, buf.data(), json));
  }
  return out;
}

/// The JSON fields ls and info give every file: size, owner, mode, age.
void file_fields(json_writer& w, const probe& p) {
  w.key("size").num(static_cast<std::uint64_t>(p.st.st_size));
  w.key("uid").num(static_cast<std::uint64_t>(p.st.st_uid));
  const std::string u = user_name(p.st.st_uid);
  if (u.empty())
    w.key("user").null();
  else
    w.key("user").str(u);
  w.key("mode").str(mode_string(p.st.st_mode)).key("age_seconds").num(p.age);
}

std::string state_name(const probe& p) {
  return p.kind == kind::shmarray ? "ready" : sa::to_string(p.kind);
}

std::string dtype_name(const probe& p) {
  auto v = view_of(p.header.descr, p.layout.elem_size);
  return v.name.empty() ? std::string() : std::string(v.name);
}

// ---- Commands
// ------------------------------------------------------------------------------------

struct output {
  std::string out;
  int code = ok;
  void error(int c, const std::string& message) {
    std::string m = message;
    for (char& ch : m)
      if (ch == '\n') ch = ' ';
    std::fprintf(stderr, "shmarray: %s\n", m.c_str());
    if (code == ok) code = c;
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
      if (e.kind() != sa::errc::not_found) throw;  // removed while we listed: skip it
    }
  }
  if (json) {
    json_writer w;
    w.begin_object().key("shm_dir").str(dir).key("segments").begin_array();
    for (const auto& p : found) {
      w.begin_object();
      w.key("name").str(p.name).key("kind").str(sa::to_string(p.kind));
      w.key("published").boolean(p.kind == kind::shmarray || p.kind == kind::npy);
      file_fields(w, p);
      if (p.has_header && p.layout.elem_size) {
        w.key("dtype").str(p.header.descr);
        w.key("shape").begin_array();
        for (auto d : p.header.shape) w.num(static_cast<std::uint64_t>(d));
        w.end_array();
        w.key("fortran_order").boolean(p.header.fortran_order);
        w.key("data_bytes").num(static_cast<std::uint64_t>(p.layout.data_bytes));
      }
      if (p.has_trailer()) {
        w.key("creator_pid").num(p.trailer().creator_pid);
        w.key("creator").str(sa::to_string(p.creator));
      }
      if (!p.problem.empty()) w.key("problem").str(p.problem);
      w.end_object();
    }
    w.end_array().end_object();
    o.out += w.text() + "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "STATE", "DTYPE", "SHAPE", "ORDER", "SIZE", "OWNER", "CREATOR", "AGE"});
  for (const auto& p : found) {
    std::vector<std::string> r{printable(p.name), state_name(p)};
    if (p.has_header && p.layout.elem_size && p.kind != kind::foreign) {
      r.push_back(sa::npy::is_structured(p.header.descr)
                      ? record_summary(sa::npy::parse_dtype(p.header.descr, p.name))
                      : printable(p.header.descr));
      r.push_back(sa::npy::shape_string(p.header.shape));
      r.push_back(p.header.fortran_order ? "F" : "C");
    } else {
      r.insert(r.end(), {"-", "-", "-"});
    }
    r.push_back(short_bytes(static_cast<std::uint64_t>(p.st.st_size)));
    r.push_back(owner_string(p.st.st_uid));
    r.push_back(p.has_trailer()
                    ? std::to_string(p.trailer().creator_pid) + " " + sa::to_string(p.creator)
                    : "-");
    r.push_back(short_age(p.age));
    rows.push_back(std::move(r));
  }
  if (found.empty())
    o.out += all ? "no files in " + dir + "\n" : "no shmarray segments in " + dir + "\n";
  else
    o.out += table(rows);
}

/// What info says about a segment's lock: held or free, and whether its holder still runs (by
/// pid and start time, like the creator). Read from a copy of the sync block, never by locking.
struct lock_report {
  sa::detail::lock_state st;
  liveness holder = liveness::unknown;  // of st.pid; `unknown` when no holder is recorded
  std::string text;                     // one line for the table
};

lock_report describe_lock(const sa::detail::sync_block& b) {
  lock_report r;
  r.st = sa::detail::robust_mutex::state(&b.lock);
  if (r.st.pid != 0) {
    sa::detail::trailer who{};
    who.creator_pid = r.st.pid;
    who.creator_start = r.st.start;
    r.holder = sa::detail::creator_of(who);
  }
  const std::string by = "pid " + std::to_string(r.st.pid) + ", thread " +
                         std::to_string(r.st.tid) + ": " + sa::to_string(r.holder);
  if (r.st.held)
    r.text = "held (by " + by + ")";
  else if (r.st.owner_died)
    r.text = "free; its last holder (pid " + std::to_string(r.st.pid) +
             ") died holding it: the next locker is told";
  else
    r.text = "free";
  if (r.st.recoveries)
    r.text += "; taken from a dead holder " + std::to_string(r.st.recoveries) + " time" +
              (r.st.recoveries == 1 ? "" : "s");
  return r;
}

void cmd_info(const parsed& a, output& o) {
  if (a.positional.size() != 1)
    throw usage_error{std::string("shmarray info: ") +
                      (a.positional.empty() ? "missing NAME" : "give exactly one NAME") +
                      " (see 'shmarray info --help')"};
  const std::string& name = a.positional[0];
  sa::detail::validate_name("info", name);
  const std::size_t count = parse_number("info", "--count", a.value("--count", "10"), 10, 1000000);
  probe p = probe_file("info", shm_dir(), name, true, {}, max_header_size_of("info", a));
  if (!p.has_header || p.kind == kind::foreign || p.kind == kind::empty)
    sa::detail::throw_error(sa::errc::bad_format,
                            "info '" + printable(name) +
                                (p.header_too_long ? "': " : "': not a shmarray segment: ") +
                                printable(p.problem));
  const auto elems = first_elements(p, count, a.has("--json"));
  const std::size_t n = p.header.count();
  const std::string version = std::to_string(p.header.major) + "." + std::to_string(p.header.minor);
  const liveness live = p.has_trailer() ? p.creator : liveness::unknown;
  const long long huge =
      sa::detail::huge_bytes_of_file(p.native_handle(), static_cast<std::size_t>(p.st.st_size));
  char hash[24];
  std::snprintf(hash, sizeof hash, "0x%016llx",
                static_cast<unsigned long long>(p.trailer().type_hash));
  if (a.has("--json")) {
    json_writer w;
    w.begin_object();
    w.key("name").str(p.name).key("path").str(p.path).key("kind").str(sa::to_string(p.kind));
    w.key("published").boolean(p.byte0 == sa::detail::published_byte);
    file_fields(w, p);
    w.key("huge_page_bytes");
    if (huge < 0)
      w.null();
    else
      w.num(static_cast<std::uint64_t>(huge));
    w.key("header").begin_object();
    w.key("format_version").str(version);
    w.key("descr").str(p.header.descr);
    w.key("shape").begin_array();
    for (auto d : p.header.shape) w.num(static_cast<std::uint64_t>(d));
    w.end_array();
    w.key("fortran_order").boolean(p.header.fortran_order);
    w.key("data_offset").num(static_cast<std::uint64_t>(p.header.data_offset));
    w.key("item_size").num(static_cast<std::uint64_t>(p.layout.elem_size));
    if (sa::npy::is_structured(
            p.header.descr)) {  // a structured dtype: its fields, nested ones inside
      struct fields_json {
        static void write(json_writer& j, const sa::npy::dtype& d) {
          j.begin_array();
          for (const auto& f : d.fields) {
            j.begin_object().key("name").str(f.name);
            if (f.type.structured()) {
              j.key("fields");
              write(j, f.type);
            } else {
              j.key("descr").str(f.type.simple);
            }
            j.key("offset").num(static_cast<std::uint64_t>(f.offset));
            j.key("shape").begin_array();
            for (auto s : f.shape) j.num(static_cast<std::uint64_t>(s));
            j.end_array().end_object();
          }
          j.end_array();
        }
      };
      w.key("fields");
      fields_json::write(w, sa::npy::parse_dtype(p.header.descr, p.name));
    }
    w.key("data_bytes").num(static_cast<std::uint64_t>(p.layout.data_bytes));
    w.end_object();
    w.key("trailer");
    if (p.has_trailer()) {
      w.begin_object();
      w.key("offset").num(static_cast<std::uint64_t>(p.layout.trailer_at));
      w.key("magic").str(std::string(p.trailer().magic, sizeof p.trailer().magic));
      w.key("version").num(static_cast<std::uint64_t>(p.trailer().version));
      w.key("flags").num(static_cast<std::uint64_t>(p.trailer().flags));
      w.key("creator_pid").num(p.trailer().creator_pid);
      w.key("creator_start").num(p.trailer().creator_start);
      w.key("creator").str(sa::to_string(live));
      w.key("elem_size").num(p.trailer().elem_size);
      w.key("type_hash").str(hash);
      w.key("data_offset").num(p.trailer().data_offset);
      w.key("data_bytes").num(p.trailer().data_bytes);
      w.end_object();
    } else {
      w.null();
    }
    w.key("sync");
    if (p.has_sync) {
      const lock_report lr = describe_lock(p.sync);
      w.begin_object();
      w.key("offset").num(static_cast<std::uint64_t>(p.sync_at));
      w.key("generation").num(sa::detail::sync_ops::generation(&p.sync));
      w.key("updating").boolean(sa::detail::sync_ops::updating(&p.sync));
      w.key("lock").begin_object();
      w.key("held").boolean(lr.st.held);
      w.key("holder_pid").num(lr.st.pid);
      w.key("holder_tid").num(static_cast<std::uint64_t>(lr.st.tid));
      w.key("holder").str(sa::to_string(lr.holder));
      w.key("owner_died").boolean(lr.st.owner_died);
      w.key("recoveries").num(lr.st.recoveries);
      w.end_object();
      w.end_object();
    } else {
      w.null();
    }
    w.key("count").num(static_cast<std::uint64_t>(n));
    w.key("elements").begin_array();
    for (const auto& e : elems) w.raw(e);
    w.end_array();
    w.end_object();
    o.out += w.text() + "\n";
    return;
  }
  std::string dt = dtype_name(p);
  std::vector<std::vector<std::string>> rows;
  auto row = [&](std::string k, std::string v) { rows.push_back({std::move(k), std::move(v)}); };
  row("name:", printable(p.name));
  row("path:", printable(p.path));
  row("state:", p.kind == kind::shmarray      ? "ready (published)"
                : p.kind == kind::unpublished ? "unpublished (byte 0 is 0: being written, or its "
                                                "creator died while writing)"
                                              : "npy file without shmarray trailer");
  row("size:", std::to_string(p.st.st_size) + " bytes (" +
                   short_bytes(static_cast<std::uint64_t>(p.st.st_size)) + ")");
  row("owner:", owner_string(p.st.st_uid) + " (uid " + std::to_string(p.st.st_uid) + "), mode " +
                    mode_string(p.st.st_mode));
  row("age:", short_age(p.age));
  row("huge pages:", huge < 0 ? std::string("unknown")
                              : std::to_string(huge) + " bytes (" +
                                    short_bytes(static_cast<std::uint64_t>(huge)) + ") of " +
                                    short_bytes(static_cast<std::uint64_t>(p.st.st_size)) +
                                    " on 2 MiB pages");
  row("header:", "NPY format " + version);
  const bool structured = sa::npy::is_structured(p.header.descr);
  const sa::npy::dtype record =
      structured ? sa::npy::parse_dtype(p.header.descr, p.name) : sa::npy::dtype{};
  row("  descr:",
      "'" + printable(p.header.descr) + "'" +
          (structured   ? " (structured: " + std::to_string(record.fields.size()) + " fields)"
           : dt.empty() ? ""
                        : " (" + dt + ")") +
          ", " + std::to_string(p.layout.elem_size) + " bytes per element");
  if (structured) {
    std::vector<std::pair<std::string, std::string>> fields;
    record_rows(record, "", 0, fields);
    for (auto& f : fields) row("  field " + f.first + ":", std::move(f.second));
  }
  row("  shape:", sa::npy::shape_string(p.header.shape) + ", " + std::to_string(n) + " element" +
                      (n == 1 ? "" : "s"));
  row("  order:", p.header.fortran_order ? "Fortran (column-major)" : "C (row-major)");
  row("  data offset:", std::to_string(p.header.data_offset));
  row("  data bytes:", std::to_string(p.layout.data_bytes));
  if (p.has_trailer()) {
    row("trailer:", "at offset " + std::to_string(p.layout.trailer_at));
    row("  magic:", std::string(p.trailer().magic, sizeof p.trailer().magic) + ", version " +
                        std::to_string(p.trailer().version));
    row(
        "  flags:", "0x" +
                        [&] {
                          char b[16];
                          std::snprintf(b, sizeof b, "%x", p.trailer().flags);
                          return std::string(b);
                        }() +
                        ((p.trailer().flags & sa::detail::trailer_flag_detached)
                             ? " (detached: made by shmarray load)"
                             : "") +
                        ((p.trailer().flags & sa::detail::trailer_flag_huge)
                             ? " (huge: attach maps it 2 MiB-aligned)"
                             : ""));
    row("  creator:", "pid " + std::to_string(p.trailer().creator_pid) + ", started at tick " +
                          std::to_string(p.trailer().creator_start) + ": " + sa::to_string(live));
    row("  elem size:", std::to_string(p.trailer().elem_size));
    row("  type hash:", hash);
    row("  data offset:", std::to_string(p.trailer().data_offset));
    row("  data bytes:", std::to_string(p.trailer().data_bytes));
  } else {
    row("trailer:", "none");
  }
  if (p.has_sync) {
    row("sync:", "at offset " + std::to_string(p.sync_at));
    row("  generation:", std::to_string(sa::detail::sync_ops::generation(&p.sync)) +
                             (sa::detail::sync_ops::updating(&p.sync)
                                  ? " (an update is in progress, or its writer died in it)"
                                  : ""));
    row("  lock:", describe_lock(p.sync).text);
  } else if (p.has_trailer()) {
    row("sync:", "none (trailer version " + std::to_string(p.trailer().version) +
                     ": no generation counter or lock)");
  }
  std::string list = "[";
  for (std::size_t i = 0; i < elems.size(); ++i) list += (i ? ", " : "") + elems[i];
  if (elems.size() < n) list += elems.empty() ? "..." : ", ...";
  list += "]";
  if (n > 1 || p.header.shape.size() > 0)
    list += elems.size() < n ? " (first " + std::to_string(elems.size()) + " of " +
                                   std::to_string(n) + ", C index order)"
                             : " (C index order)";
  row("elements:", list);
  o.out += table(rows);
}

void cmd_rm(const parsed& a, output& o) {
  if (a.positional.empty())
    throw usage_error{"shmarray rm: missing NAME (see 'shmarray rm --help')"};
  const std::string dir = shm_dir();
  const bool force = a.has("--force");
  for (const auto& name : a.positional) {
    try {
      sa::detail::validate_name("rm", name);
      probe p = probe_file("rm", dir, name, false);
      p.close();
      if (!p.is_shmarray() && !force) {
        if (p.kind == kind::unreadable)
          sa::detail::throw_error(sa::errc::permission_denied,
                                  "rm '" + printable(name) +
                                      "': permission denied: cannot read it to check that it is "
                                      "a shmarray segment (--force removes it unchecked)");
        sa::detail::throw_error(
            sa::errc::bad_format,
            "rm '" + printable(name) + "': refusing: not a shmarray segment (" +
                printable(p.problem.empty() ? sa::to_string(p.kind) : p.problem) +
                "); --force removes it anyway");
      }
      remove_checked(p);
    } catch (const sa::error& e) {
      o.error(exit_code_of(e.kind()), message_of(e));
    }
  }
}

void cmd_gc(const parsed& a, output& o) {
  const bool dry = a.has("--dry-run"), all_users = a.has("--all-users");
  if (all_users && ::geteuid() != 0)
    sa::detail::throw_error(sa::errc::permission_denied,
                            "gc --all-users: only root may remove other users' segments");
  const std::string dir = shm_dir();
  std::size_t count = 0;
  std::uint64_t bytes = 0;
  for (const auto& n : list_dir(dir)) {
    if (!matches(a.positional, n)) continue;
    try {
      probe p = probe_file("gc", dir, n, false);
      p.close();
      if (!p.is_shmarray() || (!all_users && p.st.st_uid != ::geteuid())) continue;
      if (p.creator != liveness::dead) continue;
      const std::string why = "(creator pid " + std::to_string(p.trailer().creator_pid) +
                              " is gone, " + short_bytes(static_cast<std::uint64_t>(p.st.st_size)) +
                              (p.kind == kind::unpublished ? ", unpublished" : "") + ")";
      if (!dry) remove_checked(p);
      o.out += (dry ? "would remove " : "removed ") + printable(n) + " " + why + "\n";
      ++count;
      bytes += static_cast<std::uint64_t>(p.st.st_size);
    } catch (const sa::error& e) {
      if (e.kind() == sa::errc::not_found) continue;  // gone meanwhile
      o.error(exit_code_of(e.kind()), message_of(e));
    }
  }
  o.out += (dry ? "would remove " : "removed ") + std::to_string(count) + " segment" +
           (count == 1 ? "" : "s") + ", " + short_bytes(bytes) + "\n";
}

void cmd_save(const parsed& a, output&) {
  if (a.positional.size() != 2)
    throw usage_error{std::string("shmarray save: ") +
                      (a.positional.size() < 2 ? "missing " : "too many arguments; expected ") +
                      (a.positional.empty()       ? "NAME and FILE.npy"
                       : a.positional.size() == 1 ? "FILE.npy"
                                                  : "NAME FILE.npy") +
                      " (see 'shmarray save --help')"};
  sa::detail::validate_name("save", a.positional[0]);
  probe p = probe_file("save", shm_dir(), a.positional[0], true, std::chrono::milliseconds(1000),
                       max_header_size_of("save", a));
  save_segment(p, a.positional[1]);
}

void cmd_load(const parsed& a, output& o) {
  if (a.positional.size() != 1)
    throw usage_error{std::string("shmarray load: ") +
                      (a.positional.empty() ? "missing FILE.npy" : "give exactly one FILE.npy") +
                      " (see 'shmarray load --help')"};
  if (a.has("--name") && a.value("--name", "").empty())
    throw usage_error{"shmarray load: --name needs a non-empty NAME"};
  const auto mode =
      static_cast<unsigned>(parse_number("load", "--mode", a.value("--mode", "0600"), 8, 07777));
  o.out += load_file(shm_dir(), a.positional[0], a.value("--name", ""), mode,
                     max_header_size_of("load", a)) +
           "\n";
}

struct command {
  const char* name;
  void (*run)(const parsed&, output&);
  std::vector<option_spec> options;
};

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) throw usage_error{"shmarray: missing COMMAND (see 'shmarray --help')"};
  const std::string cmd = args[0];
  args.erase(args.begin());
  if (cmd == "-h" || cmd == "--help") {
    std::fputs(main_help, stdout);
    return ok;
  }
  if (cmd == "--version" || cmd == "-V") {
    std::printf("shmarray %d.%d.%d\n", SHMARRAY_VERSION_MAJOR, SHMARRAY_VERSION_MINOR,
                SHMARRAY_VERSION_PATCH);
    return ok;
  }
  if (cmd == "help") {
    if (args.empty()) {
      std::fputs(main_help, stdout);
      return ok;
    }
    const char* h = help_of(args[0]);
    if (!h)
      throw usage_error{"shmarray help: unknown command '" + printable(args[0]) +
                        "' (see 'shmarray --help')"};
    std::fputs(h, stdout);
    return ok;
  }
  static const command commands[] = {
      {"ls", cmd_ls, {{"--all", 'a', false}, {"--json", 0, false}}},
      {"info",
       cmd_info,
       {{"--json", 0, false}, {"--count", 'n', true}, {"--max-header-size", 0, true}}},
      {"rm", cmd_rm, {{"--force", 'f', false}}},
      {"gc", cmd_gc, {{"--dry-run", 'n', false}, {"--all-users", 0, false}}},
      {"save", cmd_save, {{"--max-header-size", 0, true}}},
      {"load",
       cmd_load,
       {{"--name", 0, true}, {"--mode", 0, true}, {"--max-header-size", 0, true}}},
  };
  for (const auto& c : commands) {
    if (cmd != c.name) continue;
    parsed p = parse(cmd, args, c.options);
    if (p.help) {
      std::fputs(help_of(cmd), stdout);
      return ok;
    }
    output o;
    try {
      c.run(p, o);
    } catch (const sa::error& e) {
      o.error(exit_code_of(e.kind()), message_of(e));
    }
    std::fwrite(o.out.data(), 1, o.out.size(), stdout);
    return o.code;
  }
  throw usage_error{"shmarray: unknown command '" + printable(cmd) + "' (see 'shmarray --help')"};
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
    std::fprintf(stderr, "shmarray: %s\n", shmtool::message_of(e).c_str());
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
