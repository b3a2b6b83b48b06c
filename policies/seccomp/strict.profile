# strict: deny everything except the syscalls below (format: see
# baseline.profile).
#
# Stacked on baseline.profile: the kernel runs both filters and the
# strictest verdict wins, so TIOCSTI, clone with namespace flags, packet
# sockets ... stay denied although ioctl, clone and socket are listed here.
# Listing a syscall that baseline denies outright is an error.
#
# The list is what a Python 3 or C model server needs, found with
#   strace -f -c python3 (http.server answering requests from urllib,
#   threading, multiprocessing with fork/spawn/forkserver, asyncio, json,
#   hashlib, subprocess, tempfile, signals)
#   strace -f -c sh -c '...' (ls, cat, grep, wc, sort, sed, awk, find, tar,
#   gzip, cp, mv, ln, chmod, stat, df, ps, dd, date, id, sleep, mktemp)
# on Debian 12 (glibc 2.36, Python 3.11); "seen" marks what those traces
# called, the rest is the same family that another libc version, Python
# release or C server calls for the same job (the *at and 64-bit variants,
# epoll_pwait next to epoll_wait, ...). To find what a server lacks, run it
# with `action = log` and read the kernel log (type=SECCOMP ... syscall=N).

default deny

# --- Programs and threads ----------------------------------------------------
allow execve			# seen
allow execveat			# fexecve(3)
allow exit
allow exit_group
allow fork
allow vfork			# seen: posix_spawn, subprocess
allow clone			# seen: fork, threads; namespace flags: baseline
enosys clone3			# seen: glibc falls back to clone, which is checked
allow wait4			# seen
allow waitid
allow kill			# seen
allow tgkill
allow tkill
allow pidfd_open		# asyncio's PidfdChildWatcher, os.pidfd_open
allow pidfd_send_signal
allow set_tid_address		# seen: thread start (glibc)
allow set_robust_list		# seen
allow rseq			# seen: glibc 2.35+ registers every thread
allow arch_prctl		# seen: TLS setup on x86_64
allow prctl			# seen: PR_SET_NAME for threads; the privileged ops check capabilities
allow futex			# seen: every lock and condition variable
allow futex_waitv
allow membarrier		# JITs and userspace RCU
allow restart_syscall
allow getpid			# seen
allow getppid			# seen
allow gettid			# seen
allow getpgid
allow getpgrp			# seen: shells
allow setpgid			# seen: shells' job control
allow getsid
allow setsid			# daemons, subprocess start_new_session
allow sched_yield
allow sched_getaffinity		# seen: os.cpu_count, thread pools
allow sched_setaffinity		# pinning worker threads
allow sched_getparam
allow sched_getscheduler
allow sched_getattr
allow sched_setparam		# raising priority needs CAP_SYS_NICE, which is dropped
allow sched_setscheduler
allow sched_setattr
allow sched_get_priority_max
allow sched_get_priority_min
allow sched_rr_get_interval
allow getpriority
allow setpriority
allow getcpu
allow seccomp			# a server may restrict itself further
allow landlock_create_ruleset
allow landlock_add_rule
allow landlock_restrict_self

# --- Signals ----------------------------------------------------------------
allow rt_sigaction		# seen
allow rt_sigprocmask		# seen
allow rt_sigreturn		# seen
allow rt_sigsuspend		# seen: shells
allow rt_sigpending
allow rt_sigtimedwait		# signal.sigwait, sigtimedwait
allow rt_sigqueueinfo
allow rt_tgsigqueueinfo
allow sigaltstack		# seen: faulthandler
allow pause
allow alarm
allow getitimer
allow setitimer
allow signalfd
allow signalfd4

# --- Memory -----------------------------------------------------------------
allow brk			# seen
allow mmap			# seen
allow munmap			# seen
allow mprotect			# seen
allow mremap
allow madvise			# seen
allow msync
allow mincore
allow mlock			# pinned buffers; capped by RLIMIT_MEMLOCK
allow mlock2
allow munlock
allow mlockall
allow munlockall
allow get_mempolicy		# seen: NUMA-aware allocators (sort, PyTorch, BLAS)
allow set_mempolicy		# seen
allow mbind
allow memfd_create		# shared buffers, JIT code
allow pkey_mprotect
allow pkey_alloc
allow pkey_free

