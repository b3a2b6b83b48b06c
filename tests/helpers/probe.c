// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * probe: reports facts from inside a sandbox, for the integration tests
 * (bubblewrap's tests/try-syscall.c plays the same part). Each subcommand
 * prints plain lines that a test compares; the exit status is 0 whenever
 * the probe ran, whatever it found, 1 when it could not look (no /proc),
 * 2 on bad usage.
 *
 * It links nothing but libc, so a test can bind it into any sandbox.
 *
 * `probe syscall` must be safe to run as root on the host, outside any
 * sandbox. Every call below either gets an argument that makes it fail
 * before it can act (a bad fd or pointer, a path that cannot exist, a
 * wrong magic number), or changes only the probe's own short-lived child
 * (unshare, chroot to "/", personality), or creates something the probe
 * closes or reaps at once (a socket, a userfaultfd, an unmounted fs
 * context, a child that exits). The comment on each call says which, and
 * why that is harmless even with every capability. Calls that cannot be
 * made harmless (acct(NULL) would switch process accounting off) are not
 * probed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h> /* glibc's has the new mount API too; <linux/mount.h> would clash */
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <linux/kexec.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/*
 * A path that cannot exist: procfs refuses to create entries, and no name
 * under /proc/self/ is "moat-probe-nonexistent". Without /proc mounted,
 * /proc/self itself is missing. Calls given it fail with ENOENT at lookup.
 */
#define NOWHERE "/proc/self/moat-probe-nonexistent/x"

/* An address no process maps: the kernel's copy-in fails with EFAULT. */
#define BAD_POINTER ((void *)1)

/* A syscall probe returns the raw result: >= 0 success, -1 with errno set. */
struct syscall_probe {
	const char *name;
	long (*call)(void);
	const char *what; /* for --list: what the call is and what errno means */
};

static long probe_getppid(void)
{
	/* Always allowed, always succeeds: the control case. */
	return syscall(SYS_getppid);
}

static long probe_ptrace(void)
{
	long word = 0;

	/* PEEKDATA on ourselves: we are not our own tracer, so the kernel
	 * answers ESRCH before reading anything; it only ever reads. */
	return syscall(SYS_ptrace, PTRACE_PEEKDATA, (long)getpid(), NULL, &word);
}

static long probe_mount(void)
{
	/* Source and target cannot exist: lookup fails with ENOENT, so even
	 * root mounts nothing. MS_BIND only avoids naming a filesystem type. */
	return syscall(SYS_mount, NOWHERE, NOWHERE, NULL, (unsigned long)MS_BIND, NULL);
}

static long probe_unshare(void)
{
	/* A new user namespace for this child alone, which exits at once.
	 * It needs no capability, which is why sandboxes must refuse it:
	 * it is the unprivileged way into every other namespace type. */
	return syscall(SYS_unshare, (unsigned long)CLONE_NEWUSER);
}

static long probe_setns(void)
{
	/* fd -1: EBADF before any namespace is looked at. */
	return syscall(SYS_setns, -1, 0);
}

static long probe_bpf(void)
{
	/* A map-create whose attributes sit at an unmapped address: EFAULT
	 * (or EPERM without CAP_BPF) before anything is allocated. */
	return syscall(SYS_bpf, BPF_MAP_CREATE, BAD_POINTER, 8U);
}

static long probe_perf_event_open(void)
{
	/* No attribute structure: EFAULT when the kernel reads its size. */
	return syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0UL);
}

static long probe_keyctl(void)
{
	/* An operation number no kernel defines: EOPNOTSUPP, no keyring is
	 * looked up or created. */
	return syscall(SYS_keyctl, 0x6d6f6174L /* "moat" */, 0L, 0L, 0L, 0L);
}

static long probe_io_uring_setup(void)
{
	/* Parameters at an unmapped address: EFAULT (or EPERM when the
	 * io_uring_disabled sysctl says so) before a ring exists. */
	return syscall(SYS_io_uring_setup, 1U, BAD_POINTER);
}

