/*
 * sbexec: the privileged half of launching one sandboxed process.
 *
 * Why a C helper: the worker is a big, threaded Python process. Setting uids and
 * rlimits in a preexec_fn forces fork(), whose cost grows with the parent's memory
 * and which can deadlock on locks held by other threads. The worker instead
 * posix_spawn()s this tiny single-threaded program, which confines itself and then
 * execs the payload. It is run as root and never reads anything the payload wrote.
 *
 * Usage: sbexec [options] -- /abs/program args...
 *   -u UID -g GID        drop to this uid/gid (no supplementary groups)
 *   -r NAME=SOFT:HARD    setrlimit; NAME in cpu,data,as,stack,fsize,nofile,nproc,core,memlock,msgqueue
 *   -o ADJ               write /proc/self/oom_score_adj while still privileged
 *   -c FILE              write our pid to a cgroup.procs FILE (repeatable)
 *   -d DIR               chdir, and the only writable tree under Landlock
 *   -R PATH              Landlock: read+execute beneath PATH (repeatable)
 *   -W PATH              Landlock: read+write of one existing file, e.g. /dev/null (repeatable)
 *   -L ABI               apply Landlock at this ABI (0 = off)
 *   -s FILE              load this raw seccomp BPF program (sock_filter array)
 *   -K                   kill mode: after dropping to UID, kill(-1, SIGKILL) and exit
 *   -A                   argv on stdin: the confined child waits for the payload's argv
 *                        ("<length>\n", then the arguments joined by NUL) and execs it then.
 *                        A prewarmed sandbox: all of the above is done before its run comes.
 * Once it has dropped to the uid, sbexec forks: the child confines itself (no_new_privs,
 * Landlock, seccomp) and execs the payload, and sbexec, outside that confinement so
 * the payload cannot signal it, (a subreaper)
 * waits for it, kills and reaps whatever it left behind, and reports its rusage. (The
 * payload's own rusage would be wrong: a process spawned by the
 * worker with vfork inherits the worker's peak RSS as its own.) sbexec then exits as the
 * payload did (same code, or killed by the same signal). On SIGTERM (the supervisor's
 * deadline or output cap) it kills every process of the uid but itself, then reports.
 * Reports on fd 3, if open: "pid <payload pid>" once forked; "sbexec: <what>: <errno text>"
 * for a failure before the payload started, else "rusage <utime_us> <stime_us> <maxrss_kb>"
 * once it ended.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_LIST 64
#define STATUS_FD 3

/* Landlock ABI constants (kept here: the build host's headers may predate them). */
#define LL_CREATE_VERSION 1U
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_NET_BIND_TCP (1ULL << 0)
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

struct ll_ruleset_attr { uint64_t fs, net, scoped; };
struct ll_path_beneath { uint64_t allowed; int32_t parent_fd; } __attribute__((packed));

static int status_fd = -1;
static volatile sig_atomic_t stop_requested = 0;

static void on_term(int sig) { (void)sig; stop_requested = 1; }

static void die(const char *what) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "sbexec: %s: %s\n", what, strerror(errno));
    if (status_fd >= 0 && n > 0) { ssize_t ignored = write(status_fd, msg, (size_t)n); (void)ignored; }
    _exit(126);
}

static const struct { const char *name; int res; } RLIMITS[] = {
    {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA}, {"as", RLIMIT_AS}, {"stack", RLIMIT_STACK},
    {"fsize", RLIMIT_FSIZE}, {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},
    {"core", RLIMIT_CORE}, {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE},
};

static void set_rlimit(const char *spec) {
    char name[32];
    unsigned long long soft, hard;
    if (sscanf(spec, "%31[a-z]=%llu:%llu", name, &soft, &hard) != 3) { errno = EINVAL; die(spec); }
    for (size_t i = 0; i < sizeof RLIMITS / sizeof RLIMITS[0]; i++) {
        if (strcmp(RLIMITS[i].name, name) == 0) {
            struct rlimit rl = {soft, hard};
            if (setrlimit(RLIMITS[i].res, &rl)) die(spec);
            return;
        }
    }
    errno = EINVAL;
    die(spec);
}

static void write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    if (write(fd, text, strlen(text)) < 0) die(path);
    close(fd);
}

static void add_rule(int ruleset, const char *path, uint64_t access) {
    struct ll_path_beneath rule = {access, open(path, O_PATH | O_CLOEXEC)};
    if (rule.parent_fd < 0) {
        if (errno == ENOENT) return; /* an optional path (e.g. /lib64) that this system lacks */
        die(path);
    }
    struct stat st;
    if (fstat(rule.parent_fd, &st)) die(path);
    if (!S_ISDIR(st.st_mode)) /* a rule on a file may hold only file rights */
        rule.allowed &= LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
    if (syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0)) die(path);
    close(rule.parent_fd);
}

