#include "tls/check.hpp"

#include <catch2/catch.hpp>

#include "pki_fixture.hpp"

using Catch::Matchers::Contains;
using std::chrono::system_clock;
using tg::tls::check_listener_tls;
using tg::tls::test::pki;

TEST_CASE("check passes a good listener without warnings", "[tls][check]") {
    tg::config::TlsSettings settings;
    settings.certificates = {pki().erp_ecdsa, pki().erp_rsa, pki().wildcard};
    std::vector<std::string> warnings;
    CHECK(check_listener_tls(settings, system_clock::now(), warnings).empty());
    CHECK(warnings.empty());
}

TEST_CASE("check warns about a certificate expiring within 14 days", "[tls][check]") {
    tg::config::TlsSettings settings;
    settings.certificates = {pki().erp_ecdsa, pki().expiring};
    std::vector<std::string> warnings;
    CHECK(check_listener_tls(settings, system_clock::now(), warnings).empty());
    REQUIRE(warnings.size() == 1);
    CHECK_THAT(warnings[0],
               Contains(pki().expiring.cert + ": certificate for soon.acme.com expires in 9 days"));
}

TEST_CASE("check refuses expired certificates and every load error", "[tls][check]") {
    tg::config::TlsSettings settings;
    settings.certificates = {pki().expired, pki().mismatched, pki().wrong_order, pki().weak_rsa};
    std::vector<std::string> warnings;
    const auto errors = check_listener_tls(settings, system_clock::now(), warnings);
    REQUIRE(errors.size() == 5);
    CHECK_THAT(errors[0], Contains(pki().mismatched.key + ": private key does not match"));
    CHECK_THAT(errors[1],
               Contains(pki().wrong_order.key + ": private key belongs to certificate 2"));
    CHECK_THAT(errors[2], Contains(pki().wrong_order.cert + ": chain order is wrong"));
    // What OpenSSL refuses is found even while other certificates fail to load.
    CHECK_THAT(errors[3], Contains(pki().weak_rsa.cert +
                                   ": OpenSSL refuses the certificate: ee key too small"));
    CHECK_THAT(errors[4], Contains(pki().expired.cert + ": certificate expired on"));
}

TEST_CASE("check reports what only OpenSSL refuses", "[tls][check]") {
    tg::config::TlsSettings settings;
    settings.certificates = {pki().weak_rsa};
    std::vector<std::string> warnings;
    const auto errors = check_listener_tls(settings, system_clock::now(), warnings);
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Contains("ee key too small"));
}
