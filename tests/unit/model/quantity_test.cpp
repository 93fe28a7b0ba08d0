#include <cstdint>
#include <limits>
#include <string>

#include <doctest/doctest.h>
#include <gpuorch/model/quantity.hpp>

namespace gpuorch::model {
namespace {

Quantity q(std::string_view text) {
  return Quantity::parse(text).value_or_throw();
}

std::string parse_error(std::string_view text) {
  auto r = Quantity::parse(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code() == ErrorCode::invalid);
  return r.error().message();
}

}  // namespace

TEST_CASE("Quantity parses and prints canonically like apimachinery") {
  struct Case {
    std::string_view input;
    std::string_view canonical;
    std::int64_t milli;
    std::int64_t value;
  };
  const Case cases[] = {
      {"0", "0", 0, 0},
      {"-0", "0", 0, 0},
      {"0Gi", "0", 0, 0},
      {"0.0", "0", 0, 0},
      {"500m", "500m", 500, 1},
      {"2", "2", 2000, 2},
      {"+2", "2", 2000, 2},
      {"1.5", "1500m", 1500, 2},
      {"0.5", "500m", 500, 1},
      {".5", "500m", 500, 1},
      {"5.", "5", 5000, 5},
      {"1000", "1k", 1'000'000, 1000},
      {"1500", "1500", 1'500'000, 1500},
      {"1.5k", "1500", 1'500'000, 1500},
      {"1000m", "1", 1000, 1},
      {"100u", "100u", 1, 1},
      {"1n", "1n", 1, 1},
      {"0.1n", "1n", 1, 1},
      {"1500000000n", "1500m", 1500, 2},
      {"16Gi", "16Gi", 17'179'869'184'000, 17'179'869'184},
      {"1024Mi", "1Gi", 1'073'741'824'000, 1'073'741'824},
      {"0.5Gi", "512Mi", 536'870'912'000, 536'870'912},
      {"1.5Gi", "1536Mi", 1'610'612'736'000, 1'610'612'736},
      {"1.5Ki", "1536", 1'536'000, 1536},
      {"1Ki", "1Ki", 1'024'000, 1024},
      {"0.5Ki", "512", 512'000, 512},
      {"0.001Ki", "1024m", 1024, 2},
      {"1Ei", "1Ei", std::numeric_limits<std::int64_t>::max(), 1'152'921'504'606'846'976},
      {"1e3", "1e3", 1'000'000, 1000},
      {"1E3", "1e3", 1'000'000, 1000},
      {"1e0", "1", 1000, 1},
      {"1.5e3", "1500", 1'500'000, 1500},
      {"1e-3", "1e-3", 1, 1},
      {"15e-1", "1500e-3", 1500, 2},
      {"1e+6", "1e6", 1'000'000'000, 1'000'000},
      {"1E", "1E", std::numeric_limits<std::int64_t>::max(), 1'000'000'000'000'000'000},
      {"2M", "2M", 2'000'000'000, 2'000'000},
      {"1G", "1G", 1'000'000'000'000, 1'000'000'000},
      {"12T", "12T", 12'000'000'000'000'000, 12'000'000'000'000},
      {"-500m", "-500m", -500, -1},
      {"-1.5Gi", "-1536Mi", -1'610'612'736'000, -1'610'612'736},
      {"0.000000000001Ki", "2n", 1, 1},
      {"1e100", "9223372036854775807", std::numeric_limits<std::int64_t>::max(),
       std::numeric_limits<std::int64_t>::max()},
      {"1e-100", "1e-9", 1, 1},
      {"007", "7", 7000, 7},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    const Quantity parsed = q(c.input);
    CHECK(parsed.to_string() == c.canonical);
    CHECK(parsed.milli() == c.milli);
    CHECK(parsed.value() == c.value);
    // The canonical form parses back to the same value and prints identically.
    const Quantity again = q(parsed.to_string());
    CHECK(again == parsed);
    CHECK(again.to_string() == c.canonical);
  }
}

TEST_CASE("Quantity rejects garbage with a clear message") {
  CHECK(parse_error("") == "invalid quantity \"\": empty (expected a number such as \"500m\", \"2\" or \"16Gi\")");
  CHECK(parse_error("abc") ==
        "invalid quantity \"abc\": must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
  CHECK(parse_error("Gi") == "invalid quantity \"Gi\": must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
  CHECK(parse_error("-") == "invalid quantity \"-\": must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
  CHECK(parse_error(".") == "invalid quantity \".\": must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
  CHECK(parse_error("5Gb") ==
        "invalid quantity \"5Gb\": unknown suffix \"Gb\" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an "
        "exponent such as e3)");
  CHECK(parse_error("1K") ==
        "invalid quantity \"1K\": unknown suffix \"K\" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an "
        "exponent such as e3)");
  CHECK(parse_error("1e") ==
        "invalid quantity \"1e\": unknown suffix \"e\" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or an "
        "exponent such as e3)");
  CHECK(parse_error("1 Gi") ==
        "invalid quantity \"1 Gi\": unknown suffix \" Gi\" (use n, u, m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei or "
        "an exponent such as e3)");
  CHECK(parse_error("1.2.3") == "invalid quantity \"1.2.3\": unexpected \".3\" after the number");
  CHECK(parse_error("1e3.5") == "invalid quantity \"1e3.5\": unexpected \"e3.5\" after the number");
  CHECK(parse_error("1Gi5") == "invalid quantity \"1Gi5\": unexpected \"Gi5\" after the number");
  CHECK(parse_error("--1") ==
        "invalid quantity \"--1\": must start with a number, such as \"500m\", \"2\" or \"16Gi\"");
}

TEST_CASE("Quantity compares by value across formats") {
  CHECK(q("1k") == q("1e3"));
  CHECK(q("1000") == q("1e3"));
  CHECK(q("1Ki") > q("1k"));
  CHECK(q("500m") < q("1"));
  CHECK(q("-1") < q("0"));
  CHECK(q("1.5") == Quantity::from_milli(1500));
  CHECK(Quantity::from_milli(1500).to_string() == "1500m");
  CHECK(Quantity::from_milli(2000).to_string() == "2");
  CHECK(Quantity::from_milli(0).is_zero());
  CHECK(Quantity::from_units(16 * 1024 * 1024 * 1024LL, Quantity::Format::binary_si).to_string() == "16Gi");
  CHECK(Quantity::from_units(64).to_string() == "64");
  CHECK(q("64Gi").format() == Quantity::Format::binary_si);
  CHECK(q("0.5Ki").format() == Quantity::Format::binary_si);
  CHECK(q("0.0005Ki").format() == Quantity::Format::decimal_si);
  CHECK(q("0.0005Ki").to_string() == "512m");
  CHECK(q("1e3").format() == Quantity::Format::decimal_exponent);
  CHECK(q("-2").sign() == -1);
  CHECK(q("1n").nano() == 1);
}

}  // namespace gpuorch::model
