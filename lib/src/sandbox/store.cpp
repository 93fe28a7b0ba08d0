#include <gpuorch/sandbox/store.hpp>

#include <gpuorch/model/time.hpp>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>
#include <string_view>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

const std::string k_crd_bucket = "apiextensions.k8s.io/customresourcedefinitions";
const std::string k_namespace_bucket = "/namespaces";

Error api_error(ErrorCode code, int http, const char* reason, std::string message) {
  return Error(code, std::move(message)).with_http(http, reason);
}

Error not_found(const ResourceType& type, const std::string& name) {
  return api_error(ErrorCode::not_found, 404, "NotFound", type.qualified_plural() + " \"" + name + "\" not found");
}

Error conflict(const ResourceType& type, const std::string& name, const std::string& why) {
  return api_error(ErrorCode::conflict, 409, "Conflict",
                   "Operation cannot be fulfilled on " + type.qualified_plural() + " \"" + name + "\": " + why);
}

Error bad_request(std::string message) {
  return api_error(ErrorCode::invalid, 400, "BadRequest", std::move(message));
}

std::string qualified_kind(const ResourceType& type) {
  return type.group.empty() ? type.kind : type.kind + "." + type.group;
}

Error invalid(const ResourceType& type, const std::string& name, std::vector<FieldCause> causes) {
  std::string text;
  for (std::size_t i = 0; i < causes.size(); ++i) {
    if (i > 0) {
      text += ", ";
    }
    text += causes[i].field + ": " + causes[i].message;
  }
  if (causes.size() > 1) {
    text = "[" + text + "]";
  }
  return api_error(ErrorCode::invalid, 422, "Invalid", qualified_kind(type) + " \"" + name + "\" is invalid: " + text)
      .with_causes(std::move(causes));
}

std::string meta_string(const json& object, const char* field) {
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) {
    return {};
  }
  const auto it = m->find(field);
  return it != m->end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> finalizers_of(const json& object) {
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object() || !m->contains("finalizers") || !(*m)["finalizers"].is_array()) {
    return {};
  }
  std::vector<std::string> out;
  for (const json& f : (*m)["finalizers"]) {
    if (f.is_string()) {
      out.push_back(f.get<std::string>());
    }
  }
  return out;
}

void set_finalizers(json& object, const std::vector<std::string>& finalizers) {
  if (finalizers.empty()) {
    object["metadata"].erase("finalizers");
  } else {
    object["metadata"]["finalizers"] = finalizers;
  }
}

bool deleting(const json& object) {
  return !meta_string(object, "deletionTimestamp").empty();
}

// Everything but metadata (and status when it has its own endpoint): the part
// whose change bumps metadata.generation.
json generation_relevant(const json& object, bool status_subresource) {
  json copy = object;
  copy.erase("metadata");
  if (status_subresource) {
    copy.erase("status");
  }
  return copy;
}

const json* lookup_managed_fields(const json& object) {
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) {
    return nullptr;
  }
  const auto f = m->find("managedFields");
  return f == m->end() ? nullptr : &*f;
}

json without_volatile(const json& object) {
  json copy = object;
  if (copy.contains("metadata") && copy["metadata"].is_object()) {
    copy["metadata"].erase("resourceVersion");
    copy["metadata"].erase("managedFields");
  }
  return copy;
}

// managedFields as they compare for a no-op: the entries without their time.
json managed_fields_without_time(const json& object) {
  json fields = object.contains("metadata") ? object["metadata"].value("managedFields", json::array()) : json::array();
  for (auto& entry : fields) {
    if (entry.is_object()) {
      entry.erase("time");
    }
  }
  return fields;
}

void set_crd_status(json& crd) {
  const json spec = crd.value("spec", json::object());
  json status = crd.value("status", json::object());
  if (!status.is_object()) {
    status = json::object();
  }
  status["acceptedNames"] = spec.value("names", json::object());
  std::string storage;
  for (const json& v : spec.value("versions", json::array())) {
    if (v.value("storage", false)) {
      storage = v.value("name", "");
    }
  }
  json stored = status.value("storedVersions", json::array());
  if (!storage.empty() && std::find(stored.begin(), stored.end(), storage) == stored.end()) {
    stored.push_back(storage);
  }
  status["storedVersions"] = stored;
  if (!status.contains("conditions")) {
    const std::string now = crd["metadata"].value("creationTimestamp", "");
    status["conditions"] = json::array({
        {{"type", "NamesAccepted"},
         {"status", "True"},
         {"reason", "NoConflicts"},
         {"message", "no conflicts found"},
         {"lastTransitionTime", now}},
        {{"type", "Established"},
         {"status", "True"},
         {"reason", "InitialNamesAccepted"},
         {"message", "the initial names have been accepted"},
         {"lastTransitionTime", now}},
    });
  }
  crd["status"] = status;
}

const char k_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64_encode(const std::string& in) {
  std::string out;
  unsigned val = 0;
  int bits = -6;
  for (const char ch : in) {
    val = (val << 8) + static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 0) {
      out.push_back(k_b64[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) {
    out.push_back(k_b64[((val << 8) >> (bits + 8)) & 0x3F]);
  }
  return out;
}

std::optional<std::string> b64_decode(const std::string& in) {
  std::string out;
  unsigned val = 0;
  int bits = -8;
  for (char c : in) {
    const char* p = std::strchr(k_b64, c);
    if (c == '=' || c == '\0') {
      break;
    }
    if (p == nullptr) {
      return std::nullopt;
    }
    val = (val << 6) + static_cast<unsigned>(p - k_b64);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((val >> bits) & 0xFF));
      bits -= 8;
    }
  }
  return out;
}

std::optional<std::uint64_t> parse_rv(const std::string& s) {
  if (s.empty() || s.size() > 19 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoull(s);
}

// What a watcher with a selector sees of a change (`change` is ADDED,
// MODIFIED or DELETED): an object that moves into its selection is ADDED for
// it, one that moves out is DELETED, as the API server's watch cache reports;
// "" when the watcher sees nothing.
std::string_view seen_as(std::string_view change, bool was_matching, bool now_matches) {
  if (change == "DELETED") {
    return was_matching ? "DELETED" : "";
  }
  if (change == "ADDED") {
    return now_matches ? "ADDED" : "";
  }
  if (now_matches) {
    return was_matching ? "MODIFIED" : "ADDED";
  }
  return was_matching ? "DELETED" : "";
}

}  // namespace

