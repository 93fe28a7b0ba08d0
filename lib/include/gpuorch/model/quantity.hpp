#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>

namespace gpuorch::model {

/// A Kubernetes resource quantity ("500m", "2", "16Gi", "1e3", "1.5").
///
/// Semantics follow k8s.io/apimachinery's resource.Quantity:
/// - grammar: [+-] digits [. digits] then one of the decimal SI suffixes
///   n u m "" k M G T P E, a binary suffix Ki Mi Gi Ti Pi Ei, or a decimal
///   exponent e<int> / E<int>;
/// - values keep nano precision; finer fractions are rounded up (away from zero);
/// - magnitudes are capped at 2^63-1 whole units, as the API server does;
/// - the suffix family of the input (decimal SI, binary SI, exponent) is kept and
///   to_string() prints the canonical form in that family: "1.5" -> "1500m",
///   "0.5Gi" -> "512Mi", "1000" -> "1k", "1e3" -> "1e3", "1.5Ki" -> "1536".
/// Comparison looks at the value only ("1k" == "1e3" == "1000").
class Quantity {
 public:
  /// How the quantity prints (kept from the parsed suffix).
  enum class Format : std::uint8_t { decimal_si, binary_si, decimal_exponent };

  /// Zero.
  Quantity() = default;

  /// Parses Kubernetes quantity syntax; errors are ErrorCode::invalid with a
  /// message naming the text and what is wrong with it.
  static Result<Quantity> parse(std::string_view text);

  /// The quantity of `milli` thousandths, printed in decimal SI ("1500m").
  static Quantity from_milli(std::int64_t milli);
  /// The quantity of `units` whole units in the given format.
  static Quantity from_units(std::int64_t units, Format format = Format::decimal_si);

  /// Thousandths of a unit, rounded up (away from zero); saturates at the int64 range.
  [[nodiscard]] std::int64_t milli() const;
  /// Whole units, rounded up (away from zero); saturates at the int64 range.
  [[nodiscard]] std::int64_t value() const;
  /// Billionths of a unit (the stored precision); saturates at the int64 range.
  [[nodiscard]] std::int64_t nano() const;

  [[nodiscard]] Format format() const noexcept { return m_format; }
  [[nodiscard]] bool is_zero() const noexcept { return m_nanos == 0; }
  [[nodiscard]] int sign() const noexcept { return m_nanos > 0 ? 1 : (m_nanos < 0 ? -1 : 0); }

  /// The canonical Kubernetes form: what the API server would store and print.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Quantity& a, const Quantity& b) noexcept { return a.m_nanos == b.m_nanos; }
  friend std::strong_ordering operator<=>(const Quantity& a, const Quantity& b) noexcept {
    return a.m_nanos <=> b.m_nanos;
  }

 private:
  __extension__ using Nanos = __int128;  // up to (2^63-1) * 10^9, exact

  Quantity(Nanos nanos, Format format) : m_nanos(nanos), m_format(format) {}

  Nanos m_nanos = 0;
  Format m_format = Format::decimal_si;
};

}  // namespace gpuorch::model
