/*
 * main.c: the command-line entry points, and the wiring of the layers.
 *
 *   atelier serve | routes | version | help | ...
 *
 * Each command is a row of the table below; a later capability adds its row
 * and nothing else here.
 */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "main_cmds.h"

#ifndef ATELIER_VERSION
#define ATELIER_VERSION "0.1.0"
#endif

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
} commands[] = {
	{"serve", cmd_serve, "serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR]   run the server"},
	{"draw", cmd_draw, "draw MODEL.safetensors -p PROMPT [--steps N] [--seed N] [--guidance G] [--sampler ddim|euler] [--init IMG.png --strength S] -o OUT.png   generate an image"},
	{"routes", cmd_routes, "routes                      print every route with its guard"},
	{"version", cmd_version, "version                     print the version"},
	{"help", cmd_help, "help                        this text"},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_version(int argc, char **argv)
{
	printf("atelier %s\n", ATELIER_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv)
{
	printf("usage: atelier COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		printf("  %s\n", commands[i].usage);
	printf("\nConfiguration: an INI file (--config) whose every key can be overridden by\n"
	       "ATELIER_<SECTION>_<KEY> environment variables. See README.md.\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(name, "--version"))
		return cmd_version(0, NULL);
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "atelier: unknown command '%s' (try 'atelier help')\n", name);
	return 2;
}
