/* The benchmark's program: records when it started, then idles or produces output.
 *
 *   stamp FILE                    append "PID NS\n" to FILE (NS = CLOCK_REALTIME), then pause()
 *   stamp -p BYTES FILE DELAY_MS  append "ready PID\n", sleep DELAY_MS, append "go NS\n",
 *                                 write BYTES zero bytes to stdout in 128 KiB writes,
 *                                 append "done NS\n", exit 0
 *   stamp -l BYTES FILE DELAY_MS  the same, but BYTES of 100-byte lines (99 'x' and a newline),
 *                                 in writes of 128,000 bytes (1,280 lines)
 *
 * Lines are appended with O_APPEND in one write(2), so many processes may share FILE.
 *
 * On x86-64 Linux it is built without the C library (-nostdlib, raw system calls): on a virtual
 * machine, glibc's start-up asks the CPU for its cache sizes with `cpuid`, which traps to the
 * hypervisor and costs 1–3 ms per process. That cost is the program's, not the manager's, and
 * would hide what the benchmark measures (kill → new process exec'd). Elsewhere the same code
 * builds against libc. */
#if defined(__x86_64__) && defined(STAMP_NOLIBC)
typedef long ssize_t;
typedef unsigned long size_t;
struct timespec { long tv_sec; long tv_nsec; };
#define O_WRONLY 01
#define O_CREAT 0100
#define O_APPEND 02000
#define O_CLOEXEC 02000000
#define CLOCK_REALTIME 0
static long sys(long n, long a, long b, long c) {
    long r;
    __asm__ volatile ("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}
static ssize_t write(int fd, const void *p, size_t n) { return sys(1, fd, (long)p, (long)n); }
static int open(const char *f, int flags, int mode) { return (int)sys(2, (long)f, flags, mode); }
static int close(int fd) { return (int)sys(3, fd, 0, 0); }
static int getpid(void) { return (int)sys(39, 0, 0, 0); }
static int pause(void) { return (int)sys(34, 0, 0, 0); }
static int nanosleep(const struct timespec *t, struct timespec *r) { return (int)sys(35, (long)t, (long)r, 0); }
static int clock_gettime(int c, struct timespec *t) { return (int)sys(228, c, (long)t, 0); }
static void _exit(int code) { for (;;) sys(231, code, 0, 0); }
static size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
static int strcmp(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return (unsigned char)*a - (unsigned char)*b; }
static long long atoll(const char *s) { long long v = 0; while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0'); return v; }
/* The compiler may emit calls to memset for the zeroed buffer and struct copies. */
void *memset(void *d, int c, size_t n) { unsigned char *p = d; while (n--) *p++ = (unsigned char)c; return d; }
#else
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#endif

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* "prefix" + decimal number + "\n" into line; returns its length. */
static size_t format_line(char *line, const char *prefix, long long number) {
    size_t n = 0;
    while (*prefix) line[n++] = *prefix++;
    char digits[24];
    int count = 0;
    if (number == 0) digits[count++] = '0';
    while (number > 0) { digits[count++] = (char)('0' + number % 10); number /= 10; }
    while (count) line[n++] = digits[--count];
    line[n++] = '\n';
    return n;
}

static void note(const char *file, const char *line, size_t length) {
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, length) < 0) _exit(2);
    close(fd);
}

static char buffer[128 * 1024];
/* -l: whole lines per write, so the text is the same lines whatever the write sizes. */
#define LINES_WRITE 128000

static int run(int argc, char **argv) {
    char line[96];
    if (argc == 2) {
        long long t = now_ns();
        char pid[32];
        size_t n = format_line(pid, "", getpid());
        for (size_t i = 0; i + 1 < n; i++) line[i] = pid[i];
        size_t m = format_line(line + n - 1, " ", t);
        note(argv[1], line, n - 1 + m);
        for (;;) pause();
    }
    int lines = argc == 5 && strcmp(argv[1], "-l") == 0;
    if (argc == 5 && (strcmp(argv[1], "-p") == 0 || lines)) {
        long long bytes = atoll(argv[2]);
        size_t chunk = sizeof buffer;
        if (lines) {
            chunk = LINES_WRITE;
            for (size_t i = 0; i < chunk; i++) buffer[i] = (i % 100 == 99) ? '\n' : 'x';
        }
        note(argv[3], line, format_line(line, "ready ", getpid()));
        long long delay = atoll(argv[4]);
        struct timespec wait = { (long)(delay / 1000), (long)(delay % 1000) * 1000000L };
        nanosleep(&wait, 0);
        note(argv[3], line, format_line(line, "go ", now_ns()));
        while (bytes > 0) {
            size_t want = bytes < (long long)chunk ? (size_t)bytes : chunk;
            for (size_t off = 0; off < want;) {
                ssize_t wrote = write(1, buffer + off, want - off);
                if (wrote < 0) return 1;
                off += (size_t)wrote;
            }
            bytes -= (long long)want;
        }
        note(argv[3], line, format_line(line, "done ", now_ns()));
        return 0;
    }
    static const char usage[] = "usage: stamp FILE | stamp -p|-l BYTES FILE DELAY_MS\n";
    write(2, usage, sizeof usage - 1);
    return 2;
}

#if defined(__x86_64__) && defined(STAMP_NOLIBC)
/* The kernel's entry: argc at the stack pointer, argv after it. */
__attribute__((used)) static void start_c(long *stack) {
    _exit(run((int)stack[0], (char **)(stack + 1)));
}
__asm__(".text\n.global _start\n_start:\n  xor %rbp, %rbp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call start_c\n  hlt\n");
#else
int main(int argc, char **argv) { return run(argc, argv); }
#endif
