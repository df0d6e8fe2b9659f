/* Unit tests for kvsnprintf/ksnprintf and err_set: every conversion, flag and truncation rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "fmt.h"

/* Formats into a roomy buffer and checks both the text and the returned length. */
#define CHECK(want, ...)                                                          \
	do {                                                                      \
		char buf_[128];                                                   \
		int n_ = ksnprintf(buf_, sizeof(buf_), __VA_ARGS__);              \
		assert_string_equal(buf_, want);                                  \
		assert_int_equal(n_, strlen(want));                               \
	} while (0)

/* For formats the compiler's printf checker rightly frowns on, but we must still handle. */
#define CHECK_ODD(want, fmt, ...)                                                 \
	do {                                                                      \
		const char *volatile f_ = (fmt);                                         \
		CHECK(want, f_, __VA_ARGS__);                                     \
	} while (0)

static void test_integers(void **state)
{
	(void)state;
	CHECK("0 -1 42 2147483647 -2147483648", "%d %d %d %d %d", 0, -1, 42, INT32_MAX, INT32_MIN);
	CHECK("4294967295 0", "%u %u", UINT32_MAX, 0u);
	CHECK("deadbeef 0", "%x %x", 0xdeadbeefu, 0u);
	CHECK("-9223372036854775808", "%lld", (long long)INT64_MIN);
	CHECK("18446744073709551615", "%llu", (unsigned long long)UINT64_MAX);
	CHECK("ffffffffffffffff -5", "%lx %ld", UINT64_MAX, -5L);
	CHECK("123 -7", "%zu %zd", (size_t)123, (ptrdiff_t)-7);
	/* Without a length modifier only 32 bits are taken, and they are sign-extended for %d. */
	CHECK("-1 ffffffff", "%d %x", -1, 0xffffffffu);
}

static void test_width_and_flags(void **state)
{
	(void)state;
	CHECK("[   42][42   ][00042]", "[%5d][%-5d][%05d]", 42, 42, 42);
	CHECK("[  -42][-0042][-42  ]", "[%5d][%05d][%-5d]", -42, -42, -42);
	CHECK("[0000beef][beef]", "[%08x][%2x]", 0xbeefu, 0xbeefu);
	CHECK("[0000000000001000]", "[%016lx]", 0x1000ul);
	CHECK_ODD("[-1   ]", "[%-05d]", -1); /* '-' wins over '0', as in C */
	CHECK("[   ab][cd   ][ x]", "[%5s][%-5s][%2c]", "ab", "cd", 'x');
	CHECK_ODD("[   ab]", "[%05s]", "ab"); /* '0' pads numbers only */
}

static void test_strings_percent(void **state)
{
	(void)state;
	CHECK_ODD("(null)", "%s", (const char *)NULL);
	CHECK("", "%s", "");
	CHECK("100% a", "100%% %c", 'a');
}

static void test_odd_formats(void **state)
{
	(void)state;
	/* An unknown conversion and a trailing '%' are printed as written, so the mistake shows. */
	CHECK_ODD("%q", "%q", 1);
	CHECK_ODD("%p %X", "%p %X", (void *)0, 1u); /* not conversions of this engine */
	CHECK_ODD("50%", "50%", 1);
}

static void test_huge_width_is_clamped(void **state)
{
	char buf[8];
	const char *volatile f = "%999999999999d";

	(void)state;
	/* 256 is the clamp; the return value still reports the full wanted length. */
	assert_int_equal(ksnprintf(buf, sizeof(buf), f, 1), 256);
	assert_string_equal(buf, "       ");
}

static void test_truncation(void **state)
{
	char buf[8];

	(void)state;
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(ksnprintf(buf, sizeof(buf), "hello %s", "world"), 11);
	assert_string_equal(buf, "hello w");
	memset(buf, 'Z', sizeof(buf));
	assert_int_equal(ksnprintf(buf, 1, "abc"), 3);
	assert_int_equal(buf[0], '\0');
	assert_int_equal(buf[1], 'Z');
	/* size 0: nothing is written at all, not even the NUL. */
	assert_int_equal(ksnprintf(buf, 0, "abc%d", 12), 5);
	assert_int_equal(buf[1], 'Z');
	assert_int_equal(ksnprintf(NULL, 0, "%x", 0xabcu), 3);
}

static void test_err_set(void **state)
{
	err_t e;
	char longer[400];

	(void)state;
	assert_int_equal(err_set(NULL, "ignored %d", 1), -1);
	assert_int_equal(err_set(&e, "tag %u at +0x%x", 6u, 0x48u), -1);
	assert_string_equal(e.msg, "tag 6 at +0x48");
	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(err_set(&e, "%s", longer), -1);
	assert_int_equal(strlen(e.msg), sizeof(e.msg) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_width_and_flags),
		cmocka_unit_test(test_strings_percent),
		cmocka_unit_test(test_odd_formats),
		cmocka_unit_test(test_huge_width_is_clamped),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_err_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
