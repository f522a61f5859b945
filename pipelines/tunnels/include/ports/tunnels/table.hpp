// Tunnel tables: PPTP control connections and calls (with the GRE v1 frames of each call),
// L2TP tunnels and sessions (with their data frames), GRE v0 tunnels by endpoints and key.
// One table per worker lcore, DPDK-free (ports-analyze and the tests use it as it is).
//
// Fixed memory: the entries and the index are allocated once, at construction, for the
// capacity asked for; update() never allocates, locks, logs or makes a system call. The index
// is open addressing with linear probing (load <= 1/2: every entry has at most two keys, the
// index has four slots per entry) and backward-shift deletion, so no tombstones build up.
// A frame that needs a new entry when all are in use is counted (stats().table_full) and
// otherwise ignored. Entries idle for longer than the idle timeout are removed by expire(),
// which the owner calls with a bound on the entries it looks at per call.
//
// Inside the tunnel: update() also classifies what a data frame carries (inner_of below: PPP
// -> IPv4/IPv6 in PPTP's GRE v1 and in L2TPv2 data, IPv4/IPv6 over GRE v0, Ethernet over GRE
// (TEB) and ERSPAN I/II/III) with the same classifier, counts it per object (inner_packets,
// inner_bytes by class) and returns it so that the caller counts it per class (the counters'
// inner_packets, inner_bytes). A tunnel inside the tunnel is looked through in turn, at most
// max_inner_depth tunnels deep: the innermost class is the one counted, once.
//
// Which frames of one tunnel reach which lcore: RSS hashes TCP/1723 (PPTP control) on
// addresses and ports but GRE on addresses only, so a PPTP call's control messages and its GRE
// frames may be counted by different lcores; L2TP over UDP keeps one 5-tuple for control and
// data (the same lcore with symmetric RSS; without it the two directions may part), L2TP over
// IP is hashed on addresses like GRE. A GRE v1 or L2TP data frame whose call or session this
// table has not seen is kept as a data entry under the key it carries (receiver address,
// sender address, the receiver's call or tunnel/session ID) - exactly the key under which the
// call's or session's entry is indexed for that direction - and merge() folds such entries
// into the call or session of another table that has the same key. A table folds its own data
// entries into a call or session when that call or session becomes known to it.
//
// Memory: every array comes from the memory resource given at construction (the engine's: the
// lcore's NUMA socket, engine/socket_memory.hpp), once.
//
// Threads: only the owner calls update() and expire(). A reader on another thread must not
// walk a table the owner is writing: the owner publishes a copy (copy_to(), no allocation:
// into a table of the same capacity) at a point of its choosing, or - a worker, which cannot
// stop for a whole copy - answers a table_mirror's request a few entries per loop iteration,
// and readers merge the copies.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory_resource>
#include <span>
#include <string>
#include <vector>

#include "ports/parsers/common.hpp"
#include "ports/pipelines/counters.hpp"
#include "ports/pipelines/frame_record.hpp"

namespace ports::tunnels {

// v4 addresses in the first 4 bytes, the rest zero, so that == compares values.
struct ip_address {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};

    friend bool operator==(const ip_address&, const ip_address&) = default;
    std::string text() const;
};

enum class kind : std::uint8_t {
    none,
    pptp_control,  // a TCP/1723 connection: client = the side that sent SCCRQ
    pptp_call,     // client = the side whose call ID the first request carried (OCRQ: PNS)
    l2tp_tunnel,   // client = the side that sent SCCRQ
    l2tp_session,  // client = the side that sent ICRQ or OCRQ
    gre_tunnel,    // GRE v0: client = the sender of the first frame seen
    // A GRE v1 or L2TP data frame's key with no call or session known here: server = its
    // receiver, client = its sender, server_id the receiver's ID (L2TP: tunnel << 32 | session
    // for v2; the session ID for v3).
    pptp_data,
    l2tp_data,
};
inline constexpr std::array<const char*, 8> kind_names = {
    "none",         "pptp-control", "pptp-call", "l2tp-tunnel",
    "l2tp-session", "gre-tunnel",   "pptp-data", "l2tp-data"};

