// ports-analyze: the engine's parse + classify + count over pcap/pcapng files, offline.
// Parallel with oneTBB: read (serial, in order) -> classify (parallel) -> merge (serial, in
// order), so per-packet output keeps capture order and counters match a single-threaded run.

#include <fmt/format.h>
#include <pcap/pcap.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/global_control.h>
#include <tbb/parallel_pipeline.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pcapng_reader.hpp"
#include "ports/parsers/layers.hpp"
#include "ports/pipelines/classify.hpp"
#include "ports/rules/rules.hpp"
#include "ports/telemetry/stats_json.hpp"
#include "ports/tunnels/table.hpp"

namespace {

using namespace ports;

constexpr std::size_t batch_packets = 2048;

struct options {
    bool json = false;
    std::string per_packet_path;
    std::string rules_path;
    std::string tunnels_path;
    std::uint32_t tunnel_entries = 1u << 16;
    unsigned threads = 0;
    std::vector<std::string> captures;
};

[[noreturn]] void usage(const std::string& why) {
    if (!why.empty()) {
        std::cerr << "ports-analyze: " << why << "\n";
    }
    std::cerr
        << "usage: ports-analyze [--json] [--per-packet FILE.csv] [--threads N] [--rules FILE]\n"
           "                     CAPTURE...\n"
           "  --json            print the statistics document (as ports-engine --stats-json)\n"
           "  --per-packet F    write frame,class,valid,detail per packet (frames numbered\n"
           "                    from 1, continuing across captures)\n"
           "  --threads N       classify on N threads (default: all cores)\n"
           "  --rules FILE      apply a rules file (configs/README.md): matches per rule in\n"
           "                    the output, matched rule ids per packet in --per-packet\n"
           "  --tunnels F       write the tunnel table (PPTP calls, L2TP tunnels and sessions,\n"
           "                    GRE tunnels) as CSV: kind,client,server,client_id,server_id,\n"
           "                    packets,bytes,...; --json has it as \"tunnels\"\n"
           "  --tunnel-entries N  objects the tunnel table holds (default 65536; more are\n"
           "                    counted as table_full)\n"
           "exit status: 0; 1 when a capture cannot be opened, or is cut short (the records\n"
           "  read before the break are counted and printed); 2 on a usage error\n";
    std::exit(2);
}

options parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--json") {
            o.json = true;
        } else if (a == "--per-packet") {
            if (++i >= argc) {
                usage("--per-packet needs a file name");
            }
            o.per_packet_path = argv[i];
        } else if (a == "--rules") {
            if (++i >= argc) {
                usage("--rules needs a file name");
            }
            o.rules_path = argv[i];
        } else if (a == "--tunnels") {
            if (++i >= argc) {
                usage("--tunnels needs a file name");
            }
            o.tunnels_path = argv[i];
        } else if (a == "--tunnel-entries") {
            if (++i >= argc) {
                usage("--tunnel-entries needs a number");
            }
            const unsigned long n = std::strtoul(argv[i], nullptr, 10);
            if (n == 0 || n > (1ul << 24)) {
                usage("--tunnel-entries needs a number in 1..16777216");
            }
            o.tunnel_entries = static_cast<std::uint32_t>(n);
        } else if (a == "--threads") {
            if (++i >= argc) {
                usage("--threads needs a number");
            }
            o.threads = static_cast<unsigned>(std::strtoul(argv[i], nullptr, 10));
            if (o.threads == 0) {
                usage("--threads needs a positive number");
            }
        } else if (a == "-h" || a == "--help") {
            usage("");
        } else if (a.starts_with("-")) {
            usage("unknown option '" + a + "'");
        } else {
            o.captures.push_back(a);
        }
    }
    if (o.captures.empty()) {
        usage("no capture given");
    }
    return o;
}

// Where a record's network header is: an Ethernet frame, or a network-layer packet whose
// ethertype the link type gives (0: none).
struct network_view {
    bool ethernet;
    std::uint16_t ethertype;
    parsers::byte_span bytes;
};

pipelines::classified classify_view(const network_view& v) {
    return v.ethernet ? pipelines::classify_frame_full(v.bytes)
                      : pipelines::classify_l3_full(v.ethertype, v.bytes);
}

// The link types view_record reads; a record of any other is counted as other (non-IP), and
// said so (unknown_link_type in --json, a warning per capture).
bool known_link_type(int dlt) {
    switch (dlt) {
        case DLT_EN10MB:
        case DLT_RAW:
        case DLT_IPV4:
        case DLT_IPV6:
        case DLT_NULL:
        case DLT_LOOP:
        case DLT_LINUX_SLL:
        case DLT_LINUX_SLL2:
            return true;
        default:
            return false;
    }
}