// ---- free functions -----------------------------------------------------------

std::string object_key(const ResourceType& type, const std::string& ns, const std::string& name) {
  return type.namespaced ? ns + "/" + name : name;
}

// ---- Watch --------------------------------------------------------------------

std::optional<WatchEvent> Watch::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(m_mutex);
  m_cv.wait_for(lock, timeout, [&] { return m_closed || !m_queue.empty(); });
  if (m_queue.empty()) {
    return std::nullopt;
  }
  WatchEvent e = std::move(m_queue.front());
  m_queue.pop_front();
  return e;
}

void Watch::close() {
  {
    std::lock_guard lock(m_mutex);
    m_closed = true;
  }
  m_cv.notify_all();
}

bool Watch::closed() const {
  std::lock_guard lock(m_mutex);
  return m_closed;
}

std::uint64_t Watch::progress() const {
  std::lock_guard lock(m_mutex);
  return m_queue.empty() ? m_progress : 0;
}

void Watch::push(WatchEvent event) {
  {
    std::lock_guard lock(m_mutex);
    if (m_closed) {
      return;
    }
    m_progress = std::max(m_progress, event.resource_version);
    m_queue.push_back(std::move(event));
  }
  m_cv.notify_all();
}

void Watch::note_progress(std::uint64_t rv) {
  std::lock_guard lock(m_mutex);
  m_progress = std::max(m_progress, rv);
}

bool Watch::matches(const json& object) const {
  if (!m_filter.namespace_name.empty() && meta_string(object, "namespace") != m_filter.namespace_name) {
    return false;
  }
  const json* labels = nullptr;
  const auto m = object.find("metadata");
  static const json k_empty = json::object();
  if (m != object.end() && m->contains("labels")) {
    labels = &(*m)["labels"];
  }
  return m_filter.labels.matches(labels != nullptr ? *labels : k_empty) && m_filter.fields.matches(object);
}

// ---- Store --------------------------------------------------------------------

Store::Store(StoreOptions options)
    : m_options(std::move(options)),
      m_builtin(builtin_types()),
      m_rng(m_options.seed != 0 ? m_options.seed : std::random_device{}()) {
  const auto ns_type = *find_type_locked("", "v1", "namespaces");
  for (const char* name : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    auto created = create_locked(ns_type, "", ns, WriteOptions{false, "kube-apiserver"}, nullptr);
    (void)created;
  }
}

Store::~Store() {
  close_watches();
}

std::string Store::now_rfc3339() const {
  return model::format_time(m_options.clock());
}

std::string Store::new_uid() {
  std::uniform_int_distribution<int> hex(0, 15);
  std::string s = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx";
  for (char& c : s) {
    if (c == 'x') {
      c = "0123456789abcdef"[hex(m_rng)];
    } else if (c == 'y') {
      c = "89ab"[hex(m_rng) % 4];
    }
  }
  return s;
}

std::string Store::random_suffix() {
  static const char k_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(k_alphabet) - 2);
  std::string s;
  for (int i = 0; i < 5; ++i) {
    s.push_back(k_alphabet[pick(m_rng)]);
  }
  return s;
}

std::vector<ResourceType> Store::types() const {
  std::lock_guard lock(m_mutex);
  std::vector<ResourceType> out = m_builtin;
  out.insert(out.end(), m_custom.begin(), m_custom.end());
  return out;
}

std::optional<ResourceType> Store::find_type_locked(const std::string& group, const std::string& version,
                                                    const std::string& plural) const {
  for (const auto* list : {&m_builtin, &m_custom}) {
    for (const ResourceType& t : *list) {
      if (t.group == group && t.version == version && t.plural == plural) {
        return t;
      }
    }
  }
  return std::nullopt;
}

std::optional<ResourceType> Store::find_kind_locked(const std::string& group, const std::string& kind) const {
  for (const auto* list : {&m_builtin, &m_custom}) {
    for (const ResourceType& t : *list) {
      if (t.group == group && t.kind == kind) {
        return t;
      }
    }
  }
  return std::nullopt;
}

std::optional<ResourceType> Store::find_type(const std::string& group, const std::string& version,
                                             const std::string& plural) const {
  std::lock_guard lock(m_mutex);
  return find_type_locked(group, version, plural);
}

std::optional<ResourceType> Store::find_kind(const std::string& group, const std::string& kind) const {
  std::lock_guard lock(m_mutex);
  return find_kind_locked(group, kind);
}

ObjectPtr Store::lookup_locked(const std::string& bucket, const std::string& key) const {
  const auto b = m_buckets.find(bucket);
  if (b == m_buckets.end()) {
    return nullptr;
  }
  const auto it = b->second.find(key);
  return it == b->second.end() ? nullptr : it->second;
}

Result<std::string> Store::check_namespace_locked(const ResourceType& type, const std::string& ns,
                                                  bool creating) const {
  if (!type.namespaced) {
    return std::string();
  }
  if (ns.empty()) {
    return bad_request("the namespace of the object must be set for " + type.qualified_plural());
  }
  const ObjectPtr obj = lookup_locked(k_namespace_bucket, ns);
  if (obj == nullptr) {
    return api_error(ErrorCode::not_found, 404, "NotFound", "namespaces \"" + ns + "\" not found");
  }
  if (creating && deleting(*obj)) {
    return api_error(ErrorCode::auth, 403, "Forbidden",
                     type.qualified_plural() + " is forbidden: unable to create new content in namespace " + ns +
                         " because it is being terminated");
  }
  return ns;
}

std::uint64_t Store::resource_version() const {
  std::lock_guard lock(m_mutex);
  return m_rv;
}

std::uint64_t Store::wait_for_change(std::uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(m_mutex);
  m_changed.wait_for(lock, timeout, [&] { return m_rv != seen; });
  return m_rv;
}

void Store::set_journal(Journal* journal) {
  std::lock_guard lock(m_mutex);
  m_journal = journal;
}

