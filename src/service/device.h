/*
 * device.h: what a session shows of the device that opened it (ACC-10):
 * browser and operating system names parsed from the User-Agent, and the
 * client's network as an approximate place. There is no GeoIP database on
 * the server, so the "place" is the /24 (IPv4) or /48 (IPv6) network the
 * address belongs to: enough to tell "home" from "somewhere else", and it
 * never keeps the address itself.
 */
#ifndef ATELIER_SERVICE_DEVICE_H
#define ATELIER_SERVICE_DEVICE_H

#include <stddef.h>

/* Browser ("Firefox", "Chrome", "curl", … or "Unknown browser") and OS
 * ("Windows", "macOS", "Linux", … or "Unknown OS") from a User-Agent (may be
 * NULL). Outputs are always NUL-terminated constants copied in. */
void device_parse_ua(const char *ua, char *browser, size_t bn, char *os, size_t on);

/* The network of ip as text: "203.0.113.0/24", "2001:db8:1::/48", or
 * "unknown" for what is not an address. IPv4-mapped IPv6 reads as IPv4. */
void device_network(const char *ip, char *out, size_t n);

#endif
