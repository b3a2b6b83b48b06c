# baseline: allow everything except the syscalls below.
#
# Used by itself (profile = baseline), and as the floor under every
# allow-list profile (strict): the kernel runs both filters and the
# strictest verdict wins, so what this file denies stays denied there.
#
# Format (one rule a line, '#' starts a comment):
#   default allow | default deny   first line: a deny-list or an allow-list
#   allow  SYSCALL [COND...]       allowed (allow-lists only)
#   deny   SYSCALL [COND...]       the policy's action (errno: EPERM, kill,
#                                  log); a policy's `allow = SYSCALL` lifts it
#   forbid SYSCALL [COND...]       the policy's action; `allow =` cannot lift
#                                  it (an allow naming it is an error, unless
#                                  the rule has conditions: then it stays)
#   enosys SYSCALL                 fails with ENOSYS whatever the action, so
#                                  libc falls back to an older syscall
#   COND: argN==V argN!=V argN<V argN<=V argN>V argN>=V argN&M==V argN&M!=V
#         N is 0..5; V and M are numbers or constants (TIOCSTI, AF_PACKET,
#         CLONE_NEWNS, ...) joined with '|'. A rule's conditions must all
#         hold; several rules for one syscall match if any does.
#
# The kernel reads int arguments from their low 32 bits, the filter sees 64:
# a deny rule compares with a mask (argN&0xffffffff==V) or with != > >=, so
# junk in the high bits cannot slip past it (CVE-2019-10063, TIOCSTI with bit
# 32 set). The parser rejects the unsafe forms.
#
# Syscall names that exist on other architectures only are accepted and
# ignored (vm86 on x86_64). Other architectures and the x32 ABI kill the
# process whatever this file says.

default allow

# --- Leaving or altering the sandbox: forbid --------------------------------
# The sandbox's namespaces, mounts and root are set up by moat; a model
# server has no business making new ones (user namespaces also reopen
# the kernel attack surface that CAP_SYS_ADMIN normally guards).
forbid unshare
forbid setns
forbid mount
forbid umount2
forbid umount
forbid pivot_root
forbid chroot
# The new mount API (Linux 5.2+) reaches the same code as mount(2).
forbid fsopen
forbid fsconfig
forbid fsmount
forbid fspick
forbid move_mount
forbid open_tree
forbid mount_setattr

# clone with a namespace flag; flags are arg0 on x86_64 and arm64. One rule
# per flag (libseccomp has no masked !=: the parser expands &M!=0).
# CLONE_NEWTIME is only valid for clone3 and unshare (0x80 is the exit signal
# here).
forbid clone arg0&CLONE_NEWNS|CLONE_NEWCGROUP|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWUSER|CLONE_NEWPID|CLONE_NEWNET!=0

# clone3 passes its flags in memory, which a filter cannot read. ENOSYS
# makes glibc (pthread_create, posix_spawn) fall back to clone, whose flags
# the rule above checks.
enosys clone3

# Opening any file by handle bypasses the mount namespace and the root:
# the "shocker" container escape. name_to_handle_at makes the handles.
forbid open_by_handle_at
forbid name_to_handle_at

# The machine itself.
forbid reboot
forbid kexec_load
forbid kexec_file_load
forbid init_module
forbid finit_module
forbid delete_module
forbid swapon
forbid swapoff
forbid settimeofday
forbid clock_settime
forbid adjtimex
forbid clock_adjtime
forbid acct
forbid quotactl
forbid quotactl_fd
forbid iopl
forbid ioperm
# The host's kernel log (kernel addresses when dmesg_restrict is 0).
forbid syslog

# Keyrings are not namespaced: keys are shared with the host and other
# sandboxes (CVE-2016-0728 was a refcount overflow reachable by anyone).
forbid keyctl
forbid add_key
forbid request_key

# eBPF programs and maps are global kernel objects; the verifier is a
# steady source of privilege escalations.
forbid bpf

