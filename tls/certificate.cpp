#include "tls/certificate.hpp"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <limits>
#include <unordered_map>

#include "tls/file_bytes.hpp"
#include "tls/openssl_error.hpp"
#include "tls/pem_blocks.hpp"

namespace tg::tls {
namespace {

/// notAfter values such as 99991231235959Z (RFC 5280 §4.1.2.5: "no expiration") are beyond
/// what system_clock's nanoseconds can hold; they become time_point::max().
SystemTime to_time_point(const ASN1_TIME* time) {
    std::tm parts{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return SystemTime{};
    const std::time_t since_epoch = timegm(&parts);
    using std::chrono::seconds;
    const auto limit = std::chrono::duration_cast<seconds>(SystemTime::duration::max()).count();
    if (since_epoch >= limit) return SystemTime::max();
    if (since_epoch <= -limit) return SystemTime::min();
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(seconds(since_epoch)));
}

std::string subject_of(X509* certificate) {
    BioPtr out(BIO_new(BIO_s_mem()));
    if (!out ||
        X509_NAME_print_ex(out.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253) < 0)
        return "?";
    char* data = nullptr;
    const long length = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(length));
}

/// Lower-cased, without a trailing dot; empty when it holds a NUL (a forged-name trick).
std::string dns_name(const unsigned char* data, int length) {
    std::string name(reinterpret_cast<const char*>(data), static_cast<std::size_t>(length));
    if (name.find('\0') != std::string::npos) return {};
    if (!name.empty() && name.back() == '.') name.pop_back();
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
        return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    });
    return name;
}

std::vector<std::string> names_of(X509* leaf) {
    std::vector<std::string> names;
    const auto add = [&](std::string name) {
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
            names.push_back(std::move(name));
    };
    if (auto* alternatives = static_cast<GENERAL_NAMES*>(
            X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr))) {
        for (int i = 0; i < sk_GENERAL_NAME_num(alternatives); ++i) {
            const GENERAL_NAME* entry = sk_GENERAL_NAME_value(alternatives, i);
            if (entry->type != GEN_DNS) continue;
            add(dns_name(ASN1_STRING_get0_data(entry->d.dNSName),
                         ASN1_STRING_length(entry->d.dNSName)));
        }
        GENERAL_NAMES_free(alternatives);
    }
    if (!names.empty()) return names;
    // The most specific (last) CN, as browsers did before they dropped CN matching.
    const X509_NAME* subject = X509_get_subject_name(leaf);
    int last = -1;
    for (int at = -1; (at = X509_NAME_get_index_by_NID(subject, NID_commonName, at)) >= 0;)
        last = at;
    if (last >= 0) {
        const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last));
        add(dns_name(ASN1_STRING_get0_data(cn), ASN1_STRING_length(cn)));
    }
    ERR_clear_error();  // a missing extension leaves an entry on the queue
    return names;
}

std::optional<KeyType> key_type_of(EVP_PKEY* key) {
    switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
            return KeyType::rsa;
        case EVP_PKEY_EC:
            return KeyType::ecdsa;
        default:
            return std::nullopt;
    }
}

std::string read_error(const std::string& what, int error) {
    if (error == EFBIG)
        return "cannot read " + what + ": larger than " +
               std::to_string(max_tls_file_bytes / 1024) + " KiB";
    return "cannot read " + what + ": " + std::strerror(error);
}

/// Each certificate must be issued by the one after it: clients rebuild the path from what is
/// sent, and many (Java, older Android, curl with some backends) fail on a shuffled chain.
void check_chain_order(const std::vector<X509Ptr>& certificates, const std::string& path,
                       std::vector<std::string>& errors) {
    for (std::size_t i = 0; i + 1 < certificates.size(); ++i) {
        const int result = X509_check_issued(certificates[i + 1].get(), certificates[i].get());
        if (result == X509_V_OK) continue;
        errors.push_back(path + ": chain order is wrong: certificate " + std::to_string(i + 1) +
                         " (" + subject_of(certificates[i].get()) +
                         ") is not issued by certificate " + std::to_string(i + 2) + " (" +
                         subject_of(certificates[i + 1].get()) +
                         "); put the leaf first, then each issuer in turn");
    }
    ERR_clear_error();
}

std::string days_text(std::chrono::hours left) {
    const auto days = left.count() / 24;
    if (days == 0) return "in less than a day";
    return "in " + std::to_string(days) + (days == 1 ? " day" : " days");
}

