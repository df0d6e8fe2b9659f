/* The Linux guest's /init: says it is up, runs a small timed workload, then powers off. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>
#include <cpuid.h>
#include <signal.h>
#include "../../hv/hypercall.h"
#include "../hello.h"

/* Work at linux-init.scale=1, the default: the whole workload stays well under 0.3 G instructions
 * under Bochs. The memory walk always covers most of the free RAM; scale repeats its read pass. */
#define CPU_ROUNDS     (1u << 20)     /* xorshift steps of the CPU loop */
#define MEM_KEEP_DIV   4              /* the walk leaves a quarter of the free RAM alone */
#define CACHE_LINE     64             /* the walk touches one word per line */
#define CHASE_BYTES    (4u << 20)     /* the pointer chase's table: bigger than an L2 */
#define CHASE_STEPS    (1u << 20)
#define TOOL_BYTES     (256u << 10)   /* what busybox sha256sum reads */
#define SCALE_MAX      1000

#define BUSYBOX        "/bin/busybox"
#define SHA256_HEX     64             /* a sha256sum digest in hex */
#define SUM_HEX        16             /* the digest's first 64 bits go into the checksum */
#define LINE_MAX_LEN   512
/* printk level 2 (KERN_CRIT): below the console log level that `quiet` sets (4), so the line
 * still reaches the serial console. */
#define KMSG_LEVEL     "<2>"
#define XORSHIFT_SEED  0x9e3779b97f4a7c15ull   /* any nonzero start: 2^64 / golden ratio */
#define FNV64_OFFSET   0xcbf29ce484222325ull   /* FNV-1a, to fold the parts into one sum */
#define FNV64_PRIME    0x100000001b3ull

struct options {
    unsigned scale;
    bool crash;     /* linux-init.crash: panic the kernel right after "up" */
    /* linux-init.crash-before=<tsc>: panic only when userspace came up before that TSC. A
     * restart reloads the same command line, but comes up later: the first boot panics and
     * the restarted one carries on (the TSC runs on through a partition's restart). */
    uint64_t crash_before;
    bool reboot;    /* linux-init.reboot: reboot at the end instead of powering off */
};

/* /dev/kmsg, opened before anything else: a line written there goes out through the kernel's
 * polled serial console before write() returns, needing no IRQ and reaching the log even when
 * the kernel panics next, while a write to the tty can fail with EIO where the 8250 gets no
 * IRQ 4 (no PIC or IOAPIC in a partition). The kernel would drop a writer's
 * lines beyond 10 in 5 s: devkmsg_unlimit() lifts that once /proc is there. */
static int kmsg = -1;

static void say(const char *fmt, ...)
{
    char line[LINE_MAX_LEN];
    va_list ap;
    int n = snprintf(line, sizeof line, "%slinux-init: ", kmsg >= 0 ? KMSG_LEVEL : "");

    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    if (write(kmsg >= 0 ? kmsg : STDOUT_FILENO, line, n) < 0 && kmsg >= 0)
        (void)!write(STDOUT_FILENO, line + strlen(KMSG_LEVEL), n - strlen(KMSG_LEVEL));
}

/* Without a console the kernel starts init with no fds 0-2; fill them with /dev/null so that
 * pipes never land there and the tool's dup2 onto its stdin and stdout stays right. */
static void fds_standard(void)
{
    for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
            say("/dev/null: %s", strerror(errno));
}

/* The sysctl takes "on" only with a newline after it (devkmsg_sysctl_set_loglvl). */
static void devkmsg_unlimit(void)
{
    int fd = open("/proc/sys/kernel/printk_devkmsg", O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, "on\n", strlen("on\n")) < 0)
        say("printk_devkmsg: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

static void mount_one(const char *source, const char *target, const char *type)
{
    if (mount(source, target, type, 0, NULL) < 0)
        say("mount %s: %s", target, strerror(errno));
}

/* The first line of a file, NUL-terminated, into buf; "" when it cannot be read. */
static void read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

    buf[n > 0 ? n : 0] = '\0';
    if (fd >= 0)
        close(fd);
    buf[strcspn(buf, "\n")] = '\0';
}

static struct options options_read(void)
{
    struct options opt = { .scale = 1 };
    char cmdline[LINE_MAX_LEN * 4];