std::string link_type_name(int dlt) {
    const char* name = pcap_datalink_val_to_name(dlt);
    return name != nullptr ? std::string(name) + " (" + std::to_string(dlt) + ")"
                           : std::to_string(dlt);
}

// How a capture's link type reaches the network header.
network_view view_record(int dlt, parsers::byte_span rec) {
    const auto classify_l3 = [](std::uint16_t et, parsers::byte_span l3) {
        return network_view{false, et, l3};
    };
    switch (dlt) {
        case DLT_EN10MB:
            return network_view{true, 0, rec};
        case DLT_RAW:
        case DLT_IPV4:
        case DLT_IPV6: {
            if (rec.empty()) {
                return classify_l3(0, rec);
            }
            const std::uint16_t et =
                (rec[0] >> 4) == 6 ? parsers::ethertype_ipv6 : parsers::ethertype_ipv4;
            return classify_l3(et, rec);
        }
        case DLT_NULL:
        case DLT_LOOP: {
            if (rec.size() < 4) {
                return classify_l3(0, {});
            }
            // DLT_NULL is in the capturing host's byte order, DLT_LOOP in network order;
            // the family values are small, so either order shows in one of the end bytes.
            const std::uint32_t family = rec[0] != 0 ? rec[0] : rec[3];
            const std::uint16_t et =
                family == 2 ? parsers::ethertype_ipv4
                : (family == 10 || family == 24 || family == 28 || family == 30)
                    ? parsers::ethertype_ipv6
                    : 0;
            return classify_l3(et, rec.subspan(4));
        }
        case DLT_LINUX_SLL: {
            if (rec.size() < 16) {
                return classify_l3(0, {});
            }
            return classify_l3(parsers::load_be16(rec.data() + 14), rec.subspan(16));
        }
        case DLT_LINUX_SLL2: {
            if (rec.size() < 20) {
                return classify_l3(0, {});
            }
            return classify_l3(parsers::load_be16(rec.data()), rec.subspan(20));
        }
        default:
            return classify_l3(0, {});
    }
}

// Records of one capture file: libpcap first; where libpcap gives up on a pcapng file (mixed
// snapshot lengths or link types between interfaces), the built-in reader takes over at the
// same record, so no frame is lost.
class capture_source {
  public:
    struct record {
        int dlt;
        parsers::byte_span bytes;
        std::uint64_t time_ns;  // the record's time (0: the pcapng fallback does not say)
    };

    explicit capture_source(const std::string& path) : path_(path) {
        char err[PCAP_ERRBUF_SIZE] = {};
        pcap_.reset(pcap_open_offline(path.c_str(), err));
        if (!pcap_) {
            if (!analyzer::pcapng_reader::is_pcapng(path)) {
                throw std::runtime_error(path + ": " + err);
            }
            switch_to_fallback(err);
        } else {
            dlt_ = pcap_datalink(pcap_.get());
        }
    }

    std::optional<record> next() {
        if (!fallback_) {
            pcap_pkthdr* hdr = nullptr;
            const u_char* bytes = nullptr;
            const int rc = pcap_next_ex(pcap_.get(), &hdr, &bytes);
            if (rc == 1) {
                ++records_;
                return record{dlt_,
                              {bytes, hdr->caplen},
                              static_cast<std::uint64_t>(hdr->ts.tv_sec) * 1000000000u +
                                  static_cast<std::uint64_t>(hdr->ts.tv_usec) * 1000u};
            }
            if (rc != PCAP_ERROR) {
                return std::nullopt;
            }
            const std::string err = pcap_geterr(pcap_.get());
            if (!analyzer::pcapng_reader::is_pcapng(path_)) {
                throw std::runtime_error(path_ + ": " + err);
            }
            switch_to_fallback(err);
        }
        const auto r = fallback_->next();
        if (!r) {
            return std::nullopt;
        }
        ++records_;
        return record{r->linktype, r->bytes, 0};
    }

  private:
    struct pcap_closer {
        void operator()(pcap_t* p) const { pcap_close(p); }
    };

    void switch_to_fallback(const std::string& why) {
        std::cerr << "ports-analyze: " << path_ << ": libpcap: " << why
                  << "; reading on from record " << records_ + 1
                  << " with the built-in pcapng reader\n";
        fallback_.emplace(path_);
        for (std::uint64_t i = 0; i < records_; ++i) {
            if (!fallback_->next()) {
                throw std::runtime_error(path_ + ": fewer records than libpcap read");
            }
        }
    }

