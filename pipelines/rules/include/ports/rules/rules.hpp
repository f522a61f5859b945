// Payload and field rules: a YAML rules file compiled into Hyperscan databases, matched per
// packet on the raw L7 payload or on a field the parsers extract. DPDK-free: the engine's
// workers, ports-analyze and the tests share it.
//
// Life of a rule set (control thread, off the data path):
//   auto rules = load_rule_file(path);                       // rules_error on any bad rule
//   auto set = rule_set::compile(std::move(rules), slots);   // rules_error on a rejected pattern
//   for each worker: its scratch for the new set (scratch(*set), or fit() while that worker
//   does not use it), then publish the set; free the old set after every worker has passed.
// Data path (a worker, no allocation, no locks, no syscalls):
//   match_frame(*set, my_scratch, frame, cls,
//               [&](std::uint32_t i) { counters.add(set->slot(i)); });
// A scratch also holds the worker's value cache (see detail::value_cache), which is keyed by
// database, so a scratch fitted to several sets is correct for each of them.
//
// Counters live outside the set (rule_counters, indexed by slot): a rule keeps its slot across
// reloads as long as its id stays, so its counts continue.
#pragma once

#include <hs/hs.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ports/pipelines/counters.hpp"
#include "ports/rules/fields.hpp"

namespace ports::rules {

enum class action : std::uint8_t { count, alert, drop };
inline constexpr std::array<std::string_view, 3> action_names = {"count", "alert", "drop"};

// field, field_count, field_names, field_has_number / field_has_text: see fields.hpp.

// One rule as the file states it. Exactly one of regex / equals is set:
//  - regex: a Hyperscan pattern on a string field (payload, snmp.community, snmp.user,
//    snmp.pdu by name, l2tp.hostname, pptp.hostname, pptp.vendor); hs_flags are HS_FLAG_*
//    (HS_FLAG_SINGLEMATCH is always added at compile: a rule counts once per packet);
//  - equals: an exact value of a numeric field (ntp.mode, ntp.version, ntp.request_code,
//    snmp.pdu as the tag number 0..8 = 0xA0..0xA8, pptp.control_type 1..15).
struct rule {
    std::string id;    // unique in a file; the key of its counters (see slot_map)
    std::string name;  // free text for alerts; defaults to the id
    std::optional<pipelines::traffic_class> cls;  // nullopt = any class
    field fld = field::payload;
    std::string regex;
    unsigned hs_flags = 0;
    std::optional<std::uint64_t> equals;
    action act = action::count;
    std::uint32_t alert_per_second = 0;  // alerts of this rule per second; 0 = the default
    std::string file;                    // where the rule was read: errors say FILE:LINE
    int line = 0;
};

// "FILE:LINE: rule ID: what" (or "FILE:LINE: what" when no rule is concerned).
class rules_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The YAML rules file (format: configs/README.md "Rules file"):
//   rules:
//     - id: ntp-monlist
//       name: NTP mode 7 monlist request
//       class: ntp                      # a class name (ntp, snmp, snmp-trap, l2tp, pptp, gre,
//                                       # other) or any
//       match: {field: ntp.request_code, equals: 42}
//       action: alert                   # count | alert | drop
//       alert_rate: 10                  # optional: alerts per second for this rule
// match keys: field, regex, flags (list of caseless, dotall, multiline, singlematch, utf8,
// ucp, allowempty), equals. Refused with rules_error: YAML errors, unknown keys, missing id /
// class / match / field / action, duplicate ids, unknown class / field / action / flag,
// regex and equals together or neither, regex on a numeric-only field, equals on a string
// field, values out of range, patterns Hyperscan rejects (each pattern is checked alone here;
// compile() checks them again together).
std::vector<rule> parse_rules(const std::string& text, const std::string& file_name);
// parse_rules over a file's text; rules_error "PATH: cannot read" when it cannot be read.
std::vector<rule> load_rule_file(const std::string& path);

// Counter slots: an id keeps its slot for the life of the process (slot_map lives as long as
// the counters do), new ids take the next free slot. Not thread safe: one control thread owns
// it (it is written only by compile()).
inline constexpr std::uint32_t max_rule_slots = 16384;

class slot_map {
  public:
    // The id's slot, given now when it has none; rules_error when all max_rule_slots are taken.
    std::uint32_t assign(const std::string& id);
    std::optional<std::uint32_t> find(const std::string& id) const;
    std::size_t size() const { return slots_.size(); }

