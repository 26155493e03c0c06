// The host/route decision of Session::route(): the Host header through routing::normalize_host
// to HostTable::match, the target through classify_route and is_database_manager_path.
// The input is lines: the Host header, the request target, then tenant host patterns; each
// pattern goes to tenant t0, t1 or t2 by its line number, and a pattern with "{tenant}" is a
// tenant template. The table comes from config::load_text, as in production, and its decision
// is held against the SPEC's rule written as a scan (host_oracle.hpp).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/load.hpp"
#include "fuzz_check.hpp"
#include "host_oracle.hpp"
#include "routing/host.hpp"
#include "routing/route_rule.hpp"

namespace {

/// `text` as a YAML double-quoted scalar.
std::string quoted(std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (byte < 0x20 || byte >= 0x7f) {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string config_with(const std::vector<std::string_view>& patterns) {
    std::array<std::vector<std::string_view>, 3> hosts;
    std::vector<std::string_view> templates;
    for (std::size_t i = 0; i < patterns.size(); ++i) {
        if (patterns[i].find("{tenant}") != std::string_view::npos)
            templates.push_back(patterns[i]);
        else
            hosts[i % hosts.size()].push_back(patterns[i]);
    }
    std::string yaml =
        "listeners:\n  - name: http\n    address: 127.0.0.1:8080\n"
        "pools:\n  p:\n    web: [127.0.0.1:8069]\n";
    if (hosts[0].size() + hosts[1].size() + hosts[2].size() != 0) yaml += "tenants:\n";
    for (std::size_t t = 0; t < hosts.size(); ++t) {
        if (hosts[t].empty()) continue;
        yaml += "  t" + std::to_string(t) + ":\n    pool: p\n    hosts:\n";
        for (const auto host : hosts[t]) yaml += "      - " + quoted(host) + "\n";
    }
    if (!templates.empty()) yaml += "tenant_templates:\n";
    for (const auto host : templates) yaml += "  - host: " + quoted(host) + "\n    pool: p\n";
    return yaml;
}

void check_normalized(std::string_view header, const std::string& host) {
    FUZZ_CHECK(!host.empty() && host.size() <= header.size());
    for (std::size_t i = 0; i < host.size(); ++i) {
        const char c = header[i];
        FUZZ_CHECK(host[i] == (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));  // a prefix, lowered
    }
    if (!host.starts_with('[')) FUZZ_CHECK(host.find(':') == std::string::npos);
    // Normalising again changes nothing but, at most, one more trailing dot ("a.." -> "a.").
    std::string again;
    if (!tg::routing::normalize_host(host, again)) {
        FUZZ_CHECK(host == ".");
        return;
    }
    FUZZ_CHECK(again == host || (host.ends_with('.') && again + "." == host));
}

void check_target(std::string_view target) {
    const auto path = tg::routing::target_path(target);
    FUZZ_CHECK(path.empty() || target.find(path) != std::string_view::npos || path == "/");
    const auto route = tg::routing::classify_route(target);
    if (target == "/websocket" || target.starts_with("/websocket/") ||
        target.starts_with("/websocket?") || target.starts_with("/longpolling/"))
        FUZZ_CHECK(route == tg::routing::Route::longpolling);
    // Whatever else it catches, the database manager's own spelling is always caught.
    if (target == "/web/database" || target.starts_with("/web/database/") ||
        target.starts_with("/web/database?"))
        FUZZ_CHECK(tg::routing::is_database_manager_path(target));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string_view> lines;
    for (std::size_t start = 0; start <= input.size();) {
        const auto end = std::min(input.find('\n', start), input.size());
        lines.push_back(input.substr(start, end - start));
        start = end + 1;
    }
    const std::string_view header = lines[0];
    const std::string_view target = lines.size() > 1 ? lines[1] : "/";
    check_target(target);

    std::string host;
    const bool valid = tg::routing::normalize_host(header, host);
    if (valid) check_normalized(header, host);

    if (lines.size() <= 2 || lines.size() > 34) return 0;
    const std::vector<std::string_view> patterns(lines.begin() + 2, lines.end());
    const auto loaded = tg::config::load_text(config_with(patterns), "route.yaml", "");
    if (!loaded.snapshot) return 0;
    const tg::routing::HostTable table(*loaded.snapshot);
    tg::fuzz::check_snapshot_hosts(*loaded.snapshot, table);
    if (valid) tg::fuzz::check_host_decision(*loaded.snapshot, table, host);
    return 0;
}
