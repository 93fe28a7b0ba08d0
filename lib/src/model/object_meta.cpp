#include <gpuorch/model/object_meta.hpp>

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "decoder.hpp"

namespace gpuorch::model {
namespace {

using nlohmann::json;

// Hand-written matchers for the fixed name grammars: compiling the equivalent regular
// expressions cost more than the rest of a `gpuorch submit` run's validation.
bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool is_dns1123_label(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// labels joined by '.'
bool is_dns1123_subdomain(std::string_view s) {
  while (true) {
    const auto dot = s.find('.');
    if (!is_dns1123_label(s.substr(0, dot))) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    s.remove_prefix(dot + 1);
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool is_qualified_name_part(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back())) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Schema string_map_schema(std::string description) {
  return Schema::map_of(Schema::string(), std::move(description));
}

Schema build_object_meta_schema() {
  Schema owner = Schema::object("An object that owns this one; deleting the owner garbage-collects this object.");
  owner.property("apiVersion", Schema::string("API version of the owner."), true);
  owner.property("kind", Schema::string("Kind of the owner."), true);
  owner.property("name", Schema::string("Name of the owner."), true);
  owner.property("uid", Schema::string("UID of the owner."), true);
  owner.property("controller", Schema::boolean("True when the owner is the managing controller."));
  owner.property("blockOwnerDeletion", Schema::boolean("True when the owner cannot be deleted before this object."));
  owner.map_type = "atomic";

  Schema meta = Schema::object("Standard object metadata.");
  meta.property("name", Schema::string("Name, unique within the namespace."));
  meta.property("generateName", Schema::string("Prefix for a server-generated name when name is empty."));
  meta.property("namespace", Schema::string("Namespace of the object."));
  meta.property("labels", string_map_schema("Labels for selecting and grouping objects."));
  meta.property("annotations", string_map_schema("Non-identifying metadata."));
  meta.property("uid", Schema::string("Server-assigned unique identifier."));
  meta.property("resourceVersion", Schema::string("Opaque version used for optimistic concurrency."));
  meta.property("generation", Schema::integer("Sequence number of the desired state.", "int64"));
  Schema finalizers = Schema::array_of(Schema::string(), "Conditions that must be cleared before deletion.");
  finalizers.list_type = "set";
  meta.property("finalizers", finalizers);
  Schema created = Schema::date_time("When the object was created.");
  created.nullable = true;  // client-side output (`kubectl create --dry-run=client -o yaml`) has `null`
  meta.property("creationTimestamp", created);
  meta.property("deletionTimestamp", Schema::date_time("When graceful deletion was requested."));
  meta.property("deletionGracePeriodSeconds", Schema::integer("Seconds allowed for graceful termination.", "int64"));
  meta.property("ownerReferences", Schema::array_of(owner, "Objects this one depends on."));
  Schema managed = Schema::array_of([] {
    Schema entry = Schema::object();
    entry.preserve_unknown_fields = true;
    return entry;
  }());
  managed.description = "Field ownership recorded by server-side apply.";
  meta.property("managedFields", managed);
  meta.property("selfLink", Schema::string("Deprecated; ignored."));
  return meta;
}

// Length errors already say what they got; syntax errors get the value appended.
std::string with_value(const std::string& error, const std::string& value) {
  if (error.find(", got ") != std::string::npos) {
    return error;
  }
  return fmt::format("{}, got {}", error, json_text(value));
}

}  // namespace

bool ObjectMeta::has_finalizer(std::string_view finalizer) const {
  return std::find(finalizers.begin(), finalizers.end(), finalizer) != finalizers.end();
}

nlohmann::json to_json(const OwnerReference& ref) {
  json j = {{"apiVersion", ref.api_version}, {"kind", ref.kind}, {"name", ref.name}, {"uid", ref.uid}};
  if (ref.controller) {
    j["controller"] = *ref.controller;
  }
  if (ref.block_owner_deletion) {
    j["blockOwnerDeletion"] = *ref.block_owner_deletion;
  }
  return j;
}

nlohmann::json to_json(const ObjectMeta& meta) {
  json j = json::object();
  auto put = [&j](const char* key, const std::string& value) {
    if (!value.empty()) {
      j[key] = value;
    }
  };
  put("name", meta.name);
  put("generateName", meta.generate_name);
  put("namespace", meta.namespace_name);
  if (!meta.labels.empty()) {
    j["labels"] = meta.labels;
  }
  if (!meta.annotations.empty()) {
    j["annotations"] = meta.annotations;
  }
  put("uid", meta.uid);
  put("resourceVersion", meta.resource_version);
  if (meta.generation != 0) {
    j["generation"] = meta.generation;
  }
  if (!meta.finalizers.empty()) {
    j["finalizers"] = meta.finalizers;
  }
  if (meta.creation_timestamp) {
    j["creationTimestamp"] = format_time(*meta.creation_timestamp);
  }
  if (meta.deletion_timestamp) {
    j["deletionTimestamp"] = format_time(*meta.deletion_timestamp);
  }
  if (meta.deletion_grace_period_seconds) {
    j["deletionGracePeriodSeconds"] = *meta.deletion_grace_period_seconds;
  }
  if (!meta.owner_references.empty()) {
    json refs = json::array();
    for (const auto& ref : meta.owner_references) {
      refs.push_back(to_json(ref));
    }
    j["ownerReferences"] = std::move(refs);
  }
  return j;
}

Result<ObjectMeta> object_meta_from_json(const nlohmann::json& json, std::string_view path_view) {
  const std::string path(path_view);
  detail::Decoder d;
  ObjectMeta meta;
  if (!json.is_null() && d.expect_object(json, path)) {
    meta.name = d.str(json, "name", path);
    meta.generate_name = d.str(json, "generateName", path);
    meta.namespace_name = d.str(json, "namespace", path);
    meta.labels = d.string_map(json, "labels", path);
    meta.annotations = d.string_map(json, "annotations", path);
    meta.uid = d.str(json, "uid", path);
    meta.resource_version = d.str(json, "resourceVersion", path);
    meta.generation = d.int64(json, "generation", path).value_or(0);
    meta.finalizers = d.strings(json, "finalizers", path);
    meta.creation_timestamp = d.time(json, "creationTimestamp", path);
    meta.deletion_timestamp = d.time(json, "deletionTimestamp", path);
    meta.deletion_grace_period_seconds = d.int64(json, "deletionGracePeriodSeconds", path);
    d.array(json, "ownerReferences", path, [&](const nlohmann::json& item, const std::string& at) {
      if (!d.expect_object(item, at)) {
        return;
      }
      OwnerReference ref;
      ref.api_version = d.str(item, "apiVersion", at);
      ref.kind = d.str(item, "kind", at);
      ref.name = d.str(item, "name", at);
      ref.uid = d.str(item, "uid", at);
      ref.controller = d.boolean(item, "controller", at);
      ref.block_owner_deletion = d.boolean(item, "blockOwnerDeletion", at);
      meta.owner_references.push_back(std::move(ref));
    });
  }
  if (!d.causes.empty()) {
    return Error(ErrorCode::invalid, "invalid object metadata").with_causes(std::move(d.causes));
  }
  return meta;
}

const Schema& object_meta_schema() {
  static const Schema schema = build_object_meta_schema();
  return schema;
}

std::string check_dns1123_label(std::string_view value) {
  if (value.size() > 63) {
    return fmt::format("must be no more than 63 characters, got {}", value.size());
  }
  if (!is_dns1123_label(value)) {
    return "must be a lowercase RFC 1123 label: lower case letters, digits and '-', starting and ending with a "
           "letter or digit";
  }
  return {};
}

std::string check_dns1123_subdomain(std::string_view value, std::size_t max_length) {
  if (value.size() > max_length) {
    return fmt::format("must be no more than {} characters, got {}", max_length, value.size());
  }
  if (!is_dns1123_subdomain(value)) {
    return "must be a lowercase RFC 1123 subdomain: lower case letters, digits, '-' and '.', starting and ending "
           "with a letter or digit";
  }
  return {};
}

std::string check_qualified_name(std::string_view value) {
  std::string_view name = value;
  const auto slash = value.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      return "prefix before '/' must not be empty";
    }
    if (const std::string e = check_dns1123_subdomain(prefix); !e.empty()) {
      return "prefix " + e;
    }
  }
  if (name.empty()) {
    return "name part must not be empty";
  }
  if (name.size() > 63) {
    return fmt::format("name part must be no more than 63 characters, got {}", name.size());
  }
  if (!is_qualified_name_part(name)) {
    return "name part must consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return {};
}

std::string check_label_value(std::string_view value) {
  if (value.empty()) {
    return {};
  }
  if (value.size() > 63) {
    return fmt::format("must be no more than 63 characters, got {}", value.size());
  }
  if (!is_qualified_name_part(value)) {
    return "must be empty or consist of letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return {};
}

void validate_label_map(const nlohmann::json& labels, const ValidateOptions& options, std::vector<FieldCause>& out) {
  if (!labels.is_object()) {
    return;
  }
  for (const auto& [key, value] : labels.items()) {
    const auto ptr = options.pointer / key;
    if (const std::string e = check_qualified_name(key); !e.empty()) {
      out.push_back(located_cause(options, options.path, fmt::format("invalid key {}: {}", json_text(key), e),
                                  "FieldValueInvalid", ptr, MarkTarget::key));
    }
    if (value.is_string()) {
      if (const std::string e = check_label_value(value.get<std::string>()); !e.empty()) {
        out.push_back(located_cause(options, field_path_key(options.path, key),
                                    fmt::format("invalid value {}: {}", json_text(value), e), "FieldValueInvalid", ptr,
                                    MarkTarget::value));
      }
    }
  }
}

std::vector<FieldCause> validate_object_meta(const nlohmann::json& meta, const ValidateOptions& options,
                                             std::size_t max_name_length) {
  std::vector<FieldCause> out;
  if (!meta.is_object()) {
    return out;
  }
  auto child = [&](const char* key) {
    ValidateOptions o = options;
    o.path = field_path_child(options.path, key);
    o.pointer = options.pointer / key;
    return o;
  };
  const auto name = meta.find("name");
  const auto generate = meta.find("generateName");
  const bool has_name = name != meta.end() && name->is_string() && !name->get<std::string>().empty();
  const bool has_generate = generate != meta.end() && generate->is_string() && !generate->get<std::string>().empty();
  if (!has_name && !has_generate) {
    out.push_back(located_cause(options, field_path_child(options.path, "name"),
                                "required field is missing (or set generateName)", "FieldValueRequired",
                                options.pointer, MarkTarget::value));
  }
  if (has_name) {
    const std::string value = name->get<std::string>();
    if (const std::string e = check_dns1123_subdomain(value, max_name_length); !e.empty()) {
      const auto o = child("name");
      out.push_back(located_cause(o, o.path, with_value(e, value), "FieldValueInvalid", o.pointer, MarkTarget::value));
    }
  }
  if (has_generate) {
    // The server appends 5 random characters: the prefix plus one of them must be a valid name.
    const std::string value = generate->get<std::string>();
    if (const std::string e = check_dns1123_subdomain(value + "x", max_name_length); !e.empty()) {
      const auto o = child("generateName");
      out.push_back(located_cause(o, o.path, with_value(e, value), "FieldValueInvalid", o.pointer, MarkTarget::value));
    }
  }
  if (const auto ns = meta.find("namespace"); ns != meta.end() && ns->is_string() && !ns->get<std::string>().empty()) {
    if (const std::string e = check_dns1123_label(ns->get<std::string>()); !e.empty()) {
      const auto o = child("namespace");
      out.push_back(located_cause(o, o.path, with_value(e, ns->get<std::string>()), "FieldValueInvalid", o.pointer,
                                  MarkTarget::value));
    }
  }
  if (const auto labels = meta.find("labels"); labels != meta.end()) {
    validate_label_map(*labels, child("labels"), out);
  }
  if (const auto annotations = meta.find("annotations"); annotations != meta.end() && annotations->is_object()) {
    const auto o = child("annotations");
    for (const auto& [key, value] : annotations->items()) {
      if (const std::string e = check_qualified_name(key); !e.empty()) {
        out.push_back(located_cause(o, o.path, fmt::format("invalid key {}: {}", json_text(key), e),
                                    "FieldValueInvalid", o.pointer / key, MarkTarget::key));
      }
    }
  }
  return out;
}

}  // namespace gpuorch::model
