#include <gpuorch/kube/watch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>

#include <gpuorch/kube/informer.hpp>

#include "unit/kube/fakes.hpp"
#include "unit/kube/test_server.hpp"

using gpuorch::ErrorCode;
using namespace gpuorch::kube;
using namespace gpuorch::kube::testing;
using nlohmann::json;

namespace {

json pod(const std::string& name, const std::string& rv) {
  return json{{"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", "ml"}, {"resourceVersion", rv}}}};
}

std::string event(const std::string& type, const json& object) {
  return json{{"type", type}, {"object", object}}.dump() + "\n";
}

std::shared_ptr<Client> real_time_client(const std::string& server) {
  RestConfig config;
  config.server = server;
  ClientDeps deps;
  deps.random = std::make_shared<FixedRandom>(0.5);
  ClientOptions options;
  options.backoff_base = std::chrono::milliseconds(10);
  return Client::create(config, options, Environment({}), deps).value_or_throw();
}

}  // namespace

TEST_CASE("WatchDecoder splits events across arbitrary chunks") {
  WatchDecoder decoder;
  std::vector<std::string> types;
  const auto emit = [&](WatchEvent&& e) {
    types.push_back(e.type + ":" + e.object["metadata"]["name"].get<std::string>());
    return true;
  };
  const std::string stream = event("ADDED", pod("a", "1")) + event("MODIFIED", pod("a", "2"));
  for (std::size_t cut : {std::size_t{1}, std::size_t{17}, stream.size() / 2 + 3}) {
    types.clear();
    CHECK(decoder.feed(stream.substr(0, cut), emit).value_or_throw());
    CHECK(decoder.feed(stream.substr(cut), emit).value_or_throw());
    CHECK(types == std::vector<std::string>{"ADDED:a", "MODIFIED:a"});
    CHECK(decoder.pending() == 0);
  }
  auto bad = decoder.feed("<html>proxy error</html>\n", emit);
  REQUIRE(!bad.ok());
  CHECK(bad.error().message() == "watch stream: not a watch event: <html>proxy error</html>");
}

TEST_CASE("watch_event_error turns an ERROR event's Status into a Gone error") {
  const auto error = watch_event_error(json::parse(
      R"json({"kind":"Status","status":"Failure","message":"too old resource version: 5 (10)","reason":"Expired","code":410})json"));
  CHECK(is_gone(error));
  CHECK(error.http_status() == 410);
  CHECK(error.message() == "too old resource version: 5 (10)");
}

TEST_CASE("watch streams events, tracks bookmarks and reports 410") {
  TestServer server;
  server.http().Get("/api/v1/namespaces/ml/pods", [](const httplib::Request& req, httplib::Response& res) {
    CHECK(req.get_param_value("watch") == "1");
    CHECK(req.get_param_value("allowWatchBookmarks") == "true");
    CHECK(req.get_param_value("timeoutSeconds") == "30");
    if (req.get_param_value("resourceVersion") == "old") {
      res.status = 410;
      res.set_content(R"({"kind":"Status","code":410,"reason":"Expired","message":"too old resource version"})",
                      "application/json");
      return;
    }
    res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
      for (const auto& line : {event("ADDED", pod("a", "11")), event("MODIFIED", pod("a", "12")),
                               event("BOOKMARK", json{{"metadata", {{"resourceVersion", "15"}}}})}) {
        sink.write(line.data(), line.size());
      }
      sink.done();
      return true;
    });
  });
  server.start();
  auto client = real_time_client(server.url());
  std::vector<std::string> seen;
  WatchOptions options;
  options.resource_version = "10";
  options.timeout_seconds = 30;
  auto rv = watch(*client, resources::pods(), "ml", options, [&](const WatchEvent& e) {
    seen.push_back(e.type + ":" + e.object["metadata"]["resourceVersion"].get<std::string>());
    return true;
  });
  REQUIRE(rv.ok());
  CHECK(*rv == "15");
  CHECK(seen == std::vector<std::string>{"ADDED:11", "MODIFIED:12"});

  options.resource_version = "old";
  auto gone = watch(*client, resources::pods(), "ml", options, [](const WatchEvent&) { return true; });
  REQUIRE(!gone.ok());
  CHECK(is_gone(gone.error()));
}

