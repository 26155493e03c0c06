#include "proxy/admin/ctl.hpp"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "config/units.hpp"
#include "proxy/admin/tenant_definition.hpp"
#include "proxy/io.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;
constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr auto request_timeout = std::chrono::seconds(10);

constexpr std::string_view usage =
    "usage: tenantgate ctl [--admin URL] [--token-file F] [--json] COMMAND\n"
    "  status | tenants | tenant NAME | reload | drain\n"
    "  tenant add|set|remove NAME [--file F]   add (never replaces), add or replace, remove a\n"
    "                     tenant through the admin API; F holds its definition (JSON or YAML,\n"
    "                     the shape of tenants.NAME in the config file)\n"
    "  maintenance on|off [--tenant NAME] [--message TEXT] [--retry-after SECONDS]\n"
    "  release NAME --to blue|green [--drain-timeout DURATION] [--force]\n"
    "  audit [--limit N]\n"
    "  --admin URL        admin API (default http://127.0.0.1:9901)\n"
    "  --token-file F     bearer token for mutating commands (and reads, if required)\n"
    "  --json             print the API's JSON as is\n";

/// Options that take a value; those of a command are accepted only with that command.
constexpr std::array<std::string_view, 9> value_options = {
    "--admin", "--token-file",    "--tenant", "--message", "--retry-after",
    "--to",    "--drain-timeout", "--limit",  "--file"};

struct Options {
    std::string admin = "http://127.0.0.1:9901";
    std::string token_file;
    bool json = false;
    std::vector<std::string> command;
    /// Command options as given ("--force" maps to ""), checked against the command later.
    std::map<std::string, std::string, std::less<>> flags;
};

/// The admin API request a command makes.
struct Call {
    http::verb method = http::verb::get;
    std::string path;
    std::string body;  ///< JSON; empty: no body (tenant add|set: read from --file later)
};

struct Reply {
    unsigned status = 0;
    std::string body;
};

/// One request to the admin API; throws with a readable message when it cannot be made.
/// `create_only` sends If-None-Match: * (tenant add).
Reply call(const Options& options, const Call& what, bool create_only) {
    const auto url = boost::urls::parse_uri(options.admin);
    if (!url || url->scheme() != "http" || url->host().empty())
        throw std::runtime_error("--admin must be an http:// URL, got \"" + options.admin + "\"");
    const std::string host = url->host();
    const std::string port = url->has_port() ? std::string(url->port()) : "80";

    std::string token;
    if (!options.token_file.empty()) {
        std::ifstream file(options.token_file);
        if (!file) throw std::runtime_error("cannot read token file " + options.token_file);
        std::getline(file, token);
    }

    asio::io_context context;
    tcp::resolver resolver(context);
    beast::tcp_stream stream(context);
    error_code ec;
    const auto endpoints = resolver.resolve(host, port, ec);
    if (!ec) {
        stream.expires_after(request_timeout);
        stream.connect(endpoints, ec);
    }
    if (ec)
        throw std::runtime_error("cannot reach admin API at " + options.admin + ": " +
                                 ec.message());

    http::request<http::string_body> request{what.method, what.path, 11};
    request.set(http::field::host, host);
    request.set(http::field::user_agent, "tenantgate-ctl");
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (create_only) request.set(http::field::if_none_match, "*");
    if (!what.body.empty()) {
        request.set(http::field::content_type, "application/json");
        request.body() = what.body;
    }
    request.prepare_payload();
    http::write(stream, request, ec);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    if (!ec) http::read(stream, buffer, response, ec);
    if (ec) throw std::runtime_error("admin API at " + options.admin + " failed: " + ec.message());
    return {response.result_int(), std::move(response.body())};
}

/// A JSON value as one human-readable word: null is "-", an empty string is shown quoted ("")
/// so that a `key: value` line never ends in nothing.
std::string text(const json::value& v) {
    if (v.is_string()) return v.as_string().empty() ? "\"\"" : std::string(v.as_string());
    if (v.is_double()) {
        std::ostringstream out;
        out << std::fixed << std::setprecision(3) << v.as_double();
        return out.str();
    }
    if (v.is_null()) return "-";
    if (v.is_array()) {
        std::string joined;
        for (const auto& item : v.as_array()) joined += (joined.empty() ? "" : ",") + text(item);
        return joined;
    }
    return json::serialize(v);
}

void print_fields(const json::object& object, const std::string& prefix = {}) {
    for (const auto& [key, value] : object) {
        if (value.is_object())
            print_fields(value.as_object(), prefix + std::string(key) + ".");
        else
            std::cout << prefix << std::string(key) << ": " << text(value) << "\n";
    }
}

/// Rows padded into columns, the first row being the header.
template <std::size_t N>
void print_table(const std::vector<std::array<std::string, N>>& rows) {
    std::array<std::size_t, N> widths{};
    for (const auto& row : rows)
        for (std::size_t i = 0; i < N; ++i) widths[i] = std::max(widths[i], row[i].size());
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < N; ++i)
            std::cout << std::left << std::setw(static_cast<int>(widths[i]) + 2) << row[i];
        std::cout << "\n";
    }
}

