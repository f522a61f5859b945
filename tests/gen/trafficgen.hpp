// Traffic-mix generator for tests, benchmarks and the README demo.
//
// A small packet builder (Ethernet + tags -> IPv4/IPv6 -> UDP/TCP/GRE/ICMP -> payload, with
// lengths and checksums computed) plus payload builders for the protocols the engine
// classifies, and make_mix(), which draws a deterministic mix of frames of every class, valid
// and malformed, each carrying the class and verdict the engine is expected to reach.
//
// This is tooling, not the data path: it allocates freely and throws on misuse.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ports::gen {

using bytes = std::vector<std::uint8_t>;
using byte_view = std::span<const std::uint8_t>;

// The engine's classes, in the order the tally lists them.
inline constexpr std::array<std::string_view, 7> class_names = {
    "ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"};

inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint16_t ethertype_ipv6 = 0x86DD;
inline constexpr std::uint16_t ethertype_vlan = 0x8100;
inline constexpr std::uint16_t ethertype_qinq = 0x88A8;
inline constexpr std::uint16_t ethertype_lldp = 0x88CC;
inline constexpr std::uint16_t ethertype_teb = 0x6558;  // transparent Ethernet bridging (GRE)
inline constexpr std::uint16_t gre_proto_ppp = 0x880B;

inline constexpr std::uint8_t ipproto_icmp = 1;
inline constexpr std::uint8_t ipproto_tcp = 6;
inline constexpr std::uint8_t ipproto_udp = 17;
inline constexpr std::uint8_t ipproto_gre = 47;
inline constexpr std::uint8_t ipproto_icmpv6 = 58;

inline constexpr std::size_t min_frame_length = 60;  // Ethernet minimum without the FCS

// ---------------------------------------------------------------------------------------------
// What the generator knows about every frame it makes.

struct frame {
    std::vector<std::uint8_t> bytes;
    std::uint64_t timestamp_us = 0;  // since the Unix epoch
    std::string_view cls;            // expected class, one of class_names
    bool malformed = false;          // expected: the class's protocol parser rejects it
    std::string_view label;          // short description, e.g. "ntp-v4-client-ipv6-vlan"
};

struct mix_options {
    std::size_t count = 1000;
    std::uint64_t seed = 1;
    std::uint64_t start_us = 1700000000000000;
    std::uint32_t gap_us = 10;
    // Share of all frames that are malformed. "other" has no parser, so the classes that do
    // carry this share scaled up by 1 / (1 - share of other).
    double malformed_share = 0.05;
};

// Deterministic for a given options value (own splitmix64, no std distributions, whose
// results differ between standard libraries).
std::vector<frame> make_mix(const mix_options& opt);

struct class_tally {
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;  // frame length as written (padding included, no FCS)
    std::uint64_t malformed = 0;
};
struct mix_tally {
    class_tally total;
    std::array<class_tally, class_names.size()> classes{};  // indexed like class_names
};
mix_tally tally(std::span<const frame> frames);
// {"total":{"packets":N,"bytes":N},"classes":{"ntp":{"packets":N,"bytes":N,"malformed":N},...}}
std::string tally_json(const mix_tally& t);
// Index of a class name in class_names; throws std::invalid_argument for an unknown name.
std::size_t class_index(std::string_view cls);

// ---------------------------------------------------------------------------------------------
// Packet builder.

struct vlan_tag {
    std::uint16_t tpid = ethertype_vlan;
    std::uint16_t tci = 0;  // PCP/DEI/VID
};

enum class ipv6_ext : std::uint8_t { none, hop_by_hop, destination_options };

