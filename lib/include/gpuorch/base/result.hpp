#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include <gpuorch/base/error.hpp>

namespace gpuorch {

/// A value or an Error, in the spirit of std::expected (C++23), which GCC 12
/// does not offer in C++20 mode. Accessing the wrong alternative is a bug and
/// asserts in debug builds.
template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(const T& value) : m_data(std::in_place_index<0>, value) {}          // NOLINT(google-explicit-constructor)
  Result(T&& value) : m_data(std::in_place_index<0>, std::move(value)) {}    // NOLINT(google-explicit-constructor)
  Result(Error error) : m_data(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::remove_cvref_t<U>, T> &&
           !std::is_same_v<std::remove_cvref_t<U>, Error> && !std::is_same_v<std::remove_cvref_t<U>, Result>)
      Result(U&& value)
      : m_data(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return m_data.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(m_data);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(m_data);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(m_data));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(m_data);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(m_data));
  }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

  /// The value, or throws Failure. For the CLI top level and tests only.
  T value_or_throw() && {
    if (!ok()) {
      throw Failure(std::move(*this).error());
    }
    return std::move(*this).value();
  }

 private:
  std::variant<T, Error> m_data;
};

/// Result of an operation that produces no value.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_ok(false) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return m_ok; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return m_error;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(m_error);
  }
  void value_or_throw() && {
    if (!ok()) {
      throw Failure(std::move(m_error));
    }
  }

 private:
  Error m_error{ErrorCode::internal, {}};
  bool m_ok = true;
};

using Status = Result<void>;

}  // namespace gpuorch

/// Evaluates a Result expression; on error returns the error from the current
/// function. Usable in functions returning any Result<U>.
#define GPUORCH_TRY(expr)                            \
  do {                                               \
    auto gpuorch_try_result_ = (expr);               \
    if (!gpuorch_try_result_.ok()) {                 \
      return std::move(gpuorch_try_result_).error(); \
    }                                                \
  } while (false)

#define GPUORCH_CONCAT_INNER_(a, b) a##b
#define GPUORCH_CONCAT_(a, b) GPUORCH_CONCAT_INNER_(a, b)

/// `GPUORCH_ASSIGN_OR_RETURN(auto x, parse(s));` binds the value or returns the error.
#define GPUORCH_ASSIGN_OR_RETURN(decl, expr) \
  GPUORCH_ASSIGN_OR_RETURN_IMPL_(GPUORCH_CONCAT_(gpuorch_result_, __LINE__), decl, expr)
#define GPUORCH_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                    \
  if (!tmp.ok()) {                                      \
    return std::move(tmp).error();                      \
  }                                                     \
  decl = std::move(tmp).value()
