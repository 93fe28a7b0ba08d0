#include <memory>
#include <string>

#include <doctest/doctest.h>
#include <gpuorch/base/result.hpp>

namespace gpuorch {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return Error(ErrorCode::invalid, "must be > 0");
  }
  return v;
}

Result<int> doubled(int v) {
  GPUORCH_ASSIGN_OR_RETURN(const int x, parse_positive(v));
  return 2 * x;
}

Status check_both(int a, int b) {
  GPUORCH_TRY(parse_positive(a));
  GPUORCH_TRY(parse_positive(b));
  return {};
}

}  // namespace

TEST_CASE("Result holds a value or an error") {
  const Result<int> good = parse_positive(3);
  REQUIRE(good.ok());
  CHECK(*good == 3);
  CHECK(good.value_or(7) == 3);

  const Result<int> bad = parse_positive(0);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::invalid);
  CHECK(bad.error().message() == "must be > 0");
  CHECK(bad.value_or(7) == 7);
}

TEST_CASE("Result works with move-only values") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  REQUIRE(r.ok());
  auto p = std::move(r).value();
  CHECK(*p == 5);
}

TEST_CASE("GPUORCH_ASSIGN_OR_RETURN and GPUORCH_TRY propagate the first error") {
  CHECK(*doubled(4) == 8);
  CHECK(doubled(-1).error().message() == "must be > 0");
  CHECK(check_both(1, 2).ok());
  const Status failed = check_both(1, 0);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code() == ErrorCode::invalid);
}

TEST_CASE("value_or_throw raises a Failure carrying the error") {
  CHECK(Result<int>(5).value_or_throw() == 5);
  try {
    (void)Result<int>(Error(ErrorCode::not_found, "gone")).value_or_throw();
    FAIL("expected a Failure");
  } catch (const Failure& f) {
    CHECK(f.error().code() == ErrorCode::not_found);
    CHECK(std::string(f.what()) == "gone");
  }
}

TEST_CASE("Error context, causes and HTTP details") {
  Error e(ErrorCode::io, "no such file or directory");
  e.wrap("reading job.yaml");
  CHECK(e.message() == "reading job.yaml: no such file or directory");

  const auto invalid = Error(ErrorCode::invalid, "job.yaml is invalid")
                           .with_causes({{"spec.gpuCount", "must be >= 1, got 0", "job.yaml:7:13", ""},
                                         {"spec.modelName", "required", "", ""}});
  CHECK(invalid.describe() ==
        "job.yaml is invalid\njob.yaml:7:13: spec.gpuCount: must be >= 1, got 0\nspec.modelName: required");

  const auto api = Error(ErrorCode::not_found, "gpuworkloads.gpuorch.io \"x\" not found")
                       .with_http(404, "NotFound")
                       .with_retry_after(3);
  CHECK(api.http_status() == 404);
  CHECK(api.reason() == "NotFound");
  CHECK(api.retry_after_seconds() == 3);
  CHECK(to_string(ErrorCode::not_found) == "not_found");
}

}  // namespace gpuorch
