#include "ports/rules/rules.hpp"

#include <tbb/parallel_for.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "ports/common/yaml_reader.hpp"

namespace ports::rules {

std::optional<pipelines::traffic_class> class_of_name(std::string_view name) {
    for (std::size_t i = 0; i < pipelines::class_count; ++i) {
        if (pipelines::class_names[i] == name) {
            return static_cast<pipelines::traffic_class>(i);
        }
    }
    return std::nullopt;
}

std::optional<action> action_of_name(std::string_view name) {
    for (std::size_t i = 0; i < action_names.size(); ++i) {
        if (action_names[i] == name) {
            return static_cast<action>(i);
        }
    }
    return std::nullopt;
}

namespace {

using pipelines::traffic_class;

using yaml_reader::where;

std::string where(const rule& r) {
    return where(r.file, r.line) + "rule " + r.id + ": ";
}

// Can field f ever be found in a packet of class c? Only payload is everywhere.
bool field_in_class(field f, traffic_class c) {
    switch (f) {
        case field::payload:
            return true;
        case field::snmp_community:
        case field::snmp_user:
        case field::snmp_pdu:
            return c == traffic_class::snmp || c == traffic_class::snmp_trap;
        case field::ntp_mode:
        case field::ntp_version:
        case field::ntp_request_code:
            return c == traffic_class::ntp;
        case field::l2tp_hostname:
            return c == traffic_class::l2tp;
        case field::pptp_hostname:
        case field::pptp_vendor:
        case field::pptp_control_type:
            return c == traffic_class::pptp;
        case field::pptp_call_id:
            // PPTP call messages, and the GRE v1 frames of their calls.
            return c == traffic_class::pptp || c == traffic_class::gre;
        case field::l2tp_tunnel_id:
        case field::l2tp_session_id:
            return c == traffic_class::l2tp;
    }
    return false;
}

// The largest value a numeric field can take.
std::uint64_t field_max(field f) {
    switch (f) {
        case field::snmp_pdu:
            return 8;
        case field::ntp_mode:
        case field::ntp_version:
            return 7;
        case field::ntp_request_code:
            return 255;
        case field::pptp_control_type:
            return 15;
        case field::pptp_call_id:
            return 0xFFFF;
        case field::l2tp_tunnel_id:
        case field::l2tp_session_id:
            // 16 bits in L2TPv2, 32 in L2TPv3.
            return 0xFFFFFFFF;
        default:
            return 0;
    }
}

struct flag_def {
    std::string_view name;
    unsigned value;
};
constexpr flag_def flag_defs[] = {
    {"caseless", HS_FLAG_CASELESS},
    {"dotall", HS_FLAG_DOTALL},
    {"multiline", HS_FLAG_MULTILINE},
    {"singlematch", HS_FLAG_SINGLEMATCH},
    {"utf8", HS_FLAG_UTF8},
    {"ucp", HS_FLAG_UCP},
    {"allowempty", HS_FLAG_ALLOWEMPTY},
};

std::string flag_list() {
    std::string s;
    for (const auto& f : flag_defs) {
        s += (s.empty() ? "" : ", ") + std::string(f.name);
    }
    return s;
}

template <std::size_t N>
std::string name_list(const std::array<std::string_view, N>& names) {
    std::string s;
    for (auto n : names) {
        s += (s.empty() ? "" : ", ") + std::string(n);
    }
    return s;
}

bool valid_id(const std::string& id) {
    if (id.empty() || id.size() > 64) {
        return false;
    }
    for (const char ch : id) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

struct context : yaml_reader::checks<context> {
    std::string file;
    std::string rule_id;  // the rule being read, once known

    [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
        std::string prefix = where(file, yaml_reader::line_of(node));
        if (!rule_id.empty()) {
            prefix += "rule " + rule_id + ": ";
        }
        throw rules_error(prefix + message);
    }
};

// Checks one pattern alone, so that a bad one is reported at its own rule.
void check_pattern(const context& ctx, const YAML::Node& at, const std::string& pattern,
                   unsigned flags) {
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_expression_info(pattern.c_str(), flags, &info, &err) != HS_SUCCESS) {
        const std::string why = err != nullptr ? err->message : "unknown error";
        hs_free_compile_error(err);
        ctx.fail(at, "pattern '" + pattern + "' rejected by Hyperscan: " + why);
    }
    // hs_expression_info accepts what only the compiler refuses: a match of nothing.
    const bool empty_match = info != nullptr && info->min_width == 0;
    std::free(info);
    if (empty_match && (flags & HS_FLAG_ALLOWEMPTY) == 0) {
        ctx.fail(at, "pattern '" + pattern +
                         "' rejected by Hyperscan: it matches the empty buffer (flag allowempty "
                         "allows it)");
    }
}

void parse_match(const context& ctx, const YAML::Node& m, rule& r) {
    ctx.only_keys(m, {"field", "regex", "flags", "equals"}, "match");
    if (!m["field"]) {
        ctx.fail(m, "match needs a 'field' (one of " + name_list(field_names) + ")");
    }
    const std::string fname = ctx.string_of(m["field"], "field");
    bool found = false;
    for (std::size_t i = 0; i < field_count; ++i) {
        if (field_names[i] == fname) {
            r.fld = static_cast<field>(i);
            found = true;
        }
    }
    if (!found) {
        ctx.fail(m["field"],
                 "unknown field '" + fname + "' (known: " + name_list(field_names) + ")");
    }
    const bool has_regex = static_cast<bool>(m["regex"]);
    const bool has_equals = static_cast<bool>(m["equals"]);
    if (has_regex == has_equals) {
        ctx.fail(m, "match needs exactly one of 'regex' and 'equals'");
    }
    if (m["flags"] && !has_regex) {
        ctx.fail(m["flags"], "'flags' apply to a 'regex' only");
    }
    if (has_equals) {
        if (!field_has_number(r.fld)) {
            ctx.fail(m["equals"], "field " + fname + " is a string: match it with 'regex'");
        }
        r.equals = ctx.unsigned_of(m["equals"], "equals", field_max(r.fld));
        return;
    }
    if (!field_has_text(r.fld)) {
        ctx.fail(m["regex"], "field " + fname + " is a number: match it with 'equals'");
    }
    r.regex = ctx.string_of(m["regex"], "regex");
    if (const YAML::Node flags = m["flags"]) {
        if (!flags.IsSequence()) {
            ctx.fail(flags, "'flags' must be a list (of " + flag_list() + ")");
        }
        for (const auto& f : flags) {
            const std::string name = ctx.string_of(f, "flags");
            bool known = false;
            for (const auto& d : flag_defs) {
                if (d.name == name) {
                    r.hs_flags |= d.value;
                    known = true;
                }
            }
            if (!known) {
                ctx.fail(f, "unknown flag '" + name + "' (known: " + flag_list() + ")");
            }
        }
    }
    check_pattern(ctx, m["regex"], r.regex, r.hs_flags | HS_FLAG_SINGLEMATCH);
}

rule parse_rule(context& ctx, const YAML::Node& n) {
    ctx.rule_id.clear();
    if (!n.IsMap()) {
        ctx.fail(n, "a rule must be a mapping");
    }
    rule r;
    r.file = ctx.file;
    r.line = yaml_reader::line_of(n);
    if (!n["id"]) {
        ctx.fail(n, "a rule needs an 'id'");
    }
    r.id = ctx.string_of(n["id"], "id");
    if (!valid_id(r.id)) {
        ctx.fail(n["id"], "id '" + r.id + "' must be 1 to 64 of A-Z a-z 0-9 - _ .");
    }
    ctx.rule_id = r.id;
    ctx.only_keys(n, {"id", "name", "class", "match", "action", "alert_rate"}, "a rule");
    r.name = n["name"] ? ctx.string_of(n["name"], "name") : r.id;
    if (!n["class"]) {
        ctx.fail(n,
                 "a rule needs a 'class' (one of " + name_list(pipelines::class_names) + ", any)");
    }
    const std::string cname = ctx.string_of(n["class"], "class");
    if (cname != "any") {
        r.cls = class_of_name(cname);
        if (!r.cls) {
            ctx.fail(n["class"], "unknown class '" + cname +
                                     "' (known: " + name_list(pipelines::class_names) + ", any)");
        }
    }
    if (!n["match"]) {
        ctx.fail(n, "a rule needs a 'match'");
    }
    parse_match(ctx, n["match"], r);
    if (r.cls && !field_in_class(r.fld, *r.cls)) {
        ctx.fail(n["match"], "field " + std::string(field_names[static_cast<std::size_t>(r.fld)]) +
                                 " never occurs in class " + cname);
    }
    if (!n["action"]) {
        ctx.fail(n, "a rule needs an 'action' (" + name_list(action_names) + ")");
    }
    const std::string aname = ctx.string_of(n["action"], "action");
    const auto a = action_of_name(aname);
    if (!a) {
        ctx.fail(n["action"],
                 "unknown action '" + aname + "' (known: " + name_list(action_names) + ")");
    }
    r.act = *a;
    if (const YAML::Node rate = n["alert_rate"]) {
        if (r.act != action::alert) {
            ctx.fail(rate, "'alert_rate' needs action: alert");
        }
        r.alert_per_second =
            static_cast<std::uint32_t>(ctx.unsigned_of(rate, "alert_rate", 1000000));
        if (r.alert_per_second == 0) {
            ctx.fail(rate, "'alert_rate' must be at least 1 per second");
        }
    }
    return r;
}

}  // namespace

std::vector<rule> parse_rules(const std::string& text, const std::string& file_name) {
    context ctx{{}, file_name, {}};
    const YAML::Node root = yaml_reader::parse_document<rules_error>(text, file_name);
    ctx.check_document(root, text);
    if (!root || root.IsNull()) {
        throw rules_error(where(file_name, 1) + "empty rules file: expected 'rules:' with a list");
    }
    ctx.only_keys(root, {"rules"}, "the rules file");
    const YAML::Node list = root["rules"];
    if (!list) {
        ctx.fail(root, "the rules file needs a 'rules:' list");
    }
    if (list.IsNull()) {
        return {};
    }
    if (!list.IsSequence()) {
        ctx.fail(list, "'rules' must be a list");
    }
    std::vector<rule> out;
    std::map<std::string, int> seen;
    for (const auto& item : list) {
        rule r = parse_rule(ctx, item);
        if (const auto [it, fresh] = seen.emplace(r.id, r.line); !fresh) {
            ctx.fail(item["id"], "duplicate id (first at line " + std::to_string(it->second) + ")");
        }
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<rule> load_rule_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) {
        throw rules_error(path + ": cannot read the rules file: " + std::strerror(errno));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        throw rules_error(path + ": cannot read the rules file");
    }
    return parse_rules(ss.str(), path);
}

std::uint32_t slot_map::assign(const std::string& id) {
    if (const auto it = slots_.find(id); it != slots_.end()) {
        return it->second;
    }
    if (slots_.size() >= max_rule_slots) {
        throw rules_error("rule " + id + ": no counter slot left (" +
                          std::to_string(max_rule_slots) +
                          " distinct rule ids in the life of the process)");
    }
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace(id, slot);
    return slot;
}

std::optional<std::uint32_t> slot_map::find(const std::string& id) const {
    if (const auto it = slots_.find(id); it != slots_.end()) {
        return it->second;
    }
    return std::nullopt;
}

namespace {

struct pending_db {
    detail::field_group* group;
};

std::shared_ptr<hs_database_t> compile_group(const std::vector<rule>& rules,
                                             const detail::field_group& g) {
    std::vector<const char*> expressions;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (std::size_t i = 0; i < g.regex_rules.size(); ++i) {
        const rule& r = rules[g.regex_rules[i]];
        expressions.push_back(r.regex.c_str());
        flags.push_back(r.hs_flags | HS_FLAG_SINGLEMATCH);
        ids.push_back(static_cast<unsigned>(i));
    }
    hs_database_t* db = nullptr;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(expressions.data(), flags.data(), ids.data(),
                         static_cast<unsigned>(expressions.size()), HS_MODE_BLOCK, nullptr, &db,
                         &err) != HS_SUCCESS) {
        const std::string why = err != nullptr ? err->message : "unknown error";
        const int at = err != nullptr ? err->expression : -1;
        hs_free_compile_error(err);
        if (at >= 0 && static_cast<std::size_t>(at) < g.regex_rules.size()) {
            const rule& r = rules[g.regex_rules[static_cast<std::size_t>(at)]];
            throw rules_error(where(r) + "pattern '" + r.regex + "' rejected by Hyperscan: " + why);
        }
        const rule& r = rules[g.regex_rules.front()];
        throw rules_error(where(r.file, r.line) + "Hyperscan cannot compile the " +
                          std::string(field_names[static_cast<std::size_t>(r.fld)]) +
                          " patterns together: " + why);
    }
    return std::shared_ptr<hs_database_t>(db, [](hs_database_t* d) { hs_free_database(d); });
}

// The shortest match of any pattern of the group (0 when unknown).
std::uint32_t min_match_length(const std::vector<rule>& rules, const detail::field_group& g) {
    std::uint32_t shortest = UINT32_MAX;
    for (const std::uint32_t i : g.regex_rules) {
        hs_expr_info_t* info = nullptr;
        hs_compile_error_t* err = nullptr;
        if (hs_expression_info(rules[i].regex.c_str(), rules[i].hs_flags | HS_FLAG_SINGLEMATCH,
                               &info, &err) != HS_SUCCESS) {
            hs_free_compile_error(err);
            return 0;
        }
        shortest = std::min(shortest, info->min_width);
        std::free(info);
    }
    return shortest == UINT32_MAX ? 0 : shortest;
}

}  // namespace

