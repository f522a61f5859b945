// The only file that includes net-snmp: its headers define macros (FREE, READ, ...) that must
// not leak into the rest of the engine, and every call it makes runs on the agent's thread.
#include "ports/telemetry/snmp_agent.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/select.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

// clang-format off
#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>
#include <net-snmp/agent/net-snmp-agent-includes.h>
// clang-format on

// The subagent's session with the master: null while not connected (subagent.c sets it when
// the AgentX open succeeds and clears it when a ping fails). Not in net-snmp's headers.
extern "C" {
extern netsnmp_session* main_session;
}

namespace ports::telemetry {

namespace {

constexpr const char* app_name = "ports-engine";
const oid snmp_trap_oid[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};

int log_callback(int, int, void* server_arg, void*) {
    const auto* m = static_cast<const snmp_log_message*>(server_arg);
    if (m == nullptr || m->msg == nullptr) {
        return 0;
    }
    std::string_view text(m->msg);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        return 0;
    }
    // Connection failures repeat every ping interval; the agent logs the transitions itself.
    if (m->priority <= LOG_ERR) {
        spdlog::warn("net-snmp: {}", text);
    } else {
        spdlog::debug("net-snmp: {}", text);
    }
    return 0;
}

std::vector<oid> to_oid(std::span<const std::uint32_t> o) {
    return {o.begin(), o.end()};
}

std::vector<std::uint32_t> from_oid(const oid* o, std::size_t n) {
    std::vector<std::uint32_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        out[i] = static_cast<std::uint32_t>(o[i]);
    }
    return out;
}

void set_value(netsnmp_variable_list* vb, const mib_value& v) {
    switch (v.type) {
        case value_type::integer: {
            const long x = static_cast<std::int32_t>(static_cast<std::uint32_t>(v.number));
            snmp_set_var_typed_value(vb, ASN_INTEGER, &x, sizeof(x));
            break;
        }
        case value_type::gauge32:
        case value_type::unsigned32:
        case value_type::timeticks: {
            const u_long x = static_cast<u_long>(v.number);
            const u_char type = v.type == value_type::timeticks ? ASN_TIMETICKS
                                : v.type == value_type::gauge32 ? ASN_GAUGE
                                                                : ASN_UNSIGNED;
            snmp_set_var_typed_value(vb, type, &x, sizeof(x));
            break;
        }
        case value_type::counter32: {
            const u_long x = static_cast<u_long>(v.number & 0xFFFFFFFFu);
            snmp_set_var_typed_value(vb, ASN_COUNTER, &x, sizeof(x));
            break;
        }
        case value_type::counter64: {
            counter64 c{};
            c.high = static_cast<u_long>(v.number >> 32);
            c.low = static_cast<u_long>(v.number & 0xFFFFFFFFu);
            snmp_set_var_typed_value(vb, ASN_COUNTER64, &c, sizeof(c));
            break;
        }
        case value_type::octets:
            snmp_set_var_typed_value(vb, ASN_OCTET_STR, v.text.data(), v.text.size());
            break;
    }
}

}  // namespace

struct snmp_agent::state {
    snmp_agent_options options;
    snapshot_source source;
    watcher watch;

    std::thread thread;
    std::atomic<bool> stop{false};
    std::atomic<bool> is_connected{false};
    std::atomic<std::uint64_t> sent{0};
    bool started = false;

    std::mutex queue_mutex;
    std::vector<notification> queue;

    // Agent thread only.
    mib_view view;
    mib_snapshot last;
    std::chrono::steady_clock::time_point taken{};
    bool have_snapshot = false;
    bool started_trap_sent = false;
    std::uint64_t snapshots = 0;

    void refresh() {
        last = source();
        last.master_epoch = master_epoch();
        view = build_view(last);
        taken = std::chrono::steady_clock::now();
        have_snapshot = true;
        ++snapshots;
    }

    void refresh_if_older(std::chrono::milliseconds age) {
        if (!have_snapshot || std::chrono::steady_clock::now() - taken > age) {
            refresh();
        }
    }

