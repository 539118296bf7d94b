// NumPy structured (record) dtypes <-> C++ structs. SHMARRAY_RECORD(Particle, x, y, id) describes a
// struct's fields, so shared_array<Particle> writes the structured descr NumPy itself writes for it
// ("[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V4')]", built at compile time) and
// attach/load accept a structured segment or file only when its fields (names, types, shapes,
// offsets) and itemsize are the struct's (same_dtype). Parsing structured descrs is
// npy_record_dtype.hpp. npy.hpp includes both (through the parser headers) at its end.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/record_pp.hpp"
#include "npy.hpp"
#include "npy_record_dtype.hpp"

namespace shmarray {
namespace npy {

// ---- Describing a C++ struct -----------------------------------------------------------------

/// One member in a record description: its type (from the member pointer), name and offset.
template <class M>
struct record_member_info {
  const char* name;
  std::size_t offset;
};
template <class M, class C>
constexpr record_member_info<std::remove_cv_t<M>> record_member(M C::*, const char* name,
                                                                std::size_t offset) noexcept {
  return {name, offset};
}

template <class T>
constexpr std::string_view record_descr() noexcept;

/// What SHMARRAY_RECORD's shmarray_record(record_tag<T>) returns: the members' names and offsets,
/// their types as the pack Ms.
template <class T, class... Ms>
struct record_fields {
  static constexpr std::size_t count = sizeof...(Ms);
  const char* names[sizeof...(Ms)];
  std::size_t offsets[sizeof...(Ms)];
  /// The structured descr (used by npy::descr<T>()).
  static constexpr std::string_view descr() noexcept { return record_descr<T>(); }
};
template <class T, class... Ms>
constexpr record_fields<T, Ms...> make_record(record_member_info<Ms>... m) noexcept {
  return {{m.name...}, {m.offset...}};
}

namespace detail {
// Writes (or, with out == nullptr, counts) the characters of a descr at compile time.
struct descr_sink {
  char* out = nullptr;
  std::size_t n = 0;
  constexpr void put(char c) noexcept {
    if (out) out[n] = c;
    ++n;
  }
  constexpr void put(const char* s) noexcept {
    for (; *s; ++s) put(*s);
  }
  constexpr void number(std::size_t v) noexcept {
    char d[20] = {};
    std::size_t k = 0;
    do {
      d[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (k) put(d[--k]);
  }
};

// A member's array dimensions (C arrays and std::array, nested), outer first, and the element
// type under them.
template <class M>
struct member_array {
  using base = M;
  static constexpr std::size_t rank = 0;
  static constexpr std::size_t extent = 1;
};
template <class E, std::size_t N>
struct member_array<E[N]> {
  using inner = member_array<std::remove_cv_t<E>>;
  using base = typename inner::base;
  static constexpr std::size_t rank = 1 + inner::rank;
  static constexpr std::size_t extent = N;
};
template <class E, std::size_t N>
struct member_array<std::array<E, N>> : member_array<E[N]> {
  static_assert(sizeof(std::array<E, N>) == N * sizeof(E),
                "SHMARRAY_RECORD: a std::array member must hold its elements without padding");
};
template <class B, bool = std::is_enum_v<B>>
struct numeric_of {
  using type = B;
};
template <class B>
struct numeric_of<B, true> {  // an enum is stored as its underlying integer
  using type = std::underlying_type_t<B>;
};

template <class T>
constexpr void put_record(descr_sink& s) noexcept;

template <class B>
constexpr void put_base(descr_sink& s) noexcept {
  if constexpr (is_record_v<B>) {
    put_record<B>(s);
  } else {
    using K = typename numeric_of<B>::type;
    constexpr char k = kind<K>();  // 'V' (raw bytes) for a struct without a description
    s.put('\'');
    if (k == 'b') {
      s.put("|b1");
    } else {
      s.put(k == 'V' || sizeof(K) == 1 ? '|' : byte_order);
      s.put(k);
      s.number(sizeof(K));
    }
    s.put('\'');
  }
}

// The dimensions of M, each level from the type at that level.
template <class M>
constexpr void put_shape(descr_sink& s) noexcept {
  if constexpr (std::is_array_v<M>) {
    s.number(std::extent_v<M>);
    using E = std::remove_cv_t<std::remove_extent_t<M>>;
    if constexpr (member_array<E>::rank > 0) {
      s.put(", ");
      put_shape<E>(s);
    }
  } else if constexpr (member_array<M>::rank > 0) {  // std::array<E, N>
    s.number(member_array<M>::extent);
    using E = std::remove_cv_t<typename M::value_type>;
    if constexpr (member_array<E>::rank > 0) {
      s.put(", ");
      put_shape<E>(s);
    }
  }
}

inline constexpr void put_padding(descr_sink& s, std::size_t n, bool& first) noexcept {
  if (!first) s.put(", ");
  first = false;
  s.put("('', '|V");
  s.number(n);
  s.put("')");
}

template <class M>
constexpr void put_field(descr_sink& s, const char* name, std::size_t offset, std::size_t& at,
                         bool& first) noexcept {
  if (offset > at) put_padding(s, offset - at, first);
  if (!first) s.put(", ");
  first = false;
  s.put("('");
  s.put(name);
  s.put("', ");
  put_base<std::remove_cv_t<typename member_array<M>::base>>(s);
  if constexpr (member_array<M>::rank > 0) {
    s.put(", (");
    put_shape<M>(s);
    if (member_array<M>::rank == 1) s.put(',');
    s.put(')');
  }
  s.put(')');
  at = offset + sizeof(M);
}

template <class T, class... Ms, std::size_t... I>
constexpr void put_fields(descr_sink& s, const record_fields<T, Ms...>& r,
                          std::index_sequence<I...>) noexcept {
  std::size_t at = 0;
  bool first = true;
  (put_field<Ms>(s, r.names[I], r.offsets[I], at, first), ...);
  if (sizeof(T) > at) put_padding(s, sizeof(T) - at, first);
}

template <class T>
constexpr void put_record(descr_sink& s) noexcept {
  constexpr auto r = shmarray_record(record_tag<T>{});
  s.put('[');
  put_fields(s, r, std::make_index_sequence<decltype(r)::count>{});
  s.put(']');
}

// True when the members come in increasing offsets without overlap and end inside T.
template <class T, class... Ms>
constexpr bool in_order(const record_fields<T, Ms...>& r) noexcept {
  const std::size_t sizes[] = {sizeof(Ms)...};
  std::size_t at = 0;
  for (std::size_t i = 0; i < sizeof...(Ms); ++i) {
    if (r.offsets[i] < at) return false;
    at = r.offsets[i] + sizes[i];
  }
  return at <= sizeof(T);
}

template <class T>
constexpr std::size_t record_length() noexcept {
  descr_sink s;
  put_record<T>(s);
  return s.n;
}
template <std::size_t N>
struct record_chars {
  char data[N + 1];
};
template <class T>
constexpr auto make_record_chars() noexcept {
  static_assert(std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T>,
                "SHMARRAY_RECORD(T, ...): T must be trivially copyable and standard-layout "
                "(offsetof and shared memory need both)");
  static_assert(in_order(shmarray_record(record_tag<T>{})),
                "SHMARRAY_RECORD(T, ...): list the members in the order they are declared, each "
                "once (a NumPy descr lists fields by increasing offset)");
  record_chars<record_length<T>()> c{};
  descr_sink s{c.data, 0};
  put_record<T>(s);
  return c;
}
template <class T>
inline constexpr auto record_chars_v = make_record_chars<T>();

template <class T>
const dtype& record_dtype() {
  static const dtype d = parse_dtype(record_descr<T>(), "SHMARRAY_RECORD");
  return d;
}
}  // namespace detail

/// True when T is a struct described with SHMARRAY_RECORD.
template <class T>
inline constexpr bool is_record_v = detail::is_record_v<std::remove_cv_t<T>>;

/// The structured descr of a struct described with SHMARRAY_RECORD, as NumPy writes it for the
/// same dtype, known at compile time: "[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V4')]".
template <class T>
constexpr std::string_view record_descr() noexcept {
  using U = std::remove_cv_t<T>;
  return std::string_view(detail::record_chars_v<U>.data,
                          sizeof(detail::record_chars_v<U>.data) - 1);
}

/// True when a descr read from a header holds elements of T: for a struct described with
/// SHMARRAY_RECORD, a structure with the same fields (first_difference, however the descr spells
/// them); otherwise same_descr(found, descr<T>()). Throws bad_format for a list descr that is not
/// a dtype (parse_header has refused those already).
template <class T>
bool same_dtype(std::string_view found) {
  if constexpr (is_record_v<T>) {
    if (found == descr<T>()) return true;  // our own spelling, and NumPy's
    if (!is_structured(found)) return false;
    return first_difference(detail::record_dtype<std::remove_cv_t<T>>(),
                            parse_dtype(found, "descr"))
        .empty();
  } else {  // a compile-time descr: no call, no guard of a function-local static
    return same_descr(found, detail::simple_descr_v<std::remove_cv_t<T>>.view());
  }
}

/// For a message after same_dtype<T>(found) failed: ": " and the first field that differs, for a
/// struct described with SHMARRAY_RECORD; "" otherwise.
template <class T>
std::string dtype_difference(std::string_view found) {
  if constexpr (is_record_v<T>) {
    if (!is_structured(found))
      return ": not a structured dtype (T is described with SHMARRAY_RECORD)";
    std::string d =
        first_difference(detail::record_dtype<std::remove_cv_t<T>>(), parse_dtype(found, "descr"));
    return d.empty() ? d : ": " + d;
  } else {
    (void)found;
    return {};
  }
}

}  // namespace npy
}  // namespace shmarray

/// SHMARRAY_RECORD(Type, member, member, ...): describes the struct Type's data members as the
/// fields of a NumPy structured dtype, named after the members. Write it at namespace scope, in
/// the namespace that declares Type (it defines a function found by argument-dependent lookup),
/// right after the struct and before any use of shared_array<Type>:
///
///   struct Particle { double x, y; std::int32_t id; };  // 24 bytes: 4 of padding at the end
///   SHMARRAY_RECORD(Particle, x, y, id)
///   // npy::descr<Particle>() == "[('x', '<f8'), ('y', '<f8'), ('id', '<i4'), ('', '|V4')]"
///
/// List the members in declaration order (1 to 64 of them); bytes of members left out are padding
/// to NumPy. A member may be a number (bool, int8..uint64, float, double, std::complex<float/
/// double>), an enum (stored as its underlying integer), another described struct (a nested
/// dtype), a C array or std::array of these (a subarray field: double v[3] is ('v', '<f8', (3,))),
/// or any other trivially copyable type (raw bytes, '|V<n>'). Type must be trivially copyable and
/// standard-layout, and spelled without commas (use an alias for a template).
#define SHMARRAY_RECORD(Type, ...)                                                              \
  [[maybe_unused]] constexpr auto shmarray_record(::shmarray::npy::record_tag<Type>) noexcept { \
    return ::shmarray::npy::make_record<Type>(                                                  \
        SHMARRAY_PP_FOR_EACH_(SHMARRAY_RECORD_MEMBER_, Type, __VA_ARGS__));                     \
  }
#define SHMARRAY_RECORD_MEMBER_(Type, m) \
  ::shmarray::npy::record_member(&Type::m, #m, offsetof(Type, m))
