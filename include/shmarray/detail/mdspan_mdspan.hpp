// shmarray::mdspan: a non-owning view of a multidimensional array — a data handle, a layout mapping
// and an accessor — as std::mdspan [mdspan.mdspan]. Indexing with operator() (always), operator[]
// (rank 1, or any rank where the compiler has multidimensional subscripts) and std::array indices.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "mdspan_accessor.hpp"
#include "mdspan_bounds_check.hpp"
#include "mdspan_extents.hpp"
#include "mdspan_layout_packed.hpp"
#include "mdspan_layout_stride.hpp"
#include "mdspan_layouts_fwd.hpp"

namespace shmarray {

/// Views are valid as long as the memory they point to: an mdspan over a shared_array is valid
/// while that handle is open. Copying an mdspan copies the view, never the elements.
template <class ElementType, class Extents, class LayoutPolicy = layout_right,
          class AccessorPolicy = default_accessor<ElementType>>
class mdspan {
  static_assert(detail::is_extents_v<Extents>,
                "mdspan<ElementType, Extents, ...>: Extents must be a shmarray::extents");
  static_assert(std::is_same_v<ElementType, typename AccessorPolicy::element_type>,
                "mdspan: ElementType must be AccessorPolicy::element_type");
  static_assert(std::is_object_v<ElementType> && !std::is_abstract_v<ElementType> &&
                    !std::is_array_v<ElementType>,
                "mdspan: ElementType must be a complete object type, not abstract, not an array");

 public:
  using extents_type = Extents;
  using layout_type = LayoutPolicy;
  using accessor_type = AccessorPolicy;
  using mapping_type = typename layout_type::template mapping<extents_type>;
  using element_type = ElementType;
  using value_type = std::remove_cv_t<element_type>;
  using index_type = typename extents_type::index_type;
  using size_type = typename extents_type::size_type;
  using rank_type = typename extents_type::rank_type;
  using data_handle_type = typename accessor_type::data_handle_type;
  using reference = typename accessor_type::reference;

  static constexpr rank_type rank() noexcept { return extents_type::rank(); }
  static constexpr rank_type rank_dynamic() noexcept { return extents_type::rank_dynamic(); }
  static constexpr std::size_t static_extent(rank_type r) noexcept {
    return extents_type::static_extent(r);
  }
  constexpr index_type extent(rank_type r) const noexcept { return extents().extent(r); }

 private:
  template <class... OI>
  static constexpr bool index_pack_ok = sizeof...(OI) == extents_type::rank() &&
                                        (detail::is_index_like_v<OI, index_type> && ...);

 public:
  // --- constructors ---------------------------------------------------------------------------

  /// A null view; only when some extent is dynamic (they are all 0 then).
  template <class E = extents_type,
            std::enable_if_t<(E::rank_dynamic() > 0) &&
                                 std::is_default_constructible_v<data_handle_type> &&
                                 std::is_default_constructible_v<mapping_type> &&
                                 std::is_default_constructible_v<accessor_type>,
                             int> = 0>
  constexpr mdspan() : ptr_(), map_(), acc_() {}
  constexpr mdspan(const mdspan&) = default;
  constexpr mdspan(mdspan&&) = default;

  /// p and the dynamic extents (or all extents): mdspan<float, dextents<size_t, 2>>(p, rows, cols).
  template <class... OI, std::enable_if_t<(sizeof...(OI) == extents_type::rank() ||
                                           sizeof...(OI) == extents_type::rank_dynamic()) &&
                                              (detail::is_index_like_v<OI, index_type> && ...) &&
                                              std::is_constructible_v<mapping_type, extents_type> &&
                                              std::is_default_constructible_v<AccessorPolicy>,
                                          int> = 0>
  constexpr explicit mdspan(data_handle_type p, OI... exts)
      : ptr_(std::move(p)),
        map_(extents_type(static_cast<index_type>(std::move(exts))...)),
        acc_() {}

