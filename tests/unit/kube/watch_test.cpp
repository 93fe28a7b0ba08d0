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

static void informer_scenario(bool compact) {
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
        list["items"] = json::array({pod("a", "5"), pod("b", "6")});
      } else {
        list["metadata"]["resourceVersion"] = "30";
        list["items"] = json::array({pod("a", "25"), pod("c", "26")});
      }
      res.set_content(list.dump(), "application/json");
      return;
    }
    if (rv == "10") {
      // One event, then the connection drops.
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        const auto line = event("ADDED", pod("d", "11"));
        sink.write(line.data(), line.size());
        sink.done();
        return true;
      });
    } else if (rv == "11") {
      res.set_chunked_content_provider("application/json", [](size_t, httplib::DataSink& sink) {
        const auto line = event("ERROR", json{{"kind", "Status"},
                                              {"code", 410},
                                              {"reason", "Expired"},
                                              {"message", "too old resource version: 11 (20)"}});
        sink.write(line.data(), line.size());
        sink.done();
        return true;
      });
    } else {
      res.set_chunked_content_provider("application/json", [&](size_t, httplib::DataSink& sink) {
        const auto line = event("DELETED", pod("c", "31"));
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
  handlers.on_add = [&](const json& o) { record("add " + Informer::key_of(o)); };
  handlers.on_update = [&](const json& old_object, const json& new_object) {
    record("update " + Informer::key_of(new_object) + " " +
           old_object["metadata"]["resourceVersion"].get<std::string>() + "->" +
           new_object["metadata"]["resourceVersion"].get<std::string>());
  };
  handlers.on_delete = [&](const json& o) { record("delete " + Informer::key_of(o)); };
  InformerOptions options;
  options.backoff_base = std::chrono::milliseconds(10);
  options.compact = compact;
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

  CHECK(events == std::vector<std::string>{"add ml/a", "add ml/b", "add ml/d",
                                           // re-list after 410: b and d vanished, c appeared, a changed
                                           "delete ml/b", "delete ml/d", "add ml/c", "update ml/a 5->25",
                                           // watch from the new list's version
                                           "delete ml/c"});
  CHECK(informer.list_count() == 2);
  CHECK(informer.size() == 1);
  CHECK(informer.get("ml/a").value()["metadata"]["resourceVersion"] == "25");
  CHECK(informer.resource_version() == "31");
  CHECK(informer.watch_restarts() == 1);  // the 410; the first stream ended normally
  CHECK(informer.list().size() == 1);
  std::lock_guard lock(mutex);
  REQUIRE(requests.size() >= 5);
  CHECK(std::vector<std::string>(requests.begin(), requests.begin() + 5) ==
        std::vector<std::string>{"list@", "watch@10", "watch@11", "list@", "watch@30"});
}

TEST_CASE("Informer lists, watches, resumes after drops and re-lists on 410") {
  informer_scenario(false);
}

TEST_CASE("Informer with a compact store behaves the same") {
  informer_scenario(true);
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
