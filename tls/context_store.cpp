#include "tls/context_store.hpp"

#include <cassert>

#include "tls/context_attachment.hpp"
#include "tls/context_policy.hpp"
#include "tls/openssl_error.hpp"

namespace tg::tls {

/// What the servername callback needs, owned by the front context (see ContextAttachment).
struct CertificateStore::Contexts {
    ServerNameIndex index;
    std::vector<SslCtxPtr> by_group;  ///< parallel to index.groups()

    SSL_CTX* select(std::string_view server_name) const {
        return by_group[index.find(server_name)].get();
    }
};

namespace {

using Contexts = CertificateStore::Contexts;

/// Runs for every ClientHello, with or without SNI (OpenSSL >= 1.1.1), before the cipher and
/// the certificate are chosen. An unknown name is not an error: the default certificate is
/// served, as nginx and HAProxy do. After a HelloRetryRequest it runs again and finds the
/// connection already switched.
int on_server_name(SSL* ssl, int* alert, void* argument) {
    const auto* contexts = static_cast<const Contexts*>(argument);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX* chosen = contexts->select(name == nullptr ? std::string_view() : name);
    if (chosen != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, chosen) == nullptr) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

CertificateSummary summarize(const Certificate& certificate) {
    return {certificate.files().cert, certificate.files().key, certificate.names(),
            certificate.key_type(),   certificate.subject(),   certificate.not_before(),
            certificate.not_after()};
}

void check_settings(const config::TlsSettings& settings, std::vector<std::string>& errors) {
    if (!protocol_version(settings.min_version))
        errors.push_back("min_version \"" + settings.min_version +
                         "\": must be \"1.2\" or \"1.3\"");
    if (settings.certificates.empty()) {
        errors.push_back("no certificates: a TLS listener needs at least one");
    } else if (settings.default_certificate >= settings.certificates.size()) {
        errors.push_back("default_certificate " + std::to_string(settings.default_certificate) +
                         " is out of range (" + std::to_string(settings.certificates.size()) +
                         " certificates)");
    }
}

/// Offers every loaded certificate to OpenSSL once, so what it alone refuses (a key too weak for
/// security level 2, a SHA-1 signature) is reported along with every other error.
void check_acceptable(const std::vector<Certificate>& certificates, int min_version,
                      const std::shared_ptr<TicketKeys>& ticket_keys,
                      std::vector<std::string>& errors) {
    std::string problem;
    const SslCtxPtr scratch = make_server_context(min_version, ticket_keys, problem);
    if (!scratch) {
        errors.push_back(problem);
        return;
    }
    for (const Certificate& certificate : certificates) {
        if (SSL_CTX_use_cert_and_key(scratch.get(), certificate.leaf(), certificate.key(),
                                     certificate.chain(), 1) != 1)
            errors.push_back(certificate.files().cert +
                             ": OpenSSL refuses the certificate: " + take_openssl_errors());
    }
}

/// One context per group, holding one certificate per key type: OpenSSL then picks by the
/// client's signature algorithms (TLS 1.3) or cipher list (TLS 1.2).
std::vector<SslCtxPtr> build_group_contexts(const ServerNameIndex& index,
                                            const std::vector<Certificate>& certificates,
                                            int min_version,
                                            const std::shared_ptr<TicketKeys>& ticket_keys,
                                            std::vector<std::string>& errors) {
    std::vector<SslCtxPtr> contexts;
    contexts.reserve(index.groups().size());
    for (const CertificateGroup& group : index.groups()) {
        std::string problem;
        SslCtxPtr context = make_server_context(min_version, ticket_keys, problem);
        if (!context) {
            errors.push_back(problem);
            return {};
        }
        for (const auto& member : {group.ecdsa, group.rsa}) {
            if (!member) continue;
            const Certificate& certificate = certificates[*member];
            if (SSL_CTX_use_cert_and_key(context.get(), certificate.leaf(), certificate.key(),
                                         certificate.chain(), 1) != 1) {
                // check_acceptable passed it: only memory can run out here.
                errors.push_back(certificate.files().cert + ": " + take_openssl_errors());
                return {};
            }
        }
        contexts.push_back(std::move(context));
    }
    return contexts;
}

}  // namespace

StoreResult build_store(const config::TlsSettings& settings, SystemTime now,
                        std::shared_ptr<TicketKeys> ticket_keys) {
    assert(ticket_keys != nullptr);
    StoreResult result;
    check_settings(settings, result.errors);
    if (!result.errors.empty()) return result;

    std::vector<Certificate> certificates;
    certificates.reserve(settings.certificates.size());
    CertificateLoader loader;
    for (const config::CertificateFiles& files : settings.certificates) {
        CertificateLoad load = loader.load(files);
        result.errors.insert(result.errors.end(), load.errors.begin(), load.errors.end());
        if (!load.certificate) continue;
        for (auto& error : validity_errors(*load.certificate, now))
            result.validity_errors.push_back(std::move(error));
        if (auto warning = expiry_warning(*load.certificate, now, expiry_warning_window))
            result.warnings.push_back(std::move(*warning));
        certificates.push_back(std::move(*load.certificate));
    }
    const int min_version = *protocol_version(settings.min_version);
    check_acceptable(certificates, min_version, ticket_keys, result.errors);
    if (!result.errors.empty()) return result;

    std::vector<NamedCertificate> named;
    named.reserve(certificates.size());
    for (const Certificate& certificate : certificates)
        named.push_back({certificate.names(), certificate.key_type(), certificate.files().cert});
    ServerNameIndex index(named, settings.default_certificate, result.warnings);

    auto by_group =
        build_group_contexts(index, certificates, min_version, ticket_keys, result.errors);
    std::string problem;
    SslCtxPtr front = make_server_context(min_version, ticket_keys, problem);
    if (!front) result.errors.push_back(problem);
    if (!result.errors.empty()) return result;

    auto contexts =
        std::make_shared<const Contexts>(Contexts{std::move(index), std::move(by_group)});
    SSL_CTX_set_tlsext_servername_callback(front.get(), on_server_name);
    // OpenSSL's callback argument is a plain void*; the callback only reads through it.
    SSL_CTX_set_tlsext_servername_arg(front.get(), const_cast<Contexts*>(contexts.get()));
    if (!ContextAttachment<const Contexts>::attach(front.get(), contexts)) {
        result.errors.push_back("cannot attach the SNI table: " + take_openssl_errors());
        return result;
    }

    std::vector<CertificateSummary> summaries;
    summaries.reserve(certificates.size());
    for (const Certificate& certificate : certificates) summaries.push_back(summarize(certificate));
    result.store = std::make_shared<const CertificateStore>(std::move(contexts), std::move(front),
                                                            std::move(summaries));
    return result;
}

CertificateStore::CertificateStore(std::shared_ptr<const Contexts> contexts, SslCtxPtr front,
                                   std::vector<CertificateSummary> certificates)
    : contexts_(std::move(contexts)),
      front_(front.release()),  // the Asio context owns this reference from here on
      certificates_(std::move(certificates)) {}

CertificateStore::~CertificateStore() = default;

SSL_CTX* CertificateStore::select(std::string_view server_name) const {
    return contexts_->select(server_name);
}

CertificateGroup CertificateStore::served_for(std::string_view server_name) const {
    return contexts_->index.groups()[contexts_->index.find(server_name)];
}

std::size_t CertificateStore::context_count() const {
    return contexts_->by_group.size();
}

}  // namespace tg::tls
