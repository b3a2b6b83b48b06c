# moat build. Non-recursive, out of tree (O=build), quiet unless V=1.
# What is built from what lives in Kbuild; this file holds the rules.

O ?= build
V ?= 0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/moat
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2);
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

include Kbuild

# Debian packages behind every library and tool the build, tests and demo use.
DEB_PACKAGES := build-essential pkg-config clang llvm bpftool libbpf-dev libseccomp-dev \
	libcap-dev libnl-3-dev libnl-route-3-dev libcgroup-dev libcmocka-dev libinih-dev \
	libjson-c-dev nettle-dev libzstd-dev libnftables-dev nftables iproute2 python3 procps util-linux perl \
	bubblewrap prometheus strace

PKGS := libseccomp libcap libnl-3.0 libnl-route-3.0 libbpf libcgroup inih json-c nettle libnftables
TEST_PKGS := cmocka
# Linked from their static archives unless SHARED=1: every `moat run` would
# otherwise spend over a millisecond of its launch mapping and resolving some
# twenty shared objects (moat --version: 2.0 ms shared, 0.75 ms static here).
# libelf (in libbpf) needs libzstd; libc's own libraries stay shared.
STATIC_PKGS := libseccomp libcap libnl-3.0 libnl-route-3.0 libbpf libcgroup inih json-c nettle
SYSTEM_LIBS := -lpthread -lm -ldl -lrt -lc
# Opened at run time by the code that needs them (sandbox/nat.c): headers only.
DLOPEN_PKGS := libnftables

# Fail with a clear line when a library is missing, not with a compiler error later.
# Skipped for targets that do not compile themselves (deps, clean, help) or that
# install deps first and then build in a sub-make (check, demo, bench).
NOBUILD_GOALS := deps clean help check demo bench stress
ifneq ($(filter-out $(NOBUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
missing := $(strip $(foreach p,$(PKGS) $(TEST_PKGS),$(if $(shell $(PKG_CONFIG) --exists $(p) && echo y),,$(p))))
ifneq ($(missing),)
$(error missing libraries: $(missing) (run 'make deps' as root to install them))
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
ifeq ($(SHARED),1)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out $(DLOPEN_PKGS),$(PKGS)))
else
SHARED_PKGS := $(filter-out $(STATIC_PKGS) $(DLOPEN_PKGS),$(PKGS))
STATIC_LIBS := $(shell $(PKG_CONFIG) --static --libs-only-l $(STATIC_PKGS)) -lzstd
PKG_LIBS := -Wl,-Bstatic $(filter-out $(SYSTEM_LIBS),$(STATIC_LIBS)) -Wl,-Bdynamic \
	$(if $(SHARED_PKGS),$(shell $(PKG_CONFIG) --libs $(SHARED_PKGS))) \
	$(sort $(filter $(SYSTEM_LIBS),$(STATIC_LIBS)))
endif
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka)
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wformat=2 -Wformat-security -Wno-format-nonliteral -Wnull-dereference -Wvla
CFLAGS ?= -O2 -g
MOAT_CFLAGS := -std=gnu11 $(WARNINGS) -D_GNU_SOURCE -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	-fPIE -iquote sandbox -iquote bpf -I$(O) -I$(O)/bpf -DMOAT_DATADIR='"$(DATADIR)"' $(PKG_CFLAGS)
MOAT_LDFLAGS := -pie -Wl,-z,relro,-z,now
ifeq ($(SANITIZE),1)
SAN_CFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=address,undefined
endif

# --- C objects ---------------------------------------------------------------
# The flags objects are compiled with, recorded in $(O)/cflags and rewritten
# only when they change; every object depends on the record. Without it,
# `make install PREFIX=/usr` after a plain `make` installed objects built
# with DATADIR=/usr/local/share/moat (policy.c's default policy directory),
# and SANITIZE=1 after a plain build linked unsanitized objects.
COMPILE_FLAGS := $(CC) $(MOAT_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) $(CMOCKA_CFLAGS)
same = $(and $(findstring x$(1),x$(2)),$(findstring x$(2),x$(1)))

# (make expands a recipe before it runs it: the directory is made in the expansion.)
$(O)/cflags: FORCE
	$(if $(call same,$(COMPILE_FLAGS),$(file <$@)),,$(shell mkdir -p $(@D))$(call \
		msg,FLAGS,$@)$(file >$@,$(COMPILE_FLAGS)))

$(O)/%.o: %.c $(O)/cflags
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(MOAT_CFLAGS) $(SAN_CFLAGS) $(CFLAGS) $(if $(findstring tests/unit,$<),$(CMOCKA_CFLAGS)) \
		-MMD -MP -c -o $@ $<