enum class state : std::uint8_t {
    none,
    requested,    // SCCRQ / OCRQ / ICRQ seen
    replied,      // SCCRP / OCRP / ICRP seen (PPTP: up when the reply says connected)
    established,  // SCCCN / ICCN / OCCN seen, or a PPTP reply with result 1
    stopping,     // StopCCRQ / CCRQ
    closed,       // StopCCRP / StopCCN / CDN
    data,         // seen in data frames only
};
inline constexpr std::array<const char*, 7> state_names = {
    "none", "requested", "replied", "established", "stopping", "closed", "data"};

inline constexpr std::size_t name_length = 64;  // PPTP's host name and vendor fields

struct entry {
    kind k = kind::none;
    state st = state::none;
    std::uint8_t l2tp_version = 0;
    bool was_up = false;  // reached established at some point (up/down notifications)
    ip_address client;
    ip_address server;
    std::uint16_t client_port = 0;  // pptp_control
    std::uint16_t server_port = 0;
    std::uint64_t client_id = 0;         // call, tunnel or session ID the client assigned; GRE: key
    std::uint64_t server_id = 0;         // the server's
    std::uint64_t tunnel_client_id = 0;  // l2tp_session: the tunnel's IDs (v2)
    std::uint64_t tunnel_server_id = 0;
    bool has_client_id = false;
    bool has_server_id = false;
    bool gre_key_present = false;
    // [0] client -> server, [1] server -> client. Control messages and data frames alike.
    std::array<std::uint64_t, 2> packets{};
    std::array<std::uint64_t, 2> bytes{};
    std::uint64_t control_messages = 0;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::uint8_t client_name_length = 0;
    std::uint8_t server_name_length = 0;
    std::uint8_t vendor_length = 0;
    std::array<char, name_length> client_name{};  // PPTP / L2TP host name of each side
    std::array<char, name_length> server_name{};
    std::array<char, name_length> vendor{};  // PPTP: the client's vendor string
    // What its data frames carried (inner_of), by the inner packet's class; both directions.
    std::array<std::uint64_t, pipelines::class_count> inner_packets{};
    std::array<std::uint64_t, pipelines::class_count> inner_bytes{};

    std::uint64_t total_packets() const { return packets[0] + packets[1]; }
    std::uint64_t total_bytes() const { return bytes[0] + bytes[1]; }
    std::string_view client_host() const { return {client_name.data(), client_name_length}; }
    std::string_view server_host() const { return {server_name.data(), server_name_length}; }
    std::string_view vendor_name() const { return {vendor.data(), vendor_length}; }
};

struct table_stats {
    std::uint64_t frames = 0;  // frames given to update() that belong to a tunnel
    std::uint64_t created = 0;
    std::uint64_t table_full = 0;  // frames that needed a new entry when none was free
    std::uint64_t expired = 0;
    std::uint64_t reused = 0;   // a new call or session took the ID of an existing one
    std::uint64_t unknown = 0;  // control messages naming nothing known (dropped)
};

// Tunnels looked through from the outer frame, the first included: GRE in GRE in GRE is
// counted as what the third carries; a fourth is counted as gre.
inline constexpr std::uint8_t max_inner_depth = 3;

// The packet a tunnel frame carries, as the classifier sees it: present only for a valid,
// whole data frame with a payload (not a GRE keepalive or ack, not an L2TP control message).
// PPP that is not IPv4 or IPv6 (LCP, CHAP, compressed or MPPE-encrypted frames), a GRE
// protocol or ERSPAN frame type that is neither IP nor Ethernet, and L2TPv3 data (its cookie
// and sublayer lengths are the session's configuration, which no frame carries) are other.
struct inner_packet {
    bool present = false;
    pipelines::traffic_class cls = pipelines::traffic_class::other;
    std::uint8_t depth = 0;   // tunnels looked through to reach it: 1 .. max_inner_depth
    std::uint32_t bytes = 0;  // its length from its network (IP, PPP's IP) or Ethernet header
};
inner_packet inner_of(const pipelines::frame_record& r, parsers::byte_span frame);

// The class counters of an inner packet (counters.hpp's inner_packets, inner_bytes).
inline void count_inner(pipelines::core_counters& c, const inner_packet& p) {
    if (p.present) {
        const std::uint16_t at = pipelines::inner_base[static_cast<std::size_t>(p.cls)];
        c.add(at, 1);
        c.add(at + 1, p.bytes);
    }
}