Status Store::commit(const std::string& bucket, const std::string& key, const std::string& event, json object,
                     ObjectPtr old) {
  const std::uint64_t rv = m_rv + 1;
  object["metadata"]["resourceVersion"] = std::to_string(rv);
  if (m_journal != nullptr) {
    Status recorded = m_journal->record(rv, bucket, key, &object);
    if (!recorded.ok()) {
      return api_error(ErrorCode::io, 500, "InternalError",
                       "the change could not be persisted: " + recorded.error().message());
    }
  }
  m_rv = rv;
  auto ptr = std::make_shared<const json>(std::move(object));
  // The collector has work only when an object is being deleted or its owners
  // changed (a new dependent, or references added or removed): not on every
  // status write of a pod or Job, which leaves its owners as they were.
  if (const auto m = ptr->find("metadata"); m != ptr->end() && m->is_object()) {
    const auto refs = m->find("ownerReferences");
    if (m->contains("deletionTimestamp")) {
      m_gc_pending = true;
    } else if (refs != m->end()) {
      const json* old_meta = nullptr;
      if (old != nullptr) {
        if (const auto om = old->find("metadata"); om != old->end() && om->is_object()) {
          old_meta = &*om;
        }
      }
      const auto old_refs = old_meta != nullptr ? old_meta->find("ownerReferences") : json::const_iterator();
      if (old_meta == nullptr || old_refs == old_meta->end() || *old_refs != *refs) {
        m_gc_pending = true;
      }
    }
  }
  m_buckets[bucket][key] = ptr;
  const std::string uid = meta_string(*ptr, "uid");
  if (!uid.empty()) {
    m_by_uid[uid] = {bucket, key};
  }
  HistoryEntry entry{rv, bucket, event, ptr, old};
  notify(entry);
  m_history.push_back(std::move(entry));
  while (m_history.size() > m_options.history) {
    m_history_floor = m_history.front().rv;
    m_history.pop_front();
  }
  if (bucket == k_crd_bucket) {
    on_crd_change(ptr.get(), old.get());
  }
  m_changed.notify_all();
  return {};
}

Status Store::erase(const std::string& bucket, const std::string& key, ObjectPtr old) {
  const std::uint64_t rv = m_rv + 1;
  if (m_journal != nullptr) {
    Status recorded = m_journal->record(rv, bucket, key, nullptr);
    if (!recorded.ok()) {
      return api_error(ErrorCode::io, 500, "InternalError",
                       "the change could not be persisted: " + recorded.error().message());
    }
  }
  m_rv = rv;
  json last = *old;
  last["metadata"]["resourceVersion"] = std::to_string(rv);
  auto ptr = std::make_shared<const json>(std::move(last));
  m_buckets[bucket].erase(key);
  m_by_uid.erase(meta_string(*old, "uid"));
  m_gc_pending = true;
  HistoryEntry entry{rv, bucket, "DELETED", ptr, old};
  notify(entry);
  m_history.push_back(std::move(entry));
  while (m_history.size() > m_options.history) {
    m_history_floor = m_history.front().rv;
    m_history.pop_front();
  }
  if (bucket == k_crd_bucket) {
    on_crd_change(nullptr, old.get());
  }
  m_changed.notify_all();
  return {};
}

void Store::notify(const HistoryEntry& entry) {
  std::erase_if(m_watches, [](const std::weak_ptr<Watch>& w) {
    auto locked = w.lock();
    return !locked || locked->closed();
  });
  for (const auto& weak : m_watches) {
    auto w = weak.lock();
    if (!w) {
      continue;
    }
    if (w->m_filter.bucket != entry.bucket) {
      w->note_progress(entry.rv);
      continue;
    }
    const std::string type(
        seen_as(entry.type, entry.old != nullptr && w->matches(*entry.old), w->matches(*entry.object)));
    if (type.empty()) {
      w->note_progress(entry.rv);
      continue;
    }
    {
      std::lock_guard lock(w->m_mutex);
      if (w->m_queue.size() >= m_options.max_watch_backlog) {
        w->m_closed = true;
      }
    }
    w->push(WatchEvent{type, entry.object, entry.rv});
  }
}

void Store::close_watches() {
  std::lock_guard lock(m_mutex);
  for (const auto& weak : m_watches) {
    if (auto w = weak.lock()) {
      w->close();
    }
  }
  m_watches.clear();
}

void Store::register_crd_types(const json& crd) {
  const std::string name = meta_string(crd, "name");
  std::erase_if(m_custom, [&](const ResourceType& t) { return t.crd_name == name; });
  auto types = types_from_crd(crd);
  if (!types.ok()) {
    return;
  }
  for (ResourceType& t : *types) {
    m_custom.push_back(std::move(t));
  }
}

void Store::on_crd_change(const json* crd, const json* old) {
  if (crd != nullptr) {
    register_crd_types(*crd);
    return;
  }
  if (old == nullptr) {
    return;
  }
  // The CRD is gone: so are its types and every object of them.
  m_gc_pending = true;
  const std::string name = meta_string(*old, "name");
  std::string bucket;
  for (const ResourceType& t : m_custom) {
    if (t.crd_name == name) {
      bucket = t.bucket();
    }
  }
  std::erase_if(m_custom, [&](const ResourceType& t) { return t.crd_name == name; });
  if (bucket.empty()) {
    const json spec = old->value("spec", json::object());
    bucket = spec.value("group", "") + "/" + spec.value("names", json::object()).value("plural", "");
  }
  const auto it = m_buckets.find(bucket);
  if (it == m_buckets.end()) {
    return;
  }
  std::vector<std::pair<std::string, ObjectPtr>> doomed(it->second.begin(), it->second.end());
  for (auto& [key, obj] : doomed) {
    (void)erase(bucket, key, obj);
  }
}

Result<json> Store::create(const ResourceType& type, const std::string& ns, json object, const WriteOptions& options) {
  std::lock_guard lock(m_mutex);
  return create_locked(type, ns, std::move(object), options, nullptr);
}