    read_file("/proc/cmdline", cmdline, sizeof cmdline);
    for (char *word = strtok(cmdline, " "); word; word = strtok(NULL, " ")) {
        if (strncmp(word, "linux-init.scale=", strlen("linux-init.scale=")) == 0) {
            unsigned long n = strtoul(word + strlen("linux-init.scale="), NULL, 10);
            opt.scale = n < 1 ? 1 : n > SCALE_MAX ? SCALE_MAX : n;
        }
        if (strncmp(word, "linux-init.crash-before=", strlen("linux-init.crash-before=")) == 0)
            opt.crash_before = strtoull(word + strlen("linux-init.crash-before="), NULL, 0);
        opt.crash |= strcmp(word, "linux-init.crash") == 0;
        opt.reboot |= strcmp(word, "linux-init.reboot") == 0;
    }
    return opt;
}

/* Marsaglia's xorshift64: the CPU loop itself, and the data of the other parts. */
static uint64_t xorshift(uint64_t *state)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static uint64_t part_cpu(unsigned scale)
{
    uint64_t state = XORSHIFT_SEED;

    for (uint64_t i = 0; i < (uint64_t)CPU_ROUNDS * scale; i++)
        xorshift(&state);
    return state;
}

/* Writes one word per cache line over most of the free RAM, then reads it back: the result is
 * the number of words that did not hold what was written (0), whatever the RAM size. */
static uint64_t part_memory(unsigned scale)
{
    struct sysinfo si;
    size_t free_ram = sysinfo(&si) < 0 ? 0 : (size_t)si.freeram * si.mem_unit;
    size_t size = (free_ram - free_ram / MEM_KEEP_DIV) & ~((size_t)sysconf(_SC_PAGESIZE) - 1);
    size_t stride = CACHE_LINE / sizeof(uint64_t), words = size / sizeof(uint64_t);
    volatile uint64_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uint64_t bad = 0;

    if (mem == MAP_FAILED) {
        say("memory: mmap of %zu MiB: %s", size >> 20, strerror(errno));
        return ~0ull;
    }
    for (size_t i = 0; i < words; i += stride)
        mem[i] = i;
    for (unsigned pass = 0; pass < scale; pass++)
        for (size_t i = 0; i < words; i += stride)
            bad += mem[i] != i;
    munmap((void *)mem, size);
    return bad;
}

/* Follows one random cycle through a table (Sattolo's shuffle): every load waits for the last. */
static uint64_t part_chase(unsigned scale)
{
    size_t n = CHASE_BYTES / sizeof(size_t), at = 0;
    size_t *next = malloc(CHASE_BYTES);
    uint64_t state = XORSHIFT_SEED;

    if (!next) {
        say("chase: %s", strerror(errno));
        return ~0ull;
    }
    for (size_t i = 0; i < n; i++)
        next[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = xorshift(&state) % i, t = next[i];
        next[i] = next[j];
        next[j] = t;
    }
    for (uint64_t s = 0; s < (uint64_t)CHASE_STEPS * scale; s++)
        at = next[at];
    free(next);
    return at;
}

/* busybox sha256sum over a generated buffer, through pipes; the digest's first 64 bits. */
static uint64_t part_sha256sum(unsigned scale)
{
    size_t size = (size_t)TOOL_BYTES * scale, done = 0;
    uint64_t *buf = malloc(size), state = XORSHIFT_SEED;
    char digest[SHA256_HEX + 1] = "";
    int in[2], out[2], status = -1;
    ssize_t n = 0;

    if (!buf || pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
        say("sha256sum: %s", strerror(errno));
        return ~0ull;
    }
    for (size_t i = 0; i < size / sizeof *buf; i++)
        buf[i] = xorshift(&state);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        execl(BUSYBOX, "busybox", "sha256sum", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    while (pid > 0 && done < size && (n = write(in[1], (char *)buf + done, size - done)) > 0)
        done += n;
    close(in[1]);
    for (done = 0; done < SHA256_HEX && (n = read(out[0], digest + done, SHA256_HEX - done)) > 0;)
        done += n;
    close(out[0]);
    if (pid > 0)
        waitpid(pid, &status, 0);
    free(buf);
    if (status != 0 || done < SHA256_HEX) {
        say("sha256sum: %s failed (wait status %#x, %zu digits)", BUSYBOX, status, done);
        return ~0ull;
    }
    digest[SUM_HEX] = '\0';
    return strtoull(digest, NULL, 16);
}

static const struct part {
    const char *name;
    uint64_t (*run)(unsigned scale);
} parts[] = {
    { "cpu", part_cpu },
    { "memory", part_memory },
    { "chase", part_chase },
    { "sha256sum", part_sha256sum },
};

static void run_workload(unsigned scale)
{
    uint64_t sum = FNV64_OFFSET, start = __rdtsc();

    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        uint64_t t = __rdtsc(), result = parts[i].run(scale);
        say("%s %llu", parts[i].name, (unsigned long long)(__rdtsc() - t));
        sum = (sum ^ result) * FNV64_PRIME;
    }
    say("work %llu sum %016llx", (unsigned long long)(__rdtsc() - start),
        (unsigned long long)sum);
}

