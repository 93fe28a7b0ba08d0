// The informers' cost per watch event: a watch line of a recorded object
// (data/informer_events.jsonl: a GPUWorkload, a gpuorch Job, its pod and a
// node, as the sandbox sends them) split by the WatchDecoder, then applied to
// an Informer's store with its handlers called, as Informer::run does. Each
// store configuration is measured side by side in one run:
//
//   full-old     the store the loop used to have: MessagePack of the whole
//                object, on_update given the decoded old object
//   full         the whole object, the handler reads only the new one
//                (what the loop's GPUWorkload cache does)
//   metadata     metadata only, the handler reads only the new one (the
//                loop's Job, pod and node caches)
//   parse-only   json::parse of the line alone: the floor
//
// Run by hand: bench_informer [--benchmark_filter=...]; results in
// docs/benchmarks.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/informer.hpp>
#include <gpuorch/kube/system.hpp>
#include <gpuorch/kube/watch.hpp>

namespace {

using namespace gpuorch::kube;
using nlohmann::json;

enum class Store { full_old, full, metadata };

// The recorded event of one kind ("GPUWorkload", "Job", "Pod", "Node").
json recorded(const std::string& kind) {
  const std::string path = std::string(GPUORCH_BENCH_DATA) + "/informer_events.jsonl";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    throw std::runtime_error("cannot open " + path);
  }
  std::string text;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    text.append(buffer, n);
  }
  std::fclose(f);
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string::npos) {
      end = text.size();
    }
    auto event = json::parse(text.substr(start, end - start));
    if (event["object"].value("kind", "") == kind) {
      return event;
    }
    start = end + 1;
  }
  throw std::runtime_error("no " + kind + " in " + path);
}

// `objects` distinct objects of that kind, each added once, then modified
// over and over with growing resourceVersions: the lines of the stream.
struct Stream {
  std::vector<std::string> added;
  std::vector<std::string> modified;
};

Stream make_stream(const std::string& kind, int objects) {
  const json base = recorded(kind);
  Stream s;
  int rv = 1000;
  const auto line = [&](const char* type, int i) {
    json e = base;
    e["type"] = type;
    auto& md = e["object"]["metadata"];
    md["name"] = md.value("name", "x") + "-" + std::to_string(i);
    md["resourceVersion"] = std::to_string(++rv);
    return e.dump() + "\n";
  };
  for (int i = 0; i < objects; ++i) {
    s.added.push_back(line("ADDED", i));
  }
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < objects; ++i) {
      s.modified.push_back(line("MODIFIED", i));
    }
  }
  return s;
}

std::shared_ptr<Client> offline_client() {
  RestConfig config;
  config.server = "https://127.0.0.1:1";  // never contacted: events are applied directly
  return Client::create(config, {}, Environment({})).value_or_throw();
}

void BM_InformerEvent(benchmark::State& state, const std::string& kind, Store store) {
  const auto stream = make_stream(kind, 500);
  InformerOptions options;
  options.compact = true;
  InformerHandlers handlers;
  std::size_t seen = 0;
  handlers.on_add = [&](const json&) { ++seen; };
  if (store == Store::full_old) {
    handlers.on_update = [&](const json& old_object, const json&) { seen += old_object.size(); };
  } else {
    handlers.on_update_new_only = [&](const json&) { ++seen; };
    options.transform = drop_managed_fields;
    options.metadata_only = store == Store::metadata;
  }
  Informer informer(offline_client(), resources::pods(), "", options, handlers);
  WatchDecoder decoder;
  const auto apply = [&](const std::string& line) {
    auto fed = decoder.feed(line, [&](WatchEvent&& event) {
      informer.apply_event(event);
      return true;
    });
    if (!fed) {
      throw std::runtime_error(fed.error().message());
    }
  };
  for (const auto& line : stream.added) {
    apply(line);
  }
  std::size_t i = 0;
  std::int64_t bytes = 0;
  for (auto _ : state) {
    const auto& line = stream.modified[i];
    apply(line);
    bytes += static_cast<std::int64_t>(line.size());
    i = (i + 1) % stream.modified.size();
  }
  benchmark::DoNotOptimize(seen);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_ParseOnly(benchmark::State& state, const std::string& kind) {
  const auto stream = make_stream(kind, 500);
  std::size_t i = 0;
  for (auto _ : state) {
    auto parsed = json::parse(stream.modified[i]);
    benchmark::DoNotOptimize(parsed);
    i = (i + 1) % stream.modified.size();
  }
  state.SetItemsProcessed(state.iterations());
}

void register_all() {
  for (const std::string kind : {"GPUWorkload", "Job", "Pod", "Node"}) {
    benchmark::RegisterBenchmark(("BM_InformerEvent/" + kind + "/full-old").c_str(), BM_InformerEvent, kind,
                                 Store::full_old);
    benchmark::RegisterBenchmark(("BM_InformerEvent/" + kind + "/full").c_str(), BM_InformerEvent, kind, Store::full);
    benchmark::RegisterBenchmark(("BM_InformerEvent/" + kind + "/metadata").c_str(), BM_InformerEvent, kind,
                                 Store::metadata);
    benchmark::RegisterBenchmark(("BM_ParseOnly/" + kind).c_str(), BM_ParseOnly, kind);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
