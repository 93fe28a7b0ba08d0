#include "exit_codes.hpp"

#include <ostream>

namespace gpuorch::cli {

int exit_code_for(const Error& error) {
  switch (error.code()) {
    case ErrorCode::usage:
    case ErrorCode::invalid:
    case ErrorCode::config:
      return k_exit_usage;
    case ErrorCode::timeout:
      return k_exit_timeout;
    case ErrorCode::cancelled:
      return k_exit_interrupted;
    case ErrorCode::auth:
    case ErrorCode::transport:
    case ErrorCode::api:
    case ErrorCode::conflict:
    case ErrorCode::not_found:
    case ErrorCode::io:
    case ErrorCode::internal:
      return k_exit_error;
  }
  return k_exit_error;
}

void print_error(std::ostream& err, const Error& error) {
  if (error.http_status() != 0 && !error.reason().empty()) {
    err << "Error from server (" << error.reason() << "): " << error.message() << '\n';
  } else if (error.http_status() != 0) {
    // An API error without a reason (StatusReasonUnknown), printed as kubectl does.
    err << "Error from server: " << error.message() << '\n';
  } else {
    err << "error: " << error.message() << '\n';
  }
  for (const auto& cause : error.causes()) {
    err << cause.to_string() << '\n';
  }
}

}  // namespace gpuorch::cli