    // When the master's sysUpTime was 0, once per session: net-snmp's agent uptime in a
    // subagent is the master's sysUpTime (set again from every AgentX response of the master:
    // open, register, ping), but read against the clock it moves by a tick either way, and an
    // IF-MIB TimeStamp that moves says "changed" to an NMS. None while not connected.
    std::optional<std::chrono::steady_clock::time_point> master_epoch() {
        if (main_session == nullptr) {
            epoch_session = nullptr;
            return std::nullopt;
        }
        if (epoch_session != main_session) {
            epoch_session = main_session;
            epoch = std::chrono::steady_clock::now() -
                    std::chrono::milliseconds(
                        static_cast<std::int64_t>(netsnmp_get_agent_uptime()) * 10);
        }
        return epoch;
    }
    netsnmp_session* epoch_session = nullptr;
    std::chrono::steady_clock::time_point epoch{};

    int handle(netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests);
    const mib_entry* next_of(const netsnmp_request_info* r) const;
    void register_if_rows();
    void send(const notification& n);
    void run();
    void check_connection();
    void drain_queue();
};

namespace {

snmp_agent::state* g_agent = nullptr;  // net-snmp's handler has no C++ context; one per process

int mib_handler(netsnmp_mib_handler*, netsnmp_handler_registration*,
                netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
    if (g_agent == nullptr) {
        return SNMP_ERR_GENERR;
    }
    return g_agent->handle(reqinfo, requests);
}

}  // namespace

// The entry a GETNEXT answers with: the first one after the request (at it when inclusive),
// and before the end of the subtree the request was routed to. Past that end the answer is
// another registration's (or, in IF-MIB, snmpd's own kernel rows between ours): none here.
const mib_entry* snmp_agent::state::next_of(const netsnmp_request_info* r) const {
    const auto o = from_oid(r->requestvb->name, r->requestvb->name_length);
    const mib_entry* e = r->inclusive ? find_exact(view, o) : nullptr;
    if (e == nullptr) {
        e = find_next(view, o);
    }
    if (e != nullptr && r->range_end != nullptr && r->range_end_len != 0 &&
        compare_oid(e->oid, from_oid(r->range_end, r->range_end_len)) >= 0) {
        return nullptr;
    }
    return e;
}

int snmp_agent::state::handle(netsnmp_agent_request_info* reqinfo, netsnmp_request_info* requests) {
    if (reqinfo->mode == MODE_GETNEXT || reqinfo->mode == MODE_GETBULK) {
        // A GETNEXT that answers with the first object of PORTS-ENGINE-MIB, of the ports'
        // ifTable rows or of their ifXTable rows starts a walk: it gets a new snapshot, and the
        // rest of the walk continues in it.
        bool new_walk = !have_snapshot;
        for (auto* r = requests; r != nullptr && !new_walk; r = r->next) {
            new_walk = view.empty() || starts_walk(view, next_of(r));
        }
        if (new_walk) {
            refresh();
        } else {
            refresh_if_older(options.snapshot_max_age);
        }
    } else if (reqinfo->mode == MODE_GET) {
        refresh_if_older(options.get_max_age);
    } else {
        // Read-only MIB: SETs are refused.
        for (auto* r = requests; r != nullptr; r = r->next) {
            netsnmp_set_request_error(reqinfo, r, SNMP_ERR_NOTWRITABLE);
        }
        return SNMP_ERR_NOERROR;
    }

    for (auto* r = requests; r != nullptr; r = r->next) {
        if (r->processed) {
            continue;
        }
        const auto o = from_oid(r->requestvb->name, r->requestvb->name_length);
        if (reqinfo->mode == MODE_GET) {
            const mib_entry* e = find_exact(view, o);
            if (e == nullptr) {
                netsnmp_set_request_error(reqinfo, r, SNMP_NOSUCHINSTANCE);
            } else {
                set_value(r->requestvb, e->value);
            }
            continue;
        }
        const mib_entry* e = next_of(r);
        if (e != nullptr) {
            const auto name = to_oid(e->oid);
            snmp_set_var_objid(r->requestvb, name.data(), name.size());
            set_value(r->requestvb, e->value);
        }
        // Nothing set past the end: the master moves on to the next subtree.
    }
    return SNMP_ERR_NOERROR;
}