struct row;
class table;
std::vector<row> merge(std::span<const table* const> tables);
std::vector<row> merge(std::span<const std::span<const entry>> lists);

class table {
  public:
    // capacity: entries (>= 1); idle_timeout_ns: how long an entry stays without frames;
    // memory: where every array of the table comes from (allocated here, once).
    table(std::uint32_t capacity, std::uint64_t idle_timeout_ns,
          std::pmr::memory_resource* memory = std::pmr::get_default_resource());

    // One classified frame (r from the classifier, frame the bytes its offsets count from),
    // `bytes` its length on the wire, now_ns any monotonic clock. Frames of no tunnel class,
    // malformed ones and fragments are ignored. Returns what the frame carries (inner_of), also
    // when no entry could take it (table full), for the caller's class counters.
    inner_packet update(const pipelines::frame_record& r, parsers::byte_span frame,
                        std::uint32_t bytes, std::uint64_t now_ns);

    // Removes entries idle since before now_ns - idle timeout, looking at no more than
    // max_scan entries (a cursor goes round the table across calls). Returns how many went.
    std::uint32_t expire(std::uint64_t now_ns, std::uint32_t max_scan);

    std::uint32_t capacity() const { return static_cast<std::uint32_t>(entries_.size()); }
    std::uint32_t size() const { return used_; }
    const table_stats& stats() const { return stats_; }
    // Every entry in use, in slot order.
    template <typename F>
    void for_each(F&& f) const {
        for (const entry& e : entries_) {
            if (e.k != kind::none) {
                f(e);
            }
        }
    }
    // The whole state into `to`, which must have the same capacity: no allocation.
    void copy_to(table& to) const;
    // Slot i (< capacity()): kind none when free.
    const entry& slot(std::uint32_t i) const { return entries_[i]; }
    // Every slot (free ones of kind none), for merge() of a table nobody writes now.
    std::span<const entry> slots() const { return {entries_.data(), entries_.size()}; }
    // Bytes of memory the table holds for its capacity.
    std::size_t memory_bytes() const;

  private:
    friend std::vector<row> merge(std::span<const table* const> tables);
    friend std::vector<row> merge(std::span<const std::span<const entry>> lists);
    // Kind, address families, both addresses, ID and a 32-bit extra, packed in six words:
    // compared and hashed a word at a time (a memcmp call per probe cost a third of a lookup).
    struct key {
        std::array<std::uint64_t, 6> w{};
        friend bool operator==(const key& a, const key& b) {
            return ((a.w[0] ^ b.w[0]) | (a.w[1] ^ b.w[1]) | (a.w[2] ^ b.w[2]) | (a.w[3] ^ b.w[3]) |
                    (a.w[4] ^ b.w[4]) | (a.w[5] ^ b.w[5])) == 0;
        }
    };
    static key make_key(kind k, const ip_address& a, const ip_address& b, std::uint64_t id,
                        std::uint32_t extra = 0);
    static std::uint64_t hash(const key& k);

    std::uint32_t find(const key& k) const;  // entry index or npos
    void index_add(const key& k, std::uint32_t e);
    void index_remove(const key& k);
    std::uint32_t allocate(std::uint64_t now_ns);  // npos when full
    void release(std::uint32_t e);
    // The keys entry e is indexed under (0, 1 or 2 of them).
    static std::uint32_t keys_of(const entry& e, std::array<key, 2>& out);
    void reindex(std::uint32_t e, const std::array<key, 2>& before, std::uint32_t n_before);
    void count(entry& e, int direction, std::uint32_t bytes, std::uint64_t now_ns,
               const inner_packet& inner = {});
    void absorb_data(std::uint32_t into, kind data_kind, const ip_address& receiver,
                     const ip_address& sender, std::uint64_t id, int direction);

