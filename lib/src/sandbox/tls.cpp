#include <gpuorch/sandbox/tls.hpp>

#include <memory>
#include <utility>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace gpuorch::sandbox {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Free>;
using CertPtr = std::unique_ptr<X509, Free>;
using BioPtr = std::unique_ptr<BIO, Free>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Free>;

Error ssl_error(const std::string& what) {
  std::string detail;
  const unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    detail = std::string(": ") + buf;
  }
  ERR_clear_error();
  return Error(ErrorCode::internal, "generating the sandbox TLS material: " + what + detail);
}

Result<KeyPtr> new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return ssl_error("EC key generation failed");
  }
  return key;
}

Status add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return ssl_error("adding extension " + value);
  }
  return {};
}

// Builds and signs one certificate. `issuer` null: self-signed (the CA).
Result<CertPtr> build_cert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                           const std::vector<std::pair<int, std::string>>& extensions, std::chrono::hours validity) {
  CertPtr cert(X509_new());
  if (!cert) {
    return ssl_error("X509_new");
  }
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) {
    return ssl_error("RAND_bytes");
  }
  serial[0] &= 0x7F;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  ASN1_INTEGER* asn = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (asn == nullptr) {
    return ssl_error("serial number");
  }
  // Valid from an hour ago: clocks of clients on the same machine may lag.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity.count() * 3600L);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("gpuorch"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  for (const auto& [nid, value] : extensions) {
    GPUORCH_TRY(add_ext(cert.get(), signer, nid, value));
  }
  if (X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) == 0) {
    return ssl_error("signing " + common_name);
  }
  return cert;
}

Result<std::string> cert_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return ssl_error("PEM encoding a certificate");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return ssl_error("PEM encoding a key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

bool is_ip(const std::string& host) {
  return host.find_first_not_of("0123456789.") == std::string::npos || host.find(':') != std::string::npos;
}

}  // namespace

Result<TlsMaterial> generate_tls(const std::vector<std::string>& hosts, std::chrono::hours validity) {
  GPUORCH_ASSIGN_OR_RETURN(KeyPtr ca_key, new_key());
  GPUORCH_ASSIGN_OR_RETURN(KeyPtr key, new_key());

  GPUORCH_ASSIGN_OR_RETURN(CertPtr ca, build_cert(ca_key.get(), "gpuorch-sandbox-ca", nullptr, nullptr,
                                                  {{NID_basic_constraints, "critical,CA:TRUE"},
                                                   {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                                                   {NID_subject_key_identifier, "hash"}},
                                                  validity));
  std::string san;
  for (const std::string& host : hosts) {
    san += (san.empty() ? "" : ",") + std::string(is_ip(host) ? "IP:" : "DNS:") + host;
  }
  std::vector<std::pair<int, std::string>> extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                                                         {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                                                         {NID_ext_key_usage, "serverAuth"},
                                                         {NID_authority_key_identifier, "keyid:always"}};
  if (!san.empty()) {
    extensions.emplace_back(NID_subject_alt_name, san);
  }
  GPUORCH_ASSIGN_OR_RETURN(CertPtr cert,
                           build_cert(key.get(), "gpuorch-sandbox", ca.get(), ca_key.get(), extensions, validity));

  TlsMaterial out;
  GPUORCH_ASSIGN_OR_RETURN(out.ca_cert_pem, cert_pem(ca.get()));
  GPUORCH_ASSIGN_OR_RETURN(out.cert_pem, cert_pem(cert.get()));
  GPUORCH_ASSIGN_OR_RETURN(out.key_pem, key_pem(key.get()));
  return out;
}

}  // namespace gpuorch::sandbox
