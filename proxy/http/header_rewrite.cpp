#include "proxy/http/header_rewrite.hpp"

#include <algorithm>
#include <array>
#include <boost/container/small_vector.hpp>
#include <string>

#include "routing/text.hpp"

namespace tg::proxy {
namespace {

/// True when any `field` line lists `token`: repeated lines form one list (RFC 9110 §5.3).
bool has_token(const ProxyFields& fields, http::field field, std::string_view token) {
    for (const auto& line : fields.matching(field))
        for (const auto& item : http::token_list{line.value()})
            if (beast::iequals(item, token)) return true;
    return false;
}

/// Names listed in Connection (RFC 9110 §7.6.1): views into the Connection lines.
using OptionNames = boost::container::small_vector<std::string_view, 8>;

/// Fields named in Connection that must survive anyway: removing them would change framing or
/// routing rather than drop a hop-by-hop option.
bool protected_field(std::string_view name) {
    static constexpr std::array<std::string_view, 3> names = {"host", "content-length",
                                                              "transfer-encoding"};
    for (const auto n : names)
        if (beast::iequals(n, name)) return true;
    return false;
}

OptionNames connection_options(const ProxyFields& fields, bool keep_upgrade) {
    OptionNames names;
    for (const auto& line : fields.matching(http::field::connection))
        for (const auto& name : http::token_list{line.value()})
            if (!protected_field(name) && !(keep_upgrade && beast::iequals(name, "upgrade")))
                names.push_back(name);
    return names;
}

bool always_hop_by_hop(http::field name, bool keep_upgrade) {
    switch (name) {
        case http::field::keep_alive:
        case http::field::proxy_connection:
        case http::field::te:
        case http::field::trailer:
            return true;
        case http::field::upgrade:
            return !keep_upgrade;
        default:
            return false;
    }
}

/// The one spelling of a length the parser accepted: its first list item without optional
/// whitespace or leading zeros. The parser refused lists whose items differ, so the first
/// item is the length.
std::string canonical_length(std::string_view value) {
    auto digits = routing::trim_optional_whitespace(value.substr(0, value.find(',')));
    while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
    return std::string(digits);
}

/// Removes the hop-by-hop fields, those listed in Connection and those `also_removed` picks,
/// in one walk of the list: an erase by name is a walk each, and a request had a dozen.
/// `keep_upgrade`: see strip_hop_by_hop. A length the parser accepted in another spelling than
/// plain digits (`Content-Length: 5, 5` or two lines of 5, as RFC 9112 §6.3 allows; `005`, which a
/// parser taking a leading 0 for octal reads as another number) leaves as one field with the plain
/// digits, so no hop after this one can read it differently.
template <class Pick>
void remove_fields(ProxyFields& fields, bool keep_upgrade, Pick also_removed) {
    const auto options = connection_options(fields, keep_upgrade);
    std::string_view length;
    bool respell_length = false;
    for (auto it = fields.begin(); it != fields.end();) {
        const auto name = it->name();
        if (name == http::field::content_length) {
            if (!length.empty()) {
                respell_length = true;
                it = fields.erase(it);
                continue;
            }
            length = it->value();
            respell_length = canonical_length(length) != length;
        }
        const bool remove = name != http::field::connection &&
                            (always_hop_by_hop(name, keep_upgrade) || also_removed(*it) ||
                             std::ranges::any_of(options, [&](auto n) {
                                 return beast::iequals(n, it->name_string());
                             }));
        it = remove ? fields.erase(it) : std::next(it);
    }
    if (respell_length) fields.set(http::field::content_length, canonical_length(length));
    fields.erase(http::field::connection);
    if (keep_upgrade) fields.insert(http::field::connection, "upgrade");
}

/// This hop's element of `Forwarded` (RFC 7239 §4): who connected, the scheme, the Host.
std::string forwarded_element(const ForwardedHeaders& forwarded) {
    std::string element = "for=";
    const bool v6 = forwarded.peer_ip.find(':') != std::string_view::npos;
    if (v6)
        element.append("\"[").append(forwarded.peer_ip).append("]\"");
    else
        element.append(forwarded.peer_ip);
    element.append(";proto=").append(forwarded.proto).append(";host=\"");
    for (const char c : forwarded.original_host) {
        if (c == '"' || c == '\\') element.push_back('\\');
        element.push_back(c);
    }
    element.push_back('"');
    return element;
}

/// Odoo applies X-Odoo-dbfilter as a regular expression: tenant names are matched literally.
std::string dbfilter_for(std::string_view tenant) {
    std::string pattern = "^";
    for (const char c : tenant) {
        const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!plain) pattern.push_back('\\');
        pattern.push_back(c);
    }
    pattern.push_back('$');
    return pattern;
}

}  // namespace