# --- Files ------------------------------------------------------------------
allow read			# seen
allow write			# seen
allow readv
allow writev
allow pread64			# seen: loading model weights
allow pwrite64
allow preadv
allow pwritev
allow preadv2
allow pwritev2
allow lseek			# seen
allow open
allow openat			# seen
allow openat2
allow creat			# seen
allow close			# seen
allow close_range		# seen: subprocess closes inherited fds
allow dup			# seen
allow dup2			# seen
allow dup3
allow fcntl			# seen
allow flock
allow fsync
allow fdatasync
allow sync_file_range
allow fadvise64			# seen
allow readahead
allow fallocate
allow truncate
allow ftruncate
allow stat
allow fstat
allow lstat
allow newfstatat		# seen
allow statx			# seen
allow statfs			# seen
allow fstatfs
allow access			# seen
allow faccessat
allow faccessat2
allow getdents
allow getdents64		# seen
allow getcwd			# seen
allow chdir			# seen
allow fchdir			# seen
allow mkdir			# seen
allow mkdirat
allow rmdir			# seen
allow rename			# seen
allow renameat
allow renameat2			# seen
allow link			# seen
allow linkat
allow unlink			# seen
allow unlinkat			# seen
allow symlink
allow symlinkat			# seen
allow readlink			# seen
allow readlinkat
allow chmod			# seen
allow fchmod			# seen
allow fchmodat			# seen
allow chown			# on the sandbox's own files: tar, cp -p
allow fchown			# seen
allow lchown
allow fchownat
allow umask			# seen
allow utime
allow utimes
allow utimensat			# seen
allow futimesat
allow getxattr			# seen: ls -l, cp
allow lgetxattr			# seen
allow fgetxattr
allow listxattr
allow llistxattr
allow flistxattr
allow copy_file_range		# seen: cp, shutil
allow sendfile			# static files and weights to sockets
allow splice			# seen
allow tee
allow inotify_init		# file watchers (reloaders)
allow inotify_init1
allow inotify_add_watch
allow inotify_rm_watch

# --- Waiting for events -----------------------------------------------------
allow poll			# seen
allow ppoll
allow select
allow pselect6
allow epoll_create
allow epoll_create1		# seen: selectors, asyncio
allow epoll_ctl			# seen
allow epoll_wait		# seen
allow epoll_pwait
allow epoll_pwait2
allow eventfd
allow eventfd2
allow pipe
allow pipe2			# seen
allow timerfd_create
allow timerfd_settime
allow timerfd_gettime

# --- Time -------------------------------------------------------------------
# clock_gettime and gettimeofday are usually answered by the vDSO.
allow clock_gettime
allow clock_getres
allow clock_nanosleep		# seen: time.sleep
allow nanosleep
allow gettimeofday
allow time
allow times
allow timer_create		# seen: timeout(1)
allow timer_settime		# seen
allow timer_gettime
allow timer_getoverrun
allow timer_delete

# --- Sockets ----------------------------------------------------------------
# Unix, IPv4 and IPv6, and netlink (baseline keeps it to NETLINK_ROUTE, for
# getaddrinfo). Everything else, including the rarely used families whose
# modules the kernel would load on demand, is denied.
allow socket arg0==AF_UNIX	# seen
allow socket arg0==AF_INET	# seen
allow socket arg0==AF_INET6
allow socket arg0==AF_NETLINK
allow socketpair arg0==AF_UNIX	# seen: multiprocessing
allow bind			# seen
allow listen			# seen
allow accept
allow accept4			# seen
allow connect			# seen
allow getsockname		# seen
allow getpeername		# seen
allow setsockopt		# seen
allow getsockopt		# seen
allow sendto			# seen
allow recvfrom			# seen
allow sendmsg			# seen: passing fds (multiprocessing forkserver)
allow recvmsg			# seen
allow sendmmsg			# getaddrinfo sends the A and AAAA queries at once
allow recvmmsg
allow shutdown			# seen

# --- Devices ----------------------------------------------------------------
# GPU drivers (nvidia, DRM) speak ioctl; TIOCSTI and TIOCLINUX: baseline.
allow ioctl			# seen: isatty (TCGETS), FIONBIO, FIOCLEX

# --- Identity, limits, system information --------------------------------------
allow getuid			# seen
allow geteuid			# seen
allow getgid			# seen
allow getegid			# seen
allow getresuid
allow getresgid
allow getgroups			# seen: id
allow capget			# libcap, to report no capabilities
allow uname			# seen
allow sysinfo			# seen: os.sysconf memory sizes
allow getrlimit
allow setrlimit			# lowering limits; raising the hard one needs a capability
allow prlimit64			# seen
allow getrusage
allow getrandom			# seen: hash seeds, ssl, uuid

# --- System V IPC ---------------------------------------------------------------
# Shared memory and semaphores, used by some inference servers and BLAS
# builds; the sandbox's IPC namespace is its own.
allow shmget
allow shmat
allow shmdt
allow shmctl
allow semget
allow semop
allow semtimedop
allow semctl

# Not listed, so denied: kernel AIO (io_setup, io_submit: libaio users can add
# them with `allow =`), POSIX and System V message queues, extended
# attribute writes, sync and syncfs (they flush the host's file systems),
# setuid and friends (the sandbox already runs as its uid), mknod, and
# everything baseline denies.