// Each port's ifEntry and ifXEntry, as ranges <entry>.[1-last column].<ifIndex>: snmpd routes
// exactly these instances here and keeps serving its own kernel rows (other ifIndexes) around
// them; GETNEXT goes through both in OID order (net-snmp retries past a subtree's end).
void snmp_agent::state::register_if_rows() {
    for (const auto& p : last.ports) {
        if (p.if_index == 0) {
            continue;
        }
        const struct {
            std::span<const std::uint32_t> entry;
            std::uint32_t columns;
            const char* name;
        } tables[] = {{if_entry_oid, if_entry_columns, "ifEntry"},
                      {if_x_entry_oid, if_x_entry_columns, "ifXEntry"}};
        for (const auto& t : tables) {
            std::vector<oid> root(t.entry.begin(), t.entry.end());
            root.push_back(1);
            root.push_back(p.if_index);
            netsnmp_handler_registration* reg = netsnmp_create_handler_registration(
                t.name, mib_handler, root.data(), root.size(), HANDLER_CAN_RONLY);
            if (reg == nullptr) {
                spdlog::error("snmp: cannot register IF-MIB {} rows of port {}", t.name, p.name);
                continue;
            }
            reg->range_subid = static_cast<int>(t.entry.size()) + 1;  // the column's arc
            reg->range_ubound = t.columns;
            if (netsnmp_register_handler(reg) != MIB_REGISTERED_OK) {
                spdlog::error("snmp: cannot register IF-MIB {} rows of port {} (ifIndex {})",
                              t.name, p.name, p.if_index);
            }
        }
    }
}

void snmp_agent::state::send(const notification& n) {
    netsnmp_variable_list* vars = nullptr;
    const auto trap = to_oid(n.trap_oid);
    snmp_varlist_add_variable(&vars, snmp_trap_oid, std::size(snmp_trap_oid), ASN_OBJECT_ID,
                              trap.data(), trap.size() * sizeof(oid));
    for (const auto& vb : n.varbinds) {
        const auto name = to_oid(vb.oid);
        netsnmp_variable_list* v =
            snmp_varlist_add_variable(&vars, name.data(), name.size(), ASN_NULL, nullptr, 0);
        if (v != nullptr) {
            set_value(v, vb.value);
        }
    }
    send_v2trap(vars);
    snmp_free_varbind(vars);
    sent.fetch_add(1, std::memory_order_relaxed);
}

void snmp_agent::state::check_connection() {
    const bool now = main_session != nullptr;
    if (now == is_connected.load(std::memory_order_relaxed)) {
        return;
    }
    is_connected.store(now, std::memory_order_relaxed);
    const std::string where = options.agentx_socket.empty()
                                  ? std::string("the default AgentX socket")
                                  : options.agentx_socket;
    if (now) {
        spdlog::info("snmp: connected to snmpd at {}", where);
        if (options.start_stop_traps && !started_trap_sent) {
            refresh();
            send(started_notification(last));
            started_trap_sent = true;
        }
    } else {
        epoch_session = nullptr;  // the next session's master has a sysUpTime of its own
        spdlog::warn("snmp: lost snmpd at {}, retrying every {} s", where,
                     options.ping_interval.count());
    }
}

void snmp_agent::state::drain_queue() {
    std::vector<notification> pending;
    {
        std::lock_guard lock(queue_mutex);
        pending.swap(queue);
    }
    for (const auto& n : pending) {
        if (is_connected.load(std::memory_order_relaxed)) {
            send(n);
        } else {
            spdlog::debug("snmp: not connected, notification dropped");
        }
    }
}

