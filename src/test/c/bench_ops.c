// SPDX-License-Identifier: Apache-2.0
/* The C libbpf baseline of scripts/bench-ops.sh: the same control-plane operations as the JMH
 * benchmarks in src/test/java/org/sockmap4j/bench, timed the same way (2 warm-up and 3 measured
 * iterations of ITER_SECONDS each; the score is the mean of the iterations' averages; put and
 * remove time each call alone, with the untimed set-up between calls as JMH's Level.Invocation).
 * Prints "op NAME VALUE UNIT" lines. Usage: bench_ops BPF_OBJECT_DIR [ITER_SECONDS [OPERATION]]
 * (with OPERATION, e.g. put/sockmap, only that one is timed; scripts/bench-ops.sh pairs each
 * operation with its JMH benchmark run right before or after it). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ENTRIES 10000
static double iter_seconds = 1.0;
static const char *only; /* time only this operation, or all if NULL */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_ops: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One benchmark: setup (untimed, may be NULL) then op, per call. */
struct bench {
	const char *name;
	double scale; /* 1e9 for ns, 1e6 for us */
	const char *unit;
	void (*setup)(void);
	void (*op)(void);
};

static double run_iteration(const struct bench *b)
{
	double timed = 0, start = now();
	long n = 0;

	if (b->setup) {
		while (now() - start < iter_seconds) {
			b->setup();
			double t0 = now();
			b->op();
			timed += now() - t0;
			n++;
		}
	} else {
		while ((timed = now() - start) < iter_seconds) {
			for (int i = 0; i < 100; i++)
				b->op();
			n += 100;
		}
	}
	return timed / n;
}

static void run(const struct bench *b)
{
	double sum = 0;
	if (only && strcmp(only, b->name))
		return;
	for (int w = 0; w < 2; w++)
		run_iteration(b);
	for (int m = 0; m < 3; m++)
		sum += run_iteration(b);
	printf("op %s %.3f %s\n", b->name, sum / 3 * b->scale, b->unit);
	fflush(stdout);
}

static int sock_fd;
static int map_fd;
static unsigned char key[44];
static __u64 value;

static void put(void)
{
	value = sock_fd;
	if (bpf_map_update_elem(map_fd, key, &value, BPF_NOEXIST))
		die("put");
}

static void replace(void)
{
	value = sock_fd;
	if (bpf_map_update_elem(map_fd, key, &value, BPF_EXIST))
		die("replace");
}

static void put_any(void)
{
	value = sock_fd;
	if (bpf_map_update_elem(map_fd, key, &value, BPF_ANY))
		die("put any");
}

static void remove_(void)
{
	if (bpf_map_delete_elem(map_fd, key))
		die("remove");
}

static void put_remove(void)
{
	put();
	remove_();
}

static void remove_quiet(void)
{
	bpf_map_delete_elem(map_fd, key);
}

static void lookup(void)
{
	__u64 cookie;
	if (bpf_map_lookup_elem(map_fd, key, &cookie))
		die("lookup");
}

static int big_fd;
static __u32 keys[ENTRIES + 1]; /* the walk collects keys, like SockHash.keys() */
volatile __u32 keys_sink;

static void iterate(void)
{
	__u32 k, next;
	int n = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(big_fd, prev, &next) == 0 && n <= ENTRIES) {
		keys[n++] = next;
		k = next;
		prev = &k;
	}
	keys_sink = keys[n / 2];
	if (n != ENTRIES) {
		fprintf(stderr, "bench_ops: iterated %d keys\n", n);
		exit(1);
	}
}

static void *elf;
static size_t elf_size;

static void load_object(void)
{
	struct bpf_object *obj = bpf_object__open_mem(elf, elf_size, NULL);
	if (!obj)
		die("open_mem");
	if (bpf_object__load(obj))
		die("load");
	bpf_object__close(obj);
}

static int prog_fd, target_fd;

