#include "pki_fixture.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <atomic>
#include <fstream>
#include <stdexcept>

namespace tg::tls::test {
namespace {

void require(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

void add_extension(X509* certificate, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    require(extension != nullptr, "extension");
    X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
}

config::CertificateFiles leaf(const TempDir& dir, const std::string& stem, const CertSpec& spec,
                              KeyType type, X509* intermediate, EVP_PKEY* intermediate_key,
                              int rsa_bits = 2048) {
    const EvpPkeyPtr key = make_key(type, rsa_bits);
    const X509Ptr certificate = make_certificate(spec, key.get(), intermediate, intermediate_key);
    config::CertificateFiles files{dir.file(stem + ".pem"), dir.file(stem + ".key")};
    write_certificates(files.cert, {certificate.get(), intermediate});
    write_key(files.key, key.get());
    return files;
}

}  // namespace

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tg-tls-XXXXXX").string();
    require(::mkdtemp(pattern.data()) != nullptr, "mkdtemp");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

EvpPkeyPtr make_key(KeyType type, int rsa_bits) {
    EvpPkeyPtr key(type == KeyType::ecdsa ? EVP_EC_gen("P-256")
                                          : EVP_RSA_gen(static_cast<unsigned>(rsa_bits)));
    require(key != nullptr, "key generation");
    return key;
}

EvpPkeyPtr make_ed25519_key() {
    EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    require(key != nullptr, "Ed25519 key generation");
    return key;
}

X509Ptr make_certificate(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    static std::atomic<std::int64_t> serial{1000};
    X509Ptr certificate(X509_new());
    X509* x = certificate.get();
    require(X509_set_version(x, X509_VERSION_3) == 1, "version");
    ASN1_INTEGER_set_int64(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), static_cast<long>(spec.not_before.count()));
    X509_gmtime_adj(X509_getm_notAfter(x), static_cast<long>(spec.not_after.count()));
    require(X509_set_pubkey(x, key) == 1, "public key");
    X509_NAME* subject = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("tenantgate tests"), -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                               -1, 0);
    X509* signer = issuer != nullptr ? issuer : x;
    require(X509_set_issuer_name(x, X509_get_subject_name(signer)) == 1, "issuer");
    add_extension(x, signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_extension(
        x, signer, NID_key_usage,
        spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment");
    add_extension(x, signer, NID_subject_key_identifier, "hash");
    add_extension(x, signer, NID_authority_key_identifier, "keyid:always");
    if (!spec.dns_names.empty()) {
        std::string names;
        for (const auto& name : spec.dns_names) names += (names.empty() ? "DNS:" : ",DNS:") + name;
        add_extension(x, signer, NID_subject_alt_name, names);
    }
    require(X509_sign(x, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "sign");
    return certificate;
}

void write_certificates(const std::string& path, const std::vector<X509*>& certificates) {
    BioPtr out(BIO_new_file(path.c_str(), "w"));
    require(out != nullptr, "open certificate file");
    for (X509* certificate : certificates)
        require(PEM_write_bio_X509(out.get(), certificate) == 1, "write certificate");
}

void write_key(const std::string& path, EVP_PKEY* key, const std::string& pass_phrase) {
    BioPtr out(BIO_new_file(path.c_str(), "w"));
    require(out != nullptr, "open key file");
    const bool encrypt = !pass_phrase.empty();
    require(PEM_write_bio_PrivateKey(
                out.get(), key, encrypt ? EVP_aes_256_cbc() : nullptr,
                encrypt ? reinterpret_cast<const unsigned char*>(pass_phrase.data()) : nullptr,
                static_cast<int>(pass_phrase.size()), nullptr, nullptr) == 1,
            "write key");
}

void write_traditional_key(const std::string& path, const std::string& pkcs8_path) {
    BioPtr in(BIO_new_file(pkcs8_path.c_str(), "r"));
    EvpPkeyPtr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
    require(key != nullptr, "read key");
    BioPtr out(BIO_new_file(path.c_str(), "w"));
    require(out != nullptr, "open key file");
    if (EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_EC) {
        static const unsigned char prime256v1[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                                   0xce, 0x3d, 0x03, 0x01, 0x07};
        require(PEM_write_bio(out.get(), "EC PARAMETERS", "", prime256v1, sizeof prime256v1) > 0,
                "write parameters");
    }
    require(PEM_write_bio_PrivateKey_traditional(out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                                 nullptr) == 1,
            "write traditional key");
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    require(static_cast<bool>(out), "write text");
}

Pki::Pki() {
    using std::chrono::hours;
    root_key = make_key(KeyType::ecdsa);
    root = make_certificate({"tenantgate test root", {}, true, -hours(48), hours(24 * 3650)},
                            root_key.get(), nullptr, nullptr);
    intermediate_key = make_key(KeyType::ecdsa);
    intermediate =
        make_certificate({"tenantgate test intermediate", {}, true, -hours(48), hours(24 * 1825)},
                         intermediate_key.get(), root.get(), root_key.get());
    root_file = dir.file("root.pem");
    write_certificates(root_file, {root.get()});

    X509* ca = intermediate.get();
    EVP_PKEY* ca_key = intermediate_key.get();
    erp_ecdsa =
        leaf(dir, "erp-ecdsa", {"erp.acme.com", {"erp.acme.com"}}, KeyType::ecdsa, ca, ca_key);
    erp_rsa = leaf(dir, "erp-rsa", {"erp.acme.com", {"erp.acme.com"}}, KeyType::rsa, ca, ca_key);
    wildcard = leaf(dir, "wildcard", {"*.acme.com", {"*.acme.com"}}, KeyType::ecdsa, ca, ca_key);
    fallback = leaf(dir, "default", {"default.example.net", {"default.example.net"}},
                    KeyType::ecdsa, ca, ca_key);
    expired =
        leaf(dir, "expired", {"old.acme.com", {"old.acme.com"}, false, -hours(24 * 30), -hours(24)},
             KeyType::ecdsa, ca, ca_key);
    expiring = leaf(dir, "expiring",
                    {"soon.acme.com", {"soon.acme.com"}, false, -hours(24), hours(24 * 10)},
                    KeyType::ecdsa, ca, ca_key);
    cn_only = leaf(dir, "cn-only", {"Legacy.Acme.com", {}}, KeyType::ecdsa, ca, ca_key);
    weak_rsa =
        leaf(dir, "weak", {"weak.acme.com", {"weak.acme.com"}}, KeyType::rsa, ca, ca_key, 1024);
    mismatched = {erp_ecdsa.cert, wildcard.key};

    // The same leaf, but the intermediate written first.
    {
        BioPtr in(BIO_new_file(erp_ecdsa.cert.c_str(), "r"));
        X509Ptr erp(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
        wrong_order = {dir.file("wrong-order.pem"), erp_ecdsa.key};
        write_certificates(wrong_order.cert, {ca, erp.get()});
    }
    {
        BioPtr in(BIO_new_file(erp_ecdsa.key.c_str(), "r"));
        EvpPkeyPtr key(PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr));
        encrypted_key = {erp_ecdsa.cert, dir.file("encrypted.key")};
        write_key(encrypted_key.key, key.get(), "secret pass phrase");
    }
    {
        const EvpPkeyPtr key = make_ed25519_key();
        const X509Ptr certificate =
            make_certificate({"ed.acme.com", {"ed.acme.com"}}, key.get(), ca, ca_key);
        ed25519 = {dir.file("ed25519.pem"), dir.file("ed25519.key")};
        write_certificates(ed25519.cert, {certificate.get(), ca});
        write_key(ed25519.key, key.get());
    }
}

const Pki& pki() {
    static const Pki shared;
    return shared;
}

std::vector<config::CertificateFiles> many_certificates(const TempDir& dir, std::size_t count) {
    const Pki& shared = pki();
    std::vector<config::CertificateFiles> files;
    files.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        const std::string name = "tenant" + std::to_string(i) + ".example.org";
        files.push_back(leaf(dir, "tenant" + std::to_string(i), {name, {name}}, KeyType::ecdsa,
                             shared.intermediate.get(), shared.intermediate_key.get()));
    }
    return files;
}

}  // namespace tg::tls::test
