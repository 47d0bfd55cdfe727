/* The floor of a restart after kill -9 on this machine (bench.py's restart floor): the least a
 * supervisor can do between a child's death and its replacement's exec. SIGCHLD is blocked and
 * taken with sigwaitinfo, the child reaped with waitpid, and the program started again with
 * vfork + execve: no log files, no cgroup, no state, no event loop, no second thread.
 *
 *   restarter PROGRAM ARG...   runs PROGRAM ARG... and starts it again each time it ends */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
static pid_t start(char **argv) {
    pid_t pid = vfork();
    if (pid == 0) { execve(argv[0], argv, environ); _exit(127); }
    return pid;
}
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    sigset_t set; sigemptyset(&set); sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    start(argv + 1);
    for (;;) {
        siginfo_t info;
        if (sigwaitinfo(&set, &info) < 0) continue;
        int status;
        while (waitpid(-1, &status, WNOHANG) > 0) start(argv + 1);
    }
}
