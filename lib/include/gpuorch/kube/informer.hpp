#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/base/result.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/watch.hpp>

namespace gpuorch::kube {

/// Callbacks of an informer, called from its run() thread, in event order,
/// outside the cache lock (a handler may read the cache).
struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  std::function<void(const nlohmann::json& object)> on_delete;
};

struct InformerOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t page_size = 500;
  /// Each watch asks the server to end after this long; the informer then resumes.
  int watch_timeout_seconds = 300;
  /// First delay after a failed list or watch; doubles up to the cap.
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  /// Keep each cached object as MessagePack instead of a JSON tree: several
  /// times smaller (what lets a controller cache 50,000 workloads), at the
  /// price of decoding an object on get()/list() and for handlers' old objects.
  bool compact = false;
};

/// client-go's list+watch cache: lists (paged), keeps every object in a local
/// store, then watches from the list's resourceVersion, resuming after drops
/// from the last version seen and listing again when the server answers 410.
/// After a re-list, objects that vanished are reported as deletions and
/// changed ones as updates, so handlers see a consistent story.
class Informer {
 public:
  Informer(std::shared_ptr<Client> client, Gvr gvr, std::string ns, InformerOptions options = {},
           InformerHandlers handlers = {});

  /// Lists and watches until `stop` is requested. Returns OK when stopped;
  /// failures are retried with backoff (auth errors included: credentials may be
  /// fixed while it runs), so it only returns an error for a bug.
  Status run(std::stop_token stop);

  /// True once the first list has been stored.
  [[nodiscard]] bool has_synced() const;
  /// Waits until synced, stopped, or `timeout` passes (real time).
  bool wait_for_sync(std::chrono::milliseconds timeout) const;

  /// "namespace/name" (or "name" for cluster-scoped objects).
  [[nodiscard]] static std::string key_of(const nlohmann::json& object);
  [[nodiscard]] std::optional<nlohmann::json> get(const std::string& key) const;
  [[nodiscard]] std::vector<nlohmann::json> list() const;
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::string resource_version() const;
  /// Number of full lists done (1 + re-lists after 410), for tests and metrics.
  [[nodiscard]] int list_count() const;
  /// Watch streams that ended with an error (a drop, a 410) and were resumed.
  [[nodiscard]] int watch_restarts() const;

 private:
  /// One cached object: its resourceVersion (for re-list diffs) and either
  /// the JSON tree or, with InformerOptions::compact, its MessagePack bytes.
  struct Entry {
    std::string resource_version;
    nlohmann::json object;
    std::vector<std::uint8_t> packed;
  };
  [[nodiscard]] Entry make_entry(nlohmann::json object) const;
  [[nodiscard]] nlohmann::json unpack(const Entry& entry) const;

  Status relist(std::stop_token stop);
  void apply_event(const WatchEvent& event);

  std::shared_ptr<Client> m_client;
  Gvr m_gvr;
  std::string m_namespace;
  InformerOptions m_options;
  InformerHandlers m_handlers;

  mutable std::mutex m_mutex;
  mutable std::condition_variable m_synced_cv;
  std::map<std::string, Entry> m_store;
  std::string m_resource_version;
  bool m_synced = false;
  int m_lists = 0;
  int m_watch_restarts = 0;
};

}  // namespace gpuorch::kube
