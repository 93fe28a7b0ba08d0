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
/// outside the cache lock (a handler may read the cache). Objects are as the
/// server sent them, after InformerOptions::transform.
struct InformerHandlers {
  std::function<void(const nlohmann::json& object)> on_add;
  std::function<void(const nlohmann::json& old_object, const nlohmann::json& new_object)> on_update;
  /// Used instead of on_update when set: for a handler that reads only the
  /// new object. The cached old object is then never decoded, which with a
  /// compact store costs about as much as parsing the event itself.
  std::function<void(const nlohmann::json& new_object)> on_update_new_only;
  /// A watch's DELETED event passes the object's final state from the
  /// server; a deletion found by a re-list passes the cached object (as
  /// stored: see InformerOptions::metadata_only).
  std::function<void(const nlohmann::json& object)> on_delete;
};

/// Changes an object before the informer stores it or hands it to a handler
/// (client-go's TransformFunc), e.g. to drop metadata.managedFields. Applied
/// to listed and watched objects alike; it must keep metadata.name,
/// namespace and resourceVersion. An object transformed so must never be
/// written back to the server: it would lose what was dropped.
using InformerTransform = std::function<void(nlohmann::json& object)>;

/// Drops metadata.managedFields (server-side apply's bookkeeping, often the
/// largest part of an object), which only a client that applies reads.
void drop_managed_fields(nlohmann::json& object);

/// What an informer received (for metrics, logs and benchmarks).
struct InformerCounters {
  std::int64_t events = 0;       ///< watch events applied (bookmarks not counted)
  std::int64_t event_bytes = 0;  ///< their size in the stream
  std::int64_t listed = 0;       ///< objects received by lists
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
  /// Store only each object's apiVersion, kind and metadata (client-go's
  /// metadata informer), for a consumer that keeps its own view of the
  /// objects from the handlers: get()/list() and a re-list's deletions then
  /// give these partial objects. Handlers still get the full objects.
  bool metadata_only = false;
  /// See InformerTransform; none by default.
  InformerTransform transform;
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
  [[nodiscard]] InformerCounters counters() const;

  /// What run() does with each watch event: transform, store, then the
  /// handlers. Public for replaying recorded streams (benchmarks, tests);
  /// never while run() is running (it is the store's only writer).
  void apply_event(WatchEvent& event);

 private:
  /// One cached object: its resourceVersion (for re-list diffs) and either
  /// the JSON tree or, with InformerOptions::compact, its MessagePack bytes.
  struct Entry {
    std::string resource_version;
    nlohmann::json object;
    std::vector<std::uint8_t> packed;
  };
  /// The entry of an object (already transformed) as this store keeps it.
  [[nodiscard]] Entry make_entry(const nlohmann::json& object) const;
  [[nodiscard]] nlohmann::json unpack(const Entry& entry) const;

  Status relist(std::stop_token stop);

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
  InformerCounters m_counters;
};

}  // namespace gpuorch::kube
