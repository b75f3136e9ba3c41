/*
 * chain MARKER N SECONDS: holders that outrun a look at the process table,
 * for e2e_tree_test.go (TestForkExitChainsDie). The marker only sits in
 * argv, where the test finds every link in /proc/PID/cmdline.
 *
 * It starts N chains, prints "ready" and exits 0, which ends the session.
 * Each link of a chain forks the next and exits at once, so that a look at
 * the tree keeps finding links gone by the time it reads them, while their
 * successors have been handed to ningen, the subreaper. A link adopted by
 * neither its forker nor ningen (ningen is gone: the link escaped) stops
 * and waits for ever, where the test finds it; so does one still running
 * after SECONDS. Python forks too slowly to race the sweep this closely.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: chain MARKER N SECONDS\n");
		return 2;
	}
	int n = atoi(argv[2]);
	double end = now() + atof(argv[3]);
	pid_t ningen = getppid(), self = getpid();
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p > 0)
			continue;
		pid_t forker = self;
		for (;;) {
			pid_t parent = getppid();
			if ((parent != forker && parent != ningen) || now() > end)
				for (;;)
					pause();
			forker = getpid();
			p = fork();
			if (p > 0)
				_exit(0);
			if (p < 0)
				forker = parent; /* no next link: this one goes on */
		}
	}
	printf("ready\n");
	return 0;
}
