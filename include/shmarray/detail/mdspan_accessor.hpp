// default_accessor: how an mdspan turns (pointer, offset) into a reference — plain p[i], as
// std::default_accessor [mdspan.accessor.default]. Empty and trivially copyable.
#pragma once

#include <cstddef>
#include <type_traits>

namespace shmarray {

template <class ElementType>
struct default_accessor {
  static_assert(std::is_object_v<ElementType> && !std::is_abstract_v<ElementType> &&
                    !std::is_array_v<ElementType>,
                "default_accessor<ElementType>: ElementType must be a complete object type "
                "that is neither abstract nor an array");

  using offset_policy = default_accessor;
  using element_type = ElementType;
  using reference = ElementType&;
  using data_handle_type = ElementType*;

  constexpr default_accessor() noexcept = default;

  /// default_accessor<T> -> default_accessor<const T> (qualification conversions only).
  template <
      class OtherElementType,
      std::enable_if_t<std::is_convertible_v<OtherElementType (*)[], element_type (*)[]>, int> = 0>
  constexpr default_accessor(default_accessor<OtherElementType>) noexcept {}

  constexpr reference access(data_handle_type p, std::size_t i) const noexcept { return p[i]; }
  constexpr data_handle_type offset(data_handle_type p, std::size_t i) const noexcept {
    return p + i;
  }
};

}  // namespace shmarray