# Pushing characters into the controlling terminal's input runs commands
# outside the sandbox (TIOCSTI, CVE-2016-7545, CVE-2017-5226); TIOCLINUX can
# do the same on a virtual console (TIOCL_PASTESEL). Masked to the low 32
# bits that the kernel reads (CVE-2019-10063).
forbid ioctl arg1&0xffffffff==TIOCSTI
forbid ioctl arg1&0xffffffff==TIOCLINUX
# A terminal's line discipline is kernel code, loaded on demand where
# dev.tty.ldisc_autoload = 1 (n_hdlc CVE-2017-2636, n_gsm CVE-2023-6546);
# TIOCCONS turns the terminal into the console.
forbid ioctl arg1&0xffffffff==TIOCSETD
forbid ioctl arg1&0xffffffff==TIOCCONS

# --- Kernel attack surface a model server does not use: deny ----------------
# A policy can lift these with `allow =`, an explicit operator choice.

# io_uring has been the largest single source of kernel exploits in recent
# years (CVE-2022-29582, CVE-2023-2598, ...); its operations also bypass
# this filter, as they are not syscalls.
deny io_uring_setup
deny io_uring_enter
deny io_uring_register

# Profiling and tracing other processes: debuggers and profilers only.
deny perf_event_open
deny ptrace
deny process_vm_readv
deny process_vm_writev
deny process_madvise
deny pidfd_getfd
deny kcmp

# userfaultfd stalls the kernel's copies from user memory at will: the
# classic way to win a kernel race in an exploit. Unprivileged users get it
# where vm.unprivileged_userfaultfd = 1 or through /dev/userfaultfd.
deny userfaultfd

# fanotify watches whole mounts and can block other processes' file access.
deny fanotify_init
deny fanotify_mark

# personality flags weaken the process's exec hardening (ADDR_NO_RANDOMIZE,
# READ_IMPLIES_EXEC) or leak kernel memory (UNAME26, CVE-2012-0957). glibc
# never calls it; only the default PER_LINUX (0) is allowed. The query
# personality(0xffffffff) is denied too: the filter cannot allow two values.
deny personality arg0!=PER_LINUX

# Socket families: a model server needs unix, inet and inet6 sockets, and
# route netlink, which glibc's getaddrinfo uses (AI_ADDRCONFIG) and `ip`
# needs to show addresses. Every other family is denied: each is kernel code
# that distribution kernels load on demand for any user (AF_ALG, TIPC, RDS,
# CAN, ...), and several have had exploitable bugs: packet sockets
# (CVE-2016-8655, CVE-2017-7308, CVE-2020-14386), vsock, which talks to the
# hypervisor (CVE-2021-26708), RDS (CVE-2010-3904), TIPC (CVE-2021-43267).
# The other netlink families (netfilter, audit, sock_diag, xfrm, ...)
# configure or observe the kernel. The values are Linux's, the same on every
# architecture: 0 is AF_UNSPEC, 3-9 and 11-15 the families between AF_INET
# (2), AF_INET6 (10) and AF_NETLINK (16); above it, AF_PACKET (17) and all
# later ones (a value with junk in its upper 32 bits counts as above too).
deny socket arg0&0xffffffff==0
deny socket arg0&0xffffffff==3
deny socket arg0&0xffffffff==4
deny socket arg0&0xffffffff==5
deny socket arg0&0xffffffff==6
deny socket arg0&0xffffffff==7
deny socket arg0&0xffffffff==8
deny socket arg0&0xffffffff==9
deny socket arg0&0xffffffff==11
deny socket arg0&0xffffffff==12
deny socket arg0&0xffffffff==13
deny socket arg0&0xffffffff==14
deny socket arg0&0xffffffff==15
deny socket arg0>AF_NETLINK
deny socket arg0&0xffffffff==AF_NETLINK arg2!=NETLINK_ROUTE
# socketpair exists for AF_UNIX (and TIPC): only AF_UNIX.
deny socketpair arg0&0xffffffff!=AF_UNIX

# x86 segment descriptors: only Wine and DOS emulators need them, and the
# entry code they reach has had exploitable bugs (CVE-2015-3290, CVE-2015-5157).
deny modify_ldt
# Loads an a.out shared library (CONFIG_USELIB): unused for decades.
deny uselib
# oprofile's interface: root-only, and oprofile is gone from the kernel.
deny lookup_dcookie

# Not listed: nfsservctl (always ENOSYS since Linux 3.1), vm86/vm86old (i386
# only, and other architectures are killed), and syscalls that need a
# capability the sandbox drops (mknod of devices, sethostname, setuid to
# another user...), which the capability check already refuses.