std::shared_ptr<const rule_set> rule_set::compile(std::vector<rule> rules, slot_map& slots,
                                                  compile_options opt) {
    std::shared_ptr<rule_set> set(new rule_set());
    set->rules_ = std::move(rules);
    const auto& rs = set->rules_;

    // The rule list of every (class, field); equal lists share one group.
    std::map<std::pair<std::size_t, std::vector<std::uint32_t>>, detail::field_group*> shared;
    for (std::size_t c = 0; c < pipelines::class_count; ++c) {
        const auto cls = static_cast<traffic_class>(c);
        for (std::size_t f = 0; f < field_count; ++f) {
            const auto fld = static_cast<field>(f);
            std::vector<std::uint32_t> members;
            for (std::size_t i = 0; i < rs.size(); ++i) {
                const rule& r = rs[i];
                if (r.fld == fld && (r.cls ? *r.cls == cls : field_in_class(fld, cls))) {
                    members.push_back(static_cast<std::uint32_t>(i));
                }
            }
            if (members.empty()) {
                continue;
            }
            auto& g = shared[{f, members}];
            if (g == nullptr) {
                auto owned = std::make_unique<detail::field_group>();
                for (const std::uint32_t i : members) {
                    if (rs[i].equals) {
                        owned->numeric_rules.push_back({*rs[i].equals, i});
                    } else {
                        owned->regex_rules.push_back(i);
                    }
                }
                g = owned.get();
                set->groups_.push_back(std::move(owned));
            }
            set->classes_[c].groups[f] = g;
            set->classes_[c].fields |= bit(fld);
            set->class_mask_ |= 1u << c;
        }
    }

    std::vector<detail::field_group*> to_compile;
    for (const auto& g : set->groups_) {
        if (!g->regex_rules.empty()) {
            to_compile.push_back(g.get());
        }
    }
    static std::atomic<std::uint64_t> next_cache_id{1};
    for (auto* g : to_compile) {
        g->cache_id = next_cache_id.fetch_add(1, std::memory_order_relaxed);
    }
    const auto compile_one = [&](std::size_t k) {
        to_compile[k]->db = compile_group(rs, *to_compile[k]);
        to_compile[k]->min_length = min_match_length(rs, *to_compile[k]);
    };
    if (opt.parallel && to_compile.size() > 1) {
        tbb::parallel_for(std::size_t{0}, to_compile.size(), compile_one);
    } else {
        for (std::size_t k = 0; k < to_compile.size(); ++k) {
            compile_one(k);
        }
    }
    for (const auto* g : to_compile) {
        std::size_t bytes = 0;
        if (hs_database_size(g->db.get(), &bytes) == HS_SUCCESS) {
            set->database_bytes_ += bytes;
        }
    }
    set->database_count_ = to_compile.size();

    // Slots last: a set that does not compile takes none. Count the new ids first, so that
    // running out takes none either.
    std::size_t fresh = 0;
    for (const rule& r : rs) {
        fresh += slots.find(r.id) ? 0 : 1;
    }
    if (slots.size() + fresh > max_rule_slots) {
        throw rules_error(where(rs.front().file, rs.front().line) + "no counter slot left for " +
                          std::to_string(fresh) + " new rule ids (" +
                          std::to_string(max_rule_slots) +
                          " distinct rule ids in the life of the process)");
    }
    for (const rule& r : rs) {
        set->slots_.push_back(slots.assign(r.id));
        set->has_drop_ = set->has_drop_ || r.act == action::drop;
    }
    return set;
}

