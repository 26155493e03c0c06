#include <openssl/err.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "handshake_pump.hpp"
#include "pki_fixture.hpp"
#include "tls/context_store.hpp"
#include "tls/handshake_failure.hpp"

using std::chrono::hours;
using std::chrono::system_clock;
using tg::config::TlsSettings;
using tg::tls::build_store;
using tg::tls::handshake_failure_reason;
using tg::tls::TicketKeys;
using tg::tls::test::ClientOptions;
using tg::tls::test::handshake;
using tg::tls::test::pki;

namespace {

std::shared_ptr<const tg::tls::CertificateStore> acme_store(
    std::shared_ptr<TicketKeys> keys = std::make_shared<TicketKeys>(system_clock::now()),
    std::string min_version = "1.2") {
    TlsSettings settings;
    settings.certificates = {pki().erp_ecdsa, pki().erp_rsa, pki().wildcard, pki().fallback};
    settings.default_certificate = 3;
    settings.min_version = std::move(min_version);
    auto result = build_store(settings, system_clock::now(), std::move(keys));
    REQUIRE(result.errors.empty());
    return result.store;
}

ClientOptions erp_client() {
    ClientOptions options;
    options.server_name = "erp.acme.com";
    options.trust_file = pki().root_file;
    options.alpn = std::string("\x02h2\x08http/1.1", 12);
    return options;
}

}  // namespace

TEST_CASE("TLS 1.3 succeeds with the whole chain and http/1.1", "[tls][handshake]") {
    const auto store = acme_store();
    const auto outcome = handshake(store->front_context(), erp_client());
    REQUIRE(outcome.ok);
    CHECK(outcome.version == TLS1_3_VERSION);
    CHECK(outcome.alpn == "http/1.1");
    CHECK(outcome.chain_length == 2);  // leaf and intermediate; the root stays with the client
    CHECK(outcome.verify_result == X509_V_OK);
    CHECK(outcome.server_subject_cn == "erp.acme.com");
}

TEST_CASE("TLS 1.2 succeeds with the whole chain", "[tls][handshake]") {
    const auto store = acme_store();
    ClientOptions client = erp_client();
    client.max_version = TLS1_2_VERSION;
    const auto outcome = handshake(store->front_context(), client);
    REQUIRE(outcome.ok);
    CHECK(outcome.version == TLS1_2_VERSION);
    CHECK(outcome.alpn == "http/1.1");
    CHECK(outcome.chain_length == 2);
    CHECK(outcome.verify_result == X509_V_OK);
}

TEST_CASE("TLS 1.0 and 1.1 are refused", "[tls][handshake]") {
    const auto store = acme_store();
    for (const int version : {TLS1_VERSION, TLS1_1_VERSION}) {
        ClientOptions client = erp_client();
        client.min_version = version;
        client.max_version = version;
        client.ciphers = "DEFAULT:@SECLEVEL=0";
        const auto outcome = handshake(store->front_context(), client);
        CHECK_FALSE(outcome.ok);
        CHECK(handshake_failure_reason(outcome.server_error) == "unsupported_protocol");
    }
}

TEST_CASE("min_version 1.3 refuses a TLS 1.2 client", "[tls][handshake]") {
    const auto store = acme_store(std::make_shared<TicketKeys>(system_clock::now()), "1.3");
    ClientOptions client = erp_client();
    client.max_version = TLS1_2_VERSION;
    const auto refused = handshake(store->front_context(), client);
    CHECK_FALSE(refused.ok);
    CHECK(handshake_failure_reason(refused.server_error) == "unsupported_protocol");
    CHECK(handshake(store->front_context(), erp_client()).ok);
}

TEST_CASE("ECDSA goes to clients that accept it, RSA to the others", "[tls][handshake]") {
    const auto store = acme_store();
    SECTION("TLS 1.3, by signature algorithms") {
        CHECK(handshake(store->front_context(), erp_client()).server_key_type == EVP_PKEY_EC);
        ClientOptions rsa_only = erp_client();
        rsa_only.sigalgs = "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256";
        const auto outcome = handshake(store->front_context(), rsa_only);
        REQUIRE(outcome.ok);
        CHECK(outcome.server_key_type == EVP_PKEY_RSA);
        CHECK(outcome.verify_result == X509_V_OK);
    }
    SECTION("TLS 1.2, by cipher suites") {
        ClientOptions tls12 = erp_client();
        tls12.max_version = TLS1_2_VERSION;
        CHECK(handshake(store->front_context(), tls12).server_key_type == EVP_PKEY_EC);
        tls12.ciphers = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305";
        const auto outcome = handshake(store->front_context(), tls12);
        REQUIRE(outcome.ok);
        CHECK(outcome.server_key_type == EVP_PKEY_RSA);
    }
}

TEST_CASE("an ECDSA-only name fails cleanly for an RSA-only client", "[tls][handshake]") {
    const auto store = acme_store();
    ClientOptions client = erp_client();
    client.server_name = "crm.acme.com";
    client.sigalgs = "rsa_pss_rsae_sha256:rsa_pkcs1_sha256";
    const auto outcome = handshake(store->front_context(), client);
    CHECK_FALSE(outcome.ok);
    CHECK(handshake_failure_reason(outcome.server_error) == "no_shared_cipher");
}

