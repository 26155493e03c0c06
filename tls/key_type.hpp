#pragma once

#include <string_view>

namespace tg::tls {

/// The key algorithms served. One of each may be configured per name: OpenSSL then serves ECDSA
/// to clients that accept it and RSA to the rest.
enum class KeyType { rsa, ecdsa };

/// "RSA" or "ECDSA", for messages and the admin API.
constexpr std::string_view key_type_name(KeyType type) {
    return type == KeyType::rsa ? "RSA" : "ECDSA";
}

}  // namespace tg::tls
