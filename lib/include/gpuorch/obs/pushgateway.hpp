#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/http.hpp>
#include <gpuorch/kube/system.hpp>
#include <gpuorch/obs/metrics.hpp>

namespace gpuorch::obs {

struct PushgatewayOptions {
  /// Base URL of the Pushgateway, e.g. "http://pushgateway.monitoring:9091"
  /// (a path prefix is kept; a trailing slash is ignored).
  std::string url;
  /// The `job` grouping label.
  std::string job = "gpuorch-reconcile";
  /// Further grouping labels, in order. A cluster-wide batch job should not
  /// add `instance`: each run would then leave its own group behind.
  std::vector<std::pair<std::string, std::string>> grouping;
  /// Whole-request limit.
  std::chrono::milliseconds timeout{10000};
  /// Extra request headers (e.g. Authorization for a protected gateway; never logged).
  kube::Headers headers;
};

/// The grouping-key path "/metrics/job/<job>[/<label>/<value>...]". Values
/// are percent-encoded as path segments; a value that contains '/' is sent in
/// the Pushgateway's base64 form (`<label>@base64/<url-safe base64>`) and an
/// empty one as `<label>@base64/=`, as the Pushgateway documents. Invalid label
/// names, a `job` in `grouping` and an empty job are ErrorCode::usage.
Result<std::string> grouping_path(std::string_view job,
                                  const std::vector<std::pair<std::string, std::string>>& grouping);

/// A Pushgateway client for one grouping key, over the kube module's HTTP
/// transport (libcurl).
class Pushgateway {
 public:
  /// Validates the options (http or https URL, grouping labels) and uses
  /// `transport`, or a CurlTransport configured from `env` (proxy variables)
  /// when it is null.
  static Result<Pushgateway> create(PushgatewayOptions options, kube::Environment env = {},
                                    std::shared_ptr<kube::HttpTransport> transport = nullptr);

  /// PUT: replaces every metric of the group with the registry's.
  Status push(const Registry& registry) const;
  /// POST: replaces only the metric families the registry contains.
  Status push_add(const Registry& registry) const;
  /// DELETE: removes the whole group.
  Status remove() const;

  /// The full URL of the group.
  [[nodiscard]] const std::string& url() const { return m_url; }

 private:
  Pushgateway(PushgatewayOptions options, std::string url, std::shared_ptr<kube::HttpTransport> transport)
      : m_options(std::move(options)), m_url(std::move(url)), m_transport(std::move(transport)) {}
  Status send(std::string_view method, std::string body) const;

  PushgatewayOptions m_options;
  std::string m_url;
  std::shared_ptr<kube::HttpTransport> m_transport;
};

}  // namespace gpuorch::obs
