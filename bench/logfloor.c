/* The floor of the captured (rotating) log path on this machine (bench.py's log floor): the
 * least a supervisor can do to move a program's stdout from a pipe into size-rotated files.
 * The program's stdout is a pipe of the kernel's default size; the floor waits for it with a
 * blocking epoll_wait and moves what it holds into the file with splice(2), never through user
 * space (a move shorter than asked ends a wake, as in hoody-daemon); at MAXBYTES the file is renamed to FILE.1 (FILE.1 to FILE.2 …, up to BACKUPS) and a
 * new one opened, as hoody-daemon and supervisord rotate. No event loop, no other pipe, no
 * state: one thread, one pipe.
 *
 * With -r, each wake first moves the pipe's pages into a second pipe (splice pipe → pipe moves
 * page references, no copy) and then that pipe into the file: the program's pipe is free again
 * before the copy into the page cache, which splice otherwise makes under the pipe's lock.
 *
 *   logfloor [-r] FILE MAXBYTES BACKUPS PROGRAM ARG...   runs PROGRAM until it ends; 0 when its
 *                                                   stdout was moved to its end, and then
 *                                                   "cpu SECONDS" (its own, not PROGRAM's)
 *                                                   on stderr */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;

static int open_log(const char *path) {
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
}

static int rotate(const char *path, int backups) {
    char from[4096], to[4096];
    for (int i = backups - 1; i >= 1; i--) {
        snprintf(from, sizeof from, "%s.%d", path, i);
        snprintf(to, sizeof to, "%s.%d", path, i + 1);
        rename(from, to);
    }
    snprintf(to, sizeof to, "%s.1", path);
    rename(path, to);
    return open_log(path);
}

/* Moves the `held` bytes of `relay` into the file at `*size`. */
static int flush(int relay, int file, long long *size, ssize_t held) {
    while (held > 0) {
        loff_t offset = *size;
        ssize_t moved = splice(relay, 0, file, &offset, (size_t)held, SPLICE_F_MOVE);
        if (moved <= 0) return -1;
        *size += moved;
        held -= moved;
    }
    return 0;
}

int main(int argc, char **argv) {
    int use_relay = argc > 1 && strcmp(argv[1], "-r") == 0;
    if (use_relay) { argv++; argc--; }
    if (argc < 5) return 2;
    const char *path = argv[1];
    long long maxbytes = atoll(argv[2]);
    int backups = atoi(argv[3]);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        execve(argv[4], argv + 4, environ);
        _exit(127);
    }
    close(pipefd[1]);
    fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
    int file = open_log(path);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = pipefd[0] };
    if (file < 0 || epoll < 0 || epoll_ctl(epoll, EPOLL_CTL_ADD, pipefd[0], &event) < 0) return 1;
    int relay[2];
    if (use_relay && pipe2(relay, O_CLOEXEC) < 0) return 1;
    long long size = 0;
    for (;;) {
        if (epoll_wait(epoll, &event, 1, -1) < 0) continue;
        for (;;) {
            if (size >= maxbytes) {
                close(file);
                if ((file = rotate(path, backups)) < 0) return 1;
                size = 0;
            }
            loff_t offset = size;
            size_t asked = (size_t)(maxbytes - size);
            ssize_t moved;
            if (use_relay) {
                moved = splice(pipefd[0], 0, relay[1], 0, asked, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (moved > 0 && flush(relay[0], file, &size, moved) < 0) return 1;
            } else {
                moved = splice(pipefd[0], 0, file, &offset, asked, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                if (moved > 0) size += moved;
            }
            if (moved > 0) {
                /* Less than asked: the pipe was emptied, and the next write wakes epoll_wait
                 * (unless every writer has gone: then drain to the end). */
                if ((size_t)moved < asked && !(event.events & EPOLLHUP)) break;
                continue;
            }
            if (moved == 0) {
                int status;
                waitpid(pid, &status, 0);
                struct rusage own;
                getrusage(RUSAGE_SELF, &own);
                fprintf(stderr, "cpu %.6f\n", (double)(own.ru_utime.tv_sec + own.ru_stime.tv_sec) + (own.ru_utime.tv_usec + own.ru_stime.tv_usec) / 1e6);
                return 0;
            }
            break; /* EAGAIN: wait for the next write */
        }
    }
}
