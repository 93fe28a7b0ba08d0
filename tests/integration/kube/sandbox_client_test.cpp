// The kube client against the real `gpuorch sandbox` process: HTTPS with the
// sandbox's generated CA and token, read from the kubeconfig it writes.
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/informer.hpp>
#include <gpuorch/kube/rest_config.hpp>

#include <chrono>
#include <mutex>
#include <thread>

#include <doctest/doctest.h>

#include "integration/sandbox_process.hpp"

using gpuorch::ErrorCode;
using namespace gpuorch::kube;
using nlohmann::json;

namespace {

gpuorch::testing::SandboxProcess& sandbox() {
  static gpuorch::testing::SandboxProcess instance({"--nodes", "5"});
  return instance;
}

json lease(const std::string& name, const std::string& holder) {
  return json{{"apiVersion", "coordination.k8s.io/v1"},
              {"kind", "Lease"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec", {{"holderIdentity", holder}, {"leaseDurationSeconds", 15}}}};
}

}  // namespace

TEST_CASE("sandbox: the kubeconfig it writes works over verified HTTPS with its token") {
  const auto config = sandbox().config();
  CHECK(config.server.rfind("https://127.0.0.1:", 0) == 0);
  CHECK(!config.ca_pem.empty());
  CHECK(!config.bearer_token.empty());
  Request request;
  request.path = "/version";
  auto version = sandbox().client()->send(request);
  REQUIRE_MESSAGE(version.ok(), (version.ok() ? "" : version.error().message()));
}

TEST_CASE("sandbox: paging through nodes") {
  ListOptions options;
  options.limit = 2;
  auto nodes = sandbox().client()->list_all(resources::nodes(), "", options);
  REQUIRE_MESSAGE(nodes.ok(), (nodes.ok() ? "" : nodes.error().message()));
  CHECK((*nodes)["items"].size() == 5);
}

TEST_CASE("sandbox: create, conflicts, patches, apply, dry-run and delete preconditions") {
  auto client = sandbox().client();
  const auto gvr = resources::leases();
  auto created = client->create(gvr, "default", lease("crud", "a"));
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message()));
  const auto uid = (*created)["metadata"]["uid"].get<std::string>();
  const auto rv = (*created)["metadata"]["resourceVersion"].get<std::string>();

  auto again = client->create(gvr, "default", lease("crud", "a"));
  REQUIRE(!again.ok());
  CHECK(again.error().code() == ErrorCode::conflict);
  CHECK(again.error().reason() == "AlreadyExists");

  auto update = *created;
  update["spec"]["holderIdentity"] = "b";
  CHECK(client->update(gvr, "default", update).ok());
  auto stale = client->update(gvr, "default", update);  // still carries the old resourceVersion
  REQUIRE(!stale.ok());
  CHECK(stale.error().code() == ErrorCode::conflict);
  CHECK(stale.error().reason() == "Conflict");

  CHECK(client->patch(gvr, "default", "crud", PatchType::merge, R"({"spec":{"holderIdentity":"c"}})").ok());
  CHECK(client
            ->patch(gvr, "default", "crud", PatchType::json,
                    R"([{"op":"replace","path":"/spec/leaseDurationSeconds","value":30}])")
            .ok());
  auto got = client->get(gvr, "default", "crud").value_or_throw();
  CHECK(got["spec"]["holderIdentity"] == "c");
  CHECK(got["spec"]["leaseDurationSeconds"] == 30);
  CHECK(got["metadata"]["resourceVersion"] != rv);

  WriteOptions apply;
  apply.field_manager = "gpuorch-test";
  apply.force = true;
  CHECK(client->apply(gvr, "default", lease("crud", "d"), apply).ok());
  CHECK(client->get(gvr, "default", "crud").value_or_throw()["spec"]["holderIdentity"] == "d");

  WriteOptions dry;
  dry.dry_run = true;
  CHECK(client->create(gvr, "default", lease("dry", "x"), dry).ok());
  CHECK(client->get(gvr, "default", "dry").error().code() == ErrorCode::not_found);

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "not-" + uid;
  auto refused = client->remove(gvr, "default", "crud", wrong_uid);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code() == ErrorCode::conflict);

  DeleteOptions right_uid;
  right_uid.precondition_uid = uid;
  CHECK(client->remove(gvr, "default", "crud", right_uid).ok());
  auto gone = client->get(gvr, "default", "crud");
  REQUIRE(!gone.ok());
  CHECK(gone.error().code() == ErrorCode::not_found);
  CHECK(gone.error().message() == "leases.coordination.k8s.io \"crud\" not found");
}