  private:
    std::unordered_map<std::string, std::uint32_t> slots_;
};

// Per-rule match counters of one worker core, by slot. Only that core writes; anyone reads
// (relaxed, as pipelines::core_counters). 128 KiB per core.
struct alignas(64) rule_counters {
    std::array<std::uint64_t, max_rule_slots> matches{};

    void add(std::uint32_t slot) { pipelines::single_writer_add(matches[slot], 1); }
    std::uint64_t load(std::uint32_t slot) const {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(matches[slot]))
            .load(std::memory_order_relaxed);
    }
};

struct compile_options {
    bool parallel = true;  // compile the (class, field) databases in parallel with TBB
};

namespace detail {

// The rules of one (class, field): one Hyperscan database with every regex rule on it (the
// pattern id is the position in regex_rules) and the numeric rules as plain compares. Classes
// whose rule lists are the same share one compiled group.
struct field_group {
    std::shared_ptr<hs_database_t> db;       // null when the field has no regex rule for the class
    std::vector<std::uint32_t> regex_rules;  // pattern id -> rule index
    // No pattern matches fewer bytes (Hyperscan's min_width): a shorter value is not scanned.
    std::uint32_t min_length = 0;
    // Unique for the life of the process (never reused, unlike an address): the key of this
    // group's entries in a scratch's value cache.
    std::uint64_t cache_id = 0;
    struct numeric_rule {
        std::uint64_t value;
        std::uint32_t rule_index;
    };
    std::vector<numeric_rule> numeric_rules;
};

struct class_rules {
    field_mask fields = 0;  // fields with a group below
    std::array<const field_group*, field_count> groups{};
};

}  // namespace detail

// An immutable compiled set. Any class rules ("class: any") are part of every class's groups.
class rule_set {
  public:
    // rules_error (rule id, FILE:LINE) when Hyperscan rejects a pattern; slots are assigned to
    // every rule's id (new ids get new slots) only when the whole set compiled.
    static std::shared_ptr<const rule_set> compile(std::vector<rule> rules, slot_map& slots,
                                                   compile_options opt = {});

    std::size_t size() const { return rules_.size(); }
    const rule& at(std::size_t i) const { return rules_[i]; }
    std::uint32_t slot(std::size_t i) const { return slots_[i]; }
    const std::vector<rule>& rules() const { return rules_; }

    // One bit test: a packet of a class without rules costs this and nothing more.
    bool has_rules_for(pipelines::traffic_class c) const {
        return (class_mask_ >> static_cast<unsigned>(c) & 1u) != 0;
    }
    bool has_drop_rules() const { return has_drop_; }
    // The fields some rule of this class looks at.
    field_mask fields_for(pipelines::traffic_class c) const {
        return classes_[static_cast<std::size_t>(c)].fields;
    }
    // Hyperscan databases (distinct) and the bytes they take.
    std::size_t database_count() const { return database_count_; }
    std::size_t database_bytes() const { return database_bytes_; }

    const detail::class_rules& class_rules_of(pipelines::traffic_class c) const {
        return classes_[static_cast<std::size_t>(c)];
    }

  private:
    rule_set() = default;

    std::vector<rule> rules_;
    std::vector<std::uint32_t> slots_;
    std::vector<std::unique_ptr<detail::field_group>> groups_;
    std::array<detail::class_rules, pipelines::class_count> classes_{};
    std::uint32_t class_mask_ = 0;
    bool has_drop_ = false;
    std::size_t database_count_ = 0;
    std::size_t database_bytes_ = 0;
};