namespace {

// How the scenario's informer is configured.
struct Scenario {
  bool compact = false;
  bool new_only = false;       // on_update_new_only instead of on_update
  bool metadata_only = false;  // InformerOptions::metadata_only
  bool transform = false;      // drop managedFields and mark each object
};

// A pod as the server sends it: with a spec and managedFields.
json full_pod(const std::string& name, const std::string& rv) {
  json p = pod(name, rv);
  p["metadata"]["managedFields"] = json::array({{{"manager", "kubelet"}, {"operation", "Update"}}});
  p["spec"] = {{"nodeName", "node-" + name}};
  return p;
}

// "ml/a@5 spec managedFields transformed": what a handler was given.
std::string describe(const json& o) {
  std::string s = Informer::key_of(o) + "@" + o["metadata"].value("resourceVersion", "");
  if (o.contains("spec")) {
    s += " spec";
  }
  if (o["metadata"].contains("managedFields")) {
    s += " managedFields";
  }
  if (o["metadata"].contains("annotations")) {
    s += " transformed";
  }
  return s;
}

void informer_scenario(Scenario mode) {
  TestServer server;
  std::mutex mutex;
  std::vector<std::string> requests;
  std::atomic<int> lists{0};
  std::atomic<bool> finished{false};
  server.http().Get("/api/v1/namespaces/ml/pods", [&](const httplib::Request& req, httplib::Response& res) {
    const auto rv = req.get_param_value("resourceVersion");
    {
      std::lock_guard lock(mutex);
      requests.push_back((req.has_param("watch") ? "watch@" : "list@") + rv);
    }
    if (!req.has_param("watch")) {
      json list = {{"kind", "PodList"}, {"metadata", {{"resourceVersion", "10"}}}, {"items", json::array()}};
      if (++lists == 1) {
        list["items"] = json::array({full_pod("a", "5"), full_pod("b", "6")});
      } else {
        list["metadata"]["resourceVersion"] = "30";
        list["items"] = json::array({full_pod("a", "25"), full_pod("c", "26")});
      }
      res.set_content(list.dump(), "application/json");
      return;
    }
    if (rv == "10") {
      // One event and a bookmark, then the stream ends: the next watch
      // starts from the bookmark's version.
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        const auto line = event("ADDED", full_pod("d", "11")) +
                          event("BOOKMARK", json{{"kind", "Pod"}, {"metadata", {{"resourceVersion", "20"}}}});
        sink.write(line.data(), line.size());
        sink.done();
        return true;
      });
    } else if (rv == "20") {
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        const auto line = event("ERROR", json{{"kind", "Status"},
                                              {"code", 410},
                                              {"reason", "Expired"},
                                              {"message", "too old resource version: 20 (21)"}});
        sink.write(line.data(), line.size());
        sink.done();
        return true;
      });
    } else {
      res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
        // The final state differs from the cached one (26): handlers get this one.
        const auto line = event("DELETED", full_pod("c", "31"));
        sink.write(line.data(), line.size());
        while (!finished && sink.is_writable()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        sink.done();
        return true;
      });
    }
  });
  server.start();

  std::mutex events_mutex;
  std::vector<std::string> events;
  const auto record = [&](const std::string& what) {
    std::lock_guard lock(events_mutex);
    events.push_back(what);
  };
  InformerHandlers handlers;
  handlers.on_add = [&](const json& o) { record("add " + describe(o)); };
  handlers.on_update = [&](const json& old_object, const json& new_object) {
    record("update " + describe(old_object) + " -> " + describe(new_object));
  };
  if (mode.new_only) {
    handlers.on_update_new_only = [&](const json& new_object) { record("update -> " + describe(new_object)); };
  }
  handlers.on_delete = [&](const json& o) { record("delete " + describe(o)); };
  InformerOptions options;
  options.backoff_base = std::chrono::milliseconds(10);
  options.compact = mode.compact;
  options.metadata_only = mode.metadata_only;
  if (mode.transform) {
    options.transform = [](json& o) {
      drop_managed_fields(o);
      o["metadata"]["annotations"] = {{"transformed", "yes"}};
    };
  }
  Informer informer(real_time_client(server.url()), resources::pods(), "ml", options, handlers);
  std::stop_source stop;
  std::thread runner([&] { CHECK(informer.run(stop.get_token()).ok()); });
  CHECK(informer.wait_for_sync(std::chrono::seconds(5)));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(events_mutex);
      if (events.size() >= 8) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  finished = true;
  stop.request_stop();
  runner.join();

  // What handlers get: the server's object (after the transform), or the
  // cached one for a re-list's deletions (metadata only when so stored).
  const std::string sent = mode.transform ? " spec transformed" : " spec managedFields";
  const std::string cached = mode.metadata_only ? (mode.transform ? " transformed" : "") : sent;
  const std::string update =
      mode.new_only ? "update -> ml/a@25" + sent : "update ml/a@5" + cached + " -> ml/a@25" + sent;
  CHECK(events == std::vector<std::string>{"add ml/a@5" + sent, "add ml/b@6" + sent, "add ml/d@11" + sent,
                                           // re-list after 410: b and d vanished, c appeared, a changed
                                           "delete ml/b@6" + cached, "delete ml/d@11" + cached, "add ml/c@26" + sent,
                                           update,
                                           // watch from the new list's version
                                           "delete ml/c@31" + sent});
  CHECK(informer.list_count() == 2);
  CHECK(informer.size() == 1);
  const auto a = informer.get("ml/a").value();
  CHECK(describe(a) == "ml/a@25" + cached);
  CHECK(informer.resource_version() == "31");
  CHECK(informer.watch_restarts() == 1);  // the 410; the first stream ended normally
  CHECK(informer.list().size() == 1);
  const auto counters = informer.counters();
  CHECK(counters.events == 2);  // d added, c deleted (bookmarks and errors are not applied)
  CHECK(counters.event_bytes == static_cast<std::int64_t>(event("ADDED", full_pod("d", "11")).size() +
                                                          event("DELETED", full_pod("c", "31")).size()));
  CHECK(counters.listed == 4);
  std::lock_guard lock(mutex);
  REQUIRE(requests.size() >= 5);
  CHECK(std::vector<std::string>(requests.begin(), requests.begin() + 5) ==
        std::vector<std::string>{"list@", "watch@10", "watch@20", "list@", "watch@30"});
}

}  // namespace

