// SPDX-License-Identifier: Apache-2.0
/* Loops of libbpf map calls for scripts/bench-ops.sh's same-process comparison: built as a shared
 * library and called from the JVM (org.sockmap4j.bench.SameProcess) in one downcall per loop, so
 * the same C code runs in the same process as the library's Java path it is compared with. Each
 * returns 0, or -errno of the first call that failed. */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

int sm4j_lookup_loop(int map_fd, const void *key, long n)
{
	__u64 cookie;
	for (long i = 0; i < n; i++)
		if (bpf_map_lookup_elem(map_fd, key, &cookie))
			return -errno;
	return 0;
}

int sm4j_replace_loop(int map_fd, const void *key, int sock_fd, long n)
{
	__u64 value = (__u64)sock_fd;
	for (long i = 0; i < n; i++)
		if (bpf_map_update_elem(map_fd, key, &value, BPF_EXIST))
			return -errno;
	return 0;
}

int sm4j_put_remove_loop(int map_fd, const void *key, int sock_fd, long n)
{
	__u64 value = (__u64)sock_fd;
	for (long i = 0; i < n; i++)
		if (bpf_map_update_elem(map_fd, key, &value, BPF_NOEXIST) || bpf_map_delete_elem(map_fd, key))
			return -errno;
	return 0;
}

/* The floor: n getppid(2) system calls, the cheapest there is; the JVM side makes the same call
 * with one FFM downcall each, so the difference is what any Java caller of a system call pays. */
int sm4j_getppid_loop(long n)
{
	for (long i = 0; i < n; i++)
		if (syscall(SYS_getppid) < 0)
			return -errno;
	return 0;
}
