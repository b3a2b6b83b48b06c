// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <json.h>
#include <linux/capability.h>
#include <nftables/libnftables.h>

#include "nat.h"
#include "net.h"
#include "state.h"
#include "util.h"

#define NAT_SET_DECL "add set ip " MOAT_NAT_TABLE " " MOAT_NAT_SET " { type ipv4_addr; }\n"

/* One nft command a line, which clang-format would reflow. */
/* clang-format off */

/*
 * Everything nat = yes needs, as one transaction. "add" is idempotent for
 * tables, sets and chains but not for rules, so the chain is flushed and its
 * one rule added again: whatever order concurrent launches run in, and even if
 * someone deleted or doubled the rule, the chain ends with exactly one.
 * Replacing it cannot drop traffic: a transaction applies at once, and
 * established connections keep their NAT mapping in conntrack anyway.
 */
static const char nat_setup[] =
	"add table ip " MOAT_NAT_TABLE "\n"
	NAT_SET_DECL
	"add chain ip " MOAT_NAT_TABLE " " MOAT_NAT_CHAIN
		" { type nat hook postrouting priority srcnat; policy accept; }\n"
	"flush chain ip " MOAT_NAT_TABLE " " MOAT_NAT_CHAIN "\n"
	"add rule ip " MOAT_NAT_TABLE " " MOAT_NAT_CHAIN
		" ip saddr @" MOAT_NAT_SET " oifname != \"" MOAT_NET_IFNAME_PREFIX "*\" masquerade\n";

/* Adding then deleting in one transaction is a delete that cannot fail on a
 * missing element (nft 1.0.6 has no "destroy"); %1$s is the address. */
static const char nat_remove_fmt[] =
	NAT_SET_DECL
	"add element ip " MOAT_NAT_TABLE " " MOAT_NAT_SET " { %1$s }\n"
	"delete element ip " MOAT_NAT_TABLE " " MOAT_NAT_SET " { %1$s }\n";
/* clang-format on */

/* Room for the longest command: nat_setup and one element. */
#define NAT_CMD_MAX 1024

/* Errno values to look for at the end of nft's messages: 1..EHWPOISON. */
#define NAT_ERRNO_MAX EHWPOISON

/* ---------------------------------------------------------------------------
 * libnftables, loaded on first use: only nat = yes and its cleanup need it,
 * and linking it would map six shared objects into every moat process.
 * Unloaded again by moat_nat_unload: a supervisor would otherwise keep them
 * mapped for its sandbox's whole life to use them once more at teardown.
 */

#define NFT_SONAME "libnftables.so.1"

