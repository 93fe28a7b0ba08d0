#include <gpuorch/base/error.hpp>

namespace gpuorch {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::usage:
      return "usage";
    case ErrorCode::invalid:
      return "invalid";
    case ErrorCode::config:
      return "config";
    case ErrorCode::auth:
      return "auth";
    case ErrorCode::transport:
      return "transport";
    case ErrorCode::api:
      return "api";
    case ErrorCode::conflict:
      return "conflict";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::cancelled:
      return "cancelled";
    case ErrorCode::io:
      return "io";
    case ErrorCode::internal:
      return "internal";
  }
  return "internal";
}

std::string FieldCause::to_string() const {
  std::string out;
  if (!location.empty()) {
    out += location;
    out += ": ";
  }
  if (!field.empty()) {
    out += field;
    out += ": ";
  }
  out += message;
  return out;
}

Error& Error::wrap(std::string_view context) & {
  if (context.empty()) {
    return *this;
  }
  std::string wrapped(context);
  if (!m_message.empty()) {
    wrapped += ": ";
    wrapped += m_message;
  }
  m_message = std::move(wrapped);
  return *this;
}

std::string Error::describe() const {
  std::string out = m_message;
  for (const auto& cause : m_causes) {
    out += '\n';
    out += cause.to_string();
  }
  return out;
}

}  // namespace gpuorch