    std::string path_;
    std::unique_ptr<pcap_t, pcap_closer> pcap_;
    std::optional<analyzer::pcapng_reader> fallback_;
    int dlt_ = DLT_EN10MB;
    std::uint64_t records_ = 0;
};

struct batch {
    std::uint64_t first_frame = 0;
    std::vector<std::uint8_t> data;
    std::vector<std::size_t> offsets;  // size()+1 entries
    std::vector<int> dlts;
    std::vector<std::uint64_t> times;  // with the tunnel table only
    std::vector<pipelines::classification> results;
    // With the tunnel table: each packet's record, fed to the table in frame order (a call's
    // setup before its data) by the serial stage.
    std::vector<pipelines::frame_record> records;
    std::vector<std::size_t> view_offsets;  // where view_record's bytes start in the record
    pipelines::core_counters counters;
    // With --rules: matches per rule index, and the rule indexes each packet matched
    // (packet i's are match_list[match_offsets[i] .. match_offsets[i + 1]]).
    std::vector<std::uint64_t> rule_matches;
    std::vector<std::uint32_t> match_list;
    std::vector<std::size_t> match_offsets;
};

std::string detail_text(const pipelines::classification& r) {
    std::string out;
    if (r.fragment) {
        out = "fragment";
    }
    for (std::uint8_t i = 0; i < r.detail_count; ++i) {
        if (!out.empty()) {
            out += ';';
        }
        out += pipelines::counter_defs[r.detail[i]].key;
    }
    return out;
}

// An ID column: empty when the side's ID was never seen.
std::string id_text(bool known, std::uint64_t id) {
    return known ? std::to_string(id) : "";
}

// A CSV field: quoted when it holds a comma, a quote or a line break (host names are the
// peers' bytes).
std::string csv_field(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) {
        return std::string(s);
    }
    std::string out = "\"";
    for (const char c : s) {
        out += c;
        if (c == '"') {
            out += '"';
        }
    }
    return out + "\"";
}

std::string seconds_text(std::uint64_t ns) {
    return ns == 0 ? "" : fmt::format("{}.{:06}", ns / 1000000000u, ns % 1000000000u / 1000u);
}

// What an object's data frames carried: "class:packets:bytes" for each class seen, ';'-separated.
std::string inner_text(const tunnels::entry& e) {
    std::string out;
    for (std::size_t c = 0; c < pipelines::class_count; ++c) {
        if (e.inner_packets[c] != 0) {
            out += fmt::format("{}{}:{}:{}", out.empty() ? "" : ";", pipelines::class_names[c],
                               e.inner_packets[c], e.inner_bytes[c]);
        }
    }
    return out;
}