// Addresses, tags and ports of one packet. Builders read only what their layer needs.
struct endpoint_options {
    std::array<std::uint8_t, 6> src_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
    std::array<std::uint8_t, 6> dst_mac{0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
    std::vector<vlan_tag> tags;  // outermost first
    bool ipv6 = false;
    std::array<std::uint8_t, 4> src_ip4{192, 0, 2, 1};
    std::array<std::uint8_t, 4> dst_ip4{198, 51, 100, 1};
    std::array<std::uint8_t, 16> src_ip6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::array<std::uint8_t, 16> dst_ip6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2};
    std::uint16_t src_port = 49152;
    std::uint16_t dst_port = 123;
    std::uint8_t ttl = 64;
    std::uint16_t ip_id = 1;
    bool ipv4_options = false;  // adds a Router Alert option (IHL 6)
    ipv6_ext ext = ipv6_ext::none;
};

// One's-complement sum helpers: partial sums chain across the pseudo-header and the data.
std::uint32_t checksum_partial(byte_view data, std::uint32_t sum = 0);
std::uint16_t checksum_fold(std::uint32_t sum);
std::uint16_t internet_checksum(byte_view data);
// Pseudo-header sum (RFC 768/793 for IPv4, RFC 8200 8.1 for IPv6) for the endpoint's addresses.
std::uint32_t pseudo_header_sum(const endpoint_options& ep, std::uint8_t protocol, std::uint32_t length);

// Ethernet II with ep.tags, padded with zeros to 60 bytes when pad is set (the padding is
// outside every IP length, as on the wire).
bytes ethernet_frame(const endpoint_options& ep, std::uint16_t ethertype, byte_view payload, bool pad = true);

struct ip_fragment {
    std::uint16_t offset_bytes = 0;  // multiple of 8
    bool more = false;
};
// IPv4 (header checksum set, DF unless a fragment) or IPv6 (with ep.ext) around l4.
// IPv6 fragments are not built: a fragment with ep.ipv6 throws std::invalid_argument.
bytes ip_packet(const endpoint_options& ep, std::uint8_t protocol, byte_view l4, ip_fragment frag = {});
std::uint16_t ethertype_of(const endpoint_options& ep);

// UDP header + payload with the checksum over the pseudo-header. length_field overrides the
// header's length (malformed variants); the checksum still covers exactly the bytes present.
bytes udp_datagram(const endpoint_options& ep, byte_view payload, std::optional<std::uint16_t> length_field = {});

inline constexpr std::uint8_t tcp_fin = 0x01;
inline constexpr std::uint8_t tcp_syn = 0x02;
inline constexpr std::uint8_t tcp_psh = 0x08;
inline constexpr std::uint8_t tcp_ack = 0x10;
struct tcp_options {
    std::uint32_t seq = 1000;
    std::uint32_t ack = 0;
    std::uint8_t flags = tcp_psh | tcp_ack;
    std::uint16_t window = 64240;
    bool mss_option = false;  // a 4-byte MSS option (data offset 6), as a SYN carries
};
bytes tcp_segment(const endpoint_options& ep, const tcp_options& tcp, byte_view payload);

struct gre_options {
    std::uint8_t version = 0;  // 0 (RFC 2784/2890) or 1 (RFC 2637); others only for malformed
    bool checksum = false;     // v0: C bit, checksum over GRE header + payload
    std::optional<std::uint32_t> key;
    std::optional<std::uint32_t> sequence;
    std::optional<std::uint32_t> ack;  // v1 only (A bit)
    std::uint16_t protocol = ethertype_ipv4;
    // v1: when set, the key is (payload length << 16) | call id, as RFC 2637 defines it.
    std::optional<std::uint16_t> pptp_call_id;
};
bytes gre_packet(const gre_options& gre, byte_view payload);

bytes icmpv4_echo(std::uint16_t id, std::uint16_t seq, byte_view data);
bytes icmpv6_echo(const endpoint_options& ep, std::uint16_t id, std::uint16_t seq, byte_view data);
// PPP in HDLC-like framing (address 0xFF, control 0x03) as L2TP and PPTP carry it.
bytes ppp_frame(std::uint16_t protocol, byte_view payload);

