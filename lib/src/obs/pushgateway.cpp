#include <gpuorch/obs/pushgateway.hpp>

#include <algorithm>

#include <gpuorch/kube/client.hpp>

namespace gpuorch::obs {

namespace {

/// RFC 4648 §5 (URL- and file-name-safe alphabet), with padding.
std::string base64_url(std::string_view bytes) {
  static constexpr char k_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16U) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8U) | static_cast<unsigned char>(bytes[i + 2]);
    out += k_alphabet[(v >> 18U) & 63U];
    out += k_alphabet[(v >> 12U) & 63U];
    out += k_alphabet[(v >> 6U) & 63U];
    out += k_alphabet[v & 63U];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned v = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U;
    if (rest == 2) {
      v |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U;
    }
    out += k_alphabet[(v >> 18U) & 63U];
    out += k_alphabet[(v >> 12U) & 63U];
    out += rest == 2 ? k_alphabet[(v >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

void append_pair(std::string& path, std::string_view name, std::string_view value) {
  path += '/';
  if (value.empty()) {
    path += name;
    path += "@base64/=";
  } else if (value.find('/') != std::string_view::npos) {
    path += name;
    path += "@base64/";
    path += base64_url(value);
  } else {
    path += name;
    path += '/';
    path += kube::url_encode(value);
  }
}

}  // namespace

Result<std::string> grouping_path(std::string_view job,
                                  const std::vector<std::pair<std::string, std::string>>& grouping) {
  if (job.empty()) {
    return Error(ErrorCode::usage, "the Pushgateway job name is empty");
  }
  std::string path = "/metrics";
  append_pair(path, "job", job);
  for (std::size_t i = 0; i < grouping.size(); ++i) {
    const auto& [name, value] = grouping[i];
    if (!is_valid_label_name(name) || name.starts_with("__")) {
      return Error(ErrorCode::usage, "invalid Pushgateway grouping label name \"" + name + "\"");
    }
    if (name == "job") {
      return Error(ErrorCode::usage, "the Pushgateway grouping label \"job\" is given by the job name");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (grouping[j].first == name) {
        return Error(ErrorCode::usage, "duplicate Pushgateway grouping label \"" + name + "\"");
      }
    }
    append_pair(path, name, value);
  }
  return path;
}

Result<Pushgateway> Pushgateway::create(PushgatewayOptions options, kube::Environment env,
                                        std::shared_ptr<kube::HttpTransport> transport) {
  std::string base = options.url;
  if (!base.starts_with("http://") && !base.starts_with("https://")) {
    return Error(ErrorCode::usage,
                 "Pushgateway URL \"" + kube::redact_url(base) + "\" must start with http:// or https://");
  }
  if (base.find_first_of("?#") != std::string::npos) {
    return Error(ErrorCode::usage,
                 "Pushgateway URL \"" + kube::redact_url(base) + "\" must not have a query or fragment");
  }
  const auto host_start = base.find("://") + 3;
  if (host_start >= base.size() || base[host_start] == '/') {
    return Error(ErrorCode::usage, "Pushgateway URL \"" + kube::redact_url(base) + "\" has no host");
  }
  while (base.size() > host_start && base.back() == '/') {
    base.pop_back();
  }
  GPUORCH_ASSIGN_OR_RETURN(const std::string path, grouping_path(options.job, options.grouping));
  if (!transport) {
    kube::TransportConfig config;
    config.user_agent = "gpuorch";
    config.connect_timeout = options.timeout;
    transport = std::make_shared<kube::CurlTransport>(config, std::move(env));
  }
  std::string url = base + path;
  return Pushgateway(std::move(options), std::move(url), std::move(transport));
}

Status Pushgateway::push(const Registry& registry) const {
  return send("PUT", registry.expose());
}

Status Pushgateway::push_add(const Registry& registry) const {
  return send("POST", registry.expose());
}

Status Pushgateway::remove() const {
  return send("DELETE", {});
}

Status Pushgateway::send(std::string_view method, std::string body) const {
  kube::HttpRequest request;
  request.method = std::string(method);
  request.url = m_url;
  request.timeout = m_options.timeout;
  request.headers = m_options.headers;
  if (method != "DELETE") {
    request.headers.emplace_back("Content-Type", k_text_content_type);
    request.body = std::move(body);
  }
  const std::string what = std::string(method) + " " + kube::redact_url(m_url);
  auto response = m_transport->send(request);
  if (!response.ok()) {
    return std::move(response).error().wrap("pushing metrics to the Pushgateway (" + what + ")");
  }
  if (response->status < 200 || response->status > 299) {
    std::string detail = response->body;
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r' || detail.back() == ' ')) {
      detail.pop_back();
    }
    if (detail.size() > 512) {
      detail = detail.substr(0, 512) + "...";
    }
    std::string message = "pushing metrics to the Pushgateway (" + what + "): HTTP " + std::to_string(response->status);
    if (!detail.empty()) {
      message += ": " + detail;
    }
    return Error(ErrorCode::api, std::move(message)).with_http(response->status, "");
  }
  return {};
}

}  // namespace gpuorch::obs
