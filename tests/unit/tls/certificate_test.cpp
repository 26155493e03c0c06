#include "tls/certificate.hpp"

#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

#include "pki_fixture.hpp"

using Catch::Matchers::Contains;
using std::chrono::hours;
using std::chrono::system_clock;
using tg::tls::KeyType;
using tg::tls::load_certificate;
using tg::tls::test::pki;

namespace {

/// The single error of a load that must fail once.
std::string only_error(const tg::tls::CertificateLoad& load) {
    REQUIRE_FALSE(load.certificate);
    REQUIRE(load.errors.size() == 1);
    return load.errors.front();
}

}  // namespace

TEST_CASE("an ECDSA leaf loads with its chain, names and dates", "[tls][certificate]") {
    const auto load = load_certificate(pki().erp_ecdsa);
    REQUIRE(load.errors.empty());
    REQUIRE(load.certificate);
    const auto& certificate = *load.certificate;
    CHECK(certificate.key_type() == KeyType::ecdsa);
    CHECK(certificate.names() == std::vector<std::string>{"erp.acme.com"});
    CHECK(sk_X509_num(certificate.chain()) == 1);
    CHECK(X509_check_issued(sk_X509_value(certificate.chain(), 0), certificate.leaf()) ==
          X509_V_OK);
    CHECK(X509_check_private_key(certificate.leaf(), certificate.key()) == 1);
    CHECK_THAT(certificate.subject(), Contains("CN=erp.acme.com"));
    const auto now = system_clock::now();
    CHECK(certificate.not_before() < now);
    CHECK(certificate.not_after() > now + hours(24 * 89));
    CHECK(certificate.not_after() < now + hours(24 * 91));
}

TEST_CASE("an RSA leaf is typed RSA", "[tls][certificate]") {
    const auto load = load_certificate(pki().erp_rsa);
    REQUIRE(load.certificate);
    CHECK(load.certificate->key_type() == KeyType::rsa);
}

TEST_CASE("names come from subjectAltName, else from the CN, lower-cased", "[tls][certificate]") {
    const auto wildcard = load_certificate(pki().wildcard);
    REQUIRE(wildcard.certificate);
    CHECK(wildcard.certificate->names() == std::vector<std::string>{"*.acme.com"});
    const auto legacy = load_certificate(pki().cn_only);
    REQUIRE(legacy.certificate);
    CHECK(legacy.certificate->names() == std::vector<std::string>{"legacy.acme.com"});
}

TEST_CASE("an unreadable file is named with the reason", "[tls][certificate]") {
    const std::string missing = pki().dir.file("missing.pem");
    CHECK_THAT(only_error(load_certificate({missing, pki().erp_ecdsa.key})),
               Contains(missing + ": cannot read certificate: No such file or directory"));
    const auto both = load_certificate({missing, pki().dir.file("missing.key")});
    REQUIRE(both.errors.size() == 2);
    CHECK_THAT(both.errors[1], Contains("missing.key: cannot read private key"));
    CHECK_THAT(only_error(load_certificate({pki().dir.path().string(), pki().erp_ecdsa.key})),
               Contains("Is a directory"));
}

TEST_CASE("files that are not PEM are refused", "[tls][certificate]") {
    const tg::tls::test::TempDir dir;
    const std::string text = dir.file("notes.txt");
    tg::tls::test::write_text(text, "this is not a certificate\n");
    CHECK_THAT(only_error(load_certificate({text, pki().erp_ecdsa.key})),
               Contains(text + ": not a PEM certificate"));
    CHECK_THAT(only_error(load_certificate({pki().erp_ecdsa.cert, text})),
               Contains(text + ": not a PEM private key"));
    // A certificate where the key should be is PEM, but not a key.
    CHECK_THAT(only_error(load_certificate({pki().erp_ecdsa.cert, pki().erp_ecdsa.cert})),
               Contains(pki().erp_ecdsa.cert + ": no PEM private key in it (found CERTIFICATE)"));
    // Broken base64 inside a block.
    const std::string broken = dir.file("broken.pem");
    tg::tls::test::write_text(broken,
                              "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n");
    CHECK_THAT(only_error(load_certificate({broken, pki().erp_ecdsa.key})),
               Contains(broken + ": PEM block 1 is malformed"));
}

TEST_CASE("a key that does not match the certificate is refused", "[tls][certificate]") {
    const auto& files = pki().mismatched;
    const std::string error = only_error(load_certificate(files));
    CHECK_THAT(error, Contains(files.key + ": private key does not match the certificate in " +
                               files.cert));
}

