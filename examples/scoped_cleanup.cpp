// Scoped cleanup: the C++ form of the Python package's `with SharedMemoryArray.managed(...)` --
// RAII. An owner handle unlinks its segment when it is closed or goes out of scope, managed or not;
// a manager unlinks every segment made through it that is still there at the end of its scope,
// even those whose handles were moved elsewhere; a client handle (attached) never unlinks. The
// program checks each claim and exits 0.
#include <cstdio>
#include <shmarray/shmarray.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

bool attachable(const std::string& name) {
  try {
    shmarray::shared_array<double>::attach(name);
    return true;
  } catch (const shmarray::error& e) {
    if (e.kind() != shmarray::errc::not_found) throw;
    return false;
  }
}

int failures = 0;
void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok:  " : "FAIL:", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  using shmarray::shared_array;
  std::string one;
  {
    auto a = shared_array<double>::allocate({100, 100});  // the owner handle
    one = a.name();
    a.view<2>()(0, 0) = 1.0;
    {
      auto client = shared_array<double>::attach(one);  // a client: attached by name
      check(client.view<2>()(0, 0) == 1.0, "a client sees the owner's data");
    }  // the client is closed: the segment stays
    check(attachable(one), "closing a client leaves the segment");
  }  // the owner is destroyed: the segment is unlinked
  check(!attachable(one), "leaving the owner's scope unlinks the segment");

  std::vector<std::string> names;
  shared_array<float> escaped;
  {
    shmarray::manager mgr;  // like `with SharedMemoryManager() as smm:`
    auto a = shared_array<double>::allocate(mgr, {10});
    auto b = shared_array<float>::allocate(mgr, {2, 3});
    auto c = shared_array<int>::copy(mgr, std::vector<int>{1, 2, 3});
    names = {a.name(), b.name(), c.name()};
    escaped = std::move(b);  // a handle that outlives the manager
    c.close();               // closing an owner unlinks at once, managed or not
    check(!attachable(names[2]), "closing a managed owner unlinks its segment at once");
    check(mgr.names().size() == 2, "and takes it off the manager's list");
    check(attachable(names[0]), "managed segments live while the manager does");
  }  // the manager's scope ends: all three are unlinked
  bool all_gone = true;
  for (const auto& n : names) {
    try {
      shared_array<float>::attach(n);
      all_gone = false;
    } catch (const shmarray::error& e) {
      if (e.kind() != shmarray::errc::not_found) all_gone = false;
    }
  }
  check(all_gone, "leaving the manager's scope unlinks all its segments");
  escaped.data()[0] = 2.5f;  // the moved-out handle still maps the (now nameless) memory
  check(escaped.data()[0] == 2.5f, "an escaped handle keeps its memory until it is closed");
  escaped.close();

  std::printf("%s\n", failures ? "SOME CHECKS FAILED" : "OK: everything was cleaned up");
  return failures ? 1 : 0;
}
