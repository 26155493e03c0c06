#pragma once

#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "tls/certificate.hpp"

/// `tenantgate check` for one TLS listener (SPEC §1).
namespace tg::tls {

/// Everything build_store would refuse (unreadable files, not PEM, key mismatch, chain order,
/// certificates OpenSSL rejects) plus, unlike a running proxy, expired and not-yet-valid
/// certificates. Appends to `warnings` certificates expiring within 14 days ("... expires in 9
/// days (...)") and names that can never be served. Returns the errors; each names its file.
std::vector<std::string> check_listener_tls(const config::TlsSettings& settings, SystemTime now,
                                            std::vector<std::string>& warnings);

}  // namespace tg::tls