void print_tenants(const json::object& body) {
    std::vector<std::array<std::string, 5>> rows = {
        {"NAME", "HOSTS", "POOL", "IN_FLIGHT", "TUNNELS"}};
    for (const auto& t : body.at("tenants").as_array()) {
        const auto& tenant = t.as_object();
        rows.push_back({text(tenant.at("name")), text(tenant.at("hosts")),
                        text(tenant.at("active_pool")), text(tenant.at("in_flight")),
                        text(tenant.at("tunnels"))});
    }
    print_table(rows);
    for (const auto& t : body.at("templates").as_array())
        std::cout << "template " << text(t.at("host")) << " -> " << text(t.at("pool")) << "\n";
}

/// The tenant definition in `file` as JSON text: JSON as it is, YAML converted.
std::optional<std::string> read_definition(const std::string& file, std::string& error) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        error = "cannot read " + file;
        return std::nullopt;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    json::error_code ec;
    if (const auto value = json::parse(text, ec); !ec) return json::serialize(value);
    const auto converted = json_from_yaml(text, error);
    if (!converted) {
        error = file + ": " + error;
        return std::nullopt;
    }
    return json::serialize(*converted);
}

/// One row per audit line, oldest first; the before/after states only in --json.
void print_audit(const json::object& body) {
    std::vector<std::array<std::string, 8>> rows = {
        {"TIME", "ACTION", "TENANT", "RESULT", "STATUS", "FORCED", "CLIENT", "TOKEN"}};
    const auto field = [](const json::object& entry, std::string_view key) {
        const auto* value = entry.if_contains(key);
        return value ? text(*value) : std::string("-");
    };
    for (const auto& e : body.at("entries").as_array()) {
        const auto& entry = e.as_object();
        rows.push_back({field(entry, "time"), field(entry, "action"), field(entry, "tenant"),
                        field(entry, "result"), field(entry, "status"), field(entry, "forced"),
                        field(entry, "client"), field(entry, "token")});
    }
    print_table(rows);
}

std::optional<Options> parse(std::span<const std::string_view> args) {
    Options options;
    const auto fail = [](const std::string& why) {
        std::cerr << "tenantgate ctl: " << why << "\n" << usage;
        return std::nullopt;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto arg = args[i];
        if (std::ranges::find(value_options, arg) != value_options.end()) {
            if (i + 1 == args.size()) return fail(std::string(arg) + " needs a value");
            const auto value = std::string(args[++i]);
            if (arg == "--admin")
                options.admin = value;
            else if (arg == "--token-file")
                options.token_file = value;
            else if (!options.flags.emplace(arg, value).second)
                return fail(std::string(arg) + " given twice");
        } else if (arg == "--json") {
            options.json = true;
        } else if (arg == "--force") {
            options.flags.emplace(arg, "");
        } else if (arg.starts_with("-")) {
            return fail("unknown option \"" + std::string(arg) + "\"");
        } else {
            options.command.emplace_back(arg);
        }
    }
    const auto& c = options.command;
    if (c.empty()) return fail("expected a command");
    const std::map<std::string_view, std::pair<std::size_t, std::vector<std::string_view>>> shapes =
        {
            // command -> (words including the command, the options it accepts)
            {"status", {1, {}}},
            {"tenants", {1, {}}},
            {"tenant", {2, {}}},
            {"reload", {1, {}}},
            {"drain", {1, {}}},
            {"maintenance", {2, {"--tenant", "--message", "--retry-after"}}},
            {"release", {2, {"--to", "--drain-timeout", "--force"}}},
            {"audit", {1, {"--limit"}}},
        };
    const auto shape = shapes.find(c[0]);
    if (shape == shapes.end()) return fail("unknown command \"" + c[0] + "\"");
    const bool changes_tenant =
        c[0] == "tenant" && c.size() > 1 && (c[1] == "add" || c[1] == "set" || c[1] == "remove");
    // tenant add|set NAME --file F, tenant remove NAME
    const std::pair<std::size_t, std::vector<std::string_view>> tenant_change = {
        3, c.size() > 1 && c[1] == "remove" ? std::vector<std::string_view>{}
                                            : std::vector<std::string_view>{"--file"}};
    const auto& [words, accepted] = changes_tenant ? tenant_change : shape->second;
    if (c.size() < words)
        return fail(c[0] == "tenant"        ? "tenant needs a NAME"
                    : c[0] == "maintenance" ? "maintenance needs on or off"
                                            : "release needs a tenant NAME");
    if (c.size() > words) return fail("unexpected argument \"" + c[words] + "\"");
    for (const auto& [flag, value] : options.flags)
        if (std::ranges::find(accepted, flag) == accepted.end())
            return fail(flag + " does not apply to " + c[0] +
                        (changes_tenant ? " " + c[1] : std::string()));
    if (changes_tenant && c[1] != "remove" && !options.flags.contains("--file"))
        return fail("tenant " + c[1] + " needs --file F");
    return options;
}

