#include "tls/server_names.hpp"

#include <algorithm>
#include <cassert>
#include <limits>
#include <map>
#include <utility>

namespace tg::tls {
namespace {

enum class NameKind { exact, wildcard, unusable };

struct ClassifiedName {
    NameKind kind = NameKind::unusable;
    std::string key;  ///< exact: the name; wildcard: what follows "*."; unusable: why
};

/// A wildcard covers exactly one whole leftmost label, as browsers match it (RFC 6125 §6.4.3,
/// CA/Browser Forum baseline requirements): "*.acme.com" serves "erp.acme.com", never
/// "acme.com" nor "a.erp.acme.com".
ClassifiedName classify(std::string_view raw) {
    std::array<char, max_server_name> buffer;
    const std::string_view name = normalize_server_name(raw, buffer);
    if (name.empty()) return {NameKind::unusable, "is empty or longer than 253 characters"};
    if (name.starts_with("*.")) {
        const std::string_view suffix = name.substr(2);
        if (suffix.find('*') != std::string_view::npos)
            return {NameKind::unusable, "has more than one wildcard"};
        if (suffix.find('.') == std::string_view::npos)
            return {NameKind::unusable, "covers a whole top-level domain, which clients reject"};
        return {NameKind::wildcard, std::string(suffix)};
    }
    if (name.find('*') != std::string_view::npos)
        return {NameKind::unusable, "has a partial-label wildcard, which browsers do not honour"};
    return {NameKind::exact, std::string(name)};
}

std::optional<std::size_t>& slot(CertificateGroup& group, KeyType type) {
    return type == KeyType::rsa ? group.rsa : group.ecdsa;
}

std::optional<std::size_t> slot(const CertificateGroup& group, KeyType type) {
    return type == KeyType::rsa ? group.rsa : group.ecdsa;
}

/// Orders groups so identical ones are found without scanning the list.
using GroupKey = std::pair<std::size_t, std::size_t>;

GroupKey key_of(const CertificateGroup& group) {
    constexpr auto none = std::numeric_limits<std::size_t>::max();
    return {group.rsa.value_or(none), group.ecdsa.value_or(none)};
}

}  // namespace

std::string_view normalize_server_name(std::string_view name,
                                       std::array<char, max_server_name>& buffer) {
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);
    if (name.empty() || name.size() > buffer.size()) return {};
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        buffer[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    }
    return {buffer.data(), name.size()};
}

ServerNameIndex::ServerNameIndex(const std::vector<NamedCertificate>& certificates,
                                 std::size_t default_certificate,
                                 std::vector<std::string>& warnings) {
    assert(default_certificate < certificates.size());
    // First pass: for every name, the first certificate of each key type that claims it.
    std::unordered_map<std::string, CertificateGroup> exact_claims;
    std::unordered_map<std::string, CertificateGroup> wildcard_claims;
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        const NamedCertificate& certificate = certificates[i];
        for (const std::string& name : certificate.names) {
            const ClassifiedName classified = classify(name);
            if (classified.kind == NameKind::unusable) {
                warnings.push_back(certificate.label + ": name \"" + name + "\" " + classified.key +
                                   "; ignored");
                continue;
            }
            auto& claims = classified.kind == NameKind::exact ? exact_claims : wildcard_claims;
            auto& claimed = slot(claims[classified.key], certificate.key_type);
            if (!claimed) {
                claimed = i;
            } else if (*claimed != i) {
                warnings.push_back(certificate.label + ": " + name + " is already served by " +
                                   certificates[*claimed].label + " (also " +
                                   std::string(key_type_name(certificate.key_type)) +
                                   ", listed earlier); this certificate is not used for it");
            }
        }
    }

    // Second pass, in configuration order so group numbering does not depend on hashing.
    std::map<GroupKey, std::size_t> known_groups;
    const auto group_index = [&](const CertificateGroup& group) {
        const auto [at, added] = known_groups.try_emplace(key_of(group), groups_.size());
        if (added) groups_.push_back(group);
        return at->second;
    };
    std::vector<bool> served(certificates.size(), false);
    const auto mark = [&](const CertificateGroup& group) {
        if (group.rsa) served[*group.rsa] = true;
        if (group.ecdsa) served[*group.ecdsa] = true;
    };
    std::optional<CertificateGroup> default_group;
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        bool first_usable = true;
        for (const std::string& name : certificates[i].names) {
            const ClassifiedName classified = classify(name);
            if (classified.kind == NameKind::unusable) continue;
            const bool exact = classified.kind == NameKind::exact;
            const CertificateGroup& claim =
                (exact ? exact_claims : wildcard_claims).at(classified.key);
            // The default certificate keeps the partner it has for its first name, so clients
            // without SNI still get ECDSA or RSA by capability.
            if (i == default_certificate && first_usable &&
                slot(claim, certificates[i].key_type) == i)
                default_group = claim;
            first_usable = false;
            Table& table = exact ? exact_ : wildcard_;
            if (table.find(classified.key) != table.end()) continue;
            table.emplace(classified.key, group_index(claim));
            mark(claim);
        }
    }
    if (!default_group) {
        default_group.emplace();
        slot(*default_group, certificates[default_certificate].key_type) = default_certificate;
    }
    default_group_ = group_index(*default_group);
    mark(*default_group);

    for (std::size_t i = 0; i < certificates.size(); ++i) {
        if (served[i]) continue;
        const bool named = std::any_of(
            certificates[i].names.begin(), certificates[i].names.end(),
            [](const std::string& name) { return classify(name).kind != NameKind::unusable; });
        warnings.push_back(certificates[i].label + ": never served: " +
                           (named ? "each of its names goes to a certificate listed earlier"
                                  : "it has no usable DNS name") +
                           ", and it is not the default_certificate");
    }
}

std::size_t ServerNameIndex::find(std::string_view server_name) const {
    std::array<char, max_server_name> buffer;
    const std::string_view name = normalize_server_name(server_name, buffer);
    if (name.empty()) return default_group_;
    if (const auto exact = exact_.find(name); exact != exact_.end()) return exact->second;
    const std::size_t dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0) return default_group_;
    // A wildcard spans exactly one label, so the only candidate is the name minus its first
    // label: "longest matching wildcard" needs no search.
    if (const auto wildcard = wildcard_.find(name.substr(dot + 1)); wildcard != wildcard_.end())
        return wildcard->second;
    return default_group_;
}

}  // namespace tg::tls