namespace detail {

// Short field values repeat (SNMP communities, host names, vendors): a worker remembers which
// patterns of a group matched a value, in a small direct-mapped table, and skips Hyperscan when
// the same value comes again. Payloads are never cached.
struct value_cache {
    static constexpr std::size_t entries = 256;
    static constexpr std::size_t max_value = 32;
    static constexpr std::size_t max_ids = 4;
    struct entry {
        std::uint64_t group = 0;  // field_group::cache_id; 0 = empty
        std::uint8_t size = 0;
        std::uint8_t count = 0;
        std::array<std::uint16_t, max_ids> ids{};  // pattern ids that matched
        std::array<std::uint8_t, max_value> value{};
    };
    std::array<entry, entries> table{};
};

}  // namespace detail

// Hyperscan scratch space, one per worker (a scratch is used by one thread at a time), and the
// worker's value cache.
class scratch {
  public:
    scratch() = default;
    // A scratch that fits every database of the set.
    explicit scratch(const rule_set& set);
    scratch(scratch&& o) noexcept : s_(o.s_), cache_(std::move(o.cache_)) { o.s_ = nullptr; }
    scratch& operator=(scratch&& o) noexcept;
    scratch(const scratch&) = delete;
    scratch& operator=(const scratch&) = delete;
    ~scratch();

    // Grows this scratch to fit every database of the set too (hs_alloc_scratch may replace
    // it): call it off the data path, and never while another thread scans with this scratch.
    // For a hitless reload give every worker a new scratch (scratch(set)) with the new set and
    // free the old one with the old set.
    void fit(const rule_set& set);
    // A copy of the same size (hs_clone_scratch): one per worker from a fitted prototype.
    scratch clone() const;

    hs_scratch_t* get() const { return s_; }
    explicit operator bool() const { return s_ != nullptr; }
    detail::value_cache* cache() const { return cache_.get(); }

  private:
    hs_scratch_t* s_ = nullptr;
    std::unique_ptr<detail::value_cache> cache_;
};

namespace detail {

// hs_scan of one buffer against one database; calls on_match(pattern id). Out of line
// (rules.cpp): the Hyperscan call itself.
using hs_trampoline = int (*)(unsigned id, unsigned long long from, unsigned long long to,
                              unsigned flags, void* ctx);
void scan(const hs_database_t* db, byte_span data, hs_scratch_t* s, hs_trampoline cb, void* ctx);

template <class OnMatch>
struct scan_context {
    const field_group* group;
    OnMatch* on_match;
};

template <class OnMatch>
int on_hs_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
    auto* c = static_cast<scan_context<OnMatch>*>(ctx);
    (*c->on_match)(c->group->regex_rules[id]);
    return 0;
}

// Collects up to max_ids pattern ids; count goes on past it (then the value is not cached).
struct collected {
    std::array<std::uint16_t, value_cache::max_ids> ids{};
    std::uint32_t count = 0;
};
int on_hs_collect(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx);

inline std::uint64_t value_hash(byte_span value, std::uint64_t group) {
    std::uint64_t h = 0xCBF29CE484222325ull ^ group;
    for (const std::uint8_t b : value) {
        h = (h ^ b) * 0x100000001B3ull;
    }
    return h ^ (h >> 29);
}

// One short field value through a group's database, by way of the cache.
template <class OnMatch>
void scan_cached(const field_group& g, value_cache& cache, hs_scratch_t* s, byte_span value,
                 OnMatch& on_match) {
    auto& e = cache.table[value_hash(value, g.cache_id) % value_cache::entries];
    if (e.group == g.cache_id && e.size == value.size() &&
        (value.empty() || std::memcmp(e.value.data(), value.data(), value.size()) == 0)) {
        for (std::uint32_t k = 0; k < e.count; ++k) {
            on_match(g.regex_rules[e.ids[k]]);
        }
        return;
    }
    collected c;
    scan(g.db.get(), value, s, &on_hs_collect, &c);
    if (c.count > value_cache::max_ids) {
        // Too many to remember: scan again, reporting directly.
        scan_context<OnMatch> ctx{&g, &on_match};
        scan(g.db.get(), value, s, &on_hs_match<OnMatch>, &ctx);
        return;
    }
    e.group = g.cache_id;
    e.size = static_cast<std::uint8_t>(value.size());
    e.count = static_cast<std::uint8_t>(c.count);
    e.ids = c.ids;
    if (!value.empty()) {
        std::memcpy(e.value.data(), value.data(), value.size());
    }
    for (std::uint32_t k = 0; k < c.count; ++k) {
        on_match(g.regex_rules[c.ids[k]]);
    }
}

