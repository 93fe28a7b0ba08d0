#pragma once

#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::sandbox {

/// The patch formats the API server accepts, by Content-Type.
enum class PatchType { json_patch, merge_patch, strategic_merge_patch, apply };

/// Maps a Content-Type ("application/merge-patch+json; charset=utf-8") to a
/// patch type; fails with 415 UnsupportedMediaType otherwise.
Result<PatchType> patch_type_from_content_type(std::string_view content_type);

/// Parses a request body as JSON, or as YAML when `yaml` is set (a single
/// document). Fails with 400 BadRequest on malformed input.
Result<nlohmann::json> parse_body(std::string_view body, bool yaml);

/// RFC 7386 JSON merge patch.
Result<nlohmann::json> apply_merge_patch(const nlohmann::json& original, const nlohmann::json& patch);

/// RFC 6902 JSON patch. A failing operation (missing path, failed test) is a
/// 422 Invalid; a malformed patch document is a 400 BadRequest.
Result<nlohmann::json> apply_json_patch(const nlohmann::json& original, const nlohmann::json& patch);

/// Kubernetes strategic merge patch for the built-in types: lists with a
/// merge key (containers by name, env by name, ports by containerPort,
/// conditions by type, ...) merge element-wise, `finalizers` merge as a set,
/// and the `$patch`, `$retainKeys`, `$deleteFromPrimitiveList` and
/// `$setElementOrder` directives are honoured.
Result<nlohmann::json> apply_strategic_merge_patch(const nlohmann::json& original, const nlohmann::json& patch);

/// Server-side apply and managedFields bookkeeping (metadata.managedFields,
/// FieldsV1). For the built-in types, associative lists (containers and env
/// by name, container ports by containerPort+protocol, service ports by
/// port+protocol, volumes, conditions, ownerReferences, ...) merge and are
/// owned element by element (`k:{...}`), `finalizers` is a set (`v:...`);
/// every other list, and every list of a custom resource, is atomic.
namespace managed_fields {

/// Where a write came from, for the managedFields entry it produces.
struct Writer {
  std::string manager;
  std::string api_version;
  std::string time;         ///< RFC 3339
  std::string subresource;  ///< "" or "status"
  bool builtin = true;      ///< false for custom resources: their lists are atomic
};

/// Applies `config` (the user's intent) for `writer`. `live` is null when the
/// object does not exist yet. Fields another manager owns with a different
/// value are a 409 Conflict unless `force`, which takes them over. Fields the
/// manager applied before and no longer applies are removed unless another
/// manager also owns them.
Result<nlohmann::json> apply(const nlohmann::json* live, const nlohmann::json& config, const Writer& writer,
                             bool force);

/// Records an Update-operation write: every field that changed between `old`
/// (null on create) and `updated` becomes owned by the writer.
void record_update(const nlohmann::json* old, nlohmann::json& updated, const Writer& writer);

}  // namespace managed_fields

}  // namespace gpuorch::sandbox
