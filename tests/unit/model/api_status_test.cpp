#include <doctest/doctest.h>
#include <gpuorch/model/api_status.hpp>

namespace gpuorch::model {

TEST_CASE("status_reason_for_code follows metav1.StatusReason") {
  struct Row {
    int code;
    std::string_view reason;
  };
  const Row rows[] = {
      {400, "BadRequest"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "NotFound"},
      {405, "MethodNotAllowed"},
      {406, "NotAcceptable"},
      {409, "Conflict"},
      // The general 410; an expired resourceVersion or continue token is "Expired", said by the server itself.
      {410, "Gone"},
      {413, "RequestEntityTooLarge"},
      {415, "UnsupportedMediaType"},
      {422, "Invalid"},
      {429, "TooManyRequests"},
      {500, "InternalError"},
      {502, "InternalError"},
      {503, "ServiceUnavailable"},
      {504, "Timeout"},
      // StatusReasonUnknown is "" in apimachinery.
      {418, ""},
      {302, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.code);
    CHECK(status_reason_for_code(row.code) == row.reason);
  }
}

TEST_CASE("Expired and Gone are distinct 410 reasons") {
  CHECK(k_reason_expired == "Expired");
  CHECK(k_reason_gone == "Gone");
  CHECK(status_reason_for_code(410) != k_reason_expired);
}

}  // namespace gpuorch::model