/* Under slicehv: the partition's VM exits per basic reason, read from userspace through the two
 * hypercalls slicehv answers at CPL 3, around the workload and around an idle sleep (Linux idles
 * in HLT); and a check that every other hypercall is refused there. Bare, none of this runs. */
#define EXITS_REASON_LIMIT 256        /* far past the SDM's highest reason: slicehv says -4 first */
#define CPUID_HYPERVISOR   (1u << 31) /* CPUID.1:ECX[31] */
#define IDLE_NS            100000000l /* 100 ms */

struct exits {
    unsigned reasons;
    int64_t total, by_reason[EXITS_REASON_LIMIT];
};

static bool slicehv_present(void)
{
    unsigned a, b, c, d;

    __cpuid(1, a, b, c, d);
    if (!(c & CPUID_HYPERVISOR))
        return false;
    __cpuid(HV_CPUID_SIGNATURE, a, b, c, d);
    return b == HV_SIGNATURE_EBX && c == HV_SIGNATURE_ECX && d == HV_SIGNATURE_EDX;
}

static int64_t hypercall1(uint64_t nr, uint64_t arg)
{
    int64_t ret;

    __asm__ volatile("vmcall" : "=a"(ret) : "a"(nr), "D"(arg) : "memory");
    return ret;
}

static void exits_read(struct exits *e)
{
    e->total = hypercall1(HC_EXIT_COUNT, 0);
    for (e->reasons = 0; e->reasons < EXITS_REASON_LIMIT; e->reasons++) {
        int64_t n = hypercall1(HC_EXIT_REASON_COUNT, e->reasons);
        if (n == HC_ERR_BAD_ARGUMENT)
            break;
        e->by_reason[e->reasons] = n;
    }
}

/* "exits <what> <ticks> ticks: <total> [<reason>=<n> ...] reads <k>", reasons with no exits left
 * out. The counts include the reads' own k VMCALLs (HC_EXIT_COUNT then each reason up to the
 * refused one, both times: k = reasons + 2 of them fall between the two reads). */
static void exits_say(const char *what, uint64_t ticks, const struct exits *before,
                      const struct exits *after)
{
    char line[LINE_MAX_LEN] = "";
    size_t n = 0;

    for (unsigned r = 0; r < after->reasons && n < sizeof line; r++) {
        int64_t d = after->by_reason[r] - before->by_reason[r];
        if (d)
            n += snprintf(line + n, sizeof line - n, " %u=%lld", r, (long long)d);
    }
    say("exits %s %llu ticks: %lld [%s] reads %u", what, (unsigned long long)ticks,
        (long long)(after->total - before->total), line + (n ? 1 : 0), before->reasons + 2);
}

static void exits_measure(const char *what, void (*run)(unsigned), unsigned scale)
{
    static struct exits before, after;
    uint64_t t = __rdtsc();

    exits_read(&before);
    run(scale);
    exits_read(&after);
    exits_say(what, __rdtsc() - t, &before, &after);
}

static void idle(unsigned scale)
{
    struct timespec ts = { .tv_nsec = IDLE_NS };

    (void)scale;
    nanosleep(&ts, NULL);
}