static long probe_userfaultfd(void)
{
	long fd;

	/* A user-mode-only userfaultfd is an fd with no registered range;
	 * it is closed at once. Creating it is what a filter must refuse. */
	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long probe_kexec_load(void)
{
	/* More segments than KEXEC_SEGMENT_MAX: EINVAL (EPERM without
	 * CAP_SYS_BOOT) before the segment list is read; the list is NULL
	 * anyway, and a loaded image would still need reboot(KEXEC) to run. */
	return syscall(SYS_kexec_load, 0UL, (unsigned long)KEXEC_SEGMENT_MAX + 1, NULL,
		       (unsigned long)KEXEC_ARCH_DEFAULT);
}

static long probe_init_module(void)
{
	/* An empty image: ENOEXEC (shorter than an ELF header) or EPERM
	 * without CAP_SYS_MODULE; nothing to load. */
	return syscall(SYS_init_module, NULL, 0UL, "");
}

static long probe_reboot(void)
{
	/* magic1 must be LINUX_REBOOT_MAGIC1 (0xfee1dead); 0 is refused
	 * with EINVAL right after the CAP_SYS_BOOT check, and the command
	 * is not one the kernel knows either. */
	return syscall(SYS_reboot, 0, LINUX_REBOOT_MAGIC2, 0x6d6f6174U /* "moat" */, NULL);
}

static long probe_swapon(void)
{
	/* No such file: ENOENT (or EPERM without CAP_SYS_ADMIN). */
	return syscall(SYS_swapon, NOWHERE, 0);
}

static long probe_settimeofday(void)
{
	/* Neither a time nor a zone: the kernel checks CAP_SYS_TIME and sets
	 * nothing. (glibc's wrapper would dereference NULL; the raw call does
	 * not.) */
	return syscall(SYS_settimeofday, NULL, NULL);
}

static long probe_personality(void)
{
	/* Turns ASLR off for this child only, which exits without exec'ing:
	 * the persona applies to later execs of this process, and there are
	 * none. Docker-style filters allow only the query (0xffffffff) and
	 * PER_LINUX variants, and refuse this. */
	return syscall(SYS_personality, (unsigned long)(PER_LINUX | ADDR_NO_RANDOMIZE));
}

static long probe_ioctl_tiocsti(void)
{
	/* TIOCSTI pushes bytes into a terminal's input (CVE-2017-5226);
	 * fd -1 makes it fail with EBADF, so nothing is ever injected, even
	 * when stdin is the host's terminal. */
	return syscall(SYS_ioctl, -1, (unsigned long)TIOCSTI, BAD_POINTER);
}

static long probe_ioctl_tiocsti_hi(void)
{
	/* The same with junk in the upper 32 bits: the kernel truncates the
	 * command to 32 bits, a filter comparing 64 bits would miss it
	 * (CVE-2019-10063). fd -1 again: EBADF, nothing injected. */
	return syscall(SYS_ioctl, -1, (0x123UL << 32) | (unsigned long)TIOCSTI, BAD_POINTER);
}

static long probe_ioctl_tiocsetd(void)
{
	/* Sets a terminal's line discipline, loading its module on demand;
	 * fd -1: EBADF, nothing changed. */
	int ldisc = 0;

	return syscall(SYS_ioctl, -1, (unsigned long)TIOCSETD, &ldisc);
}

static long probe_socket(int family, int type)
{
	long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, 0);

	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long probe_socket_packet(void)
{
	/* A raw packet socket with protocol 0 receives nothing until bound
	 * and sends nothing; it is closed at once. Needs CAP_NET_RAW. */
	return probe_socket(AF_PACKET, SOCK_RAW);
}

static long probe_socket_alg(void)
{
	/* The kernel crypto API's sockets: closed at once, never bound.
	 * EAFNOSUPPORT where the kernel has no AF_ALG. */
	return probe_socket(AF_ALG, SOCK_SEQPACKET);
}

static long probe_socket_ax25(void)
{
	/* A family below AF_INET6 (3): EAFNOSUPPORT on most kernels. */
	return probe_socket(AF_AX25, SOCK_DGRAM);
}

static long probe_socketpair_inet(void)
{
	int sv[2];
	long r = syscall(SYS_socketpair, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);

	if (r == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	return r; /* EOPNOTSUPP from the kernel */
}

static long probe_socket_vsock(void)
{
	/* Created and closed, never connected. Outside a sandbox this may
	 * autoload the vsock module, as any user's socket() call can. */
	return probe_socket(AF_VSOCK, SOCK_STREAM);
}

static long probe_chroot(void)
{
	/* chroot to the current root changes nothing, and only for this
	 * child; it answers whether CAP_SYS_CHROOT and the filter allow it. */
	return syscall(SYS_chroot, "/");
}

static long probe_pivot_root(void)
{
	/* EPERM without CAP_SYS_ADMIN, else ENOENT: the new root cannot
	 * exist, so no root is ever swapped. */
	return syscall(SYS_pivot_root, NOWHERE, NOWHERE);
}

static long probe_open_by_handle_at(void)
{
	long fd;

	/* The "shocker" container escape: opening files by handle skips
	 * path checks. No handle (bad pointer) and no mount fd (-1): EPERM
	 * without CAP_DAC_READ_SEARCH, else EBADF/EFAULT; nothing opens. */
	fd = syscall(SYS_open_by_handle_at, -1, BAD_POINTER, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long probe_clone_newns(void)
{
	int status;
	long pid;

	/* A child in a new mount namespace that exits at once, touching
	 * nothing: the copied mount table dies with it. The raw clone
	 * without a stack behaves like fork. Needs CAP_SYS_ADMIN. */
	pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWNS | SIGCHLD), NULL, NULL, NULL, 0UL);
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return pid;
	while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static long probe_clone3(void)
{
	/* Arguments at an unmapped address: EFAULT, no process. A filter
	 * cannot read clone3's flags (they sit behind a pointer), so one that
	 * restricts namespace flags must refuse clone3 whole, with ENOSYS so
	 * that libc falls back to clone. */
	return syscall(SYS_clone3, BAD_POINTER, (size_t)88 /* clone_args v2 */);
}

static long probe_fsopen(void)
{
	long fd;

	/* The new mount API: a tmpfs context that is never configured nor
	 * turned into a mount (no FSCONFIG_CMD_CREATE, no fsmount), closed
	 * at once. Needs CAP_SYS_ADMIN. */
	fd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long probe_open_tree(void)
{
	long fd;

	/* Cloning a tree that cannot exist: EPERM or ENOENT, nothing cloned. */
	fd = syscall(SYS_open_tree, AT_FDCWD, NOWHERE, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd >= 0)
		close((int)fd);
	return fd;
}

static long probe_move_mount(void)
{
	/* Neither end exists: EPERM, ENOENT or EBADF, nothing moves. */
	return syscall(SYS_move_mount, -1, NOWHERE, -1, NOWHERE, 0U);
}

static long probe_umount2(void)
{
	/* Nothing is mounted at a path that cannot exist. */
	return syscall(SYS_umount2, NOWHERE, 0);
}

static long probe_delete_module(void)
{
	/* No module has this name: ENOENT (or EPERM). O_NONBLOCK so that the
	 * kernel would never wait on a module's users. */
	return syscall(SYS_delete_module, "moat_probe_nonexistent", O_NONBLOCK);
}

static long probe_finit_module(void)
{
	/* fd -1: EBADF (or EPERM), no image. */
	return syscall(SYS_finit_module, -1, "", 0);
}

static long probe_syslog(void)
{
	/* SYSLOG_ACTION_SIZE_BUFFER (10) only returns the buffer's size;
	 * it reads no message and clears nothing. */
	return syscall(SYS_syslog, 10, NULL, 0);
}

/* One probe a line: a table, which clang-format would reflow. */
/* clang-format off */
static const struct syscall_probe syscall_probes[] = {
	{ "getppid", probe_getppid, "control: always 0" },
	{ "ptrace", probe_ptrace, "PEEKDATA on self: ESRCH if reachable" },
	{ "mount", probe_mount, "bind nonexistent on nonexistent: ENOENT if reachable" },
	{ "unshare", probe_unshare, "CLONE_NEWUSER for the probe's child: 0 if allowed" },
	{ "setns", probe_setns, "fd -1: EBADF if reachable" },
	{ "bpf", probe_bpf, "MAP_CREATE, bad pointer: EFAULT if reachable" },
	{ "perf_event_open", probe_perf_event_open, "NULL attr: EFAULT if reachable" },
	{ "keyctl", probe_keyctl, "unknown operation: EOPNOTSUPP if reachable" },
	{ "io_uring_setup", probe_io_uring_setup, "bad pointer: EFAULT if reachable" },
	{ "userfaultfd", probe_userfaultfd, "user-mode-only fd, closed: 0 if allowed" },
	{ "kexec_load", probe_kexec_load, "too many segments: EINVAL with CAP_SYS_BOOT" },
	{ "init_module", probe_init_module, "empty image: ENOEXEC with CAP_SYS_MODULE" },
	{ "reboot", probe_reboot, "bad magic: EINVAL with CAP_SYS_BOOT" },
	{ "swapon", probe_swapon, "nonexistent file: ENOENT with CAP_SYS_ADMIN" },
	{ "settimeofday", probe_settimeofday, "NULL, NULL: 0 with CAP_SYS_TIME" },
	{ "personality", probe_personality, "ASLR off in the probe's child: 0 if allowed" },
	{ "ioctl-tiocsti", probe_ioctl_tiocsti, "fd -1: EBADF if reachable" },
	{ "ioctl-tiocsti-hi", probe_ioctl_tiocsti_hi, "high bits set, fd -1: EBADF if reachable" },
	{ "socket-packet", probe_socket_packet, "AF_PACKET raw, closed: 0 with CAP_NET_RAW" },
	{ "socket-vsock", probe_socket_vsock, "AF_VSOCK stream, closed: 0 if allowed" },
	{ "socket-alg", probe_socket_alg, "AF_ALG seqpacket, closed: 0 if allowed" },
	{ "socket-ax25", probe_socket_ax25, "AF_AX25 dgram, closed: EAFNOSUPPORT mostly" },
	{ "socketpair-inet", probe_socketpair_inet, "AF_INET pair: EOPNOTSUPP if reachable" },
	{ "ioctl-tiocsetd", probe_ioctl_tiocsetd, "fd -1: EBADF if reachable" },
	{ "chroot", probe_chroot, "chroot(\"/\") in the probe's child: 0 with CAP_SYS_CHROOT" },
	{ "pivot_root", probe_pivot_root, "nonexistent roots: ENOENT with CAP_SYS_ADMIN" },
	{ "open_by_handle_at", probe_open_by_handle_at, "bad handle: EBADF/EFAULT if reachable" },
    {"clone-newns", probe_clone_newns,
     "child in a new mount ns, exits at once: 0 with CAP_SYS_ADMIN"},
	{ "clone3", probe_clone3, "bad pointer: EFAULT if reachable, ENOSYS from a filter" },
	{ "fsopen", probe_fsopen, "tmpfs context, never mounted: 0 with CAP_SYS_ADMIN" },
	{ "open_tree", probe_open_tree, "clone nonexistent tree: ENOENT if reachable" },
	{ "move_mount", probe_move_mount, "nonexistent ends: ENOENT/EBADF if reachable" },
	{ "umount2", probe_umount2, "nonexistent target: ENOENT if reachable" },
	{ "delete_module", probe_delete_module, "no such module: ENOENT if reachable" },
	{ "finit_module", probe_finit_module, "fd -1: EBADF with CAP_SYS_MODULE" },
	{ "syslog", probe_syslog, "buffer size only: 0 if allowed" },
};
/* clang-format on */

static const char *errno_name(int e, char *buf, size_t len)
{
	const char *name = strerrorname_np(e);

	if (name)
		return name;
	snprintf(buf, len, "E%d", e);
	return buf;
}

/*
 * Runs one probe in a forked child so that what it changes (a user
 * namespace, a persona, a root) cannot colour the next one, and so that a
 * filter that kills instead of failing shows up as "NAME SIGSYS" rather
 * than as a dead probe.
 */
static int run_syscall_probe(const struct syscall_probe *p)
{
	int status;
	pid_t pid;

	fflush(stdout); /* or the child would print our buffer again */
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "probe: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		char buf[16];
		long r;

		errno = 0;
		r = p->call();
		if (r < 0)
			printf("%s %s\n", p->name, errno_name(errno, buf, sizeof(buf)));
		else
			printf("%s 0\n", p->name);
		fflush(stdout);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "probe: waitpid: %s\n", strerror(errno));
			return 1;
		}
	}
	if (WIFSIGNALED(status)) {
		const char *sig = sigabbrev_np(WTERMSIG(status));

		if (sig)
			printf("%s SIG%s\n", p->name, sig);
		else
			printf("%s SIG%d\n", p->name, WTERMSIG(status));
	}
	return 0;
}

static int cmd_syscall(int argc, char **argv)
{
	if (argc < 1) {
		fprintf(stderr, "probe: syscall: name a call, or --list\n");
		return 2;
	}
	if (strcmp(argv[0], "--list") == 0) {
		for (size_t i = 0; i < sizeof(syscall_probes) / sizeof(syscall_probes[0]); i++)
			printf("%-18s %s\n", syscall_probes[i].name, syscall_probes[i].what);
		return 0;
	}
	/* Check every name first: a typo must not leave half the output. */
	for (int a = 0; a < argc; a++) {
		bool known = false;

		for (size_t i = 0; i < sizeof(syscall_probes) / sizeof(syscall_probes[0]); i++)
			known = known || strcmp(argv[a], syscall_probes[i].name) == 0;
		if (!known) {
			fprintf(stderr, "probe: syscall: unknown name '%s' (see --list)\n",
				argv[a]);
			return 2;
		}
	}
	for (int a = 0; a < argc; a++)
		for (size_t i = 0; i < sizeof(syscall_probes) / sizeof(syscall_probes[0]); i++)
			if (strcmp(argv[a], syscall_probes[i].name) == 0 &&
			    run_syscall_probe(&syscall_probes[i]) != 0)
				return 1;
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Prints the open fds, one per line, ascending; the fd that reads the
 * directory is left out, as it exists only because we look. */
static int cmd_fds(void)
{
	int *fds = NULL, *grown;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int self;

	dir = opendir("/proc/self/fd");
	if (!dir) {
		fprintf(stderr, "probe: open /proc/self/fd: %s\n", strerror(errno));
		return 1;
	}
	self = dirfd(dir);
	while ((errno = 0, de = readdir(dir))) {
		char *end;
		long fd;

		if (de->d_name[0] == '.')
			continue;
		fd = strtol(de->d_name, &end, 10);
		if (*end != '\0' || fd < 0 || fd > INT_MAX || fd == self)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(fds, cap * sizeof(*fds));
			if (!grown) {
				fprintf(stderr, "probe: out of memory\n");
				free(fds);
				closedir(dir);
				return 1;
			}
			fds = grown;
		}
		fds[n++] = (int)fd;
	}
	if (errno != 0) {
		fprintf(stderr, "probe: read /proc/self/fd: %s\n", strerror(errno));
		free(fds);
		closedir(dir);
		return 1;
	}
	closedir(dir);
	if (n)
		qsort(fds, n, sizeof(*fds), cmp_int);
	for (size_t i = 0; i < n; i++)
		printf("%d\n", fds[i]);
	free(fds);
	return 0;
}

/* Prints the lines of /proc/self/status whose key is in keys, in the
 * file's order, unchanged ("CapEff:\t0000000000000000"). */
static int print_status_lines(const char *const *keys, size_t n_keys)
{
	char line[512];
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f) {
		fprintf(stderr, "probe: open /proc/self/status: %s\n", strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		for (size_t i = 0; i < n_keys; i++) {
			size_t len = strlen(keys[i]);

			if (strncmp(line, keys[i], len) == 0 && line[len] == ':') {
				fputs(line, stdout);
				break;
			}
		}
	}
	fclose(f);
	return 0;
}

static int cmd_caps(void)
{
	static const char *const keys[] = {"CapInh", "CapPrm", "CapEff",
					   "CapBnd", "CapAmb", "NoNewPrivs"};

	return print_status_lines(keys, sizeof(keys) / sizeof(keys[0]));
}

static int cmd_seccomp(void)
{
	static const char *const keys[] = {"Seccomp", "Seccomp_filters"};

	return print_status_lines(keys, sizeof(keys) / sizeof(keys[0]));
}

#define WRITE_MAX_BYTES (1ULL << 30) /* a probe, not a disk filler */

/*
 * Creates PATH or appends to it (never truncates: a test may point it at
 * a file that matters) and writes `bytes` bytes, or a short line. Prints
 * "ok" or the errno name of the first failure; close() is checked too,
 * as some filesystems report errors only there.
 */
static int cmd_write(const char *path, const char *size_arg)
{
	static const char line[] = "moat-probe\n";
	static char zeros[64 * 1024];
	unsigned long long left = sizeof(line) - 1;
	char buf[16];
	int fd, err = 0;

	if (size_arg) {
		char *end;

		errno = 0;
		left = strtoull(size_arg, &end, 10);
		if (errno || *end || size_arg[0] == '-' || left > WRITE_MAX_BYTES) {
			fprintf(stderr, "probe: write: bad size '%s' (0..%llu)\n", size_arg,
				WRITE_MAX_BYTES);
			return 2;
		}
	}
	/* O_NOFOLLOW: a symlink planted at PATH must not redirect the write. */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("%s\n", errno_name(errno, buf, sizeof(buf)));
		return 0;
	}
	while (left > 0 && !err) {
		const char *src = size_arg ? zeros : line;
		size_t chunk = left < sizeof(zeros) ? (size_t)left : sizeof(zeros);
		ssize_t w = write(fd, src, chunk);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			err = errno;
		else if (w == 0)
			err = EIO; /* a regular file never accepts 0 bytes of >0 */
		else
			left -= (unsigned long long)w;
	}
	if (close(fd) < 0 && !err)
		err = errno;
	printf("%s\n", err ? errno_name(err, buf, sizeof(buf)) : "ok");
	return 0;
}