TEST_CASE("a chain in the wrong order is refused, saying where the leaf is", "[tls][certificate]") {
    const auto& files = pki().wrong_order;
    const auto load = load_certificate(files);
    CHECK_FALSE(load.certificate);
    REQUIRE(load.errors.size() == 2);
    CHECK(load.errors[0] == files.key + ": private key belongs to certificate 2 in " + files.cert +
                                ", not to the first: the leaf must come first");
    CHECK_THAT(load.errors[1], Contains(files.cert + ": chain order is wrong: certificate 1 "
                                                     "(CN=tenantgate test intermediate") &&
                                   Contains("is not issued by certificate 2 (CN=erp.acme.com"));
}

TEST_CASE("keys load from PKCS#8, PKCS#1 and SEC1 files alike", "[tls][certificate]") {
    const tg::tls::test::TempDir dir;
    tg::tls::CertificateLoader loader;  // one decoder set-up for every format in turn
    for (const auto* files : {&pki().erp_rsa, &pki().erp_ecdsa, &pki().erp_rsa}) {
        const std::string traditional = dir.file("traditional.key");
        tg::tls::test::write_traditional_key(traditional, files->key);
        const auto load = loader.load({files->cert, traditional});
        CHECK(load.errors.empty());
        CHECK(load.certificate);
        CHECK(loader.load(*files).certificate);
    }
}

TEST_CASE("a loader shares an intermediate between certificates", "[tls][certificate]") {
    tg::tls::CertificateLoader loader;
    const auto ecdsa = loader.load(pki().erp_ecdsa);
    const auto rsa = loader.load(pki().erp_rsa);
    REQUIRE(ecdsa.certificate);
    REQUIRE(rsa.certificate);
    CHECK(sk_X509_value(ecdsa.certificate->chain(), 0) ==
          sk_X509_value(rsa.certificate->chain(), 0));
    CHECK(sk_X509_value(load_certificate(pki().erp_ecdsa).certificate->chain(), 0) !=
          sk_X509_value(rsa.certificate->chain(), 0));
}

TEST_CASE("encrypted keys and unsupported key types are refused", "[tls][certificate]") {
    CHECK_THAT(only_error(load_certificate(pki().encrypted_key)),
               Contains(pki().encrypted_key.key + ": the private key is encrypted"));
    CHECK_THAT(only_error(load_certificate(pki().ed25519)),
               Contains(pki().ed25519.key + ": unsupported key type ED25519"));
}

TEST_CASE("validity is checked against the given time, leaf and chain", "[tls][certificate]") {
    const auto load = load_certificate(pki().erp_ecdsa);
    REQUIRE(load.certificate);
    const auto& certificate = *load.certificate;
    CHECK(validity_errors(certificate, system_clock::now()).empty());

    const auto too_early = validity_errors(certificate, certificate.not_before() - hours(1));
    REQUIRE(too_early.size() == 1);
    CHECK_THAT(too_early[0], Contains(pki().erp_ecdsa.cert + ": certificate is not valid before "));

    const auto later = certificate.not_after() + hours(1);
    const auto expired = validity_errors(certificate, later);
    REQUIRE(expired.size() == 1);
    CHECK_THAT(expired[0],
               Contains(": certificate expired on " + tg::tls::utc_text(certificate.not_after())));

    // Ten years on, the intermediate has expired too.
    const auto decade = validity_errors(certificate, system_clock::now() + hours(24 * 3650));
    REQUIRE(decade.size() == 2);
    CHECK_THAT(decade[1], Contains("chain certificate 2 (CN=tenantgate test intermediate"));
}

TEST_CASE("a certificate that expired yesterday loads but is not valid", "[tls][certificate]") {
    const auto load = load_certificate(pki().expired);
    REQUIRE(load.certificate);
    const auto errors = validity_errors(*load.certificate, system_clock::now());
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Contains(pki().expired.cert + ": certificate expired on "));
}

TEST_CASE("an expiry within the window is warned about in days", "[tls][certificate]") {
    const auto load = load_certificate(pki().expiring);
    REQUIRE(load.certificate);
    const auto& certificate = *load.certificate;
    const hours window(24 * 14);
    const auto ten_days_before = certificate.not_after() - hours(24 * 10) - hours(1);
    const auto warning = expiry_warning(certificate, ten_days_before, window);
    REQUIRE(warning);
    CHECK(*warning == pki().expiring.cert + ": certificate for soon.acme.com expires in 10 days (" +
                          tg::tls::utc_text(certificate.not_after()) + ")");
    CHECK(expiry_warning(certificate, certificate.not_after() - hours(2), window) ==
          pki().expiring.cert + ": certificate for soon.acme.com expires in less than a day (" +
              tg::tls::utc_text(certificate.not_after()) + ")");
    CHECK_FALSE(expiry_warning(certificate, certificate.not_after() - hours(24 * 15), window));
    CHECK_FALSE(expiry_warning(certificate, certificate.not_after() + hours(1), window));
}

TEST_CASE("utc_text is ISO 8601 in UTC", "[tls][certificate]") {
    CHECK(tg::tls::utc_text(system_clock::from_time_t(1735689600)) == "2025-01-01T00:00:00Z");
}