static void attach_detach(void)
{
	int link = bpf_link_create(prog_fd, target_fd, BPF_SK_MSG_VERDICT, NULL);
	if (link < 0)
		die("link_create");
	close(link);
}

static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	*size = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc(*size);
	if (fread(buf, 1, *size, f) != *size)
		die("read");
	fclose(f);
	return buf;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_ops BPF_OBJECT_DIR [ITER_SECONDS [OPERATION]]\n");
		return 2;
	}
	if (argc > 2)
		iter_seconds = atof(argv[2]);
	if (argc > 3)
		only = argv[3];
	libbpf_set_print(silent);

	/* one loopback TCP connection */
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (srv < 0 || bind(srv, (void *)&a, sizeof(a)) || listen(srv, 8) || getsockname(srv, (void *)&a, &len))
		die("server");
	sock_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(sock_fd, (void *)&a, sizeof(a)))
		die("connect");
	int acc = accept(srv, NULL, NULL);
	if (acc < 0)
		die("accept");

	struct { const char *name; enum bpf_map_type type; __u32 key_size; } kinds[] = {
		{ "sockmap", BPF_MAP_TYPE_SOCKMAP, 4 },
		{ "sockhash_u32", BPF_MAP_TYPE_SOCKHASH, 4 },
		{ "sockhash_tuple", BPF_MAP_TYPE_SOCKHASH, 44 },
	};
	char name[64];
	for (int i = 0; i < 3; i++) {
		map_fd = bpf_map_create(kinds[i].type, "bench", kinds[i].key_size, 8, 16, NULL);
		if (map_fd < 0)
			die("map_create");
		memset(key, 0, sizeof(key));
		key[0] = 7;
		if (kinds[i].key_size == 44) /* a 4-tuple: family, addresses, ports */
			for (int j = 4; j < 44; j++)
				key[j] = (unsigned char)(j * 7);
		snprintf(name, sizeof(name), "put/%s", kinds[i].name);
		run(&(struct bench){ name, 1e9, "ns", remove_quiet, put });
		snprintf(name, sizeof(name), "remove/%s", kinds[i].name);
		run(&(struct bench){ name, 1e9, "ns", put_any, remove_ });
		remove_quiet();
		snprintf(name, sizeof(name), "putRemove/%s", kinds[i].name);
		run(&(struct bench){ name, 1e9, "ns", NULL, put_remove });
		put_any();
		snprintf(name, sizeof(name), "replace/%s", kinds[i].name);
		run(&(struct bench){ name, 1e9, "ns", NULL, replace });
		snprintf(name, sizeof(name), "lookup/%s", kinds[i].name);
		run(&(struct bench){ name, 1e9, "ns", NULL, lookup });
		close(map_fd);
	}

	big_fd = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "bench_iter", 4, 8, ENTRIES, NULL);
	if (big_fd < 0)
		die("map_create big");
	for (__u32 k = 0; k < ENTRIES; k++) {
		value = sock_fd;
		if (bpf_map_update_elem(big_fd, &k, &value, BPF_ANY))
			die("fill");
	}
	run(&(struct bench){ "iterate10k", 1e6, "us", NULL, iterate });
	close(big_fd);

	char path[4096];
	snprintf(path, sizeof(path), "%s/bypass.bpf.o", argv[1]);
	elf = read_file(path, &elf_size);
	run(&(struct bench){ "loadObject", 1e6, "us", NULL, load_object });

	snprintf(path, sizeof(path), "%s/redirect.bpf.o", argv[1]);
	struct bpf_object *redirect = bpf_object__open_file(path, NULL);
	if (!redirect || bpf_object__load(redirect))
		die("redirect object");
	prog_fd = bpf_program__fd(bpf_object__find_program_by_name(redirect, "msg_pass"));
	target_fd = bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "bench_att", 4, 8, 16, NULL);
	if (prog_fd < 0 || target_fd < 0)
		die("attach set-up");
	run(&(struct bench){ "attachDetach", 1e6, "us", NULL, attach_detach });
	return 0;
}
