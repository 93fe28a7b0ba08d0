#include <gpuorch/model/quantity.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

#include <fmt/format.h>

namespace gpuorch::model {
namespace {

__extension__ using U128 = unsigned __int128;
__extension__ using I128 = __int128;

constexpr std::uint32_t k_limb_base = 1'000'000'000;
constexpr U128 k_nanos_per_unit = 1'000'000'000;
// apimachinery caps quantities at 2^63-1 whole units; we keep nano precision below that.
constexpr U128 k_max_nanos = static_cast<U128>(std::numeric_limits<std::int64_t>::max()) * k_nanos_per_unit;

struct Suffix {
  std::string_view text;
  int exponent;  // power of 10 (decimal) or of 1024 (binary)
};

constexpr std::array k_decimal_suffixes{
    Suffix{"n", -9}, Suffix{"u", -6}, Suffix{"m", -3}, Suffix{"", 0},   Suffix{"k", 3},
    Suffix{"M", 6},  Suffix{"G", 9},  Suffix{"T", 12}, Suffix{"P", 15}, Suffix{"E", 18},
};
constexpr std::array k_binary_suffixes{
    Suffix{"", 0}, Suffix{"Ki", 1}, Suffix{"Mi", 2}, Suffix{"Gi", 3}, Suffix{"Ti", 4}, Suffix{"Pi", 5}, Suffix{"Ei", 6},
};

// A non-negative integer of arbitrary size in base 10^9 limbs (little endian).
// Quantities are short strings, so this only needs multiply and divide by small
// numbers; it keeps parsing exact for inputs like "0.000000000001Ki".
class BigUint {
 public:
  explicit BigUint(std::string_view digits) {
    for (const char c : digits) {
      mul_add(10, static_cast<std::uint32_t>(c - '0'));
    }
  }
  void mul_add(std::uint32_t factor, std::uint32_t addend) {
    std::uint64_t carry = addend;
    for (auto& limb : m_limbs) {
      const std::uint64_t v = static_cast<std::uint64_t>(limb) * factor + carry;
      limb = static_cast<std::uint32_t>(v % k_limb_base);
      carry = v / k_limb_base;
    }
    while (carry != 0) {
      m_limbs.push_back(static_cast<std::uint32_t>(carry % k_limb_base));
      carry /= k_limb_base;
    }
  }
  // Divides in place; returns the remainder.
  std::uint32_t div(std::uint32_t divisor) {
    std::uint64_t rem = 0;
    for (auto it = m_limbs.rbegin(); it != m_limbs.rend(); ++it) {
      const std::uint64_t v = rem * k_limb_base + *it;
      *it = static_cast<std::uint32_t>(v / divisor);
      rem = v % divisor;
    }
    while (!m_limbs.empty() && m_limbs.back() == 0) {
      m_limbs.pop_back();
    }
    return static_cast<std::uint32_t>(rem);
  }
  [[nodiscard]] bool is_zero() const { return m_limbs.empty(); }
  [[nodiscard]] std::size_t limbs() const { return m_limbs.size(); }
  // The value, or k_max_nanos when it is larger.
  [[nodiscard]] U128 saturated() const {
    if (m_limbs.size() > 4) {  // >= 10^36, far above the cap
      return k_max_nanos;
    }
    U128 v = 0;
    for (auto it = m_limbs.rbegin(); it != m_limbs.rend(); ++it) {
      v = v * k_limb_base + *it;
    }
    return std::min(v, k_max_nanos);
  }