static void apply_landlock(int abi, const char *workdir, char **read_paths, int n_read,
                           char **file_paths, int n_files) {
    uint64_t fs_all = (1ULL << 13) - 1; /* ABI 1 */
    if (abi >= 2) fs_all |= 1ULL << 13; /* REFER */
    if (abi >= 3) fs_all |= LL_FS_TRUNCATE;
    if (abi >= 5) fs_all |= LL_FS_IOCTL_DEV;
    struct ll_ruleset_attr attr = {fs_all, 0, 0};
    size_t size = 8;
    if (abi >= 4) { attr.net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP; size = 16; }
    if (abi >= 6) { attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL; size = 24; }
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) die("landlock_create_ruleset");
    uint64_t read_exec = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
    uint64_t file_rw = LL_FS_READ_FILE | LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    for (int i = 0; i < n_read; i++) add_rule(ruleset, read_paths[i], read_exec);
    for (int i = 0; i < n_files; i++) add_rule(ruleset, file_paths[i], file_rw);
    if (workdir) add_rule(ruleset, workdir, fs_all);
    if (syscall(SYS_landlock_restrict_self, ruleset, 0)) die("landlock_restrict_self");
    close(ruleset);
}

static struct sock_fprog read_seccomp(const char *path) {
    static struct sock_filter prog[4096];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(path);
    ssize_t n = read(fd, prog, sizeof prog);
    if (n <= 0 || n % (ssize_t)sizeof(struct sock_filter)) { errno = EINVAL; die(path); }
    close(fd);
    return (struct sock_fprog){(unsigned short)(n / (ssize_t)sizeof(struct sock_filter)), prog};
}