Result<json> Store::create_locked(const ResourceType& type, const std::string& ns, json object,
                                  const WriteOptions& options, const json* applied_fields) {
  if (!object.is_object()) {
    return bad_request("the request body must be a JSON object");
  }
  if (object.contains("kind") && object["kind"] != type.kind) {
    return bad_request("the object provided is unrecognized (must be of type " + type.kind + "): kind " +
                       object["kind"].dump());
  }
  if (object.contains("apiVersion") && object["apiVersion"] != type.api_version()) {
    return bad_request("the API version in the data (" +
                       (object["apiVersion"].is_string() ? object["apiVersion"].get<std::string>() : std::string()) +
                       ") does not match the expected API version (" + type.api_version() + ")");
  }
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = json::object();
  }
  json& meta = object["metadata"];
  if (type.namespaced) {
    const std::string body_ns = meta.value("namespace", "");
    if (!body_ns.empty() && !ns.empty() && body_ns != ns) {
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
    }
    const std::string effective = ns.empty() ? body_ns : ns;
    GPUORCH_ASSIGN_OR_RETURN(const std::string checked, check_namespace_locked(type, effective, true));
    meta["namespace"] = checked;
  } else {
    meta.erase("namespace");
  }
  const std::string bucket = type.bucket();
  std::string name = meta.value("name", "");
  if (name.empty()) {
    const std::string prefix = meta.value("generateName", "");
    if (!prefix.empty()) {
      for (int attempt = 0; attempt < 8; ++attempt) {
        name = prefix + random_suffix();
        if (lookup_locked(bucket, object_key(type, meta.value("namespace", ""), name)) == nullptr) {
          break;
        }
      }
      meta["name"] = name;
    }
  }
  if (auto causes = validate_object_name(type, name); !causes.empty()) {
    return invalid(type, name, std::move(causes));
  }
  const std::string key = object_key(type, meta.value("namespace", ""), name);
  if (lookup_locked(bucket, key) != nullptr) {
    return api_error(ErrorCode::conflict, 409, "AlreadyExists",
                     type.qualified_plural() + " \"" + name + "\" already exists");
  }
  for (const char* field :
       {"resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"}) {
    meta.erase(field);
  }
  meta["uid"] = new_uid();
  meta["creationTimestamp"] = now_rfc3339();
  meta["generation"] = 1;
  if (type.reset_status_on_create) {
    object.erase("status");
  }
  object["apiVersion"] = type.api_version();
  object["kind"] = type.kind;
  if (type.admit) {
    if (auto causes = type.admit(object); !causes.empty()) {
      return invalid(type, name, std::move(causes));
    }
  }
  if (type.plural == "pods" && type.group.empty()) {
    object["status"] = {{"phase", "Pending"}, {"qosClass", "BestEffort"}};
  }
  if (bucket == k_crd_bucket) {
    set_crd_status(object);
  }
  if (applied_fields == nullptr) {
    // Admission may have rebuilt the object: `meta` is not valid any more.
    object["metadata"].erase("managedFields");
    managed_fields::record_update(
        nullptr, object, {options.field_manager, type.api_version(), now_rfc3339(), std::string(), !type.custom});
  }
  if (options.dry_run) {
    return object;
  }
  GPUORCH_TRY(commit(bucket, key, "ADDED", object, nullptr));
  return *m_buckets[bucket][key];
}

Result<json> Store::get(const ResourceType& type, const std::string& ns, const std::string& name) const {
  std::lock_guard lock(m_mutex);
  const ObjectPtr obj = lookup_locked(type.bucket(), object_key(type, ns, name));
  if (obj == nullptr) {
    return not_found(type, name);
  }
  return *obj;
}

Result<json> Store::list(const ResourceType& type, const std::string& ns, const ListOptions& options) const {
  GPUORCH_ASSIGN_OR_RETURN(const LabelSelector labels, LabelSelector::parse(options.label_selector));
  GPUORCH_ASSIGN_OR_RETURN(const FieldSelector fields,
                           FieldSelector::parse(options.field_selector, type.field_labels()));
  if (options.limit < 0) {
    return bad_request("limit must be non-negative");
  }
  std::lock_guard lock(m_mutex);
  std::string start_after;
  std::uint64_t list_rv = m_rv;
  if (!options.continue_token.empty()) {
    const auto decoded = b64_decode(options.continue_token);
    json token;
    if (decoded) {
      token = json::parse(*decoded, nullptr, false);
    }
    if (!token.is_object() || !token.contains("start") || !token.contains("rv")) {
      return bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
    }
    start_after = token.value("start", "");
    list_rv = token.value("rv", m_rv);
    if (list_rv < m_history_floor) {
      return api_error(ErrorCode::api, 410, "Expired",
                       "The provided continue parameter is too old to display a consistent list result. You can "
                       "start a new list without the continue parameter, or use the continue token in this response "
                       "to retrieve the remainder of the results. Continuing with the provided token results in an "
                       "inconsistent list - objects that were created, modified, or deleted between the time the "
                       "first chunk was returned and now may show up in the list.");
    }
  }
  json items = json::array();
  std::string last_key;
  std::int64_t remaining = 0;
  bool more = false;
  const auto bucket = m_buckets.find(type.bucket());
  if (bucket != m_buckets.end()) {
    const std::string prefix = type.namespaced && !ns.empty() ? ns + "/" : std::string();
    auto it = start_after.empty() ? bucket->second.lower_bound(prefix) : bucket->second.upper_bound(start_after);
    for (; it != bucket->second.end(); ++it) {
      if (!prefix.empty() && !it->first.starts_with(prefix)) {
        break;
      }
      const json& obj = *it->second;
      const auto m = obj.find("metadata");
      static const json k_empty = json::object();
      const json& obj_labels = m != obj.end() && m->contains("labels") ? (*m)["labels"] : k_empty;
      if (!labels.matches(obj_labels) || !fields.matches(obj)) {
        continue;
      }
      if (options.limit > 0 && static_cast<std::int64_t>(items.size()) >= options.limit) {
        more = true;
        ++remaining;
        continue;
      }
      items.push_back(obj);
      last_key = it->first;
    }
  }
  json list = {{"apiVersion", type.api_version()},
               {"kind", type.list_kind()},
               {"metadata", {{"resourceVersion", std::to_string(list_rv)}}},
               {"items", std::move(items)}};
  if (more) {
    list["metadata"]["continue"] = b64_encode(json{{"rv", list_rv}, {"start", last_key}}.dump());
    if (labels.empty() && fields.empty()) {
      list["metadata"]["remainingItemCount"] = remaining;
    }
  }
  return list;
}