/* A child VMCALLs HC_DONE at CPL 3: slicehv must raise #UD (SIGILL), not end the partition. */
static void user_hypercall_check(void)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0) {
        hypercall1(HC_DONE, 0);
        _exit(0);
    }
    if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
        WTERMSIG(status) == SIGILL)
        say("user hypercall refused");
    else
        say("user hypercall NOT refused (wait status %#x)", status);
}

#define MEMMAP_DIR     "/sys/firmware/memmap"
#define MEMMAP_MAX     64
#define HELLO_LOW      0x100000ull   /* slicehv's channels lie above the first MiB (README) */
#define HELLO_WAIT_NS  10000000l     /* 10 ms between looks */
#define HELLO_LOOKS    1000

/* The first reserved range of the firmware's memory map above the first MiB: slicehv's first
 * channel (the e820 it writes holds nothing else there). False if there is none. */
static bool channel_find(uint64_t *base)
{
    char path[LINE_MAX_LEN], type[LINE_MAX_LEN], start[LINE_MAX_LEN];

    for (unsigned i = 0; i < MEMMAP_MAX; i++) {
        snprintf(path, sizeof path, MEMMAP_DIR "/%u/type", i);
        if (access(path, R_OK))
            return false;
        read_file(path, type, sizeof type);
        snprintf(path, sizeof path, MEMMAP_DIR "/%u/start", i);
        read_file(path, start, sizeof start);
        *base = strtoull(start, NULL, 0);
        if (strncmp(type, "Reserved", strlen("Reserved")) == 0 && *base >= HELLO_LOW)
            return true;
    }
    return false;
}

/* A channel shared with a toy, reached from userspace through /dev/mem: its greeting, answered. */
static void channel_hello(void)
{
    struct timespec wait = { .tv_nsec = HELLO_WAIT_NS };
    struct hello_page *page;
    uint64_t base;
    unsigned looks = 0;
    int fd;

    if (!channel_find(&base))
        return;
    fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
    page = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)base);
    if (page == MAP_FAILED) {
        say("channel 0x%llx: /dev/mem: %s", (unsigned long long)base, strerror(errno));
        return;
    }
    while (page->from_toy.magic != HELLO_MAGIC_TOY && looks++ < HELLO_LOOKS)
        nanosleep(&wait, NULL);
    if (page->from_toy.magic != HELLO_MAGIC_TOY) {
        say("channel 0x%llx: no greeting", (unsigned long long)base);
        return;
    }
    page->from_toy.text[HELLO_TEXT - 1] = '\0';
    say("channel 0x%llx: the toy says '%s' (seq %u)", (unsigned long long)base, page->from_toy.text, page->from_toy.seq);
    snprintf(page->from_linux.text, HELLO_TEXT, "linux /init read seq %u through /dev/mem", page->from_toy.seq);
    page->from_linux.seq = page->from_toy.seq;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    page->from_linux.magic = HELLO_MAGIC_LINUX;
    munmap(page, sizeof *page);
    close(fd);
}

/* sysrq "c": the kernel panics (a write to /proc/sysrq-trigger ignores the kernel.sysrq mask). */
static void crash(void)
{
    int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);

    if (fd < 0 || write(fd, "c", 1) < 0)
        say("crash: /proc/sysrq-trigger: %s", strerror(errno));
}

int main(void)
{
    uint64_t up = __rdtsc();
    char version[LINE_MAX_LEN];

    kmsg = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    say("up %llu", (unsigned long long)up);
    mount_one("proc", "/proc", "proc");
    devkmsg_unlimit();
    mount_one("sysfs", "/sys", "sysfs");
    mount_one("devtmpfs", "/dev", "devtmpfs");
    fds_standard();
    struct options opt = options_read();
    if (opt.crash || up < opt.crash_before)
        crash();
    if (slicehv_present()) {
        user_hypercall_check();
        exits_measure("busy", run_workload, opt.scale);
        exits_measure("idle", idle, opt.scale);
        channel_hello();
    } else {
        run_workload(opt.scale);
    }
    read_file("/proc/version", version, sizeof version);
    say("version %s", version);
    sync();
    reboot(opt.reboot ? RB_AUTOBOOT : RB_POWER_OFF);
    say("reboot: %s", strerror(errno));
    for (;;)    /* init must not exit: the kernel would panic */
        pause();
}