// One row per tracked object; the seven columns first, in their order.
std::string tunnel_csv(const std::vector<tunnels::row>& rows) {
    std::string out =
        "kind,client,server,client_id,server_id,packets,bytes,state,client_packets,"
        "server_packets,client_bytes,server_bytes,client_host,server_host,vendor,first_seen,"
        "last_seen,inner\n";
    for (const auto& r : rows) {
        const auto& e = r.e;
        out +=
            fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", r.kind_name(),
                        e.client.text(), e.server.text(), id_text(e.has_client_id, e.client_id),
                        id_text(e.has_server_id, e.server_id), e.total_packets(), e.total_bytes(),
                        tunnels::state_names[static_cast<std::size_t>(e.st)], e.packets[0],
                        e.packets[1], e.bytes[0], e.bytes[1], csv_field(e.client_host()),
                        csv_field(e.server_host()), csv_field(e.vendor_name()),
                        seconds_text(e.first_ns), seconds_text(e.last_ns), inner_text(e));
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const options opt = parse_args(argc, argv);
    // Rules: compiled once; every TBB worker thread scans with its own scratch.
    rules::slot_map slots;
    std::shared_ptr<const rules::rule_set> rule_set;
    std::optional<rules::scratch> scratch_prototype;
    if (!opt.rules_path.empty()) {
        try {
            rule_set = rules::rule_set::compile(rules::load_rule_file(opt.rules_path), slots);
        } catch (const rules::rules_error& e) {
            std::cerr << "ports-analyze: " << e.what() << "\n";
            return 1;
        }
        scratch_prototype.emplace(*rule_set);
    }
    tbb::enumerable_thread_specific<rules::scratch> scratches(
        [&] { return scratch_prototype ? scratch_prototype->clone() : rules::scratch(); });
    std::vector<std::uint64_t> rule_total(rule_set ? rule_set->size() : 0, 0);
    std::unique_ptr<tbb::global_control> limit;
    if (opt.threads > 0) {
        limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                      opt.threads);
    }
    std::ofstream csv;
    if (!opt.per_packet_path.empty()) {
        csv.open(opt.per_packet_path, std::ios::trunc);
        if (!csv) {
            std::cerr << "ports-analyze: cannot write " << opt.per_packet_path << "\n";
            return 1;
        }
        csv << (rule_set ? "frame,class,valid,detail,rules\n" : "frame,class,valid,detail\n");
    }

    // The tunnel table (--tunnels, --json): one, fed in frame order; no aging offline (a
    // capture's objects all stay to be printed).
    std::optional<tunnels::table> tunnels;
    if (!opt.tunnels_path.empty() || opt.json) {
        tunnels.emplace(opt.tunnel_entries, std::numeric_limits<std::uint64_t>::max());
    }

    pipelines::counter_snapshot total;
    std::uint64_t frame = 0;
    std::uint64_t unknown_link_type = 0;
    std::vector<std::string> cut_short;  // "PATH: why" of each capture not read to its end
    for (const auto& path : opt.captures) {
        std::optional<capture_source> source;
        try {
            source.emplace(path);
        } catch (const std::exception& e) {
            std::cerr << "ports-analyze: " << e.what() << "\n";
            return 1;
        }
        bool read_error = false;
        std::string read_error_text;
        const std::uint64_t first = frame;
        std::map<int, std::uint64_t> unknown;  // link type -> records of it
        tbb::parallel_pipeline(
            8, tbb::make_filter<void, std::shared_ptr<batch>>(
                   tbb::filter_mode::serial_in_order,
                   [&](tbb::flow_control& fc) -> std::shared_ptr<batch> {
                       auto b = std::make_shared<batch>();
                       b->first_frame = frame + 1;
                       b->offsets.push_back(0);
                       while (!read_error && b->offsets.size() <= batch_packets) {
                           std::optional<capture_source::record> rec;
                           try {
                               rec = source->next();
                           } catch (const std::exception& e) {
                               read_error_text = e.what();
                               read_error = true;
                           }
                           if (!rec) {
                               break;
                           }
                           if (!known_link_type(rec->dlt)) {
                               ++unknown[rec->dlt];
                           }
                           b->data.insert(b->data.end(), rec->bytes.begin(), rec->bytes.end());
                           b->offsets.push_back(b->data.size());
                           b->dlts.push_back(rec->dlt);
                           if (tunnels) {
                               b->times.push_back(rec->time_ns);
                           }
                       }
                       frame += b->offsets.size() - 1;
                       if (b->offsets.size() == 1) {
                           fc.stop();
                           return nullptr;
                       }
                       return b;
                   }) &
                   tbb::make_filter<std::shared_ptr<batch>, std::shared_ptr<batch>>(
                       tbb::filter_mode::parallel,
                       [&](std::shared_ptr<batch> b) {
                           const std::size_t n = b->offsets.size() - 1;
                           b->results.resize(n);
                           if (tunnels) {
                               b->records.resize(n);
                               b->view_offsets.resize(n);
                           }
                           rules::scratch* scratch = rule_set ? &scratches.local() : nullptr;
                           if (rule_set) {
                               b->rule_matches.assign(rule_set->size(), 0);
                               b->match_offsets.reserve(n + 1);
                               b->match_offsets.push_back(0);
                           }
                           for (std::size_t i = 0; i < n; ++i) {
                               const parsers::byte_span rec(b->data.data() + b->offsets[i],
                                                            b->offsets[i + 1] - b->offsets[i]);
                               const network_view view = view_record(b->dlts[i], rec);
                               // One walk: the record is what the rules read.
                               const pipelines::classified c = classify_view(view);
                               b->results[i] = c.c;
                               if (tunnels) {
                                   b->records[i] = c.record;
                                   // An empty view (a link type we cannot read) may
                                   // point nowhere: it starts at the record's end.
                                   b->view_offsets[i] =
                                       view.bytes.empty()
                                           ? rec.size()
                                           : static_cast<std::size_t>(view.bytes.data() -
                                                                      rec.data());
                               }
                               pipelines::count(b->counters, c.c,
                                                static_cast<std::uint32_t>(rec.size()));
                               if (rule_set) {
                                   rules::match_record(*rule_set, *scratch, c.record, view.bytes,
                                                       [&](std::uint32_t r) {
                                                           ++b->rule_matches[r];
                                                           b->match_list.push_back(r);
                                                       });
                                   b->match_offsets.push_back(b->match_list.size());
                               }
                           }
                           return b;
                       }) &
                   tbb::make_filter<std::shared_ptr<batch>, void>(
                       tbb::filter_mode::serial_in_order, [&](std::shared_ptr<batch> b) {
                           total.accumulate(b->counters);
                           if (tunnels) {
                               for (std::size_t i = 0; i < b->records.size(); ++i) {
                                   const std::size_t at = b->offsets[i] + b->view_offsets[i];
                                   const parsers::byte_span view(b->data.data() + at,
                                                                 b->offsets[i + 1] - at);
                                   const tunnels::inner_packet inner =
                                       tunnels->update(b->records[i], view,
                                                       static_cast<std::uint32_t>(
                                                           b->offsets[i + 1] - b->offsets[i]),
                                                       b->times[i]);
                                   // What the tunnel carried, in its class's inner counters
                                   // (the engine's tunnels::count_inner).
                                   if (inner.present) {
                                       const auto at =
                                           pipelines::inner_base[static_cast<std::size_t>(
                                               inner.cls)];
                                       total.values[at] += 1;
                                       total.values[at + 1] += inner.bytes;
                                   }
                               }
                           }
                           for (std::size_t r = 0; r < b->rule_matches.size(); ++r) {
                               rule_total[r] += b->rule_matches[r];
                           }
                           if (csv.is_open()) {
                               for (std::size_t i = 0; i < b->results.size(); ++i) {
                                   const auto& r = b->results[i];
                                   csv << (b->first_frame + i) << ','
                                       << pipelines::class_names[static_cast<std::size_t>(r.cls)]
                                       << ',' << (r.malformed ? 0 : 1) << ',' << detail_text(r);
                                   if (rule_set) {
                                       csv << ',';
                                       for (std::size_t k = b->match_offsets[i];
                                            k < b->match_offsets[i + 1]; ++k) {
                                           csv << (k == b->match_offsets[i] ? "" : ";")
                                               << rule_set->at(b->match_list[k]).id;
                                       }
                                   }
                                   csv << '\n';
                               }
                           }
                       }));
        for (const auto& [dlt, n] : unknown) {
            std::cerr << "ports-analyze: " << path << ": " << n << " record(s) of link type "
                      << link_type_name(dlt)
                      << ", which ports-analyze does not read: counted as other (non-IP)\n";
            unknown_link_type += n;
        }
        if (read_error) {
            // What was read is counted and printed; the exit status says the capture is not
            // whole.
            std::cerr << "ports-analyze: " << read_error_text << "; " << path
                      << " is cut short: the counts cover its first " << frame - first
                      << " record(s)\n";
            cut_short.push_back(read_error_text);
        }
    }
    std::vector<tunnels::row> tunnel_rows;
    if (tunnels) {
        const tunnels::table* one[] = {&*tunnels};
        tunnel_rows = tunnels::merge(one);
    }
    if (!opt.tunnels_path.empty()) {
        std::ofstream out(opt.tunnels_path, std::ios::trunc);
        out << tunnel_csv(tunnel_rows);
        if (!out.flush()) {
            std::cerr << "ports-analyze: cannot write " << opt.tunnels_path << "\n";
            return 1;
        }
    }
    if (opt.json) {
        auto doc = telemetry::classes_json(total);
        // What the counts stand on: records read, those of a link type not read (in other),
        // the captures not read to their end.
        doc["input"] = {
            {"frames", frame}, {"unknown_link_type", unknown_link_type}, {"cut_short", cut_short}};
        if (tunnels) {
            doc["tunnels"] =
                telemetry::tunnels_json(tunnel_rows, tunnels->stats(), tunnels->capacity());
        }
        if (rule_set) {
            auto& by_id = doc["rules"] = nlohmann::ordered_json::object();
            for (std::size_t r = 0; r < rule_set->size(); ++r) {
                by_id[rule_set->at(r).id] = {{"matches", rule_total[r]}};
            }
        }
        std::cout << doc.dump(2) << "\n";
    } else {
        std::cout << telemetry::class_table(total);
        if (rule_set) {
            std::cout << "\nrule matches\n";
            for (std::size_t r = 0; r < rule_set->size(); ++r) {
                std::cout << "  " << rule_set->at(r).id << " " << rule_total[r] << "\n";
            }
        }
    }
    if (csv.is_open() && !csv.flush()) {
        std::cerr << "ports-analyze: cannot write " << opt.per_packet_path << "\n";
        return 1;
    }
    return cut_short.empty() ? 0 : 1;
}