bool is_certificate(const PemBlock& block) {
    return block.name == "CERTIFICATE" || block.name == "X509 CERTIFICATE";
}

bool is_private_key(const PemBlock& block) {
    return block.name.ends_with("PRIVATE KEY");
}

}  // namespace

/// OpenSSL state kept across the loads of one listener.
struct CertificateLoader::State {
    EVP_PKEY* decoded = nullptr;  ///< where key_decoder puts each key it decodes
    /// DER in, any structure (PKCS#8, PKCS#1, SEC1), any key type: the same decoder chain for
    /// every key, built once (building it is most of what PEM_read_bio_PrivateKey costs).
    OSSL_DECODER_CTX* key_decoder = nullptr;
    /// Chain certificates already parsed, by DER: most certificates of a listener share one or
    /// two intermediates, which then exist once in memory.
    std::unordered_map<std::string, X509Ptr> issuers;

    State()
        : key_decoder(OSSL_DECODER_CTX_new_for_pkey(&decoded, "DER", nullptr, nullptr,
                                                    EVP_PKEY_KEYPAIR, nullptr, nullptr)) {}
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        OSSL_DECODER_CTX_free(key_decoder);
        EVP_PKEY_free(decoded);
    }

    EvpPkeyPtr decode_key(const std::string& der) {
        if (key_decoder == nullptr) return nullptr;
        const auto* data = reinterpret_cast<const unsigned char*>(der.data());
        std::size_t length = der.size();
        const bool ok = OSSL_DECODER_from_data(key_decoder, &data, &length) == 1;
        EvpPkeyPtr key(decoded);
        decoded = nullptr;
        if (!ok) key.reset();
        return key;
    }

    /// The certificate at `position` (0: the leaf) of a cert file.
    X509Ptr decode_certificate(const std::string& der, std::size_t position) {
        if (position > 0) {
            if (const auto known = issuers.find(der); known != issuers.end()) {
                X509_up_ref(known->second.get());
                return X509Ptr(known->second.get());
            }
        }
        const auto* data = reinterpret_cast<const unsigned char*>(der.data());
        X509Ptr certificate(d2i_X509(nullptr, &data, static_cast<long>(der.size())));
        if (certificate && position > 0) {
            X509_up_ref(certificate.get());
            issuers.emplace(der, X509Ptr(certificate.get()));
        }
        return certificate;
    }

    /// The certificates of a cert file, leaf first; `problem` says why there are none.
    std::vector<X509Ptr> certificates_from(const std::string& pem, std::string& problem) {
        std::vector<X509Ptr> certificates;
        for (const PemBlock& block : read_pem_blocks(pem, problem)) {
            if (!is_certificate(block)) continue;
            X509Ptr certificate = decode_certificate(block.der, certificates.size());
            if (!certificate) {
                problem = "PEM certificate " + std::to_string(certificates.size() + 1) +
                          " is not a valid X.509 certificate: " + take_openssl_errors();
                return {};
            }
            certificates.push_back(std::move(certificate));
        }
        if (problem.empty() && certificates.empty())
            problem = "not a PEM certificate (no \"-----BEGIN CERTIFICATE-----\" block)";
        if (!problem.empty()) certificates.clear();
        return certificates;
    }

    /// The first private key of a key file; null with `problem` set when there is none.
    EvpPkeyPtr key_from(const std::string& pem, std::string& problem) {
        const std::vector<PemBlock> blocks = read_pem_blocks(pem, problem);
        if (!problem.empty()) return nullptr;
        const auto block = std::find_if(blocks.begin(), blocks.end(), is_private_key);
        if (block == blocks.end()) {
            problem = blocks.empty()
                          ? "not a PEM private key (no \"-----BEGIN ... PRIVATE KEY-----\" block)"
                          : "no PEM private key in it (found " + blocks.front().name + ")";
            return nullptr;
        }
        if (block->encrypted || block->name == "ENCRYPTED PRIVATE KEY") {
            problem = "the private key is encrypted; tenantgate needs it unencrypted";
            return nullptr;
        }
        EvpPkeyPtr key = decode_key(block->der);
        if (!key) problem = "cannot decode the private key: " + take_openssl_errors();
        return key;
    }
};

CertificateLoader::CertificateLoader() : state_(std::make_unique<State>()) {}

CertificateLoader::~CertificateLoader() = default;