scratch::scratch(const rule_set& set) {
    fit(set);
}

scratch& scratch::operator=(scratch&& o) noexcept {
    if (this != &o) {
        if (s_ != nullptr) {
            hs_free_scratch(s_);
        }
        s_ = o.s_;
        o.s_ = nullptr;
        cache_ = std::move(o.cache_);
    }
    return *this;
}

scratch::~scratch() {
    if (s_ != nullptr) {
        hs_free_scratch(s_);
    }
}

void scratch::fit(const rule_set& set) {
    if (!cache_) {
        cache_ = std::make_unique<detail::value_cache>();
    }
    for (std::size_t c = 0; c < pipelines::class_count; ++c) {
        const auto& cr = set.class_rules_of(static_cast<traffic_class>(c));
        for (const auto* g : cr.groups) {
            if (g != nullptr && g->db) {
                if (hs_alloc_scratch(g->db.get(), &s_) != HS_SUCCESS) {
                    throw std::bad_alloc();
                }
            }
        }
    }
}

scratch scratch::clone() const {
    scratch out;
    if (s_ != nullptr && hs_clone_scratch(s_, &out.s_) != HS_SUCCESS) {
        throw std::bad_alloc();
    }
    if (cache_) {
        out.cache_ = std::make_unique<detail::value_cache>();
    }
    return out;
}

namespace detail {

int on_hs_collect(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    auto* c = static_cast<collected*>(ctx);
    if (c->count < value_cache::max_ids) {
        c->ids[c->count] = static_cast<std::uint16_t>(id);
    }
    ++c->count;
    return 0;
}

void scan(const hs_database_t* db, byte_span data, hs_scratch_t* s, hs_trampoline cb, void* ctx) {
    static const char empty = 0;
    const char* p = data.empty() ? &empty : reinterpret_cast<const char*>(data.data());
    // Errors (a scratch that does not fit) cannot be reported from here; fit() before
    // publishing a set makes them impossible.
    hs_scan(db, p, static_cast<unsigned>(data.size()), 0, s, cb, ctx);
}

}  // namespace detail

}  // namespace ports::rules
