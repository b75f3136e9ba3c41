/*
 * chain MARKER N SECONDS [thread]: holders that outrun a look at the
 * process table, for e2e_tree_test.go (TestForkExitChainsDie and
 * TestThreadedChainsDie). The marker only sits in argv, where the test
 * finds every link in /proc/PID/cmdline.
 *
 * It starts N chains, sets them going, and $CHAIN_STORM seconds later (at
 * once by default) prints "ready" and exits 0, which ends the session; with
 * CHAIN_HOLD set it stays instead, for a signal to end the session.
 * Each link of a chain forks the next and exits at once, so that a look at
 * the tree keeps finding links gone by the time it reads them, while their
 * successors have been handed to ningen, the subreaper. With "thread", a
 * second thread of each link forks the next one and the link exits with
 * both threads, the breaker's variant that kept a sweep of /proc busy
 * until it gave up. A link adopted by neither its forker nor ningen (ningen
 * is gone: the link escaped) stops and waits for ever, where the test finds
 * it; so does one still running after SECONDS. Python forks too slowly to
 * race the sweep this closely.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pid_t ningen, forker;
static double end;
static int threaded;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void *links(void *unused);

/* next starts the chain's work in this process: in a second thread when
 * threaded (the first one waits, and ends with the process), else here. */
static void next(void)
{
	pthread_t t;
	if (threaded && pthread_create(&t, NULL, links, NULL) == 0)
		for (;;)
			pause();
	links(NULL);
}

static void *links(void *unused)
{
	(void)unused;
	for (;;) {
		pid_t parent = getppid();
		if ((parent != forker && parent != ningen) || now() > end)
			for (;;)
				pause();
		forker = getpid();
		pid_t p = fork();
		if (p > 0)
			_exit(0);
		if (p < 0) {
			forker = parent; /* no next link: this one goes on */
			continue;
		}
		if (threaded)
			next();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "thread") != 0)) {
		fprintf(stderr, "usage: chain MARKER N SECONDS [thread]\n");
		return 2;
	}
	int n = atoi(argv[2]);
	end = now() + atof(argv[3]);
	threaded = argc == 5;
	ningen = getppid();
	pid_t self = getpid();
	/* The chains wait at this gate, the pipe's read end, until it reads
	 * end-of-file, once this process closes the last write end: so the
	 * start of n chains is not slowed by the storm of the first ones. The
	 * storm then runs for $CHAIN_STORM seconds (0 by default) before this
	 * process exits: half a second piles up zombies and starves ningen as
	 * the session ends. */
	const char *st = getenv("CHAIN_STORM");
	double storm = st ? atof(st) : 0;
	int gate[2];
	if (pipe(gate) != 0)
		return 1;
	for (int i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p > 0)
			continue;
		close(gate[1]);
		char c;
		while (read(gate[0], &c, 1) > 0)
			;
		close(gate[0]);
		forker = self;
		next();
	}
	close(gate[1]);
	struct timespec wait = {(time_t)storm, (long)((storm - (time_t)storm) * 1e9)};
	nanosleep(&wait, NULL);
	printf("ready\n");
	fflush(stdout);
	if (getenv("CHAIN_HOLD"))
		for (;;)
			pause();
	return 0;
}
