#pragma once

// A throwaway PKI made in memory with OpenSSL for TLS tests: a CA, a server
// certificate for chosen names, a client certificate.
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace gpuorch::kube::testing {

struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertDeleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using CertPtr = std::unique_ptr<X509, CertDeleter>;

struct Issued {
  KeyPtr key;
  CertPtr cert;
  [[nodiscard]] std::string cert_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert.get());
    return drain(bio);
  }
  [[nodiscard]] std::string key_pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    return drain(bio);
  }
  static std::string drain(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(size));
    BIO_free(bio);
    return out;
  }
};

inline void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    throw std::runtime_error("X509V3_EXT_conf_nid failed");
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// Issues a certificate; `issuer` null means self-signed (a CA).
inline Issued issue(const std::string& common_name, const Issued* issuer, const std::string& subject_alt_names,
                    bool client) {
  Issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* cert = out.cert.get();
  static long serial = 1;
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, out.key.get());
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert.get() : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert));
  if (issuer == nullptr) {
    add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert, issuer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert, issuer_cert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth");
    if (!subject_alt_names.empty()) {
      add_extension(cert, issuer_cert, NID_subject_alt_name, subject_alt_names.c_str());
    }
  }
  X509_sign(cert, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

struct TestPki {
  Issued ca = issue("gpuorch test CA", nullptr, "", false);
  Issued other_ca = issue("some other CA", nullptr, "", false);
  Issued server = issue("127.0.0.1", &ca, "IP:127.0.0.1,DNS:localhost", false);
  /// Valid only for api.test: reachable at 127.0.0.1 only with tls-server-name.
  Issued named_server = issue("api.test", &ca, "DNS:api.test", false);
  Issued client = issue("alice", &ca, "", true);
};

}  // namespace gpuorch::kube::testing