Result<json> Store::update(const ResourceType& type, const std::string& ns, const std::string& name, json object,
                           Subresource sub, const WriteOptions& options) {
  std::lock_guard lock(m_mutex);
  return update_locked(type, ns, name, std::move(object), sub, options.dry_run, options.field_manager, false);
}

Result<json> Store::update_locked(const ResourceType& type, const std::string& ns, const std::string& name, json object,
                                  Subresource sub, bool dry_run, const std::string& manager, bool managed_fields_done) {
  const std::string bucket = type.bucket();
  const std::string key = object_key(type, ns, name);
  const ObjectPtr old = lookup_locked(bucket, key);
  if (old == nullptr) {
    return not_found(type, name);
  }
  if (!object.is_object()) {
    return bad_request("the request body must be a JSON object");
  }
  if (object.contains("kind") && object["kind"] != type.kind) {
    return bad_request("the object provided is unrecognized (must be of type " + type.kind + "): kind " +
                       object["kind"].dump());
  }
  if (!object.contains("metadata") || !object["metadata"].is_object()) {
    object["metadata"] = json::object();
  }
  const json& body_meta = object["metadata"];
  const std::string body_name = body_meta.value("name", "");
  if (!body_name.empty() && body_name != name) {
    return bad_request("the name of the object (" + body_name + ") does not match the name on the URL (" + name + ")");
  }
  if (type.namespaced) {
    const std::string body_ns = body_meta.value("namespace", "");
    if (!body_ns.empty() && body_ns != ns) {
      return bad_request("the namespace of the provided object does not match the namespace sent on the request");
    }
  }
  const std::string rv = body_meta.contains("resourceVersion") && body_meta["resourceVersion"].is_string()
                             ? body_meta["resourceVersion"].get<std::string>()
                             : std::string();
  if (!rv.empty()) {
    if (!parse_rv(rv)) {
      return bad_request("invalid resource version: \"" + rv + "\"");
    }
    if (rv != meta_string(*old, "resourceVersion")) {
      return conflict(type, name,
                      "the object has been modified; please apply your changes to the latest version and try again");
    }
  } else if (!type.allow_unconditional_update && sub == Subresource::none) {
    return invalid(type, name,
                   {FieldCause{"metadata.resourceVersion",
                               "Invalid value: 0x0: must be specified for an update",
                               {},
                               "FieldValueInvalid"}});
  }

  json updated;
  if (sub == Subresource::status) {
    updated = *old;
    if (object.contains("status")) {
      updated["status"] = object["status"];
    } else {
      updated.erase("status");
    }
    if (body_meta.contains("managedFields")) {
      updated["metadata"]["managedFields"] = body_meta["managedFields"];
    }
  } else {
    updated = std::move(object);
    json& meta = updated["metadata"];
    const json& old_meta = (*old)["metadata"];
    for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                              "generation", "name", "namespace"}) {
      if (old_meta.contains(field)) {
        meta[field] = old_meta[field];
      } else {
        meta.erase(field);
      }
    }
    meta.erase("selfLink");
    if (!meta.contains("managedFields") && old_meta.contains("managedFields")) {
      meta["managedFields"] = old_meta["managedFields"];
    }
    if (type.status_subresource) {
      if (old->contains("status")) {
        updated["status"] = (*old)["status"];
      } else {
        updated.erase("status");
      }
    }
    updated["apiVersion"] = type.api_version();
    updated["kind"] = type.kind;
  }
  if (deleting(*old)) {
    const auto before = finalizers_of(*old);
    std::vector<std::string> added;
    for (const auto& f : finalizers_of(updated)) {
      if (std::find(before.begin(), before.end(), f) == before.end()) {
        added.push_back(f);
      }
    }
    if (!added.empty()) {
      std::string list;
      for (const auto& f : added) {
        list += (list.empty() ? "\"" : ", \"") + f + "\"";
      }
      return invalid(type, name,
                     {FieldCause{"metadata.finalizers",
                                 "Forbidden: no new finalizers can be added if the object is being deleted, found new "
                                 "finalizers []string{" +
                                     list + "}",
                                 {},
                                 "FieldValueForbidden"}});
    }
  }
  if (type.admit) {
    if (auto causes = type.admit(updated); !causes.empty()) {
      return invalid(type, name, std::move(causes));
    }
  }
  if (bucket == k_crd_bucket && sub == Subresource::none) {
    set_crd_status(updated);
  }
  if (sub == Subresource::none &&
      generation_relevant(updated, type.status_subresource) != generation_relevant(*old, type.status_subresource)) {
    updated["metadata"]["generation"] = (*old)["metadata"].value("generation", 0) + 1;
  }
  // managedFields a client writes itself (kubectl's migration from
  // client-side to server-side apply does) are taken as they are; an empty
  // list resets them and the writer owns everything.
  const json* old_fields = lookup_managed_fields(*old);
  const json* new_fields = lookup_managed_fields(updated);
  // Server-side apply computed the fields itself (managed_fields_done): they are not the client's.
  const bool client_fields =
      !managed_fields_done && new_fields != nullptr && (old_fields == nullptr || *old_fields != *new_fields);
  if (client_fields && new_fields->is_array() && new_fields->empty()) {
    updated["metadata"].erase("managedFields");
    managed_fields::record_update(nullptr, updated,
                                  {manager, type.api_version(), now_rfc3339(),
                                   sub == Subresource::status ? std::string("status") : std::string(), !type.custom});
  } else if (!managed_fields_done && !client_fields) {
    managed_fields::record_update(old.get(), updated,
                                  {manager, type.api_version(), now_rfc3339(),
                                   sub == Subresource::status ? std::string("status") : std::string(), !type.custom});
  }
  updated["metadata"]["resourceVersion"] = meta_string(*old, "resourceVersion");
  // A no-op write does not produce a new version; for server-side apply that
  // also means the same owners (only the apply's timestamp would differ).
  if (!client_fields && without_volatile(updated) == without_volatile(*old) &&
      (!managed_fields_done || managed_fields_without_time(updated) == managed_fields_without_time(*old))) {
    return *old;
  }
  if (dry_run) {
    return updated;
  }
  if (deleting(updated) && finalizers_of(updated).empty() && type.plural != "namespaces") {
    GPUORCH_TRY(erase(bucket, key, old));
    return updated;
  }
  GPUORCH_TRY(commit(bucket, key, "MODIFIED", std::move(updated), old));
  return *m_buckets[bucket][key];
}

