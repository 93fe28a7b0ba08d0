#include <gpuorch/model/api_status.hpp>

namespace gpuorch::model {

std::string_view status_reason_for_code(int code) {
  switch (code) {
    case 400:
      return k_reason_bad_request;
    case 401:
      return k_reason_unauthorized;
    case 403:
      return k_reason_forbidden;
    case 404:
      return k_reason_not_found;
    case 405:
      return k_reason_method_not_allowed;
    case 406:
      return k_reason_not_acceptable;
    case 409:
      return k_reason_conflict;
    case 410:
      return k_reason_gone;
    case 413:
      return k_reason_request_entity_too_large;
    case 415:
      return k_reason_unsupported_media_type;
    case 422:
      return k_reason_invalid;
    case 429:
      return k_reason_too_many_requests;
    case 503:
      return k_reason_service_unavailable;
    case 504:
      return k_reason_timeout;
    default:
      return code >= 500 ? k_reason_internal_error : k_reason_unknown;
  }
}

}  // namespace gpuorch::model
