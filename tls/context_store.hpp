#pragma once

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/snapshot.hpp"
#include "tls/certificate.hpp"
#include "tls/server_names.hpp"
#include "tls/ticket_keys.hpp"

/// One TLS listener's certificates as OpenSSL contexts, and the SNI choice between them
/// (SPEC §2 listeners[].tls). Built off the data path (start-up, reload), then immutable.
namespace tg::tls {

/// A configured certificate as the metrics (tls_certificate_expiry_timestamp_seconds{cert},
/// SPEC §7) and the admin API show it.
struct CertificateSummary {
    std::string cert_file;  ///< the `cert` path: the metric's `cert` label
    std::string key_file;
    std::vector<std::string> names;
    KeyType key_type = KeyType::rsa;
    std::string subject;
    SystemTime not_before{};
    SystemTime not_after{};
};

class CertificateStore;

/// The outcome of build_store: a store exactly when `errors` is empty.
struct StoreResult {
    std::shared_ptr<const CertificateStore> store;
    std::vector<std::string> errors;  ///< unreadable files, mismatched keys, bad chains, ...
    /// Expired or not-yet-valid certificates. The store serves them anyway: one tenant's lapsed
    /// certificate must not keep every other tenant from starting. `check` treats them as errors.
    std::vector<std::string> validity_errors;
    /// Certificates expiring within expiry_warning_window, and names or certificates that can
    /// never be served.
    std::vector<std::string> warnings;
};

/// How far ahead an expiry is warned about (`tenantgate check`, reload logs).
inline constexpr std::chrono::hours expiry_warning_window{14 * 24};

/// Loads every certificate of `settings` and builds one SSL_CTX per group of certificates served
/// together (one RSA and/or one ECDSA certificate for the same names), plus the front context
/// that chooses among them. Never throws. All stores of the process should share one
/// `ticket_keys`, so sessions resume across listeners and reloads.
StoreResult build_store(const config::TlsSettings& settings, SystemTime now,
                        std::shared_ptr<TicketKeys> ticket_keys);

/// Immutable and shared between worker threads. Connections do not need to keep it alive: each
/// SSL holds a reference to the front context, which owns the SNI table and through it every
/// certificate context (OpenSSL reference counts), so a store can be dropped on reload while
/// its handshakes and connections go on.
class CertificateStore {
  public:
    /// Opaque here: the SNI index and the certificate contexts (context_store.cpp).
    struct Contexts;

    /// Made by build_store, which is the only code that can make a Contexts.
    CertificateStore(std::shared_ptr<const Contexts> contexts, SslCtxPtr front,
                     std::vector<CertificateSummary> certificates);
    CertificateStore(const CertificateStore&) = delete;
    CertificateStore& operator=(const CertificateStore&) = delete;
    ~CertificateStore();

    /// For `boost::asio::ssl::stream<tcp::socket> stream(std::move(socket), store.asio_context())`.
    /// Non-const because Asio's constructor asks for it; it only reads the handle (SSL_new is
    /// thread-safe). Do not change its settings: every connection of the listener shares it.
    boost::asio::ssl::context& asio_context() const { return front_; }
    /// The context every handshake starts on: no certificate of its own; its servername
    /// callback switches the SSL to select(SNI).
    SSL_CTX* front_context() const { return front_.native_handle(); }
    /// The certificate context for a ClientHello's server_name (any case; empty: none sent):
    /// exact name, then wildcard, then default_certificate. Two hash probes at most.
    SSL_CTX* select(std::string_view server_name) const;
    /// The certificates (indices into certificates()) select() would serve for `server_name`.
    CertificateGroup served_for(std::string_view server_name) const;
    /// Every configured certificate, in configuration order.
    const std::vector<CertificateSummary>& certificates() const { return certificates_; }
    /// How many certificate contexts were built (one per distinct group).
    std::size_t context_count() const;

  private:
    std::shared_ptr<const Contexts> contexts_;
    mutable boost::asio::ssl::context front_;
    std::vector<CertificateSummary> certificates_;
};

}  // namespace tg::tls
