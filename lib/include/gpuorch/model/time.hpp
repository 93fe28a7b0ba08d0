#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>

namespace gpuorch::model {

/// A point in time as the Kubernetes API carries it (metav1.Time).
using Time = std::chrono::system_clock::time_point;

/// How many fractional digits format_time() prints.
enum class TimePrecision {
  seconds,       ///< "2024-05-01T12:00:00Z" (metav1.Time, what the API server stores)
  milliseconds,  ///< "2024-05-01T12:00:00.123Z"
  microseconds,  ///< "2024-05-01T12:00:00.123456Z" (metav1.MicroTime)
  nanoseconds,   ///< "2024-05-01T12:00:00.123456789Z"
  automatic,     ///< as many digits as needed, none for whole seconds (Go's RFC3339Nano)
};

/// Parses an RFC 3339 date-time: "2024-05-01T12:00:00Z", lower-case "t"/"z",
/// fractional seconds of any length (truncated to nanoseconds) and numeric
/// offsets ("+02:00", "-05:30"). Errors are ErrorCode::invalid and name the text.
Result<Time> parse_time(std::string_view text);

/// Formats in UTC with a "Z" suffix; fractions are truncated, never rounded up.
std::string format_time(Time time, TimePrecision precision = TimePrecision::seconds);

}  // namespace gpuorch::model