namespace {

// Creates, updates and deletes one Lease under an informer configured by
// `options`; returns what its handlers saw, and checks what it stored.
std::vector<std::string> follow_one_lease(const std::string& name, InformerOptions options, bool new_only) {
  auto client = sandbox().client();
  std::mutex mutex;
  std::vector<std::string> events;
  const auto record = [&](const std::string& what) {
    std::lock_guard lock(mutex);
    events.push_back(what);
  };
  InformerHandlers handlers;
  handlers.on_add = [&](const json& o) { record("add " + Informer::key_of(o)); };
  const auto updated = [&](const json& o) {
    record("update " + Informer::key_of(o) + " " + o["spec"]["holderIdentity"].get<std::string>());
  };
  if (new_only) {
    handlers.on_update_new_only = updated;
  } else {
    handlers.on_update = [&](const json&, const json& o) { updated(o); };
  }
  handlers.on_delete = [&](const json& o) { record("delete " + Informer::key_of(o)); };
  options.field_selector = "metadata.name=" + name;
  Informer informer(client, resources::leases(), "default", options, handlers);
  std::stop_source stop;
  std::thread runner([&] { (void)informer.run(stop.get_token()); });
  REQUIRE(informer.wait_for_sync(std::chrono::seconds(10)));

  const auto gvr = resources::leases();
  const auto wait_for = [&](std::size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(mutex);
        if (events.size() >= n) {
          return;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  REQUIRE(client->create(gvr, "default", lease(name, "one")).ok());
  REQUIRE(client->patch(gvr, "default", name, PatchType::merge, R"({"spec":{"holderIdentity":"two"}})").ok());
  wait_for(2);
  // What the cache holds of it: the whole object, or its metadata only.
  const auto cached = informer.get("default/" + name);
  REQUIRE(cached.has_value());
  CHECK(cached->contains("spec") == !options.metadata_only);
  CHECK((*cached)["metadata"]["name"] == name);
  CHECK(!(*cached)["metadata"].value("resourceVersion", "").empty());
  REQUIRE(client->remove(gvr, "default", name).ok());
  wait_for(3);
  stop.request_stop();
  runner.join();
  std::lock_guard lock(mutex);
  return events;
}

}  // namespace

TEST_CASE("sandbox: an informer follows creates, updates and deletes") {
  CHECK(follow_one_lease("watched", {}, false) ==
        std::vector<std::string>{"add default/watched", "update default/watched two", "delete default/watched"});
}

TEST_CASE("sandbox: a metadata-only informer hands whole objects to its handlers") {
  InformerOptions options;
  options.compact = true;
  options.metadata_only = true;
  options.transform = drop_managed_fields;
  CHECK(follow_one_lease("watched-metadata", options, true) ==
        std::vector<std::string>{"add default/watched-metadata", "update default/watched-metadata two",
                                 "delete default/watched-metadata"});
}

TEST_CASE("sandbox: a wrong token and a wrong CA are reported clearly") {
  auto config = sandbox().config();
  config.bearer_token = "wrong";
  config.context_name = "gpuorch-sandbox";
  config.user_name = "gpuorch-sandbox";
  auto unauthorized = Client::create(config, {}, Environment({})).value_or_throw()->list(resources::nodes(), "");
  REQUIRE(!unauthorized.ok());
  CHECK(unauthorized.error().code() == ErrorCode::auth);
  CHECK(unauthorized.error().message().rfind(
            "You must be logged in to the server: it did not accept the credentials of user \"gpuorch-sandbox\" in "
            "context \"gpuorch-sandbox\"",
            0) == 0);

  auto untrusted = sandbox().config();
  untrusted.ca_pem.clear();  // the system roots do not know the sandbox's CA
  auto result = Client::create(untrusted, {}, Environment({})).value_or_throw()->list(resources::nodes(), "");
  REQUIRE(!result.ok());
  CHECK(result.error().reason() == "TLSVerify");
}
