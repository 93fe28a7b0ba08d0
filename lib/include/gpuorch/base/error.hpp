#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gpuorch {

/// What kind of failure an Error is. The CLI maps each category to an exit code
/// in exactly one place (cli/exit_codes.cpp); the library only classifies.
enum class ErrorCode {
  usage,      ///< the caller asked for something impossible (bad flag combination, bad argument)
  invalid,    ///< input failed validation (manifest, field values); carries field causes
  config,     ///< configuration is broken (kubeconfig, node file, missing file)
  auth,       ///< credentials missing or rejected (401/403, exec plugin failure)
  transport,  ///< the server could not be reached or the connection broke
  api,        ///< the API server answered with an error status
  conflict,   ///< optimistic concurrency lost (409 Conflict) or AlreadyExists
  not_found,  ///< the named object does not exist
  timeout,    ///< a deadline passed
  cancelled,  ///< interrupted by a signal or a caller
  io,         ///< local file system or process I/O failed
  internal,   ///< a bug: an invariant did not hold
};

/// Returns the lower-case name of a category ("not_found").
std::string_view to_string(ErrorCode code);

/// One problem with one field, as reported by validation or by the API server
/// (metav1.StatusCause). `location` is "file:line:column" when known.
struct FieldCause {
  std::string field;     ///< JSON path, e.g. "spec.gpuCount"
  std::string message;   ///< e.g. "must be >= 1, got 0"
  std::string location;  ///< e.g. "job.yaml:7:13", empty when unknown
  std::string reason;    ///< API cause type (FieldValueInvalid, ...), empty for local checks

  /// "job.yaml:7:13: spec.gpuCount: must be >= 1, got 0" (parts omitted when empty).
  [[nodiscard]] std::string to_string() const;
  friend bool operator==(const FieldCause&, const FieldCause&) = default;
};

/// A failure with enough context to print one clear line: what, where, why.
class Error {
 public:
  Error(ErrorCode code, std::string message) : m_code(code), m_message(std::move(message)) {}

  [[nodiscard]] ErrorCode code() const noexcept { return m_code; }
  [[nodiscard]] const std::string& message() const noexcept { return m_message; }

  /// HTTP status for errors that came from an API server (0 otherwise).
  [[nodiscard]] int http_status() const noexcept { return m_http_status; }
  /// metav1.Status reason ("NotFound", "Conflict", ...), empty for local errors.
  [[nodiscard]] const std::string& reason() const noexcept { return m_reason; }
  [[nodiscard]] const std::vector<FieldCause>& causes() const noexcept { return m_causes; }
  /// Seconds the server asked us to wait before retrying (Retry-After), 0 when absent.
  [[nodiscard]] int retry_after_seconds() const noexcept { return m_retry_after; }

  Error& with_http(int status, std::string reason) & {
    m_http_status = status;
    m_reason = std::move(reason);
    return *this;
  }
  Error&& with_http(int status, std::string reason) && { return std::move(with_http(status, std::move(reason))); }
  Error& with_causes(std::vector<FieldCause> causes) & {
    m_causes = std::move(causes);
    return *this;
  }
  Error&& with_causes(std::vector<FieldCause> causes) && { return std::move(with_causes(std::move(causes))); }
  Error& with_retry_after(int seconds) & {
    m_retry_after = seconds;
    return *this;
  }
  Error&& with_retry_after(int seconds) && { return std::move(with_retry_after(seconds)); }

  /// Prepends context: Error(io, "no such file").wrap("reading job.yaml") -> "reading job.yaml: no such file".
  Error& wrap(std::string_view context) &;
  Error&& wrap(std::string_view context) && { return std::move(wrap(context)); }

  /// The message followed by each cause on its own line (for `error: ...` printing).
  [[nodiscard]] std::string describe() const;

 private:
  ErrorCode m_code;
  std::string m_message;
  int m_http_status = 0;
  std::string m_reason;
  std::vector<FieldCause> m_causes;
  int m_retry_after = 0;
};

/// An Error wrapped as an exception, for the few places (CLI top level, deep
/// callbacks of third-party parsers) where unwinding is simpler than threading
/// a Result. The CLI catches it once and maps it like any other Error.
class Failure : public std::exception {
 public:
  explicit Failure(Error error) : m_error(std::move(error)) {}
  [[nodiscard]] const char* what() const noexcept override { return m_error.message().c_str(); }
  [[nodiscard]] const Error& error() const noexcept { return m_error; }

 private:
  Error m_error;
};

}  // namespace gpuorch