Result<json> Store::patch(const ResourceType& type, const std::string& ns, const std::string& name,
                          PatchType patch_type, const json& patch, Subresource sub, const PatchOptions& options) {
  std::lock_guard lock(m_mutex);
  const std::string key = object_key(type, ns, name);
  const ObjectPtr old = lookup_locked(type.bucket(), key);
  const std::string sub_name = sub == Subresource::status ? "status" : "";
  if (patch_type == PatchType::apply) {
    if (options.field_manager.empty()) {
      return bad_request("PATCH requests with apply patch type must specify a fieldManager");
    }
    if (!patch.is_object()) {
      return bad_request("the apply configuration must be an object");
    }
    const std::string applied_name = patch.value("metadata", json::object()).value("name", "");
    if (applied_name != name) {
      return bad_request("the name of the object (" + applied_name + ") does not match the name on the URL (" + name +
                         ")");
    }
    if (!patch.contains("apiVersion") || !patch.contains("kind")) {
      return bad_request("apply configurations must set apiVersion and kind");
    }
    const managed_fields::Writer writer{options.field_manager, type.api_version(), now_rfc3339(), sub_name,
                                        !type.custom};
    if (old == nullptr) {
      if (sub == Subresource::status) {
        return not_found(type, name);
      }
      GPUORCH_ASSIGN_OR_RETURN(json created, managed_fields::apply(nullptr, patch, writer, options.force));
      const json fields = created["metadata"]["managedFields"];
      return create_locked(type, ns, std::move(created), WriteOptions{options.dry_run, options.field_manager}, &fields);
    }
    GPUORCH_ASSIGN_OR_RETURN(json merged, managed_fields::apply(old.get(), patch, writer, options.force));
    const std::string precondition = patch.value("metadata", json::object()).value("resourceVersion", "");
    merged["metadata"]["resourceVersion"] = precondition.empty() ? meta_string(*old, "resourceVersion") : precondition;
    return update_locked(type, ns, name, std::move(merged), sub, options.dry_run, options.field_manager, true);
  }
  if (old == nullptr) {
    return not_found(type, name);
  }
  json patched;
  switch (patch_type) {
    case PatchType::json_patch: {
      GPUORCH_ASSIGN_OR_RETURN(patched, apply_json_patch(*old, patch));
      break;
    }
    case PatchType::merge_patch: {
      GPUORCH_ASSIGN_OR_RETURN(patched, apply_merge_patch(*old, patch));
      break;
    }
    case PatchType::strategic_merge_patch: {
      if (type.custom) {
        return api_error(ErrorCode::invalid, 415, "UnsupportedMediaType",
                         "the body of the request was in an unknown format - accepted media types include: "
                         "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
      }
      GPUORCH_ASSIGN_OR_RETURN(patched, apply_strategic_merge_patch(*old, patch));
      break;
    }
    case PatchType::apply:
      break;
  }
  if (!patched.is_object()) {
    return bad_request("the patch produced a value that is not an object");
  }
  // A resourceVersion in the patch is a precondition; otherwise the patch
  // applies to the current version.
  const json* patch_meta = patch.is_object() && patch.contains("metadata") ? &patch["metadata"] : nullptr;
  const bool has_precondition =
      patch_meta != nullptr && patch_meta->is_object() && patch_meta->contains("resourceVersion");
  if (!has_precondition && patch_type != PatchType::json_patch) {
    patched["metadata"]["resourceVersion"] = meta_string(*old, "resourceVersion");
  }
  if (!patched["metadata"].contains("resourceVersion")) {
    patched["metadata"]["resourceVersion"] = meta_string(*old, "resourceVersion");
  }
  return update_locked(type, ns, name, std::move(patched), sub, options.dry_run, options.field_manager, false);
}

Result<json> Store::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                           const DeleteOptions& options) {
  std::lock_guard lock(m_mutex);
  return delete_locked(type, ns, name, options);
}

Result<json> Store::delete_locked(const ResourceType& type, const std::string& ns, const std::string& name,
                                  const DeleteOptions& options) {
  const std::string bucket = type.bucket();
  const std::string key = object_key(type, ns, name);
  const ObjectPtr old = lookup_locked(bucket, key);
  if (old == nullptr) {
    return not_found(type, name);
  }
  if (!options.precondition_uid.empty() && options.precondition_uid != meta_string(*old, "uid")) {
    return conflict(type, name,
                    "Precondition failed: UID in precondition: " + options.precondition_uid +
                        ", UID in object meta: " + meta_string(*old, "uid"));
  }
  if (!options.precondition_resource_version.empty() &&
      options.precondition_resource_version != meta_string(*old, "resourceVersion")) {
    return conflict(type, name,
                    "Precondition failed: ResourceVersion in precondition: " + options.precondition_resource_version +
                        ", ResourceVersion in object meta: " + meta_string(*old, "resourceVersion"));
  }
  const bool is_namespace = bucket == k_namespace_bucket;
  if (is_namespace && (name == "default" || name == "kube-system" || name == "kube-public")) {
    return api_error(ErrorCode::auth, 403, "Forbidden",
                     "namespaces \"" + name + "\" is forbidden: this namespace may not be deleted");
  }
  const std::string& policy = options.propagation_policy;
  if (!policy.empty() && policy != "Background" && policy != "Foreground" && policy != "Orphan") {
    return invalid(type, name,
                   {FieldCause{"propagationPolicy",
                               "Unsupported value: \"" + policy +
                                   "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
                               {},
                               "FieldValueNotSupported"}});
  }
  json obj = *old;
  auto finalizers = finalizers_of(obj);
  const bool already = deleting(obj);
  if (!already) {
    const char* extra = policy == "Orphan" ? "orphan" : policy == "Foreground" ? "foregroundDeletion" : nullptr;
    if (extra != nullptr && std::find(finalizers.begin(), finalizers.end(), extra) == finalizers.end()) {
      finalizers.emplace_back(extra);
    }
  }
  if (!finalizers.empty() || is_namespace) {
    if (already) {
      return obj;
    }
    set_finalizers(obj, finalizers);
    obj["metadata"]["deletionTimestamp"] = now_rfc3339();
    obj["metadata"]["deletionGracePeriodSeconds"] = 0;
    if (obj["metadata"].value("generation", 0) > 0) {
      obj["metadata"]["generation"] = obj["metadata"].value("generation", 0) + 1;
    }
    if (is_namespace) {
      obj["status"]["phase"] = "Terminating";
    }
    if (options.dry_run) {
      return obj;
    }
    GPUORCH_TRY(commit(bucket, key, "MODIFIED", std::move(obj), old));
    return *m_buckets[bucket][key];
  }
  if (options.dry_run) {
    return obj;
  }
  GPUORCH_TRY(erase(bucket, key, old));
  return obj;
}

