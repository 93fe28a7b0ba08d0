#include <gpuorch/model/pattern.hpp>

#include <algorithm>

namespace gpuorch::model {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Consumes a leading "+" or "-".
void take_sign(std::string_view& s) {
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    s.remove_prefix(1);
  }
}

// Consumes ([0-9]+(\.[0-9]*)?)|(\.[0-9]+) and tells whether it was there.
// Greedy is exact here: what may follow a number starts with a letter.
bool take_number(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_digit(s[n])) {
    ++n;
  }
  const std::size_t integer_digits = n;
  std::size_t fraction_digits = 0;
  if (n < s.size() && s[n] == '.') {
    ++n;
    while (n < s.size() && is_digit(s[n])) {
      ++n;
      ++fraction_digits;
    }
  }
  if (integer_digits == 0 && fraction_digits == 0) {
    return false;
  }
  s.remove_prefix(n);
  return true;
}

// ^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$
bool matches_quantity(std::string_view s) {
  take_sign(s);
  if (!take_number(s)) {
    return false;
  }
  if (s.empty()) {
    return true;
  }
  constexpr std::string_view binary = "KMGTPE";
  constexpr std::string_view decimal = "numkMGTPE";
  if (s.size() == 2 && binary.find(s[0]) != std::string_view::npos && s[1] == 'i') {
    return true;
  }
  if (s.size() == 1 && decimal.find(s[0]) != std::string_view::npos) {
    return true;
  }
  if (s[0] == 'e' || s[0] == 'E') {
    s.remove_prefix(1);
    take_sign(s);
    return take_number(s) && s.empty();
  }
  return false;
}

// ^\S+$ — \s being what the classic locale's isspace accepts.
bool matches_no_whitespace(std::string_view s) {
  constexpr std::string_view space = " \t\n\v\f\r";
  return !s.empty() &&
         std::none_of(s.begin(), s.end(), [&](char c) { return space.find(c) != std::string_view::npos; });
}

// ^[-._a-zA-Z][-._a-zA-Z0-9]*$
bool matches_env_var_name(std::string_view s) {
  const auto head = [](char c) { return c == '-' || c == '.' || c == '_' || is_ascii_letter(c); };
  return !s.empty() && head(s.front()) &&
         std::all_of(s.begin() + 1, s.end(), [&](char c) { return head(c) || is_digit(c); });
}

}  // namespace

PatternMatcher builtin_pattern_matcher(std::string_view pattern) {
  if (pattern == k_quantity_pattern) {
    return matches_quantity;
  }
  if (pattern == k_no_whitespace_pattern) {
    return matches_no_whitespace;
  }
  if (pattern == k_env_var_name_pattern) {
    return matches_env_var_name;
  }
  return nullptr;
}

}  // namespace gpuorch::model