/// A whole number of at least `minimum`, or nullopt.
std::optional<std::int64_t> parse_count(const std::string& text, std::int64_t minimum) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value < minimum)
        return std::nullopt;
    return value;
}

/// The request a parsed command makes, or the usage error in its option values.
std::variant<Call, std::string> to_call(const Options& options) {
    const auto& c = options.command;
    const auto flag = [&](std::string_view name) -> const std::string* {
        const auto found = options.flags.find(name);
        return found == options.flags.end() ? nullptr : &found->second;
    };
    if (c[0] == "status") return Call{http::verb::get, "/api/v1/status", {}};
    if (c[0] == "tenants") return Call{http::verb::get, "/api/v1/tenants", {}};
    if (c[0] == "tenant" && c.size() == 3) {
        if (c[1] == "remove") return Call{http::verb::delete_, "/api/v1/tenants/" + c[2], {}};
        return Call{http::verb::put, "/api/v1/tenants/" + c[2], {}};
    }
    if (c[0] == "tenant") return Call{http::verb::get, "/api/v1/tenants/" + c[1], {}};
    if (c[0] == "reload" || c[0] == "drain") return Call{http::verb::post, "/api/v1/" + c[0], {}};
    if (c[0] == "maintenance") {
        if (c[1] != "on" && c[1] != "off")
            return "maintenance takes on or off, got \"" + c[1] + "\"";
        json::object body{{"enabled", c[1] == "on"}};
        if (c[1] == "off" && (flag("--message") || flag("--retry-after")))
            return std::string("--message and --retry-after apply to maintenance on only");
        if (const auto* message = flag("--message")) body["message"] = *message;
        if (const auto* retry = flag("--retry-after")) {
            const auto seconds = parse_count(*retry, 0);
            if (!seconds) return "--retry-after takes whole seconds >= 0, got \"" + *retry + "\"";
            body["retry_after"] = *seconds;
        }
        const auto* tenant = flag("--tenant");
        return Call{http::verb::put,
                    tenant ? "/api/v1/tenants/" + *tenant + "/maintenance" : "/api/v1/maintenance",
                    json::serialize(body)};
    }
    if (c[0] == "release") {
        const auto* to = flag("--to");
        if (!to) return std::string("release needs --to blue|green");
        if (!routing::parse_color(*to)) return "--to takes blue or green, got \"" + *to + "\"";
        json::object body{{"active", *to}, {"force", flag("--force") != nullptr}};
        if (const auto* drain = flag("--drain-timeout")) {
            if (!config::parse_duration(*drain))
                return "--drain-timeout takes a duration such as 30s or 2m, got \"" + *drain + "\"";
            body["drain_timeout"] = *drain;
        }
        return Call{http::verb::post, "/api/v1/tenants/" + c[1] + "/release",
                    json::serialize(body)};
    }
    std::string path = "/api/v1/audit";
    if (const auto* limit = flag("--limit")) {
        if (!parse_count(*limit, 1))
            return "--limit takes a whole number >= 1, got \"" + *limit + "\"";
        path += "?limit=" + *limit;
    }
    return Call{http::verb::get, path, {}};
}

}  // namespace

int run_ctl(std::span<const std::string_view> args) {
    const auto options = parse(args);
    if (!options) return exit_usage;
    const auto& command = options->command;
    auto what = to_call(*options);
    if (const auto* why = std::get_if<std::string>(&what)) {
        std::cerr << "tenantgate ctl: " << *why << "\n" << usage;
        return exit_usage;
    }
    auto& request = std::get<Call>(what);
    const bool puts_tenant =
        command[0] == "tenant" && command.size() == 3 && command[1] != "remove";
    if (puts_tenant) {
        std::string error;
        const auto definition = read_definition(options->flags.at("--file"), error);
        if (!definition) {
            std::cerr << "tenantgate ctl: " << error << "\n";
            return exit_failed;
        }
        request.body = *definition;
    }
    Reply reply;
    try {
        reply = call(*options, request, puts_tenant && command[1] == "add");
    } catch (const std::exception& e) {
        std::cerr << "tenantgate ctl: " << e.what() << "\n";
        return exit_failed;
    }
    json::error_code parse_error;
    const auto body = json::parse(reply.body, parse_error);
    if (parse_error || !body.is_object()) {
        std::cerr << "tenantgate ctl: admin API answered " << reply.status << " with no JSON\n";
        return exit_failed;
    }
    const auto& object = body.as_object();
    if (reply.status >= 300) {
        std::cerr << "tenantgate ctl: admin API answered " << reply.status << ": "
                  << (object.contains("error") ? text(object.at("error")) : reply.body) << "\n";
        if (const auto errors = object.if_contains("errors"); errors && errors->is_array())
            for (const auto& e : errors->as_array()) std::cerr << "  " << text(e) << "\n";
        return exit_failed;
    }
    if (options->json) {
        std::cout << reply.body;
        return exit_ok;
    }
    if (command[0] == "tenants")
        print_tenants(object);
    else if (command[0] == "audit")
        print_audit(object);
    else
        print_fields(object);
    return exit_ok;
}

}  // namespace tg::proxy