void snmp_agent::state::run() {
    // Every signal goes to the engine's other threads; SIGPIPE (a write to a master that just
    // went away) then fails the write with EPIPE rather than killing the engine.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    if (!options.cpus.empty()) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned c : options.cpus) {
            CPU_SET(c, &set);
        }
        if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
            spdlog::warn("snmp: cannot pin the agent's thread to its CPUs; it keeps the caller's");
        }
    }

    snmp_disable_log();
    snmp_register_callback(SNMP_CALLBACK_LIBRARY, SNMP_CALLBACK_LOGGING, log_callback, nullptr);
    snmp_enable_calllog();

    netsnmp_ds_set_boolean(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_ROLE, 1);
    if (!options.agentx_socket.empty()) {
        netsnmp_ds_set_string(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_X_SOCKET,
                              options.agentx_socket.c_str());
    }
    // init_agent sets net-snmp's default ping interval (15 s): ours is set after it, and again
    // after init_snmp (which reads snmp config files that may set it too).
    const auto set_ping = [this] {
        netsnmp_ds_set_int(NETSNMP_DS_APPLICATION_ID, NETSNMP_DS_AGENT_AGENTX_PING_INTERVAL,
                           static_cast<int>(options.ping_interval.count()));
    };
    set_ping();
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_ALARM_DONT_USE_SIG, 1);
    // The engine keeps no SNMP state across runs: nothing to load, nothing to write.
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DONT_PERSIST_STATE, 1);
    netsnmp_ds_set_boolean(NETSNMP_DS_LIBRARY_ID, NETSNMP_DS_LIB_DISABLE_PERSISTENT_LOAD, 1);

    init_agent(app_name);
    set_ping();
    const auto root = to_oid(mib_root);
    netsnmp_handler_registration* reg = netsnmp_create_handler_registration(
        "portsEngineMIB", mib_handler, root.data(), root.size(), HANDLER_CAN_RONLY);
    if (reg == nullptr || netsnmp_register_handler(reg) != MIB_REGISTERED_OK) {
        spdlog::error("snmp: cannot register PORTS-ENGINE-MIB's handler");
    }
    refresh();  // the ports' rows (they do not change while the engine runs)
    register_if_rows();
    init_snmp(app_name);
    set_ping();
    if (main_session == nullptr) {
        spdlog::warn("snmp: no snmpd at {} yet, retrying every {} s",
                     options.agentx_socket.empty() ? std::string("the default AgentX socket")
                                                   : options.agentx_socket,
                     options.ping_interval.count());
    }

    auto next_watch = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    auto step = [this](int max_ms) {
        int numfds = 0;
        fd_set fds;
        FD_ZERO(&fds);
        timeval tv{0, max_ms * 1000};
        int block = 0;
        snmp_select_info(&numfds, &fds, &tv, &block);
        if (block != 0 || tv.tv_sec > 0 || tv.tv_usec > max_ms * 1000) {
            tv = {0, max_ms * 1000};
        }
        const int n = select(numfds, &fds, nullptr, nullptr, &tv);
        if (n > 0) {
            snmp_read(&fds);
        } else if (n == 0) {
            snmp_timeout();
        } else if (errno != EINTR) {
            spdlog::warn("snmp: select: {}", std::strerror(errno));
        }
        run_alarms();
        netsnmp_check_outstanding_agent_requests();
    };

    while (!stop.load(std::memory_order_relaxed)) {
        step(100);
        check_connection();
        drain_queue();
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_watch) {
            next_watch = now + std::chrono::seconds(1);
            if (watch) {
                for (auto& n : watch()) {
                    if (is_connected.load(std::memory_order_relaxed)) {
                        send(n);
                    }
                }
            }
        }
    }

    drain_queue();
    if (is_connected.load(std::memory_order_relaxed) && options.start_stop_traps) {
        refresh();
        send(stopping_notification(last));
        // Give the master the moment it needs to take the notification before the close.
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (std::chrono::steady_clock::now() < until) {
            step(20);
        }
    }
    snmp_shutdown(app_name);
    spdlog::info("snmp: subagent stopped ({} notifications sent, {} snapshots served)",
                 sent.load(std::memory_order_relaxed), snapshots);
}

snmp_agent::snmp_agent(snmp_agent_options options, snapshot_source source, watcher watch)
    : state_(std::make_unique<state>()) {
    state_->options = std::move(options);
    state_->source = std::move(source);
    state_->watch = std::move(watch);
}

snmp_agent::~snmp_agent() {
    stop();
}

void snmp_agent::start() {
    if (state_->started) {
        return;
    }
    if (g_agent != nullptr) {
        throw std::logic_error("one snmp_agent per process");
    }
    // The subagent needs no MIB files (it serves OIDs): with MIBS empty net-snmp parses none,
    // and makes no noise about modules a host lacks. Set here, before the agent's thread.
    setenv("MIBS", "", 1);
    g_agent = state_.get();
    state_->started = true;
    state_->thread = std::thread([s = state_.get()] { s->run(); });
}

void snmp_agent::stop() {
    if (!state_->started || !state_->thread.joinable()) {
        return;
    }
    state_->stop.store(true, std::memory_order_relaxed);
    state_->thread.join();
    g_agent = nullptr;
}

void snmp_agent::post(notification n) {
    std::lock_guard lock(state_->queue_mutex);
    state_->queue.push_back(std::move(n));
}

bool snmp_agent::connected() const {
    return state_->is_connected.load(std::memory_order_relaxed);
}

std::uint64_t snmp_agent::sent() const {
    return state_->sent.load(std::memory_order_relaxed);
}

}  // namespace ports::telemetry
