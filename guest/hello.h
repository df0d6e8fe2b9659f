/*
 * The hello exchange on a channel between a Linux partition's /init (guest/linux/init.c) and a
 * toy (guest/chan.c, role=hello): each side fills its half of the channel's first page, the text
 * before the magic, and waits for the other's. Shared by both, so they cannot disagree.
 */
#ifndef GUEST_HELLO_H
#define GUEST_HELLO_H

#include <stdint.h>

#define HELLO_MAGIC_TOY 0x48656c6fu   /* "oleH" in memory: the toy has written its text */
#define HELLO_MAGIC_LINUX 0x4c6e7578u /* "xunL": so has Linux */
#define HELLO_TEXT 120

struct hello_half {
	char text[HELLO_TEXT];  /* NUL-terminated */
	uint32_t seq;           /* the toy's number; Linux echoes it */
	volatile uint32_t magic;
};

struct hello_page {
	struct hello_half from_toy, from_linux;
};

#endif
