#pragma once

#include <string_view>

namespace gpuorch::model {

/// metav1.StatusReason values (k8s.io/apimachinery/pkg/apis/meta/v1), as the
/// API server writes them in a Status's `reason`.
inline constexpr std::string_view k_reason_bad_request = "BadRequest";
inline constexpr std::string_view k_reason_unauthorized = "Unauthorized";
inline constexpr std::string_view k_reason_forbidden = "Forbidden";
inline constexpr std::string_view k_reason_not_found = "NotFound";
inline constexpr std::string_view k_reason_method_not_allowed = "MethodNotAllowed";
inline constexpr std::string_view k_reason_not_acceptable = "NotAcceptable";
inline constexpr std::string_view k_reason_already_exists = "AlreadyExists";
inline constexpr std::string_view k_reason_conflict = "Conflict";
/// 410 for a resource that is no longer available and has no forwarding address.
inline constexpr std::string_view k_reason_gone = "Gone";
/// 410 for content that has expired: a watch or list `resourceVersion` older
/// than the server keeps, or a stale list `continue` token. Clients re-list.
inline constexpr std::string_view k_reason_expired = "Expired";
inline constexpr std::string_view k_reason_request_entity_too_large = "RequestEntityTooLarge";
inline constexpr std::string_view k_reason_unsupported_media_type = "UnsupportedMediaType";
inline constexpr std::string_view k_reason_invalid = "Invalid";
inline constexpr std::string_view k_reason_too_many_requests = "TooManyRequests";
inline constexpr std::string_view k_reason_internal_error = "InternalError";
inline constexpr std::string_view k_reason_service_unavailable = "ServiceUnavailable";
inline constexpr std::string_view k_reason_timeout = "Timeout";
/// StatusReasonUnknown is the empty string in apimachinery; kubectl then
/// prints "Error from server: ..." without a reason.
inline constexpr std::string_view k_reason_unknown = "";

/// The reason that goes with an HTTP status code when nothing more specific is
/// known: what a server answers by default, and what a client assumes when a
/// response carries no metav1.Status. 410 gives `Gone`, the general reason; a
/// server that rejects an expired resourceVersion or continue token says
/// `Expired` explicitly (k_reason_expired), as kube-apiserver does. A 409 is
/// `Conflict` here; only a create that finds the name taken is `AlreadyExists`.
/// Unlisted codes: InternalError from 500 up, else Unknown ("").
std::string_view status_reason_for_code(int code);

}  // namespace gpuorch::model
