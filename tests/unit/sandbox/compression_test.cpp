#include <gpuorch/sandbox/compression.hpp>

#include <string>

#include <doctest/doctest.h>
#include <httplib.h>

#include <gpuorch/sandbox/sandbox.hpp>
#include <nlohmann/json.hpp>

using gpuorch::sandbox::accepts_gzip;
using gpuorch::sandbox::gzip_compress;
using gpuorch::sandbox::gzip_decompress;
using gpuorch::sandbox::k_gzip_threshold_bytes;
using gpuorch::sandbox::response_encoding;
using nlohmann::json;

TEST_CASE("accepts_gzip reads Accept-Encoding the way kube-apiserver does") {
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("deflate, gzip"));
  CHECK(accepts_gzip(" br ,\tgzip\t, zstd"));
  CHECK(accepts_gzip("gzip,deflate"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("br, zstd, deflate"));
  CHECK_FALSE(accepts_gzip("x-gzip"));
  CHECK_FALSE(accepts_gzip("gzipped"));
  CHECK_FALSE(accepts_gzip("*"));
  // kube-apiserver compares whole tokens, so a token with parameters is not "gzip".
  CHECK_FALSE(accepts_gzip("gzip;q=1.0"));
}

TEST_CASE("response_encoding compresses only bodies of 128 KiB and more") {
  CHECK(k_gzip_threshold_bytes == 131072);
  CHECK(response_encoding("gzip", 0).empty());
  CHECK(response_encoding("gzip", 600).empty());
  CHECK(response_encoding("gzip", k_gzip_threshold_bytes - 1).empty());
  CHECK(response_encoding("gzip", k_gzip_threshold_bytes) == "gzip");
  CHECK(response_encoding("deflate, gzip", 10 * k_gzip_threshold_bytes) == "gzip");
  CHECK(response_encoding("br", 10 * k_gzip_threshold_bytes).empty());
  CHECK(response_encoding("", 10 * k_gzip_threshold_bytes).empty());
}

TEST_CASE("gzip_compress writes a gzip stream that gzip_decompress reads back") {
  std::string data;
  for (int i = 0; i < 20000; ++i) {
    data += R"({"name":"item-)" + std::to_string(i) + R"(","gpus":)" + std::to_string(i % 8) + "},";
  }
  const auto compressed = gzip_compress(data);
  REQUIRE(compressed.ok());
  REQUIRE(compressed->size() > 10);
  CHECK(static_cast<unsigned char>((*compressed)[0]) == 0x1f);  // the gzip magic (RFC 1952)
  CHECK(static_cast<unsigned char>((*compressed)[1]) == 0x8b);
  CHECK(compressed->size() < data.size() / 4);
  const auto back = gzip_decompress(*compressed);
  REQUIRE(back.ok());
  CHECK(*back == data);

  const auto empty = gzip_compress("");
  REQUIRE(empty.ok());
  CHECK(gzip_decompress(*empty).value_or("x").empty());

  SUBCASE("truncated, corrupt or followed by other data, the stream is rejected") {
    CHECK_FALSE(gzip_decompress(compressed->substr(0, compressed->size() / 2)).ok());
    CHECK_FALSE(gzip_decompress(data).ok());
    CHECK_FALSE(gzip_decompress(*compressed + "trailing").ok());
  }
}

namespace {

struct PlainSandbox {
  gpuorch::sandbox::Sandbox sandbox{[] {
    gpuorch::sandbox::SandboxOptions options;
    options.server.tls = false;
    options.cluster.pools.clear();
    return options;
  }()};
  PlainSandbox() { REQUIRE(sandbox.start().ok()); }
  ~PlainSandbox() { (void)sandbox.stop(); }

  /// GET with the given Accept-Encoding; the body exactly as it came over the wire.
  httplib::Result get(const std::string& path, const std::string& accept_encoding) {
    httplib::Client client("127.0.0.1", sandbox.port());
    client.set_decompress(false);
    httplib::Headers headers{{"Authorization", "Bearer " + sandbox.token()}};
    if (!accept_encoding.empty()) {
      headers.emplace("Accept-Encoding", accept_encoding);
    }
    return client.Get(path, headers);
  }
};

}  // namespace

TEST_CASE("the sandbox sends small responses plain and gzips large ones, like kube-apiserver") {
  PlainSandbox s;
  auto& store = s.sandbox.store();
  const auto type = store.find_type("", "v1", "configmaps");
  REQUIRE(type.has_value());

  SUBCASE("a small object is not compressed, whatever the client offers") {
    for (const char* offer : {"gzip", "gzip, deflate, br, zstd", "br"}) {
      CAPTURE(offer);
      auto res = s.get("/api/v1/namespaces/default", offer);
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK_FALSE(res->has_header("Content-Encoding"));
      CHECK(res->get_header_value("Content-Type") == "application/json");
      CHECK(res->get_header_value("Content-Length") == std::to_string(res->body.size()));
      CHECK(json::parse(res->body)["metadata"]["name"] == "default");
    }
  }

  SUBCASE("a small error is not compressed either") {
    auto res = s.get("/api/v1/namespaces/default/configmaps/missing", "gzip, br");
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK_FALSE(res->has_header("Content-Encoding"));
    CHECK(json::parse(res->body)["reason"] == "NotFound");
  }

  SUBCASE("a list of more than 128 KiB is gzipped when the client offers gzip, and only then") {
    const std::string filler(1000, 'x');
    for (int i = 0; i < 200; ++i) {
      json cm = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata", {{"name", "cm-" + std::to_string(i)}}},
                 {"data", {{"filler", filler}}}};
      REQUIRE(store.create(*type, "default", cm).ok());
    }
    const std::string path = "/api/v1/namespaces/default/configmaps";

    auto plain = s.get(path, "");
    REQUIRE(plain);
    CHECK(plain->status == 200);
    CHECK_FALSE(plain->has_header("Content-Encoding"));
    REQUIRE(plain->body.size() >= k_gzip_threshold_bytes);
    CHECK(json::parse(plain->body)["items"].size() == 200);

    auto gzipped = s.get(path, "gzip");
    REQUIRE(gzipped);
    CHECK(gzipped->status == 200);
    CHECK(gzipped->get_header_value("Content-Encoding") == "gzip");
    CHECK(gzipped->get_header_value("Vary") == "Accept-Encoding");
    CHECK(gzipped->get_header_value("Content-Type") == "application/json");
    CHECK(gzipped->get_header_value("Content-Length") == std::to_string(gzipped->body.size()));
    CHECK(gzipped->body.size() < plain->body.size() / 4);
    const auto body = gzip_decompress(gzipped->body);
    REQUIRE(body.ok());
    CHECK(json::parse(*body)["items"].size() == 200);

    // kube-apiserver serves no other encoding: brotli or zstd alone get the plain body.
    auto br = s.get(path, "br, zstd");
    REQUIRE(br);
    CHECK_FALSE(br->has_header("Content-Encoding"));
    CHECK(br->body.size() == plain->body.size());
  }
}
