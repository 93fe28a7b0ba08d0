#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gpuorch/base/result.hpp>

namespace gpuorch::sandbox {

/// A throw-away certificate authority and a serving certificate it signed,
/// PEM-encoded, generated in memory (never written to disk by the library).
struct TlsMaterial {
  std::string ca_cert_pem;
  std::string cert_pem;  ///< serving certificate
  std::string key_pem;   ///< serving key (PKCS#8)
};

/// Generates an ECDSA P-256 CA and a serving certificate whose subject
/// alternative names are `hosts` (IP addresses and DNS names), valid for
/// `validity` from one hour ago.
Result<TlsMaterial> generate_tls(const std::vector<std::string>& hosts,
                                 std::chrono::hours validity = std::chrono::hours(24 * 365));

}  // namespace gpuorch::sandbox