# link-rule NAME DIR LIBS: build $(DIR)/NAME from $(NAME-y).
define link-rule
$(2)/$(1): $(addprefix $(O)/,$($(1)-y))
	$$(call msg,LD,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(MOAT_LDFLAGS) $$(SAN_LDFLAGS) $$(LDFLAGS) -o $$@ $$^ $(3)
endef

$(foreach b,$(bins-y),$(eval $(call link-rule,$(b),$(O),$$(PKG_LIBS))))
$(foreach t,$(unit-tests-y),$(eval $(call link-rule,$(t),$(O)/tests/unit,$$(PKG_LIBS) $$(CMOCKA_LIBS))))
$(foreach h,$(test-helpers-y),$(eval $(call link-rule,$(h),$(O)/tests/helpers,$$(PKG_LIBS))))

# probe runs inside sandboxes under seccomp, where LeakSanitizer's ptrace at
# exit is refused; launch-bench must measure moat, not a sanitizer: never sanitized.
$(addprefix $(O)/,$(probe-y) $(netprobe-y) $(launch-bench-y)): SAN_CFLAGS :=
$(O)/tests/helpers/probe $(O)/tests/helpers/netprobe $(O)/tests/helpers/launch-bench: SAN_LDFLAGS :=

# The nftables comparison of net-bench calls libnftables itself.
$(O)/tests/helpers/net-bench: PKG_LIBS += $(if $(PKG_CFLAGS),$(shell $(PKG_CONFIG) --libs $(DLOPEN_PKGS)))

BINS := $(addprefix $(O)/,$(bins-y))
UNIT_TESTS := $(addprefix $(O)/tests/unit/,$(unit-tests-y))
TEST_HELPERS := $(addprefix $(O)/tests/helpers/,$(test-helpers-y))

# --- BPF: vmlinux.h from the running kernel's BTF, objects, skeletons ----------
BPF_OBJS := $(addprefix $(O)/bpf/,$(addsuffix .bpf.o,$(bpf-y)))
BPF_SKELS := $(addprefix $(O)/bpf/,$(addsuffix .skel.h,$(bpf-y)))
BPF_HASHES := $(addprefix $(O)/bpf/,$(addsuffix .hash.h,$(bpf-y)))
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

$(O)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(O)/bpf/%.bpf.o: bpf/%.bpf.c bpf/moat_bpf.h $(O)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) -target bpf -mcpu=v3 -g -O2 -Wall -Werror -D__TARGET_ARCH_$(BPF_ARCH) \
		-I$(O) -Ibpf -c -o $@ $<

$(O)/bpf/%.skel.h: $(O)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

# Every user-space object may include a skeleton: generate them first.
# The object's identity, fixed at build time: names its pin directory, so a
# launch does not hash the object and a new moat never reuses an old one's pins.
$(O)/bpf/%.hash.h: $(O)/bpf/%.bpf.o
	$(call msg,GEN,$@)
	$(Q)printf '#define MOAT_%s_BPF_HASH "%s"\n' "$$(echo $* | tr a-z A-Z)" \
		"$$(sha256sum $< | cut -c1-12)" > $@

$(addprefix $(O)/,$(core-y)): | $(BPF_SKELS) $(BPF_HASHES)

# --- Targets -------------------------------------------------------------------
.PHONY: all deps check unit integration stress demo bench install uninstall clean help FORCE

all: $(BINS) $(BPF_OBJS)

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "  DEPS     installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

unit: $(UNIT_TESTS)
	@fail=0; for t in $(UNIT_TESTS); do $$t || fail=1; done; exit $$fail

integration: $(BINS) $(TEST_HELPERS)
	$(Q)MOAT=$(abspath $(O)/moat) MOAT_TEST_HELPERS=$(abspath $(O)/tests/helpers) \
		prove --verbose --timer tests/integration/

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_TESTS) $(TEST_HELPERS)
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory integration

# The crash-point sweep, launches at once and same-name races in full (a few
# minutes, as root). STRESS_FLAGS passes options, e.g. --lock FILE on a
# machine shared with other test runs.
stress: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MOAT=$(abspath $(O)/moat) tests/stress/stress.sh $(STRESS_FLAGS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)MOAT=$(abspath $(O)/moat) examples/model-server/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(TEST_HELPERS)
	$(Q)MOAT=$(abspath $(O)/moat) MOAT_TEST_HELPERS=$(abspath $(O)/tests/helpers) tests/bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/policies $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5
	install -m 0755 $(O)/moat $(DESTDIR)$(BINDIR)/moat
	install -d $(DESTDIR)$(DATADIR)/policies/seccomp
	install -m 0644 policies/*.ini $(DESTDIR)$(DATADIR)/policies/
	install -m 0644 policies/seccomp/*.profile $(DESTDIR)$(DATADIR)/policies/seccomp/
	install -m 0644 docs/moat.1 $(DESTDIR)$(MANDIR)/man1/moat.1
	install -m 0644 docs/moat-policy.5 $(DESTDIR)$(MANDIR)/man5/moat-policy.5

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/moat $(DESTDIR)$(MANDIR)/man1/moat.1 \
		$(DESTDIR)$(MANDIR)/man5/moat-policy.5
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf $(O)

help:
	@echo 'Targets: all (default) deps check unit integration stress demo bench install clean'
	@echo 'Variables: O=build V=1 PREFIX=/usr/local DESTDIR= SANITIZE=1 SHARED=1 STRESS_FLAGS='

-include $(shell find $(O) -name '*.d' 2>/dev/null)
