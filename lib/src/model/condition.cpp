#include <gpuorch/model/condition.hpp>

#include <algorithm>

#include "decoder.hpp"

namespace gpuorch::model {
namespace {

Schema build_condition_schema() {
  Schema c = Schema::object("Condition contains details for one aspect of the current state of this object.");
  c.property(
      "lastTransitionTime",
      Schema::date_time("lastTransitionTime is the last time the condition transitioned from one status to another."),
      true);
  c.property("message",
             Schema::string("message is a human readable message indicating details about the transition.")
                 .with_length(std::nullopt, 32768),
             true);
  c.property(
      "observedGeneration",
      Schema::integer("observedGeneration is the .metadata.generation that the condition was set based upon.", "int64")
          .with_minimum(0));
  c.property("reason",
             Schema::string("reason contains a programmatic identifier indicating the reason for the condition's last "
                            "transition, in CamelCase.")
                 .with_length(1, 1024)
                 .with_pattern("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
             true);
  c.property(
      "status",
      Schema::string("status of the condition, one of True, False, Unknown.").with_enum({"True", "False", "Unknown"}),
      true);
  c.property("type",
             Schema::string("type of condition in CamelCase or in foo.example.com/CamelCase.")
                 .with_length(std::nullopt, 316)
                 .with_pattern("^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-"
                               "Za-z0-9_.]*)?[A-Za-z0-9])$"),
             true);
  // Order the required list as Kubernetes publishes it.
  c.required = {"lastTransitionTime", "message", "reason", "status", "type"};
  return c;
}

}  // namespace

nlohmann::json to_json(const Condition& condition) {
  nlohmann::json j = {
      {"type", condition.type},
      {"status", condition.status},
      {"lastTransitionTime", format_time(condition.last_transition_time)},
      {"reason", condition.reason},
      {"message", condition.message},
  };
  if (condition.observed_generation != 0) {
    j["observedGeneration"] = condition.observed_generation;
  }
  return j;
}

Result<Condition> condition_from_json(const nlohmann::json& json, std::string_view path_view) {
  const std::string path(path_view);
  detail::Decoder d;
  Condition c;
  if (d.expect_object(json, path)) {
    c.type = d.str(json, "type", path);
    c.status = d.str(json, "status", path);
    c.observed_generation = d.int64(json, "observedGeneration", path).value_or(0);
    c.last_transition_time = d.time(json, "lastTransitionTime", path).value_or(Time{});
    c.reason = d.str(json, "reason", path);
    c.message = d.str(json, "message", path);
  }
  if (!d.causes.empty()) {
    return Error(ErrorCode::invalid, "invalid condition").with_causes(std::move(d.causes));
  }
  return c;
}

const Schema& condition_schema() {
  static const Schema schema = build_condition_schema();
  return schema;
}

const Condition* find_condition(const std::vector<Condition>& conditions, std::string_view type) {
  const auto it =
      std::find_if(conditions.begin(), conditions.end(), [&](const Condition& c) { return c.type == type; });
  return it == conditions.end() ? nullptr : &*it;
}

bool set_condition(std::vector<Condition>& conditions, Condition condition, Time now) {
  const auto it =
      std::find_if(conditions.begin(), conditions.end(), [&](const Condition& c) { return c.type == condition.type; });
  if (it == conditions.end()) {
    if (condition.last_transition_time == Time{}) {
      condition.last_transition_time = now;
    }
    conditions.push_back(std::move(condition));
    return true;
  }
  bool changed = false;
  if (it->status != condition.status) {
    it->status = condition.status;
    it->last_transition_time = condition.last_transition_time == Time{} ? now : condition.last_transition_time;
    changed = true;
  }
  if (it->reason != condition.reason) {
    it->reason = std::move(condition.reason);
    changed = true;
  }
  if (it->message != condition.message) {
    it->message = std::move(condition.message);
    changed = true;
  }
  if (it->observed_generation != condition.observed_generation) {
    it->observed_generation = condition.observed_generation;
    changed = true;
  }
  return changed;
}

}  // namespace gpuorch::model
