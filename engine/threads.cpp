#include "threads.hpp"

#include <dirent.h>
#include <pthread.h>
#include <rte_lcore.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>
#include <tbb/task_scheduler_observer.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

namespace ports::engine::threads {

namespace {

pid_t current_tid() {
    return static_cast<pid_t>(syscall(SYS_gettid));
}

std::vector<unsigned> cpus_of(const cpu_set_t& set) {
    std::vector<unsigned> out;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c) {
        if (CPU_ISSET(c, &set)) {
            out.push_back(c);
        }
    }
    return out;
}

cpu_set_t set_of(const std::vector<unsigned>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned c : cpus) {
        if (c < CPU_SETSIZE) {
            CPU_SET(c, &set);
        }
    }
    return set;
}

bool meets(const std::vector<unsigned>& a, const std::vector<unsigned>& b) {
    return std::any_of(a.begin(), a.end(),
                       [&](unsigned c) { return std::find(b.begin(), b.end(), c) != b.end(); });
}

std::vector<unsigned> online_cpus() {
    std::vector<unsigned> out;
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    for (long c = 0; c < n && c < CPU_SETSIZE; ++c) {
        out.push_back(static_cast<unsigned>(c));
    }
    return out;
}

// oneTBB starts its workers with the affinity it read when it first initialised (EAL may
// have pinned that thread to a worker's CPU by then): each worker is pinned as it joins the
// engine's arena, before it runs a task.
class pin_observer : public tbb::task_scheduler_observer {
  public:
    explicit pin_observer(tbb::task_arena& a) : tbb::task_scheduler_observer(a) { observe(true); }
    ~pin_observer() override { observe(false); }
    void on_scheduler_entry(bool is_worker) override {
        thread_local bool pinned = false;
        if (is_worker && !pinned) {
            pinned = true;
            pin_self("pe-tbb");
        }
    }
};

struct state {
    std::mutex mu;  // control threads only (place, pin_self, sweep, json)
    bool noted = false;
    std::vector<unsigned> process_cpus;
    bool placed = false;
    placement pl;
    std::size_t workers_expected = 0;
    std::map<pid_t, unsigned> workers;  // tid -> lcore
    std::unique_ptr<tbb::global_control> parallelism;
    std::unique_ptr<tbb::task_arena> arena;
    std::unique_ptr<pin_observer> observer;
};

// Never destroyed: TBB's objects must not go before TBB does at exit.
state& st() {
    static state* s = new state;
    return *s;
}

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

// Field 39 of /proc/.../stat: the CPU the thread last ran on (fields after the command name,
// which is in parentheses and may itself hold spaces).
int last_cpu(pid_t tid) {
    const std::string stat = read_line("/proc/self/task/" + std::to_string(tid) + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
        return -1;
    }
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 39 && rest >> field; ++i) {
        if (i == 39) {
            return std::atoi(field.c_str());
        }
    }
    return -1;
}

std::vector<pid_t> task_ids() {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc/self/task");
    if (d == nullptr) {
        return out;
    }
    while (const dirent* e = readdir(d)) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') {
            out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
        }
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<unsigned> affinity_of(pid_t tid) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(tid, sizeof(set), &set) != 0) {
        return {};
    }
    return cpus_of(set);
}

std::vector<unsigned> non_lcore_cpus() {
    cpu_set_t used;
    CPU_ZERO(&used);
    unsigned lcore = 0;
    RTE_LCORE_FOREACH(lcore) {
        const rte_cpuset_t set = rte_lcore_cpuset(lcore);
        CPU_OR(&used, &used, &set);
    }
    std::vector<unsigned> out;
    for (unsigned c : online_cpus()) {
        if (!CPU_ISSET(c, &used)) {
            out.push_back(c);
        }
    }
    return out;
}

}  // namespace

std::string cpu_list_text(const std::vector<unsigned>& cpus) {
    std::string out;
    for (std::size_t i = 0; i < cpus.size();) {
        std::size_t j = i;
        while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) {
            ++j;
        }
        out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
        if (j > i) {
            out += "-" + std::to_string(cpus[j]);
        }
        i = j + 1;
    }
    return out;
}

void note_process_cpus() {
    auto& s = st();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        std::lock_guard g(s.mu);
        s.process_cpus = cpus_of(set);
        s.noted = true;
    }
}

