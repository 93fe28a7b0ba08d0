#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <gpuorch/sandbox/patch.hpp>
#include <gpuorch/sandbox/resource.hpp>
#include <gpuorch/sandbox/selector.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// Immutable object snapshots are shared between the store, its history and
/// watchers; nobody mutates one after it was committed.
using ObjectPtr = std::shared_ptr<const nlohmann::json>;

enum class Subresource { none, status };

/// Who writes and how (query parameters of a write request).
struct WriteOptions {
  bool dry_run = false;
  /// fieldManager; the API layer derives one from the User-Agent when absent.
  std::string field_manager;
};

struct PatchOptions {
  bool dry_run = false;
  std::string field_manager;
  bool force = false;  ///< server-side apply: take over conflicting fields
};

struct DeleteOptions {
  bool dry_run = false;
  std::string propagation_policy;  ///< "", Background, Foreground, Orphan
  std::string precondition_uid;
  std::string precondition_resource_version;
};

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::int64_t limit = 0;
  std::string continue_token;
  std::string resource_version;
};

/// One change as a watcher sees it (type ADDED, MODIFIED, DELETED).
struct WatchEvent {
  std::string type;
  ObjectPtr object;
  std::uint64_t resource_version = 0;
};

/// The consuming end of a watch. The store pushes matching events; the
/// server thread pops them. Closed by the consumer, by the store when the
/// resource goes away, or when the consumer falls too far behind.
class Watch {
 public:
  /// Waits up to `timeout` for the next event; nullopt on timeout or close.
  std::optional<WatchEvent> next(std::chrono::milliseconds timeout);
  void close();
  [[nodiscard]] bool closed() const;
  /// The newest resource version this watch has seen (for bookmarks).
  [[nodiscard]] std::uint64_t progress() const;

 private:
  friend class Store;
  struct Filter {
    std::string bucket;
    std::string namespace_name;
    LabelSelector labels;
    FieldSelector fields;
  };
  void push(WatchEvent event);
  void note_progress(std::uint64_t rv);
  [[nodiscard]] bool matches(const nlohmann::json& object) const;

  Filter m_filter;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<WatchEvent> m_queue;
  std::uint64_t m_progress = 0;
  bool m_closed = false;
};

struct StoreOptions {
  /// Watch events kept for resuming watches; older versions get 410 Gone.
  std::size_t history = 20000;
  /// A watcher with more undelivered events than this is closed.
  std::size_t max_watch_backlog = 200000;
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
  /// Seeds uids and generated names; 0 (the default) draws from the OS, so
  /// objects created after a restart never reuse a uid.
  std::uint64_t seed = 0;
};

/// Persists committed changes so a restart loses nothing acknowledged.
class Journal {
 public:
  virtual ~Journal() = default;
  /// Called under the store lock before a write is acknowledged; `object` is
  /// null for a deletion. `resource_version` is the version of the change.
  virtual Status record(std::uint64_t resource_version, const std::string& bucket, const std::string& key,
                        const nlohmann::json* object) = 0;
};

/// The object store of the sandbox API server: every resource's objects,
/// the resourceVersion counter, the watch history, and the API semantics
/// (generation, uid, finalizers, optimistic concurrency, selectors, paging,
/// patches, server-side apply, dry run, garbage collection). Thread-safe.
/// Errors carry the HTTP status and metav1.Status reason.
class Store {
 public:
  explicit Store(StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- resource types -------------------------------------------------------
  /// Every served resource, built-ins first, then those of established CRDs.
  [[nodiscard]] std::vector<ResourceType> types() const;
  /// Looks a type up by group, version and plural.
  [[nodiscard]] std::optional<ResourceType> find_type(const std::string& group, const std::string& version,
                                                      const std::string& plural) const;
  /// Looks a type up by group and kind (for ownerReferences and events).
  [[nodiscard]] std::optional<ResourceType> find_kind(const std::string& group, const std::string& kind) const;

  // ---- API verbs --------------------------------------------------------------
  Result<nlohmann::json> create(const ResourceType& type, const std::string& ns, nlohmann::json object,
                                const WriteOptions& options = {});
  Result<nlohmann::json> get(const ResourceType& type, const std::string& ns, const std::string& name) const;
  /// A list object ({kind: <Kind>List, metadata: {resourceVersion, continue}, items}).
  Result<nlohmann::json> list(const ResourceType& type, const std::string& ns, const ListOptions& options) const;
  Result<nlohmann::json> update(const ResourceType& type, const std::string& ns, const std::string& name,
                                nlohmann::json object, Subresource sub, const WriteOptions& options = {});
  Result<nlohmann::json> patch(const ResourceType& type, const std::string& ns, const std::string& name,
                               PatchType patch_type, const nlohmann::json& patch, Subresource sub,
                               const PatchOptions& options = {});
  /// Deletes, or marks for deletion while finalizers remain.
  Result<nlohmann::json> remove(const ResourceType& type, const std::string& ns, const std::string& name,
                                const DeleteOptions& options = {});
  /// Starts a watch. `resource_version` "" or "0" replays the current objects
  /// as ADDED; a version older than the kept history is a 410 Gone.
  Result<std::shared_ptr<Watch>> watch(const ResourceType& type, const std::string& ns, const ListOptions& options);

  /// Reads every object of a resource under the lock (no copies).
  void for_each(const ResourceType& type, const std::function<void(const nlohmann::json&)>& fn) const;
  /// The same with the stored (immutable) objects themselves: a caller that
  /// keeps some of them for after the walk holds a reference, not a copy.
  void for_each_object(const ResourceType& type, const std::function<void(const ObjectPtr&)>& fn) const;
  /// Atomically reads, changes and writes one object (controllers use it:
  /// no lost updates, no conflicts). `fn` returns false to leave it alone.
  Result<nlohmann::json> mutate(const ResourceType& type, const std::string& ns, const std::string& name,
                                Subresource sub, const std::string& manager,
                                const std::function<bool(nlohmann::json&)>& fn);

  /// One garbage-collector pass: deletes dependents whose owners are gone,
  /// runs foreground and orphan deletion, empties and removes terminating
  /// namespaces. Returns how many objects it changed.
  std::size_t collect_garbage();

  /// The current resourceVersion.
  [[nodiscard]] std::uint64_t resource_version() const;
  /// Blocks until the resourceVersion passes `seen` or `timeout` elapses.
  std::uint64_t wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) const;
  /// Closes every watch (server shutdown).
  void close_watches();