// Whole frames.
bytes udp_frame(const endpoint_options& ep, byte_view payload, std::optional<std::uint16_t> length_field = {});
bytes tcp_frame(const endpoint_options& ep, const tcp_options& tcp, byte_view payload);
bytes ip_frame(const endpoint_options& ep, std::uint8_t protocol, byte_view l4);
bytes arp_request_frame(const endpoint_options& ep);
bytes lldp_frame(const endpoint_options& ep, std::string_view system_name);

// ---------------------------------------------------------------------------------------------
// NTP payloads (RFC 5905; mode 6 RFC 9327; mode 7 ntpd's private protocol).

struct ntp_header {
    std::uint8_t li = 0;
    std::uint8_t version = 4;
    std::uint8_t mode = 3;
    std::uint8_t stratum = 0;
    std::int8_t poll = 0;
    std::int8_t precision = 0;
    std::uint32_t root_delay = 0;
    std::uint32_t root_dispersion = 0;
    std::uint32_t refid = 0;
    std::uint64_t reference_ts = 0;
    std::uint64_t origin_ts = 0;
    std::uint64_t receive_ts = 0;
    std::uint64_t transmit_ts = 0;
};
bytes ntp_packet(const ntp_header& h);  // the 48-byte header
// SNTP-style request (RFC 4330): all zero except the first octet and the transmit timestamp.
bytes ntp_sntp_request(std::uint8_t version, std::uint64_t transmit_ts);
// ntpd-style client request (poll, precision, dispersion set).
bytes ntp_client_packet(std::uint8_t version, std::uint64_t transmit_ts);
bytes ntp_server_response(std::uint8_t version, std::uint64_t origin_ts, std::uint64_t receive_ts,
                          std::uint64_t transmit_ts);
// Mode 6 READVAR (opcode 2) request for an association, no data.
bytes ntp_control_read_vars(std::uint16_t sequence, std::uint16_t association);
// Mode 7 MON_GETLIST_1 (request code 42), implementation XNTPD (3): 8-byte header + 40 zero bytes.
bytes ntp_monlist_request();
// Appends a MAC: 4-byte key id + digest (20 bytes for SHA-1).
bytes ntp_with_mac(bytes packet, std::uint32_t key_id, byte_view digest);
// Appends a crypto-NAK: a 4-byte key id of 0 and no digest.
bytes ntp_with_crypto_nak(bytes packet);
// The frame a client sends: SNTP-style request from ep to ep.dst_port.
bytes ntp_client_request(const endpoint_options& ep, std::uint8_t version, std::uint64_t transmit_ts);
// Seconds since 1900 in the upper 32 bits, fraction below.
std::uint64_t ntp_timestamp(std::uint64_t unix_us);

// ---------------------------------------------------------------------------------------------
// SNMP payloads in BER.

bytes ber_length(std::size_t length);
bytes ber_tlv(std::uint8_t tag, byte_view content);
bytes ber_integer(std::int64_t value, std::uint8_t tag = 0x02);
bytes ber_octets(std::string_view s, std::uint8_t tag = 0x04);
bytes ber_octets(byte_view s, std::uint8_t tag = 0x04);
bytes ber_oid(std::span<const std::uint32_t> arcs);
bytes ber_null();

bytes snmp_v1_get_request(std::string_view community, std::int32_t request_id);
bytes snmp_v2c_get_next(std::string_view community, std::int32_t request_id);
bytes snmp_v2c_get_bulk(std::string_view community, std::int32_t request_id, std::int32_t non_repeaters,
                        std::int32_t max_repetitions);
