#include <gpuorch/sched/placer.hpp>

#include <algorithm>

#include <fmt/format.h>

namespace gpuorch::sched {

std::string Decision::reason(const Request& request) const {
  return summary ? summary->describe(request) : std::string();
}

Placer::Placer(ClusterState& state, Strategy& strategy) : m_state(&state), m_strategy(&strategy) {
  m_strategy->attach(state);
}

Decision Placer::place(const Request& request, const PlaceOptions& options) {
  const PreparedRequest prepared(*m_state, request);
  Decision decision;
  const auto choice = m_strategy->choose(prepared);
  if (choice) {
    decision.placed = true;
    decision.node = choice->node;
    decision.score = choice->score;
    decision.allocation = Allocation{request.cpu_milli, request.memory_bytes, choice->gpu_mask,
                                     request.gpu_count == 0 ? 0 : request.gpu_milli};
  }
  if ((!decision.placed && options.summarize_failures) || options.explain) {
    decision.summary = summarize(*m_state, prepared);
  }
  if (options.explain && options.top > 0) {
    for (NodeId id = 0; id < m_state->size(); ++id) {
      if (check_node(*m_state, id, prepared) == FilterReason::fits) {
        decision.top.push_back(CandidateScore{id, m_strategy->score(prepared, id)});
      }
    }
    std::stable_sort(decision.top.begin(), decision.top.end(),
                     [](const CandidateScore& a, const CandidateScore& b) { return a.score > b.score; });
    if (decision.top.size() > options.top) {
      decision.top.resize(options.top);
    }
  }
  if (decision.placed && options.commit) {
    if (auto st = m_state->allocate(decision.node, decision.allocation); !st.ok()) {
      // A strategy returned a node that does not fit: a bug, never a silent over-commit.
      decision.placed = false;
      decision.summary = summarize(*m_state, prepared);
      return decision;
    }
    m_strategy->node_changed(decision.node);
  }
  return decision;
}

Status Placer::release(NodeId node, const Allocation& allocation) {
  GPUORCH_TRY(m_state->release(node, allocation));
  m_strategy->node_changed(node);
  return {};
}

Status Placer::reserve(NodeId node, const Allocation& allocation) {
  GPUORCH_TRY(m_state->allocate(node, allocation));
  m_strategy->node_changed(node);
  return {};
}

}  // namespace gpuorch::sched
