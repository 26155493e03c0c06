#include "proxy/header_rewrite.hpp"

#include <array>
#include <boost/range/iterator_range.hpp>
#include <string>
#include <vector>

namespace tg::proxy {
namespace {

/// True when any `field` line lists `token`: repeated lines form one list (RFC 9110 §5.3).
bool has_token(const ProxyFields& fields, http::field field, std::string_view token) {
    for (const auto& line : boost::make_iterator_range(fields.equal_range(field)))
        for (const auto& item : http::token_list{line.value()})
            if (beast::iequals(item, token)) return true;
    return false;
}

/// Fields named in Connection that must survive anyway: removing them would change framing or
/// routing rather than drop a hop-by-hop option.
bool protected_field(std::string_view name) {
    static constexpr std::array<std::string_view, 3> names = {"host", "content-length",
                                                              "transfer-encoding"};
    for (const auto n : names)
        if (beast::iequals(n, name)) return true;
    return false;
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

void strip_hop_by_hop(ProxyFields& fields, bool keep_upgrade) {
    std::vector<std::string> listed;
    for (const auto& line : boost::make_iterator_range(fields.equal_range(http::field::connection)))
        for (const auto& name : http::token_list{line.value()})
            if (!protected_field(name) && !(keep_upgrade && beast::iequals(name, "upgrade")))
                listed.emplace_back(name);
    for (const auto& name : listed) fields.erase(name);
    for (const auto field : {http::field::connection, http::field::keep_alive,
                             http::field::proxy_connection, http::field::te, http::field::trailer})
        fields.erase(field);
    if (keep_upgrade)
        fields.set(http::field::connection, "upgrade");
    else
        fields.erase(http::field::upgrade);
}

void rewrite_upstream_request(http::request_header<ProxyFields>& request,
                              const ForwardedHeaders& forwarded, bool websocket_upgrade) {
    strip_hop_by_hop(request, websocket_upgrade);
    request.version(11);
    request.set("X-Forwarded-For", forwarded.forwarded_for);
    if (!forwarded.peer_trusted || request.count("X-Forwarded-Proto") == 0)
        request.set("X-Forwarded-Proto", forwarded.proto);
    request.set("X-Forwarded-Host", forwarded.original_host);
    request.set("X-Real-IP", forwarded.client_ip);
    request.set("X-Request-Id", forwarded.request_id);
    request.set("X-Tenant", forwarded.tenant);
    request.erase("X-Odoo-dbfilter");
    if (forwarded.odoo_dbfilter) request.set("X-Odoo-dbfilter", dbfilter_for(forwarded.tenant));
}

}  // namespace tg::proxy