  /// p and a std::array of the dynamic extents (implicit) or of all extents (explicit).
  template <class OI, std::size_t N,
            std::enable_if_t<N == extents_type::rank_dynamic() &&
                                 detail::is_index_like_v<const OI&, index_type> &&
                                 std::is_constructible_v<mapping_type, extents_type> &&
                                 std::is_default_constructible_v<AccessorPolicy>,
                             int> = 0>
  constexpr mdspan(data_handle_type p, const std::array<OI, N>& exts)
      : ptr_(std::move(p)), map_(extents_type(exts)), acc_() {}
  template <class OI, std::size_t N,
            std::enable_if_t<N != extents_type::rank_dynamic() && N == extents_type::rank() &&
                                 detail::is_index_like_v<const OI&, index_type> &&
                                 std::is_constructible_v<mapping_type, extents_type> &&
                                 std::is_default_constructible_v<AccessorPolicy>,
                             int> = 0>
  constexpr explicit mdspan(data_handle_type p, const std::array<OI, N>& exts)
      : ptr_(std::move(p)), map_(extents_type(exts)), acc_() {}

#if defined(__cpp_lib_span)
  template <class OI, std::size_t N,
            std::enable_if_t<N == extents_type::rank_dynamic() &&
                                 detail::is_index_like_v<const OI&, index_type> &&
                                 std::is_constructible_v<mapping_type, extents_type> &&
                                 std::is_default_constructible_v<AccessorPolicy>,
                             int> = 0>
  constexpr mdspan(data_handle_type p, std::span<OI, N> exts)
      : ptr_(std::move(p)), map_(extents_type(exts)), acc_() {}
  template <class OI, std::size_t N,
            std::enable_if_t<N != extents_type::rank_dynamic() && N == extents_type::rank() &&
                                 detail::is_index_like_v<const OI&, index_type> &&
                                 std::is_constructible_v<mapping_type, extents_type> &&
                                 std::is_default_constructible_v<AccessorPolicy>,
                             int> = 0>
  constexpr explicit mdspan(data_handle_type p, std::span<OI, N> exts)
      : ptr_(std::move(p)), map_(extents_type(exts)), acc_() {}
#endif

  /// p and extents.
  template <class M = mapping_type, class A = AccessorPolicy,
            std::enable_if_t<std::is_constructible_v<M, const extents_type&> &&
                                 std::is_default_constructible_v<A>,
                             int> = 0>
  constexpr mdspan(data_handle_type p, const extents_type& ext)
      : ptr_(std::move(p)), map_(ext), acc_() {}

  /// p and a layout mapping (layout_stride::mapping for arbitrary strides).
  template <class A = AccessorPolicy, std::enable_if_t<std::is_default_constructible_v<A>, int> = 0>
  constexpr mdspan(data_handle_type p, const mapping_type& m)
      : ptr_(std::move(p)), map_(m), acc_() {}

  constexpr mdspan(data_handle_type p, const mapping_type& m, const accessor_type& a)
      : ptr_(std::move(p)), map_(m), acc_(a) {}

  /// From another mdspan whose mapping and accessor convert to ours: mdspan<T> -> mdspan<const T>,
  /// dynamic -> static extents (explicit), layout_right -> layout_stride, ...
  template <
      class OT, class OExt, class OL, class OA,
      std::enable_if_t<
          std::is_constructible_v<mapping_type, const typename OL::template mapping<OExt>&> &&
              std::is_constructible_v<accessor_type, const OA&> &&
              std::is_convertible_v<const typename OL::template mapping<OExt>&, mapping_type> &&
              std::is_convertible_v<const OA&, accessor_type>,
          int> = 0>
  constexpr mdspan(const mdspan<OT, OExt, OL, OA>& other)
      : ptr_(other.data_handle()), map_(other.mapping()), acc_(other.accessor()) {
    static_check_conversion<OExt, OA>();
  }
  template <
      class OT, class OExt, class OL, class OA,
      std::enable_if_t<
          std::is_constructible_v<mapping_type, const typename OL::template mapping<OExt>&> &&
              std::is_constructible_v<accessor_type, const OA&> &&
              !(std::is_convertible_v<const typename OL::template mapping<OExt>&, mapping_type> &&
                std::is_convertible_v<const OA&, accessor_type>),
          int> = 0>
  constexpr explicit mdspan(const mdspan<OT, OExt, OL, OA>& other)
      : ptr_(other.data_handle()), map_(other.mapping()), acc_(other.accessor()) {
    static_check_conversion<OExt, OA>();
  }

