#include "tls/server_names.hpp"

#include <catch2/catch.hpp>

using Catch::Matchers::Contains;
using tg::tls::CertificateGroup;
using tg::tls::KeyType;
using tg::tls::NamedCertificate;
using tg::tls::ServerNameIndex;

namespace {

/// The group served for `name`, in terms of certificate indices.
CertificateGroup served(const ServerNameIndex& index, std::string_view name) {
    return index.groups()[index.find(name)];
}

CertificateGroup ecdsa(std::size_t i) {
    return {std::nullopt, i};
}
CertificateGroup rsa(std::size_t i) {
    return {i, std::nullopt};
}

const std::vector<NamedCertificate> listener = {
    {{"erp.acme.com"}, KeyType::ecdsa, "erp-ecdsa.pem"},            // 0
    {{"erp.acme.com"}, KeyType::rsa, "erp-rsa.pem"},                // 1
    {{"*.acme.com"}, KeyType::ecdsa, "wildcard.pem"},               // 2
    {{"default.example.net"}, KeyType::ecdsa, "default.pem"},       // 3
    {{"*.erp.example.com", "erp.example.com"}, KeyType::rsa, "x"},  // 4
};

}  // namespace

TEST_CASE("an exact name beats a wildcard", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(listener, 3, warnings);
    CHECK(warnings.empty());
    CHECK(served(index, "erp.acme.com") == CertificateGroup{1, 0});
    CHECK(served(index, "crm.acme.com") == ecdsa(2));
    CHECK(served(index, "erp.example.com") == rsa(4));
    CHECK(served(index, "globex.erp.example.com") == rsa(4));
}

TEST_CASE("a wildcard covers exactly one label", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(listener, 3, warnings);
    CHECK(served(index, "a.b.acme.com") == ecdsa(3));
    CHECK(served(index, "acme.com") == ecdsa(3));
    CHECK(served(index, ".acme.com") == ecdsa(3));
    CHECK(served(index, "x.acme.com") == ecdsa(2));
}

TEST_CASE("unknown, absent or overlong names get the default certificate", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(listener, 3, warnings);
    CHECK(index.find("") == index.default_group());
    CHECK(served(index, "") == ecdsa(3));
    CHECK(served(index, "unknown.example.org") == ecdsa(3));
    CHECK(served(index, std::string(300, 'a')) == ecdsa(3));
    CHECK(served(index, "default.example.net") == ecdsa(3));
}

TEST_CASE("lookups ignore case and one trailing dot", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(listener, 3, warnings);
    CHECK(served(index, "ERP.Acme.COM") == CertificateGroup{1, 0});
    CHECK(served(index, "erp.acme.com.") == CertificateGroup{1, 0});
    CHECK(served(index, "CRM.ACME.COM") == ecdsa(2));
}

TEST_CASE("certificate names are normalized too", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index({{{"Shop.Acme.COM."}, KeyType::rsa, "a"}}, 0, warnings);
    CHECK(served(index, "shop.acme.com") == rsa(0));
    CHECK(index.find("shop.acme.com") == index.find("SHOP.acme.com"));
}

TEST_CASE("RSA and ECDSA certificates for the same names share one group", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(listener, 3, warnings);
    // erp RSA+ECDSA, wildcard, default, erp.example.com: four groups, not five.
    CHECK(index.groups().size() == 4);
}

TEST_CASE("the first certificate of a key type wins a name; later ones are warned about",
          "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index({{{"a.example.com", "b.example.com"}, KeyType::ecdsa, "first.pem"},
                                 {{"b.example.com"}, KeyType::ecdsa, "second.pem"},
                                 {{"b.example.com"}, KeyType::rsa, "third.pem"}},
                                0, warnings);
    CHECK(served(index, "b.example.com") == CertificateGroup{2, 0});
    REQUIRE(warnings.size() == 2);
    CHECK_THAT(warnings[0], Contains("second.pem: b.example.com is already served by first.pem "
                                     "(also ECDSA, listed earlier)"));
    CHECK(warnings[1] ==
          "second.pem: never served: each of its names goes to a certificate "
          "listed earlier, and it is not the default_certificate");
}

TEST_CASE("names clients would never match are ignored with a warning", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex index(
        {{{"*.com", "f*.acme.com", "*.*.acme.com", "ok.acme.com"}, KeyType::ecdsa, "odd.pem"}}, 0,
        warnings);
    REQUIRE(warnings.size() == 3);
    CHECK_THAT(warnings[0], Contains("odd.pem: name \"*.com\" covers a whole top-level domain"));
    CHECK_THAT(warnings[1], Contains("\"f*.acme.com\" has a partial-label wildcard"));
    CHECK_THAT(warnings[2], Contains("\"*.*.acme.com\" has more than one wildcard"));
    CHECK(served(index, "x.com") == ecdsa(0));  // only as the default
    CHECK(served(index, "ok.acme.com") == ecdsa(0));
}

TEST_CASE("the default certificate keeps its other-key-type partner", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex with_partner(listener, 1, warnings);
    CHECK(with_partner.groups()[with_partner.default_group()] == CertificateGroup{1, 0});
    CHECK(served(with_partner, "unknown.example.org") == CertificateGroup{1, 0});
}

TEST_CASE("a certificate with no usable name is served only as the default", "[tls][sni]") {
    std::vector<std::string> warnings;
    const ServerNameIndex as_default({{{}, KeyType::ecdsa, "nameless.pem"}}, 0, warnings);
    CHECK(warnings.empty());
    CHECK(served(as_default, "anything.example") == ecdsa(0));

    const ServerNameIndex unused(
        {{{"a.example.com"}, KeyType::ecdsa, "a.pem"}, {{}, KeyType::rsa, "nameless.pem"}}, 0,
        warnings);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0] ==
          "nameless.pem: never served: it has no usable DNS name, and it is not "
          "the default_certificate");
}

TEST_CASE("normalize_server_name lower-cases without allocating", "[tls][sni]") {
    std::array<char, tg::tls::max_server_name> buffer;
    CHECK(tg::tls::normalize_server_name("Erp.ACME.com.", buffer) == "erp.acme.com");
    CHECK(tg::tls::normalize_server_name(".", buffer).empty());
    CHECK(tg::tls::normalize_server_name(std::string(254, 'a'), buffer).empty());
    CHECK(tg::tls::normalize_server_name(std::string(253, 'A'), buffer) == std::string(253, 'a'));
}