TEST_CASE("SNI picks the certificate inside the handshake", "[tls][handshake]") {
    const auto store = acme_store();
    ClientOptions client = erp_client();
    client.server_name = "Billing.ACME.com";
    auto outcome = handshake(store->front_context(), client);
    REQUIRE(outcome.ok);
    CHECK(outcome.server_subject_cn == "*.acme.com");
    CHECK(outcome.verify_result == X509_V_OK);

    client.server_name.clear();  // no SNI: the default certificate
    client.trust_file.clear();
    outcome = handshake(store->front_context(), client);
    REQUIRE(outcome.ok);
    CHECK(outcome.server_subject_cn == "default.example.net");

    client.server_name = "a.billing.acme.com";  // two labels: not the wildcard's
    outcome = handshake(store->front_context(), client);
    REQUIRE(outcome.ok);
    CHECK(outcome.server_subject_cn == "default.example.net");
}

TEST_CASE("ALPN: http/1.1 or nothing; a client wanting only h2 is refused", "[tls][handshake]") {
    const auto store = acme_store();
    ClientOptions client = erp_client();
    client.alpn.clear();
    auto outcome = handshake(store->front_context(), client);
    REQUIRE(outcome.ok);
    CHECK(outcome.alpn.empty());

    client.alpn = std::string("\x02h2", 3);
    outcome = handshake(store->front_context(), client);
    CHECK_FALSE(outcome.ok);
    CHECK(handshake_failure_reason(outcome.server_error) == "no_application_protocol");
    CHECK(handshake_failure_reason(outcome.client_error) == "no_application_protocol");
}

TEST_CASE("a session ticket resumes on a reloaded store sharing the keys", "[tls][handshake]") {
    auto keys = std::make_shared<TicketKeys>(system_clock::now());
    const auto before_reload = acme_store(keys);
    const auto after_reload = acme_store(keys);
    REQUIRE(before_reload->front_context() != after_reload->front_context());
    const auto other_process = acme_store(std::make_shared<TicketKeys>(system_clock::now()));

    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        ClientOptions client = erp_client();
        client.max_version = version;
        const auto first = handshake(before_reload->front_context(), client);
        REQUIRE(first.ok);
        CHECK_FALSE(first.resumed);
        REQUIRE(first.session);
        REQUIRE(SSL_SESSION_is_resumable(first.session.get()) == 1);

        client.resume = first.session.get();
        const auto resumed = handshake(after_reload->front_context(), client);
        REQUIRE(resumed.ok);
        CHECK(resumed.resumed);
        CHECK(resumed.version == version);

        // Keys of another process: the ticket cannot be opened, a full handshake follows.
        const auto full = handshake(other_process->front_context(), client);
        REQUIRE(full.ok);
        CHECK_FALSE(full.resumed);
    }
}

TEST_CASE("tickets survive one key rotation, not two", "[tls][handshake]") {
    const auto start = system_clock::now();
    auto keys = std::make_shared<TicketKeys>(start, hours(12));
    const auto store = acme_store(keys);
    const auto first = handshake(store->front_context(), erp_client());
    REQUIRE(first.session);

    ClientOptions client = erp_client();
    client.resume = first.session.get();
    REQUIRE(keys->rotate_if_due(start + hours(12)));
    const auto after_one = handshake(store->front_context(), client);
    REQUIRE(after_one.ok);
    CHECK(after_one.resumed);

    REQUIRE(keys->rotate_if_due(start + hours(24)));
    const auto after_two = handshake(store->front_context(), client);
    REQUIRE(after_two.ok);
    CHECK_FALSE(after_two.resumed);
}

TEST_CASE("plain HTTP on the TLS port is reported as not_tls", "[tls][handshake]") {
    const auto store = acme_store();
    tg::tls::SslPtr server(SSL_new(store->front_context()));
    const std::string request = "GET / HTTP/1.1\r\nHost: erp.acme.com\r\n\r\n";
    BIO* in = BIO_new_mem_buf(request.data(), static_cast<int>(request.size()));
    SSL_set_bio(server.get(), in, BIO_new(BIO_s_mem()));
    ERR_clear_error();
    REQUIRE(SSL_accept(server.get()) <= 0);
    CHECK(handshake_failure_reason(ERR_peek_error()) == "not_tls");
    ERR_clear_error();
}

TEST_CASE("worker threads share one store and one key set", "[tls][handshake][threads]") {
    const auto start = system_clock::now();
    auto keys = std::make_shared<TicketKeys>(start, hours(1));
    const auto store = acme_store(keys);
    std::atomic<int> handshakes{0};
    std::atomic<int> resumed{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w)
        workers.emplace_back([&, w] {
            ClientOptions client = erp_client();
            client.server_name = w % 2 == 0 ? "erp.acme.com" : "shop.acme.com";
            tg::tls::test::SessionPtr session;
            for (int i = 0; i < 10; ++i) {
                client.resume = session.get();
                auto outcome = handshake(store->front_context(), client);
                if (!outcome.ok) continue;
                ++handshakes;
                resumed += outcome.resumed ? 1 : 0;
                session = std::move(outcome.session);
            }
        });
    for (int hour = 1; hour <= 5; ++hour) keys->rotate_if_due(start + hours(hour));
    for (auto& worker : workers) worker.join();
    CHECK(handshakes == 40);
    CHECK(resumed > 0);
}