bytes snmp_v2c_response(std::string_view community, std::int32_t request_id);
bytes snmp_v1_trap(std::string_view community, std::array<std::uint8_t, 4> agent, std::uint32_t uptime);
bytes snmp_v2c_trap(std::string_view community, std::int32_t request_id, std::uint32_t uptime);
bytes snmp_v2c_inform(std::string_view community, std::int32_t request_id, std::uint32_t uptime);
// v3 with USM, authNoPriv, scoped PDU in the clear (GetRequest).
bytes snmp_v3_get_request(std::string_view user, std::int32_t msg_id);
// v3 with USM, auth+priv: msgData is an OCTET STRING of ciphertext.
bytes snmp_v3_encrypted(std::string_view user, std::int32_t msg_id, byte_view ciphertext);
// Malformed: version 2, outer length longer than the message, indefinite outer length.
bytes snmp_bad_version(std::string_view community, std::int32_t request_id);
bytes snmp_length_overrun(bytes valid_message, std::size_t extra);
bytes snmp_indefinite_length(bytes valid_message);

// ---------------------------------------------------------------------------------------------
// L2TP payloads (RFC 2661, RFC 3931).

bytes l2tp_avp(bool mandatory, std::uint16_t type, byte_view value);
// L2TPv2 control header (T, L, S set) + AVPs. flags0/version are overridable for malformed ones.
bytes l2tp_v2_control(std::uint16_t tunnel, std::uint16_t session, std::uint16_t ns, std::uint16_t nr,
                      byte_view avps, std::uint8_t flags0 = 0xC8, std::uint8_t version = 2);
bytes l2tp_v2_sccrq_avps(std::uint16_t assigned_tunnel, std::string_view host_name);
bytes l2tp_v2_sccrq(std::uint16_t assigned_tunnel, std::string_view host_name);
bytes l2tp_v2_zlb_ack(std::uint16_t tunnel, std::uint16_t ns, std::uint16_t nr);
struct l2tp_data_flags {
    bool length = false;
    bool sequence = false;
    std::optional<std::uint16_t> offset_pad;  // O bit: offset size field + this many pad bytes
};
bytes l2tp_v2_data(std::uint16_t tunnel, std::uint16_t session, const l2tp_data_flags& flags, byte_view ppp);
bytes l2tp_v3_udp_sccrq(std::string_view host_name, std::uint32_t assigned_ccid);
bytes l2tp_v3_udp_data(std::uint32_t session, byte_view l2_frame);

// ---------------------------------------------------------------------------------------------
// PPTP control messages (RFC 2637 2.x), message type 1.

inline constexpr std::uint32_t pptp_magic_cookie = 0x1A2B3C4D;
// Header (length, message type 1, cookie, control type, reserved) + body. length_field
// overrides the length field (malformed variants).
bytes pptp_control(std::uint16_t control_type, byte_view body, std::uint32_t cookie = pptp_magic_cookie,
                   std::optional<std::uint16_t> length_field = {});
bytes pptp_sccrq(std::string_view host_name, std::string_view vendor);                  // 156
bytes pptp_sccrp(std::string_view host_name, std::string_view vendor);                  // 156
bytes pptp_ocrq(std::uint16_t call_id, std::uint16_t serial, std::string_view phone);   // 168
bytes pptp_ocrp(std::uint16_t call_id, std::uint16_t peer_call_id);                     // 32
bytes pptp_echo_request(std::uint32_t identifier);                                      // 16
bytes pptp_echo_reply(std::uint32_t identifier);                                        // 20
bytes pptp_set_link_info(std::uint16_t peer_call_id);                                   // 24
bytes pptp_call_clear_request(std::uint16_t call_id);                                   // 16
bytes pptp_call_disconnect_notify(std::uint16_t call_id);                               // 148

// ---------------------------------------------------------------------------------------------
// Other application payloads.

bytes dns_query(std::uint16_t id, std::string_view name);
bytes dns_response(std::uint16_t id, std::string_view name, std::array<std::uint8_t, 4> address);
bytes http_get(std::string_view host, std::string_view path);
bytes http_response(std::size_t body_length);

}  // namespace ports::gen