const placement& place(const std::vector<unsigned>& worker_lcores) {
    auto& s = st();
    std::unique_lock g(s.mu);
    if (s.placed) {
        return s.pl;
    }
    cpu_set_t workers;
    CPU_ZERO(&workers);
    for (unsigned l : worker_lcores) {
        const rte_cpuset_t set = rte_lcore_cpuset(l);
        CPU_OR(&workers, &workers, &set);
    }
    s.pl.worker_cpus = cpus_of(workers);
    for (unsigned c : s.noted ? s.process_cpus : online_cpus()) {
        if (!CPU_ISSET(c, &workers)) {
            s.pl.control_cpus.push_back(c);
        }
    }
    if (s.pl.control_cpus.empty()) {
        // Nowhere else to go: with the main lcore, as EAL puts its own control threads then.
        s.pl.shared = true;
        s.pl.control_cpus = cpus_of(rte_lcore_cpuset(rte_get_main_lcore()));
        spdlog::warn(
            "threads: no CPU is left for the control threads (the worker lcores take CPUs {}, "
            "all this process may use): the control loop, EAL's, TBB's and the other "
            "non-worker threads share CPU {} with lcore {}'s worker, which loses that CPU while "
            "they run; give EAL an lcore set (-l) that leaves a CPU spare",
            cpu_list_text(s.pl.worker_cpus), cpu_list_text(s.pl.control_cpus),
            rte_get_main_lcore());
    } else {
        spdlog::info("threads: workers on CPUs {}, every other thread on CPUs {}",
                     cpu_list_text(s.pl.worker_cpus), cpu_list_text(s.pl.control_cpus));
    }
    s.workers_expected = worker_lcores.size();
    s.placed = true;
    const auto width = std::max<std::size_t>(s.pl.control_cpus.size(), 1);
    g.unlock();
    // TBB's threads: a pool as wide as the control CPUs (more would only take turns on them,
    // and none may use a worker's CPU), pinned there as they join (pin_observer). Built on a
    // thread of the control CPUs: oneTBB starts its workers with the CPU mask of the thread
    // that first used it (EAL has pinned this one to the main lcore), so they are born there
    // too. Outside the lock: the observer's callback takes it.
    std::unique_ptr<tbb::global_control> parallelism;
    std::unique_ptr<tbb::task_arena> arena;
    std::unique_ptr<pin_observer> observer;
    std::thread([&] {
        pin_self("pe-tbb-init");
        parallelism = std::make_unique<tbb::global_control>(
            tbb::global_control::max_allowed_parallelism, width);
        (void)tbb::info::default_concurrency();
        arena = std::make_unique<tbb::task_arena>(static_cast<int>(width));
        arena->initialize();
        observer = std::make_unique<pin_observer>(*arena);
    }).join();
    g.lock();
    s.parallelism = std::move(parallelism);
    s.arena = std::move(arena);
    s.observer = std::move(observer);
    return s.pl;
}

std::vector<unsigned> control_cpus() {
    auto& s = st();
    {
        std::lock_guard g(s.mu);
        if (s.placed) {
            return s.pl.control_cpus;
        }
    }
    return non_lcore_cpus();
}

void pin_self(const std::string& name) {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    auto& s = st();
    std::vector<unsigned> cpus;
    {
        std::lock_guard g(s.mu);
        if (!s.placed) {
            return;
        }
        cpus = s.pl.control_cpus;
    }
    const cpu_set_t set = set_of(cpus);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        spdlog::warn("threads: cannot pin thread '{}' to CPUs {}", name, cpu_list_text(cpus));
        return;
    }
    spdlog::debug("threads: '{}' (tid {}) on CPUs {}", name, current_tid(), cpu_list_text(cpus));
}

void register_worker(unsigned lcore) {
    auto& s = st();
    std::lock_guard g(s.mu);
    s.workers[current_tid()] = lcore;
}

unsigned workers_registered() {
    auto& s = st();
    std::lock_guard g(s.mu);
    return static_cast<unsigned>(s.workers.size());
}

unsigned sweep() {
    auto& s = st();
    std::lock_guard g(s.mu);
    // Only once every worker has said which thread it is: before that an lcore thread EAL
    // parked on its CPU would look like any other thread.
    if (!s.placed || s.pl.shared || s.workers.size() < s.workers_expected) {
        return 0;
    }
    const cpu_set_t control = set_of(s.pl.control_cpus);
    unsigned moved = 0;
    for (pid_t tid : task_ids()) {
        if (s.workers.count(tid) != 0 || !meets(affinity_of(tid), s.pl.worker_cpus)) {
            continue;
        }
        const std::string name = read_line("/proc/self/task/" + std::to_string(tid) + "/comm");
        if (sched_setaffinity(tid, sizeof(control), &control) != 0) {
            spdlog::warn("threads: cannot move thread '{}' (tid {}) off the worker CPUs", name,
                         tid);
            continue;
        }
        spdlog::debug("threads: moved '{}' (tid {}) to CPUs {}", name, tid,
                      cpu_list_text(s.pl.control_cpus));
        ++moved;
    }
    return moved;
}

void in_control_arena(const std::function<void()>& fn) {
    tbb::task_arena* arena = nullptr;
    {
        auto& s = st();
        std::lock_guard g(s.mu);
        arena = s.arena.get();
    }
    if (arena == nullptr) {
        fn();
        return;
    }
    arena->execute(fn);
}

nlohmann::ordered_json json() {
    auto& s = st();
    std::lock_guard g(s.mu);
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (pid_t tid : task_ids()) {
        const auto cpus = affinity_of(tid);
        const auto w = s.workers.find(tid);
        nlohmann::ordered_json row;
        row["tid"] = tid;
        row["name"] = read_line("/proc/self/task/" + std::to_string(tid) + "/comm");
        row["role"] = w != s.workers.end() ? "worker" : "other";
        if (w != s.workers.end()) {
            row["lcore"] = w->second;
        }
        row["cpus"] = cpu_list_text(cpus);
        row["cpu"] = last_cpu(tid);
        row["on_worker_cpu"] = w == s.workers.end() && meets(cpus, s.pl.worker_cpus);
        rows.push_back(std::move(row));
    }
    nlohmann::ordered_json out;
    out["worker_cpus"] = cpu_list_text(s.pl.worker_cpus);
    out["control_cpus"] = cpu_list_text(s.pl.control_cpus);
    out["shared_with_workers"] = s.pl.shared;
    out["threads"] = std::move(rows);
    return out;
}

void log_threads() {
    const auto doc = json();
    for (const auto& row : doc["threads"]) {
        spdlog::debug("threads: tid {} '{}' {}{}: CPUs {} (last on {})", row["tid"].get<int>(),
                      row["name"].get<std::string>(), row["role"].get<std::string>(),
                      row.contains("lcore") ? " lcore " + row["lcore"].dump() : "",
                      row["cpus"].get<std::string>(), row["cpu"].get<int>());
    }
}

}  // namespace ports::engine::threads