static int cmd_sid(void)
{
	/* A new session has no controlling terminal, so TIOCSTI through an
	 * inherited terminal fd fails: the fix for CVE-2017-5226 (bubblewrap
	 * calls setsid() for it). */
	printf("leader %s\n", getsid(0) == getpid() ? "yes" : "no");
	return 0;
}

static int cmd_ids(void)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	gid_t *groups;
	int n;

	if (getresuid(&ruid, &euid, &suid) < 0 || getresgid(&rgid, &egid, &sgid) < 0) {
		fprintf(stderr, "probe: getresuid: %s\n", strerror(errno));
		return 1;
	}
	n = getgroups(0, NULL);
	if (n < 0) {
		fprintf(stderr, "probe: getgroups: %s\n", strerror(errno));
		return 1;
	}
	groups = calloc((size_t)n + 1, sizeof(*groups));
	if (!groups) {
		fprintf(stderr, "probe: out of memory\n");
		return 1;
	}
	n = getgroups(n, groups);
	if (n < 0) {
		fprintf(stderr, "probe: getgroups: %s\n", strerror(errno));
		free(groups);
		return 1;
	}
	/* One line, id(1)'s order first, so that a test can match
	 * "uid=1234 gid=4321" with one regular expression. */
	printf("uid=%u gid=%u groups=", ruid, rgid);
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", groups[i]);
	printf(" euid=%u egid=%u suid=%u sgid=%u\n", euid, egid, suid, sgid);
	free(groups);
	return 0;
}