Result<std::shared_ptr<Watch>> Store::watch(const ResourceType& type, const std::string& ns,
                                            const ListOptions& options) {
  GPUORCH_ASSIGN_OR_RETURN(LabelSelector labels, LabelSelector::parse(options.label_selector));
  GPUORCH_ASSIGN_OR_RETURN(FieldSelector fields, FieldSelector::parse(options.field_selector, type.field_labels()));
  auto w = std::make_shared<Watch>();
  w->m_filter =
      Watch::Filter{type.bucket(), type.namespaced ? ns : std::string(), std::move(labels), std::move(fields)};
  std::lock_guard lock(m_mutex);
  const std::string& rv_text = options.resource_version;
  if (rv_text.empty() || rv_text == "0") {
    const auto bucket = m_buckets.find(type.bucket());
    if (bucket != m_buckets.end()) {
      for (const auto& [key, obj] : bucket->second) {
        if (w->matches(*obj)) {
          w->push(WatchEvent{"ADDED", obj, m_rv});
        }
      }
    }
    w->note_progress(m_rv);
  } else {
    const auto from = parse_rv(rv_text);
    if (!from) {
      return bad_request("invalid resource version: \"" + rv_text + "\"");
    }
    if (*from < m_history_floor) {
      return api_error(ErrorCode::api, 410, "Expired",
                       "too old resource version: " + rv_text + " (" + std::to_string(m_history_floor + 1) + ")");
    }
    for (const HistoryEntry& e : m_history) {
      if (e.rv <= *from || e.bucket != w->m_filter.bucket) {
        continue;
      }
      const std::string_view t = seen_as(e.type, e.old != nullptr && w->matches(*e.old), w->matches(*e.object));
      if (!t.empty()) {
        w->push(WatchEvent{std::string(t), e.object, e.rv});
      }
    }
    w->note_progress(std::max(m_rv, *from));
  }
  m_watches.push_back(w);
  return w;
}

void Store::for_each(const ResourceType& type, const std::function<void(const json&)>& fn) const {
  std::lock_guard lock(m_mutex);
  const auto bucket = m_buckets.find(type.bucket());
  if (bucket == m_buckets.end()) {
    return;
  }
  for (const auto& [key, obj] : bucket->second) {
    fn(*obj);
  }
}

void Store::for_each_object(const ResourceType& type, const std::function<void(const ObjectPtr&)>& fn) const {
  std::lock_guard lock(m_mutex);
  const auto bucket = m_buckets.find(type.bucket());
  if (bucket == m_buckets.end()) {
    return;
  }
  for (const auto& [key, obj] : bucket->second) {
    fn(obj);
  }
}

Result<json> Store::mutate(const ResourceType& type, const std::string& ns, const std::string& name, Subresource sub,
                           const std::string& manager, const std::function<bool(json&)>& fn) {
  std::lock_guard lock(m_mutex);
  const ObjectPtr old = lookup_locked(type.bucket(), object_key(type, ns, name));
  if (old == nullptr) {
    return not_found(type, name);
  }
  json obj = *old;
  if (!fn(obj)) {
    return obj;
  }
  return update_locked(type, ns, name, std::move(obj), sub, false, manager, false);
}

