#include "proxy/admin/tenant_definition.hpp"

#include <boost/json.hpp>
#include <charconv>

namespace tg::proxy {
namespace {

namespace json = boost::json;

/// Nesting deeper than any tenant definition: a guard against a body built to exhaust the
/// stack of the recursive conversions.
constexpr int max_depth = 32;

YAML::Node to_yaml(const json::value& value, int depth) {
    switch (value.kind()) {
        case json::kind::object: {
            YAML::Node map(YAML::NodeType::Map);
            if (depth < max_depth)
                for (const auto& [key, item] : value.get_object())
                    map[std::string(key)] = to_yaml(item, depth + 1);
            return map;
        }
        case json::kind::array: {
            YAML::Node list(YAML::NodeType::Sequence);
            if (depth < max_depth)
                for (const auto& item : value.get_array()) list.push_back(to_yaml(item, depth + 1));
            return list;
        }
        case json::kind::string:
            return YAML::Node(std::string(value.get_string()));
        case json::kind::null:
            return YAML::Node(YAML::NodeType::Null);
        case json::kind::double_: {
            // The shortest spelling that reads back the same ("0.5", not Boost's "5E-1"), so
            // a message quotes the value the way it was written.
            char text[32];
            const auto end = std::to_chars(text, text + sizeof text, value.get_double()).ptr;
            return YAML::Node(std::string(text, end));
        }
        case json::kind::bool_:
        case json::kind::int64:
        case json::kind::uint64:
            break;
    }
    return YAML::Node(json::serialize(value));
}

json::value plain_scalar(const std::string& text) {
    if (text == "true" || text == "false") return text == "true";
    std::int64_t whole = 0;
    const char* end = text.data() + text.size();
    if (auto [at, ec] = std::from_chars(text.data(), end, whole); ec == std::errc{} && at == end)
        return whole;
    double number = 0;
    if (auto [at, ec] = std::from_chars(text.data(), end, number);
        ec == std::errc{} && at == end && !text.empty())
        return number;
    return json::string(text);
}

json::value to_json(const YAML::Node& node, int depth) {
    switch (node.Type()) {
        case YAML::NodeType::Map: {
            json::object object;
            if (depth < max_depth)
                for (auto it = node.begin(); it != node.end(); ++it)
                    object[it->first.Scalar()] = to_json(it->second, depth + 1);
            return object;
        }
        case YAML::NodeType::Sequence: {
            json::array array;
            if (depth < max_depth)
                for (const auto& item : node) array.push_back(to_json(item, depth + 1));
            return array;
        }
        case YAML::NodeType::Scalar:
            // Quoted scalars ("1.2") stay strings; plain ones (1.2, true) keep their type.
            return node.Tag() == "!" ? json::value(json::string(node.Scalar()))
                                     : plain_scalar(node.Scalar());
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            break;
    }
    return nullptr;
}

}  // namespace

std::optional<TenantDefinition> tenant_definition_from_json(std::string_view text,
                                                            std::string& error) {
    json::error_code ec;
    const json::value value = json::parse(text, ec);
    if (ec) {
        error = "malformed JSON: " + ec.message();
        return std::nullopt;
    }
    if (!value.is_object()) {
        error = "the body must be a JSON object: the tenant's definition as in tenants.NAME";
        return std::nullopt;
    }
    return TenantDefinition{json::serialize(value), to_yaml(value, 0)};
}

std::optional<json::value> json_from_yaml(std::string_view text, std::string& error) {
    try {
        return to_json(YAML::Load(std::string(text)), 0);
    } catch (const YAML::Exception& e) {
        error = std::string("not YAML or JSON: ") + e.what();
        return std::nullopt;
    }
}

}  // namespace tg::proxy
