#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "config/snapshot.hpp"
#include "tls/key_type.hpp"
#include "tls/openssl_ptr.hpp"

/// A throwaway PKI for the tls/ tests, generated with OpenSSL's C API into a temporary
/// directory: root CA → intermediate CA → leaf certificates.
namespace tg::tls::test {

/// A directory removed with everything in it when the object goes.
class TempDir {
  public:
    TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();
    const std::filesystem::path& path() const { return path_; }
    /// `name` inside the directory, as a string for config::CertificateFiles.
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

/// What a generated certificate says; validity is relative to the real clock at generation.
struct CertSpec {
    std::string common_name;
    std::vector<std::string> dns_names;  ///< subjectAltName; empty: no extension at all
    bool ca = false;
    std::chrono::seconds not_before = -std::chrono::hours(1);
    std::chrono::seconds not_after = std::chrono::hours(24 * 90);
};

/// A fresh key: P-256 for ECDSA, `rsa_bits` for RSA.
EvpPkeyPtr make_key(KeyType type, int rsa_bits = 2048);
/// A fresh Ed25519 key (a type tenantgate refuses).
EvpPkeyPtr make_ed25519_key();
/// A certificate for `key` signed by `issuer_key` (self-signed when `issuer` is null).
X509Ptr make_certificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key);
/// Writes the certificates as PEM, in the order given.
void write_certificates(const std::string& path, const std::vector<X509*>& certificates);
/// Writes `key` as unencrypted PKCS#8 PEM, or encrypted with `pass_phrase` when not empty.
void write_key(const std::string& path, EVP_PKEY* key, const std::string& pass_phrase = {});
/// Rewrites the PKCS#8 key at `pkcs8_path` into `path` in its type's own format: PKCS#1
/// ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", after an "EC PARAMETERS" block, as
/// `openssl ecparam -genkey` writes it).
void write_traditional_key(const std::string& path, const std::string& pkcs8_path);
/// Writes `text` to `path`, replacing it.
void write_text(const std::string& path, const std::string& text);

/// Keys and certificates generated once per test run and shared by every test.
struct Pki {
    Pki();

    TempDir dir;
    EvpPkeyPtr root_key;
    X509Ptr root;
    EvpPkeyPtr intermediate_key;
    X509Ptr intermediate;
    std::string root_file;  ///< the root CA alone, for clients' trust stores

    // Leaf certificates, each file holding leaf then intermediate (a chain of two).
    config::CertificateFiles erp_ecdsa;      ///< erp.acme.com, P-256
    config::CertificateFiles erp_rsa;        ///< erp.acme.com, RSA 2048
    config::CertificateFiles wildcard;       ///< *.acme.com, P-256
    config::CertificateFiles fallback;       ///< default.example.net, P-256
    config::CertificateFiles expired;        ///< old.acme.com, expired yesterday
    config::CertificateFiles expiring;       ///< soon.acme.com, expires in 10 days
    config::CertificateFiles mismatched;     ///< erp_ecdsa's cert with wildcard's key
    config::CertificateFiles wrong_order;    ///< intermediate first, then the leaf
    config::CertificateFiles cn_only;        ///< no subjectAltName, CN=Legacy.Acme.com
    config::CertificateFiles weak_rsa;       ///< weak.acme.com, RSA 1024 (below security level 2)
    config::CertificateFiles encrypted_key;  ///< erp_ecdsa's cert, key encrypted
    config::CertificateFiles ed25519;        ///< ed.acme.com with an Ed25519 key
};

/// The shared PKI, built on first use.
const Pki& pki();

/// `count` P-256 certificates for tenant<i>.example.org under the shared intermediate, written
/// into `dir`: the listener configuration for them.
std::vector<config::CertificateFiles> many_certificates(const TempDir& dir, std::size_t count);

}  // namespace tg::tls::test
