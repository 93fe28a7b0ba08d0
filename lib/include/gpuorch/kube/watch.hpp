#pragma once

#include <cstddef>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>

namespace gpuorch::kube {

/// One event of a watch stream: ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
struct WatchEvent {
  std::string type;
  nlohmann::json object;
  /// Bytes of the event's line in the stream (what it cost to receive).
  std::size_t size = 0;
};

struct WatchOptions {
  /// Start after this version ("" = from now, with the current state as ADDED events).
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  /// Asks the server to end the stream after this long (it then ends normally).
  int timeout_seconds = 0;
};

/// Splits a watch response body into events: one JSON object per line,
/// arriving in arbitrary chunks.
class WatchDecoder {
 public:
  /// Feeds bytes; calls `emit` for each complete event. Stops early (returning
  /// true) when `emit` returns false. A line that is not a watch event is an error.
  Result<bool> feed(std::string_view bytes, const std::function<bool(WatchEvent&&)>& emit);
  /// Bytes of an unfinished line still buffered.
  [[nodiscard]] std::size_t pending() const { return m_buffer.size(); }

 private:
  std::string m_buffer;
};

/// The error carried by an ERROR event's metav1.Status (410 Expired for a
/// resourceVersion that is too old).
[[nodiscard]] Error watch_event_error(const nlohmann::json& status);

/// True for the errors that mean "re-list": 410 Gone / Expired.
[[nodiscard]] bool is_gone(const Error& error);

/// Runs one watch request and delivers its events in order to `handler`
/// (return false to stop). The handler may take the event's object (move it
/// out or edit it): the event is not looked at again. Returns the last resourceVersion seen (from objects
/// and bookmarks) when the stream ends normally or the handler stops it. A 410
/// (as an HTTP answer or an ERROR event) is returned as an error for which
/// is_gone() holds; the caller then lists again.
Result<std::string> watch(Client& client, const Gvr& gvr, std::string_view ns, const WatchOptions& options,
                          const std::function<bool(WatchEvent&)>& handler, std::stop_token stop = {});

}  // namespace gpuorch::kube
