// Compile-fail check (tests/mdspan.cmake): the index conversions the standard refuses (issue 13).
// An index passed by value must convert as an rvalue, without throwing; a std::array element must
// convert as a const lvalue. A bad build defines SHMARRAY_BAD_VARIANT as one of the refused uses
// below; the control makes the allowed ones on the same view.
#include <array>
#include <shmarray/mdspan.hpp>

struct only_rvalue {
  int v;
  operator int() && noexcept { return v; }
};
struct only_lvalue {
  int v;
  operator int() & noexcept { return v; }
};
struct throwing_index {
  int v;
  operator int() const { return v; }
};

// The refused uses, one a bad variant.
#define pack_only_lvalue m(only_lvalue{1}, only_lvalue{2})
#define pack_throwing m(throwing_index{1}, throwing_index{2})
#define extents_only_lvalue shmarray::dextents<int, 2>(only_lvalue{1}, only_lvalue{2}).extent(0)
#define mapping_only_lvalue m.mapping()(only_lvalue{1}, only_lvalue{2})
#define array_only_rvalue m(std::array<only_rvalue, 2>{{{1}, {2}}})
#define array_bracket_only_rvalue m[std::array<only_rvalue, 2>{{{1}, {2}}}]

int main() {
  int data[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  shmarray::mdspan<int, shmarray::extents<int, 3, 4>> m(data);
  only_lvalue lvalue{2};
  throwing_index thrower{1};
  int r = m(only_rvalue{1}, only_rvalue{2}) + m.mapping()(only_rvalue{2}, only_rvalue{3}) +
          shmarray::dextents<int, 2>(only_rvalue{1}, only_rvalue{2}).extent(1) +
          m(std::array<int, 2>{2, 0}) + static_cast<int>(lvalue) + static_cast<int>(thrower);
#ifdef SHMARRAY_BAD
  r += SHMARRAY_BAD_VARIANT;
#endif
  return r == 6 + 11 + 2 + 8 + 2 + 1 ? 0 : 1;
}
