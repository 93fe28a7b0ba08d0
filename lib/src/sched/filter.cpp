#include <gpuorch/sched/filter.hpp>

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

namespace gpuorch::sched {

std::string_view to_string(FilterReason reason) {
  switch (reason) {
    case FilterReason::fits:
      return "fits";
    case FilterReason::not_ready:
      return "not_ready";
    case FilterReason::cordoned:
      return "cordoned";
    case FilterReason::untolerated_taint:
      return "untolerated_taint";
    case FilterReason::node_selector:
      return "node_selector";
    case FilterReason::gpu_model:
      return "gpu_model";
    case FilterReason::too_few_gpus:
      return "too_few_gpus";
    case FilterReason::insufficient_gpus:
      return "insufficient_gpus";
    case FilterReason::insufficient_gpu_share:
      return "insufficient_gpu_share";
    case FilterReason::insufficient_cpu:
      return "insufficient_cpu";
    case FilterReason::insufficient_memory:
      return "insufficient_memory";
  }
  return "unknown";
}

bool tolerates(const std::vector<Taint>& taints, const std::vector<Toleration>& tolerations) {
  for (const auto& taint : taints) {
    if (taint.effect == "PreferNoSchedule") {
      continue;
    }
    bool tolerated = false;
    for (const auto& t : tolerations) {
      const bool key_ok = t.key.empty() ? t.op == "Exists" : t.key == taint.key;
      const bool value_ok = t.op == "Exists" || t.value == taint.value;
      const bool effect_ok = t.effect.empty() || t.effect == taint.effect;
      if (key_ok && value_ok && effect_ok) {
        tolerated = true;
        break;
      }
    }
    if (!tolerated) {
      return false;
    }
  }
  return true;
}

bool matches_selector(const NodeSpec& node, const Labels& selector) {
  for (const auto& [key, value] : selector) {
    const auto* have = node.label(key);
    if (have == nullptr || *have != value) {
      return false;
    }
  }
  return true;
}

FilterReason check_node(const ClusterState& state, NodeId id, const PreparedRequest& prepared) {
  const auto& spec = state.spec(id);
  const auto& req = prepared.request();
  if (!spec.ready) {
    return FilterReason::not_ready;
  }
  if (spec.cordoned) {
    return FilterReason::cordoned;
  }
  if (!spec.taints.empty() && !tolerates(spec.taints, req.tolerations)) {
    return FilterReason::untolerated_taint;
  }
  if (!req.node_selector.empty() && !matches_selector(spec, req.node_selector)) {
    return FilterReason::node_selector;
  }
  if (req.gpu_count > 0) {
    if (!prepared.model_allowed(state.model_id(id))) {
      return FilterReason::gpu_model;
    }
    if (spec.gpu_count < req.gpu_count) {
      return FilterReason::too_few_gpus;
    }
    if (req.shares_gpu()) {
      if (state.max_gpu_free(id) < req.gpu_milli) {
        return FilterReason::insufficient_gpu_share;
      }
    } else if (state.whole_free_gpus(id) < req.gpu_count) {
      return FilterReason::insufficient_gpus;
    }
  }
  if (state.cpu_free(id) < req.cpu_milli) {
    return FilterReason::insufficient_cpu;
  }
  if (state.memory_free(id) < req.memory_bytes) {
    return FilterReason::insufficient_memory;
  }
  return FilterReason::fits;
}

void FilterSummary::add(FilterReason reason) {
  ++total;
  if (reason == FilterReason::fits) {
    ++feasible;
  } else {
    ++counts[static_cast<std::size_t>(reason)];
  }
}

namespace {

std::string format_cpu(std::int64_t milli) {
  if (milli % 1000 == 0) {
    return fmt::format("{} CPU", milli / 1000);
  }
  return fmt::format("{}m CPU", milli);
}

std::string format_bytes(std::int64_t bytes) {
  constexpr std::int64_t k_gi = std::int64_t{1} << 30;
  constexpr std::int64_t k_mi = std::int64_t{1} << 20;
  if (bytes % k_gi == 0) {
    return fmt::format("{}Gi", bytes / k_gi);
  }
  if (bytes % k_mi == 0) {
    return fmt::format("{}Mi", bytes / k_mi);
  }
  return fmt::format("{}", bytes);
}

}  // namespace

std::string reason_phrase(FilterReason reason, const Request& request) {
  switch (reason) {
    case FilterReason::fits:
      return "fit";
    case FilterReason::not_ready:
      return "not Ready";
    case FilterReason::cordoned:
      return "cordoned";
    case FilterReason::untolerated_taint:
      return "have untolerated taints";
    case FilterReason::node_selector:
      return "do not match the nodeSelector";
    case FilterReason::gpu_model: {
      std::string models;
      for (const auto& m : request.gpu_models) {
        models += models.empty() ? m : "|" + m;
      }
      return fmt::format("have another GPU model (want {})", models);
    }
    case FilterReason::too_few_gpus:
      return fmt::format("have fewer than {} GPUs", request.gpu_count);
    case FilterReason::insufficient_gpus:
      return fmt::format("lack {} free GPU{}", request.gpu_count, request.gpu_count == 1 ? "" : "s");
    case FilterReason::insufficient_gpu_share:
      return fmt::format("lack a GPU with {}m free", request.gpu_milli);
    case FilterReason::insufficient_cpu:
      return fmt::format("lack {} free", format_cpu(request.cpu_milli));
    case FilterReason::insufficient_memory:
      return fmt::format("lack {} free memory", format_bytes(request.memory_bytes));
  }
  return "unknown";
}

std::string FilterSummary::describe(const Request& request) const {
  std::string text = fmt::format("{}/{} nodes fit", feasible, total);
  std::array<std::size_t, k_filter_reason_count> order{};
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return counts[a] > counts[b]; });
  bool first = true;
  for (const auto r : order) {
    if (counts[r] == 0) {
      continue;
    }
    text += first ? ": " : ", ";
    first = false;
    text += fmt::format("{} {}", counts[r], reason_phrase(static_cast<FilterReason>(r), request));
  }
  return text;
}

FilterSummary summarize(const ClusterState& state, const PreparedRequest& req) {
  FilterSummary summary;
  for (NodeId id = 0; id < state.size(); ++id) {
    summary.add(check_node(state, id, req));
  }
  return summary;
}

}  // namespace gpuorch::sched