template <class OnMatch>
void match_values(const class_rules& cr, scratch& s, const field_values& v, OnMatch& on_match) {
    field_mask todo = cr.fields & v.present;
    while (todo != 0) {
        const unsigned f = static_cast<unsigned>(__builtin_ctz(todo));
        todo &= todo - 1;
        const field_group* g = cr.groups[f];
        for (const auto& n : g->numeric_rules) {
            if (n.value == v.number[f]) {
                on_match(n.rule_index);
            }
        }
        if (!g->db || v.text_size[f] < g->min_length) {
            continue;
        }
        if (f != static_cast<unsigned>(field::payload) &&
            v.text_size[f] <= value_cache::max_value && g->regex_rules.size() <= 0xFFFF &&
            s.cache() != nullptr) {
            scan_cached(*g, *s.cache(), s.get(), v.text_of(static_cast<field>(f)), on_match);
        } else {
            scan_context<OnMatch> ctx{g, &on_match};
            scan(g->db.get(), v.text_of(static_cast<field>(f)), s.get(), &on_hs_match<OnMatch>,
                 &ctx);
        }
    }
}

}  // namespace detail

// The rules of a frame's class against what the classifier recorded of it (frame: the bytes
// the record's offsets count from): on_match(rule index) once per matching rule (SINGLEMATCH;
// a rule looks at one field, so it can match only once). Nothing is parsed: the field values
// come from the record. No allocation (the scratch must fit the set).
template <class OnMatch>
inline void match_record(const rule_set& set, scratch& s, const pipelines::frame_record& r,
                         byte_span frame, OnMatch&& on_match) {
    if (!set.has_rules_for(r.cls)) [[likely]] {
        return;
    }
    const auto& cr = set.class_rules_of(r.cls);
    detail::match_values(cr, s, fields_of(r, frame, cr.fields), on_match);
}

// The same for a frame not classified yet (tests, tools): classified here, then matched. cls
// is what classify_frame says of it.
template <class OnMatch>
inline void match_frame(const rule_set& set, scratch& s, byte_span frame,
                        pipelines::traffic_class cls, OnMatch&& on_match) {
    if (!set.has_rules_for(cls)) [[likely]] {
        return;
    }
    match_record(set, s, pipelines::classify_frame_full(frame).record, frame, on_match);
}

// A network-layer packet whose ethertype the capture's link type gives (as classify_l3).
template <class OnMatch>
inline void match_l3(const rule_set& set, scratch& s, std::uint16_t ethertype, byte_span l3,
                     pipelines::traffic_class cls, OnMatch&& on_match) {
    if (!set.has_rules_for(cls)) [[likely]] {
        return;
    }
    match_record(set, s, pipelines::classify_l3_full(ethertype, l3).record, l3, on_match);
}

// A frame's outcome: how many rules matched, whether one of them drops it, whether one alerts.
struct verdict {
    std::uint32_t matched = 0;
    bool drop = false;
    bool alert = false;
};

// match_frame that counts every match in counters (slot of the rule) and sums up the actions.
inline verdict match_and_count(const rule_set& set, scratch& s, byte_span frame,
                               pipelines::traffic_class cls, rule_counters& counters) {
    verdict v;
    match_frame(set, s, frame, cls, [&](std::uint32_t i) {
        ++v.matched;
        counters.add(set.slot(i));
        const action a = set.at(i).act;
        v.drop = v.drop || a == action::drop;
        v.alert = v.alert || a == action::alert;
    });
    return v;
}

// Name <-> value helpers for files, logs and JSON.
std::optional<pipelines::traffic_class> class_of_name(std::string_view name);
std::optional<action> action_of_name(std::string_view name);

}  // namespace ports::rules
