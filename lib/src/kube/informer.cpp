#include <gpuorch/kube/informer.hpp>

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

namespace gpuorch::kube {
namespace {

using nlohmann::json;

std::string metadata_string(const json& object, const char* key) {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    if (auto value = md->find(key); value != md->end() && value->is_string()) {
      return value->get<std::string>();
    }
  }
  return {};
}

}  // namespace

Informer::Informer(std::shared_ptr<Client> client, Gvr gvr, std::string ns, InformerOptions options,
                   InformerHandlers handlers)
    : m_client(std::move(client)),
      m_gvr(std::move(gvr)),
      m_namespace(std::move(ns)),
      m_options(std::move(options)),
      m_handlers(std::move(handlers)) {}

std::string Informer::key_of(const json& object) {
  const auto ns = metadata_string(object, "namespace");
  const auto name = metadata_string(object, "name");
  return ns.empty() ? name : ns + "/" + name;
}

bool Informer::has_synced() const {
  std::lock_guard lock(m_mutex);
  return m_synced;
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(m_mutex);
  return m_synced_cv.wait_for(lock, timeout, [this] { return m_synced; });
}

Informer::Entry Informer::make_entry(const json& object) const {
  Entry e;
  e.resource_version = metadata_string(object, "resourceVersion");
  const auto keep = [&](const json& stored) {
    if (m_options.compact) {
      e.packed = json::to_msgpack(stored);
      e.packed.shrink_to_fit();
    } else {
      e.object = stored;
    }
  };
  if (m_options.metadata_only && object.is_object()) {
    json partial = json::object();
    for (const char* field : {"apiVersion", "kind"}) {
      if (auto it = object.find(field); it != object.end()) {
        partial[field] = *it;
      }
    }
    if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
      json& meta = partial["metadata"] = json::object();
      for (const auto& [name, value] : md->items()) {
        if (name != "managedFields") {
          meta[name] = value;
        }
      }
    }
    keep(partial);
  } else {
    keep(object);
  }
  return e;
}

json Informer::unpack(const Entry& entry) const {
  if (!m_options.compact) {
    return entry.object;
  }
  return json::from_msgpack(entry.packed);
}

std::optional<json> Informer::get(const std::string& key) const {
  std::lock_guard lock(m_mutex);
  if (auto it = m_store.find(key); it != m_store.end()) {
    return unpack(it->second);
  }
  return std::nullopt;
}

std::vector<json> Informer::list() const {
  std::lock_guard lock(m_mutex);
  std::vector<json> out;
  out.reserve(m_store.size());
  for (const auto& [key, entry] : m_store) {
    out.push_back(unpack(entry));
  }
  return out;
}

std::size_t Informer::size() const {
  std::lock_guard lock(m_mutex);
  return m_store.size();
}

std::string Informer::resource_version() const {
  std::lock_guard lock(m_mutex);
  return m_resource_version;
}

int Informer::list_count() const {
  std::lock_guard lock(m_mutex);
  return m_lists;
}

int Informer::watch_restarts() const {
  std::lock_guard lock(m_mutex);
  return m_watch_restarts;
}

InformerCounters Informer::counters() const {
  std::lock_guard lock(m_mutex);
  return m_counters;
}

void drop_managed_fields(json& object) {
  if (auto md = object.find("metadata"); md != object.end() && md->is_object()) {
    md->erase("managedFields");
  }
}

Status Informer::relist(std::stop_token stop) {
  ListOptions options;
  options.label_selector = m_options.label_selector;
  options.field_selector = m_options.field_selector;
  options.limit = m_options.page_size;
  // Page by page into cache entries, so that a large list never sits in
  // memory as one JSON document.
  std::map<std::string, Entry> fresh;
  // A store that keeps less than the whole object (metadata_only) cannot give
  // handlers the object afterwards: the added and changed ones wait here,
  // packed, until the handlers have seen them.
  std::map<std::string, std::vector<std::uint8_t>> full;
  std::string list_version;
  std::int64_t listed = 0;
  while (true) {
    if (stop.stop_requested()) {
      return Error(ErrorCode::cancelled, "listing cancelled");
    }
    GPUORCH_ASSIGN_OR_RETURN(auto page, m_client->list(m_gvr, m_namespace, options));
    if (auto items = page.find("items"); items != page.end() && items->is_array()) {
      for (auto& item : *items) {
        ++listed;
        auto key = key_of(item);
        if (m_options.transform) {
          m_options.transform(item);
        }
        auto entry = make_entry(item);
        if (m_options.metadata_only) {
          bool changed = true;
          {
            std::lock_guard lock(m_mutex);
            if (auto it = m_store.find(key); it != m_store.end()) {
              changed = it->second.resource_version != entry.resource_version;
            }
          }
          if (changed) {
            full.insert_or_assign(key, json::to_msgpack(item));
          }
        }
        fresh.insert_or_assign(std::move(key), std::move(entry));
      }
    }
    list_version = metadata_string(page, "resourceVersion");
    std::string next;
    if (auto md = page.find("metadata"); md != page.end() && md->is_object()) {
      next = md->value("continue", std::string());
    }
    if (next.empty()) {
      break;
    }
    options.continue_token = std::move(next);
  }
  std::vector<std::string> added;
  std::vector<std::string> updated;
  std::map<std::string, Entry> old_store;
  {
    std::lock_guard lock(m_mutex);
    for (const auto& [key, entry] : fresh) {
      auto it = m_store.find(key);
      if (it == m_store.end()) {
        added.push_back(key);
      } else if (it->second.resource_version != entry.resource_version) {
        updated.push_back(key);
      }
    }
    old_store = std::move(m_store);
    m_store = std::move(fresh);
    m_resource_version = list_version;
    m_synced = true;
    ++m_lists;
    m_counters.listed += listed;
  }
  m_synced_cv.notify_all();
  // Handlers run outside the lock; the objects come from the entries kept aside.
  const auto listed_object = [&](const std::string& key) -> std::optional<json> {
    if (!m_options.metadata_only) {
      return get(key);
    }
    if (auto it = full.find(key); it != full.end()) {
      return json::from_msgpack(it->second);
    }
    return std::nullopt;
  };
  for (const auto& [key, entry] : old_store) {
    bool still_there = false;
    {
      std::lock_guard lock(m_mutex);
      still_there = m_store.contains(key);
    }
    if (!still_there && m_handlers.on_delete) {
      m_handlers.on_delete(unpack(entry));
    }
  }
  for (const auto& key : added) {
    if (auto object = listed_object(key); object && m_handlers.on_add) {
      m_handlers.on_add(*object);
    }
  }
  for (const auto& key : updated) {
    auto object = listed_object(key);
    const auto old_it = old_store.find(key);
    if (!object || old_it == old_store.end()) {
      continue;
    }
    if (m_handlers.on_update_new_only) {
      m_handlers.on_update_new_only(*object);
    } else if (m_handlers.on_update) {
      m_handlers.on_update(unpack(old_it->second), *object);
    }
  }
  return {};
}

