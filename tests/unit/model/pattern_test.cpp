#include <gpuorch/model/pattern.hpp>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include <doctest/doctest.h>

using gpuorch::model::builtin_pattern_matcher;
using gpuorch::model::k_env_var_name_pattern;
using gpuorch::model::k_no_whitespace_pattern;
using gpuorch::model::k_quantity_pattern;
using gpuorch::model::PatternMatcher;

namespace {

// Every built-in matcher must agree with std::regex_search on the pattern it
// replaces: the listed edge cases, then many random strings over an alphabet
// that hits every branch of the grammars.
void check_against_regex(std::string_view pattern, const std::vector<std::string>& cases, const std::string& alphabet) {
  const PatternMatcher matcher = builtin_pattern_matcher(pattern);
  REQUIRE((matcher != nullptr));
  const std::regex re{std::string(pattern), std::regex::ECMAScript};
  std::size_t matched = 0;
  const auto check = [&](const std::string& value) {
    CAPTURE(value);
    const bool expected = std::regex_search(value, re);
    CHECK(matcher(value) == expected);
    matched += expected ? 1 : 0;
  };
  for (const std::string& value : cases) {
    check(value);
  }
  std::mt19937 rng(20261129);
  std::uniform_int_distribution<std::size_t> length(0, 7);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (int i = 0; i < 20000; ++i) {
    std::string value;
    for (std::size_t n = length(rng); n > 0; --n) {
      value += alphabet[pick(rng)];
    }
    check(value);
  }
  // The random strings must exercise both answers, or the comparison proves little.
  CHECK(matched > 500);
  CHECK(matched < cases.size() + 20000 - 500);
}

}  // namespace

TEST_CASE("the quantity pattern's matcher agrees with std::regex") {
  check_against_regex(k_quantity_pattern, {"",         "0",        "4",
                                           "16Gi",     "500m",     "1.5",
                                           ".5",       "5.",       "+1",
                                           "-1",       "1e3",      "1E3",
                                           "1E",       "1Ei",      "1e",
                                           "1e+",      "1e-3",     "1E+.5",
                                           "1.5e3.",   ".",        "+",
                                           "+.",       "1..2",     "1Gi ",
                                           " 1",       "1ki",      "1Ki",
                                           "1K",       "1k",       "1n",
                                           "1u",       "1m",       "1P",
                                           "1Pi",      "1ei",      "1ee3",
                                           "1e3i",     "1Gii",     "12345678901234567890Ti",
                                           "0.000001", "1\n",      "1\nGi",
                                           "1 Gi",     "\xc3\xa9", "1\xc2\xb5"},
                      "0123456789+-.eEiKMGTPnumkx \n");
}

TEST_CASE("the no-whitespace pattern's matcher agrees with std::regex") {
  check_against_regex(k_no_whitespace_pattern,
                      {"", "busybox", "ghcr.io/acme/train:1.4", "a b", " a", "a ", "a\tb", "a\nb", "a\vb", "a\fb",
                       "a\rb", "\n", "caf\xc3\xa9", std::string("a\0b", 3)},
                      "ab:/.-\xc3\xa9 \t\n\v\f\r");
}

TEST_CASE("the environment variable name pattern's matcher agrees with std::regex") {
  check_against_regex(
      k_env_var_name_pattern,
      {"", "PATH", "_x", "-x", ".x", "9x", "x9", "MY_VAR.1-a", "a b", "a=b", "\xc3\xa9", "a\xc3\xa9", "A\n"},
      "aZ09_.-= \n\xc3");
}

TEST_CASE("other patterns have no built-in matcher") {
  const auto none = [](std::string_view pattern) { return builtin_pattern_matcher(pattern) == nullptr; };
  CHECK(none("^[a-z]+$"));
  CHECK(none(""));
  CHECK(none(std::string(k_quantity_pattern) + " "));
  CHECK_FALSE(none(k_quantity_pattern));
}