bool is_websocket_upgrade(const http::request_header<ProxyFields>& request) {
    if (request.method() != http::verb::get || request.version() != 11) return false;
    return has_token(request, http::field::upgrade, "websocket") &&
           has_token(request, http::field::connection, "upgrade");
}

bool request_framing_is_valid(const http::request_header<ProxyFields>& request) {
    if (request.count(http::field::host) != 1 && request.version() == 11) return false;
    if (request.count(http::field::host) > 1) return false;
    if (request.count(http::field::transfer_encoding) > 1) return false;
    const auto te = request.find(http::field::transfer_encoding);
    if (te == request.end()) return true;
    std::size_t codings = 0;
    for (const auto& coding : http::token_list{te->value()}) {
        if (!beast::iequals(coding, "chunked")) return false;
        ++codings;
    }
    return codings == 1 && request.version() == 11;
}

bool response_framing_is_valid(const ResponseParser& parser) {
    const auto& response = parser.get();
    const auto codings = response.count(http::field::transfer_encoding);
    return codings <= 1 && (codings == 0 || response.count(http::field::content_length) == 0) &&
           response.chunked() == parser.chunked();
}

void strip_hop_by_hop(ProxyFields& fields, bool keep_upgrade) {
    remove_fields(fields, keep_upgrade, [](const ProxyFields::value_type&) { return false; });
}

namespace {

/// Whether the body of the response `parser` has read can follow on a persistent connection
/// to a client speaking HTTP `client_version`, once its framing is adapted for that client.
bool frame_body_for_client(ResponseParser& parser, unsigned client_version) {
    auto& response = parser.get();
    if (parser.chunked()) {
        if (client_version >= 11) return true;
        response.chunked(false);  // HTTP/1.0 has no chunked coding: end the body by closing
        return false;
    }
    if (parser.content_length() || !parser.need_eof()) return true;
    if (client_version < 11 || response.count(http::field::transfer_encoding) != 0) return false;
    response.chunked(true);
    return true;
}

}  // namespace

bool frame_response_for_client(ResponseParser& parser, unsigned client_version, bool keep_alive) {
    keep_alive = frame_body_for_client(parser, client_version) && keep_alive;
    // The version first: keep_alive(false) adds "Connection: close" only to an HTTP/1.1
    // message, closing being HTTP/1.0's default.
    auto& response = parser.get();
    response.version(11);
    response.keep_alive(keep_alive);
    return keep_alive;
}

void rewrite_upstream_request(http::request_header<ProxyFields>& request,
                              const ForwardedHeaders& forwarded, bool websocket_upgrade) {
    static constexpr std::array<std::string_view, 6> asserted = {
        "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP",
        "X-Request-Id",    "X-Tenant",         "X-Odoo-dbfilter"};
    bool proto_kept = false;
    bool forwarded_kept = false;
    remove_fields(request, websocket_upgrade, [&](const ProxyFields::value_type& field) {
        if (field.name() == http::field::forwarded) {
            forwarded_kept = forwarded.peer_trusted;  // like X-Forwarded-For: a trusted chain
            return !forwarded_kept;
        }
        if (field.name() != http::field::unknown) return false;
        const auto name = field.name_string();
        // WSGI servers fold `_` and `-` into one environ key (HTTP_X_FORWARDED_FOR): a client's
        // X_Forwarded_For would shadow the value Odoo trusts (nginx: underscores_in_headers off).
        if (name.find('_') != std::string_view::npos) return true;
        if (beast::iequals(name, "X-Forwarded-Proto")) {
            proto_kept = forwarded.peer_trusted;  // a trusted proxy's scheme is kept
            return !proto_kept;
        }
        return std::ranges::any_of(asserted, [&](auto n) { return beast::iequals(n, name); });
    });
    request.version(11);
    // request_framing_is_valid let through only chunked, in any case and with empty list
    // elements (`CHUNKED`, `chunked,`). The body is re-chunked on the way, so the upstream gets
    // the one spelling every parser reads: one that took `CHUNKED` for an unknown coding would
    // read no body, and take the chunks for the next request (TE.TE smuggling).
    if (const auto te = request.find(http::field::transfer_encoding);
        te != request.end() && te->value() != "chunked")
        request.set(http::field::transfer_encoding, "chunked");
    request.insert_own("X-Forwarded-For", forwarded.forwarded_for);
    if (!proto_kept) request.insert_own("X-Forwarded-Proto", forwarded.proto);
    request.insert_own("X-Forwarded-Host", forwarded.original_host);
    request.insert_own("X-Real-IP", forwarded.client_ip);
    request.insert_own("X-Request-Id", forwarded.request_id);
    request.insert_own("X-Tenant", forwarded.tenant);
    if (forwarded.odoo_dbfilter)
        request.insert_own("X-Odoo-dbfilter", dbfilter_for(forwarded.tenant));
    if (forwarded_kept) request.insert(http::field::forwarded, forwarded_element(forwarded));
}

}  // namespace tg::proxy
