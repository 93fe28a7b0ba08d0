#include <gpuorch/control/plan.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace gpuorch::control {

std::string_view to_string(ActionKind kind) {
  switch (kind) {
    case ActionKind::add_finalizer:
      return "AddFinalizer";
    case ActionKind::create_job:
      return "CreateJob";
    case ActionKind::delete_job:
      return "DeleteJob";
    case ActionKind::update_status:
      return "UpdateStatus";
    case ActionKind::emit_event:
      return "EmitEvent";
    case ActionKind::remove_finalizer:
      return "RemoveFinalizer";
  }
  return "Unknown";
}

nlohmann::json to_json(const Plan& plan) {
  using nlohmann::json;
  json actions = json::array();
  for (const auto& a : plan.actions) {
    json j = {{"action", std::string(to_string(a.kind))},
              {"namespace", a.namespace_name},
              {"workload", a.workload},
              {"detail", a.detail}};
    switch (a.kind) {
      case ActionKind::create_job:
        j["job"] = a.job;
        break;
      case ActionKind::delete_job:
        j["jobName"] = a.job_name;
        j["propagationPolicy"] = "Background";
        break;
      case ActionKind::update_status:
        j["status"] = model::to_json(a.status);
        break;
      case ActionKind::emit_event:
        j["event"] = {{"type", a.event.type}, {"reason", a.event.reason}, {"message", a.event.message}};
        break;
      case ActionKind::add_finalizer:
      case ActionKind::remove_finalizer:
        break;
    }
    actions.push_back(std::move(j));
  }
  json failed = json::object();
  for (const auto& [reason, n] : plan.counts.failed) {
    failed[reason] = n;
  }
  json phases = json::object();
  for (const auto& [phase, n] : plan.phases) {
    phases[phase] = n;
  }
  json out = {{"kind", "ReconcilePlan"},
              {"now", model::format_time(plan.now)},
              {"requeueAt", plan.requeue_at ? json(model::format_time(*plan.requeue_at)) : json(nullptr)},
              {"summary",
               {{"scheduled", plan.counts.scheduled},
                {"retries", plan.counts.retries},
                {"succeeded", plan.counts.succeeded},
                {"unschedulable", plan.counts.unschedulable},
                {"failed", failed},
                {"phases", phases}}},
              {"actions", actions}};
  if (!plan.warnings.empty()) {
    out["warnings"] = plan.warnings;
  }
  return out;
}

void print_plan_table(std::ostream& out, const Plan& plan, bool all_namespaces) {
  if (plan.actions.empty()) {
    out << "No actions.\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  if (all_namespaces) {
    header.emplace_back("NAMESPACE");
  }
  header.insert(header.end(), {"WORKLOAD", "ACTION", "DETAIL"});
  rows.push_back(header);
  for (const auto& a : plan.actions) {
    std::vector<std::string> row;
    if (all_namespaces) {
      row.push_back(a.namespace_name);
    }
    row.insert(row.end(), {a.workload, std::string(to_string(a.kind)), a.detail});
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i + 1 == row.size()) {
        line += row[i];
      } else {
        line += fmt::format("{:<{}}   ", row[i], width[i]);
      }
    }
    out << line << '\n';
  }
}

}  // namespace gpuorch::control
