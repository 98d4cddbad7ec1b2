// SPDX-License-Identifier: MIT
/*
 * The one thing bun:ffi cannot express: libbpf's print callback takes a va_list.
 * This shim formats libbpf's warnings into a buffer the monitor drains after each failing call,
 * instead of letting libbpf write to the service's stderr.
 */
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static char log_buf[16384];
static size_t log_len;

static int capture(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[1024];
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vsnprintf(line, sizeof(line), fmt, args);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* Keep the newest lines: a full buffer starts over. */
	if (log_len + (size_t)n >= sizeof(log_buf))
		log_len = 0;
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	return 0;
}

/* Routes libbpf's warnings into the buffer. */
void x0_libbpf_capture(void)
{
	libbpf_set_print(capture);
}

/* Copies the captured text into out (NUL-terminated), clears it, and returns its length. */
size_t x0_libbpf_take_log(char *out, size_t size)
{
	size_t n = log_len < size - 1 ? log_len : size - 1;

	memcpy(out, log_buf, n);
	out[n] = '\0';
	log_len = 0;
	return n;
}