static struct {
	void *handle;
	__typeof__(nft_ctx_new) *ctx_new;
	__typeof__(nft_ctx_free) *ctx_free;
	__typeof__(nft_ctx_buffer_output) *buffer_output;
	__typeof__(nft_ctx_buffer_error) *buffer_error;
	__typeof__(nft_ctx_output_set_flags) *output_set_flags;
	__typeof__(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
	__typeof__(nft_ctx_get_output_buffer) *get_output_buffer;
	__typeof__(nft_ctx_get_error_buffer) *get_error_buffer;
} nft;

static int nft_load(struct moat_error *err)
{
	const struct {
		const char *name;
		void **fn;
	} syms[] = {
		{"nft_ctx_new", (void **)&nft.ctx_new},
		{"nft_ctx_free", (void **)&nft.ctx_free},
		{"nft_ctx_buffer_output", (void **)&nft.buffer_output},
		{"nft_ctx_buffer_error", (void **)&nft.buffer_error},
		{"nft_ctx_output_set_flags", (void **)&nft.output_set_flags},
		{"nft_run_cmd_from_buffer", (void **)&nft.run_cmd_from_buffer},
		{"nft_ctx_get_output_buffer", (void **)&nft.get_output_buffer},
		{"nft_ctx_get_error_buffer", (void **)&nft.get_error_buffer},
	};
	void *h;

	if (nft.handle)
		return 0;
	h = dlopen(NFT_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return moat_error_set(err, ENOENT, "NAT needs %s (Debian: libnftables1): %s",
				      NFT_SONAME, dlerror());
	for (size_t i = 0; i < ARRAY_SIZE(syms); i++) {
		*syms[i].fn = dlsym(h, syms[i].name);
		if (!*syms[i].fn) {
			dlclose(h);
			return moat_error_set(err, ENOSYS, "%s has no %s", NFT_SONAME,
					      syms[i].name);
		}
	}
	nft.handle = h;
	return 0;
}

void moat_nat_unload(void)
{
	if (!nft.handle)
		return;
	dlclose(nft.handle);
	memset(&nft, 0, sizeof(nft));
}

static void nft_ctx_freep(struct nft_ctx **ctx)
{
	if (*ctx)
		nft.ctx_free(*ctx);
}

static void json_putp(json_object **obj)
{
	json_object_put(*obj);
}

/* ---------------------------------------------------------------------------
 * The lock: serialises every moat process's changes to the table, so that
 * "the set is empty, drop the table" cannot race a launch adding an element.
 */

/* Returns the locked fd (closing it unlocks), or -1 with err filled. */
static int nat_lock(struct moat_error *err)
{
	return moat_state_lock_file(MOAT_NAT_LOCK, err);
}

/* ---------------------------------------------------------------------------
 * Running nft commands
 */

/* libnftables 1.0.6 prints "Operation not permitted (you must be root)" to
 * stderr itself, past its error buffer, when it may not read the ruleset:
 * library code must not print, so the capability is checked first. */
static bool have_net_admin(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {0};

	if (syscall(SYS_capget, &hdr, data) < 0)
		return true; /* cannot tell: let nftables answer */
	return data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective & CAP_TO_MASK(CAP_NET_ADMIN);
}

static int nat_ctx_new(bool json, struct nft_ctx **ret, struct moat_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;

	if (!have_net_admin())
		return moat_error_set(err, EPERM, "nftables needs CAP_NET_ADMIN");
	if (nft_load(err) < 0)
		return -1;
	ctx = nft.ctx_new(NFT_CTX_DEFAULT);
	if (!ctx)
		return moat_error_set(err, ENOMEM, "nftables context");
	/* Buffered, so that library code prints nothing. */
	if (nft.buffer_output(ctx) < 0 || nft.buffer_error(ctx) < 0)
		return moat_error_set(err, ENOMEM, "nftables buffers");
	if (json)
		nft.output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	*ret = TAKE_PTR(ctx);
	return 0;
}

/* errno whose text ends line (nft reports kernel errors as "...: strerror"),
 * 0 when none does; *ret_len is the length of line without ": strerror". */
static int errno_suffix(const char *line, size_t len, size_t *ret_len)
{
	for (int e = 1; e <= NAT_ERRNO_MAX; e++) {
		const char *text = strerror(e);
		size_t n = strlen(text);

		if (len >= n + 2 && memcmp(line + len - n, text, n) == 0 &&
		    memcmp(line + len - n - 2, ": ", 2) == 0) {
			*ret_len = len - n - 2;
			return e;
		}
	}
	*ret_len = len;
	return 0;
}

/* nft's error output is "[LOCATION: ]Error: MESSAGE", the command, and a
 * line of carets: keep MESSAGE, "Error: Could not process rule: Operation not
 * permitted" becoming "WHAT: Could not process rule" with errno EPERM. */
static int nft_fail(struct moat_error *err, const char *what, const char *output)
{
	const char *line = output ? output : "", *tag;
	size_t len, text_len;
	int e;

	len = strcspn(line, "\n");
	tag = memmem(line, len, "Error: ", 7);
	if (tag) {
		len -= (size_t)(tag + 7 - line);
		line = tag + 7;
	}
	if (len == 0)
		return moat_error_set(err, 0, "%s: nftables failed", what);
	e = errno_suffix(line, len, &text_len);
	if (text_len == 0)
		return moat_error_set(err, e, "%s", what);
	return moat_error_set(err, e, "%s: %.*s", what, (int)text_len, line);
}

static int nat_run(const char *what, const char *cmd, struct moat_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;

	if (nat_ctx_new(false, &ctx, err) < 0)
		return moat_error_prefix(err, "%s", what);
	if (nft.run_cmd_from_buffer(ctx, cmd) != 0)
		return nft_fail(err, what, nft.get_error_buffer(ctx));
	return 0;
}

/* Runs a list command with JSON output; *ret is the "nftables" array, owned
 * by the caller (json_object_put). */
static int nat_list(const char *what, const char *cmd, json_object **ret, struct moat_error *err)
{
	_cleanup_(nft_ctx_freep) struct nft_ctx *ctx = NULL;
	_cleanup_(json_putp) json_object *doc = NULL;
	json_object *items;

	if (nat_ctx_new(true, &ctx, err) < 0)
		return moat_error_prefix(err, "%s", what);
	if (nft.run_cmd_from_buffer(ctx, cmd) != 0)
		return nft_fail(err, what, nft.get_error_buffer(ctx));
	doc = json_tokener_parse(nft.get_output_buffer(ctx));
	if (!doc || !json_object_object_get_ex(doc, "nftables", &items) ||
	    !json_object_is_type(items, json_type_array))
		return moat_error_set(err, EPROTO, "%s: unexpected JSON from nftables", what);
	*ret = json_object_get(items);
	return 0;
}

/* The first object of kind ("table", "set") in a listing, borrowed. */
static json_object *nat_find(json_object *items, const char *kind, const char *name)
{
	size_t n = json_object_array_length(items);

	for (size_t i = 0; i < n; i++) {
		json_object *obj, *value;

		if (!json_object_object_get_ex(json_object_array_get_idx(items, i), kind, &obj))
			continue;
		if (json_object_object_get_ex(obj, "name", &value) &&
		    strcmp(json_object_get_string(value), name) == 0)
			return obj;
	}
	return NULL;
}

/* Returns 1 when table ip moat exists, 0 when not, -1 with err filled. */
static int nat_table_exists(struct moat_error *err)
{
	_cleanup_(json_putp) json_object *items = NULL;

	if (nat_list("list nftables tables", "list tables ip", &items, err) < 0)
		return -1;
	return nat_find(items, "table", MOAT_NAT_TABLE) != NULL;
}

/* Returns 1 when the set has elements, 0 when empty, -1 with err filled. */
static int nat_set_in_use(struct moat_error *err)
{
	_cleanup_(json_putp) json_object *items = NULL;
	json_object *set, *elems;

	if (nat_list("list set ip " MOAT_NAT_TABLE " " MOAT_NAT_SET,
		     "list set ip " MOAT_NAT_TABLE " " MOAT_NAT_SET, &items, err) < 0)
		return -1;
	set = nat_find(items, "set", MOAT_NAT_SET);
	if (!set)
		return moat_error_set(err, ENOENT, "list set ip " MOAT_NAT_TABLE " " MOAT_NAT_SET);
	/* nft leaves "elem" out of an empty set's listing. */
	if (!json_object_object_get_ex(set, "elem", &elems))
		return 0;
	return json_object_array_length(elems) > 0;
}

/* Takes the NAT lock into *ret_lock and looks for the table under it, so it
 * cannot appear or vanish meanwhile. Returns 1 it exists, 0 it does not (the
 * caller has nothing to do, and creates nothing), -1 with err prefixed. */
static int nat_lock_existing(const char *what, int *ret_lock, struct moat_error *err)
{
	int r;

	*ret_lock = nat_lock(err);
	if (*ret_lock < 0)
		return moat_error_prefix(err, "%s", what);
	r = nat_table_exists(err);
	return r < 0 ? moat_error_prefix(err, "%s", what) : r;
}

/* ---------------------------------------------------------------------------
 * The API
 */

int moat_nat_add(const struct in_addr *sandbox_addr, struct moat_error *err)
{
	_cleanup_close_ int lock = -EBADF;
	char addr[INET_ADDRSTRLEN], cmd[NAT_CMD_MAX], what[64];

	inet_ntop(AF_INET, sandbox_addr, addr, sizeof(addr));
	snprintf(what, sizeof(what), "nat: add %s", addr);
	snprintf(cmd, sizeof(cmd), "%sadd element ip " MOAT_NAT_TABLE " " MOAT_NAT_SET " { %s }\n",
		 nat_setup, addr);
	lock = nat_lock(err);
	if (lock < 0)
		return moat_error_prefix(err, "%s", what);
	return nat_run(what, cmd, err);
}

int moat_nat_remove(const struct in_addr *sandbox_addr, struct moat_error *err)
{
	_cleanup_close_ int lock = -EBADF;
	char addr[INET_ADDRSTRLEN], cmd[NAT_CMD_MAX], what[64];
	int r;

	inet_ntop(AF_INET, sandbox_addr, addr, sizeof(addr));
	snprintf(what, sizeof(what), "nat: remove %s", addr);
	snprintf(cmd, sizeof(cmd), nat_remove_fmt, addr);
	r = nat_lock_existing(what, &lock, err);
	if (r <= 0)
		return r;
	return nat_run(what, cmd, err);
}

int moat_nat_cleanup_if_unused(struct moat_error *err)
{
	static const char what[] = "nat: drop table ip " MOAT_NAT_TABLE;
	_cleanup_close_ int lock = -EBADF;
	int r;

	/* Without libnftables no launch here could have made the table. */
	if (nft_load(err) < 0) {
		*err = (struct moat_error){0};
		return 0;
	}
	r = nat_lock_existing(what, &lock, err);
	if (r <= 0)
		return r;
	r = nat_set_in_use(err);
	if (r != 0)
		return r < 0 ? moat_error_prefix(err, "%s", what) : 0;
	if (nat_run(what, "delete table ip " MOAT_NAT_TABLE "\n", err) < 0)
		return -1;
	return 1;
}
