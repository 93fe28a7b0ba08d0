#include <gpuorch/kube/watch.hpp>

#include <fmt/format.h>
#include <gpuorch/model/api_status.hpp>

namespace gpuorch::kube {
namespace {

using nlohmann::json;

std::string resource_version_of(const json& object) {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    if (auto rv = md->find("resourceVersion"); rv != md->end() && rv->is_string()) {
      return rv->get<std::string>();
    }
  }
  return {};
}

}  // namespace

Result<bool> WatchDecoder::feed(std::string_view bytes, const std::function<bool(WatchEvent&&)>& emit) {
  m_buffer.append(bytes);
  std::size_t start = 0;
  while (true) {
    const auto newline = m_buffer.find('\n', start);
    if (newline == std::string::npos) {
      break;
    }
    std::string_view line(m_buffer.data() + start, newline - start);
    start = newline + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    json parsed = json::parse(line, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("type") || !parsed["type"].is_string()) {
      Error error(ErrorCode::api, fmt::format("watch stream: not a watch event: {}", line.substr(0, 200)));
      m_buffer.erase(0, start);
      return error;
    }
    WatchEvent event;
    event.type = parsed["type"].get<std::string>();
    event.object = std::move(parsed["object"]);
    event.size = line.size() + 1;
    if (!emit(std::move(event))) {
      m_buffer.erase(0, start);
      return false;
    }
  }
  m_buffer.erase(0, start);
  return true;
}

Error watch_event_error(const json& status) {
  HttpResponse response;
  response.status = status.is_object() ? status.value("code", 500) : 500;
  response.body = status.dump();
  return decode_api_error(response, "WATCH", "");
}

bool is_gone(const Error& error) {
  return error.http_status() == 410 || error.reason() == model::k_reason_expired ||
         error.reason() == model::k_reason_gone;
}

Result<std::string> watch(Client& client, const Gvr& gvr, std::string_view ns, const WatchOptions& options,
                          const std::function<bool(WatchEvent&)>& handler, std::stop_token stop) {
  Request request;
  request.path = resource_path(gvr, ns);
  request.query.emplace_back("watch", "1");
  if (!options.resource_version.empty()) {
    request.query.emplace_back("resourceVersion", options.resource_version);
  }
  if (options.allow_bookmarks) {
    request.query.emplace_back("allowWatchBookmarks", "true");
  }
  if (!options.label_selector.empty()) {
    request.query.emplace_back("labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    request.query.emplace_back("fieldSelector", options.field_selector);
  }
  if (options.timeout_seconds > 0) {
    request.query.emplace_back("timeoutSeconds", std::to_string(options.timeout_seconds));
    // A safety net for a connection that silently dies: the server should have
    // ended the stream well before this.
    request.timeout = std::chrono::milliseconds((options.timeout_seconds + 30) * 1000LL);
  } else {
    request.timeout = std::chrono::milliseconds(0);
  }
  request.stop = stop;
  request.no_compression = true;

  std::string last_rv = options.resource_version;
  WatchDecoder decoder;
  std::optional<Error> stream_error;
  bool handler_stopped = false;
  request.on_data = [&](std::string_view bytes) {
    auto fed = decoder.feed(bytes, [&](WatchEvent&& event) {
      if (event.type == "ERROR") {
        stream_error = watch_event_error(event.object);
        return false;
      }
      if (auto rv = resource_version_of(event.object); !rv.empty()) {
        last_rv = rv;
      }
      if (event.type == "BOOKMARK") {
        return true;
      }
      if (!handler(event)) {
        handler_stopped = true;
        return false;
      }
      return true;
    });
    if (!fed) {
      stream_error = std::move(fed).error();
      return false;
    }
    return *fed;
  };
  auto response = client.send(std::move(request));
  if (stream_error) {
    return std::move(*stream_error);
  }
  if (handler_stopped) {
    return last_rv;
  }
  if (!response) {
    return std::move(response).error();
  }
  return last_rv;
}

}  // namespace gpuorch::kube