void Informer::apply_event(WatchEvent& event) {
  // The key and version as the server sent them, whatever the transform keeps.
  const auto key = key_of(event.object);
  const auto version = metadata_string(event.object, "resourceVersion");
  if (m_options.transform) {
    m_options.transform(event.object);
  }
  const bool deleted = event.type == "DELETED";
  // Only a handler that asks for the old object pays for decoding it.
  const bool wants_old = !deleted && m_handlers.on_update && !m_handlers.on_update_new_only;
  // Built before taking the lock, which get() and list() (the workers) share.
  Entry entry;
  if (!deleted) {
    entry = make_entry(event.object);
  }
  std::optional<json> old_object;
  bool existed = false;
  {
    std::lock_guard lock(m_mutex);
    ++m_counters.events;
    m_counters.event_bytes += static_cast<std::int64_t>(event.size);
    auto it = m_store.find(key);
    existed = it != m_store.end();
    if (existed && wants_old) {
      old_object = unpack(it->second);
    }
    if (deleted) {
      if (existed) {
        m_store.erase(it);
      }
    } else if (existed) {
      it->second = std::move(entry);
    } else {
      m_store.emplace(key, std::move(entry));
    }
    if (!version.empty()) {
      m_resource_version = version;
    }
  }
  if (deleted) {
    // The object's last state as the server sent it (client-go does the same).
    if (m_handlers.on_delete) {
      m_handlers.on_delete(event.object);
    }
  } else if (existed) {
    if (m_handlers.on_update_new_only) {
      m_handlers.on_update_new_only(event.object);
    } else if (m_handlers.on_update) {
      m_handlers.on_update(*old_object, event.object);
    }
  } else if (m_handlers.on_add) {
    m_handlers.on_add(event.object);
  }
}

Status Informer::run(std::stop_token stop) {
  bool need_list = true;
  int failures = 0;
  const auto backoff = [&]() {
    const double base = static_cast<double>(m_options.backoff_base.count());
    const double cap = static_cast<double>(m_options.backoff_cap.count());
    double delay = std::min(cap, base * std::pow(2.0, std::min(failures, 16)));
    delay *= 0.8 + 0.4 * m_client->random().uniform();
    ++failures;
    return std::chrono::milliseconds(static_cast<long long>(std::min(delay, cap)));
  };
  while (!stop.stop_requested()) {
    if (need_list) {
      auto listed = relist(stop);
      if (!listed) {
        if (listed.error().code() == ErrorCode::cancelled) {
          return {};
        }
        spdlog::warn("listing {} failed: {}", m_gvr.qualified_resource(), listed.error().message());
        m_client->clock().sleep_for(backoff(), stop);
        continue;
      }
      need_list = false;
      failures = 0;
    }
    WatchOptions options;
    options.resource_version = resource_version();
    options.label_selector = m_options.label_selector;
    options.field_selector = m_options.field_selector;
    options.timeout_seconds = m_options.watch_timeout_seconds;
    std::size_t events = 0;
    auto watched = watch(
        *m_client, m_gvr, m_namespace, options,
        [&](WatchEvent& event) {
          ++events;
          apply_event(event);
          return !stop.stop_requested();
        },
        stop);
    if (stop.stop_requested()) {
      break;
    }
    if (watched) {
      // Resume from the last version the stream showed, a bookmark's
      // included: after a quiet stream, the version of the last event may
      // be old enough for the server to answer 410 and force a re-list.
      if (!watched->empty()) {
        std::lock_guard lock(m_mutex);
        m_resource_version = *watched;
      }
      // The server ended the stream (timeoutSeconds): resume at once, unless it
      // ended with nothing at all, which would otherwise become a busy loop.
      if (events == 0) {
        m_client->clock().sleep_for(m_options.backoff_base, stop);
      }
      failures = 0;
      continue;
    }
    const auto& error = watched.error();
    {
      std::lock_guard lock(m_mutex);
      ++m_watch_restarts;
    }
    if (is_gone(error)) {
      spdlog::debug("watch of {} expired ({}); listing again", m_gvr.qualified_resource(), error.message());
      need_list = true;
      continue;
    }
    if (error.code() == ErrorCode::cancelled) {
      break;
    }
    spdlog::debug("watch of {} ended: {}; resuming", m_gvr.qualified_resource(), error.message());
    m_client->clock().sleep_for(backoff(), stop);
  }
  return {};
}

}  // namespace gpuorch::kube
