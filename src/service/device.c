/*
 * device.c: User-Agent parsing by table, and address-to-network.
 *
 * The tables are ordered: the first row whose token appears wins. Order
 * matters because browsers carry each other's names ("Edg/" and "OPR/"
 * pages also say "Chrome/" and "Safari/"; Chrome says "Safari/"). We match
 * a few well-known tokens rather than keeping a full UA database: the goal
 * is a name a person recognises in their session list, not analytics.
 */
#include "service/device.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

struct ua_rule {
	const char *token; /* substring of the User-Agent */
	const char *name;
};

static const struct ua_rule browsers[] = {
	{"Edg/", "Edge"},        {"EdgA/", "Edge"},         {"EdgiOS/", "Edge"},
	{"OPR/", "Opera"},       {"Opera", "Opera"},        {"SamsungBrowser/", "Samsung Internet"},
	{"Vivaldi/", "Vivaldi"}, {"YaBrowser/", "Yandex"},  {"FxiOS/", "Firefox"},
	{"Firefox/", "Firefox"}, {"CriOS/", "Chrome"},      {"Chromium/", "Chromium"},
	{"HeadlessChrome/", "Headless Chrome"},             {"Chrome/", "Chrome"},
	{"Safari/", "Safari"},   {"curl/", "curl"},         {"Wget/", "Wget"},
	{"python-requests/", "Python requests"},            {"python-httpx/", "Python httpx"},
	{"OpenAI/Python", "OpenAI Python SDK"},             {"OpenAI/JS", "OpenAI JS SDK"},
	{"node-fetch", "Node.js"}, {"undici", "Node.js"},   {"node", "Node.js"},
	{"Go-http-client/", "Go"}, {"okhttp/", "OkHttp"},
};

static const struct ua_rule systems[] = {
	{"Windows", "Windows"}, {"iPhone", "iOS"},       {"iPad", "iPadOS"},
	{"CrOS", "ChromeOS"},   {"Android", "Android"},  {"Mac OS X", "macOS"},
	{"Macintosh", "macOS"}, {"Ubuntu", "Linux"},     {"Fedora", "Linux"},
	{"Linux", "Linux"},     {"FreeBSD", "FreeBSD"},  {"OpenBSD", "OpenBSD"},
};

static const char *find(const struct ua_rule *t, size_t n, const char *ua, const char *dflt)
{
	for (size_t i = 0; ua && i < n; i++)
		if (strstr(ua, t[i].token))
			return t[i].name;
	return dflt;
}

void device_parse_ua(const char *ua, char *browser, size_t bn, char *os, size_t on)
{
	snprintf(browser, bn, "%s",
		 find(browsers, sizeof browsers / sizeof browsers[0], ua, "Unknown browser"));
	snprintf(os, on, "%s", find(systems, sizeof systems / sizeof systems[0], ua, "Unknown OS"));
}

void device_network(const char *ip, char *out, size_t n)
{
	unsigned char a[16];
	char txt[INET6_ADDRSTRLEN];
	if (ip && inet_pton(AF_INET, ip, a) == 1) {
		snprintf(out, n, "%u.%u.%u.0/24", a[0], a[1], a[2]);
		return;
	}
	if (ip && inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (!memcmp(a, mapped, 12)) {
			snprintf(out, n, "%u.%u.%u.0/24", a[12], a[13], a[14]);
			return;
		}
		memset(a + 6, 0, 10);
		inet_ntop(AF_INET6, a, txt, sizeof txt);
		snprintf(out, n, "%s/48", txt);
		return;
	}
	snprintf(out, n, "unknown");
}