TEST_CASE("Informer lists, watches, resumes after drops and re-lists on 410") {
  informer_scenario({});
}

TEST_CASE("Informer with a compact store behaves the same") {
  informer_scenario({.compact = true});
}

TEST_CASE("Informer gives on_update the cached old object, and on_update_new_only only the new one") {
  informer_scenario({.compact = true, .new_only = false});
  informer_scenario({.compact = true, .new_only = true});
}

TEST_CASE("Informer transform applies to listed and watched objects alike") {
  informer_scenario({.transform = true});
  informer_scenario({.compact = true, .new_only = true, .transform = true});
}

TEST_CASE("Informer with a metadata-only store gives handlers whole objects and keeps only metadata") {
  informer_scenario({.metadata_only = true});
  informer_scenario({.compact = true, .new_only = true, .metadata_only = true, .transform = true});
}

TEST_CASE("Informer lists page by page with continue tokens") {
  TestServer server;
  std::mutex mutex;
  std::vector<std::string> pages;
  server.http().Get("/api/v1/namespaces/ml/pods", [&](const httplib::Request& req, httplib::Response& res) {
    if (req.has_param("watch")) {
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        sink.done();
        return true;
      });
      return;
    }
    const auto cont = req.get_param_value("continue");
    {
      std::lock_guard lock(mutex);
      pages.push_back(req.get_param_value("limit") + "/" + cont);
    }
    json list = {{"kind", "PodList"}, {"metadata", {{"resourceVersion", "40"}}}, {"items", json::array()}};
    if (cont.empty()) {
      list["items"] = json::array({pod("a", "1"), pod("b", "2")});
      list["metadata"]["continue"] = "page-2";
    } else {
      list["items"] = json::array({pod("c", "3")});
    }
    res.set_content(list.dump(), "application/json");
  });
  server.start();
  InformerOptions options;
  options.page_size = 2;
  options.compact = true;
  Informer informer(real_time_client(server.url()), resources::pods(), "ml", options);
  std::stop_source stop;
  std::thread runner([&] { CHECK(informer.run(stop.get_token()).ok()); });
  CHECK(informer.wait_for_sync(std::chrono::seconds(5)));
  stop.request_stop();
  runner.join();
  CHECK(informer.size() == 3);
  CHECK(informer.get("ml/c").value()["metadata"]["resourceVersion"] == "3");
  CHECK(informer.resource_version() == "40");
  std::lock_guard lock(mutex);
  REQUIRE(pages.size() >= 2);
  CHECK(pages[0] == "2/");
  CHECK(pages[1] == "2/page-2");
}
