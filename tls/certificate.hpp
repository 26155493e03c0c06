#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "tls/key_type.hpp"
#include "tls/openssl_ptr.hpp"

/// One configured certificate: its PEM files loaded, checked and owned (SPEC §2,
/// listeners[].tls.certificates).
namespace tg::tls {

using SystemTime = std::chrono::system_clock::time_point;

struct CertificateLoad;

/// A leaf certificate, the chain served after it, and its private key, verified to belong
/// together. Immutable once loaded; move-only because it owns OpenSSL objects.
class Certificate {
  public:
    /// The files it was loaded from.
    const config::CertificateFiles& files() const { return files_; }
    /// The end-entity certificate (the first in the cert file).
    X509* leaf() const { return leaf_.get(); }
    /// The intermediates that follow the leaf in the file, in order; may be empty.
    STACK_OF(X509) * chain() const { return chain_.get(); }
    /// The private key matching the leaf.
    EVP_PKEY* key() const { return key_.get(); }
    /// RSA or ECDSA.
    KeyType key_type() const { return key_type_; }
    /// Lower-case DNS names from subjectAltName ("*.acme.com" for wildcards); the subject CN
    /// only when subjectAltName holds no DNS name (RFC 6125 §6.4.4).
    const std::vector<std::string>& names() const { return names_; }
    /// The leaf's subject, RFC 2253 style ("CN=erp.acme.com,O=Acme").
    const std::string& subject() const { return subject_; }
    /// The leaf's notBefore.
    SystemTime not_before() const { return not_before_; }
    /// The leaf's notAfter: tenantgate_tls_certificate_expiry_timestamp_seconds.
    SystemTime not_after() const { return not_after_; }

  private:
    friend class CertificateLoader;
    Certificate() = default;

    config::CertificateFiles files_;
    X509Ptr leaf_;
    X509StackPtr chain_;
    EvpPkeyPtr key_;
    KeyType key_type_ = KeyType::rsa;
    std::vector<std::string> names_;
    std::string subject_;
    SystemTime not_before_{};
    SystemTime not_after_{};
};

/// The outcome of loading one cert/key pair: a certificate exactly when `errors` is empty.
struct CertificateLoad {
    std::optional<Certificate> certificate;
    std::vector<std::string> errors;  ///< each starts with the path of the file at fault
};

/// Reads and checks cert/key pairs: both files readable, PEM, an unencrypted RSA or ECDSA key
/// that matches the leaf, and each certificate in the cert file issued by the next one. Never
/// throws. Validity dates are checked separately (validity_errors) because a running proxy
/// serves an expired certificate rather than refuse to start, while `tenantgate check` rejects
/// it.
///
/// One loader serves a whole listener, which is what makes a thousand certificates load in well
/// under a second: OpenSSL 3 sets up its key decoders once per loader instead of once per key,
/// and an intermediate shared by many certificates (one CA's) is parsed and checked once, then
/// shared. Not thread-safe; use one per thread.
class CertificateLoader {
  public:
    CertificateLoader();
    CertificateLoader(const CertificateLoader&) = delete;
    CertificateLoader& operator=(const CertificateLoader&) = delete;
    ~CertificateLoader();

    /// Loads one pair.
    CertificateLoad load(const config::CertificateFiles& files);

  private:
    struct State;
    std::unique_ptr<State> state_;
};

/// One pair with a loader of its own.
CertificateLoad load_certificate(const config::CertificateFiles& files);

/// "<cert file>: certificate expired on 2024-05-01T00:00:00Z" and the like, for the leaf and
/// each chain certificate that is expired or not yet valid at `now`; empty when all are valid.
std::vector<std::string> validity_errors(const Certificate& certificate, SystemTime now);

/// "<cert file>: certificate for erp.acme.com expires in 9 days (2025-01-10T00:00:00Z)" when
/// the leaf is valid at `now` but expires within `window`.
std::optional<std::string> expiry_warning(const Certificate& certificate, SystemTime now,
                                          std::chrono::hours window);

/// "2025-01-10T00:00:00Z".
std::string utc_text(SystemTime time);

}  // namespace tg::tls