  constexpr mdspan& operator=(const mdspan&) = default;
  constexpr mdspan& operator=(mdspan&&) = default;

  // --- element access -------------------------------------------------------------------------

  /// m(i, j, k): exactly rank() indices, each converted from std::move(i) (an index type may be
  /// convertible only as an rvalue). With bounds checks on, throws std::out_of_range naming the
  /// index, the extent and the dimension; otherwise plain arithmetic.
  template <class... OI, std::enable_if_t<index_pack_ok<OI...>, int> = 0>
  constexpr reference operator()(OI... indices) const {
    return access_at(detail::index_cast<index_type>(std::move(indices))...);
  }

  /// m(std::array{i, j, k}): the elements are read as const lvalues, as the standard says.
  template <class OI, std::enable_if_t<detail::is_index_like_v<const OI&, index_type>, int> = 0>
  constexpr reference operator()(const std::array<OI, extents_type::rank()>& indices) const {
    return index_array(indices, std::make_index_sequence<extents_type::rank()>{});
  }

#if defined(__cpp_multidimensional_subscript)
  /// m[i, j, k] (C++23 multidimensional subscript).
  template <class... OI, std::enable_if_t<index_pack_ok<OI...>, int> = 0>
  constexpr reference operator[](OI... indices) const {
    return access_at(detail::index_cast<index_type>(std::move(indices))...);
  }
#else
  /// m[i] for rank 1.
  template <class OI, std::enable_if_t<index_pack_ok<OI>, int> = 0>
  constexpr reference operator[](OI index) const {
    return access_at(detail::index_cast<index_type>(std::move(index)));
  }
#endif

  /// m[std::array{i, j, k}], as std::mdspan.
  template <class OI, std::enable_if_t<detail::is_index_like_v<const OI&, index_type>, int> = 0>
  constexpr reference operator[](const std::array<OI, extents_type::rank()>& indices) const {
    return index_array(indices, std::make_index_sequence<extents_type::rank()>{});
  }
#if defined(__cpp_lib_span)
  template <class OI, std::enable_if_t<detail::is_index_like_v<const OI&, index_type>, int> = 0>
  constexpr reference operator[](std::span<OI, extents_type::rank()> indices) const {
    return index_array(indices, std::make_index_sequence<extents_type::rank()>{});
  }
#endif

  // --- observers ------------------------------------------------------------------------------

  /// The number of elements (product of the extents).
  constexpr size_type size() const noexcept {
    return static_cast<size_type>(detail::extents_product(extents()));
  }
  /// True when some extent is 0.
  constexpr bool empty() const noexcept {
    for (rank_type r = 0; r < rank(); ++r)
      if (extent(r) == 0) return true;
    return false;
  }

  friend constexpr void swap(mdspan& x, mdspan& y) noexcept {
    using std::swap;
    swap(x.ptr_, y.ptr_);
    swap(x.map_, y.map_);
    swap(x.acc_, y.acc_);
  }

  constexpr const extents_type& extents() const noexcept {
    return map_.extents();
  }
  constexpr const data_handle_type& data_handle() const noexcept {
    return ptr_;
  }
  constexpr const mapping_type& mapping() const noexcept {
    return map_;
  }
  constexpr const accessor_type& accessor() const noexcept {
    return acc_;
  }

  /// noexcept, as LWG 4021 declares them (the mapping's are constant expressions).
  static constexpr bool is_always_unique() noexcept {
    return mapping_type::is_always_unique();
  }
  static constexpr bool is_always_exhaustive() noexcept {
    return mapping_type::is_always_exhaustive();
  }
  static constexpr bool is_always_strided() noexcept {
    return mapping_type::is_always_strided();
  }

  constexpr bool is_unique() const {
    return map_.is_unique();
  }
  constexpr bool is_exhaustive() const {
    return map_.is_exhaustive();
  }
  constexpr bool is_strided() const {
    return map_.is_strided();
  }
  /// Precondition: r < rank(), the mapping is strided.
  constexpr index_type stride(rank_type r) const {
    return map_.stride(r);
  }