static int cmd_pid(void)
{
	printf("pid %d\nppid %d\n", (int)getpid(), (int)getppid());
	return 0;
}

static void usage(FILE *f)
{
	fputs("Usage: probe COMMAND [ARG...]\n"
	      "Reports facts from inside a sandbox, one fact a line; exits 0 once it has looked.\n"
	      "\n"
	      "  fds                 open fd numbers, ascending\n"
	      "  caps                CapInh/CapPrm/CapEff/CapBnd/CapAmb and NoNewPrivs lines\n"
	      "  seccomp             Seccomp and Seccomp_filters lines\n"
	      "  syscall NAME...     \"NAME 0\", \"NAME ERRNO\" or \"NAME SIGSYS\" for each call,\n"
	      "                      each in its own child, with harmless arguments\n"
	      "  syscall --list      the calls and what their answers mean\n"
	      "  write PATH [BYTES]  create or append to PATH: \"ok\" or ERRNO\n"
	      "  sid                 \"leader yes\" when the probe leads its session\n"
	      "  ids                 \"uid=R gid=R groups=G,... euid=E egid=E suid=S sgid=S\"\n"
	      "  pid                 \"pid N\" and \"ppid N\"\n"
	      "\n"
	      "Examples:\n"
	      "  moat run --bind build/tests/helpers:/opt/t -- /opt/t/probe caps\n"
	      "  probe syscall mount unshare clone3\n",
	      f);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int nargs = argc > 2 ? argc - 2 : 0;
	int r;

	if (!cmd) {
		fprintf(stderr, "probe: name a command (probe --help)\n");
		return 2;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "syscall") == 0) {
		r = cmd_syscall(nargs, argv + 2);
	} else if (strcmp(cmd, "write") == 0) {
		if (nargs < 1 || nargs > 2) {
			fprintf(stderr, "probe: write takes PATH [BYTES]\n");
			return 2;
		}
		r = cmd_write(argv[2], nargs == 2 ? argv[3] : NULL);
	} else if (nargs > 0) {
		fprintf(stderr, "probe: %s takes no argument\n", cmd);
		return 2;
	} else if (strcmp(cmd, "fds") == 0) {
		r = cmd_fds();
	} else if (strcmp(cmd, "caps") == 0) {
		r = cmd_caps();
	} else if (strcmp(cmd, "seccomp") == 0) {
		r = cmd_seccomp();
	} else if (strcmp(cmd, "sid") == 0) {
		r = cmd_sid();
	} else if (strcmp(cmd, "ids") == 0) {
		r = cmd_ids();
	} else if (strcmp(cmd, "pid") == 0) {
		r = cmd_pid();
	} else {
		fprintf(stderr, "probe: unknown command '%s' (probe --help)\n", cmd);
		return 2;
	}
	if (fflush(stdout) != 0 && r == 0)
		r = 1;
	return r;
}