std::size_t Store::collect_garbage() {
  std::lock_guard lock(m_mutex);
  if (!m_gc_pending) {
    return 0;
  }
  // Its own writes below set it again: one more pass confirms nothing is left to do.
  m_gc_pending = false;
  std::size_t changes = 0;
  std::map<std::string, ResourceType> by_bucket;
  for (const auto* list : {&m_builtin, &m_custom}) {
    for (const ResourceType& t : *list) {
      by_bucket.emplace(t.bucket(), t);
    }
  }
  // Dependents by owner uid, and whether each owner still exists.
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::string>>> dependents;
  std::vector<std::pair<std::string, std::string>> orphans_to_delete;
  for (const auto& [bucket, objects] : m_buckets) {
    for (const auto& [key, obj] : objects) {
      const json* refs = nullptr;
      if (obj->contains("metadata") && (*obj)["metadata"].contains("ownerReferences")) {
        refs = &(*obj)["metadata"]["ownerReferences"];
      }
      if (refs == nullptr || !refs->is_array() || refs->empty()) {
        continue;
      }
      bool any_owner = false;
      for (const json& ref : *refs) {
        const std::string uid = ref.value("uid", "");
        dependents[uid].emplace_back(bucket, key);
        const auto owner = m_by_uid.find(uid);
        if (owner != m_by_uid.end()) {
          any_owner = true;
        }
      }
      if (!any_owner && !deleting(*obj)) {
        orphans_to_delete.emplace_back(bucket, key);
      }
    }
  }
  const auto delete_at = [&](const std::string& bucket, const std::string& key, const std::string& policy) {
    const auto t = by_bucket.find(bucket);
    const ObjectPtr obj = lookup_locked(bucket, key);
    if (t == by_bucket.end() || obj == nullptr || deleting(*obj)) {
      return;
    }
    DeleteOptions options;
    options.propagation_policy = policy;
    if (delete_locked(t->second, meta_string(*obj, "namespace"), meta_string(*obj, "name"), options).ok()) {
      ++changes;
    }
  };
  for (const auto& [bucket, key] : orphans_to_delete) {
    delete_at(bucket, key, "Background");
  }
  // Owners being deleted in the foreground or orphaning their dependents.
  std::vector<std::pair<std::string, std::string>> owners;
  for (const auto& [bucket, objects] : m_buckets) {
    for (const auto& [key, obj] : objects) {
      if (deleting(*obj)) {
        owners.emplace_back(bucket, key);
      }
    }
  }
  for (const auto& [bucket, key] : owners) {
    const ObjectPtr owner = lookup_locked(bucket, key);
    const auto t = by_bucket.find(bucket);
    if (owner == nullptr || t == by_bucket.end()) {
      continue;
    }
    const std::string uid = meta_string(*owner, "uid");
    auto finalizers = finalizers_of(*owner);
    const auto has = [&](const char* f) {
      return std::find(finalizers.begin(), finalizers.end(), f) != finalizers.end();
    };
    std::vector<std::pair<std::string, std::string>> live;
    for (const auto& dep : dependents[uid]) {
      if (lookup_locked(dep.first, dep.second) != nullptr) {
        live.push_back(dep);
      }
    }
    bool drop_finalizer = false;
    std::string finalizer;
    if (has("orphan")) {
      for (const auto& [dbucket, dkey] : live) {
        const auto dt = by_bucket.find(dbucket);
        const ObjectPtr dep = lookup_locked(dbucket, dkey);
        if (dt == by_bucket.end() || dep == nullptr) {
          continue;
        }
        json changed = *dep;
        json kept = json::array();
        for (const json& ref : changed["metadata"]["ownerReferences"]) {
          if (ref.value("uid", "") != uid) {
            kept.push_back(ref);
          }
        }
        if (kept.empty()) {
          changed["metadata"].erase("ownerReferences");
        } else {
          changed["metadata"]["ownerReferences"] = kept;
        }
        if (update_locked(dt->second, meta_string(*dep, "namespace"), meta_string(*dep, "name"), changed,
                          Subresource::none, false, "kube-controller-manager", false)
                .ok()) {
          ++changes;
        }
      }
      drop_finalizer = true;
      finalizer = "orphan";
    } else if (has("foregroundDeletion")) {
      for (const auto& [dbucket, dkey] : live) {
        delete_at(dbucket, dkey, "Foreground");
      }
      std::size_t remaining = 0;
      for (const auto& dep : live) {
        if (lookup_locked(dep.first, dep.second) != nullptr) {
          ++remaining;
        }
      }
      drop_finalizer = remaining == 0;
      finalizer = "foregroundDeletion";
    }
    if (drop_finalizer) {
      json changed = *owner;
      std::erase(finalizers, finalizer);
      set_finalizers(changed, finalizers);
      if (update_locked(t->second, meta_string(*owner, "namespace"), meta_string(*owner, "name"), changed,
                        Subresource::none, false, "kube-controller-manager", false)
              .ok()) {
        ++changes;
      }
    }
  }
  // Terminating namespaces: delete their content, then the namespace.
  std::vector<std::string> terminating;
  if (const auto nsb = m_buckets.find(k_namespace_bucket); nsb != m_buckets.end()) {
    for (const auto& [key, obj] : nsb->second) {
      if (deleting(*obj)) {
        terminating.push_back(key);
      }
    }
  }
  for (const std::string& ns : terminating) {
    std::size_t remaining = 0;
    for (const auto& [bucket, type] : by_bucket) {
      if (!type.namespaced) {
        continue;
      }
      const auto b = m_buckets.find(bucket);
      if (b == m_buckets.end()) {
        continue;
      }
      std::vector<std::string> keys;
      for (auto it = b->second.lower_bound(ns + "/"); it != b->second.end() && it->first.starts_with(ns + "/"); ++it) {
        keys.push_back(it->first);
      }
      for (const std::string& key : keys) {
        delete_at(bucket, key, "Background");
        if (lookup_locked(bucket, key) != nullptr) {
          ++remaining;
        }
      }
    }
    const ObjectPtr obj = lookup_locked(k_namespace_bucket, ns);
    if (remaining == 0 && obj != nullptr && finalizers_of(*obj).empty()) {
      if (erase(k_namespace_bucket, ns, obj).ok()) {
        ++changes;
      }
    }
  }
  return changes;
}

Status Store::restore(const json& state) {
  std::lock_guard lock(m_mutex);
  if (!state.is_object() || !state.contains("buckets") || !state["buckets"].is_object()) {
    return Error(ErrorCode::config, "the sandbox state is not a {resourceVersion, buckets} object");
  }
  m_buckets.clear();
  m_by_uid.clear();
  m_history.clear();
  m_custom.clear();
  m_gc_pending = true;
  for (const auto& [bucket, objects] : state["buckets"].items()) {
    for (const auto& [key, obj] : objects.items()) {
      auto ptr = std::make_shared<const json>(obj);
      m_buckets[bucket][key] = ptr;
      const std::string uid = meta_string(*ptr, "uid");
      if (!uid.empty()) {
        m_by_uid[uid] = {bucket, key};
      }
    }
  }
  m_rv = state.value("resourceVersion", std::uint64_t{0});
  m_history_floor = m_rv;  // watches cannot resume from before a restart
  if (const auto crds = m_buckets.find(k_crd_bucket); crds != m_buckets.end()) {
    for (const auto& [key, crd] : crds->second) {
      register_crd_types(*crd);
    }
  }
  m_changed.notify_all();
  return {};
}

json Store::snapshot() const {
  std::lock_guard lock(m_mutex);
  json buckets = json::object();
  for (const auto& [bucket, objects] : m_buckets) {
    json& b = buckets[bucket];
    b = json::object();
    for (const auto& [key, obj] : objects) {
      b[key] = *obj;
    }
  }
  return json{{"resourceVersion", m_rv}, {"buckets", std::move(buckets)}};
}

}  // namespace gpuorch::sandbox