 private:
  template <class OExt, class OA>
  static constexpr void static_check_conversion() noexcept {
    static_assert(std::is_constructible_v<data_handle_type, const typename OA::data_handle_type&>,
                  "mdspan converting constructor: the data handles do not convert");
    static_assert(std::is_constructible_v<extents_type, OExt>,
                  "mdspan converting constructor: the extents do not convert");
  }

  /// The element at integer indices i (each the result of index_cast, so an integer keeps its
  /// value for the bounds check), checked when bounds checks are on.
  template <class... I>
  constexpr reference access_at(I... i) const {
    if constexpr (detail::bounds_check_enabled) {
      check_indices(std::make_index_sequence<extents_type::rank()>{}, i...);
    }
    return acc_.access(ptr_, static_cast<std::size_t>(map_(static_cast<index_type>(i)...)));
  }

  template <std::size_t... R, class... I>
  constexpr void check_indices(std::index_sequence<R...>, I... i) const {
    const extents_type& e = extents();
    (check_one(i, static_cast<std::size_t>(e.extent(R)), R), ...);
  }
  template <class I>
  static constexpr void check_one(I i, std::size_t extent, std::size_t r) {
    if (!detail::index_in_range(i, extent))
      detail::throw_index_out_of_range(detail::index_to_string(i), extent, r, rank());
  }

  template <class Array, std::size_t... R>
  constexpr reference index_array(const Array& indices, std::index_sequence<R...>) const {
    return access_at(detail::index_cast<index_type>(std::as_const(indices[R]))...);
  }

  data_handle_type ptr_{};
  mapping_type map_{};
  accessor_type acc_{};
};

// --- deduction guides (as C++23, with SFINAE for the constraints) -----------------------------

template <class CArray,
          std::enable_if_t<std::is_array_v<CArray> && std::rank_v<CArray> == 1, int> = 0>
mdspan(CArray&)
    -> mdspan<std::remove_all_extents_t<CArray>, extents<std::size_t, std::extent_v<CArray, 0>>>;

template <class Pointer,
          std::enable_if_t<std::is_pointer_v<std::remove_reference_t<Pointer>>, int> = 0>
mdspan(Pointer&&)
    -> mdspan<std::remove_pointer_t<std::remove_reference_t<Pointer>>, extents<std::size_t>>;

template <class ElementType, class... Integrals,
          std::enable_if_t<(sizeof...(Integrals) > 0) &&
                               (std::is_convertible_v<Integrals, std::size_t> && ...),
                           int> = 0>
explicit mdspan(ElementType*, Integrals...)
    -> mdspan<ElementType, dextents<std::size_t, sizeof...(Integrals)>>;

template <class ElementType, class OI, std::size_t N>
mdspan(ElementType*, const std::array<OI, N>&) -> mdspan<ElementType, dextents<std::size_t, N>>;

#if defined(__cpp_lib_span)
template <class ElementType, class OI, std::size_t N>
mdspan(ElementType*, std::span<OI, N>) -> mdspan<ElementType, dextents<std::size_t, N>>;
#endif

template <class ElementType, class IndexType, std::size_t... ExtentsPack>
mdspan(ElementType*, const extents<IndexType, ExtentsPack...>&)
    -> mdspan<ElementType, extents<IndexType, ExtentsPack...>>;

template <class ElementType, class MappingType,
          std::enable_if_t<detail::is_layout_mapping_alike_v<MappingType>, int> = 0>
mdspan(ElementType*, const MappingType&)
    -> mdspan<ElementType, typename MappingType::extents_type, typename MappingType::layout_type>;

/// The handle by value (LWG 4511), so that a float* volatile handle deduces too.
template <class MappingType, class AccessorType>
mdspan(typename AccessorType::data_handle_type, const MappingType&, const AccessorType&)
    -> mdspan<typename AccessorType::element_type, typename MappingType::extents_type,
              typename MappingType::layout_type, AccessorType>;

}  // namespace shmarray