  // ---- persistence ------------------------------------------------------------
  /// Replaces the contents with `state` (from snapshot()), e.g. at start-up.
  Status restore(const nlohmann::json& state);
  /// The whole state: {resourceVersion, buckets: {bucket: {key: object}}}.
  [[nodiscard]] nlohmann::json snapshot() const;
  /// Every later commit is recorded there before it is acknowledged.
  void set_journal(Journal* journal);

  /// Current time as RFC 3339 (UTC, seconds).
  [[nodiscard]] std::string now_rfc3339() const;

 private:
  struct HistoryEntry {
    std::uint64_t rv;
    std::string bucket;
    std::string type;
    ObjectPtr object;
    ObjectPtr old;
  };
  using Bucket = std::map<std::string, ObjectPtr>;

  Result<nlohmann::json> create_locked(const ResourceType& type, const std::string& ns, nlohmann::json object,
                                       const WriteOptions& options, const nlohmann::json* applied_fields);
  Result<nlohmann::json> update_locked(const ResourceType& type, const std::string& ns, const std::string& name,
                                       nlohmann::json object, Subresource sub, bool dry_run, const std::string& manager,
                                       bool managed_fields_done);
  Result<nlohmann::json> delete_locked(const ResourceType& type, const std::string& ns, const std::string& name,
                                       const DeleteOptions& options);
  Status commit(const std::string& bucket, const std::string& key, const std::string& event, nlohmann::json object,
                ObjectPtr old);
  Status erase(const std::string& bucket, const std::string& key, ObjectPtr old);
  void notify(const HistoryEntry& entry);
  void on_crd_change(const nlohmann::json* crd, const nlohmann::json* old);
  void register_crd_types(const nlohmann::json& crd);
  [[nodiscard]] std::optional<ResourceType> find_type_locked(const std::string& group, const std::string& version,
                                                             const std::string& plural) const;
  [[nodiscard]] std::optional<ResourceType> find_kind_locked(const std::string& group, const std::string& kind) const;
  [[nodiscard]] ObjectPtr lookup_locked(const std::string& bucket, const std::string& key) const;
  Result<std::string> check_namespace_locked(const ResourceType& type, const std::string& ns, bool creating) const;
  std::string new_uid();
  std::string random_suffix();

  StoreOptions m_options;
  mutable std::mutex m_mutex;
  mutable std::condition_variable m_changed;
  std::vector<ResourceType> m_builtin;
  std::vector<ResourceType> m_custom;
  std::map<std::string, Bucket> m_buckets;
  std::unordered_map<std::string, std::pair<std::string, std::string>> m_by_uid;
  std::deque<HistoryEntry> m_history;
  std::uint64_t m_history_floor = 0;  ///< newest rv no longer in the history
  std::vector<std::weak_ptr<Watch>> m_watches;
  std::uint64_t m_rv = 0;
  /// Whether a change since the last garbage collection may have given it work: an object
  /// removed (an owner may be gone), or one written with ownerReferences or a
  /// deletionTimestamp. Without it every change (a GPUWorkload created, a status patched)
  /// cost a scan of the whole store under its lock.
  bool m_gc_pending = true;
  std::mt19937_64 m_rng;
  Journal* m_journal = nullptr;
};

/// The bucket key of an object: "<ns>/<name>" or "<name>".
std::string object_key(const ResourceType& type, const std::string& ns, const std::string& name);

}  // namespace gpuorch::sandbox
