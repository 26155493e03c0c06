#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tls/key_type.hpp"

/// SNI → certificates, pure: no OpenSSL, no I/O. Exact name first, then the wildcard covering
/// the name's first label, then the listener's default_certificate (SPEC §2).
namespace tg::tls {

/// One configured certificate as name matching sees it.
struct NamedCertificate {
    std::vector<std::string> names;  ///< DNS names; "*.acme.com" for a wildcard
    KeyType key_type = KeyType::rsa;
    std::string label;  ///< names the certificate in warnings: its cert file
};

/// What is served for one name: at most one certificate per key type (indices into the
/// listener's certificate list), loaded into one SSL_CTX so OpenSSL picks ECDSA or RSA by what
/// the client accepts.
struct CertificateGroup {
    std::optional<std::size_t> rsa;
    std::optional<std::size_t> ecdsa;

    bool operator==(const CertificateGroup&) const = default;
};

/// The longest DNS name (RFC 1035 §2.3.4 without the root dot).
inline constexpr std::size_t max_server_name = 253;

/// Lower-cases `name` into `buffer` and drops one trailing dot; empty when it is longer than a
/// DNS name can be. No allocation: it runs in every handshake.
std::string_view normalize_server_name(std::string_view name,
                                       std::array<char, max_server_name>& buffer);

/// Built once per store; lookups are two hash probes at most, whatever the number of names.
class ServerNameIndex {
  public:
    /// Certificates listed earlier win a name over later ones with the same key type; each
    /// name or certificate that can never be served adds a line to `warnings`.
    ServerNameIndex(const std::vector<NamedCertificate>& certificates,
                    std::size_t default_certificate, std::vector<std::string>& warnings);

    /// The group (index into groups()) to serve for a ClientHello's server_name, in any case;
    /// empty (no SNI) or unknown: the default group.
    std::size_t find(std::string_view server_name) const;
    /// Every distinct group, each to become one SSL_CTX.
    const std::vector<CertificateGroup>& groups() const { return groups_; }
    /// The group of default_certificate (with its other-key-type partner for its first name).
    std::size_t default_group() const { return default_group_; }

  private:
    struct NameHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view name) const noexcept {
            return std::hash<std::string_view>{}(name);
        }
    };
    using Table = std::unordered_map<std::string, std::size_t, NameHash, std::equal_to<>>;

    Table exact_;
    Table wildcard_;  ///< keyed by what follows "*.": "acme.com" for "*.acme.com"
    std::vector<CertificateGroup> groups_;
    std::size_t default_group_ = 0;
};

}  // namespace tg::tls
