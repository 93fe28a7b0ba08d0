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

Informer::Entry Informer::make_entry(json object) const {
  Entry e;
  e.resource_version = metadata_string(object, "resourceVersion");
  if (m_options.compact) {
    e.packed = json::to_msgpack(object);
    e.packed.shrink_to_fit();
  } else {
    e.object = std::move(object);
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

Status Informer::relist(std::stop_token stop) {
  ListOptions options;
  options.label_selector = m_options.label_selector;
  options.field_selector = m_options.field_selector;
  options.limit = m_options.page_size;
  // Page by page into cache entries, so that a large list never sits in
  // memory as one JSON document.
  std::map<std::string, Entry> fresh;
  std::string list_version;
  while (true) {
    if (stop.stop_requested()) {
      return Error(ErrorCode::cancelled, "listing cancelled");
    }
    GPUORCH_ASSIGN_OR_RETURN(auto page, m_client->list(m_gvr, m_namespace, options));
    if (auto items = page.find("items"); items != page.end() && items->is_array()) {
      for (auto& item : *items) {
        auto key = key_of(item);
        fresh.insert_or_assign(std::move(key), make_entry(std::move(item)));
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
  }
  m_synced_cv.notify_all();
  // Handlers run outside the lock; the objects come from the entries kept aside.
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
    if (auto object = get(key); object && m_handlers.on_add) {
      m_handlers.on_add(*object);
    }
  }
  for (const auto& key : updated) {
    auto object = get(key);
    const auto old_it = old_store.find(key);
    if (object && old_it != old_store.end() && m_handlers.on_update) {
      m_handlers.on_update(unpack(old_it->second), *object);
    }
  }
  return {};
}

void Informer::apply_event(const WatchEvent& event) {
  const auto key = key_of(event.object);
  std::optional<json> old_object;
  {
    std::lock_guard lock(m_mutex);
    auto it = m_store.find(key);
    if (it != m_store.end()) {
      old_object = unpack(it->second);
    }
    if (event.type == "DELETED") {
      if (it != m_store.end()) {
        m_store.erase(it);
      }
    } else {
      m_store.insert_or_assign(key, make_entry(event.object));
    }
    if (auto rv = metadata_string(event.object, "resourceVersion"); !rv.empty()) {
      m_resource_version = rv;
    }
  }
  if (event.type == "DELETED") {
    if (m_handlers.on_delete) {
      m_handlers.on_delete(old_object ? *old_object : event.object);
    }
  } else if (old_object) {
    if (m_handlers.on_update) {
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
        [&](const WatchEvent& event) {
          ++events;
          apply_event(event);
          return !stop.stop_requested();
        },
        stop);
    if (stop.stop_requested()) {
      break;
    }
    if (watched) {
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
