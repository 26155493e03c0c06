#include "tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "tls/context_attachment.hpp"

namespace tg::tls {
namespace {

/// OpenSSL's ticket callback return values (SSL_CTX_set_tlsext_ticket_key_evp_cb(3)).
constexpr int ticket_failed = -1;
constexpr int ticket_unknown_key = 0;  // full handshake, no error
constexpr int ticket_ok = 1;
constexpr int ticket_ok_renew = 2;  // accepted, and the client gets a ticket under the new key

std::optional<TicketKey> draw_key(TicketKeys::time_point now) {
    TicketKey key;
    key.created = now;
    if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
        RAND_priv_bytes(key.aes_key.data(), static_cast<int>(key.aes_key.size())) != 1 ||
        RAND_priv_bytes(key.hmac_key.data(), static_cast<int>(key.hmac_key.size())) != 1)
        return std::nullopt;
    return key;
}

bool set_up(const TicketKey& key, const unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
            bool seal) {
    OSSL_PARAM params[] = {
        // OpenSSL only reads a parameter array passed to a setter.
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                          const_cast<unsigned char*>(key.hmac_key.data()),
                                          key.hmac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return false;
    return seal
               ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) == 1
               : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) ==
                     1;
}

int ticket_key_callback(SSL* ssl, unsigned char key_name[16], unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int seal) {
    const TicketKeys* owner = ContextAttachment<TicketKeys>::get(SSL_get_SSL_CTX(ssl));
    if (owner == nullptr) return ticket_failed;
    const auto keys = owner->keys();
    if (seal) {
        const TicketKey& key = keys->current;
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return ticket_failed;
        std::memcpy(key_name, key.name.data(), key.name.size());
        return set_up(key, iv, cipher, mac, true) ? ticket_ok : ticket_failed;
    }
    const auto named = [&](const TicketKey& key) {
        return std::memcmp(key_name, key.name.data(), key.name.size()) == 0;
    };
    if (named(keys->current))
        return set_up(keys->current, iv, cipher, mac, false) ? ticket_ok : ticket_failed;
    if (keys->previous && named(*keys->previous))
        return set_up(*keys->previous, iv, cipher, mac, false) ? ticket_ok_renew : ticket_failed;
    return ticket_unknown_key;
}

}  // namespace

TicketKey::~TicketKey() {
    OPENSSL_cleanse(aes_key.data(), aes_key.size());
    OPENSSL_cleanse(hmac_key.data(), hmac_key.size());
}

TicketKeys::TicketKeys(time_point now, std::chrono::seconds rotation_interval)
    : interval_(rotation_interval) {
    auto first = draw_key(now);
    if (!first) throw std::runtime_error("cannot draw a TLS session ticket key from the CSPRNG");
    keys_ = std::make_shared<const TicketKeySet>(TicketKeySet{std::move(*first), {}});
}

bool TicketKeys::rotate_if_due(time_point now) {
    const auto keys = this->keys();
    if (now - keys->current.created < interval_) return false;
    auto next = draw_key(now);  // outside the lock: readers never wait for the CSPRNG
    if (!next) return false;    // keep serving with the old key; the next poll tries again
    auto rotated =
        std::make_shared<const TicketKeySet>(TicketKeySet{std::move(*next), keys->current});
    const std::unique_lock lock(mutex_);
    if (keys_ != keys) return false;  // another thread rotated meanwhile
    keys_ = std::move(rotated);
    return true;
}

std::shared_ptr<const TicketKeySet> TicketKeys::keys() const {
    const std::shared_lock lock(mutex_);
    return keys_;
}

TicketKeys::time_point TicketKeys::next_rotation() const {
    return keys()->current.created + interval_;
}

bool use_ticket_keys(SSL_CTX* context, std::shared_ptr<TicketKeys> keys) {
    if (!ContextAttachment<TicketKeys>::attach(context, std::move(keys))) return false;
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(context, ticket_key_callback) == 1;
}

}  // namespace tg::tls
