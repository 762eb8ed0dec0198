/* device_test.c: User-Agent parsing and the approximate place of
 * service/device.c. REQ: ACC-10 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "service/device.h"

static void ua(const char *s, const char *browser, const char *os)
{
	char b[32], o[32];
	device_parse_ua(s, b, sizeof b, o, sizeof o);
	assert_string_equal(b, browser);
	assert_string_equal(o, os);
}

static void browsers_and_systems(void **state)
{
	ua("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0", "Firefox", "Linux");
	ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	   "Chrome/120.0.0.0 Safari/537.36", "Chrome", "Windows");
	/* Edge and Opera also say Chrome and Safari: the first rule wins */
	ua("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	   "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91", "Edge", "Windows");
	ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
	   "Chrome/120.0.0.0 Safari/537.36 OPR/105.0.0.0", "Opera", "macOS");
	ua("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
	   "Version/17.2 Safari/605.1.15", "Safari", "macOS");
	/* iPhone UAs say "like Mac OS X": iOS must win */
	ua("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
	   "CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1", "Chrome", "iOS");
	/* Android UAs say Linux: Android must win */
	ua("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
	   "Chrome/120.0.6099.144 Mobile Safari/537.36", "Chrome", "Android");
	ua("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
	   "Chrome/120.0.0.0 Safari/537.36", "Chrome", "ChromeOS");
	ua("curl/7.88.1", "curl", "Unknown OS");
	ua("OpenAI/Python 1.6.1", "OpenAI Python SDK", "Unknown OS");
	ua(NULL, "Unknown browser", "Unknown OS");
	ua("", "Unknown browser", "Unknown OS");
}

static void small_outputs_are_terminated(void **state)
{
	char b[4], o[3];
	device_parse_ua("Firefox/1", b, sizeof b, o, sizeof o);
	assert_string_equal(b, "Fir");
	assert_string_equal(o, "Un");
}

static void net(const char *ip, const char *want)
{
	char out[64];
	device_network(ip, out, sizeof out);
	assert_string_equal(out, want);
}

static void networks(void **state)
{
	net("203.0.113.77", "203.0.113.0/24");
	net("127.0.0.1", "127.0.0.0/24");
	net("2001:db8:1234:5678::1", "2001:db8:1234::/48");
	net("::ffff:198.51.100.9", "198.51.100.0/24");
	net("::1", "::/48");
	net("unknown", "unknown");
	net("", "unknown");
	net(NULL, "unknown");
	net("300.1.1.1", "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(browsers_and_systems),
		cmocka_unit_test(small_outputs_are_terminated),
		cmocka_unit_test(networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