CertificateLoad CertificateLoader::load(const config::CertificateFiles& files) {
    CertificateLoad result;
    auto& errors = result.errors;
    const FileBytes cert_file = read_file_bytes(files.cert);
    const FileBytes key_file = read_file_bytes(files.key);
    if (cert_file.error != 0)
        errors.push_back(files.cert + ": " + read_error("certificate", cert_file.error));
    if (key_file.error != 0)
        errors.push_back(files.key + ": " + read_error("private key", key_file.error));
    if (!errors.empty()) return result;

    std::string problem;
    std::vector<X509Ptr> certificates = state_->certificates_from(cert_file.data, problem);
    if (!problem.empty()) errors.push_back(files.cert + ": " + problem);
    problem.clear();
    EvpPkeyPtr key = state_->key_from(key_file.data, problem);
    if (!problem.empty()) errors.push_back(files.key + ": " + problem);
    ERR_clear_error();
    if (certificates.empty() || !key) return result;

    X509* leaf = certificates.front().get();
    const auto key_type = key_type_of(key.get());
    if (!key_type) {
        errors.push_back(files.key + ": unsupported key type " +
                         EVP_PKEY_get0_type_name(key.get()) + " (RSA or ECDSA expected)");
    } else if (X509_check_private_key(leaf, key.get()) != 1) {
        // A key that fits a later certificate means the file starts with the wrong one.
        std::size_t owner = 1;
        while (owner < certificates.size() &&
               X509_check_private_key(certificates[owner].get(), key.get()) != 1)
            ++owner;
        errors.push_back(owner < certificates.size()
                             ? files.key + ": private key belongs to certificate " +
                                   std::to_string(owner + 1) + " in " + files.cert +
                                   ", not to the first: the leaf must come first"
                             : files.key + ": private key does not match the certificate in " +
                                   files.cert + " (" + subject_of(leaf) + ")");
    }
    ERR_clear_error();
    check_chain_order(certificates, files.cert, errors);
    if (!errors.empty()) return result;

    Certificate loaded;
    loaded.files_ = files;
    loaded.key_type_ = *key_type;
    loaded.names_ = names_of(leaf);
    loaded.subject_ = subject_of(leaf);
    loaded.not_before_ = to_time_point(X509_get0_notBefore(leaf));
    loaded.not_after_ = to_time_point(X509_get0_notAfter(leaf));
    loaded.chain_.reset(sk_X509_new_null());
    for (std::size_t i = 1; i < certificates.size(); ++i) {
        if (!loaded.chain_ || sk_X509_push(loaded.chain_.get(), certificates[i].get()) <= 0) {
            errors.push_back(files.cert + ": out of memory: " + take_openssl_errors());
            return result;
        }
        certificates[i].release();  // the stack owns it now
    }
    loaded.leaf_ = std::move(certificates.front());
    loaded.key_ = std::move(key);
    result.certificate = std::move(loaded);
    return result;
}

CertificateLoad load_certificate(const config::CertificateFiles& files) {
    return CertificateLoader().load(files);
}

std::vector<std::string> validity_errors(const Certificate& certificate, SystemTime now) {
    std::vector<std::string> errors;
    const std::string& path = certificate.files().cert;
    // position 0: the leaf; the subject is formatted only for a message.
    const auto check = [&](X509* x509, int position) {
        const SystemTime not_before = to_time_point(X509_get0_notBefore(x509));
        const SystemTime not_after = to_time_point(X509_get0_notAfter(x509));
        if (not_after >= now && not_before <= now) return;
        const std::string which = position == 0
                                      ? "certificate"
                                      : "chain certificate " + std::to_string(position + 1) + " (" +
                                            subject_of(x509) + ")";
        errors.push_back(path + ": " + which +
                         (not_after < now ? " expired on " + utc_text(not_after)
                                          : " is not valid before " + utc_text(not_before)));
    };
    check(certificate.leaf(), 0);
    for (int i = 0; i < sk_X509_num(certificate.chain()); ++i)
        check(sk_X509_value(certificate.chain(), i), i + 1);
    return errors;
}

std::optional<std::string> expiry_warning(const Certificate& certificate, SystemTime now,
                                          std::chrono::hours window) {
    const SystemTime not_after = certificate.not_after();
    if (not_after < now || not_after - now >= window) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::hours>(not_after - now);
    const std::string name =
        certificate.names().empty() ? certificate.subject() : certificate.names().front();
    return certificate.files().cert + ": certificate for " + name + " expires " + days_text(left) +
           " (" + utc_text(not_after) + ")";
}

std::string utc_text(SystemTime time) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm parts{};
    char text[32] = "?";
    if (gmtime_r(&seconds, &parts) != nullptr)
        std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

}  // namespace tg::tls