    void on_pptp(const pipelines::frame_record& r, parsers::byte_span frame, const ip_address& src,
                 const ip_address& dst, std::uint32_t bytes, std::uint64_t now_ns);
    void on_gre(const pipelines::frame_record& r, const ip_address& src, const ip_address& dst,
                std::uint32_t bytes, std::uint64_t now_ns, const inner_packet& inner);
    void on_l2tp(const pipelines::frame_record& r, parsers::byte_span frame, const ip_address& src,
                 const ip_address& dst, std::uint32_t bytes, std::uint64_t now_ns,
                 const inner_packet& inner);
    void data_frame(kind call_kind, kind data_kind, const ip_address& src, const ip_address& dst,
                    std::uint64_t receiver_id, std::uint32_t bytes, std::uint64_t now_ns,
                    const inner_packet& inner);

    static constexpr std::uint32_t npos = 0xFFFFFFFFu;
    std::pmr::vector<entry> entries_;
    std::pmr::vector<std::uint32_t> free_;   // a stack of free entry indexes
    std::pmr::vector<std::uint32_t> index_;  // entry index + 1, 0 empty
    std::pmr::vector<key> index_keys_;
    std::uint32_t used_ = 0;
    std::uint32_t cursor_ = 0;
    std::uint64_t idle_timeout_ns_;
    table_stats stats_;
};

// A table's copy for readers on other threads, made by the table's owner a few slots at a
// time: each entry whole, the pass spread over capacity / step calls of step() (an entry
// created meanwhile in a slot already passed is in the next copy). The memory is the table's
// entries once more, allocated at construction from `memory`; step() never allocates.
//
// One reader at a time (the caller serializes readers): request() asks, ready() says the copy
// of that request is complete (acquire), entries() and stats() read it until the next request.
class table_mirror {
  public:
    explicit table_mirror(std::uint32_t capacity,
                          std::pmr::memory_resource* memory = std::pmr::get_default_resource())
        : copy_(std::max<std::uint32_t>(capacity, 1), memory) {}

    std::uint64_t request() {
        const std::uint64_t ticket = requested_.load(std::memory_order_relaxed) + 1;
        requested_.store(ticket, std::memory_order_release);
        return ticket;
    }
    bool ready(std::uint64_t ticket) const {
        return published_.load(std::memory_order_acquire) == ticket;
    }
    std::span<const entry> entries() const { return {copy_.data(), count_}; }
    const table_stats& stats() const { return stats_; }

    // The owner: copies up to max_slots slots of `t` (same capacity) when a request is open.
    // Cost when none is: one load.
    void step(const table& t, std::uint32_t max_slots) {
        if (working_ == 0) {
            const std::uint64_t want = requested_.load(std::memory_order_relaxed);
            if (want == published_.load(std::memory_order_relaxed)) [[likely]] {
                return;
            }
            // Only when asked: the copy is overwritten after the last reader's reads of it.
            std::atomic_thread_fence(std::memory_order_acquire);
            working_ = want;
            cursor_ = 0;
            count_ = 0;
        }
        const std::uint32_t end = std::min(t.capacity(), cursor_ + max_slots);
        for (; cursor_ < end; ++cursor_) {
            const entry& e = t.slot(cursor_);
            if (e.k != kind::none && count_ < copy_.size()) {
                copy_[count_++] = e;
            }
        }
        if (cursor_ == t.capacity()) {
            stats_ = t.stats();
            published_.store(working_, std::memory_order_release);
            working_ = 0;
        }
    }

  private:
    std::atomic<std::uint64_t> requested_{0};  // the reader
    alignas(64) std::atomic<std::uint64_t> published_{0};
    std::uint64_t working_ = 0;  // the request being answered (owner only); 0: none
    std::uint32_t cursor_ = 0;
    std::uint32_t count_ = 0;
    std::pmr::vector<entry> copy_;
    table_stats stats_;
};

// One tracked object, merged over tables: what readers print.
struct row {
    entry e;
    std::string kind_name() const { return kind_names[static_cast<std::size_t>(e.k)]; }
};

// Every table's entries as one list: entries with the same key summed, the data entries of
// one table folded into the call or session of another that carries their key (the rest stay
// as rows of their own), sorted by kind, then bytes (largest first). Not for the data path.
std::vector<row> merge(std::span<const table* const> tables);
// The same over entry lists (table_mirror copies); free entries are skipped.
std::vector<row> merge(std::span<const std::span<const entry>> lists);
// Stats summed over tables or copies.
table_stats operator+(const table_stats& a, const table_stats& b);

}  // namespace ports::tunnels