/* -A: the payload's argv, read from stdin byte-exact (what follows is the payload's stdin). */
static char **read_argv(void) {
    size_t length = 0;
    for (int digits = 0;; digits++) {
        char c;
        if (read(0, &c, 1) != 1) _exit(111); /* no run came: the worker dropped us */
        if (c == '\n' && digits > 0) break;
        if (c < '0' || c > '9' || digits >= 9) { errno = EINVAL; die("argv header"); }
        length = length * 10 + (size_t)(c - '0');
    }
    char *data = malloc(length + 1);
    if (!data) die("malloc");
    for (size_t got = 0; got < length;) {
        ssize_t n = read(0, data + got, length - got);
        if (n <= 0) _exit(111);
        got += (size_t)n;
    }
    data[length] = '\0';
    size_t count = 1;
    for (size_t i = 0; i < length; i++) count += data[i] == '\0';
    char **args = calloc(count + 1, sizeof *args);
    if (!args) die("malloc");
    args[0] = data;
    for (size_t i = 0, k = 1; i < length; i++)
        if (data[i] == '\0') args[k++] = data + i + 1;
    if (args[0][0] != '/') { errno = EINVAL; die("an absolute program path is required"); }
    return args;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A forked member shares the zygote's pages copy-on-write, and an interpreter writes to
 * almost all of them (reference counts), so its run would pay a page fault and a copy per
 * page. Break the sharing now, while it waits for its run, in one call per mapping. */
static void populate_private_memory(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    if (!maps) return;
    char line[512];
    while (fgets(line, sizeof line, maps)) {
        unsigned long start, end;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3) continue;
        if (perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p')
            madvise((void *)start, end - start, MADV_POPULATE_WRITE); /* best effort */
    }
    fclose(maps);
}

/* `library`: called from a forked zygote (libsbexec.so) instead of exec'd. The payload is
 * then the caller itself: the child returns 0, confined, instead of exec'ing a program. */
static int sbexec_run(int argc, char **argv, int library) {
    if (library) signal(SIGCHLD, SIG_DFL); /* a zygote ignores it; we must wait for the payload */
    if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) == 0) status_fd = STATUS_FD;
    long uid = -1, gid = -1;
    int kill_mode = 0, landlock_abi = 0, argv_on_stdin = 0;
    const char *workdir = NULL, *seccomp_path = NULL, *oom_adj = NULL;
    char *read_paths[MAX_LIST], *file_paths[MAX_LIST], *cgroups[MAX_LIST];
    int n_read = 0, n_files = 0, n_cgroups = 0, opt;
    while ((opt = getopt(argc, argv, "+u:g:r:o:c:d:R:W:L:s:KA")) != -1) {
        switch (opt) {
        case 'u': uid = strtol(optarg, NULL, 10); break;
        case 'g': gid = strtol(optarg, NULL, 10); break;
        case 'r': set_rlimit(optarg); break;
        case 'o': oom_adj = optarg; break;
        case 'c': if (n_cgroups < MAX_LIST) cgroups[n_cgroups++] = optarg; break;
        case 'd': workdir = optarg; break;
        case 'R': if (n_read < MAX_LIST) read_paths[n_read++] = optarg; break;
        case 'W': if (n_files < MAX_LIST) file_paths[n_files++] = optarg; break;
        case 'L': landlock_abi = atoi(optarg); break;
        case 's': seccomp_path = optarg; break;
        case 'K': kill_mode = 1; break;
        case 'A': argv_on_stdin = 1; break;
        default: errno = EINVAL; die("usage");
        }
    }
    if (uid <= 0 || gid <= 0) { errno = EINVAL; die("a non-root -u and -g are required"); }
    if (kill_mode) {
        if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid)) die("setuid");
        kill(-1, SIGKILL); /* every process of this uid but us; ESRCH when none is left */
        _exit(0);
    }
    if (!library && !argv_on_stdin && (optind >= argc || argv[optind][0] != '/')) {
        errno = EINVAL;
        die("an absolute program path is required");
    }

    char pid[32];
    snprintf(pid, sizeof pid, "%d", getpid());
    for (int i = 0; i < n_cgroups; i++) write_file(cgroups[i], pid);
    if (oom_adj) write_file("/proc/self/oom_score_adj", oom_adj); /* before setuid: still dumpable */
    struct sock_fprog filter = {0, NULL};
    if (seccomp_path) filter = read_seccomp(seccomp_path);
    if (setsid() < 0) die("setsid");
    if (setgroups(0, NULL)) die("setgroups");
    if (setresgid(gid, gid, gid)) die("setresgid");
    if (setresuid(uid, uid, uid)) die("setresuid");
    if (workdir && chdir(workdir)) die(workdir);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term; /* no SA_RESTART: wait4 returns EINTR */
    if (sigaction(SIGTERM, &sa, NULL)) die("sigaction");
    /* If the worker dies, so does the run (after setuid: a credential change clears it). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) die("pdeathsig");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) die("subreaper");
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {
        signal(SIGTERM, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0); /* and if the helper dies, the payload */
        /* Confined here, not before the fork: the helper stays outside the Landlock domain,
         * whose signal scope then stops the payload from killing it (and its report). */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) die("no_new_privs");
        if (landlock_abi > 0) apply_landlock(landlock_abi, workdir, read_paths, n_read, file_paths, n_files);
        if (seccomp_path && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0)) die("seccomp");
        if (library) {
            close(STATUS_FD); /* the helper's, not the payload's */
            populate_private_memory();
            return 0;
        }
        char **payload = argv_on_stdin ? read_argv() : &argv[optind];
        execv(payload[0], payload);
        die(payload[0]);
    }
    if (status_fd >= 0) {
        char msg[32];
        int n = snprintf(msg, sizeof msg, "pid %d\n", (int)child);
        ssize_t ignored = write(status_fd, msg, (size_t)n);
        (void)ignored;
    }
    close(0); /* the payload alone holds the pipes: EOF and SIGPIPE behave as without us */
    close(1);
    close(2);
    /* Reap everything: the payload (its rusage is the report) and, as subreaper, every
     * orphan it left, so no zombie of the run holds the uid's RLIMIT_NPROC. */
    int wstatus = 0, status;
    struct rusage ru, any;
    memset(&ru, 0, sizeof ru);
    for (;;) {
        pid_t done = wait4(-1, &status, 0, &any);
        if (done == child) { wstatus = status; ru = any; break; }
        if (done < 0 && errno != EINTR) die("wait4");
        if (stop_requested) kill(-1, SIGKILL); /* as the sandbox uid: its processes, not us */
    }
    /* The run ends with its main process: kill what it left behind and reap it all. When
     * this succeeds the uid owns no process but us, and the supervisor need not look. */
    kill(-1, SIGKILL);
    while (waitpid(-1, &status, 0) >= 0 || errno == EINTR) {}
    if (status_fd >= 0) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "rusage %lld %lld %ld\n",
                         (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                         (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
        ssize_t ignored = write(status_fd, msg, (size_t)n);
        (void)ignored;
    }
    if (status_fd >= 0) { /* for a caller that is not our parent (a zygote's): how it ended */
        char msg[32];
        int n = snprintf(msg, sizeof msg, "exit %d\n", wstatus);
        ssize_t ignored = write(status_fd, msg, (size_t)n);
        (void)ignored;
    }
    if (WIFSIGNALED(wstatus)) {
        signal(WTERMSIG(wstatus), SIG_DFL);
        raise(WTERMSIG(wstatus));
        _exit(128 + WTERMSIG(wstatus)); /* a signal that does not terminate: report as a shell would */
    }
    _exit(WEXITSTATUS(wstatus));
}

#ifdef SBEXEC_LIBRARY
/* For a zygote: in the payload it returns 0, confined; the helper never returns. */
int sbexec_confine(int argc, char **argv) { return sbexec_run(argc, argv, 1); }
#else
int main(int argc, char **argv) { return sbexec_run(argc, argv, 0); }
#endif