 private:
  std::vector<std::uint32_t> m_limbs;
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

Error invalid(std::string_view text, std::string_view why) {
  return Error(ErrorCode::invalid, fmt::format("invalid quantity \"{}\": {}", text, why));
}

std::string u128_to_string(U128 v) {
  if (v == 0) {
    return "0";
  }
  std::string out;
  while (v != 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::int64_t saturate(I128 v) {
  if (v > std::numeric_limits<std::int64_t>::max()) {
    return std::numeric_limits<std::int64_t>::max();
  }
  if (v < std::numeric_limits<std::int64_t>::min()) {
    return std::numeric_limits<std::int64_t>::min();
  }
  return static_cast<std::int64_t>(v);
}

// Division rounding away from zero (apimachinery's RoundUp).
I128 div_away_from_zero(I128 v, I128 d) {
  const I128 q = v / d;
  if (v % d == 0) {
    return q;
  }
  return v > 0 ? q + 1 : q - 1;
}

}  // namespace

Result<Quantity> Quantity::parse(std::string_view text) {
  if (text.empty()) {
    return invalid(text, "empty (expected a number such as \"500m\", \"2\" or \"16Gi\")");
  }
  std::size_t pos = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++pos;
  }
  const std::size_t int_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) {
    ++pos;
  }
  const std::string_view int_digits = text.substr(int_begin, pos - int_begin);
  std::string_view frac_digits;
  if (pos < text.size() && text[pos] == '.') {
    const std::size_t frac_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      ++pos;
    }
    frac_digits = text.substr(frac_begin, pos - frac_begin);
  }
  if (int_digits.empty() && frac_digits.empty()) {
    return invalid(text, "must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
  }
  const std::string_view suffix = text.substr(pos);

  Format format = Format::decimal_si;
  long long exp10 = 0;
  int pow1024 = 0;
  bool known = false;
  for (const auto& s : k_decimal_suffixes) {
    if (s.text == suffix) {
      exp10 = s.exponent;
      known = true;
    }
  }
  for (const auto& s : k_binary_suffixes) {
    if (!known && s.text == suffix) {
      pow1024 = s.exponent;
      format = Format::binary_si;
      known = true;
    }
  }
  if (!known && suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::size_t i = 1;
    bool exp_negative = false;
    if (suffix[i] == '+' || suffix[i] == '-') {
      exp_negative = suffix[i] == '-';
      ++i;
    }
    if (i < suffix.size() && std::all_of(suffix.begin() + static_cast<std::ptrdiff_t>(i), suffix.end(), is_digit)) {
      for (; i < suffix.size(); ++i) {
        // Saturate: anything beyond +-10^6 already rounds to the cap or to 1n.
        exp10 = std::min(exp10 * 10 + (suffix[i] - '0'), 1'000'000LL);
      }
      exp10 = exp_negative ? -exp10 : exp10;
      format = Format::decimal_exponent;
      known = true;
    }
  }
  if (!known) {
    if (suffix.find_first_of("0123456789.+-") != std::string_view::npos) {
      return invalid(text, fmt::format("unexpected \"{}\" after the number", suffix));
    }
    return invalid(text, fmt::format("unknown suffix \"{}\" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, "
                                     "Ei or an exponent such as e3)",
                                     suffix));
  }

  std::string digits;
  digits.reserve(int_digits.size() + frac_digits.size());
  digits.append(int_digits);
  digits.append(frac_digits);
  const auto first_nonzero = digits.find_first_not_of('0');
  if (first_nonzero == std::string::npos) {
    return Quantity(0, format);
  }
  digits.erase(0, first_nonzero);

  // value = digits * 1024^pow1024 * 10^(exp10 - len(frac)); stored in nanos.
  BigUint magnitude(digits);
  for (int i = 0; i < pow1024; ++i) {
    magnitude.mul_add(1024, 0);
  }
  const long long shift = 9 + exp10 - static_cast<long long>(frac_digits.size());
  U128 nanos = 0;
  if (shift >= 0) {
    for (long long i = 0; i < shift && magnitude.limbs() <= 4; ++i) {
      magnitude.mul_add(10, 0);
    }
    nanos = magnitude.saturated();
  } else if (-shift > static_cast<long long>(digits.size()) + 20) {
    nanos = 1;  // a positive amount far below a nano rounds up to 1n
  } else {
    bool inexact = false;
    for (long long i = 0; i < -shift; ++i) {
      inexact = magnitude.div(10) != 0 || inexact;
    }
    nanos = magnitude.saturated();
    if (inexact && nanos < k_max_nanos) {
      ++nanos;
    }
  }
  if (format == Format::binary_si && nanos < k_nanos_per_unit) {
    format = Format::decimal_si;  // "0.5Ki" style fractions print in decimal, as apimachinery does
  }
  const I128 signed_nanos = negative ? -static_cast<I128>(nanos) : static_cast<I128>(nanos);
  return Quantity(signed_nanos, format);
}

Quantity Quantity::from_milli(std::int64_t milli) {
  return Quantity(static_cast<I128>(milli) * 1'000'000, Format::decimal_si);
}

Quantity Quantity::from_units(std::int64_t units, Format format) {
  return Quantity(static_cast<I128>(units) * static_cast<I128>(k_nanos_per_unit), format);
}

std::int64_t Quantity::milli() const {
  return saturate(div_away_from_zero(m_nanos, 1'000'000));
}

std::int64_t Quantity::value() const {
  return saturate(div_away_from_zero(m_nanos, static_cast<I128>(k_nanos_per_unit)));
}

std::int64_t Quantity::nano() const {
  return saturate(m_nanos);
}

std::string Quantity::to_string() const {
  if (m_nanos == 0) {
    return "0";
  }
  const bool negative = m_nanos < 0;
  const U128 magnitude = negative ? static_cast<U128>(-m_nanos) : static_cast<U128>(m_nanos);
  std::string out = negative ? "-" : "";

  // Binary only when it is exact and at least 1Ki; otherwise decimal keeps precision.
  if (m_format == Format::binary_si && magnitude >= 1024 * k_nanos_per_unit && magnitude % k_nanos_per_unit == 0) {
    U128 units = magnitude / k_nanos_per_unit;
    std::size_t power = 0;
    while (power + 1 < k_binary_suffixes.size() && units % 1024 == 0) {
      units /= 1024;
      ++power;
    }
    out += u128_to_string(units);
    out += k_binary_suffixes[power].text;
    return out;
  }

  // Decimal: the smallest integer mantissa with an exponent that is a multiple of 3.
  U128 mantissa = magnitude;
  int exponent = -9;
  while (mantissa % 10 == 0) {
    mantissa /= 10;
    ++exponent;
  }
  while ((exponent % 3 + 3) % 3 != 0) {
    mantissa *= 10;
    --exponent;
  }
  if (m_format == Format::decimal_exponent) {
    out += u128_to_string(mantissa);
    if (exponent != 0) {
      out += fmt::format("e{}", exponent);
    }
    return out;
  }
  while (exponent > 18) {  // unreachable below the cap; kept so "E" is the largest suffix
    mantissa *= 1000;
    exponent -= 3;
  }
  out += u128_to_string(mantissa);
  for (const auto& s : k_decimal_suffixes) {
    if (s.exponent == exponent) {
      out += s.text;
    }
  }
  return out;
}

}  // namespace gpuorch::model
